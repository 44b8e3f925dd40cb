//! `[monitor]`: windows, weights, thresholds and the enforcement ladder.
//! Unknown keys are refused at start-up (serde `deny_unknown_fields`), so a
//! misspelt signal name is an error naming the key and its line, never a
//! weight silently ignored.

use serde::{Deserialize, Serialize};

/// The signals, by the names used in weights, reports and the API.
pub const SIGNALS: &[&str] = &[
    "volume",
    "output_ratio",
    "max_tokens_share",
    "limit_time",
    "limit_429_rate",
    "limit_retries",
    "flat_rhythm",
    "regular_timing",
    "template_share",
    "coverage",
    "reasoning",
    "parameters",
    "shift",
    "harvest",
    "shared_client",
    "sync_bursts",
    "spread",
    "public_set",
    "topics",
    "pace",
    "concurrency",
    "surge",
    "pool_split",
    "shared_params",
];

/// One weight per signal: a signal's contribution is `weight × value`
/// (values are in 0..=1). Defaults are measured on the simulator (see
/// docs/monitor.md).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Requests in the window against `volume_requests_high`.
    pub volume: f64,
    /// Output/input token ratio.
    pub output_ratio: f64,
    /// Share of answers cut at `max_tokens`.
    pub max_tokens_share: f64,
    /// Share of active minutes with a 429.
    pub limit_time: f64,
    /// Share of requests refused by a rate limit.
    pub limit_429_rate: f64,
    /// Share of 429s followed by a retry within `retry_window_ms`.
    pub limit_retries: f64,
    /// Flat traffic over the hours of the day and the days of the week.
    pub flat_rhythm: f64,
    /// Regular inter-arrival times (automation).
    pub regular_timing: f64,
    /// Share of requests in the key's largest prompt templates.
    pub template_share: f64,
    /// Distinct instructions enumerated under templates.
    pub coverage: f64,
    /// Requests asking for step-by-step reasoning or rationales.
    pub reasoning: f64,
    /// `logprobs`, `top_logprobs`, `logit_bias`, `n > 1`, sampling sweeps.
    pub parameters: f64,
    /// Maximum mean discrepancy of recent prompts against benign history.
    pub shift: f64,
    /// Distinct self-contained instructions answered at length, per day and
    /// per week, against `harvest_day_high` and `harvest_week_high` (for a
    /// key serving many people that names them, per end user).
    pub harvest: f64,
    /// Clusters: member keys sharing client addresses.
    pub shared_client: f64,
    /// Clusters: members active in the same minutes.
    pub sync_bursts: f64,
    /// Clusters: one workload spread evenly over many keys.
    pub spread: f64,
    /// Distinct instructions of a known public instruction set asked in the
    /// window, against `public_set_high`.
    pub public_set: f64,
    /// Topics and instruction types walked through by the answers at
    /// length, and how evenly.
    pub topics: f64,
    /// Requests per active minute, beyond a person's pace.
    pub pace: f64,
    /// Requests in flight at once.
    pub concurrency: f64,
    /// Requests in the window against the key's own earlier days (or its
    /// team's typical key).
    pub surge: f64,
    /// Clusters: members that enumerate one known instruction set in
    /// disjoint slices.
    pub pool_split: f64,
    /// Clusters: members sharing unusual generation parameters or one
    /// answer length (shown; a link, never evidence).
    pub shared_params: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            volume: 0.04,
            output_ratio: 0.03,
            max_tokens_share: 0.04,
            limit_time: 0.05,
            limit_429_rate: 0.04,
            limit_retries: 0.04,
            flat_rhythm: 0.06,
            regular_timing: 0.05,
            template_share: 0.25,
            coverage: 0.15,
            reasoning: 0.20,
            parameters: 0.15,
            shift: 0.20,
            harvest: 0.50,
            shared_client: 0.0,
            sync_bursts: 0.08,
            spread: 0.10,
            public_set: 0.30,
            topics: 0.10,
            pace: 0.04,
            concurrency: 0.04,
            surge: 0.05,
            pool_split: 0.10,
            shared_params: 0.0,
        }
    }
}

impl Weights {
    /// The weight of signal `name`.
    pub fn get(&self, name: &str) -> f64 {
        match name {
            "volume" => self.volume,
            "output_ratio" => self.output_ratio,
            "max_tokens_share" => self.max_tokens_share,
            "limit_time" => self.limit_time,
            "limit_429_rate" => self.limit_429_rate,
            "limit_retries" => self.limit_retries,
            "flat_rhythm" => self.flat_rhythm,
            "regular_timing" => self.regular_timing,
            "template_share" => self.template_share,
            "coverage" => self.coverage,
            "reasoning" => self.reasoning,
            "parameters" => self.parameters,
            "shift" => self.shift,
            "harvest" => self.harvest,
            "shared_client" => self.shared_client,
            "sync_bursts" => self.sync_bursts,
            "spread" => self.spread,
            "public_set" => self.public_set,
            "topics" => self.topics,
            "pace" => self.pace,
            "concurrency" => self.concurrency,
            "surge" => self.surge,
            "pool_split" => self.pool_split,
            "shared_params" => self.shared_params,
            _ => 0.0,
        }
    }
}

