//! Booking across time zones, over HTTP. Applicants authenticate with their invite token in
//! an `Authorization: Invite <token>` header (never in a URL) and reach only their own case:
//! their zone, acceptable hours and language, the slots open to them, their bookings (book,
//! cancel, reschedule) and each booking's `.ics` invitation. Officers and auditors list the
//! bookings of a period for the console.

use super::{ApiError, Body, ErrorBody, Params, Staff};
use crate::auth::token_hash;
use crate::ids::BookingId;
use crate::schedule::{self, ApplicantWindow, ShownTime, SlotQuery, SlotTable};
use crate::state::AppState;
use crate::store::{BookingRecord, BookingStatus, CaseRecord, StoreError};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Slots start at least this long from now.
const LEAD_TIME: Duration = Duration::hours(1);
/// Slot starts are this far apart within a shift.
const STEP: Duration = Duration::minutes(30);

/// The applicant of one case, by invite token.
pub struct Applicant(pub CaseRecord);

impl FromRequestParts<AppState> for Applicant {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Invite "))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "send your invite token",
                )
            })?;
        let case = state
            .store
            .case_by_invite(&token_hash(token.trim()))
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "unknown invite",
                )
            })?;
        if case.invite_expires_at <= state.clock.now() {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "expired",
                "this invite link has expired; ask the office for a new one",
            ));
        }
        Ok(Applicant(case))
    }
}

fn zone(case: &CaseRecord) -> Tz {
    case.applicant_tz.parse().unwrap_or(chrono_tz::UTC)
}

fn hhmm(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M").ok()
}

fn window(case: &CaseRecord) -> ApplicantWindow {
    let mut w = ApplicantWindow::new(zone(case));
    if let (Some(e), Some(l)) = (hhmm(&case.applicant_earliest), hhmm(&case.applicant_latest)) {
        w.earliest = e;
        w.latest = l;
    }
    w
}

/// A slot or booking: its instants and how both sides read its start.
#[derive(Serialize, ToSchema)]
struct TimePair {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    applicant: ShownTime,
    office: ShownTime,
}

fn pair(start: DateTime<Utc>, end: DateTime<Utc>, case: &CaseRecord) -> TimePair {
    TimePair {
        start,
        end,
        applicant: schedule::show(start, zone(case)),
        office: schedule::show(start, chrono_tz::Asia::Shanghai),
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = Booking)]
struct BookingView {
    #[serde(flatten)]
    booking: BookingRecord,
    time: TimePair,
}

fn view(b: BookingRecord, case: &CaseRecord) -> BookingView {
    let time = pair(b.starts_at, b.ends_at, case);
    BookingView { booking: b, time }
}

/// A slot search for one case: officers with the service's skill, their bookings and the
/// applicant's hours, loaded from the store.
struct CaseSearch {
    officers: Vec<(String, schedule::OfficerSchedule)>,
    busy: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
    applicant: ApplicantWindow,
    duration: Duration,
    from: DateTime<Utc>,
    days: u32,
}

impl CaseSearch {
    async fn load(
        state: &AppState,
        case: &CaseRecord,
        from: DateTime<Utc>,
        days: u32,
    ) -> Result<Self, ApiError> {
        let service = state
            .catalogue
            .service(&case.service)
            .ok_or_else(|| ApiError::invalid("this case's service is no longer offered"))?;
        let officers = crate::officers::all(state.store.as_ref())
            .await?
            .into_iter()
            .filter(|(_, p)| p.skills.contains(&service.skill))
            .map(|(id, p)| (id.to_string(), p.schedule))
            .collect();
        let busy = state
            .store
            .bookings_between(from, from + Duration::days(i64::from(days) + 1))
            .await?
            .into_iter()
            .map(|b| (b.officer_id.to_string(), b.starts_at, b.ends_at))
            .collect();
        Ok(Self {
            officers,
            busy,
            applicant: window(case),
            duration: Duration::minutes(i64::from(service.typical_minutes)),
            from,
            days,
        })
    }

