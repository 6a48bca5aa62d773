//! Media through the hub: one webrtc-rs peer connection per participant, forwarding of each
//! participant's audio and video to the other, keyframe requests, and consent-gated recording.
//!
//! The session driver owns one [`MediaSession`]. It calls [`MediaSession::answer`] with each
//! participant's offer and [`MediaSession::start_recording`] / [`MediaSession::stop_recording`]
//! as the room decides; state changes come back as [`MediaEvent`]s on a channel.
//!
//! webrtc-rs 0.21 has no UDP mux, so each peer connection takes one port from [`PortPool`].

mod forward;
mod keyframes;
pub mod offer;
mod ports;
pub mod record;
pub mod stats;
pub mod webm;

pub use ports::{PortLease, PortPool};

use crate::evidence::ParticipantRole;
use forward::Forwarder;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtp_transceiver::rtp_sender::RTCRtpHeaderExtensionCapability;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCIceCandidateType, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
    Registry, SettingEngineBuilder, register_default_interceptors,
};
use webrtc::runtime::Runtime;

/// The audio-level extension (RFC 6464): forwarded so receivers can show who is speaking.
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// Where and how the hub's peers bind.
#[derive(Clone)]
pub struct MediaConfig {
    pub media_ip: IpAddr,
    pub public_ip: Option<IpAddr>,
    pub ports: Arc<PortPool>,
    pub runtime: Arc<dyn Runtime>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    #[error("the offer is not a valid SDP offer: {0}")]
    BadSdp(String),
    #[error("the offer was refused: {0}")]
    Refused(#[from] offer::OfferError),
    #[error("no free media port in the configured range")]
    NoPort,
    #[error("this participant already has a media connection")]
    AlreadyConnected,
    #[error("ICE gathering did not finish in time")]
    GatheringTimeout,
    #[error("webrtc: {0}")]
    Webrtc(String),
    #[error("recording: {0}")]
    Record(String),
}

fn webrtc_err(e: impl std::fmt::Display) -> MediaError {
    MediaError::Webrtc(e.to_string())
}

/// What the media layer tells the session driver.
#[derive(Clone, Debug, PartialEq)]
pub enum MediaEvent {
    Connected(ParticipantRole),
    Disconnected(ParticipantRole),
    TrackStarted {
        role: ParticipantRole,
        kind: &'static str,
    },
    /// Recording evidence pieces are waiting: take them with
    /// [`MediaSession::take_recorded_pieces`].
    RecordedPieces,
}

fn kind_name(kind: RtpCodecKind) -> &'static str {
    match kind {
        RtpCodecKind::Audio => "audio",
        _ => "video",
    }
}

fn codec(kind: RtpCodecKind) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Audio => RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        _ => RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.to_owned(),
            clock_rate: 90000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        },
    }
}

/// A media engine offering exactly VP8 and Opus, so both legs of a forward agree on codecs.
pub fn media_engine() -> Result<MediaEngine, MediaError> {
    let mut engine = MediaEngine::default();
    for (kind, payload_type) in [(RtpCodecKind::Audio, 111), (RtpCodecKind::Video, 96)] {
        let mut c = codec(kind);
        if kind == RtpCodecKind::Video {
            c.rtcp_feedback = vec![
                rtc::rtp_transceiver::rtp_sender::RTCPFeedback {
                    typ: "nack".into(),
                    parameter: String::new(),
                },
                rtc::rtp_transceiver::rtp_sender::RTCPFeedback {
                    typ: "nack".into(),
                    parameter: "pli".into(),
                },
            ];
        }
        if kind == RtpCodecKind::Audio {
            engine
                .register_header_extension(
                    RTCRtpHeaderExtensionCapability {
                        uri: AUDIO_LEVEL_URI.to_owned(),
                    },
                    kind,
                    None,
                )
                .map_err(webrtc_err)?;
        }
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: c,
                    payload_type,
                },
                kind,
            )
            .map_err(webrtc_err)?;
    }
    Ok(engine)
}

struct Handler {
    role: ParticipantRole,
    forwarder: Arc<Forwarder>,
    gathered: mpsc::Sender<()>,
    events: mpsc::UnboundedSender<MediaEvent>,
    runtime: Arc<dyn Runtime>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(role = ?self.role, %state, "peer connection state");
        let event = match state {
            RTCPeerConnectionState::Connected => {
                // A new receiver needs a keyframe from whoever it is about to watch.
                self.forwarder.request_keyframes().await;
                MediaEvent::Connected(self.role)
            }
            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                MediaEvent::Disconnected(self.role)
            }
            _ => return,
        };
        let _ = self.events.send(event);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let kind = track.kind().await;
        let _ = self.events.send(MediaEvent::TrackStarted {
            role: self.role,
            kind: kind_name(kind),
        });
        let forwarder = Arc::clone(&self.forwarder);
        let role = self.role;
        self.runtime.spawn(Box::pin(async move {
            forwarder.pump(role, kind, track).await;
        }));
    }
}

