//! Unit tests: EBML primitives against bytes derived by hand from RFC 8794 / RFC 9559, and
//! the writer's structure, cluster, ordering, error and evidence rules, read back with the
//! small independent EBML reader in [`parse`].

use super::*;
use std::io::Cursor;

/// A minimal EBML/Matroska reader for checking what the writer produced. It shares no code
/// with the writer.
pub(super) mod parse {
    use std::ops::Range;

    /// One element: its ID, where it starts, and its data range (to the end of the input for
    /// an unknown size).
    #[derive(Clone, Debug)]
    pub struct El {
        pub id: u32,
        pub start: usize,
        pub data: Range<usize>,
        pub unknown_size: bool,
    }

    /// A VINT at `at`: (value without marker, length, all data bits set).
    pub fn vint(buf: &[u8], at: usize) -> Option<(u64, usize, bool)> {
        let first = *buf.get(at)?;
        if first == 0 {
            return None;
        }
        let len = first.leading_zeros() as usize + 1;
        let bytes = buf.get(at..at + len)?;
        let mut value = u64::from(first) & ((1u64 << (8 - len)) - 1);
        for b in &bytes[1..] {
            value = (value << 8) | u64::from(*b);
        }
        let all_ones = value == (1u64 << (7 * len)) - 1;
        Some((value, len, all_ones))
    }

    /// The element starting at `at`, bounded by `end`.
    pub fn element(buf: &[u8], at: usize, end: usize) -> Option<El> {
        let first = *buf.get(at)?;
        let id_len = first.leading_zeros() as usize + 1;
        if id_len > 4 {
            return None;
        }
        let id = buf
            .get(at..at + id_len)?
            .iter()
            .fold(0u32, |a, b| (a << 8) | u32::from(*b));
        let (size, size_len, unknown) = vint(buf, at + id_len)?;
        let data_start = at + id_len + size_len;
        let data_end = if unknown {
            end
        } else {
            data_start.checked_add(usize::try_from(size).ok()?)?
        };
        if data_end > end {
            return None;
        }
        Some(El {
            id,
            start: at,
            data: data_start..data_end,
            unknown_size: unknown,
        })
    }

    /// Children of a range; stops at the first element that does not fit (a torn tail).
    pub fn children(buf: &[u8], range: Range<usize>) -> Vec<El> {
        let mut out = Vec::new();
        let mut at = range.start;
        while at < range.end {
            match element(buf, at, range.end) {
                Some(el) => {
                    at = el.data.end;
                    out.push(el);
                }
                None => break,
            }
        }
        out
    }

    pub fn uint(buf: &[u8], el: &El) -> u64 {
        buf[el.data.clone()]
            .iter()
            .fold(0u64, |a, b| (a << 8) | u64::from(*b))
    }

    pub fn float(buf: &[u8], el: &El) -> f64 {
        let d = &buf[el.data.clone()];
        match d.len() {
            4 => f64::from(f32::from_be_bytes(d.try_into().unwrap())),
            8 => f64::from_be_bytes(d.try_into().unwrap()),
            n => panic!("float of {n} bytes"),
        }
    }

    pub fn find(els: &[El], id: u32) -> Option<&El> {
        els.iter().find(|e| e.id == id)
    }

    #[derive(Debug, Clone)]
    pub struct Block {
        pub track: u64,
        pub relative: i16,
        pub flags: u8,
        /// Absolute timestamp, ms.
        pub ts: u64,
        /// Position of the SimpleBlock element relative to its Cluster's data start.
        pub rel_pos: u64,
        pub data: Vec<u8>,
    }

    #[derive(Debug)]
    pub struct Cluster {
        /// Position relative to the Segment data start.
        pub pos: u64,
        pub range: Range<usize>,
        pub ts: u64,
        pub blocks: Vec<Block>,
    }

    #[derive(Debug)]
    pub struct Track {
        pub number: u64,
        pub kind: u64,
        pub codec: String,
        pub private: Vec<u8>,
        pub codec_delay: Option<u64>,
        pub seek_pre_roll: Option<u64>,
        pub lacing: Option<u64>,
        pub width: Option<u64>,
        pub height: Option<u64>,
        pub rate: Option<f64>,
        pub channels: Option<u64>,
    }

    #[derive(Debug)]
    pub struct Cue {
        pub time: u64,
        pub track: u64,
        pub cluster_pos: u64,
        pub rel_pos: Option<u64>,
    }

    #[derive(Debug)]
    pub struct File {
        pub doc_type: String,
        pub doc_type_version: u64,
        pub doc_type_read_version: u64,
        pub segment_unknown: bool,
        pub segment_data: Range<usize>,
        /// (target ID, position, target element found there)
        pub seeks: Vec<(u32, u64, bool)>,
        pub timestamp_scale: u64,
        pub duration: Option<f64>,
        pub muxing_app: String,
        pub writing_app: String,
        pub date_utc: Option<i64>,
        pub tracks: Vec<Track>,
        pub clusters: Vec<Cluster>,
        pub cues: Vec<Cue>,
        /// IDs of the Segment's children, in order.
        pub top: Vec<u32>,
    }

