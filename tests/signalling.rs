//! The signalling socket under bad input: malformed, unknown, oversized and binary frames,
//! wrong roles, expired and reused credentials, unparsable SDP, floods. Each gets an `error`
//! frame; the connection survives where that makes sense and the hub never falls over.

mod common;

use chrono::{Duration, Utc};
use common::{Ws, create_case, login, start_hub, start_hub_with_clock, ticket};
use globallink::clock::ManualClock;
use serde_json::json;
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Message;

async fn expect_error(ws: &mut Ws, code: &str) {
    let msg = ws.expect("error").await;
    assert_eq!(msg["code"], code, "{msg}");
}

async fn still_alive(ws: &mut Ws) {
    ws.send(json!({"type": "ping"})).await;
    ws.expect("pong").await;
}

#[tokio::test]
async fn bad_frames_get_errors_and_the_connection_survives() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer = login(&base, &hub.accounts.officer).await;
    let (_, invite) = create_case(&base, &officer, "id-card-renewal").await;
    let mut ws = Ws::auth(hub.addr, json!({"invite": invite})).await;

    ws.send_raw(Message::Text("{not json".into())).await;
    expect_error(&mut ws, "malformed").await;
    ws.send(json!({"type": "launch_missiles"})).await;
    expect_error(&mut ws, "malformed").await;
    ws.send(json!({"v": 99, "type": "ping"})).await;
    expect_error(&mut ws, "unsupported_version").await;
    ws.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    expect_error(&mut ws, "binary_frame").await;
    let big = format!(r#"{{"type":"offer","sdp":"{}"}}"#, "a".repeat(80 * 1024));
    ws.send_raw(Message::Text(big.into())).await;
    expect_error(&mut ws, "too_large").await;
    still_alive(&mut ws).await;

    // Wrong role and wrong state.
    ws.send(json!({"id": 5, "type": "take_next"})).await;
    let e = ws.expect("error").await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_u64()),
        (Some("forbidden"), Some(5))
    );
    ws.send(json!({"type": "request_consent", "consent": "recording"}))
        .await;
    expect_error(&mut ws, "forbidden").await;
    ws.send(json!({"type": "consent_answer", "consent": "recording", "granted": true}))
        .await;
    expect_error(&mut ws, "not_in_session").await;
    ws.send(json!({"type": "auth", "invite": "again"})).await;
    expect_error(&mut ws, "conflict").await;
    still_alive(&mut ws).await;

    // A flood is throttled, not served.
    for _ in 0..60 {
        ws.send(json!({"type": "ping"})).await;
    }
    let (mut pongs, mut limited) = (0, 0);
    for _ in 0..60 {
        let msg = ws.next().await.expect("an answer per frame");
        match (msg["type"].as_str(), msg["code"].as_str()) {
            (Some("pong"), _) => pongs += 1,
            (Some("error"), Some("rate_limited")) => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        limited > 0 && pongs >= 20,
        "pongs {pongs}, limited {limited}"
    );
}

#[tokio::test]
async fn a_frame_far_beyond_the_limit_closes_the_socket_but_not_the_hub() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer = login(&base, &hub.accounts.officer).await;
    let (_, invite) = create_case(&base, &officer, "id-card-renewal").await;
    let mut ws = Ws::auth(hub.addr, json!({"invite": invite.clone()})).await;
    ws.send_raw(Message::Text("x".repeat(1024 * 1024).into()))
        .await;
    assert!(ws.next().await.is_none(), "socket closed");
    let mut again = Ws::auth(hub.addr, json!({"invite": invite})).await;
    still_alive(&mut again).await;
}

#[tokio::test]
async fn first_frame_must_authenticate_with_a_live_credential() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let hub = start_hub_with_clock(clock.clone()).await;
    let base = hub.url("");
    let officer = login(&base, &hub.accounts.officer).await;

    let mut ws = Ws::connect(hub.addr).await;
    ws.send(json!({"type": "join_queue"})).await;
    expect_error(&mut ws, "unauthenticated").await;
    assert!(ws.next().await.is_none(), "closed after failed auth");

    let mut ws = Ws::connect(hub.addr).await;
    ws.send(json!({"type": "auth", "invite": "made-up"})).await;
    expect_error(&mut ws, "unauthenticated").await;

    // A ticket works once.
    let t = ticket(&base, &officer).await;
    let _first = Ws::auth(hub.addr, json!({"ticket": t.clone()})).await;
    let mut ws = Ws::connect(hub.addr).await;
    ws.send(json!({"type": "auth", "ticket": t})).await;
    expect_error(&mut ws, "unauthenticated").await;

    // An invite expires.
    let (_, invite) = create_case(&base, &officer, "inheritance").await;
    clock.advance(Duration::hours(73));
    let mut ws = Ws::connect(hub.addr).await;
    ws.send(json!({"type": "auth", "invite": invite})).await;
    expect_error(&mut ws, "expired").await;
}

