use std::collections::HashSet;

use serde::Serialize;
use thiserror::Error;

use crate::{Effect, PolicyConfig, RuleConfig, glob_match, pack_rules};

/// A policy that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    /// `packs` names a pack that does not exist.
    #[error("policy: unknown pack {0:?} (known: openai-terms, azure-openai-terms)")]
    UnknownPack(String),
    /// Two rules share a name.
    #[error("policy: two rules are named {0:?}")]
    DuplicateRule(String),
    /// A rule has no name.
    #[error("policy: rule number {0} has no name")]
    UnnamedRule(usize),
}

/// What is known about a request when policy is checked.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Request {
    /// The key's team.
    pub team: String,
    /// The key id.
    pub key_id: String,
    /// The declared purpose, if any.
    pub purpose: Option<String>,
    /// The model as the client named it.
    pub model: String,
    /// The upstream's name.
    pub upstream: String,
    /// The upstream's kind.
    pub upstream_kind: String,
    /// The upstream's region, if configured.
    pub region: Option<String>,
}

impl Request {
    /// A request with no purpose and no region.
    pub fn new(team: &str, key_id: &str, model: &str, upstream: &str, kind: &str) -> Self {
        Self {
            team: team.into(),
            key_id: key_id.into(),
            model: model.into(),
            upstream: upstream.into(),
            upstream_kind: kind.into(),
            ..Self::default()
        }
    }
}

/// One rule's verdict on a request.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RuleTrace {
    /// The rule.
    pub rule: String,
    /// Its effect.
    pub effect: Effect,
    /// Whether it matched.
    pub matched: bool,
    /// Why it did or did not match.
    pub why: String,
}

/// The outcome of checking a request.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The deciding rule (the first matching deny; else the first matching
    /// allow; else `default-deny` or `purpose-vocabulary`).
    pub rule: String,
    /// The rule's reason.
    pub reason: String,
    /// The rule's reference to the terms.
    pub reference: Option<String>,
    /// When allowed and some `desensitize` rule matched: the entity types
    /// to mask (empty: all types).
    pub desensitize: Option<Vec<String>>,
    /// Every rule's verdict, in order ([`Policy::explain`]; empty from
    /// [`Policy::decide`]).
    pub trace: Vec<RuleTrace>,
}

/// A checked, ready-to-use policy.
#[derive(Clone, Debug)]
pub struct Policy {
    purposes: Vec<String>,
    rules: Vec<RuleConfig>,
    from_packs: usize,
}

impl Policy {
    /// Expands packs (their rules come first) and checks names.
    pub fn new(cfg: PolicyConfig) -> Result<Self, PolicyError> {
        let mut rules = Vec::new();
        for p in &cfg.packs {
            rules.extend(pack_rules(p).ok_or_else(|| PolicyError::UnknownPack(p.clone()))?);
        }
        let from_packs = rules.len();
        rules.extend(cfg.rules);
        let mut names = HashSet::new();
        for (i, r) in rules.iter().enumerate() {
            if r.name.trim().is_empty() {
                return Err(PolicyError::UnnamedRule(i + 1));
            }
            if !names.insert(r.name.clone()) {
                return Err(PolicyError::DuplicateRule(r.name.clone()));
            }
        }
        Ok(Self {
            purposes: cfg.purposes,
            rules,
            from_packs,
        })
    }

    /// The purposes a request may declare.
    pub fn purposes(&self) -> &[String] {
        &self.purposes
    }

    /// All rules, packs first.
    pub fn rules(&self) -> &[RuleConfig] {
        &self.rules
    }

    /// How many of [`Policy::rules`] (the first ones) come from packs.
    pub fn pack_rule_count(&self) -> usize {
        self.from_packs
    }

    /// Decides a request. The decision's `trace` is empty: the rules are
    /// matched without saying why (the request path's form).
    pub fn decide(&self, req: &Request) -> Decision {
        let matched: Vec<bool> = self.rules.iter().map(|r| matches(r, req)).collect();
        self.conclude(req, &matched, Vec::new())
    }

