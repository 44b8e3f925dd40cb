//! Stage 3: which deployments serve the requested model.

use crate::error::ApiError;
use crate::pipeline::Context;
use crate::state::AppState;
use crate::upstream::Deployment;

/// The deployments for `ctx.model`, or 404.
pub fn run(state: &AppState, ctx: &Context) -> Result<Vec<Deployment>, ApiError> {
    let model = ctx.model.as_deref().unwrap_or_default();
    let deps = state.upstreams.resolve(model);
    if deps.is_empty() {
        return Err(ApiError::model_not_found(model));
    }
    Ok(deps)
}
