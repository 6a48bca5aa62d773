//! Call quality of one participant's peer connection with the hub, from webrtc-rs statistics.
//!
//! [`Reading::from_report`] keeps the few counters that matter out of one
//! `PeerConnection::get_stats()` report; [`figures`] turns two successive readings into what the
//! officer's console and `/metrics` show ([`CallStats`]): bitrates from byte deltas over the
//! clock delta, loss, round-trip time, codecs, and whether the path goes through a TURN relay.
//! Both are pure; the session driver does the polling. No address ever leaves this module: a
//! candidate is reduced to whether it is a relay.
//!
//! Directions are the participant's: `up` is what the participant sends (the hub's inbound
//! RTP), `down` what the participant receives (the hub's outbound RTP, with the loss the
//! participant reports in RTCP receiver reports).

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Instant;
use webrtc::peer_connection::{RTCIceCandidateType, RTCStatsReport, RTCStatsReportEntry};

/// Counters of one RTP stream at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamCounters {
    pub ssrc: u32,
    pub bytes: u64,
    pub packets: u64,
    /// Inbound: packets the hub never got (RFC 3550 cumulative, may go negative with
    /// duplicates). Outbound: packets the participant reported lost.
    pub lost: i64,
    /// Outbound only: the participant's last reported loss fraction (0..=1), if any report came.
    pub reported_fraction_lost: Option<f64>,
    /// Outbound only: round-trip time from the participant's receiver reports, in seconds.
    pub rtt_secs: Option<f64>,
    /// e.g. `video/VP8`, when the stream's codec is known.
    pub codec: Option<String>,
}

/// What one `get_stats()` report says about a participant, at the time it was taken.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub at: Instant,
    /// Hub's inbound streams (participant → hub), by kind.
    pub inbound: Vec<(Kind, StreamCounters)>,
    /// Hub's outbound streams (hub → participant), by kind.
    pub outbound: Vec<(Kind, StreamCounters)>,
    /// Current round-trip time of the selected candidate pair (STUN), in seconds.
    pub pair_rtt_secs: Option<f64>,
    /// Whether the selected pair has a relay candidate at either end; `None` before ICE chose.
    pub relayed: Option<bool>,
}

/// Audio or video: the only media the hub negotiates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Audio,
    Video,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Audio => "audio",
            Kind::Video => "video",
        }
    }

    fn of(kind: RtpCodecKind) -> Option<Kind> {
        match kind {
            RtpCodecKind::Audio => Some(Kind::Audio),
            RtpCodecKind::Video => Some(Kind::Video),
            _ => None,
        }
    }
}

/// One kind of media of one participant over the last interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindStats {
    pub kind: Kind,
    /// What the participant sends, as the hub receives it (bits per second).
    pub up_bps: u64,
    /// What the hub sends the participant (bits per second).
    pub down_bps: u64,
    /// Share of the participant's packets lost on the way to the hub during the interval.
    pub up_loss: f64,
    /// Share of the hub's packets the participant reported lost (last receiver report).
    pub down_loss: f64,
    /// Packets lost on the way to the hub since the call started.
    pub up_packets_lost: u64,
    /// Codec of what the participant sends (`audio/opus`, `video/VP8`), when known.
    pub codec: Option<String>,
}

/// One participant's call quality, as sent to the officer in `call_stats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallStats {
    /// Round-trip time between the hub and the participant, in milliseconds.
    pub rtt_ms: Option<u32>,
    /// True when the path goes through a TURN relay.
    pub relayed: bool,
    /// Audio first, then video; a kind appears once either direction has a stream.
    pub media: Vec<KindStats>,
}

