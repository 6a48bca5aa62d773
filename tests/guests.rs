//! Guests and multi-party calls with real webrtc-rs peers: the officer invites an interpreter
//! and a site assistant, each knocks with their role and is admitted; every participant's media
//! reaches every other one through the hub after a clean renegotiation; a guest whose role may
//! not publish is refused when they try; a seventh participant is refused; a guest who leaves
//! is renegotiated away; and the sealed bundle names them all and verifies.

mod common;

use common::peer::{TestPeer, media_call, negotiate, renegotiate, wait_for};
use common::{Ws, login, paired_session, start_hub_configured};
use serde_json::{Value, json};
use std::sync::Arc;

/// The token in a guest link (`…/join#g=<token>`).
fn token(invite: &Value) -> String {
    let link = invite["link"].as_str().expect("link");
    link.split_once("#g=")
        .expect("token in the fragment")
        .1
        .to_owned()
}

async fn invite(officer: &mut Ws, id: u64, role: &str, name: &str) -> Value {
    officer
        .send(json!({"id": id, "type": "invite_guest", "role": role, "name": name}))
        .await;
    officer.expect("guest_invite").await
}

/// Wait until the others are told `role` is in `state` (other news is skipped).
async fn told(ws: &mut Ws, role: &str, state: &str) {
    loop {
        let msg = ws.expect("peer_state").await;
        if msg["role"] == role && msg["state"] == state {
            return;
        }
    }
}

