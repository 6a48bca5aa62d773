//! The session driver: one task per open session owns its [`Room`] state machine, its evidence
//! [`ChainBuilder`] and its [`MediaSession`], and carries out the room's effects in order.
//!
//! Acknowledged means durable: an `ack` is sent only after the store committed the event.
//! Sealing (on close, on interruption, and for sessions found open after a crash) goes through
//! [`seal_session`], so every ended session gets a verifiable artefact.

use crate::evidence::{ChainBuilder, ChainError, EventKind, ParticipantRole, to_jsonl};
use crate::ids::{ArtefactId, SessionId};
use crate::media::{MediaEvent, MediaSession};
use crate::room::{Effect, Room, RoomInput};
use crate::seal::bundle::{ManifestCase, ManifestParticipant, ManifestSession, SealInput};
use crate::signal::protocol::{ParticipantStats, PeerInfo, ServerMsg};
use crate::state::AppState;
use crate::store::{
    ArtefactRecord, CaseRecord, SessionRecord, SessionStatus, StoreError, UserRecord,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio::sync::mpsc;

/// Zone of the office, shown for officers in the evidence and the manifest.
pub const OFFICE_TZ: &str = "Asia/Shanghai";

/// How often the session reads its participants' peer connection statistics, sends the officer
/// `call_stats` and feeds the `call_*` metrics. Rates are averages over this interval.
pub const STATS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Longest wait for one participant's statistics before that reading is skipped.
const STATS_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Messages a connection receives from the desk or its session. Variants are boxed to keep the
/// enum one pointer wide (`ServerMsg` is 248 bytes).
#[derive(Debug)]
pub enum Outbound {
    Msg(Box<ServerMsg>),
    /// The connection's queue state changed: send what [`ConnRx::take_latest`] holds.
    Latest,
    /// The connection is now a participant of this session.
    Attach(Box<SessionHandle>),
    /// The session ended; drop the handle.
    Detach,
}

impl Outbound {
    pub fn msg(msg: ServerMsg) -> Outbound {
        Outbound::Msg(Box::new(msg))
    }
}

/// The newest queue state for one connection, waiting to be sent.
type LatestSlot = std::sync::Mutex<Option<Pending>>;

/// A queue state waiting in a connection's slot. A position is kept inline: every broadcast
/// makes one for each applicant waiting, and a boxed `ServerMsg` each time churned the
/// allocator by 256 bytes per applicant.
#[derive(Debug)]
enum Pending {
    Position {
        position: usize,
        length: usize,
        estimated_wait_minutes: Option<i64>,
    },
    Other(Box<ServerMsg>),
}

impl Pending {
    fn new(msg: ServerMsg) -> Pending {
        match msg {
            ServerMsg::QueuePosition {
                position,
                length,
                estimated_wait_minutes,
            } => Pending::Position {
                position,
                length,
                estimated_wait_minutes,
            },
            other => Pending::Other(Box::new(other)),
        }
    }

    fn into_msg(self) -> ServerMsg {
        match self {
            Pending::Position {
                position,
                length,
                estimated_wait_minutes,
            } => ServerMsg::QueuePosition {
                position,
                length,
                estimated_wait_minutes,
            },
            Pending::Other(msg) => *msg,
        }
    }
}

/// The sending half of a connection's outbound queue: the desk and the session hand messages to
/// the connection's task through it, never waiting.
///
/// Messages are queued in order, except the queue state (`queue_position` for an applicant,
/// `queue` for an officer), which replaces the one still waiting: a broadcast reaches everyone
/// waiting, and a connection that falls behind sends only the newest state instead of every
/// stale one in between. An idle connection's queue costs about 150 bytes; tokio's unbounded
/// channel allocates 32 slots and cache-padded state up front, about 1 KiB
/// (`docs/benchmarks.md`, signalling load).
#[derive(Clone, Debug)]
pub struct ConnTx {
    tx: futures::channel::mpsc::UnboundedSender<Outbound>,
    latest: std::sync::Arc<LatestSlot>,
}

/// The receiving half, read by the connection's task.
#[derive(Debug)]
pub struct ConnRx {
    rx: futures::channel::mpsc::UnboundedReceiver<Outbound>,
    latest: std::sync::Arc<LatestSlot>,
}

fn lock_latest(slot: &LatestSlot) -> std::sync::MutexGuard<'_, Option<Pending>> {
    // Only an `Option` is replaced under the lock; a panic cannot leave it half-written.
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

impl ConnTx {
    pub fn channel() -> (ConnTx, ConnRx) {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let latest = std::sync::Arc::new(LatestSlot::new(None));
        (
            ConnTx {
                tx,
                latest: latest.clone(),
            },
            ConnRx { rx, latest },
        )
    }

    /// Queue a message for the connection; `false` if it has closed.
    pub fn send(&self, msg: Outbound) -> bool {
        self.tx.unbounded_send(msg).is_ok()
    }

    /// Make `msg` the connection's queue state, replacing one not sent yet; the connection is
    /// woken only when nothing was waiting. `false` if it has closed.
    pub fn replace_latest(&self, msg: ServerMsg) -> bool {
        let waiting = lock_latest(&self.latest)
            .replace(Pending::new(msg))
            .is_some();
        if waiting {
            !self.tx.is_closed()
        } else {
            self.send(Outbound::Latest)
        }
    }
}

impl ConnRx {
    /// The next message; `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Outbound> {
        futures::StreamExt::next(&mut self.rx).await
    }

    /// The queue state waiting to be sent, after [`Outbound::Latest`].
    pub fn take_latest(&self) -> Option<ServerMsg> {
        lock_latest(&self.latest).take().map(Pending::into_msg)
    }
}

/// The committed event a command produced: `(seq, hash)`, or why nothing was recorded.
pub type Committed = Result<Option<(u64, String)>, Refused>;

/// Why a step was not recorded: the code and message its sender was also told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// A room refusal's code (`not_admitted`, `conflict`, …), `database_unavailable` or
    /// `internal`.
    pub code: &'static str,
    pub message: String,
}

/// What participants (and HTTP handlers) send to their session.
#[derive(Debug)]
pub enum SessionCmd {
    Input {
        role: ParticipantRole,
        input: RoomInput,
        reference: Option<u64>,
    },
    Offer {
        role: ParticipantRole,
        sdp: String,
        reference: Option<u64>,
    },
    /// The officer asks for a liveness prompt; the session picks one at random.
    Liveness { reference: Option<u64> },
    /// The participant's connection `conn` closed. Ignored if that connection was replaced.
    Gone {
        role: ParticipantRole,
        conn: crate::pairing::ConnId,
    },
    /// The participant is back on a new connection (after a drop, or from another window).
    Rejoin {
        role: ParticipantRole,
        conn: crate::pairing::ConnId,
        tx: ConnTx,
        /// A guest's zone from their browser, used when the officer gave none.
        tz: Option<String>,
    },
    /// The hub is shutting down: end the session as interrupted and seal it.
    Drain { reason: String },
    /// A document stored by the upload handler, which waits for the event to commit.
    Document {
        doc: crate::room::StoredDocument,
        reply: tokio::sync::oneshot::Sender<Committed>,
    },
}

