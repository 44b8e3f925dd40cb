//! Stage 3: which deployments serve the requested model.

use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::Deployment;

/// The deployments for `model`, or 404.
pub fn run(state: &AppState, model: &str) -> Result<Vec<Deployment>, ApiError> {
    let deps = state.upstreams.resolve(model);
    if deps.is_empty() {
        return Err(ApiError::model_not_found(model));
    }
    Ok(deps)
}
