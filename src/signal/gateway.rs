//! One signalling connection, written against a plain [`Stream`] and [`Sink`] of [`Frame`]s,
//! independent of the WebSocket library; `api` adapts axum's WebSocket to it.
//!
//! Contract: the first frame must be `auth` within [`AUTH_TIMEOUT`]; a wrong or expired
//! credential gets an `unauthenticated` error and the socket is closed. Afterwards every frame
//! is size-checked, rate-limited, decoded and authorised by role and session; refusals answer
//! with an `error` frame and keep the connection. The hub pings every connection at each
//! keepalive beat ([`keepalive`], every `keepalive_secs`); a peer silent for [`SILENT_BEATS`]
//! beats is dropped.

use super::protocol::{self, ClientMsg, DecodeError, PROTOCOL_VERSION, ServerMsg};
use crate::auth::token_hash;
use crate::evidence::{GuestRole, ParticipantRole};
use crate::identity::{self, DocumentInput, DocumentType};
use crate::pairing::{ConnId, DeskCmd, Principal};
use crate::room::{CheckedIdentity, RoomInput};
use crate::session::{ConnTx, Outbound, SessionCmd, SessionHandle};
use crate::state::AppState;
use crate::store::Role;
use futures::{Sink, SinkExt, Stream, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Keepalive beats without a frame from the peer after which its connection is closed.
pub const SILENT_BEATS: u8 = 3;
/// Sustained messages per second per connection, and the burst allowed above it.
pub const RATE_PER_SECOND: u32 = 20;
pub const RATE_BURST: u32 = 40;
/// Refused frames in a row after which the connection is closed.
const MAX_STRIKES: u32 = 50;

/// A transport frame, independent of the WebSocket library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(usize),
    Ping(Vec<u8>),
    Pong,
    Close,
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

fn err(reference: Option<u64>, code: &str, message: impl Into<String>) -> ServerMsg {
    ServerMsg::Error {
        reference,
        code: code.into(),
        message: message.into(),
    }
}

async fn send<K>(sink: &mut K, msg: &ServerMsg) -> bool
where
    K: Sink<Frame> + Unpin,
{
    sink.send(Frame::Text(protocol::encode(msg))).await.is_ok()
}

/// Serve one connection until it closes.
///
/// Signing in, the welcome and a return to a live session run in boxed futures, and so does
/// each frame's handling: an idle connection's task then only holds the loop's own state, not
/// the largest of everything it might await (`docs/benchmarks.md`, signalling load).
// Not an `async fn` on purpose: see the comment in the body, and the size test in `api`.
#[allow(clippy::manual_async_fn)]
pub fn serve<T>(hub: AppState, mut socket: T) -> impl Future<Output = ()>
where
    T: Stream<Item = Frame> + Sink<Frame> + Unpin,
{
    // An `async` block rather than an `async fn`: it keeps the socket where it was captured
    // instead of moving it into a second slot of the future.
    async move {
        let Some((principal, greeting)) = Box::pin(authenticate(&hub, &mut socket)).await else {
            let _ = socket.send(Frame::Close).await;
            return;
        };
        let conn = ConnId(NEXT_CONN.fetch_add(1, Ordering::Relaxed));
        let _open = crate::metrics::GaugeGuard::hold(&hub.metrics.connections);
        let (tx, mut rx) = ConnTx::channel();
        if !Box::pin(welcome(&hub, greeting, &principal, conn, &tx, &mut socket)).await {
            return;
        }
        hub.desk.send(DeskCmd::Register {
            conn,
            principal: principal.clone(),
            tx,
        });
        let mut conn_state = Connection {
            hub: hub.clone(),
            conn,
            principal,
            session: None,
            limiter: RateLimiter::direct(
                Quota::per_second(NonZeroU32::new(RATE_PER_SECOND).unwrap_or(NonZeroU32::MIN))
                    .allow_burst(NonZeroU32::new(RATE_BURST).unwrap_or(NonZeroU32::MIN)),
            ),
            strikes: 0,
        };
        let mut pulse = hub.pulse_of(conn.0);
        let mut beat = pulse.borrow_and_update().beat;
        // Beats since the peer last sent anything (a browser answers pings by itself).
        let mut silent: u8 = 0;
        let mut told = false;
        loop {
            let now = *pulse.borrow_and_update();
            if now.draining && !told {
                told = true;
                // Encoded before the await: the task does not keep room for a whole message.
                let notice = protocol::encode(&ServerMsg::Draining {
                    retry_after_secs: crate::session::DRAIN_RETRY_AFTER_SECS,
                });
                if socket.send(Frame::Text(notice)).await.is_err() {
                    break;
                }
            }
            // Out of a session, a draining hub has nothing more for this connection; in one, it
            // stays until the session has closed and sent its result.
            if told && conn_state.session.is_none() {
                break;
            }
            if now.beat != beat {
                beat = now.beat;
                if silent >= SILENT_BEATS {
                    tracing::info!(conn = conn.0, "peer silent for too long; closing");
                    break;
                }
                silent += 1;
                if socket.send(Frame::Ping(Vec::new())).await.is_err() {
                    break;
                }
            }
            tokio::select! {
                _ = pulse.changed() => continue,
                frame = socket.next() => {
                    let Some(frame) = frame else { break };
                    silent = 0;
                    let replies = Box::pin(conn_state.on_frame(frame)).await;
                    let mut closing = false;
                    for reply in replies {
                        match reply {
                            Reply::Msg(msg) => if !send(&mut socket, &msg).await { closing = true },
                            Reply::Pong(data) => { let _ = socket.send(Frame::Ping(data)).await; }
                            Reply::Close => closing = true,
                        }
                    }
                    if closing { break }
                }
                Some(out) = rx.recv() => match out {
                    Outbound::Msg(msg) => if !send(&mut socket, &msg).await { break },
                    Outbound::Latest => {
                        // Encoded at once: the loop does not hold a whole message while it sends.
                        let text = rx.take_latest().map(|msg| protocol::encode(&msg));
                        if let Some(text) = text
                            && socket.send(Frame::Text(text)).await.is_err() { break }
                    }
                    Outbound::Attach(handle) => conn_state.session = Some(*handle),
                    Outbound::Detach => {
                        conn_state.session = None;
                        hub.desk.send(DeskCmd::SessionEnded { conn });
                    }
                },
            }
        }
        if let Some(session) = conn_state.session.take() {
            // The session decides: a grace period to come back, then the participant has left.
            let role = session.role;
            Box::pin(session.send(SessionCmd::Gone { role, conn })).await;
        }
        hub.desk.send(DeskCmd::Unregister { conn });
        let _ = socket.send(Frame::Close).await;
    }
}

/// Beat each pulse every `keepalive_secs`, the pulses in turn, for as long as the hub runs: a
/// beat makes each connection of that pulse ping its peer and count it silent until it hears
/// from it.
pub async fn keepalive(hub: AppState) {
    let every = Duration::from_secs(u64::from(hub.settings.config.keepalive_secs.max(1)))
        / crate::state::PULSE_GROUPS as u32;
    let mut beats = tokio::time::interval_at(Instant::now() + every, every);
    beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for pulse in hub.pulses.iter().cycle() {
        beats.tick().await;
        pulse.send_modify(|p| p.beat = p.beat.wrapping_add(1));
    }
}

/// Send `welcome` (the `greeting`); a participant whose session is still open (they dropped,
/// reloaded, or opened another window) goes straight back into it. `false` if the socket is
/// gone.
async fn welcome<K>(
    hub: &AppState,
    greeting: Box<ServerMsg>,
    principal: &Principal,
    conn: ConnId,
    tx: &ConnTx,
    outgoing: &mut K,
) -> bool
where
    K: Sink<Frame> + Unpin,
{
    if !send(outgoing, &greeting).await {
        return false;
    }
    let key = match principal {
        Principal::Officer(user) => crate::state::Participant::Officer(user.id),
        Principal::Applicant(case) => crate::state::Participant::Applicant(*case),
        Principal::Guest { session, role, tz } => {
            // A guest link opens one session: straight into its lobby (or back into the call).
            let session_tx = hub
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(session)
                .cloned();
            match session_tx {
                Some(session_tx) => {
                    let _ = session_tx
                        .send(SessionCmd::Rejoin {
                            role: *role,
                            conn,
                            tx: tx.clone(),
                            tz: tz.clone(),
                        })
                        .await;
                }
                None => {
                    let msg = err(None, "session_closed", "this session has ended");
                    let _ = send(outgoing, &msg).await;
                    return false;
                }
            }
            return true;
        }
    };
    let live = hub
        .live
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .copied();
    let session_tx = live.and_then(|id| {
        hub.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    });
    if session_tx.is_none()
        && let Some(url) = Box::pin(home_elsewhere(hub, key)).await
    {
        let _ = send(outgoing, &ServerMsg::Redirect { url }).await;
        let _ = outgoing.send(Frame::Close).await;
        return false;
    }
    if let Some(session_tx) = session_tx {
        let role = match key {
            crate::state::Participant::Officer(_) => ParticipantRole::Officer,
            crate::state::Participant::Applicant(_) => ParticipantRole::Applicant,
        };
        let _ = session_tx
            .send(SessionCmd::Rejoin {
                role,
                conn,
                tx: tx.clone(),
                tz: None,
            })
            .await;
    }
    true
}

/// On a database shared by several nodes: the public URL of the node holding this
/// participant's open session, when that is another node.
async fn home_elsewhere(hub: &AppState, key: crate::state::Participant) -> Option<String> {
    use crate::store::SessionStatus;
    let cluster = hub.cluster.as_ref()?;
    let open = match key {
        crate::state::Participant::Applicant(case) => hub.store.sessions_for_case(case).await,
        crate::state::Participant::Officer(_) => {
            hub.store.sessions_with_status(SessionStatus::Open).await
        }
    };
    let open = match open {
        Ok(open) => open,
        Err(e) => {
            tracing::warn!("cannot look for a session on another node: {e}");
            return None;
        }
    };
    let node = open
        .into_iter()
        .find(|s| {
            s.status == SessionStatus::Open
                && !s.node.is_empty()
                && s.node != cluster.node()
                && match key {
                    crate::state::Participant::Officer(user) => s.officer_id == user,
                    crate::state::Participant::Applicant(_) => true,
                }
        })?
        .node;
    match cluster.public_url(&node).await {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(node, "cannot find the node's address: {e}");
            None
        }
    }
}

