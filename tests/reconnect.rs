//! Participants whose connection drops come back to their session: the other side is told, the
//! chain records the drop and the return, and a participant who does not return within the
//! grace period has left (an officer's absence interrupts the session).

mod common;

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
