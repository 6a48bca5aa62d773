//! WebM recording writer: muxes one participant's VP8 video and/or Opus audio into a single
//! `.webm` file (the WebM profile of Matroska, RFC 9559, on EBML, RFC 8794) while the session
//! runs, and hashes the file in closed pieces so an auditor can show that it is uncut.
//!
//! This module owns the byte layout of recordings, the cluster/cue policy, and the evidence
//! pieces (SHA-256 of fixed byte ranges). It does no RTP work: callers hand it whole frames
//! (webrtc-rs `SampleBuilder` output) with timestamps relative to the recording start.
//!
//! # File layout
//!
//! ```text
//! offset 0        EBML header      DocType "webm", DocTypeVersion 4, DocTypeReadVersion 2
//!                 Segment          ID + 8-byte size: "unknown" (01 FF FF FF FF FF FF FF) while
//!                                  recording, patched to the real size by finish()
//! segment data+0  SeekHead + Void  a fixed 68-byte region: Seek entries for Info and Tracks
//!                                  while recording; Info, Tracks and Cues after finish()
//!                 Info             TimestampScale 1_000_000 ns (1 ms), MuxingApp and WritingApp
//!                                  "globallink", DateUTC (optional), Duration (an 11-byte Void
//!                                  until the first Cluster is written, then kept up to date)
//!                 Tracks           VP8 video ("V_VP8") is track 1; Opus audio ("A_OPUS") is
//!                                  track 2, or 1 in an audio-only file
//! ---- header piece ends: everything above is hashed at finish() ----------------------------
//!                 Cluster 0        known size: Timestamp, then SimpleBlocks; a Cluster is built
//!                 Cluster 1 ...    in memory and written whole when closed, never rewritten
//! ---- last Cluster ends: evidence segments tile [first Cluster, here) ----------------------
//!                 Cues             written by finish()
//! ```
//!
//! # Timestamps and ordering
//!
//! Timestamps are [`Duration`]s from the recording start, derived by the caller from RTP time,
//! and are rounded to the nearest millisecond. Audio and video arrive from separate tracks, so
//! the writer holds blocks in a small interleaving window ([`WriterOptions::reorder_window`],
//! 500 ms by default) and releases them in timestamp order (video before audio on a tie). A
//! block whose timestamp is earlier than one already released is refused with
//! [`WebmError::OutOfOrder`] and nothing is written for it; the writer stays usable. So the
//! file always has non-decreasing block timestamps, whatever the caller feeds.
//!
//! Video is written from its first keyframe on: inter frames before it cannot be decoded and
//! are dropped and counted ([`Summary::video_frames_before_keyframe`]). A block is marked as a
//! keyframe only if the caller says so *and* the VP8 frame tag agrees (RFC 6386 §9.1).
//!
//! # Clusters and Cues
//!
//! A new Cluster starts (a) on a video keyframe once the current Cluster is at least
//! [`WriterOptions::cluster_target`] (5 s) old; (b) on any block once the current Cluster is
//! that old and holds no video (audio-only files, or a camera that is off); (c) on any block
//! once the Cluster is [`WriterOptions::cluster_max`] (10 s, at most 32.767 s) old, so the
//! signed 16-bit relative block timestamp never overflows; (d) before the Cluster would exceed
//! [`MAX_CLUSTER_BYTES`]. CuePoints go to the first video keyframe of each Cluster and to every
//! later keyframe at least 1 s after the previous video CuePoint (so seeking is precise to the
//! keyframe cadence, and the in-memory cue list is bounded by one entry per second); a Cluster
//! without a video keyframe gets one CuePoint at its first audio block. Each CuePoint carries
//! CueTrack, CueClusterPosition and CueRelativePosition.
//!
//! # Evidence pieces (how an auditor recomputes the hashes)
//!
//! A finished file is covered by contiguous, non-overlapping byte ranges: the **header
//! piece** `[0, first Cluster)`, hashed over its final bytes by finish() (it is patched then:
//! Segment size, SeekHead, Duration); the **segments** `0..n`, each a run of whole Clusters,
//! hashed incrementally as the Clusters are written (Cluster bytes are never modified
//! afterwards); and the **cues piece** `[end of last Cluster, end of file)`. Segment *k* is
//! closed when a Cluster closes whose end time (the next Cluster's timestamp, or the file's
//! duration for the last one) is at or past the next boundary, the first multiple of
//! [`WriterOptions::segment_interval`] (10 s) after the previous segment's end; the last
//! segment is closed by finish(). Each
//! range can be checked with GNU dd:
//! `dd if=rec.webm iflag=skip_bytes,count_bytes skip=START count=$((END-START)) bs=64K | sha256sum`.
//!
//! # Crashes
//!
//! Nothing is buffered outside the open Cluster and the interleaving window, and the Segment
//! has unknown size until finish(), so a file whose writer died (or was dropped without
//! [`WebmWriter::finish`]) ends after its last complete Cluster, plays up to there, and its
//! Info Duration already says how long that is. It has no Cues, so players seek by scanning.
//! A process that dies in the middle of writing a Cluster leaves a torn tail after that, which
//! readers report ("File ended prematurely") and skip. Such a file has no closed evidence
//! segment for the lost part and no header piece: the caller's recovery re-hashes it whole.

#![forbid(unsafe_code)]

use ring::digest::{Context, SHA256};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::{self, Seek, SeekFrom, Write};
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(test)]
mod ffmpeg_tests;
#[cfg(test)]
mod tests;

/// Largest frame accepted by [`WebmWriter::write_video`] / [`WebmWriter::write_audio`].
pub const MAX_FRAME_BYTES: usize = 8 << 20;
/// A Cluster is closed before its body would grow past this many bytes.
pub const MAX_CLUSTER_BYTES: usize = 32 << 20;
/// Largest timestamp accepted (2^40 ms, about 34 years).
pub const MAX_TIMESTAMP: Duration = Duration::from_millis(MAX_TIMESTAMP_MS);
/// The value written as MuxingApp and WritingApp.
pub const APP_NAME: &str = "globallink";

