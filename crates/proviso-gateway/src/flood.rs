//! Unauthenticated refusals, recorded without letting a flood fill the
//! disk. Every refusal is evidence, so the first
//! `[server] unauthenticated_records_per_minute` from one client address in
//! a minute are recorded one by one; the rest of that minute is counted and
//! written as one summary record when the minute ends (or at shutdown).
//! At most [`MAX_ADDRESSES`] addresses are followed; beyond that, further
//! addresses share one window under `other`.

use std::collections::HashMap;
use std::sync::Mutex;

use proviso_ledger::{Outcome, Record, RecordKind};
use proviso_types::{RecordId, UnixMillis};
use serde_json::json;

/// Client addresses followed at once.
pub const MAX_ADDRESSES: usize = 10_000;
const WINDOW_MS: i64 = 60_000;

struct Window {
    start: UnixMillis,
    recorded: u32,
    suppressed: u64,
    last: UnixMillis,
    codes: Vec<&'static str>,
}

/// The per-address counters.
pub struct FloodGate {
    per_minute: u32,
    windows: Mutex<HashMap<String, Window>>,
}

impl FloodGate {
    /// `per_minute` refusals per address and minute recorded one by one (0:
    /// every refusal is recorded).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this unauthenticated refusal from `client` at `now` is
    /// recorded on its own; if not, it is counted for the summary. Returns
    /// also the summary of an earlier window of the same address that this
    /// one closes.
    pub fn admit(
        &self,
        client: Option<&str>,
        code: &'static str,
        now: UnixMillis,
    ) -> (bool, Option<Record>) {
        if self.per_minute == 0 {
            return (true, None);
        }
        let Ok(mut w) = self.windows.lock() else {
            return (true, None);
        };
        let mut addr = client.unwrap_or("unknown").to_owned();
        if !w.contains_key(&addr) && w.len() >= MAX_ADDRESSES {
            addr = "other".into();
        }
        let mut closed = None;
        if let Some(win) = w.get(&addr)
            && now.0 - win.start.0 >= WINDOW_MS
            && let Some(old) = w.remove(&addr)
        {
            closed = summary(&addr, &old);
        }
        let win = w.entry(addr).or_insert_with(|| Window {
            start: now,
            recorded: 0,
            suppressed: 0,
            last: now,
            codes: Vec::new(),
        });
        win.last = now;
        if win.recorded < self.per_minute {
            win.recorded += 1;
            (true, closed)
        } else {
            win.suppressed += 1;
            if !win.codes.contains(&code) {
                win.codes.push(code);
            }
            (false, closed)
        }
    }

    /// Summaries of the windows that ended before `now` (all of them with
    /// `now = None`, at shutdown), removed from the table.
    pub fn flush(&self, now: Option<UnixMillis>) -> Vec<Record> {
        let Ok(mut w) = self.windows.lock() else {
            return Vec::new();
        };
        let done: Vec<String> = w
            .iter()
            .filter(|(_, win)| now.is_none_or(|n| n.0 - win.start.0 >= WINDOW_MS))
            .map(|(a, _)| a.clone())
            .collect();
        done.into_iter()
            .filter_map(|a| w.remove(&a).and_then(|win| summary(&a, &win)))
            .collect()
    }
}

/// The record standing for a window's suppressed refusals (none if none
/// were suppressed).
fn summary(addr: &str, w: &Window) -> Option<Record> {
    if w.suppressed == 0 {
        return None;
    }
    let message = format!(
        "{} further unauthenticated requests from {addr} between {} and {} were refused and not recorded one by one",
        w.suppressed,
        w.start.to_rfc3339(),
        w.last.to_rfc3339()
    );
    let detail = json!({
        "client": addr,
        "suppressed": w.suppressed,
        "recorded": w.recorded,
        "from": w.start.0,
        "to": w.last.0,
        "codes": w.codes,
    })
    .to_string();
    Some(Record {
        kind: RecordKind::Exchange,
        status: 401,
        outcome: Outcome::Refused,
        error_code: Some("unauthenticated_summary".into()),
        error: Some(message),
        ..Record::event(
            RecordId::new_at(w.last),
            "(unauthenticated)",
            None,
            None,
            detail,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_recorded_in_part_then_summarised() {
        let g = FloodGate::new(3);
        let t = |ms: i64| UnixMillis(1_000_000 + ms);
        let admitted: Vec<bool> = (0..10)
            .map(|i| g.admit(Some("6.6.6.6"), "invalid_api_key", t(i)).0)
            .collect();
        assert_eq!(admitted.iter().filter(|a| **a).count(), 3);
        // Another address has its own allowance.
        assert!(g.admit(Some("7.7.7.7"), "missing_api_key", t(5)).0);
        assert!(
            g.flush(Some(t(30_000))).is_empty(),
            "the minute is not over"
        );
        // The next refusal after the minute closes the window.
        let (ok, closed) = g.admit(Some("6.6.6.6"), "invalid_api_key", t(61_000));
        assert!(ok);
        let s = closed.expect("a summary");
        let d: serde_json::Value = serde_json::from_str(s.detail.as_deref().unwrap()).unwrap();
        assert_eq!(d["suppressed"], 7);
        assert_eq!(d["client"], "6.6.6.6");
        assert_eq!(s.error_code.as_deref(), Some("unauthenticated_summary"));
        // 7.7.7.7 suppressed nothing: no summary for it.
        assert!(g.flush(None).is_empty());
    }

    #[test]
    fn zero_records_everything() {
        let g = FloodGate::new(0);
        assert!((0..100).all(|i| g.admit(None, "x", UnixMillis(i)).0));
        assert!(g.flush(None).is_empty());
    }

    #[test]
    fn the_table_is_bounded() {
        let g = FloodGate::new(1);
        for i in 0..(MAX_ADDRESSES + 50) {
            let a = format!("10.0.{}.{}", i / 256, i % 256);
            g.admit(Some(&a), "x", UnixMillis(0));
        }
        assert!(g.windows.lock().unwrap().len() <= MAX_ADDRESSES + 1);
    }
}
