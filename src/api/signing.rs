//! Officer signatures over HTTP: enrolling a browser key with the office CA (proof of
//! possession of a non-extractable WebCrypto key), the officer's own certificate, the artefacts
//! awaiting the officer's signature, and receiving a signature, which the hub verifies,
//! countersigns with its signing time, timestamps when a TSA is configured, and writes into
//! the artefact's `manifest.jws`.
//!
//! Every route is for the signed-in officer alone, and an artefact only for the officer of its
//! session. The private key never reaches the hub: it signs in the browser.

use super::{ApiError, Body, ErrorBody, Officer, parse_id};
use crate::certificates::{self, EnrolError};
use crate::ids::ArtefactId;
use crate::seal::bundle::{MANIFEST_JSON, Manifest, StoredArtefact};
use crate::seal::jws::JwsSignature;
use crate::seal::officer_pki::SubmittedKey;
use crate::seal::signatures::{self, SignatureError};
use crate::state::AppState;
use crate::store::{ArtefactRecord, OfficerCertRecord, OfficerSignatureRecord, StoreError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/officers/me/enrolment/challenge", post(challenge))
        .route("/api/officers/me/enrolment", post(enrol))
        .route("/api/officers/me/certificate", get(certificate))
        .route("/api/officers/me/signatures/pending", get(pending))
        .route("/api/artefacts/{id}/signing", get(signing))
        .route("/api/artefacts/{id}/signature", post(sign))
}

#[derive(Serialize, ToSchema)]
struct ChallengeView {
    /// base64url, 32 bytes; valid 5 minutes.
    challenge: String,
    #[schema(format = Uuid)]
    officer_id: String,
    expires_at: DateTime<Utc>,
}

/// A new enrolment challenge; it replaces the last one.
#[utoipa::path(
    post, path = "/api/officers/me/enrolment/challenge", tag = "signing", security(("staff" = [])),
    responses(
        (status = 200, description = "the challenge", body = ChallengeView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: officers only", body = ErrorBody),
    ),
)]
async fn challenge(
    State(state): State<AppState>,
    Officer(user): Officer,
) -> Result<Json<ChallengeView>, ApiError> {
    let now = state.clock.now();
    let challenge =
        crate::seal::officer_pki::Challenge::generate(&ring::rand::SystemRandom::new(), now)
            .map_err(|e| internal("challenge", &e))?;
    let view = ChallengeView {
        challenge: challenge.to_base64url(),
        officer_id: user.id.to_string(),
        expires_at: now + certificates::CHALLENGE_MAX_AGE,
    };
    lock(&state).open(user.id, challenge);
    Ok(Json(view))
}

fn lock(state: &AppState) -> std::sync::MutexGuard<'_, certificates::Enrolments> {
    // The state is a map of challenges; a panic elsewhere cannot leave it half-updated.
    state
        .enrolments
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn internal(what: &str, e: &dyn std::fmt::Display) -> ApiError {
    let id = uuid::Uuid::new_v4();
    tracing::error!(error_id = %id, "{what}: {e}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("internal error {id}"),
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EnrolBody {
    challenge: String,
    /// base64url DER SubjectPublicKeyInfo.
    public_key: String,
    /// base64url `r || s` over `"globallink-enrol-v1\n" || officer_id || "\n" || challenge`.
    signature: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Certificate)]
struct CertificateView {
    /// Lower-case hex.
    serial: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    /// `valid`, `revoked` or `expired`.
    status: &'static str,
    /// base64 DER: the officer's certificate, then the office CA's.
    x5c: Vec<String>,
}

fn view(state: &AppState, cert: &OfficerCertRecord, now: DateTime<Utc>) -> CertificateView {
    let status = if cert.revoked_at.is_some_and(|t| t <= now) {
        "revoked"
    } else if now > cert.not_after {
        "expired"
    } else {
        "valid"
    };
    CertificateView {
        serial: format!("{:x}", cert.serial),
        not_before: cert.not_before,
        not_after: cert.not_after,
        status,
        x5c: vec![
            STANDARD.encode(&cert.der),
            STANDARD.encode(state.identity.ca_der()),
        ],
    }
}

fn decode(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| ApiError::invalid(format!("{field} is not base64url without padding")))
}

