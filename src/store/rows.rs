//! Rows as both databases return them, and their checked conversion into records: ids must
//! parse, enums must match, counts must fit. The SQLite and PostgreSQL stores read through
//! these, so a row means the same thing on either engine, and a bad one is
//! [`StoreError::Corrupt`], never a panic.

use super::*;
use std::str::FromStr;

pub(super) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

fn parse<T: FromStr>(col: &str, text: &str) -> Result<T, StoreError> {
    text.parse().map_err(|_| corrupt(col, text))
}

fn unsigned(col: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(col, &value.to_string()))
}

/// A certificate serial as the database's signed 64-bit integer.
pub(super) fn serial_i64(serial: u64) -> Result<i64, StoreError> {
    i64::try_from(serial).map_err(|_| corrupt("serial", &serial.to_string()))
}

/// `result` of an insert, with a unique-key violation turned into [`StoreError::Conflict`].
pub(super) fn conflict_if_taken<T>(
    result: Result<T, sqlx::Error>,
    conflict: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    match result {
        Ok(done) => Ok(done),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(StoreError::Conflict(conflict()))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: String,
    username: String,
    display_name: String,
    role: String,
    password_hash: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(UserRecord {
            id: parse("id", &row.id)?,
            username: row.username,
            display_name: row.display_name,
            role: Role::parse(&row.role).ok_or_else(|| corrupt("role", &row.role))?,
            password_hash: row.password_hash,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CaseRow {
    id: String,
    service: String,
    applicant_name: String,
    applicant_tz: String,
    applicant_lang: String,
    applicant_earliest: String,
    applicant_latest: String,
    created_by: String,
    created_at: DateTime<Utc>,
    invite_expires_at: DateTime<Utc>,
}

impl TryFrom<CaseRow> for CaseRecord {
    type Error = StoreError;
    fn try_from(row: CaseRow) -> Result<Self, StoreError> {
        Ok(CaseRecord {
            id: parse("id", &row.id)?,
            service: row.service,
            applicant_name: row.applicant_name,
            applicant_tz: row.applicant_tz,
            applicant_lang: row.applicant_lang,
            applicant_earliest: row.applicant_earliest,
            applicant_latest: row.applicant_latest,
            created_by: parse("created_by", &row.created_by)?,
            created_at: row.created_at,
            invite_expires_at: row.invite_expires_at,
        })
    }
}

/// Select list for [`SessionRow`] over `sessions s`: the row plus its number of events.
pub(super) const SESSION_COLUMNS: &str = "s.id, s.case_id, s.officer_id, s.status, \
     s.started_at, s.ended_at, s.node, (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id) AS events";

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id: String,
    case_id: String,
    officer_id: String,
    status: String,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    node: String,
    events: i64,
}

impl TryFrom<SessionRow> for SessionRecord {
    type Error = StoreError;
    fn try_from(row: SessionRow) -> Result<Self, StoreError> {
        Ok(SessionRecord {
            id: parse("id", &row.id)?,
            case_id: parse("case_id", &row.case_id)?,
            officer_id: parse("officer_id", &row.officer_id)?,
            status: SessionStatus::parse(&row.status)
                .ok_or_else(|| corrupt("status", &row.status))?,
            started_at: row.started_at,
            ended_at: row.ended_at,
            events: unsigned("events", row.events)?,
            node: row.node,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ArtefactRow {
    id: String,
    case_id: String,
    session_id: String,
    file_name: String,
    manifest_sha256: String,
    size: i64,
    created_at: DateTime<Utc>,
    outcome: String,
}

impl TryFrom<ArtefactRow> for ArtefactRecord {
    type Error = StoreError;
    fn try_from(row: ArtefactRow) -> Result<Self, StoreError> {
        Ok(ArtefactRecord {
            id: parse("id", &row.id)?,
            case_id: parse("case_id", &row.case_id)?,
            session_id: parse("session_id", &row.session_id)?,
            file_name: row.file_name,
            manifest_sha256: row.manifest_sha256,
            size: unsigned("size", row.size)?,
            created_at: row.created_at,
            outcome: row.outcome,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AccessRow {
    user_id: String,
    action: String,
    target: String,
    at: DateTime<Utc>,
}

impl TryFrom<AccessRow> for AccessRecord {
    type Error = StoreError;
    fn try_from(row: AccessRow) -> Result<Self, StoreError> {
        Ok(AccessRecord {
            user_id: parse("user_id", &row.user_id)?,
            action: row.action,
            target: row.target,
            at: row.at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct BookingRow {
    id: String,
    case_id: String,
    officer_id: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    status: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<BookingRow> for BookingRecord {
    type Error = StoreError;
    fn try_from(row: BookingRow) -> Result<Self, StoreError> {
        Ok(BookingRecord {
            id: parse("id", &row.id)?,
            case_id: parse("case_id", &row.case_id)?,
            officer_id: parse("officer_id", &row.officer_id)?,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            status: match row.status.as_str() {
                "booked" => BookingStatus::Booked,
                "cancelled" => BookingStatus::Cancelled,
                _ => return Err(corrupt("status", &row.status)),
            },
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    seq: i64,
    hash: String,
    body: String,
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = StoreError;
    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(StoredEvent {
            seq: unsigned("seq", row.seq)?,
            hash: row.hash,
            body: row.body,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ProfileRow {
    user_id: String,
    profile: String,
}

impl TryFrom<ProfileRow> for (UserId, String) {
    type Error = StoreError;
    fn try_from(row: ProfileRow) -> Result<Self, StoreError> {
        Ok((parse("user_id", &row.user_id)?, row.profile))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct OfficerCertRow {
    serial: i64,
    officer_id: String,
    der: Vec<u8>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    issued_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    reason: Option<i64>,
}

impl TryFrom<OfficerCertRow> for OfficerCertRecord {
    type Error = StoreError;
    fn try_from(row: OfficerCertRow) -> Result<Self, StoreError> {
        Ok(OfficerCertRecord {
            serial: unsigned("serial", row.serial)?,
            officer_id: parse("officer_id", &row.officer_id)?,
            der: row.der,
            not_before: row.not_before,
            not_after: row.not_after,
            issued_at: row.issued_at,
            revoked_at: row.revoked_at,
            reason: row
                .reason
                .map(|r| u8::try_from(r).map_err(|_| corrupt("reason", &r.to_string())))
                .transpose()?,
        })
    }
}

/// The leaves of the transparency log from `(idx, leaf_hash)` rows in index order: the indexes
/// must run 0, 1, 2, … without a gap and every hash must be 32 bytes.
pub(super) fn log_leaves(rows: Vec<(i64, Vec<u8>)>) -> Result<Vec<[u8; 32]>, StoreError> {
    rows.into_iter()
        .enumerate()
        .map(|(expected, (idx, hash))| {
            if usize::try_from(idx).ok() != Some(expected) {
                return Err(corrupt("log index", &idx.to_string()));
            }
            hash.try_into()
                .map_err(|_| corrupt("log leaf hash", &format!("leaf {idx}")))
        })
        .collect()
}

/// Convert every row of a listing, failing on the first corrupt one.
pub(super) fn records<R, T>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

#[derive(sqlx::FromRow)]
pub(super) struct OfficerSignatureRow {
    artefact_id: String,
    officer_id: String,
    serial: i64,
    signed_at: DateTime<Utc>,
}

impl TryFrom<OfficerSignatureRow> for super::OfficerSignatureRecord {
    type Error = StoreError;
    fn try_from(row: OfficerSignatureRow) -> Result<Self, StoreError> {
        Ok(super::OfficerSignatureRecord {
            artefact_id: parse("artefact_id", &row.artefact_id)?,
            officer_id: parse("officer_id", &row.officer_id)?,
            serial: unsigned("serial", row.serial)?,
            signed_at: row.signed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RecordingKeyRow {
    artefact_id: String,
    wrapped_key: Option<Vec<u8>>,
    retain_until: DateTime<Utc>,
    destroyed_at: Option<DateTime<Utc>>,
}

impl TryFrom<RecordingKeyRow> for super::RecordingKeyRecord {
    type Error = StoreError;
    fn try_from(row: RecordingKeyRow) -> Result<Self, StoreError> {
        Ok(super::RecordingKeyRecord {
            artefact_id: parse("artefact_id", &row.artefact_id)?,
            wrapped_key: row.wrapped_key,
            retain_until: row.retain_until,
            destroyed_at: row.destroyed_at,
        })
    }
}
