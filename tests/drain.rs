//! Draining a hub (what SIGTERM does): every connection is told, new sessions and new
//! connections are refused, each open session ends as interrupted and is sealed with its chain
//! intact, and the drain returns within its bound. The process-level SIGTERM path is in
//! `crash_recovery.rs`.

mod common;

use common::{Ws, create_case, login, paired_session, start_hub};
use globallink::seal::verify::verify_bundle;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_interrupts_and_seals_sessions_and_refuses_new_work() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    // A second applicant waits in the queue.
    let (_, invite) = create_case(&base, &officer_http, "id-card-renewal").await;
    let mut waiting = Ws::auth(hub.addr, json!({"invite": invite})).await;
    waiting.send(json!({"type": "join_queue"})).await;
    waiting.expect("queue_position").await;

    let state = hub.state.clone();
    let drain = tokio::spawn(async move {
        globallink::session::drain(&state, "test drain", Duration::from_secs(15)).await
    });

    let notice = waiting.expect("draining").await;
    assert_eq!(notice["retry_after_secs"], 30);
    assert!(
        waiting.next().await.is_none(),
        "the waiting applicant's socket closes"
    );

    for ws in [&mut officer, &mut applicant] {
        ws.expect("draining").await;
        let closed = ws.expect("session_closed").await;
        assert_eq!(closed["outcome"], "interrupted", "{closed}");
        assert!(
            closed["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("hub shutting down"),
            "{closed}"
        );
        assert!(closed["artefact_id"].is_string(), "{closed}");
    }
    assert_eq!(drain.await.expect("drain task"), 0, "no session left open");

    // Nothing new: no connection, and the session is sealed as interrupted.
    let refused = tokio_tungstenite::connect_async(format!("ws://{}/ws", hub.addr)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status().as_u16(), 503)
        }
        other => panic!(
            "a draining hub accepted a connection: {:?}",
            other.map(|_| ())
        ),
    }
    let cases: serde_json::Value = officer_http
        .get(format!("{base}/api/cases"))
        .send()
        .await
        .expect("cases")
        .json()
        .await
        .expect("json");
    let mut sealed = 0;
    for case in cases.as_array().expect("cases") {
        let id = case["id"].as_str().expect("id");
        let detail: serde_json::Value = officer_http
            .get(format!("{base}/api/cases/{id}"))
            .send()
            .await
            .expect("case")
            .json()
            .await
            .expect("json");
        for artefact in detail["artefacts"].as_array().into_iter().flatten() {
            assert_eq!(artefact["outcome"], "interrupted");
            let bytes = common::download_bundle(
                &officer_http,
                &base,
                artefact["id"].as_str().expect("artefact id"),
            )
            .await;
            let report = verify_bundle(&bytes, &hub.state.trust);
            assert!(report.ok, "{}", report.render_text());
            let events = common::bundle_events(&bytes);
            let last = events.last().expect("events");
            assert_eq!(last["kind"], "session_interrupted", "{last}");
            sealed += 1;
        }
        for session in detail["sessions"].as_array().into_iter().flatten() {
            assert_eq!(session["status"], "interrupted", "{session}");
        }
    }
    assert_eq!(sealed, 1, "the one open session was sealed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_hub_refuses_to_start_sessions() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    // Draining has begun but this session has not been ended yet: its participants' sockets
    // stay open, and anything that would start a session is refused.
    hub.state.start_draining();
    officer.expect("draining").await;
    applicant.expect("draining").await;
    officer
        .send(json!({"id": 5, "type": "take_next", "service": null}))
        .await;
    let refused = officer.answer(5).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("draining")),
        "{refused}"
    );
    applicant.send(json!({"id": 6, "type": "join_queue"})).await;
    let refused = applicant.answer(6).await;
    assert_eq!(refused["code"], "draining", "{refused}");
}
