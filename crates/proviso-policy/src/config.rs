use serde::{Deserialize, Serialize};

/// The default vocabulary of purposes.
pub const DEFAULT_PURPOSES: &[&str] = &[
    "product",
    "evaluation",
    "research",
    "data-generation",
    "model-training",
];

/// What a rule does when it matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Permit the request (unless a deny rule also matches).
    Allow,
    /// Refuse the request; deny wins over allow. (The default, so a rule
    /// whose effect is forgotten cannot open anything.)
    #[default]
    Deny,
    /// Permit, and mask personal data in the prompt before it leaves
    /// (the entity types are the rule's `entities`).
    Desensitize,
}

/// `[policy]`: the usage specification.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The vocabulary of purposes a request may declare.
    #[serde(default = "default_purposes")]
    pub purposes: Vec<String>,
    /// Built-in rule packs to include before `rules` (see `PACKS`); both
    /// provider packs unless set (`packs = []` drops them).
    #[serde(default = "default_packs")]
    pub packs: Vec<String>,
    /// The rules, in the order they are explained.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

fn default_packs() -> Vec<String> {
    vec!["openai-terms".into(), "azure-openai-terms".into()]
}

fn default_purposes() -> Vec<String> {
    DEFAULT_PURPOSES.iter().map(|s| s.to_string()).collect()
}

impl Default for PolicyConfig {
    /// With no `[policy]` section: the provider packs, then allow the rest.
    fn default() -> Self {
        Self {
            purposes: default_purposes(),
            packs: default_packs(),
            rules: vec![RuleConfig {
                name: "default-allow".into(),
                effect: Effect::Allow,
                reason: "no [policy] section is configured: everything the provider packs do \
                         not deny is allowed"
                    .into(),
                ..RuleConfig::default()
            }],
        }
    }
}

/// `[[policy.rules]]`: one rule. Each match list is optional (absent means
/// any) and holds exact values or globs with `*`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique name, shown in refusals and explanations.
    pub name: String,
    /// `allow`, `deny` or `desensitize`.
    pub effect: Effect,
    /// Teams it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<Vec<String>>,
    /// Key ids it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// Declared purposes it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purposes: Option<Vec<String>>,
    /// Model names (as clients send them) it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// Upstream names it applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstreams: Option<Vec<String>>,
    /// Upstream kinds (`openai`, `azure`, `openai-compatible`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_kinds: Option<Vec<String>>,
    /// Markets or regions of the upstream (its `region` setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// Why, in words a requester understands.
    #[serde(default)]
    pub reason: String,
    /// The clause of the provider's terms (or internal policy) behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// For `desensitize`: the entity types to mask (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<String>,
}
