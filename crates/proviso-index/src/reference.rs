//! What an indexed output points back to.

use serde::{Deserialize, Serialize};

/// Where a reference output came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// The file it was read from, or `ledger`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Its line or row in the file (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The ledger record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// The key that obtained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The key's team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The model that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Its length in tokens (filled in by the index).
    #[serde(default)]
    pub tokens: u32,
}

impl Reference {
    /// A reference read from row `row` of `path`.
    pub fn file(path: &str, row: u64) -> Self {
        Self {
            source: path.to_owned(),
            row: Some(row),
            ..Self::default()
        }
    }
}
