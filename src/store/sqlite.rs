//! [`Store`] on SQLite through sqlx: one file under the data dir, WAL journal, `synchronous =
//! FULL` so a commit survives power loss, migrations from `migrations/sqlite` applied at open.
//! Times are RFC 3339 text; rows are read through [`super::rows`].

use super::rows::*;
use super::*;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if needed) and migrate the database at `url` (`sqlite://path`).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Deleted and overwritten content (a destroyed recording key) is zeroed in the file.
            .pragma("secure_delete", "ON")
            // A page cache of 512 KiB per connection instead of SQLite's 2 MiB: eight warm
            // connections would otherwise keep 16 MiB of copies of pages the kernel already
            // caches (`docs/benchmarks.md`, signalling load).
            .pragma("cache_size", "-512")
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A request waits at most this long for a connection, then fails with a clear
            // "database unavailable" instead of hanging.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn count_users(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn create_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (id, username, role, display_name, password_hash, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
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
        sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .map(UserRecord::try_from)
            .transpose()
    }

    async fn user(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE id = ?")
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
        sqlx::query("INSERT INTO logins (token_hash, user_id, expires_at) VALUES (?, ?, ?)")
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
             WHERE l.token_hash = ? AND l.expires_at > ?",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .map(UserRecord::try_from)
        .transpose()
    }

    async fn delete_login(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM logins WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_case(&self, case: &CaseRecord, invite_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cases (id, service, applicant_name, applicant_tz, applicant_lang, \
             created_by, created_at, invite_hash, invite_expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        records(
            sqlx::query_as::<_, CaseRow>("SELECT * FROM cases ORDER BY created_at DESC, id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn case(&self, id: CaseId) -> Result<Option<CaseRecord>, StoreError> {
        sqlx::query_as::<_, CaseRow>("SELECT * FROM cases WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(CaseRecord::try_from)
            .transpose()
    }

    async fn case_by_invite(&self, invite_hash: &str) -> Result<Option<CaseRecord>, StoreError> {
        sqlx::query_as::<_, CaseRow>("SELECT * FROM cases WHERE invite_hash = ?")
            .bind(invite_hash)
            .fetch_optional(&self.pool)
            .await?
            .map(CaseRecord::try_from)
            .transpose()
    }

    async fn create_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, case_id, officer_id, status, started_at, ended_at, node) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
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
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?"
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
                "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.case_id = ? \
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
                "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.status = ?"
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
        sqlx::query("UPDATE sessions SET status = ?, ended_at = ? WHERE id = ?")
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
            "INSERT INTO events (session_id, seq, prev_hash, hash, body) VALUES (?, ?, ?, ?, ?)",
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
                "SELECT seq, hash, body FROM events WHERE session_id = ? ORDER BY seq",
            )
            .bind(session.to_string())
            .fetch_all(&self.pool)
            .await?,
        )
    }

    async fn officer_profile(&self, user: UserId) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT profile FROM officer_profiles WHERE user_id = ?")
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
            "INSERT INTO officer_profiles (user_id, profile, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT(user_id) DO UPDATE SET profile = excluded.profile, \
             updated_at = excluded.updated_at",
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
                "SELECT user_id, profile FROM officer_profiles ORDER BY user_id",
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
            "UPDATE cases SET applicant_tz = ?, applicant_earliest = ?, applicant_latest = ?, \
             applicant_lang = ? WHERE id = ?",
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
        let mut conn = self.pool.acquire().await?;
        // IMMEDIATE takes the write lock first, so two bookings never both see a free slot.
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let result: Result<(), StoreError> = async {
            if let Some(old) = replacing {
                sqlx::query(
                    "UPDATE bookings SET status = 'cancelled' WHERE id = ? AND case_id = ?",
                )
                .bind(old.to_string())
                .bind(b.case_id.to_string())
                .execute(&mut *conn)
                .await?;
            }
            let overlapping: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM bookings WHERE officer_id = ? AND status = 'booked' \
                 AND starts_at < ? AND ends_at > ?",
            )
            .bind(b.officer_id.to_string())
            .bind(b.ends_at)
            .bind(b.starts_at)
            .fetch_one(&mut *conn)
            .await?;
            if overlapping >= i64::from(max_sessions) {
                return Err(StoreError::Conflict(
                    "the officer is already booked then".into(),
                ));
            }
            let inserted = sqlx::query(
                "INSERT INTO bookings (id, case_id, officer_id, starts_at, ends_at, status, \
                 created_at) VALUES (?, ?, ?, ?, ?, 'booked', ?)",
            )
            .bind(b.id.to_string())
            .bind(b.case_id.to_string())
            .bind(b.officer_id.to_string())
            .bind(b.starts_at)
            .bind(b.ends_at)
            .bind(b.created_at)
            .execute(&mut *conn)
            .await;
            conflict_if_taken(inserted, || "this case already has a booking".into())?;
            Ok(())
        }
        .await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        sqlx::query(end).execute(&mut *conn).await?;
        result
    }

    async fn cancel_booking(&self, id: BookingId) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE bookings SET status = 'cancelled' WHERE id = ? AND status = 'booked'",
        )
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn booking(&self, id: BookingId) -> Result<Option<BookingRecord>, StoreError> {
        sqlx::query_as::<_, BookingRow>("SELECT * FROM bookings WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(BookingRecord::try_from)
            .transpose()
    }

    async fn bookings_for_case(&self, case: CaseId) -> Result<Vec<BookingRecord>, StoreError> {
        records(
            sqlx::query_as::<_, BookingRow>(
                "SELECT * FROM bookings WHERE case_id = ? ORDER BY starts_at",
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
                "SELECT * FROM bookings WHERE status = 'booked' AND starts_at < ? AND ends_at > ? \
                 ORDER BY starts_at",
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
             created_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
        let done = sqlx::query("UPDATE artefacts SET size = ? WHERE id = ?")
            .bind(size)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn artefact(&self, id: ArtefactId) -> Result<Option<ArtefactRecord>, StoreError> {
        sqlx::query_as::<_, ArtefactRow>("SELECT * FROM artefacts WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(ArtefactRecord::try_from)
            .transpose()
    }

    async fn artefacts_for_case(&self, case: CaseId) -> Result<Vec<ArtefactRecord>, StoreError> {
        records(
            sqlx::query_as::<_, ArtefactRow>(
                "SELECT * FROM artefacts WHERE case_id = ? ORDER BY created_at",
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
        let mut conn = self.pool.acquire().await?;
        // IMMEDIATE takes the write lock first, so the count and the insert see one log.
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let result: Result<(), StoreError> = async {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM log_leaves")
                .fetch_one(&mut *conn)
                .await?;
            if count != idx {
                return Err(StoreError::Conflict(format!(
                    "the log holds {count} leaves, so leaf {index} cannot be appended"
                )));
            }
            sqlx::query(
                "INSERT INTO log_leaves (idx, leaf_hash, artefact_id, appended_at) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(idx)
            .bind(&leaf_hash[..])
            .bind(artefact.to_string())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
        .await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        sqlx::query(end).execute(&mut *conn).await?;
        result
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
             issued_at, revoked_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
            "UPDATE officer_certificates SET revoked_at = ?, reason = ? \
             WHERE serial = ? AND revoked_at IS NULL",
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
             VALUES (?, ?, ?, ?)",
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
            "SELECT * FROM artefact_signatures WHERE artefact_id = ?",
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
                 WHERE s.officer_id = ? AND g.artefact_id IS NULL \
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
             VALUES (?, ?, ?)",
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
        sqlx::query_as::<_, RecordingKeyRow>("SELECT * FROM recording_keys WHERE artefact_id = ?")
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
                "SELECT * FROM recording_keys WHERE destroyed_at IS NULL AND retain_until <= ? \
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
            "UPDATE recording_keys SET wrapped_key = NULL, destroyed_at = ? \
             WHERE artefact_id = ? AND destroyed_at IS NULL",
        )
        .bind(at)
        .bind(artefact.to_string())
        .execute(&self.pool)
        .await?;
        // secure_delete zeroes the cleared key in the database file; a truncating checkpoint
        // then empties the write-ahead log, which still held pages with it. Best effort: a
        // reader in the middle of a transaction can keep the log from being truncated.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(artefact = %artefact, "checkpoint after destroying a key: {e}");
        }
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
        sqlx::query("INSERT INTO access_log (user_id, action, target, at) VALUES (?, ?, ?, ?)")
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
            sqlx::query_as::<_, AccessRow>("SELECT * FROM access_log ORDER BY id DESC LIMIT ?")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
