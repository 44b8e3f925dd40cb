//! The request path. [`run`] calls the stages in the order of DESIGN.md;
//! each stage is a plain function over the shared state and the context.
//!
//! ```text
//! authenticate → parse → route → check policy → reserve quota → desensitize →
//! (ledger writable?) → call upstream → respond | relay stream (each restores)
//!   → settle quota → record → observe
//! ```
//! Observe hands each committed exchange to the monitor's queue, from the
//! ledger's writer thread (see [`observe`]).

mod authenticate;
mod call_upstream;
pub mod check_policy;
mod context;
mod desensitize;
pub mod observe;
mod parse;
mod record;
mod relay_stream;
mod reserve_quota;
mod respond;
mod restore;
mod route;
mod settle_quota;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;

pub use context::{Context, Ending};

use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::Endpoint;

/// Handles one proxied request from arrival to response.
pub async fn run(
    state: AppState,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
    peer: Option<String>,
) -> Response {
    let mut ctx = Context::new(endpoint, now(&state, &headers));
    ctx.client = client(&state, &headers, peer);
    match before_upstream(&state, &mut ctx, &headers, body).await {
        Err(e) => {
            settle_quota::nothing_used(&mut ctx);
            record::refuse(&state, &ctx, e).await
        }
        Ok(answer) if ctx.stream && answer.resp.status().is_success() => {
            relay_stream::run(state, ctx, answer)
        }
        Ok(answer) => match respond::run(&state, &mut ctx, answer).await {
            Ok(r) => r,
            Err(e) => {
                settle_quota::nothing_used(&mut ctx);
                record::refuse(&state, &ctx, e).await
            }
        },
    }
}

async fn before_upstream(
    state: &AppState,
    ctx: &mut Context,
    headers: &HeaderMap,
    body: Body,
) -> Result<call_upstream::Answer, ApiError> {
    // Authenticate first: an unknown caller learns nothing about the body
    // or the models, and its body is not read.
    authenticate::run(state, ctx, headers)?;
    parse::run(ctx, body, state.config.server.max_body_bytes).await?;
    // Routing only looks the model up; the policy needs to know where the
    // request would go (upstream, kind, region) and drops what it refuses.
    let deployments = route::run(state, ctx)?;
    let deployments = check_policy::run(state, ctx, headers, deployments)?;
    reserve_quota::run(state, ctx).await?;
    desensitize::run(state, ctx);
    // Fail closed before anything leaves: an exchange that could not be
    // recorded must not reach an upstream.
    record::ensure_writable(state)?;
    call_upstream::run(state, ctx, &deployments).await
}

/// The request's time: the gateway's clock, moved forward first by a
/// `Proviso-Sim-Time` header (milliseconds since the epoch) when the clock is
/// simulated.
fn now(state: &AppState, headers: &HeaderMap) -> proviso_types::UnixMillis {
    if state.clock.is_simulated()
        && let Some(t) = headers
            .get("proviso-sim-time")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    {
        return state.clock.advance_to(proviso_types::UnixMillis(t));
    }
    state.clock.now()
}

/// The client's address: the first `X-Forwarded-For` hop behind a trusted
/// proxy, else the TCP peer.
fn client(state: &AppState, headers: &HeaderMap, peer: Option<String>) -> Option<String> {
    if state.config.server.trust_forwarded_for {
        let hop = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 64);
        if let Some(h) = hop {
            return Some(h.to_owned());
        }
    }
    peer
}

/// Appends an administrative event and waits for the commit.
pub async fn record_event(state: &AppState, rec: proviso_ledger::Record) -> Result<(), ApiError> {
    record::commit(state, rec).await.map(|_| ())
}

/// `/v1/models`: the models this key may use. Not recorded unless refused
/// (nothing leaves for an upstream).
pub async fn list_models(state: AppState, headers: HeaderMap) -> Result<Vec<String>, Response> {
    let mut ctx = Context::new(Endpoint::Models, now(&state, &headers));
    match authenticate::run(&state, &mut ctx, &headers) {
        Ok(()) => {
            record::emit(&state, &ctx, 200, None, None);
            let scope = ctx
                .key
                .as_ref()
                .map(|k| k.models.clone())
                .unwrap_or_default();
            Ok(state
                .upstreams
                .model_names()
                .iter()
                .filter(|m| {
                    scope.is_empty() || scope.iter().any(|p| proviso_policy::glob_match(p, m))
                })
                .cloned()
                .collect())
        }
        Err(e) => Err(record::refuse(&state, &ctx, e).await),
    }
}
