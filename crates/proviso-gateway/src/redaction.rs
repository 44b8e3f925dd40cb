//! `[redact]`: how the gateway desensitizes prompts when a policy rule says
//! `desensitize` (or always), and whether the placeholder mapping is kept.

use std::collections::BTreeMap;

use proviso_redact::{Action, EntityKind, RedactConfig};
use serde::{Deserialize, Serialize};

use crate::env::EnvString;

/// `[redact]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedactSection {
    /// Desensitize every request, not only those a `desensitize` rule
    /// matches.
    #[serde(default)]
    pub always: bool,
    /// Entity types looked for when the rule names none (default: all).
    #[serde(default)]
    pub entities: Option<Vec<EntityKind>>,
    /// Action per entity type: `pseudonymize` (default), `mask`, `redact`, `hash`.
    #[serde(default)]
    pub actions: BTreeMap<EntityKind, Action>,
    /// Minimum confidence (context words add 0.3).
    #[serde(default)]
    pub threshold: Option<f32>,
    /// Key of the `hash` action (HMAC-SHA256), e.g. `${PROVISO_HMAC_KEY}`.
    #[serde(default)]
    pub hmac_key: Option<EnvString>,
    /// 64 hex characters: when set, the placeholder mapping of each
    /// exchange is stored in its ledger record, sealed with AES-256-GCM, so
    /// a holder of this key can reverse it. Without it the mapping is kept
    /// only for the life of the request.
    #[serde(default)]
    pub mapping_key: Option<EnvString>,
}

impl RedactSection {
    /// The redactor's own configuration.
    pub fn redact_config(&self) -> RedactConfig {
        let d = RedactConfig::default();
        RedactConfig {
            entities: self.entities.clone().unwrap_or(d.entities),
            actions: self.actions.clone(),
            threshold: self.threshold.unwrap_or(d.threshold),
            hmac_key: self.hmac_key.as_ref().map(|k| k.as_str().to_owned()),
        }
    }
}