const MAX_TIMESTAMP_MS: u64 = 1 << 40;
/// Block timestamps are signed 16-bit offsets from the Cluster Timestamp (RFC 9559, Block
/// Structure); blocks never precede their Cluster, so the usable range is 0..=32767 ticks.
const MAX_RELATIVE_MS: u64 = i16::MAX as u64;
/// Queued (not yet released) bytes above this are released early, oldest first.
const MAX_REORDER_BYTES: usize = 64 << 20;
const TIMESTAMP_SCALE_NS: u64 = 1_000_000;
/// A video keyframe gets a CuePoint if it is the first in its Cluster or at least this long
/// after the previous video CuePoint, which bounds the Cues at one per second.
const CUE_SPACING_MS: u64 = 1000;
/// SeekPreRoll for Opus: 80 ms (RFC 9559 codec mapping for A_OPUS, WebM requirement).
const OPUS_SEEK_PRE_ROLL_NS: u64 = 80_000_000;
const OPUS_RATE: u32 = 48_000;
/// Nanoseconds between 1970-01-01 and 2001-01-01, the epoch of EBML dates (RFC 8794 §7.6).
const EBML_EPOCH_UNIX_NS: i128 = 978_307_200 * 1_000_000_000;

/// Matroska/EBML element IDs used here, with their marker bits (RFC 9559 §5.1, RFC 8794 §11).
mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const VOID: u32 = 0xEC;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const DATE_UTC: u32 = 0x4461;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const LANGUAGE: u32 = 0x22_B59C;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const CODEC_DELAY: u32 = 0x56AA;
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
    pub const CUE_RELATIVE_POSITION: u32 = 0xF0;
}

/// EBML encoding primitives (RFC 8794). Every function appends to `buf`.
mod ebml {
    /// An 8-octet Element Data Size with all VINT_DATA bits set: "unknown size" (RFC 8794 §6.2).
    pub const UNKNOWN_SIZE_8: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    /// Largest size an 8-octet VINT can carry: 2^56 - 2, since all ones is reserved.
    pub const MAX_SIZE: u64 = (1 << 56) - 2;

    /// An Element ID is written as its VINT bytes, marker included (RFC 8794 §5), so the
    /// significant bytes of the constant are the encoding.
    pub fn id(buf: &mut Vec<u8>, id: u32) {
        let skip = match id {
            0..=0xFF => 3,
            0x100..=0xFFFF => 2,
            0x1_0000..=0xFF_FFFF => 1,
            _ => 0,
        };
        buf.extend_from_slice(id.to_be_bytes().get(skip..).unwrap_or(&[]));
    }

    /// Octets of the shortest Element Data Size VINT for `value` (RFC 8794 §6.3: a length of
    /// n octets holds 0..=2^(7n)-2). Values past 2^56-2 get 8, so callers must stay below.
    pub fn size_len(value: u64) -> usize {
        let mut n = 1;
        while n < 8 && value >= (1u64 << (7 * n)) - 1 {
            n += 1;
        }
        n
    }

    /// `value` as a VINT of exactly `len` octets (1..=8): VINT_WIDTH zeros, the marker bit,
    /// then VINT_DATA big-endian (RFC 8794 §4). Bits of `value` that do not fit are dropped.
    pub fn vint(buf: &mut Vec<u8>, value: u64, len: usize) {
        let len = len.clamp(1, 8);
        let data_bits = 7 * len as u32;
        let marked = (value & ((1u64 << data_bits) - 1)) | (1u64 << data_bits);
        buf.extend_from_slice(marked.to_be_bytes().get(8 - len..).unwrap_or(&[]));
    }

    /// An Element Data Size at its shortest length.
    pub fn size(buf: &mut Vec<u8>, value: u64) {
        vint(buf, value, size_len(value));
    }

    /// Total encoded length of an element with `data_len` octets of data.
    pub fn element_len(id: u32, data_len: usize) -> usize {
        let id_len = 4 - (id.leading_zeros() / 8).min(3) as usize;
        id_len + size_len(data_len as u64) + data_len
    }

    /// ID, shortest size, data: a Binary element (RFC 8794 §7.8) or a Master element
    /// whose children are already encoded in `data` (§7.7).
    pub fn element(buf: &mut Vec<u8>, id: u32, data: &[u8]) {
        self::id(buf, id);
        size(buf, data.len() as u64);
        buf.extend_from_slice(data);
    }

    /// Unsigned Integer element (RFC 8794 §7.2), big-endian in the fewest octets; zero is
    /// written as one 0x00 octet, which every reader accepts.
    pub fn uint(buf: &mut Vec<u8>, id: u32, value: u64) {
        let bytes = value.to_be_bytes();
        let skip = (value.leading_zeros() / 8).min(7) as usize;
        element(buf, id, bytes.get(skip..).unwrap_or(&[0]));
    }

    /// Unsigned Integer element always 8 octets long, so it can be overwritten in place.
    pub fn uint8(buf: &mut Vec<u8>, id: u32, value: u64) {
        element(buf, id, &value.to_be_bytes());
    }

    /// Float element (RFC 8794 §7.3), 8-octet IEEE 754 binary64, big-endian.
    pub fn float(buf: &mut Vec<u8>, id: u32, value: f64) {
        element(buf, id, &value.to_be_bytes());
    }

    /// String (ASCII, RFC 8794 §7.4) or UTF-8 (§7.5) element, without a terminating NUL.
    pub fn string(buf: &mut Vec<u8>, id: u32, value: &str) {
        element(buf, id, value.as_bytes());
    }

    /// Date element (RFC 8794 §7.6): signed 8-octet nanoseconds since 2001-01-01T00:00:00 UTC.
    pub fn date(buf: &mut Vec<u8>, id: u32, ns_since_2001: i64) {
        element(buf, id, &ns_since_2001.to_be_bytes());
    }

