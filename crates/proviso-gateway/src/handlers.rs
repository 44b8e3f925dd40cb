//! Thin handlers: extract, call the pipeline, map back.

use axum::Json;
use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::pipeline;
use crate::state::AppState;
use crate::upstream::Endpoint;

pub(crate) async fn chat(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    pipeline::run(s, Endpoint::Chat, headers, body).await
}

pub(crate) async fn completions(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    pipeline::run(s, Endpoint::Completions, headers, body).await
}

pub(crate) async fn embeddings(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    pipeline::run(s, Endpoint::Embeddings, headers, body).await
}

pub(crate) async fn models(State(s): State<AppState>, headers: HeaderMap) -> Response {
    match pipeline::list_models(s, headers).await {
        Ok(names) => {
            let data: Vec<_> = names
                .iter()
                .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "proviso"}))
                .collect();
            Json(json!({"object": "list", "data": data})).into_response()
        }
        Err(resp) => resp,
    }
}

pub(crate) async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub(crate) async fn readyz(State(s): State<AppState>) -> Response {
    if s.ledger.is_healthy() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        let why = s
            .ledger
            .last_error()
            .unwrap_or_else(|| "ledger unavailable".into());
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reason": why})),
        )
            .into_response()
    }
}

pub(crate) async fn metrics(State(s): State<AppState>) -> Response {
    let mut body = s.metrics.render(&s.ledger.stats());
    let q = &s.quotas;
    let extra = format!(
        "# HELP proviso_quota_refusals Requests refused by a rate limit or budget\n# TYPE proviso_quota_refusals counter\nproviso_quota_refusals_total {}\n\
         # HELP proviso_quota_backend_errors Failed calls to the shared quota store (Redis)\n# TYPE proviso_quota_backend_errors counter\nproviso_quota_backend_errors_total {}\n\
         # HELP proviso_quota_local_fallback 1 while quotas are enforced per replica because Redis is unreachable\n# TYPE proviso_quota_local_fallback gauge\nproviso_quota_local_fallback {}\n",
        q.refusals.load(std::sync::atomic::Ordering::Relaxed),
        q.redis_errors.load(std::sync::atomic::Ordering::Relaxed),
        u8::from(q.falling_back()),
    );
    if let Some(i) = body.rfind("# EOF") {
        body.insert_str(i, &extra);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

pub(crate) async fn fallback(OriginalUri(uri): OriginalUri) -> Response {
    ApiError::no_route(uri.path()).into_response()
}

pub(crate) async fn method_not_allowed() -> Response {
    ApiError::method_not_allowed().into_response()
}
