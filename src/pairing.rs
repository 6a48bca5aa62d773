//! The desk driver: one task owns the pure [`Desk`] and the registry of signalling connections.
//! It turns queue commands into queue changes, pairs the officer who asks with the applicant at
//! the head of the queue by opening a session, and broadcasts live positions and queues.
//!
//! A broadcast reaches everyone waiting, so it is made once per batch of commands rather than
//! once per change: the commands already queued up (at most [`MAX_BATCH`]) are handled first.
//! A burst of joins then costs one broadcast instead of one each, which keeps tens of thousands
//! of waiting applicants linear rather than quadratic (`docs/benchmarks.md`, signalling load).
//!
//! On PostgreSQL the queue is shared by every hub node ([`crate::cluster`]): the desk's
//! [`Desk`] is then this node's copy of it. Joins and departures are written through, an
//! applicant the desk picks is claimed in the database before a session opens (trying the next
//! pick if another node got there first), and other nodes' notices reload the copy (once per
//! batch). An applicant whose officer is on another node is sent there (`redirect`); one taken
//! here from another node joins the session when they arrive.

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
    /// What another hub node announced (or a reconnected listener's resync).
    Cluster(crate::cluster::Notice),
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

    /// Whether the desk task has stopped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Hand the other nodes' notices to the desk until it stops.
pub async fn listen(cluster: Arc<crate::cluster::Cluster>, desk: DeskHandle) {
    cluster
        .listen(|notice| {
            desk.send(DeskCmd::Cluster(notice));
            !desk.is_closed()
        })
        .await;
}

struct Conn {
    principal: Principal,
    tx: ConnTx,
    in_session: bool,
    /// An officer's offices: which queue entries and bookings their console is shown.
    scope: Option<Arc<crate::officers::Scope>>,
}

impl Conn {
    /// Whether this connection's console may see a case of `service`.
    fn sees(&self, service: &str) -> bool {
        self.scope.as_ref().is_none_or(|s| s.allows(service))
    }
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
    /// The nodes sharing the queue, on PostgreSQL.
    cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Another node changed the shared queue: reload it before the next broadcast.
    reload: bool,
    /// This node changed the shared queue: tell the others after this batch.
    announce: bool,
}

/// How many picks an officer's `take_next` tries when other nodes claim them first.
const MAX_CLAIMS: usize = 8;

/// How many finished sessions the wait estimate looks at.
const RECENT_SESSIONS: usize = 20;

/// Most commands handled before a pending broadcast goes out, so positions stay fresh even
/// while commands keep arriving.
pub const MAX_BATCH: usize = 1024;

/// The skills, languages and offices part of an officer's stored profile.
#[derive(serde::Deserialize, Default)]
struct Caps {
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    offices: Vec<String>,
}

fn error(reference: Option<u64>, code: &str, message: &str) -> Outbound {
    Outbound::msg(ServerMsg::Error {
        reference,
        code: code.into(),
        message: message.into(),
    })
}

/// The queue entries `conn`'s console may see.
fn visible(
    conn: &Conn,
    entries: &[crate::signal::protocol::QueueEntry],
) -> Vec<crate::signal::protocol::QueueEntry> {
    entries
        .iter()
        .filter(|e| conn.sees(&e.service))
        .cloned()
        .collect()
}

