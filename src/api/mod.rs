//! HTTP: `fn app(state) -> Router`, the JSON error type, role extractors and the handlers for
//! login, cases, artefacts and the signalling upgrade. Every route checks the caller's role
//! here, at the edge; auditors only ever reach read-only handlers.

mod audit;
mod booking;
pub mod guard;
mod log;
mod officers;
pub mod openapi;
mod signing;

use crate::auth::{hash_password, random_token, token_hash, verify_password};
use crate::consent::LANGUAGES;
use crate::ids::{ArtefactId, CaseId, SessionId};
use crate::seal::bundle::{BundleZip, StoredArtefact};
use crate::signal::gateway::{self, Frame};
use crate::signal::protocol::MAX_FRAME_BYTES;
use crate::state::AppState;
use crate::store::{CaseRecord, Role, StoreError, UserRecord};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::{IntoParams, ToSchema};

pub const SESSION_COOKIE: &str = "gl_session";

/// An error as every client sees it: `{"code","message"}` with a matching status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first")
    }
    fn forbidden(what: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("your role may not {what}"),
        )
    }
    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!("database unavailable: {e}");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database cannot be reached right now; nothing was changed, please try again shortly",
            );
        }
        let id = uuid::Uuid::new_v4();
        tracing::error!(error_id = %id, "store error: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("internal error {id}"),
        )
    }
}

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody<'a> {
    /// Stable and machine-readable: `unauthenticated`, `forbidden`, `not_found`, `invalid`, …
    code: &'a str,
    /// For people; never parsed.
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// A JSON request body. Unlike `axum::Json`, a body that is not JSON, has the wrong shape, has
/// the wrong content type or is too large is refused as every other error is: `{code, message}`
/// with the status axum chose (400, 413, 415 or 422) and the code `malformed`.
pub struct Body<T>(pub T);

/// A query string, refused like [`Body`].
pub struct Params<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(e) => Err(ApiError::new(e.status(), "malformed", e.body_text())),
        }
    }
}

impl<S, T> FromRequestParts<S> for Params<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(e) => Err(ApiError::new(e.status(), "malformed", e.body_text())),
        }
    }
}

/// Any signed-in officer or auditor.
pub struct Staff(pub UserRecord);
/// A signed-in officer.
pub struct Officer(pub UserRecord);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(SESSION_COOKIE)
            .ok_or_else(ApiError::unauthenticated)?;
        let user = state
            .store
            .login(&token_hash(token.value()), state.clock.now())
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        Ok(Staff(user))
    }
}

impl FromRequestParts<AppState> for Officer {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Staff(user) = Staff::from_request_parts(parts, state).await?;
        if user.role != Role::Officer {
            return Err(ApiError::forbidden("do this; officers only"));
        }
        Ok(Officer(user))
    }
}

/// The signed-in officer or auditor.
#[derive(Serialize, ToSchema)]
struct Me {
    #[schema(format = Uuid)]
    id: String,
    username: String,
    name: String,
    role: Role,
}

impl From<&UserRecord> for Me {
    fn from(u: &UserRecord) -> Self {
        Me {
            id: u.id.to_string(),
            username: u.username.clone(),
            name: u.display_name.clone(),
            role: u.role,
        }
    }
}

#[derive(Deserialize, ToSchema)]
struct LoginBody {
    username: String,
    password: String,
}

/// Verifying against this hash when the user does not exist keeps response times alike.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sign in: sets the `gl_session` cookie (HttpOnly, SameSite=Strict).
#[utoipa::path(
    post, path = "/api/login", tag = "session",
    request_body = LoginBody,
    responses(
        (status = 200, description = "signed in; the session cookie is set", body = Me,
            headers(("set-cookie" = String, description = "`gl_session=…`"))),
        (status = 400, description = "`invalid`: username or password too long", body = ErrorBody),
        (status = 401, description = "`bad_credentials`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: per account and per address", body = ErrorBody),
    ),
)]
async fn login(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    jar: CookieJar,
    Body(body): Body<LoginBody>,
) -> Result<(CookieJar, Json<Me>), ApiError> {
    if body.username.len() > 128 || body.password.len() > 1024 {
        return Err(ApiError::invalid("username or password too long"));
    }
    state
        .login_limits
        .check(&body.username, guard::client_ip(&extensions))?;
    let user = state.store.user_by_name(&body.username).await?;
    let phc = match &user {
        Some(u) => u.password_hash.clone(),
        None => DUMMY_HASH
            .get_or_init(|| hash_password("dummy").unwrap_or_default())
            .clone(),
    };
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false);
    let user = match user {
        Some(u) if ok => u,
        _ => {
            tracing::info!("failed login");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "wrong username or password",
            ));
        }
    };
    let token = random_token();
    let ttl = Duration::hours(i64::from(state.settings.config.login_ttl_hours));
    state
        .store
        .create_login(&token_hash(&token), user.id, state.clock.now() + ttl)
        .await?;
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(state.settings.public_url.starts_with("https://"))
        .build();
    Ok((jar.add(cookie), Json(Me::from(&user))))
}

