//! Several hub nodes on one PostgreSQL database: the IO edge that lets them serve one desk.
//!
//! - **Membership.** Each node upserts its row in `nodes` (its `node_id` and `public_url`) at
//!   start and beats every `node_heartbeat_secs`, on the database's clock so the nodes' own
//!   clocks need not agree. A node silent for `node_lost_after_secs` is marked `lost` by one
//!   conditional `UPDATE … RETURNING` (so exactly one survivor handles it), which then marks the
//!   lost node's open sessions interrupted (`session::interrupt_lost_node`).
//! - **The shared queue.** `desk_queue` holds every waiting applicant in arrival order, with the
//!   node their connection is on. An officer's node claims the applicant its desk picked with
//!   `SELECT … FOR UPDATE SKIP LOCKED` and deletes the row in the same transaction: a row
//!   another node is claiming is skipped, and one already claimed is gone, so one applicant is
//!   never handed to two officers.
//! - **Notices.** Changes are announced with `NOTIFY` on [`CHANNEL`] ([`Notice`], JSON). Every
//!   node `LISTEN`s and hands what others announce to its desk task, which reloads the queue,
//!   sends an applicant whose session opened elsewhere to that node, or refreshes its consoles'
//!   bookings.
//!
//! The desk's decisions stay in the pure [`crate::desk`]: the desk task keeps a copy of the
//! shared queue, picks from it, and only the claim goes through the database. A SQLite hub is
//! one node and has no `Cluster`.

use crate::desk::Waiting;
use crate::ids::{CaseId, SessionId, UserId};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

/// The `LISTEN`/`NOTIFY` channel the nodes share.
pub const CHANNEL: &str = "globallink_desk";

/// What one node tells the others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// The shared queue changed.
    Queue { node: String },
    /// `node` opened `session` for the applicant of `case`: the node holding the applicant's
    /// connection sends them there.
    Paired {
        node: String,
        case: CaseId,
        session: SessionId,
    },
    /// A booking was made, moved or cancelled.
    Bookings { node: String },
    /// This node's listener reconnected: notices may have been missed, so reload. Never sent.
    Resync,
}

impl Notice {
    /// The node that sent it (`None` for [`Notice::Resync`]).
    pub fn from_node(&self) -> Option<&str> {
        match self {
            Notice::Queue { node } | Notice::Paired { node, .. } | Notice::Bookings { node } => {
                Some(node)
            }
            Notice::Resync => None,
        }
    }
}

/// What a claim on a queued applicant found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Claimed (and removed from the queue); the applicant's connection is on `node`.
    Claimed { node: String },
    /// Already taken, or being taken by another node right now.
    Gone,
}

/// A node's view of the nodes sharing its database.
#[derive(Clone, Debug)]
pub struct Cluster {
    pool: PgPool,
    node: String,
}

#[derive(sqlx::FromRow)]
struct QueueRow {
    case_id: String,
    service: String,
    skill: String,
    lang: String,
    tz: String,
    applicant_name: String,
    booked_officer: Option<String>,
    booked_at: Option<DateTime<Utc>>,
    since: DateTime<Utc>,
}

impl TryFrom<QueueRow> for Waiting {
    type Error = StoreError;
    fn try_from(row: QueueRow) -> Result<Self, StoreError> {
        let corrupt = |field: &str, value: &str| StoreError::Corrupt(format!("{field}: {value:?}"));
        let case_id: CaseId = row
            .case_id
            .parse()
            .map_err(|_| corrupt("case_id", &row.case_id))?;
        let booked_with = match (row.booked_officer, row.booked_at) {
            (Some(officer), Some(at)) => Some((
                officer
                    .parse::<UserId>()
                    .map_err(|_| corrupt("booked_officer", &officer))?,
                at,
            )),
            _ => None,
        };
        Ok(Waiting {
            case_id,
            applicant_name: row.applicant_name,
            service: row.service.into(),
            tz: row.tz.into(),
            lang: row.lang.into(),
            skill: row.skill.into(),
            booked_with,
            since: row.since,
        })
    }
}

