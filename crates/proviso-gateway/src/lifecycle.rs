//! Key lifecycle changes and their ledger events: one path, used by the
//! admin API, the CLI, the monitor's ladder and the gateway's sweeper, so
//! every change is made the same way and hash-chained with the exchanges.

use proviso_access::{AccessError, Change, KeyEvent, KeyRecord, KeyStore};
use proviso_ledger::Record;
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
    Record::event(
        id,
        event,
        Some(key.id.clone()),
        Some(key.team.clone()),
        detail.to_string(),
    )
}

/// The `append` of [`change_key`] for a running gateway: the event is
/// handed to the ledger's writer and waited for until it is committed.
pub fn to_ledger(
    ledger: &proviso_ledger::LedgerHandle,
) -> impl FnOnce(Record) -> Result<(), String> + '_ {
    |rec| {
        ledger
            .append_blocking(rec)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Who makes a change, why, and when (on the caller's clock).
pub struct Actor<'a> {
    /// The administrator, `monitor` or `system`.
    pub by: &'a str,
    /// Why.
    pub reason: &'a str,
    /// When.
    pub now: UnixMillis,
}

/// Makes one lifecycle change: `change` runs against the store (guarded
/// against a concurrent writer), its event is appended through `append`
/// (which must return once the record is durable), and only then is the
/// store's change committed; if the event cannot be recorded the change is
/// undone ([`AccessError::NotRecorded`]). `key_of` names the key the event
/// is about; `None` (nothing changed) records nothing.
pub fn change_key<T>(
    store: &mut KeyStore,
    append: impl FnOnce(Record) -> Result<(), String>,
    event: KeyEvent,
    actor: &Actor<'_>,
    key_of: impl Fn(&T) -> Option<&KeyRecord>,
    change: impl FnOnce(&mut KeyStore, &Change<'_>) -> Result<T, AccessError>,
) -> Result<T, AccessError> {
    let id = RecordId::new_at(actor.now);
    let rid = id.to_string();
    let c = Change {
        by: actor.by,
        reason: actor.reason,
        record_id: &rid,
        now: actor.now,
    };
    store.recorded(
        |s| change(s, &c),
        |t| match key_of(t) {
            Some(k) => append(event_record(id, event.name(), k, actor.by, actor.reason)),
            None => Ok(()),
        },
    )
}
