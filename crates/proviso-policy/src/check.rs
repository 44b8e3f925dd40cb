//! The whole check of one key's request: the purpose in force, the key's
//! own approved scope, and the policy's decision for every place the
//! request could go. The gateway's check stage, its admin API
//! (`/admin/policy/check`) and `proviso policy check` all call
//! [`Policy::evaluate`], so all three answer alike.

use crate::eval::{Decision, Policy, Request};
use crate::glob::glob_match;

/// Who asks: a key's identity and what it was approved for.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// The key's team.
    pub team: &'a str,
    /// The key id.
    pub key_id: &'a str,
    /// The purposes the key was approved for (empty: any).
    pub purposes: &'a [String],
    /// The model patterns the key may use (empty: any).
    pub models: &'a [String],
    /// The purpose in force when the request declares none.
    pub implied_purpose: Option<&'a str>,
}

/// Where a request could be sent, as the rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Destination<'a> {
    /// The upstream's name.
    pub upstream: &'a str,
    /// The upstream's kind.
    pub kind: &'a str,
    /// The upstream's region, if configured.
    pub region: Option<&'a str>,
}

/// Something a request can be routed to (a deployment of a model).
pub trait Target {
    /// Where it sends the request.
    fn destination(&self) -> Destination<'_>;
}

/// One request to check: who, for what declared purpose, for which model.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// The caller.
    pub caller: Caller<'a>,
    /// The purpose the request declares, if any.
    pub declared: Option<&'a str>,
    /// The model as the client named it.
    pub model: &'a str,
}

/// Everything the check found.
#[derive(Debug)]
pub struct Evaluation<T> {
    /// The purpose in force (declared, or the key's implied one).
    pub purpose: Option<String>,
    /// Why the key itself may not make this request, if so.
    pub scope_error: Option<String>,
    /// The policy's decision for each target, in order.
    pub decisions: Vec<(T, Decision)>,
}

impl<T> Evaluation<T> {
    /// Whether the request may proceed on some target.
    pub fn allowed(&self) -> bool {
        self.scope_error.is_none() && self.decisions.iter().any(|(_, d)| d.allowed)
    }
}

impl Policy {
    /// Checks `ask` for each target; decisions carry no per-rule trace
    /// (the request path's form).
    pub fn evaluate<T: Target>(&self, ask: &Ask<'_>, targets: Vec<T>) -> Evaluation<T> {
        self.check(ask, targets, false)
    }

    /// As [`Policy::evaluate`], with every rule's verdict in each decision
    /// (for explanations).
    pub fn evaluate_explained<T: Target>(&self, ask: &Ask<'_>, targets: Vec<T>) -> Evaluation<T> {
        self.check(ask, targets, true)
    }