/// Sign out: the login is deleted and the cookie cleared (also without one).
#[utoipa::path(
    post, path = "/api/logout", tag = "session",
    responses((status = 204, description = "signed out; the cookie is cleared")),
)]
async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
) -> Result<(CookieJar, StatusCode), ApiError> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        state.store.delete_login(&token_hash(c.value())).await?;
    }
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        StatusCode::NO_CONTENT,
    ))
}

#[utoipa::path(
    get, path = "/api/me", tag = "session", security(("staff" = [])),
    responses(
        (status = 200, description = "who is signed in", body = Me),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    ),
)]
async fn me(Staff(user): Staff) -> Json<Me> {
    Json(Me::from(&user))
}

#[derive(Serialize, ToSchema)]
struct Ticket {
    /// Single use, valid 60 s: sent as the first signalling frame on `/ws`.
    ticket: String,
}

/// A ticket that authenticates an officer's signalling socket (`docs/protocol.md`).
#[utoipa::path(
    post, path = "/api/ws-ticket", tag = "session", security(("staff" = [])),
    responses(
        (status = 200, description = "a fresh ticket", body = Ticket),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: officers only", body = ErrorBody),
    ),
)]
async fn ws_ticket(State(state): State<AppState>, Officer(user): Officer) -> Json<Ticket> {
    let ticket = state.tickets.issue(user, state.clock.now());
    Json(Ticket { ticket })
}

/// A service of the catalogue as clients see it.
#[derive(Serialize, ToSchema)]
struct ServiceView {
    code: String,
    /// Name per applicant language (`zh-Hans`, `en`, `pt`, `it`, `es`).
    name: std::collections::BTreeMap<String, String>,
    languages: Vec<String>,
    typical_minutes: u32,
    checklist: crate::catalogue::Checklist,
}

/// The service catalogue.
#[utoipa::path(
    get, path = "/api/services", tag = "cases",
    responses((status = 200, description = "every service offered", body = [ServiceView])),
)]
async fn services(State(state): State<AppState>) -> Json<Vec<ServiceView>> {
    let list = state
        .catalogue
        .services()
        .iter()
        .map(|s| ServiceView {
            code: s.code.clone(),
            name: s.name.clone(),
            languages: s.languages.clone(),
            typical_minutes: s.typical_minutes,
            checklist: s.checklist.clone(),
        })
        .collect();
    Json(list)
}

#[derive(Deserialize, ToSchema)]
struct NewCase {
    /// A service code from `/api/services`.
    service: String,
    /// 1 to 200 characters.
    applicant_name: String,
    /// IANA time zone.
    applicant_tz: String,
    /// `zh-Hans`, `en`, `pt`, `it` or `es`.
    applicant_lang: String,
}

/// A new case and its applicant's invite.
#[derive(Serialize, ToSchema)]
struct CreatedCase {
    case: CaseRecord,
    /// `<public_url>/join#t=<token>`: the token travels in the fragment only.
    invite_url: String,
    invite_token: String,
    invite_expires_at: chrono::DateTime<chrono::Utc>,
}

