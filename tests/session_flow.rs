//! One notarized session end to end through the running hub: pairing over `/ws`, real VP8 and
//! Opus media forwarded through the hub's webrtc-rs peers, consent-gated recording, identity
//! check, close, seal, download and verification — and tampering detection on the bundle.

mod common;

use common::peer::{TestPeer, negotiate, wait_for};
use common::zipped::{rezip, unzip};
use common::{Ws, create_case, login, start_hub, ticket};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applicant_and_officer_complete_a_recorded_session_that_verifies() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (case_id, invite) = create_case(&base, &officer_http, "id-card-renewal").await;

    // Both sides on the signalling socket; the applicant queues and sees their position.
    let mut officer = Ws::auth(
        hub.addr,
        json!({"ticket": ticket(&base, &officer_http).await}),
    )
    .await;
    let mut applicant = Ws::auth(hub.addr, json!({"invite": invite})).await;
    applicant.send(json!({"type": "join_queue"})).await;
    let pos = applicant.expect("queue_position").await;
    assert_eq!(
        (pos["position"].as_u64(), pos["length"].as_u64()),
        (Some(1), Some(1))
    );
    loop {
        let q = officer.expect("queue").await;
        if q["entries"].as_array().map(Vec::len) == Some(1) {
            assert_eq!(q["entries"][0]["case_id"], case_id.as_str());
            assert_eq!(q["entries"][0]["tz"], "Europe/Lisbon");
            break;
        }
    }

    officer.send(json!({"type": "take_next"})).await;
    let paired_o = officer.expect("paired").await;
    let paired_a = common::admit(&mut officer, &mut applicant).await;
    assert_eq!(paired_o["session_id"], paired_a["session_id"]);
    assert_eq!(paired_o["peer"]["tz"], "Europe/Lisbon");
    let session_id = paired_o["session_id"]
        .as_str()
        .expect("session id")
        .to_owned();

    // Real media through the hub.
    let mut peer_a = TestPeer::new().await;
    let mut peer_o = TestPeer::new().await;
    let offer_a = peer_a.offer().await;
    negotiate(&mut applicant, &peer_a, offer_a).await;
    let offer_o = peer_o.offer().await;
    negotiate(&mut officer, &peer_o, offer_o).await;
    peer_a.start_media().await;
    peer_o.start_media().await;

    let (ca, co) = (peer_a.counts.clone(), peer_o.counts.clone());
    wait_for(20, "media both ways", || {
        ca.video.load(Ordering::SeqCst) > 30
            && ca.audio.load(Ordering::SeqCst) > 30
            && co.video.load(Ordering::SeqCst) > 30
            && co.audio.load(Ordering::SeqCst) > 30
    })
    .await;
    assert!(
        ca.video_keyframe.load(Ordering::SeqCst),
        "applicant got a VP8 keyframe from the officer"
    );
    assert!(
        co.video_keyframe.load(Ordering::SeqCst),
        "officer got a VP8 keyframe from the applicant"
    );

    // Nothing is recorded before consent.
    let rec_dir = hub.dir.path().join("recordings").join(&session_id);
    let before: Vec<_> = std::fs::read_dir(&rec_dir)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(
        before.is_empty(),
        "recordings exist before consent: {before:?}"
    );

    officer
        .send(json!({"id": 10, "type": "request_consent", "consent": "recording"}))
        .await;
    let asked = applicant.expect("consent_requested").await;
    assert_eq!(asked["lang"], "pt");
    assert_eq!(
        asked["text_sha256"].as_str().expect("hash"),
        globallink::evidence::sha256_hex(asked["text"].as_str().expect("text").as_bytes())
    );
    applicant
        .send(json!({"id": 11, "type": "consent_answer", "consent": "recording", "granted": true}))
        .await;
    let ack = applicant.answer(11).await;
    assert_eq!(
        (ack["type"].as_str(), ack["event"].as_str()),
        (Some("ack"), Some("consent_granted"))
    );
    assert_eq!(applicant.expect("recording").await["active"], true);

    // Let some media reach the recorder.
    let video_then = co.video.load(Ordering::SeqCst);
    wait_for(20, "media after consent", || {
        co.video.load(Ordering::SeqCst) > video_then + 60
    })
    .await;

    officer
        .send(
            json!({"id": 12, "type": "identity_check", "document_type": "id-card",
            "number": "11010519491231002X", "valid_until": "2036-01-01",
            "attestation": "Face matches the card photo", "outcome": "match"}),
        )
        .await;
    assert_eq!(officer.answer(12).await["event"], "identity_check_recorded");

    // Withdrawing recording consent stops the recorder at once: the files stop growing while
    // media keeps flowing.
    applicant
        .send(json!({"id": 13, "type": "withdraw_consent", "consent": "recording"}))
        .await;
    assert_eq!(applicant.answer(13).await["event"], "consent_withdrawn");
    assert_eq!(applicant.expect("recording").await["active"], false);
    let sizes = |dir: &std::path::Path| -> Vec<(String, u64)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .expect("recordings dir")
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().map(|m| m.len()).unwrap_or(0),
                )
            })
            .collect();
        v.sort();
        v
    };
    let at_withdrawal = sizes(&rec_dir);
    assert_eq!(
        at_withdrawal.len(),
        2,
        "one file per participant, audio and video muxed: {at_withdrawal:?}"
    );
    let video_then = co.video.load(Ordering::SeqCst);
    wait_for(20, "media after withdrawal", || {
        co.video.load(Ordering::SeqCst) > video_then + 60
    })
    .await;
    assert_eq!(
        sizes(&rec_dir),
        at_withdrawal,
        "nothing written after the withdrawal"
    );

    officer.send(json!({"type": "close_session"})).await;
    let closed_o = officer.expect("session_closed").await;
    let receipt = applicant.expect("session_closed").await;
    // Recording consent was withdrawn: the session cannot complete.
    assert_eq!(closed_o["outcome"], "refused");
    assert!(
        closed_o["reason"]
            .as_str()
            .is_some_and(|r| r.contains("recording"))
    );
    let manifest_sha = receipt["manifest_sha256"]
        .as_str()
        .expect("receipt hash")
        .to_owned();
    assert_eq!(manifest_sha.len(), 64);
    let artefact_id = receipt["artefact_id"]
        .as_str()
        .expect("artefact id")
        .to_owned();
    peer_a.close().await;
    peer_o.close().await;

    // The case lists the session and its artefact.
    let shown: Value = officer_http
        .get(format!("{base}/api/cases/{case_id}"))
        .send()
        .await
        .expect("case")
        .json()
        .await
        .expect("json");
    assert_eq!(shown["sessions"][0]["status"], "closed");
    assert_eq!(shown["artefacts"][0]["id"], artefact_id.as_str());

    // The auditor downloads it; it verifies against the office CA.
    let auditor = login(&base, &hub.accounts.auditor).await;
    let download = || async {
        let res = auditor
            .get(format!("{base}/api/artefacts/{artefact_id}/bundle"))
            .send()
            .await
            .expect("download");
        let length = res.content_length();
        let bytes = res.bytes().await.expect("bytes").to_vec();
        assert_eq!(length, Some(bytes.len() as u64), "streamed with its length");
        bytes
    };
    let bundle = download().await;
    // Written from the artefact's directory on each download, the same bytes every time, and
    // the size the case lists.
    assert_eq!(download().await, bundle);
    assert_eq!(shown["artefacts"][0]["size"], bundle.len());
    let trust = hub.state.trust.clone();
    let report = globallink::seal::verify::verify_bundle(&bundle, &trust);
    assert!(report.ok, "bundle verifies: {}", report.render_text());
    let api_report: Value = auditor
        .get(format!("{base}/api/artefacts/{artefact_id}/verify"))
        .send()
        .await
        .expect("verify")
        .json()
        .await
        .expect("json");
    assert_eq!(api_report["ok"], true);

    let entries = unzip(&bundle);
    let manifest: Value = serde_json::from_slice(
        &entries
            .iter()
            .find(|(n, _)| n == "manifest.json")
            .expect("manifest")
            .1,
    )
    .expect("manifest json");
    assert_eq!(
        globallink::evidence::sha256_hex(
            &entries
                .iter()
                .find(|(n, _)| n == "manifest.json")
                .unwrap()
                .1
        ),
        manifest_sha
    );
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["recordings/applicant.webm", "recordings/officer.webm"] {
        let (_, data) = entries
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} in bundle"));
        assert!(data.len() > 1000, "{name} has media ({} bytes)", data.len());
        // Playable: ffprobe sees VP8 and Opus, and ffmpeg decodes it without an error.
        let path = dir.path().join(name.trim_start_matches("recordings/"));
        std::fs::write(&path, data).expect("write recording");
        let probe = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name",
                "-of",
                "csv=p=0",
            ])
            .arg(&path)
            .output()
            .expect("ffprobe runs (Debian package ffmpeg)");
        let codecs = String::from_utf8_lossy(&probe.stdout);
        assert!(
            codecs.contains("vp8") && codecs.contains("opus"),
            "{name}: {codecs} {}",
            String::from_utf8_lossy(&probe.stderr)
        );
        let decode = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&path)
            .args(["-f", "null", "-"])
            .output()
            .expect("ffmpeg runs");
        assert!(
            decode.status.success() && decode.stderr.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&decode.stderr)
        );
        // The chain's pieces of this file (the header is hashed last, when the file is
        // finished) tile it exactly and hash to its bytes.
        let file = name.trim_start_matches("recordings/");
        let events_text = String::from_utf8_lossy(
            &entries
                .iter()
                .find(|(n, _)| n == "events.jsonl")
                .expect("events")
                .1,
        )
        .into_owned();
        let mut pieces: Vec<Value> = events_text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("event"))
            .filter(|e| e["kind"] == "recording_segment" && e["file"] == file)
            .collect();
        assert!(
            pieces.iter().any(|p| p["piece"] == "header")
                && pieces.iter().any(|p| p["piece"] == "clusters"),
            "{name}: {pieces:?}"
        );
        pieces.sort_by_key(|p| p["byte_start"].as_u64());
        let mut next = 0u64;
        for event in &pieces {
            let (start, end) = (
                event["byte_start"].as_u64().expect("start"),
                event["byte_end"].as_u64().expect("end"),
            );
            assert_eq!(start, next, "{name}: pieces are contiguous");
            let bytes = &data[start as usize..end as usize];
            assert_eq!(
                globallink::evidence::sha256_hex(bytes),
                event["sha256"].as_str().expect("sha256"),
                "{name}: piece {} {}",
                event["piece"],
                event["index"]
            );
            next = end;
        }
        assert_eq!(
            next,
            data.len() as u64,
            "{name}: pieces cover the whole file"
        );
    }
    let events = String::from_utf8(
        entries
            .iter()
            .find(|(n, _)| n == "events.jsonl")
            .expect("events")
            .1
            .clone(),
    )
    .expect("utf8");
    let kinds: Vec<String> = events
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("event")["kind"]
                .as_str()
                .expect("kind")
                .to_owned()
        })
        .collect();
    let at = |k: &str| {
        kinds
            .iter()
            .position(|x| x == k)
            .unwrap_or_else(|| panic!("{k} in {kinds:?}"))
    };
    assert!(at("consent_requested") < at("consent_granted"));
    assert!(at("consent_granted") < at("recording_started"));
    assert!(at("identity_check_recorded") < at("session_closed"));
    // The gap in the recording is in the chain: the withdrawal, then the recorder stopping.
    assert_eq!(kinds[at("consent_withdrawn") + 1], "recording_stopped");
    assert_eq!(kinds.last().map(String::as_str), Some("session_closed"));
    assert!(
        events.contains("110105********002X") && !events.contains("11010519491231002X"),
        "number is masked"
    );
    assert_eq!(
        manifest["chain"]["events"].as_u64(),
        Some(kinds.len() as u64)
    );

    // Flipping any byte of any file in the bundle makes verification fail.
    for (i, (name, data)) in entries.iter().enumerate() {
        let len = data.len();
        for pos in [0, len / 3, len / 2, len.saturating_sub(1)] {
            let mut tampered = entries.clone();
            tampered[i].1[pos] ^= 0x01;
            let report = globallink::seal::verify::verify_bundle(&rezip(&tampered), &trust);
            assert!(!report.ok, "flip at {name}[{pos}] went unnoticed");
        }
    }
}
