//! Officers' profiles over HTTP: skills, languages, schedule and the on-duty status computed
//! from the rota, holidays, leave and the officer's manual override.

use super::{ApiError, Body, ErrorBody, Officer, Staff};
use crate::officers::OfficerProfile;
use crate::schedule::{self, DutyOverride, DutyStatus};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
struct OfficerView {
    #[schema(format = Uuid)]
    id: String,
    name: String,
    skills: Vec<String>,
    languages: Vec<String>,
    max_sessions: u32,
    override_status: Option<DutyOverride>,
    duty: DutyStatus,
}

/// Officers with their duty status from the rota, holidays, leave and the override.
#[utoipa::path(
    get, path = "/api/officers", operation_id = "list_officers", tag = "officers", security(("staff" = [])),
    responses(
        (status = 200, description = "every officer", body = [OfficerView]),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    Staff(_): Staff,
) -> Result<Json<Vec<OfficerView>>, ApiError> {
    let now = state.clock.now();
    let mut out = Vec::new();
    for (id, profile) in crate::officers::all(state.store.as_ref()).await? {
        let name = state
            .store
            .user(id)
            .await?
            .map(|u| u.display_name)
            .unwrap_or_default();
        out.push(OfficerView {
            id: id.to_string(),
            name,
            duty: schedule::on_duty(&profile.schedule, &state.calendar, now),
            skills: profile.skills,
            languages: profile.languages,
            max_sessions: profile.schedule.max_sessions,
            override_status: profile.schedule.override_status,
        });
    }
    Ok(Json(out))
}

#[derive(Deserialize, Serialize, ToSchema)]
struct OverrideBody {
    /// `on_duty`, `off_duty`, or null to follow the rota.
    status: Option<DutyOverride>,
}

#[derive(Serialize, ToSchema)]
struct OverrideView {
    override_status: Option<DutyOverride>,
    duty: DutyStatus,
}

/// A manual switch that wins over the rota for live status.
#[utoipa::path(
    put, path = "/api/officers/me/override", tag = "officers", security(("staff" = [])),
    request_body = OverrideBody,
    responses(
        (status = 200, description = "the override and the resulting status", body = OverrideView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: officers only", body = ErrorBody),
        (status = 404, description = "`not_found`: no profile", body = ErrorBody),
    ),
)]
async fn set_override(
    State(state): State<AppState>,
    Officer(officer): Officer,
    Body(body): Body<OverrideBody>,
) -> Result<Json<OverrideView>, ApiError> {
    let json = state
        .store
        .officer_profile(officer.id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "you have no profile"))?;
    let mut profile: OfficerProfile = serde_json::from_str(&json).map_err(|_| {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "your profile is unreadable",
        )
    })?;
    profile.schedule.override_status = body.status;
    crate::officers::save(
        state.store.as_ref(),
        state.clock.as_ref(),
        officer.id,
        &profile,
    )
    .await?;
    let duty = schedule::on_duty(&profile.schedule, &state.calendar, state.clock.now());
    Ok(Json(OverrideView {
        override_status: body.status,
        duty,
    }))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/officers", get(list))
        .route("/api/officers/me/override", put(set_override))
}
