//! Stage: desensitize. When the policy decision (or `[redact] always`) asks
//! for it, personal data and secrets in the prompt are replaced before the
//! request leaves; the placeholders are kept for `restore`. The ledger then
//! records the prompt as sent (masked).

use proviso_redact::{EntityKind, Redactor, Session};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::pipeline::Context;
use crate::state::AppState;
use crate::upstream::Endpoint;

/// Masks every string in `v`, at any depth: message contents and names,
/// tool-call arguments, tool descriptions and parameter schemas, `suffix`,
/// `user`, `metadata`, `prediction`, and whatever a client adds. Object
/// keys are scanned too (a property or metadata name can be personal data),
/// and so are numbers (a card number sent as a JSON number): a number with a
/// finding becomes the masked string. Whatever is forwarded is scanned.
fn redact_value(
    r: &Redactor,
    v: &mut Value,
    only: Option<&[EntityKind]>,
    s: &mut Session,
    n: &mut usize,
) {
    match v {
        Value::String(text) => {
            let out = r.redact(text, only, s);
            if !out.findings.is_empty() {
                *n += out.findings.len();
                *text = out.text;
            }
        }
        Value::Number(num) => {
            let text = num.to_string();
            let out = r.redact(&text, only, s);
            if !out.findings.is_empty() {
                *n += out.findings.len();
                *v = Value::String(out.text);
            }
        }
        Value::Array(items) => {
            for it in items {
                redact_value(r, it, only, s, n);
            }
        }
        Value::Object(map) => {
            if map.keys().any(|k| !r.find(k, only).is_empty()) {
                let old = std::mem::take(map);
                for (k, mut val) in old {
                    let out = r.redact(&k, only, s);
                    *n += out.findings.len();
                    redact_value(r, &mut val, only, s, n);
                    map.insert(out.text, val);
                }
                return;
            }
            for val in map.values_mut() {
                redact_value(r, val, only, s, n);
            }
        }
        _ => {}
    }
}

/// Masks every string of a request body but `model` (`only`: these entity
/// types, else the configured ones); returns the body, the placeholders and
/// how many values were replaced. Pure: the stage runs it, and the fuzz
/// target `request_json` feeds it anything.
pub fn mask_body(
    r: &Redactor,
    body: serde_json::Map<String, Value>,
    only: Option<&[EntityKind]>,
) -> (serde_json::Map<String, Value>, Session, usize) {
    mask_body_from(r, body, only, Session::default())
}

/// [`mask_body`] going on from the placeholders of `session` (an earlier
/// turn's): a value seen before keeps its placeholder, and new ones are
/// numbered after them.
pub fn mask_body_from(
    r: &Redactor,
    mut body: serde_json::Map<String, Value>,
    only: Option<&[EntityKind]>,
    mut session: Session,
) -> (serde_json::Map<String, Value>, Session, usize) {
    let mut found = 0usize;
    for (k, v) in body.iter_mut() {
        // The model name is routing, not content; everything else the
        // upstream receives is scanned (the top-level keys are the API's).
        if k != "model" {
            redact_value(r, v, only, &mut session, &mut found);
        }
    }
    (body, session, found)
}

/// Masks the body in place, if asked to (on the blocking pool when it is
/// large).
pub async fn run(state: &AppState, ctx: &mut Context) -> Result<(), ApiError> {
    let asked = ctx.desensitize.clone();
    if asked.is_none() && !state.config.redact.always {
        return Ok(());
    }
    if ctx.endpoint == Endpoint::Models {
        return Ok(());
    }
    let only: Option<Vec<EntityKind>> = asked
        .filter(|e| !e.is_empty())
        .map(|e| e.iter().filter_map(|n| n.parse().ok()).collect());
    // A Responses API turn goes on from the placeholders of the response
    // it names, when this key created it.
    let earlier = (ctx.endpoint == Endpoint::Responses)
        .then(|| {
            let id = ctx.body.get("previous_response_id")?.as_str()?;
            let key = ctx.key.as_ref()?;
            state
                .conversations
                .get(id, &key.id.0)
                .map(|s| Session::clone(&s))
        })
        .flatten()
        .unwrap_or_default();
    let st = state.clone();
    let body = std::mem::take(&mut ctx.body);
    let (body, session, found) =
        crate::pipeline::offload::offload(ctx.request_text.len(), move || {
            mask_body_from(&st.redactor, body, only.as_deref(), earlier)
        })
        .await?;
    ctx.body = body;
    if found == 0 {
        // Nothing new to mask; an earlier turn's placeholders may still
        // come back in the answer.
        if !session.is_empty() {
            ctx.session = Some(session);
        }
        return Ok(());
    }
    // The body is serialized as it is (no copy of the map).
    ctx.request_text = serde_json::to_string(&ctx.body)
        .map_err(|e| ApiError::internal(format!("the masked body: {e}")))?;
    let sealed = state
        .config
        .redact
        .mapping_key
        .as_ref()
        .filter(|_| !session.is_empty())
        .map(|k| {
            session
                .seal(k.as_str())
                .unwrap_or_else(|e| format!("error: {e}"))
        });
    ctx.redaction =
        Some(json!({"replaced": found, "placeholders": session.len(), "mapping_sealed": sealed}));
    if !session.is_empty() {
        ctx.session = Some(session);
    }
    Ok(())
}
