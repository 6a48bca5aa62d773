//! Durable state behind one trait, [`Store`]: accounts, logins, cases, sessions, the evidence
//! chain, artefacts and the transparency log's leaves. Two implementations keep the same
//! contract: [`sqlite::SqliteStore`] (the default, one file) and [`postgres::PostgresStore`]
//! (a server several hubs can share); [`open`] picks one by the URL's scheme.
//!
//! Contract: every write method returns only after the data is committed, so the caller may
//! acknowledge it to a client. `append_event` refuses an event whose sequence number is taken,
//! so two writers can never fork a chain.

pub mod postgres;
mod rows;
pub mod sqlite;
#[doc(hidden)]
pub mod testing;
#[cfg(test)]
mod tests;

use crate::evidence::ChainedEvent;
use crate::ids::{ArtefactId, BookingId, CaseId, SessionId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// The database engines a `database_url` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// `sqlite:…`
    Sqlite,
    /// `postgres://…` or `postgresql://…`
    Postgres,
}

impl Engine {
    /// The engine `url` names by its scheme, if it is one the hub supports.
    pub fn of(url: &str) -> Option<Engine> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }
}

/// Open and migrate the store `url` names: SQLite for `sqlite:`, PostgreSQL for
/// `postgres://` and `postgresql://`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match Engine::of(url) {
        Some(Engine::Sqlite) => Arc::new(sqlite::SqliteStore::open(url).await?),
        Some(Engine::Postgres) => Arc::new(postgres::PostgresStore::open(url).await?),
        None => return Err(StoreError::UnsupportedUrl),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Officer,
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "officer" => Some(Role::Officer),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct UserRecord {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Case)]
pub struct CaseRecord {
    pub id: CaseId,
    pub service: String,
    pub applicant_name: String,
    pub applicant_tz: String,
    pub applicant_lang: String,
    /// The applicant's acceptable local hours, `HH:MM` in `applicant_tz`.
    pub applicant_earliest: String,
    pub applicant_latest: String,
    #[serde(skip)]
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub invite_expires_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    Open,
    Closed,
    Interrupted,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Closed => "closed",
            SessionStatus::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            "interrupted" => Some(Self::Interrupted),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Session)]
pub struct SessionRecord {
    pub id: SessionId,
    pub case_id: CaseId,
    #[serde(skip)]
    pub officer_id: UserId,
    pub status: SessionStatus,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Number of evidence events committed.
    pub events: u64,
    /// The hub node that holds the session's media (`node_id`); empty for sessions from before
    /// nodes were named.
    #[serde(skip)]
    pub node: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Artefact)]
pub struct ArtefactRecord {
    pub id: ArtefactId,
    pub case_id: CaseId,
    pub session_id: SessionId,
    /// Name under `<data_dir>/artefacts/`: the artefact's directory, or `<id>.zip` for one
    /// sealed by an earlier version (`seal::bundle::StoredArtefact::locate`).
    #[serde(skip)]
    pub file_name: String,
    pub manifest_sha256: String,
    /// Size in bytes of the bundle's zip, as downloaded.
    pub size: u64,
    pub created_at: DateTime<Utc>,
    /// The session's outcome: `completed`, `incomplete`, `refused`, `denied` or `interrupted`.
    pub outcome: String,
}

/// One view of an artefact by a signed-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessRecord {
    pub user_id: UserId,
    /// `list_artefacts`, `timeline`, `verify` or `download`.
    pub action: String,
    /// The artefact id, or the filter of a listing.
    pub target: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatus {
    Booked,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BookingRecord {
    pub id: BookingId,
    pub case_id: CaseId,
    pub officer_id: UserId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: BookingStatus,
    pub created_at: DateTime<Utc>,
}

/// One committed evidence event.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub seq: u64,
    pub hash: String,
    /// The canonical JSON line.
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The URL is kept out of the message: it may hold a password.
    #[error("the database URL must start with sqlite:, postgres:// or postgresql://")]
    UnsupportedUrl,
}

