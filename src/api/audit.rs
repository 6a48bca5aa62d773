//! The auditor's workflow over HTTP: artefacts listed and filtered (service, officer, outcome,
//! a date range read in a chosen zone), one artefact's timeline from its sealed bundle with
//! every event in UTC, Beijing time and the applicant's time, its signatures, certificates and
//! log position, and the access log. Every view of an artefact is recorded before it is
//! answered; auditors read the record of who looked at what.

use super::{ApiError, ErrorBody, Params, Staff, stored_artefact};
use crate::ids::UserId;
use crate::schedule::{self, ShownTime};
use crate::seal::bundle::{
    EVENTS_JSONL, LOG_JSON, LogInclusion, MANIFEST_JSON, MANIFEST_JWS, Manifest, StoredArtefact,
};
use crate::state::AppState;
use crate::store::{AccessRecord, Role};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

/// The office zone every Beijing-time column is read in.
const OFFICE_TZ: Tz = chrono_tz::Asia::Shanghai;
/// Entries of the access log returned at most.
const ACCESS_LOG_LIMIT: u32 = 500;

/// Record that `user` did `action` on `target`; the view is refused if this cannot be stored.
pub(super) async fn record(
    state: &AppState,
    user: UserId,
    action: &str,
    target: &str,
) -> Result<(), ApiError> {
    let access = AccessRecord {
        user_id: user,
        action: action.to_owned(),
        target: target.to_owned(),
        at: state.clock.now(),
    };
    Ok(state.store.record_access(&access).await?)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Filter {
    /// A service code.
    service: Option<String>,
    /// An officer's id.
    #[param(format = Uuid)]
    officer: Option<String>,
    /// `completed`, `incomplete`, `refused`, `denied` or `interrupted`.
    outcome: Option<String>,
    /// `YYYY-MM-DD`, inclusive, read in `tz`.
    from: Option<NaiveDate>,
    /// `YYYY-MM-DD`, inclusive, read in `tz`.
    to: Option<NaiveDate>,
    /// IANA zone the dates are read in; Beijing time by default.
    tz: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ArtefactRow {
    #[schema(format = Uuid)]
    id: String,
    #[schema(format = Uuid)]
    case_id: String,
    service: String,
    applicant_name: String,
    officer: Option<Person>,
    outcome: String,
    sealed_at: DateTime<Utc>,
    /// `sealed_at` in the zone the filter was read in.
    sealed_local: ShownTime,
    manifest_sha256: String,
    size: u64,
}

#[derive(Serialize, ToSchema)]
struct Person {
    #[schema(format = Uuid)]
    id: String,
    name: String,
}

/// Artefacts newest first, filtered; the listing is recorded in the access log.
#[utoipa::path(
    get, path = "/api/artefacts", operation_id = "list_artefacts", tag = "audit", security(("staff" = [])),
    params(Filter),
    responses(
        (status = 200, description = "the artefacts", body = [ArtefactRow]),
        (status = 400, description = "`invalid_zone`, `invalid`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    Staff(user): Staff,
    Params(f): Params<Filter>,
) -> Result<Json<Vec<ArtefactRow>>, ApiError> {
    let zone: Tz = match f.tz.as_deref() {
        Some(name) => name.parse().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_zone",
                format!("unknown time zone {name:?}"),
            )
        })?,
        None => OFFICE_TZ,
    };
    if let (Some(from), Some(to)) = (f.from, f.to)
        && from > to
    {
        return Err(ApiError::invalid("the range ends before it starts"));
    }
    let from = f.from.and_then(|d| schedule::start_of_day(zone, d));
    let to =
        f.to.and_then(|d| d.succ_opt())
            .and_then(|d| schedule::start_of_day(zone, d));
    let officer: Option<UserId> = match f.officer.as_deref().filter(|o| !o.is_empty()) {
        Some(o) => Some(
            o.parse()
                .map_err(|_| ApiError::invalid("officer is not an id"))?,
        ),
        None => None,
    };
    let filter_text = format!(
        "service={} officer={} outcome={} from={} to={} tz={}",
        f.service.as_deref().unwrap_or(""),
        f.officer.as_deref().unwrap_or(""),
        f.outcome.as_deref().unwrap_or(""),
        f.from.map(|d| d.to_string()).unwrap_or_default(),
        f.to.map(|d| d.to_string()).unwrap_or_default(),
        zone.name(),
    );
    record(&state, user.id, "list_artefacts", &filter_text).await?;

    // An officer sees their offices' artefacts only; an auditor sees all.
    let scope = crate::officers::Scope::of(state.store.as_ref(), &state.catalogue, &user).await?;
    let cases: HashMap<_, _> = state
        .store
        .cases()
        .await?
        .into_iter()
        .filter(|c| scope.allows(&c.service))
        .map(|c| (c.id, c))
        .collect();
    let mut names: HashMap<UserId, String> = HashMap::new();
    let mut rows = Vec::new();
    for a in state.store.artefacts().await? {
        let Some(case) = cases.get(&a.case_id) else {
            continue;
        };
        let session = state.store.session(a.session_id).await?;
        let officer_id = session.map(|s| s.officer_id);
        let keep = f
            .service
            .as_deref()
            .is_none_or(|s| s.is_empty() || s == case.service)
            && f.outcome
                .as_deref()
                .is_none_or(|o| o.is_empty() || o == a.outcome)
            && officer.is_none_or(|o| Some(o) == officer_id)
            && from.is_none_or(|t| a.created_at >= t)
            && to.is_none_or(|t| a.created_at < t);
        if !keep {
            continue;
        }
        let officer = match officer_id {
            Some(id) => Some(Person {
                id: id.to_string(),
                name: user_name(&state, &mut names, id, true).await?,
            }),
            None => None,
        };
        rows.push(ArtefactRow {
            id: a.id.to_string(),
            case_id: a.case_id.to_string(),
            service: case.service.clone(),
            applicant_name: case.applicant_name.clone(),
            officer,
            outcome: a.outcome.clone(),
            sealed_at: a.created_at,
            sealed_local: schedule::show(a.created_at, zone),
            manifest_sha256: a.manifest_sha256.clone(),
            size: a.size,
        });
    }
    Ok(Json(rows))
}

