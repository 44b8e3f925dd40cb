//! The request path. [`run`] calls the stages in the order of docs/design.md;
//! each stage is a plain function over the shared state and the context.
//!
//! ```text
//! authenticate → parse → route → check policy → reserve quota → desensitize →
//! (ledger writable?) → call upstream → read the answer | relay the stream
//! (restoring as it goes) → finish (settle quota → record) → release the
//! answer (restored) | close the stream → observe
//! ```
//! Observe hands each committed exchange to the monitor's queue, from the
//! ledger's writer thread (see [`observe`]).

pub(crate) mod authenticate;
pub(crate) mod batch_line;
mod call_upstream;
pub mod check_policy;
mod context;
pub mod desensitize;
pub mod observe;
mod offload;
pub mod parse;
pub(crate) mod record;
mod relay_stream;
pub(crate) mod reserve_quota;
pub(crate) mod respond;
pub(crate) mod restore;
pub(crate) mod route;
mod settle_quota;
pub mod stored;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

pub use context::{Admitted, Context, Ended, Ending};

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
    run_for_model(state, endpoint, headers, body, peer, None).await
}

/// [`run`] for a route that names the model itself (Azure's
/// `/openai/deployments/{deployment}/…`): it replaces the body's `model`.
pub async fn run_for_model(
    state: AppState,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
    peer: Option<String>,
    route_model: Option<String>,
) -> Response {
    let mut ctx = Context::new(endpoint, state.clock.now());
    ctx.route_model = route_model;
    ctx.client = client(&state, &headers, peer);
    let answer = match before_upstream(&state, &mut ctx, &headers, body).await {
        Ok(answer) => answer,
        Err(e) => return refuse(&state, &mut ctx, e).await,
    };
    if ctx.stream && answer.resp.status().is_success() {
        // The stream's text reaches the client chunk by chunk, so the
        // exchange is recorded as opened before its first byte: a crash
        // mid-stream still leaves a trace (`ledger verify` lists it).
        let opened = ctx.opened_record();
        let opened_id = opened.id;
        if let Err(e) = record::commit(&state, opened).await {
            return refuse(&state, &mut ctx, e).await;
        }
        ctx.opened = Some(opened_id);
        let (resp, relay) = relay_stream::start(&ctx, answer);
        tokio::spawn(async move {
            let (ended, closing) = relay.run(&state, &mut ctx).await;
            let code = ended.ending.error.as_ref().map(|(c, _)| c.clone());
            let committed = finish(&state, &mut ctx, ended).await;
            relay_stream::close(&state, &ctx, closing, code, committed).await;
        });
        return resp;
    }
    let (ended, held) = match respond::read(&state, &mut ctx, answer).await {
        Ok(read) => read,
        Err(e) => return refuse(&state, &mut ctx, e).await,
    };
    let status = ended.ending.status;
    if let Err(e) = finish(&state, &mut ctx, ended).await {
        // The writer keeps the record (marked withheld) for retry: answering
        // through `refuse` would record this exchange twice.
        record::emit_error(&state, &ctx, &e);
        let mut resp = e.into_response();
        record::tag(&mut resp, &ctx);
        return resp;
    }
    record::emit(&state, &ctx, status, None, ctx.upstream_elapsed);
    respond::release(&ctx, held)
}

/// Settles the quota with what the exchange used and commits its record;
/// the answer is released only after this returns `Ok`.
async fn finish(
    state: &AppState,
    ctx: &mut Context,
    ended: Ended,
) -> Result<proviso_ledger::Receipt, ApiError> {
    settle_quota::run(ctx, ended.charge);
    record::commit(state, ctx.record(ended.outcome, ended.ending)).await
}

/// Returns a request's reservation unused (it was refused).
pub(crate) fn settle_nothing_used(ctx: &mut Context) {
    settle_quota::nothing_used(ctx);
}

/// Records a request that ends with `e` before any answer was released
/// (it used no tokens) and answers with it.
async fn refuse(state: &AppState, ctx: &mut Context, e: ApiError) -> Response {
    settle_quota::nothing_used(ctx);
    record::refuse(state, ctx, e).await
}

async fn before_upstream(
    state: &AppState,
    ctx: &mut Context,
    headers: &HeaderMap,
    body: Body,
) -> Result<call_upstream::Answer, ApiError> {
    // Authenticate first: an unknown caller learns nothing about the body
    // or the models, and its body is not read.
    let key = authenticate::run(state, ctx, headers).await?;
    let model = parse::run(
        ctx,
        body,
        state.config.server.max_body_bytes,
        std::time::Duration::from_millis(state.config.server.body_read_timeout_ms.max(1)),
    )
    .await?;
    // Routing only looks the model up; the policy needs to know where the
    // request would go (upstream, kind, region) and drops what it refuses.
    let who = Admitted { key, model };
    let deployments = route::run(state, &who.model)?;
    let deployments = check_policy::run(state, ctx, &who, headers, deployments)?;
    let deployments = route::follow_previous(state, ctx, &who.key.id.0, deployments)?;
    reserve_quota::run(state, ctx, &who).await?;
    desensitize::run(state, ctx).await?;
    // Fail closed before anything leaves: an exchange that could not be
    // recorded must not reach an upstream.
    record::ensure_writable(state)?;
    call_upstream::run(state, ctx, &deployments).await
}

/// The client's address: with `trust_forwarded_for`, when the TCP peer is a
/// trusted proxy, the rightmost `X-Forwarded-For` hop that is not one (each
/// proxy appends the address it saw; everything left of the last trusted
/// proxy's entry is the client's to write). Otherwise the TCP peer.
pub(crate) fn client(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<String>,
) -> Option<String> {
    let trusted = &state.trusted_proxies;
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|c| c.contains(ip));
    let peer_ip = peer.as_deref().and_then(|p| p.parse().ok());
    if !state.config.server.trust_forwarded_for || !peer_ip.is_some_and(is_trusted) {
        return peer;
    }
    let mut client = peer;
    for v in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(v) = v.to_str() else { return client };
        for hop in v.rsplit(',').map(str::trim) {
            // An address, or an address with a port (`1.2.3.4:5678`,
            // `[2001:db8::1]:443`) as some proxies write it.
            let ip = hop
                .parse::<std::net::IpAddr>()
                .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|a| a.ip()));
            match ip {
                Ok(ip) if is_trusted(ip) => client = Some(ip.to_string()),
                Ok(ip) => return Some(ip.to_string()),
                // Not an address: what lies beyond cannot be trusted.
                Err(_) => return client,
            }
        }
    }
    client
}

/// `/v1/models`: the models this key may use. Not recorded unless refused
/// (nothing leaves for an upstream).
pub async fn list_models(state: AppState, headers: HeaderMap) -> Result<Vec<String>, Response> {
    let mut ctx = Context::new(Endpoint::Models, state.clock.now());
    match authenticate::run(&state, &mut ctx, &headers).await {
        Ok(key) => {
            record::emit(&state, &ctx, 200, None, None);
            let scope = &key.models;
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
        Err(e) => Err(record::refuse(&state, &mut ctx, e).await),
    }
}
