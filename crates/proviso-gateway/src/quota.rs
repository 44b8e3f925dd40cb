//! Quotas: per key and per team, requests and tokens per minute and per day
//! (GCRA), and monthly budgets in tokens or dollars. State is in memory for
//! one replica, or in Redis so that several replicas enforce one limit;
//! each check-and-update is one atomic script.
//!
//! A [`Reservation`] is a value that must be consumed: `reserve` charges the
//! prompt's tokens plus the completion allowance, and `settle` corrects the
//! token limits and budgets by what the upstream reports. Dropping a
//! reservation unsettled keeps the full charge (conservative).
//!
//! When Redis is unreachable the gateway behaves as configured:
//! `fail_closed` (the default) refuses with 503 `quota_unavailable`;
//! `local` falls back to this replica's in-memory limits. Either way it is
//! counted in metrics and logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use proviso_access::limits::{
    ADJUST_LUA, BudgetCharge, GCRA_LUA, LimitState, MemoryLimiter, RateCharge, Refusal, Unit,
};
use proviso_access::{KeyRecord, Quotas};
use proviso_policy::glob_match;
use serde_json::{Map, Value};

pub use crate::config::{Backend, OnRedisError, Price, QuotaConfig};

/// Why a reservation failed.
#[derive(Debug)]
pub enum QuotaError {
    /// A limit or budget refuses.
    Refused(Refusal),
    /// Redis is unreachable and the configuration says fail closed.
    Unavailable(String),
}

/// The charges one request makes.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    rates: Vec<RateCharge>,
    budgets: Vec<BudgetCharge>,
    /// Prompt tokens counted before the call.
    pub prompt_tokens: u64,
    /// Completion tokens allowed (and reserved).
    pub completion_allowance: u64,
    price: Option<(f64, f64)>,
}

impl Plan {
    /// Whether there is nothing to charge.
    pub fn is_empty(&self) -> bool {
        self.rates.is_empty() && self.budgets.is_empty()
    }

    /// Tokens reserved: the prompt's and the completion allowance.
    pub fn reserved_tokens(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_allowance)
    }

    /// Adds another request's charges to this plan (a batch is charged as
    /// its lines sent at once): each limit and budget charged by both is
    /// charged their sum.
    pub fn absorb(&mut self, other: Plan) {
        for r in other.rates {
            match self.rates.iter_mut().find(|x| x.key == r.key) {
                Some(x) => x.cost = x.cost.saturating_add(r.cost),
                None => self.rates.push(r),
            }
        }
        for b in other.budgets {
            match self.budgets.iter_mut().find(|x| x.key == b.key) {
                Some(x) => x.cost = x.cost.saturating_add(b.cost),
                None => self.budgets.push(b),
            }
        }
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_allowance = self
            .completion_allowance
            .saturating_add(other.completion_allowance);
        if self.price.is_none() {
            self.price = other.price;
        }
    }
}

/// A charge that must be settled.
pub struct Reservation {
    plan: Plan,
    local: bool,
    /// The state of each rate limit after the charge, for headers.
    pub states: Vec<LimitState>,
    quotas: Arc<QuotaService>,
    settled: bool,
}

impl Reservation {
    /// The plan that was charged.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Corrects token limits and budgets to the tokens actually used
    /// (`None`: unknown, keep the reservation).
    pub fn settle(mut self, actual_tokens: Option<u64>) {
        self.settled = true;
        let Some(actual) = actual_tokens else { return };
        let prompt = actual.min(self.plan.prompt_tokens);
        self.correct(prompt, actual - prompt);
    }

    /// [`Reservation::settle`] with the prompt and completion tokens known
    /// apart (a batch's, summed over its lines: the prompts of lines that
    /// failed are not in it, so the money budget is not told completion
    /// tokens were prompt tokens).
    pub fn settle_split(mut self, prompt: u64, completion: u64) {
        self.settled = true;
        self.correct(prompt, completion);
    }

    fn correct(&self, prompt: u64, completion: u64) {
        let actual = prompt.saturating_add(completion);
        let delta = i64::try_from(actual).unwrap_or(i64::MAX)
            - i64::try_from(self.plan.reserved_tokens()).unwrap_or(i64::MAX);
        self.quotas
            .adjust(&self.plan, self.local, delta, prompt, completion);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            tracing::debug!("quota reservation dropped unsettled; the full reservation stands");
        }
    }
}

struct RedisLimiter {
    conn: redis::aio::ConnectionManager,
    charge: redis::Script,
    adjust: redis::Script,
    timeout: Duration,
}

