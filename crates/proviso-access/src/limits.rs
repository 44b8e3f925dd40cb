//! Rate limits by GCRA (the generic cell rate algorithm) and monthly
//! budgets, with an in-memory limiter for one replica. The Redis limiter
//! runs [`GCRA_LUA`], the same algorithm as one atomic script, so several
//! replicas enforce one limit.
//!
//! A rate limit of `limit` units per `period` lets a burst of up to `limit`
//! through, then refills steadily (one unit every `period / limit`). The
//! state of a limit is one number, its theoretical arrival time (TAT). A
//! request of cost `c` at time `now` is admitted when
//! `max(TAT, now) + c * period / limit - now <= period`, and then moves TAT
//! there. Several limits are checked together: a request is admitted only
//! if every limit admits it, and only then are they all charged.
//!
//! This limiter fails closed by construction (it has no failure mode); what
//! happens when Redis is unreachable is the gateway's choice (see
//! `docs/quotas.md`).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;

/// What a limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Requests.
    Requests,
    /// Tokens (prompt + completion).
    Tokens,
    /// Micro-dollars (budgets only).
    MicroUsd,
}

/// One rate limit to charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateCharge {
    /// Storage key, e.g. `key:key_abc:req:60`.
    pub key: String,
    /// What it counts.
    pub unit: Unit,
    /// Window, milliseconds.
    pub period_ms: u64,
    /// Units per window.
    pub limit: u64,
    /// Units this request costs.
    pub cost: u64,
    /// Human description for refusals, e.g. `key key_abc: 100 requests per minute`.
    pub label: String,
}

/// One monthly budget to charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetCharge {
    /// Storage key, including the month, e.g. `key:key_abc:tok:2026-11`.
    pub key: String,
    /// What it counts.
    pub unit: Unit,
    /// Units allowed this month.
    pub limit: u64,
    /// Units this request costs (an estimate, settled later).
    pub cost: u64,
    /// Milliseconds until the month ends (the counter's lifetime and the
    /// `retry-after` of a refusal).
    pub ttl_ms: u64,
    /// Human description.
    pub label: String,
}

/// The state of one rate limit after an admission, for response headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitState {
    /// What it counts.
    pub unit: Unit,
    /// The limit.
    pub limit: u64,
    /// Units left right now.
    pub remaining: u64,
    /// Milliseconds until it is full again.
    pub reset_ms: u64,
}

/// A refusal: which charge, and when to retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Whether a budget (not a rate) refused.
    pub budget: bool,
    /// The refusing charge's label.
    pub label: String,
    /// Milliseconds until it could be admitted (for a budget: the month's end).
    pub retry_after_ms: u64,
    /// The request alone is larger than the limit: it can never pass.
    pub never: bool,
    /// What the refusing limit counts (requests, tokens, micro-dollars).
    pub unit: Unit,
}

/// The answer to a charge.
pub type Verdict = Result<Vec<LimitState>, Refusal>;

/// One GCRA step. Returns the new TAT if admitted, else the wait.
/// All times in microseconds.
pub fn gcra(
    tat: f64,
    now: f64,
    period: f64,
    limit: u64,
    cost: u64,
) -> Result<(f64, LimitParts), f64> {
    let t = period / limit.max(1) as f64;
    let start = tat.max(now);
    let new_tat = start + cost as f64 * t;
    let diff = new_tat - now;
    if diff > period + 1e-6 {
        return Err(diff - period);
    }
    let remaining = ((period - diff) / t + 1e-9).floor().max(0.0) as u64;
    Ok((
        new_tat,
        LimitParts {
            remaining,
            reset_us: diff.max(0.0),
        },
    ))
}

/// Remaining units and time to full, from [`gcra`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimitParts {
    /// Units left.
    pub remaining: u64,
    /// Microseconds until full.
    pub reset_us: f64,
}

/// Limits for one gateway replica, in memory.
#[derive(Default)]
pub struct MemoryLimiter {
    tats: Mutex<HashMap<String, f64>>,
    used: Mutex<HashMap<String, u64>>,
}

