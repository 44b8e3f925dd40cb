//! Thin handlers: extract, call the pipeline, map back.

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::pipeline;
use crate::state::AppState;
use crate::upstream::Endpoint;

/// The TCP peer, when the server was started with connection info.
pub(crate) fn peer(req: &axum::extract::Request) -> Option<String> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// A proxied request for `endpoint` (`model`: the one a route names, in
/// place of the body's).
async fn proxied(
    s: AppState,
    endpoint: Endpoint,
    model: Option<String>,
    req: axum::extract::Request,
) -> Response {
    let peer = peer(&req);
    let (parts, body) = req.into_parts();
    pipeline::run_for_model(s, endpoint, parts.headers, body, peer, model).await
}

pub(crate) async fn chat(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    proxied(s, Endpoint::Chat, None, req).await
}

pub(crate) async fn completions(
    State(s): State<AppState>,
    req: axum::extract::Request,
) -> Response {
    proxied(s, Endpoint::Completions, None, req).await
}

pub(crate) async fn responses(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    proxied(s, Endpoint::Responses, None, req).await
}

pub(crate) async fn embeddings(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    proxied(s, Endpoint::Embeddings, None, req).await
}

/// A request about a stored response (`tail`: empty, or `/input_items`).
async fn stored(
    s: AppState,
    id: String,
    tail: &'static str,
    req: axum::extract::Request,
) -> Response {
    let peer = peer(&req);
    let (parts, _) = req.into_parts();
    let query = parts.uri.query().map(str::to_owned);
    pipeline::stored::run(s, parts.method, id, tail, query, parts.headers, peer).await
}

/// `GET` or `DELETE /v1/responses/{id}`.
pub(crate) async fn stored_response(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    stored(s, id, "", req).await
}

/// `GET /v1/responses/{id}/input_items`.
pub(crate) async fn stored_input_items(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    stored(s, id, "/input_items", req).await
}

/// Azure's `/openai/deployments/{deployment}/{chat/completions|completions|embeddings}`
/// (`api-version` in the query, any value): the deployment names the model.
async fn azure(
    s: AppState,
    endpoint: Endpoint,
    deployment: String,
    req: axum::extract::Request,
) -> Response {
    let model = s.config.model_of_azure_deployment(&deployment);
    proxied(s, endpoint, Some(model), req).await
}

pub(crate) async fn azure_chat(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    req: axum::extract::Request,
) -> Response {
    azure(s, Endpoint::Chat, deployment, req).await
}

pub(crate) async fn azure_completions(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    req: axum::extract::Request,
) -> Response {
    azure(s, Endpoint::Completions, deployment, req).await
}

