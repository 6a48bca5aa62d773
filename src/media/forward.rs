//! Forwarding: RTP from one participant's incoming track goes to the other participant's
//! output track of the same kind, rewritten for the receiving leg (its SSRC, its negotiated
//! payload type, no header extensions it did not negotiate). Also hands every packet to the
//! recorder, which decides whether to keep it.

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

#[derive(Clone)]
struct Output {
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    payload_type: u8,
}

#[derive(Clone)]
struct Remote {
    role: ParticipantRole,
    kind: RtpCodecKind,
    ssrc: u32,
    track: Arc<dyn TrackRemote>,
}

pub(super) struct Forwarder {
    /// Keyed by the *receiving* participant.
    outputs: Mutex<HashMap<(ParticipantRole, RtpCodecKind), Output>>,
    remotes: Mutex<Vec<Remote>>,
    recorder: Recorder,
}

fn other(role: ParticipantRole) -> ParticipantRole {
    match role {
        ParticipantRole::Applicant => ParticipantRole::Officer,
        ParticipantRole::Officer => ParticipantRole::Applicant,
    }
}

/// Rewrite a packet for the receiving leg. Header extensions are stripped: their ids were
/// negotiated on the sending leg and may mean something else, or nothing, on this one.
pub(super) fn rewrite(packet: &mut rtc::rtp::Packet, ssrc: u32, payload_type: u8) {
    packet.header.ssrc = ssrc;
    packet.header.payload_type = payload_type;
    packet.header.extension = false;
    packet.header.extension_profile = 0;
    packet.header.extensions.clear();
    packet.header.extensions_padding = 0;
}

impl Forwarder {
    pub(super) fn new(recordings: PathBuf) -> Self {
        Self {
            outputs: Mutex::new(HashMap::new()),
            remotes: Mutex::new(Vec::new()),
            recorder: Recorder::new(recordings),
        }
    }

    pub(super) fn set_output(
        &self,
        receiver: ParticipantRole,
        kind: RtpCodecKind,
        track: Arc<TrackLocalStaticRTP>,
        ssrc: u32,
        payload_type: u8,
    ) {
        self.outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                (receiver, kind),
                Output {
                    track,
                    ssrc,
                    payload_type,
                },
            );
    }

    pub(super) fn remove_outputs(&self, receiver: ParticipantRole) {
        self.outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(r, _), _| *r != receiver);
    }

    fn output(&self, receiver: ParticipantRole, kind: RtpCodecKind) -> Option<Output> {
        self.outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(receiver, kind))
            .cloned()
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
        self.recorder.track_started(role, kind);
        if kind == RtpCodecKind::Video {
            self.request_keyframes().await;
        }
        while let Some(event) = track.poll().await {
            let TrackRemoteEvent::OnRtpPacket(packet) = event else {
                continue;
            };
            self.recorder.write(role, kind, &packet);
            if let Some(out) = self.output(other(role), kind) {
                let mut packet = packet;
                rewrite(&mut packet, out.ssrc, out.payload_type);
                // Not bound yet or closing: the receiver is not listening, drop the packet.
                let _ = out.track.write_rtp(packet).await;
            }
        }
        self.remotes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|r| r.ssrc != ssrc);
        self.recorder.track_ended(role, kind);
    }

    pub(super) fn start_recording(&self) -> Result<Vec<String>, MediaError> {
        self.recorder.start()
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
    fn rewrite_sets_the_receiving_legs_ids_and_strips_extensions() {
        let mut p = rtc::rtp::Packet::default();
        p.header.ssrc = 1;
        p.header.payload_type = 120;
        p.header.extension = true;
        p.header.extension_profile = 0xBEDE;
        p.header.extensions.push(rtc::rtp::header::Extension {
            id: 3,
            payload: bytes::Bytes::from_static(&[1]),
        });
        rewrite(&mut p, 77, 96);
        assert_eq!((p.header.ssrc, p.header.payload_type), (77, 96));
        assert!(!p.header.extension && p.header.extensions.is_empty());
    }
}