/// Open a case and mint its applicant's invite (stored only as a hash).
#[utoipa::path(
    post, path = "/api/cases", tag = "cases", security(("staff" = [])),
    request_body = NewCase,
    responses(
        (status = 201, description = "created", body = CreatedCase),
        (status = 400, description = "`invalid`: unknown service, zone or language, bad name", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: officers only, of the service's office", body = ErrorBody),
    ),
)]
async fn create_case(
    State(state): State<AppState>,
    Officer(officer): Officer,
    Body(body): Body<NewCase>,
) -> Result<(StatusCode, Json<CreatedCase>), ApiError> {
    if state.catalogue.service(&body.service).is_none() {
        let codes: Vec<&str> = state
            .catalogue
            .services()
            .iter()
            .map(|s| s.code.as_str())
            .collect();
        return Err(ApiError::invalid(format!(
            "service must be one of {codes:?}"
        )));
    }
    let scope =
        crate::officers::Scope::of(state.store.as_ref(), &state.catalogue, &officer).await?;
    if !scope.allows(&body.service) {
        return Err(ApiError::forbidden(
            "open a case of this service; it belongs to another office",
        ));
    }
    let name = body.applicant_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "applicant_name must be 1 to 200 characters",
        ));
    }
    if body.applicant_tz.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::invalid(format!(
            "{:?} is not an IANA time zone",
            body.applicant_tz
        )));
    }
    if !LANGUAGES.contains(&body.applicant_lang.as_str()) {
        return Err(ApiError::invalid(format!(
            "applicant_lang must be one of {LANGUAGES:?}"
        )));
    }
    let now = state.clock.now();
    let token = random_token();
    let case = CaseRecord {
        id: CaseId::random(),
        service: body.service,
        applicant_name: name.to_owned(),
        applicant_tz: body.applicant_tz,
        applicant_lang: body.applicant_lang,
        applicant_earliest: "08:00".into(),
        applicant_latest: "21:00".into(),
        created_by: officer.id,
        created_at: now,
        invite_expires_at: now + Duration::hours(i64::from(state.settings.config.invite_ttl_hours)),
    };
    state.store.create_case(&case, &token_hash(&token)).await?;
    let invite_url = format!("{}/join#t={token}", state.settings.public_url);
    let invite_expires_at = case.invite_expires_at;
    Ok((
        StatusCode::CREATED,
        Json(CreatedCase {
            case,
            invite_url,
            invite_token: token,
            invite_expires_at,
        }),
    ))
}

/// Every case, newest first.
#[utoipa::path(
    get, path = "/api/cases", tag = "cases", security(("staff" = [])),
    responses(
        (status = 200, description = "the cases", body = [CaseRecord]),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    ),
)]
async fn list_cases(
    State(state): State<AppState>,
    Staff(user): Staff,
) -> Result<Json<Vec<CaseRecord>>, ApiError> {
    let scope = crate::officers::Scope::of(state.store.as_ref(), &state.catalogue, &user).await?;
    let mut cases = state.store.cases().await?;
    cases.retain(|case| scope.allows(&case.service));
    Ok(Json(cases))
}

fn parse_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::not_found(what))
}

/// One case with its sessions and artefacts.
#[derive(Serialize, ToSchema)]
struct CaseDetail {
    case: CaseRecord,
    sessions: Vec<crate::store::SessionRecord>,
    artefacts: Vec<crate::store::ArtefactRecord>,
}

