//! A key's batches: read back (`GET /v1/batches/{id}`), listed
//! (`GET /v1/batches`, newest first) and cancelled
//! (`POST /v1/batches/{id}/cancel`, asked of the upstream; the lines that
//! did not run are recorded as such when the batch ends). Another key's
//! batch is not found.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use proviso_batch::{Batch, BatchStatus};
use proviso_ledger::Record;
use proviso_types::RecordId;
use serde_json::json;

use crate::batch::{Caller, answer, blocking, caller, now_s, page, page_of, upstream};
use crate::error::ApiError;
use crate::pipeline::record;
use crate::state::AppState;
use crate::upstream::Endpoint;

/// The ledger event of a cancel asked for.
pub const CANCEL_EVENT: &str = "batch.cancel_requested";

async fn owned(c: &Caller, id: &str) -> Result<Batch, ApiError> {
    let key = c.key.id.0.clone();
    let want = id.to_owned();
    blocking(&c.batches.store, move |st| st.batch(&want))
        .await?
        .filter(|b| b.key_id == key)
        .ok_or_else(|| ApiError::object_not_found("batch", id, "batch_id"))
}

/// `GET /v1/batches/{id}`.
pub(crate) async fn get_batch(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let peer = crate::handlers::peer(&req);
    let c = match caller(&s, Endpoint::Batches, req.headers(), peer).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let out = async { Ok(Json(owned(&c, &id).await?.object()).into_response()) }.await;
    answer(&s, c, out).await
}

/// `GET /v1/batches`.
pub(crate) async fn list_batches(
    State(s): State<AppState>,
    req: axum::extract::Request,
) -> Response {
    let query = req.uri().query().map(str::to_owned);
    let peer = crate::handlers::peer(&req);
    let c = match caller(&s, Endpoint::Batches, req.headers(), peer).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let out = async {
        let (limit, after) = page(query.as_deref())?;
        let key = c.key.id.0.clone();
        let found = blocking(&c.batches.store, move |st| {
            st.batches(&key, after.as_deref(), limit + 1)
        })
        .await?;
        Ok(Json(page_of(found, limit, Batch::object)).into_response())
    }
    .await;
    answer(&s, c, out).await
}

/// `POST /v1/batches/{id}/cancel`.
pub(crate) async fn cancel_batch(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Response {
    let peer = crate::handlers::peer(&req);
    let c = match caller(&s, Endpoint::Batches, req.headers(), peer).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let out = async { Ok(Json(cancel(&s, &c, &id).await?.object()).into_response()) }.await;
    answer(&s, c, out).await
}

async fn cancel(s: &AppState, c: &Caller, id: &str) -> Result<Batch, ApiError> {
    owned(c, id).await?;
    // The poller does not change the batch meanwhile; read it again under
    // the lock.
    let lock = c.batches.lock_of(id);
    let _held = lock.lock().await;
    let mut b = owned(c, id).await?;
    if b.status.is_terminal() || b.upstream_status.is_some_and(BatchStatus::is_terminal) {
        return Err(ApiError::batch_ended(id, b.status.as_str()));
    }
    if b.status == BatchStatus::Cancelling {
        return Ok(b);
    }
    let up = s
        .upstreams
        .by_name(&b.upstream)
        .ok_or_else(|| ApiError::internal(format!("upstream '{}' is gone", b.upstream)))?;
    let upstream_id = b
        .upstream_batch_id
        .clone()
        .ok_or_else(|| ApiError::internal("a batch without an upstream id"))?;
    let rec = Record::event(
        RecordId::new_at(s.clock.now()),
        CANCEL_EVENT,
        Some(c.key.id.clone()),
        Some(c.key.team.clone()),
        json!({"batch": b.id, "upstream_batch": upstream_id, "client": c.ctx.client}).to_string(),
    );
    record::commit(s, rec).await?;
    let v = match upstream::cancel(&up, &upstream_id).await {
        Ok(v) => v,
        Err(why) => {
            // The upstream may have ended it meanwhile.
            if let Ok(now) = upstream::get(&up, &upstream_id).await {
                upstream::apply(&mut b, &now);
                if b.upstream_status.is_some_and(BatchStatus::is_terminal) {
                    let stored = b.clone();
                    blocking(&c.batches.store, move |st| st.put_batch(&stored)).await?;
                    c.batches.wake.notify_one();
                    return Err(ApiError::batch_ended(id, "finalizing"));
                }
            }
            let mut e = ApiError::upstream_unreachable(&b.upstream);
            e.message = format!("{} The cancel was not taken: {why}", e.message);
            return Err(e);
        }
    };
    b.status = BatchStatus::Cancelling;
    b.cancelling_at = Some(now_s(s));
    upstream::apply(&mut b, &v);
    let stored = b.clone();
    blocking(&c.batches.store, move |st| st.put_batch(&stored)).await?;
    c.batches.wake.notify_one();
    Ok(b)
}