/// Packets from `sender` reached `peer`, audio and video.
fn hears(peer: &TestPeer, sender: &str) -> bool {
    let (audio, video) = peer.counts.from(sender);
    audio > 5 && video > 5
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_join_by_role_media_reaches_everyone_and_the_bundle_names_them() {
    let hub = start_hub_configured(Arc::new(globallink::clock::SystemClock), |s| {
        s.config.reconnect_grace_secs = 1;
    })
    .await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "inheritance").await;
    let (peer_a, peer_o) = media_call(&mut officer, &mut applicant).await;
    wait_for(15, "the two-party call", || {
        hears(&peer_a, "officer") && hears(&peer_o, "applicant")
    })
    .await;

    // Only the officer invites.
    applicant
        .send(json!({"id": 5, "type": "invite_guest", "role": "relative"}))
        .await;
    assert_eq!(applicant.answer(5).await["code"], "forbidden");
    officer
        .send(json!({"id": 6, "type": "invite_guest", "role": "uncle"}))
        .await;
    assert_eq!(officer.answer(6).await["code"], "invalid");

    let invited = invite(&mut officer, 7, "interpreter", "Ana Sousa").await;
    assert_eq!(invited["participant"], "interpreter-1");
    assert_eq!(invited["role"], "interpreter");
    assert!(
        invited["link"]
            .as_str()
            .is_some_and(|l| l.starts_with(&base)),
        "{invited}"
    );
    let interpreter_link = token(&invited);
    let mut interpreter = Ws::auth(
        hub.addr,
        json!({"guest": interpreter_link.clone(), "tz": "Europe/Lisbon"}),
    )
    .await;
    assert_eq!(interpreter.expect("lobby").await["state"], "waiting");
    let knock = officer.expect("knock").await;
    assert_eq!(knock["role"], "interpreter-1");
    assert_eq!(knock["name"], "Ana Sousa");
    assert_eq!(knock["tz"], "Europe/Lisbon");
    // Media before admission is refused before it costs anything.
    let mut peer_i = TestPeer::new().await;
    let early = peer_i.offer().await;
    interpreter
        .send(json!({"id": 1, "type": "offer", "sdp": early}))
        .await;
    assert_eq!(interpreter.answer(1).await["code"], "not_admitted");
    // A guest may not do the officer's or the applicant's part.
    interpreter
        .send(json!({"id": 2, "type": "request_consent", "consent": "recording"}))
        .await;
    assert_eq!(interpreter.answer(2).await["code"], "forbidden");
    interpreter.send(json!({"id": 3, "type": "admit"})).await;
    assert_eq!(interpreter.answer(3).await["code"], "forbidden");

    officer
        .send(json!({"type": "admit", "participant": "interpreter-1"}))
        .await;
    assert_eq!(interpreter.expect("lobby").await["state"], "admitted");
    interpreter.expect("paired").await;
    told(&mut applicant, "interpreter-1", "joined").await;
    // The interpreter's own offer has one receiving pair; the hub asks for a second.
    let offer = peer_i.offer().await;
    negotiate(&mut interpreter, &peer_i, offer).await;
    renegotiate(&mut interpreter, &peer_i).await;
    peer_i.start_media().await;
    // The others make room for the newcomer.
    renegotiate(&mut applicant, &peer_a).await;
    renegotiate(&mut officer, &peer_o).await;
    wait_for(20, "everyone hearing everyone", || {
        hears(&peer_i, "applicant")
            && hears(&peer_i, "officer")
            && hears(&peer_a, "interpreter-1")
            && hears(&peer_o, "interpreter-1")
    })
    .await;
    let people = interpreter.expect("participants").await;
    let names: Vec<&str> = people["participants"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["role"].as_str())
        .collect();
    assert!(
        names.contains(&"applicant") && names.contains(&"officer"),
        "{people}"
    );

    // A site assistant watches only: sending media is refused, receiving is fine.
    let invited = invite(&mut officer, 8, "site_assistant", "Li Wei").await;
    assert_eq!(invited["participant"], "site_assistant-2");
    let mut assistant = Ws::auth(hub.addr, json!({"guest": token(&invited)})).await;
    assistant.expect("lobby").await;
    officer
        .send(json!({"type": "admit", "participant": "site_assistant-2"}))
        .await;
    assistant.expect("paired").await;
    let mut sending = TestPeer::new().await;
    let offer = sending.offer().await;
    assistant
        .send(json!({"id": 4, "type": "offer", "sdp": offer}))
        .await;
    let refused = assistant.answer(4).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    sending.close().await;
    let mut watching = TestPeer::receive_only().await;
    let offer = watching.offer().await;
    negotiate(&mut assistant, &watching, offer).await;
    renegotiate(&mut assistant, &watching).await;
    wait_for(20, "the site assistant receiving all three", || {
        ["applicant", "officer", "interpreter-1"]
            .iter()
            .all(|s| hears(&watching, s))
    })
    .await;
    // Nobody is asked to make room for someone who sends nothing.
    applicant.send(json!({"type": "ping"})).await;
    applicant.expect("pong").await;
    assert!(
        !applicant.seen_type("renegotiate"),
        "no renegotiation for a watcher"
    );

    // Two more guests make six; the seventh is refused.
    invite(&mut officer, 9, "relative", "").await;
    invite(&mut officer, 10, "co_heir", "").await;
    officer
        .send(json!({"id": 11, "type": "invite_guest", "role": "relative"}))
        .await;
    let full = officer.answer(11).await;
    assert_eq!(full["code"], "session_full", "{full}");

    // The officer lets the site assistant speak after all: their media starts over, sending.
    officer
        .send(
            json!({"id": 12, "type": "set_guest_permissions", "participant": "site_assistant-2",
                     "publish": true, "recorded": true, "confirm_declarations": false}),
        )
        .await;
    let again = assistant.expect("paired").await;
    assert_eq!(
        (again["publish"].as_bool(), again["media"].as_str()),
        (Some(true), Some("rejoin")),
        "{again}"
    );
    applicant
        .send(
            json!({"id": 13, "type": "set_guest_permissions", "participant": "site_assistant-2",
                     "publish": false, "recorded": false, "confirm_declarations": false}),
        )
        .await;
    assert_eq!(applicant.answer(13).await["code"], "forbidden");

    // The interpreter goes; after the grace period the others renegotiate them away.
    peer_i.close().await;
    drop(interpreter);
    told(&mut officer, "interpreter-1", "reconnecting").await;
    told(&mut officer, "interpreter-1", "left").await;
    let sdp = loop {
        let sdp = renegotiate(&mut officer, &peer_o).await;
        if !sdp.contains("msid:interpreter-1") {
            break sdp;
        }
    };
    assert!(sdp.contains("msid:applicant"), "the applicant stays: {sdp}");
    let sdp = renegotiate(&mut applicant, &peer_a).await;
    assert!(!sdp.contains("msid:interpreter-1"), "{sdp}");
    // Their link no longer opens the session.
    let mut again = Ws::connect(hub.addr).await;
    again
        .send(json!({"type": "auth", "guest": interpreter_link}))
        .await;
    let refused = again.next().await.expect("an answer");
    assert_eq!(refused["code"], "unauthenticated", "{refused}");

    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("artefact").to_owned();
    assert_eq!(
        assistant.expect("session_closed").await["artefact_id"],
        artefact.as_str()
    );
    for p in [&peer_a, &peer_o, &watching] {
        p.close().await;
    }
    let bundle = common::download_bundle(&officer_http, &base, &artefact).await;
    let report = globallink::seal::verify::verify_bundle(&bundle, &hub.state.trust);
    assert!(report.ok, "bundle verifies: {}", report.render_text());
    let events = common::bundle_events(&bundle);
    let has = |kind: &str, role: &str| {
        events
            .iter()
            .any(|e| e["kind"] == kind && e["role"] == role)
    };
    for (kind, role) in [
        ("guest_invited", "interpreter-1"),
        ("participant_knocked", "interpreter-1"),
        ("participant_admitted", "interpreter-1"),
        ("participant_disconnected", "interpreter-1"),
        ("participant_left", "interpreter-1"),
        ("guest_invited", "site_assistant-2"),
        ("participant_admitted", "site_assistant-2"),
        ("guest_invited", "relative-3"),
        ("guest_invited", "co_heir-4"),
        ("guest_permissions_changed", "site_assistant-2"),
    ] {
        assert!(has(kind, role), "{kind} {role} in the chain");
    }
    let invited = events
        .iter()
        .find(|e| e["kind"] == "guest_invited" && e["role"] == "site_assistant-2")
        .expect("invited");
    assert_eq!(invited["may_publish"], false);
    // No event names anyone in clear.
    let text = serde_json::to_string(&events).expect("json");
    assert!(!text.contains("Ana Sousa") && !text.contains("Li Wei"));
}