#[derive(Serialize, ToSchema)]
struct Timeline {
    #[schema(format = Uuid)]
    artefact_id: String,
    applicant_zone: String,
    events: Vec<TimelineEvent>,
    certificates: Vec<CertificateView>,
    log: Option<LogPosition>,
    manifest_sha256: String,
}

#[derive(Serialize, ToSchema)]
struct TimelineEvent {
    seq: u64,
    kind: String,
    utc: DateTime<Utc>,
    beijing: ShownTime,
    applicant: Option<ShownTime>,
    /// The event's own fields, as sealed.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
#[schema(as = TimelineCertificate)]
struct CertificateView {
    subject: String,
    issuer: String,
    serial: String,
    not_before: String,
    not_after: String,
    /// Whose signature carries this certificate: `officer` or `hub`.
    role: &'static str,
    /// The hub's signing time (`sigT`), on the hub's certificates.
    signed_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct LogPosition {
    origin: String,
    leaf_index: u64,
    tree_size: u64,
}

/// One artefact's timeline from its sealed bundle; the view is recorded in the access log.
#[utoipa::path(
    get, path = "/api/artefacts/{id}/timeline", tag = "audit", security(("staff" = [])),
    params(("id" = uuid::Uuid, Path, description = "artefact id")),
    responses(
        (status = 200, description = "every event in UTC, Beijing and the applicant's time; signatures' certificates; log position", body = Timeline),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn timeline(
    State(state): State<AppState>,
    Staff(user): Staff,
    Path(id): Path<String>,
) -> Result<Json<Timeline>, ApiError> {
    let (artefact, stored) = stored_artefact(&state, &user, &id).await?;
    record(&state, user.id, "timeline", &artefact.to_string()).await?;
    let timeline = tokio::task::spawn_blocking(move || read_timeline(&stored))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "reading the bundle crashed",
            )
        })?
        .map_err(|reason| {
            tracing::error!(%artefact, "bundle unreadable: {reason}");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the bundle cannot be read: {reason}"),
            )
        })?;
    Ok(Json(Timeline {
        artefact_id: artefact.to_string(),
        ..timeline
    }))
}

/// The timeline of a sealed artefact, from its own small files (the recordings are not read).
fn read_timeline(stored: &StoredArtefact) -> Result<Timeline, String> {
    let entry = |name: &str| stored.small_entry(name).map_err(|e| e.to_string());
    let manifest_bytes = entry(MANIFEST_JSON)?;
    let manifest: Manifest =
        serde_json::from_slice(&manifest_bytes).map_err(|e| format!("manifest: {e}"))?;
    let events = entry(EVENTS_JSONL)?;
    let jws = String::from_utf8(entry(MANIFEST_JWS)?).map_err(|e| e.to_string())?;
    let log: Option<LogInclusion> = entry(LOG_JSON)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let applicant_zone = manifest
        .participants
        .iter()
        .find(|p| p.role == "applicant")
        .map(|p| p.tz.clone())
        .unwrap_or_default();
    let applicant_tz: Option<Tz> = applicant_zone.parse().ok();
    let mut timeline = Vec::new();
    for line in events.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let mut event: serde_json::Value =
            serde_json::from_slice(line).map_err(|e| format!("events.jsonl: {e}"))?;
        let at: DateTime<Utc> = event["at"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .ok_or("events.jsonl: an event without a time")?;
        let seq = event["seq"].as_u64().unwrap_or_default();
        let kind = event["kind"].as_str().unwrap_or_default().to_owned();
        if let Some(fields) = event.as_object_mut() {
            for key in ["at", "seq", "kind", "session", "prev_hash"] {
                fields.remove(key);
            }
        }
        timeline.push(TimelineEvent {
            seq,
            kind,
            utc: at,
            beijing: schedule::show(at, OFFICE_TZ),
            applicant: applicant_tz.map(|z| schedule::show(at, z)),
            detail: event,
        });
    }
    Ok(Timeline {
        artefact_id: manifest.artefact_id.to_string(),
        applicant_zone,
        events: timeline,
        certificates: certificates(&jws),
        log: log.map(|l| LogPosition {
            origin: l.origin,
            leaf_index: l.leaf_index,
            tree_size: l.tree_size,
        }),
        manifest_sha256: crate::evidence::sha256_hex(&manifest_bytes),
    })
}