    /// Read a whole file; panics with a message on structural errors.
    pub fn file(buf: &[u8]) -> File {
        let ebml = element(buf, 0, buf.len()).expect("EBML header");
        assert_eq!(ebml.id, 0x1A45_DFA3, "file starts with the EBML header");
        let head = children(buf, ebml.data.clone());
        let doc_type =
            String::from_utf8(buf[find(&head, 0x4282).expect("DocType").data.clone()].to_vec())
                .unwrap();
        let doc_type_version = uint(buf, find(&head, 0x4287).expect("DocTypeVersion"));
        let doc_type_read_version = uint(buf, find(&head, 0x4285).expect("DocTypeReadVersion"));
        let seg = element(buf, ebml.data.end, buf.len()).expect("Segment");
        assert_eq!(seg.id, 0x1853_8067, "Segment follows the EBML header");
        let top = children(buf, seg.data.clone());
        let seg_start = seg.data.start;
        let mut seeks = Vec::new();
        if let Some(sh) = find(&top, 0x114D_9B74) {
            for seek in children(buf, sh.data.clone()) {
                assert_eq!(seek.id, 0x4DBB);
                let kids = children(buf, seek.data.clone());
                let target = find(&kids, 0x53AB).expect("SeekID");
                let target = buf[target.data.clone()]
                    .iter()
                    .fold(0u32, |a, b| (a << 8) | u32::from(*b));
                let pos = uint(buf, find(&kids, 0x53AC).expect("SeekPosition"));
                let found = element(buf, seg_start + pos as usize, buf.len())
                    .is_some_and(|e| e.id == target);
                seeks.push((target, pos, found));
            }
        }
        let info = find(&top, 0x1549_A966).expect("Info");
        let info_kids = children(buf, info.data.clone());
        let timestamp_scale = uint(buf, find(&info_kids, 0x2AD7B1).expect("TimestampScale"));
        let duration = find(&info_kids, 0x4489).map(|e| float(buf, e));
        let text = |id| {
            String::from_utf8(buf[find(&info_kids, id).expect("app").data.clone()].to_vec())
                .unwrap()
        };
        let muxing_app = text(0x4D80);
        let writing_app = text(0x5741);
        let date_utc = find(&info_kids, 0x4461)
            .map(|e| i64::from_be_bytes(buf[e.data.clone()].try_into().unwrap()));
        let mut tracks = Vec::new();
        for entry in children(buf, find(&top, 0x1654_AE6B).expect("Tracks").data.clone()) {
            assert_eq!(entry.id, 0xAE);
            let k = children(buf, entry.data.clone());
            let get = |id| find(&k, id).map(|e| uint(buf, e));
            let video = find(&k, 0xE0).map(|e| children(buf, e.data.clone()));
            let audio = find(&k, 0xE1).map(|e| children(buf, e.data.clone()));
            tracks.push(Track {
                number: get(0xD7).expect("TrackNumber"),
                kind: get(0x83).expect("TrackType"),
                codec: String::from_utf8(
                    buf[find(&k, 0x86).expect("CodecID").data.clone()].to_vec(),
                )
                .unwrap(),
                private: find(&k, 0x63A2)
                    .map(|e| buf[e.data.clone()].to_vec())
                    .unwrap_or_default(),
                codec_delay: get(0x56AA),
                seek_pre_roll: get(0x56BB),
                lacing: get(0x9C),
                width: video
                    .as_ref()
                    .and_then(|v| find(v, 0xB0).map(|e| uint(buf, e))),
                height: video
                    .as_ref()
                    .and_then(|v| find(v, 0xBA).map(|e| uint(buf, e))),
                rate: audio
                    .as_ref()
                    .and_then(|a| find(a, 0xB5).map(|e| float(buf, e))),
                channels: audio
                    .as_ref()
                    .and_then(|a| find(a, 0x9F).map(|e| uint(buf, e))),
            });
        }
        let mut clusters = Vec::new();
        for c in top.iter().filter(|e| e.id == 0x1F43_B675) {
            assert!(!c.unknown_size, "clusters have known sizes");
            let kids = children(buf, c.data.clone());
            assert_eq!(
                kids.first().map(|e| e.id),
                Some(0xE7),
                "Timestamp comes first"
            );
            let ts = uint(buf, &kids[0]);
            let mut blocks = Vec::new();
            for b in kids.iter().skip(1) {
                assert_eq!(b.id, 0xA3, "only SimpleBlocks in clusters");
                let (track, tlen, _) = vint(buf, b.data.start).unwrap();
                let h = b.data.start + tlen;
                let relative = i16::from_be_bytes([buf[h], buf[h + 1]]);
                let flags = buf[h + 2];
                blocks.push(Block {
                    track,
                    relative,
                    flags,
                    ts: (ts as i64 + i64::from(relative)) as u64,
                    rel_pos: (b.start - c.data.start) as u64,
                    data: buf[h + 3..b.data.end].to_vec(),
                });
            }
            clusters.push(Cluster {
                pos: (c.start - seg_start) as u64,
                range: c.start..c.data.end,
                ts,
                blocks,
            });
        }
        let mut cues = Vec::new();
        if let Some(cu) = find(&top, 0x1C53_BB6B) {
            for p in children(buf, cu.data.clone()) {
                assert_eq!(p.id, 0xBB);
                let k = children(buf, p.data.clone());
                let time = uint(buf, find(&k, 0xB3).expect("CueTime"));
                let tp = children(buf, find(&k, 0xB7).expect("CueTrackPositions").data.clone());
                cues.push(Cue {
                    time,
                    track: uint(buf, find(&tp, 0xF7).expect("CueTrack")),
                    cluster_pos: uint(buf, find(&tp, 0xF1).expect("CueClusterPosition")),
                    rel_pos: find(&tp, 0xF0).map(|e| uint(buf, e)),
                });
            }
        }
        File {
            doc_type,
            doc_type_version,
            doc_type_read_version,
            segment_unknown: seg.unknown_size,
            segment_data: seg.data.clone(),
            seeks,
            timestamp_scale,
            duration,
            muxing_app,
            writing_app,
            date_utc,
            tracks,
            clusters,
            cues,
            top: top.iter().map(|e| e.id).collect(),
        }
    }

    impl File {
        pub fn blocks(&self) -> impl Iterator<Item = &Block> {
            self.clusters.iter().flat_map(|c| c.blocks.iter())
        }
    }

    /// Check the invariants every output must satisfy, whatever was fed in.
    pub fn check_invariants(f: &File) {
        assert_eq!(f.doc_type, "webm");
        let mut last = 0u64;
        let mut last_cluster = 0u64;
        for c in &f.clusters {
            assert!(c.ts >= last_cluster, "cluster timestamps go forward");
            assert!(!c.blocks.is_empty(), "no empty clusters");
            last_cluster = c.ts;
            for b in &c.blocks {
                assert!(b.relative >= 0, "blocks never precede their cluster");
                assert!(b.ts >= last, "block timestamps never go backwards");
                assert_eq!(b.flags & 0x7F, 0, "no lacing, no other flags");
                assert!(!b.data.is_empty());
                last = b.ts;
            }
        }
        for w in f.cues.windows(2) {
            assert!(w[0].time <= w[1].time, "cue times sorted");
        }
        for cue in &f.cues {
            let c = f
                .clusters
                .iter()
                .find(|c| c.pos == cue.cluster_pos)
                .expect("every cue points at a cluster start");
            let rel = cue.rel_pos.expect("CueRelativePosition");
            let b = c
                .blocks
                .iter()
                .find(|b| b.rel_pos == rel)
                .expect("CueRelativePosition points at a block");
            assert_eq!(b.ts, cue.time, "cue time is the block's time");
            assert_eq!(b.track, cue.track);
            assert_eq!(b.flags & 0x80, 0x80, "cues point at keyframes");
        }
        for (_, _, found) in &f.seeks {
            assert!(found, "every SeekHead entry points at its element");
        }
    }
}

