//! The batch poller: a task that asks after every unfinished batch upstream
//! (every `[batch] poll_interval_ms`, at once when a batch is created or
//! cancelled, and with a back-off of up to ten minutes while its upstream
//! fails), and records a batch that has ended upstream, whether or not its
//! client ever asks for the results:
//!
//! 1. the upstream's result files are read; a line with no result (the
//!    batch was cancelled or expired before it ran) gets an error line, and
//!    a result for no line sent (or a second one for a line) is kept too;
//! 2. every line is recorded as an exchange of its endpoint (the request as
//!    sent, masked; the answer as the upstream gave it, with placeholders),
//!    in input order, in groups whose progress is kept, under ids chosen
//!    once (`ids.json`), so recording goes on where it stopped after a
//!    restart and the results name the same records; the index follower and
//!    the monitor see these records as they see any exchange;
//! 3. the results are written for the client with its `custom_id`s and the
//!    answers' placeholders restored (`batch_output`, `batch_error` files of
//!    the batch's key);
//! 4. the quota reservation is settled with the tokens used, a `batch.ended`
//!    event recorded, the batch's working files (the placeholders' values)
//!    removed, and the batch shown with its final status.
//!
//! A batch whose key is no longer active (revoked, suspended by an
//! administrator or the monitor) is cancelled upstream; a batch found
//! without an upstream id after a restart (the process stopped while
//! sending it) is looked for upstream by its id in the metadata, and if the
//! upstream does not have it, its lines are recorded as not sent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use proviso_batch::{Batch, BatchStatus, FileInfo, ResultLine};
use proviso_ledger::{Outcome, Record, RecordKind};
use proviso_types::{KeyId, RecordId, Usage};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::batch::work::{Ids, LineMeta, Submission, upstream_id};
use crate::batch::{Batches, blocking, upstream};
use crate::pipeline::{record, restore};
use crate::sse::non_stream_output;
use crate::state::AppState;
use crate::upstream::Upstream;

/// The ledger event of a batch whose lines are all recorded.
pub const ENDED_EVENT: &str = "batch.ended";

/// The ledger event of a batch cancelled because its key may no longer be
/// used.
pub const KEY_CANCEL_EVENT: &str = "batch.cancelled_for_key";

/// Lines recorded between two saves of the batch's progress.
const GROUP: usize = 256;

/// Starts the poller, when the Batch API is on.
pub fn spawn(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let b = state.batches.clone()?;
    Some(tokio::spawn(async move {
        let every = Duration::from_millis(b.config.poll_interval_ms.max(10));
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = b.wake.notified() => {}
            }
            let open = match blocking(&b.store, |st| st.unfinished()).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e.message, "reading unfinished batches failed");
                    continue;
                }
            };
            for batch in open {
                let id = batch.id.clone();
                if b.is_submitting(&id) || b.waiting(&id) {
                    continue;
                }
                let lock = b.lock_of(&id);
                let _held = lock.lock().await;
                // Read again under the lock: a cancel may have changed it.
                let fresh = {
                    let id = id.clone();
                    blocking(&b.store, move |st| st.batch(&id)).await
                };
                let Ok(Some(batch)) = fresh else { continue };
                if batch.recorded {
                    continue;
                }
                match advance(&state, &b, batch).await {
                    Ok(()) => b.succeeded(&id),
                    Err(e) => {
                        let n = b.failed(&id);
                        tracing::warn!(batch = %id, failures = n, error = %e, "a batch could not be advanced; trying again later");
                    }
                }
            }
        }
    }))
}

async fn save(b: &Arc<Batches>, batch: &Batch) -> Result<(), String> {
    let stored = batch.clone();
    blocking(&b.store, move |st| st.put_batch(&stored))
        .await
        .map_err(|e| e.message)
}

async fn advance(state: &AppState, b: &Arc<Batches>, mut batch: Batch) -> Result<(), String> {
    let up = state
        .upstreams
        .by_name(&batch.upstream)
        .ok_or_else(|| format!("upstream '{}' is no longer configured", batch.upstream))?;
    let Some(upstream_id) = batch.upstream_batch_id.clone() else {
        return recover(state, b, &up, batch).await;
    };
    let ended_upstream = batch.upstream_status.is_some_and(BatchStatus::is_terminal);
    if !ended_upstream && batch.status != BatchStatus::Cancelling {
        cancel_if_key_unusable(state, b, &up, &mut batch, &upstream_id).await?;
    }
    let v = upstream::get(&up, &upstream_id).await?;
    let before = batch.clone();
    upstream::apply(&mut batch, &v);
    if batch.upstream_status.is_some_and(BatchStatus::is_terminal) {
        // Shown as finalizing while its lines are recorded.
        save(b, &batch).await?;
        return finish(state, b, &up, batch, Some(&v)).await;
    }
    if batch != before {
        save(b, &batch).await?;
    }
    Ok(())
}

