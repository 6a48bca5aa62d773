//! The recording's timeline and the evidence chain share an origin: an event's
//! `recording_offset_ms` points at the moment in the sealed recording when it happened.
//!
//! A real webrtc-rs applicant peer sends silence, then a tone from the instant the officer
//! records an identity check. After the seal, ffmpeg finds where the tone starts in the
//! bundle's `applicant.webm`; it must be within 200 ms of the event's offset. The recording
//! also ends where the chain says consent was withdrawn, and starting it asked the applicant's
//! camera for a keyframe.

mod common;

use common::peer::{TestPeer, negotiate, wait_for};
use common::{bundle_events, download_bundle, login, paired_session, start_hub};
use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How far an event's offset may be from its moment in the recording.
const TOLERANCE_MS: i64 = 200;

/// Where the first silence of `path`'s audio ends, in the file's own timeline (ms). `-copyts`
/// keeps ffmpeg from moving the first packet to zero, so this is the time the file says.
fn tone_starts_ms(path: &Path) -> i64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-copyts", "-i"])
        .arg(path)
        .args([
            "-vn",
            "-af",
            "silencedetect=noise=-40dB:d=0.3",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg runs (Debian package ffmpeg)");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg: {log}");
    let end = log
        .lines()
        .find_map(|l| l.split("silence_end: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no silence then tone in the recording: {log}"));
    let secs: f64 = end.parse().expect("silence_end seconds");
    let start = log
        .lines()
        .find_map(|l| l.split("silence_start: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse::<f64>().ok())
        .expect("silence_start");
    assert!(start < secs, "{log}");
    (secs * 1000.0).round() as i64
}

/// The audio packets of `path`: time and duration (ms, the file's own timeline) and size.
fn audio_packets(path: &Path) -> Vec<(f64, f64, usize)> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a",
            "-show_entries",
            "packet=pts_time,duration_time,size",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let packets: Vec<_> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split(',').map(str::trim);
            let pts = f.next()?.parse::<f64>().ok()?;
            let duration = f.next()?.parse::<f64>().ok()?;
            let size = f.next()?.parse::<usize>().ok()?;
            Some((pts * 1000.0, duration * 1000.0, size))
        })
        .collect();
    assert!(
        !packets.is_empty(),
        "audio packets in the recording: {text}"
    );
    packets
}

fn offset_of(events: &[Value], kind: &str) -> i64 {
    let event = events
        .iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("{kind} in the chain"));
    event["recording_offset_ms"]
        .as_i64()
        .unwrap_or_else(|| panic!("{kind} has a recording offset: {event}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_recording_offset_points_at_its_moment_in_the_recording() {
    let hub = start_hub().await;
    let base = hub.url("");
    let officer_http = login(&base, &hub.accounts.officer).await;
    let (mut officer, mut applicant, _case) =
        paired_session(hub.addr, &base, &officer_http, "id-card-renewal").await;

    let marker = Arc::new(AtomicBool::new(false));
    let mut peer_a = TestPeer::new().await;
    let mut peer_o = TestPeer::new().await;
    let offer = peer_a.offer().await;
    negotiate(&mut applicant, &peer_a, offer).await;
    let offer = peer_o.offer().await;
    negotiate(&mut officer, &peer_o, offer).await;
    peer_a.start_media_marked(Arc::clone(&marker)).await;
    peer_o.start_media().await;
    // The officer hearing the applicant: packets are paced at 20 ms, so counting them is
    // counting media time.
    let heard = Arc::clone(&peer_o.counts);
    let audio = move || heard.audio.load(Ordering::SeqCst);
    wait_for(20, "the applicant's audio at the officer", || audio() > 10).await;
    // The hub asked for a keyframe when the peers connected and their cameras started; starting
    // to record asks again, so the applicant's file starts with a picture.
    let asked = Arc::clone(&peer_a.counts);
    let keyframe_requests = move || asked.keyframe_requests.load(Ordering::SeqCst);
    wait_for(20, "keyframe requests for the call", || {
        keyframe_requests() > 0
    })
    .await;
    let before_recording = keyframe_requests();

    common::peer::grant_recording(&mut officer, &mut applicant).await;
    assert_eq!(applicant.expect("recording").await["active"], true);
    wait_for(5, "a keyframe request when recording starts", || {
        keyframe_requests() > before_recording
    })
    .await;

    // About a second of recorded silence, then the tone and the event at the same instant.
    let then = audio();
    wait_for(20, "silence recorded", || audio() > then + 50).await;
    marker.store(true, Ordering::SeqCst);
    officer
        .send(
            json!({"id": 3, "type": "identity_check", "document_type": "id-card",
            "number": "11010519491231002X", "valid_until": "2036-01-01",
            "attestation": "Face matches the card photo", "outcome": "match"}),
        )
        .await;
    assert_eq!(officer.answer(3).await["event"], "identity_check_recorded");

    // About a second of tone, then the applicant withdraws recording consent.
    let then = audio();
    wait_for(20, "tone recorded", || audio() > then + 50).await;
    applicant
        .send(json!({"id": 4, "type": "withdraw_consent", "consent": "recording"}))
        .await;
    assert_eq!(applicant.answer(4).await["event"], "consent_withdrawn");

    officer.send(json!({"type": "close_session"})).await;
    let receipt = applicant.expect("session_closed").await;
    let artefact = receipt["artefact_id"].as_str().expect("artefact id");
    peer_a.close().await;
    peer_o.close().await;

    let auditor = login(&base, &hub.accounts.auditor).await;
    let bundle = download_bundle(&auditor, &base, artefact).await;
    let events = bundle_events(&bundle);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bundle)).expect("zip");
    let mut webm = Vec::new();
    zip.by_name("recordings/applicant.webm")
        .expect("the applicant's recording in the bundle")
        .read_to_end(&mut webm)
        .expect("read recording");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("applicant.webm");
    std::fs::write(&path, &webm).expect("write recording");

    let event_ms = offset_of(&events, "identity_check_recorded");
    let tone_ms = tone_starts_ms(&path);
    let error = tone_ms - event_ms;
    eprintln!("identity check at {event_ms} ms in the chain, tone at {tone_ms} ms in the file");
    assert!(
        error.abs() <= TOLERANCE_MS,
        "the event's offset is {error} ms from its moment in the recording \
         (event {event_ms} ms, tone {tone_ms} ms)"
    );

    // The same moment without the decoder: the first tone packet (silence packets are a few
    // bytes, tone packets tens) where the file placed it.
    let packets = audio_packets(&path);
    let first_tone = packets
        .iter()
        .find(|p| p.2 > 20 && p.0 > (event_ms - 1000) as f64)
        .expect("a tone packet");
    eprintln!(
        "first tone packet at {:.0} ms in the file ({:+.0} ms from the event)",
        first_tone.0,
        first_tone.0 - event_ms as f64
    );
    assert!((first_tone.0 - event_ms as f64).abs() <= TOLERANCE_MS as f64);

    // Nothing was recorded after the withdrawal: the audio ends where the chain says it
    // stopped, within a packet or so.
    let withdrawn_ms = offset_of(&events, "consent_withdrawn");
    let last = packets.last().expect("audio");
    let ends_ms = (last.0 + last.1).round() as i64;
    eprintln!("consent withdrawn at {withdrawn_ms} ms in the chain, audio ends at {ends_ms} ms");
    let after = ends_ms - withdrawn_ms;
    assert!(
        (-TOLERANCE_MS..=100).contains(&after),
        "the recording ends {after} ms after the withdrawal (withdrawn {withdrawn_ms} ms, \
         audio ends {ends_ms} ms)"
    );
}