// ---- EBML primitives -----------------------------------------------------------------------

fn bytes(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = Vec::new();
    f(&mut b);
    b
}

#[test]
fn element_ids_keep_their_marker_bits() {
    // RFC 8794 §5: an Element ID is a VINT stored with its marker, at its shortest length.
    // IDs from RFC 8794 §11.2 (EBML) and the RFC 9559 element table (Segment, Seek, ...).
    assert_eq!(
        bytes(|b| ebml::id(b, 0x1A45_DFA3)),
        [0x1A, 0x45, 0xDF, 0xA3]
    );
    assert_eq!(bytes(|b| ebml::id(b, 0x2A_D7B1)), [0x2A, 0xD7, 0xB1]);
    assert_eq!(bytes(|b| ebml::id(b, 0x4DBB)), [0x4D, 0xBB]);
    assert_eq!(bytes(|b| ebml::id(b, 0xA3)), [0xA3]);
    assert_eq!(bytes(|b| ebml::id(b, 0xEC)), [0xEC]);
    for (id, len) in [
        (0xA3u32, 1usize),
        (0x4DBB, 2),
        (0x2A_D7B1, 3),
        (0x1A45_DFA3, 4),
    ] {
        assert_eq!(ebml::element_len(id, 5), len + 1 + 5);
    }
    assert_eq!(ebml::element_len(0xA3, 127), 1 + 2 + 127);
}

#[test]
fn vints_follow_rfc8794_examples() {
    // RFC 8794 §4.4, table "VINT Examples Depicting the Same Integer Value Rendered at
    // Different VINT Lengths": 2 is 0x82, 0x4002, 0x200002, 0x10000002.
    assert_eq!(bytes(|b| ebml::vint(b, 2, 1)), [0x82]);
    assert_eq!(bytes(|b| ebml::vint(b, 2, 2)), [0x40, 0x02]);
    assert_eq!(bytes(|b| ebml::vint(b, 2, 3)), [0x20, 0x00, 0x02]);
    assert_eq!(bytes(|b| ebml::vint(b, 2, 4)), [0x10, 0x00, 0x00, 0x02]);
    // 8 octets: marker is bit 0 of the first octet (0000 0001), then 56 data bits.
    assert_eq!(
        bytes(|b| ebml::vint(b, 0x1234, 8)),
        [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34]
    );
}