/// Wait for the first frame and resolve its credential: who is connecting, and their
/// `welcome`.
async fn authenticate<T>(hub: &AppState, socket: &mut T) -> Option<(Principal, Box<ServerMsg>)>
where
    T: Stream<Item = Frame> + Sink<Frame> + Unpin,
{
    let first = loop {
        match tokio::time::timeout(AUTH_TIMEOUT, socket.next()).await {
            Err(_) => {
                send(
                    socket,
                    &err(None, "unauthenticated", "no auth frame within 10 seconds"),
                )
                .await;
                return None;
            }
            Ok(None) | Ok(Some(Frame::Close)) => return None,
            Ok(Some(Frame::Ping(_))) | Ok(Some(Frame::Pong)) => continue,
            Ok(Some(Frame::Binary(_))) => {
                send(
                    socket,
                    &err(
                        None,
                        DecodeError::Binary.code(),
                        DecodeError::Binary.to_string(),
                    ),
                )
                .await;
                return None;
            }
            Ok(Some(Frame::Text(text))) => break text,
        }
    };
    let frame = match protocol::decode(&first) {
        Ok(frame) => frame,
        Err(e) => {
            send(socket, &err(None, e.code(), e.to_string())).await;
            return None;
        }
    };
    let reference = frame.id;
    let ClientMsg::Auth {
        ticket,
        invite,
        guest,
        tz,
    } = frame.msg
    else {
        send(
            socket,
            &err(
                reference,
                "unauthenticated",
                "the first message must be auth",
            ),
        )
        .await;
        return None;
    };
    let now = hub.clock.now();
    let principal = match (ticket, invite, guest) {
        (None, None, Some(guest)) => {
            let pass = hub
                .guest_passes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&token_hash(&guest))
                .cloned();
            match pass {
                Some(pass) if pass.expires_at <= now => {
                    send(
                        socket,
                        &err(
                            reference,
                            "expired",
                            "this guest link has expired; ask the officer for a new one",
                        ),
                    )
                    .await;
                    return None;
                }
                Some(pass) => {
                    let tz = tz.filter(|tz| tz.parse::<chrono_tz::Tz>().is_ok());
                    Some((
                        Principal::Guest {
                            session: pass.session,
                            role: pass.role,
                            tz,
                        },
                        ServerMsg::Welcome {
                            v: PROTOCOL_VERSION,
                            role: pass.role.to_string(),
                            case_id: None,
                            name: pass.name,
                            service: None,
                        },
                    ))
                }
                None => None,
            }
        }
        (Some(ticket), None, None) => hub
            .tickets
            .redeem(&ticket, now)
            .filter(|user| user.role == Role::Officer)
            .map(|user| {
                let greeting = ServerMsg::Welcome {
                    v: PROTOCOL_VERSION,
                    role: "officer".into(),
                    case_id: None,
                    name: user.display_name.clone(),
                    service: None,
                };
                (Principal::Officer(Arc::new(user)), greeting)
            }),
        (None, Some(invite), None) => match hub.store.case_by_invite(&token_hash(&invite)).await {
            Ok(Some(case)) if case.invite_expires_at > now => Some((
                Principal::Applicant(case.id),
                ServerMsg::Welcome {
                    v: PROTOCOL_VERSION,
                    role: "applicant".into(),
                    case_id: Some(case.id),
                    name: case.applicant_name,
                    service: Some(case.service),
                },
            )),
            Ok(Some(_)) => {
                send(
                    socket,
                    &err(
                        reference,
                        "expired",
                        "this invite link has expired; ask the office for a new one",
                    ),
                )
                .await;
                return None;
            }
            Ok(None) => None,
            Err(e) => {
                tracing::error!("auth lookup failed: {e}");
                send(
                    socket,
                    &err(reference, "internal", "please try again shortly"),
                )
                .await;
                return None;
            }
        },
        _ => {
            send(
                socket,
                &err(
                    reference,
                    "malformed",
                    "auth needs exactly one of ticket, invite or guest",
                ),
            )
            .await;
            return None;
        }
    };
    match principal {
        Some((principal, greeting)) => Some((principal, Box::new(greeting))),
        None => {
            send(
                socket,
                &err(reference, "unauthenticated", "unknown or used credential"),
            )
            .await;
            None
        }
    }
}

