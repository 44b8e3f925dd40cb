use serde::{Deserialize, Serialize};

/// Token usage of one exchange, as the upstream reported it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens in the completion (0 for embeddings).
    pub completion_tokens: u64,
    /// Total as reported (normally the sum of the two).
    pub total_tokens: u64,
}
