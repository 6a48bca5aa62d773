//! The desk driver: one task owns the pure [`Desk`] and the registry of signalling connections.
//! It turns queue commands into queue changes, pairs the officer who asks with the applicant at
//! the head of the queue by opening a session, and broadcasts live positions and queues.
//!
//! A broadcast reaches everyone waiting, so it is made once per batch of commands rather than
//! once per change: the commands already queued up (at most [`MAX_BATCH`]) are handled first.
//! A burst of joins then costs one broadcast instead of one each, which keeps tens of thousands
//! of waiting applicants linear rather than quadratic (`docs/benchmarks.md`, signalling load).

use crate::desk::{Desk, Waiting};
use crate::ids::CaseId;
use crate::session::{ConnTx, Outbound};
use crate::signal::protocol::ServerMsg;
use crate::state::AppState;
use crate::store::UserRecord;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Identifies one signalling connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

/// Who is behind a connection, established by its first frame. It is held for every idle
/// connection, twice (the connection and the desk's registry), so it stays small: an officer's
/// record is shared, and an applicant is their case's id, the case being read from the store
/// when they join the queue or are taken.
#[derive(Clone, Debug)]
pub enum Principal {
    Officer(Arc<UserRecord>),
    Applicant(CaseId),
    /// A guest, through the link the officer of `session` passed on.
    Guest {
        session: crate::ids::SessionId,
        role: crate::evidence::ParticipantRole,
        tz: Option<String>,
    },
}

#[derive(Debug)]
pub enum DeskCmd {
    Register {
        conn: ConnId,
        principal: Principal,
        tx: ConnTx,
    },
    Unregister {
        conn: ConnId,
    },
    JoinQueue {
        conn: ConnId,
        reference: Option<u64>,
    },
    LeaveQueue {
        conn: ConnId,
        reference: Option<u64>,
    },
    TakeNext {
        conn: ConnId,
        service: Option<String>,
        reference: Option<u64>,
    },
    /// A booking was made, moved or cancelled: refresh the consoles' lists.
    BookingsChanged,
    /// The connection's session ended; it may queue or take again.
    SessionEnded {
        conn: ConnId,
    },
}

#[derive(Clone, Debug)]
pub struct DeskHandle {
    tx: mpsc::UnboundedSender<DeskCmd>,
}

impl DeskHandle {
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<DeskCmd>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    pub fn send(&self, cmd: DeskCmd) {
        let _ = self.tx.send(cmd);
    }
}

struct Conn {
    principal: Principal,
    tx: ConnTx,
    in_session: bool,
}

struct Driver {
    hub: AppState,
    desk: Desk,
    conns: HashMap<ConnId, Conn>,
    /// Applicant connections by case (a case may be open in several windows), so that a
    /// broadcast finds each waiting applicant's socket without scanning every connection.
    by_case: HashMap<CaseId, Vec<ConnId>>,
    /// The queue changed since positions and queues last went out.
    dirty: bool,
    /// When each officer connection's current session started.
    started: HashMap<ConnId, chrono::DateTime<chrono::Utc>>,
    /// Durations of the last sessions, for wait estimates.
    recent: std::collections::VecDeque<chrono::Duration>,
}

/// How many finished sessions the wait estimate looks at.
const RECENT_SESSIONS: usize = 20;

/// Most commands handled before a pending broadcast goes out, so positions stay fresh even
/// while commands keep arriving.
pub const MAX_BATCH: usize = 1024;

/// The skills and languages part of an officer's stored profile.
#[derive(serde::Deserialize, Default)]
struct Caps {
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default)]
    languages: Vec<String>,
}

fn error(reference: Option<u64>, code: &str, message: &str) -> Outbound {
    Outbound::msg(ServerMsg::Error {
        reference,
        code: code.into(),
        message: message.into(),
    })
}

impl Driver {
    fn send(&self, conn: ConnId, msg: Outbound) {
        if let Some(c) = self.conns.get(&conn) {
            let _ = c.tx.send(msg);
        }
    }

    /// A connection of this case's applicant that is not in a session.
    fn applicant_conn(&self, case: CaseId) -> Option<ConnId> {
        self.by_case
            .get(&case)?
            .iter()
            .copied()
            .find(|id| self.conns.get(id).is_some_and(|c| !c.in_session))
    }

