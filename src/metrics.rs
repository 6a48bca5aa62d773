//! Prometheus metrics for operators, served at `GET /metrics` in the OpenMetrics text format
//! (prometheus-client). Labels come from small fixed sets (message types, error codes,
//! outcomes), never from ids, names or addresses, so the endpoint reveals counts only.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label set of one label.
type Label = Vec<(&'static str, String)>;

/// Every metric the hub exports.
pub struct Metrics {
    registry: Registry,
    /// Open signalling connections (authenticated).
    pub connections: Gauge,
    /// Signalling messages received, by type.
    pub messages: Family<Label, Counter>,
    /// Error frames sent, by code.
    pub errors: Family<Label, Counter>,
    /// Applicants waiting at the walk-in desk.
    pub queue_length: Gauge,
    /// Sessions open now.
    pub sessions_open: Gauge,
    /// Sessions ended, by outcome.
    pub sessions_ended: Family<Label, Counter>,
    /// Time to seal a session's artefact, in seconds.
    pub seal_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("globallink");
        let connections = Gauge::default();
        let messages = Family::<Label, Counter>::default();
        let errors = Family::<Label, Counter>::default();
        let queue_length = Gauge::default();
        let sessions_open = Gauge::default();
        let sessions_ended = Family::<Label, Counter>::default();
        let seal_seconds = Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]);
        registry.register(
            "connections",
            "Open signalling connections",
            connections.clone(),
        );
        registry.register(
            "messages",
            "Signalling messages received, by type",
            messages.clone(),
        );
        registry.register("errors", "Error frames sent, by code", errors.clone());
        registry.register(
            "queue_length",
            "Applicants waiting at the walk-in desk",
            queue_length.clone(),
        );
        registry.register("sessions_open", "Sessions open now", sessions_open.clone());
        registry.register(
            "sessions_ended",
            "Sessions ended, by outcome",
            sessions_ended.clone(),
        );
        registry.register(
            "seal_seconds",
            "Time to seal a session's artefact",
            seal_seconds.clone(),
        );
        Self {
            registry,
            connections,
            messages,
            errors,
            queue_length,
            sessions_open,
            sessions_ended,
            seal_seconds,
        }
    }

    /// Count a received message of type `kind`.
    pub fn message(&self, kind: &'static str) {
        self.messages
            .get_or_create(&vec![("type", kind.to_owned())])
            .inc();
    }

    /// Count an error frame with `code`.
    pub fn error(&self, code: &str) {
        self.errors
            .get_or_create(&vec![("code", code.to_owned())])
            .inc();
    }

    /// Count a session ended with `outcome`.
    pub fn session_ended(&self, outcome: &str) {
        self.sessions_ended
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// Set a gauge that counts things (open sessions, applicants waiting).
    pub fn set_count(gauge: &Gauge, n: usize) {
        gauge.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn sealed_in(&self, took: Duration) {
        self.seal_seconds.observe(took.as_secs_f64());
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Decrements a gauge when dropped: one open connection, for as long as it lives.
pub struct GaugeGuard(Gauge);

impl GaugeGuard {
    pub fn hold(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_up_in_the_text_format() {
        let m = Metrics::new();
        m.message("join_queue");
        m.message("join_queue");
        m.error("rate_limited");
        m.queue_length.set(3);
        m.session_ended("completed");
        m.sealed_in(Duration::from_millis(200));
        {
            let _held = GaugeGuard::hold(&m.connections);
            assert!(m.render().contains("globallink_connections 1"));
        }
        let text = m.render();
        assert!(text.contains("globallink_connections 0"), "{text}");
        assert!(
            text.contains("globallink_messages_total{type=\"join_queue\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("globallink_errors_total{code=\"rate_limited\"} 1"),
            "{text}"
        );
        assert!(text.contains("globallink_queue_length 3"), "{text}");
        assert!(
            text.contains("globallink_sessions_ended_total{outcome=\"completed\"} 1"),
            "{text}"
        );
        assert!(text.contains("globallink_seal_seconds_count 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
