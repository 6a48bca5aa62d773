//! Tests against the real `ffmpeg` and `ffprobe` (Debian package `ffmpeg`): real VP8 and Opus
//! frames made by ffmpeg are muxed by the writer and the result is probed, decoded, seeked and
//! hashed. These tests never skip: without the tools they fail and say what to install.

use super::tests::parse;
use super::*;
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Length of the generated input, seconds.
const SECONDS: f64 = 12.0;

/// Real encoded media, with per-frame timestamps from the source containers.
struct Media {
    /// (timestamp, frame, keyframe by the VP8 frame tag)
    video: Vec<(Duration, Vec<u8>, bool)>,
    /// (timestamp, packet)
    audio: Vec<(Duration, Vec<u8>)>,
    channels: u8,
    pre_skip: u16,
}

fn tool(name: &str) -> &str {
    match Command::new(name).arg("-version").output() {
        Ok(o) if o.status.success() => name,
        _ => panic!(
            "`{name}` is required by the WebM tests and was not found or does not run: \
             install the Debian package `ffmpeg` (apt-get install ffmpeg)"
        ),
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn media() -> &'static Media {
    static MEDIA: OnceLock<Media> = OnceLock::new();
    MEDIA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let ivf = dir.path().join("in.ivf");
        let ogg = dir.path().join("in.ogg");
        let t = SECONDS.to_string();
        run(Command::new(tool("ffmpeg"))
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=30",
                "-t",
                &t,
                "-c:v",
                "libvpx",
                "-g",
                "30",
                "-b:v",
                "300k",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-f",
                "ivf",
            ])
            .arg(&ivf));
        run(Command::new(tool("ffmpeg"))
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=48000",
                "-t",
                &t,
                "-c:a",
                "libopus",
                "-b:a",
                "48k",
                "-f",
                "ogg",
            ])
            .arg(&ogg));
        let video = read_ivf(&std::fs::read(&ivf).unwrap());
        let (channels, pre_skip, audio) = read_ogg_opus(&std::fs::read(&ogg).unwrap());
        assert_eq!(video.len(), 360, "12 s at 30 fps");
        assert!(audio.len() >= 600, "12 s of 20 ms packets");
        Media {
            video,
            audio,
            channels,
            pre_skip,
        }
    })
}

/// IVF: 32-byte file header (DKIF, version, header length, fourcc, width, height, timebase
/// denominator, numerator, frame count), then frames of (u32 LE size, u64 LE pts, data).
fn read_ivf(buf: &[u8]) -> Vec<(Duration, Vec<u8>, bool)> {
    assert_eq!(&buf[..4], b"DKIF");
    assert_eq!(&buf[8..12], b"VP80");
    let header_len = usize::from(u16::from_le_bytes([buf[6], buf[7]]));
    let den = u64::from(u32::from_le_bytes(buf[16..20].try_into().unwrap()));
    let num = u64::from(u32::from_le_bytes(buf[20..24].try_into().unwrap()));
    let mut at = header_len;
    let mut frames = Vec::new();
    while at + 12 <= buf.len() {
        let size = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
        let pts = u64::from_le_bytes(buf[at + 4..at + 12].try_into().unwrap());
        let data = buf[at + 12..at + 12 + size].to_vec();
        let ts = Duration::from_nanos(pts * num * 1_000_000_000 / den);
        let key = data[0] & 1 == 0; // RFC 6386 §9.1: frame type bit, 0 = key frame
        frames.push((ts, data, key));
        at += 12 + size;
    }
    frames
}

