//! The signalling half of the authorization matrix: every client message, sent by every kind of
//! caller, gets exactly the answer it should. Callers: anonymous (a first frame that is not
//! `auth`), an applicant and an officer outside any session (the applicant of another case is
//! one: nothing reaches a session they are not in), an answer that names another session, and
//! the two participants of a session sending what only the other may send, a guest in the
//! session (a relative), who may only make media offers, and an officer of another office, who
//! is never handed that office's applicants (`tests/offices.rs` covers what he may see). Auditors have no signalling access at all: they cannot
//! get a ticket (checked in `http_roles.rs`) and an invite or ticket of theirs does not exist.

mod common;

use common::{Ws, create_case, login, paired_session, start_hub, ticket};
use serde_json::{Value, json};

/// Every client message type, with a valid payload.
fn messages(session_id: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("join_queue", json!({"type": "join_queue"})),
        ("leave_queue", json!({"type": "leave_queue"})),
        (
            "take_next",
            json!({"type": "take_next", "service": "id-card-renewal"}),
        ),
        ("offer", json!({"type": "offer", "sdp": "v=0\r\n"})),
        (
            "request_consent",
            json!({"type": "request_consent", "consent": "recording"}),
        ),
        (
            "consent_answer",
            json!({"type": "consent_answer", "consent": "recording", "granted": true,
                "session_id": session_id}),
        ),
        (
            "withdraw_consent",
            json!({"type": "withdraw_consent", "consent": "recording"}),
        ),
        ("my_consents", json!({"type": "my_consents"})),
        (
            "identity_check",
            json!({"type": "identity_check", "document_type": "id-card",
                "document_number": "11010519491231002X", "valid_until": "2036-01-01",
                "attestation": "match", "outcome": "match"}),
        ),
        ("liveness_prompt", json!({"type": "liveness_prompt"})),
        ("liveness_done", json!({"type": "liveness_done"})),
        (
            "liveness_result",
            json!({"type": "liveness_result", "passed": true}),
        ),
        (
            "request_declaration",
            json!({"type": "request_declaration", "declaration": "inheritance"}),
        ),
        (
            "confirm_declaration",
            json!({"type": "confirm_declaration", "declaration": "inheritance",
                "text_sha256": "0".repeat(64)}),
        ),
        ("close_session", json!({"type": "close_session"})),
        (
            "admit",
            json!({"type": "admit", "participant": "applicant"}),
        ),
        ("deny", json!({"type": "deny", "participant": "relative-9"})),
        (
            "invite_guest",
            json!({"type": "invite_guest", "role": "interpreter"}),
        ),
        (
            "set_guest_permissions",
            json!({"type": "set_guest_permissions", "participant": "relative-1",
                "publish": true, "recorded": true, "confirm_declarations": false}),
        ),
        ("ping", json!({"type": "ping"})),
        ("auth", json!({"type": "auth", "invite": "x"})),
    ]
}