    /// A Void element (RFC 8794 §11.3.2) exactly `total` octets long; `total` must be at least
    /// 2 (ID and a one-octet size), smaller values give an empty vector.
    pub fn void(total: usize) -> Vec<u8> {
        let mut buf = Vec::with_capacity(total);
        if total < 2 {
            return buf;
        }
        id(&mut buf, super::id::VOID);
        let data = if total - 2 <= 126 {
            vint(&mut buf, (total - 2) as u64, 1);
            total - 2
        } else {
            vint(&mut buf, (total - 9) as u64, 8);
            total - 9
        };
        buf.resize(buf.len() + data, 0);
        buf
    }
}

/// Which of the two tracks a frame belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrackKind {
    /// VP8 video.
    Video,
    /// Opus audio.
    Audio,
}

impl fmt::Display for TrackKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrackKind::Video => "video",
            TrackKind::Audio => "audio",
        })
    }
}

/// A VP8 video track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoTrack {
    /// PixelWidth: coded width of the frames, non-zero. (VP8 keyframes carry their own size,
    /// so a sender that changes resolution still decodes; this is the nominal size.)
    pub width: u32,
    /// PixelHeight, non-zero.
    pub height: u32,
}

/// An Opus audio track at 48 kHz.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioTrack {
    /// Channel count, 1 or 2 (OpusHead channel mapping family 0).
    pub channels: u8,
    /// Samples (at 48 kHz) the decoder discards at the start: OpusHead pre-skip and CodecDelay.
    /// Use 0 for audio taken from RTP mid-stream; use the encoder's value (typically 312) for
    /// a stream that starts at the encoder's first packet.
    pub pre_skip: u16,
}

/// The tracks of one recording: at least one must be present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tracks {
    /// The video track, if any.
    pub video: Option<VideoTrack>,
    /// The audio track, if any.
    pub audio: Option<AudioTrack>,
}

/// Tuning of the writer; [`Default`] gives the values documented on each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterOptions {
    /// A Cluster this old is closed at the next video keyframe (or at once if it holds no
    /// video). Default 5 s.
    pub cluster_target: Duration,
    /// A Cluster this old is closed at the next block, keyframe or not. Default 10 s; values
    /// above 32.767 s (the reach of a block's relative timestamp) are lowered to it.
    pub cluster_max: Duration,
    /// Evidence segments close at the first Cluster end at or after each multiple of this.
    /// Default 10 s; at least 1 ms.
    pub segment_interval: Duration,
    /// How long a block may wait for earlier blocks of the other track. Default 500 ms, at
    /// most 10 s. Zero means the caller feeds both tracks in timestamp order.
    pub reorder_window: Duration,
    /// Written as Info DateUTC when set: the wall-clock time of the recording start.
    pub date_utc: Option<SystemTime>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            cluster_target: Duration::from_secs(5),
            cluster_max: Duration::from_secs(10),
            segment_interval: Duration::from_secs(10),
            reorder_window: Duration::from_millis(500),
            date_utc: None,
        }
    }
}

/// A closed evidence segment: a run of whole Clusters whose bytes will never change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedSegment {
    /// 0, 1, 2, ... in file order.
    pub index: u32,
    /// Byte offsets in the output stream, end exclusive.
    pub byte_range: Range<u64>,
    /// SHA-256 of exactly the bytes in `byte_range`.
    pub sha256: [u8; 32],
    /// Timestamp (ms from recording start) of the segment's first Cluster.
    pub start_ms: u64,
    /// End (ms, exclusive) of its last Cluster: the next Cluster's timestamp, or the file's
    /// duration for the last segment.
    pub end_ms: u64,
}

/// A byte range of the finished file and its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedPiece {
    /// Byte offsets in the output stream, end exclusive.
    pub byte_range: Range<u64>,
    /// SHA-256 of exactly those bytes, as they are after finish().
    pub sha256: [u8; 32],
}

/// What [`WebmWriter::finish`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Info Duration: end of the last block (its timestamp plus its estimated length).
    pub duration: Duration,
    /// Video blocks written.
    pub video_frames: u64,
    /// Of those, keyframes.
    pub video_keyframes: u64,
    /// Video frames dropped because no keyframe had been written yet.
    pub video_frames_before_keyframe: u64,
    /// Audio blocks written.
    pub audio_frames: u64,
    /// Clusters written.
    pub clusters: u64,
    /// Offset just past the last byte written (the file length if writing started at 0).
    pub end_offset: u64,
    /// `[start, first Cluster)`: EBML header, Segment header, SeekHead, Info, Tracks.
    pub header: HashedPiece,
    /// Every evidence segment, in order, including those already taken with
    /// [`WebmWriter::take_closed_segment`].
    pub segments: Vec<ClosedSegment>,
    /// `[end of last Cluster, end)`: the Cues; `None` when nothing was recorded.
    pub cues: Option<HashedPiece>,
}

