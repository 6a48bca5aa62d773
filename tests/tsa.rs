//! RFC 3161: `fetch` against a real (openssl-backed) TSA over HTTP, then `verify_token`.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::header;
use chrono::Utc;
use common::tsa::TestTsa;
use globallink::seal::tsa::{CONTENT_TYPE_REPLY, TsaError, fetch, verify_token};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    d.as_ref().try_into().expect("32 bytes")
}

#[tokio::test]
async fn fetch_then_verify() {
    let tsa = TestTsa::start().await;
    let client = reqwest::Client::new();
    let digest = sha256(b"the hub's signature bytes");
    let timeout = Duration::from_secs(30);
    let anchors = std::slice::from_ref(&tsa.root_der);

    let token = fetch(&client, &tsa.url, &digest, 42, timeout)
        .await
        .expect("fetch a token");
    let info = verify_token(&token, &digest, anchors).expect("token verifies");
    assert!(
        (Utc::now() - info.gen_time).num_seconds().abs() < 60,
        "genTime {}",
        info.gen_time
    );
    assert_eq!(info.tsa, "CN=Test TSA");
    assert_eq!(info.policy, "1.2.3.4.1");

    let again = fetch(&client, &tsa.url, &digest, 43, timeout)
        .await
        .expect("second token");
    let second = verify_token(&again, &digest, anchors).expect("second token verifies");
    assert_ne!(info.serial, second.serial);
    assert_eq!(tsa.requests.load(Ordering::SeqCst), 2);
    assert!(tsa.root_pem_path.exists() && tsa.tsa_pem_path.exists());

    let other = sha256(b"other bytes");
    assert!(matches!(
        verify_token(&token, &other, anchors),
        Err(TsaError::ImprintMismatch)
    ));
}

#[tokio::test]
async fn fetch_reports_transport_failures() {
    let tsa = TestTsa::start().await;
    let client = reqwest::Client::new();
    let digest = sha256(b"x");
    let short = Duration::from_millis(500);

    let result = fetch(&client, &format!("{}missing", tsa.url), &digest, 1, short).await;
    assert!(
        matches!(result, Err(TsaError::HttpStatus(404))),
        "{result:?}"
    );

    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let result = fetch(&client, &format!("http://{port}/"), &digest, 1, short).await;
    assert!(matches!(result, Err(TsaError::Http(_))), "{result:?}");

    // Accepts the connection, never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", silent.local_addr().expect("addr"));
    let result = fetch(&client, &url, &digest, 1, short).await;
    assert!(matches!(result, Err(TsaError::Timeout)), "{result:?}");

    // Wrong content type; a declared oversize body; an oversize chunked body.
    let app = axum::Router::new()
        .route(
            "/html",
            axum::routing::post(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html>") }),
        )
        .route(
            "/big",
            axum::routing::post(|| async {
                (
                    [(header::CONTENT_TYPE, CONTENT_TYPE_REPLY)],
                    vec![0u8; 2 << 20],
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let result = fetch(&client, &format!("{base}/html"), &digest, 1, short).await;
    assert!(
        matches!(result, Err(TsaError::ContentType(ref t)) if t == "text/html"),
        "{result:?}"
    );
    let result = fetch(&client, &format!("{base}/big"), &digest, 1, short).await;
    assert!(
        matches!(result, Err(TsaError::ResponseTooLarge)),
        "{result:?}"
    );
    server.abort();

    let chunked = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", chunked.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let (mut stream, _) = chunked.accept().await.expect("accept");
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {CONTENT_TYPE_REPLY}\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("write head");
        let chunk = [&b"10000\r\n"[..], &[0u8; 0x10000], b"\r\n"].concat();
        for _ in 0..32 {
            if stream.write_all(&chunk).await.is_err() {
                break; // the client hung up, as it should
            }
        }
    });
    let result = fetch(&client, &url, &digest, 1, Duration::from_secs(10)).await;
    assert!(
        matches!(result, Err(TsaError::ResponseTooLarge)),
        "{result:?}"
    );
    server.abort();
}