#[utoipa::path(
    get, path = "/api/cases/{id}", tag = "cases", security(("staff" = [])),
    params(("id" = uuid::Uuid, Path, description = "case id")),
    responses(
        (status = 200, description = "the case", body = CaseDetail),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn show_case(
    State(state): State<AppState>,
    Staff(user): Staff,
    Path(id): Path<String>,
) -> Result<Json<CaseDetail>, ApiError> {
    let id: CaseId = parse_id(&id, "case")?;
    let case = visible_case(&state, &user, id).await?;
    let sessions = state.store.sessions_for_case(id).await?;
    let artefacts = state.store.artefacts_for_case(id).await?;
    Ok(Json(CaseDetail {
        case,
        sessions,
        artefacts,
    }))
}

/// The case `id` if `user` may see it (their offices' services): otherwise, as for an unknown
/// id, 404, so nobody learns what another office holds.
pub(crate) async fn visible_case(
    state: &AppState,
    user: &UserRecord,
    id: CaseId,
) -> Result<CaseRecord, ApiError> {
    let scope = crate::officers::Scope::of(state.store.as_ref(), &state.catalogue, user).await?;
    state
        .store
        .case(id)
        .await?
        .filter(|case| scope.allows(&case.service))
        .ok_or_else(|| ApiError::not_found("case"))
}

/// The stored artefact `id` names, if `user` may see its case.
pub(crate) async fn stored_artefact(
    state: &AppState,
    user: &UserRecord,
    id: &str,
) -> Result<(ArtefactId, StoredArtefact), ApiError> {
    let id: ArtefactId = parse_id(id, "artefact")?;
    let artefact = state
        .store
        .artefact(id)
        .await?
        .ok_or_else(|| ApiError::not_found("artefact"))?;
    visible_case(state, user, artefact.case_id)
        .await
        .map_err(|_| ApiError::not_found("artefact"))?;
    Ok((
        id,
        StoredArtefact::locate(&state.paths.artefacts, &artefact.file_name),
    ))
}

/// The answer when a stored artefact cannot be read: logged here, generic to the caller.
fn artefact_unreadable(id: ArtefactId, e: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(artefact = %id, "artefact unreadable: {e}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the artefact file is missing",
    )
}

/// The artefact's bundle zip, planned (its length known) off the async threads. Recordings
/// encrypted at rest are decrypted as it is written, while their key is kept.
async fn artefact_zip(
    state: &AppState,
    user: &UserRecord,
    id: &str,
) -> Result<(ArtefactId, BundleZip), ApiError> {
    let (id, stored) = stored_artefact(state, user, id).await?;
    let key = crate::seal::retention::recording_key(state.store.as_ref(), &state.vault, id)
        .await
        .map_err(|e| match e {
            crate::seal::retention::RetentionError::Store(e) => ApiError::from(e),
            other => artefact_unreadable(id, &other),
        })?;
    let zip = tokio::task::spawn_blocking(move || stored.zip_with_key(key.as_ref()))
        .await
        .map_err(|e| artefact_unreadable(id, &e))?
        .map_err(|e| artefact_unreadable(id, &e))?;
    Ok((id, zip))
}

/// The artefact's bundle zip in memory, for the verifier.
async fn artefact_bytes(
    state: &AppState,
    user: &UserRecord,
    id: &str,
) -> Result<(ArtefactId, Vec<u8>), ApiError> {
    let (id, zip) = artefact_zip(state, user, id).await?;
    let bytes = tokio::task::spawn_blocking(move || zip.to_vec())
        .await
        .map_err(|e| artefact_unreadable(id, &e))?
        .map_err(|e| artefact_unreadable(id, &e))?;
    Ok((id, bytes))
}

/// Bytes of a streamed response body handed over at a time.
const BODY_CHUNK: usize = 256 << 10;

/// An `io::Write` feeding a response body from a blocking thread, a chunk at a time, so a
/// bundle of any size is streamed without being held in memory. A receiver that went away
/// (the client disconnected) fails the next write.
struct BodyWriter {
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    buf: Vec<u8>,
    closed: bool,
}

impl BodyWriter {
    fn send(&mut self, chunk: bytes::Bytes) -> std::io::Result<()> {
        if self.tx.blocking_send(Ok(chunk)).is_err() {
            self.closed = true;
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        Ok(())
    }
}

impl std::io::Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.is_empty() && data.len() >= BODY_CHUNK {
            self.send(bytes::Bytes::copy_from_slice(data))?;
        } else {
            self.buf.extend_from_slice(data);
            if self.buf.len() >= BODY_CHUNK {
                self.flush()?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::take(&mut self.buf));
        self.send(chunk)
    }
}

/// The bundle's zip, streamed with its exact length as `Content-Length`.
#[utoipa::path(
    get, path = "/api/artefacts/{id}/bundle", tag = "artefacts", security(("staff" = [])),
    params(("id" = uuid::Uuid, Path, description = "artefact id")),
    responses(
        (status = 200, description = "the artefact bundle (`docs/bundle.md`); the download is recorded in the access log",
            content_type = "application/zip", body = Vec<u8>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn download_bundle(
    State(state): State<AppState>,
    Staff(user): Staff,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (id, zip) = artefact_zip(&state, &user, &id).await?;
    audit::record(&state, user.id, "download", &id.to_string()).await?;
    let len = zip.len();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut out = BodyWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(BODY_CHUNK),
            closed: false,
        };
        let written = match zip.write_to(&mut out) {
            Ok(_) => std::io::Write::flush(&mut out).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match written {
            Ok(()) => {}
            Err(_) if out.closed => tracing::debug!(artefact = %id, "download abandoned"),
            Err(e) => {
                tracing::error!(artefact = %id, "bundle download failed: {e}");
                // Ends the response early, so the client sees a failed download.
                let _ = tx.blocking_send(Err(std::io::Error::other("bundle unreadable")));
            }
        }
    });
    let body = axum::body::Body::from_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let disposition = format!("attachment; filename=\"globallink-{id}.zip\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(len)),
        ],
        body,
    )
        .into_response())
}