/// Errors of the WebM writer.
#[derive(Debug, thiserror::Error)]
pub enum WebmError {
    /// Writing or seeking the output failed; the writer is unusable afterwards.
    #[error("writing WebM output failed: {0}")]
    Io(#[from] io::Error),
    /// The frame's timestamp is earlier than a block already written; the frame was dropped.
    #[error("{track} frame at {timestamp_ms} ms is older than {written_ms} ms, already written")]
    OutOfOrder {
        /// Track of the refused frame.
        track: TrackKind,
        /// Its timestamp, ms.
        timestamp_ms: u64,
        /// Timestamp of the latest block already written, ms.
        written_ms: u64,
    },
    /// The recording has no track of this kind.
    #[error("this recording has no {0} track")]
    NoSuchTrack(TrackKind),
    /// The frame is larger than [`MAX_FRAME_BYTES`].
    #[error("{track} frame of {size} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Track of the refused frame.
        track: TrackKind,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The frame has no bytes.
    #[error("empty {0} frame")]
    EmptyFrame(TrackKind),
    /// The timestamp is past [`MAX_TIMESTAMP`].
    #[error("timestamp {0:?} is past the supported range")]
    TimestampOutOfRange(Duration),
    /// The track description cannot be written.
    #[error("invalid track description: {0}")]
    InvalidTracks(&'static str),
    /// An earlier I/O error left the output in an unknown state.
    #[error("the WebM writer failed earlier and cannot continue")]
    Failed,
}

/// OpusHead identification header (RFC 7845 §5.1), the CodecPrivate of an A_OPUS track:
/// magic, version 1, channel count, pre-skip (LE), input rate 48000 (LE), gain 0, family 0.
pub fn opus_head(channels: u8, pre_skip: u16) -> [u8; 19] {
    let mut h = [0u8; 19];
    h[..8].copy_from_slice(b"OpusHead");
    h[8] = 1;
    h[9] = channels;
    h[10..12].copy_from_slice(&pre_skip.to_le_bytes());
    h[12..16].copy_from_slice(&OPUS_RATE.to_le_bytes());
    // bytes 16..18 output gain 0, byte 18 channel mapping family 0
    h
}

/// Samples (at 48 kHz) in an Opus packet, from its TOC byte (RFC 6716 §3.1), or `None` for a
/// malformed packet (empty, code 3 without a frame count, or more than 120 ms).
pub fn opus_packet_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame size in units of 2.5 ms (120 samples).
    let units: u32 = match config {
        0..=11 => [4, 8, 16, 24][usize::from(config % 4)],
        12..=15 => [4, 8][usize::from(config % 2)],
        _ => [1, 2, 4, 8][usize::from(config % 4)],
    };
    let frames = match toc & 0x3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3F),
    };
    let samples = units * 120 * frames;
    (frames > 0 && samples <= 5760).then_some(samples)
}

/// Whether a VP8 frame is a keyframe: frame tag bit 0 clear and the start code 9d 01 2a
/// after the 3-byte tag (RFC 6386 §9.1).
pub fn vp8_is_keyframe(frame: &[u8]) -> bool {
    frame.len() >= 10 && frame[0] & 1 == 0 && frame[3..6] == [0x9d, 0x01, 0x2a]
}

/// A frame waiting in the interleaving window.
struct Pending {
    ts: u64,
    kind: TrackKind,
    keyframe: bool,
    data: Vec<u8>,
}

/// The Cluster being filled.
struct OpenCluster {
    ts: u64,
    /// Cluster data: the Timestamp element, then SimpleBlocks.
    body: Vec<u8>,
    has_video: bool,
    /// (time, block position in `body`) of video keyframes that get a CuePoint.
    video_cues: Vec<(u64, u64)>,
    /// The first audio block, the CuePoint of a Cluster without a video keyframe.
    audio_cue: Option<(u64, u64)>,
}

struct CueEntry {
    time: u64,
    track: u64,
    /// Cluster position relative to the Segment data start.
    cluster_pos: u64,
    /// Block position relative to the Cluster data start.
    relative_pos: u64,
}

/// The evidence segment being hashed.
struct SegmentState {
    index: u32,
    start: u64,
    start_ms: Option<u64>,
    next_boundary_ms: u64,
    ctx: Context,
}

/// Where the patchable parts of the header are, as offsets from the first byte written.
struct Layout {
    segment_size_at: usize,
    segment_data_start: u64,
    seek_head_at: usize,
    seek_head_len: usize,
    info_pos: u64,
    tracks_pos: u64,
    duration_at: usize,
}

/// Normalised [`WriterOptions`], in ms.
struct Policy {
    target_ms: u64,
    max_ms: u64,
    interval_ms: u64,
    window_ms: u64,
}

#[derive(Default)]
struct Counters {
    video_frames: u64,
    video_keyframes: u64,
    video_before_keyframe: u64,
    audio_frames: u64,
    clusters: u64,
}

/// A streaming WebM writer for one participant; see the module documentation for the file
/// layout, the ordering rule and the evidence pieces.
///
/// Dropping it without [`finish`](Self::finish) leaves the file as a crash would: complete up
/// to the last closed Cluster, without Cues.
pub struct WebmWriter<W: Write + Seek> {
    out: W,
    /// Stream position when the writer was created; all offsets are relative to it.
    base: u64,
    /// Bytes written so far (the position of the next append).
    pos: u64,
    header: Vec<u8>,
    layout: Layout,
    video_track: Option<u64>,
    audio_track: Option<u64>,
    policy: Policy,
    queue: BTreeMap<(u64, u8, u64), Pending>,
    queued_bytes: usize,
    seq: u64,
    newest_ms: u64,
    written_ms: Option<u64>,
    keyframe_accepted: bool,
    video_started: bool,
    last_video_ms: Option<u64>,
    last_video_gap: u64,
    last_video_cue_ms: Option<u64>,
    end_ms: u64,
    cluster: Option<OpenCluster>,
    cues: Vec<CueEntry>,
    segment: SegmentState,
    closed: VecDeque<ClosedSegment>,
    segments: Vec<ClosedSegment>,
    counters: Counters,
    failed: bool,
}

impl<W: Write + Seek> WebmWriter<W> {
    /// Start a recording on `out` with default [`WriterOptions`]: writes the header at once.
    pub fn new(out: W, tracks: Tracks) -> Result<Self, WebmError> {
        Self::with_options(out, tracks, WriterOptions::default())
    }