/// The quota engine shared by all requests.
pub struct QuotaService {
    cfg: QuotaConfig,
    memory: MemoryLimiter,
    redis: Option<RedisLimiter>,
    falling_back: AtomicBool,
    /// Redis failures since start.
    pub redis_errors: AtomicU64,
    /// Requests refused by a rate limit or budget since start.
    pub refusals: AtomicU64,
    clock: proviso_types::Clock,
    /// Keys the monitor throttled: (requests, tokens) per minute.
    throttles: std::sync::RwLock<std::collections::HashMap<String, (u64, u64)>>,
}

fn rate_charges(out: &mut Vec<RateCharge>, scope: &str, id: &str, q: &Quotas, tokens: u64) {
    let items = [
        (
            q.requests_per_minute,
            Unit::Requests,
            60_000u64,
            "requests per minute",
            1u64,
        ),
        (
            q.requests_per_day,
            Unit::Requests,
            86_400_000,
            "requests per day",
            1,
        ),
        (
            q.tokens_per_minute,
            Unit::Tokens,
            60_000,
            "tokens per minute",
            tokens,
        ),
        (
            q.tokens_per_day,
            Unit::Tokens,
            86_400_000,
            "tokens per day",
            tokens,
        ),
    ];
    for (limit, unit, period_ms, what, cost) in items {
        if let Some(limit) = limit {
            let u = if unit == Unit::Requests { "req" } else { "tok" };
            out.push(RateCharge {
                key: format!("rate:{scope}:{id}:{u}:{}", period_ms / 1000),
                unit,
                period_ms,
                limit,
                cost,
                label: format!("{scope} {id}: {limit} {what}"),
            });
        }
    }
}

impl QuotaService {
    /// Builds the service; with the Redis backend, connects lazily (must be
    /// called inside a Tokio runtime).
    pub fn new(cfg: QuotaConfig) -> Result<Arc<Self>, String> {
        Self::with_clock(cfg, proviso_types::Clock::System)
    }