struct Peer {
    pc: Arc<dyn PeerConnection>,
    _port: PortLease,
}

/// Whether the ICE transport's selected pair has a relay candidate at either end; `None` until
/// a pair is selected.
async fn selected_pair_relayed(pc: &dyn PeerConnection) -> Option<bool> {
    let sender = pc.get_senders().await.into_iter().next()?;
    let dtls = sender.transport().await.ok()??;
    let pair = dtls
        .ice_transport()
        .get_selected_candidate_pair()
        .await
        .ok()??;
    Some(
        pair.local().typ == RTCIceCandidateType::Relay
            || pair.remote().typ == RTCIceCandidateType::Relay,
    )
}

/// All media of one session.
pub struct MediaSession {
    config: MediaConfig,
    forwarder: Arc<Forwarder>,
    peers: Mutex<HashMap<ParticipantRole, Arc<Peer>>>,
    events: mpsc::UnboundedSender<MediaEvent>,
}

impl MediaSession {
    /// `recordings` is the directory this session's recordings go to.
    pub fn new(
        config: MediaConfig,
        recordings: PathBuf,
    ) -> (Self, mpsc::UnboundedReceiver<MediaEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let notify_tx = tx.clone();
        let notify = Arc::new(move || {
            let _ = notify_tx.send(MediaEvent::RecordedPieces);
        });
        let session = Self {
            forwarder: Arc::new(Forwarder::new(recordings, notify)),
            config,
            peers: Mutex::new(HashMap::new()),
            events: tx,
        };
        (session, rx)
    }

