use std::io::Write;

use proviso_types::UnixMillis;
use serde_json::json;

use crate::{LedgerError, LedgerReader};

/// Writes records with `time >= since` as JSON lines: the record's fields
/// plus `seq`, `prev_hash` and `hash` (hex). Returns how many were written.
pub fn export_jsonl(
    reader: &dyn LedgerReader,
    since: Option<UnixMillis>,
    out: &mut dyn Write,
) -> Result<u64, LedgerError> {
    // A first pass finds the streamed exchanges opened and never closed, so
    // that their `exchange.opened` lines say so (`"unclosed": true`).
    let mut unclosed = std::collections::HashSet::new();
    reader.scan(0, &mut |c| {
        if let Some(ex) = crate::opened_exchange(&c.record) {
            unclosed.insert(ex);
        } else if c.record.kind == crate::RecordKind::Exchange && !unclosed.is_empty() {
            unclosed.remove(&c.record.id.to_string());
        }
        true
    })?;
    let mut n = 0u64;
    let mut io_err = None;
    reader.scan(0, &mut |c| {
        if since.is_some_and(|s| c.record.time < s) {
            return true;
        }
        let mut v = match serde_json::to_value(&c.record) {
            Ok(v) => v,
            Err(e) => {
                io_err = Some(e.to_string());
                return false;
            }
        };
        if let Some(obj) = v.as_object_mut() {
            obj.insert("seq".into(), json!(c.seq));
            obj.insert("time_rfc3339".into(), json!(c.record.time.to_rfc3339()));
            obj.insert("prev_hash".into(), json!(hex::encode(c.prev_hash)));
            obj.insert("hash".into(), json!(hex::encode(c.hash)));
            if let Some(ex) = crate::opened_exchange(&c.record) {
                obj.insert("unclosed".into(), json!(unclosed.contains(&ex)));
            }
        }
        let line = v.to_string();
        if let Err(e) = writeln!(out, "{line}") {
            io_err = Some(e.to_string());
            return false;
        }
        n += 1;
        true
    })?;
    match io_err {
        Some(e) => Err(LedgerError::Unavailable(format!("export: {e}"))),
        None => Ok(n),
    }
}