    fn run<'a>(&'a self, calendar: &'a schedule::Calendar) -> Result<SlotTable<'a>, ApiError> {
        schedule::search_slots(&SlotQuery {
            officers: &self.officers,
            calendar,
            applicant: &self.applicant,
            duration: self.duration,
            step: STEP,
            from: self.from,
            days: self.days,
            busy: &self.busy,
        })
        .map_err(|e| ApiError::invalid(e.to_string()))
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SlotParams {
    /// Days to search, 1 to the search limit; 14 by default.
    days: Option<u32>,
}

/// Open slots for the applicant's case.
#[derive(Serialize, ToSchema)]
struct Slots {
    applicant_zone: String,
    /// Always `Asia/Shanghai`.
    office_zone: &'static str,
    /// The applicant's acceptable local hours, `HH:MM`.
    earliest: String,
    latest: String,
    slots: Vec<TimePair>,
}

/// Slots at least an hour ahead where an officer with the service's skill is on shift and the
/// whole slot falls in the applicant's hours in their zone.
#[utoipa::path(
    get, path = "/api/applicant/slots", tag = "applicant", security(("invite" = [])),
    params(SlotParams),
    responses(
        (status = 200, description = "the open slots", body = Slots),
        (status = 401, description = "`unauthenticated`, `expired`", body = ErrorBody),
    ),
)]
async fn slots(
    State(state): State<AppState>,
    Applicant(case): Applicant,
    Params(p): Params<SlotParams>,
) -> Result<Json<Slots>, ApiError> {
    let days = p.days.unwrap_or(14).clamp(1, schedule::MAX_SEARCH_DAYS);
    let search = CaseSearch::load(&state, &case, state.clock.now() + LEAD_TIME, days).await?;
    let shown: Vec<TimePair> = search
        .run(&state.calendar)?
        .times()
        .map(|(start, end)| pair(start, end, &case))
        .collect();
    Ok(Json(Slots {
        applicant_zone: case.applicant_tz,
        office_zone: "Asia/Shanghai",
        earliest: case.applicant_earliest,
        latest: case.applicant_latest,
        slots: shown,
    }))
}

#[derive(Deserialize, ToSchema)]
struct BookBody {
    /// A slot's `start`.
    start: DateTime<Utc>,
}

/// Book the first officer free at `start`, replacing `replacing` in the same transaction.
async fn book_at(
    state: &AppState,
    case: &CaseRecord,
    start: DateTime<Utc>,
    replacing: Option<BookingId>,
) -> Result<BookingRecord, ApiError> {
    if start <= state.clock.now() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "in_past",
            "that time has already passed",
        ));
    }
    // The listing's rule, asked about this one start: a search of one day from it offers the
    // same slot there, as slot starts are counted from shift starts, not from the search.
    let now = state.clock.now();
    let horizon = now + LEAD_TIME + Duration::days(i64::from(schedule::MAX_SEARCH_DAYS));
    let search = CaseSearch::load(state, case, start, 1).await?;
    let table = search.run(&state.calendar)?;
    let candidates: Vec<(&str, DateTime<Utc>)> = if start < now + LEAD_TIME || start > horizon {
        Vec::new()
    } else {
        let end = table.times().find(|&(s, _)| s == start).map(|(_, e)| e);
        end.map(|end| {
            table
                .officers_at(start)
                .iter()
                .map(|id| (*id, end))
                .collect()
        })
        .unwrap_or_default()
    };
    let profiles = crate::officers::all(state.store.as_ref()).await?;
    if candidates.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "slot_unavailable",
            "that time is not open any more; pick another slot",
        ));
    }
    for (officer, end) in candidates {
        let Ok(officer) = officer.parse() else {
            continue;
        };
        let max = profiles
            .iter()
            .find(|(id, _)| *id == officer)
            .map(|(_, p)| p.schedule.max_sessions)
            .unwrap_or(1);
        let booking = BookingRecord {
            id: BookingId::random(),
            case_id: case.id,
            officer_id: officer,
            starts_at: start,
            ends_at: end,
            status: BookingStatus::Booked,
            created_at: state.clock.now(),
        };
        match state.store.book(&booking, max, replacing).await {
            Ok(()) => return Ok(booking),
            Err(StoreError::Conflict(reason)) if reason.contains("case") => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "already_booked",
                    reason,
                ));
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "slot_unavailable",
        "someone booked that time a moment ago; pick another slot",
    ))
}

