//! Stage: send the request to the first deployment that answers. A failure
//! before the first byte (connection refused, no response headers in time,
//! 429 or 5xx) moves on to the next deployment of the same model.

use std::time::Instant;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::error::{ApiError, is_openai_error};
use crate::events::UpstreamFailed;
use crate::pipeline::Context;
use crate::state::AppState;
use crate::upstream::{Deployment, Endpoint};

/// A response whose headers have arrived.
pub struct Answer {
    /// The response (body not yet read).
    pub resp: reqwest::Response,
    /// Who answered.
    pub deployment: Deployment,
    /// When the request was sent.
    pub sent_at: Instant,
    /// A Responses API request sent as chat completions: the answer is a
    /// chat answer, to translate back.
    pub translated: bool,
}

/// The body to send to `d`, and whether it is a Responses API request
/// translated to chat completions (for an upstream that speaks only
/// those); an error when it cannot be.
fn body_for(ctx: &Context, text: &str, d: &Deployment) -> Result<(Bytes, bool), ApiError> {
    if ctx.endpoint == Endpoint::Responses && d.upstream.translate_responses {
        let mut body = crate::responses_chat::request(&ctx.body).map_err(|e| {
            ApiError::invalid_field(
                &e.param,
                &format!(
                    "{} (upstream '{}' speaks chat completions only)",
                    e.message, d.upstream.name
                ),
            )
        })?;
        body.insert("model".into(), Value::String(d.model.clone()));
        return Ok((Bytes::from(Value::Object(body).to_string()), true));
    }
    Ok((plain_body_for(ctx, text, d), false))
}

/// The body of an untranslated request (`text`: the request as the client
/// sent it, masked): unchanged bytes when nothing needs rewriting.
fn plain_body_for(ctx: &Context, text: &str, d: &Deployment) -> Bytes {
    let same_model = ctx.model.as_deref() == Some(d.model.as_str());
    if same_model && (!ctx.stream || ctx.client_wants_usage) {
        return Bytes::from(text.to_owned());
    }
    let mut body = ctx.body.clone();
    body.insert("model".into(), Value::String(d.model.clone()));
    if ctx.stream && !ctx.client_wants_usage {
        // Ask for usage so the ledger has token counts; the extra chunk is
        // not forwarded to a client that did not ask for it.
        let opts = body.entry("stream_options").or_insert_with(|| json!({}));
        if let Some(o) = opts.as_object_mut() {
            o.insert("include_usage".into(), Value::Bool(true));
        }
    }
    Bytes::from(Value::Object(body).to_string())
}

/// Tries each deployment in turn.
pub async fn run(
    state: &AppState,
    ctx: &mut Context,
    deps: &[Deployment],
) -> Result<Answer, ApiError> {
    let mut last_err = None;
    // The request as the client sent it (masked): each deployment's body
    // is made from it, whatever the one before was sent.
    let text = ctx.request_text.clone();
    for (i, d) in deps.iter().enumerate() {
        let more = i + 1 < deps.len();
        let (body, translated) = match body_for(ctx, &text, d) {
            Ok(b) => b,
            Err(e) => {
                // This deployment cannot take the request (a Responses
                // feature a chat upstream lacks): the next may.
                ctx.attempts.push(json!({"upstream": d.upstream.name, "model": d.model, "ended": "untranslatable"}));
                last_err = Some(e);
                continue;
            }
        };
        let endpoint = if translated {
            Endpoint::Chat
        } else {
            ctx.endpoint
        };
        let up = &d.upstream;
        let sent_at = Instant::now();
        let fail = |kind: &str, detail: &str| {
            UpstreamFailed {
                upstream: &up.name,
                kind,
                detail,
                retrying: more,
            }
            .emit(&state.metrics);
        };
        let result = tokio::time::timeout(
            up.first_byte_timeout,
            up.post(endpoint, &d.model).body(body.clone()).send(),
        )
        .await;
        ctx.upstream = Some(up.name.clone());
        ctx.upstream_model = Some(d.model.clone());
        // The ledger records the body as sent; copy it only if it differs.
        if body != ctx.request_text.as_bytes() {
            ctx.request_text = String::from_utf8_lossy(&body).into_owned();
        }
        let mut attempt = |ended: &str| {
            let mut a = json!({"upstream": up.name, "model": d.model, "ended": ended});
            if translated {
                a["sent_as"] = json!("/v1/chat/completions");
            }
            ctx.attempts.push(a);
        };
        let resp = match result {
            Err(_) => {
                attempt("timeout");
                fail("timeout", "no response headers in time");
                last_err = Some(ApiError::upstream_timeout(&up.name, "no response in time"));
                continue;
            }
            Ok(Err(e)) => {
                let kind = if e.is_timeout() {
                    "timeout"
                } else {
                    "unreachable"
                };
                attempt(kind);
                fail(kind, &e.to_string());
                last_err = Some(if e.is_timeout() {
                    ApiError::upstream_timeout(&up.name, "connect")
                } else {
                    ApiError::upstream_unreachable(&up.name)
                });
                continue;
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        attempt(&format!("HTTP {status}"));
        ctx.ttfb = Some(ctx.started.elapsed());
        if (status == 429 || status >= 500) && more {
            fail(
                if status == 429 {
                    "status_429"
                } else {
                    "status_5xx"
                },
                &format!("HTTP {status}"),
            );
            continue;
        }
        return Ok(Answer {
            resp,
            deployment: d.clone(),
            sent_at,
            translated,
        });
    }
    Err(last_err.unwrap_or_else(|| ApiError::upstream_unreachable("none")))
}

/// The client-facing error for an upstream's non-2xx answer.
pub fn status_error(state: &AppState, upstream: &str, status: u16, body: &[u8]) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let openai = parsed.filter(is_openai_error);
    let kind = if status >= 500 {
        "status_5xx"
    } else {
        "status_4xx"
    };
    UpstreamFailed {
        upstream,
        kind,
        detail: &format!("HTTP {status}"),
        retrying: false,
    }
    .emit(&state.metrics);
    match status {
        401 | 403 => ApiError::upstream_auth(upstream),
        400 | 404 | 409 | 413 | 422 | 429 => {
            let mut e = ApiError::upstream_error(upstream, status, openai);
            e.status = axum::http::StatusCode::from_u16(status).unwrap_or(e.status);
            e
        }
        _ => ApiError::upstream_error(upstream, status, openai),
    }
}