/// A batch whose key was revoked, suspended or deleted is cancelled
/// upstream: revoking a key stops what it set running.
async fn cancel_if_key_unusable(
    state: &AppState,
    b: &Arc<Batches>,
    up: &Upstream,
    batch: &mut Batch,
    upstream_id: &str,
) -> Result<(), String> {
    let key_state = state.keys.state_of(&batch.key_id);
    if key_state.is_some_and(proviso_access::KeyState::is_usable) {
        return Ok(());
    }
    let why = key_state.map_or("deleted", |k| k.as_str());
    let rec = Record::event(
        RecordId::new_at(state.clock.now()),
        KEY_CANCEL_EVENT,
        Some(KeyId(batch.key_id.clone())),
        Some(batch.team.clone()),
        json!({"batch": batch.id, "upstream_batch": upstream_id, "key_state": why}).to_string(),
    );
    record::commit(state, rec).await.map_err(|e| e.message)?;
    let v = upstream::cancel(up, upstream_id).await?;
    batch.status = BatchStatus::Cancelling;
    batch.cancelling_at = Some(state.clock.now().0 / 1000);
    upstream::apply(batch, &v);
    save(b, batch).await?;
    tracing::warn!(batch = %batch.id, key_state = why, "the batch's key may no longer be used: cancelled upstream");
    Ok(())
}

/// A batch stored without an upstream id, and no submission of it in
/// flight: the process stopped while sending it. The upstream is asked for
/// a batch carrying its id; if there is none, nothing of it ran.
async fn recover(
    state: &AppState,
    b: &Arc<Batches>,
    up: &Upstream,
    mut batch: Batch,
) -> Result<(), String> {
    if let Some(found) = upstream::find(up, &batch.id).await? {
        batch.upstream_batch_id = found.get("id").and_then(Value::as_str).map(str::to_owned);
        upstream::apply(&mut batch, &found);
        save(b, &batch).await?;
        tracing::info!(batch = %batch.id, "found upstream after a restart");
        return Ok(());
    }
    batch.upstream_status = Some(BatchStatus::Failed);
    batch.status = BatchStatus::Finalizing;
    batch.errors = Some(
        json!({"object": "list", "data": [{"code": "batch_not_sent", "message": "the gateway stopped while sending the batch, and the upstream has no batch of it"}]}),
    );
    save(b, &batch).await?;
    finish(state, b, up, batch, None).await
}

/// The working files of a batch, read back.
struct Work {
    sent: Vec<Value>,
    metas: Vec<LineMeta>,
    submission: Submission,
    ids: Option<Ids>,
}

