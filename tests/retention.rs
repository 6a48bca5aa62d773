//! A recorded session through the running hub, kept to its retention and then destroyed: at
//! rest the recording is ciphertext; the bundle an auditor downloads holds the plaintext that
//! matches the manifest; once the clock passes the service's retention and the sweep runs, the
//! key and the files are gone, the download holds no recording but still verifies (each
//! recording "destroyed at end of retention"), while a recording removed before the deadline
//! still fails verification.

mod common;

use chrono::SubsecRound as _;
use common::peer::{recorded_call, wait_for};
use common::zipped::{rezip, unzip};
use common::{download_bundle, login, paired_session, start_hub_with_clock};
use globallink::clock::{Clock, ManualClock};
use globallink::ids::ArtefactId;
use globallink::seal::rest::{Decryptor, RecordingKey};
use globallink::seal::retention;
use globallink::seal::verify::verify_bundle_at;
use serde_json::{Value, json};
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// A recorded id-card-renewal session, closed and sealed: its `session_closed`.
async fn recorded_session(hub: &common::TestHub, officer_http: &reqwest::Client) -> Value {
    let base = hub.url("");
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, officer_http, "id-card-renewal").await;
    let (peer_a, peer_o) = recorded_call(&mut officer, &mut applicant).await;
    let counts = peer_o.counts.clone();
    let then = counts.video.load(Ordering::SeqCst);
    wait_for(20, "recorded media", || {
        counts.video.load(Ordering::SeqCst) > then + 60
    })
    .await;
    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    peer_a.close().await;
    peer_o.close().await;
    closed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destruction_or_a_seal_cut_short_by_a_crash_is_finished_at_start() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let hub = start_hub_with_clock(clock.clone()).await;
    let officer_http = login(&hub.url(""), &hub.accounts.officer).await;
    let closed = recorded_session(&hub, &officer_http).await;
    let artefact = closed["artefact_id"].as_str().expect("artefact").to_owned();
    let artefact_id: ArtefactId = artefact.parse().expect("artefact id");
    let session = closed["session_id"].as_str().expect("session").to_owned();
    let store = hub.state.store.clone();
    let (artefacts, recordings) = (
        hub.state.paths.artefacts.clone(),
        hub.state.paths.recordings.clone(),
    );
    let dir = artefacts.join(&artefact);

    // Nothing to finish after a clean seal.
    assert_eq!(
        retention::resume(store.as_ref(), &hub.state.vault, &artefacts, &recordings)
            .await
            .expect("resume"),
        0
    );
    // A crash after sealing, before the encryption at rest: the artefact still holds the
    // recording in plaintext. It is encrypted at start, and the bundle is the same.
    let base = hub.url("");
    let before = download_bundle(&officer_http, &base, &artefact).await;
    let enc = dir.join("recordings").join("applicant.webm.enc");
    let plain_path = dir.join("recordings").join("applicant.webm");
    let key = retention::recording_key(store.as_ref(), &hub.state.vault, artefact_id)
        .await
        .expect("key read")
        .expect("key alive");
    let mut plain = Vec::new();
    Decryptor::new(
        std::fs::File::open(&enc).expect("open"),
        &key,
        "applicant.webm",
    )
    .expect("decryptor")
    .read_to_end(&mut plain)
    .expect("decrypt");
    std::fs::write(&plain_path, &plain).expect("plaintext back");
    std::fs::remove_file(&enc).expect("ciphertext away");
    assert_eq!(
        retention::resume(store.as_ref(), &hub.state.vault, &artefacts, &recordings)
            .await
            .expect("resume"),
        1
    );
    assert!(enc.exists() && !plain_path.exists(), "encrypted at start");
    let cipher = std::fs::read(&enc).expect("read");
    assert!(!cipher.starts_with(&EBML_MAGIC));
    assert_eq!(
        download_bundle(&officer_http, &base, &artefact).await,
        before
    );

    // A crash after the artefact was committed, before the plaintext went: it is removed,
    // and only the names the manifest lists.
    let session_dir = recordings.join(&session);
    std::fs::create_dir_all(&session_dir).expect("dir");
    std::fs::write(
        session_dir.join("applicant.webm"),
        b"\x1a\x45\xdf\xa3 plaintext",
    )
    .expect("w");
    std::fs::write(session_dir.join("notes.txt"), b"not a recording").expect("w");
    assert_eq!(
        retention::resume(store.as_ref(), &hub.state.vault, &artefacts, &recordings)
            .await
            .expect("resume"),
        1
    );
    assert!(!session_dir.join("applicant.webm").exists());
    assert!(session_dir.join("notes.txt").exists());
    assert!(
        dir.join("recordings").join("applicant.webm.enc").exists(),
        "kept: key alive"
    );

    // A crash after the key was destroyed, before the files went.
    clock.advance(chrono::Duration::days(1096));
    assert!(
        store
            .destroy_recording_key(artefact_id, clock.now())
            .await
            .expect("destroy")
    );
    assert!(dir.join("recordings").exists());
    assert_eq!(
        retention::resume(store.as_ref(), &hub.state.vault, &artefacts, &recordings)
            .await
            .expect("resume"),
        1
    );
    assert!(!dir.join("recordings").exists());
    let note: Value =
        serde_json::from_slice(&std::fs::read(dir.join("retention.json")).expect("the note"))
            .expect("json");
    assert_eq!(note["artefact_id"], artefact.as_str());
    assert_eq!(note["destroyed"].as_array().map(Vec::len), Some(2));
    let officer_http = login(&hub.url(""), &hub.accounts.officer).await;
    let after = download_bundle(&officer_http, &hub.url(""), &artefact).await;
    let report = verify_bundle_at(&after, &hub.state.trust, Some(clock.now()));
    assert!(report.ok, "{}", report.render_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_kept_encrypted_until_retention_ends_and_then_destroyed() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let hub = start_hub_with_clock(clock.clone()).await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let closed = recorded_session(&hub, &officer_http).await;
    let artefact = closed["artefact_id"].as_str().expect("artefact").to_owned();
    let artefact_id: ArtefactId = artefact.parse().expect("artefact id");
    let sealed_at = clock.now();

    // At rest: ciphertext only, no playable WebM anywhere under the data directory.
    let dir = hub.dir.path().join("artefacts").join(&artefact);
    let at_rest = dir.join("recordings").join("applicant.webm.enc");
    let cipher = std::fs::read(&at_rest).expect("encrypted recording at rest");
    assert!(!cipher.starts_with(&EBML_MAGIC), "not a plaintext WebM");
    assert!(cipher.starts_with(globallink::seal::rest::MAGIC));
    assert!(!dir.join("recordings").join("applicant.webm").exists());
    let session_dir = hub
        .dir
        .path()
        .join("recordings")
        .join(closed["session_id"].as_str().unwrap_or_default());
    let plaintext_left: Vec<_> = std::fs::read_dir(hub.dir.path().join("recordings"))
        .expect("recordings dir")
        .flatten()
        .flat_map(|s| std::fs::read_dir(s.path()).into_iter().flatten().flatten())
        .map(|f| f.path())
        .filter(|p| p.extension().is_some_and(|e| e == "webm"))
        .collect();
    assert_eq!(
        plaintext_left,
        Vec::<std::path::PathBuf>::new(),
        "the recorder's plaintext is removed after sealing ({session_dir:?})"
    );

    // The download decrypts: plaintext WebM matching the manifest, and it verifies.
    let bundle = download_bundle(&officer_http, &base, &artefact).await;
    let entries = unzip(&bundle);
    let entry = |name: &str| {
        entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
    };
    let manifest: Value =
        serde_json::from_slice(&entry("manifest.json").expect("manifest")).expect("json");
    assert_eq!(manifest["format"], "globallink-artefact/2");
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(manifest["retention"]["recordings_until"].clone())
            .expect("a signed deadline");
    assert_eq!(
        until,
        (sealed_at + chrono::Duration::days(1095)).trunc_subsecs(0),
        "id-card-renewal keeps recordings 1095 days"
    );
    let webm = entry("recordings/applicant.webm").expect("recording in the bundle");
    assert!(
        webm.starts_with(&EBML_MAGIC),
        "plaintext WebM in the download"
    );
    let listed = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "recordings/applicant.webm")
        .expect("listed");
    assert_eq!(
        listed["sha256"].as_str(),
        Some(globallink::evidence::sha256_hex(&webm).as_str())
    );
    let trust = hub.state.trust.clone();
    let report = verify_bundle_at(&bundle, &trust, Some(clock.now()));
    assert!(report.ok, "{}", report.render_text());

    // A recording removed before the deadline is tampering, even at the deadline's eve.
    let cut: Vec<_> = entries
        .iter()
        .filter(|(n, _)| n != "recordings/applicant.webm")
        .cloned()
        .collect();
    for at in [clock.now(), until - chrono::Duration::seconds(1)] {
        let report = verify_bundle_at(&rezip(&cut), &trust, Some(at));
        assert!(!report.ok, "{}", report.render_text());
        assert_eq!(report.checks.last().map(|c| c.name.as_str()), Some("files"));
    }

    // Before the deadline the sweep keeps everything.
    clock.advance(chrono::Duration::days(1094));
    let store = hub.state.store.clone();
    let artefacts = hub.state.paths.artefacts.clone();
    assert_eq!(
        retention::sweep(store.as_ref(), &artefacts, clock.now())
            .await
            .expect("sweep"),
        Vec::<ArtefactId>::new()
    );
    assert!(at_rest.exists());
    let key = retention::recording_key(store.as_ref(), &hub.state.vault, artefact_id)
        .await
        .expect("key")
        .expect("kept until the deadline");
    let mut plain = Vec::new();
    Decryptor::new(cipher.as_slice(), &key, "applicant.webm")
        .expect("decryptor")
        .read_to_end(&mut plain)
        .expect("decrypts while kept");
    assert_eq!(plain, webm);
    drop(key);

    // After it: key destroyed, files gone, the store says so.
    clock.advance(chrono::Duration::days(2));
    let destroyed_at = clock.now().trunc_subsecs(0);
    assert_eq!(
        retention::sweep(store.as_ref(), &artefacts, destroyed_at)
            .await
            .expect("sweep"),
        vec![artefact_id]
    );
    let row = store
        .recording_key(artefact_id)
        .await
        .expect("store")
        .expect("row");
    assert_eq!(row.wrapped_key, None, "the key is gone");
    assert_eq!(row.destroyed_at, Some(destroyed_at));
    assert!(!dir.join("recordings").exists(), "files gone");
    assert!(
        retention::recording_key(store.as_ref(), &hub.state.vault, artefact_id)
            .await
            .expect("lookup")
            .is_none(),
        "nothing the hub holds yields the key"
    );
    // The ciphertext, had someone kept a copy, opens with no key derivable from the hub secret.
    for guess in [
        [0u8; 32],
        *RecordingKey::generate(&mut rand::rngs::OsRng).as_bytes(),
    ] {
        let mut out = Vec::new();
        let opened = Decryptor::new(
            cipher.as_slice(),
            &RecordingKey::from_bytes(guess),
            "applicant.webm",
        )
        .expect("decryptor")
        .read_to_end(&mut out);
        assert!(opened.is_err());
    }
    assert_eq!(
        retention::sweep(store.as_ref(), &artefacts, clock.now())
            .await
            .expect("sweep again"),
        Vec::<ArtefactId>::new(),
        "destroyed once"
    );

    // The download now holds the manifest, signatures, chain, log proof and the note, and
    // still verifies, through the hub's route too.
    let officer_http = login(&base, &hub.accounts.officer).await;
    let after = download_bundle(&officer_http, &base, &artefact).await;
    let mut names: Vec<String> = unzip(&after).into_iter().map(|(n, _)| n).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "events.jsonl",
            "log.json",
            "manifest.json",
            "manifest.jws",
            "retention.json"
        ]
    );
    let case: Value = officer_http
        .get(format!("{base}/api/artefacts"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let listed_size = case
        .as_array()
        .or_else(|| case["artefacts"].as_array())
        .and_then(|a| a.iter().find(|x| x["id"] == artefact.as_str()))
        .map(|x| x["size"].clone());
    assert_eq!(listed_size, Some(json!(after.len())), "the size is updated");
    let report = verify_bundle_at(&after, &trust, Some(clock.now()));
    assert!(report.ok, "{}", report.render_text());
    let destroyed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.name == "retention")
        .map(|c| c.detail.clone())
        .collect();
    assert_eq!(destroyed.len(), 2, "{}", report.render_text());
    assert!(
        destroyed
            .iter()
            .all(|d| d.contains("destroyed at end of retention")),
        "{destroyed:?}"
    );
    let api: Value = officer_http
        .get(format!("{base}/api/artefacts/{artefact}/verify"))
        .send()
        .await
        .expect("verify")
        .json()
        .await
        .expect("json");
    assert_eq!(api["ok"], true, "{api}");
    // The chain still carries every segment hash of the destroyed recordings.
    let events = common::bundle_events(&after);
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "recording_segment" && e["file"] == "applicant.webm")
    );
    // The same bundle, read by a verifier whose clock is before the deadline, fails.
    let report = verify_bundle_at(&after, &trust, Some(sealed_at));
    assert!(!report.ok, "{}", report.render_text());
}
