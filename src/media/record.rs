//! Consent-gated recording: one WebM file per participant, audio and video muxed.
//!
//! While inactive, packets are dropped here. [`Recorder::start`] opens `<role>.webm` for every
//! participant sending media (later ones get theirs on arrival); [`Recorder::stop`] finishes
//! and fsyncs every file before it returns, so nothing is written after a stop.
//!
//! Each file is written by its own thread fed through a bounded channel, so a slow disk never
//! stalls the packet pump; if the channel is full the packet is dropped and counted. The thread
//! puts RTP packets through a jitter buffer (the webrtc-rs sample builder) per track and times
//! each frame from RTP time: the first frame of a track is placed at the arrival of its first
//! packet after the recording start, later frames by their RTP timestamp distance from it.
//! The recording start is an instant the caller passes to [`Recorder::start`]: the session
//! driver gives the moment the room decided to record, which is also the zero of the evidence
//! chain's `recording_offset_ms`, so an event's offset and the file's timeline share an origin.
//!
//! Every evidence piece of a file ([`RecordedPiece`]: the header, each ~10 s run of clusters,
//! the cues) is queued for the chain as it is closed; the session driver takes them with
//! [`Recorder::take_pieces`], so a cut anywhere in a recording is provable.

use super::MediaError;
use super::webm::{self, AudioTrack, Tracks, VideoTrack, WebmError, WebmWriter};
use crate::evidence::ParticipantRole;
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtp::codec::opus::OpusPacket;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Packets a sample may wait for a missing one, and for how long, before it is given up.
const VIDEO_MAX_LATE: u16 = 128;
const AUDIO_MAX_LATE: u16 = 32;
const MAX_LATE_TIME: Duration = Duration::from_millis(400);

/// One closed evidence piece of a recording file, ready for the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedPiece {
    /// File name inside the session's recordings (and the bundle's `recordings/`).
    pub file: String,
    /// `header`, `clusters` or `cues`.
    pub piece: &'static str,
    /// Index of a `clusters` piece within its file; 0 for the others.
    pub index: u32,
    /// `[start, end)` byte offsets in the finished file.
    pub bytes: (u64, u64),
    /// Recording time the piece covers, for `clusters` pieces.
    pub time_ms: Option<(u64, u64)>,
    pub sha256: String,
}

/// A recording file that could not be written any further (a full disk, an I/O error): the
/// file keeps what was written before, and the chain says where the recording broke off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingFailure {
    pub file: String,
    pub reason: String,
    /// Recording time at which writing failed.
    pub recording_offset_ms: u64,
}

/// What the recorder has for the chain, in the order it happened per file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    Piece(RecordedPiece),
    Failed(RecordingFailure),
}

struct Packet {
    kind: RtpCodecKind,
    packet: rtc::rtp::Packet,
    arrived: Instant,
}

#[derive(Default)]
struct State {
    active: bool,
    /// Participants sending media, and which kinds.
    senders: Vec<(ParticipantRole, RtpCodecKind)>,
    writers: HashMap<ParticipantRole, SyncSender<Packet>>,
    threads: Vec<JoinHandle<()>>,
    files: Vec<(String, PathBuf)>,
    started: Option<Instant>,
    dropped: u64,
}

pub(super) struct Recorder {
    dir: PathBuf,
    state: Mutex<State>,
    pieces: Arc<Mutex<Vec<Recorded>>>,
    /// Told each time pieces are queued, so the session driver takes them promptly.
    notify: Arc<dyn Fn() + Send + Sync>,
}

