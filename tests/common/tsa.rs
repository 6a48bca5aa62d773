//! A throwaway RFC 3161 time-stamping authority for integration tests.
//!
//! [`TestTsa::start`] makes a small PKI with the `openssl` CLI in a temporary directory (a root
//! CA and an EC P-256 TSA certificate with critical extendedKeyUsage timeStamping, issued by
//! the root) and serves HTTP POST on 127.0.0.1, answering each `application/timestamp-query`
//! by running `openssl ts -reply` on it. Nothing is skipped quietly: a failing openssl panics
//! during setup, and answers 500 with openssl's stderr (also printed) during a request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

const QUERY: &str = "application/timestamp-query";
const REPLY: &str = "application/timestamp-reply";

/// Certificate profiles for `openssl req -x509` / `openssl x509 -req -extfile`.
const EXTENSIONS: &str = "\
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// The `openssl ts -reply -config` file: everything the TSA needs, paths relative to `dir`.
fn tsa_config(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "[tsa]
default_tsa = tsa_config
[tsa_config]
serial = {dir}/serial
signer_cert = {dir}/tsa.pem
signer_key = {dir}/tsa.key
certs = {dir}/root.pem
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_alg = sha256
"
    )
}

/// A running test TSA; dropping it stops the server and deletes the PKI.
pub struct TestTsa {
    /// Where to POST timestamp queries (`http://127.0.0.1:PORT/`).
    pub url: String,
    /// The root CA, PEM: `-CAfile` for `openssl ts -verify`.
    pub root_pem_path: PathBuf,
    /// The root CA, DER: the trust anchor for `verify_token`.
    pub root_der: Vec<u8>,
    /// The TSA signer certificate, PEM.
    pub tsa_pem_path: PathBuf,
    /// Requests answered with a reply so far.
    pub requests: Arc<AtomicUsize>,
    dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    dir: PathBuf,
    /// `openssl ts -reply` rewrites the serial file: one reply at a time, numbered.
    next: tokio::sync::Mutex<u64>,
    requests: Arc<AtomicUsize>,
}

impl TestTsa {
    pub async fn start() -> TestTsa {
        let dir = tempfile::tempdir().expect("temporary directory for the test TSA");
        let d = dir.path();
        std::fs::write(d.join("ext.cnf"), EXTENSIONS).expect("write ext.cnf");
        std::fs::write(d.join("tsa.cnf"), tsa_config(d)).expect("write tsa.cnf");
        let p256 = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-noenc",
        ];
        for args in [
            [
                &["req", "-x509"][..],
                &p256,
                &["-keyout", "root.key", "-out", "root.pem", "-days", "3650"],
                &[
                    "-subj",
                    "/CN=Test TSA Root",
                    "-config",
                    "ext.cnf",
                    "-extensions",
                    "root",
                ],
            ]
            .concat(),
            [
                &["req", "-new"][..],
                &p256,
                &[
                    "-keyout",
                    "tsa.key",
                    "-out",
                    "tsa.csr",
                    "-subj",
                    "/CN=Test TSA",
                ],
            ]
            .concat(),
            [
                &[
                    "x509", "-req", "-in", "tsa.csr", "-CA", "root.pem", "-CAkey", "root.key",
                ][..],
                &["-set_serial", "2", "-days", "365", "-out", "tsa.pem"],
                &["-extfile", "ext.cnf", "-extensions", "tsa"],
            ]
            .concat(),
        ] {
            openssl(d, &args)
                .await
                .unwrap_or_else(|e| panic!("test TSA setup: {e}"));
        }
        let root_der = openssl(d, &["x509", "-in", "root.pem", "-outform", "DER"])
            .await
            .unwrap_or_else(|e| panic!("test TSA setup: {e}"));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the test TSA");
        let addr = listener.local_addr().expect("test TSA address");
        let requests = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Shared {
            dir: d.to_path_buf(),
            next: tokio::sync::Mutex::new(0),
            requests: requests.clone(),
        });
        let app = Router::new().route("/", post(stamp)).with_state(shared);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("test TSA server");
        });
        TestTsa {
            url: format!("http://{addr}/"),
            root_pem_path: d.join("root.pem"),
            root_der,
            tsa_pem_path: d.join("tsa.pem"),
            requests,
            dir,
            server,
        }
    }

    /// The directory holding the PKI and `tsa.cnf`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestTsa {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn stamp(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some(QUERY)
    {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected {QUERY}"),
        )
            .into_response();
    }
    let mut next = shared.next.lock().await;
    *next += 1;
    let (query, reply) = (format!("query-{next}.tsq"), format!("reply-{next}.tsr"));
    let answered = async {
        tokio::fs::write(shared.dir.join(&query), &body)
            .await
            .map_err(|e| format!("write {query}: {e}"))?;
        let args = [
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-queryfile",
            &query,
            "-out",
            &reply,
        ];
        openssl(&shared.dir, &args).await?;
        tokio::fs::read(shared.dir.join(&reply))
            .await
            .map_err(|e| format!("read {reply}: {e}"))
    };
    match answered.await {
        Ok(der) => {
            shared.requests.fetch_add(1, Ordering::SeqCst);
            ([(header::CONTENT_TYPE, REPLY)], der).into_response()
        }
        Err(e) => {
            eprintln!("test TSA: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, e).into_response()
        }
    }
}

/// Runs `openssl` in `dir`; an error carries openssl's stderr.
async fn openssl(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = tokio::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run openssl {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}
