//! Stage (non-streamed): read the upstream's whole answer ([`read`]); once
//! its record is committed (`pipeline::finish`), release it to the client
//! with placeholders restored ([`release`]).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use proviso_ledger::Outcome;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::events::UpstreamFailed;
use crate::pipeline::call_upstream::{Answer, status_error};
use crate::pipeline::context::{Ended, Ending};
use crate::pipeline::{Context, record};
use crate::sse::non_stream_output;
use crate::state::AppState;
use crate::upstream::Endpoint;

/// A successful answer, read whole, waiting for its record to commit.
pub struct Held {
    status: u16,
    bytes: Bytes,
    /// The answer as values, when it was read whole (an answer with
    /// placeholders to restore always is).
    parsed: Option<Value>,
}

/// Reads the whole answer: how the exchange ended, and the answer held
/// until it is recorded. An error answer of the upstream, a body that is
/// not JSON or that does not arrive in time is an error (recorded by the
/// caller as a refusal).
pub async fn read(
    state: &AppState,
    ctx: &mut Context,
    answer: Answer,
) -> Result<(Ended, Held), ApiError> {
    let up = answer.deployment.upstream.clone();
    let status = answer.resp.status().as_u16();
    let remaining = up.total_timeout.saturating_sub(answer.sent_at.elapsed());
    let failed = |kind: &str, detail: &str| {
        UpstreamFailed {
            upstream: &up.name,
            kind,
            detail,
            retrying: false,
        }
        .emit(&state.metrics);
    };
    let bytes: Bytes = match tokio::time::timeout(remaining, answer.resp.bytes()).await {
        Err(_) => {
            failed("timeout", "body");
            return Err(ApiError::upstream_timeout(
                &up.name,
                "total time exceeded while reading the response",
            ));
        }
        Ok(Err(e)) => {
            failed("stream_broken", &e.to_string());
            return Err(ApiError::upstream_bad_response(
                &up.name,
                "the connection broke while reading the response",
            ));
        }
        Ok(Ok(b)) => b,
    };
    ctx.upstream_elapsed = Some(answer.sent_at.elapsed());
    if !(200..300).contains(&status) {
        return Err(status_error(state, &up.name, status, &bytes));
    }
    // A chat or completions answer that goes back as it came (nothing to
    // restore or translate) is read from its bytes; anything else whole.
    let plain = !answer.translated
        && ctx.session.is_none()
        && matches!(ctx.endpoint, Endpoint::Chat | Endpoint::Completions);
    let lean = if plain {
        crate::answer_bytes::output(&bytes)
    } else {
        None
    };
    let (parsed, served, (output, finish_reason, usage)) = match lean {
        Some(read) => (None, bytes.clone(), read),
        None => {
            let parsed: Value = serde_json::from_slice(&bytes).map_err(|_| {
                failed("bad_response", "not JSON");
                ApiError::upstream_bad_response(&up.name, "the body is not JSON")
            })?;
            // A chat answer to a Responses request goes back as a
            // `response`; the ledger keeps what the upstream sent.
            let (parsed, served) = if answer.translated {
                let r = crate::responses_chat::response(&parsed);
                let b = Bytes::from(r.to_string());
                (r, b)
            } else {
                (parsed, bytes.clone())
            };
            keep_response(
                state,
                ctx,
                parsed.get("id").and_then(Value::as_str),
                (!answer.translated).then_some(&answer.deployment),
            );
            let read = non_stream_output(&parsed);
            (Some(parsed), served, read)
        }
    };
    let response = match (&parsed, ctx.endpoint) {
        (Some(parsed), Endpoint::Embeddings) => summarise_embeddings(parsed).to_string(),
        _ => String::from_utf8_lossy(&bytes).into_owned(),
    };
    let ended = Ended {
        outcome: Outcome::Ok,
        ending: Ending {
            status,
            output,
            response: Some(response),
            finish_reason,
            usage,
            error: None,
        },
        charge: usage,
    };
    Ok((
        ended,
        Held {
            status,
            bytes: served,
            parsed,
        },
    ))
}

/// Keeps what a Responses API answer needs later under its id: its
/// placeholders, for the turn that will name it, and (`stored_at`: an
/// upstream that speaks the API and stored it) where to read it back.
pub fn keep_response(
    state: &AppState,
    ctx: &Context,
    response_id: Option<&str>,
    stored_at: Option<&crate::upstream::Deployment>,
) {
    if ctx.endpoint != Endpoint::Responses {
        return;
    }
    let (Some(id), Some(key)) = (response_id, &ctx.key) else {
        return;
    };
    if let Some(s) = &ctx.session {
        state.conversations.put(id, &key.id.0, s.clone());
    }
    if let (Some(d), Some(model)) = (stored_at, &ctx.model) {
        let stored = crate::conversations::Stored {
            deployment: d.clone(),
            model: model.clone(),
        };
        state.conversations.put_stored(id, &key.id.0, stored);
    }
}

/// The recorded answer as the client gets it. The ledger keeps the answer
/// as the upstream gave it (placeholders, no personal data); the client
/// gets the values back.
pub fn release(ctx: &Context, held: Held) -> Response {
    let served = match (&ctx.session, held.parsed) {
        (Some(s), Some(parsed)) => crate::pipeline::restore::value(parsed, s),
        _ => held.bytes,
    };
    let mut resp = (
        StatusCode::from_u16(held.status).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        served,
    )
        .into_response();
    record::tag(&mut resp, ctx);
    resp
}

/// Embedding vectors are not outputs anyone trains on and are large: the
/// ledger keeps their count, dimensions and a digest instead.
pub(crate) fn summarise_embeddings(v: &Value) -> Value {
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