/// Enrol a browser key: proof of possession of the challenge, then a certificate.
#[utoipa::path(
    post, path = "/api/officers/me/enrolment", tag = "signing", security(("staff" = [])),
    request_body = EnrolBody,
    responses(
        (status = 201, description = "the officer's new certificate", body = CertificateView),
        (status = 400, description = "`no_possession`, `invalid`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: officers only", body = ErrorBody),
        (status = 409, description = "`unknown_challenge`: unknown, replaced or used", body = ErrorBody),
    ),
)]
async fn enrol(
    State(state): State<AppState>,
    Officer(user): Officer,
    Body(body): Body<EnrolBody>,
) -> Result<(StatusCode, Json<CertificateView>), ApiError> {
    let now = state.clock.now();
    let spki = decode("public_key", &body.public_key)?;
    let signature = decode("signature", &body.signature)?;
    let answer = lock(&state).answer(
        user.id,
        &body.challenge,
        SubmittedKey::Spki(&spki),
        &signature,
        now,
    );
    let key = answer.map_err(|e| match e {
        EnrolError::UnknownChallenge => {
            ApiError::new(StatusCode::CONFLICT, "unknown_challenge", e.to_string())
        }
        EnrolError::Possession(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, "no_possession", e.to_string())
        }
    })?;
    let cert = certificates::issue(
        state.store.as_ref(),
        &state.paths.pki,
        &user,
        &key.spki_der(),
        now,
        state.settings.config.officer_cert_days,
    )
    .await
    .map_err(|e| internal("issuing an officer certificate", &e))?;
    tracing::info!(officer = %user.id, serial = %format!("{:x}", cert.serial), "officer signing key enrolled");
    Ok((StatusCode::CREATED, Json(view(&state, &cert, now))))
}

/// The officer's newest certificate.
#[utoipa::path(
    get, path = "/api/officers/me/certificate", tag = "signing", security(("staff" = [])),
    responses(
        (status = 200, description = "the certificate and its status", body = CertificateView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: officers only", body = ErrorBody),
        (status = 404, description = "`not_enrolled`", body = ErrorBody),
    ),
)]
async fn certificate(
    State(state): State<AppState>,
    Officer(user): Officer,
) -> Result<Json<CertificateView>, ApiError> {
    let now = state.clock.now();
    let newest = state
        .store
        .officer_certificates()
        .await?
        .into_iter()
        .filter(|c| c.officer_id == user.id)
        .max_by_key(|c| (c.issued_at, c.serial))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_enrolled",
                "no signing certificate yet: enrol this browser",
            )
        })?;
    Ok(Json(view(&state, &newest, now)))
}

#[derive(Serialize, ToSchema)]
struct PendingView {
    #[schema(format = Uuid)]
    artefact_id: String,
    #[schema(format = Uuid)]
    session_id: String,
    #[schema(format = Uuid)]
    case_id: String,
    service: String,
    outcome: String,
    sealed_at: DateTime<Utc>,
}

/// Artefacts of the officer's sessions not yet signed, newest first.
#[utoipa::path(
    get, path = "/api/officers/me/signatures/pending", tag = "signing", security(("staff" = [])),
    responses(
        (status = 200, description = "awaiting the officer's signature", body = [PendingView]),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: officers only", body = ErrorBody),
    ),
)]
async fn pending(
    State(state): State<AppState>,
    Officer(user): Officer,
) -> Result<Json<Vec<PendingView>>, ApiError> {
    let mut out = Vec::new();
    for a in state.store.unsigned_artefacts(user.id).await? {
        let service = state
            .store
            .case(a.case_id)
            .await?
            .map(|c| c.service)
            .unwrap_or_default();
        out.push(PendingView {
            artefact_id: a.id.to_string(),
            session_id: a.session_id.to_string(),
            case_id: a.case_id.to_string(),
            service,
            outcome: a.outcome,
            sealed_at: a.created_at,
        });
    }
    Ok(Json(out))
}