#[derive(Clone, Debug)]
pub struct SessionHandle {
    pub id: SessionId,
    pub role: ParticipantRole,
    tx: mpsc::Sender<SessionCmd>,
}

impl SessionHandle {
    /// Hand a command to the session task; `false` if it has ended.
    pub async fn send(&self, cmd: SessionCmd) -> bool {
        self.tx.send(cmd).await.is_ok()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("sealing failed: {0}")]
    Seal(String),
}

/// Fresh TURN credentials for `role` in `session`, when TURN is configured. The username tag
/// names the session and role only.
fn ice_servers(hub: &AppState, session: SessionId, role: ParticipantRole) -> Option<ServerMsg> {
    let turn = hub.settings.turn.as_ref()?;
    let (server, expires_at) =
        turn.mint(&format!("{session}:{}", role_name(role)), hub.clock.now());
    Some(ServerMsg::IceServers {
        servers: vec![server],
        expires_at,
    })
}

fn role_name(role: ParticipantRole) -> String {
    role.to_string()
}

/// The guest links handed out in this hub's sessions, by SHA-256 of their token.
pub type GuestPasses = std::sync::Mutex<std::collections::HashMap<String, GuestPass>>;

/// What a guest link opens: one seat in one session, until it expires or the guest leaves.
#[derive(Clone, Debug)]
pub struct GuestPass {
    pub session: SessionId,
    pub role: ParticipantRole,
    pub name: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// What a returning participant is told to do with their media (`paired.media`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Media {
    /// The hub still holds their peer connection: keep it and make an ICE-restart offer.
    Resume,
    /// It does not: make a new peer connection and offer.
    Rejoin,
}

impl Media {
    fn as_str(self) -> &'static str {
        match self {
            Media::Resume => "resume",
            Media::Rejoin => "rejoin",
        }
    }
}

/// How long a guest link works if the session runs on.
pub const GUEST_LINK_TTL: chrono::Duration = chrono::Duration::hours(4);

/// Open a session between the applicant of `case` and `officer`, attach both connections and
/// start its task.
pub async fn open(
    hub: &AppState,
    case: CaseRecord,
    officer: UserRecord,
    applicant: Option<(crate::pairing::ConnId, ConnTx)>,
    officer_conn: (crate::pairing::ConnId, ConnTx),
) -> Result<SessionId, SessionError> {
    let officer_tx = officer_conn.1.clone();
    let now = hub.clock.now();
    let record = SessionRecord {
        id: SessionId::random(),
        case_id: case.id,
        officer_id: officer.id,
        status: SessionStatus::Open,
        started_at: now,
        ended_at: None,
        events: 0,
        node: hub.settings.config.node_id.clone(),
    };
    hub.store.create_session(&record).await?;
    let (tx, rx) = mpsc::channel(64);
    let checklist = hub
        .catalogue
        .service(&case.service)
        .map(|s| s.checklist.clone())
        .unwrap_or_else(|| crate::catalogue::Checklist {
            consents: vec![],
            identity: vec![],
            liveness: false,
            stills: vec![],
            documents: vec![],
            declarations: vec![],
        });
    let (media, media_rx) = MediaSession::new(
        hub.media.clone(),
        hub.paths.recordings.join(record.id.to_string()),
    );
    let mut driver = Driver {
        hub: hub.clone(),
        room: Room::new(
            case.applicant_lang.clone(),
            &checklist,
            hub.settings.guest_policy.clone(),
        ),
        chain: ChainBuilder::new(record.id),
        media,
        record: record.clone(),
        case: case.clone(),
        conns: applicant
            .clone()
            .map(|a| (ParticipantRole::Applicant, a))
            .into_iter()
            .chain([(ParticipantRole::Officer, officer_conn.clone())])
            .collect(),
        people: [
            (
                ParticipantRole::Officer,
                PeerInfo {
                    role: "officer".into(),
                    name: officer.display_name.clone(),
                    tz: OFFICE_TZ.into(),
                },
            ),
            (
                ParticipantRole::Applicant,
                PeerInfo {
                    role: "applicant".into(),
                    name: case.applicant_name.clone(),
                    tz: case.applicant_tz.clone(),
                },
            ),
        ]
        .into(),
        grace: BTreeMap::new(),
        grace_period: std::time::Duration::from_secs(u64::from(
            hub.settings.config.reconnect_grace_secs,
        )),
        handled_at: std::time::Instant::now(),
        self_tx: tx.downgrade(),
        done: false,
        readings: BTreeMap::new(),
        paths: BTreeMap::new(),
        receiving: BTreeMap::new(),
        interrupted: Default::default(),
    };
    driver
        .persist(
            EventKind::SessionOpened {
                case: case.id.to_string(),
                service: case.service.clone(),
            },
            None,
            None,
        )
        .await?;
    // The applicant is attached (to hear about the lobby and to be refused cleanly) but gets
    // `paired`, the cue to send media, only once the officer admits them.
    let applicant_tx = applicant.map(|(_, tx)| tx);
    for (role, conn) in [
        (ParticipantRole::Applicant, applicant_tx.as_ref()),
        (ParticipantRole::Officer, Some(&officer_tx)),
    ] {
        let Some(conn) = conn else { continue };
        let handle = SessionHandle {
            id: record.id,
            role,
            tx: tx.clone(),
        };
        let _ = conn.send(Outbound::Attach(Box::new(handle)));
    }
    driver.pair(ParticipantRole::Officer, false);
    // An applicant connected to another node joins (and knocks) when they arrive here.
    let applicant_here = applicant_tx.is_some();
    for (role, tz, name) in [
        (
            ParticipantRole::Officer,
            OFFICE_TZ.to_owned(),
            officer.display_name.clone(),
        ),
        (
            ParticipantRole::Applicant,
            case.applicant_tz.clone(),
            case.applicant_name.clone(),
        ),
    ] {
        if role == ParticipantRole::Applicant && !applicant_here {
            continue;
        }
        let _ = driver
            .apply(role, RoomInput::Joined { role, tz, name }, None)
            .await;
    }
    let open = {
        let mut sessions = hub.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.insert(record.id, tx.clone());
        sessions.len()
    };
    crate::metrics::Metrics::set_count(&hub.metrics.sessions_open, open);
    {
        let mut live = hub.live.lock().unwrap_or_else(|p| p.into_inner());
        live.insert(crate::state::Participant::Applicant(case.id), record.id);
        live.insert(crate::state::Participant::Officer(officer.id), record.id);
    }
    drop(tx);
    tokio::spawn(driver.run(rx, media_rx));
    Ok(record.id)
}

