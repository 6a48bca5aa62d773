//! Prometheus metrics for operators, served at `GET /metrics` in the OpenMetrics text format
//! (prometheus-client). Labels come from small fixed sets (message types, error codes,
//! outcomes), never from ids, names or addresses, so the endpoint reveals counts only.
//!
//! Call quality (`call_*`) is aggregated over every open session: each statistics reading of a
//! participant (every [`crate::session::STATS_EVERY`]) is one observation in histograms labelled
//! by role, media kind and direction, and a gauge counts participants with media by path
//! (direct or through a TURN relay). No session id is a label, so cardinality stays fixed.

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
    /// Per-participant bitrate readings, by role, kind and direction (`up`: from the
    /// participant, `down`: to them), in bits per second.
    pub call_bitrate: Family<Label, Histogram, fn() -> Histogram>,
    /// Per-participant packet loss readings (0..1), by role, kind and direction.
    pub call_loss: Family<Label, Histogram, fn() -> Histogram>,
    /// Per-participant round-trip time readings between the hub and the participant, by role.
    pub call_rtt_seconds: Family<Label, Histogram, fn() -> Histogram>,
    /// Participants with a media connection now, by role and path (`direct` or `relayed`).
    pub call_participants: Family<Label, Gauge>,
}

fn bitrate_histogram() -> Histogram {
    Histogram::new([16e3, 32e3, 64e3, 128e3, 256e3, 512e3, 1e6, 2e6, 4e6, 8e6])
}

fn loss_histogram() -> Histogram {
    Histogram::new([0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5])
}

fn rtt_histogram() -> Histogram {
    Histogram::new([0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6])
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
        let call_bitrate =
            Family::<Label, Histogram, fn() -> Histogram>::new_with_constructor(bitrate_histogram);
        let call_loss =
            Family::<Label, Histogram, fn() -> Histogram>::new_with_constructor(loss_histogram);
        let call_rtt_seconds =
            Family::<Label, Histogram, fn() -> Histogram>::new_with_constructor(rtt_histogram);
        let call_participants = Family::<Label, Gauge>::default();
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
        registry.register(
            "call_bitrate_bps",
            "Participants' media bitrate readings, by role, kind and direction",
            call_bitrate.clone(),
        );
        registry.register(
            "call_loss_ratio",
            "Participants' packet loss readings (0 to 1), by role, kind and direction",
            call_loss.clone(),
        );
        registry.register(
            "call_rtt_seconds",
            "Round-trip time readings between the hub and participants, by role",
            call_rtt_seconds.clone(),
        );
        registry.register(
            "call_participants",
            "Participants with media now, by role and path (direct or relayed)",
            call_participants.clone(),
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
            call_bitrate,
            call_loss,
            call_rtt_seconds,
            call_participants,
        }
    }

    /// Record one statistics reading of a participant in the `call_*` histograms.
    pub fn call_reading(&self, role: &'static str, stats: &crate::media::stats::CallStats) {
        for m in &stats.media {
            for (direction, bps, loss) in [
                ("up", m.up_bps, m.up_loss),
                ("down", m.down_bps, m.down_loss),
            ] {
                let labels = vec![
                    ("role", role.to_owned()),
                    ("kind", m.kind.name().to_owned()),
                    ("direction", direction.to_owned()),
                ];
                // Precision loss above 2^53 bit/s is irrelevant.
                self.call_bitrate.get_or_create(&labels).observe(bps as f64);
                self.call_loss.get_or_create(&labels).observe(loss);
            }
        }
        if let Some(rtt) = stats.rtt_ms {
            self.call_rtt_seconds
                .get_or_create(&vec![("role", role.to_owned())])
                .observe(f64::from(rtt) / 1000.0);
        }
    }

    /// The gauge counting participants of `role` on a `relayed` or direct path.
    pub fn call_path(&self, role: &'static str, relayed: bool) -> Gauge {
        let path = if relayed { "relayed" } else { "direct" };
        self.call_participants
            .get_or_create(&vec![("role", role.to_owned()), ("path", path.to_owned())])
            .clone()
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

    #[test]
    fn call_readings_are_aggregated_by_role_kind_and_direction() {
        use crate::media::stats::{CallStats, Kind, KindStats};
        let m = Metrics::new();
        let stats = CallStats {
            rtt_ms: Some(30),
            relayed: true,
            media: vec![KindStats {
                kind: Kind::Video,
                up_bps: 700_000,
                down_bps: 300_000,
                up_loss: 0.0,
                down_loss: 0.03,
                up_packets_lost: 0,
                codec: Some("video/VP8".into()),
            }],
        };
        m.call_reading("officer", &stats);
        let _path = GaugeGuard::hold(&m.call_path("officer", stats.relayed));
        let text = m.render();
        assert!(
            text.contains(
                "globallink_call_bitrate_bps_sum{role=\"officer\",kind=\"video\",direction=\"up\"} 700000"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "globallink_call_loss_ratio_count{role=\"officer\",kind=\"video\",direction=\"down\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("globallink_call_rtt_seconds_sum{role=\"officer\"} 0.03"),
            "{text}"
        );
        assert!(
            text.contains("globallink_call_participants{role=\"officer\",path=\"relayed\"} 1"),
            "{text}"
        );
    }
}
