//! `POST /v1/batches`: every line of the input file checked as a request,
//! the batch refused whole (naming the lines) if any line is, the quota
//! reserved for all lines at once, the submission recorded, and only then
//! the masked file sent upstream (to the first allowed deployment that
//! takes it; a failure moves on to the next).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use proviso_batch::{Batch, BatchStatus, Line};
use proviso_ledger::Record;
use proviso_types::RecordId;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::batch::work::{LineMeta, Submission};
use crate::batch::{Caller, blocking, caller, now_s, upstream};
use crate::error::ApiError;
use crate::pipeline::batch_line::{self, CheckedLine};
use crate::pipeline::{record, reserve_quota};
use crate::state::AppState;
use crate::upstream::{Deployment, Endpoint};

/// The ledger event of a batch sent upstream.
pub const SUBMITTED_EVENT: &str = "batch.submitted";

/// The request body.
struct Create {
    input_file_id: String,
    endpoint: Endpoint,
    window: String,
    metadata: Option<Value>,
}

fn read_create(text: &str) -> Result<Create, ApiError> {
    let v: Value = serde_json::from_str(text).map_err(ApiError::invalid_json)?;
    let Value::Object(o) = v else {
        return Err(ApiError::invalid_json("expected a JSON object"));
    };
    let field = |name: &str| -> Result<String, ApiError> {
        match o.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            None | Some(Value::Null) => Err(ApiError::missing_field(name)),
            Some(_) => Err(ApiError::invalid_field(name, "expected a non-empty string")),
        }
    };
    let input_file_id = field("input_file_id")?;
    let endpoint_s = field("endpoint")?;
    let endpoint = proviso_batch::input::canonical_url(&endpoint_s)
        .and_then(Endpoint::of_batch_url)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "endpoint",
                &format!(
                    "{endpoint_s:?} is not one of {}",
                    proviso_batch::SUPPORTED_URLS.join(", ")
                ),
            )
        })?;
    let window = field("completion_window")?;
    if window != "24h" {
        return Err(ApiError::invalid_field(
            "completion_window",
            "only \"24h\" is offered",
        ));
    }
    let metadata = match o.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) if m.len() <= 16 && m.values().all(Value::is_string) => {
            Some(Value::Object(m.clone()))
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                "metadata",
                "expected an object of at most 16 string values",
            ));
        }
    };
    Ok(Create {
        input_file_id,
        endpoint,
        window,
        metadata,
    })
}

/// A refused line, as the error's `lines` lists it.
fn line_error(number: usize, custom_id: Option<&str>, code: &str, message: &str) -> Value {
    json!({"line": number, "custom_id": custom_id, "code": code, "message": message})
}

/// `POST /v1/batches`.
pub(crate) async fn create(State(s): State<AppState>, req: axum::extract::Request) -> Response {
    let peer = crate::handlers::peer(&req);
    // Azure OpenAI's own batch routes (`/openai/batches`) name deployments
    // in the lines' `model`.
    let azure = req.uri().path().starts_with("/openai/batches");
    let (parts, body) = req.into_parts();
    let mut c = match caller(&s, Endpoint::Batches, &parts.headers, peer).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let limit = s.config.server.max_body_bytes;
    let text = match axum::body::to_bytes(body, limit).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => return record::refuse(&s, &mut c.ctx, ApiError::too_large(limit)).await,
    };
    c.ctx.request_text = text.clone();
    match submit(&s, &mut c, &parts.headers, &text, azure).await {
        Ok(batch) => Json(batch.object()).into_response(),
        Err(e) => {
            crate::pipeline::settle_nothing_used(&mut c.ctx);
            record::refuse(&s, &mut c.ctx, e).await
        }
    }
}

