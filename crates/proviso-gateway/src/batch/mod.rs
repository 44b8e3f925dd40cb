//! The Batch API (`/v1/files` of purpose `batch`, `/v1/batches`), governed
//! as single requests are:
//!
//! - [`files`]: a client uploads its input file (checked as a batch input
//!   at once, kept on disk, owned by its key), lists, reads and deletes its
//!   files, results included;
//! - [`submit`]: creating a batch checks every line as a request (policy
//!   with the declared purpose, key scope, masking, a quota reservation for
//!   the whole batch; one refused line refuses the batch, naming the lines),
//!   records the submission, then sends the masked file upstream;
//! - [`poll`]: a task asks after unfinished batches upstream, and when one
//!   ends records every line's request and answer in the ledger (so the
//!   index follower and the monitor see them as they see any exchange),
//!   writes the results with placeholders restored, and settles the quota;
//! - [`read`]: a batch read back, listed or cancelled by its key;
//! - [`upstream`]: the upstream's files and batches.

pub mod files;
pub mod poll;
pub mod read;
pub mod service;
pub mod submit;
pub mod upstream;
pub mod work;

pub use service::Batches;

use std::sync::Arc;

use axum::http::HeaderMap;
use proviso_access::KeyRecord;
use proviso_batch::{Store, StoreError};

use crate::error::ApiError;
use crate::pipeline::{Context, authenticate, record};
use crate::state::AppState;
use crate::upstream::Endpoint;

/// Runs a store call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let s = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// What a batch input file may hold: `[batch] max_lines` requests, each no
/// larger than a request's body may be (`[server] max_body_bytes`).
pub(crate) fn limits(state: &AppState, b: &Batches) -> proviso_batch::Limits {
    proviso_batch::Limits {
        max_lines: b.config.max_lines,
        max_line_bytes: state.config.server.max_body_bytes,
    }
}

/// Now, in Unix seconds.
pub(crate) fn now_s(state: &AppState) -> i64 {
    state.clock.now().0 / 1000
}

/// A request to the Batch API: who asks, and the context its refusal is
/// recorded with.
pub(crate) struct Caller {
    pub ctx: Context,
    pub key: Arc<KeyRecord>,
    pub batches: Arc<Batches>,
}

/// Authenticates a Batch API request, or gives the answer to send (the
/// refusal, recorded). With `[batch] enabled = false` the Batch API is
/// refused as unsupported.
pub(crate) async fn caller(
    state: &AppState,
    endpoint: Endpoint,
    headers: &HeaderMap,
    peer: Option<String>,
) -> Result<Caller, axum::response::Response> {
    let mut ctx = Context::new(endpoint, state.clock.now());
    ctx.client = crate::pipeline::client(state, headers, peer);
    let Some(batches) = state.batches.clone() else {
        let family = if endpoint == Endpoint::Files {
            "Files"
        } else {
            "Batch"
        };
        use axum::response::IntoResponse as _;
        return Err(ApiError::unsupported_endpoint(endpoint.path(), family).into_response());
    };
    match authenticate::run(state, &mut ctx, headers).await {
        Ok(key) => Ok(Caller { ctx, key, batches }),
        Err(e) => Err(record::refuse(state, &mut ctx, e).await),
    }
}

/// The answer to a caller: `out`, or its refusal, recorded.
pub(crate) async fn answer(
    state: &AppState,
    mut c: Caller,
    out: Result<axum::response::Response, ApiError>,
) -> axum::response::Response {
    match out {
        Ok(resp) => resp,
        Err(e) => record::refuse(state, &mut c.ctx, e).await,
    }
}

/// `limit` and `after` of a list request (`limit` 1 to 100, default 20).
pub(crate) fn page(query: Option<&str>) -> Result<(usize, Option<String>), ApiError> {
    let mut limit = 20usize;
    let mut after = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| ApiError::invalid_field("limit", "expected 1 to 100"))?;
            }
            "after" if !v.is_empty() => after = Some(v.to_owned()),
            _ => {}
        }
    }
    Ok((limit, after))
}

/// An OpenAI list page of `items`, read one beyond `limit` to know whether
/// there are more.
pub(crate) fn page_of<T>(
    mut items: Vec<T>,
    limit: usize,
    object: impl Fn(&T) -> serde_json::Value,
) -> serde_json::Value {
    let more = items.len() > limit;
    items.truncate(limit);
    list(items.iter().map(object).collect(), more)
}

/// An OpenAI list page.
fn list(data: Vec<serde_json::Value>, more: bool) -> serde_json::Value {
    let first = data.first().and_then(|v| v.get("id")).cloned();
    let last = data.last().and_then(|v| v.get("id")).cloned();
    serde_json::json!({
        "object": "list",
        "data": data,
        "first_id": first,
        "last_id": last,
        "has_more": more,
    })
}
