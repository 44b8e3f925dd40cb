//! `proviso policy lint`: rules that cannot do what their author meant.

use serde::Serialize;

use crate::{Effect, Policy, RuleConfig, glob_match};

/// What the configuration knows exists, to check names against. Empty
/// lists skip that check.
#[derive(Clone, Debug, Default)]
pub struct Known {
    /// Configured upstream names.
    pub upstreams: Vec<String>,
    /// Model names clients can use.
    pub models: Vec<String>,
    /// Teams that hold keys.
    pub teams: Vec<String>,
}

/// The kind of a lint finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LintKind {
    /// A rule names a purpose outside the vocabulary.
    UnknownPurpose,
    /// A rule names an upstream, model or team that does not exist.
    UnknownName,
    /// A rule can never match (an empty list, or only unknown purposes).
    Unreachable,
    /// A rule can match, but a deny rule matches everything it matches, so
    /// it never takes effect.
    Shadowed,
    /// Another rule with the same effect matches everything it matches.
    Redundant,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LintFinding {
    /// The kind.
    pub kind: LintKind,
    /// The rule it is about.
    pub rule: String,
    /// What is wrong.
    pub message: String,
}

fn dims(r: &RuleConfig) -> [(&'static str, &Option<Vec<String>>); 7] {
    [
        ("teams", &r.teams),
        ("keys", &r.keys),
        ("purposes", &r.purposes),
        ("models", &r.models),
        ("upstreams", &r.upstreams),
        ("upstream_kinds", &r.upstream_kinds),
        ("regions", &r.regions),
    ]
}

/// Whether every request `b` matches is also matched by `a`.
fn covers(a: &RuleConfig, b: &RuleConfig) -> bool {
    dims(a)
        .iter()
        .zip(dims(b).iter())
        .all(|((_, da), (_, db))| match (da, db) {
            (None, _) => true,
            (Some(pa), _) if pa.iter().any(|p| p == "*") => true,
            (Some(_), None) => false,
            (Some(pa), Some(pb)) => pb.iter().all(|v| pa.iter().any(|p| glob_match(p, v))),
        })
}

/// Checks a policy; `known` lists what exists.
pub fn lint(policy: &Policy, known: &Known) -> Vec<LintFinding> {
    let mut out = Vec::new();
    let rules = policy.rules();
    let vocab = policy.purposes();
    // Pack rules are built in: lint what the operator wrote.
    for r in &rules[policy.pack_rule_count()..] {
        let push = |out: &mut Vec<LintFinding>, kind, message: String| {
            out.push(LintFinding {
                kind,
                rule: r.name.clone(),
                message,
            });
        };
        if let Some((dim, _)) = dims(r)
            .iter()
            .find(|(_, d)| d.as_ref().is_some_and(Vec::is_empty))
        {
            push(
                &mut out,
                LintKind::Unreachable,
                format!("`{dim}` is an empty list, so the rule never matches"),
            );
            continue;
        }
        if let Some(ps) = &r.purposes {
            let unknown: Vec<&String> = ps
                .iter()
                .filter(|p| !vocab.iter().any(|v| glob_match(p, v)))
                .collect();
            for p in &unknown {
                push(
                    &mut out,
                    LintKind::UnknownPurpose,
                    format!(
                        "purpose {p:?} is not in the vocabulary ({})",
                        vocab.join(", ")
                    ),
                );
            }
            if unknown.len() == ps.len() {
                push(
                    &mut out,
                    LintKind::Unreachable,
                    "none of its purposes can be declared, so the rule never matches".into(),
                );
                continue;
            }
        }
        for (dim, list, names) in [
            ("upstream", &r.upstreams, &known.upstreams),
            ("model", &r.models, &known.models),
            ("team", &r.teams, &known.teams),
        ] {
            if names.is_empty() {
                continue;
            }
            for p in list.iter().flatten() {
                if !names.iter().any(|n| glob_match(p, n)) {
                    push(
                        &mut out,
                        LintKind::UnknownName,
                        format!("{dim} {p:?} matches nothing configured"),
                    );
                }
            }
        }
        let shadow = rules
            .iter()
            .find(|d| d.effect == Effect::Deny && covers(d, r));
        if let Some(d) = shadow.filter(|_| r.effect != Effect::Deny) {
            push(
                &mut out,
                LintKind::Shadowed,
                format!(
                    "deny rule {:?} matches every request this rule matches, so it never takes effect",
                    d.name
                ),
            );
            continue;
        }
        let earlier = rules.iter().take_while(|o| o.name != r.name);
        if let Some(o) = earlier
            .filter(|o| o.effect == r.effect && o.entities == r.entities)
            .find(|o| covers(o, r))
        {
            push(
                &mut out,
                LintKind::Redundant,
                format!(
                    "rule {:?} already matches every request this rule matches, with the same effect",
                    o.name
                ),
            );
        }
    }
    out
}
