//! Hostile input at a running hub, bounded: 120 connections throw random bytes, truncated and
//! oversized frames, binary frames, deep nesting, huge numbers and forged credentials, before
//! and after authenticating, while a real session goes on beside them. No task panics, memory
//! stays bounded, every step of the real session is acknowledged, and the hub still answers.
//! The generator is seeded, so a failure replays.

mod common;

use common::{Ws, login, paired_session, start_hub};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_tungstenite::tungstenite::Message;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Up to `max` random bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const VALID: &[&str] = &[
    r#"{"v":1,"type":"auth","invite":"aaaaaaaaaaaaaaaa"}"#,
    r#"{"v":1,"id":7,"type":"consent_answer","consent":"recording","granted":true}"#,
    r#"{"v":1,"type":"join_queue"}"#,
    r#"{"v":1,"type":"take_next","service":"id-card-renewal"}"#,
    r#"{"v":1,"id":3,"type":"offer","sdp":"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n"}"#,
    r#"{"v":1,"id":4,"type":"identity_check","document_type":"id-card","document_number":"1","valid_until":"2036-01-01","attestation":"x","outcome":"match"}"#,
];

/// One hostile frame.
fn hostile(rng: &mut Rng) -> Message {
    match rng.below(10) {
        0 => Message::Binary(rng.bytes(4096).into()),
        1 => {
            // Random bytes, as text where they happen to be UTF-8.
            let bytes = rng.bytes(512);
            Message::Text(String::from_utf8_lossy(&bytes).into_owned().into())
        }
        2 => {
            let frame = VALID[rng.below(VALID.len())];
            let cut = rng.below(frame.len());
            Message::Text(frame[..cut].to_owned().into())
        }
        3 => Message::Text("x".repeat(64 * 1024 + 1 + rng.below(200_000)).into()),
        4 => {
            let depth = 1000 + rng.below(50_000);
            Message::Text(format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into())
        }
        5 => Message::Text(
            format!(
                r#"{{"v":1,"id":{},"type":"ping"}}"#,
                "9".repeat(1 + rng.below(400))
            )
            .into(),
        ),
        6 => {
            // A valid frame with one byte flipped.
            let mut frame = VALID[rng.below(VALID.len())].as_bytes().to_vec();
            let at = rng.below(frame.len());
            frame[at] ^= 1 + rng.below(255) as u8;
            Message::Text(String::from_utf8_lossy(&frame).into_owned().into())
        }
        7 => Message::Text(
            json!({"v": 1, "type": "auth", "ticket": "A".repeat(rng.below(10_000))})
                .to_string()
                .into(),
        ),
        8 => Message::Ping(rng.bytes(125).into()),
        _ => Message::Text(VALID[rng.below(VALID.len())].to_owned().into()),
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_neither_crash_nor_disturb_the_hub() {
    let panics = Arc::new(AtomicUsize::new(0));
    let counted = panics.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counted.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));

    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, _applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    // Invites of other cases: attackers that authenticate as another case's applicant.
    let mut invites = Vec::new();
    for _ in 0..12 {
        invites.push(
            common::create_case(&base, &officer_http, "id-card-renewal")
                .await
                .1,
        );
    }
    let before = rss_kib();

    // The attackers: most stay unauthenticated; some authenticate first as the applicant of
    // another case and then misbehave.
    let mut attackers = tokio::task::JoinSet::new();
    for n in 0..120u64 {
        let addr = hub.addr;
        let invite = (n % 10 == 0).then(|| invites[(n / 10) as usize].clone());
        attackers.spawn(async move {
            let mut rng = Rng(0xBAD_F00D ^ n);
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await
            else {
                return;
            };
            if let Some(invite) = invite {
                let _ = ws
                    .send(Message::Text(
                        json!({"v": 1, "type": "auth", "invite": invite})
                            .to_string()
                            .into(),
                    ))
                    .await;
            }
            for _ in 0..20 {
                if ws.send(hostile(&mut rng)).await.is_err() {
                    break;
                }
                // Read whatever comes back without waiting long.
                while let Ok(Some(msg)) =
                    tokio::time::timeout(std::time::Duration::from_millis(5), ws.next()).await
                {
                    if msg.is_err() {
                        return;
                    }
                }
            }
        });
    }

    // Meanwhile the real session goes on, every step acknowledged.
    for id in 0..15u64 {
        officer
            .send(
                json!({"id": 100 + id, "type": "identity_check", "document_type": "id-card",
                "document_number": "11010519491231002X", "valid_until": "2036-01-01",
                "attestation": format!("check {id}"), "outcome": "match"}),
            )
            .await;
        let ack = officer.answer(100 + id).await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    while attackers.join_next().await.is_some() {}

    let health = reqwest::get(hub.url("/api/health")).await.expect("health");
    assert!(health.status().is_success());
    // A fresh client still gets in.
    let mut again = Ws::auth(hub.addr, json!({"invite": invites[0]})).await;
    again.send(json!({"id": 1, "type": "ping"})).await;
    assert_eq!(again.expect("pong").await["type"], "pong");
    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    assert!(closed["artefact_id"].is_string(), "{closed}");

    let grown = rss_kib().saturating_sub(before);
    assert!(
        grown < 200 * 1024,
        "memory grew by {grown} KiB under hostile input"
    );
    assert_eq!(
        panics.load(Ordering::SeqCst),
        0,
        "a task panicked on hostile input"
    );
}