/// Score thresholds of the levels.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// `notice` from this score.
    pub notice: f64,
    /// `throttle` from this score.
    pub throttle: f64,
    /// `suspend` from this score.
    pub suspend: f64,
    /// `revoke` from this score.
    pub revoke: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            notice: 0.30,
            throttle: 0.40,
            suspend: 0.50,
            revoke: 0.65,
        }
    }
}

/// Whether a ladder step happens by itself or waits for an administrator.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Taken as soon as the level is reached.
    Auto,
    /// Recorded as awaiting review; an administrator acts.
    Manual,
    /// Never taken.
    Off,
}

/// The enforcement ladder.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LadderConfig {
    /// Notice: a webhook call, a ledger event, the `Proviso-Notice` header.
    pub notice: Mode,
    /// Throttle: the key's limits are lowered to the values below.
    pub throttle: Mode,
    /// Suspend pending review (403 `key_suspended`).
    pub suspend: Mode,
    /// Revoke after `revoke_notice_ms` unless reinstated (`auto`), or only
    /// by an administrator (`manual`).
    pub revoke: Mode,
    /// Requests per minute allowed to a throttled key.
    pub throttle_requests_per_minute: u64,
    /// Tokens per minute allowed to a throttled key.
    pub throttle_tokens_per_minute: u64,
    /// The notice period between suspension and revocation.
    pub revoke_notice_ms: u64,
}

impl Default for LadderConfig {
    fn default() -> Self {
        Self {
            notice: Mode::Auto,
            throttle: Mode::Auto,
            suspend: Mode::Auto,
            revoke: Mode::Manual,
            throttle_requests_per_minute: 10,
            throttle_tokens_per_minute: 20_000,
            revoke_notice_ms: 7 * 86_400_000,
        }
    }
}

/// `[monitor]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Run the monitor (observe every request, score, enforce).
    pub enabled: bool,
    /// The sliding window of the per-key signals.
    pub window_ms: u64,
    /// The longer window of the rhythm signal (hours of the day, days of
    /// the week).
    pub rhythm_window_ms: u64,
    /// Observations queued between the request path and the monitor; when
    /// full, observations are dropped and counted, never waited for.
    pub queue: usize,
    /// Bytes the queue may hold, counted as held in memory (each record
    /// with its texts; requests are queued whole); past it, observations
    /// are dropped and counted like a full queue.
    pub queue_bytes: usize,
    /// Re-score a key after this many new requests.
    pub evaluate_every: u32,
    /// A key's score is scaled by `min(1, requests / min_requests)`: a
    /// handful of requests is not evidence.
    pub min_requests: u32,
    /// Requests in the window that count as full volume.
    pub volume_requests_high: u32,
    /// Distinct self-contained instructions answered at length in the
    /// window (a day) at which `harvest` is 1.
    pub harvest_day_high: u32,
    /// The same over the rhythm window (a week; counted, not told apart).
    pub harvest_week_high: u32,
    /// Known public instruction sets: `alpaca_eval` (built in) and files of
    /// instructions (JSON lines, a JSON array, or a line each). Empty: none.
    pub instruction_sets: Vec<String>,
    /// Distinct instructions of one known set in the window at which
    /// `public_set` is 1.
    pub public_set_high: u32,
    /// A request within this time after a 429 on the same key is a retry.
    pub retry_window_ms: u64,
    /// Template clusters: estimated Jaccard of masked prompts at or above
    /// which two prompts share a template.
    pub template_jaccard: f64,
    /// Purposes whose workloads are declared bounded (a fixed benchmark):
    /// while the key's distinct prompts stay under `bounded_prompts`, the
    /// automation signals (volume, output, limits, rhythm, timing) and the
    /// shift test count half.
    pub bounded_purposes: Vec<String>,
    /// Distinct prompts a bounded purpose may use before it counts as
    /// unbounded.
    pub bounded_prompts: u32,
    /// Purposes of keys that serve many people (a product, an internal
    /// assistant): their harvest is their users' questions, so beyond
    /// `notice` they need content evidence (templates, enumeration,
    /// reasoning harvest, a shift) besides output worth harvesting.
    pub serving_purposes: Vec<String>,
    /// For a key of a serving purpose that names its end users (`user`,
    /// `safety_identifier`), `harvest` is its busiest end user's, or this
    /// share of the key's own, whichever is larger (0: per end user only,
    /// for user ids you trust; a script can invent a user per request).
    pub named_users_key_share: f64,
    /// Prompts in the recent sample of the distribution-shift test.
    pub shift_recent: usize,
    /// Prompts in the benign-history sample of the test.
    pub shift_history: usize,
    /// Keys linked into one actor must number at least this many.
    pub min_cluster_keys: usize,
    /// Example record ids kept as evidence per actor.
    pub evidence: usize,
    /// Prompt vectors for the shift test from this embeddings model (a
    /// model the gateway serves from an `openai-compatible`, i.e.
    /// self-hosted, upstream) instead of the built-in hashed n-grams.
    pub embeddings_model: Option<String>,
    /// Where notices are sent (POST, JSON); none: no webhook.
    pub webhook_url: Option<String>,
    /// Attempts per webhook call (with exponential backoff from 500 ms).
    pub webhook_attempts: u32,
    /// Signal weights.
    pub weights: Weights,
    /// Level thresholds.
    pub thresholds: Thresholds,
    /// The enforcement ladder.
    pub ladder: LadderConfig,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_ms: 86_400_000,
            rhythm_window_ms: 7 * 86_400_000,
            queue: 65_536,
            queue_bytes: 32 * 1024 * 1024,
            evaluate_every: 10,
            min_requests: 40,
            volume_requests_high: 2_000,
            harvest_day_high: 200,
            harvest_week_high: 600,
            instruction_sets: vec![crate::known::BUILTIN.into()],
            public_set_high: 50,
            retry_window_ms: 10_000,
            template_jaccard: 0.5,
            bounded_purposes: vec!["evaluation".into()],
            bounded_prompts: 5_000,
            serving_purposes: vec!["product".into()],
            named_users_key_share: 0.5,
            shift_recent: 48,
            shift_history: 96,
            min_cluster_keys: 3,
            evidence: 5,
            embeddings_model: None,
            webhook_url: None,
            webhook_attempts: 5,
            weights: Weights::default(),
            thresholds: Thresholds::default(),
            ladder: LadderConfig::default(),
        }
    }
}

