//! A disk that fills up while recording: the recordings directory is a real 512 KiB tmpfs, so
//! the recorder's writes fail with ENOSPC mid-call. The chain records `recording_failed`
//! (file, reason, recording offset), the session goes on (later events are acknowledged), and
//! it closes and seals into a bundle that verifies, with the recording as far as it got.

mod common;

use common::peer::recorded_call;
use common::{download_bundle, login, paired_session, start_hub};
use globallink::seal::verify::verify_bundle;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for the test's lifetime.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(at).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mounting a tmpfs needs root");
        Mount(at.to_owned())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "mounts a small tmpfs over the recordings directory, which needs root (run by .ci/run)"]
async fn a_full_disk_while_recording_is_flagged_in_the_chain_and_the_session_goes_on() {
    let hub = start_hub().await;
    let _full = Mount::tmpfs(&hub.dir.path().join("recordings"), "512k");
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, mut applicant, _) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;
    let (peer_a, peer_o) = recorded_call(&mut officer, &mut applicant).await;

    // The officer's console acknowledges every event; wait for the failure to be chained.
    let failed = loop {
        let ack = officer.expect("ack").await;
        if ack["event"] == "recording_failed" {
            break ack;
        }
    };
    let failed_seq = failed["seq"].as_u64().expect("seq");

    // The hub and the session carry on.
    officer
        .send(
            json!({"id": 9, "type": "identity_check", "document_type": "id-card",
            "document_number": "11010519491231002X", "valid_until": "2036-01-01",
            "attestation": "match", "outcome": "match"}),
        )
        .await;
    let ack = officer.answer(9).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert!(ack["seq"].as_u64().expect("seq") > failed_seq);
    let health = reqwest::get(hub.url("/api/health")).await.expect("health");
    assert!(health.status().is_success());

    officer.send(json!({"type": "close_session"})).await;
    let closed = officer.expect("session_closed").await;
    let artefact = closed["artefact_id"].as_str().expect("sealed").to_owned();
    peer_a.close().await;
    peer_o.close().await;
    let bytes = download_bundle(&officer_http, &base, &artefact).await;
    let report = verify_bundle(&bytes, &hub.state.trust);
    assert!(report.ok, "{}", report.render_text());
    let events = common::bundle_events(&bytes);
    let failure = events
        .iter()
        .find(|e| e["kind"] == "recording_failed")
        .expect("the failure is in the sealed chain");
    assert!(
        failure["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("No space left on device"),
        "{failure}"
    );
    assert!(
        failure["file"]
            .as_str()
            .unwrap_or_default()
            .ends_with(".webm")
    );
    // The bundle carries the recording as far as it got: not empty, within the full disk.
    let name = format!("recordings/{}", failure["file"].as_str().expect("file"));
    let entries = common::zipped::unzip(&bytes);
    let (_, recording) = entries
        .iter()
        .find(|(n, _)| *n == name)
        .expect("the broken-off recording is in the bundle");
    assert!(
        !recording.is_empty() && recording.len() <= 512 * 1024,
        "{} bytes",
        recording.len()
    );
}
