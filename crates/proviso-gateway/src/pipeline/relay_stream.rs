//! Stage (streamed): relay the upstream's events to the client as they
//! arrive, restoring placeholders and assembling the output ([`start`],
//! [`Relay::run`]), until the stream ends however it ends (completed, client
//! gone, upstream broken or stalled); `pipeline::finish` then records it,
//! and [`close`] sends the last event. The final `data: [DONE]` (the
//! Responses API's last event, `response.completed` or how it ended) is
//! held back until the record is committed, so a client never sees a
//! complete stream that was not recorded.

use std::convert::Infallible;
use std::time::Instant;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use proviso_ledger::{Outcome, Receipt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::error::{ApiError, ErrorCode};
use crate::events::UpstreamFailed;
use crate::pipeline::call_upstream::Answer;
use crate::pipeline::context::{Ended, Ending};
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

/// The event that ends a stream in error: OpenAI's `{"error": …}`, and for
/// the Responses API also its `error` event's fields (`type`, `code`,
/// `message`) under the event name `error`, for clients that dispatch on
/// either.
fn error_event(code: ErrorCode, message: &str, responses: bool) -> Bytes {
    let error = json!({"message": message, "type": "upstream_error", "param": null, "code": code});
    if responses {
        let v = json!({"type": "error", "code": code, "message": message, "param": null, "error": error});
        return Bytes::from(format!("event: error\ndata: {v}\n\n"));
    }
    Bytes::from(format!("data: {}\n\n", json!({"error": error})))
}

/// A stream being relayed: the upstream's answer and the client's side.
pub struct Relay {
    answer: Answer,
    tx: mpsc::Sender<Bytes>,
}

/// What is left to do once the exchange is recorded: the client's side,
/// and the event that ends the stream for it (an error event when the
/// upstream failed; `None` when it completed).
pub struct Closing {
    tx: mpsc::Sender<Bytes>,
    tail: Option<Bytes>,
    /// The Responses API's last event, held until the record commits (sent
    /// in place of `[DONE]`).
    last: Option<Bytes>,
}

/// The streaming response for the client, and the relay that feeds it.
pub fn start(ctx: &Context, answer: Answer) -> (Response, Relay) {
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
    record::tag(&mut resp, ctx);
    (resp, Relay { answer, tx })
}

impl Relay {
    /// Relays until the stream ends: how the exchange ended, and what is
    /// left to send once it is recorded.
    pub async fn run(self, state: &AppState, ctx: &mut Context) -> (Ended, Closing) {
        let Relay { answer, tx } = self;
        let answer_translated = answer.translated;
        let deployment = answer.deployment.clone();
        let up = answer.deployment.upstream.clone();
        let deadline = answer.sent_at + up.total_timeout;
        let mut upstream = answer.resp.bytes_stream();
        let mut splitter = SseSplitter::default();
        let mut asm = Assembler::default();
        let session = ctx.session.take();
        let mut restorer = session
            .as_ref()
            .map(crate::pipeline::restore::StreamState::new);
        let mut last = None;
        let mut translator =
            answer_translated.then(crate::responses_chat::StreamTranslator::default);
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
                let done = data.trim() == "[DONE]";
                let parsed = serde_json::from_str::<Value>(data).ok();
                // What to relay: the upstream's event as it came, or (a
                // Responses request sent as chat) the Responses API's
                // events made of a chat chunk, or of the chat stream's end.
                type Ev = (Option<String>, Option<Value>, Option<Bytes>);
                let events: Vec<Ev> = match (&mut translator, done) {
                    (None, true) => break 'outer End::Done,
                    (None, false) => {
                        let name = crate::sse::event_name(&ev.raw).map(str::to_owned);
                        vec![(name, parsed, Some(ev.raw.clone()))]
                    }
                    (Some(t), true) => t
                        .finish()
                        .into_iter()
                        .map(|(n, v)| (Some(n), Some(v), None))
                        .collect(),
                    (Some(t), false) => parsed
                        .map(|c| t.chunk(&c))
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(n, v)| (Some(n), Some(v), None))
                        .collect(),
                };
                for (name, parsed, raw) in events {
                    let step = relay_one(
                        &tx,
                        &mut asm,
                        restorer.as_mut(),
                        ctx.client_wants_usage,
                        name.as_deref(),
                        parsed,
                        raw,
                    )
                    .await;
                    match step {
                        Step::Sent => {}
                        Step::Last(b) => {
                            // The end of a Responses stream: sent once
                            // recorded.
                            last = Some(b);
                            break 'outer End::Done;
                        }
                        Step::Gone => break 'outer End::ClientGone,
                    }
                }
                if done {
                    break 'outer End::Done;
                }
            }
        };
        drop(restorer);
        ctx.session = session;
        crate::pipeline::respond::keep_response(
            state,
            ctx,
            asm.response_id.as_deref(),
            (!answer_translated).then_some(&deployment),
        );
        let responses = ctx.endpoint == crate::upstream::Endpoint::Responses;
        let (outcome, error, tail) = end.describe(state, &up.name, responses);
        // Without the upstream's usage (the stream ended early), settle with
        // an estimate: the counted prompt plus the text produced.
        let charge = asm.usage.or_else(|| {
            let prompt = ctx.counted_prompt_tokens?;
            let out = proviso_tokens::count(ctx.model.as_deref().unwrap_or(""), &asm.output());
            Some(proviso_types::Usage {
                prompt_tokens: prompt,
                completion_tokens: out,
                total_tokens: prompt.saturating_add(out),
            })
        });
        let ended = Ended {
            outcome,
            ending: Ending {
                status: 200,
                output: asm.output(),
                // The Responses API's last event holds the whole response.
                response: asm.final_response.as_ref().map(Value::to_string),
                finish_reason: asm.finish_reason.clone(),
                usage: asm.usage,
                error,
            },
            charge,
        };
        (ended, Closing { tx, tail, last })
    }
}