/// A configuration that cannot work: the key (as `weights.shift`) and why.
#[derive(Debug, thiserror::Error)]
#[error("[monitor] {key}: {message}")]
pub struct ConfigError {
    /// The key under `[monitor]`, dotted.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

fn bad(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

impl MonitorConfig {
    /// Checks values serde cannot: ranges and the order of thresholds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for name in SIGNALS {
            let w = self.weights.get(name);
            if !w.is_finite() || w < 0.0 {
                return Err(bad(
                    format!("weights.{name}"),
                    format!("{w}: a weight must be a finite number >= 0"),
                ));
            }
        }
        let t = &self.thresholds;
        let seq = [
            ("notice", t.notice),
            ("throttle", t.throttle),
            ("suspend", t.suspend),
            ("revoke", t.revoke),
        ];
        for (n, v) in seq {
            if !v.is_finite() || v <= 0.0 {
                return Err(bad(
                    format!("thresholds.{n}"),
                    format!("{v}: must be a number > 0"),
                ));
            }
        }
        for w in seq.windows(2) {
            if w[0].1 > w[1].1 {
                return Err(bad(
                    format!("thresholds.{}", w[0].0),
                    format!(
                        "{} is above thresholds.{} ({}): levels must rise",
                        w[0].1, w[1].0, w[1].1
                    ),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.named_users_key_share) {
            return Err(bad(
                "named_users_key_share",
                format!("{}: must be within 0..=1", self.named_users_key_share),
            ));
        }
        if !(0.0..=1.0).contains(&self.template_jaccard) {
            return Err(bad(
                "template_jaccard",
                format!("{}: must be within 0..=1", self.template_jaccard),
            ));
        }
        for (k, v) in [
            ("window_ms", self.window_ms),
            ("queue", self.queue as u64),
            ("evaluate_every", u64::from(self.evaluate_every)),
        ] {
            if v == 0 {
                return Err(bad(k, "must be > 0"));
            }
        }
        for (k, v) in [
            ("shift_recent", self.shift_recent),
            ("shift_history", self.shift_history),
        ] {
            if v < 8 {
                return Err(bad(k, format!("{v}: must be at least 8")));
            }
        }
        if self.rhythm_window_ms < self.window_ms {
            return Err(bad("rhythm_window_ms", "must be at least window_ms"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrap {
        #[allow(dead_code)]
        monitor: MonitorConfig,
    }

    #[test]
    fn unknown_signal_is_an_error_naming_key_and_line() {
        let text = "[monitor]\nenabled = true\n\n[monitor.weights]\ntemplate_share = 0.3\ntemplate_reuse = 0.2\n";
        let e = toml::from_str::<Wrap>(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("template_reuse"), "{e}");
        assert!(e.contains("line 6"), "{e}");
    }

    #[test]
    fn malformed_weight_is_an_error() {
        let e = toml::from_str::<Wrap>("[monitor.weights]\nreasoning = \"high\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("line 2"), "{e}");
        let mut c = MonitorConfig::default();
        c.weights.shift = -1.0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("weights.shift")
        );
        let mut c = MonitorConfig::default();
        c.thresholds.notice = 0.9;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("levels must rise")
        );
        assert!(MonitorConfig::default().validate().is_ok());
    }

    #[test]
    fn every_signal_has_a_weight() {
        let w = Weights::default();
        for s in SIGNALS {
            // A shared address or shared parameters are shown, never evidence.
            if *s == "shared_client" || *s == "shared_params" {
                assert_eq!(w.get(s), 0.0);
                continue;
            }
            assert!(w.get(s) > 0.0, "{s}");
        }
    }
}
