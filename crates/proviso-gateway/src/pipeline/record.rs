//! Stage: record the exchange in the ledger. A response is released only
//! after its record is committed; if the ledger cannot write, the client
//! gets 503 `ledger_unavailable` instead (fail closed).

use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use proviso_access::limits::Unit;
use proviso_ledger::{Receipt, Record};

use crate::error::ApiError;
use crate::events::RequestFinished;
use crate::pipeline::Context;
use crate::state::AppState;

/// Refuses early when the ledger is known to be failing, so nothing leaves
/// for an upstream that could not be recorded.
pub fn ensure_writable(state: &AppState) -> Result<(), ApiError> {
    if state.ledger.is_healthy() {
        return Ok(());
    }
    let why = state
        .ledger
        .last_error()
        .unwrap_or_else(|| "ledger unavailable".into());
    Err(ApiError::ledger_unavailable(&why))
}

/// Appends and waits for the commit.
pub async fn commit(state: &AppState, record: Record) -> Result<Receipt, ApiError> {
    match state.ledger.append(record).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(ApiError::ledger_unavailable(&e.to_string())),
        Err(_) => Err(ApiError::ledger_unavailable("the ledger writer stopped")),
    }
}

/// Counts and logs a finished request.
pub fn emit(
    state: &AppState,
    ctx: &Context,
    status: u16,
    code: Option<&str>,
    upstream: Option<Duration>,
) {
    let model = match ctx.model.as_deref() {
        Some(m) if state.upstreams.is_named(m) => m,
        Some(_) => "other",
        None => "none",
    };
    RequestFinished {
        record_id: &ctx.id.to_string(),
        endpoint: ctx.endpoint.label(),
        model,
        team: ctx.team(),
        status,
        code,
        total: ctx.started.elapsed(),
        upstream,
        stream: ctx.stream,
    }
    .emit(&state.metrics);
}

/// Adds `x-proviso-record-id` and, when quotas apply, OpenAI's
/// `x-ratelimit-*` headers for the most constrained request and token
/// limits.
pub fn tag(resp: &mut Response, ctx: &Context) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ctx.id.to_string()) {
        h.insert("x-proviso-record-id", v);
    }
    if let Some(v) = ctx
        .notice
        .as_deref()
        .and_then(|n| HeaderValue::from_str(n).ok())
    {
        h.insert("proviso-notice", v);
    }
    for (unit, name) in [(Unit::Requests, "requests"), (Unit::Tokens, "tokens")] {
        let tightest = ctx
            .limit_states
            .iter()
            .filter(|s| s.unit == unit)
            .min_by_key(|s| s.remaining);
        if let Some(s) = tightest {
            let pairs = [
                (format!("x-ratelimit-limit-{name}"), s.limit.to_string()),
                (
                    format!("x-ratelimit-remaining-{name}"),
                    s.remaining.to_string(),
                ),
                (
                    format!("x-ratelimit-reset-{name}"),
                    crate::quota::format_reset(s.reset_ms),
                ),
            ];
            for (k, v) in pairs {
                if let (Ok(k), Ok(v)) = (
                    axum::http::HeaderName::try_from(k),
                    HeaderValue::from_str(&v),
                ) {
                    h.insert(k, v);
                }
            }
        }
    }
}

/// Records a refused or failed request and answers with `err` (or with 503
/// if even that cannot be recorded).
pub async fn refuse(state: &AppState, ctx: &Context, err: ApiError) -> Response {
    let err = match commit(state, ctx.error_record(&err)).await {
        Ok(_) => err,
        Err(ledger_err) => ledger_err,
    };
    emit(state, ctx, err.status.as_u16(), Some(err.code), None);
    let mut resp = err.into_response();
    tag(&mut resp, ctx);
    resp
}
