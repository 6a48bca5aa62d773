//! A webrtc-rs client peer standing in for a participant's browser: it sends VP8 and Opus from
//! the fixture files and counts what it receives from the hub.

use rtc::interceptor::{
    Attribute, Interceptor, Packet as InterceptorPacket, Registry, Slot, StreamInfo, TaggedPacket,
};
use rtc::media::Sample;
use rtc::media::io::ivf_reader::IVFReader;
use rtc::media::io::ogg_reader::OggReader;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription, SettingEngine,
    register_default_interceptors,
};
use webrtc::rtp_transceiver::RtpSender;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

#[derive(Default)]
pub struct Counts {
    pub video: AtomicU32,
    pub audio: AtomicU32,
    /// VP8 payload descriptor parsed and a keyframe seen.
    pub video_keyframe: AtomicBool,
    /// Keyframe requests (PLI, FIR) from the hub for this peer's camera.
    pub keyframe_requests: AtomicU32,
    /// Packets received per forwarded stream (the stream id names the sender: `applicant`,
    /// `officer`, `interpreter-1`), as `(audio, video)`.
    pub by_stream: std::sync::Mutex<std::collections::HashMap<String, (u32, u32)>>,
    /// Every change of the peer connection's state, with when it happened.
    pub states: Mutex<Vec<(Instant, RTCPeerConnectionState)>>,
}

impl Counts {
    /// Audio and video packets received so far from `sender`.
    pub fn from(&self, sender: &str) -> (u32, u32) {
        self.by_stream
            .lock()
            .expect("counts")
            .get(sender)
            .copied()
            .unwrap_or_default()
    }

    pub fn states(&self) -> Vec<(Instant, RTCPeerConnectionState)> {
        self.states.lock().expect("states lock").clone()
    }

    /// The peer connection's current state.
    pub fn state(&self) -> Option<RTCPeerConnectionState> {
        self.states().last().map(|(_, s)| *s)
    }
}

/// How a [`TestPeer`] is built beyond the defaults.
#[derive(Default)]
pub struct PeerOptions {
    /// ICE servers and transport policy.
    pub configuration: Option<rtc::peer_connection::configuration::RTCConfiguration>,
    /// webrtc-rs's default interceptors (NACK generator and responder, RTCP reports, TWCC),
    /// as a browser has them; without, the peer answers no NACK.
    pub default_interceptors: bool,
    pub setting_engine: Option<SettingEngine>,
}

/// Marks inbound keyframe requests for the application (inbound RTCP otherwise ends in the
/// interceptor chain), so the peer can count them.
#[derive(Default)]
struct MarkKeyframeRequests {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for MarkKeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let InterceptorPacket::Rtcp(packets) = &msg.message.packet
            && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for MarkKeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

struct Handler {
    gathered: tokio::sync::mpsc::Sender<()>,
    counts: Arc<Counts>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.try_send(());
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.counts
            .states
            .lock()
            .expect("states lock")
            .push((Instant::now(), state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let counts = Arc::clone(&self.counts);
        let kind = track.kind().await;
        let stream = track.stream_id().await.to_string();
        tokio::spawn(async move {
            while let Some(evt) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = evt {
                    {
                        let mut by_stream = counts.by_stream.lock().expect("counts");
                        let entry = by_stream.entry(stream.clone()).or_default();
                        match kind {
                            RtpCodecKind::Video => entry.1 += 1,
                            _ => entry.0 += 1,
                        }
                    }
                    match kind {
                        RtpCodecKind::Video => {
                            counts.video.fetch_add(1, Ordering::SeqCst);
                            // VP8: S bit with PID 0 and P bit clear in the first payload byte.
                            let payload = &p.payload;
                            if payload.len() > 4 && payload[0] & 0x10 != 0 {
                                let skip = if payload[0] & 0x80 != 0 {
                                    let x = payload[1];
                                    2 + usize::from(x & 0x80 != 0)
                                        + usize::from(x & 0x80 != 0 && payload[2] & 0x80 != 0)
                                        + usize::from(x & 0x40 != 0)
                                        + usize::from(x & 0x30 != 0)
                                } else {
                                    1
                                };
                                if payload.len() > skip && payload[skip] & 0x01 == 0 {
                                    counts.video_keyframe.store(true, Ordering::SeqCst);
                                }
                            }
                        }
                        _ => {
                            counts.audio.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }
        });
    }
}

pub struct TestPeer {
    pub pc: Arc<dyn PeerConnection>,
    pub counts: Arc<Counts>,
    video: Arc<TrackLocalStaticSample>,
    audio: Arc<TrackLocalStaticSample>,
    /// `None` for a peer that only receives.
    senders: Option<(Arc<dyn RtpSender>, Arc<dyn RtpSender>)>,
    gathered: tokio::sync::mpsc::Receiver<()>,
    pub stop: Arc<AtomicBool>,
}

fn sample_track(kind: RtpCodecKind) -> Arc<TrackLocalStaticSample> {
    let codec = if kind == RtpCodecKind::Video {
        RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.into(),
            clock_rate: 90000,
            ..Default::default()
        }
    } else {
        RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.into(),
            clock_rate: 48000,
            channels: 2,
            ..Default::default()
        }
    };
    Arc::new(
        TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                format!("client-{kind}"),
                format!("client-{kind}-track"),
                format!("client {kind}"),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(rand::random::<u32>()),
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            ),
        )
        .expect("sample track"),
    )
}