    /// Decides a request and records every rule's verdict.
    pub fn explain(&self, req: &Request) -> Decision {
        let trace: Vec<RuleTrace> = self
            .rules
            .iter()
            .map(|r| {
                let why = mismatch(r, req);
                RuleTrace {
                    rule: r.name.clone(),
                    effect: r.effect,
                    matched: why.is_none(),
                    why: why.unwrap_or_else(|| "matches".into()),
                }
            })
            .collect();
        let matched: Vec<bool> = trace.iter().map(|t| t.matched).collect();
        self.conclude(req, &matched, trace)
    }

    /// The decision, given which rules match (`matched[i]` for rule `i`).
    fn conclude(&self, req: &Request, matched: &[bool], trace: Vec<RuleTrace>) -> Decision {
        if let Some(p) = req
            .purpose
            .as_deref()
            .filter(|p| !self.purposes.iter().any(|v| v == p))
        {
            return Decision {
                allowed: false,
                rule: "purpose-vocabulary".into(),
                reason: format!(
                    "purpose {p:?} is not one of the declared purposes ({})",
                    self.purposes.join(", ")
                ),
                reference: None,
                desensitize: None,
                trace,
            };
        }
        let matched = || {
            self.rules
                .iter()
                .zip(matched)
                .filter(|(_, m)| **m)
                .map(|(r, _)| r)
        };
        if let Some(r) = matched().find(|r| r.effect == Effect::Deny) {
            return Decision {
                allowed: false,
                rule: r.name.clone(),
                reason: r.reason.clone(),
                reference: r.reference.clone(),
                desensitize: None,
                trace,
            };
        }
        let permits: Vec<&RuleConfig> = matched().collect();
        let Some(first) = permits.first() else {
            return Decision {
                allowed: false,
                rule: "default-deny".into(),
                reason: "no rule allows this request".into(),
                reference: None,
                desensitize: None,
                trace,
            };
        };
        let masks: Vec<&RuleConfig> = permits
            .iter()
            .copied()
            .filter(|r| r.effect == Effect::Desensitize)
            .collect();
        let desensitize = (!masks.is_empty()).then(|| {
            if masks.iter().any(|r| r.entities.is_empty()) {
                Vec::new()
            } else {
                let mut e: Vec<String> = masks.iter().flat_map(|r| r.entities.clone()).collect();
                e.sort();
                e.dedup();
                e
            }
        });
        let decider = permits
            .iter()
            .find(|r| r.effect == Effect::Allow)
            .unwrap_or(first);
        Decision {
            allowed: true,
            rule: decider.name.clone(),
            reason: decider.reason.clone(),
            reference: decider.reference.clone(),
            desensitize,
            trace,
        }
    }
}

/// The seven things a rule can restrict, each with its patterns and the
/// request's value.
type Field<'a> = (&'static str, &'a Option<Vec<String>>, Option<&'a str>);

fn fields<'a>(r: &'a RuleConfig, req: &'a Request) -> [Field<'a>; 7] {
    [
        ("team", &r.teams, Some(&req.team)),
        ("key", &r.keys, Some(&req.key_id)),
        ("purpose", &r.purposes, req.purpose.as_deref()),
        ("model", &r.models, Some(&req.model)),
        ("upstream", &r.upstreams, Some(&req.upstream)),
        ("upstream kind", &r.upstream_kinds, Some(&req.upstream_kind)),
        ("region", &r.regions, req.region.as_deref()),
    ]
}

/// Whether `patterns` (none: anything) admit `value`.
fn admits(patterns: &Option<Vec<String>>, value: Option<&str>) -> bool {
    patterns
        .as_ref()
        .is_none_or(|p| value.is_some_and(|v| p.iter().any(|p| glob_match(p, v))))
}

/// Whether `r` matches `req`.
fn matches(r: &RuleConfig, req: &Request) -> bool {
    fields(r, req).iter().all(|(_, p, v)| admits(p, *v))
}

/// Why `r` does not match `req`, or `None` if it matches.
fn mismatch(r: &RuleConfig, req: &Request) -> Option<String> {
    let (name, pats, value) = fields(r, req)
        .into_iter()
        .find(|(_, p, v)| !admits(p, *v))?;
    let pats = pats.as_deref().unwrap_or_default().join(", ");
    Some(match value {
        Some(v) => format!("{name} {v:?} is not in [{pats}]"),
        None => format!("no {name} given; the rule needs one of [{pats}]"),
    })
}