    /// Start a recording on `out` (at its current position) and write the header.
    pub fn with_options(
        mut out: W,
        tracks: Tracks,
        options: WriterOptions,
    ) -> Result<Self, WebmError> {
        if tracks.video.is_none() && tracks.audio.is_none() {
            return Err(WebmError::InvalidTracks("no video and no audio track"));
        }
        if let Some(v) = tracks.video
            && (v.width == 0 || v.height == 0)
        {
            return Err(WebmError::InvalidTracks(
                "video width and height must be non-zero",
            ));
        }
        if let Some(a) = tracks.audio
            && !(1..=2).contains(&a.channels)
        {
            return Err(WebmError::InvalidTracks("Opus channels must be 1 or 2"));
        }
        let video_track = tracks.video.map(|_| 1);
        let audio_track = tracks
            .audio
            .map(|_| if tracks.video.is_some() { 2 } else { 1 });
        let (header, layout) = build_header(&tracks, options.date_utc);
        let base = out.stream_position()?;
        out.write_all(&header)?;
        out.flush()?;
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let max_ms = ms(options.cluster_max).clamp(1, MAX_RELATIVE_MS);
        let policy = Policy {
            target_ms: ms(options.cluster_target).min(max_ms),
            max_ms,
            interval_ms: ms(options.segment_interval).max(1),
            window_ms: ms(options.reorder_window).min(10_000),
        };
        let pos = header.len() as u64;
        Ok(Self {
            out,
            base,
            pos,
            header,
            layout,
            video_track,
            audio_track,
            segment: SegmentState {
                index: 0,
                start: pos,
                start_ms: None,
                next_boundary_ms: policy.interval_ms,
                ctx: Context::new(&SHA256),
            },
            policy,
            queue: BTreeMap::new(),
            queued_bytes: 0,
            seq: 0,
            newest_ms: 0,
            written_ms: None,
            keyframe_accepted: false,
            video_started: false,
            last_video_ms: None,
            last_video_gap: 0,
            last_video_cue_ms: None,
            end_ms: 0,
            cluster: None,
            cues: Vec::new(),
            closed: VecDeque::new(),
            segments: Vec::new(),
            counters: Counters::default(),
            failed: false,
        })
    }

    /// Add a VP8 frame. `keyframe` is the caller's claim; it counts only if the frame tag
    /// agrees. Inter frames before the first keyframe are dropped (and counted).
    ///
    /// Refused frames ([`WebmError::OutOfOrder`], [`WebmError::NoSuchTrack`],
    /// [`WebmError::EmptyFrame`], [`WebmError::TooLarge`], [`WebmError::TimestampOutOfRange`])
    /// are not written and the writer goes on; after [`WebmError::Io`] every call fails.
    pub fn write_video(
        &mut self,
        timestamp: Duration,
        data: &[u8],
        keyframe: bool,
    ) -> Result<(), WebmError> {
        let keyframe = keyframe && vp8_is_keyframe(data);
        self.push(TrackKind::Video, timestamp, data, keyframe)
    }

    /// Add an Opus packet (one RTP payload). Errors as for [`write_video`](Self::write_video).
    pub fn write_audio(&mut self, timestamp: Duration, data: &[u8]) -> Result<(), WebmError> {
        self.push(TrackKind::Audio, timestamp, data, true)
    }

    /// The oldest evidence segment closed since the last call, if any. Closed segments are
    /// final: their bytes are on the output and will not change.
    pub fn take_closed_segment(&mut self) -> Option<ClosedSegment> {
        self.closed.pop_front()
    }

    /// Whether the recording has a video track and no keyframe has arrived yet (so the
    /// caller should ask the sender for one).
    pub fn needs_keyframe(&self) -> bool {
        self.video_track.is_some() && !self.keyframe_accepted
    }

    /// Bytes written to the output so far.
    pub fn bytes_written(&self) -> u64 {
        self.pos
    }

    /// Write out everything still buffered, the Cues, the final Segment size, SeekHead and
    /// Duration; flush; and report the evidence pieces.
    pub fn finish(mut self) -> Result<Summary, WebmError> {
        self.finalize()
    }

    /// Like [`finish`](Self::finish), and also give back the output (to `sync_all` a file).
    pub fn finish_into_inner(mut self) -> Result<(Summary, W), WebmError> {
        let summary = self.finalize()?;
        Ok((summary, self.out))
    }

    fn push(
        &mut self,
        kind: TrackKind,
        timestamp: Duration,
        data: &[u8],
        keyframe: bool,
    ) -> Result<(), WebmError> {
        if self.failed {
            return Err(WebmError::Failed);
        }
        let present = match kind {
            TrackKind::Video => self.video_track.is_some(),
            TrackKind::Audio => self.audio_track.is_some(),
        };
        if !present {
            return Err(WebmError::NoSuchTrack(kind));
        }
        if data.is_empty() {
            return Err(WebmError::EmptyFrame(kind));
        }
        if data.len() > MAX_FRAME_BYTES {
            return Err(WebmError::TooLarge {
                track: kind,
                size: data.len(),
                max: MAX_FRAME_BYTES,
            });
        }
        let ts = to_ms(timestamp).ok_or(WebmError::TimestampOutOfRange(timestamp))?;
        if let Some(written) = self.written_ms
            && ts < written
        {
            return Err(WebmError::OutOfOrder {
                track: kind,
                timestamp_ms: ts,
                written_ms: written,
            });
        }
        if kind == TrackKind::Video && keyframe {
            self.keyframe_accepted = true;
        }
        let order = match kind {
            TrackKind::Video => 0,
            TrackKind::Audio => 1,
        };
        self.seq += 1;
        self.queued_bytes += data.len();
        self.queue.insert(
            (ts, order, self.seq),
            Pending {
                ts,
                kind,
                keyframe,
                data: data.to_vec(),
            },
        );
        self.newest_ms = self.newest_ms.max(ts);
        // Due: at least one window older than the newest timestamp seen.
        let release_to = self.newest_ms.checked_sub(self.policy.window_ms);
        while let Some(entry) = self.queue.first_entry() {
            let due = release_to.is_some_and(|r| entry.key().0 <= r);
            if !due && self.queued_bytes <= MAX_REORDER_BYTES {
                break;
            }
            let p = entry.remove();
            self.queued_bytes -= p.data.len();
            self.place(p)?;
        }
        Ok(())
    }

