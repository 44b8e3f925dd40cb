//! Stage 3: which deployments serve the requested model.

use serde_json::Value;

use crate::error::ApiError;
use crate::pipeline::Context;
use crate::state::AppState;
use crate::upstream::{Deployment, Endpoint};

/// A Responses API turn that names earlier state upstream goes only where
/// that state is, and only for the key that made it: `previous_response_id`
/// must be a response this key created through this gateway (else 404,
/// recorded), and the request goes to the deployment that stored it (if the
/// policy allowed that one). `conversation` objects and `item_reference`
/// input items, which name upstream state this gateway does not track, are
/// refused.
pub fn follow_previous(
    state: &AppState,
    ctx: &Context,
    key: &str,
    deployments: Vec<Deployment>,
) -> Result<Vec<Deployment>, ApiError> {
    if ctx.endpoint != Endpoint::Responses {
        return Ok(deployments);
    }
    if ctx.body.get("conversation").is_some_and(|v| !v.is_null()) {
        return Err(ApiError::invalid_field(
            "conversation",
            "conversation objects are not governed by this gateway: send previous_response_id or the earlier turns as input items",
        ));
    }
    let referenced = ctx
        .body
        .get("input")
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items
                .iter()
                .any(|i| i.get("type").and_then(Value::as_str) == Some("item_reference"))
        });
    if referenced {
        return Err(ApiError::invalid_field(
            "input",
            "item_reference input items name stored items this gateway does not track: send the items themselves",
        ));
    }
    let Some(prev) = ctx.body.get("previous_response_id").and_then(Value::as_str) else {
        return Ok(deployments);
    };
    let stored = state
        .conversations
        .stored(prev, key)
        .ok_or_else(|| ApiError::response_not_found_as(prev, "previous_response_id"))?;
    let up = &stored.deployment.upstream.name;
    let kept: Vec<Deployment> = deployments
        .into_iter()
        .filter(|d| &d.upstream.name == up && d.model == stored.deployment.model)
        .collect();
    if kept.is_empty() {
        return Err(ApiError::invalid_field(
            "previous_response_id",
            &format!(
                "the earlier turns are held by upstream '{up}', which this request may not use"
            ),
        ));
    }
    Ok(kept)
}

/// The deployments for `model`, or 404.
pub fn run(state: &AppState, model: &str) -> Result<Vec<Deployment>, ApiError> {
    let deps = state.upstreams.resolve(model);
    if deps.is_empty() {
        return Err(ApiError::model_not_found(model));
    }
    Ok(deps)
}
