//! Built-in rule packs that encode providers' terms.

use crate::{Effect, RuleConfig};

/// Names of the built-in packs.
pub const PACKS: &[&str] = &["openai-terms", "azure-openai-terms"];

/// The rules of pack `name`, or `None` if there is no such pack.
pub fn pack_rules(name: &str) -> Option<Vec<RuleConfig>> {
    let competing = Some(vec![
        "data-generation".to_string(),
        "model-training".to_string(),
    ]);
    match name {
        "openai-terms" => Some(vec![RuleConfig {
            name: "openai-terms-no-competing-models".into(),
            effect: Effect::Deny,
            upstream_kinds: Some(vec!["openai".into()]),
            purposes: competing,
            reason: "OpenAI's terms forbid using its output to develop models that compete \
                     with OpenAI; generating training data or training models with it is not \
                     allowed"
                .into(),
            reference: Some(
                "OpenAI Terms of Use, \"What you cannot do\": \"Use Output to develop models \
                 that compete with OpenAI.\""
                    .into(),
            ),
            ..RuleConfig::default()
        }]),
        "azure-openai-terms" => Some(vec![RuleConfig {
            name: "azure-openai-terms-no-competing-models".into(),
            effect: Effect::Deny,
            upstream_kinds: Some(vec!["azure".into()]),
            purposes: competing,
            reason: "Microsoft's terms for Azure OpenAI forbid using the service or its output \
                     to create, train or improve a similar or competing product or service"
                .into(),
            reference: Some(
                "Microsoft Product Terms, Microsoft Generative AI Services: no use to create, \
                 train, or improve (directly or indirectly) a similar or competing product or \
                 service"
                    .into(),
            ),
            ..RuleConfig::default()
        }]),
        _ => None,
    }
}