/// The artefact `id`, if `user` was the officer of its session.
async fn own_artefact(
    state: &AppState,
    user: &crate::store::UserRecord,
    id: &str,
) -> Result<ArtefactRecord, ApiError> {
    let id: ArtefactId = parse_id(id, "artefact")?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such artefact among your sessions",
        )
    };
    let artefact = state.store.artefact(id).await?.ok_or_else(not_found)?;
    let session = state
        .store
        .session(artefact.session_id)
        .await?
        .ok_or_else(not_found)?;
    if session.officer_id != user.id {
        // The same answer as for a missing one: an officer learns nothing of others' work.
        return Err(not_found());
    }
    Ok(artefact)
}

#[derive(Serialize, ToSchema)]
struct SigningView {
    #[schema(format = Uuid)]
    artefact_id: String,
    /// The sealed manifest (`docs/bundle.md`).
    #[schema(value_type = Object)]
    manifest: Manifest,
    /// base64url of the exact `manifest.json` bytes: the JWS payload.
    payload: String,
    /// When the officer signed, if already.
    officer_signed_at: Option<DateTime<Utc>>,
}

/// What the session's officer signs: the exact manifest bytes.
#[utoipa::path(
    get, path = "/api/artefacts/{id}/signing", tag = "signing", security(("staff" = [])),
    params(("id" = uuid::Uuid, Path, description = "artefact id")),
    responses(
        (status = 200, description = "the manifest and the JWS payload", body = SigningView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: officers only", body = ErrorBody),
        (status = 404, description = "`not_found`: also for another officer's artefact", body = ErrorBody),
    ),
)]
async fn signing(
    State(state): State<AppState>,
    Officer(user): Officer,
    Path(id): Path<String>,
) -> Result<Json<SigningView>, ApiError> {
    let artefact = own_artefact(&state, &user, &id).await?;
    let bytes = read_entry(&state, &artefact, MANIFEST_JSON).await?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| internal("reading a sealed manifest", &e))?;
    let signed = state.store.officer_signature(artefact.id).await?;
    Ok(Json(SigningView {
        artefact_id: artefact.id.to_string(),
        manifest,
        payload: URL_SAFE_NO_PAD.encode(&bytes),
        officer_signed_at: signed.map(|s| s.signed_at),
    }))
}

/// One entry of a sealed artefact.
async fn read_entry(
    state: &AppState,
    artefact: &ArtefactRecord,
    name: &'static str,
) -> Result<Vec<u8>, ApiError> {
    let stored = StoredArtefact::locate(&state.paths.artefacts, &artefact.file_name);
    tokio::task::spawn_blocking(move || stored.small_entry(name))
        .await
        .map_err(|e| internal("reading an artefact", &e))?
        .map_err(|e| internal("reading an artefact", &e))
}

/// A detached ES256 JWS over the signing payload, header
/// `{"alg":"ES256","typ":"JOSE","x5c":[…]}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignatureBody {
    /// base64url of the protected header JSON.
    protected: String,
    /// base64url `r || s`.
    signature: String,
}

#[derive(Serialize, ToSchema)]
struct SignedView {
    #[schema(format = Uuid)]
    artefact_id: String,
    officer_signed_at: DateTime<Utc>,
    signer: crate::seal::jws::Signer,
    /// The RFC 3161 timestamp of the hub's countersignature, when a TSA is configured.
    timestamp: Option<crate::seal::tsa::TokenInfo>,
}