impl TestPeer {
    pub async fn new() -> TestPeer {
        Self::with_configuration(None).await
    }

    /// A peer with its own ICE configuration (servers, relay-only policy).
    pub async fn with_configuration(
        configuration: Option<rtc::peer_connection::configuration::RTCConfiguration>,
    ) -> TestPeer {
        Self::build(
            PeerOptions {
                configuration,
                ..PeerOptions::default()
            },
            true,
        )
        .await
    }

    /// A peer that sends nothing and receives one participant's audio and video (more after
    /// [`TestPeer::renegotiate`]).
    pub async fn receive_only() -> TestPeer {
        Self::build(PeerOptions::default(), false).await
    }

    /// A sending peer built with `options`.
    pub async fn with_options(options: PeerOptions) -> TestPeer {
        Self::build(options, true).await
    }

    async fn build(options: PeerOptions, publish: bool) -> TestPeer {
        let PeerOptions {
            configuration,
            default_interceptors,
            setting_engine,
        } = options;
        let mut media = MediaEngine::default();
        media.register_default_codecs().expect("codecs");
        let mut registry = Registry::new();
        if default_interceptors {
            registry = register_default_interceptors(registry, &mut media).expect("interceptors");
        }
        let counts = Arc::new(Counts::default());
        let (gtx, grx) = tokio::sync::mpsc::channel(1);
        let runtime = webrtc::runtime::default_runtime().expect("tokio runtime");
        let mut builder = PeerConnectionBuilder::new();
        if let Some(configuration) = configuration {
            builder = builder.with_configuration(configuration);
        }
        if let Some(setting_engine) = setting_engine {
            builder = builder.with_setting_engine(setting_engine);
        }
        let pc = builder
            .with_media_engine(media)
            .with_interceptor_registry(
                registry.with(Slot::from(14_000), MarkKeyframeRequests::default()),
            )
            .with_handler(Arc::new(Handler {
                gathered: gtx,
                counts: Arc::clone(&counts),
            }))
            .with_runtime(runtime)
            .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
            .build()
            .await
            .expect("peer connection");
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let video = sample_track(RtpCodecKind::Video);
        let audio = sample_track(RtpCodecKind::Audio);
        let senders = if publish {
            let video_sender = pc
                .add_track(Arc::clone(&video) as Arc<dyn TrackLocal>)
                .await
                .expect("video");
            let audio_sender = pc
                .add_track(Arc::clone(&audio) as Arc<dyn TrackLocal>)
                .await
                .expect("audio");
            Some((video_sender, audio_sender))
        } else {
            None
        };
        let peer = TestPeer {
            pc,
            counts,
            video,
            audio,
            senders,
            gathered: grx,
            stop: Arc::new(AtomicBool::new(false)),
        };
        if !publish {
            peer.ensure_receivers(1).await;
        }
        peer
    }