/// The checks of `globallink verify`, with the office's current CRL besides the bundle's.
#[utoipa::path(
    get, path = "/api/artefacts/{id}/verify", tag = "artefacts", security(("staff" = [])),
    params(("id" = uuid::Uuid, Path, description = "artefact id")),
    responses(
        (status = 200, description = "the report, also when a check failed (`ok: false`)",
            body = crate::seal::verify::Report),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn verify_artefact(
    State(state): State<AppState>,
    Staff(user): Staff,
    Path(id): Path<String>,
) -> Result<Json<crate::seal::verify::Report>, ApiError> {
    let (id, bytes) = artefact_bytes(&state, &user, &id).await?;
    audit::record(&state, user.id, "verify", &id.to_string()).await?;
    let mut trust = state.trust.clone();
    // The office's current revocation list, besides the one the bundle carries: it shows a
    // revocation made after sealing but dated before the signature.
    if let Ok(crl) = crate::seal::pki::read_pem(
        &state.paths.pki.join(crate::certificates::CRL_FILE),
        "X509 CRL",
    ) {
        trust.crls.push(crl);
    }
    let now = state.clock.now();
    let report = tokio::task::spawn_blocking(move || {
        crate::seal::verify::verify_bundle_at(&bytes, &trust, Some(now))
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "verification crashed",
        )
    })?;
    Ok(Json(report))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// `still` or `document`.
    category: String,
    /// What it is, from the service checklist: `identity-document`, `death-certificate`, …
    kind: String,
}