/// Ogg (RFC 3533) pages carrying Opus (RFC 7845): returns channels, pre-skip and the audio
/// packets, timestamped by the running sample count (from each packet's TOC, RFC 6716 §3.1).
fn read_ogg_opus(buf: &[u8]) -> (u8, u16, Vec<(Duration, Vec<u8>)>) {
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut partial = Vec::new();
    let mut at = 0;
    while at + 27 <= buf.len() {
        assert_eq!(&buf[at..at + 4], b"OggS", "page at {at}");
        let nseg = usize::from(buf[at + 26]);
        let lacing = &buf[at + 27..at + 27 + nseg];
        let mut data = at + 27 + nseg;
        for &l in lacing {
            partial.extend_from_slice(&buf[data..data + usize::from(l)]);
            data += usize::from(l);
            if l < 255 {
                packets.push(std::mem::take(&mut partial));
            }
        }
        at = data;
    }
    let head = &packets[0];
    assert_eq!(&head[..8], b"OpusHead");
    let channels = head[9];
    let pre_skip = u16::from_le_bytes([head[10], head[11]]);
    assert_eq!(&packets[1][..8], b"OpusTags");
    let mut samples = 0u64;
    let mut audio = Vec::new();
    for p in packets.into_iter().skip(2) {
        let ts = Duration::from_nanos(samples * 1_000_000_000 / 48_000);
        samples += u64::from(toc_samples(&p));
        audio.push((ts, p));
    }
    (channels, pre_skip, audio)
}

/// Samples in an Opus packet (RFC 6716 §3.1), written independently of the module's version.
fn toc_samples(p: &[u8]) -> u32 {
    let config = u32::from(p[0] >> 3);
    let frame_x10_ms = if config < 12 {
        [100, 200, 400, 600][(config % 4) as usize]
    } else if config < 16 {
        [100, 200][(config % 2) as usize]
    } else {
        [25, 50, 100, 200][(config % 4) as usize]
    };
    let frames = match p[0] & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(p[1] & 0x3F),
    };
    frame_x10_ms * 48 * frames / 10
}

#[derive(Clone, Copy, PartialEq)]
enum Feed {
    Video,
    Audio,
    Both,
}

/// A writer on `path` with the tracks that `feed` selects.
fn open(path: &Path, feed: Feed) -> WebmWriter<File> {
    let m = media();
    let tracks = Tracks {
        video: (feed != Feed::Audio).then_some(VideoTrack {
            width: 320,
            height: 240,
        }),
        audio: (feed != Feed::Video).then_some(AudioTrack {
            channels: m.channels,
            pre_skip: m.pre_skip,
        }),
    };
    WebmWriter::new(File::create(path).unwrap(), tracks).unwrap()
}

/// Feed the media with timestamps in `range`, video arriving `video_lag_ms` after audio of
/// the same time (per-track order kept, tracks interleaved by arrival).
fn feed(w: &mut WebmWriter<File>, feed: Feed, video_lag_ms: u64, range: Range<Duration>) {
    let m = media();
    let mut events: Vec<(Duration, u8, usize)> = Vec::new();
    if feed != Feed::Audio {
        let lag = Duration::from_millis(video_lag_ms);
        events.extend(
            m.video
                .iter()
                .enumerate()
                .filter(|(_, f)| range.contains(&f.0))
                .map(|(i, f)| (f.0 + lag, 0, i)),
        );
    }
    if feed != Feed::Video {
        events.extend(
            m.audio
                .iter()
                .enumerate()
                .filter(|(_, p)| range.contains(&p.0))
                .map(|(i, p)| (p.0, 1, i)),
        );
    }
    events.sort();
    for (_, kind, i) in events {
        if kind == 0 {
            let (ts, data, key) = &m.video[i];
            w.write_video(*ts, data, *key).unwrap();
        } else {
            let (ts, data) = &m.audio[i];
            w.write_audio(*ts, data).unwrap();
        }
    }
}

/// Mux all of the media selected by `which` into `path`; the writer is returned unfinished.
fn mux(path: &Path, which: Feed, video_lag_ms: u64) -> WebmWriter<File> {
    let mut w = open(path, which);
    feed(&mut w, which, video_lag_ms, Duration::ZERO..Duration::MAX);
    w
}

