//! Key lifecycle events as ledger records, shared by the CLI, the admin
//! API and the gateway's own sweeper, so every change is hash-chained with
//! the exchanges.

use proviso_access::KeyRecord;
use proviso_ledger::{Outcome, Record, RecordKind};
use proviso_types::{RecordId, UnixMillis};
use serde_json::json;

/// The record of lifecycle event `event` (e.g. `key.suspended`) on `key`,
/// made by `by` for `reason`, with the id the key store was told.
pub fn event_record(id: RecordId, event: &str, key: &KeyRecord, by: &str, reason: &str) -> Record {
    let detail = json!({
        "by": by,
        "reason": reason,
        "state": key.state,
        "name": key.name,
        "purposes": key.purposes,
        "models": key.models,
        "quotas": key.quotas,
        "expires": key.expires.map(|t| t.to_rfc3339()),
        "revoke_at": key.revoke_at.map(|t| t.to_rfc3339()),
    });
    Record {
        id,
        time: UnixMillis::now(),
        kind: RecordKind::Event,
        key_id: Some(key.id.clone()),
        team: Some(key.team.clone()),
        endpoint: event.to_owned(),
        model: None,
        upstream: None,
        upstream_model: None,
        status: 0,
        outcome: Outcome::Ok,
        stream: false,
        request: String::new(),
        output: String::new(),
        response: None,
        finish_reason: None,
        usage: None,
        latency_ms: 0,
        ttfb_ms: None,
        error_code: None,
        error: None,
        detail: Some(detail.to_string()),
    }
}
