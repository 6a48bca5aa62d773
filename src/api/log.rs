//! The transparency log over HTTP, public so any monitor can follow it: the verifier key, the
//! signed checkpoint, inclusion proofs and consistency proofs (which show the log was only
//! ever appended to). Proofs are hex hashes, lowest level first, as in RFC 9162.

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

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/log/key", get(key))
        .route("/api/log/checkpoint", get(checkpoint))
        .route("/api/log/inclusion", get(inclusion))
        .route("/api/log/consistency", get(consistency))
}