async fn submit(
    s: &AppState,
    c: &mut Caller,
    headers: &axum::http::HeaderMap,
    text: &str,
    azure: bool,
) -> Result<Batch, ApiError> {
    let req = read_create(text)?;
    let file = crate::batch::files::owned(c, &req.input_file_id)
        .await
        .map_err(|mut e| {
            e.param = Some("input_file_id".into());
            e
        })?;
    if file.purpose != "batch" {
        return Err(ApiError::invalid_field(
            "input_file_id",
            "the file is not of purpose batch",
        ));
    }
    let id = file.id.clone();
    let bytes = blocking(&c.batches.store, move |st| st.file_bytes(&id)).await?;
    let limits = crate::batch::limits(s, &c.batches);
    let lines = tokio::task::spawn_blocking(move || proviso_batch::input::parse(&bytes, limits))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::invalid_file(&e.to_string(), Vec::new()))?;
    let mut lines = lines;
    if azure {
        for l in &mut lines {
            if let Some(Value::String(m)) = l.body.get("model") {
                let model = s.config.model_of_azure_deployment(m);
                l.body.insert("model".into(), Value::String(model));
            }
        }
    }
    let (checked, model) = check_lines(s, c, headers, req.endpoint, lines).await?;
    let deployments = common_deployments(&checked, req.endpoint, &model)?;
    // One reservation for the whole batch: it is charged as if its lines
    // were sent at once.
    let mut plan = crate::quota::Plan::default();
    let mut metas = Vec::with_capacity(checked.len());
    for (line, ch) in &checked {
        metas.push(LineMeta {
            custom_id: line.custom_id.clone(),
            line: line.number,
            session: ch.session.clone(),
            redaction: ch.redaction.clone(),
            reserved_tokens: ch.plan.reserved_tokens(),
            prompt_tokens: ch.plan.prompt_tokens,
        });
        plan.absorb(ch.plan.clone());
    }
    c.ctx.model = Some(model.clone());
    reserve_quota::reserve_plan(s, &mut c.ctx, plan).await?;
    record::ensure_writable(s)?;
    let first = &checked[0].1;
    let submission = Submission {
        purpose: first.purpose.clone(),
        client: c.ctx.client.clone(),
        policy: first.decision.as_ref().map(|d| {
            json!({"allowed": d.allowed, "rule": d.rule, "reference": d.reference, "desensitize": d.desensitize})
        }),
    };
    let batch_id = proviso_batch::store::new_batch_id();
    let mut masked = masked_lines(&checked, req.endpoint);
    // The batch's working files first (what is sent, and what restores its
    // answers), then the batch itself, so that whatever is sent can be
    // recorded after a restart.
    let work = (
        jsonl(&masked),
        serde_json::to_vec(&metas).map_err(ApiError::internal)?,
        serde_json::to_vec(&submission).map_err(ApiError::internal)?,
    );
    let bid = batch_id.clone();
    blocking(&c.batches.store, move |st| {
        st.put_work(&bid, "sent.jsonl", &work.0)?;
        st.put_work(&bid, "lines.json", &work.1)?;
        st.put_work(&bid, "submission.json", &work.2)
    })
    .await?;
    let mut batch = new_batch(s, c, &req, &model, &submission, checked.len(), batch_id);
    c.batches.submitting(&batch.id);
    let sent = send_somewhere(
        s,
        c,
        &mut batch,
        &deployments,
        &mut masked,
        &metas,
        &submission,
    )
    .await;
    c.batches.submitted(&batch.id);
    match sent {
        Ok(()) => {
            if let Some(r) = c.ctx.reservation.take() {
                c.batches.hold(&batch.id, r);
            }
            c.batches.wake.notify_one();
            Ok(batch)
        }
        Err(e) => {
            // Nothing ran: the batch is kept as failed, its lines never
            // sent (no line records; the submission's attempts are).
            batch.status = BatchStatus::Failed;
            batch.failed_at = Some(now_s(s));
            batch.errors = Some(
                json!({"object": "list", "data": [{"code": e.code.as_str(), "message": e.message}]}),
            );
            batch.recorded = true;
            let stored = batch.clone();
            let _ = blocking(&c.batches.store, move |st| {
                st.put_batch(&stored)?;
                st.drop_work(&stored.id)
            })
            .await;
            Err(e)
        }
    }
}