/// What a frame's handling asks the loop to do. Boxed so that the loop, which holds a reply
/// while sending it, stays small.
enum Reply {
    Msg(Box<ServerMsg>),
    Pong(Vec<u8>),
    Close,
}

struct Connection {
    hub: AppState,
    conn: ConnId,
    principal: Principal,
    session: Option<SessionHandle>,
    limiter: DefaultDirectRateLimiter,
    strikes: u32,
}

// Refusals are `error` frames, built where they are detected; they are rare and small enough.
#[allow(clippy::result_large_err)]
impl Connection {
    fn role(&self) -> ParticipantRole {
        match self.principal {
            Principal::Officer(_) => ParticipantRole::Officer,
            Principal::Applicant(_) => ParticipantRole::Applicant,
            Principal::Guest { role, .. } => role,
        }
    }

    fn strike(&mut self, msg: ServerMsg) -> Vec<Reply> {
        if let ServerMsg::Error { code, .. } = &msg {
            self.hub.metrics.error(code);
        }
        self.strikes += 1;
        if self.strikes >= MAX_STRIKES {
            return vec![
                Reply::Msg(Box::new(err(
                    None,
                    "too_many_errors",
                    "closing after repeated bad frames",
                ))),
                Reply::Close,
            ];
        }
        vec![Reply::Msg(Box::new(msg))]
    }

