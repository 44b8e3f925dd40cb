//! Stage 1: who is calling. `Authorization: Bearer <key>` or `api-key: <key>`.

use axum::http::HeaderMap;
use proviso_access::KeyRecord;

use crate::error::ApiError;
use crate::state::AppState;

/// The caller's key, or 401.
pub fn run(state: &AppState, headers: &HeaderMap) -> Result<KeyRecord, ApiError> {
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
    if !key.state.is_usable() {
        return Err(ApiError::key_revoked(&key.id.0, key.reason.as_deref()));
    }
    Ok(key)
}
