//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! annotations and their `ToSchema` types, and served publicly at `GET /api/openapi.json`.
//!
//! Contract: every route `app()` serves under `/api/` and `/metrics` is listed here with its
//! method (`tests/http_roles.rs` checks both the authorization matrix and the route
//! registrations in `src/api/` against the document). The signalling socket `/ws` is not: it
//! is specified in `docs/protocol.md`. Pages and `/static` are not API.

use super::{ErrorBody, SESSION_COOKIE};
use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

const DESCRIPTION: &str = "\
The HTTP API of the globallink hub, generated from its code. `docs/api.md` is the hand-written \
guide to the same routes and `docs/protocol.md` specifies the signalling WebSocket `GET /ws` \
(opened with a ticket from `POST /api/ws-ticket` or an applicant's invite token), which this \
document does not describe.

Errors always have the body `{\"code\",\"message\"}` (schema `Error`) with a matching status. \
Besides the ones listed per route: any route that reads the store may answer \
`503 database_unavailable` (nothing was changed; try again) or `500 internal` (with an error \
id that is logged), and writes a browser marks as cross-site (`Sec-Fetch-Site: cross-site` or \
a foreign `Origin`) get `403 cross_site`.

Officers and auditors sign in with `POST /api/login`, which sets the `gl_session` cookie \
(security scheme `staff`). Applicants send `Authorization: Invite <token>` with the token \
from their link (security scheme `invite`) and reach only their own case. IDs are UUIDs; \
times are RFC 3339 in UTC.";

#[derive(OpenApi)]
#[openapi(
    info(title = "globallink", version = env!("CARGO_PKG_VERSION"), description = DESCRIPTION),
    paths(
        super::health,
        document,
        super::metrics,
        super::login,
        super::logout,
        super::me,
        super::ws_ticket,
        super::services,
        super::list_cases,
        super::create_case,
        super::show_case,
        super::download_bundle,
        super::verify_artefact,
        super::upload_document,
        super::booking::my_case,
        super::booking::preferences,
        super::booking::slots,
        super::booking::desk_status,
        super::booking::book,
        super::booking::cancel,
        super::booking::reschedule,
        super::booking::invite_ics,
        super::booking::list,
        super::officers::list,
        super::officers::set_override,
        super::log::ca,
        super::log::crl,
        super::log::key,
        super::log::checkpoint,
        super::log::inclusion,
        super::log::consistency,
        super::audit::list,
        super::audit::timeline,
        super::audit::access_log,
        super::signing::challenge,
        super::signing::enrol,
        super::signing::certificate,
        super::signing::pending,
        super::signing::signing,
        super::signing::sign,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "session", description = "signing in and out; the signalling ticket"),
        (name = "cases", description = "the catalogue, cases, documents of a session"),
        (name = "artefacts", description = "sealed bundles: download and verification"),
        (name = "audit", description = "artefact search, timelines, the access log"),
        (name = "signing", description = "officer enrolment and signatures on manifests"),
        (name = "officers", description = "duty status and bookings for the console"),
        (name = "applicant", description = "an applicant's own case, by invite token"),
        (name = "log", description = "public transparency log and office PKI"),
        (name = "operations", description = "health, metrics, this document"),
    ),
)]
pub struct ApiDoc;

/// The two ways to authenticate, named by the paths' `security`.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "staff",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "set by `POST /api/login` (HttpOnly, SameSite=Strict); officers and auditors",
            ))),
        );
        components.add_security_scheme(
            "invite",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Invite <token>`, the token from the applicant's link; applicants only",
            ))),
        );
    }
}

/// This document.
#[utoipa::path(
    get, path = "/api/openapi.json", operation_id = "openapi", tag = "operations",
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json",
        body = Object)),
)]
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