/// What relaying one event came to.
enum Step {
    Sent,
    /// The stream's last event, held.
    Last(Bytes),
    Gone,
}

/// Relays one event: observed for the record, restored, sent (with what
/// its restorer held back before it), or held when it is the last.
async fn relay_one(
    tx: &mpsc::Sender<Bytes>,
    asm: &mut Assembler,
    restorer: Option<&mut crate::pipeline::restore::StreamState<'_>>,
    wants_usage: bool,
    name: Option<&str>,
    parsed: Option<Value>,
    raw: Option<Bytes>,
) -> Step {
    let usage_only = parsed.as_ref().is_some_and(|v| asm.observe(v));
    if usage_only && !wants_usage {
        return Step::Sent;
    }
    let is_last = parsed
        .as_ref()
        .is_some_and(crate::sse::is_final_response_event);
    let mut before = None;
    let out = match (restorer, parsed, raw) {
        (Some(r), Some(mut v), _) => {
            before = r
                .chunk(&mut v)
                .map(|e| crate::sse::event_bytes(e.get("type").and_then(Value::as_str), &e));
            crate::sse::event_bytes(name, &v)
        }
        (_, _, Some(raw)) => raw,
        (None, Some(v), None) => crate::sse::event_bytes(name, &v),
        (_, None, None) => return Step::Sent,
    };
    if let Some(b) = before
        && tx.send(b).await.is_err()
    {
        return Step::Gone;
    }
    if is_last {
        return Step::Last(out);
    }
    if tx.send(out).await.is_err() {
        return Step::Gone;
    }
    Step::Sent
}

impl End {
    /// The record's outcome and error, and the event that ends the stream
    /// for the client; counts an upstream's failure.
    fn describe(
        self,
        state: &AppState,
        upstream: &str,
        responses: bool,
    ) -> (Outcome, Option<(String, String)>, Option<Bytes>) {
        let failed = |kind: &str, detail: &str, code: ErrorCode, msg: String| {
            UpstreamFailed {
                upstream,
                kind,
                detail,
                retrying: false,
            }
            .emit(&state.metrics);
            let tail = error_event(code, &msg, responses);
            (
                Outcome::Partial,
                Some((code.as_str().to_owned(), msg)),
                Some(tail),
            )
        };
        match self {
            End::Done => (Outcome::Ok, None, None),
            End::ClientGone => (
                Outcome::Partial,
                Some((
                    ErrorCode::ClientDisconnected.as_str().into(),
                    "the client closed the connection before the end of the stream".into(),
                )),
                None,
            ),
            End::UpstreamBroken(e) => failed(
                "stream_broken",
                &e,
                ErrorCode::UpstreamStreamBroken,
                format!("Upstream '{upstream}' broke the stream before it ended."),
            ),
            End::UpstreamEndedEarly => failed(
                "stream_broken",
                "ended without [DONE]",
                ErrorCode::UpstreamStreamBroken,
                format!("Upstream '{upstream}' ended the stream without finishing it."),
            ),
            End::UpstreamStalled | End::TotalTimeout => failed(
                "timeout",
                "stream stalled",
                ErrorCode::UpstreamTimeout,
                format!("Upstream '{upstream}' timed out in the middle of the stream."),
            ),
        }
    }
}

/// Ends the stream for the client once the exchange is `committed` (or
/// could not be): `[DONE]` only after a complete stream was recorded, an
/// error event when the upstream failed or the record could not be written.
pub async fn close(
    state: &AppState,
    ctx: &Context,
    closing: Closing,
    ended_with: Option<String>,
    committed: Result<Receipt, ApiError>,
) {
    let last = match (&committed, closing.tail) {
        (Err(e), _) => Some(error_event(
            e.code,
            &e.message,
            ctx.endpoint == crate::upstream::Endpoint::Responses,
        )),
        (Ok(_), Some(t)) => Some(t),
        (Ok(_), None) if ended_with.is_none() => Some(
            closing
                .last
                .unwrap_or_else(|| Bytes::from_static(b"data: [DONE]\n\n")),
        ),
        (Ok(_), None) => None,
    };
    if let Some(b) = last {
        let _ = closing.tx.send(b).await;
    }
    let code = match &committed {
        Err(e) => Some(e.code.as_str().to_owned()),
        Ok(_) => ended_with,
    };
    record::emit(state, ctx, 200, code.as_deref(), None);
}