struct Driver {
    hub: AppState,
    room: Room,
    chain: ChainBuilder,
    media: MediaSession,
    record: SessionRecord,
    case: CaseRecord,
    /// The connection each participant is on now (guests from their first arrival).
    conns: BTreeMap<ParticipantRole, (crate::pairing::ConnId, ConnTx)>,
    /// How each participant is shown to the others: name and zone.
    people: BTreeMap<ParticipantRole, PeerInfo>,
    /// When each away participant's grace period ends.
    grace: BTreeMap<ParticipantRole, tokio::time::Instant>,
    grace_period: std::time::Duration,
    /// The monotonic instant read together with the wall clock handed to the room for the
    /// input being applied: a recording started by that input has its time zero here, the
    /// same moment the room counts `recording_offset_ms` from.
    handled_at: std::time::Instant,
    /// To hand new connections a handle without keeping the channel open ourselves.
    self_tx: mpsc::WeakSender<SessionCmd>,
    done: bool,
    /// Each participant's last statistics reading, for the next rates.
    readings: BTreeMap<ParticipantRole, crate::media::stats::Reading>,
    /// Each participant's path (relayed or not), held in the `call_participants` gauge until it
    /// changes or the participant's media ends; dropped with the driver at the session's end.
    paths: BTreeMap<ParticipantRole, (bool, crate::metrics::GaugeGuard)>,
    /// Whose media each participant's peer connection was last negotiated to receive.
    receiving: BTreeMap<ParticipantRole, Vec<ParticipantRole>>,
    /// Participants whose media path is interrupted (a `media_interrupted` not yet restored).
    interrupted: std::collections::BTreeSet<ParticipantRole>,
}

impl Driver {
    fn send(&self, role: ParticipantRole, msg: ServerMsg) {
        if let Some((_, conn)) = self.conns.get(&role) {
            let _ = conn.send(Outbound::msg(msg));
        }
    }

    /// Who `role` sees on the other end in `paired`: the officer for everyone but the officer,
    /// who sees the applicant.
    fn counterpart(&self, role: ParticipantRole) -> PeerInfo {
        let other = if role == ParticipantRole::Officer {
            ParticipantRole::Applicant
        } else {
            ParticipantRole::Officer
        };
        self.people.get(&other).cloned().unwrap_or(PeerInfo {
            role: other.to_string(),
            name: String::new(),
            tz: OFFICE_TZ.into(),
        })
    }

    /// Tell everyone in the call who is in it (the names behind the forwarded streams).
    fn announce_participants(&self) {
        let in_call = self.room.in_call();
        let participants: Vec<PeerInfo> = in_call
            .iter()
            .filter_map(|r| self.people.get(r).cloned())
            .collect();
        for role in in_call {
            self.send(
                role,
                ServerMsg::Participants {
                    participants: participants.clone(),
                },
            );
        }
    }

    /// Ask every participant whose peer connection receives a different set of senders than
    /// the call now has to make a new offer.
    fn renegotiate_others(&self, except: Option<ParticipantRole>) {
        for role in self.room.in_call() {
            if Some(role) == except || !self.media.has_peer(role) {
                continue;
            }
            let sources = self.room.sources_for(role);
            if self.receiving.get(&role) != Some(&sources) {
                self.send(
                    role,
                    ServerMsg::Renegotiate {
                        receive: sources.len(),
                    },
                );
            }
        }
    }

    /// Send `role` fresh ICE servers (with TURN) and `paired`: the cue to make an offer.
    fn pair(&self, role: ParticipantRole, resumed: bool) {
        self.pair_with(role, resumed.then_some(Media::Rejoin));
    }

    /// `paired` after a return: `media` says whether to keep the peer connection (an ICE
    /// restart on it) or make a new one.
    fn pair_with(&self, role: ParticipantRole, media: Option<Media>) {
        if let Some(msg) = ice_servers(&self.hub, self.record.id, role) {
            self.send(role, msg);
        }
        self.send(
            role,
            ServerMsg::Paired {
                session_id: self.record.id,
                case_id: self.case.id,
                peer: self.counterpart(role),
                resumed: media.is_some(),
                publish: self.room.permissions(role).publish,
                main: self.counterpart(role).role,
                media: media.map(|m| m.as_str().to_owned()),
            },
        );
    }

    /// The others in the call start afresh too: their receiving legs take the returning
    /// participant's new stream from a new peer connection rather than splicing it in.
    async fn repair_others(&mut self, role: ParticipantRole) {
        for peer in self.room.in_call() {
            if peer == role || self.grace.contains_key(&peer) || !self.media.has_peer(peer) {
                continue;
            }
            self.media.drop_participant(peer).await;
            self.receiving.remove(&peer);
            self.pair_with(peer, Some(Media::Rejoin));
        }
    }

    /// Send `msg` to every participant with a connection (guests in the lobby included).
    fn everyone(&self, msg: ServerMsg) {
        for (_, conn) in self.conns.values() {
            let _ = conn.send(Outbound::msg(msg.clone()));
        }
    }

