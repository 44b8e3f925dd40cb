//! Stage: desensitize. When the policy decision (or `[redact] always`) asks
//! for it, personal data and secrets in the prompt are replaced before the
//! request leaves; the placeholders are kept for `restore`. The ledger then
//! records the prompt as sent (masked).

use proviso_redact::{EntityKind, Redactor, Session};
use serde_json::{Value, json};

use crate::pipeline::Context;
use crate::state::AppState;
use crate::upstream::Endpoint;

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
            *n += out.findings.len();
            *text = out.text;
        }
        Value::Array(items) => {
            for it in items {
                match it {
                    Value::String(_) => redact_value(r, it, only, s, n),
                    Value::Object(part) => {
                        if let Some(t) = part.get_mut("text") {
                            redact_value(r, t, only, s, n);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Masks the body in place, if asked to.
pub fn run(state: &AppState, ctx: &mut Context) {
    let asked = ctx.decision.as_ref().and_then(|d| d.desensitize.clone());
    if asked.is_none() && !state.config.redact.always {
        return;
    }
    let only: Option<Vec<EntityKind>> = asked
        .filter(|e| !e.is_empty())
        .map(|e| e.iter().filter_map(|n| n.parse().ok()).collect());
    let mut session = Session::default();
    let mut found = 0usize;
    let r = &state.redactor;
    match ctx.endpoint {
        Endpoint::Chat => {
            if let Some(msgs) = ctx.body.get_mut("messages").and_then(Value::as_array_mut) {
                for m in msgs {
                    if let Some(c) = m.get_mut("content") {
                        redact_value(r, c, only.as_deref(), &mut session, &mut found);
                    }
                }
            }
        }
        Endpoint::Completions => {
            if let Some(p) = ctx.body.get_mut("prompt") {
                redact_value(r, p, only.as_deref(), &mut session, &mut found);
            }
        }
        Endpoint::Embeddings => {
            if let Some(p) = ctx.body.get_mut("input") {
                redact_value(r, p, only.as_deref(), &mut session, &mut found);
            }
        }
        Endpoint::Models => return,
    }
    if found == 0 {
        return;
    }
    ctx.request_text = Value::Object(ctx.body.clone()).to_string();
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
}