    fn check<T: Target>(&self, ask: &Ask<'_>, targets: Vec<T>, explain: bool) -> Evaluation<T> {
        let c = &ask.caller;
        let model = ask.model;
        let purpose = ask.declared.or(c.implied_purpose).map(str::to_owned);
        let scope_error = if let Some(p) = purpose
            .as_ref()
            .filter(|p| !c.purposes.is_empty() && !c.purposes.contains(p))
        {
            Some(format!(
                "key {} is approved for purposes [{}], not {p:?}",
                c.key_id,
                c.purposes.join(", ")
            ))
        } else if !c.models.is_empty() && !c.models.iter().any(|m| glob_match(m, model)) {
            Some(format!(
                "key {} is approved for models [{}], not {model:?}",
                c.key_id,
                c.models.join(", ")
            ))
        } else {
            None
        };
        let decisions = targets
            .into_iter()
            .map(|t| {
                let d = t.destination();
                let mut req = Request::new(c.team, c.key_id, model, d.upstream, d.kind);
                req.purpose.clone_from(&purpose);
                req.region = d.region.map(str::to_owned);
                let decision = if explain {
                    self.explain(&req)
                } else {
                    self.decide(&req)
                };
                (t, decision)
            })
            .collect();
        Evaluation {
            purpose,
            scope_error,
            decisions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyConfig;

    struct Up(&'static str, Option<&'static str>);
    impl Target for Up {
        fn destination(&self) -> Destination<'_> {
            Destination {
                upstream: self.0,
                kind: "openai",
                region: self.1,
            }
        }
    }

    fn policy(toml_text: &str) -> Policy {
        let cfg: PolicyConfig = toml::from_str(toml_text).expect("policy toml");
        Policy::new(cfg).expect("policy")
    }

    fn ask<'a>(purposes: &'a [String], models: &'a [String], declared: Option<&'a str>) -> Ask<'a> {
        Ask {
            caller: Caller {
                team: "ml",
                key_id: "key_1",
                purposes,
                models,
                implied_purpose: None,
            },
            declared,
            model: "gpt-4o",
        }
    }

    #[test]
    fn a_purpose_outside_the_keys_approval_is_a_scope_error() {
        let p = policy(
            "purposes = [\"product\", \"evaluation\"]\n[[rules]]\nname = \"all\"\neffect = \"allow\"\nreason = \"ok\"\n",
        );
        let approved = vec!["product".to_owned()];
        let ev = p.evaluate(
            &ask(&approved, &[], Some("evaluation")),
            vec![Up("a", None)],
        );
        assert!(
            ev.scope_error
                .as_deref()
                .is_some_and(|e| e.contains("purposes [product]"))
        );
        assert!(!ev.allowed());
        let ev = p.evaluate(&ask(&approved, &[], Some("product")), vec![Up("a", None)]);
        assert!(ev.allowed(), "{:?}", ev.scope_error);
    }

    #[test]
    fn a_model_outside_the_keys_patterns_is_a_scope_error() {
        let p = policy("[[rules]]\nname = \"all\"\neffect = \"allow\"\nreason = \"ok\"\n");
        let models = vec!["gpt-3*".to_owned()];
        let ev = p.evaluate(&ask(&[], &models, None), vec![Up("a", None)]);
        assert!(
            ev.scope_error
                .as_deref()
                .is_some_and(|e| e.contains("models [gpt-3*]"))
        );
        let models = vec!["gpt-4*".to_owned()];
        assert!(
            p.evaluate(&ask(&[], &models, None), vec![Up("a", None)])
                .allowed()
        );
    }

    #[test]
    fn each_target_is_decided_by_its_own_region_and_only_explained_on_request() {
        let p = policy(
            "[[rules]]\nname = \"eu-only\"\neffect = \"allow\"\nreason = \"ok\"\nregions = [\"eu-*\"]\n",
        );
        let targets = || {
            vec![
                Up("us", Some("us-east")),
                Up("eu", Some("eu-west")),
                Up("none", None),
            ]
        };
        let ev = p.evaluate(&ask(&[], &[], None), targets());
        let allowed: Vec<bool> = ev.decisions.iter().map(|(_, d)| d.allowed).collect();
        assert_eq!(allowed, [false, true, false]);
        assert!(ev.decisions.iter().all(|(_, d)| d.trace.is_empty()));
        let ex = p.evaluate_explained(&ask(&[], &[], None), targets());
        let same: Vec<bool> = ex.decisions.iter().map(|(_, d)| d.allowed).collect();
        assert_eq!(same, allowed);
        assert!(
            ex.decisions
                .iter()
                .all(|(_, d)| d.trace.len() == p.rules().len())
        );
        let why = |i: usize| {
            let t = &ex.decisions[i].1.trace;
            t.iter()
                .find(|t| t.rule == "eu-only")
                .map(|t| t.why.clone())
        };
        assert_eq!(
            why(0).as_deref(),
            Some("region \"us-east\" is not in [eu-*]")
        );
        assert_eq!(why(1).as_deref(), Some("matches"));
        assert_eq!(
            why(2).as_deref(),
            Some("no region given; the rule needs one of [eu-*]")
        );
    }
}