    async fn run(
        mut self,
        mut rx: mpsc::Receiver<SessionCmd>,
        mut media_rx: mpsc::UnboundedReceiver<MediaEvent>,
    ) {
        // Fresh TURN credentials at half their lifetime, so a long call never holds expired ones.
        let mut refresh = self.hub.settings.turn.as_ref().map(|t| {
            let every = t.refresh_every();
            tokio::time::interval_at(tokio::time::Instant::now() + every, every)
        });
        let mut stats_tick =
            tokio::time::interval_at(tokio::time::Instant::now() + STATS_EVERY, STATS_EVERY);
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.done {
            let next_grace = self.grace.values().min().copied();
            tokio::select! {
                _ = async {
                    match refresh.as_mut() {
                        Some(interval) => { interval.tick().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {
                    for role in self.conns.keys().copied().collect::<Vec<_>>() {
                        if let Some(msg) = ice_servers(&self.hub, self.record.id, role) {
                            self.send(role, msg);
                        }
                    }
                }
                _ = async {
                    match next_grace {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {
                    let now = tokio::time::Instant::now();
                    let expired: Vec<ParticipantRole> = self.grace.iter()
                        .filter(|(_, at)| **at <= now).map(|(r, _)| *r).collect();
                    for role in expired {
                        self.grace.remove(&role);
                        let _ = self.apply(role, RoomInput::GraceExpired { role }, None).await;
                    }
                }
                _ = stats_tick.tick() => self.poll_stats().await,
                cmd = rx.recv() => match cmd {
                    Some(SessionCmd::Input { role, input, reference }) => {
                        let _ = self.apply(role, input, reference).await;
                    }
                    Some(SessionCmd::Gone { role, conn }) => {
                        // A replaced connection closing says nothing about the participant.
                        // The media connection is kept: the call may go on while the socket comes
                        // back, and the return resumes it (grace expiry drops it).
                        if self.conns.get(&role).is_some_and(|c| c.0 == conn) {
                            let _ = self.apply(role, RoomInput::Disconnected { role }, None).await;
                        }
                    }
                    Some(SessionCmd::Rejoin { role, conn, tx, tz }) => {
                        if let (Some(tz), Some(person)) = (tz, self.people.get_mut(&role))
                            && person.tz.is_empty()
                        {
                            person.tz = tz;
                        }
                        self.rejoin(role, conn, tx).await
                    }
                    Some(SessionCmd::Liveness { reference }) => {
                        let prompts = crate::consent::liveness_prompts();
                        let pick = prompts.get(rand::random::<usize>() % prompts.len().max(1));
                        let Some(prompt) = pick else { continue };
                        let lang = self.case.applicant_lang.clone();
                        let text = prompt.text.get(&lang).or_else(|| prompt.text.get("en"))
                            .cloned().unwrap_or_default();
                        let officer_text = ["zh-Hans", "en"].iter()
                            .filter_map(|l| prompt.text.get(*l).cloned())
                            .collect::<Vec<_>>().join(" / ");
                        let input = RoomInput::LivenessPrompt {
                            prompt_id: prompt.id.clone(), lang, text, officer_text };
                        let _ = self.apply(ParticipantRole::Officer, input, reference).await;
                    }
                    Some(SessionCmd::Drain { reason }) => {
                        let _ = self.apply(ParticipantRole::Officer, RoomInput::Shutdown { reason }, None).await;
                    }
                    Some(SessionCmd::Document { doc, reply }) => {
                        let result = self.apply(ParticipantRole::Officer, RoomInput::DocumentAdded(doc), None).await;
                        let _ = reply.send(result);
                    }
                    Some(SessionCmd::Offer { role, reference, .. })
                        if !self.room.is_admitted(role) =>
                    {
                        let e = crate::room::RoomError::NotAdmitted;
                        // Refused before any parsing or port: the lobby costs the hub nothing.
                        self.send(role, ServerMsg::Error {
                            reference,
                            code: e.code().into(),
                            message: e.to_string(),
                        });
                    }
                    Some(SessionCmd::Offer { role, sdp, reference }) => {
                        self.offer(role, sdp, reference).await;
                    }
                    None => {
                        // Every participant connection is gone without a close.
                        let reason = "all participants disconnected".to_owned();
                        let _ = self.apply(ParticipantRole::Officer, RoomInput::Left {
                            role: ParticipantRole::Officer, reason }, None).await;
                        break;
                    }
                },
                Some(event) = media_rx.recv() => match event {
                    MediaEvent::Connected(role) => {
                        self.media_gap(role, false).await;
                        for to in self.room.in_call() {
                            if to != role {
                                self.send(to, ServerMsg::PeerState {
                                    role: role_name(role), state: "media_connected".into() });
                            }
                        }
                    }
                    MediaEvent::Interrupted(role) => self.media_gap(role, true).await,
                    MediaEvent::Disconnected(role) => {
                        tracing::info!(session = %self.record.id, ?role, "media disconnected");
                        // Failed on its own (not closed by the hub): a gap like an interruption.
                        if self.media.has_peer(role) && !self.media.is_alive(role) {
                            self.media_gap(role, true).await;
                        }
                    }
                    MediaEvent::TrackStarted { role, kind } => {
                        tracing::debug!(session = %self.record.id, ?role, kind, "track started");
                    }
                    MediaEvent::RecordedPieces => {
                        if let Err(e) = self.persist_recorded_pieces().await {
                            tracing::error!(session = %self.record.id, "recording evidence: {e}");
                        }
                    }
                },
            }
        }
        let open = {
            let mut sessions = self.hub.sessions.lock().unwrap_or_else(|p| p.into_inner());
            sessions.remove(&self.record.id);
            sessions.len()
        };
        crate::metrics::Metrics::set_count(&self.hub.metrics.sessions_open, open);
        self.media.close().await;
    }

    /// Chain the start (`interrupted`) or end of a gap in `role`'s media: once each, and only
    /// while the session runs.
    async fn media_gap(&mut self, role: ParticipantRole, interrupted: bool) {
        if self.room.is_ended() || self.interrupted.contains(&role) == interrupted {
            return;
        }
        let recording_offset_ms = self.room.offset(self.hub.clock.now());
        let kind = if interrupted {
            EventKind::MediaInterrupted {
                role,
                recording_offset_ms,
                silence_ms: crate::media::ICE_DISCONNECTED_AFTER.as_millis() as u64,
            }
        } else {
            EventKind::MediaRestored {
                role,
                recording_offset_ms,
            }
        };
        match self.persist(kind, None, None).await {
            Ok(_) if interrupted => {
                self.interrupted.insert(role);
            }
            Ok(_) => {
                self.interrupted.remove(&role);
            }
            Err(e) => tracing::error!(session = %self.record.id, "media gap not recorded: {e}"),
        }
    }

    /// Read each participant's peer connection statistics: the officer gets `call_stats` (the
    /// applicant never sees the other side's network), and the `call_*` metrics an observation.
    async fn poll_stats(&mut self) {
        let mut participants = Vec::new();
        let mut roles: Vec<ParticipantRole> = self.conns.keys().copied().collect();
        // The officer's own line first.
        roles.sort_by_key(|r| *r != ParticipantRole::Officer);
        for role in roles {
            // A slow stats lock must never hold up the session: skip this reading instead.
            let reading = tokio::time::timeout(STATS_TIMEOUT, self.media.reading(role)).await;
            let Ok(reading) = reading else {
                tracing::debug!(session = %self.record.id, ?role, "stats reading timed out");
                continue;
            };
            let Some(cur) = reading else {
                self.readings.remove(&role);
                self.paths.remove(&role);
                continue;
            };
            let stats = crate::media::stats::figures(self.readings.get(&role), &cur);
            if let Some(relayed) = cur.relayed
                && self.paths.get(&role).map(|p| p.0) != Some(relayed)
            {
                let gauge = self.hub.metrics.call_path(role.kind(), relayed);
                self.paths
                    .insert(role, (relayed, crate::metrics::GaugeGuard::hold(&gauge)));
            }
            // The first reading has no rates yet: it would pull the histograms towards zero.
            if self.readings.contains_key(&role) {
                self.hub.metrics.call_reading(role.kind(), &stats);
            }
            self.readings.insert(role, cur);
            participants.push(ParticipantStats {
                role: role_name(role),
                stats,
            });
        }
        if !participants.is_empty() {
            self.send(
                ParticipantRole::Officer,
                ServerMsg::CallStats { participants },
            );
        }
    }

    /// Chain every recording evidence piece closed since the last call.
    async fn persist_recorded_pieces(&mut self) -> Result<(), SessionError> {
        for recorded in self.media.take_recorded_pieces() {
            let p = match recorded {
                crate::media::record::Recorded::Piece(p) => p,
                crate::media::record::Recorded::Failed(f) => {
                    let kind = EventKind::RecordingFailed {
                        file: f.file,
                        reason: f.reason,
                        recording_offset_ms: Some(f.recording_offset_ms),
                    };
                    self.persist(kind, None, None).await?;
                    continue;
                }
            };
            let kind = EventKind::RecordingSegment {
                file: p.file,
                piece: p.piece.to_owned(),
                index: p.index,
                byte_start: p.bytes.0,
                byte_end: p.bytes.1,
                start_ms: p.time_ms.map(|t| t.0),
                end_ms: p.time_ms.map(|t| t.1),
                sha256: p.sha256,
            };
            self.persist(kind, None, None).await?;
        }
        Ok(())
    }

    /// A guest's first arrival through their link: attach the connection and knock.
    async fn arrive(&mut self, role: ParticipantRole, conn: crate::pairing::ConnId, tx: ConnTx) {
        let Some(self_tx) = self.self_tx.upgrade() else {
            return;
        };
        if !self.room.is_invited(role) {
            let e = crate::room::RoomError::NotInvited(role);
            let _ = tx.send(Outbound::msg(ServerMsg::Error {
                reference: None,
                code: e.code().into(),
                message: e.to_string(),
            }));
            return;
        }
        self.conns.insert(role, (conn, tx.clone()));
        let handle = SessionHandle {
            id: self.record.id,
            role,
            tx: self_tx,
        };
        let _ = tx.send(Outbound::Attach(Box::new(handle)));
        let person = self.people.entry(role).or_insert_with(|| PeerInfo {
            role: role.to_string(),
            name: role.to_string(),
            tz: String::new(),
        });
        if person.tz.is_empty() {
            person.tz = "UTC".into();
        }
        let (tz, name) = (person.tz.clone(), person.name.clone());
        let _ = self
            .apply(role, RoomInput::Joined { role, tz, name }, None)
            .await;
    }

    /// Move `role` onto a new connection: the old one (if still open) is told the session moved,
    /// the new one is attached and asked for a fresh offer, and the room records the return.
    async fn rejoin(&mut self, role: ParticipantRole, conn: crate::pairing::ConnId, tx: ConnTx) {
        let Some(self_tx) = self.self_tx.upgrade() else {
            return;
        };
        // A first arrival: a guest by link, or an applicant sent here from another node.
        if !self.conns.contains_key(&role) && role != ParticipantRole::Officer {
            return self.arrive(role, conn, tx).await;
        }
        if !self.room.is_present(role) {
            // Left for good (the grace period ran out): the new connection starts afresh.
            let key = match role {
                ParticipantRole::Applicant => crate::state::Participant::Applicant(self.case.id),
                ParticipantRole::Officer => {
                    crate::state::Participant::Officer(self.record.officer_id)
                }
                ParticipantRole::Guest { .. } => {
                    let _ = tx.send(Outbound::msg(ServerMsg::Error {
                        reference: None,
                        code: "forbidden".into(),
                        message: "you have left this session; ask the officer for a new link"
                            .into(),
                    }));
                    return;
                }
            };
            self.hub
                .live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            return;
        }
        let Some((old_id, old)) = self.conns.insert(role, (conn, tx.clone())) else {
            return;
        };
        if old_id != conn {
            let _ = old.send(Outbound::msg(ServerMsg::Error {
                reference: None,
                code: "moved".into(),
                message: "this session continues in another window".into(),
            }));
            let _ = old.send(Outbound::Detach);
        }
        // Media that survived the signalling drop is resumed (an ICE restart on the same peer
        // connection); otherwise the participant starts a new one.
        let media = if self.media.is_alive(role) {
            Media::Resume
        } else {
            self.media.drop_participant(role).await;
            self.receiving.remove(&role);
            Media::Rejoin
        };
        let handle = SessionHandle {
            id: self.record.id,
            role,
            tx: self_tx,
        };
        let _ = tx.send(Outbound::Attach(Box::new(handle)));
        if !self.room.is_admitted(role) {
            // Back in the lobby, still waiting: admitted earlier means admitted now, and
            // knocking earlier means waiting still (the officer keeps the knock).
            self.send(
                role,
                ServerMsg::Lobby {
                    state: "waiting".into(),
                },
            );
            let _ = self
                .apply(role, RoomInput::Reconnected { role }, None)
                .await;
            return;
        }
        if role != ParticipantRole::Officer {
            self.send(
                role,
                ServerMsg::Lobby {
                    state: "admitted".into(),
                },
            );
        }
        self.pair_with(role, Some(media));
        self.send(
            role,
            ServerMsg::Recording {
                active: self.room.is_recording(),
            },
        );
        if role == ParticipantRole::Officer {
            // The console came back while someone waits: show the knocks again.
            for knock in self.room.knocks() {
                self.send(role, knock);
            }
        }
        let _ = self
            .apply(role, RoomInput::Reconnected { role }, None)
            .await;
        self.announce_participants();
        if media == Media::Rejoin {
            self.repair_others(role).await;
        }
    }

    /// Hand the officer the link for a guest just invited. The token travels in the link's
    /// fragment only; the hub keeps its hash until the guest leaves or the session ends.
    fn mint_guest_link(&mut self, role: ParticipantRole, name: String, tz: String) {
        let ParticipantRole::Guest {
            role: guest_role, ..
        } = role
        else {
            return;
        };
        let token = crate::auth::random_token();
        let expires_at = self.hub.clock.now() + GUEST_LINK_TTL;
        let name = if name.trim().is_empty() {
            role.to_string()
        } else {
            name
        };
        self.hub
            .guest_passes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                crate::auth::token_hash(&token),
                GuestPass {
                    session: self.record.id,
                    role,
                    name: name.clone(),
                    expires_at,
                },
            );
        self.people.insert(
            role,
            PeerInfo {
                role: role.to_string(),
                name,
                tz,
            },
        );
        self.send(
            ParticipantRole::Officer,
            ServerMsg::GuestInvite {
                participant: role.to_string(),
                role: guest_role.as_str().into(),
                link: format!("{}/join#g={token}", self.hub.settings.public_url),
                expires_at: expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            },
        );
    }

    /// A participant's SDP offer: the first one opens their peer connection with the hub, a
    /// later one renegotiates it (someone joined or left, or an ICE restart).
    async fn offer(&mut self, role: ParticipantRole, sdp: String, reference: Option<u64>) {
        let refuse = |code: &str, message: String| ServerMsg::Error {
            reference,
            code: code.into(),
            message,
        };
        if !self.room.is_admitted(role) || !self.room.is_present(role) {
            let e = crate::room::RoomError::NotAdmitted;
            // Refused before any parsing or port: the lobby costs the hub nothing.
            return self.send(role, refuse(e.code(), e.to_string()));
        }
        let permissions = self.room.permissions(role);
        if !permissions.publish && crate::media::offer::sends_media(&sdp) {
            let message = format!(
                "as {role} you may watch and listen but not send audio or video; offer to \
                 receive only"
            );
            return self.send(role, refuse("forbidden", message));
        }
        let sources = self.room.sources_for(role);
        match self
            .media
            .answer(role, sdp, &sources, permissions.recorded)
            .await
        {
            Ok(answer) => {
                let first = !self.receiving.contains_key(&role) || answer.replaced;
                self.send(role, ServerMsg::Answer { sdp: answer.sdp });
                if answer.receiving.len() < sources.len() {
                    // The offer had too few receiving slots: ask for one with enough.
                    self.send(
                        role,
                        ServerMsg::Renegotiate {
                            receive: sources.len(),
                        },
                    );
                }
                self.receiving.insert(role, answer.receiving);
                if answer.replaced {
                    // A new peer connection in place of one that could have been resumed (a
                    // reloaded page): the others start afresh with it.
                    self.repair_others(role).await;
                } else if first && permissions.publish {
                    // A new sender: everyone else needs a slot for them.
                    self.renegotiate_others(Some(role));
                }
            }
            Err(e) => self.send(role, refuse("media", e.to_string())),
        }
    }

    /// Run an input through the room and carry out its effects. Returns the last committed
    /// event, or the reason nothing (more) was recorded.
    async fn apply(
        &mut self,
        role: ParticipantRole,
        input: RoomInput,
        reference: Option<u64>,
    ) -> Committed {
        // Kept so that a step the store refuses leaves the room as it was: the room and the
        // chain never disagree about what happened.
        let before = self.room.clone();
        let now = self.hub.clock.now();
        self.handled_at = std::time::Instant::now();
        let effects = match self.room.handle(now, role, input) {
            Ok(effects) => effects,
            Err(e) => {
                self.send(
                    role,
                    ServerMsg::Error {
                        reference,
                        code: e.code().into(),
                        message: e.to_string(),
                    },
                );
                return Err(Refused {
                    code: e.code(),
                    message: e.to_string(),
                });
            }
        };
        let mut last = None;
        for effect in effects {
            match self.effect(role, effect, reference).await {
                Ok(Some(committed)) => last = Some(committed),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(session = %self.record.id, "session effect failed: {e}");
                    if last.is_none() {
                        self.room = before;
                    }
                    let unavailable = matches!(&e, SessionError::Store(s) if s.is_unavailable());
                    let (code, message) = if unavailable {
                        (
                            "database_unavailable",
                            "the database cannot be reached right now; this step was not \
                             recorded, please try it again shortly",
                        )
                    } else {
                        (
                            "internal",
                            "the hub could not store this step; it was not recorded",
                        )
                    };
                    self.send(
                        role,
                        ServerMsg::Error {
                            reference,
                            code: code.into(),
                            message: message.into(),
                        },
                    );
                    return Err(Refused {
                        code,
                        message: message.into(),
                    });
                }
            }
        }
        Ok(last)
    }

    async fn persist(
        &mut self,
        kind: EventKind,
        reply_to: Option<ParticipantRole>,
        reference: Option<u64>,
    ) -> Result<(u64, String), SessionError> {
        let event = self.chain.next(self.hub.clock.now(), kind)?;
        self.hub.store.append_event(&event).await?;
        self.chain.commit(&event);
        for effect in self.room.committed(event.event.seq, &event.event.kind) {
            if let Effect::Send { to, msg } = effect {
                self.send(to, msg);
            }
        }
        let ack = |reference| ServerMsg::Ack {
            reference,
            seq: event.event.seq,
            hash: event.hash.clone(),
            event: event.event.kind.name().into(),
        };
        let officer_ref = if reply_to == Some(ParticipantRole::Officer) {
            reference
        } else {
            None
        };
        self.send(ParticipantRole::Officer, ack(officer_ref));
        if let Some(to) = reply_to.filter(|r| *r != ParticipantRole::Officer) {
            self.send(to, ack(reference));
        }
        Ok((event.event.seq, event.hash))
    }

    async fn effect(
        &mut self,
        from: ParticipantRole,
        effect: Effect,
        reference: Option<u64>,
    ) -> Result<Option<(u64, String)>, SessionError> {
        match effect {
            Effect::Persist { kind, reply_to } => {
                let reply_to = reply_to.or(Some(from));
                let stopped = matches!(kind, EventKind::RecordingStopped { .. });
                let committed = self.persist(kind, reply_to, reference).await?;
                if stopped {
                    // The recorder finished its files before this event: their last pieces
                    // follow it in the chain, before anything else (a seal included).
                    self.persist_recorded_pieces().await?;
                }
                return Ok(Some(committed));
            }
            Effect::Send { to, msg } => self.send(to, msg),
            Effect::Admit { role } => {
                self.pair(role, false);
                self.announce_participants();
            }
            Effect::Grace { role, running } => {
                if running {
                    self.grace
                        .insert(role, tokio::time::Instant::now() + self.grace_period);
                } else {
                    self.grace.remove(&role);
                }
            }
            Effect::GuestInvited { role, name, tz } => self.mint_guest_link(role, name, tz),
            Effect::PermissionsChanged {
                role,
                publish_changed,
            } => {
                if publish_changed && self.room.is_admitted(role) && self.room.is_present(role) {
                    // Their media starts over, sending or receive-only as they now may.
                    self.media.drop_participant(role).await;
                    self.receiving.remove(&role);
                    self.pair_with(role, Some(Media::Rejoin));
                }
                self.renegotiate_others(Some(role));
            }
            Effect::Departed { role } => {
                self.media.drop_participant(role).await;
                self.receiving.remove(&role);
                self.grace.remove(&role);
                if role.is_guest() {
                    self.hub
                        .guest_passes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .retain(|_, pass| pass.session != self.record.id || pass.role != role);
                    if let Some((_, conn)) = self.conns.remove(&role) {
                        let _ = conn.send(Outbound::Detach);
                    }
                }
                self.announce_participants();
                self.renegotiate_others(Some(role));
            }
            Effect::StartRecording => {
                let tracks = match self.media.start_recording(self.handled_at).await {
                    Ok(tracks) => tracks,
                    Err(e) => {
                        tracing::error!(session = %self.record.id, "recorder failed: {e}");
                        Vec::new()
                    }
                };
                self.persist(EventKind::RecordingStarted { tracks }, None, None)
                    .await?;
                self.everyone(ServerMsg::Recording { active: true });
            }
            Effect::StopRecording => {
                self.media.stop_recording().await;
                self.everyone(ServerMsg::Recording { active: false });
            }
            Effect::Seal { outcome, reason } => {
                self.finish(SessionStatus::Closed, outcome, reason).await?;
            }
            Effect::Interrupt { reason } => {
                tracing::info!(session = %self.record.id, %reason, "session interrupted");
                self.finish(
                    SessionStatus::Interrupted,
                    "interrupted".into(),
                    Some(reason),
                )
                .await?;
            }
        }
        Ok(None)
    }

    async fn finish(
        &mut self,
        status: SessionStatus,
        outcome: String,
        reason: Option<String>,
    ) -> Result<(), SessionError> {
        self.done = true;
        self.media.close().await;
        let recordings = self.media.recordings();
        let (hub, record, case) = (&self.hub, &self.record, &self.case);
        let sealed = seal_session(
            hub,
            record,
            case,
            status,
            &outcome,
            reason.clone(),
            recordings,
        )
        .await;
        let (artefact_id, manifest_sha256) = match &sealed {
            Ok(a) => (Some(a.id), Some(a.manifest_sha256.clone())),
            Err(_) => (None, None),
        };
        self.everyone(ServerMsg::SessionClosed {
            session_id: self.record.id,
            artefact_id,
            manifest_sha256,
            outcome,
            reason,
        });
        for (_, conn) in self.conns.values() {
            let _ = conn.send(Outbound::Detach);
        }
        self.hub
            .guest_passes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, pass| pass.session != self.record.id);
        sealed.map(|_| ())
    }
}

/// Files already under a session's recordings directory (used after a crash).
pub fn recordings_on_disk(dir: &std::path::Path) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok().map(|n| (n, e.path())))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    files.sort();
    files
}