/// The `x5c` certificates of every signature on the manifest (the officer's, then the hub's),
/// as an auditor reads them; empty if unreadable (the verification report says why).
fn certificates(jws: &str) -> Vec<CertificateView> {
    use crate::seal::jws::JwsJson;
    let headers: Vec<(&'static str, String)> = match JwsJson::parse(jws.as_bytes()) {
        Ok(parsed) => {
            let officer = parsed.officer().map(|s| ("officer", s.protected.clone()));
            let hub = parsed.hub().map(|s| ("hub", s.protected.clone()));
            officer.into_iter().chain(hub).collect()
        }
        // A bundle from before officer signatures: one compact hub signature.
        Err(_) => jws
            .split('.')
            .next()
            .map(|h| ("hub", h.to_owned()))
            .into_iter()
            .collect(),
    };
    let mut out = Vec::new();
    for (role, protected) in headers {
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(protected)
            .ok()
            .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok());
        let signed_at = header
            .as_ref()
            .and_then(|h| h["sigT"].as_str())
            .map(str::to_owned);
        let Some(chain) = header.as_ref().and_then(|h| h["x5c"].as_array()) else {
            continue;
        };
        out.extend(
            chain
                .iter()
                .filter_map(|c| {
                    base64::engine::general_purpose::STANDARD
                        .decode(c.as_str()?)
                        .ok()
                })
                .filter_map(|der| {
                    use x509_parser::prelude::FromDer as _;
                    let (_, cert) =
                        x509_parser::certificate::X509Certificate::from_der(&der).ok()?;
                    Some(CertificateView {
                        role,
                        signed_at: signed_at.clone(),
                        subject: cert.subject().to_string(),
                        issuer: cert.issuer().to_string(),
                        serial: cert.raw_serial_as_string(),
                        not_before: cert.validity().not_before.to_string(),
                        not_after: cert.validity().not_after.to_string(),
                    })
                }),
        );
    }
    out
}

#[derive(Serialize, ToSchema)]
struct AccessView {
    at: DateTime<Utc>,
    user: String,
    action: String,
    target: String,
}

/// The newest 500 views of artefacts.
#[utoipa::path(
    get, path = "/api/access-log", tag = "audit", security(("staff" = [])),
    responses(
        (status = 200, description = "who looked at what, newest first", body = [AccessView]),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: auditors only", body = ErrorBody),
    ),
)]
async fn access_log(
    State(state): State<AppState>,
    Staff(user): Staff,
) -> Result<Json<Vec<AccessView>>, ApiError> {
    if user.role != Role::Auditor {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only auditors read the access log",
        ));
    }
    let mut names: HashMap<UserId, String> = HashMap::new();
    let mut out = Vec::new();
    for a in state.store.access_log(ACCESS_LOG_LIMIT).await? {
        let user = user_name(&state, &mut names, a.user_id, false).await?;
        out.push(AccessView {
            at: a.at,
            user,
            action: a.action,
            target: a.target,
        });
    }
    Ok(Json(out))
}

/// `id`'s display name (or username), looked up once per request.
async fn user_name(
    state: &AppState,
    cache: &mut HashMap<UserId, String>,
    id: UserId,
    display: bool,
) -> Result<String, ApiError> {
    if let Some(name) = cache.get(&id) {
        return Ok(name.clone());
    }
    let name = state
        .store
        .user(id)
        .await?
        .map(|u| if display { u.display_name } else { u.username })
        .unwrap_or_default();
    cache.insert(id, name.clone());
    Ok(name)
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/artefacts", get(list))
        .route("/api/artefacts/{id}/timeline", get(timeline))
        .route("/api/access-log", get(access_log))
}
