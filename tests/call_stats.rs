//! Observability of calls: with real webrtc-rs peers sending VP8 and Opus through the hub, the
//! officer's console gets `call_stats` (bitrates, loss, RTT, codecs, relayed or direct) for both
//! participants, the applicant never does, and `/metrics` aggregates the readings by role, kind
//! and direction without any session id.

mod common;

use common::peer::media_call;
use common::{login, paired_session, start_hub};
use serde_json::{Value, json};

/// The metric line starting with `prefix` (name and labels), as a number.
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
}

use common::{stats_line as line, stats_media as media};

/// Both participants send video and audio at a non-zero rate in this reading.
fn flowing(stats: &Value) -> bool {
    ["officer", "applicant"].iter().all(|role| {
        line(stats, role).is_some_and(|p| {
            ["audio", "video"].iter().all(|kind| {
                media(p, kind).is_some_and(|m| {
                    m["up_bps"].as_u64().unwrap_or(0) > 0 && m["down_bps"].as_u64().unwrap_or(0) > 0
                })
            })
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_sees_call_stats_applicant_does_not_and_metrics_aggregate() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    let (peer_a, peer_o) = media_call(&mut officer, &mut applicant).await;

    // Readings come every 2 s; rates need two, and media a moment to start.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let stats = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no call_stats with media flowing both ways"
        );
        let stats = officer.expect("call_stats").await;
        if flowing(&stats) {
            break stats;
        }
    };
    let text = stats.to_string();
    assert!(!text.contains("127.0.0.1"), "no addresses: {text}");
    for role in ["officer", "applicant"] {
        let p = line(&stats, role).expect("a line per participant");
        assert_eq!(p["relayed"], false, "loopback is direct: {p}");
        let rtt = p["rtt_ms"].as_u64();
        assert!(rtt.is_none_or(|ms| ms < 1000), "RTT on loopback: {p}");
        let video = media(p, "video").expect("video");
        assert!(
            video["codec"]
                .as_str()
                .is_some_and(|c| c.eq_ignore_ascii_case("video/VP8")),
            "{p}"
        );
        let audio = media(p, "audio").expect("audio");
        assert!(
            audio["codec"]
                .as_str()
                .is_some_and(|c| c.eq_ignore_ascii_case("audio/opus")),
            "{p}"
        );
        // The fixtures stream ~30 fps VP8 and Opus: well under 10 Mbit/s, over 1 kbit/s.
        for m in [video, audio] {
            let up = m["up_bps"].as_u64().expect("up_bps");
            assert!((1_000..10_000_000).contains(&up), "{p}");
            let loss = m["up_loss"].as_f64().expect("up_loss");
            assert!((0.0..=1.0).contains(&loss), "{p}");
        }
    }

    // Everything the applicant got up to a pong: no call_stats among it.
    applicant.send(json!({"type": "ping"})).await;
    applicant.expect("pong").await;
    assert!(
        applicant.seen.iter().all(|m| m["type"] != "call_stats"),
        "the applicant never sees network details: {:?}",
        applicant.seen
    );

    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for role in ["officer", "applicant"] {
        for kind in ["audio", "video"] {
            for direction in ["up", "down"] {
                let labels =
                    format!("{{role=\"{role}\",kind=\"{kind}\",direction=\"{direction}\"}}");
                let count = metric(&text, &format!("globallink_call_bitrate_bps_count{labels}"))
                    .unwrap_or_else(|| panic!("bitrate count for {labels}: {text}"));
                assert!(count >= 1.0, "{text}");
                let sum = metric(&text, &format!("globallink_call_bitrate_bps_sum{labels}"))
                    .expect("bitrate sum");
                assert!(sum > 0.0, "{labels}: {text}");
                assert!(
                    metric(&text, &format!("globallink_call_loss_ratio_count{labels}"))
                        .is_some_and(|c| c >= 1.0),
                    "{text}"
                );
            }
        }
        assert_eq!(
            metric(
                &text,
                &format!("globallink_call_participants{{role=\"{role}\",path=\"direct\"}}")
            ),
            Some(1.0),
            "{text}"
        );
    }
    assert!(text.contains("globallink_call_rtt_seconds"), "{text}");
    assert!(
        !text.contains("session=") && !text.contains("session_id="),
        "no session label: {text}"
    );

    officer
        .send(json!({"id": 9, "type": "close_session"}))
        .await;
    officer.expect("session_closed").await;
    peer_a.close().await;
    peer_o.close().await;
    // The session task drops its path gauges as it ends.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = reqwest::get(format!("{base}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        let held = ["officer", "applicant"].iter().any(|role| {
            metric(
                &text,
                &format!("globallink_call_participants{{role=\"{role}\",path=\"direct\"}}"),
            ) != Some(0.0)
        });
        if !held {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