#[test]
fn sizes_use_the_shortest_length_and_avoid_the_reserved_value() {
    // RFC 8794 §6.3: n octets carry 0 ..= 2^(7n) - 2; all ones means unknown (§6.2).
    assert_eq!(bytes(|b| ebml::size(b, 0)), [0x80]);
    assert_eq!(bytes(|b| ebml::size(b, 126)), [0xFE]);
    assert_eq!(bytes(|b| ebml::size(b, 127)), [0x40, 0x7F]);
    assert_eq!(bytes(|b| ebml::size(b, 16_382)), [0x7F, 0xFE]);
    assert_eq!(bytes(|b| ebml::size(b, 16_383)), [0x20, 0x3F, 0xFF]);
    assert_eq!(bytes(|b| ebml::size(b, (1 << 21) - 2)), [0x3F, 0xFF, 0xFE]);
    assert_eq!(
        bytes(|b| ebml::size(b, (1 << 21) - 1)),
        [0x10, 0x1F, 0xFF, 0xFF]
    );
    assert_eq!(
        bytes(|b| ebml::size(b, (1 << 49) - 1)),
        [0x01, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    assert_eq!(
        bytes(|b| ebml::size(b, ebml::MAX_SIZE)),
        [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]
    );
    for (v, len) in [
        (0u64, 1usize),
        (126, 1),
        (127, 2),
        (16_383, 3),
        (1 << 28, 5),
    ] {
        assert_eq!(ebml::size_len(v), len, "size_len({v})");
    }
}

#[test]
fn unknown_size_is_eight_octets_of_ones() {
    // RFC 8794 §6.2: all VINT_DATA bits set. At 8 octets: 0000 0001 then 56 ones.
    assert_eq!(
        ebml::UNKNOWN_SIZE_8,
        [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    let (value, len, unknown) = parse::vint(&ebml::UNKNOWN_SIZE_8, 0).unwrap();
    assert_eq!((value, len, unknown), ((1 << 56) - 1, 8, true));
}

#[test]
fn typed_elements_match_hand_encoded_bytes() {
    // Unsigned Integer (RFC 8794 §7.2), big-endian, shortest: TrackNumber (0xD7) 1,
    // TimestampScale (0x2AD7B1) 1_000_000 = 0x0F4240, zero as one octet, 256 in two.
    assert_eq!(bytes(|b| ebml::uint(b, 0xD7, 1)), [0xD7, 0x81, 0x01]);
    assert_eq!(
        bytes(|b| ebml::uint(b, 0x2A_D7B1, 1_000_000)),
        [0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]
    );
    assert_eq!(bytes(|b| ebml::uint(b, 0x9C, 0)), [0x9C, 0x81, 0x00]);
    assert_eq!(
        bytes(|b| ebml::uint(b, 0xB0, 256)),
        [0xB0, 0x82, 0x01, 0x00]
    );
    assert_eq!(
        bytes(|b| ebml::uint(b, 0xF1, u64::MAX)),
        [0xF1, 0x88, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    // Float (§7.3): SamplingFrequency (0xB5) 48000.0 = 1.46484375 * 2^15, binary64
    // exponent 1023 + 15 = 0x40E, fraction 0.46484375 = 0x77 << 44: 0x40E7700000000000.
    assert_eq!(
        bytes(|b| ebml::float(b, 0xB5, 48_000.0)),
        [0xB5, 0x88, 0x40, 0xE7, 0x70, 0, 0, 0, 0, 0]
    );
    // Duration (0x4489) 1.0 = 0x3FF0000000000000.
    assert_eq!(
        bytes(|b| ebml::float(b, 0x4489, 1.0)),
        [0x44, 0x89, 0x88, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0]
    );
    // String (§7.4): DocType (0x4282) "webm".
    assert_eq!(
        bytes(|b| ebml::string(b, 0x4282, "webm")),
        [0x42, 0x82, 0x84, b'w', b'e', b'b', b'm']
    );
    // Date (§7.6): 8 octets, signed ns since 2001-01-01; the Unix epoch is 978307200 s before.
    assert_eq!(ebml_date(UNIX_EPOCH + Duration::from_secs(978_307_200)), 0);
    assert_eq!(ebml_date(UNIX_EPOCH), -978_307_200_000_000_000);
    assert_eq!(
        bytes(|b| ebml::date(b, 0x4461, -1)),
        [
            0x44, 0x61, 0x88, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
        ]
    );
    // Binary (§7.8) / Master (§7.7): ID, size, data as given.
    assert_eq!(
        bytes(|b| ebml::element(b, 0x63A2, &[1, 2, 3])),
        [0x63, 0xA2, 0x83, 1, 2, 3]
    );
}

#[test]
fn voids_fill_exact_lengths() {
    // Void (RFC 8794 §11.3.2, ID 0xEC): 11 octets = ID, size 9 (0x89), 9 zero octets.
    assert_eq!(ebml::void(11), [0xEC, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(ebml::void(2), [0xEC, 0x80]);
    for total in [2usize, 3, 11, 127, 128, 129, 130, 500] {
        let v = ebml::void(total);
        assert_eq!(v.len(), total, "void({total})");
        let el = parse::element(&v, 0, v.len()).expect("parses");
        assert_eq!((el.id, el.data.end), (0xEC, total));
    }
    assert!(ebml::void(1).is_empty() && ebml::void(0).is_empty());
}

#[test]
fn simple_block_layout() {
    // RFC 9559, SimpleBlock Structure: track number as a VINT (track 1 = 0x81), signed 16-bit
    // big-endian relative timestamp, flags (0x80 keyframe; lacing bits 0), then the frame.
    let b = bytes(|b| simple_block(b, 1, 0x0102, true, &[0xAA, 0xBB]));
    assert_eq!(b, [0xA3, 0x86, 0x81, 0x01, 0x02, 0x80, 0xAA, 0xBB]);
    let b = bytes(|b| simple_block(b, 2, -1, false, &[0xCC]));
    assert_eq!(b, [0xA3, 0x85, 0x82, 0xFF, 0xFF, 0x00, 0xCC]);
}

#[test]
fn opus_head_follows_rfc7845() {
    // RFC 7845 §5.1: "OpusHead", version 1, channels, pre-skip LE, rate LE, gain LE, family.
    // 312 = 0x0138, 48000 = 0x0000BB80.
    assert_eq!(
        opus_head(2, 312),
        [
            b'O', b'p', b'u', b's', b'H', b'e', b'a', b'd', 1, 2, 0x38, 0x01, 0x80, 0xBB, 0x00,
            0x00, 0, 0, 0
        ]
    );
}

#[test]
fn opus_packet_durations_from_the_toc() {
    // RFC 6716 §3.1: config = toc >> 3, frame count from the low two bits.
    assert_eq!(opus_packet_samples(&[31 << 3]), Some(960)); // CELT FB 20 ms, one frame
    assert_eq!(opus_packet_samples(&[15 << 3]), Some(960)); // Hybrid FB 20 ms
    assert_eq!(opus_packet_samples(&[12 << 3]), Some(480)); // Hybrid SWB 10 ms
    assert_eq!(opus_packet_samples(&[1]), Some(960)); // SILK NB 10 ms, two frames
    assert_eq!(opus_packet_samples(&[3 << 3]), Some(2880)); // SILK NB 60 ms
    assert_eq!(opus_packet_samples(&[(16 << 3) | 3, 3]), Some(360)); // CELT 2.5 ms x 3
    assert_eq!(opus_packet_samples(&[(3 << 3) | 3, 2]), Some(5760)); // 2 x 60 ms = 120 ms
    assert_eq!(opus_packet_samples(&[(3 << 3) | 3, 3]), None); // 180 ms: invalid
    assert_eq!(opus_packet_samples(&[(16 << 3) | 3, 0]), None); // zero frames
    assert_eq!(opus_packet_samples(&[(16 << 3) | 3]), None); // code 3 without count
    assert_eq!(opus_packet_samples(&[]), None);
}

#[test]
fn vp8_keyframes_are_recognised_by_their_frame_tag() {
    assert!(vp8_is_keyframe(&key_frame(1)));
    assert!(!vp8_is_keyframe(&inter_frame(1)));
    let mut no_start_code = key_frame(1);
    no_start_code[4] = 0;
    assert!(!vp8_is_keyframe(&no_start_code));
    assert!(!vp8_is_keyframe(&key_frame(1)[..9]));
}

// ---- synthetic frames and helpers ----------------------------------------------------------

/// A VP8 keyframe-shaped frame (RFC 6386 §9.1: tag with bit 0 clear, start code, 320x240).
fn key_frame(tag: u8) -> Vec<u8> {
    vec![
        0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xF0, 0x00, tag, tag,
    ]
}

fn inter_frame(tag: u8) -> Vec<u8> {
    vec![0x31, 0x01, 0x00, tag, tag, tag]
}

/// A 20 ms mono CELT Opus packet (TOC config 31, code 0).
fn opus(tag: u8) -> Vec<u8> {
    vec![31 << 3, tag, tag]
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

const AV: Tracks = Tracks {
    video: Some(VideoTrack {
        width: 320,
        height: 240,
    }),
    audio: Some(AudioTrack {
        channels: 1,
        pre_skip: 312,
    }),
};

fn writer(tracks: Tracks, options: WriterOptions) -> WebmWriter<Cursor<Vec<u8>>> {
    WebmWriter::with_options(Cursor::new(Vec::new()), tracks, options).unwrap()
}

/// Feed `secs` seconds of 30 fps video (keyframe every `key_every` frames) and 20 ms audio,
/// in timestamp order.
fn feed_av(w: &mut WebmWriter<Cursor<Vec<u8>>>, secs: u64, key_every: u64) {
    let mut v = 0u64;
    let mut a = 0u64;
    loop {
        let vt = v * 1000 / 30;
        let at = a * 20;
        if vt >= secs * 1000 && at >= secs * 1000 {
            break;
        }
        if vt <= at && vt < secs * 1000 {
            let key = v.is_multiple_of(key_every);
            let f = if key {
                key_frame(v as u8)
            } else {
                inter_frame(v as u8)
            };
            w.write_video(ms(vt), &f, key).unwrap();
            v += 1;
        } else {
            w.write_audio(ms(at), &opus(a as u8)).unwrap();
            a += 1;
        }
    }
}

fn finish(w: WebmWriter<Cursor<Vec<u8>>>) -> (Summary, Vec<u8>) {
    let (s, out) = w.finish_into_inner().unwrap();
    (s, out.into_inner())
}

// ---- structure -----------------------------------------------------------------------------

#[test]
fn header_and_tracks_are_complete() {
    let opts = WriterOptions {
        date_utc: Some(UNIX_EPOCH + Duration::from_secs(978_307_200 + 1)),
        ..WriterOptions::default()
    };
    let mut w = writer(AV, opts);
    feed_av(&mut w, 3, 30);
    let (s, buf) = finish(w);
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    assert_eq!(
        (
            f.doc_type.as_str(),
            f.doc_type_version,
            f.doc_type_read_version
        ),
        ("webm", 4, 2)
    );
    assert!(!f.segment_unknown, "finish() patches the Segment size");
    assert_eq!(
        f.segment_data.end,
        buf.len(),
        "Segment size covers the rest of the file"
    );
    assert_eq!(f.timestamp_scale, 1_000_000);
    assert_eq!(
        (f.muxing_app.as_str(), f.writing_app.as_str()),
        ("globallink", "globallink")
    );
    assert_eq!(f.date_utc, Some(1_000_000_000));
    assert_eq!(f.duration, Some(3000.0));
    assert_eq!(s.duration, ms(3000));
    let targets: Vec<u32> = f.seeks.iter().map(|s| s.0).collect();
    assert_eq!(targets, [0x1549_A966, 0x1654_AE6B, 0x1C53_BB6B]);
    assert_eq!(
        f.top[..3],
        [0x114D_9B74, 0x1549_A966, 0x1654_AE6B],
        "SeekHead, Info, Tracks, with the spare SeekHead room used up"
    );
    assert_eq!(*f.top.last().unwrap(), 0x1C53_BB6B, "Cues come last");
    let v = &f.tracks[0];
    assert_eq!((v.number, v.kind, v.codec.as_str()), (1, 1, "V_VP8"));
    assert_eq!(
        (v.width, v.height, v.lacing),
        (Some(320), Some(240), Some(0))
    );
    let a = &f.tracks[1];
    assert_eq!((a.number, a.kind, a.codec.as_str()), (2, 2, "A_OPUS"));
    assert_eq!(a.private, opus_head(1, 312));
    assert_eq!(
        a.codec_delay,
        Some(6_500_000),
        "312 samples at 48 kHz = 6.5 ms"
    );
    assert_eq!(a.seek_pre_roll, Some(80_000_000));
    assert_eq!((a.rate, a.channels), (Some(48_000.0), Some(1)));
    assert_eq!(s.video_frames, 90);
    assert_eq!(s.audio_frames, 150);
    assert_eq!(f.blocks().count(), 240);
    assert_eq!(s.end_offset, buf.len() as u64);
}

#[test]
fn audio_only_file_numbers_its_track_one() {
    let mut w = writer(
        Tracks {
            video: None,
            audio: Some(AudioTrack {
                channels: 2,
                pre_skip: 0,
            }),
        },
        WriterOptions::default(),
    );
    for i in 0..100 {
        w.write_audio(ms(i * 20), &opus(i as u8)).unwrap();
    }
    assert_eq!(
        w.write_video(ms(2000), &key_frame(0), true)
            .unwrap_err()
            .to_string(),
        "this recording has no video track"
    );
    let (_, buf) = finish(w);
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    assert_eq!(f.tracks.len(), 1);
    assert_eq!((f.tracks[0].number, f.tracks[0].codec_delay), (1, Some(0)));
    assert!(f.blocks().all(|b| b.track == 1 && b.flags == 0x80));
}

#[test]
fn clusters_start_on_keyframes_once_five_seconds_old() {
    let mut w = writer(AV, WriterOptions::default());
    feed_av(&mut w, 12, 30); // keyframe every second
    let (s, buf) = finish(w);
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    let starts: Vec<u64> = f.clusters.iter().map(|c| c.ts).collect();
    assert_eq!(starts, [0, 5000, 10_000]);
    for c in &f.clusters {
        let first = &c.blocks[0];
        assert_eq!((first.track, first.flags, first.relative), (1, 0x80, 0));
    }
    // Every keyframe (one a second) gets a cue; each cue names the cluster holding it.
    let cues: Vec<(u64, u64)> = f.cues.iter().map(|c| (c.time, c.cluster_pos)).collect();
    let expected: Vec<(u64, u64)> = (0..12)
        .map(|i| (i * 1000, f.clusters[(i / 5) as usize].pos))
        .collect();
    assert_eq!(cues, expected);
    assert!(f.cues.iter().all(|c| c.track == 1 && c.rel_pos.is_some()));
    assert_eq!(s.clusters, 3);
    assert_eq!(s.video_keyframes, 12);
}

#[test]
fn frequent_keyframes_get_cues_at_most_once_a_second() {
    let mut w = writer(AV, WriterOptions::default());
    feed_av(&mut w, 12, 10); // keyframes every 333 ms
    let (s, buf) = finish(w);
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    assert_eq!(s.video_keyframes, 36);
    let times: Vec<u64> = f.cues.iter().map(|c| c.time).collect();
    // 0, then the first keyframe >= 1 s after the previous cue: 1000 (frame 30), ...
    let expected: Vec<u64> = (0..12).map(|i| i * 1000).collect();
    assert_eq!(times, expected);
}

#[test]
fn clusters_are_forced_at_the_maximum_without_keyframes() {
    let mut w = writer(AV, WriterOptions::default());
    feed_av(&mut w, 25, 100_000); // one keyframe, at 0
    let (_, buf) = finish(w);
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    let starts: Vec<u64> = f.clusters.iter().map(|c| c.ts).collect();
    assert_eq!(starts, [0, 10_000, 20_000]);
    // The later clusters have no video keyframe: their cue is for the first audio block.
    let cues: Vec<(u64, u64)> = f.cues.iter().map(|c| (c.time, c.track)).collect();
    assert_eq!(cues, [(0, 1), (10_000, 2), (20_000, 2)]);
}

#[test]
fn long_cluster_maximum_is_capped_by_the_16_bit_block_timestamp() {
    let opts = WriterOptions {
        cluster_target: Duration::from_secs(100),
        cluster_max: Duration::from_secs(100),
        ..WriterOptions::default()
    };
    let mut w = writer(AV, opts);
    feed_av(&mut w, 70, 100_000);
    let (_, buf) = finish(w);
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    let starts: Vec<u64> = f.clusters.iter().map(|c| c.ts).collect();
    // 32767 is not a multiple of the 20 ms / 33.3 ms grid: each cut comes at the first block
    // at least 32767 ms after the cluster start.
    assert_eq!(starts.len(), 3, "{starts:?}");
    for (c, next) in f.clusters.iter().zip(starts.iter().skip(1)) {
        assert!(next - c.ts >= 32_767 && next - c.ts < 32_767 + 40);
        assert!(c.blocks.iter().all(|b| b.relative >= 0));
    }
}

#[test]
fn audio_only_clusters_are_cut_by_time_and_across_gaps() {
    let mut w = writer(
        Tracks {
            video: None,
            audio: Some(AudioTrack {
                channels: 1,
                pre_skip: 0,
            }),
        },
        WriterOptions::default(),
    );
    for i in 0..400 {
        w.write_audio(ms(i * 20), &opus(1)).unwrap(); // 0 .. 8 s
    }
    w.write_audio(ms(60_000), &opus(2)).unwrap(); // a 52 s gap
    w.write_audio(ms(60_020), &opus(3)).unwrap();
    let (s, buf) = finish(w);
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    let starts: Vec<u64> = f.clusters.iter().map(|c| c.ts).collect();
    assert_eq!(starts, [0, 5000, 60_000]);
    assert_eq!(f.cues.len(), 3, "every audio-only cluster has a cue");
    assert_eq!(s.duration, ms(60_040));
}

#[test]
fn video_without_audio_duration_adds_the_last_frame_interval() {
    let mut w = writer(
        Tracks {
            video: Some(VideoTrack {
                width: 2,
                height: 2,
            }),
            audio: None,
        },
        WriterOptions::default(),
    );
    for i in 0..10u64 {
        w.write_video(ms(i * 100), &key_frame(i as u8), true)
            .unwrap();
    }
    let (s, buf) = finish(w);
    assert_eq!(s.duration, ms(1000));
    assert_eq!(parse::file(&buf).duration, Some(1000.0));
}

// ---- ordering ------------------------------------------------------------------------------

#[test]
fn blocks_are_interleaved_within_the_window() {
    let mut w = writer(AV, WriterOptions::default());
    // Video lags audio by 300 ms in arrival: both are fed in per-track order.
    let mut video: Vec<u64> = (0..90).map(|i| i * 1000 / 30).collect();
    let audio: Vec<u64> = (0..150).map(|i| i * 20).collect();
    let mut ai = 0;
    while ai < audio.len() || !video.is_empty() {
        if ai < audio.len() && (video.is_empty() || audio[ai] < video[0] + 300) {
            w.write_audio(ms(audio[ai]), &opus(ai as u8)).unwrap();
            ai += 1;
        } else {
            let t = video.remove(0);
            w.write_video(ms(t), &key_frame(t as u8), true).unwrap();
        }
    }
    let (s, buf) = finish(w);
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    assert_eq!((s.video_frames, s.audio_frames), (90, 150));
    let ts: Vec<u64> = f.blocks().map(|b| b.ts).collect();
    let mut sorted = ts.clone();
    sorted.sort();
    assert_eq!(ts, sorted);
    // On equal timestamps video comes first (0, 100, 200, ... ms are shared).
    for pair in f.blocks().collect::<Vec<_>>().windows(2) {
        if pair[0].ts == pair[1].ts {
            assert!(
                pair[0].track <= pair[1].track,
                "{:?} {:?}",
                (pair[0].ts, pair[0].track),
                (pair[1].ts, pair[1].track)
            );
        }
    }
}

#[test]
fn late_frames_are_refused_with_a_typed_error() {
    let opts = WriterOptions {
        reorder_window: ms(100),
        ..WriterOptions::default()
    };
    let mut w = writer(AV, opts);
    w.write_video(ms(0), &key_frame(0), true).unwrap();
    for i in 0..20 {
        w.write_audio(ms(i * 20), &opus(i as u8)).unwrap(); // up to 380 ms: 280 released
    }
    match w.write_video(ms(100), &inter_frame(1), false) {
        Err(WebmError::OutOfOrder {
            track: TrackKind::Video,
            timestamp_ms: 100,
            written_ms: 280,
        }) => {}
        other => panic!("expected OutOfOrder, got {other:?}"),
    }
    // Within the window it is still accepted, and the writer goes on.
    w.write_video(ms(300), &inter_frame(2), false).unwrap();
    w.write_audio(ms(400), &opus(99)).unwrap();
    let (s, buf) = finish(w);
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    assert_eq!(s.video_frames, 2);
    assert_eq!(s.audio_frames, 21);
}

#[test]
fn zero_window_means_caller_order_is_kept() {
    let opts = WriterOptions {
        reorder_window: Duration::ZERO,
        ..WriterOptions::default()
    };
    let mut w = writer(AV, opts);
    w.write_audio(ms(40), &opus(1)).unwrap();
    assert!(matches!(
        w.write_video(ms(39), &key_frame(1), true),
        Err(WebmError::OutOfOrder { .. })
    ));
    w.write_video(ms(40), &key_frame(2), true).unwrap(); // equal timestamps are fine
    let (_, buf) = finish(w);
    let f = parse::file(&buf);
    let order: Vec<(u64, u64)> = f.blocks().map(|b| (b.ts, b.track)).collect();
    assert_eq!(order, [(40, 2), (40, 1)]);
}

#[test]
fn inter_frames_before_the_first_keyframe_are_dropped() {
    let mut w = writer(AV, WriterOptions::default());
    assert!(w.needs_keyframe());
    for i in 0..5u64 {
        w.write_video(ms(i * 33), &inter_frame(i as u8), false)
            .unwrap();
    }
    // Claimed keyframe whose frame tag says inter frame: not a keyframe.
    w.write_video(ms(170), &inter_frame(9), true).unwrap();
    assert!(w.needs_keyframe());
    w.write_video(ms(200), &key_frame(7), true).unwrap();
    assert!(!w.needs_keyframe());
    w.write_video(ms(233), &inter_frame(8), false).unwrap();
    let (s, buf) = finish(w);
    assert_eq!(s.video_frames_before_keyframe, 6);
    assert_eq!((s.video_frames, s.video_keyframes), (2, 1));
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    let first = f.blocks().next().unwrap();
    assert_eq!(
        (first.ts, first.flags, first.data.clone()),
        (200, 0x80, key_frame(7))
    );
}

// ---- errors --------------------------------------------------------------------------------

#[test]
fn bad_input_gets_typed_errors_and_nothing_is_written() {
    let mut w = writer(
        Tracks {
            video: Some(VideoTrack {
                width: 1,
                height: 1,
            }),
            audio: None,
        },
        WriterOptions::default(),
    );
    let before = w.bytes_written();
    assert!(matches!(
        w.write_audio(ms(0), &opus(0)),
        Err(WebmError::NoSuchTrack(TrackKind::Audio))
    ));
    assert!(matches!(
        w.write_video(ms(0), &[], true),
        Err(WebmError::EmptyFrame(TrackKind::Video))
    ));
    let big = vec![0u8; MAX_FRAME_BYTES + 1];
    match w.write_video(ms(0), &big, false) {
        Err(WebmError::TooLarge { size, max, .. }) => {
            assert_eq!((size, max), (MAX_FRAME_BYTES + 1, MAX_FRAME_BYTES))
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(
        w.write_video(MAX_TIMESTAMP + ms(1), &key_frame(0), true),
        Err(WebmError::TimestampOutOfRange(_))
    ));
    assert!(matches!(
        w.write_video(Duration::MAX, &key_frame(0), true),
        Err(WebmError::TimestampOutOfRange(_))
    ));
    // A frame of exactly the limit is accepted.
    let mut max = vec![0u8; MAX_FRAME_BYTES];
    max[..12].copy_from_slice(&key_frame(0));
    w.write_video(ms(0), &max, true).unwrap();
    assert_eq!(
        w.bytes_written(),
        before,
        "nothing written before the cluster closes"
    );
    let (s, buf) = finish(w);
    assert_eq!(s.video_frames, 1);
    parse::check_invariants(&parse::file(&buf));
}

#[test]
fn invalid_track_descriptions_are_refused() {
    let cases = [
        Tracks::default(),
        Tracks {
            video: Some(VideoTrack {
                width: 0,
                height: 240,
            }),
            audio: None,
        },
        Tracks {
            video: None,
            audio: Some(AudioTrack {
                channels: 3,
                pre_skip: 0,
            }),
        },
        Tracks {
            video: None,
            audio: Some(AudioTrack {
                channels: 0,
                pre_skip: 0,
            }),
        },
    ];
    for tracks in cases {
        let r = WebmWriter::new(Cursor::new(Vec::new()), tracks);
        assert!(matches!(r, Err(WebmError::InvalidTracks(_))), "{tracks:?}");
    }
}

/// A Write + Seek that fails every write once `budget` bytes have been written.
struct Failing {
    inner: Cursor<Vec<u8>>,
    budget: usize,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.budget {
            return Err(io::Error::other("disk full"));
        }
        self.budget -= buf.len();
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Failing {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[test]
fn an_io_error_fails_the_writer_for_good() {
    let out = Failing {
        inner: Cursor::new(Vec::new()),
        budget: 2000,
    };
    let mut w = WebmWriter::new(out, AV).unwrap();
    let mut result = Ok(());
    for i in 0..600u64 {
        result = w.write_audio(ms(i * 20), &opus(1));
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(WebmError::Io(_))), "{result:?}");
    assert!(matches!(
        w.write_audio(ms(20_000), &opus(1)),
        Err(WebmError::Failed)
    ));
    assert!(matches!(w.finish(), Err(WebmError::Failed)));
    let too_small = Failing {
        inner: Cursor::new(Vec::new()),
        budget: 10,
    };
    assert!(matches!(
        WebmWriter::new(too_small, AV),
        Err(WebmError::Io(_))
    ));
}

// ---- evidence segments ---------------------------------------------------------------------

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&SHA256, data).as_ref());
    out
}

/// Check that header, segments and cues tile the file and that each hash matches its bytes.
fn check_pieces(s: &Summary, buf: &[u8]) {
    let mut at = s.header.byte_range.start;
    assert_eq!(at, 0);
    let mut pieces = vec![(s.header.byte_range.clone(), s.header.sha256)];
    pieces.extend(s.segments.iter().map(|g| (g.byte_range.clone(), g.sha256)));
    pieces.extend(s.cues.iter().map(|c| (c.byte_range.clone(), c.sha256)));
    for (range, hash) in pieces {
        assert_eq!(range.start, at, "pieces are contiguous");
        assert!(range.end > range.start, "pieces are non-empty");
        assert_eq!(
            sha256(&buf[range.start as usize..range.end as usize]),
            hash,
            "hash of {range:?}"
        );
        at = range.end;
    }
    assert_eq!(at, buf.len() as u64, "pieces cover the whole file");
}

#[test]
fn segments_tile_the_file_and_hash_its_final_bytes() {
    let mut w = writer(AV, WriterOptions::default());
    feed_av(&mut w, 25, 30);
    let (s, buf) = finish(w);
    check_pieces(&s, &buf);
    let f = parse::file(&buf);
    // Clusters at 0, 5, 10, 15, 20 s; boundaries 10 s and 20 s close segments at 10 and 20.
    let spans: Vec<(u64, u64)> = s.segments.iter().map(|g| (g.start_ms, g.end_ms)).collect();
    assert_eq!(spans, [(0, 10_000), (10_000, 20_000), (20_000, 25_000)]);
    let idx: Vec<u32> = s.segments.iter().map(|g| g.index).collect();
    assert_eq!(idx, [0, 1, 2]);
    // Segment boundaries are cluster boundaries.
    let seg0 = f.segment_data.start as u64;
    for g in &s.segments {
        assert!(
            f.clusters
                .iter()
                .any(|c| c.pos + seg0 == g.byte_range.start)
        );
    }
    assert_eq!(
        s.header.byte_range.end,
        f.clusters[0].pos + seg0,
        "the header piece ends at the first cluster"
    );
}

#[test]
fn flipping_one_byte_changes_exactly_one_piece() {
    let mut w = writer(AV, WriterOptions::default());
    feed_av(&mut w, 25, 30);
    let (s, buf) = finish(w);
    for target in 0..s.segments.len() {
        let r = &s.segments[target].byte_range;
        let mut copy = buf.clone();
        let at = (r.start + (r.end - r.start) / 2) as usize;
        copy[at] ^= 0x01;
        let changed: Vec<usize> = s
            .segments
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                sha256(&copy[g.byte_range.start as usize..g.byte_range.end as usize]) != g.sha256
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(changed, [target]);
        let h = &s.header.byte_range;
        assert_eq!(
            sha256(&copy[h.start as usize..h.end as usize]),
            s.header.sha256
        );
    }
}

#[test]
fn closed_segments_are_available_while_recording() {
    let opts = WriterOptions {
        segment_interval: Duration::from_secs(2),
        cluster_target: Duration::from_secs(1),
        ..WriterOptions::default()
    };
    let mut w = writer(AV, opts);
    assert!(w.take_closed_segment().is_none());
    feed_av(&mut w, 7, 15); // keyframes every 0.5 s, clusters every 1 s
    let mut taken = Vec::new();
    while let Some(g) = w.take_closed_segment() {
        taken.push(g);
    }
    // Clusters close at 1..6 s (+ the 0.5 s window): segments end at 2, 4, 6 s.
    let ends: Vec<u64> = taken.iter().map(|g| g.end_ms).collect();
    assert_eq!(ends, [2000, 4000, 6000]);
    let written = w.bytes_written();
    assert_eq!(taken.last().unwrap().byte_range.end, written);
    let (s, buf) = finish(w);
    assert_eq!(
        s.segments[..3],
        taken[..],
        "the summary repeats taken segments"
    );
    assert_eq!(s.segments.len(), 4);
    assert_eq!((s.segments[3].start_ms, s.segments[3].end_ms), (6000, 7000));
    check_pieces(&s, &buf);
}

#[test]
fn offsets_are_absolute_when_writing_starts_mid_stream() {
    let mut out = Cursor::new(vec![0xEE; 100]);
    out.seek(SeekFrom::End(0)).unwrap();
    let mut w = WebmWriter::new(out, AV).unwrap();
    feed_av(&mut w, 12, 30);
    let (s, out) = w.finish_into_inner().unwrap();
    let buf = out.into_inner();
    assert_eq!(s.header.byte_range.start, 100);
    assert_eq!(s.end_offset, buf.len() as u64);
    assert!(
        buf[..100].iter().all(|b| *b == 0xEE),
        "bytes before the start untouched"
    );
    let inner = &buf[100..];
    let f = parse::file(inner);
    parse::check_invariants(&f);
    for g in &s.segments {
        let r = g.byte_range.start as usize..g.byte_range.end as usize;
        assert_eq!(sha256(&buf[r]), g.sha256);
    }
}

#[test]
fn empty_recording_finishes_with_a_valid_header_only() {
    let w = writer(AV, WriterOptions::default());
    let (s, buf) = finish(w);
    assert!(s.segments.is_empty() && s.cues.is_none());
    assert_eq!(s.header.byte_range, 0..buf.len() as u64);
    check_pieces(&s, &buf);
    let f = parse::file(&buf);
    assert!(f.clusters.is_empty());
    assert_eq!(
        f.duration, None,
        "no Duration (it must be > 0) for an empty file"
    );
    assert_eq!(f.seeks.len(), 2);
    parse::check_invariants(&f);
}

// ---- crashes -------------------------------------------------------------------------------

#[test]
fn a_dropped_writer_leaves_complete_clusters_and_a_current_duration() {
    let mut w = writer(AV, WriterOptions::default());
    feed_av(&mut w, 12, 30);
    let mut closed = Vec::new();
    while let Some(g) = w.take_closed_segment() {
        closed.push(g);
    }
    // Take the bytes as they are on "disk" without running finish().
    let buf = w.out.get_ref().clone();
    drop(w);
    let f = parse::file(&buf);
    parse::check_invariants(&f);
    assert!(
        f.segment_unknown,
        "an unfinished Segment keeps its unknown size"
    );
    assert!(f.cues.is_empty());
    let starts: Vec<u64> = f.clusters.iter().map(|c| c.ts).collect();
    assert_eq!(starts, [0, 5000], "the open cluster (from 10 s) is lost");
    assert_eq!(
        f.duration,
        Some(10_000.0),
        "Duration is the end of the last closed cluster"
    );
    let last = f.clusters.last().unwrap();
    assert_eq!(
        last.range.end,
        buf.len(),
        "the file ends with a complete cluster"
    );
    assert_eq!(closed.len(), 1);
    assert_eq!(
        closed[0].sha256,
        sha256(&buf[closed[0].byte_range.start as usize..])
    );
}

// ---- robustness ----------------------------------------------------------------------------

/// xorshift64*: deterministic pseudo-random numbers for the robustness test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn arbitrary_call_sequences_never_panic_and_always_give_valid_files() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..150 {
        let tracks = match rng.below(3) {
            0 => Tracks {
                video: AV.video,
                audio: None,
            },
            1 => Tracks {
                video: None,
                audio: AV.audio,
            },
            _ => AV,
        };
        let opts = WriterOptions {
            cluster_target: ms(rng.below(8000)),
            cluster_max: ms(rng.below(40_000)),
            segment_interval: ms(rng.below(15_000)),
            reorder_window: ms(rng.below(2000)),
            date_utc: None,
        };
        let mut w = writer(tracks, opts);
        let mut t = 0u64;
        let mut accepted = 0u64;
        for _ in 0..rng.below(400) {
            t = match rng.below(10) {
                0 => t.saturating_sub(rng.below(3000)),
                1 => t + rng.below(60_000),
                _ => t + rng.below(60),
            };
            let len = match rng.below(20) {
                0 => 0,
                _ => 1 + rng.below(300) as usize,
            };
            let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let r = if rng.below(2) == 0 {
                let key = rng.below(4) == 0;
                if key && data.len() >= 10 {
                    data[..6].copy_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
                }
                w.write_video(ms(t), &data, key)
            } else {
                w.write_audio(ms(t), &data)
            };
            match r {
                Ok(()) => accepted += 1,
                Err(WebmError::OutOfOrder { .. })
                | Err(WebmError::EmptyFrame(_))
                | Err(WebmError::NoSuchTrack(_)) => {}
                Err(e) => panic!("round {round}: unexpected {e}"),
            }
        }
        let (s, buf) = finish(w);
        let f = parse::file(&buf);
        parse::check_invariants(&f);
        assert_eq!(
            s.video_frames + s.audio_frames + s.video_frames_before_keyframe,
            accepted,
            "round {round}: every accepted frame is written or counted"
        );
        assert_eq!(f.blocks().count() as u64, s.video_frames + s.audio_frames);
        check_pieces(&s, &buf);
    }
}