    /// Send every waiting applicant its position and every officer the queue.
    fn broadcast(&mut self) {
        self.dirty = false;
        let officers = self
            .conns
            .values()
            .filter(|c| matches!(c.principal, Principal::Officer(_)))
            .count();
        let recent: Vec<chrono::Duration> = self.recent.iter().copied().collect();
        for (service, case, position, length) in self.desk.positions() {
            if let Some(conn) = self.applicant_conn(case) {
                let typical = self
                    .hub
                    .catalogue
                    .service(service)
                    .map(|s| chrono::Duration::minutes(i64::from(s.typical_minutes)))
                    .unwrap_or(chrono::Duration::minutes(30));
                let wait = crate::desk::estimated_wait(position - 1, officers, &recent, typical);
                if let Some(c) = self.conns.get(&conn) {
                    c.tx.replace_latest(ServerMsg::QueuePosition {
                        position,
                        length,
                        estimated_wait_minutes: Some(wait.num_minutes()),
                    });
                }
            }
        }
        crate::metrics::Metrics::set_count(&self.hub.metrics.queue_length, self.desk.len());
        if officers == 0 {
            return;
        }
        let entries = self.desk.entries();
        for c in self.conns.values() {
            if matches!(c.principal, Principal::Officer(_)) {
                c.tx.replace_latest(ServerMsg::Queue {
                    entries: entries.clone(),
                });
            }
        }
    }

    /// Send the bookings from 12 hours ago to a week ahead to every officer console.
    async fn push_bookings(&self) {
        let now = self.hub.clock.now();
        let bookings = match self
            .hub
            .store
            .bookings_between(
                now - chrono::Duration::hours(12),
                now + chrono::Duration::hours(36),
            )
            .await
        {
            Ok(b) => b,
            Err(e) => return tracing::warn!("bookings unavailable for the console: {e}"),
        };
        let mut entries = Vec::new();
        for b in bookings {
            if let Ok(Some(case)) = self.hub.store.case(b.case_id).await {
                entries.push(crate::signal::protocol::BookingEntry {
                    id: b.id,
                    case_id: case.id,
                    applicant_name: case.applicant_name,
                    service: case.service,
                    tz: case.applicant_tz,
                    start: b.starts_at.to_rfc3339(),
                    end: b.ends_at.to_rfc3339(),
                });
            }
        }
        for c in self.conns.values() {
            if matches!(c.principal, Principal::Officer(_)) {
                let msg = ServerMsg::Bookings {
                    entries: entries.clone(),
                };
                let _ = c.tx.send(Outbound::msg(msg));
            }
        }
    }

