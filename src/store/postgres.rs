//! [`Store`] on PostgreSQL through sqlx, for hubs that share one database: migrations from
//! `migrations/postgres` applied at open (sqlx holds an advisory lock while it migrates, so
//! hubs starting together take turns), `synchronous_commit = on` on every connection so a
//! commit is durable before it is acknowledged, whatever the server's default. Times are
//! TIMESTAMPTZ, which keeps microseconds: an instant reads back truncated to the microsecond.
//!
//! The two checks that must not race take a lock first, inside a READ COMMITTED transaction
//! (each statement then sees what the previous lock holder committed):
//! - `book` locks the officer's `users` row (`FOR NO KEY UPDATE`, which queues bookings for
//!   that officer but not logins or sessions that merely reference the row), then counts the
//!   overlapping bookings and inserts;
//! - `append_log_leaf` locks `log_leaves` (`EXCLUSIVE`: readers go on, other appenders wait),
//!   then counts the leaves and inserts.

use super::rows::*;
use super::*;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use std::str::FromStr;

#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connect to the database at `url` (`postgres://user:password@host:port/database`), which
    /// must exist, and migrate it.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = connect_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            // A request waits at most this long for a connection, then fails with a clear
            // "database unavailable" instead of hanging.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// A READ COMMITTED transaction, whatever the server's default isolation.
    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// How the hub connects to PostgreSQL at `url`: durable commits, quiet notices.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    Ok(PgConnectOptions::from_str(url)?
        .application_name("globallink")
        // Notices (such as "relation already exists, skipping" from the migrator on every
        // start) are not worth a log line; warnings and errors still arrive.
        .options([
            ("synchronous_commit", "on"),
            ("client_min_messages", "warning"),
        ]))
}

#[async_trait]
impl Store for PostgresStore {
    async fn count_users(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, username, role, display_name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(user.role.as_str())
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .map(UserRecord::try_from)
            .transpose()
    }

