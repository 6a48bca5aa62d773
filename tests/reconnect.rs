//! Participants whose connection drops come back to their session: the other side is told, the
//! chain records the drop and the return, and a participant who does not return within the
//! grace period has left (an officer's absence interrupts the session).

mod common;

use common::peer::{TestPeer, negotiate, wait_for};
use common::{Ws, login, start_hub, start_hub_configured, ticket};
use globallink::clock::SystemClock;
use serde_json::{Value, json};
use std::sync::Arc;

async fn pair(hub: &common::TestHub, officer_http: &reqwest::Client) -> (Ws, Ws, String, String) {
    let common::Knocking {
        mut officer,
        mut applicant,
        paired,
        invite,
        ..
    } = common::knocking(hub.addr, &hub.url(""), officer_http, "id-card-renewal").await;
    common::admit(&mut officer, &mut applicant).await;
    (
        officer,
        applicant,
        paired["session_id"].as_str().expect("id").to_owned(),
        invite,
    )
}

async fn peer_state(ws: &mut Ws, state: &str) -> Value {
    loop {
        let msg = ws.expect("peer_state").await;
        if msg["state"] == state {
            return msg;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applicant_and_officer_come_back_to_their_session() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, applicant, session, invite) = pair(&hub, &officer_http).await;

    // The applicant's network drops.
    drop(applicant);
    assert_eq!(
        peer_state(&mut officer, "reconnecting").await["role"],
        "applicant"
    );
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite.clone()})).await;
    let resumed = applicant.expect("paired").await;
    assert_eq!(
        (resumed["session_id"].as_str(), resumed["resumed"].as_bool()),
        (Some(session.as_str()), Some(true))
    );
    // No media connection to keep: the page makes a new one.
    assert_eq!(resumed["media"], "rejoin");
    assert_eq!(applicant.expect("recording").await["active"], false);
    peer_state(&mut officer, "rejoined").await;
    // The session carries on: a consent on the new connection.
    officer
        .send(json!({"type": "request_consent", "consent": "personal-information"}))
        .await;
    applicant.expect("consent_requested").await;
    applicant.send(json!({"id": 1, "type": "consent_answer", "consent": "personal-information", "granted": true})).await;
    assert_eq!(applicant.answer(1).await["event"], "consent_granted");

    // The officer reloads the console: a fresh ticket brings them back.
    drop(officer);
    peer_state(&mut applicant, "reconnecting").await;
    let mut officer = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, &officer_http).await}),
    )
    .await;
    assert_eq!(officer.expect("paired").await["resumed"], true);
    peer_state(&mut applicant, "rejoined").await;

    // A second window takes the session over; the first is told.
    let mut second = Ws::auth(hub.addr, json!({"invite": invite})).await;
    assert_eq!(second.expect("paired").await["resumed"], true);
    let moved = applicant.expect("error").await;
    assert_eq!(moved["code"], "moved");
    drop(applicant); // closing the replaced window does not count as a drop

    officer.send(json!({"type": "close_session"})).await;
    let closed = second.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("artefact");
    let bundle = common::download_bundle(&officer_http, &base, artefact).await;
    let report = globallink::seal::verify::verify_bundle(&bundle, &hub.state.trust);
    assert!(report.ok, "{}", report.render_text());
    let kinds: Vec<String> = common::bundle_events(&bundle)
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect();
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    assert_eq!(count("participant_disconnected"), 2, "{kinds:?}");
    assert_eq!(count("participant_reconnected"), 2, "{kinds:?}");
    assert_eq!(count("participant_left"), 0, "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_who_does_not_return_in_time_interrupts_the_session() {
    let hub =
        start_hub_configured(Arc::new(SystemClock), |s| s.config.reconnect_grace_secs = 1).await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (officer, mut applicant, _, _) = pair(&hub, &officer_http).await;
    drop(officer);
    peer_state(&mut applicant, "reconnecting").await;
    let closed = applicant.expect("session_closed").await;
    assert_eq!(closed["outcome"], "interrupted");
    assert!(
        closed["artefact_id"].is_string(),
        "what there was is sealed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applicant_back_after_the_grace_period_starts_afresh() {
    let hub =
        start_hub_configured(Arc::new(SystemClock), |s| s.config.reconnect_grace_secs = 1).await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, applicant, _, invite) = pair(&hub, &officer_http).await;
    drop(applicant);
    peer_state(&mut officer, "reconnecting").await;
    peer_state(&mut officer, "left").await;
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite})).await;
    // Not put back into the session they left: they may queue again.
    applicant.send(json!({"type": "join_queue"})).await;
    let pos = applicant.expect("queue_position").await;
    assert_eq!(pos["position"], 1);
    assert!(
        applicant.seen.iter().all(|m| m["type"] != "paired"),
        "{:?}",
        applicant.seen
    );
}