/// Book a slot: the first officer free at `start`.
#[utoipa::path(
    post, path = "/api/applicant/bookings", tag = "applicant", security(("invite" = [])),
    request_body = BookBody,
    responses(
        (status = 201, description = "booked", body = BookingView),
        (status = 400, description = "`in_past`, `invalid`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `expired`", body = ErrorBody),
        (status = 409, description = "`slot_unavailable`, `already_booked` (one live booking per case)", body = ErrorBody),
    ),
)]
async fn book(
    State(state): State<AppState>,
    Applicant(case): Applicant,
    Body(body): Body<BookBody>,
) -> Result<(StatusCode, Json<BookingView>), ApiError> {
    let booking = book_at(&state, &case, body.start, None).await?;
    state.desk.send(crate::pairing::DeskCmd::BookingsChanged);
    Ok((StatusCode::CREATED, Json(view(booking, &case))))
}

async fn own_booking(
    state: &AppState,
    case: &CaseRecord,
    id: &str,
) -> Result<BookingRecord, ApiError> {
    let id: BookingId = id
        .parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such booking"))?;
    state
        .store
        .booking(id)
        .await?
        .filter(|b| b.case_id == case.id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such booking"))
}

/// Move a booking: the new one is made and the old one cancelled in one transaction.
#[utoipa::path(
    post, path = "/api/applicant/bookings/{id}/reschedule", tag = "applicant",
    security(("invite" = [])),
    params(("id" = uuid::Uuid, Path, description = "booking id")),
    request_body = BookBody,
    responses(
        (status = 201, description = "the new booking", body = BookingView),
        (status = 400, description = "`in_past`, `invalid`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `expired`", body = ErrorBody),
        (status = 404, description = "`not_found`: not a booking of this case", body = ErrorBody),
        (status = 409, description = "`cancelled`, `slot_unavailable`, `already_booked`", body = ErrorBody),
    ),
)]
async fn reschedule(
    State(state): State<AppState>,
    Applicant(case): Applicant,
    Path(id): Path<String>,
    Body(body): Body<BookBody>,
) -> Result<(StatusCode, Json<BookingView>), ApiError> {
    let old = own_booking(&state, &case, &id).await?;
    if old.status != BookingStatus::Booked {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "cancelled",
            "that booking was cancelled",
        ));
    }
    let booking = book_at(&state, &case, body.start, Some(old.id)).await?;
    state.desk.send(crate::pairing::DeskCmd::BookingsChanged);
    Ok((StatusCode::CREATED, Json(view(booking, &case))))
}

#[utoipa::path(
    delete, path = "/api/applicant/bookings/{id}", tag = "applicant", security(("invite" = [])),
    params(("id" = uuid::Uuid, Path, description = "booking id")),
    responses(
        (status = 204, description = "cancelled"),
        (status = 401, description = "`unauthenticated`, `expired`", body = ErrorBody),
        (status = 404, description = "`not_found`: not a booking of this case", body = ErrorBody),
        (status = 409, description = "`cancelled`: it already was", body = ErrorBody),
    ),
)]
async fn cancel(
    State(state): State<AppState>,
    Applicant(case): Applicant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let b = own_booking(&state, &case, &id).await?;
    if state.store.cancel_booking(b.id).await? {
        state.desk.send(crate::pairing::DeskCmd::BookingsChanged);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "cancelled",
            "that booking was already cancelled",
        ))
    }
}