    async fn user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(UserRecord::try_from)
            .transpose()
    }

    async fn create_login(
        &self,
        token_hash: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO logins (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user.to_string())
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn login(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>, StoreError> {
        sqlx::query_as::<_, UserRow>(
            "SELECT u.* FROM logins l JOIN users u ON u.id = l.user_id \
             WHERE l.token_hash = $1 AND l.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .map(UserRecord::try_from)
        .transpose()
    }

    async fn delete_login(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM logins WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_case(&self, case: &CaseRecord, invite_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cases (id, service, applicant_name, applicant_tz, applicant_lang, \
             created_by, created_at, invite_hash, invite_expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(case.id.to_string())
        .bind(&case.service)
        .bind(&case.applicant_name)
        .bind(&case.applicant_tz)
        .bind(&case.applicant_lang)
        .bind(case.created_by.to_string())
        .bind(case.created_at)
        .bind(invite_hash)
        .bind(case.invite_expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        // COLLATE "C" compares ids byte by byte, as SQLite does, whatever the database locale.
        records(
            sqlx::query_as::<_, CaseRow>(
                "SELECT * FROM cases ORDER BY created_at DESC, id COLLATE \"C\"",
            )
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn case(&self, id: CaseId) -> Result<Option<CaseRecord>, StoreError> {
        sqlx::query_as::<_, CaseRow>("SELECT * FROM cases WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(CaseRecord::try_from)
            .transpose()
    }

    async fn case_by_invite(&self, invite_hash: &str) -> Result<Option<CaseRecord>, StoreError> {
        sqlx::query_as::<_, CaseRow>("SELECT * FROM cases WHERE invite_hash = $1")
            .bind(invite_hash)
            .fetch_optional(&self.pool)
            .await?
            .map(CaseRecord::try_from)
            .transpose()
    }

    async fn create_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, case_id, officer_id, status, started_at, ended_at, node) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(s.id.to_string())
        .bind(s.case_id.to_string())
        .bind(s.officer_id.to_string())
        .bind(s.status.as_str())
        .bind(s.started_at)
        .bind(s.ended_at)
        .bind(&s.node)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(&self, id: SessionId) -> Result<Option<SessionRecord>, StoreError> {
        sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .map(SessionRecord::try_from)
        .transpose()
    }

    async fn sessions_for_case(&self, case: CaseId) -> Result<Vec<SessionRecord>, StoreError> {
        records(
            sqlx::query_as::<_, SessionRow>(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.case_id = $1 \
                 ORDER BY s.started_at"
            ))
            .bind(case.to_string())
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn sessions_with_status(
        &self,
        status: SessionStatus,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        records(
            sqlx::query_as::<_, SessionRow>(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.status = $1"
            ))
            .bind(status.as_str())
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn finish_session(
        &self,
        id: SessionId,
        status: SessionStatus,
        ended_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET status = $1, ended_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(ended_at)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn append_event(&self, event: &ChainedEvent) -> Result<(), StoreError> {
        let seq = i64::try_from(event.event.seq)
            .map_err(|_| StoreError::Conflict("sequence number out of range".into()))?;
        let result = sqlx::query(
            "INSERT INTO events (session_id, seq, prev_hash, hash, body) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(event.event.session.to_string())
        .bind(seq)
        .bind(&event.event.prev_hash)
        .bind(&event.hash)
        .bind(&event.canonical)
        .execute(&self.pool)
        .await;
        conflict_if_taken(result, || {
            format!(
                "event {} of session {} exists",
                event.event.seq, event.event.session
            )
        })?;
        Ok(())
    }

    async fn events(&self, session: SessionId) -> Result<Vec<StoredEvent>, StoreError> {
        records(
            sqlx::query_as::<_, EventRow>(
                "SELECT seq, hash, body FROM events WHERE session_id = $1 ORDER BY seq",
            )
            .bind(session.to_string())
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn officer_profile(&self, user: UserId) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT profile FROM officer_profiles WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_officer_profile(
        &self,
        user: UserId,
        json: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO officer_profiles (user_id, profile, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET profile = EXCLUDED.profile, \
             updated_at = EXCLUDED.updated_at",
        )
        .bind(user.to_string())
        .bind(json)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn officer_profiles(&self) -> Result<Vec<(UserId, String)>, StoreError> {
        records(
            sqlx::query_as::<_, ProfileRow>(
                "SELECT user_id, profile FROM officer_profiles ORDER BY user_id COLLATE \"C\"",
            )
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn set_applicant_preferences(
        &self,
        case: CaseId,
        tz: &str,
        earliest: &str,
        latest: &str,
        lang: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE cases SET applicant_tz = $1, applicant_earliest = $2, \
             applicant_latest = $3, applicant_lang = $4 WHERE id = $5",
        )
        .bind(tz)
        .bind(earliest)
        .bind(latest)
        .bind(lang)
        .bind(case.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn book(
        &self,
        b: &BookingRecord,
        max_sessions: u32,
        replacing: Option<BookingId>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let result = book_in(&mut tx, b, max_sessions, replacing).await;
        settle(tx, result).await
    }

    async fn cancel_booking(&self, id: BookingId) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE bookings SET status = 'cancelled' WHERE id = $1 AND status = 'booked'",
        )
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn booking(&self, id: BookingId) -> Result<Option<BookingRecord>, StoreError> {
        sqlx::query_as::<_, BookingRow>("SELECT * FROM bookings WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(BookingRecord::try_from)
            .transpose()
    }

    async fn bookings_for_case(&self, case: CaseId) -> Result<Vec<BookingRecord>, StoreError> {
        records(
            sqlx::query_as::<_, BookingRow>(
                "SELECT * FROM bookings WHERE case_id = $1 ORDER BY starts_at",
            )
            .bind(case.to_string())
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn bookings_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BookingRecord>, StoreError> {
        records(
            sqlx::query_as::<_, BookingRow>(
                "SELECT * FROM bookings WHERE status = 'booked' AND starts_at < $1 \
                 AND ends_at > $2 ORDER BY starts_at",
            )
            .bind(to)
            .bind(from)
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn create_artefact(&self, a: &ArtefactRecord) -> Result<(), StoreError> {
        let size = i64::try_from(a.size).map_err(|_| corrupt("size", &a.size.to_string()))?;
        sqlx::query(
            "INSERT INTO artefacts (id, case_id, session_id, file_name, manifest_sha256, size, \
             created_at, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(a.id.to_string())
        .bind(a.case_id.to_string())
        .bind(a.session_id.to_string())
        .bind(&a.file_name)
        .bind(&a.manifest_sha256)
        .bind(size)
        .bind(a.created_at)
        .bind(&a.outcome)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_artefact_size(&self, id: ArtefactId, size: u64) -> Result<bool, StoreError> {
        let size = i64::try_from(size).map_err(|_| corrupt("size", &size.to_string()))?;
        let done = sqlx::query("UPDATE artefacts SET size = $1 WHERE id = $2")
            .bind(size)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn artefact(&self, id: ArtefactId) -> Result<Option<ArtefactRecord>, StoreError> {
        sqlx::query_as::<_, ArtefactRow>("SELECT * FROM artefacts WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(ArtefactRecord::try_from)
            .transpose()
    }

    async fn artefacts_for_case(&self, case: CaseId) -> Result<Vec<ArtefactRecord>, StoreError> {
        records(
            sqlx::query_as::<_, ArtefactRow>(
                "SELECT * FROM artefacts WHERE case_id = $1 ORDER BY created_at",
            )
            .bind(case.to_string())
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn append_log_leaf(
        &self,
        index: u64,
        leaf_hash: &[u8; 32],
        artefact: ArtefactId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let idx = i64::try_from(index).map_err(|_| corrupt("log index", &index.to_string()))?;
        let mut tx = self.begin().await?;
        let result = append_log_leaf_in(&mut tx, idx, leaf_hash, artefact, at).await;
        settle(tx, result).await
    }

    async fn log_leaves(&self) -> Result<Vec<[u8; 32]>, StoreError> {
        log_leaves(
            sqlx::query_as("SELECT idx, leaf_hash FROM log_leaves ORDER BY idx")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn add_officer_certificate(&self, c: &OfficerCertRecord) -> Result<(), StoreError> {
        let serial = serial_i64(c.serial)?;
        let done = sqlx::query(
            "INSERT INTO officer_certificates (serial, officer_id, der, not_before, not_after, \
             issued_at, revoked_at, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(serial)
        .bind(c.officer_id.to_string())
        .bind(&c.der)
        .bind(c.not_before)
        .bind(c.not_after)
        .bind(c.issued_at)
        .bind(c.revoked_at)
        .bind(c.reason.map(i64::from))
        .execute(&self.pool)
        .await;
        conflict_if_taken(done, || format!("certificate serial {} is taken", c.serial))?;
        Ok(())
    }

    async fn officer_certificates(&self) -> Result<Vec<OfficerCertRecord>, StoreError> {
        records(
            sqlx::query_as::<_, OfficerCertRow>(
                "SELECT * FROM officer_certificates ORDER BY serial",
            )
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn revoke_officer_certificate(
        &self,
        serial: u64,
        at: DateTime<Utc>,
        reason: Option<u8>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE officer_certificates SET revoked_at = $1, reason = $2 \
             WHERE serial = $3 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(reason.map(i64::from))
        .bind(serial_i64(serial)?)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_officer_signature(&self, g: &OfficerSignatureRecord) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO artefact_signatures (artefact_id, officer_id, serial, signed_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(g.artefact_id.to_string())
        .bind(g.officer_id.to_string())
        .bind(serial_i64(g.serial)?)
        .bind(g.signed_at)
        .execute(&self.pool)
        .await;
        conflict_if_taken(done, || {
            format!("artefact {} is already signed", g.artefact_id)
        })?;
        Ok(())
    }

    async fn officer_signature(
        &self,
        artefact: ArtefactId,
    ) -> Result<Option<OfficerSignatureRecord>, StoreError> {
        sqlx::query_as::<_, OfficerSignatureRow>(
            "SELECT * FROM artefact_signatures WHERE artefact_id = $1",
        )
        .bind(artefact.to_string())
        .fetch_optional(&self.pool)
        .await?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn unsigned_artefacts(&self, officer: UserId) -> Result<Vec<ArtefactRecord>, StoreError> {
        records(
            sqlx::query_as::<_, ArtefactRow>(
                "SELECT a.* FROM artefacts a JOIN sessions s ON s.id = a.session_id \
                 LEFT JOIN artefact_signatures g ON g.artefact_id = a.id \
                 WHERE s.officer_id = $1 AND g.artefact_id IS NULL \
                 ORDER BY a.created_at DESC",
            )
            .bind(officer.to_string())
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn put_recording_key(
        &self,
        artefact: ArtefactId,
        wrapped_key: &[u8],
        retain_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO recording_keys (artefact_id, wrapped_key, retain_until) \
             VALUES ($1, $2, $3)",
        )
        .bind(artefact.to_string())
        .bind(wrapped_key)
        .bind(retain_until)
        .execute(&self.pool)
        .await;
        conflict_if_taken(done, || {
            format!("artefact {artefact} already has a recording key")
        })?;
        Ok(())
    }

    async fn recording_key(
        &self,
        artefact: ArtefactId,
    ) -> Result<Option<RecordingKeyRecord>, StoreError> {
        sqlx::query_as::<_, RecordingKeyRow>("SELECT * FROM recording_keys WHERE artefact_id = $1")
            .bind(artefact.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(TryInto::try_into)
            .transpose()
    }

    async fn recording_keys_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<RecordingKeyRecord>, StoreError> {
        records(
            sqlx::query_as::<_, RecordingKeyRow>(
                "SELECT * FROM recording_keys WHERE destroyed_at IS NULL AND retain_until <= $1 \
                 ORDER BY retain_until, artefact_id",
            )
            .bind(now)
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn destroy_recording_key(
        &self,
        artefact: ArtefactId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE recording_keys SET wrapped_key = NULL, destroyed_at = $1 \
             WHERE artefact_id = $2 AND destroyed_at IS NULL",
        )
        .bind(at)
        .bind(artefact.to_string())
        .execute(&self.pool)
        .await?;
        // The old row version stays in the table file until VACUUM reclaims it
        // (docs/bundle.md, "Retention").

        Ok(done.rows_affected() == 1)
    }

    async fn artefacts(&self) -> Result<Vec<ArtefactRecord>, StoreError> {
        records(
            sqlx::query_as::<_, ArtefactRow>("SELECT * FROM artefacts ORDER BY created_at DESC")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn record_access(&self, a: &AccessRecord) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO access_log (user_id, action, target, at) VALUES ($1, $2, $3, $4)")
            .bind(a.user_id.to_string())
            .bind(&a.action)
            .bind(&a.target)
            .bind(a.at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn access_log(&self, limit: u32) -> Result<Vec<AccessRecord>, StoreError> {
        records(
            sqlx::query_as::<_, AccessRow>("SELECT * FROM access_log ORDER BY id DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

/// The checks and writes of [`Store::book`], inside `tx`.
async fn book_in(
    tx: &mut Transaction<'static, Postgres>,
    b: &BookingRecord,
    max_sessions: u32,
    replacing: Option<BookingId>,
) -> Result<(), StoreError> {
    // Bookings for one officer queue here until the holder commits, so two of them never
    // both count the same free seat. An unknown officer locks nothing; the insert's
    // foreign key then refuses the booking.
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .bind(b.officer_id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(old) = replacing {
        sqlx::query("UPDATE bookings SET status = 'cancelled' WHERE id = $1 AND case_id = $2")
            .bind(old.to_string())
            .bind(b.case_id.to_string())
            .execute(&mut **tx)
            .await?;
    }
    let overlapping: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM bookings WHERE officer_id = $1 AND status = 'booked' \
         AND starts_at < $2 AND ends_at > $3",
    )
    .bind(b.officer_id.to_string())
    .bind(b.ends_at)
    .bind(b.starts_at)
    .fetch_one(&mut **tx)
    .await?;
    if overlapping >= i64::from(max_sessions) {
        return Err(StoreError::Conflict(
            "the officer is already booked then".into(),
        ));
    }
    // The partial unique index `bookings_one_per_case` holds one live booking per case; a
    // concurrent insert for the same case waits for this one and then fails.
    let inserted = sqlx::query(
        "INSERT INTO bookings (id, case_id, officer_id, starts_at, ends_at, status, \
         created_at) VALUES ($1, $2, $3, $4, $5, 'booked', $6)",
    )
    .bind(b.id.to_string())
    .bind(b.case_id.to_string())
    .bind(b.officer_id.to_string())
    .bind(b.starts_at)
    .bind(b.ends_at)
    .bind(b.created_at)
    .execute(&mut **tx)
    .await;
    conflict_if_taken(inserted, || "this case already has a booking".into())?;
    Ok(())
}

/// The check and write of [`Store::append_log_leaf`], inside `tx`.
async fn append_log_leaf_in(
    tx: &mut Transaction<'static, Postgres>,
    idx: i64,
    leaf_hash: &[u8; 32],
    artefact: ArtefactId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Appenders queue here, so the count and the insert see one log; readers go on.
    sqlx::query("LOCK TABLE log_leaves IN EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM log_leaves")
        .fetch_one(&mut **tx)
        .await?;
    if count != idx {
        return Err(StoreError::Conflict(format!(
            "the log holds {count} leaves, so leaf {idx} cannot be appended"
        )));
    }
    sqlx::query(
        "INSERT INTO log_leaves (idx, leaf_hash, artefact_id, appended_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(idx)
    .bind(&leaf_hash[..])
    .bind(artefact.to_string())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Commit `tx` if `result` is a success, else roll it back now (releasing its locks before the
/// caller hears of the failure).
async fn settle<T>(
    tx: Transaction<'static, Postgres>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // The failure the caller needs is `e`; a failed rollback closes the connection.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}