impl Reading {
    /// Keep what [`figures`] needs from a webrtc-rs report taken at `at`.
    pub fn from_report(report: &RTCStatsReport, at: Instant) -> Reading {
        let mut codecs = HashMap::new();
        for entry in report.iter() {
            if let RTCStatsReportEntry::Codec(c) = entry {
                codecs.insert(c.stats.id.as_str(), c.mime_type.clone());
            }
        }
        let codec = |id: &str| codecs.get(id).cloned();
        let mut inbound = Vec::new();
        let mut outbound = Vec::new();
        let mut remote_inbound = HashMap::new();
        for entry in report.iter() {
            if let RTCStatsReportEntry::RemoteInboundRtp(r) = entry {
                let s = &r.received_rtp_stream_stats;
                remote_inbound.insert(
                    s.rtp_stream_stats.ssrc,
                    (
                        s.packets_lost,
                        r.fraction_lost,
                        r.round_trip_time,
                        r.round_trip_time_measurements,
                    ),
                );
            }
        }
        for s in report.inbound_rtp_streams() {
            let rtp = &s.received_rtp_stream_stats.rtp_stream_stats;
            let Some(kind) = Kind::of(rtp.kind) else {
                continue;
            };
            inbound.push((
                kind,
                StreamCounters {
                    ssrc: rtp.ssrc,
                    bytes: s.bytes_received,
                    packets: s.received_rtp_stream_stats.packets_received,
                    lost: s.received_rtp_stream_stats.packets_lost,
                    reported_fraction_lost: None,
                    rtt_secs: None,
                    codec: codec(&rtp.codec_id),
                },
            ));
        }
        for s in report.outbound_rtp_streams() {
            let rtp = &s.sent_rtp_stream_stats.rtp_stream_stats;
            let Some(kind) = Kind::of(rtp.kind) else {
                continue;
            };
            let remote = remote_inbound.get(&rtp.ssrc);
            // Without a receiver report the remote-inbound entry is all zeros: not a reading.
            let measured = remote.filter(|r| r.3 > 0);
            outbound.push((
                kind,
                StreamCounters {
                    ssrc: rtp.ssrc,
                    bytes: s.sent_rtp_stream_stats.bytes_sent,
                    packets: s.sent_rtp_stream_stats.packets_sent,
                    lost: remote.map_or(0, |r| r.0),
                    reported_fraction_lost: measured.map(|r| r.1),
                    rtt_secs: measured.map(|r| r.2),
                    codec: codec(&rtp.codec_id),
                },
            ));
        }
        let pairs: Vec<_> = report.candidate_pairs().collect();
        let selected_id = report
            .transport()
            .map(|t| t.selected_candidate_pair_id.as_str())
            .filter(|id| !id.is_empty());
        let selected = match selected_id {
            Some(id) => pairs.iter().find(|p| p.stats.id == id),
            None => pairs.iter().find(|p| p.nominated),
        };
        // A pair names its candidates by their bare ids; the report keys them with a prefix.
        // Remote candidates that came inside the SDP (not trickled) are missing from the report:
        // the driver then asks the ICE transport (`MediaSession::reading`).
        let candidate_type = |id: &str| {
            let local = format!("RTCLocalIceCandidate_{id}");
            let remote = format!("RTCRemoteIceCandidate_{id}");
            [id, local.as_str(), remote.as_str()]
                .into_iter()
                .find_map(|key| {
                    report.get(key).and_then(|e| match e {
                        RTCStatsReportEntry::LocalCandidate(c)
                        | RTCStatsReportEntry::RemoteCandidate(c) => Some(c.candidate_type),
                        _ => None,
                    })
                })
        };
        let relayed = selected.map(|p| {
            [&p.local_candidate_id, &p.remote_candidate_id]
                .iter()
                .any(|id| candidate_type(id) == Some(RTCIceCandidateType::Relay))
        });
        let pair_rtt_secs = selected
            .map(|p| p.current_round_trip_time)
            .filter(|rtt| *rtt > 0.0);
        Reading {
            at,
            inbound,
            outbound,
            pair_rtt_secs,
            relayed,
        }
    }
}

/// Bits per second from a byte counter that went from `before` to `after` over `secs`. A counter
/// that went backwards (a new stream reusing the slot) counts as no traffic.
fn bitrate(before: u64, after: u64, secs: f64) -> u64 {
    if secs <= 0.0 {
        return 0;
    }
    let bits = after.saturating_sub(before).saturating_mul(8) as f64;
    // Truncation is the intent: a rate in whole bits per second.
    (bits / secs) as u64
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64).clamp(0.0, 1.0)
    }
}

