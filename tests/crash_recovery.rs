//! Kill the hub with SIGKILL in the middle of a session: after a restart no acknowledged event
//! is lost, the session shows as interrupted, and its sealed chain verifies with
//! `globallink verify`. Also checks first-start output and the verify CLI's failure exit.

mod common;

use common::{HubDir, Ws, create_case, login, ticket};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_globallink");

struct Hub {
    child: Child,
    addr: SocketAddr,
    lines: Vec<String>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start the hub on `dir`'s data dir and database.
fn spawn(dir: &HubDir, ports: &str) -> Hub {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--ice-udp-ports",
            ports,
            "--data-dir",
        ])
        .arg(dir.path())
        .envs(dir.database.hub_env())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hub starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut lines = Vec::new();
    let addr = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "hub exited early: {lines:?}"
        );
        let line = line.trim_end().to_owned();
        lines.push(line.clone());
        if let Some(rest) = line.strip_prefix("globallink listening on http://") {
            break rest.parse().expect("address");
        }
    };
    // Read what follows the listening line (accounts, if any) without blocking forever.
    let mut hub = Hub { child, addr, lines };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
        hub.lines.push(line);
    }
    hub
}

fn account(lines: &[String], role: &str) -> (String, String) {
    let prefix = format!("DEVELOPMENT ACCOUNT {role}: ");
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{role} in {lines:?}"));
    let mut parts = line.split(' ');
    let user = parts
        .next()
        .and_then(|p| p.strip_prefix("username="))
        .expect("username");
    let pass = parts
        .next()
        .and_then(|p| p.strip_prefix("password="))
        .expect("password");
    (user.to_owned(), pass.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_session_loses_no_acknowledged_event() {
    let dir = HubDir::fresh();
    let first = 56000 + (std::process::id() % 50) as u16 * 20;
    let ports = format!("{first}-{}", first + 9);
    let hub = spawn(&dir, &ports);
    let officer_account = account(&hub.lines, "officer");
    let auditor_account = account(&hub.lines, "auditor");
    let base = format!("http://{}", hub.addr);
    let officer_http = login(&base, &officer_account).await;
    let (case_id, invite) = create_case(&base, &officer_http, "id-card-renewal").await;
    let mut officer = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, &officer_http).await}),
    )
    .await;
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite})).await;
    applicant.send(json!({"type": "join_queue"})).await;
    applicant.expect("queue_position").await;
    officer.send(json!({"type": "take_next"})).await;
    officer.expect("paired").await;
    applicant.expect("paired").await;
    officer
        .send(json!({"id": 1, "type": "request_consent", "consent": "recording"}))
        .await;
    applicant.expect("consent_requested").await;
    applicant
        .send(json!({"id": 2, "type": "consent_answer", "consent": "recording", "granted": true}))
        .await;
    let granted = applicant.answer(2).await;
    assert_eq!(granted["event"], "consent_granted");
    officer
        .send(
            json!({"id": 3, "type": "identity_check", "document_type": "id-card",
            "document_number": "11010519491231002X", "valid_until": "2036-01-01",
            "attestation": "match", "outcome": "match"}),
        )
        .await;
    let mut acked: Vec<(u64, String)> = Vec::new();
    loop {
        let ack = officer.expect("ack").await;
        acked.push((
            ack["seq"].as_u64().expect("seq"),
            ack["hash"].as_str().expect("hash").to_owned(),
        ));
        if ack["ref"] == 3 {
            break;
        }
    }
    acked.push((
        granted["seq"].as_u64().expect("seq"),
        granted["hash"].as_str().expect("hash").to_owned(),
    ));

    // SIGKILL: no chance to flush or say goodbye.
    drop(officer);
    drop(applicant);
    drop(hub);

    let hub = spawn(&dir, &ports);
    assert!(
        hub.lines.iter().any(|l| l.contains("marked interrupted")),
        "restart reports the recovery: {:?}",
        hub.lines
    );
    assert!(
        !hub.lines
            .iter()
            .any(|l| l.starts_with("DEVELOPMENT ACCOUNT")),
        "accounts are printed once"
    );
    let base = format!("http://{}", hub.addr);
    let auditor = login(&base, &auditor_account).await;
    let shown: Value = auditor
        .get(format!("{base}/api/cases/{case_id}"))
        .send()
        .await
        .expect("case")
        .json()
        .await
        .expect("json");
    assert_eq!(shown["sessions"][0]["status"], "interrupted");
    let artefact = shown["artefacts"][0]["id"]
        .as_str()
        .expect("an artefact was sealed")
        .to_owned();
    let bundle = auditor
        .get(format!("{base}/api/artefacts/{artefact}/bundle"))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    let bundle_path = dir.path().join("downloaded.zip");
    std::fs::write(&bundle_path, &bundle).expect("write bundle");

    // Every acknowledged event is in the sealed chain, unchanged.
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bundle.to_vec())).expect("zip");
    let mut events = String::new();
    archive
        .by_name("events.jsonl")
        .expect("events")
        .read_to_string(&mut events)
        .expect("utf8");
    let chain: Vec<(u64, String, String)> = events
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("event");
            (
                v["seq"].as_u64().expect("seq"),
                globallink::evidence::sha256_hex(l.as_bytes()),
                v["kind"].as_str().expect("kind").to_owned(),
            )
        })
        .collect();
    for (seq, hash) in &acked {
        assert!(
            chain.iter().any(|(s, h, _)| s == seq && h == hash),
            "acked event {seq} survives"
        );
    }
    assert_eq!(
        chain.last().map(|c| c.2.as_str()),
        Some("session_interrupted")
    );

    // The CLI verifies it against the office CA, and rejects a tampered copy with a reason.
    let trust = dir.path().join("pki").join("office-ca.pem");
    let out = Command::new(BIN)
        .arg("verify")
        .arg(&bundle_path)
        .arg("--trust")
        .arg(&trust)
        .output()
        .expect("verify runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "verify accepts: {text}");
    assert!(text.contains("VERIFIED"), "{text}");

    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).expect("entry");
        let mut data = Vec::new();
        f.read_to_end(&mut data).expect("read");
        entries.push((f.name().to_owned(), data));
    }
    let events_entry = entries
        .iter_mut()
        .find(|(n, _)| n == "events.jsonl")
        .expect("events");
    let last = events_entry.1.len() - 3;
    events_entry.1[last] ^= 0x01;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in &entries {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .expect("start");
        std::io::Write::write_all(&mut w, data).expect("write");
    }
    let tampered = dir.path().join("tampered.zip");
    std::fs::write(&tampered, w.finish().expect("finish").into_inner()).expect("write");
    let out = Command::new(BIN)
        .arg("verify")
        .arg(&tampered)
        .arg("--trust")
        .arg(&trust)
        .output()
        .expect("verify runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "tampered bundle rejected: {text}");
    assert!(
        text.contains("FAILED") && text.contains("events.jsonl"),
        "reason names the file: {text}"
    );
}