fn new_batch(
    s: &AppState,
    c: &Caller,
    req: &Create,
    model: &str,
    submission: &Submission,
    lines: usize,
    id: String,
) -> Batch {
    Batch::new(proviso_batch::NewBatch {
        id,
        key_id: c.key.id.0.clone(),
        team: c.key.team.clone(),
        endpoint: req.endpoint.path().to_owned(),
        input_file_id: req.input_file_id.clone(),
        completion_window: req.window.clone(),
        created_at: now_s(s),
        model: model.to_owned(),
        purpose: submission.purpose.clone(),
        total: lines as u64,
        metadata: req.metadata.clone(),
    })
}

/// Sends the batch to the first deployment that takes it. Before each
/// attempt the batch is stored naming the deployment and the attempt is
/// recorded (the file's digest as it leaves); once the upstream has made
/// it, its ids are stored at once (if that fails, the upstream batch is
/// cancelled: a batch that runs must be one this gateway will record).
async fn send_somewhere(
    s: &AppState,
    c: &Caller,
    batch: &mut Batch,
    deployments: &[Deployment],
    masked: &mut [Value],
    metas: &[LineMeta],
    sub: &Submission,
) -> Result<(), ApiError> {
    let mut last_err = None;
    for d in deployments {
        for line in masked.iter_mut() {
            if let Some(Value::Object(b)) = line.get_mut("body") {
                b.insert("model".into(), Value::String(d.model.clone()));
            }
        }
        let bytes = jsonl(masked);
        let digest = hex::encode(Sha256::digest(&bytes));
        batch.upstream = d.upstream.name.clone();
        batch.upstream_model = d.model.clone();
        let stored = batch.clone();
        blocking(&c.batches.store, move |st| st.put_batch(&stored)).await?;
        let rec = submitted_record(s, c, batch, d, &digest, sub, metas);
        batch.submitted_record = Some(rec.id.to_string());
        record::commit(s, rec).await?;
        match send(d, bytes, batch, batch.endpoint.as_str()).await {
            Ok((file_id, up)) => {
                batch.upstream_input_file_id = Some(file_id);
                batch.upstream_batch_id = up.get("id").and_then(Value::as_str).map(str::to_owned);
                upstream::apply(batch, &up);
                let stored = batch.clone();
                if let Err(e) = blocking(&c.batches.store, move |st| st.put_batch(&stored)).await {
                    if let Some(id) = &batch.upstream_batch_id {
                        let _ = upstream::cancel(&d.upstream, id).await;
                    }
                    return Err(e);
                }
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(upstream = %d.upstream.name, error = %e, batch = %batch.id, "sending a batch failed; trying the next deployment");
                last_err = Some((d.upstream.name.clone(), e));
            }
        }
    }
    let (up, why) = last_err.unwrap_or_default();
    let mut e = ApiError::upstream_unreachable(&up);
    e.message = format!("{} The batch was not created: {why}", e.message);
    Err(e)
}

/// Checks every line; gives the checked lines and their one model, or the
/// refusal naming every line that would be refused.
async fn check_lines(
    s: &AppState,
    c: &Caller,
    headers: &axum::http::HeaderMap,
    endpoint: Endpoint,
    lines: Vec<Line>,
) -> Result<(Vec<(Line, CheckedLine)>, String), ApiError> {
    let mut refused = Vec::new();
    let mut more = 0usize;
    let mut model: Option<(String, usize)> = None;
    let mut checked = Vec::with_capacity(lines.len());
    for mut line in lines {
        let mut refuse = |code: &str, message: &str, line: &Line| {
            if refused.len() < proviso_batch::input::MAX_LISTED {
                refused.push(line_error(
                    line.number,
                    Some(&line.custom_id),
                    code,
                    message,
                ));
            } else {
                more += 1;
            }
        };
        if line.url != endpoint.path() {
            let m = format!("the line calls {}, the batch {}", line.url, endpoint.path());
            refuse("invalid_field", &m, &line);
            continue;
        }
        let body = std::mem::take(&mut line.body);
        match batch_line::check(s, &c.key, headers, endpoint, body).await {
            Ok(ch) => {
                match &model {
                    None => model = Some((ch.model.clone(), line.number)),
                    Some((m, first)) if *m != ch.model => {
                        let msg = format!(
                            "every line must name the same model: line {first} names '{m}', this one '{}'",
                            ch.model
                        );
                        refuse("invalid_field", &msg, &line);
                        continue;
                    }
                    Some(_) => {}
                }
                checked.push((line, ch));
            }
            Err(e) => refuse(e.code.as_str(), &e.message, &line),
        }
    }
    if !refused.is_empty() {
        return Err(ApiError::batch_refused(refused, more));
    }
    let model = model.map(|(m, _)| m).unwrap_or_default();
    Ok((checked, model))
}