    async fn handle(&mut self, cmd: DeskCmd) {
        match cmd {
            DeskCmd::BookingsChanged => self.push_bookings().await,
            DeskCmd::Register {
                conn,
                principal,
                tx,
            } => {
                let is_officer = matches!(principal, Principal::Officer(_));
                if let Principal::Applicant(case) = principal {
                    self.by_case.entry(case).or_default().push(conn);
                }
                self.conns.insert(
                    conn,
                    Conn {
                        principal,
                        tx,
                        in_session: false,
                    },
                );
                if is_officer {
                    if let Some(c) = self.conns.get(&conn) {
                        c.tx.replace_latest(ServerMsg::Queue {
                            entries: self.desk.entries(),
                        });
                    }
                    self.push_bookings().await;
                }
            }
            DeskCmd::Unregister { conn } => {
                if let Some(Conn {
                    principal: Principal::Applicant(case),
                    ..
                }) = self.conns.remove(&conn)
                {
                    if let Some(conns) = self.by_case.get_mut(&case) {
                        conns.retain(|c| *c != conn);
                        if conns.is_empty() {
                            self.by_case.remove(&case);
                        }
                    }
                    if self.applicant_conn(case).is_none() && self.desk.leave(case) {
                        self.dirty = true;
                    }
                }
            }
            DeskCmd::SessionEnded { conn } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.in_session = false;
                }
                if let Some(start) = self.started.remove(&conn) {
                    self.recent.push_back(self.hub.clock.now() - start);
                    while self.recent.len() > RECENT_SESSIONS {
                        self.recent.pop_front();
                    }
                }
            }
            DeskCmd::JoinQueue { conn, reference } => {
                let Some(c) = self.conns.get(&conn) else {
                    return;
                };
                let Principal::Applicant(case) = c.principal else {
                    return self.send(conn, error(reference, "forbidden", "only applicants queue"));
                };
                if c.in_session {
                    return self.send(conn, error(reference, "conflict", "already in a session"));
                }
                let case = match self.hub.store.case(case).await {
                    Ok(Some(case)) => case,
                    Ok(None) => {
                        return self.send(conn, error(reference, "gone", "this case is gone"));
                    }
                    Err(e) => {
                        tracing::error!("case unavailable for queueing: {e}");
                        return self.send(
                            conn,
                            error(reference, "internal", "please try again shortly"),
                        );
                    }
                };
                let now = self.hub.clock.now();
                // A live booking near now puts the applicant ahead of walk-ins for its officer.
                let booked_with = match self.hub.store.bookings_for_case(case.id).await {
                    Ok(bookings) => bookings
                        .iter()
                        .find(|b| {
                            b.status == crate::store::BookingStatus::Booked
                                && b.ends_at > now
                                && b.starts_at < now + chrono::Duration::hours(1)
                        })
                        .map(|b| (b.officer_id, b.starts_at)),
                    Err(e) => {
                        tracing::warn!("bookings unavailable for queueing: {e}");
                        None
                    }
                };
                let skill = self
                    .hub
                    .catalogue
                    .service(&case.service)
                    .map(|s| s.skill.clone())
                    .unwrap_or_else(|| case.service.clone());
                let waiting = Waiting {
                    case_id: case.id,
                    applicant_name: case.applicant_name,
                    service: case.service,
                    tz: case.applicant_tz,
                    lang: case.applicant_lang,
                    skill,
                    booked_with,
                    since: now,
                };
                // Queued already (e.g. a second tab) or not, they hear where they stand.
                let _ = self.desk.join(waiting);
                self.dirty = true;
            }
            DeskCmd::LeaveQueue { conn, reference } => {
                let Some(Conn {
                    principal: Principal::Applicant(case),
                    ..
                }) = self.conns.get(&conn)
                else {
                    return self.send(conn, error(reference, "forbidden", "only applicants queue"));
                };
                if self.desk.leave(*case) {
                    self.dirty = true;
                }
            }
            DeskCmd::TakeNext {
                conn,
                service,
                reference,
            } => self.take_next(conn, service, reference).await,
        }
    }

    async fn take_next(&mut self, conn: ConnId, service: Option<String>, reference: Option<u64>) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Principal::Officer(officer) = c.principal.clone() else {
            return self.send(
                conn,
                error(reference, "forbidden", "only officers take applicants"),
            );
        };
        if c.in_session {
            return self.send(
                conn,
                error(reference, "conflict", "close your current session first"),
            );
        }
        let officer_tx = c.tx.clone();
        let caps = match self.hub.store.officer_profile(officer.id).await {
            Ok(Some(json)) => serde_json::from_str::<Caps>(&json).unwrap_or_default(),
            Ok(None) => Caps::default(),
            Err(e) => {
                tracing::warn!("officer profile unavailable: {e}");
                Caps::default()
            }
        };
        let caps = crate::desk::OfficerCaps {
            officer: Some(officer.id),
            skills: caps.skills,
            languages: caps.languages,
        };
        let now = self.hub.clock.now();
        let Some(waiting) = self.desk.take_for(&caps, service.as_deref(), now) else {
            return self.send(conn, error(reference, "queue_empty", "nobody is waiting"));
        };
        let Some(applicant) = self.applicant_conn(waiting.case_id) else {
            self.dirty = true;
            return self.send(
                conn,
                error(reference, "gone", "the applicant left; take the next"),
            );
        };
        let applicant_tx = self.conns.get(&applicant).map(|c| c.tx.clone());
        let Some(applicant_tx) = applicant_tx else {
            return;
        };
        let case = match self.hub.store.case(waiting.case_id).await {
            Ok(Some(case)) => case,
            Ok(None) => {
                self.dirty = true;
                return self.send(conn, error(reference, "gone", "the case is gone"));
            }
            Err(e) => {
                tracing::error!("case unavailable for the session: {e}");
                let _ = self.desk.join(waiting);
                self.dirty = true;
                return self.send(
                    conn,
                    error(reference, "internal", "the session could not be opened"),
                );
            }
        };
        match crate::session::open(
            &self.hub,
            case,
            Arc::unwrap_or_clone(officer),
            (applicant, applicant_tx),
            (conn, officer_tx),
        )
        .await
        {
            Ok(session) => {
                tracing::info!(%session, "session opened");
                for id in [conn, applicant] {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.in_session = true;
                    }
                }
                self.started.insert(conn, now);
            }
            Err(e) => {
                tracing::error!("cannot open session: {e}");
                // Put the applicant back at the head rather than lose their place.
                let _ = self.desk.join(waiting);
                self.send(
                    conn,
                    error(reference, "internal", "the session could not be opened"),
                );
            }
        }
        self.dirty = true;
    }
}

/// Run the desk until every handle is dropped.
pub async fn run(hub: AppState, mut rx: mpsc::UnboundedReceiver<DeskCmd>) {
    let mut driver = Driver {
        hub,
        desk: Desk::default(),
        conns: HashMap::new(),
        by_case: HashMap::new(),
        dirty: false,
        started: HashMap::new(),
        recent: std::collections::VecDeque::new(),
    };
    while let Some(cmd) = rx.recv().await {
        driver.handle(cmd).await;
        let mut handled = 1;
        while handled < MAX_BATCH {
            let Ok(cmd) = rx.try_recv() else { break };
            driver.handle(cmd).await;
            handled += 1;
        }
        if driver.dirty {
            driver.broadcast();
        }
    }
}
