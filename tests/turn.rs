//! NAT traversal: participants get TURN REST credentials minted by the hub before they build
//! their peer connection, and media flows through a real coturn relay when a client is forced
//! to relay-only ICE.

mod common;

use base64::Engine as _;
use common::peer::{TestPeer, negotiate, wait_for};
use common::{Ws, create_case, login, start_hub_configured, ticket};
use rtc::peer_connection::configuration::{
    RTCConfigurationBuilder, RTCIceServer, RTCIceTransportPolicy,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

const SECRET: &str = "a-static-auth-secret";

/// Expected credential for `username` under `SECRET`, computed here with ring.
fn credential(username: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, SECRET.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, username.as_bytes()))
}

async fn hub_with_turn(url: String) -> common::TestHub {
    start_hub_configured(Arc::new(globallink::clock::SystemClock), move |s| {
        s.turn = Some(globallink::turn::TurnSettings {
            urls: vec![url],
            secret: SECRET.into(),
            ttl: chrono::TimeDelta::minutes(10),
        });
    })
    .await
}

/// The `ice_servers` a participant gets, directly followed by `paired`.
async fn credentials_then_paired(ws: &mut Ws) -> Value {
    let first = ws.expect("ice_servers").await;
    let paired = ws.next().await.expect("paired follows");
    assert_eq!(paired["type"], "paired", "credentials come before pairing");
    first
}

/// Pair an applicant and the officer; returns both with the `ice_servers` each got first.
async fn pair(hub: &common::TestHub) -> (Ws, Ws, Value, Value) {
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (_, invite) = create_case(&base, &officer_http, "id-card-renewal").await;
    let mut officer = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, &officer_http).await}),
    )
    .await;
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite})).await;
    applicant.send(json!({"type": "join_queue"})).await;
    applicant.expect("queue_position").await;
    officer.send(json!({"type": "take_next"})).await;
    let officer_servers = credentials_then_paired(&mut officer).await;
    // The applicant is paired, with credentials of their own, once the officer admits them.
    officer.expect("knock").await;
    officer.send(json!({"type": "admit"})).await;
    let applicant_servers = credentials_then_paired(&mut applicant).await;
    (officer, applicant, officer_servers, applicant_servers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_get_short_lived_turn_credentials_before_pairing() {
    let hub = hub_with_turn("turn:127.0.0.1:3478?transport=udp".into()).await;
    let (_officer, _applicant, for_officer, for_applicant) = pair(&hub).await;
    for (msg, role) in [(&for_officer, "officer"), (&for_applicant, "applicant")] {
        let server = &msg["servers"][0];
        assert_eq!(server["urls"][0], "turn:127.0.0.1:3478?transport=udp");
        let username = server["username"].as_str().expect("username");
        let (expiry, tag) = username.split_once(':').expect("expiry:tag");
        assert!(tag.ends_with(&format!(":{role}")), "{tag}");
        let expiry: i64 = expiry.parse().expect("unix time");
        let now = chrono::Utc::now().timestamp();
        assert!(
            (now + 9 * 60..=now + 10 * 60 + 5).contains(&expiry),
            "{expiry} vs {now}"
        );
        assert_eq!(server["credential"], credential(username).as_str());
        let expires: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(msg["expires_at"].clone()).expect("expires_at");
        assert_eq!(expires.timestamp(), expiry);
    }
    assert_ne!(
        for_officer["servers"][0]["credential"],
        for_applicant["servers"][0]["credential"]
    );
}

/// A coturn on loopback with `use-auth-secret`, killed on drop.
struct Coturn(std::process::Child);

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs coturn's turnserver (Debian package coturn); run by .ci/run"]
async fn media_flows_through_coturn_when_the_client_may_only_relay() {
    // Below the kernel's ephemeral range (32768 and up), so no client socket of this or
    // another process holds them, and apart for each run.
    let slot = (std::process::id() % 100) as u16;
    let port = 20000 + slot;
    let (relay_min, relay_max) = (21000 + slot * 40, 21000 + slot * 40 + 39);
    let dir = tempfile::tempdir().expect("tempdir");
    let coturn = Coturn(
        std::process::Command::new("turnserver")
            .args([
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                &format!("--listening-port={port}"),
                &format!("--min-port={relay_min}"),
                &format!("--max-port={relay_max}"),
                "--use-auth-secret",
                &format!("--static-auth-secret={SECRET}"),
                "--realm=globallink.test",
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--allow-loopback-peers",
                "--fingerprint",
                "--simple-log",
                &format!("--log-file={}", dir.path().join("turn.log").display()),
                &format!("--pidfile={}", dir.path().join("turn.pid").display()),
            ])
            .spawn()
            .expect("turnserver runs (Debian package coturn)"),
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let hub = hub_with_turn(format!("turn:127.0.0.1:{port}?transport=udp")).await;
    let (mut officer, mut applicant, _, for_applicant) = pair(&hub).await;
    let server = &for_applicant["servers"][0];
    let configuration = RTCConfigurationBuilder::new()
        .with_ice_servers(vec![RTCIceServer {
            urls: vec![server["urls"][0].as_str().expect("url").to_owned()],
            username: server["username"].as_str().expect("username").to_owned(),
            credential: server["credential"]
                .as_str()
                .expect("credential")
                .to_owned(),
        }])
        .with_ice_transport_policy(RTCIceTransportPolicy::Relay)
        .build();
    let mut peer_a = TestPeer::with_configuration(Some(configuration)).await;
    let mut peer_o = TestPeer::new().await;
    let offer = peer_a.offer().await;
    let candidates: Vec<&str> = offer
        .lines()
        .filter(|l| l.starts_with("a=candidate"))
        .collect();
    assert!(
        !candidates.is_empty(),
        "a relay candidate was gathered:\n{offer}"
    );
    assert!(
        candidates.iter().all(|c| c.contains("typ relay")),
        "relay only: {candidates:?}"
    );
    negotiate(&mut applicant, &peer_a, offer).await;
    let offer_o = peer_o.offer().await;
    negotiate(&mut officer, &peer_o, offer_o).await;
    peer_a.start_media().await;
    peer_o.start_media().await;
    let (ca, co) = (peer_a.counts.clone(), peer_o.counts.clone());
    wait_for(30, "media both ways through the relay", || {
        ca.video.load(Ordering::SeqCst) > 30 && co.video.load(Ordering::SeqCst) > 30
    })
    .await;
    // The officer's console tells the relayed applicant from the direct officer, and so does
    // `/metrics` (no address anywhere).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "no relayed line");
        let stats = officer.expect("call_stats").await;
        let line = |role: &str| {
            stats["participants"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["role"] == role).cloned())
        };
        if let (Some(a), Some(o)) = (line("applicant"), line("officer"))
            && a["relayed"] == true
        {
            assert_eq!(o["relayed"], false, "{stats}");
            assert!(!stats.to_string().contains("127.0.0.1"), "{stats}");
            break;
        }
    }
    let metrics = reqwest::get(hub.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("globallink_call_participants{role=\"applicant\",path=\"relayed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("globallink_call_participants{role=\"officer\",path=\"direct\"} 1"),
        "{metrics}"
    );
    peer_a.close().await;
    peer_o.close().await;
    drop(coturn);
}
