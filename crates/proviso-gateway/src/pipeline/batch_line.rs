//! One line of a batch checked as a request would be, by the same stages:
//! parse (the body's fields), route, check policy (with the purpose the
//! batch's submission declares), the quota's plan (charged once for the
//! whole batch by the caller) and desensitize. Nothing is sent and nothing
//! is recorded here: the batch is refused whole if any line is.

use std::sync::Arc;

use axum::http::HeaderMap;
use proviso_access::KeyRecord;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::pipeline::{Admitted, Context, check_policy, desensitize, parse, route};
use crate::quota::Plan;
use crate::state::AppState;
use crate::upstream::{Deployment, Endpoint};

/// A line that would be allowed, as it is to be sent.
pub struct CheckedLine {
    /// The body as it leaves (masked where the policy asks).
    pub body: Map<String, Value>,
    /// The model the line names.
    pub model: String,
    /// The deployments the policy allows for it, in order.
    pub deployments: Vec<Deployment>,
    /// Its quota charges.
    pub plan: Plan,
    /// The placeholders put in, for restoring its answer.
    pub session: Option<proviso_redact::Session>,
    /// What desensitize did (the record's `detail.desensitized`).
    pub redaction: Option<Value>,
    /// The declared or implied purpose.
    pub purpose: Option<String>,
    /// The policy's decision.
    pub decision: Option<proviso_policy::Decision>,
}

/// Checks one line's `body` for `endpoint`, as a request by `key` with the
/// submission's `headers` (its declared purpose).
pub async fn check(
    state: &AppState,
    key: &Arc<KeyRecord>,
    headers: &HeaderMap,
    endpoint: Endpoint,
    body: Map<String, Value>,
) -> Result<CheckedLine, ApiError> {
    let mut ctx = Context::new(endpoint, state.clock.now());
    ctx.key = Some(Arc::clone(key));
    let p = parse::check_map(endpoint, body, None).map_err(|r| r.error)?;
    if p.stream {
        return Err(ApiError::invalid_field(
            "stream",
            "a batch's requests are answered whole: leave stream out",
        ));
    }
    if endpoint == Endpoint::Responses
        && ["previous_response_id", "conversation"]
            .iter()
            .any(|f| p.body.get(*f).is_some_and(|v| !v.is_null()))
    {
        return Err(ApiError::invalid_field(
            "previous_response_id",
            "a batch's responses cannot go on from earlier state: send the earlier turns as input items",
        ));
    }
    ctx.request_text = Value::Object(p.body.clone()).to_string();
    ctx.model = Some(p.model.clone());
    ctx.body = p.body;
    let who = Admitted {
        key: Arc::clone(key),
        model: p.model,
    };
    let deployments = route::run(state, &who.model)?;
    let deployments = check_policy::run(state, &mut ctx, &who, headers, deployments)?;
    let plan = state
        .quotas
        .plan(key, &who.model, endpoint.path(), &ctx.body);
    desensitize::run(state, &mut ctx).await?;
    Ok(CheckedLine {
        body: std::mem::take(&mut ctx.body),
        model: who.model,
        deployments,
        plan,
        session: ctx.session.take(),
        redaction: ctx.redaction.take(),
        purpose: ctx.purpose.take(),
        decision: ctx.decision.take(),
    })
}