/// Add a still or a supporting document to an open session. The body is the file itself;
/// its type is sniffed from the content and must match `Content-Type`. The answer comes once
/// the `document_added` event is committed.
#[utoipa::path(
    post, path = "/api/sessions/{id}/documents", tag = "cases", security(("staff" = [])),
    params(("id" = uuid::Uuid, Path, description = "session id"), UploadQuery),
    request_body(description = "the file: PDF, JPEG or PNG, at most 10 MiB; `Content-Type` must match the content",
        content(
            (Vec<u8> = "application/pdf"),
            (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "image/png"),
        )),
    responses(
        (status = 201, description = "stored and committed to the evidence chain", body = DocumentAdded),
        (status = 400, description = "`invalid`: not on the service's checklist", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not this session's officer", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`session_closed`, `not_admitted` (the applicant is still in the waiting room), `conflict`", body = ErrorBody),
        (status = 413, description = "`too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_type`", body = ErrorBody),
        (status = 503, description = "`database_unavailable`: not recorded and not kept; try again", body = ErrorBody),
        (status = 507, description = "`storage`: it could not be stored", body = ErrorBody),
    ),
)]
async fn upload_document(
    State(state): State<AppState>,
    Officer(officer): Officer,
    Path(id): Path<String>,
    Params(q): Params<UploadQuery>,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<DocumentAdded>), ApiError> {
    let id: SessionId = parse_id(&id, "session")?;
    let session = state
        .store
        .session(id)
        .await?
        .ok_or_else(|| ApiError::not_found("session"))?;
    if session.officer_id != officer.id {
        return Err(ApiError::forbidden(
            "add documents to another officer's session",
        ));
    }
    let case = state
        .store
        .case(session.case_id)
        .await?
        .ok_or_else(|| ApiError::not_found("case"))?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "uploads are limited to {} bytes",
                    crate::documents::MAX_UPLOAD_BYTES
                ),
            )
        } else {
            ApiError::invalid(e.body_text())
        }
    })?;
    let wanted =
        state
            .catalogue
            .service(&case.service)
            .is_some_and(|s| match q.category.as_str() {
                "still" => s.checklist.stills.contains(&q.kind),
                "document" => s.checklist.documents.contains(&q.kind),
                _ => false,
            });
    if !wanted {
        return Err(ApiError::invalid(format!(
            "{} {:?} is not on the checklist of {}",
            q.category, q.kind, case.service
        )));
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = crate::documents::validate(&q.category, declared, &body).map_err(|e| {
        let status = if e.code() == "too_large" {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        };
        let status = if e.code() == "invalid" {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        ApiError::new(status, e.code(), e.to_string())
    })?;
    let tx = state
        .sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "session_closed",
                "the session is not open",
            )
        })?;
    let dir = crate::documents::session_dir(&state.paths.data, id);
    let stored_in = dir.clone();
    let sha256 = crate::evidence::sha256_hex(&body);
    let size = body.len() as u64;
    let (vault_state, category, kind) = (state.clone(), q.category.clone(), q.kind.clone());
    let file = tokio::task::spawn_blocking(move || {
        crate::documents::store(
            &vault_state.vault,
            &dir,
            case.id,
            &category,
            &kind,
            media,
            &body,
        )
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "storing failed",
        )
    })?
    .map_err(|e| {
        tracing::error!(session = %id, "storing a document failed: {e}");
        ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "storage",
            "the document could not be stored",
        )
    })?;
    let doc = crate::room::StoredDocument {
        category: q.category,
        kind: q.kind,
        media_type: media.mime().into(),
        sha256: sha256.clone(),
        size,
        file: file.clone(),
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if tx
        .send(crate::session::SessionCmd::Document { doc, reply })
        .await
        .is_err()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "session_closed",
            "the session is not open",
        ));
    }
    match answer.await {
        Ok(Ok(Some((seq, hash)))) => Ok((
            StatusCode::CREATED,
            Json(DocumentAdded {
                file,
                sha256,
                size,
                seq,
                hash,
            }),
        )),
        Ok(Err(refused)) => {
            // Not recorded, so not evidence: the file must not reach the sealed bundle.
            if let Err(e) = std::fs::remove_file(stored_in.join(format!("{file}.enc"))) {
                tracing::warn!(session = %id, "removing a refused document: {e}");
            }
            let status = match refused.code {
                "database_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
                "internal" => StatusCode::INTERNAL_SERVER_ERROR,
                "forbidden" => StatusCode::FORBIDDEN,
                "invalid" => StatusCode::BAD_REQUEST,
                _ => StatusCode::CONFLICT,
            };
            Err(ApiError::new(status, refused.code, refused.message))
        }
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "session_closed",
            "the session ended",
        )),
    }
}

/// A stored document, as its `document_added` event committed it.
#[derive(Serialize, ToSchema)]
struct DocumentAdded {
    /// Its name in the bundle's `documents/`.
    file: String,
    sha256: String,
    size: u64,
    /// The event's sequence number and hash in the evidence chain.
    seq: u64,
    hash: String,
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// Liveness.
#[utoipa::path(
    get, path = "/api/health", tag = "operations",
    responses((status = 200, description = "the hub answers", body = Health)),
)]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Initial capacity of a signalling socket's read buffer. tungstenite fills the whole capacity
/// with zeros before every read, so its default (128 KiB) made each idle socket cost 128 KiB of
/// resident memory. A keepalive or a queue request fits in 128 bytes; once a longer frame's
/// header is read, the buffer grows to hold the whole frame (`docs/benchmarks.md`, signalling
/// load).
const WS_READ_BUFFER_BYTES: usize = 128;

/// Upgrade to the signalling socket. Frames larger than twice the protocol limit are cut off by
/// the transport; frames between the two limits get a `too_large` error and the socket lives.
/// Every frame is written as soon as it is sent (no write buffering: one frame per message).
async fn ws(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    if state.is_draining() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "the desk is restarting; please try again in a minute",
        )
        .into_response();
    }
    upgrade
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(MAX_FRAME_BYTES * 2)
        .max_frame_size(MAX_FRAME_BYTES * 2)
        .on_upgrade(move |socket| serve_socket(state, socket))
}

/// axum's socket as the gateway's [`Frame`] stream and sink, in one value: the connection's
/// task holds the socket itself, with no split halves, locks or boxed adapters beside it.
struct SignalSocket(WebSocket);