/// The booking as an RFC 5545 invitation in the applicant's zone (`TZID`).
#[utoipa::path(
    get, path = "/api/applicant/bookings/{id}/invite.ics", tag = "applicant",
    security(("invite" = [])),
    params(("id" = uuid::Uuid, Path, description = "booking id")),
    responses(
        (status = 200, description = "the invitation", content_type = "text/calendar; charset=utf-8", body = String),
        (status = 401, description = "`unauthenticated`, `expired`", body = ErrorBody),
        (status = 404, description = "`not_found`: not a booking of this case", body = ErrorBody),
    ),
)]
async fn invite_ics(
    State(state): State<AppState>,
    Applicant(case): Applicant,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let b = own_booking(&state, &case, &id).await?;
    let office = schedule::show(b.starts_at, chrono_tz::Asia::Shanghai);
    let name = state
        .catalogue
        .service(&case.service)
        .and_then(|s| {
            s.name
                .get(&case.applicant_lang)
                .or_else(|| s.name.get("en"))
                .cloned()
        })
        .unwrap_or_else(|| case.service.clone());
    let description = format!(
        "Video appointment with the office. Beijing time: {} ({}). Open your invite link a few \
         minutes before.",
        office.local, office.utc_offset
    );
    let url = format!("{}/join", state.settings.public_url);
    let text = crate::ics::render(&crate::ics::Invite {
        uid: format!("{}@globallink", b.id),
        start: b.starts_at,
        end: b.ends_at,
        zone: zone(&case),
        summary: &format!("globallink: {name}"),
        description: &description,
        url: &url,
        stamp: b.created_at,
    });
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"globallink-appointment.ics\""),
            ),
        ],
        text,
    )
        .into_response())
}

/// The applicant's case and every booking of it, cancelled and past ones included.
#[derive(Serialize, ToSchema)]
struct ApplicantCase {
    case: CaseRecord,
    bookings: Vec<BookingView>,
}

#[utoipa::path(
    get, path = "/api/applicant/case", tag = "applicant", security(("invite" = [])),
    responses(
        (status = 200, description = "the case of this invite", body = ApplicantCase),
        (status = 401, description = "`unauthenticated`, `expired`", body = ErrorBody),
    ),
)]
async fn my_case(
    State(state): State<AppState>,
    Applicant(case): Applicant,
) -> Result<Json<ApplicantCase>, ApiError> {
    let bookings: Vec<BookingView> = state
        .store
        .bookings_for_case(case.id)
        .await?
        .into_iter()
        .map(|b| view(b, &case))
        .collect();
    Ok(Json(ApplicantCase { case, bookings }))
}

#[derive(Deserialize, Serialize, ToSchema)]
struct Preferences {
    /// IANA time zone.
    tz: String,
    /// Acceptable local hours, `HH:MM`, earliest before latest.
    earliest: String,
    latest: String,
    /// `zh-Hans`, `en`, `pt`, `it` or `es`.
    lang: String,
}

/// The applicant's zone, acceptable hours and language.
#[utoipa::path(
    put, path = "/api/applicant/preferences", tag = "applicant", security(("invite" = [])),
    request_body = Preferences,
    responses(
        (status = 200, description = "saved, as stored", body = Preferences),
        (status = 400, description = "`invalid`: unknown zone or language, bad hours", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `expired`", body = ErrorBody),
    ),
)]
async fn preferences(
    State(state): State<AppState>,
    Applicant(case): Applicant,
    Body(p): Body<Preferences>,
) -> Result<Json<Preferences>, ApiError> {
    if p.tz.parse::<Tz>().is_err() {
        return Err(ApiError::invalid(format!(
            "{:?} is not an IANA time zone",
            p.tz
        )));
    }
    let (Some(e), Some(l)) = (hhmm(&p.earliest), hhmm(&p.latest)) else {
        return Err(ApiError::invalid(
            "earliest and latest must look like 08:00",
        ));
    };
    if e >= l {
        return Err(ApiError::invalid("earliest must be before latest"));
    }
    if !crate::consent::LANGUAGES.contains(&p.lang.as_str()) {
        return Err(ApiError::invalid(format!(
            "lang must be one of {:?}",
            crate::consent::LANGUAGES
        )));
    }
    state
        .store
        .set_applicant_preferences(case.id, &p.tz, &p.earliest, &p.latest, &p.lang)
        .await?;
    Ok(Json(p))
}