/// Receive the officer's signature: verified, countersigned, timestamped, written.
#[utoipa::path(
    post, path = "/api/artefacts/{id}/signature", tag = "signing", security(("staff" = [])),
    params(("id" = uuid::Uuid, Path, description = "artefact id")),
    request_body = SignatureBody,
    responses(
        (status = 200, description = "signed and countersigned", body = SignedView),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: officers only", body = ErrorBody),
        (status = 404, description = "`not_found`: also for another officer's artefact", body = ErrorBody),
        (status = 409, description = "`already_signed`, `legacy_artefact`", body = ErrorBody),
        (status = 422, description = "`bad_signature`, `bad_certificate`, `wrong_officer`", body = ErrorBody),
        (status = 503, description = "`tsa_unavailable`: nothing changed; sign again", body = ErrorBody),
    ),
)]
async fn sign(
    State(state): State<AppState>,
    Officer(user): Officer,
    Path(id): Path<String>,
    Body(body): Body<SignatureBody>,
) -> Result<Json<SignedView>, ApiError> {
    let artefact = own_artefact(&state, &user, &id).await?;
    if state.store.officer_signature(artefact.id).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_signed",
            "this artefact already carries your signature",
        ));
    }
    let StoredArtefact::Directory(dir) =
        StoredArtefact::locate(&state.paths.artefacts, &artefact.file_name)
    else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "legacy_artefact",
            "this artefact was sealed by an earlier version as a closed zip; it keeps the hub's \
             signature alone",
        ));
    };
    let now = state.clock.now();
    let payload = read_entry(&state, &artefact, MANIFEST_JSON).await?;
    let crl = certificates::current_crl(
        state.store.as_ref(),
        &state.paths.pki,
        state.identity.ca_der(),
        now,
    )
    .await
    .map_err(|e| internal("reading the office CRL", &e))?;
    let officer_sig = JwsSignature {
        protected: body.protected,
        header: None,
        signature: body.signature,
    };
    let (mut jws, signed) = signatures::countersign(
        &payload,
        officer_sig,
        &state.identity,
        state.identity.ca_der(),
        &crl,
        &user.id.to_string(),
        now,
    )
    .map_err(|e| {
        let code = match e {
            SignatureError::OfficerCertificate(_) => "bad_certificate",
            SignatureError::WrongOfficer { .. } => "wrong_officer",
            _ => "bad_signature",
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
    })?;
    let mut timestamp = None;
    if let Some(tsa) = &state.timestamps {
        let hub = jws
            .signatures
            .last_mut()
            .ok_or_else(|| internal("countersigning", &"no hub signature"))?;
        // Nothing is lost by refusing here: the hub-sealed artefact stands and the officer
        // can sign again once the authority answers.
        timestamp = Some(tsa.stamp(hub).await.map_err(|e| {
            tracing::warn!(artefact = %artefact.id, "timestamp refused: {e}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "tsa_unavailable",
                format!("the time-stamping authority did not give a valid token: {e}"),
            )
        })?);
    }
    // The hub verifies what it is about to write, both signatures and the timestamp, as an
    // auditor will.
    let text = jws.to_text();
    let manifest: Manifest =
        serde_json::from_slice(&payload).map_err(|e| internal("reading a sealed manifest", &e))?;
    signatures::check(
        text.as_bytes(),
        &payload,
        signatures::Anchors {
            certificates: &state.trust.certificates,
            crls: &[],
        },
        manifest.sealed_at,
    )
    .map_err(|e| internal("checking the countersigned manifest", &e))?;
    // One signature write at a time: the file is written before the store records it, so a
    // failed write leaves the artefact pending rather than marked signed.
    static SIGNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = SIGNING.lock().await;
    if state.store.officer_signature(artefact.id).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_signed",
            "this artefact already carries your signature",
        ));
    }
    let size = tokio::task::spawn_blocking(move || {
        crate::seal::bundle::replace_manifest_jws(&dir, text.as_bytes())?;
        StoredArtefact::Directory(dir).zip().map(|zip| zip.len())
    })
    .await
    .map_err(|e| internal("writing the signature", &e))?
    .map_err(|e| internal("writing the signature", &e))?;
    let record = OfficerSignatureRecord {
        artefact_id: artefact.id,
        officer_id: user.id,
        serial: u64::from_str_radix(&signed.serial, 16)
            .map_err(|e| internal("officer serial", &e))?,
        signed_at: now,
    };
    match state.store.record_officer_signature(&record).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_signed",
                "this artefact already carries your signature",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    // The listing shows the download's length, which the longer manifest.jws changed.
    state.store.set_artefact_size(artefact.id, size).await?;
    tracing::info!(
        artefact = %artefact.id,
        officer = %user.id,
        serial = %signed.serial,
        "officer signature verified and countersigned",
    );
    Ok(Json(SignedView {
        artefact_id: artefact.id.to_string(),
        officer_signed_at: now,
        signer: signed.signer,
        timestamp,
    }))
}
