//! Consent-gated recording. While inactive, packets are dropped here. [`Recorder::start`]
//! opens one file per incoming track (VP8 → IVF, Opus → Ogg) and later tracks get theirs on
//! arrival; [`Recorder::stop`] closes and fsyncs every file before it returns.
//!
//! Each file is written by its own thread fed through a bounded channel, so a slow disk never
//! stalls the packet pump; if the channel is full the packet is dropped and counted.

use super::MediaError;
use crate::evidence::ParticipantRole;
use rtc::media::io::Writer;
use rtc::media::io::ivf_reader::IVFFileHeader;
use rtc::media::io::ivf_writer::IVFWriter;
use rtc::media::io::ogg_writer::OggWriter;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

type Key = (ParticipantRole, RtpCodecKind);

#[derive(Default)]
struct State {
    active: bool,
    tracks: Vec<Key>,
    writers: HashMap<Key, SyncSender<rtc::rtp::Packet>>,
    threads: Vec<JoinHandle<()>>,
    files: Vec<(String, PathBuf)>,
    dropped: u64,
}

pub(super) struct Recorder {
    dir: PathBuf,
    state: Mutex<State>,
}

fn file_stem(key: Key) -> String {
    let role = match key.0 {
        ParticipantRole::Applicant => "applicant",
        ParticipantRole::Officer => "officer",
    };
    let kind = if key.1 == RtpCodecKind::Audio {
        "audio"
    } else {
        "video"
    };
    format!("{role}-{kind}")
}

fn open_writer(path: &PathBuf, kind: RtpCodecKind) -> Result<Box<dyn Writer + Send>, MediaError> {
    let file =
        File::create(path).map_err(|e| MediaError::Record(format!("{}: {e}", path.display())))?;
    let err = |e: rtc::shared::error::Error| MediaError::Record(e.to_string());
    if kind == RtpCodecKind::Audio {
        Ok(Box::new(OggWriter::new(file, 48000, 2).map_err(err)?))
    } else {
        let header = IVFFileHeader {
            signature: *b"DKIF",
            version: 0,
            header_size: 32,
            four_cc: *b"VP80",
            width: 640,
            height: 480,
            timebase_denominator: 30,
            timebase_numerator: 1,
            num_frames: 0,
            unused: 0,
        };
        Ok(Box::new(IVFWriter::new(file, &header).map_err(err)?))
    }
}

impl Recorder {
    pub(super) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open a writer for `key`; caller holds the lock.
    fn open(&self, state: &mut State, key: Key) -> Result<String, MediaError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| MediaError::Record(e.to_string()))?;
        let ext = if key.1 == RtpCodecKind::Audio {
            "ogg"
        } else {
            "ivf"
        };
        let stem = file_stem(key);
        let mut name = format!("{stem}.{ext}");
        let mut n = 2;
        while state.files.iter().any(|(f, _)| *f == name) {
            name = format!("{stem}-{n}.{ext}");
            n += 1;
        }
        let path = self.dir.join(&name);
        let mut writer = open_writer(&path, key.1)?;
        let (tx, rx) = sync_channel::<rtc::rtp::Packet>(2048);
        let file_path = path.clone();
        let thread = std::thread::Builder::new()
            .name(format!("rec-{stem}"))
            .spawn(move || {
                while let Ok(packet) = rx.recv() {
                    if let Err(e) = writer.write_rtp(&packet) {
                        tracing::debug!(file = %file_path.display(), "skipped packet: {e}");
                    }
                }
                if let Err(e) = writer.close() {
                    tracing::error!(file = %file_path.display(), "closing recording failed: {e}");
                }
                drop(writer);
                if let Ok(f) = File::open(&file_path) {
                    let _ = f.sync_all();
                }
            })
            .map_err(|e| MediaError::Record(e.to_string()))?;
        state.writers.insert(key, tx);
        state.threads.push(thread);
        state.files.push((name.clone(), path));
        Ok(name)
    }

    pub(super) fn start(&self) -> Result<Vec<String>, MediaError> {
        let mut state = self.lock();
        if state.active {
            return Ok(Vec::new());
        }
        state.active = true;
        let tracks = state.tracks.clone();
        let mut names = Vec::new();
        for key in tracks {
            names.push(self.open(&mut state, key)?);
        }
        Ok(names)
    }

    pub(super) fn track_started(&self, role: ParticipantRole, kind: RtpCodecKind) {
        let mut state = self.lock();
        let key = (role, kind);
        if !state.tracks.contains(&key) {
            state.tracks.push(key);
        }
        if state.active
            && !state.writers.contains_key(&key)
            && let Err(e) = self.open(&mut state, key)
        {
            tracing::error!("cannot record new track: {e}");
        }
    }

    pub(super) fn track_ended(&self, role: ParticipantRole, kind: RtpCodecKind) {
        let mut state = self.lock();
        state.tracks.retain(|k| *k != (role, kind));
        state.writers.remove(&(role, kind));
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
        let Some(tx) = state.writers.get(&(role, kind)) else {
            return;
        };
        match tx.try_send(packet.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => state.dropped += 1,
        }
    }

    pub(super) async fn stop(&self) {
        let threads = {
            let mut state = self.lock();
            state.active = false;
            state.writers.clear();
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
}