#[derive(Serialize, ToSchema)]
struct DeskStatus {
    open: bool,
    /// When the desk opens next, if it is closed and opens within 30 days.
    next_opening: Option<Opening>,
}

#[derive(Serialize, ToSchema)]
struct Opening {
    utc: DateTime<Utc>,
    applicant: ShownTime,
    office: ShownTime,
}

/// Whether the desk is open, and if not when it opens, in the applicant's and Beijing time.
#[utoipa::path(
    get, path = "/api/applicant/desk", tag = "applicant", security(("invite" = [])),
    responses(
        (status = 200, description = "the desk's status", body = DeskStatus),
        (status = 401, description = "`unauthenticated`, `expired`", body = ErrorBody),
    ),
)]
async fn desk_status(
    State(state): State<AppState>,
    Applicant(case): Applicant,
) -> Result<Json<DeskStatus>, ApiError> {
    let now = state.clock.now();
    let skill = state
        .catalogue
        .service(&case.service)
        .map(|s| s.skill.clone());
    let schedules: Vec<schedule::OfficerSchedule> = crate::officers::all(state.store.as_ref())
        .await?
        .into_iter()
        .filter(|(_, p)| skill.as_ref().is_none_or(|s| p.skills.contains(s)))
        .map(|(_, p)| p.schedule)
        .collect();
    let next = schedule::next_opening(&schedules, &state.calendar, now);
    let open = next.is_some_and(|t| t <= now);
    Ok(Json(DeskStatus {
        open,
        next_opening: next.filter(|_| !open).map(|t| Opening {
            utc: t,
            applicant: schedule::show(t, zone(&case)),
            office: schedule::show(t, chrono_tz::Asia::Shanghai),
        }),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Period {
    /// Start of the period; 12 hours ago by default.
    from: Option<DateTime<Utc>>,
    /// Length in days, 1 to 60; 2 by default.
    days: Option<u32>,
}

/// A live booking as the console lists it.
#[derive(Serialize, ToSchema)]
struct BookingRow {
    id: BookingId,
    case_id: crate::ids::CaseId,
    applicant_name: String,
    service: String,
    /// The applicant's IANA zone.
    tz: String,
    time: TimePair,
}

/// Bookings of a period, for the console: applicant name, zone and both local times.
#[utoipa::path(
    get, path = "/api/bookings", operation_id = "list_bookings", tag = "officers", security(("staff" = [])),
    params(Period),
    responses(
        (status = 200, description = "live bookings of the period", body = [BookingRow]),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    Staff(user): Staff,
    Params(p): Params<Period>,
) -> Result<Json<Vec<BookingRow>>, ApiError> {
    let scope = crate::officers::Scope::of(state.store.as_ref(), &state.catalogue, &user).await?;
    let from = p
        .from
        .unwrap_or_else(|| state.clock.now() - Duration::hours(12));
    let to = from + Duration::days(i64::from(p.days.unwrap_or(2).clamp(1, 60)));
    let mut rows = Vec::new();
    for b in state.store.bookings_between(from, to).await? {
        let Some(case) = state
            .store
            .case(b.case_id)
            .await?
            .filter(|c| scope.allows(&c.service))
        else {
            continue;
        };
        let time = pair(b.starts_at, b.ends_at, &case);
        rows.push(BookingRow {
            id: b.id,
            case_id: case.id,
            applicant_name: case.applicant_name,
            service: case.service,
            tz: case.applicant_tz,
            time,
        });
    }
    Ok(Json(rows))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/applicant/case", get(my_case))
        .route(
            "/api/applicant/preferences",
            axum::routing::put(preferences),
        )
        .route("/api/applicant/slots", get(slots))
        .route("/api/applicant/desk", get(desk_status))
        .route("/api/applicant/bookings", post(book))
        .route(
            "/api/applicant/bookings/{id}",
            axum::routing::delete(cancel),
        )
        .route("/api/applicant/bookings/{id}/reschedule", post(reschedule))
        .route("/api/applicant/bookings/{id}/invite.ics", get(invite_ics))
        .route("/api/bookings", get(list))
}