impl Recorder {
    pub(super) fn new(dir: PathBuf, notify: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self {
            dir,
            state: Mutex::new(State::default()),
            pieces: Arc::default(),
            notify,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open `role`'s file and writer thread; caller holds the lock.
    fn open(&self, state: &mut State, role: ParticipantRole) -> Result<String, MediaError> {
        let err = |e: &dyn std::fmt::Display| MediaError::Record(e.to_string());
        std::fs::create_dir_all(&self.dir).map_err(|e| err(&e))?;
        let stem = role.to_string();
        let mut name = format!("{stem}.webm");
        let mut n = 2;
        while state.files.iter().any(|(f, _)| *f == name) {
            name = format!("{stem}-{n}.webm");
            n += 1;
        }
        let path = self.dir.join(&name);
        let file = File::create(&path).map_err(|e| err(&format!("{}: {e}", path.display())))?;
        let tracks = Tracks {
            video: Some(VideoTrack {
                width: 640,
                height: 480,
            }),
            audio: Some(AudioTrack {
                channels: 2,
                pre_skip: 0,
            }),
        };
        let writer = WebmWriter::new(file, tracks).map_err(|e| err(&e))?;
        let (tx, rx) = sync_channel::<Packet>(2048);
        let started = *state.started.get_or_insert_with(Instant::now);
        let job = FileJob {
            name: name.clone(),
            path: path.clone(),
            started,
            pieces: Arc::clone(&self.pieces),
            notify: Arc::clone(&self.notify),
        };
        let thread = std::thread::Builder::new()
            .name(format!("rec-{stem}"))
            .spawn(move || job.run(writer, rx))
            .map_err(|e| err(&e))?;
        state.writers.insert(role, tx);
        state.threads.push(thread);
        state.files.push((name.clone(), path));
        Ok(name)
    }

    /// Start recording every participant sending media now or later, with time zero at
    /// `origin`; the file names so far.
    pub(super) fn start(&self, origin: Instant) -> Result<Vec<String>, MediaError> {
        let mut state = self.lock();
        if state.active {
            return Ok(Vec::new());
        }
        state.active = true;
        state.started = Some(origin);
        let mut roles: Vec<ParticipantRole> = state.senders.iter().map(|(r, _)| *r).collect();
        roles.dedup();
        let mut names = Vec::new();
        for role in roles {
            if !state.writers.contains_key(&role) {
                names.push(self.open(&mut state, role)?);
            }
        }
        Ok(names)
    }

    pub(super) fn track_started(&self, role: ParticipantRole, kind: RtpCodecKind) {
        let mut state = self.lock();
        if !state.senders.contains(&(role, kind)) {
            state.senders.push((role, kind));
            state.senders.sort_by_key(|(r, _)| r.to_string());
        }
        if state.active
            && !state.writers.contains_key(&role)
            && let Err(e) = self.open(&mut state, role)
        {
            tracing::error!("cannot record new track: {e}");
        }
    }

    pub(super) fn track_ended(&self, role: ParticipantRole, kind: RtpCodecKind) {
        let mut state = self.lock();
        state.senders.retain(|k| *k != (role, kind));
        if !state.senders.iter().any(|(r, _)| *r == role) {
            // The file is finished when its last track ends; a return starts a new one.
            state.writers.remove(&role);
        }
    }

    pub(super) fn write(
        &self,
        role: ParticipantRole,
        kind: RtpCodecKind,
        packet: &rtc::rtp::Packet,
    ) {
        let mut state = self.lock();
        if !state.active {
            return;
        }
        let Some(tx) = state.writers.get(&role) else {
            return;
        };
        let message = Packet {
            kind,
            packet: packet.clone(),
            arrived: Instant::now(),
        };
        match tx.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => state.dropped += 1,
        }
    }

    /// Stop and finish every file; returns once each is complete and synced to disk.
    pub(super) async fn stop(&self) {
        let threads = {
            let mut state = self.lock();
            state.active = false;
            state.writers.clear();
            state.started = None;
            if state.dropped > 0 {
                tracing::warn!(
                    dropped = state.dropped,
                    "recorder dropped packets under load"
                );
            }
            std::mem::take(&mut state.threads)
        };
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }

    pub(super) fn files(&self) -> Vec<(String, PathBuf)> {
        self.lock().files.clone()
    }

    /// The evidence pieces closed since the last call, in the order they closed per file.
    pub(super) fn take_pieces(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.pieces.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Where one track's timeline starts: arrival after the recording start, and RTP time then.
#[derive(Clone, Copy)]
struct Timeline {
    at: Duration,
    /// RTP ticks since the first frame, unwrapped past 2^32.
    ticks: u64,
    last: u32,
    clock_rate: u64,
}

impl Timeline {
    fn new(at: Duration, rtp: u32, clock_rate: u64) -> Self {
        Self {
            at,
            ticks: 0,
            last: rtp,
            clock_rate,
        }
    }

    /// The recording time of a frame with RTP timestamp `rtp` (frames come in order).
    fn place(&mut self, rtp: u32) -> Duration {
        let step = rtp.wrapping_sub(self.last);
        // A step back (a late frame the jitter buffer let through) keeps the last time.
        if step < u32::MAX / 2 {
            self.ticks += u64::from(step);
            self.last = rtp;
        }
        self.at + Duration::from_micros(self.ticks.saturating_mul(1_000_000) / self.clock_rate)
    }
}

/// What one file's writer thread owns besides the writer.
struct FileJob {
    name: String,
    path: PathBuf,
    started: Instant,
    pieces: Arc<Mutex<Vec<Recorded>>>,
    notify: Arc<dyn Fn() + Send + Sync>,
}

impl FileJob {
    fn run(self, mut writer: WebmWriter<File>, rx: Receiver<Packet>) {
        let mut video = SampleBuilder::new(VIDEO_MAX_LATE, Vp8Packet::default(), 90_000)
            .with_max_time_delay(MAX_LATE_TIME);
        let mut audio = SampleBuilder::new(AUDIO_MAX_LATE, OpusPacket, 48_000)
            .with_max_time_delay(MAX_LATE_TIME);
        let mut timelines: [Option<Timeline>; 2] = [None, None];
        // Until a track's first frame leaves the jitter buffer: when the first packet of each
        // RTP timestamp arrived, so that frame is placed at its own arrival, not at the later
        // packet that completed it.
        let mut first_arrivals: [Vec<(u32, Duration)>; 2] = [Vec::new(), Vec::new()];
        let mut taken = 0usize;
        // Once the output fails (a full disk), nothing more is written to this file: packets
        // are drained and dropped, and the chain says where the recording broke off.
        let mut failed = false;
        while let Ok(Packet {
            kind,
            packet,
            arrived,
        }) = rx.recv()
        {
            if failed {
                continue;
            }
            let is_video = kind != RtpCodecKind::Audio;
            let since_start = arrived.saturating_duration_since(self.started);
            let slot = usize::from(is_video);
            let firsts = &mut first_arrivals[slot];
            if timelines[slot].is_none()
                && firsts.len() < 512
                && !firsts.iter().any(|(ts, _)| *ts == packet.header.timestamp)
            {
                firsts.push((packet.header.timestamp, since_start));
            }
            if is_video {
                video.push(arrived, packet);
            } else {
                audio.push(arrived, packet);
            }
            loop {
                let sample = if is_video {
                    video.pop(arrived)
                } else {
                    audio.pop(arrived)
                };
                let Some(sample) = sample else { break };
                let clock = if is_video { 90_000 } else { 48_000 };
                let timeline = timelines[slot].get_or_insert_with(|| {
                    let firsts = std::mem::take(&mut first_arrivals[slot]);
                    let at = firsts
                        .iter()
                        .find(|(ts, _)| *ts == sample.packet_timestamp)
                        .map_or(since_start, |(_, at)| *at);
                    Timeline::new(at, sample.packet_timestamp, clock)
                });
                let at = timeline.place(sample.packet_timestamp);
                let written = if is_video {
                    let key = webm::vp8_is_keyframe(&sample.data);
                    writer.write_video(at, &sample.data, key)
                } else {
                    writer.write_audio(at, &sample.data)
                };
                match written {
                    Ok(()) => {}
                    Err(WebmError::Io(e)) => {
                        failed = true;
                        self.fail(format!("writing the recording failed: {e}"), since_start);
                        break;
                    }
                    Err(e) => tracing::debug!(file = %self.name, "frame not recorded: {e}"),
                }
            }
            while let Some(segment) = writer.take_closed_segment() {
                taken += 1;
                self.queue(vec![self.clusters(&segment)]);
            }
        }
        if failed {
            // The file keeps the clusters written before the failure; it cannot be finished.
            sync_dir(&self.path);
            return;
        }
        match writer.finish_into_inner() {
            Ok((summary, file)) => {
                if let Err(e) = file.sync_all() {
                    tracing::error!(file = %self.path.display(), "syncing recording failed: {e}");
                }
                let mut pieces = vec![self.piece("header", &summary.header)];
                pieces.extend(
                    summary
                        .segments
                        .iter()
                        .skip(taken)
                        .map(|s| self.clusters(s)),
                );
                if let Some(cues) = &summary.cues {
                    pieces.push(self.piece("cues", cues));
                }
                self.queue(pieces);
            }
            Err(e) => {
                tracing::error!(file = %self.path.display(), "finishing recording failed: {e}");
                let at = Instant::now().saturating_duration_since(self.started);
                self.fail(format!("finishing the recording failed: {e}"), at);
            }
        }
        sync_dir(&self.path);
    }

    fn fail(&self, reason: String, at: Duration) {
        tracing::error!(file = %self.path.display(), "{reason}");
        self.pieces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Recorded::Failed(RecordingFailure {
                file: self.name.clone(),
                reason,
                recording_offset_ms: u64::try_from(at.as_millis()).unwrap_or(u64::MAX),
            }));
        (self.notify)();
    }

    fn clusters(&self, s: &webm::ClosedSegment) -> RecordedPiece {
        RecordedPiece {
            file: self.name.clone(),
            piece: "clusters",
            index: s.index,
            bytes: (s.byte_range.start, s.byte_range.end),
            time_ms: Some((s.start_ms, s.end_ms)),
            sha256: hex::encode(s.sha256),
        }
    }

    fn piece(&self, piece: &'static str, p: &webm::HashedPiece) -> RecordedPiece {
        RecordedPiece {
            file: self.name.clone(),
            piece,
            index: 0,
            bytes: (p.byte_range.start, p.byte_range.end),
            time_ms: None,
            sha256: hex::encode(p.sha256),
        }
    }

    fn queue(&self, pieces: Vec<RecordedPiece>) {
        self.pieces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(pieces.into_iter().map(Recorded::Piece));
        (self.notify)();
    }
}

fn sync_dir(file: &Path) {
    if let Some(dir) = file.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::media::io::ogg_reader::OggReader;

    fn opus_packets() -> Vec<bytes::Bytes> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/silence.ogg");
        let file = File::open(path).expect("fixture");
        let (mut ogg, _) = OggReader::new(std::io::BufReader::new(file), true).expect("ogg");
        let mut packets = Vec::new();
        while let Ok((page, _)) = ogg.parse_next_page() {
            packets.push(page.freeze());
        }
        packets
    }

    fn rtp(seq: u16, timestamp: u32, payload: bytes::Bytes) -> rtc::rtp::Packet {
        rtc::rtp::Packet {
            header: rtc::rtp::Header {
                version: 2,
                payload_type: 111,
                sequence_number: seq,
                timestamp,
                ssrc: 7,
                ..Default::default()
            },
            payload,
        }
    }

    /// The first audio packet's time in `path`, as ffprobe reads the file (ms).
    fn first_audio_ms(path: &Path) -> f64 {
        let out = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "a",
                "-show_entries",
                "packet=pts_time",
                "-of",
                "csv=p=0",
            ])
            .arg(path)
            .output()
            .expect("ffprobe runs (Debian package ffmpeg)");
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next().expect("audio packets");
        first.trim().parse::<f64>().expect("pts") * 1000.0
    }

    /// Closed runs of clusters are handed over while recording goes on, each with its time
    /// span and byte range, and the caller is told; stopping adds the header and cues.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pieces_reach_the_chain_while_recording() {
        let dir = tempfile::tempdir().expect("tempdir");
        let told = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&told);
        let notify = Arc::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let recorder = Recorder::new(dir.path().to_owned(), notify);
        recorder.track_started(ParticipantRole::Officer, RtpCodecKind::Audio);
        recorder.start(Instant::now()).expect("start");
        // 24 s of audio by RTP time, sent at once: the timeline follows RTP time.
        let packets = opus_packets();
        for i in 0..1200u16 {
            let payload = packets[usize::from(i) % packets.len()].clone();
            recorder.write(
                ParticipantRole::Officer,
                RtpCodecKind::Audio,
                &rtp(i, u32::from(i) * 960, payload),
            );
            if i % 100 == 99 {
                // Leave the writer thread time to drain its bounded channel.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut pieces = Vec::new();
        while pieces.is_empty() {
            assert!(Instant::now() < deadline, "no piece while recording");
            tokio::time::sleep(Duration::from_millis(20)).await;
            pieces = recorder.take_pieces();
        }
        assert!(told.load(std::sync::atomic::Ordering::SeqCst) > 0);
        let Recorded::Piece(first) = &pieces[0] else {
            panic!("a piece: {pieces:?}");
        };
        assert_eq!(
            (first.file.as_str(), first.piece, first.index),
            ("officer.webm", "clusters", 0)
        );
        let (start, end) = first.time_ms.expect("time span");
        assert!(start < 1_000 && end >= 5_000, "{start}..{end} ms");
        recorder.stop().await;
        pieces.extend(recorder.take_pieces());
        let kinds: Vec<&str> = pieces
            .iter()
            .filter_map(|p| match p {
                Recorded::Piece(p) => Some(p.piece),
                Recorded::Failed(_) => None,
            })
            .collect();
        assert_eq!(kinds.first(), Some(&"clusters"));
        assert!(
            kinds.contains(&"header") && kinds.last() == Some(&"cues"),
            "{kinds:?}"
        );
        // The pieces tile the file.
        let len = std::fs::metadata(dir.path().join("officer.webm"))
            .expect("file")
            .len();
        let mut ranges: Vec<(u64, u64)> = pieces
            .iter()
            .filter_map(|p| match p {
                Recorded::Piece(p) => Some(p.bytes),
                Recorded::Failed(_) => None,
            })
            .collect();
        ranges.sort();
        assert_eq!(ranges.first().map(|r| r.0), Some(0));
        assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0), "{ranges:?}");
        assert_eq!(ranges.last().map(|r| r.1), Some(len));
    }

    /// The recording's time zero is the origin the caller gives (the moment the room decided
    /// to record), and a track's first frame sits at its own packet's arrival, not at the
    /// later packet that let it out of the jitter buffer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_timeline_starts_at_the_given_origin_and_the_first_packet() {
        let dir = tempfile::tempdir().expect("tempdir");
        let recorder = Recorder::new(dir.path().to_owned(), Arc::new(|| {}));
        recorder.track_started(ParticipantRole::Applicant, RtpCodecKind::Audio);
        let origin = Instant::now() - Duration::from_millis(300);
        let names = recorder.start(origin).expect("start");
        assert_eq!(names, ["applicant.webm"]);
        let arrived = Instant::now();
        for (i, payload) in opus_packets().into_iter().take(10).enumerate() {
            let n = u16::try_from(i).expect("few packets");
            recorder.write(
                ParticipantRole::Applicant,
                RtpCodecKind::Audio,
                &rtp(1000 + n, 5_000 + u32::from(n) * 960, payload),
            );
            // The second packet (which completes the first frame) comes well after it.
            tokio::time::sleep(Duration::from_millis(if i == 0 { 100 } else { 20 })).await;
        }
        let since = arrived.saturating_duration_since(origin).as_millis() as f64;
        recorder.stop().await;
        let first = first_audio_ms(&dir.path().join("applicant.webm"));
        assert!(
            (first - since).abs() <= 5.0,
            "first audio frame at {first} ms, its packet arrived {since} ms after the origin"
        );
    }
}
