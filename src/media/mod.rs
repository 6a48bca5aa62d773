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
use std::collections::{BTreeMap, HashMap};
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
use webrtc::rtp_transceiver::RtpSender;
use webrtc::runtime::Runtime;

/// ICE timers of the hub's peers: disconnected after this long without a packet.
pub const ICE_DISCONNECTED_AFTER: Duration = Duration::from_secs(3);
/// Failed this long after disconnected (an ICE restart may still bring it back before).
const ICE_FAILED_AFTER: Duration = Duration::from_secs(25);
/// Keepalives while no media flows, so an idle path is not taken for a lost one.
const ICE_KEEPALIVE_EVERY: Duration = Duration::from_secs(1);

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
    /// ICE lost the path (it may come back by itself or with a restart).
    Interrupted(ParticipantRole),
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
    /// Cleared when the connection fails or closes: it cannot be resumed any more.
    alive: Arc<std::sync::atomic::AtomicBool>,
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
            RTCPeerConnectionState::Disconnected => MediaEvent::Interrupted(self.role),
            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                self.alive.store(false, std::sync::atomic::Ordering::SeqCst);
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

/// One output track on a participant's peer connection: another participant's media.
struct OutTrack {
    kind: RtpCodecKind,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    sender: Arc<dyn RtpSender>,
}

struct Peer {
    pc: Arc<dyn PeerConnection>,
    _port: PortLease,
    /// False once the connection failed or closed.
    alive: Arc<std::sync::atomic::AtomicBool>,
    /// The output tracks on this connection, by the participant whose media they carry.
    outputs: tokio::sync::Mutex<BTreeMap<ParticipantRole, Vec<OutTrack>>>,
    /// Told when ICE gathering completes (at the start and after each ICE restart).
    gathered: tokio::sync::Mutex<mpsc::Receiver<()>>,
}

/// The hub's answer to an offer, and whose media it carries to the participant (those others
/// the offer had receiving sections for).
#[derive(Clone, Debug, PartialEq)]
pub struct Answered {
    pub sdp: String,
    pub receiving: Vec<ParticipantRole>,
    /// The offer came from a new peer connection (another DTLS certificate: the page was
    /// reloaded), so the hub's old connection for this participant was replaced.
    pub replaced: bool,
}

/// The `a=fingerprint` of a description: another one means another peer connection.
fn dtls_fingerprint(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=fingerprint:"))
}