    async fn on_frame(&mut self, frame: Frame) -> Vec<Reply> {
        let text = match frame {
            Frame::Close => return vec![Reply::Close],
            Frame::Pong => return Vec::new(),
            Frame::Ping(data) => return vec![Reply::Pong(data)],
            Frame::Binary(_) => {
                return self.strike(err(
                    None,
                    DecodeError::Binary.code(),
                    DecodeError::Binary.to_string(),
                ));
            }
            Frame::Text(text) => text,
        };
        if self.limiter.check().is_err() {
            return self.strike(err(None, "rate_limited", "too many messages; slow down"));
        }
        let frame = match protocol::decode(&text) {
            Ok(frame) => frame,
            Err(e) => return self.strike(err(None, e.code(), e.to_string())),
        };
        self.strikes = 0;
        self.hub.metrics.message(frame.msg.name());
        let reference = frame.id;
        match self.dispatch(frame.msg, reference).await {
            Ok(replies) => replies,
            Err(msg) => self.strike(msg),
        }
    }

    /// A draining hub starts nothing new.
    fn refuse_if_draining(&self, reference: Option<u64>) -> Result<(), ServerMsg> {
        if self.hub.is_draining() {
            return Err(err(
                reference,
                "draining",
                "the desk is restarting; please try again in a minute",
            ));
        }
        Ok(())
    }

