//! `/metrics` follows what happens on the hub: connections, messages by type, errors by code,
//! the desk's queue, open and ended sessions and sealing time.

mod common;

use common::{Ws, create_case, login, start_hub, ticket};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

async fn scrape(base: &str) -> String {
    let res = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("application/openmetrics-text")
    );
    res.text().await.expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_connections_queue_errors_and_sessions() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (_, invite) = create_case(&base, &officer_http, "id-card-renewal").await;
    let mut waiting = Ws::auth(hub.addr, json!({"invite": invite})).await;
    waiting.send(json!({"type": "join_queue"})).await;
    waiting.expect("queue_position").await;
    waiting.send_raw(Message::Text("{not json".into())).await;
    waiting.expect("error").await;

    let text = scrape(&base).await;
    assert!(text.contains("globallink_connections 1"), "{text}");
    assert!(text.contains("globallink_queue_length 1"), "{text}");
    assert!(
        text.contains("globallink_messages_total{type=\"join_queue\"} 1"),
        "{text}"
    );
    assert!(text.contains("globallink_errors_total{code="), "{text}");
    assert!(text.contains("globallink_sessions_open 0"), "{text}");
    assert!(!text.contains(&invite), "no secrets in metrics");

    // The officer takes the waiting applicant: one session opens, then closes and is sealed.
    let mut officer = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, &officer_http).await}),
    )
    .await;
    officer.send(json!({"type": "take_next"})).await;
    officer.expect("paired").await;
    common::admit(&mut officer, &mut waiting).await;
    let text = scrape(&base).await;
    assert!(text.contains("globallink_sessions_open 1"), "{text}");
    officer.send(json!({"type": "close_session"})).await;
    officer.expect("session_closed").await;
    let text = scrape(&base).await;
    assert!(text.contains("globallink_sessions_open 0"), "{text}");
    assert!(
        text.contains("globallink_sessions_ended_total{outcome="),
        "{text}"
    );
    assert!(text.contains("globallink_seal_seconds_count 1"), "{text}");
    drop(waiting);
}
