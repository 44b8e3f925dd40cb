//! Stage 1: who is calling. `Authorization: Bearer <key>` or `api-key: <key>`.

use std::sync::Arc;

use proviso_access::{KeyRecord, KeyState};

use crate::error::ApiError;
use crate::key_cache::Cached;
use crate::pipeline::Context;
use crate::pipeline::offload::on_blocking_pool;
use crate::state::AppState;
use axum::http::HeaderMap;

/// The caller's usable key, or 401 (or 403 for a suspended key). The key is
/// put into `ctx` in any state, so a refusal is recorded against it. A key
/// not in the cache is looked up on the blocking pool (the store may be a
/// database a network away), at most `MAX_ASKING` at once.
pub async fn run(
    state: &AppState,
    ctx: &mut Context,
    headers: &HeaderMap,
) -> Result<Arc<KeyRecord>, ApiError> {
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
    let store_error = |e| match e {
        proviso_access::AccessError::Unavailable(why) => ApiError::key_store_unavailable(&why),
        e => ApiError::internal(e),
    };
    let key = match state.keys.cached(secret).map_err(store_error)? {
        Cached::Known(k) => k,
        Cached::Ask(hash) => {
            let turn = state.keys.turn_to_ask().map_err(store_error)?;
            let keys = Arc::clone(&state.keys);
            on_blocking_pool(move || {
                let _turn = turn;
                keys.fetch(&hash)
            })
            .await?
            .map_err(store_error)?
        }
    }
    .ok_or_else(ApiError::invalid_key)?;
    // Only the holder of an active key may move a simulated clock (the
    // key's state is then judged at the new time).
    if key.effective_state(ctx.time) == KeyState::Active
        && let Some(t) = sim_time(state, headers)
    {
        ctx.set_time(t);
    }
    let err = match key.effective_state(ctx.time) {
        KeyState::Active => None,
        KeyState::Suspended => Some(ApiError::key_suspended(
            &key.id.0,
            key.reason.as_deref(),
            key.reason_ref.as_deref(),
        )),
        KeyState::Expired => Some(ApiError::key_expired(&key.id.0)),
        KeyState::Revoked => Some(ApiError::key_revoked(&key.id.0, key.reason.as_deref())),
        // Pending and denied keys have no secret; a match means the store
        // was edited by hand. Refuse.
        KeyState::Pending | KeyState::Denied => Some(ApiError::invalid_key()),
    };
    if let Some(m) = &state.monitor {
        ctx.notice = m.notice(&key.id.0);
    }
    ctx.key = Some(Arc::clone(&key));
    err.map_or(Ok(key), Err)
}

/// Moves a simulated clock forward to the request's `Proviso-Sim-Time`
/// (milliseconds since the epoch) and gives the time now. Called only once
/// the caller holds a valid key (see `authenticate`), so an anonymous client
/// cannot move the gateway's time; with the system clock it does nothing.
fn sim_time(state: &AppState, headers: &HeaderMap) -> Option<proviso_types::UnixMillis> {
    if !state.clock.is_simulated() {
        return None;
    }
    let t = headers
        .get("proviso-sim-time")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())?;
    Some(state.clock.advance_to(proviso_types::UnixMillis(t)))
}