    /// Like [`new`](Self::new), on `clock` (the memory limiter's time; Redis
    /// keeps its own).
    pub fn with_clock(cfg: QuotaConfig, clock: proviso_types::Clock) -> Result<Arc<Self>, String> {
        let redis = match cfg.backend {
            Backend::Memory => None,
            Backend::Redis => {
                let client = redis::Client::open(cfg.redis_url.as_str())
                    .map_err(|e| format!("quotas.redis_url: {e}"))?;
                let t = Duration::from_millis(cfg.redis_timeout_ms.max(1));
                let mcfg = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(t))
                    .set_response_timeout(Some(t))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                let conn = redis::aio::ConnectionManager::new_lazy_with_config(client, mcfg)
                    .map_err(|e| format!("quotas: cannot set up Redis: {e}"))?;
                Some(RedisLimiter {
                    conn,
                    charge: redis::Script::new(GCRA_LUA),
                    adjust: redis::Script::new(ADJUST_LUA),
                    timeout: t,
                })
            }
        };
        Ok(Arc::new(Self {
            cfg,
            memory: MemoryLimiter::default(),
            redis,
            falling_back: AtomicBool::new(false),
            redis_errors: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
            clock,
            throttles: std::sync::RwLock::new(std::collections::HashMap::new()),
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &QuotaConfig {
        &self.cfg
    }

    /// Whether the local fallback is in force (Redis unreachable).
    pub fn falling_back(&self) -> bool {
        self.falling_back.load(Ordering::Relaxed)
    }

    /// The charges a request by `key` for `model` makes.
    pub fn plan(
        &self,
        key: &KeyRecord,
        model: &str,
        path: &str,
        body: &Map<String, Value>,
    ) -> Plan {
        let team_q = self.cfg.teams.get(&key.team);
        let (kq, tq) = (&key.quotas, team_q);
        let throttle = self
            .throttles
            .read()
            .ok()
            .and_then(|t| t.get(&key.id.0).copied());
        let limited =
            !kq.is_unlimited() || tq.is_some_and(|q| !q.is_unlimited()) || throttle.is_some();
        if !limited {
            return Plan::default();
        }
        let prompt_tokens = proviso_tokens::prompt_tokens(path, body);
        let completion_allowance = if path == "/v1/embeddings" {
            0
        } else {
            proviso_tokens::completion_allowance(body, self.cfg.default_max_tokens)
        };
        let tokens = prompt_tokens.saturating_add(completion_allowance);
        let price = self
            .cfg
            .prices
            .iter()
            .find(|p| glob_match(&p.model, model))
            .map(|p| (p.input_per_million_usd, p.output_per_million_usd));
        let cost = price.map_or(0, |(i, o)| {
            (prompt_tokens as f64 * i + completion_allowance as f64 * o).ceil() as u64
        });
        let (month, ttl_ms) = self.clock.now().month();
        let ttl_ms = u64::try_from(ttl_ms).unwrap_or(0);
        let mut rates = Vec::new();
        let mut budgets = Vec::new();
        let mut add = |scope: &str, id: &str, q: &Quotas| {
            rate_charges(&mut rates, scope, id, q, tokens);
            if let Some(limit) = q.monthly_tokens {
                budgets.push(BudgetCharge {
                    key: format!("budget:{scope}:{id}:tok:{month}"),
                    unit: Unit::Tokens,
                    limit,
                    cost: tokens,
                    ttl_ms,
                    label: format!("{scope} {id}: {limit} tokens per month"),
                });
            }
            if let Some(usd) = q.monthly_budget_usd {
                if price.is_none() {
                    tracing::warn!(
                        model,
                        "no [[quotas.prices]] entry: the money budget cannot count this request"
                    );
                }
                budgets.push(BudgetCharge {
                    key: format!("budget:{scope}:{id}:usd:{month}"),
                    unit: Unit::MicroUsd,
                    limit: (usd * 1e6) as u64,
                    cost,
                    ttl_ms,
                    label: format!("{scope} {id}: ${usd} per month"),
                });
            }
        };
        add("key", &key.id.0, kq);
        if let Some(q) = tq {
            add("team", &key.team, q);
        }
        if let Some((rpm, tpm)) = throttle {
            let q = Quotas {
                requests_per_minute: Some(rpm),
                tokens_per_minute: Some(tpm),
                ..Quotas::default()
            };
            rate_charges(&mut rates, "monitor", &key.id.0, &q, tokens);
        }
        Plan {
            rates,
            budgets,
            prompt_tokens,
            completion_allowance,
            price,
        }
    }

    fn now_us(&self) -> f64 {
        self.clock.now().0 as f64 * 1000.0
    }

    /// Lowers `key`'s limits to `rpm` requests and `tpm` tokens per minute
    /// (the monitor's throttle step), on top of its own.
    pub fn throttle(&self, key: &str, rpm: u64, tpm: u64) {
        if let Ok(mut t) = self.throttles.write() {
            t.insert(key.to_owned(), (rpm, tpm));
        }
    }

    /// Lifts a throttle.
    pub fn unthrottle(&self, key: &str) {
        if let Ok(mut t) = self.throttles.write() {
            t.remove(key);
        }
    }

    fn prefixed(&self, k: &str) -> String {
        format!("{}:{k}", self.cfg.key_prefix)
    }

    /// Charges the plan.
    pub async fn reserve(self: &Arc<Self>, plan: Plan) -> Result<Reservation, QuotaError> {
        if plan.is_empty() {
            return Ok(Reservation {
                plan,
                local: true,
                states: Vec::new(),
                quotas: self.clone(),
                settled: false,
            });
        }
        let mut local = true;
        let verdict = match &self.redis {
            None => self
                .memory
                .charge(&plan.rates, &plan.budgets, self.now_us()),
            Some(r) => match self.redis_charge(r, &plan).await {
                Ok(v) => {
                    if self.falling_back.swap(false, Ordering::Relaxed) {
                        tracing::info!("Redis reachable again; quotas are shared across replicas");
                    }
                    local = false;
                    v
                }
                Err(e) => {
                    self.redis_errors.fetch_add(1, Ordering::Relaxed);
                    match self.cfg.on_redis_error {
                        OnRedisError::FailClosed => {
                            tracing::error!(error = %e, "Redis unreachable; refusing (quotas.on_redis_error = fail_closed)");
                            return Err(QuotaError::Unavailable(e));
                        }
                        OnRedisError::Local => {
                            if !self.falling_back.swap(true, Ordering::Relaxed) {
                                tracing::warn!(error = %e, "Redis unreachable; enforcing quotas per replica (quotas.on_redis_error = local)");
                            }
                            self.memory
                                .charge(&plan.rates, &plan.budgets, self.now_us())
                        }
                    }
                }
            },
        };
        match verdict {
            Ok(states) => Ok(Reservation {
                plan,
                local,
                states,
                quotas: self.clone(),
                settled: false,
            }),
            Err(r) => {
                self.refusals.fetch_add(1, Ordering::Relaxed);
                Err(QuotaError::Refused(r))
            }
        }
    }

    async fn redis_charge(
        &self,
        r: &RedisLimiter,
        plan: &Plan,
    ) -> Result<Result<Vec<LimitState>, Refusal>, String> {
        let mut inv = r.charge.prepare_invoke();
        for c in &plan.rates {
            inv.key(self.prefixed(&c.key));
        }
        for b in &plan.budgets {
            inv.key(self.prefixed(&b.key));
        }
        inv.arg(plan.rates.len()).arg(plan.budgets.len());
        for c in &plan.rates {
            inv.arg(c.period_ms * 1000).arg(c.limit).arg(c.cost);
        }
        for b in &plan.budgets {
            // The script takes the budget's time to the month's end in
            // milliseconds: it sets the key's expiry from it and answers a
            // refusal's wait in microseconds, like the rates.
            inv.arg(b.limit).arg(b.cost).arg(b.ttl_ms);
        }
        let mut conn = r.conn.clone();
        let out: Vec<i64> = tokio::time::timeout(r.timeout * 2, inv.invoke_async(&mut conn))
            .await
            .map_err(|_| "Redis did not answer in time".to_string())?
            .map_err(|e| e.to_string())?;
        let ms = |us: i64| u64::try_from(us).unwrap_or(0).div_ceil(1000);
        match out.as_slice() {
            [1, rest @ ..] => Ok(Ok(plan
                .rates
                .iter()
                .zip(rest.chunks(2))
                .map(|(c, p)| LimitState {
                    unit: c.unit,
                    limit: c.limit,
                    remaining: u64::try_from(p.first().copied().unwrap_or(0)).unwrap_or(0),
                    reset_ms: ms(p.get(1).copied().unwrap_or(0)),
                })
                .collect())),
            [0, idx, wait] => {
                let i = usize::try_from(*idx).unwrap_or(1).saturating_sub(1);
                Ok(Err(match plan.rates.get(i) {
                    Some(c) => Refusal {
                        budget: false,
                        label: c.label.clone(),
                        retry_after_ms: ms(*wait),
                        never: c.cost > c.limit,
                        unit: c.unit,
                    },
                    None => {
                        let b = plan.budgets.get(i - plan.rates.len());
                        Refusal {
                            budget: true,
                            label: b.map(|b| b.label.clone()).unwrap_or_default(),
                            retry_after_ms: ms(*wait),
                            never: b.is_some_and(|b| b.cost > b.limit),
                            unit: b.map_or(Unit::Tokens, |b| b.unit),
                        }
                    }
                }))
            }
            other => Err(format!(
                "unexpected answer from the quota script: {other:?}"
            )),
        }
    }

    fn adjust(
        self: &Arc<Self>,
        plan: &Plan,
        local: bool,
        delta: i64,
        prompt: u64,
        completion: u64,
    ) {
        if delta == 0 && plan.price.is_none() {
            return;
        }
        let reserved_cost = plan.price.map_or(0, |(i, o)| {
            (plan.prompt_tokens as f64 * i + plan.completion_allowance as f64 * o).ceil() as i64
        });
        let actual_cost = plan.price.map_or(0, |(i, o)| {
            (prompt as f64 * i + completion as f64 * o).ceil() as i64
        });
        let budgets: Vec<(String, i64)> = plan
            .budgets
            .iter()
            .map(|b| {
                let d = if b.unit == Unit::MicroUsd {
                    actual_cost - reserved_cost
                } else {
                    delta
                };
                (b.key.clone(), d)
            })
            .collect();
        if local || self.redis.is_none() {
            self.memory.adjust(&plan.rates, &budgets, delta);
            return;
        }
        let this = self.clone();
        let plan = plan.clone();
        tokio::spawn(async move {
            let Some(r) = &this.redis else { return };
            let tok: Vec<&RateCharge> = plan
                .rates
                .iter()
                .filter(|c| c.unit == Unit::Tokens)
                .collect();
            let mut inv = r.adjust.prepare_invoke();
            for c in &tok {
                inv.key(this.prefixed(&c.key));
            }
            for (k, _) in &budgets {
                inv.key(this.prefixed(k));
            }
            inv.arg(tok.len()).arg(delta);
            for c in &tok {
                inv.arg(c.period_ms as f64 * 1000.0 / c.limit.max(1) as f64);
            }
            for (_, d) in &budgets {
                inv.arg(*d);
            }
            let mut conn = r.conn.clone();
            let res: Result<Result<i64, _>, _> =
                tokio::time::timeout(r.timeout * 2, inv.invoke_async(&mut conn)).await;
            if !matches!(res, Ok(Ok(_))) {
                this.redis_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "could not settle a quota reservation in Redis; the reservation stands"
                );
            }
        });
    }
}
