//! What a batch keeps in its working directory until every line is
//! recorded: each line's placeholders and reservation (`lines.json`) and
//! what the submission decided (`submission.json`), beside the masked file
//! as sent (`sent.jsonl`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What is kept of each line until its answer is recorded (`lines.json`
/// in the batch's working directory: it holds the placeholders' values).
#[derive(Serialize, Deserialize)]
pub struct LineMeta {
    /// Its `custom_id`.
    pub custom_id: String,
    /// Its line number in the input file.
    pub line: usize,
    /// The placeholders put in, for restoring its answer.
    pub session: Option<proviso_redact::Session>,
    /// What desensitize did.
    pub redaction: Option<Value>,
    /// Tokens reserved for it (prompt and completion allowance).
    pub reserved_tokens: u64,
    /// Prompt tokens counted.
    pub prompt_tokens: u64,
}

/// What the submission decided, kept for the lines' records.
#[derive(Serialize, Deserialize)]
pub struct Submission {
    /// The declared or implied purpose.
    pub purpose: Option<String>,
    /// The client's address.
    pub client: Option<String>,
    /// The policy's decision (as the records' `detail.policy`).
    pub policy: Option<Value>,
}

/// The `custom_id` a line is sent upstream under: its line number. The
/// client's own ids never leave (they could carry what masking would
/// catch); results are matched back by it.
pub fn upstream_id(line: usize) -> String {
    format!("line-{line}")
}

/// The ids a batch's recording uses, chosen once (`ids.json`) so that
/// recording after a restart gives the same record and file ids.
#[derive(Serialize, Deserialize)]
pub struct Ids {
    /// The record id of each line, in input order.
    pub records: Vec<String>,
    /// Record ids of results for ids not sent (or given twice).
    pub extra: Vec<String>,
    /// The results file.
    pub output_file: String,
    /// The failures file.
    pub error_file: String,
}