impl Cluster {
    /// Join the nodes on the (already migrated) database at `url` as `node`, reached at
    /// `public_url`. Queue rows this node left behind (its connections are gone) are removed.
    pub async fn join(url: &str, node: &str, public_url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(crate::store::postgres::connect_options(url)?)
            .await?;
        sqlx::query(
            "INSERT INTO nodes (id, public_url, state, started_at, heartbeat_at) \
             VALUES ($1, $2, 'live', now(), now()) \
             ON CONFLICT (id) DO UPDATE SET public_url = EXCLUDED.public_url, state = 'live', \
             started_at = now(), heartbeat_at = now()",
        )
        .bind(node)
        .bind(public_url)
        .execute(&pool)
        .await?;
        let cluster = Self {
            pool,
            node: node.to_owned(),
        };
        if cluster.clear_queue_of(node).await? > 0 {
            cluster
                .notify(&Notice::Queue {
                    node: node.to_owned(),
                })
                .await?;
        }
        Ok(cluster)
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Tell the others this node is alive. A node marked lost while it could not reach the
    /// database (its open sessions were interrupted by another node) is live again from here.
    pub async fn heartbeat(&self) -> Result<(), StoreError> {
        let before: Option<String> = sqlx::query_scalar(
            "UPDATE nodes n SET heartbeat_at = now(), \
             state = CASE WHEN n.state = 'lost' THEN 'live' ELSE n.state END \
             FROM (SELECT state FROM nodes WHERE id = $1) AS before \
             WHERE n.id = $1 RETURNING before.state",
        )
        .bind(&self.node)
        .fetch_optional(&self.pool)
        .await?;
        if before.as_deref() == Some("lost") {
            tracing::error!(
                node = %self.node,
                "this node was marked lost by another node (no heartbeat in time): its sessions \
                 open at that moment were interrupted there"
            );
        }
        Ok(())
    }

    /// Mark this node `draining` or `stopped`.
    pub async fn set_state(&self, state: NodeState) -> Result<(), StoreError> {
        sqlx::query("UPDATE nodes SET state = $2 WHERE id = $1")
            .bind(&self.node)
            .bind(state.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Mark every other node whose last heartbeat is older than `after` (and which has not
    /// stopped cleanly) as lost, and return them: each is returned to exactly one caller.
    pub async fn take_lost_nodes(
        &self,
        after: std::time::Duration,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "UPDATE nodes SET state = 'lost' \
             WHERE id <> $1 AND state IN ('live', 'draining') \
             AND heartbeat_at < now() - make_interval(secs => $2) RETURNING id",
        )
        .bind(&self.node)
        .bind(after.as_secs_f64())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Where clients reach `node`.
    pub async fn public_url(&self, node: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT public_url FROM nodes WHERE id = $1")
                .bind(node)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Put an applicant connected to `node` in the shared queue; `false` if their case is
    /// already queued (from another window or node), which keeps its place.
    pub async fn enqueue(&self, w: &Waiting, node: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO desk_queue (case_id, node, service, skill, lang, tz, applicant_name, \
             booked_officer, booked_at, since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (case_id) DO NOTHING",
        )
        .bind(w.case_id.to_string())
        .bind(node)
        .bind(&*w.service)
        .bind(&*w.skill)
        .bind(&*w.lang)
        .bind(&*w.tz)
        .bind(&w.applicant_name)
        .bind(w.booked_with.map(|(officer, _)| officer.to_string()))
        .bind(w.booked_with.map(|(_, at)| at))
        .bind(w.since)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Take a case out of the queue (the applicant left), only if it was queued through `node`
    /// when given; `false` if it was not there.
    pub async fn dequeue(&self, case: CaseId, node: Option<&str>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM desk_queue WHERE case_id = $1 AND ($2::TEXT IS NULL OR node = $2)",
        )
        .bind(case.to_string())
        .bind(node)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claim a queued applicant for an officer of this node: lock the row unless another node
    /// holds it (`SKIP LOCKED`), and delete it in the same transaction.
    pub async fn claim(&self, case: CaseId) -> Result<Claim, StoreError> {
        let mut tx = self.pool.begin().await?;
        let node: Option<String> = sqlx::query_scalar(
            "SELECT node FROM desk_queue WHERE case_id = $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(case.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(node) = node else {
            tx.rollback().await?;
            return Ok(Claim::Gone);
        };
        sqlx::query("DELETE FROM desk_queue WHERE case_id = $1")
            .bind(case.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Claim::Claimed { node })
    }

    /// The whole shared queue, in arrival order.
    pub async fn queue(&self) -> Result<Vec<Waiting>, StoreError> {
        sqlx::query_as::<_, QueueRow>(
            "SELECT case_id, service, skill, lang, tz, applicant_name, booked_officer, \
             booked_at, since FROM desk_queue ORDER BY pos",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Waiting::try_from)
        .collect()
    }

    /// Remove the queue rows of applicants connected to `node` (which stopped or was lost).
    pub async fn clear_queue_of(&self, node: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM desk_queue WHERE node = $1")
            .bind(node)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Announce `notice` to every node (this one included; its desk ignores its own).
    pub async fn notify(&self, notice: &Notice) -> Result<(), StoreError> {
        let payload =
            serde_json::to_string(notice).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Listen for the other nodes' notices until `deliver` returns `false`. A lost listening
    /// connection is reopened, and [`Notice::Resync`] delivered, since notices sent meanwhile
    /// are gone.
    pub async fn listen(&self, mut deliver: impl FnMut(Notice) -> bool) {
        let mut listener: Option<PgListener> = None;
        loop {
            let l = match listener.as_mut() {
                Some(l) => l,
                None => match PgListener::connect_with(&self.pool).await {
                    Ok(mut l) => match l.listen(CHANNEL).await {
                        Ok(()) => {
                            if !deliver(Notice::Resync) {
                                return;
                            }
                            listener.insert(l)
                        }
                        Err(e) => {
                            tracing::warn!("cannot listen for other nodes: {e}");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            continue;
                        }
                    },
                    Err(e) => {
                        tracing::warn!("cannot listen for other nodes: {e}");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            match l.try_recv().await {
                Ok(Some(n)) => match serde_json::from_str::<Notice>(n.payload()) {
                    Ok(notice) if notice.from_node() != Some(self.node.as_str()) => {
                        if !deliver(notice) {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("unreadable notice from another node: {e}"),
                },
                // The connection was lost; the next `try_recv` reconnects.
                Ok(None) => {
                    if !deliver(Notice::Resync) {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!("lost the other nodes' notices: {e}");
                    listener = None;
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// A node's state in `nodes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    Draining,
    Stopped,
}

impl NodeState {
    fn as_str(self) -> &'static str {
        match self {
            NodeState::Draining => "draining",
            NodeState::Stopped => "stopped",
        }
    }
}
