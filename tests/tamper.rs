//! Tampering with a real sealed session is always caught, and the report names the check that
//! caught it: 1,000 random single-byte changes spread over every file of the bundle; events
//! removed, reordered and duplicated (also under a manifest re-signed with the hub's own key,
//! so the chain check itself is what catches them); and a forked transparency log, which a
//! monitor detects with the consistency proof the hub serves. The session is signed by the
//! officer and countersigned first, so changes to either signature are caught too.

mod common;

use common::officer::Browser;
use common::peer::{recorded_call, wait_for};
use common::zipped::{rezip, unzip};
use common::{download_bundle, login, paired_session, proof_hashes, start_hub};
use globallink::seal::Report;
use globallink::seal::verify::verify_bundle;
use globallink::translog::{self, Checkpoint, LogSigner, LogVerifier};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// A fixed-seed generator (SplitMix64), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// The check a failed report stopped at.
fn failed_at(report: &Report) -> &str {
    assert!(
        !report.ok,
        "tampering went unnoticed: {}",
        report.render_text()
    );
    let last = report.checks.last().expect("a check ran");
    assert!(!last.ok, "{}", report.render_text());
    last.name.as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_to_a_sealed_session_is_caught_and_named() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let mut browser = Browser::new();
    browser.enrol(&base, &officer_http).await;
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;

    // A real session: media both ways, recorded after consent, an identity check.
    let (peer_a, peer_o) = recorded_call(&mut officer, &mut applicant).await;
    let counts = peer_o.counts.clone();
    let then = counts.video.load(Ordering::SeqCst);
    wait_for(20, "recorded media", || {
        counts.video.load(Ordering::SeqCst) > then + 60
    })
    .await;
    officer
        .send(
            json!({"id": 3, "type": "identity_check", "document_type": "id-card",
            "number": "11010519491231002X", "valid_until": "2036-01-01",
            "attestation": "Face matches the card photo", "outcome": "match"}),
        )
        .await;
    officer.answer(3).await;
    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("artefact").to_owned();
    // Signed by the officer and countersigned, so both signatures are under attack.
    assert_eq!(
        browser.sign_artefact(&base, &officer_http, &artefact).await,
        200
    );
    let bundle = download_bundle(&officer_http, &base, &artefact).await;
    peer_a.close().await;
    peer_o.close().await;

    let trust = hub.state.trust.clone();
    let original = unzip(&bundle);
    let names: Vec<&str> = original.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "manifest.json",
        "manifest.jws",
        "log.json",
        "events.jsonl",
        "recordings/applicant.webm",
        "recordings/officer.webm",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let report = verify_bundle(&rezip(&original), &trust);
    assert!(report.ok, "{}", report.render_text());

    // 1,000 single-byte changes, entry by entry in turn, at random places and values.
    let mut rng = Rng(0x7A3E_0001);
    let mut caught_by: std::collections::BTreeMap<String, usize> = Default::default();
    for round in 0..1000 {
        let index = round % original.len();
        let (name, content) = &original[index];
        let at = rng.below(content.len());
        let flip = 1 + rng.below(255) as u8;
        let mut entries = original.clone();
        entries[index].1[at] ^= flip;
        let report = verify_bundle(&rezip(&entries), &trust);
        let check = failed_at(&report);
        // Each kind of file is caught where it is checked.
        let expected: &[&str] = match name.as_str() {
            "manifest.json" => &["manifest", "signature"],
            "manifest.jws" => &["signature", "officer"],
            "log.json" => &["log"],
            _ => &["files"],
        };
        assert!(
            expected.contains(&check),
            "{name}[{at}] ^ {flip:#04x} caught by {check}, expected {expected:?}: {}",
            report.render_text()
        );
        if check == "files" {
            let error = report.error.as_deref().unwrap_or_default();
            assert!(error.contains(name.as_str()), "{error} names {name}");
        }
        *caught_by.entry(check.to_owned()).or_default() += 1;
    }
    for check in ["manifest", "signature", "officer", "files", "log"] {
        assert!(
            caught_by.contains_key(check),
            "{check} caught nothing: {caught_by:?}"
        );
    }

    // Events removed, swapped and duplicated: caught by the files check as they stand, and by
    // the chain check even when the manifest is re-signed with the hub's key to match.
    let events_at = names
        .iter()
        .position(|n| *n == "events.jsonl")
        .expect("events");
    let lines: Vec<String> = String::from_utf8(original[events_at].1.clone())
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        lines.len() > 8,
        "a real session has events: {}",
        lines.len()
    );
    let middle = lines.len() / 2;
    let mut variants: Vec<(&str, Vec<String>)> = Vec::new();
    let mut removed = lines.clone();
    removed.remove(middle);
    variants.push(("removed", removed));
    let mut swapped = lines.clone();
    swapped.swap(middle, middle + 1);
    variants.push(("swapped", swapped));
    let mut duplicated = lines.clone();
    duplicated.insert(middle, lines[middle].clone());
    variants.push(("duplicated", duplicated));
    let mut last_dropped = lines.clone();
    last_dropped.pop();
    variants.push(("last dropped", last_dropped));
    let manifest_at = names
        .iter()
        .position(|n| *n == "manifest.json")
        .expect("manifest");
    let jws_at = names
        .iter()
        .position(|n| *n == "manifest.jws")
        .expect("jws");
    for (what, variant) in variants {
        let text = format!("{}\n", variant.join("\n"));
        let mut entries = original.clone();
        entries[events_at].1 = text.clone().into_bytes();
        let report = verify_bundle(&rezip(&entries), &trust);
        assert_eq!(
            failed_at(&report),
            "files",
            "{what}: {}",
            report.render_text()
        );

        let mut manifest: Value =
            serde_json::from_slice(&original[manifest_at].1).expect("manifest");
        for file in manifest["files"].as_array_mut().expect("files") {
            if file["path"] == "events.jsonl" {
                file["sha256"] = json!(globallink::evidence::sha256_hex(text.as_bytes()));
                file["size"] = json!(text.len());
            }
        }
        let canonical = globallink::evidence::canonical_json(&manifest).expect("canonical");
        let jws = globallink::seal::sign_detached(canonical.as_bytes(), &hub.state.identity)
            .expect("sign");
        entries[manifest_at].1 = canonical.into_bytes();
        entries[jws_at].1 = jws.into_bytes();
        let report = verify_bundle(&rezip(&entries), &trust);
        assert_eq!(
            failed_at(&report),
            "chain",
            "{what}: {}",
            report.render_text()
        );
    }

    // A forked log: the same key signs a second tree of the same size that does not contain
    // the first one's leaf. Both checkpoints verify on their own; the consistency proof the
    // hub serves from the forked size to its current tree does not, so a monitor sees it.
    let pki = hub.dir.path().join("pki");
    let vkey = std::fs::read_to_string(pki.join("log.vkey")).expect("log.vkey");
    let verifier = LogVerifier::new(vkey.trim()).expect("vkey");
    let key_pem = std::fs::read_to_string(pki.join("log.key")).expect("log.key");
    let der = pem_body(&key_pem);
    let signer = LogSigner::from_pkcs8(verifier.name(), &der).expect("the log's key");
    let http = reqwest::Client::new();
    let current = http
        .get(hub.url("/api/log/checkpoint"))
        .send()
        .await
        .expect("checkpoint")
        .text()
        .await
        .expect("text");
    let current = verifier
        .open_checkpoint(&current, verifier.name())
        .expect("signed");
    assert_eq!(current.size, 1);
    let mut forked_tree = translog::MerkleLog::new();
    forked_tree.append(b"a manifest the log never had");
    let forked = signer
        .sign_checkpoint(&Checkpoint::new(verifier.name(), 1, forked_tree.root()).expect("cp"))
        .expect("signed");
    let forked = verifier
        .open_checkpoint(&forked, verifier.name())
        .expect("a validly signed fork");
    assert_ne!(forked.root, current.root);
    // A second artefact extends the real log to 2.
    let (mut officer, _applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    officer.send(json!({"type": "close_session"})).await;
    officer.expect("session_closed").await;
    let now = http
        .get(hub.url("/api/log/checkpoint"))
        .send()
        .await
        .expect("checkpoint")
        .text()
        .await
        .expect("text");
    let now = verifier
        .open_checkpoint(&now, verifier.name())
        .expect("signed");
    let proof: Value = http
        .get(hub.url("/api/log/consistency?from=1&to=2"))
        .send()
        .await
        .expect("proof")
        .json()
        .await
        .expect("json");
    let proof = proof_hashes(&proof["proof"]);
    translog::verify_consistency(1, 2, &current.root, &now.root, &proof)
        .expect("the real history is consistent");
    assert!(
        translog::verify_consistency(1, 2, &forked.root, &now.root, &proof).is_err(),
        "the fork is not consistent with the log"
    );
}