impl futures::Stream for SignalSocket {
    type Item = Frame;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Frame>> {
        std::pin::Pin::new(&mut self.0).poll_next(cx).map(|m| {
            m.map(|m| match m {
                Ok(Message::Text(t)) => Frame::Text(t.to_string()),
                Ok(Message::Binary(b)) => Frame::Binary(b.len()),
                Ok(Message::Ping(p)) => Frame::Ping(p.to_vec()),
                Ok(Message::Pong(_)) => Frame::Pong,
                Ok(Message::Close(_)) | Err(_) => Frame::Close,
            })
        })
    }
}

impl futures::Sink<Frame> for SignalSocket {
    type Error = axum::Error;

    fn poll_ready(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), axum::Error>> {
        std::pin::Pin::new(&mut self.0).poll_ready(cx)
    }

    fn start_send(mut self: std::pin::Pin<&mut Self>, frame: Frame) -> Result<(), axum::Error> {
        let message = match frame {
            Frame::Text(t) => Message::Text(t.into()),
            Frame::Binary(_) => Message::Binary(Vec::new().into()),
            Frame::Ping(p) => Message::Ping(p.into()),
            Frame::Pong => Message::Pong(Vec::new().into()),
            Frame::Close => Message::Close(None),
        };
        std::pin::Pin::new(&mut self.0).start_send(message)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), axum::Error>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), axum::Error>> {
        std::pin::Pin::new(&mut self.0).poll_close(cx)
    }
}

/// Adapt axum's socket to the gateway.
fn serve_socket(state: AppState, socket: WebSocket) -> impl Future<Output = ()> + Send {
    gateway::serve(state, SignalSocket(socket))
}

/// Prometheus scrape endpoint: counts only, no ids or addresses (see `metrics`).
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text; keep it behind the firewall",
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String)),
)]
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Headers on every response. The CSP forbids inline script and style and framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'; object-src 'none'";

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    let web = state.paths.web.clone();
    // Only when the hub serves TLS itself: `None` adds no header.
    let hsts = state
        .settings
        .hsts()
        .and_then(|value| HeaderValue::try_from(value).ok());
    let api = Router::new()
        .route("/api/health", get(health))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/ws-ticket", post(ws_ticket))
        .route("/api/services", get(services))
        .route("/api/cases", get(list_cases).post(create_case))
        .route("/api/cases/{id}", get(show_case))
        .route("/api/artefacts/{id}/bundle", get(download_bundle))
        .route("/api/artefacts/{id}/verify", get(verify_artefact))
        .route(
            "/api/sessions/{id}/documents",
            post(upload_document).layer(axum::extract::DefaultBodyLimit::max(
                crate::documents::MAX_UPLOAD_BYTES + 1024,
            )),
        )
        .route("/ws", get(ws))
        .route("/metrics", get(metrics))
        .merge(booking::routes())
        .merge(officers::routes())
        .merge(log::routes())
        .merge(audit::routes())
        .merge(signing::routes())
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(guard::same_site_writes))
        .with_state(state);
    api.route_service("/", ServeFile::new(web.join("index.html")))
        .route_service("/join", ServeFile::new(web.join("join.html")))
        .route_service("/console", ServeFile::new(web.join("console.html")))
        .route_service("/audit", ServeFile::new(web.join("audit.html")))
        .nest_service("/static", ServeDir::new(&web))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
        // Outermost: every request gets an id (or keeps a valid one it came with), every log
        // line of its span carries it, and the response hands it back for support requests.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                // The path only: query strings may carry filters but never credentials, and
                // addresses are not logged at all.
                tracing::info_span!(
                    "request",
                    request_id = %id,
                    method = %request.method(),
                    path = %request.uri().path(),
                )
            }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future a function of two arguments returns, without calling it.
    fn future_size<A, B, F: Future>(_: fn(A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// What an idle signalling connection's task holds besides its socket's buffers. It grew
    /// past 1.4 KiB once (the socket stored twice); held by tens of thousands of waiting
    /// applicants, every byte counts (`docs/benchmarks.md`, signalling load).
    #[test]
    fn a_signalling_connection_task_stays_small() {
        let size = future_size(serve_socket);
        assert!(
            size <= 1024,
            "a signalling connection's future is {size} bytes"
        );
    }
}
