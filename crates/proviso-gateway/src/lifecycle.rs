//! Key lifecycle events as ledger records, shared by the CLI, the admin
//! API and the gateway's own sweeper, so every change is hash-chained with
//! the exchanges.

use proviso_access::KeyRecord;
use proviso_ledger::Record;
use proviso_types::RecordId;
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
    Record::event(
        id,
        event,
        Some(key.id.clone()),
        Some(key.team.clone()),
        detail.to_string(),
    )
}
