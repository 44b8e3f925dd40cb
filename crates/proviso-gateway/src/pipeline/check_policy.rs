//! Stage: the call specification check. The declared purpose (header
//! `Proviso-Purpose`, else the key's default) must be one the key was
//! approved for, the model one the key may use, and the policy must allow
//! the request on at least one of the model's deployments; deployments the
//! policy refuses are dropped. The check itself is
//! [`proviso_policy::Policy::evaluate`] (see [`crate::caller`]), shared with
//! the admin API and `proviso policy check`; the request path's decisions
//! carry no per-rule trace.

use axum::http::HeaderMap;
use proviso_policy::Decision;

use crate::error::ApiError;
use crate::pipeline::{Admitted, Context};
use crate::state::AppState;
use crate::upstream::Deployment;

/// The header a client declares its purpose in.
pub const PURPOSE_HEADER: &str = "proviso-purpose";

/// Keeps the deployments the policy allows, or refuses with 403.
pub fn run(
    state: &AppState,
    ctx: &mut Context,
    who: &Admitted,
    headers: &HeaderMap,
    deployments: Vec<Deployment>,
) -> Result<Vec<Deployment>, ApiError> {
    let declared = headers
        .get(PURPOSE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let ev = state.policy.evaluate(
        &crate::caller::ask(&who.key, declared, &who.model),
        deployments,
    );
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
