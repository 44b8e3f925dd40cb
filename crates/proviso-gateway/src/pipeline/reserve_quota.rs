//! Stage: reserve quota. Counts the prompt with the model's tokenizer,
//! adds the completion allowance, and charges every limit of the key and
//! its team at once (all or nothing).

use std::sync::Arc;

use crate::error::ApiError;
use crate::pipeline::{Admitted, Context};
use crate::quota::QuotaError;
use crate::state::AppState;

/// Charges the request, or refuses with 429 (or 503 when Redis is down and
/// the configuration says fail closed).
pub async fn run(state: &AppState, ctx: &mut Context, who: &Admitted) -> Result<(), ApiError> {
    let key = &who.key;
    let path = ctx.endpoint.path();
    let plan = if crate::pipeline::offload::is_large(ctx.request_text.len()) {
        // Counting a large prompt's tokens is CPU work: off the async
        // workers (the key, shared, and the body go there and back).
        let (quotas, key, model) = (state.quotas.clone(), Arc::clone(key), who.model.clone());
        let body = std::mem::take(&mut ctx.body);
        let (plan, body) = crate::pipeline::offload::on_blocking_pool(move || {
            let plan = quotas.plan(&key, &model, path, &body);
            (plan, body)
        })
        .await?;
        ctx.body = body;
        plan
    } else {
        state.quotas.plan(key, &who.model, path, &ctx.body)
    };
    reserve_plan(state, ctx, plan).await
}

/// Charges `plan` (a request's, or a whole batch's) into `ctx`, or refuses.
pub(crate) async fn reserve_plan(
    state: &AppState,
    ctx: &mut Context,
    plan: crate::quota::Plan,
) -> Result<(), ApiError> {
    if plan.is_empty() {
        return Ok(());
    }
    ctx.counted_prompt_tokens = Some(plan.prompt_tokens);
    match state.quotas.reserve(plan).await {
        Ok(r) => {
            ctx.limit_states = r.states.clone();
            ctx.reservation = Some(r);
            Ok(())
        }
        Err(QuotaError::Refused(r)) if r.budget => {
            Err(ApiError::budget_exceeded(&r.label, r.retry_after_ms))
        }
        Err(QuotaError::Refused(r)) => {
            let tokens = r.unit == proviso_access::limits::Unit::Tokens;
            Err(ApiError::rate_limited(
                &r.label,
                r.retry_after_ms,
                r.never,
                tokens,
            ))
        }
        Err(QuotaError::Unavailable(e)) => Err(ApiError::quota_unavailable(&e)),
    }
}
