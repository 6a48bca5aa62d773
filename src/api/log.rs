//! Public trust material over HTTP. The transparency log, so any monitor can follow it: the
//! verifier key, the signed checkpoint, inclusion proofs and consistency proofs (which show
//! the log was only ever appended to; hex hashes, lowest level first, as in RFC 9162). And the
//! office PKI: the CA certificate and the revocation list of officer certificates.

use super::ApiError;
use crate::state::AppState;
use crate::transparency::TransparencyError;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

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

async fn key(State(state): State<AppState>) -> impl IntoResponse {
    (TEXT, format!("{}\n", state.log.vkey()))
}

async fn checkpoint(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok((TEXT, state.log.checkpoint().await?))
}

#[derive(Deserialize)]
struct InclusionParams {
    index: u64,
    size: u64,
}

async fn inclusion(
    State(state): State<AppState>,
    Query(p): Query<InclusionParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let proof = state.log.inclusion(p.index, p.size).await?;
    Ok(Json(json!({
        "index": p.index,
        "size": p.size,
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct ConsistencyParams {
    from: u64,
    to: u64,
}

async fn consistency(
    State(state): State<AppState>,
    Query(p): Query<ConsistencyParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let proof = state.log.consistency(p.from, p.to).await?;
    Ok(Json(json!({
        "from": p.from,
        "to": p.to,
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
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

async fn ca(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    pki_file(
        state.paths.pki.join(crate::seal::pki::CA_CERT_FILE),
        "no office CA",
    )
    .await
}

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