async fn work(b: &Arc<Batches>, id: &str) -> Result<Work, String> {
    let bid = id.to_owned();
    let (sent, metas, sub, ids) = blocking(&b.store, move |st| {
        Ok((
            st.work(&bid, "sent.jsonl")?,
            st.work(&bid, "lines.json")?,
            st.work(&bid, "submission.json")?,
            st.work(&bid, "ids.json").ok(),
        ))
    })
    .await
    .map_err(|e| e.message)?;
    let sent = String::from_utf8_lossy(&sent)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).map_err(|e| format!("sent.jsonl: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let metas: Vec<LineMeta> =
        serde_json::from_slice(&metas).map_err(|e| format!("lines.json: {e}"))?;
    let submission: Submission =
        serde_json::from_slice(&sub).map_err(|e| format!("submission.json: {e}"))?;
    let ids = ids
        .map(|i| serde_json::from_slice::<Ids>(&i).map_err(|e| format!("ids.json: {e}")))
        .transpose()?;
    if sent.len() != metas.len() {
        return Err("the batch's working files disagree".into());
    }
    Ok(Work {
        sent,
        metas,
        submission,
        ids,
    })
}

/// The upstream's results (its output file, then its error file), and the
/// lines of them that could not be read.
async fn results(
    up: &Upstream,
    v: Option<&Value>,
    max_bytes: usize,
) -> Result<(Vec<ResultLine>, Vec<Value>), String> {
    let mut all = Vec::new();
    let mut unreadable = Vec::new();
    for field in ["output_file_id", "error_file_id"] {
        let Some(fid) = v.and_then(|v| v.get(field)).and_then(Value::as_str) else {
            continue;
        };
        let bytes = upstream::content(up, fid, max_bytes).await?;
        let (lines, bad) =
            tokio::task::spawn_blocking(move || proviso_batch::output::parse(&bytes))
                .await
                .map_err(|e| e.to_string())?;
        all.extend(lines);
        unreadable.extend(bad.into_iter().map(|e| {
            json!({"code": "unreadable_result", "message": e.message, "line": e.line, "param": field})
        }));
    }
    Ok((all, unreadable))
}

/// The error code of a line the upstream left without a result.
fn missing_code(status: Option<BatchStatus>, sent: bool) -> (&'static str, &'static str) {
    match status {
        _ if !sent => (
            "batch_not_sent",
            "the gateway stopped while sending the batch; this request did not run",
        ),
        Some(BatchStatus::Cancelled) => (
            "batch_cancelled",
            "the batch was cancelled before this request ran",
        ),
        Some(BatchStatus::Expired) => {
            ("batch_expired", "the batch expired before this request ran")
        }
        Some(BatchStatus::Failed) => (
            "batch_failed",
            "the upstream refused the batch; this request did not run",
        ),
        _ => (
            "batch_line_missing",
            "the upstream gave no result for this request",
        ),
    }
}

/// One line's outcome: its record, and its line in the client's results.
struct Done {
    record: Record,
    client_line: Value,
    ok: bool,
    usage: Option<Usage>,
}

/// Where a result belongs: a line of the batch (its index), or none.
struct Placed {
    index: Option<usize>,
    result: ResultLine,
}

fn line_done(batch: &Batch, work: &Work, placed: Placed, id: RecordId) -> Done {
    let meta = placed.index.map(|i| &work.metas[i]);
    let result = placed.result;
    // The request as it left: the masked body, under the deployment's
    // model name.
    let mut sent_body = placed
        .index
        .and_then(|i| work.sent[i].get("body").cloned())
        .unwrap_or(Value::Null);
    if let Value::Object(o) = &mut sent_body {
        o.insert("model".into(), json!(batch.upstream_model));
    }
    let ok = result.succeeded() && meta.is_some();
    let body = result.body().cloned();
    let (output, finish_reason, usage) = match &body {
        Some(b) if result.succeeded() => non_stream_output(b),
        _ => (String::new(), None, None),
    };
    let response = body.as_ref().map(|b| {
        if batch.endpoint == "/v1/embeddings" && result.succeeded() {
            crate::pipeline::respond::summarise_embeddings(b).to_string()
        } else {
            b.to_string()
        }
    });
    let error = match meta {
        Some(_) => result.error(),
        None => Some((
            "batch_result_unmatched".to_owned(),
            "the upstream gave a result for no request of the batch (or a second one for one)"
                .to_owned(),
        )),
    };
    // The client's id stays out of the ledger (it could carry personal
    // data): its digest and the line number identify the line.
    let detail = json!({
        "purpose": work.submission.purpose,
        "client": work.submission.client,
        "counted_prompt_tokens": meta.map(|m| m.prompt_tokens),
        "desensitized": meta.and_then(|m| m.redaction.clone()),
        "policy": work.submission.policy,
        "batch": {
            "id": batch.id,
            "upstream_batch": batch.upstream_batch_id,
            "line": meta.map(|m| m.line),
            "custom_id_sha256": meta.map(|m| hex::encode(Sha256::digest(m.custom_id.as_bytes()))),
            "upstream_custom_id": result.custom_id,
            "upstream_request_id": result.raw.get("response").and_then(|r| r.get("request_id")),
            "unmatched": meta.is_none(),
        },
    });
    let record = Record {
        id,
        time: id.timestamp(),
        kind: RecordKind::Exchange,
        key_id: Some(KeyId(batch.key_id.clone())),
        team: Some(batch.team.clone()),
        endpoint: batch.endpoint.clone(),
        model: Some(batch.model.clone()),
        upstream: Some(batch.upstream.clone()),
        upstream_model: Some(batch.upstream_model.clone()),
        status: result.status().unwrap_or(0),
        outcome: if result.succeeded() {
            Outcome::Ok
        } else {
            Outcome::Failed
        },
        stream: false,
        request: if sent_body.is_null() {
            String::new()
        } else {
            sent_body.to_string()
        },
        output,
        response,
        finish_reason,
        usage,
        latency_ms: 0,
        ttfb_ms: None,
        error_code: error.as_ref().map(|e| e.0.clone()),
        error: error.map(|e| e.1),
        detail: Some(detail.to_string()),
    };
    // The client's line: the upstream's, under the client's id, its answer
    // restored.
    let mut client_line = Value::Object(result.raw);
    if let Some(m) = meta {
        client_line["custom_id"] = json!(m.custom_id);
        if let (Some(s), Some(b)) = (
            &m.session,
            client_line
                .pointer_mut("/response/body")
                .filter(|b| !b.is_null()),
        ) {
            restore::in_place(b, s);
        }
    }
    if let Value::Object(o) = &mut client_line {
        o.insert("proviso_record_id".into(), json!(id.to_string()));
    }
    Done {
        record,
        client_line,
        ok,
        usage,
    }
}

/// The ids recording uses: those chosen before (a restart), or new ones,
/// kept before the first record is committed.
async fn ids(
    state: &AppState,
    b: &Arc<Batches>,
    batch: &Batch,
    work: &Work,
    extra: usize,
) -> Result<Ids, String> {
    if let Some(ids) = &work.ids {
        if ids.records.len() == work.metas.len() && ids.extra.len() == extra {
            return Ok(Ids {
                records: ids.records.clone(),
                extra: ids.extra.clone(),
                output_file: ids.output_file.clone(),
                error_file: ids.error_file.clone(),
            });
        }
        return Err("ids.json does not fit the batch's results".into());
    }
    let now = state.clock.now();
    let new = |n: usize| (0..n).map(|_| RecordId::new_at(now).to_string()).collect();
    let ids = Ids {
        records: new(work.metas.len()),
        extra: new(extra),
        output_file: proviso_batch::store::new_file_id(),
        error_file: proviso_batch::store::new_file_id(),
    };
    let bytes = serde_json::to_vec(&ids).map_err(|e| e.to_string())?;
    let bid = batch.id.clone();
    blocking(&b.store, move |st| st.put_work(&bid, "ids.json", &bytes))
        .await
        .map_err(|e| e.message)?;
    Ok(ids)
}

async fn finish(
    state: &AppState,
    b: &Arc<Batches>,
    up: &Upstream,
    mut batch: Batch,
    v: Option<&Value>,
) -> Result<(), String> {
    let work = work(b, &batch.id).await?;
    let max = b.config.max_file_bytes.saturating_mul(8).max(64 << 20);
    let (results, unreadable) = results(up, v, max).await?;
    // Each result to the line it was sent for; what fits none is kept.
    let index: HashMap<String, usize> = work
        .metas
        .iter()
        .enumerate()
        .map(|(i, m)| (upstream_id(m.line), i))
        .collect();
    let mut per_line: Vec<Option<ResultLine>> = vec![None; work.metas.len()];
    let mut unmatched = Vec::new();
    for r in results {
        match index.get(&r.custom_id) {
            Some(&i) if per_line[i].is_none() => per_line[i] = Some(r),
            _ => unmatched.push(r),
        }
    }
    let ids = ids(state, b, &batch, &work, unmatched.len()).await?;
    let (code, message) = missing_code(batch.upstream_status, v.is_some());
    let parse_id = |s: &str| s.parse::<RecordId>().map_err(|e| format!("ids.json: {e}"));
    let mut done = Vec::with_capacity(work.metas.len() + unmatched.len());
    for (i, r) in per_line.into_iter().enumerate() {
        let meta = &work.metas[i];
        let result = r.unwrap_or_else(|| {
            proviso_batch::output::missing(&upstream_id(meta.line), code, message)
        });
        let placed = Placed {
            index: Some(i),
            result,
        };
        done.push(line_done(&batch, &work, placed, parse_id(&ids.records[i])?));
    }
    for (r, id) in unmatched.into_iter().zip(&ids.extra) {
        let placed = Placed {
            index: None,
            result: r,
        };
        done.push(line_done(&batch, &work, placed, parse_id(id)?));
    }
    // Record what is not recorded yet, a group at a time, keeping the
    // progress (a restart goes on from it, under the same ids).
    let start = usize::try_from(batch.recorded_lines).unwrap_or(usize::MAX);
    let pending: Vec<&Done> = done.iter().skip(start).collect();
    for group in pending.chunks(GROUP) {
        let commits = group
            .iter()
            .map(|d| record::commit(state, d.record.clone()));
        for r in futures_util::future::join_all(commits).await {
            r.map_err(|e| e.message)?;
        }
        batch.recorded_lines += group.len() as u64;
        save(b, &batch).await?;
    }
    let ok_lines: Vec<&Done> = done.iter().filter(|d| d.ok).collect();
    let err_lines: Vec<&Done> = done.iter().filter(|d| !d.ok).collect();
    let now_s = state.clock.now().0 / 1000;
    let file = |ds: &[&Done], purpose: &str, id: &str| -> Option<(FileInfo, Vec<u8>)> {
        if ds.is_empty() {
            return None;
        }
        let mut bytes = Vec::new();
        for d in ds {
            bytes.extend_from_slice(d.client_line.to_string().as_bytes());
            bytes.push(b'\n');
        }
        let name = format!("{}_{purpose}.jsonl", batch.id);
        let info = FileInfo::with_id(id.to_owned(), &batch.key_id, purpose, &name, &bytes, now_s);
        Some((info, bytes))
    };
    let out = file(&ok_lines, "batch_output", &ids.output_file);
    let err = file(&err_lines, "batch_error", &ids.error_file);
    batch.output_file_id = out.as_ref().map(|(f, _)| f.id.clone());
    batch.error_file_id = err.as_ref().map(|(f, _)| f.id.clone());
    blocking(&b.store, move |st| {
        for (info, bytes) in out.iter().chain(err.iter()) {
            st.put_file(info, bytes)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| e.message)?;
    settle(b, &batch, &done, &work);
    let mut usage = Usage::default();
    for u in done.iter().filter_map(|d| d.usage) {
        usage.prompt_tokens = usage.prompt_tokens.saturating_add(u.prompt_tokens);
        usage.completion_tokens = usage.completion_tokens.saturating_add(u.completion_tokens);
        usage.total_tokens = usage.total_tokens.saturating_add(u.total_tokens);
    }
    batch.completed = ok_lines.len() as u64;
    batch.failed = err_lines.len() as u64;
    batch.usage = Some(json!({
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }));
    if !unreadable.is_empty() {
        tracing::warn!(batch = %batch.id, lines = unreadable.len(), "the upstream's result files hold lines that are not results");
        let mut data: Vec<Value> = batch
            .errors
            .as_ref()
            .and_then(|e| e.get("data"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        data.extend(unreadable);
        batch.errors = Some(json!({"object": "list", "data": data}));
    }
    batch.status = batch.upstream_status.unwrap_or(BatchStatus::Completed);
    let ended = ended_record(state, &batch);
    record::commit(state, ended).await.map_err(|e| e.message)?;
    batch.recorded = true;
    let stored = batch.clone();
    blocking(&b.store, move |st| {
        st.put_batch(&stored)?;
        st.drop_work(&stored.id)
    })
    .await
    .map_err(|e| e.message)?;
    b.forget(&batch.id);
    tracing::info!(batch = %batch.id, status = batch.status.as_str(), completed = batch.completed, failed = batch.failed, "batch recorded");
    Ok(())
}

/// Settles the batch's reservation: the prompt and completion tokens the
/// upstream reports, and for an answered line that reported none, what was
/// reserved for it.
fn settle(b: &Arc<Batches>, batch: &Batch, done: &[Done], work: &Work) {
    let Some(r) = b.take(&batch.id) else { return };
    let (mut prompt, mut completion) = (0u64, 0u64);
    for (d, m) in done.iter().zip(&work.metas) {
        match (d.usage, d.ok) {
            (Some(u), _) => {
                prompt = prompt.saturating_add(u.prompt_tokens);
                completion =
                    completion.saturating_add(u.total_tokens.saturating_sub(u.prompt_tokens));
            }
            (None, true) => {
                prompt = prompt.saturating_add(m.prompt_tokens);
                completion =
                    completion.saturating_add(m.reserved_tokens.saturating_sub(m.prompt_tokens));
            }
            (None, false) => {}
        }
    }
    r.settle_split(prompt, completion);
}

fn ended_record(state: &AppState, batch: &Batch) -> Record {
    let detail = json!({
        "batch": batch.id,
        "upstream_batch": batch.upstream_batch_id,
        "status": batch.status.as_str(),
        "lines": batch.total,
        "completed": batch.completed,
        "failed": batch.failed,
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
        "usage": batch.usage,
        "errors": batch.errors,
    });
    Record {
        model: Some(batch.model.clone()),
        upstream: Some(batch.upstream.clone()),
        upstream_model: Some(batch.upstream_model.clone()),
        ..Record::event(
            RecordId::new_at(state.clock.now()),
            ENDED_EVENT,
            Some(KeyId(batch.key_id.clone())),
            Some(batch.team.clone()),
            detail.to_string(),
        )
    }
}
