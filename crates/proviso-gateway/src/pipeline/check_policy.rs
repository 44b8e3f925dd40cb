//! Stage: the call specification check. The declared purpose (header
//! `Proviso-Purpose`, else the key's default) must be one the key was
//! approved for, the model one the key may use, and the policy must allow
//! the request on at least one of the model's deployments; deployments the
//! policy refuses are dropped. [`evaluate`] is the pure part, shared with
//! `proviso policy check`.

use axum::http::HeaderMap;
use proviso_access::KeyRecord;
use proviso_policy::{Decision, Policy, Request, glob_match};
use serde_json::json;

use crate::error::ApiError;
use crate::pipeline::Context;
use crate::state::AppState;
use crate::upstream::Deployment;

/// The header a client declares its purpose in.
pub const PURPOSE_HEADER: &str = "proviso-purpose";

/// Everything the check found, for the gateway and for explanations.
pub struct Evaluation {
    /// The purpose in force (declared, or the key's default).
    pub purpose: Option<String>,
    /// Why the key itself may not make this request, if so.
    pub scope_error: Option<String>,
    /// The policy's decision for each deployment, in order.
    pub decisions: Vec<(Deployment, Decision)>,
}

impl Evaluation {
    /// Whether the request may proceed on some deployment.
    pub fn allowed(&self) -> bool {
        self.scope_error.is_none() && self.decisions.iter().any(|(_, d)| d.allowed)
    }
}

/// Checks `key` asking for `model` with `declared` purpose against the
/// policy, for each deployment.
pub fn evaluate(
    policy: &Policy,
    key: &KeyRecord,
    declared: Option<&str>,
    model: &str,
    deployments: Vec<Deployment>,
) -> Evaluation {
    let purpose = declared.or(key.implied_purpose()).map(str::to_owned);
    let mut scope_error = None;
    if let Some(p) = purpose
        .as_ref()
        .filter(|p| !key.purposes.is_empty() && !key.purposes.contains(p))
    {
        scope_error = Some(format!(
            "key {} is approved for purposes [{}], not {p:?}",
            key.id,
            key.purposes.join(", ")
        ));
    } else if !key.models.is_empty() && !key.models.iter().any(|m| glob_match(m, model)) {
        scope_error = Some(format!(
            "key {} is approved for models [{}], not {model:?}",
            key.id,
            key.models.join(", ")
        ));
    }
    let decisions = deployments
        .into_iter()
        .map(|d| {
            let mut req = Request::new(
                &key.team,
                &key.id.0,
                model,
                &d.upstream.name,
                d.upstream.kind_name(),
            );
            req.purpose = purpose.clone();
            req.region = d.upstream.region.clone();
            let decision = policy.explain(&req);
            (d, decision)
        })
        .collect();
    Evaluation {
        purpose,
        scope_error,
        decisions,
    }
}

/// Keeps the deployments the policy allows, or refuses with 403.
pub fn run(
    state: &AppState,
    ctx: &mut Context,
    headers: &HeaderMap,
    deployments: Vec<Deployment>,
) -> Result<Vec<Deployment>, ApiError> {
    let Some(key) = ctx.key.as_ref() else {
        return Err(ApiError::internal("check_policy before authenticate"));
    };
    let declared = headers
        .get(PURPOSE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let model = ctx.model.clone().unwrap_or_default();
    let ev = evaluate(&state.policy, key, declared, &model, deployments);
    ctx.purpose = ev.purpose.clone();
    if let Some(why) = ev.scope_error {
        return Err(ApiError::policy_denied("key-scope", &why, None));
    }
    let mut allowed = Vec::new();
    let mut refusal: Option<Decision> = None;
    for (d, decision) in ev.decisions {
        if decision.allowed {
            allowed.push(d);
            // The prompt may reach any allowed deployment (a failure before
            // the first byte moves on to the next), so it is masked as the
            // strictest of them asks.
            ctx.desensitize = strictest(ctx.desensitize.take(), decision.desensitize.as_ref());
            if ctx.decision.is_none() {
                ctx.decision = Some(decision);
            }
        } else if refusal.is_none() {
            refusal = Some(decision);
        }
    }
    match (allowed.is_empty(), refusal) {
        (true, Some(d)) => {
            let err = ApiError::policy_denied(&d.rule, &d.reason, d.reference.as_deref());
            ctx.decision = Some(d);
            Err(err)
        }
        (true, None) => Err(ApiError::internal("no deployments to check")),
        (false, _) => Ok(allowed),
    }
}

/// The union of two masking demands: `None` asks for nothing, an empty
/// list for every entity type, a list for those types.
fn strictest(a: Option<Vec<String>>, b: Option<&Vec<String>>) -> Option<Vec<String>> {
    match (a, b) {
        (None, None) => None,
        (Some(a), None) => Some(a),
        (None, Some(b)) => Some(b.clone()),
        (Some(a), Some(b)) if a.is_empty() || b.is_empty() => Some(Vec::new()),
        (Some(mut a), Some(b)) => {
            for e in b {
                if !a.contains(e) {
                    a.push(e.clone());
                }
            }
            Some(a)
        }
    }
}

/// The policy part of a record's `detail`.
pub fn detail(ctx: &Context) -> serde_json::Value {
    json!({
        "purpose": ctx.purpose,
        "client": ctx.client,
        "counted_prompt_tokens": ctx.counted_prompt_tokens,
        "desensitized": ctx.redaction,
        "attempts": (!ctx.attempts.is_empty()).then_some(&ctx.attempts),
        "opened": ctx.opened.map(|id| id.to_string()),
        "policy": ctx.decision.as_ref().map(|d| json!({
            "allowed": d.allowed,
            "rule": d.rule,
            "reference": d.reference,
            "desensitize": d.desensitize,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::strictest;

    fn v(x: &[&str]) -> Option<Vec<String>> {
        Some(x.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn the_strictest_masking_demand_wins() {
        assert_eq!(strictest(None, None), None);
        assert_eq!(strictest(None, v(&["email"]).as_ref()), v(&["email"]));
        assert_eq!(strictest(v(&["email"]), None), v(&["email"]));
        assert_eq!(
            strictest(v(&["email"]), v(&["phone", "email"]).as_ref()),
            v(&["email", "phone"])
        );
        assert_eq!(strictest(v(&["email"]), v(&[]).as_ref()), v(&[]));
        assert_eq!(strictest(v(&[]), v(&["phone"]).as_ref()), v(&[]));
    }
}