#[tokio::test]
async fn an_unparsable_offer_is_refused_and_the_session_goes_on() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (_, invite) = create_case(&base, &officer_http, "driving-licence-renewal").await;
    let mut officer = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, &officer_http).await}),
    )
    .await;
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite})).await;
    // Nobody waiting yet.
    officer.send(json!({"type": "take_next"})).await;
    expect_error(&mut officer, "queue_empty").await;
    applicant.send(json!({"type": "join_queue"})).await;
    applicant.expect("queue_position").await;
    officer.send(json!({"type": "take_next"})).await;
    officer.expect("paired").await;
    common::admit(&mut officer, &mut applicant).await;
    officer.send(json!({"type": "take_next"})).await;
    expect_error(&mut officer, "conflict").await;

    applicant
        .send(json!({"id": 3, "type": "offer", "sdp": "v=0 this is not sdp"}))
        .await;
    let e = applicant.expect("error").await;
    assert_eq!(e["code"], "media");
    // The applicant cannot act for the officer inside the session either.
    applicant.send(json!({"type": "close_session"})).await;
    expect_error(&mut applicant, "forbidden").await;
    applicant
        .send(json!({"type": "consent_answer", "consent": "recording", "granted": true}))
        .await;
    expect_error(&mut applicant, "conflict").await;

    officer.send(json!({"type": "close_session"})).await;
    let closed = applicant.expect("session_closed").await;
    assert_eq!(closed["outcome"], "incomplete");
    assert!(closed["artefact_id"].is_string());
}

#[tokio::test]
async fn an_applicant_who_leaves_the_queue_is_not_handed_out() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (_, invite_a) = create_case(&base, &officer_http, "id-card-renewal").await;
    let (_, invite_b) = create_case(&base, &officer_http, "id-card-renewal").await;
    let mut officer = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, &officer_http).await}),
    )
    .await;
    let mut a = Ws::auth(hub.addr, json!({"invite": invite_a})).await;
    let mut b = Ws::auth(hub.addr, json!({"invite": invite_b})).await;
    a.send(json!({"type": "join_queue"})).await;
    a.expect("queue_position").await;
    b.send(json!({"type": "join_queue"})).await;
    loop {
        let p = b.expect("queue_position").await;
        if p["position"] == 2 {
            break;
        }
    }
    drop(a);
    loop {
        let p = b.expect("queue_position").await;
        if p["position"] == 1 && p["length"] == 1 {
            break;
        }
    }
    officer.send(json!({"type": "take_next"})).await;
    let paired = officer.expect("paired").await;
    assert_eq!(
        common::admit(&mut officer, &mut b).await["session_id"],
        paired["session_id"]
    );
}

/// Hostile offers are refused before any media port is taken, each with its reason, and a real
/// offer from the same participant still connects afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_with_unknown_codecs_or_too_many_tracks_are_refused() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (_officer, mut applicant, _) =
        common::paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    let head = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    let audio = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
    let video = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
    let cases = [
        (
            format!("{head}{audio}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H265/90000\r\n"),
            "offers no supported codec (offered: h265); VP8 is required",
        ),
        (
            format!("{head}{audio}{video}{video}"),
            "sends more than one video track",
        ),
        (
            format!(
                "{head}{audio}{video}{}",
                format!("{video}a=recvonly\r\n").repeat(5)
            ),
            "more than 5 video sections",
        ),
        (format!("{head}{}", video.repeat(30)), "30 media sections"),
        (
            format!("{head}m=text 9 RTP/AVP 98\r\na=rtpmap:98 t140/1000\r\n"),
            "text media is not accepted",
        ),
    ];
    for (id, (sdp, reason)) in cases.iter().enumerate() {
        let id = 10 + id as u64;
        applicant
            .send(json!({"id": id, "type": "offer", "sdp": sdp}))
            .await;
        let refused = applicant.answer(id).await;
        assert_eq!(refused["code"], "media", "{refused}");
        let message = refused["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{message} names {reason}");
    }
    let mut peer = common::peer::TestPeer::new().await;
    let offer = peer.offer().await;
    common::peer::negotiate(&mut applicant, &peer, offer).await;
}

/// Every `keepalive_secs` the hub pings each connection. A client that reads (and so answers
/// the pings, as browsers do) stays; one that stays silent for three beats is closed.
#[tokio::test]
async fn keepalives_keep_a_listening_client_and_drop_a_silent_one() {
    let hub = common::start_hub_configured(Arc::new(globallink::clock::SystemClock), |s| {
        s.config.keepalive_secs = 1;
    })
    .await;
    let base = hub.url("");
    let officer = login(&base, &hub.accounts.officer).await;
    let (_, invite_a) = create_case(&base, &officer, "id-card-renewal").await;
    let (_, invite_b) = create_case(&base, &officer, "id-card-renewal").await;
    let mut silent = Ws::auth(hub.addr, json!({"invite": invite_a})).await;
    let mut listening = Ws::auth(hub.addr, json!({"invite": invite_b})).await;

    // Six beats: the silent client is closed after its fourth, the listening one answers each.
    let until = tokio::time::Instant::now() + std::time::Duration::from_millis(6500);
    let mut pings = 0;
    while let Ok(Some(frame)) = tokio::time::timeout_at(until, listening.next_frame()).await {
        if matches!(frame, Message::Ping(_)) {
            pings += 1;
        }
    }
    assert!(pings >= 5, "the listening client was pinged {pings} times");
    still_alive(&mut listening).await;

    let mut pinged = 0;
    let closed = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), silent.next_frame()).await {
            Ok(Some(Message::Ping(_))) => pinged += 1,
            Ok(Some(Message::Close(_))) | Ok(None) => break true,
            Ok(Some(_)) => continue,
            Err(_) => break false,
        }
    };
    assert!(closed, "the silent client is closed");
    // Up to three pings were sent before the close; once the client answers one, the closed
    // socket resets and the rest are not read.
    assert!(
        pinged >= 1,
        "the silent client was pinged before it was closed"
    );
}