/// SIGTERM: the hub drains: both participants are told, the session ends as interrupted and is
/// sealed before the process exits (status 0, within the drain bound), so the next start has
/// nothing to recover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_seals_open_sessions_and_exits() {
    let dir = HubDir::fresh();
    let first = 57000 + (std::process::id() % 50) as u16 * 20;
    let ports = format!("{first}-{}", first + 9);
    let mut hub = spawn(&dir, &ports);
    let officer_account = account(&hub.lines, "officer");
    let base = format!("http://{}", hub.addr);
    let officer_http = login(&base, &officer_account).await;
    let (case_id, invite) = create_case(&base, &officer_http, "id-card-renewal").await;
    let mut officer = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, &officer_http).await}),
    )
    .await;
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite})).await;
    applicant.send(json!({"type": "join_queue"})).await;
    applicant.expect("queue_position").await;
    officer.send(json!({"type": "take_next"})).await;
    officer.expect("paired").await;
    applicant.expect("paired").await;

    let pid = hub.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    for ws in [&mut officer, &mut applicant] {
        ws.expect("draining").await;
        let closed = ws.expect("session_closed").await;
        assert_eq!(closed["outcome"], "interrupted", "{closed}");
        assert!(
            closed["artefact_id"].is_string(),
            "sealed before exit: {closed}"
        );
    }
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = hub.child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the hub did not exit after SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    drop(hub);

    let hub = spawn(&dir, &ports);
    assert!(
        !hub.lines.iter().any(|l| l.contains("marked interrupted")),
        "nothing left to recover: {:?}",
        hub.lines
    );
    let base = format!("http://{}", hub.addr);
    let officer_http = login(&base, &officer_account).await;
    let shown: Value = officer_http
        .get(format!("{base}/api/cases/{case_id}"))
        .send()
        .await
        .expect("case")
        .json()
        .await
        .expect("json");
    assert_eq!(shown["sessions"][0]["status"], "interrupted");
    assert_eq!(shown["artefacts"][0]["outcome"], "interrupted");
}