/// Seal a session's artefact from its stored chain, attach it to the case and mark the session
/// `status`.
pub async fn seal_session(
    hub: &AppState,
    session: &SessionRecord,
    case: &CaseRecord,
    status: SessionStatus,
    outcome: &str,
    reason: Option<String>,
    recordings: Vec<(String, PathBuf)>,
) -> Result<ArtefactRecord, SessionError> {
    let now = hub.clock.now();
    let started = std::time::Instant::now();
    let events = hub.store.events(session.id).await?;
    let jsonl = to_jsonl(events.iter().map(|e| e.body.as_str()));
    // The checklist in the manifest is recomputed from the chain itself.
    let mut checklist = match hub.catalogue.service(&case.service) {
        Some(s) => crate::checklist::ChecklistState::new(&s.checklist),
        None => crate::checklist::ChecklistState::new(&crate::catalogue::Checklist {
            consents: vec![],
            identity: vec![],
            liveness: false,
            stills: vec![],
            documents: vec![],
            declarations: vec![],
        }),
    };
    // Guests who were let in join the applicant and the officer in the manifest, with the zone
    // they knocked from.
    let mut knocked: BTreeMap<ParticipantRole, String> = BTreeMap::new();
    let mut guests = Vec::new();
    for stored in &events {
        if let Ok(event) = serde_json::from_str::<crate::evidence::Event>(&stored.body) {
            checklist.observe(stored.seq, &event.kind);
            match &event.kind {
                EventKind::ParticipantKnocked { role, tz } if role.is_guest() => {
                    knocked.insert(*role, tz.clone());
                }
                EventKind::ParticipantAdmitted { role } if role.is_guest() => {
                    guests.push(ManifestParticipant {
                        role: role.to_string(),
                        tz: knocked.get(role).cloned().unwrap_or_else(|| "UTC".into()),
                    });
                }
                _ => {}
            }
        }
    }
    let documents = crate::documents::load_all(
        &hub.vault,
        &crate::documents::session_dir(&hub.paths.data, session.id),
        case.id,
    )
    .map_err(|e| SessionError::Seal(format!("documents: {e}")))?;
    let artefact_id = ArtefactId::random();
    // The artefact's directory under `artefacts/` (earlier versions stored `<id>.zip`).
    let file_name = artefact_id.to_string();
    let out = hub.paths.artefacts.join(&file_name);
    // Recordings are encrypted at rest under a fresh key, kept (wrapped) until the service's
    // retention ends (seal::retention).
    let key = crate::seal::rest::RecordingKey::generate(&mut rand::rngs::OsRng);
    let key_at_rest = key.clone();
    // Whole seconds: every store keeps them exactly, so the store and the manifest agree.
    let retain_until = chrono::SubsecRound::trunc_subsecs(
        now + hub.catalogue.recording_retention(&case.service),
        0,
    );
    let wrapped = hub
        .vault
        .wrap_recording_key(&artefact_id.to_string(), &key)
        .map_err(|e| SessionError::Seal(e.to_string()))?;
    let input = SealInput {
        artefact_id,
        case: ManifestCase {
            id: case.id,
            service: case.service.clone(),
        },
        session: ManifestSession {
            id: session.id,
            started_at: session.started_at,
            ended_at: now,
            outcome: outcome.to_owned(),
            reason,
        },
        participants: vec![
            ManifestParticipant {
                role: "applicant".into(),
                tz: case.applicant_tz.clone(),
            },
            ManifestParticipant {
                role: "officer".into(),
                tz: OFFICE_TZ.into(),
            },
        ]
        .into_iter()
        .chain(guests)
        .collect(),
        events_jsonl: jsonl.into_bytes(),
        recordings,
        documents,
        checklist: checklist.items(),
        sealed_at: now,
        retention: Some(crate::seal::bundle::SealRetention {
            key,
            recordings_until: retain_until,
        }),
    };
    let identity = hub.identity.clone();
    let seal_err = |e: &dyn std::fmt::Display| SessionError::Seal(e.to_string());
    // Link, hash and sign off the async threads, log the signed manifest (committed before the
    // artefact carries its proof), then finish the artefact and move it into place.
    let mut prepared =
        tokio::task::spawn_blocking(move || crate::seal::bundle::prepare(input, &identity, &out))
            .await
            .map_err(|e| seal_err(&e))?
            .map_err(|e| seal_err(&e))?;
    if let Some(tsa) = &hub.timestamps
        && let Some(signature) = prepared.manifest_jws_mut().signatures.last_mut()
    {
        // The evidence is sealed whatever the authority does: without an answer the bundle
        // goes out without a token, and the officer's countersigned version gets one later.
        if let Err(e) = tsa.stamp(signature).await {
            tracing::warn!(artefact = %artefact_id, "sealed without a timestamp: {e}");
        }
    }
    // Committed before the artefact exists, so no artefact holds recordings without a key.
    hub.store
        .put_recording_key(artefact_id, &wrapped, retain_until)
        .await?;
    let inclusion = hub
        .log
        .append(prepared.manifest_json(), artefact_id, now)
        .await
        .map_err(|e| seal_err(&e))?;
    let sealed = tokio::task::spawn_blocking(move || prepared.write(&inclusion))
        .await
        .map_err(|e| seal_err(&e))?
        .map_err(|e| seal_err(&e))?;
    let artefact = ArtefactRecord {
        id: artefact_id,
        case_id: case.id,
        session_id: session.id,
        file_name,
        manifest_sha256: sealed.manifest_sha256,
        size: sealed.size,
        created_at: now,
        outcome: outcome.to_owned(),
    };
    hub.store.create_artefact(&artefact).await?;
    hub.store.finish_session(session.id, status, now).await?;
    hub.metrics.sealed_in(started.elapsed());
    hub.metrics.session_ended(outcome);
    // Sealed: now the recordings are encrypted at rest and the recorder's plaintext removed.
    // Should this fail or the hub stop first, the next start finishes it (seal::retention).
    let dir = hub.paths.artefacts.join(&artefact.file_name);
    let originals = sealed.originals;
    match tokio::task::spawn_blocking(move || {
        crate::seal::bundle::encrypt_at_rest(&dir, &key_at_rest, &originals)
    })
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::error!(artefact = %artefact.id, "recordings not yet encrypted at rest: {e}")
        }
        Err(e) => {
            tracing::error!(artefact = %artefact.id, "recordings not yet encrypted at rest: {e}")
        }
    }
    Ok(artefact)
}

