//! The waiting room: the applicant arrives knocking and waits until the officer admits or
//! denies them. Before admission the hub refuses their media and everything that involves
//! them with `not_admitted`; the knock, the admission and the denial are in the sealed chain.

mod common;

use common::peer::{TestPeer, negotiate};
use common::{Ws, bundle_events, download_bundle, login, start_hub, ticket};
use globallink::seal::verify::verify_bundle;
use serde_json::{Value, json};

const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 0xFF, 0xD9,
];

/// An officer and an applicant after `take_next`, the applicant still in the lobby:
/// `(officer, applicant, the officer's paired, invite)`.
async fn knocking(
    hub: &common::TestHub,
    officer_http: &reqwest::Client,
) -> (Ws, Ws, Value, String) {
    let k = common::knocking(hub.addr, &hub.url(""), officer_http, "id-card-renewal").await;
    (k.officer, k.applicant, k.paired, k.invite)
}

async fn refused(ws: &mut Ws, id: u64, msg: Value, code: &str) {
    let mut msg = msg;
    msg["id"] = json!(id);
    ws.send(msg.clone()).await;
    let answer = ws.answer(id).await;
    assert_eq!(answer["type"], "error", "{msg} → {answer}");
    assert_eq!(answer["code"], code, "{msg} → {answer}");
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_reaches_the_call_before_the_officer_admits() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, mut applicant, paired, _) = knocking(&hub, &officer_http).await;

    // The officer sees who knocks, with their zone for the local time.
    let knock = officer.expect("knock").await;
    assert_eq!(knock["role"], "applicant");
    assert_eq!(knock["name"], paired["peer"]["name"]);
    assert_eq!(knock["tz"], "Europe/Lisbon");
    assert!(knock["since"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert_eq!(applicant.expect("lobby").await["state"], "waiting");
    assert!(
        applicant.seen.iter().all(|m| m["type"] != "paired"),
        "no pairing from the lobby: {:?}",
        applicant.seen
    );

    // Media from the lobby is refused cleanly, before the hub spends a port on it.
    let mut peer_a = TestPeer::new().await;
    let offer = peer_a.offer().await;
    refused(
        &mut applicant,
        1,
        json!({"type": "offer", "sdp": offer.clone()}),
        "not_admitted",
    )
    .await;
    refused(
        &mut applicant,
        2,
        json!({"type": "consent_answer", "consent": "recording", "granted": true}),
        "not_admitted",
    )
    .await;
    refused(
        &mut applicant,
        3,
        json!({"type": "my_consents"}),
        "not_admitted",
    )
    .await;
    refused(
        &mut applicant,
        4,
        json!({"type": "liveness_done"}),
        "not_admitted",
    )
    .await;
    refused(&mut applicant, 5, json!({"type": "admit"}), "forbidden").await;
    refused(&mut applicant, 6, json!({"type": "deny"}), "forbidden").await;
    refused(
        &mut officer,
        7,
        json!({"type": "request_consent", "consent": "recording"}),
        "not_admitted",
    )
    .await;
    refused(
        &mut officer,
        8,
        json!({"type": "liveness_prompt"}),
        "not_admitted",
    )
    .await;
    // A still of a document cannot be taken of someone who is not in the call; the upload
    // is refused and not kept.
    let session = paired["session_id"].as_str().expect("session");
    let res = officer_http
        .post(format!(
            "{base}/api/sessions/{session}/documents?category=still&kind=identity-document"
        ))
        .header("content-type", "image/jpeg")
        .body(JPEG.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "not_admitted", "{body}");
    // The socket stays open and the applicant still waits.
    applicant.send(json!({"id": 9, "type": "ping"})).await;
    applicant.expect("pong").await;

    // Admitted: told so, then paired, and now the same offer is answered.
    officer.send(json!({"id": 10, "type": "admit"})).await;
    assert_eq!(officer.answer(10).await["event"], "participant_admitted");
    assert_eq!(applicant.expect("lobby").await["state"], "admitted");
    let paired_a = applicant.expect("paired").await;
    assert_eq!(paired_a["session_id"], paired["session_id"]);
    refused(&mut officer, 11, json!({"type": "admit"}), "conflict").await;
    negotiate(&mut applicant, &peer_a, offer).await;
    officer
        .send(json!({"id": 12, "type": "request_consent", "consent": "recording"}))
        .await;
    applicant.expect("consent_requested").await;

    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("sealed").to_owned();
    peer_a.close().await;
    let bytes = download_bundle(&officer_http, &base, &artefact).await;
    let report = verify_bundle(&bytes, &hub.state.trust);
    assert!(report.ok, "{}", report.render_text());
    let events = bundle_events(&bytes);
    let k = kinds(&events);
    let at = |kind: &str| k.iter().position(|x| x == kind).expect(kind);
    assert!(
        at("participant_joined") < at("participant_knocked"),
        "{k:?}"
    );
    assert!(
        at("participant_knocked") < at("participant_admitted"),
        "{k:?}"
    );
    assert!(
        at("participant_admitted") < at("consent_requested"),
        "{k:?}"
    );
    let knocked = &events[at("participant_knocked")];
    assert_eq!(knocked["role"], "applicant");
    assert_eq!(knocked["tz"], "Europe/Lisbon");
    assert_eq!(events[at("participant_joined")]["role"], "officer");
    assert!(
        !k.iter()
            .any(|x| x == "participant_denied" || x == "document_added"),
        "refusals record nothing: {k:?}"
    );
    let files = common::zipped::unzip(&bytes);
    assert!(
        files
            .iter()
            .all(|(name, _)| !name.starts_with("documents/")),
        "the refused upload is not in the bundle"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_applicant_is_told_and_the_session_is_sealed_as_denied() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, mut applicant, _, _) = knocking(&hub, &officer_http).await;
    officer.expect("knock").await;
    assert_eq!(applicant.expect("lobby").await["state"], "waiting");
    officer.send(json!({"id": 1, "type": "deny"})).await;
    assert_eq!(applicant.expect("lobby").await["state"], "denied");
    let closed = applicant.expect("session_closed").await;
    assert_eq!(closed["outcome"], "denied");
    assert!(closed["reason"].is_string());
    let artefact = closed["artefact_id"].as_str().expect("sealed").to_owned();
    assert_eq!(officer.expect("session_closed").await["outcome"], "denied");
    assert!(
        applicant.seen.iter().all(|m| m["type"] != "paired"),
        "{:?}",
        applicant.seen
    );
    // The session is over for both: no more messages reach it.
    refused(
        &mut applicant,
        2,
        json!({"type": "consent_answer", "consent": "recording", "granted": true}),
        "not_in_session",
    )
    .await;

    let bytes = download_bundle(&officer_http, &base, &artefact).await;
    let report = verify_bundle(&bytes, &hub.state.trust);
    assert!(report.ok, "{}", report.render_text());
    let k = kinds(&bundle_events(&bytes));
    assert_eq!(
        k,
        [
            "session_opened",
            "participant_joined",
            "participant_knocked",
            "participant_denied",
            "session_closed"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_survives_a_dropped_connection_on_either_side() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, applicant, _, invite) = knocking(&hub, &officer_http).await;
    officer.expect("knock").await;

    // The applicant reloads the page while waiting: back in the lobby, not in the call.
    drop(applicant);
    let state = officer.expect("peer_state").await;
    assert_eq!(state["state"], "reconnecting");
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite.clone()})).await;
    assert_eq!(applicant.expect("lobby").await["state"], "waiting");
    let mut peer_a = TestPeer::new().await;
    let offer = peer_a.offer().await;
    refused(
        &mut applicant,
        1,
        json!({"type": "offer", "sdp": offer.clone()}),
        "not_admitted",
    )
    .await;

    // The console reloads: the knock is shown again.
    drop(officer);
    let mut officer = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, &officer_http).await}),
    )
    .await;
    assert_eq!(officer.expect("paired").await["resumed"], true);
    assert_eq!(officer.expect("knock").await["tz"], "Europe/Lisbon");

    officer.send(json!({"type": "admit"})).await;
    assert_eq!(applicant.expect("lobby").await["state"], "admitted");
    applicant.expect("paired").await;

    // Admitted once, admitted on return: a resume, not a second knock.
    drop(applicant);
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite})).await;
    assert_eq!(applicant.expect("lobby").await["state"], "admitted");
    assert_eq!(applicant.expect("paired").await["resumed"], true);
    negotiate(&mut applicant, &peer_a, offer).await;
    peer_a.close().await;

    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("sealed").to_owned();
    let bytes = download_bundle(&officer_http, &base, &artefact).await;
    let k = kinds(&bundle_events(&bytes));
    let count = |kind: &str| k.iter().filter(|x| *x == kind).count();
    assert_eq!(count("participant_knocked"), 1, "{k:?}");
    assert_eq!(count("participant_admitted"), 1, "{k:?}");
    assert_eq!(count("participant_reconnected"), 3, "{k:?}");
}
