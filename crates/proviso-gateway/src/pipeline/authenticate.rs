//! Stage 1: who is calling. `Authorization: Bearer <key>` or `api-key: <key>`.

use crate::error::ApiError;
use crate::pipeline::Context;
use crate::state::AppState;
use axum::http::HeaderMap;

/// Puts the caller's key into `ctx` (also a revoked one, so the refusal
/// is recorded against it), or answers 401.
pub fn run(state: &AppState, ctx: &mut Context, headers: &HeaderMap) -> Result<(), ApiError> {
    let secret = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let v = v.trim();
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(ApiError::missing_key)?;
    let key = state
        .keys
        .lookup(secret)
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::invalid_key)?;
    let usable = key.state.is_usable();
    let err = (!usable).then(|| ApiError::key_revoked(&key.id.0, key.reason.as_deref()));
    ctx.key = Some(key);
    err.map_or(Ok(()), Err)
}
