//! Unauthenticated refusals, recorded without letting a flood fill the
//! disk. Every refusal is evidence, so the first
//! `[server] unauthenticated_records_per_minute` from one client address in
//! a minute are recorded one by one; the rest of that minute is counted and
//! written as one summary record when the minute ends (or at shutdown).
//! At most [`MAX_ADDRESSES`] addresses are followed; beyond that, further
//! addresses share one window under `other`. An IPv6 address counts by its
//! /64, and all addresses together record at most
//! [`ALL_ADDRESSES_FACTOR`] times one address's allowance a minute.

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

/// The per-address counters, and one for all addresses together.
pub struct FloodGate {
    per_minute: u32,
    windows: Mutex<HashMap<String, Window>>,
    /// Refusals recorded one by one in the current minute across every
    /// address: at most `per_minute * ALL_ADDRESSES_FACTOR`, so that many
    /// addresses (a botnet, rotating IPv6 addresses) cannot together
    /// record what one may not.
    all: Mutex<(UnixMillis, u64)>,
}

/// How many addresses' worth of refusals may be recorded one by one in a
/// minute in all.
pub const ALL_ADDRESSES_FACTOR: u64 = 100;

/// The window an address counts in: an IPv6 address by its /64 (one
/// subscriber's prefix: rotating addresses within it is free), others as
/// they are.
fn window_of(client: Option<&str>) -> String {
    match client.map(str::parse::<std::net::IpAddr>) {
        Some(Ok(std::net::IpAddr::V6(v6))) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(Ok(std::net::IpAddr::V6(v6))) => v6
            .to_ipv4_mapped()
            .map_or_else(String::new, |v4| v4.to_string()),
        _ => client.unwrap_or("unknown").to_owned(),
    }
}

impl FloodGate {
    /// `per_minute` refusals per address and minute recorded one by one (0:
    /// every refusal is recorded).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
            all: Mutex::new((UnixMillis(i64::MIN / 2), 0)),
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
        let mut addr = window_of(client);
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
        if win.recorded < self.per_minute && self.take_from_all(now) {
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

    /// One more refusal recorded one by one in this minute, if all
    /// addresses together have not used the minute's allowance.
    fn take_from_all(&self, now: UnixMillis) -> bool {
        let Ok(mut all) = self.all.lock() else {
            return true;
        };
        if now.0 - all.0.0 >= WINDOW_MS {
            *all = (now, 0);
        }
        let cap = u64::from(self.per_minute) * ALL_ADDRESSES_FACTOR;
        if all.1 < cap {
            all.1 += 1;
            true
        } else {
            false
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
    fn many_addresses_together_are_bounded_and_ipv6_counts_by_its_64() {
        let g = FloodGate::new(2);
        let t = UnixMillis(5_000_000);
        let mut recorded = 0;
        for i in 0..1_000u32 {
            let a = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
            recorded += u32::from(g.admit(Some(&a), "invalid_api_key", t).0);
        }
        assert_eq!(u64::from(recorded), 2 * ALL_ADDRESSES_FACTOR);
        let g = FloodGate::new(2);
        let recorded = (0..50)
            .filter(|i| {
                let a = format!("2001:db8:1:2::{i:x}");
                g.admit(Some(&a), "invalid_api_key", t).0
            })
            .count();
        assert_eq!(recorded, 2, "addresses of one /64 share a window");
        assert_eq!(window_of(Some("::ffff:1.2.3.4")), "1.2.3.4");
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