/// The `a=ice-ufrag` of a description: a new one in an offer means an ICE restart.
fn ice_ufrag(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
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

    fn peer(&self, role: ParticipantRole) -> Option<Arc<Peer>> {
        self.peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&role)
            .cloned()
    }

    /// Whether `role` has a peer connection with the hub.
    pub fn has_peer(&self, role: ParticipantRole) -> bool {
        self.peer(role).is_some()
    }

    /// Whether `role`'s peer connection can still be resumed (an ICE restart on it) rather
    /// than replaced: it exists and has neither failed nor closed.
    pub fn is_alive(&self, role: ParticipantRole) -> bool {
        self.peer(role)
            .is_some_and(|p| p.alive.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Accept `role`'s SDP offer and return the hub's answer (ICE candidates included), carrying
    /// the media of `sources` as far as the offer has receiving sections for them. The first
    /// offer opens `role`'s peer connection; later ones renegotiate it (someone joined or left,
    /// or an ICE restart after a network change). `recorded`: whether `role`'s own media may go
    /// into the recording.
    pub async fn answer(
        &self,
        role: ParticipantRole,
        offer_sdp: String,
        sources: &[ParticipantRole],
        recorded: bool,
    ) -> Result<Answered, MediaError> {
        offer::check_offer(&offer_sdp)?;
        let offer = RTCSessionDescription::offer(offer_sdp)
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        self.forwarder.set_recorded(role, recorded);
        let mut replaced = false;
        if let Some(peer) = self.peer(role) {
            let current = peer.pc.remote_description().await;
            let same = current
                .as_ref()
                .is_some_and(|d| dtls_fingerprint(&d.sdp) == dtls_fingerprint(&offer.sdp));
            if same && peer.alive.load(std::sync::atomic::Ordering::SeqCst) {
                return self.negotiate(role, &peer, offer, sources, false).await;
            }
            // A new peer connection on the participant's side (a reloaded page), or ours is
            // dead: start over with a new one.
            self.drop_participant(role).await;
            replaced = true;
        }
        let peer = Arc::new(self.open_peer(role).await?);
        match self.negotiate(role, &peer, offer, sources, true).await {
            Ok(mut answered) => {
                answered.replaced = replaced;
                self.peers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(role, peer);
                Ok(answered)
            }
            Err(e) => {
                let _ = peer.pc.close().await;
                self.forwarder.remove_outputs(role);
                Err(e)
            }
        }
    }

    /// A new peer connection for `role` on a port from the pool.
    async fn open_peer(&self, role: ParticipantRole) -> Result<Peer, MediaError> {
        let port = self.config.ports.lease().ok_or(MediaError::NoPort)?;
        let mut engine = media_engine()?;
        let registry = register_default_interceptors(Registry::new(), &mut engine)
            .map_err(webrtc_err)?
            .with(
                rtc::interceptor::Slot::from(keyframes::SLOT),
                keyframes::KeyframeRequests::default(),
            );
        // A lost path is noticed (and chained as a media gap) after 3 s without packets, not
        // webrtc-rs's 5 s; a phone changing networks still has 25 s more before it fails.
        let mut settings = SettingEngineBuilder::new().with_ice_timeouts(
            Some(ICE_DISCONNECTED_AFTER),
            Some(ICE_FAILED_AFTER),
            Some(ICE_KEEPALIVE_EVERY),
        );
        if let Some(public) = self.config.public_ip {
            settings =
                settings.with_nat_1to1_ips(vec![public.to_string()], RTCIceCandidateType::Host);
        }
        let (gathered_tx, gathered_rx) = mpsc::channel(1);
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let handler = Arc::new(Handler {
            role,
            alive: Arc::clone(&alive),
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
        Ok(Peer {
            pc: Arc::new(pc),
            _port: port,
            alive,
            outputs: tokio::sync::Mutex::new(BTreeMap::new()),
            gathered: tokio::sync::Mutex::new(gathered_rx),
        })
    }

    /// Output tracks carrying `source`'s audio and video to `role`, added to `pc`.
    async fn add_outputs(
        &self,
        role: ParticipantRole,
        source: ParticipantRole,
        pc: &Arc<dyn PeerConnection>,
    ) -> Result<Vec<OutTrack>, MediaError> {
        let mut tracks = Vec::new();
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            let ssrc = rand::random::<u32>();
            // The stream id names the sender, so the receiving page knows whose media it is.
            let track = Arc::new(TrackLocalStaticRTP::new(
                rtc::media_stream::MediaStreamTrack::new(
                    source.to_string(),
                    format!("{source}-{}-{ssrc}", kind_name(kind)),
                    format!("{source} {}", kind_name(kind)),
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
                // Keyframe requests from this receiver go to the participant it watches here.
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
                            forwarder.request_keyframe_from(source).await;
                        }
                    }
                }));
            }
            tracing::trace!(?role, ?source, kind = kind_name(kind), "output track added");
            tracks.push(OutTrack {
                kind,
                track,
                ssrc,
                sender,
            });
        }
        Ok(tracks)
    }

    async fn negotiate(
        &self,
        role: ParticipantRole,
        peer: &Peer,
        offer: RTCSessionDescription,
        sources: &[ParticipantRole],
        first: bool,
    ) -> Result<Answered, MediaError> {
        let pc = &peer.pc;
        let restart = !first
            && pc
                .remote_description()
                .await
                .is_some_and(|d| ice_ufrag(&d.sdp) != ice_ufrag(&offer.sdp));
        let mut outputs = peer.outputs.lock().await;
        // Those who left: their tracks come off this connection (the section goes inactive).
        let gone: Vec<ParticipantRole> = outputs
            .keys()
            .filter(|s| !sources.contains(s))
            .copied()
            .collect();
        for source in gone {
            self.forwarder.remove_output(role, source);
            for out in outputs.remove(&source).unwrap_or_default() {
                let _ = pc.remove_track(&out.sender).await;
            }
        }
        // Those who joined: tracks added before the offer is applied take its new sections.
        for source in sources {
            if !outputs.contains_key(source) {
                let tracks = self.add_outputs(role, *source, pc).await?;
                outputs.insert(*source, tracks);
            }
        }
        pc.set_remote_description(offer)
            .await
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        let answer = pc.create_answer(None).await.map_err(webrtc_err)?;
        pc.set_local_description(answer).await.map_err(webrtc_err)?;
        if first || restart {
            let mut gathered = peer.gathered.lock().await;
            tokio::time::timeout(Duration::from_secs(5), gathered.recv())
                .await
                .map_err(|_| MediaError::GatheringTimeout)?;
        }
        // Which output tracks the answer placed in a section of the offer.
        let mut bound = Vec::new();
        for transceiver in pc.get_transceivers().await {
            if transceiver.mid().await.ok().flatten().is_some()
                && let Ok(Some(sender)) = transceiver.sender().await
            {
                bound.push(sender.id());
            }
        }
        let mut receiving = Vec::new();
        for (source, tracks) in outputs.iter() {
            let mut all = true;
            for out in tracks {
                if !bound.contains(&out.sender.id()) {
                    all = false;
                    continue;
                }
                let params = out.sender.get_parameters().await.map_err(webrtc_err)?;
                let wanted = codec(out.kind).mime_type.to_lowercase();
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
                match payload_type {
                    Some(payload_type) => self.forwarder.set_output(
                        role,
                        *source,
                        out.kind,
                        Arc::clone(&out.track),
                        out.ssrc,
                        payload_type,
                        extensions,
                    ),
                    None => all = false,
                }
            }
            if all {
                receiving.push(*source);
            }
        }
        drop(outputs);
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
        Ok(Answered {
            sdp: local.sdp,
            receiving,
            replaced: false,
        })
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
        let peer = self.peer(role)?;
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
        let roles: Vec<ParticipantRole> = self
            .peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect();
        for role in roles {
            self.drop_participant(role).await;
        }
    }
}