    /// Receive-only audio and video sections until there are `n` of each kind.
    pub async fn ensure_receivers(&self, n: usize) {
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            let mut have = 0;
            for t in self.pc.get_transceivers().await {
                if let Ok(Some(receiver)) = t.receiver().await
                    && receiver.track().kind().await == kind
                {
                    have += 1;
                }
            }
            for _ in have..n {
                self.pc
                    .add_transceiver_from_kind(
                        kind,
                        Some(webrtc::rtp_transceiver::RTCRtpTransceiverInit {
                            direction:
                                webrtc::rtp_transceiver::RTCRtpTransceiverDirection::Recvonly,
                            streams: vec![],
                            send_encodings: vec![],
                        }),
                    )
                    .await
                    .expect("receiving transceiver");
            }
        }
    }

    /// After `renegotiate`: an offer on the live connection able to receive `receive`
    /// participants (ICE is already gathered, so nothing to wait for).
    pub async fn reoffer(&self, receive: usize) -> String {
        self.ensure_receivers(receive).await;
        let offer = self.pc.create_offer(None).await.expect("offer");
        self.pc
            .set_local_description(offer)
            .await
            .expect("set local");
        self.pc
            .local_description()
            .await
            .expect("local description")
            .sdp
    }

    /// Create an offer with all ICE candidates in it.
    pub async fn offer(&mut self) -> String {
        let offer = self.pc.create_offer(None).await.expect("offer");
        self.pc
            .set_local_description(offer)
            .await
            .expect("set local");
        tokio::time::timeout(Duration::from_secs(5), self.gathered.recv())
            .await
            .expect("gathering completes");
        self.pc
            .local_description()
            .await
            .expect("local description")
            .sdp
    }

    pub async fn accept(&self, answer_sdp: String) {
        let answer = RTCSessionDescription::answer(answer_sdp).expect("answer parses");
        self.pc
            .set_remote_description(answer)
            .await
            .expect("set remote");
    }

    /// Stream the fixture files in a loop until `stop` is set.
    pub async fn start_media(&self) {
        self.stream(None).await;
    }

    /// Like [`TestPeer::start_media`], but the microphone sends silence until `marker` is set
    /// and a 440 Hz tone from the next 20 ms packet on: a moment the recording can be searched
    /// for.
    pub async fn start_media_marked(&self, marker: Arc<AtomicBool>) {
        self.stream(Some(marker)).await;
    }

    async fn stream(&self, marker: Option<Arc<AtomicBool>>) {
        let (video_sender, audio_sender) = self.senders.as_ref().expect("a publishing peer");
        let vpt = video_sender
            .get_parameters()
            .await
            .expect("params")
            .rtp_parameters
            .codecs[0]
            .payload_type;
        let apt = audio_sender
            .get_parameters()
            .await
            .expect("params")
            .rtp_parameters
            .codecs[0]
            .payload_type;
        let (video, counts) = (Arc::clone(&self.video), Arc::clone(&self.counts));
        tokio::spawn(async move {
            while let Some(event) = video.poll().await {
                if let TrackLocalEvent::OnRtcpPacket(packets) = event
                    && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
                {
                    counts.keyframe_requests.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let (video, stop) = (Arc::clone(&self.video), Arc::clone(&self.stop));
        tokio::spawn(async move {
            let ssrc = video.ssrcs().await[0];
            let mut tick = tokio::time::interval(Duration::from_millis(33));
            while !stop.load(Ordering::SeqCst) {
                let file = File::open(format!("{FIXTURES}/video.ivf")).expect("fixture");
                let (mut ivf, _) = IVFReader::new(BufReader::new(file)).expect("ivf");
                while let Ok((frame, _)) = ivf.parse_next_frame() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let sample = Sample {
                        data: frame.freeze(),
                        duration: Duration::from_millis(33),
                        ..Sample::new(Instant::now())
                    };
                    let _ = video.sample_writer(ssrc, vpt).write_sample(&sample).await;
                    tick.tick().await;
                }
            }
        });
        let tone = opus_packets("audio.ogg");
        let silence = opus_packets("silence.ogg");
        let (audio, stop) = (Arc::clone(&self.audio), Arc::clone(&self.stop));
        tokio::spawn(async move {
            let ssrc = audio.ssrcs().await[0];
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let marked = marker.as_ref().is_none_or(|m| m.load(Ordering::SeqCst));
                let packets = if marked { &tone } else { &silence };
                let sample = Sample {
                    data: packets[i % packets.len()].clone(),
                    duration: Duration::from_millis(20),
                    ..Sample::new(Instant::now())
                };
                let _ = audio.sample_writer(ssrc, apt).write_sample(&sample).await;
                i += 1;
                tick.tick().await;
            }
        });
    }

    pub async fn close(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.pc.close().await;
    }
}

/// The 20 ms Opus packets of an Ogg fixture (one packet per page), without the `OpusTags`
/// header page, which is no audio.
fn opus_packets(name: &str) -> Vec<bytes::Bytes> {
    let file = File::open(format!("{FIXTURES}/{name}")).expect("fixture");
    let (mut ogg, _) = OggReader::new(BufReader::new(file), true).expect("ogg");
    let mut packets = Vec::new();
    while let Ok((page, _)) = ogg.parse_next_page() {
        if !page.starts_with(b"OpusTags") && !page.starts_with(b"OpusHead") {
            packets.push(page.freeze());
        }
    }
    assert!(!packets.is_empty(), "{name} has audio");
    packets
}

/// Poll `cond` every 50 ms for up to `secs` seconds.
pub async fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Send `peer`'s `offer` through its participant's socket and accept the hub's answer.
pub async fn negotiate(ws: &mut super::Ws, peer: &TestPeer, offer: String) {
    ws.send(serde_json::json!({"type": "offer", "sdp": offer}))
        .await;
    let answer = ws.expect("answer").await;
    peer.accept(answer["sdp"].as_str().expect("sdp").to_owned())
        .await;
}

/// The applicant's and the officer's peers negotiated with the hub and sending: `(applicant,
/// officer)`.
pub async fn media_call(
    officer: &mut super::Ws,
    applicant: &mut super::Ws,
) -> (TestPeer, TestPeer) {
    let mut peer_a = TestPeer::new().await;
    let mut peer_o = TestPeer::new().await;
    let offer = peer_a.offer().await;
    negotiate(applicant, &peer_a, offer).await;
    let offer = peer_o.offer().await;
    negotiate(officer, &peer_o, offer).await;
    peer_a.start_media().await;
    peer_o.start_media().await;
    (peer_a, peer_o)
}

/// Both participants' media flowing through the hub and recording consented: the applicant's
/// and the officer's peers, negotiated, sending, and the recording consent granted.
pub async fn recorded_call(
    officer: &mut super::Ws,
    applicant: &mut super::Ws,
) -> (TestPeer, TestPeer) {
    let (peer_a, peer_o) = media_call(officer, applicant).await;
    grant_recording(officer, applicant).await;
    (peer_a, peer_o)
}

/// Answer the hub's `renegotiate` (someone joined or left): a new offer on the live connection
/// with enough receiving sections, and the hub's answer applied. Returns the answer's SDP.
pub async fn renegotiate(ws: &mut super::Ws, peer: &TestPeer) -> String {
    let asked = ws.expect("renegotiate").await;
    let receive = asked["receive"].as_u64().expect("receive") as usize;
    let offer = peer.reoffer(receive).await;
    ws.send(serde_json::json!({"type": "offer", "sdp": offer}))
        .await;
    let answer = ws.expect("answer").await;
    let sdp = answer["sdp"].as_str().expect("sdp").to_owned();
    peer.accept(sdp.clone()).await;
    sdp
}

/// The officer asks for recording consent (frame id 1) and the applicant grants it (id 2);
/// returns once the grant is acknowledged.
pub async fn grant_recording(
    officer: &mut super::Ws,
    applicant: &mut super::Ws,
) -> serde_json::Value {
    officer
        .send(serde_json::json!({"id": 1, "type": "request_consent", "consent": "recording"}))
        .await;
    applicant.expect("consent_requested").await;
    applicant
        .send(serde_json::json!({"id": 2, "type": "consent_answer", "consent": "recording", "granted": true}))
        .await;
    let granted = applicant.answer(2).await;
    assert_eq!(granted["event"], "consent_granted", "{granted}");
    granted
}