/// Send `msg` with id `id` and return the error code of the answer to it, or `ok` when the hub
/// answered without an error (an ack, a pong, or nothing within a short while).
async fn code_of(ws: &mut Ws, id: u64, mut msg: Value) -> String {
    msg["id"] = json!(id);
    msg["v"] = json!(1);
    ws.send(msg).await;
    // A `ping` is answered with a `pong` that carries no ref.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(700);
    loop {
        let Ok(next) = tokio::time::timeout_at(deadline, ws.next()).await else {
            return "ok".to_owned();
        };
        let Some(reply) = next else {
            return "closed".to_owned();
        };
        if reply["type"] == "pong" {
            return "ok".to_owned();
        }
        if reply["ref"] == id {
            return match reply["type"].as_str() {
                Some("error") => reply["code"].as_str().unwrap_or("?").to_owned(),
                _ => "ok".to_owned(),
            };
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signalling_message_answers_each_caller_as_it_should() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;

    // Anonymous: whatever the first frame is, if it is not a valid `auth` the connection is
    // refused.
    for (name, msg) in messages("00000000-0000-4000-8000-000000000000") {
        if name == "auth" {
            continue;
        }
        let mut ws = Ws::connect(hub.addr).await;
        let code = code_of(&mut ws, 1, msg).await;
        assert_eq!(code, "unauthenticated", "anonymous {name}");
        assert!(
            ws.next().await.is_none(),
            "anonymous {name}: the socket closes"
        );
    }

    // Idle callers: an officer and an applicant, neither in a session.
    let mut officer_idle = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, &officer_http).await}),
    )
    .await;
    let (_, invite) = create_case(&base, &officer_http, "id-card-renewal").await;
    let mut applicant_idle = Ws::auth(hub.addr, json!({"invite": invite})).await;
    // An officer of another office (the vehicle administration; ID cards are the public
    // security bureau's): with this service's applicant waiting, he is never handed them.
    let wang_http = login(&base, &common::vehicles_officer(&hub.state).await).await;
    let mut other_office =
        Ws::auth(hub.addr, json!({"ticket": ticket(&base, &wang_http).await})).await;
    applicant_idle.send(json!({"type": "join_queue"})).await;
    applicant_idle.expect("queue_position").await;
    for (n, take) in [
        json!({"type": "take_next", "service": "id-card-renewal"}),
        json!({"type": "take_next"}),
    ]
    .into_iter()
    .enumerate()
    {
        let got = code_of(&mut other_office, 5 + n as u64, take).await;
        assert_eq!(got, "queue_empty", "officer of another office, take {n}");
    }
    applicant_idle.send(json!({"type": "leave_queue"})).await;
    #[rustfmt::skip]
    let idle: &[(&str, &str, &str)] = &[
        // message              applicant idle     officer idle
        ("join_queue",          "ok",              "forbidden"),
        ("leave_queue",         "ok",              "forbidden"),
        ("take_next",           "forbidden",       "queue_empty"),
        ("offer",               "not_in_session",  "not_in_session"),
        ("request_consent",     "forbidden",       "not_in_session"),
        ("consent_answer",      "not_in_session",  "forbidden"),
        ("withdraw_consent",    "not_in_session",  "forbidden"),
        ("my_consents",         "not_in_session",  "forbidden"),
        ("identity_check",      "forbidden",       "not_in_session"),
        ("liveness_prompt",     "forbidden",       "not_in_session"),
        ("liveness_done",       "not_in_session",  "forbidden"),
        ("liveness_result",     "forbidden",       "not_in_session"),
        ("request_declaration", "forbidden",       "not_in_session"),
        ("confirm_declaration", "not_in_session",  "forbidden"),
        ("close_session",       "forbidden",       "not_in_session"),
        ("admit",               "forbidden",       "not_in_session"),
        ("deny",                "forbidden",       "not_in_session"),
        ("invite_guest",        "forbidden",       "not_in_session"),
        ("set_guest_permissions", "forbidden",     "not_in_session"),
        ("ping",                "ok",              "ok"),
        ("auth",                "conflict",        "conflict"),
    ];
    let all = messages("00000000-0000-4000-8000-000000000000");
    assert_eq!(idle.len(), all.len(), "every message is in the table");
    let mut id = 10;
    for (name, want_applicant, want_officer) in idle {
        let msg = all
            .iter()
            .find(|(n, _)| n == name)
            .expect("known")
            .1
            .clone();
        id += 1;
        let got = code_of(&mut applicant_idle, id, msg.clone()).await;
        assert_eq!(&got, want_applicant, "idle applicant {name}");
        id += 1;
        let got = code_of(&mut officer_idle, id, msg.clone()).await;
        assert_eq!(&got, want_officer, "idle officer {name}");
        // Outside any session, an officer of another office gets what any idle officer gets.
        id += 1;
        let got = code_of(&mut other_office, id, msg).await;
        assert_eq!(&got, want_officer, "officer of another office {name}");
    }
    // The idle applicant left the queue last (leave_queue after join_queue): nobody waits.
    drop(applicant_idle);
    drop(officer_idle);

    // A session.
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    officer
        .send(json!({"id": 2, "type": "request_consent", "consent": "recording"}))
        .await;
    applicant.expect("consent_requested").await;

    // In the session, each side sending what only the other may send is forbidden.
    #[rustfmt::skip]
    let officer_only = ["take_next", "request_consent", "identity_check", "liveness_prompt",
        "liveness_result", "request_declaration", "close_session", "admit", "deny",
        "invite_guest", "set_guest_permissions"];
    #[rustfmt::skip]
    let applicant_only = ["join_queue", "leave_queue", "consent_answer", "withdraw_consent",
        "my_consents", "liveness_done", "confirm_declaration"];
    for (sender, names, who) in [
        (&mut applicant, &officer_only[..], "applicant"),
        (&mut officer, &applicant_only[..], "officer"),
    ] {
        for name in names {
            let msg = all
                .iter()
                .find(|(n, _)| n == name)
                .expect("known")
                .1
                .clone();
            id += 1;
            assert_eq!(
                code_of(sender, id, msg).await,
                "forbidden",
                "{who} sends {name}"
            );
        }
    }
    // A guest in the call (a relative, who may not confirm declarations) may only offer media:
    // everything else is the officer's or the applicant's.
    officer
        .send(json!({"type": "invite_guest", "role": "relative", "name": "Li Na"}))
        .await;
    let link = officer.expect("guest_invite").await;
    let token = link["link"]
        .as_str()
        .and_then(|l| l.split_once("#g="))
        .expect("a guest link")
        .1
        .to_owned();
    let mut guest = Ws::auth(hub.addr, json!({"guest": token})).await;
    guest.expect("lobby").await;
    officer
        .send(json!({"type": "admit", "participant": "relative-1"}))
        .await;
    guest.expect("paired").await;
    for (name, msg) in &all {
        let want = match *name {
            "offer" => "media", // reaches the media layer, which refuses `v=0` alone
            "ping" => "ok",
            "auth" => "conflict",
            _ => "forbidden",
        };
        id += 1;
        assert_eq!(
            code_of(&mut guest, id, msg.clone()).await,
            want,
            "guest sends {name}"
        );
    }

    // An answer naming another session is refused even from this session's applicant.
    id += 1;
    let foreign = json!({"type": "consent_answer", "consent": "recording", "granted": true,
        "session_id": "00000000-0000-4000-8000-000000000000"});
    assert_eq!(code_of(&mut applicant, id, foreign).await, "wrong_session");
    // The real answer for this session still works.
    id += 1;
    let own = json!({"type": "consent_answer", "consent": "recording", "granted": true});
    assert_eq!(code_of(&mut applicant, id, own).await, "ok");
}