impl MemoryLimiter {
    /// Checks every charge; if all admit, applies them all.
    pub fn charge(&self, rates: &[RateCharge], budgets: &[BudgetCharge], now_us: f64) -> Verdict {
        let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let mut updates = Vec::with_capacity(rates.len());
        let mut states = Vec::with_capacity(rates.len());
        for r in rates {
            let period = r.period_ms as f64 * 1000.0;
            let tat = tats.get(&r.key).copied().unwrap_or(now_us);
            match gcra(tat, now_us, period, r.limit, r.cost) {
                Ok((new_tat, parts)) => {
                    updates.push((r.key.clone(), new_tat));
                    states.push(LimitState {
                        unit: r.unit,
                        limit: r.limit,
                        remaining: parts.remaining,
                        reset_ms: (parts.reset_us / 1000.0).ceil() as u64,
                    });
                }
                Err(wait) => {
                    return Err(Refusal {
                        budget: false,
                        label: r.label.clone(),
                        retry_after_ms: (wait / 1000.0).ceil() as u64,
                        never: r.cost > r.limit,
                        unit: r.unit,
                    });
                }
            }
        }
        for b in budgets {
            let u = used.get(&b.key).copied().unwrap_or(0);
            if u.saturating_add(b.cost) > b.limit {
                return Err(Refusal {
                    budget: true,
                    label: b.label.clone(),
                    retry_after_ms: b.ttl_ms,
                    never: b.cost > b.limit,
                    unit: b.unit,
                });
            }
        }
        for (k, t) in updates {
            tats.insert(k, t);
        }
        for b in budgets {
            *used.entry(b.key.clone()).or_insert(0) += b.cost;
        }
        Ok(states)
    }