/// The deployments every line may use, in order, that take batches.
fn common_deployments(
    checked: &[(Line, CheckedLine)],
    endpoint: Endpoint,
    model: &str,
) -> Result<Vec<Deployment>, ApiError> {
    let same =
        |a: &Deployment, b: &Deployment| a.upstream.name == b.upstream.name && a.model == b.model;
    let mut common: Vec<Deployment> = checked
        .first()
        .map(|(_, c)| c.deployments.clone())
        .unwrap_or_default();
    for (_, c) in checked.iter().skip(1) {
        common.retain(|d| c.deployments.iter().any(|x| same(d, x)));
    }
    if common.is_empty() {
        return Err(ApiError::batch_not_supported(
            model,
            "no deployment is allowed for every line",
        ));
    }
    let takes: Vec<Deployment> = common
        .into_iter()
        .filter(|d| d.upstream.takes_batches())
        .filter(|d| endpoint != Endpoint::Responses || !d.upstream.translate_responses)
        .collect();
    if takes.is_empty() {
        return Err(ApiError::batch_not_supported(
            model,
            "none of its allowed deployments takes batches (Azure upstreams, and chat-only upstreams for /v1/responses, do not)",
        ));
    }
    Ok(takes)
}

/// The file as it leaves, a line each: each line's masked body, under the
/// client's model (each attempt names its deployment's), and its line
/// number for `custom_id`.
fn masked_lines(checked: &[(Line, CheckedLine)], endpoint: Endpoint) -> Vec<Value> {
    checked
        .iter()
        .map(|(line, ch)| {
            json!({
                "custom_id": crate::batch::work::upstream_id(line.number),
                "method": "POST",
                "url": endpoint.path(),
                "body": Value::Object(ch.body.clone()),
            })
        })
        .collect()
}

/// JSON lines.
fn jsonl(lines: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

async fn send(
    d: &Deployment,
    bytes: Vec<u8>,
    batch: &Batch,
    endpoint: &str,
) -> Result<(String, Value), String> {
    let up = &d.upstream;
    let file_id = upstream::upload(up, bytes, &format!("{}.jsonl", batch.id)).await?;
    let created =
        upstream::create(up, &file_id, endpoint, &batch.completion_window, &batch.id).await?;
    Ok((file_id, created))
}

fn submitted_record(
    s: &AppState,
    c: &Caller,
    batch: &Batch,
    d: &Deployment,
    digest: &str,
    sub: &Submission,
    metas: &[LineMeta],
) -> Record {
    let masked_lines = metas.iter().filter(|m| m.redaction.is_some()).count();
    let detail = json!({
        "batch": batch.id,
        "input_file_id": batch.input_file_id,
        "endpoint": batch.endpoint,
        "lines": metas.len(),
        "custom_ids_sha256": hex::encode(Sha256::digest(
            metas.iter().map(|m| m.custom_id.as_str()).collect::<Vec<_>>().join("\n").as_bytes()
        )),
        "sent_sha256": digest,
        "masked_lines": masked_lines,
        "purpose": sub.purpose,
        "client": sub.client,
        "policy": sub.policy,
        "counted_prompt_tokens": metas.iter().map(|m| m.prompt_tokens).sum::<u64>(),
    });
    Record {
        model: Some(batch.model.clone()),
        upstream: Some(d.upstream.name.clone()),
        upstream_model: Some(d.model.clone()),
        ..Record::event(
            RecordId::new_at(s.clock.now()),
            SUBMITTED_EVENT,
            Some(c.key.id.clone()),
            Some(c.key.team.clone()),
            detail.to_string(),
        )
    }
}
