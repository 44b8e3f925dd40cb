//! Where CPU-heavy work on a request body runs: inline for a small body,
//! on the blocking pool for a large one, so that one large request cannot
//! hold an async worker (and `/healthz`, and every other request on it).
//! Used by the parse, quota, desensitize and record stages.

use crate::error::ApiError;

/// Bodies at least this large are parsed, counted and masked on the
/// blocking pool, so that one large request cannot hold an async worker
/// (and `/healthz`, and every other request on it) while it is worked on.
const OFFLOAD_BYTES: usize = 64 * 1024;

/// Whether a body of `size` bytes is worked on off the async workers.
pub fn is_large(size: usize) -> bool {
    size >= OFFLOAD_BYTES
}

/// Runs `f` inline for a small body, else on the blocking pool.
pub async fn offload<T: Send + 'static>(
    size: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    if is_large(size) {
        on_blocking_pool(f).await
    } else {
        Ok(f())
    }
}

/// Runs `f` on the blocking pool.
pub async fn on_blocking_pool<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a worker failed: {e}")))
}