    async fn dispatch(
        &mut self,
        msg: ClientMsg,
        reference: Option<u64>,
    ) -> Result<Vec<Reply>, ServerMsg> {
        let role = self.role();
        let forbidden = |what: &str| {
            err(
                reference,
                "forbidden",
                format!("{what} is not allowed for the {}", role.kind()),
            )
        };
        let need = |wanted: ParticipantRole, what: &str| {
            if role == wanted {
                Ok(())
            } else {
                Err(forbidden(what))
            }
        };
        match msg {
            ClientMsg::Ping => Ok(vec![Reply::Msg(Box::new(ServerMsg::Pong))]),
            ClientMsg::Auth { .. } => Err(err(reference, "conflict", "already authenticated")),
            ClientMsg::JoinQueue => {
                need(ParticipantRole::Applicant, "join_queue")?;
                self.refuse_if_draining(reference)?;
                if self.session.is_some() {
                    return Err(err(reference, "conflict", "you are already in a session"));
                }
                self.hub.desk.send(DeskCmd::JoinQueue {
                    conn: self.conn,
                    reference,
                });
                Ok(Vec::new())
            }
            ClientMsg::LeaveQueue => {
                need(ParticipantRole::Applicant, "leave_queue")?;
                self.hub.desk.send(DeskCmd::LeaveQueue {
                    conn: self.conn,
                    reference,
                });
                Ok(Vec::new())
            }
            ClientMsg::TakeNext { service } => {
                need(ParticipantRole::Officer, "take_next")?;
                self.refuse_if_draining(reference)?;
                if self.session.is_some() {
                    return Err(err(
                        reference,
                        "conflict",
                        "close your current session first",
                    ));
                }
                self.hub.desk.send(DeskCmd::TakeNext {
                    conn: self.conn,
                    service,
                    reference,
                });
                Ok(Vec::new())
            }
            ClientMsg::Admit { participant } => {
                need(ParticipantRole::Officer, "admit")?;
                let who = participant_named(participant, reference)?;
                self.input(RoomInput::Admit(who), reference).await
            }
            ClientMsg::Deny { participant } => {
                need(ParticipantRole::Officer, "deny")?;
                let who = participant_named(participant, reference)?;
                self.input(RoomInput::Deny(who), reference).await
            }
            ClientMsg::SetGuestPermissions {
                participant,
                publish,
                recorded,
                confirm_declarations,
            } => {
                need(ParticipantRole::Officer, "set_guest_permissions")?;
                let Some(who) = participant_named(Some(participant), reference)? else {
                    return Err(err(reference, "invalid", "participant is required"));
                };
                let permissions = crate::room::GuestPermissions {
                    publish,
                    recorded,
                    confirm_declarations,
                };
                self.input(RoomInput::SetPermissions { who, permissions }, reference)
                    .await
            }
            ClientMsg::InviteGuest { role, name, tz } => {
                need(ParticipantRole::Officer, "invite_guest")?;
                let role = GuestRole::parse(&role).ok_or_else(|| {
                    err(
                        reference,
                        "invalid",
                        "role must be relative, interpreter, site_assistant or co_heir",
                    )
                })?;
                if name.chars().count() > 100 {
                    return Err(err(reference, "invalid", "name: at most 100 characters"));
                }
                let tz = match tz.filter(|t| !t.is_empty()) {
                    Some(tz) if tz.parse::<chrono_tz::Tz>().is_err() => {
                        return Err(err(reference, "invalid", "tz must be an IANA zone"));
                    }
                    tz => tz.unwrap_or_default(),
                };
                let name = name.trim().to_owned();
                self.input(RoomInput::InviteGuest { role, name, tz }, reference)
                    .await
            }
            ClientMsg::Offer { sdp } => {
                self.forward(
                    SessionCmd::Offer {
                        role,
                        sdp,
                        reference,
                    },
                    reference,
                )
                .await
            }
            ClientMsg::RequestConsent { consent } => {
                need(ParticipantRole::Officer, "request_consent")?;
                self.input(RoomInput::RequestConsent { consent }, reference)
                    .await
            }
            ClientMsg::ConsentAnswer {
                consent,
                granted,
                session_id,
            } => {
                need(ParticipantRole::Applicant, "consent_answer")?;
                if let (Some(claimed), Some(current)) = (session_id, &self.session)
                    && claimed != current.id
                {
                    return Err(err(
                        reference,
                        "wrong_session",
                        "that answer is for another session",
                    ));
                }
                self.input(RoomInput::ConsentAnswer { consent, granted }, reference)
                    .await
            }
            ClientMsg::WithdrawConsent { consent } => {
                need(ParticipantRole::Applicant, "withdraw_consent")?;
                self.input(RoomInput::WithdrawConsent { consent }, reference)
                    .await
            }
            ClientMsg::MyConsents => {
                need(ParticipantRole::Applicant, "my_consents")?;
                self.input(RoomInput::MyConsents, reference).await
            }
            ClientMsg::IdentityCheck {
                document_type,
                mrz,
                number,
                valid_from,
                valid_until,
                long_term,
                attestation,
                outcome,
            } => {
                need(ParticipantRole::Officer, "identity_check")?;
                let face_match = match outcome.as_str() {
                    "match" => true,
                    "mismatch" => false,
                    _ => {
                        return Err(err(
                            reference,
                            "invalid",
                            "outcome must be \"match\" or \"mismatch\"",
                        ));
                    }
                };
                let doc_type: DocumentType = document_type.parse().map_err(|_| {
                    err(
                        reference,
                        "invalid",
                        "document_type must be id-card, passport or driving-licence",
                    )
                })?;
                let too_long = |v: &Option<String>| v.as_ref().is_some_and(|t| t.len() > 200);
                if too_long(&mrz) || too_long(&number) {
                    return Err(err(reference, "invalid", "document fields are too long"));
                }
                let input = DocumentInput {
                    mrz,
                    number,
                    valid_from,
                    valid_until,
                    long_term,
                };
                let on = identity::office_date(self.hub.clock.now());
                let checked = identity::check(doc_type, &input, on)
                    .map_err(|e| err(reference, e.code(), e.to_string()))?;
                let document = CheckedIdentity {
                    document_type,
                    hmac: self.hub.vault.identity_hmac(&checked.number),
                    masked: checked.masked.clone(),
                    expiry: checked.expiry.map(|d| d.to_string()),
                    renewal: checked.renewal.map(|r| format!("{r:?}")),
                    summary: checked.summary.clone(),
                };
                self.input(
                    RoomInput::IdentityCheck {
                        document,
                        attestation,
                        face_match,
                    },
                    reference,
                )
                .await
            }
            ClientMsg::LivenessPrompt => {
                need(ParticipantRole::Officer, "liveness_prompt")?;
                self.forward(SessionCmd::Liveness { reference }, reference)
                    .await
            }
            ClientMsg::LivenessDone => {
                need(ParticipantRole::Applicant, "liveness_done")?;
                self.input(RoomInput::LivenessDone, reference).await
            }
            ClientMsg::LivenessResult { passed } => {
                need(ParticipantRole::Officer, "liveness_result")?;
                self.input(RoomInput::LivenessResult { passed }, reference)
                    .await
            }
            ClientMsg::RequestDeclaration { declaration } => {
                need(ParticipantRole::Officer, "request_declaration")?;
                self.input(RoomInput::RequestDeclaration { declaration }, reference)
                    .await
            }
            ClientMsg::ConfirmDeclaration {
                declaration,
                text_sha256,
            } => {
                if !role.is_guest() {
                    need(ParticipantRole::Applicant, "confirm_declaration")?;
                }
                self.input(
                    RoomInput::ConfirmDeclaration {
                        declaration,
                        text_sha256,
                    },
                    reference,
                )
                .await
            }
            ClientMsg::CloseSession => {
                need(ParticipantRole::Officer, "close_session")?;
                self.input(RoomInput::Close, reference).await
            }
        }
    }
}