/// The `a=` attribute `name` of an SDP.
fn attribute<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
    sdp.lines().find_map(|l| l.trim_end().strip_prefix(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_resumes_the_call_with_an_ice_restart() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, mut applicant, session, invite) = pair(&hub, &officer_http).await;
    let mut peer_a = TestPeer::new().await;
    let mut peer_o = TestPeer::new().await;
    let offer = peer_a.offer().await;
    applicant.send(json!({"type": "offer", "sdp": offer})).await;
    let first = applicant.expect("answer").await["sdp"]
        .as_str()
        .expect("sdp")
        .to_owned();
    peer_a.accept(first.clone()).await;
    let offer = peer_o.offer().await;
    negotiate(&mut officer, &peer_o, offer).await;
    peer_a.start_media().await;
    peer_o.start_media().await;
    let heard = |p: &TestPeer| p.counts.video.load(std::sync::atomic::Ordering::SeqCst);
    wait_for(15, "media both ways", || {
        heard(&peer_a) > 10 && heard(&peer_o) > 10
    })
    .await;

    // Only the signalling socket drops (a network change): the media connection stays up.
    drop(applicant);
    peer_state(&mut officer, "reconnecting").await;
    let during = heard(&peer_o);
    wait_for(10, "media flowing while the socket is away", || {
        heard(&peer_o) > during + 30
    })
    .await;
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite})).await;
    let resumed = applicant.expect("paired").await;
    assert_eq!(resumed["session_id"], session.as_str());
    assert_eq!(resumed["media"], "resume", "{resumed}");
    // The same peer connection, restarted: new ICE credentials, the same DTLS certificate.
    peer_a.pc.restart_ice().await.expect("restart");
    let offer = peer_a.offer().await;
    assert_ne!(
        attribute(&offer, "a=ice-ufrag:"),
        attribute(&first, "a=ice-ufrag:")
    );
    applicant.send(json!({"type": "offer", "sdp": offer})).await;
    let answer = applicant.expect("answer").await["sdp"]
        .as_str()
        .expect("sdp")
        .to_owned();
    assert_ne!(
        attribute(&answer, "a=ice-ufrag:"),
        attribute(&first, "a=ice-ufrag:"),
        "the hub restarted ICE too"
    );
    assert_eq!(
        attribute(&answer, "a=fingerprint:"),
        attribute(&first, "a=fingerprint:"),
        "the hub kept its peer connection"
    );
    peer_a.accept(answer).await;
    peer_state(&mut officer, "rejoined").await;
    let (a, o) = (heard(&peer_a), heard(&peer_o));
    wait_for(15, "media both ways after the restart", || {
        heard(&peer_a) > a + 30 && heard(&peer_o) > o + 30
    })
    .await;
    // The officer was not asked to start over: nothing to renegotiate on their side.
    officer.send(json!({"type": "ping"})).await;
    officer.expect("pong").await;
    assert!(
        !officer.seen_type("paired"),
        "the officer keeps their connection"
    );
    peer_a.close().await;
    peer_o.close().await;
}