    /// Accept `role`'s SDP offer and return the hub's answer (ICE candidates included).
    pub async fn answer(
        &self,
        role: ParticipantRole,
        offer_sdp: String,
    ) -> Result<String, MediaError> {
        if self
            .peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&role)
        {
            return Err(MediaError::AlreadyConnected);
        }
        offer::check_offer(&offer_sdp)?;
        let offer = RTCSessionDescription::offer(offer_sdp)
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        let port = self.config.ports.lease().ok_or(MediaError::NoPort)?;
        let mut engine = media_engine()?;
        let registry = register_default_interceptors(Registry::new(), &mut engine)
            .map_err(webrtc_err)?
            .with(
                rtc::interceptor::Slot::from(keyframes::SLOT),
                keyframes::KeyframeRequests::default(),
            );
        let mut settings = SettingEngineBuilder::new();
        if let Some(public) = self.config.public_ip {
            settings =
                settings.with_nat_1to1_ips(vec![public.to_string()], RTCIceCandidateType::Host);
        }
        let (gathered_tx, mut gathered_rx) = mpsc::channel(1);
        let handler = Arc::new(Handler {
            role,
            forwarder: Arc::clone(&self.forwarder),
            gathered: gathered_tx,
            events: self.events.clone(),
            runtime: Arc::clone(&self.config.runtime),
        });
        let pc = PeerConnectionBuilder::new()
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings.build())
            .with_handler(handler)
            .with_runtime(Arc::clone(&self.config.runtime))
            .with_udp_addrs(vec![format!("{}:{}", self.config.media_ip, port.port())])
            .build()
            .await
            .map_err(webrtc_err)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let result = self.negotiate(role, &pc, offer, &mut gathered_rx).await;
        match result {
            Ok(sdp) => {
                let peer = Arc::new(Peer { pc, _port: port });
                self.peers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(role, peer);
                Ok(sdp)
            }
            Err(e) => {
                let _ = pc.close().await;
                self.forwarder.remove_outputs(role);
                Err(e)
            }
        }
    }

    async fn negotiate(
        &self,
        role: ParticipantRole,
        pc: &Arc<dyn PeerConnection>,
        offer: RTCSessionDescription,
        gathered: &mut mpsc::Receiver<()>,
    ) -> Result<String, MediaError> {
        // Output tracks carry the *other* participant's media to `role`.
        let mut senders = Vec::new();
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            let ssrc = rand::random::<u32>();
            let track = Arc::new(TrackLocalStaticRTP::new(
                rtc::media_stream::MediaStreamTrack::new(
                    format!("hub-{}", kind_name(kind)),
                    format!("hub-{}-{}", kind_name(kind), ssrc),
                    format!("forwarded {}", kind_name(kind)),
                    kind,
                    vec![RTCRtpEncodingParameters {
                        rtp_coding_parameters: RTCRtpCodingParameters {
                            ssrc: Some(ssrc),
                            ..Default::default()
                        },
                        codec: codec(kind),
                        ..Default::default()
                    }],
                ),
            ));
            let sender = pc
                .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
                .await
                .map_err(webrtc_err)?;
            if kind == RtpCodecKind::Video {
                // Keyframe requests from this receiver go to whoever it is watching.
                let (forwarder, track) = (Arc::clone(&self.forwarder), Arc::clone(&track));
                self.config.runtime.spawn(Box::pin(async move {
                    while let Some(event) = track.poll().await {
                        let TrackLocalEvent::OnRtcpPacket(packets) = event else {
                            continue;
                        };
                        if packets
                            .iter()
                            .any(|p| keyframes::is_keyframe_request(p.as_ref()))
                        {
                            forwarder.request_keyframe_for(role).await;
                        }
                    }
                }));
            }
            senders.push((kind, track, ssrc, sender));
        }
        pc.set_remote_description(offer)
            .await
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        let answer = pc.create_answer(None).await.map_err(webrtc_err)?;
        pc.set_local_description(answer).await.map_err(webrtc_err)?;
        tokio::time::timeout(Duration::from_secs(5), gathered.recv())
            .await
            .map_err(|_| MediaError::GatheringTimeout)?;
        for (kind, track, ssrc, sender) in senders {
            let params = sender.get_parameters().await.map_err(webrtc_err)?;
            let wanted = codec(kind).mime_type.to_lowercase();
            let payload_type = params
                .rtp_parameters
                .codecs
                .iter()
                .find(|c| c.rtp_codec.mime_type.to_lowercase() == wanted)
                .map(|c| c.payload_type);
            let extensions = forward::ExtensionMap::new(
                params
                    .rtp_parameters
                    .header_extensions
                    .iter()
                    .map(|e| (e.id, e.uri.as_str())),
            );
            if let Some(payload_type) = payload_type {
                self.forwarder
                    .set_output(role, kind, track, ssrc, payload_type, extensions);
            }
        }
        for receiver in pc.get_receivers().await {
            let kind = receiver.track().kind().await;
            if let Ok(params) = receiver.get_parameters().await {
                let map = forward::ExtensionMap::new(
                    params
                        .rtp_parameters
                        .header_extensions
                        .iter()
                        .map(|e| (e.id, e.uri.as_str())),
                );
                self.forwarder.set_ingress(role, kind, map);
            }
        }
        let local = pc
            .local_description()
            .await
            .ok_or_else(|| webrtc_err("no local description"))?;
        Ok(local.sdp)
    }

    /// Start writing every incoming track (present and future) to the recordings directory,
    /// with the recordings' time zero at `origin` (the zero of the chain's
    /// `recording_offset_ms`). Asks every sender for a keyframe, so video starts at once.
    /// Returns the names of the tracks being recorded so far.
    pub async fn start_recording(
        &self,
        origin: std::time::Instant,
    ) -> Result<Vec<String>, MediaError> {
        let names = self.forwarder.start_recording(origin)?;
        self.forwarder.request_keyframes().await;
        Ok(names)
    }

    /// The recordings' evidence pieces (header, each ~10 s of clusters, cues) closed since
    /// the last call, for the chain.
    pub fn take_recorded_pieces(&self) -> Vec<record::Recorded> {
        self.forwarder.recorder.take_pieces()
    }

    /// Stop recording; returns once every file is flushed and closed.
    pub async fn stop_recording(&self) {
        self.forwarder.stop_recording().await;
    }

    /// Recording files written so far: `(name, path)`.
    pub fn recordings(&self) -> Vec<(String, PathBuf)> {
        self.forwarder.recordings()
    }

    /// A statistics reading of `role`'s peer connection, if they have one ([`stats`]).
    pub async fn reading(&self, role: ParticipantRole) -> Option<stats::Reading> {
        let peer = self
            .peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&role)
            .cloned()?;
        let at = std::time::Instant::now();
        let report = peer
            .pc
            .get_stats(at, webrtc::peer_connection::StatsSelector::None)
            .await;
        let mut reading = stats::Reading::from_report(&report, at);
        // The selected pair's remote candidate is often absent from the stats report (candidates
        // inside the offer are not registered there); the ICE transport knows both ends.
        if let Some(relayed) = selected_pair_relayed(peer.pc.as_ref()).await {
            reading.relayed = Some(relayed);
        }
        Some(reading)
    }

    /// Close `role`'s peer connection, if any.
    pub async fn drop_participant(&self, role: ParticipantRole) {
        let peer = self
            .peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&role);
        self.forwarder.remove_outputs(role);
        if let Some(peer) = peer {
            let _ = peer.pc.close().await;
        }
    }

    /// Close everything.
    pub async fn close(&self) {
        self.stop_recording().await;
        for role in [ParticipantRole::Applicant, ParticipantRole::Officer] {
            self.drop_participant(role).await;
        }
    }
}
