//! A bundle verified without globallink: `docs/verify_bundle.py` (Python standard library plus
//! `cryptography`) accepts a freshly sealed bundle and rejects a tampered one. This is the
//! recipe `docs/verifying.md` gives auditors; if it breaks, this test fails.

mod common;

use common::officer::Browser;
use common::tsa::TestTsa;
use common::{login, paired_session, start_hub_configured};
use globallink::clock::SystemClock;
use serde_json::json;
use std::io::{Read, Write};
use std::process::Command;
use std::sync::Arc;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/verify_bundle.py");

fn python(
    bundle: &std::path::Path,
    ca: &std::path::Path,
    tsa_root: &std::path::Path,
) -> (bool, String) {
    let vkey = ca.with_file_name("log.vkey");
    let out = Command::new("python3")
        .arg(SCRIPT)
        .arg(bundle)
        .arg(ca)
        .arg(vkey)
        .arg(tsa_root)
        .output()
        .expect("python3 runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `bytes` re-zipped with `edit` applied to entry `name`, written into `dir`.
fn rezip(
    bytes: &[u8],
    dir: &std::path::Path,
    name: &str,
    edit: impl Fn(&mut Vec<u8>),
) -> std::path::PathBuf {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        if entry.name() == name {
            edit(&mut data);
        }
        out.start_file(entry.name(), zip::write::SimpleFileOptions::default())
            .expect("start");
        out.write_all(&data).expect("write");
    }
    let path = dir.join(format!("tampered-{name}.zip"));
    std::fs::write(&path, out.finish().expect("finish").into_inner()).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with the cryptography package (run by .ci/run)"]
async fn the_python_recipe_verifies_a_sealed_bundle_and_catches_tampering() {
    let tsa = TestTsa::start().await;
    let (url, root) = (tsa.url.clone(), tsa.root_pem_path.clone());
    let hub = start_hub_configured(Arc::new(SystemClock), move |s| {
        s.config.tsa_url = Some(url);
        s.config.tsa_trust = Some(root);
    })
    .await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let mut browser = Browser::new();
    browser.enrol(&base, &officer_http).await;
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    officer
        .send(json!({"type": "request_consent", "consent": "personal-information"}))
        .await;
    applicant.expect("consent_requested").await;
    applicant.send(json!({"id": 1, "type": "consent_answer", "consent": "personal-information", "granted": true})).await;
    applicant.answer(1).await;
    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("artefact");
    assert_eq!(
        browser.sign_artefact(&base, &officer_http, artefact).await,
        200
    );
    let bytes = officer_http
        .get(format!("{base}/api/artefacts/{artefact}/bundle"))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes")
        .to_vec();
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("bundle.zip");
    std::fs::write(&bundle, &bytes).expect("write");
    let ca = hub.dir.path().join("pki").join("office-ca.pem");

    let (ok, text) = python(&bundle, &ca, &tsa.root_pem_path);
    assert!(ok && text.contains("VERIFIED"), "{text}");
    assert!(
        text.contains("ok   officer: ES256 over manifest.json by"),
        "{text}"
    );
    assert!(text.contains("ok   timestamp: RFC 3161 token"), "{text}");

    assert!(
        text.contains("ok   log: leaf 0 of 1 in 127.0.0.1"),
        "{text}"
    );

    // Change one byte of the chain, re-zip: the recipe names the failing file.
    let tampered = rezip(&bytes, dir.path(), "events.jsonl", |data| {
        let pos = data.len() / 2;
        data[pos] ^= 0x01;
    });
    let (ok, text) = python(&tampered, &ca, &tsa.root_pem_path);
    assert!(
        !ok && text.contains("FAILED") && text.contains("events.jsonl"),
        "{text}"
    );

    // A log proof for another position: the inclusion proof no longer reaches the root.
    let tampered = rezip(&bytes, dir.path(), "log.json", |data| {
        let text = String::from_utf8(data.clone()).expect("utf-8");
        *data = text
            .replace("\"leaf_index\":0", "\"leaf_index\":1")
            .into_bytes();
    });
    let (ok, text) = python(&tampered, &ca, &tsa.root_pem_path);
    assert!(!ok && text.contains("inclusion proof fails"), "{text}");
    // A checkpoint changed after signing.
    let tampered = rezip(&bytes, dir.path(), "log.json", |data| {
        let text = String::from_utf8(data.clone()).expect("utf-8");
        *data = text.replacen("\\n1\\n", "\\n2\\n", 1).into_bytes();
    });
    let (ok, text) = python(&tampered, &ca, &tsa.root_pem_path);
    assert!(!ok && text.contains("checkpoint signature"), "{text}");

    // The officer's signature changed by one byte: the recipe's officer check fails.
    let tampered = rezip(&bytes, dir.path(), "manifest.jws", |data| {
        let jws: serde_json::Value = serde_json::from_slice(data).expect("json");
        let mut jws = jws;
        let sig = jws["signatures"][0]["signature"]
            .as_str()
            .expect("sig")
            .to_owned();
        let flipped = if sig.starts_with('A') {
            sig.replacen('A', "B", 1)
        } else {
            format!("A{}", &sig[1..])
        };
        jws["signatures"][0]["signature"] = flipped.into();
        *data = serde_json::to_vec(&jws).expect("json");
    });
    let (ok, text) = python(&tampered, &ca, &tsa.root_pem_path);
    assert!(
        !ok && text.contains("does not match manifest.json"),
        "{text}"
    );
    // A timestamp from another authority's root: openssl refuses it.
    let (ok, text) = python(&bundle, &ca, &ca);
    assert!(!ok && text.contains("timestamp does not verify"), "{text}");

    // A CA that did not sign it.
    let other = tempfile::tempdir().expect("tempdir");
    globallink::seal::pki::ensure_dev_pki(other.path(), chrono::Utc::now()).expect("pki");
    let (ok, text) = python(
        &bundle,
        &other.path().join("office-ca.pem"),
        &tsa.root_pem_path,
    );
    assert!(!ok && text.contains("office CA"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with the cryptography package (run by .ci/run)"]
async fn the_python_recipe_accepts_recordings_destroyed_after_retention_only() {
    // Sealed 1,100 days ago by the hub's clock, so the 1,095-day retention of id-card-renewal
    // has ended by the real time the script reads.
    let clock = Arc::new(globallink::clock::ManualClock::new(
        chrono::Utc::now() - chrono::Duration::days(1100),
    ));
    let hub = common::start_hub_with_clock(clock.clone()).await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    let (peer_a, peer_o) = common::peer::recorded_call(&mut officer, &mut applicant).await;
    let counts = peer_o.counts.clone();
    common::peer::wait_for(20, "recorded media", || {
        counts.video.load(std::sync::atomic::Ordering::SeqCst) > 60
    })
    .await;
    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("artefact").to_owned();
    peer_a.close().await;
    peer_o.close().await;
    let fresh = common::download_bundle(&officer_http, &base, &artefact).await;

    clock.advance(chrono::Duration::days(1096));
    let swept = globallink::seal::retention::sweep(
        hub.state.store.as_ref(),
        &hub.state.paths.artefacts,
        globallink::clock::Clock::now(clock.as_ref()),
    )
    .await
    .expect("sweep");
    assert_eq!(swept.len(), 1);
    let officer_http = login(&base, &hub.accounts.officer).await;
    let destroyed = common::download_bundle(&officer_http, &base, &artefact).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let ca = hub.dir.path().join("pki").join("office-ca.pem");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let (ok, text) = python(&write("fresh.zip", &fresh), &ca, &ca);
    assert!(ok && text.contains("VERIFIED"), "{text}");
    assert!(!text.contains("retention:"), "{text}");
    let (ok, text) = python(&write("destroyed.zip", &destroyed), &ca, &ca);
    assert!(ok && text.contains("VERIFIED"), "{text}");
    assert!(
        text.contains("ok   retention: recordings/applicant.webm destroyed at end of retention"),
        "{text}"
    );
    // The note edited to claim a destruction before the deadline: refused.
    let forged = rezip(&destroyed, dir.path(), "retention.json", |data| {
        let mut note: serde_json::Value = serde_json::from_slice(data).expect("json");
        let until = note["recordings_until"].as_str().expect("until").to_owned();
        note["destroyed_at"] = until.replacen("20", "19", 1).into();
        *data = serde_json::to_vec(&note).expect("json");
    });
    let (ok, text) = python(&forged, &ca, &ca);
    assert!(!ok && text.contains("retention.json"), "{text}");
    // A recording dropped from the fresh bundle, with no note: still a missing file.
    let cut = rezip_without(&fresh, dir.path(), "recordings/applicant.webm");
    let (ok, text) = python(&cut, &ca, &ca);
    assert!(
        !ok && text.contains("recordings/applicant.webm: missing"),
        "{text}"
    );
}

/// `bytes` re-zipped without the entry `name`, written into `dir`.
fn rezip_without(bytes: &[u8], dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        if entry.name() == name {
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        out.start_file(entry.name(), zip::write::SimpleFileOptions::default())
            .expect("start");
        out.write_all(&data).expect("write");
    }
    let path = dir.join("without.zip");
    std::fs::write(&path, out.finish().expect("finish").into_inner()).expect("write");
    path
}