/// The stream of `kind` in `streams` (the first one, should a participant send two), and the
/// same SSRC in `earlier` if it was there.
fn pick<'a>(
    kind: Kind,
    streams: &'a [(Kind, StreamCounters)],
    earlier: &'a [(Kind, StreamCounters)],
) -> Option<(&'a StreamCounters, Option<&'a StreamCounters>)> {
    let now = streams.iter().find(|(k, _)| *k == kind).map(|(_, s)| s)?;
    let before = earlier
        .iter()
        .find(|(k, s)| *k == kind && s.ssrc == now.ssrc)
        .map(|(_, s)| s);
    Some((now, before))
}

/// The participant's figures over the interval from `prev` to `cur`. Without `prev` (the first
/// reading) rates are zero and losses are cumulative.
pub fn figures(prev: Option<&Reading>, cur: &Reading) -> CallStats {
    let secs = prev.map_or(0.0, |p| {
        cur.at.saturating_duration_since(p.at).as_secs_f64()
    });
    let empty = Vec::new();
    let (prev_in, prev_out) = prev.map_or((&empty, &empty), |p| (&p.inbound, &p.outbound));
    let mut media = Vec::new();
    for kind in [Kind::Audio, Kind::Video] {
        let up = pick(kind, &cur.inbound, prev_in);
        let down = pick(kind, &cur.outbound, prev_out);
        if up.is_none() && down.is_none() {
            continue;
        }
        let (up_bps, up_loss, up_packets_lost, codec) = match up {
            Some((now, before)) => {
                let (bytes0, packets0, lost0) = before.map_or((now.bytes, now.packets, 0), |b| {
                    (b.bytes, b.packets, b.lost.max(0))
                });
                let lost = now.lost.max(0);
                let lost_delta = u64::try_from(lost.saturating_sub(lost0)).unwrap_or(0);
                let got_delta = now.packets.saturating_sub(packets0);
                let (lost_in, expected) = if before.is_some() {
                    (lost_delta, lost_delta.saturating_add(got_delta))
                } else {
                    let lost = u64::try_from(lost).unwrap_or(0);
                    (lost, lost.saturating_add(now.packets))
                };
                (
                    bitrate(bytes0, now.bytes, secs),
                    ratio(lost_in, expected),
                    u64::try_from(lost).unwrap_or(0),
                    now.codec.clone(),
                )
            }
            None => (0, 0.0, 0, None),
        };
        let (down_bps, down_loss) = match down {
            Some((now, before)) => (
                bitrate(before.map_or(now.bytes, |b| b.bytes), now.bytes, secs),
                now.reported_fraction_lost.unwrap_or(0.0).clamp(0.0, 1.0),
            ),
            None => (0, 0.0),
        };
        media.push(KindStats {
            kind,
            up_bps,
            down_bps,
            up_loss,
            down_loss,
            up_packets_lost,
            codec,
        });
    }
    // RTCP round trips measure the media path itself; the STUN pair RTT is the fallback.
    let rtcp_rtt = cur.outbound.iter().find_map(|(_, s)| s.rtt_secs);
    let rtt_ms = rtcp_rtt
        .or(cur.pair_rtt_secs)
        .filter(|s| s.is_finite() && *s >= 0.0)
        // Saturating float-to-int cast: an absurd RTT shows as u32::MAX, never panics.
        .map(|s| (s * 1000.0).round() as u32);
    CallStats {
        rtt_ms,
        relayed: cur.relayed.unwrap_or(false),
        media,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stream(ssrc: u32, bytes: u64, packets: u64, lost: i64, codec: &str) -> StreamCounters {
        StreamCounters {
            ssrc,
            bytes,
            packets,
            lost,
            codec: Some(codec.into()),
            ..Default::default()
        }
    }

    fn reading(at: Instant, inbound: Vec<(Kind, StreamCounters)>) -> Reading {
        Reading {
            at,
            inbound,
            outbound: vec![],
            pair_rtt_secs: Some(0.040),
            relayed: Some(false),
        }
    }

    #[test]
    fn bitrate_is_the_byte_delta_over_the_clock_delta() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(2);
        let a = reading(
            t0,
            vec![
                (Kind::Audio, stream(1, 10_000, 100, 0, "audio/opus")),
                (Kind::Video, stream(2, 100_000, 200, 0, "video/VP8")),
            ],
        );
        let mut b = reading(
            t1,
            vec![
                (Kind::Audio, stream(1, 18_000, 200, 0, "audio/opus")),
                (Kind::Video, stream(2, 350_000, 400, 0, "video/VP8")),
            ],
        );
        b.outbound = vec![(
            Kind::Video,
            StreamCounters {
                ssrc: 9,
                bytes: 500_000,
                packets: 500,
                reported_fraction_lost: Some(0.25),
                rtt_secs: Some(0.0874),
                ..Default::default()
            },
        )];
        let mut a_out = b.outbound.clone();
        a_out[0].1.bytes = 250_000;
        let a = Reading {
            outbound: a_out,
            ..a
        };
        let s = figures(Some(&a), &b);
        assert_eq!(s.media.len(), 2);
        assert_eq!(s.media[0].kind, Kind::Audio);
        assert_eq!(s.media[0].up_bps, 32_000);
        assert_eq!(s.media[0].codec.as_deref(), Some("audio/opus"));
        assert_eq!(s.media[1].up_bps, 1_000_000);
        assert_eq!(s.media[1].down_bps, 1_000_000);
        assert_eq!(s.media[1].down_loss, 0.25);
        assert_eq!(s.media[1].codec.as_deref(), Some("video/VP8"));
        // The RTCP round trip wins over the STUN one.
        assert_eq!(s.rtt_ms, Some(87));
        assert!(!s.relayed);
    }

    #[test]
    fn loss_is_over_the_interval_and_cumulative_count_is_kept() {
        let t0 = Instant::now();
        let a = reading(t0, vec![(Kind::Video, stream(2, 0, 900, 100, "video/VP8"))]);
        let b = reading(
            t0 + Duration::from_secs(1),
            vec![(Kind::Video, stream(2, 0, 1_800, 200, "video/VP8"))],
        );
        let s = figures(Some(&a), &b);
        assert_eq!(s.media[0].up_loss, 0.1);
        assert_eq!(s.media[0].up_packets_lost, 200);
        // The first reading: no rate yet, loss since the start.
        let first = figures(None, &a);
        assert_eq!(first.media[0].up_bps, 0);
        assert_eq!(first.media[0].up_loss, 0.1);
        assert_eq!(first.rtt_ms, Some(40));
    }

    #[test]
    fn odd_counters_never_panic_nor_go_negative() {
        let t0 = Instant::now();
        // Counters going backwards, negative loss (duplicates), a new SSRC, same timestamp.
        let a = reading(
            t0,
            vec![(Kind::Audio, stream(1, 5_000, 50, 3, "audio/opus"))],
        );
        let b = reading(
            t0,
            vec![(Kind::Audio, stream(1, 1_000, 10, -4, "audio/opus"))],
        );
        let s = figures(Some(&a), &b);
        assert_eq!(s.media[0].up_bps, 0);
        assert_eq!(s.media[0].up_loss, 0.0);
        assert_eq!(s.media[0].up_packets_lost, 0);
        let c = reading(
            t0 + Duration::from_secs(1),
            vec![(Kind::Audio, stream(7, 4_000, 10, 0, "audio/opus"))],
        );
        // A new stream has no earlier counters: no rate for this interval.
        assert_eq!(figures(Some(&b), &c).media[0].up_bps, 0);
        // Time running backwards (readings swapped) gives zero, not a panic.
        assert_eq!(figures(Some(&c), &a).media[0].up_bps, 0);
        let mut silly = reading(t0, vec![]);
        silly.pair_rtt_secs = Some(f64::NAN);
        assert_eq!(figures(None, &silly).rtt_ms, None);
        silly.pair_rtt_secs = Some(1e30);
        assert_eq!(figures(None, &silly).rtt_ms, Some(u32::MAX));
        assert!(figures(None, &silly).media.is_empty());
    }

    #[test]
    fn relayed_follows_the_selected_pair_and_defaults_to_direct() {
        let t0 = Instant::now();
        let mut r = reading(t0, vec![]);
        r.relayed = Some(true);
        assert!(figures(None, &r).relayed);
        r.relayed = None;
        assert!(!figures(None, &r).relayed);
    }

    #[test]
    fn an_empty_report_reads_as_nothing() {
        let r = Reading::from_report(&RTCStatsReport::default(), Instant::now());
        assert!(r.inbound.is_empty() && r.outbound.is_empty());
        assert_eq!(r.relayed, None);
        assert_eq!(r.pair_rtt_secs, None);
    }
}
