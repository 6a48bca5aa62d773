//! Forwarding: RTP from one participant's incoming track goes to every other participant's
//! output track for that sender and kind, rewritten for each receiving leg: its SSRC, its negotiated
//! payload type, and header extensions renumbered to the ids that leg negotiated (extensions
//! it did not negotiate, and per-hop ones its own interceptors write, are dropped). Also hands
//! every packet to the recorder, which decides whether to keep it.

use super::MediaError;
use super::record::Recorder;
use crate::evidence::ParticipantRole;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

/// Video that resumes after this long without a packet has lost more than NACK can fetch: its
/// sender is asked for a keyframe, or the recording and the receiver stay broken until the
/// sender's next one (a browser sends them only when asked).
const VIDEO_OUTAGE: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a video packet arriving at `now`, the previous one having arrived at `last`, ends
/// an outage.
fn ends_outage(last: Option<std::time::Instant>, now: std::time::Instant) -> bool {
    last.is_some_and(|last| now.saturating_duration_since(last) > VIDEO_OUTAGE)
}

/// Header-extension URIs that describe one hop (set by that hop's interceptors), never
/// forwarded.
const PER_HOP_EXTENSIONS: [&str; 2] = [
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
];

/// How one leg numbers its header extensions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ExtensionMap {
    by_id: HashMap<u8, String>,
}

impl ExtensionMap {
    pub(super) fn new<'a>(pairs: impl IntoIterator<Item = (u16, &'a str)>) -> Self {
        Self {
            by_id: pairs
                .into_iter()
                .filter_map(|(id, uri)| u8::try_from(id).ok().map(|id| (id, uri.to_owned())))
                .collect(),
        }
    }

    fn uri(&self, id: u8) -> Option<&str> {
        self.by_id.get(&id).map(String::as_str)
    }

    fn id(&self, uri: &str) -> Option<u8> {
        self.by_id
            .iter()
            .find(|(_, u)| *u == uri)
            .map(|(id, _)| *id)
    }
}

#[derive(Clone)]
struct Output {
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    payload_type: u8,
    extensions: ExtensionMap,
    /// Keeps the outgoing sequence numbers and timestamps continuous when the source changes.
    continuity: Arc<Mutex<Continuity>>,
}

/// When a participant reconnects, their new stream has its own random sequence numbers and
/// timestamps; sent on unchanged, the receiver would drop it as a replay. This re-bases each
/// new source so that the outgoing stream simply carries on.
#[derive(Debug, Default)]
pub(super) struct Continuity {
    source: Option<u32>,
    seq_offset: u16,
    ts_offset: u32,
    last: Option<(u16, u32)>,
}

impl Continuity {
    /// Rewrite `packet`'s sequence number and timestamp; `gap` is the timestamp step put
    /// between the old source's last packet and the new source's first.
    pub(super) fn apply(&mut self, packet: &mut rtc::rtp::Packet, gap: u32) {
        let (seq, ts) = (packet.header.sequence_number, packet.header.timestamp);
        if self.source != Some(packet.header.ssrc) {
            self.source = Some(packet.header.ssrc);
            (self.seq_offset, self.ts_offset) = match self.last {
                Some((last_seq, last_ts)) => (
                    last_seq.wrapping_add(1).wrapping_sub(seq),
                    last_ts.wrapping_add(gap).wrapping_sub(ts),
                ),
                None => (0, 0),
            };
        }
        packet.header.sequence_number = seq.wrapping_add(self.seq_offset);
        packet.header.timestamp = ts.wrapping_add(self.ts_offset);
        self.last = Some((packet.header.sequence_number, packet.header.timestamp));
    }
}

#[derive(Clone)]
struct Remote {
    role: ParticipantRole,
    kind: RtpCodecKind,
    ssrc: u32,
    track: Arc<dyn TrackRemote>,
}

/// Outputs by receiving participant, sending participant and kind.
type OutputKey = (ParticipantRole, ParticipantRole, RtpCodecKind);