/// The DER inside a one-block PEM file.
fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64")
}

/// `globallink verify --log-url`: a bundle whose log proof is for a tree the log never had (a
/// split view, signed with the log's own key) verifies offline, since its checkpoint and
/// inclusion proof are both sound; against the log's current state it is caught as a fork, and
/// a tree larger than the log as a rollback. Honest bundles pass, old and new.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_with_the_log_url_catches_a_split_view() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let auditor_http = login(&base, &hub.accounts.auditor).await;
    let mut artefacts = Vec::new();
    for _ in 0..2 {
        let (mut officer, _applicant, _) =
            paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
        officer.send(json!({"type": "close_session"})).await;
        let closed = officer.expect("session_closed").await;
        artefacts.push(closed["artefact_id"].as_str().expect("artefact").to_owned());
    }
    let first = download_bundle(&auditor_http, &base, &artefacts[0]).await;
    let second = download_bundle(&auditor_http, &base, &artefacts[1]).await;

    let pki = hub.dir.path().join("pki");
    let dir = tempfile::tempdir().expect("tempdir");
    let verify = |name: &str, bytes: &[u8], log_url: Option<&str>| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_globallink"));
        cmd.arg("verify")
            .arg(&path)
            .arg("--trust")
            .arg(pki.join("office-ca.pem"));
        if let Some(url) = log_url {
            cmd.arg("--log-url").arg(url);
        }
        let out = cmd.output().expect("globallink verify runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = verify("first.zip", &first, Some(&base));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("✔ log-current: the log at") && text.contains("from 1 to 2 leaves"),
        "{text}"
    );
    let (code, text) = verify("second.zip", &second, Some(&base));
    assert_eq!(code, Some(0), "{text}");

    // The split view: a tree [x, manifest] of size 2, signed with the log's key.
    let vkey = std::fs::read_to_string(pki.join("log.vkey")).expect("log.vkey");
    let verifier = LogVerifier::new(vkey.trim()).expect("vkey");
    let signer = LogSigner::from_pkcs8(
        verifier.name(),
        &pem_body(&std::fs::read_to_string(pki.join("log.key")).expect("log.key")),
    )
    .expect("the log's key");
    let forge = |leaves: &[&[u8]], index: u64| {
        let mut entries = unzip(&first);
        let manifest = entries
            .iter()
            .find(|(n, _)| n == "manifest.json")
            .expect("manifest")
            .1
            .clone();
        let mut tree = translog::MerkleLog::new();
        for leaf in leaves {
            tree.append(if leaf.is_empty() { &manifest } else { leaf });
        }
        let checkpoint = signer
            .sign_checkpoint(
                &Checkpoint::new(verifier.name(), tree.size(), tree.root()).expect("checkpoint"),
            )
            .expect("signed");
        let proof = tree.inclusion_proof(index, tree.size()).expect("proof");
        let log = json!({
            "format": "globallink-log-proof/1",
            "origin": verifier.name(),
            "leaf_index": index,
            "tree_size": tree.size(),
            "inclusion_proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
            "checkpoint": checkpoint,
        });
        for (name, data) in entries.iter_mut() {
            if name == "log.json" {
                *data = globallink::evidence::canonical_json(&log)
                    .expect("canonical")
                    .into_bytes();
            }
        }
        rezip(&entries)
    };
    // An empty slice stands for the bundle's own manifest.
    let split = forge(&[b"a manifest the public log never had", b""], 1);
    let (code, text) = verify("split.zip", &split, None);
    assert_eq!(code, Some(0), "offline, a split view is sound: {text}");
    let (code, text) = verify("split.zip", &split, Some(&base));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("✘ log-current") && text.contains("the log forked"),
        "{text}"
    );

    let ahead = forge(&[b"", b"two", b"three"], 0);
    let (code, text) = verify("ahead.zip", &ahead, Some(&base));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("fewer than the 3"), "{text}");

    // A log that cannot be reached is an input error, not a verdict.
    let (code, _) = verify("first.zip", &first, Some("http://127.0.0.1:9"));
    assert_eq!(code, Some(3));
}
