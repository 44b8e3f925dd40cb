//! Stage (streamed): relay the upstream's events to the client as they
//! arrive, assembling the output; record when the stream ends, however it
//! ends (completed, client gone, upstream broken or stalled). The final
//! `data: [DONE]` is held back until the record is committed, so a client
//! never sees a complete stream that was not recorded.

use std::convert::Infallible;
use std::time::Instant;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use proviso_ledger::Outcome;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::events::UpstreamFailed;
use crate::pipeline::call_upstream::Answer;
use crate::pipeline::context::Ending;
use crate::pipeline::{Context, record};
use crate::sse::{Assembler, SseSplitter};
use crate::state::AppState;

enum End {
    Done,
    ClientGone,
    UpstreamBroken(String),
    UpstreamStalled,
    TotalTimeout,
    UpstreamEndedEarly,
}

fn error_event(code: &str, message: &str) -> Bytes {
    let v = json!({"error": {"message": message, "type": "upstream_error", "param": null, "code": code}});
    Bytes::from(format!("data: {v}\n\n"))
}

/// Starts the relay and returns the streaming response.
pub fn run(state: AppState, ctx: Context, answer: Answer) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(32);
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) },
        )))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    record::tag(&mut resp, &ctx);
    tokio::spawn(relay(state, ctx, answer, tx));
    resp
}

async fn relay(state: AppState, mut ctx: Context, answer: Answer, tx: mpsc::Sender<Bytes>) {
    let up = answer.deployment.upstream.clone();
    let deadline = answer.sent_at + up.total_timeout;
    let mut upstream = answer.resp.bytes_stream();
    let mut splitter = SseSplitter::default();
    let mut asm = Assembler::default();
    let session = ctx.session.take();
    let mut restorer = session
        .as_ref()
        .map(crate::pipeline::restore::StreamState::new);
    let end = 'outer: loop {
        let idle = up
            .stream_idle_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let next = tokio::select! {
            biased;
            _ = tx.closed() => break End::ClientGone,
            n = tokio::time::timeout(idle, upstream.next()) => n,
        };
        let chunk = match next {
            Err(_) if Instant::now() >= deadline => break End::TotalTimeout,
            Err(_) => break End::UpstreamStalled,
            Ok(None) => break End::UpstreamEndedEarly,
            Ok(Some(Err(e))) => break End::UpstreamBroken(e.to_string()),
            Ok(Some(Ok(c))) => c,
        };
        for ev in splitter.feed(&chunk) {
            let Some(data) = ev.data.as_deref() else {
                continue; // comments and keep-alives are not forwarded
            };
            if data.trim() == "[DONE]" {
                break 'outer End::Done;
            }
            let parsed = serde_json::from_str::<Value>(data).ok();
            let usage_only = parsed.as_ref().is_some_and(|v| asm.observe(v));
            if usage_only && !ctx.client_wants_usage {
                continue;
            }
            let out = match (&mut restorer, parsed) {
                (Some(r), Some(mut v)) => {
                    r.chunk(&mut v);
                    Bytes::from(format!("data: {v}\n\n"))
                }
                _ => ev.raw,
            };
            if tx.send(out).await.is_err() {
                break 'outer End::ClientGone;
            }
        }
    };
    let (outcome, error, tail): (Outcome, Option<(String, String)>, Option<Bytes>) = match end {
        End::Done => (Outcome::Ok, None, None),
        End::ClientGone => (
            Outcome::Partial,
            Some((
                "client_disconnected".into(),
                "the client closed the connection before the end of the stream".into(),
            )),
            None,
        ),
        End::UpstreamBroken(e) => {
            UpstreamFailed {
                upstream: &up.name,
                kind: "stream_broken",
                detail: &e,
                retrying: false,
            }
            .emit(&state.metrics);
            let msg = format!("Upstream '{}' broke the stream before it ended.", up.name);
            (
                Outcome::Partial,
                Some(("upstream_stream_broken".into(), msg.clone())),
                Some(error_event("upstream_stream_broken", &msg)),
            )
        }
        End::UpstreamEndedEarly => {
            UpstreamFailed {
                upstream: &up.name,
                kind: "stream_broken",
                detail: "ended without [DONE]",
                retrying: false,
            }
            .emit(&state.metrics);
            let msg = format!(
                "Upstream '{}' ended the stream without finishing it.",
                up.name
            );
            (
                Outcome::Partial,
                Some(("upstream_stream_broken".into(), msg.clone())),
                Some(error_event("upstream_stream_broken", &msg)),
            )
        }
        End::UpstreamStalled | End::TotalTimeout => {
            UpstreamFailed {
                upstream: &up.name,
                kind: "timeout",
                detail: "stream stalled",
                retrying: false,
            }
            .emit(&state.metrics);
            let msg = format!(
                "Upstream '{}' timed out in the middle of the stream.",
                up.name
            );
            (
                Outcome::Partial,
                Some(("upstream_timeout".into(), msg.clone())),
                Some(error_event("upstream_timeout", &msg)),
            )
        }
    };
    let code = error.as_ref().map(|(c, _)| c.clone());
    // Without the upstream's usage (the stream ended early), settle with an
    // estimate: the counted prompt plus the text produced.
    let usage = asm.usage.or_else(|| {
        let prompt = ctx.counted_prompt_tokens?;
        let out = proviso_tokens::count(ctx.model.as_deref().unwrap_or(""), &asm.output());
        Some(proviso_types::Usage {
            prompt_tokens: prompt,
            completion_tokens: out,
            total_tokens: prompt + out,
        })
    });
    crate::pipeline::settle_quota::run(&mut ctx, usage);
    let rec = ctx.record(
        outcome,
        Ending {
            status: 200,
            output: asm.output(),
            response: None,
            finish_reason: asm.finish_reason.clone(),
            usage: asm.usage,
            error,
        },
    );
    let committed = record::commit(&state, rec).await;
    let last = match (&committed, tail) {
        (Err(e), _) => Some(error_event(e.code, &e.message)),
        (Ok(_), Some(t)) => Some(t),
        (Ok(_), None) if outcome == Outcome::Ok => Some(Bytes::from_static(b"data: [DONE]\n\n")),
        (Ok(_), None) => None,
    };
    if let Some(b) = last {
        let _ = tx.send(b).await;
    }
    let code = match &committed {
        Err(e) => Some(e.code.to_owned()),
        Ok(_) => code,
    };
    record::emit(&state, &ctx, 200, code.as_deref(), None);
}