/// The participant an `admit` or `deny` names, if it names one.
#[allow(clippy::result_large_err)]
fn participant_named(
    name: Option<String>,
    reference: Option<u64>,
) -> Result<Option<ParticipantRole>, ServerMsg> {
    name.map(|n| {
        ParticipantRole::parse(&n).ok_or_else(|| {
            err(
                reference,
                "invalid",
                "participant must be applicant or a guest such as interpreter-1",
            )
        })
    })
    .transpose()
}

#[allow(clippy::result_large_err)]
impl Connection {
    async fn input(
        &mut self,
        input: RoomInput,
        reference: Option<u64>,
    ) -> Result<Vec<Reply>, ServerMsg> {
        let role = self.role();
        self.forward(
            SessionCmd::Input {
                role,
                input,
                reference,
            },
            reference,
        )
        .await
    }

    async fn forward(
        &mut self,
        cmd: SessionCmd,
        reference: Option<u64>,
    ) -> Result<Vec<Reply>, ServerMsg> {
        let Some(session) = &self.session else {
            return Err(err(reference, "not_in_session", "you are not in a session"));
        };
        if session.send(cmd).await {
            Ok(Vec::new())
        } else {
            self.session = None;
            Err(err(reference, "session_closed", "the session has ended"))
        }
    }
}