pub(crate) async fn azure_embeddings(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    req: axum::extract::Request,
) -> Response {
    azure(s, Endpoint::Embeddings, deployment, req).await
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
    let mut extra = extra;
    if let Some(m) = &s.monitor {
        let r = std::sync::atomic::Ordering::Relaxed;
        let (observed, keys) = m.totals();
        extra.push_str(&format!(
            "# HELP proviso_monitor_queued Exchanges handed to the monitor\n# TYPE proviso_monitor_queued counter\nproviso_monitor_queued_total {}\n\
             # HELP proviso_monitor_processed Exchanges the monitor thread has dealt with (queued minus processed: its backlog)\n# TYPE proviso_monitor_processed counter\nproviso_monitor_processed_total {}\n\
             # HELP proviso_monitor_dropped Exchanges the monitor's queue was too full to take from the ledger's writer (read back from the ledger later: backfilled)\n# TYPE proviso_monitor_dropped counter\nproviso_monitor_dropped_total {}\n\
             # HELP proviso_monitor_backfilled Exchanges read back from the ledger and observed: the dropped ones, and queued ones read in the same pass (then passed over in the queue)\n# TYPE proviso_monitor_backfilled counter\nproviso_monitor_backfilled_total {}\n\
             # HELP proviso_monitor_backfill_failures Reads of dropped exchanges from the ledger that failed (those exchanges are not observed)\n# TYPE proviso_monitor_backfill_failures counter\nproviso_monitor_backfill_failures_total {}\n\
             # HELP proviso_monitor_unread Ledger sequence numbers of dropped exchanges not yet read back (a bound)\n# TYPE proviso_monitor_unread gauge\nproviso_monitor_unread {}\n\
             # HELP proviso_monitor_observed Exchanges the monitor has taken in (also from the ledger at start)\n# TYPE proviso_monitor_observed counter\nproviso_monitor_observed_total {observed}\n\
             # HELP proviso_monitor_keys Keys with monitor state\n# TYPE proviso_monitor_keys gauge\nproviso_monitor_keys {keys}\n\
             # HELP proviso_monitor_steps Ladder steps taken or sent for review\n# TYPE proviso_monitor_steps counter\nproviso_monitor_steps_total {}\n\
             # HELP proviso_monitor_embedding_failures Calls to the monitor's embeddings model that failed\n# TYPE proviso_monitor_embedding_failures counter\nproviso_monitor_embedding_failures_total {}\n\
             # HELP proviso_monitor_webhook_failures Webhook calls that failed after every attempt\n# TYPE proviso_monitor_webhook_failures counter\nproviso_monitor_webhook_failures_total {}\n",
            m.queued.load(r),
            m.processed.load(r),
            m.dropped.load(r),
            m.backfilled.load(r),
            m.backfill_failures.load(r),
            m.unread(),
            m.steps.load(r),
            m.embedding_failures.load(r),
            m.webhook_failures.load(r),
        ));
    }
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

/// Parts of the OpenAI API Proviso does not serve, by path prefix (under
/// `/v1/` or `/openai/v1/`), and what to call them in the refusal.
const UNSUPPORTED: &[(&str, &str)] = &[
    // What of the Responses API is not served: cancelling, compacting,
    // counting input tokens, Azure's deployment routes for it.
    (
        "responses",
        "Responses (cancel, compact, input token counts, deployment routes)",
    ),
    ("files", "Files"),
    ("uploads", "Uploads"),
    ("batches", "Batch"),
    ("images", "Images"),
    ("audio", "Audio"),
    ("moderations", "Moderations"),
    ("fine_tuning", "Fine-tuning"),
    ("fine-tunes", "Fine-tuning"),
    ("assistants", "Assistants"),
    ("threads", "Assistants (threads)"),
    ("vector_stores", "Vector stores"),
    ("realtime", "Realtime"),
    ("evals", "Evals"),
    ("containers", "Containers"),
    ("chatkit", "ChatKit"),
    ("conversations", "Conversations"),
    ("videos", "Videos"),
];

/// The API family of an OpenAI path Proviso does not serve, if it is one.
fn unsupported_family(path: &str) -> Option<&'static str> {
    let rest = path
        .strip_prefix("/v1/")
        .or_else(|| path.strip_prefix("/openai/v1/"))
        .or_else(|| {
            // Azure's deployment routes for anything but the three served.
            path.strip_prefix("/openai/deployments/")
                .and_then(|r| r.split_once('/'))
                .map(|(_, op)| op)
        })?;
    let first = rest.split('/').next().unwrap_or_default();
    UNSUPPORTED
        .iter()
        .find(|(p, _)| *p == first)
        .map(|(_, name)| *name)
}

pub(crate) async fn fallback(OriginalUri(uri): OriginalUri) -> Response {
    match unsupported_family(uri.path()) {
        Some(family) => ApiError::unsupported_endpoint(uri.path(), family).into_response(),
        None => ApiError::no_route(uri.path()).into_response(),
    }
}

pub(crate) async fn method_not_allowed() -> Response {
    ApiError::method_not_allowed().into_response()
}

/// Holds one of `max_concurrent_requests` slots for the whole exchange (a
/// stream's slot is released when its body ends), or answers 503
/// `overloaded` with `retry-after` at once. Not recorded in the ledger:
/// nothing was read or sent; counted in `proviso_overloaded_total`.
pub(crate) async fn limit_concurrency(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Ok(permit) = s.inflight.clone().try_acquire_owned() else {
        let err = ApiError::overloaded(s.config.server.max_concurrent_requests);
        s.metrics.overloaded.inc();
        return err.into_response();
    };
    let resp = next.run(req).await;
    // A non-streamed answer is complete when the handler returns: the slot
    // is free now, and the body keeps its length. A stream keeps the slot
    // until its last byte.
    let streamed = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if !streamed {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let body = axum::body::Body::from_stream(futures_util::StreamExt::map(
        body.into_data_stream(),
        move |chunk| {
            let _slot = &permit;
            chunk
        },
    ));
    Response::from_parts(parts, body)
}