pub(super) struct Forwarder {
    /// Keyed by *receiving* participant, then sender.
    outputs: Mutex<HashMap<OutputKey, Output>>,
    /// How each sending participant's leg numbers its header extensions.
    ingress: Mutex<HashMap<(ParticipantRole, RtpCodecKind), ExtensionMap>>,
    remotes: Mutex<Vec<Remote>>,
    /// Participants whose media is forwarded but never recorded (by their role's permissions).
    unrecorded: Mutex<std::collections::HashSet<ParticipantRole>>,
    pub(super) recorder: Recorder,
}

/// Rewrite a packet for the receiving leg: its SSRC and payload type, and each header
/// extension renumbered from the sending leg's id to the receiving leg's id for the same URI.
pub(super) fn rewrite(
    packet: &mut rtc::rtp::Packet,
    ssrc: u32,
    payload_type: u8,
    from: &ExtensionMap,
    to: &ExtensionMap,
) {
    packet.header.ssrc = ssrc;
    packet.header.payload_type = payload_type;
    let carried: Vec<(u8, bytes::Bytes)> = std::mem::take(&mut packet.header.extensions)
        .into_iter()
        .filter_map(|ext| {
            let uri = from.uri(ext.id)?;
            if PER_HOP_EXTENSIONS.contains(&uri) {
                return None;
            }
            Some((to.id(uri)?, ext.payload))
        })
        .collect();
    packet.header.extension = false;
    packet.header.extension_profile = 0;
    packet.header.extensions_padding = 0;
    if carried.is_empty() {
        return;
    }
    let one_byte = carried
        .iter()
        .all(|(id, p)| (1..=14).contains(id) && p.len() <= 16);
    packet.header.extension = true;
    packet.header.extension_profile = if one_byte {
        rtc::rtp::header::EXTENSION_PROFILE_ONE_BYTE
    } else {
        rtc::rtp::header::EXTENSION_PROFILE_TWO_BYTE
    };
    for (id, payload) in carried {
        // Ids and sizes were checked against the profile just chosen.
        let _ = packet.header.set_extension(id, payload);
    }
}

impl Forwarder {
    pub(super) fn new(recordings: PathBuf, notify: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self {
            outputs: Mutex::new(HashMap::new()),
            ingress: Mutex::new(HashMap::new()),
            remotes: Mutex::new(Vec::new()),
            unrecorded: Mutex::new(std::collections::HashSet::new()),
            recorder: Recorder::new(recordings, notify),
        }
    }

    /// Whether `role`'s media may go into the recording.
    pub(super) fn set_recorded(&self, role: ParticipantRole, recorded: bool) {
        let mut unrecorded = self.unrecorded.lock().unwrap_or_else(|p| p.into_inner());
        if recorded {
            unrecorded.remove(&role);
        } else {
            unrecorded.insert(role);
        }
    }

    fn is_recorded(&self, role: ParticipantRole) -> bool {
        !self
            .unrecorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&role)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn set_output(
        &self,
        receiver: ParticipantRole,
        source: ParticipantRole,
        kind: RtpCodecKind,
        track: Arc<TrackLocalStaticRTP>,
        ssrc: u32,
        payload_type: u8,
        extensions: ExtensionMap,
    ) {
        // A source that changes under an existing receiver is re-based by the continuity kept
        // here; a renegotiation that keeps the track keeps its continuity too.
        let mut outputs = self.outputs.lock().unwrap_or_else(|p| p.into_inner());
        let continuity = outputs
            .get(&(receiver, source, kind))
            .filter(|o| o.ssrc == ssrc)
            .map(|o| Arc::clone(&o.continuity))
            .unwrap_or_default();
        let output = Output {
            track,
            ssrc,
            payload_type,
            extensions,
            continuity,
        };
        outputs.insert((receiver, source, kind), output);
    }

    pub(super) fn set_ingress(
        &self,
        sender: ParticipantRole,
        kind: RtpCodecKind,
        map: ExtensionMap,
    ) {
        self.ingress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((sender, kind), map);
    }

