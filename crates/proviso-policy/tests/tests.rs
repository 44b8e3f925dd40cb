//! Table-driven policy tests: precedence, defaults, purposes, regions,
//! packs, explanations and lint findings.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use proviso_policy::{Known, LintKind, Policy, PolicyConfig, PolicyError, Request, lint};

fn policy(toml_text: &str) -> Policy {
    let cfg: PolicyConfig = toml::from_str(toml_text).unwrap();
    Policy::new(cfg).unwrap()
}

const ORG: &str = r#"
packs = ["openai-terms", "azure-openai-terms"]

[[rules]]
name = "product-and-eval"
effect = "allow"
purposes = ["product", "evaluation"]
reason = "covered by the services agreement"

[[rules]]
name = "research-eu-only"
effect = "allow"
teams = ["research"]
purposes = ["research"]
regions = ["eu-*"]
reason = "research data stays in the EU"

[[rules]]
name = "no-interns-on-gpt4"
effect = "deny"
teams = ["interns"]
models = ["gpt-4*"]
reason = "cost control"
reference = "Internal policy FIN-7"

[[rules]]
name = "mask-support"
effect = "desensitize"
teams = ["support"]
entities = ["email", "phone"]
reason = "tickets contain customer contacts"

[[rules]]
name = "local-models-anything"
effect = "allow"
upstream_kinds = ["openai-compatible"]
reason = "self-hosted models carry no provider terms"
"#;

struct Case {
    name: &'static str,
    team: &'static str,
    purpose: Option<&'static str>,
    model: &'static str,
    kind: &'static str,
    region: Option<&'static str>,
    allowed: bool,
    rule: &'static str,
}

#[test]
fn decisions() {
    let p = policy(ORG);
    let cases = [
        Case {
            name: "allowed purpose",
            team: "ml",
            purpose: Some("product"),
            model: "gpt-4o-mini",
            kind: "openai",
            region: None,
            allowed: true,
            rule: "product-and-eval",
        },
        Case {
            name: "nothing matched means deny",
            team: "ml",
            purpose: Some("research"),
            model: "gpt-4o-mini",
            kind: "openai",
            region: None,
            allowed: false,
            rule: "default-deny",
        },
        Case {
            name: "no purpose declared matches no purpose rule",
            team: "ml",
            purpose: None,
            model: "gpt-4o-mini",
            kind: "openai",
            region: None,
            allowed: false,
            rule: "default-deny",
        },
        Case {
            name: "provider pack denies model training on OpenAI",
            team: "ml",
            purpose: Some("model-training"),
            model: "gpt-4o",
            kind: "openai",
            region: None,
            allowed: false,
            rule: "openai-terms-no-competing-models",
        },
        Case {
            name: "and data generation on Azure",
            team: "ml",
            purpose: Some("data-generation"),
            model: "gpt-4o",
            kind: "azure",
            region: None,
            allowed: false,
            rule: "azure-openai-terms-no-competing-models",
        },
        Case {
            name: "deny wins over a later allow",
            team: "ml",
            purpose: Some("model-training"),
            model: "llama",
            kind: "openai-compatible",
            region: None,
            allowed: true,
            rule: "local-models-anything",
        },
        Case {
            name: "deny wins regardless of order",
            team: "interns",
            purpose: Some("product"),
            model: "gpt-4o",
            kind: "openai",
            region: None,
            allowed: false,
            rule: "no-interns-on-gpt4",
        },
        Case {
            name: "deny scoped by model glob",
            team: "interns",
            purpose: Some("product"),
            model: "o3-mini",
            kind: "openai",
            region: None,
            allowed: true,
            rule: "product-and-eval",
        },
        Case {
            name: "region matches",
            team: "research",
            purpose: Some("research"),
            model: "gpt-4o",
            kind: "azure",
            region: Some("eu-west"),
            allowed: true,
            rule: "research-eu-only",
        },
        Case {
            name: "region does not match",
            team: "research",
            purpose: Some("research"),
            model: "gpt-4o",
            kind: "azure",
            region: Some("us-east"),
            allowed: false,
            rule: "default-deny",
        },
        Case {
            name: "region unknown does not match a region rule",
            team: "research",
            purpose: Some("research"),
            model: "gpt-4o",
            kind: "azure",
            region: None,
            allowed: false,
            rule: "default-deny",
        },
        Case {
            name: "purpose outside the vocabulary",
            team: "ml",
            purpose: Some("fun"),
            model: "gpt-4o",
            kind: "openai",
            region: None,
            allowed: false,
            rule: "purpose-vocabulary",
        },
        Case {
            name: "desensitize alone does not allow... but product does",
            team: "support",
            purpose: Some("product"),
            model: "gpt-4o",
            kind: "openai",
            region: None,
            allowed: true,
            rule: "product-and-eval",
        },
    ];
    for c in cases {
        let mut r = Request::new(c.team, "key_x", c.model, "up", c.kind);
        r.purpose = c.purpose.map(str::to_owned);
        r.region = c.region.map(str::to_owned);
        let d = p.explain(&r);
        assert_eq!(
            (d.allowed, d.rule.as_str()),
            (c.allowed, c.rule),
            "{}",
            c.name
        );
        assert_eq!(
            d.trace.len(),
            p.rules().len(),
            "{}: every rule explained",
            c.name
        );
        // The request path's form decides alike, without the trace.
        let fast = p.decide(&r);
        assert_eq!(
            (fast.allowed, fast.rule.as_str(), &fast.desensitize),
            (d.allowed, d.rule.as_str(), &d.desensitize),
            "{}: decide agrees with explain",
            c.name
        );
        assert!(fast.trace.is_empty(), "{}", c.name);
    }
}

