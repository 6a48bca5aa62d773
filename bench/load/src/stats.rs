//! Percentiles of measured durations, kept in nanoseconds and reported in milliseconds.

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Nearest-rank percentiles of `samples` (nanoseconds).
pub fn summarise(mut samples: Vec<u64>) -> Summary {
    if samples.is_empty() {
        return Summary::default();
    }
    samples.sort_unstable();
    let rank = |p: f64| {
        let i = ((p / 100.0) * samples.len() as f64).ceil() as usize;
        samples[i.clamp(1, samples.len()) - 1]
    };
    let ms = |ns: u64| ns as f64 / 1e6;
    Summary {
        count: samples.len(),
        p50_ms: ms(rank(50.0)),
        p99_ms: ms(rank(99.0)),
        max_ms: ms(samples[samples.len() - 1]),
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
            self.count, self.p50_ms, self.p99_ms, self.max_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let s = summarise((1..=100).map(|i| i * 1_000_000).collect());
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (50.0, 99.0, 100.0));
        assert_eq!(summarise(vec![7_000_000]).p99_ms, 7.0);
        assert_eq!(summarise(Vec::new()).count, 0);
    }
}
