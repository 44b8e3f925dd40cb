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

/// Counts and logs a request that ended with `err`.
pub fn emit_error(state: &AppState, ctx: &Context, err: &ApiError) {
    emit(
        state,
        ctx,
        err.status.as_u16(),
        Some(err.code.as_str()),
        None,
    );
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
                    crate::error::format_reset(s.reset_ms),
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
pub async fn refuse(state: &AppState, ctx: &mut Context, err: ApiError) -> Response {
    // Without a known key, a flood from one address is recorded in part and
    // summarised (crate::flood): it must not be able to fill the disk.
    if ctx.key.is_none() {
        let (admit, closed) = state
            .flood
            .admit(ctx.client.as_deref(), err.code.as_str(), ctx.time);
        if let Some(summary) = closed {
            state.ledger.submit(summary);
        }
        if !admit {
            // Counted for the summary record, not recorded on its own: no
            // record id to give.
            emit_error(state, ctx, &err);
            return err.into_response();
        }
    }
    let mut rec = ctx.error_record(&err);
    if let Some(masked) = refused_body(state, ctx).await {
        rec.request = masked;
    }
    let err = match commit(state, rec).await {
        Ok(_) => err,
        Err(ledger_err) => ledger_err,
    };
    emit_error(state, ctx, &err);
    let mut resp = err.into_response();
    tag(&mut resp, ctx);
    resp
}

/// Whether a request of `key` may be masked by some rule (or `[redact]
/// always`): a rule with effect `desensitize` whose teams and keys admit it.
/// Without a key (refused before authentication), any such rule counts.
fn may_mask(state: &AppState, key: Option<&proviso_access::KeyRecord>) -> bool {
    if state.config.redact.always {
        return true;
    }
    // Teams and keys are globs in rules, as the policy matches them.
    let any = |pats: &Option<Vec<String>>, v: &str| {
        pats.as_ref()
            .is_none_or(|p| p.iter().any(|p| proviso_policy::glob_match(p, v)))
    };
    state.policy.rules().iter().any(|r| {
        r.effect == proviso_policy::Effect::Desensitize
            && key.is_none_or(|k| any(&r.teams, &k.team) && any(&r.keys, &k.id.0))
    })
}

/// The body a refusal is recorded with, when it must not be the body as
/// received: a request refused before the desensitize stage (bad JSON, a
/// missing field, an unknown model, a policy refusal, a quota) of a key a
/// masking rule could apply to is recorded with every string masked for
/// every entity type (parsed, so JSON escapes such as `\u0040` are seen as
/// the characters they stand for), and a body that is not JSON as its size
/// and SHA-256 only, so the append-only ledger never keeps what a rule said
/// to mask. `None`: record the body as it is (already masked, empty, or
/// nothing to mask for this key). A body that was parsed (refused after
/// the parse stage) is masked as parsed, not parsed again.
async fn refused_body(state: &AppState, ctx: &mut Context) -> Option<String> {
    if ctx.redaction.is_some()
        || ctx.request_text.is_empty()
        || !may_mask(state, ctx.key.as_deref())
    {
        return None;
    }
    let st = state.clone();
    let parsed = std::mem::take(&mut ctx.body);
    let text = if parsed.is_empty() {
        ctx.request_text.clone()
    } else {
        String::new()
    };
    let digest = || {
        use sha2::{Digest, Sha256};
        format!(
            "(body withheld: {} bytes, not JSON; sha256 {})",
            ctx.request_text.len(),
            hex::encode(Sha256::digest(ctx.request_text.as_bytes()))
        )
    };
    let masked = crate::pipeline::offload::offload(ctx.request_text.len(), move || {
        let body = if parsed.is_empty() {
            let Ok(serde_json::Value::Object(body)) = serde_json::from_str(&text) else {
                return None;
            };
            body
        } else {
            parsed
        };
        let (body, _, _) = crate::pipeline::desensitize::mask_body(
            &st.redactor,
            body,
            Some(proviso_redact::EntityKind::ALL.as_slice()),
        );
        Some(serde_json::Value::Object(body).to_string())
    })
    .await;
    Some(masked.ok().flatten().unwrap_or_else(digest))
}