#[test]
fn refusal_names_reason_and_reference() {
    let p = policy(ORG);
    let mut r = Request::new("ml", "k", "gpt-4o", "openai", "openai");
    r.purpose = Some("model-training".into());
    let d = p.explain(&r);
    assert!(d.reference.unwrap().contains("compete with OpenAI"));
    assert!(d.reason.contains("develop models"));
    let t = d
        .trace
        .iter()
        .find(|t| t.rule == "product-and-eval")
        .unwrap();
    assert!(
        !t.matched && t.why.contains("purpose \"model-training\" is not in"),
        "{}",
        t.why
    );
}

#[test]
fn desensitize_collects_entities() {
    let p = policy(ORG);
    let mut r = Request::new("support", "k", "gpt-4o", "openai", "openai");
    r.purpose = Some("product".into());
    assert_eq!(
        p.decide(&r).desensitize,
        Some(vec!["email".to_string(), "phone".to_string()])
    );
    r.team = "ml".into();
    assert_eq!(p.decide(&r).desensitize, None);
}

#[test]
fn default_policy_allows_but_keeps_provider_terms() {
    let p = Policy::new(PolicyConfig::default()).unwrap();
    let mut r = Request::new("t", "k", "gpt-4o", "openai", "openai");
    assert!(
        p.decide(&r).allowed,
        "no purpose declared, no [policy]: allowed"
    );
    r.purpose = Some("data-generation".into());
    assert!(!p.decide(&r).allowed);
    r.upstream_kind = "openai-compatible".into();
    assert!(p.decide(&r).allowed);
}

#[test]
fn bad_policies_are_errors() {
    let cfg: PolicyConfig = toml::from_str("packs = [\"nope\"]").unwrap();
    assert_eq!(
        Policy::new(cfg).unwrap_err(),
        PolicyError::UnknownPack("nope".into())
    );
    let cfg: PolicyConfig = toml::from_str(
        "[[rules]]\nname = \"a\"\neffect = \"allow\"\n[[rules]]\nname = \"a\"\neffect = \"deny\"\n",
    )
    .unwrap();
    assert_eq!(
        Policy::new(cfg).unwrap_err(),
        PolicyError::DuplicateRule("a".into())
    );
    let e = toml::from_str::<PolicyConfig>("[[rules]]\nname = \"a\"\neffect = \"maybe\"\n")
        .unwrap_err();
    assert!(e.to_string().contains("maybe"), "{e}");
    let e = toml::from_str::<PolicyConfig>(
        "[[rules]]\nname = \"a\"\neffect = \"allow\"\nteam = [\"x\"]\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown field `team`"), "{e}");
}

#[test]
fn lint_findings() {
    let p = policy(
        r#"
purposes = ["product", "research"]
[[rules]]
name = "deny-all-research"
effect = "deny"
purposes = ["research"]
[[rules]]
name = "allow-research-team"
effect = "allow"
teams = ["research"]
purposes = ["research"]
[[rules]]
name = "allow-training"
effect = "allow"
purposes = ["model-training"]
[[rules]]
name = "allow-product"
effect = "allow"
purposes = ["product", "evaluation"]
[[rules]]
name = "allow-product-ml"
effect = "allow"
teams = ["ml"]
purposes = ["product"]
[[rules]]
name = "nothing"
effect = "allow"
models = []
[[rules]]
name = "ghost-upstream"
effect = "allow"
upstreams = ["azure-mars"]
purposes = ["product"]
"#,
    );
    let known = Known {
        upstreams: vec!["openai".into()],
        models: vec![],
        teams: vec![],
    };
    let found: Vec<(LintKind, String)> = lint(&p, &known)
        .into_iter()
        .map(|f| (f.kind, f.rule))
        .collect();
    let want = [
        (LintKind::Shadowed, "allow-research-team"),
        (LintKind::UnknownPurpose, "allow-training"),
        (LintKind::Unreachable, "allow-training"),
        (LintKind::UnknownPurpose, "allow-product"),
        (LintKind::Redundant, "allow-product-ml"),
        (LintKind::Unreachable, "nothing"),
        (LintKind::UnknownName, "ghost-upstream"),
        (LintKind::Redundant, "ghost-upstream"),
    ];
    let want: Vec<(LintKind, String)> = want.iter().map(|(k, r)| (*k, r.to_string())).collect();
    assert_eq!(found, want);
    assert!(
        lint(&policy(ORG), &Known::default()).is_empty(),
        "the example organisation policy is clean"
    );
}