/// `ffprobe -of flat` output as key → value.
fn probe(path: &Path, extra: &[&str]) -> HashMap<String, String> {
    let out = run(Command::new(tool("ffprobe"))
        .args(["-v", "error"])
        .args(extra)
        .args(["-of", "flat"])
        .arg(path));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

fn streams(path: &Path) -> HashMap<String, String> {
    probe(
        path,
        &[
            "-show_entries",
            "format=duration:stream=codec_name,width,height,sample_rate",
        ],
    )
}

/// Decode everything; ffmpeg must print nothing at level `error`.
fn assert_decodes_cleanly(path: &Path) {
    let out = run(Command::new(tool("ffmpeg"))
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "ffmpeg reported errors decoding {}",
        path.display()
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Per-stream (size, sha256) of every packet, as ffmpeg demuxes them (stream copy, framehash).
fn packet_hashes(path: &Path) -> HashMap<usize, Vec<(usize, String)>> {
    let out = run(Command::new(tool("ffmpeg"))
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-map",
            "0",
            "-c",
            "copy",
            "-f",
            "framehash",
            "-hash",
            "sha256",
            "-",
        ]));
    let mut by_stream: HashMap<usize, Vec<(usize, String)>> = HashMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let hash = f[5].trim_start_matches("SHA256=").to_string();
        by_stream
            .entry(f[0].parse().unwrap())
            .or_default()
            .push((f[4].parse().unwrap(), hash));
    }
    by_stream
}

fn expected_hashes<'a>(frames: impl Iterator<Item = &'a [u8]>) -> Vec<(usize, String)> {
    frames
        .map(|d| (d.len(), hex(ring::digest::digest(&SHA256, d).as_ref())))
        .collect()
}

fn secs(v: &str) -> f64 {
    v.parse().unwrap_or_else(|_| panic!("not a number: {v:?}"))
}

#[test]
fn audio_and_video_recording_probes_decodes_and_keeps_every_packet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("av.webm");
    let s = mux(&path, Feed::Both, 150).finish().unwrap();
    let m = media();
    assert_eq!(s.video_frames, m.video.len() as u64);
    assert_eq!(s.audio_frames, m.audio.len() as u64);

    let p = streams(&path);
    assert_eq!(p["streams.stream.0.codec_name"], "vp8");
    assert_eq!(p["streams.stream.0.width"], "320");
    assert_eq!(p["streams.stream.0.height"], "240");
    assert_eq!(p["streams.stream.1.codec_name"], "opus");
    assert_eq!(p["streams.stream.1.sample_rate"], "48000");
    let duration = secs(&p["format.duration"]);
    assert!(
        (duration - SECONDS).abs() <= 0.1,
        "duration {duration} s, input {SECONDS} s"
    );
    assert_decodes_cleanly(&path);

    // The bitstreams pass through unchanged: ffmpeg demuxes exactly the packets fed in.
    let got = packet_hashes(&path);
    assert_eq!(
        got[&0],
        expected_hashes(m.video.iter().map(|f| f.1.as_slice())),
        "video packets"
    );
    assert_eq!(
        got[&1],
        expected_hashes(m.audio.iter().map(|p| p.1.as_slice())),
        "audio packets"
    );
    parse::check_invariants(&parse::file(&std::fs::read(&path).unwrap()));
}

#[test]
fn video_only_and_audio_only_recordings_play() {
    let dir = tempfile::tempdir().unwrap();
    let m = media();

    let video = dir.path().join("v.webm");
    mux(&video, Feed::Video, 0).finish().unwrap();
    let p = streams(&video);
    assert_eq!(p["streams.stream.0.codec_name"], "vp8");
    assert!(!p.contains_key("streams.stream.1.codec_name"));
    let d = secs(&p["format.duration"]);
    assert!((d - SECONDS).abs() <= 0.1, "video-only duration {d}");
    assert_decodes_cleanly(&video);
    assert_eq!(
        packet_hashes(&video)[&0],
        expected_hashes(m.video.iter().map(|f| f.1.as_slice()))
    );

    let audio = dir.path().join("a.webm");
    mux(&audio, Feed::Audio, 0).finish().unwrap();
    let p = streams(&audio);
    assert_eq!(p["streams.stream.0.codec_name"], "opus");
    assert_eq!(p["streams.stream.0.sample_rate"], "48000");
    assert!(!p.contains_key("streams.stream.1.codec_name"));
    let d = secs(&p["format.duration"]);
    assert!((d - SECONDS).abs() <= 0.1, "audio-only duration {d}");
    assert_decodes_cleanly(&audio);
    assert_eq!(
        packet_hashes(&audio)[&0],
        expected_hashes(m.audio.iter().map(|p| p.1.as_slice()))
    );
}

