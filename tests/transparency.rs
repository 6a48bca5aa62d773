//! The transparency log through the running hub: every sealed session becomes a leaf, the
//! public API serves checkpoints and proofs a monitor can check with nothing but the log key,
//! and `globallink verify` checks the bundle's log proof with documented exit codes.

mod common;

use common::{TestHub, download_bundle, login, paired_session, proof_hashes, start_hub};
use globallink::translog::{self, LogVerifier};
use serde_json::{Value, json};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_globallink");

/// Run one short session to its close and return the bundle.
async fn seal_one(hub: &TestHub) -> Vec<u8> {
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, _applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("artefact").to_owned();
    download_bundle(&officer_http, &base, &artefact).await
}

fn entry(bundle: &[u8], name: &str) -> Vec<u8> {
    use std::io::Read as _;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bundle)).expect("zip");
    let mut out = Vec::new();
    zip.by_name(name)
        .expect("entry")
        .read_to_end(&mut out)
        .expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_sessions_are_logged_and_the_log_only_grows() {
    let hub = start_hub().await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(hub.url(path)).send();

    let vkey = get("/api/log/key")
        .await
        .expect("key")
        .text()
        .await
        .expect("text");
    let verifier = LogVerifier::new(vkey.trim()).expect("a verifier key");
    let on_disk =
        std::fs::read_to_string(hub.dir.path().join("pki").join("log.vkey")).expect("log.vkey");
    assert_eq!(on_disk.trim(), vkey.trim());
    let empty = get("/api/log/checkpoint")
        .await
        .expect("cp")
        .text()
        .await
        .expect("text");
    let empty = verifier
        .open_checkpoint(&empty, verifier.name())
        .expect("signed checkpoint");
    assert_eq!(empty.size, 0);

    let first = seal_one(&hub).await;
    let after_one = get("/api/log/checkpoint")
        .await
        .expect("cp")
        .text()
        .await
        .expect("text");
    let second = seal_one(&hub).await;
    let after_two = get("/api/log/checkpoint")
        .await
        .expect("cp")
        .text()
        .await
        .expect("text");
    let one = verifier
        .open_checkpoint(&after_one, verifier.name())
        .expect("signed");
    let two = verifier
        .open_checkpoint(&after_two, verifier.name())
        .expect("signed");
    assert_eq!((one.size, two.size), (1, 2));

    // Each bundle's manifest is a leaf of the current tree, by the API's proofs.
    for (index, bundle) in [(0u64, &first), (1, &second)] {
        let log: Value = serde_json::from_slice(&entry(bundle, "log.json")).expect("log.json");
        assert_eq!(log["leaf_index"], index);
        let proof: Value = get(&format!("/api/log/inclusion?index={index}&size=2"))
            .await
            .expect("proof")
            .json()
            .await
            .expect("json");
        translog::verify_inclusion(
            &translog::leaf_hash(&entry(bundle, "manifest.json")),
            index,
            2,
            &proof_hashes(&proof["proof"]),
            &two.root,
        )
        .expect("the manifest is in the log");
    }
    // The tree of two extends the tree of one.
    let consistency: Value = get("/api/log/consistency?from=1&to=2")
        .await
        .expect("proof")
        .json()
        .await
        .expect("json");
    translog::verify_consistency(
        1,
        2,
        &one.root,
        &two.root,
        &proof_hashes(&consistency["proof"]),
    )
    .expect("append-only");
    assert!(
        translog::verify_consistency(
            1,
            2,
            &two.root,
            &one.root,
            &proof_hashes(&consistency["proof"])
        )
        .is_err()
    );

    // Out-of-range questions get a clear error, not a proof.
    for path in [
        "/api/log/inclusion?index=2&size=2",
        "/api/log/inclusion?index=0&size=3",
        "/api/log/consistency?from=2&to=1",
    ] {
        let response = get(path).await.expect("response");
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["code"], "out_of_range", "{path}");
    }
    let response = get("/api/log/inclusion?index=x").await.expect("response");
    assert_eq!(response.status(), 400);

    // The office CA is public; the revocation list exists once a certificate was issued.
    let ca = get("/api/pki/ca")
        .await
        .expect("ca")
        .text()
        .await
        .expect("text");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let crl = get("/api/pki/crl").await.expect("crl");
    assert_eq!(crl.status(), 404);
    let body: Value = crl.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no revocation list yet")
    );

    // The command line: valid (0), JSON report, tampered (1), unreadable input (3).
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("bundle.zip");
    std::fs::write(&bundle, &second).expect("write");
    let ca = hub.dir.path().join("pki").join("office-ca.pem");
    let verify = |args: &[&str]| {
        Command::new(BIN)
            .arg("verify")
            .args(args)
            .output()
            .expect("runs")
    };
    let bundle_arg = bundle.to_str().expect("utf8");
    let ca_arg = ca.to_str().expect("utf8");
    let out = verify(&[bundle_arg, "--trust", ca_arg]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("✔ log: manifest is leaf 1 of 2"), "{text}");
    let out = verify(&[bundle_arg, "--trust", ca_arg, "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["ok"], true);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert!(
        names.contains(&"log") && names.contains(&"signature"),
        "{names:?}"
    );

    // The first bundle under a key of another log: invalid, and the report says why.
    let foreign = dir.path().join("foreign.vkey");
    let (other, _) = translog::LogSigner::generate(verifier.name()).expect("key");
    std::fs::write(&foreign, other.vkey()).expect("write");
    std::fs::write(&bundle, &first).expect("write");
    let out = verify(&[
        bundle_arg,
        "--trust",
        ca_arg,
        "--log-key",
        foreign.to_str().expect("utf8"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("✘ log: checkpoint"), "{text}");

    let missing = dir.path().join("missing.zip");
    let out = verify(&[missing.to_str().expect("utf8"), "--trust", ca_arg]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.zip"));
    let out = verify(&[bundle_arg]);
    assert_eq!(out.status.code(), Some(2), "usage error");
}
