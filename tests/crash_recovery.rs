//! Kill the hub with SIGKILL in the middle of a session: after a restart no acknowledged event
//! is lost, the session shows as interrupted, and its sealed chain verifies with
//! `globallink verify`. Also checks first-start output and the verify CLI's failure exit.

mod common;

use common::{HubDir, login, paired_session};
use serde_json::{Value, json};
use std::io::Read;
use std::process::Command;

use common::process::{BIN, HubProcess as Hub, account};

/// Start the hub on `dir`'s data dir and database.
fn spawn(dir: &HubDir, ports: &str) -> Hub {
    Hub::spawn(dir.path(), ports, dir.database.hub_env())
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
    let (mut officer, mut applicant, case_id) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    let granted = common::peer::grant_recording(&mut officer, &mut applicant).await;
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

    // A hub alone on its SQLite file holds every session in it, even after the operator renamed
    // the node; on PostgreSQL the name says which node's sessions these are, so it stays.
    let renamed = [("GLOBALLINK_NODE_ID", "desk-renamed")];
    let hub = if dir.database.is_postgres() {
        spawn(&dir, &ports)
    } else {
        Hub::spawn(dir.path(), &ports, renamed)
    };
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
    let (mut officer, mut applicant, case_id) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;

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

/// A crash loop: 20 sessions run at once, each committing consents and identity checks as fast
/// as the hub acknowledges them, and the hub is SIGKILLed at a random moment (seeded, so a
/// failure replays), twice over. After each restart every session is interrupted and sealed,
/// every bundle verifies, and every event the hub acknowledged is in its sealed chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_twenty_sessions_loses_no_acknowledged_event() {
    const SESSIONS: usize = 20;
    let dir = HubDir::fresh();
    let first = 58000 + (std::process::id() % 40) as u16 * 25;
    let ports = format!("{first}-{}", first + 2 * SESSIONS as u16 + 4);

    // Twenty officers who can take id-card renewals, created before the first start, so the
    // hub makes no development accounts. One password hash serves them all.
    let password = "crash-loop-password";
    let accounts: Vec<(String, String)> = {
        let store = globallink::store::open(&dir.settings().database_url)
            .await
            .expect("database");
        let hash = globallink::auth::hash_password(password).expect("hash");
        let catalogue = globallink::catalogue::Catalogue::load(None).expect("catalogue");
        let skills: Vec<String> = catalogue
            .services()
            .iter()
            .map(|s| s.skill.clone())
            .collect();
        let clock = globallink::clock::SystemClock;
        let mut accounts = Vec::new();
        for i in 0..SESSIONS {
            let user = globallink::store::UserRecord {
                id: globallink::ids::UserId::random(),
                username: format!("officer{i}"),
                display_name: format!("Officer {i}"),
                role: globallink::store::Role::Officer,
                password_hash: hash.clone(),
                created_at: chrono::Utc::now(),
            };
            store.create_user(&user).await.expect("user");
            globallink::officers::save(
                store.as_ref(),
                &clock,
                user.id,
                &globallink::officers::dev_profile(skills.clone()),
            )
            .await
            .expect("profile");
            accounts.push((user.username, password.to_owned()));
        }
        accounts
    };

    let mut seed: u64 = 0x5EED_C0DE;
    let mut all_acked: Vec<(String, Vec<(u64, String)>)> = Vec::new();
    for round in 0..2 {
        let hub = spawn(&dir, &ports);
        let base = format!("http://{}", hub.addr);
        let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, u64, String)>::new()));
        let mut tasks = Vec::new();
        for (i, account) in accounts.iter().enumerate() {
            let officer_http = login(&base, account).await;
            let (mut officer, applicant, case_id) =
                paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
            let acked = acked.clone();
            tasks.push(tokio::spawn(async move {
                // Identity checks, one after another, until the hub dies.
                for n in 0u64.. {
                    let id = 100 + n;
                    let valid = format!("{}-01-01", 2030 + (n % 20));
                    let check = json!({"id": id, "type": "identity_check",
                        "document_type": "id-card", "document_number": "11010519491231002X",
                        "valid_until": valid, "attestation": format!("check {n} of session {i}"),
                        "outcome": "match"});
                    if !officer.try_send(check).await {
                        break;
                    }
                    match officer.try_answer(id).await {
                        Some(ack) if ack["type"] == "ack" => {
                            acked.lock().expect("lock").push((
                                case_id.clone(),
                                ack["seq"].as_u64().expect("seq"),
                                ack["hash"].as_str().expect("hash").to_owned(),
                            ));
                        }
                        _ => break,
                    }
                }
                drop(applicant);
            }));
        }
        // Let the sessions run for a random while, then SIGKILL.
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let wait = 200 + (seed >> 33) % 800;
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        drop(hub);
        for task in tasks {
            let _ = task.await;
        }
        let acked = std::mem::take(&mut *acked.lock().expect("lock"));
        assert!(
            acked.len() >= SESSIONS,
            "round {round}: every session committed something before the kill ({} acks)",
            acked.len()
        );
        let mut by_case: std::collections::BTreeMap<String, Vec<(u64, String)>> =
            Default::default();
        for (case, seq, hash) in acked {
            by_case.entry(case).or_default().push((seq, hash));
        }
        all_acked.extend(by_case);
    }

    // The last restart recovers the second round; the first was recovered by the second start.
    let hub = spawn(&dir, &ports);
    let base = format!("http://{}", hub.addr);
    let officer_http = login(&base, &accounts[0]).await;
    let trust_pem = std::fs::read(dir.path().join("pki/office-ca.pem")).expect("ca");
    let trust = globallink::seal::Trust {
        certificates: globallink::seal::load_trust_anchors(&trust_pem).expect("anchors"),
        log_keys: vec![
            globallink::translog::LogVerifier::new(
                std::fs::read_to_string(dir.path().join("pki/log.vkey"))
                    .expect("vkey")
                    .trim(),
            )
            .expect("log key"),
        ],
        ..Default::default()
    };
    assert_eq!(
        all_acked.len(),
        2 * SESSIONS,
        "every session acknowledged events"
    );
    for (case_id, acked) in &all_acked {
        let shown: Value = officer_http
            .get(format!("{base}/api/cases/{case_id}"))
            .send()
            .await
            .expect("case")
            .json()
            .await
            .expect("json");
        assert_eq!(shown["sessions"][0]["status"], "interrupted", "{case_id}");
        let artefact = shown["artefacts"][0]["id"].as_str().expect("sealed");
        let bytes = common::download_bundle(&officer_http, &base, artefact).await;
        let report = globallink::seal::verify_bundle(&bytes, &trust);
        assert!(report.ok, "{case_id}: {}", report.render_text());
        let entries = common::zipped::unzip(&bytes);
        let events = &entries
            .iter()
            .find(|(n, _)| n == "events.jsonl")
            .expect("events")
            .1;
        let chain: Vec<(u64, String)> = String::from_utf8_lossy(events)
            .lines()
            .map(|line| {
                let e: Value = serde_json::from_str(line).expect("event");
                (
                    e["seq"].as_u64().expect("seq"),
                    globallink::evidence::sha256_hex(line.as_bytes()),
                )
            })
            .collect();
        for (seq, hash) in acked {
            assert!(
                chain.iter().any(|(s, h)| s == seq && h == hash),
                "{case_id}: acknowledged event {seq} is in the sealed chain"
            );
        }
    }
}
