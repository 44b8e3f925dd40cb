//! Stage (non-streamed): read the upstream's whole answer, record it, and
//! only then release it to the client.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use proviso_ledger::Outcome;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::events::UpstreamFailed;
use crate::pipeline::call_upstream::{Answer, status_error};
use crate::pipeline::context::Ending;
use crate::pipeline::{Context, record};
use crate::sse::non_stream_output;
use crate::state::AppState;
use crate::upstream::Endpoint;

/// Reads, records and answers.
pub async fn run(
    state: &AppState,
    ctx: &mut Context,
    answer: Answer,
) -> Result<Response, ApiError> {
    let up = answer.deployment.upstream.clone();
    let status = answer.resp.status().as_u16();
    let remaining = up.total_timeout.saturating_sub(answer.sent_at.elapsed());
    let bytes: Bytes = match tokio::time::timeout(remaining, answer.resp.bytes()).await {
        Err(_) => {
            UpstreamFailed {
                upstream: &up.name,
                kind: "timeout",
                detail: "body",
                retrying: false,
            }
            .emit(&state.metrics);
            return Err(ApiError::upstream_timeout(
                &up.name,
                "total time exceeded while reading the response",
            ));
        }
        Ok(Err(e)) => {
            UpstreamFailed {
                upstream: &up.name,
                kind: "stream_broken",
                detail: &e.to_string(),
                retrying: false,
            }
            .emit(&state.metrics);
            return Err(ApiError::upstream_bad_response(
                &up.name,
                "the connection broke while reading the response",
            ));
        }
        Ok(Ok(b)) => b,
    };
    let upstream_elapsed = answer.sent_at.elapsed();
    ctx.upstream_elapsed = Some(upstream_elapsed);
    if !(200..300).contains(&status) {
        return Err(status_error(state, &up.name, status, &bytes));
    }
    let parsed: Value = serde_json::from_slice(&bytes).map_err(|_| {
        UpstreamFailed {
            upstream: &up.name,
            kind: "bad_response",
            detail: "not JSON",
            retrying: false,
        }
        .emit(&state.metrics);
        ApiError::upstream_bad_response(&up.name, "the body is not JSON")
    })?;
    let (output, finish_reason, usage) = non_stream_output(&parsed);
    crate::pipeline::settle_quota::run(ctx, usage);
    let response = if ctx.endpoint == Endpoint::Embeddings {
        Some(summarise_embeddings(&parsed).to_string())
    } else {
        Some(String::from_utf8_lossy(&bytes).into_owned())
    };
    let rec = ctx.record(
        Outcome::Ok,
        Ending {
            status,
            output,
            response,
            finish_reason,
            usage,
            error: None,
        },
    );
    if let Err(e) = record::commit(state, rec).await {
        // The writer keeps the record (marked withheld) for retry: answering
        // through `refuse` would record this exchange twice.
        record::emit(state, ctx, e.status.as_u16(), Some(e.code), None);
        let mut resp = e.into_response();
        record::tag(&mut resp, ctx);
        return Ok(resp);
    }
    record::emit(state, ctx, status, None, Some(upstream_elapsed));
    // The ledger keeps the answer as the upstream gave it (placeholders, no
    // personal data); the client gets the values back.
    let served = match &ctx.session {
        Some(s) => crate::pipeline::restore::body(&bytes, s).unwrap_or(bytes),
        None => bytes,
    };
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        served,
    )
        .into_response();
    record::tag(&mut resp, ctx);
    Ok(resp)
}

/// Embedding vectors are not outputs anyone trains on and are large: the
/// ledger keeps their count, dimensions and a digest instead.
fn summarise_embeddings(v: &Value) -> Value {
    use sha2::{Digest, Sha256};
    let data: Vec<Value> = v
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| {
            let emb = d.get("embedding").cloned().unwrap_or(Value::Null);
            let dims = emb.as_array().map_or(0, Vec::len);
            let digest = hex::encode(Sha256::digest(emb.to_string().as_bytes()));
            json!({"index": d.get("index"), "dimensions": dims, "sha256": digest})
        })
        .collect();
    json!({"object": v.get("object"), "model": v.get("model"), "data": data, "usage": v.get("usage")})
}
