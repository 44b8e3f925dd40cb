//! The pure check of a key's request against the usage specification:
//! the purpose in force, the key's own scope, and the policy's decision for
//! each deployment. Shared by the pipeline's check stage, the admin API's
//! `/admin/policy/check` and `proviso policy check`, so all three answer
//! alike.

use proviso_access::KeyRecord;
use proviso_policy::{Decision, Policy, Request, glob_match};

use crate::upstream::Deployment;

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