    /// Put a released block into the open Cluster, closing it first if the policy says so.
    fn place(&mut self, p: Pending) -> Result<(), WebmError> {
        let (track, is_video) = match p.kind {
            TrackKind::Video => (self.video_track, true),
            TrackKind::Audio => (self.audio_track, false),
        };
        let Some(track) = track else {
            return Ok(());
        };
        if is_video && !self.video_started {
            if !p.keyframe {
                self.counters.video_before_keyframe += 1;
                return Ok(());
            }
            self.video_started = true;
        }
        let block_len = ebml::element_len(id::SIMPLE_BLOCK, 4 + p.data.len());
        if let Some(c) = &self.cluster {
            let age = p.ts.saturating_sub(c.ts);
            let cut = age >= self.policy.max_ms
                || (age >= self.policy.target_ms && ((is_video && p.keyframe) || !c.has_video))
                || c.body.len() + block_len > MAX_CLUSTER_BYTES;
            if cut {
                self.close_cluster(p.ts)?;
            }
        }
        let c = self.cluster.get_or_insert_with(|| {
            let mut body = Vec::with_capacity(64 * 1024);
            ebml::uint(&mut body, id::TIMESTAMP, p.ts);
            OpenCluster {
                ts: p.ts,
                body,
                has_video: false,
                video_cues: Vec::new(),
                audio_cue: None,
            }
        });
        let relative = p.ts.saturating_sub(c.ts).min(MAX_RELATIVE_MS) as i16;
        let at = c.body.len() as u64;
        simple_block(&mut c.body, track, relative, p.keyframe, &p.data);
        if is_video {
            c.has_video = true;
            let cue_due = c.video_cues.is_empty()
                || self
                    .last_video_cue_ms
                    .is_none_or(|last| p.ts >= last + CUE_SPACING_MS);
            if p.keyframe && cue_due {
                c.video_cues.push((p.ts, at));
                self.last_video_cue_ms = Some(p.ts);
            }
            self.counters.video_frames += 1;
            if p.keyframe {
                self.counters.video_keyframes += 1;
            }
            if let Some(prev) = self.last_video_ms
                && p.ts > prev
            {
                self.last_video_gap = (p.ts - prev).min(1000);
            }
            self.last_video_ms = Some(p.ts);
            self.end_ms = self.end_ms.max(p.ts + self.last_video_gap);
        } else {
            if c.audio_cue.is_none() {
                c.audio_cue = Some((p.ts, at));
            }
            self.counters.audio_frames += 1;
            let samples = opus_packet_samples(&p.data).unwrap_or(960);
            let len_ms = (u64::from(samples) * 1000 + u64::from(OPUS_RATE) / 2) / 48_000;
            self.end_ms = self.end_ms.max(p.ts + len_ms);
        }
        self.end_ms = self.end_ms.max(p.ts);
        self.written_ms = Some(p.ts);
        Ok(())
    }

    /// Write the open Cluster (ending at `end_ms`), hash it, keep Duration current, and close
    /// the evidence segment if a boundary was reached.
    fn close_cluster(&mut self, end_ms: u64) -> Result<(), WebmError> {
        let Some(c) = self.cluster.take() else {
            return Ok(());
        };
        let mut bytes = Vec::with_capacity(c.body.len() + 12);
        ebml::element(&mut bytes, id::CLUSTER, &c.body);
        let cluster_pos = self.pos - self.layout.segment_data_start;
        let cue = |track: u64| {
            move |&(time, relative_pos): &(u64, u64)| CueEntry {
                time,
                track,
                cluster_pos,
                relative_pos,
            }
        };
        let cues: Vec<CueEntry> = match (self.video_track, self.audio_track) {
            (Some(v), _) if !c.video_cues.is_empty() => c.video_cues.iter().map(cue(v)).collect(),
            (_, Some(a)) => c.audio_cue.iter().map(cue(a)).collect(),
            _ => Vec::new(),
        };
        self.append(&bytes)?;
        self.segment.ctx.update(&bytes);
        self.segment.start_ms.get_or_insert(c.ts);
        self.counters.clusters += 1;
        self.cues.extend(cues);
        let flushed = self.out.flush();
        self.check(flushed)?;
        if end_ms > 0 {
            let mut d = Vec::with_capacity(11);
            ebml::float(&mut d, id::DURATION, end_ms as f64);
            self.patch(self.layout.duration_at, &d)?;
        }
        if end_ms >= self.segment.next_boundary_ms {
            self.close_segment(end_ms);
        }
        Ok(())
    }

    fn close_segment(&mut self, end_ms: u64) {
        let ctx = std::mem::replace(&mut self.segment.ctx, Context::new(&SHA256));
        let segment = ClosedSegment {
            index: self.segment.index,
            byte_range: self.base + self.segment.start..self.base + self.pos,
            sha256: sha256_array(ctx),
            start_ms: self.segment.start_ms.unwrap_or(end_ms),
            end_ms,
        };
        let interval = self.policy.interval_ms;
        self.segment.index = self.segment.index.saturating_add(1);
        self.segment.start = self.pos;
        self.segment.start_ms = None;
        self.segment.next_boundary_ms = (end_ms / interval)
            .saturating_add(1)
            .saturating_mul(interval);
        self.closed.push_back(segment.clone());
        self.segments.push(segment);
    }