/// The refusal for a step the shared queue could not take.
fn store_error(reference: Option<u64>, e: &crate::store::StoreError) -> Outbound {
    if e.is_unavailable() {
        error(
            reference,
            "database_unavailable",
            "the database is unreachable; please try again shortly",
        )
    } else {
        error(reference, "internal", "please try again shortly")
    }
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
                    entries: visible(c, &entries),
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
                    entries: entries
                        .iter()
                        .filter(|b| c.sees(&b.service))
                        .cloned()
                        .collect(),
                };
                let _ = c.tx.send(Outbound::msg(msg));
            }
        }
    }

    async fn handle(&mut self, cmd: DeskCmd) {
        match cmd {
            DeskCmd::BookingsChanged => {
                self.push_bookings().await;
                if let Some(cluster) = &self.cluster {
                    let notice = crate::cluster::Notice::Bookings {
                        node: cluster.node().to_owned(),
                    };
                    if let Err(e) = cluster.notify(&notice).await {
                        tracing::warn!("booking change not announced to the other nodes: {e}");
                    }
                }
            }
            DeskCmd::Cluster(notice) => self.notice(notice).await,
            DeskCmd::Register {
                conn,
                principal,
                tx,
            } => {
                let scope = match &principal {
                    Principal::Officer(user) => Some(Arc::new(
                        crate::officers::Scope::of(
                            self.hub.store.as_ref(),
                            &self.hub.catalogue,
                            user,
                        )
                        .await
                        .unwrap_or_else(|e| {
                            // Shown nothing rather than everything until they reconnect.
                            tracing::warn!("officer's offices unavailable: {e}");
                            crate::officers::Scope::Services(Vec::new())
                        }),
                    )),
                    _ => None,
                };
                let is_officer = scope.is_some();
                if let Principal::Applicant(case) = principal {
                    self.by_case.entry(case).or_default().push(conn);
                }
                self.conns.insert(
                    conn,
                    Conn {
                        principal,
                        tx,
                        in_session: false,
                        scope,
                    },
                );
                if is_officer {
                    if let Some(c) = self.conns.get(&conn) {
                        c.tx.replace_latest(ServerMsg::Queue {
                            entries: visible(c, &self.desk.entries()),
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
                        self.dequeue(case, true).await;
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
                    service: case.service.into(),
                    tz: case.applicant_tz.into(),
                    lang: case.applicant_lang.into(),
                    skill: skill.into(),
                    booked_with,
                    since: now,
                };
                if let Some(cluster) = &self.cluster {
                    match cluster.enqueue(&waiting, cluster.node()).await {
                        Ok(true) => self.announce = true,
                        // Queued from another node already: that place stands.
                        Ok(false) => self.reload = true,
                        Err(e) => {
                            tracing::warn!("the shared queue refused a join: {e}");
                            return self.send(conn, store_error(reference, &e));
                        }
                    }
                }
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
                let case = *case;
                if self.desk.leave(case) {
                    self.dirty = true;
                    self.dequeue(case, false).await;
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
            scope: crate::officers::Scope::of_offices(&self.hub.catalogue, &caps.offices),
            skills: caps.skills,
            languages: caps.languages,
        };
        let now = self.hub.clock.now();
        // The desk picks; on a shared queue the pick is claimed in the database first, and a
        // pick another node claimed first is passed over for the next.
        let mut claims = 0;
        let (waiting, remote) = loop {
            let Some(waiting) = self.desk.take_for(&caps, service.as_deref(), now) else {
                return self.send(conn, error(reference, "queue_empty", "nobody is waiting"));
            };
            self.dirty = true;
            let Some(cluster) = self.cluster.clone() else {
                break (waiting, None);
            };
            match cluster.claim(waiting.case_id).await {
                Ok(crate::cluster::Claim::Claimed { node }) => {
                    self.announce = true;
                    if node != cluster.node() {
                        break (waiting, Some(node));
                    }
                    if self.applicant_conn(waiting.case_id).is_some() {
                        break (waiting, None);
                    }
                    // Their connection here is gone: the row was stale.
                }
                Ok(crate::cluster::Claim::Gone) => self.reload = true,
                Err(e) => {
                    tracing::warn!("the shared queue refused a claim: {e}");
                    let _ = self.desk.join(waiting);
                    return self.send(conn, store_error(reference, &e));
                }
            }
            claims += 1;
            if claims >= MAX_CLAIMS {
                return self.send(
                    conn,
                    error(
                        reference,
                        "queue_empty",
                        "other officers took the applicants first; try again",
                    ),
                );
            }
        };
        let applicant = match &remote {
            Some(_) => None,
            None => {
                let Some(applicant) = self.applicant_conn(waiting.case_id) else {
                    return self.send(
                        conn,
                        error(reference, "gone", "the applicant left; take the next"),
                    );
                };
                let Some(tx) = self.conns.get(&applicant).map(|c| c.tx.clone()) else {
                    return;
                };
                Some((applicant, tx))
            }
        };
        let case = match self.hub.store.case(waiting.case_id).await {
            Ok(Some(case)) => case,
            Ok(None) => {
                return self.send(conn, error(reference, "gone", "the case is gone"));
            }
            Err(e) => {
                tracing::error!("case unavailable for the session: {e}");
                self.requeue(waiting, remote.as_deref()).await;
                return self.send(conn, store_error(reference, &e));
            }
        };
        let applicant_conn = applicant.as_ref().map(|(id, _)| *id);
        match crate::session::open(
            &self.hub,
            case,
            Arc::unwrap_or_clone(officer),
            applicant,
            (conn, officer_tx),
        )
        .await
        {
            Ok(session) => {
                tracing::info!(%session, "session opened");
                for id in std::iter::once(conn).chain(applicant_conn) {
                    if let Some(c) = self.conns.get_mut(&id) {
                        c.in_session = true;
                    }
                }
                self.started.insert(conn, now);
                if let (Some(cluster), Some(_)) = (&self.cluster, &remote) {
                    let notice = crate::cluster::Notice::Paired {
                        node: cluster.node().to_owned(),
                        case: waiting.case_id,
                        session,
                    };
                    if let Err(e) = cluster.notify(&notice).await {
                        tracing::error!(%session, "the applicant's node was not told: {e}");
                    }
                }
            }
            Err(e) => {
                tracing::error!("cannot open session: {e}");
                // Put the applicant back at the head rather than lose their place.
                self.requeue(waiting, remote.as_deref()).await;
                self.send(
                    conn,
                    error(reference, "internal", "the session could not be opened"),
                );
            }
        }
        self.dirty = true;
    }

    /// Put a claimed applicant back (their `since` keeps their rank), connected to `node`
    /// (`None`: here).
    async fn requeue(&mut self, waiting: Waiting, node: Option<&str>) {
        if let Some(cluster) = &self.cluster {
            let node = node.unwrap_or(cluster.node());
            match cluster.enqueue(&waiting, node).await {
                Ok(_) => self.announce = true,
                Err(e) => tracing::error!("a claimed applicant could not be queued again: {e}"),
            }
        }
        let _ = self.desk.join(waiting);
        self.dirty = true;
    }

    /// Take `case` out of the shared queue: only its row from this node when `only_here`.
    async fn dequeue(&mut self, case: CaseId, only_here: bool) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let node = only_here.then(|| cluster.node());
        match cluster.dequeue(case, node).await {
            Ok(true) => self.announce = true,
            // Queued through another node: the copy is reloaded to show it again.
            Ok(false) => self.reload = true,
            Err(e) => {
                tracing::warn!("the shared queue kept an applicant who left: {e}");
                self.reload = true;
            }
        }
    }

    /// What another node announced.
    async fn notice(&mut self, notice: crate::cluster::Notice) {
        use crate::cluster::Notice;
        match notice {
            Notice::Queue { .. } | Notice::Resync => self.reload = true,
            Notice::Bookings { .. } => self.push_bookings().await,
            Notice::Paired {
                node,
                case,
                session,
            } => {
                self.reload = true;
                let (Some(cluster), Some(applicant)) = (&self.cluster, self.applicant_conn(case))
                else {
                    return;
                };
                match cluster.public_url(&node).await {
                    Ok(Some(url)) => {
                        tracing::info!(%session, node, "applicant sent to their session's node");
                        if let Some(c) = self.conns.get_mut(&applicant) {
                            c.in_session = true;
                            let _ = c.tx.send(Outbound::msg(ServerMsg::Redirect { url }));
                        }
                    }
                    Ok(None) => tracing::error!(node, "a session opened on an unknown node"),
                    Err(e) => tracing::error!(%session, "cannot send the applicant on: {e}"),
                }
            }
        }
    }

    /// Replace the copy of the shared queue with the database's.
    async fn reload_queue(&mut self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        match cluster.queue().await {
            Ok(rows) => {
                let mut desk = Desk::default();
                for waiting in rows {
                    let _ = desk.join(waiting);
                }
                self.desk = desk;
                self.reload = false;
                self.dirty = true;
            }
            Err(e) => tracing::warn!("the shared queue could not be read: {e}"),
        }
    }

    /// Tell the other nodes this one changed the shared queue.
    async fn announce(&mut self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        self.announce = false;
        let notice = crate::cluster::Notice::Queue {
            node: cluster.node().to_owned(),
        };
        if let Err(e) = cluster.notify(&notice).await {
            tracing::warn!("queue change not announced to the other nodes: {e}");
        }
    }
}

/// Run the desk until every handle is dropped.
pub async fn run(hub: AppState, mut rx: mpsc::UnboundedReceiver<DeskCmd>) {
    let hub_cluster = hub.cluster.clone();
    let mut driver = Driver {
        hub,
        desk: Desk::default(),
        conns: HashMap::new(),
        by_case: HashMap::new(),
        dirty: false,
        started: HashMap::new(),
        recent: std::collections::VecDeque::new(),
        cluster: hub_cluster,
        reload: false,
        announce: false,
    };
    while let Some(cmd) = rx.recv().await {
        driver.handle(cmd).await;
        let mut handled = 1;
        while handled < MAX_BATCH {
            let Ok(cmd) = rx.try_recv() else { break };
            driver.handle(cmd).await;
            handled += 1;
        }
        if driver.reload {
            driver.reload_queue().await;
        }
        if driver.announce {
            driver.announce().await;
        }
        if driver.dirty {
            driver.broadcast();
        }
    }
}
