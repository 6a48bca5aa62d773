//! Public trust material over HTTP. The transparency log, so any monitor can follow it: the
//! verifier key, the signed checkpoint, inclusion proofs and consistency proofs (which show
//! the log was only ever appended to; hex hashes, lowest level first, as in RFC 9162). And the
//! office PKI: the CA certificate and the revocation list of officer certificates.

use super::{ApiError, ErrorBody, Params};
use crate::state::AppState;
use crate::transparency::TransparencyError;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

const TEXT: [(header::HeaderName, &str); 1] = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];

impl From<TransparencyError> for ApiError {
    fn from(e: TransparencyError) -> Self {
        match e {
            TransparencyError::Log(e) => {
                ApiError::new(StatusCode::BAD_REQUEST, "out_of_range", e.to_string())
            }
            TransparencyError::Store(e) => e.into(),
            other => {
                tracing::error!("transparency log: {other}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the transparency log is unavailable",
                )
            }
        }
    }
}

/// The transparency log's verifier key.
#[utoipa::path(
    get, path = "/api/log/key", operation_id = "log_key", tag = "log",
    responses((status = 200, description = "`<origin>+<key id>+<base64 key>`",
        content_type = "text/plain; charset=utf-8", body = String)),
)]
async fn key(State(state): State<AppState>) -> impl IntoResponse {
    (TEXT, format!("{}\n", state.log.vkey()))
}

/// The current C2SP checkpoint.
#[utoipa::path(
    get, path = "/api/log/checkpoint", operation_id = "log_checkpoint", tag = "log",
    responses(
        (status = 200, description = "a signed note: origin, size, base64 root",
            content_type = "text/plain; charset=utf-8", body = String),
        (status = 500, description = "`internal`", body = ErrorBody),
    ),
)]
async fn checkpoint(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok((TEXT, state.log.checkpoint().await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InclusionParams {
    /// The leaf.
    index: u64,
    /// The tree's size.
    size: u64,
}

#[derive(Serialize, ToSchema)]
struct InclusionProof {
    index: u64,
    size: u64,
    /// Hex hashes, lowest level first.
    proof: Vec<String>,
}

/// RFC 9162 inclusion path of leaf `index` in the tree of `size` leaves.
#[utoipa::path(
    get, path = "/api/log/inclusion", operation_id = "log_inclusion", tag = "log",
    params(InclusionParams),
    responses(
        (status = 200, description = "the proof", body = InclusionProof),
        (status = 400, description = "`out_of_range`", body = ErrorBody),
    ),
)]
async fn inclusion(
    State(state): State<AppState>,
    Params(p): Params<InclusionParams>,
) -> Result<Json<InclusionProof>, ApiError> {
    let proof = state.log.inclusion(p.index, p.size).await?;
    Ok(Json(InclusionProof {
        index: p.index,
        size: p.size,
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConsistencyParams {
    /// The older tree's size.
    from: u64,
    /// The newer tree's size.
    to: u64,
}

#[derive(Serialize, ToSchema)]
struct ConsistencyProof {
    from: u64,
    to: u64,
    /// Hex hashes, lowest level first.
    proof: Vec<String>,
}

/// RFC 9162 consistency proof between the trees of `from` and `to` leaves.
#[utoipa::path(
    get, path = "/api/log/consistency", operation_id = "log_consistency", tag = "log",
    params(ConsistencyParams),
    responses(
        (status = 200, description = "the proof", body = ConsistencyProof),
        (status = 400, description = "`out_of_range`", body = ErrorBody),
    ),
)]
async fn consistency(
    State(state): State<AppState>,
    Params(p): Params<ConsistencyParams>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let proof = state.log.consistency(p.from, p.to).await?;
    Ok(Json(ConsistencyProof {
        from: p.from,
        to: p.to,
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

/// A PEM file of the PKI directory, or 404 with `missing` as the reason.
async fn pki_file(
    path: std::path::PathBuf,
    missing: &'static str,
) -> Result<([(header::HeaderName, &'static str); 1], String), ApiError> {
    match tokio::fs::read_to_string(&path).await {
        Ok(text) => Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", missing))
        }
        Err(e) => {
            tracing::error!(path = %path.display(), "cannot read: {e}");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "cannot read it",
            ))
        }
    }
}

/// The office CA certificate.
#[utoipa::path(
    get, path = "/api/pki/ca", operation_id = "pki_ca", tag = "log",
    responses(
        (status = 200, description = "PEM", content_type = "application/x-pem-file", body = String),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn ca(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    pki_file(
        state.paths.pki.join(crate::seal::pki::CA_CERT_FILE),
        "no office CA",
    )
    .await
}

/// The revocation list of officer certificates, signed by the office CA.
#[utoipa::path(
    get, path = "/api/pki/crl", operation_id = "pki_crl", tag = "log",
    responses(
        (status = 200, description = "PEM", content_type = "application/x-pem-file", body = String),
        (status = 404, description = "`not_found`: before the first officer certificate", body = ErrorBody),
    ),
)]
async fn crl(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    pki_file(
        state.paths.pki.join(crate::certificates::CRL_FILE),
        "no revocation list yet: one is published when the first officer certificate is issued",
    )
    .await
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/pki/ca", get(ca))
        .route("/api/pki/crl", get(crl))
        .route("/api/log/key", get(key))
        .route("/api/log/checkpoint", get(checkpoint))
        .route("/api/log/inclusion", get(inclusion))
        .route("/api/log/consistency", get(consistency))
}