/// Video frame times ffprobe returns when asked to read 1 s from 8 s.
fn frames_from_8s(path: &Path) -> Vec<f64> {
    let out = run(Command::new(tool("ffprobe"))
        .args([
            "-v",
            "error",
            "-read_intervals",
            "8%+1",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| secs(l.trim().trim_end_matches(',')))
        .collect()
}

#[test]
fn seeking_to_eight_seconds_uses_the_cues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seek.webm");
    mux(&path, Feed::Both, 150).finish().unwrap();
    let buf = std::fs::read(&path).unwrap();
    let f = parse::file(&buf);
    let cue_times: Vec<u64> = f.cues.iter().map(|c| c.time).collect();
    let keyframes: Vec<u64> = (0..12).map(|i| i * 1000).collect();
    assert_eq!(
        cue_times, keyframes,
        "a cue for every keyframe (one a second)"
    );

    let times = frames_from_8s(&path);
    assert!(!times.is_empty(), "no frames after seeking to 8 s");
    // ffprobe seeks to the cue at or before 8 s (the 8 s keyframe) and reads 1 s from there.
    let first = times[0];
    let last = *times.last().unwrap();
    assert!((7.9..=8.0).contains(&first), "first frame at {first} s");
    assert!((8.9..=9.1).contains(&last), "last frame at {last} s");
    assert!(
        times.iter().any(|t| (t - 8.0).abs() < 0.02),
        "a frame at 8 s: {times:?}"
    );
}

#[test]
fn an_unfinished_recording_is_still_readable_to_its_last_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.webm");
    let w = mux(&path, Feed::Both, 150);
    drop(w); // no finish(): as if the process died
    let buf = std::fs::read(&path).unwrap();
    let f = parse::file(&buf);
    assert!(f.segment_unknown && f.cues.is_empty());
    let written_blocks = f.blocks().count();

    let p = streams(&path);
    assert_eq!(p["streams.stream.0.codec_name"], "vp8");
    assert_eq!(p["streams.stream.1.codec_name"], "opus");
    // Written: 12 s. One cluster is at most cluster_target plus a keyframe interval (1 s)
    // long, and the interleaving window (0.5 s) had not been released either.
    let lost_at_most = 5.0 + 1.0 + 0.5;
    let duration = secs(&p["format.duration"]);
    assert!(
        duration >= SECONDS - lost_at_most && duration <= SECONDS,
        "unfinished file reports {duration} s"
    );
    let packets = probe(&path, &["-show_entries", "packet=pts_time"]);
    let pts: Vec<f64> = packets
        .iter()
        .filter(|(k, _)| k.ends_with(".pts_time"))
        .map(|(_, v)| secs(v))
        .collect();
    assert_eq!(
        pts.len(),
        written_blocks,
        "ffprobe reads every complete block"
    );
    let last = pts.iter().cloned().fold(0.0, f64::max);
    assert!(
        last >= SECONDS - lost_at_most,
        "last packet at {last} s of {SECONDS} s"
    );
    assert_decodes_cleanly(&path);

    // Died in the middle of writing a cluster: the same file plus half of the next cluster
    // (clusters are deterministic, so a finished run of the same input supplies its bytes).
    let finished = dir.path().join("finished.webm");
    mux(&finished, Feed::Both, 150).finish().unwrap();
    let full = std::fs::read(&finished).unwrap();
    assert_eq!(
        full[buf.len()..buf.len() + 4],
        [0x1F, 0x43, 0xB6, 0x75],
        "next cluster"
    );
    let next = parse::element(&full, buf.len(), full.len()).unwrap();
    let torn_path = dir.path().join("torn.webm");
    let mut torn = buf.clone();
    torn.extend_from_slice(&full[buf.len()..(buf.len() + next.data.end) / 2]);
    std::fs::write(&torn_path, &torn).unwrap();
    let out = run(Command::new(tool("ffmpeg"))
        .args(["-v", "error", "-i"])
        .arg(&torn_path)
        .args(["-f", "null", "-"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .all(|l| l.ends_with("File ended prematurely")),
        "a torn tail is only reported as such: {stderr}"
    );
    let torn_packets = probe(&torn_path, &["-show_entries", "packet=pts_time"]);
    let torn_count = torn_packets
        .keys()
        .filter(|k| k.ends_with(".pts_time"))
        .count();
    assert!(
        torn_count >= written_blocks,
        "{torn_count} packets read from the torn file, {written_blocks} complete before it"
    );
}

#[test]
fn segment_hashes_can_be_recomputed_from_the_final_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.webm");
    let mut w = open(&path, Feed::Both);
    let split = Duration::from_secs(11);
    feed(&mut w, Feed::Both, 150, Duration::ZERO..split);
    let mut taken = Vec::new();
    while let Some(g) = w.take_closed_segment() {
        taken.push(g);
    }
    // More media after the first segment was handed out.
    feed(&mut w, Feed::Both, 150, split..Duration::MAX);
    let s = w.finish().unwrap();
    assert_eq!(
        taken.len(),
        1,
        "segment 0 closes at the 10 s cluster boundary"
    );
    assert_eq!(s.segments[0], taken[0]);
    assert_eq!((taken[0].start_ms, taken[0].end_ms), (0, 10_000));
    assert_eq!(s.segments.len(), 2);

    let buf = std::fs::read(&path).unwrap();
    let sha = |r: &Range<u64>| {
        hex(ring::digest::digest(&SHA256, &buf[r.start as usize..r.end as usize]).as_ref())
    };
    let mut at = 0;
    let mut pieces = vec![(s.header.byte_range.clone(), s.header.sha256)];
    pieces.extend(s.segments.iter().map(|g| (g.byte_range.clone(), g.sha256)));
    pieces.extend(s.cues.iter().map(|c| (c.byte_range.clone(), c.sha256)));
    for (r, h) in &pieces {
        assert_eq!(r.start, at, "pieces are contiguous");
        assert_eq!(sha(r), hex(h), "piece {r:?}");
        at = r.end;
    }
    assert_eq!(at, buf.len() as u64, "pieces cover the file");

    // The documented recipe, with the auditor's tools.
    for g in &s.segments {
        let cmd = format!(
            "dd if='{}' iflag=skip_bytes,count_bytes skip={} count={} bs=64K status=none | sha256sum",
            path.display(),
            g.byte_range.start,
            g.byte_range.end - g.byte_range.start
        );
        let out = run(Command::new("sh").args(["-c", &cmd]));
        let printed = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            printed.split_whitespace().next(),
            Some(hex(&g.sha256).as_str())
        );
    }

    // One flipped byte inside segment 1 changes segment 1's hash and no other piece's.
    let mut copy = buf.clone();
    let r = &s.segments[1].byte_range;
    copy[(r.start + 100) as usize] ^= 0x80;
    let changed: Vec<String> = pieces
        .iter()
        .filter(|(r, h)| {
            ring::digest::digest(&SHA256, &copy[r.start as usize..r.end as usize]).as_ref()
                != h.as_slice()
        })
        .map(|(r, _)| format!("{r:?}"))
        .collect();
    assert_eq!(changed, [format!("{r:?}")]);
}