impl StoreError {
    /// The database could not be reached (connection refused or lost, pool exhausted): the
    /// request may succeed later, unlike a conflict or a corrupt row.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_)
                    | sqlx::Error::WorkerCrashed
            )
        )
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn count_users(&self) -> Result<u64, StoreError>;
    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError>;

    async fn create_login(
        &self,
        token_hash: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The user behind a login token, if the login exists and has not expired at `now`.
    async fn login(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>, StoreError>;
    async fn delete_login(&self, token_hash: &str) -> Result<(), StoreError>;

    async fn create_case(&self, case: &CaseRecord, invite_hash: &str) -> Result<(), StoreError>;
    async fn cases(&self) -> Result<Vec<CaseRecord>, StoreError>;
    async fn case(&self, id: CaseId) -> Result<Option<CaseRecord>, StoreError>;
    async fn case_by_invite(&self, invite_hash: &str) -> Result<Option<CaseRecord>, StoreError>;

    async fn create_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    async fn session(&self, id: SessionId) -> Result<Option<SessionRecord>, StoreError>;
    async fn sessions_for_case(&self, case: CaseId) -> Result<Vec<SessionRecord>, StoreError>;
    async fn sessions_with_status(
        &self,
        status: SessionStatus,
    ) -> Result<Vec<SessionRecord>, StoreError>;
    async fn finish_session(
        &self,
        id: SessionId,
        status: SessionStatus,
        ended_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Commit one evidence event. Fails with [`StoreError::Conflict`] if its `seq` is taken.
    async fn append_event(&self, event: &ChainedEvent) -> Result<(), StoreError>;
    async fn events(&self, session: SessionId) -> Result<Vec<StoredEvent>, StoreError>;

    /// An officer's profile (skills, languages, schedule) as JSON.
    async fn officer_profile(&self, user: UserId) -> Result<Option<String>, StoreError>;
    async fn set_officer_profile(
        &self,
        user: UserId,
        json: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn officer_profiles(&self) -> Result<Vec<(UserId, String)>, StoreError>;
    /// The applicant's zone, acceptable hours and language for their case.
    async fn set_applicant_preferences(
        &self,
        case: CaseId,
        tz: &str,
        earliest: &str,
        latest: &str,
        lang: &str,
    ) -> Result<(), StoreError>;

    /// Book atomically: fails with [`StoreError::Conflict`] if the officer already has
    /// `max_sessions` live bookings overlapping it, or the case has a live booking. With
    /// `replacing`, that booking is cancelled in the same transaction (a reschedule).
    async fn book(
        &self,
        booking: &BookingRecord,
        max_sessions: u32,
        replacing: Option<BookingId>,
    ) -> Result<(), StoreError>;
    async fn cancel_booking(&self, id: BookingId) -> Result<bool, StoreError>;
    async fn booking(&self, id: BookingId) -> Result<Option<BookingRecord>, StoreError>;
    async fn bookings_for_case(&self, case: CaseId) -> Result<Vec<BookingRecord>, StoreError>;
    /// Live bookings overlapping `[from, to)`.
    async fn bookings_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BookingRecord>, StoreError>;

    async fn create_artefact(&self, artefact: &ArtefactRecord) -> Result<(), StoreError>;
    async fn artefact(&self, id: ArtefactId) -> Result<Option<ArtefactRecord>, StoreError>;
    async fn artefacts_for_case(&self, case: CaseId) -> Result<Vec<ArtefactRecord>, StoreError>;
    /// Every artefact, newest first.
    async fn artefacts(&self) -> Result<Vec<ArtefactRecord>, StoreError>;
    /// The download's new length after `manifest.jws` changed (the officer signed); `false`
    /// if there is no such artefact.
    async fn set_artefact_size(&self, id: ArtefactId, size: u64) -> Result<bool, StoreError>;
    /// Record a view; committed before the view is answered.
    async fn record_access(&self, access: &AccessRecord) -> Result<(), StoreError>;
    /// The newest `limit` views, newest first.
    async fn access_log(&self, limit: u32) -> Result<Vec<AccessRecord>, StoreError>;

    /// Append a transparency-log leaf at `index`, which must be the current number of leaves:
    /// a taken or skipped index is a [`StoreError::Conflict`], so the log never forks.
    async fn append_log_leaf(
        &self,
        index: u64,
        leaf_hash: &[u8; 32],
        artefact: ArtefactId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Every leaf hash of the transparency log, in order.
    async fn log_leaves(&self) -> Result<Vec<[u8; 32]>, StoreError>;

    /// Record a certificate the office CA issued; a serial in use is a conflict.
    async fn add_officer_certificate(&self, cert: &OfficerCertRecord) -> Result<(), StoreError>;
    /// Every officer certificate, by serial.
    async fn officer_certificates(&self) -> Result<Vec<OfficerCertRecord>, StoreError>;
    /// Mark a certificate revoked from `at`; false if there is no such certificate or it
    /// already was.
    async fn revoke_officer_certificate(
        &self,
        serial: u64,
        at: DateTime<Utc>,
        reason: Option<u8>,
    ) -> Result<bool, StoreError>;

    /// Record the officer's signature on an artefact; a second one is a conflict.
    async fn record_officer_signature(
        &self,
        signature: &OfficerSignatureRecord,
    ) -> Result<(), StoreError>;
    async fn officer_signature(
        &self,
        artefact: ArtefactId,
    ) -> Result<Option<OfficerSignatureRecord>, StoreError>;
    /// Artefacts of `officer`'s sessions that the officer has not signed yet, newest first.
    async fn unsigned_artefacts(&self, officer: UserId) -> Result<Vec<ArtefactRecord>, StoreError>;

    /// Keep the wrapped key of `artefact`'s recordings until `retain_until`; a second key for
    /// one artefact is a conflict.
    async fn put_recording_key(
        &self,
        artefact: ArtefactId,
        wrapped_key: &[u8],
        retain_until: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    async fn recording_key(
        &self,
        artefact: ArtefactId,
    ) -> Result<Option<RecordingKeyRecord>, StoreError>;
    /// Keys not yet destroyed whose `retain_until` is at or before `now`, oldest first.
    async fn recording_keys_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<RecordingKeyRecord>, StoreError>;
    /// Destroy the key of `artefact` (clear it and set `destroyed_at`) in one committed update.
    /// False when there is no live key (none, or destroyed already).
    async fn destroy_recording_key(
        &self,
        artefact: ArtefactId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// The key of one artefact's recordings at rest and its retention.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordingKeyRecord {
    pub artefact_id: ArtefactId,
    /// The key wrapped by `vault::Vault::wrap_recording_key`; `None` once destroyed.
    pub wrapped_key: Option<Vec<u8>>,
    pub retain_until: DateTime<Utc>,
    pub destroyed_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for RecordingKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingKeyRecord")
            .field("artefact_id", &self.artefact_id)
            .field("wrapped_key", &self.wrapped_key.as_ref().map(|_| "***"))
            .field("retain_until", &self.retain_until)
            .field("destroyed_at", &self.destroyed_at)
            .finish()
    }
}

/// An officer's signature on an artefact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficerSignatureRecord {
    pub artefact_id: ArtefactId,
    pub officer_id: UserId,
    /// Serial of the certificate the officer signed with.
    pub serial: u64,
    pub signed_at: DateTime<Utc>,
}

/// A certificate the office CA issued to an officer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfficerCertRecord {
    /// Below 2^63, so it fits the database's integer.
    pub serial: u64,
    pub officer_id: UserId,
    pub der: Vec<u8>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// RFC 5280 reason code.
    pub reason: Option<u8>,
}