    fn finalize(&mut self) -> Result<Summary, WebmError> {
        if self.failed {
            return Err(WebmError::Failed);
        }
        while let Some((_, p)) = self.queue.pop_first() {
            self.queued_bytes -= p.data.len();
            self.place(p)?;
        }
        let end_ms = self.end_ms;
        self.close_cluster(end_ms)?;
        if self.pos > self.segment.start {
            self.close_segment(end_ms);
        }
        let header_len = self.header.len() as u64;
        let cues = if self.cues.is_empty() {
            None
        } else {
            let cues_pos = self.pos;
            let bytes = cues_element(&self.cues);
            self.append(&bytes)?;
            Some(HashedPiece {
                byte_range: self.base + cues_pos..self.base + self.pos,
                sha256: sha256_array({
                    let mut ctx = Context::new(&SHA256);
                    ctx.update(&bytes);
                    ctx
                }),
            })
        };
        let seg_start = self.layout.segment_data_start;
        let mut entries = vec![
            (id::INFO, self.layout.info_pos),
            (id::TRACKS, self.layout.tracks_pos),
        ];
        if let Some(c) = &cues {
            entries.push((id::CUES, c.byte_range.start - self.base - seg_start));
        }
        let region = seek_head_region(&entries, self.layout.seek_head_len);
        self.patch(self.layout.seek_head_at, &region)?;
        let segment_size = self.pos - seg_start;
        if segment_size <= ebml::MAX_SIZE {
            let mut size = Vec::with_capacity(8);
            ebml::vint(&mut size, segment_size, 8);
            self.patch(self.layout.segment_size_at, &size)?;
        }
        let flushed = self.out.flush();
        self.check(flushed)?;
        let mut ctx = Context::new(&SHA256);
        ctx.update(&self.header);
        Ok(Summary {
            duration: Duration::from_millis(end_ms),
            video_frames: self.counters.video_frames,
            video_keyframes: self.counters.video_keyframes,
            video_frames_before_keyframe: self.counters.video_before_keyframe,
            audio_frames: self.counters.audio_frames,
            clusters: self.counters.clusters,
            end_offset: self.base + self.pos,
            header: HashedPiece {
                byte_range: self.base..self.base + header_len,
                sha256: sha256_array(ctx),
            },
            segments: self.segments.clone(),
            cues,
        })
    }

    /// Append at the end of what has been written.
    fn append(&mut self, bytes: &[u8]) -> Result<(), WebmError> {
        let r = self.out.write_all(bytes);
        self.check(r)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Overwrite header bytes at `at` (in the file and in the kept copy), then return to the end.
    fn patch(&mut self, at: usize, bytes: &[u8]) -> Result<(), WebmError> {
        if let Some(dst) = self.header.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        } else {
            return Ok(());
        }
        let r = self.out.seek(SeekFrom::Start(self.base + at as u64));
        self.check(r)?;
        let r = self.out.write_all(bytes);
        self.check(r)?;
        let r = self.out.seek(SeekFrom::Start(self.base + self.pos));
        self.check(r)?;
        Ok(())
    }

    /// Mark the writer failed on an I/O error.
    fn check<T>(&mut self, r: io::Result<T>) -> Result<T, WebmError> {
        r.map_err(|e| {
            self.failed = true;
            WebmError::Io(e)
        })
    }
}

fn to_ms(d: Duration) -> Option<u64> {
    let ms = (d.as_nanos() + 500_000) / 1_000_000;
    u64::try_from(ms).ok().filter(|&ms| ms <= MAX_TIMESTAMP_MS)
}

fn sha256_array(ctx: Context) -> [u8; 32] {
    let mut out = [0u8; 32];
    let digest = ctx.finish();
    out.copy_from_slice(digest.as_ref());
    out
}

/// A SimpleBlock element: track number (VINT), signed 16-bit relative timestamp, flags
/// (0x80 keyframe, no lacing), frame (RFC 9559, SimpleBlock Structure).
fn simple_block(buf: &mut Vec<u8>, track: u64, relative: i16, keyframe: bool, frame: &[u8]) {
    let mut head = Vec::with_capacity(4);
    ebml::size(&mut head, track);
    head.extend_from_slice(&relative.to_be_bytes());
    head.push(if keyframe { 0x80 } else { 0x00 });
    ebml::id(buf, id::SIMPLE_BLOCK);
    ebml::size(buf, (head.len() + frame.len()) as u64);
    buf.extend_from_slice(&head);
    buf.extend_from_slice(frame);
}

/// A SeekHead with one Seek per `(element id, position from Segment data start)`, using
/// 8-octet SeekPositions so its length depends only on the number of entries.
fn seek_head(entries: &[(u32, u64)], size_len: usize) -> Vec<u8> {
    let mut content = Vec::new();
    for &(target, pos) in entries {
        let mut seek = Vec::new();
        let mut target_id = Vec::new();
        ebml::id(&mut target_id, target);
        ebml::element(&mut seek, id::SEEK_ID, &target_id);
        ebml::uint8(&mut seek, id::SEEK_POSITION, pos);
        ebml::element(&mut content, id::SEEK, &seek);
    }
    let mut out = Vec::new();
    ebml::id(&mut out, id::SEEK_HEAD);
    ebml::vint(
        &mut out,
        content.len() as u64,
        size_len.max(ebml::size_len(content.len() as u64)),
    );
    out.extend_from_slice(&content);
    out
}

/// The SeekHead region: a SeekHead for `entries`, filled up to `region_len` with a Void.
fn seek_head_region(entries: &[(u32, u64)], region_len: usize) -> Vec<u8> {
    let mut sh = seek_head(entries, 1);
    if region_len.saturating_sub(sh.len()) == 1 {
        // A Void needs 2 octets: take the spare one into a longer SeekHead size instead.
        sh = seek_head(entries, 2);
    }
    let pad = region_len.saturating_sub(sh.len());
    sh.extend_from_slice(&ebml::void(pad));
    sh
}

/// Room for a SeekHead with Info, Tracks and Cues entries.
fn seek_head_region_len() -> usize {
    seek_head(&[(id::INFO, 0), (id::TRACKS, 0), (id::CUES, 0)], 1).len()
}

