//! HTTPS served by the hub itself: a test CA issues a certificate for 127.0.0.1, the hub serves
//! it, and clients that trust only that CA use the API, get HSTS, and open the signalling
//! socket over TLS; plain HTTP to the same port gets nowhere.

mod common;

use futures::{SinkExt, StreamExt};
use globallink::clock::SystemClock;
use globallink::tls::TlsFiles;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::Message;

/// A test CA and a server certificate for 127.0.0.1 it issued, written as an operator would:
/// `hub.pem` (server certificate, then the CA), `hub.key` (0600). Returns the CA as PEM.
fn issue_certificate(dir: &Path) -> (TlsFiles, String) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "globallink test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
        .expect("server certificate");

    let files = TlsFiles {
        cert: dir.join("hub.pem"),
        key: dir.join("hub.key"),
    };
    std::fs::write(&files.cert, format!("{}{}", cert.pem(), ca.pem())).expect("write chain");
    std::fs::write(&files.key, key.serialize_pem()).expect("write key");
    std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    (files, ca.pem())
}

/// An HTTPS client that trusts only `ca_pem` and keeps cookies.
fn client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
        .cookie_store(true)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

#[tokio::test]
async fn the_hub_serves_https_with_hsts_and_signalling_over_tls() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (files, ca_pem) = issue_certificate(certs.path());
    let hub = common::start_hub_configured(Arc::new(SystemClock), |s| {
        s.tls = Some(files);
        s.config.hsts_max_age_secs = 600;
    })
    .await;
    let base = hub.url("");
    assert_eq!(base, format!("https://{}", hub.addr));
    let https = client(&ca_pem);

    // The API answers over HTTPS, and every response, errors and pages too, carries HSTS.
    for (path, status) in [
        ("/api/health", 200),
        ("/api/no-such-thing", 404),
        ("/", 200),
    ] {
        let res = https
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} over https: {e}"));
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(
            res.headers()
                .get(reqwest::header::STRICT_TRANSPORT_SECURITY)
                .and_then(|v| v.to_str().ok()),
            Some("max-age=600; includeSubDomains"),
            "{path}"
        );
    }

    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let refused = plain
        .get(format!("http://{}/api/health", hub.addr))
        .send()
        .await;
    assert!(refused.is_err(), "plain HTTP was answered: {refused:?}");

    // A client that does not trust the test CA stops at the handshake.
    let stranger = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    assert!(
        stranger
            .get(format!("{base}/api/health"))
            .send()
            .await
            .is_err()
    );

    // Sign in over HTTPS (the session cookie is `Secure` now), then open the signalling socket
    // over TLS with a ticket and get the server's first message.
    let res = https
        .post(format!("{base}/api/login"))
        .json(&json!({"username": hub.accounts.officer.0, "password": hub.accounts.officer.1}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("session cookie")
        .to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    let ticket = common::ticket(&base, &https).await;

    let mut roots = RootCertStore::empty();
    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA DER");
    roots.add(ca_der).expect("CA is a trust anchor");
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(hub.addr)
        .await
        .expect("connect");
    let server_name = ServerName::IpAddress(hub.addr.ip().into());
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
        .expect("TLS handshake");
    let (mut ws, response) = tokio_tungstenite::client_async(format!("wss://{}/ws", hub.addr), tls)
        .await
        .expect("WebSocket upgrade over TLS");
    assert_eq!(response.status(), 101);
    ws.send(Message::Text(
        json!({"v": 1, "type": "auth", "ticket": ticket})
            .to_string()
            .into(),
    ))
    .await
    .expect("send auth");
    let first = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    break serde_json::from_str::<Value>(&text).expect("JSON");
                }
                Some(Ok(_)) => continue,
                other => panic!("socket ended before a message: {other:?}"),
            }
        }
    })
    .await
    .expect("a message within 20 s");
    assert_eq!(first["type"], "welcome", "{first}");
}

/// Settings for a hub on `dir` serving `files`.
fn tls_settings(dir: &common::HubDir, files: TlsFiles) -> globallink::config::Settings {
    let mut settings = dir.settings();
    settings.tls = Some(files);
    settings
}

#[tokio::test]
async fn shutdown_drains_the_tls_listener() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (files, ca_pem) = issue_certificate(certs.path());
    let dir = common::HubDir::fresh();
    let settings = tls_settings(&dir, files);
    let store = globallink::store::open(&settings.database_url)
        .await
        .expect("database opens");
    let web = settings.web_dir.clone();
    let started = globallink::state::start(settings, store, Arc::new(SystemClock), web)
        .await
        .expect("hub starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(globallink::run(listener, started.state, async {
        let _ = stopped.await;
    }));

    // A kept-alive connection is idle after its answer, so it does not hold the drain.
    let https = client(&ca_pem);
    let res = https
        .get(format!("https://{addr}/api/health"))
        .send()
        .await
        .expect("health over https");
    assert_eq!(res.status(), 200);
    stop.send(()).expect("server is running");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops within 10 s")
        .expect("no panic")
        .expect("no IO error");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens after shutdown"
    );
}

#[tokio::test]
async fn a_key_that_does_not_fit_the_certificate_stops_the_start() {
    let certs = tempfile::tempdir().expect("tempdir");
    let (mut files, _) = issue_certificate(certs.path());
    let other = KeyPair::generate().expect("key");
    files.key = certs.path().join("other.key");
    std::fs::write(&files.key, other.serialize_pem()).expect("write key");
    let dir = common::HubDir::fresh();
    let settings = tls_settings(&dir, files);
    let store = globallink::store::open(&settings.database_url)
        .await
        .expect("database opens");
    let web = settings.web_dir.clone();
    let err = match globallink::state::start(settings, store, Arc::new(SystemClock), web).await {
        Ok(_) => panic!("a hub started with a key that does not fit its certificate"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("other.key") && err.contains("first certificate"),
        "{err}"
    );
    assert!(
        !dir.path().join("pki").exists(),
        "nothing is written before the certificate is checked"
    );
}