/// How long clients are asked to wait before reconnecting to a hub that is shutting down.
pub const DRAIN_RETRY_AFTER_SECS: u32 = 30;

/// Shut the hub's sessions down: from now on no session starts and every connection is told
/// the hub is draining; each open session ends as interrupted and is sealed with what was
/// recorded. Waits at most `bound` for them and returns how many were still open then (those
/// are left `open` in the store, their chains intact, and are sealed as interrupted at the
/// next start).
pub async fn drain(hub: &AppState, reason: &str, bound: std::time::Duration) -> usize {
    hub.start_draining();
    if let Some(cluster) = &hub.cluster {
        // The other nodes stop sending work here; this node's applicants leave the queue (they
        // are told to come back, and may reach another node).
        if let Err(e) = cluster.set_state(crate::cluster::NodeState::Draining).await {
            tracing::warn!("could not tell the other nodes this one is draining: {e}");
        }
        if let Ok(n) = cluster.clear_queue_of(cluster.node()).await
            && n > 0
        {
            let notice = crate::cluster::Notice::Queue {
                node: cluster.node().to_owned(),
            };
            let _ = cluster.notify(&notice).await;
        }
    }
    let open: Vec<mpsc::Sender<SessionCmd>> = hub
        .sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .cloned()
        .collect();
    tracing::info!(sessions = open.len(), "draining: ending open sessions");
    for tx in &open {
        let _ = tx
            .send(SessionCmd::Drain {
                reason: reason.to_owned(),
            })
            .await;
    }
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let left = hub.sessions.lock().unwrap_or_else(|p| p.into_inner()).len();
        if left == 0 || tokio::time::Instant::now() >= deadline {
            if left > 0 {
                // Left `draining`: once the heartbeats stop, another node marks them interrupted.
                tracing::warn!(
                    sessions = left,
                    "drain bound reached with sessions still open"
                );
            } else if let Some(cluster) = &hub.cluster
                && let Err(e) = cluster.set_state(crate::cluster::NodeState::Stopped).await
            {
                tracing::warn!("could not mark this node stopped: {e}");
            }
            return left;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Append `session_interrupted` with `reason` to a session's stored chain: the next link after
/// whatever was committed. `(session, seq)` is the key, so if the session's own task is still
/// appending after all, one of the two writes fails and the chain never forks.
async fn append_interruption(
    hub: &AppState,
    session: &SessionRecord,
    reason: &str,
) -> Result<(), SessionError> {
    let events = hub.store.events(session.id).await?;
    let chain = match events.last() {
        Some(last) => ChainBuilder::resume(session.id, last.seq, last.hash.clone()),
        None => ChainBuilder::new(session.id),
    };
    let event = chain.next(
        hub.clock.now(),
        EventKind::SessionInterrupted {
            reason: reason.into(),
        },
    )?;
    hub.store.append_event(&event).await?;
    Ok(())
}

/// Whether this node holds `session`. A hub alone on its database (SQLite) holds every session,
/// whatever `node_id` was when the session opened; sessions from before nodes were named count
/// as every node's own.
fn is_mine(hub: &AppState, session: &SessionRecord) -> bool {
    hub.cluster.is_none() || session.node.is_empty() || session.node == hub.settings.config.node_id
}

/// After a crash: every session of this node still `open` gets a `session_interrupted` event
/// appended to its intact chain, is sealed with what was recorded, and is marked interrupted.
/// Sessions another node marked interrupted while this one was lost are sealed too.
pub async fn recover_interrupted(hub: &AppState) -> Result<usize, SessionError> {
    const REASON: &str = "the hub stopped during the session";
    let mut recovered = 0;
    for status in [SessionStatus::Open, SessionStatus::Interrupted] {
        for session in hub.store.sessions_with_status(status).await? {
            if !is_mine(hub, &session) {
                continue;
            }
            let Some(case) = hub.store.case(session.case_id).await? else {
                continue;
            };
            if status == SessionStatus::Open {
                append_interruption(hub, &session, REASON).await?;
            } else if hub
                .store
                .artefacts_for_case(case.id)
                .await?
                .iter()
                .any(|a| a.session_id == session.id)
            {
                continue;
            }
            let dir = hub.paths.recordings.join(session.id.to_string());
            seal_session(
                hub,
                &session,
                &case,
                SessionStatus::Interrupted,
                "interrupted",
                Some(REASON.to_owned()),
                recordings_on_disk(&dir),
            )
            .await?;
            recovered += 1;
            tracing::warn!(session = %session.id, "session left by a stop: marked interrupted and sealed");
        }
    }
    Ok(recovered)
}

/// Another node stopped answering: each of its open sessions gets `session_interrupted` on its
/// intact chain and is marked interrupted. Its recordings are on that node, which seals the
/// sessions when it starts again ([`recover_interrupted`]). Returns how many were marked.
pub async fn interrupt_lost_node(hub: &AppState, node: &str) -> Result<usize, SessionError> {
    let reason = format!("hub node {node} stopped answering during the session");
    let mut marked = 0;
    for session in hub.store.sessions_with_status(SessionStatus::Open).await? {
        if session.node != node {
            continue;
        }
        match append_interruption(hub, &session, &reason).await {
            Ok(()) => {}
            // Its own node wrote first after all: it is alive and the chain stays its own.
            Err(SessionError::Store(StoreError::Conflict(_))) => continue,
            Err(e) => return Err(e),
        }
        hub.store
            .finish_session(session.id, SessionStatus::Interrupted, hub.clock.now())
            .await?;
        marked += 1;
        tracing::warn!(session = %session.id, node, "session of a lost node marked interrupted");
    }
    Ok(marked)
}

/// The membership duty of a node on a shared database: beat every `node_heartbeat_secs`, and
/// take over what nodes silent for `node_lost_after_secs` leave: their open sessions are marked
/// interrupted and their applicants leave the queue.
pub async fn watch_nodes(hub: AppState, cluster: std::sync::Arc<crate::cluster::Cluster>) {
    let config = &hub.settings.config;
    let beat = std::time::Duration::from_secs(u64::from(config.node_heartbeat_secs));
    let lost_after = std::time::Duration::from_secs(u64::from(config.node_lost_after_secs));
    let mut tick = tokio::time::interval(beat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = cluster.heartbeat().await {
            tracing::warn!("heartbeat not written: {e}");
            continue;
        }
        let lost = match cluster.take_lost_nodes(lost_after).await {
            Ok(lost) => lost,
            Err(e) => {
                tracing::warn!("cannot look for lost nodes: {e}");
                continue;
            }
        };
        for node in lost {
            tracing::warn!(node, "hub node lost: taking over its sessions and queue");
            match interrupt_lost_node(&hub, &node).await {
                Ok(n) => tracing::info!(node, sessions = n, "lost node's sessions interrupted"),
                Err(e) => tracing::error!(node, "cannot interrupt the lost node's sessions: {e}"),
            }
            match cluster.clear_queue_of(&node).await {
                Ok(0) => {}
                Ok(_) => {
                    let notice = crate::cluster::Notice::Queue {
                        node: cluster.node().to_owned(),
                    };
                    if let Err(e) = cluster.notify(&notice).await {
                        tracing::warn!("queue change not announced: {e}");
                    }
                    hub.desk.send(crate::pairing::DeskCmd::Cluster(
                        crate::cluster::Notice::Resync,
                    ));
                }
                Err(e) => tracing::warn!(node, "cannot clear the lost node's queue: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(position: usize) -> ServerMsg {
        ServerMsg::QueuePosition {
            position,
            length: 10,
            estimated_wait_minutes: None,
        }
    }

    #[tokio::test]
    async fn queue_state_replaces_the_one_not_sent_yet() {
        let (tx, mut rx) = ConnTx::channel();
        assert!(tx.replace_latest(position(3)));
        assert!(tx.send(Outbound::Detach));
        assert!(tx.replace_latest(position(2)));
        // One wake-up, in the place of the first change, carrying the newest state.
        assert!(matches!(rx.recv().await, Some(Outbound::Latest)));
        assert_eq!(rx.take_latest(), Some(position(2)));
        assert!(matches!(rx.recv().await, Some(Outbound::Detach)));
        assert!(rx.take_latest().is_none());
        // Sent: the next change wakes the connection again.
        assert!(tx.replace_latest(position(1)));
        assert!(matches!(rx.recv().await, Some(Outbound::Latest)));
        assert_eq!(rx.take_latest(), Some(position(1)));
        drop(rx);
        assert!(!tx.replace_latest(position(1)));
    }
}