    /// Settles: moves token limits and budgets by the difference between
    /// what was reserved and what was used (`delta` may be negative).
    pub fn adjust(&self, rates: &[RateCharge], budgets: &[(String, i64)], delta_tokens: i64) {
        let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        for r in rates.iter().filter(|r| r.unit == Unit::Tokens) {
            let t = r.period_ms as f64 * 1000.0 / r.limit.max(1) as f64;
            if let Some(tat) = tats.get_mut(&r.key) {
                *tat += delta_tokens as f64 * t;
            }
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        for (k, d) in budgets {
            let u = used.entry(k.clone()).or_insert(0);
            *u = u.saturating_add_signed(*d);
        }
    }

    /// Amount used of a budget this month.
    pub fn used(&self, key: &str) -> u64 {
        self.used
            .lock()
            .map(|u| u.get(key).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// The Redis twin of [`MemoryLimiter::charge`], atomic in one script.
///
/// `KEYS`: the rate keys, then the budget keys. `ARGV[1]` = number of
/// rates, `ARGV[2]` = number of budgets, then per rate `period_us, limit,
/// cost`, then per budget `limit, cost, ttl_ms`. Time is Redis's own
/// (`TIME`), so replicas share one clock. Returns `{1, remaining_1,
/// reset_us_1, …}` or `{0, index, wait_us}` (index counts rates first,
/// from 1).
pub const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local m = tonumber(ARGV[2])
local out = {1}
local tats = {}
for i = 1, n do
  local base = 2 + (i - 1) * 3
  local period = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 2])
  local cost = tonumber(ARGV[base + 3])
  local step = period / math.max(limit, 1)
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + cost * step
  local diff = new_tat - now
  if diff > period + 0.000001 then
    return {0, i, math.ceil(diff - period)}
  end
  tats[i] = {new_tat, math.ceil(period / 1000) + 1000}
  out[#out + 1] = math.floor((period - diff) / step + 0.000000001)
  out[#out + 1] = math.ceil(diff)
end
for j = 1, m do
  local base = 2 + n * 3 + (j - 1) * 3
  local limit = tonumber(ARGV[base + 1])
  local cost = tonumber(ARGV[base + 2])
  local used = tonumber(redis.call('GET', KEYS[n + j]) or 0)
  if used + cost > limit then
    return {0, n + j, tonumber(ARGV[base + 3]) * 1000}
  end
end
for i = 1, n do
  redis.call('SET', KEYS[i], string.format('%.3f', tats[i][1]), 'PX', tats[i][2])
end
for j = 1, m do
  local base = 2 + n * 3 + (j - 1) * 3
  redis.call('INCRBY', KEYS[n + j], tonumber(ARGV[base + 2]))
  redis.call('PEXPIRE', KEYS[n + j], tonumber(ARGV[base + 3]) + 86400000)
end
return out
"#;

/// The Redis twin of [`MemoryLimiter::adjust`]. `KEYS`: token rate keys,
/// then budget keys. `ARGV[1]` = number of rates, `ARGV[2]` = delta
/// tokens, then per rate `step_us` (period / limit), then per budget its
/// delta.
pub const ADJUST_LUA: &str = r#"
local n = tonumber(ARGV[1])
local delta = tonumber(ARGV[2])
for i = 1, n do
  local tat = redis.call('GET', KEYS[i])
  if tat then
    local ttl = redis.call('PTTL', KEYS[i])
    local v = tonumber(tat) + delta * tonumber(ARGV[2 + i])
    if ttl and ttl > 0 then
      redis.call('SET', KEYS[i], string.format('%.3f', v), 'PX', ttl)
    else
      redis.call('SET', KEYS[i], string.format('%.3f', v))
    end
  end
end
for j = n + 1, #KEYS do
  -- A budget key that expired (its month ended) is not brought back: a
  -- refund or correction after the month belongs to no budget, and a key
  -- made here would have no expiry.
  if redis.call('EXISTS', KEYS[j]) == 1 then
    redis.call('INCRBY', KEYS[j], tonumber(ARGV[2 + j]))
  end
end
return 1
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(key: &str, limit: u64, cost: u64) -> RateCharge {
        RateCharge {
            key: key.into(),
            unit: Unit::Requests,
            period_ms: 60_000,
            limit,
            cost,
            label: key.into(),
        }
    }

    #[test]
    fn burst_then_refill() {
        let l = MemoryLimiter::default();
        let now = 1e12;
        let admitted = (0..300)
            .filter(|_| l.charge(&[rate("a", 100, 1)], &[], now).is_ok())
            .count();
        assert_eq!(admitted, 100, "exactly the limit in a burst");
        let e = l.charge(&[rate("a", 100, 1)], &[], now).unwrap_err();
        assert_eq!(e.retry_after_ms, 600, "one unit refills every 60 s / 100");
        assert!(l.charge(&[rate("a", 100, 1)], &[], now + 600_000.0).is_ok());
        assert!(
            l.charge(&[rate("a", 100, 1)], &[], now + 600_000.0)
                .is_err()
        );
    }

    #[test]
    fn remaining_and_reset() {
        let l = MemoryLimiter::default();
        let s = l.charge(&[rate("a", 10, 3)], &[], 0.0).unwrap();
        assert_eq!((s[0].remaining, s[0].reset_ms), (7, 18_000));
    }

    #[test]
    fn all_or_nothing_across_limits() {
        let l = MemoryLimiter::default();
        assert!(
            l.charge(&[rate("key", 10, 1), rate("team", 1, 1)], &[], 0.0)
                .is_ok()
        );
        let e = l
            .charge(&[rate("key", 10, 1), rate("team", 1, 1)], &[], 0.0)
            .unwrap_err();
        assert_eq!(e.label, "team");
        let s = l.charge(&[rate("key", 10, 1)], &[], 0.0).unwrap();
        assert_eq!(
            s[0].remaining, 8,
            "the refused request did not charge the key"
        );
    }

    #[test]
    fn too_large_is_never() {
        let l = MemoryLimiter::default();
        let e = l.charge(&[rate("a", 10, 11)], &[], 0.0).unwrap_err();
        assert!(e.never);
    }

    #[test]
    fn settle_refunds_tokens_and_budgets() {
        let l = MemoryLimiter::default();
        let tok = RateCharge {
            unit: Unit::Tokens,
            ..rate("t", 1000, 900)
        };
        let b = BudgetCharge {
            key: "b".into(),
            unit: Unit::Tokens,
            limit: 1000,
            cost: 900,
            ttl_ms: 1,
            label: "b".into(),
        };
        assert!(
            l.charge(std::slice::from_ref(&tok), std::slice::from_ref(&b), 0.0)
                .is_ok()
        );
        assert!(
            l.charge(std::slice::from_ref(&tok), std::slice::from_ref(&b), 0.0)
                .is_err()
        );
        l.adjust(std::slice::from_ref(&tok), &[("b".into(), -800)], -800);
        assert_eq!(l.used("b"), 100);
        let again = RateCharge { cost: 850, ..tok };
        assert!(
            l.charge(&[again], &[BudgetCharge { cost: 850, ..b }], 0.0)
                .is_ok()
        );
    }

    #[test]
    fn budget_refuses_until_month_end() {
        let l = MemoryLimiter::default();
        let b = BudgetCharge {
            key: "b".into(),
            unit: Unit::MicroUsd,
            limit: 10,
            cost: 6,
            ttl_ms: 5000,
            label: "team ml: $0.00001 per month".into(),
        };
        assert!(l.charge(&[], std::slice::from_ref(&b), 0.0).is_ok());
        let e = l.charge(&[], &[b], 0.0).unwrap_err();
        assert!(e.budget && e.retry_after_ms == 5000);
    }
}