    fn ingress(&self, sender: ParticipantRole, kind: RtpCodecKind) -> ExtensionMap {
        self.ingress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(sender, kind))
            .cloned()
            .unwrap_or_default()
    }

    pub(super) fn remove_outputs(&self, receiver: ParticipantRole) {
        self.outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(r, _, _), _| *r != receiver);
    }

    /// Stop forwarding `source` to `receiver` (the source left the call).
    pub(super) fn remove_output(&self, receiver: ParticipantRole, source: ParticipantRole) {
        self.outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(r, s, _), _| !(*r == receiver && *s == source));
    }

    /// Every output `source`'s media of `kind` goes to.
    fn outputs_of(&self, source: ParticipantRole, kind: RtpCodecKind) -> Vec<Output> {
        self.outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|((_, s, k), _)| *s == source && *k == kind)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Send a PLI to every incoming video track, so every receiver gets a keyframe soon.
    pub(super) async fn request_keyframes(&self) {
        let videos: Vec<Remote> = self
            .remotes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|r| r.kind == RtpCodecKind::Video)
            .cloned()
            .collect();
        for remote in videos {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: remote.ssrc,
            };
            if let Err(e) = remote.track.write_rtcp(vec![Box::new(pli)]).await {
                tracing::debug!(role = ?remote.role, "keyframe request failed: {e}");
            }
        }
    }

    /// A receiver asked for a keyframe of `source`'s video: pass the request on.
    pub(super) async fn request_keyframe_from(&self, source: ParticipantRole) {
        let remote = self
            .remotes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .rev() // the newest track: an old one may still be closing after a reconnect
            .find(|r| r.role == source && r.kind == RtpCodecKind::Video)
            .cloned();
        if let Some(remote) = remote {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: remote.ssrc,
            };
            let _ = remote.track.write_rtcp(vec![Box::new(pli)]).await;
        }
    }

    /// Read `track` until it ends, forwarding and recording each packet. Keep this loop tight:
    /// the track's event queue drops packets when it overflows.
    pub(super) async fn pump(
        &self,
        role: ParticipantRole,
        kind: RtpCodecKind,
        track: Arc<dyn TrackRemote>,
    ) {
        let Some(ssrc) = track.ssrcs().await.first().copied() else {
            tracing::warn!(?role, "incoming track without SSRC ignored");
            return;
        };
        self.remotes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Remote {
                role,
                kind,
                ssrc,
                track: Arc::clone(&track),
            });
        if self.is_recorded(role) {
            self.recorder.track_started(role, kind);
        }
        if kind == RtpCodecKind::Video {
            self.request_keyframes().await;
        }
        let ingress = self.ingress(role, kind);
        let mut last_video = None;
        while let Some(event) = track.poll().await {
            let TrackRemoteEvent::OnRtpPacket(packet) = event else {
                continue;
            };
            if kind == RtpCodecKind::Video {
                let now = std::time::Instant::now();
                if ends_outage(last_video, now) {
                    tracing::debug!(
                        ?role,
                        "video resumed after an outage; asking for a keyframe"
                    );
                    let pli = PictureLossIndication {
                        sender_ssrc: 0,
                        media_ssrc: ssrc,
                    };
                    let _ = track.write_rtcp(vec![Box::new(pli)]).await;
                }
                last_video = Some(now);
            }
            if self.is_recorded(role) {
                self.recorder.write(role, kind, &packet);
            }
            let outputs = self.outputs_of(role, kind);
            let last = outputs.len();
            let mut packet = Some(packet);
            for (i, out) in outputs.into_iter().enumerate() {
                // The last receiver takes the packet itself; the others a copy.
                let mut packet = if i + 1 == last {
                    packet.take()
                } else {
                    packet.clone()
                }
                .unwrap_or_default();
                rewrite(
                    &mut packet,
                    out.ssrc,
                    out.payload_type,
                    &ingress,
                    &out.extensions,
                );
                // One frame at 30 fps (video) or 20 ms (audio) between two sources.
                let gap = if kind == RtpCodecKind::Video {
                    3000
                } else {
                    960
                };
                out.continuity
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .apply(&mut packet, gap);
                // Not bound yet or closing: the receiver is not listening, drop the packet.
                let _ = out.track.write_rtp(packet).await;
            }
        }
        self.remotes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|r| r.ssrc != ssrc);
        if self.is_recorded(role) {
            self.recorder.track_ended(role, kind);
        }
    }

    pub(super) fn start_recording(
        &self,
        origin: std::time::Instant,
    ) -> Result<Vec<String>, MediaError> {
        self.recorder.start(origin)
    }

    pub(super) async fn stop_recording(&self) {
        self.recorder.stop().await;
    }

    pub(super) fn recordings(&self) -> Vec<(String, PathBuf)> {
        self.recorder.files()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_silence_longer_than_an_outage_asks_for_a_keyframe() {
        let t0 = std::time::Instant::now();
        let ms = std::time::Duration::from_millis;
        assert!(!ends_outage(None, t0), "the first packet is no outage");
        assert!(!ends_outage(Some(t0), t0 + ms(33)));
        assert!(!ends_outage(Some(t0), t0 + ms(1000)));
        assert!(ends_outage(Some(t0), t0 + ms(1001)));
        assert!(ends_outage(Some(t0), t0 + ms(5000)));
        // A clock reading out of order is no outage either.
        assert!(!ends_outage(Some(t0 + ms(10)), t0));
    }

    const LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
    const TWCC: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

    fn packet(exts: &[(u8, &'static [u8])]) -> rtc::rtp::Packet {
        let mut p = rtc::rtp::Packet::default();
        p.header.ssrc = 1;
        p.header.payload_type = 120;
        p.header.extension = true;
        p.header.extension_profile = rtc::rtp::header::EXTENSION_PROFILE_ONE_BYTE;
        for (id, payload) in exts {
            p.header.extensions.push(rtc::rtp::header::Extension {
                id: *id,
                payload: bytes::Bytes::from_static(payload),
            });
        }
        p
    }

    #[test]
    fn extensions_are_renumbered_for_the_receiving_leg() {
        let from = ExtensionMap::new([(1, LEVEL), (3, TWCC), (9, "urn:x-unknown")]);
        let to = ExtensionMap::new([(5, LEVEL), (2, TWCC)]);
        let mut p = packet(&[(1, &[0x85]), (3, &[0, 7]), (9, &[1])]);
        rewrite(&mut p, 77, 111, &from, &to);
        assert_eq!((p.header.ssrc, p.header.payload_type), (77, 111));
        let ids: Vec<_> = p
            .header
            .extensions
            .iter()
            .map(|e| (e.id, e.payload.to_vec()))
            .collect();
        // Audio level moves from id 1 to id 5; the per-hop TWCC and the unknown one are dropped.
        assert_eq!(ids, vec![(5, vec![0x85])]);
        assert!(p.header.extension);
        // The rewritten packet still marshals.
        let bytes = rtc::shared::marshal::Marshal::marshal(&p).expect("marshal");
        let back =
            <rtc::rtp::Packet as rtc::shared::marshal::Unmarshal>::unmarshal(&mut &bytes[..])
                .expect("unmarshal");
        assert_eq!(back.header.extensions.len(), 1);
    }

    #[test]
    fn a_new_source_continues_the_outgoing_sequence() {
        let mut c = Continuity::default();
        let mut send = |ssrc: u32, seq: u16, ts: u32| {
            let mut p = rtc::rtp::Packet::default();
            p.header.ssrc = ssrc;
            p.header.sequence_number = seq;
            p.header.timestamp = ts;
            c.apply(&mut p, 3000);
            (p.header.sequence_number, p.header.timestamp)
        };
        assert_eq!(
            send(1, 100, 9000),
            (100, 9000),
            "the first source passes unchanged"
        );
        assert_eq!(send(1, 101, 12000), (101, 12000));
        // The participant reconnects: a new SSRC starting far behind.
        assert_eq!(send(2, 7, 50), (102, 15000));
        assert_eq!(send(2, 8, 3050), (103, 18000));
        // Wrapping around u16 and u32 stays continuous.
        assert_eq!(send(3, 65535, u32::MAX), (104, 21000));
        assert_eq!(send(3, 0, 2999), (105, 24000));
    }

    #[test]
    fn without_shared_extensions_the_header_has_none() {
        let from = ExtensionMap::new([(1, LEVEL)]);
        let to = ExtensionMap::default();
        let mut p = packet(&[(1, &[0x85])]);
        rewrite(&mut p, 7, 96, &from, &to);
        assert!(!p.header.extension && p.header.extensions.is_empty());
    }
}