/// Everything before the first Cluster, and where its patchable parts are.
fn build_header(tracks: &Tracks, date_utc: Option<SystemTime>) -> (Vec<u8>, Layout) {
    let mut out = Vec::with_capacity(512);
    let mut ebml_head = Vec::new();
    ebml::uint(&mut ebml_head, id::EBML_VERSION, 1);
    ebml::uint(&mut ebml_head, id::EBML_READ_VERSION, 1);
    ebml::uint(&mut ebml_head, id::EBML_MAX_ID_LENGTH, 4);
    ebml::uint(&mut ebml_head, id::EBML_MAX_SIZE_LENGTH, 8);
    ebml::string(&mut ebml_head, id::DOC_TYPE, "webm");
    ebml::uint(&mut ebml_head, id::DOC_TYPE_VERSION, 4);
    ebml::uint(&mut ebml_head, id::DOC_TYPE_READ_VERSION, 2);
    ebml::element(&mut out, id::EBML, &ebml_head);

    ebml::id(&mut out, id::SEGMENT);
    let segment_size_at = out.len();
    out.extend_from_slice(&ebml::UNKNOWN_SIZE_8);
    let segment_data_start = out.len();

    let seek_head_at = out.len();
    let seek_head_len = seek_head_region_len();

    let mut info = Vec::new();
    ebml::uint(&mut info, id::TIMESTAMP_SCALE, TIMESTAMP_SCALE_NS);
    ebml::string(&mut info, id::MUXING_APP, APP_NAME);
    ebml::string(&mut info, id::WRITING_APP, APP_NAME);
    if let Some(t) = date_utc {
        ebml::date(&mut info, id::DATE_UTC, ebml_date(t));
    }
    let duration_in_info = info.len();
    info.extend_from_slice(&ebml::void(11));
    let mut info_el = Vec::new();
    ebml::element(&mut info_el, id::INFO, &info);
    let info_header_len = info_el.len() - info.len();

    let mut entries = Vec::new();
    let mut number = 1;
    if let Some(v) = tracks.video {
        let mut video = Vec::new();
        ebml::uint(&mut video, id::PIXEL_WIDTH, u64::from(v.width));
        ebml::uint(&mut video, id::PIXEL_HEIGHT, u64::from(v.height));
        let mut e = Vec::new();
        ebml::uint(&mut e, id::TRACK_NUMBER, number);
        ebml::uint(&mut e, id::TRACK_UID, number);
        ebml::uint(&mut e, id::TRACK_TYPE, 1);
        ebml::uint(&mut e, id::FLAG_LACING, 0);
        ebml::string(&mut e, id::LANGUAGE, "und");
        ebml::string(&mut e, id::CODEC_ID, "V_VP8");
        ebml::element(&mut e, id::VIDEO, &video);
        ebml::element(&mut entries, id::TRACK_ENTRY, &e);
        number += 1;
    }
    if let Some(a) = tracks.audio {
        let mut audio = Vec::new();
        ebml::float(&mut audio, id::SAMPLING_FREQUENCY, f64::from(OPUS_RATE));
        ebml::uint(&mut audio, id::CHANNELS, u64::from(a.channels));
        let delay_ns = (u64::from(a.pre_skip) * 1_000_000_000 + u64::from(OPUS_RATE) / 2)
            / u64::from(OPUS_RATE);
        let mut e = Vec::new();
        ebml::uint(&mut e, id::TRACK_NUMBER, number);
        ebml::uint(&mut e, id::TRACK_UID, number);
        ebml::uint(&mut e, id::TRACK_TYPE, 2);
        ebml::uint(&mut e, id::FLAG_LACING, 0);
        ebml::string(&mut e, id::LANGUAGE, "und");
        ebml::string(&mut e, id::CODEC_ID, "A_OPUS");
        ebml::element(
            &mut e,
            id::CODEC_PRIVATE,
            &opus_head(a.channels, a.pre_skip),
        );
        ebml::uint(&mut e, id::CODEC_DELAY, delay_ns);
        ebml::uint(&mut e, id::SEEK_PRE_ROLL, OPUS_SEEK_PRE_ROLL_NS);
        ebml::element(&mut e, id::AUDIO, &audio);
        ebml::element(&mut entries, id::TRACK_ENTRY, &e);
    }
    let mut tracks_el = Vec::new();
    ebml::element(&mut tracks_el, id::TRACKS, &entries);

    let info_pos = seek_head_len as u64;
    let tracks_pos = info_pos + info_el.len() as u64;
    out.extend_from_slice(&seek_head_region(
        &[(id::INFO, info_pos), (id::TRACKS, tracks_pos)],
        seek_head_len,
    ));
    let duration_at = out.len() + info_header_len + duration_in_info;
    out.extend_from_slice(&info_el);
    out.extend_from_slice(&tracks_el);
    let layout = Layout {
        segment_size_at,
        segment_data_start: segment_data_start as u64,
        seek_head_at,
        seek_head_len,
        info_pos,
        tracks_pos,
        duration_at,
    };
    (out, layout)
}

/// Nanoseconds since 2001-01-01T00:00:00 UTC, saturating at the i64 range.
fn ebml_date(t: SystemTime) -> i64 {
    let unix_ns: i128 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    };
    let ns = unix_ns.saturating_sub(EBML_EPOCH_UNIX_NS);
    i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
}

/// The Cues element: one CuePoint per entry.
fn cues_element(cues: &[CueEntry]) -> Vec<u8> {
    let mut points = Vec::with_capacity(cues.len() * 24);
    for c in cues {
        let mut pos = Vec::new();
        ebml::uint(&mut pos, id::CUE_TRACK, c.track);
        ebml::uint(&mut pos, id::CUE_CLUSTER_POSITION, c.cluster_pos);
        ebml::uint(&mut pos, id::CUE_RELATIVE_POSITION, c.relative_pos);
        let mut point = Vec::new();
        ebml::uint(&mut point, id::CUE_TIME, c.time);
        ebml::element(&mut point, id::CUE_TRACK_POSITIONS, &pos);
        ebml::element(&mut points, id::CUE_POINT, &point);
    }
    let mut out = Vec::with_capacity(points.len() + 12);
    ebml::element(&mut out, id::CUES, &points);
    out
}
