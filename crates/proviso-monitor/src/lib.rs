//! Proviso's monitor: signals of model extraction and abuse per key and
//! per cluster of linked keys, a transparent risk score (every signal's
//! value and contribution), and the enforcement ladder's decisions.
//!
//! The monitor is a plain state machine fed [`Observation`]s in order; it
//! does no I/O. The gateway feeds it from a bounded queue off the request
//! path and carries out its [`Decision`]s; `proviso monitor` and a
//! restarting gateway feed it the ledger, so both reach the same state.
#![deny(missing_docs)]

mod clusters;
pub mod config;
pub mod features;
mod fxhash;
pub mod known;
pub mod ladder;
pub mod mmd;
pub mod observation;
mod shift;
pub mod signals;
pub mod templates;
pub mod topics;
mod window;

use std::collections::{BTreeMap, HashMap};

use proviso_ledger::{Record, RecordKind};
use serde::Serialize;

use shift::shift_signal;

pub use config::{ConfigError, LadderConfig, Mode, MonitorConfig, SIGNALS, Thresholds, Weights};
pub use ladder::Level;
pub use observation::{Observation, PromptParts};
pub use signals::Signal;

use signals::{Raw, View, top_templates};
use templates::Templates;
use window::{
    Ev, HARVEST, KeyWindow, LIMITED, LONG_ANSWER_TOKENS, MAX_TOKENS, PARAMS, REASONING, YIELD,
};

/// The verdict on one actor: a key, or a cluster of keys acting as one.
#[derive(Clone, Debug, Serialize)]
pub struct ActorReport {
    /// `key` or `cluster`.
    pub kind: &'static str,
    /// The key id (for a cluster: `cluster:` and its first member).
    pub key_id: String,
    /// The team (for a cluster spanning teams, the teams joined by `,`).
    pub team: String,
    /// A cluster's member keys (a key: itself).
    pub members: Vec<String>,
    /// The risk score: the sum of the contributions.
    pub score: f64,
    /// The level of the score.
    pub level: Level,
    /// The highest ladder step taken (or asked of an administrator) on the
    /// key; for a cluster, on its members.
    pub enforced: Level,
    /// Requests observed (since the key was last reinstated or cleared).
    pub requests: u64,
    /// Requests in the sliding window.
    pub window_requests: usize,
    /// Requests it took to first reach `notice`.
    pub detected_after: Option<u64>,
    /// For a key in a cluster: the cluster's id.
    pub cluster: Option<String>,
    /// The purpose most recently declared.
    pub purpose: Option<String>,
    /// Every signal with its value, weight and contribution.
    pub signals: Vec<Signal>,
    /// Example ledger record ids behind the strongest signal.
    pub evidence: Vec<String>,
}

/// A ladder step the caller must carry out (and record) on a key.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    /// The key.
    pub key: String,
    /// Its team.
    pub team: String,
    /// The step.
    pub level: Level,
    /// `auto`: take it; `manual`: record that it awaits an administrator.
    pub mode: Mode,
    /// The actor whose score called for it (the key or its cluster).
    pub actor: String,
    /// The actor's score.
    pub score: f64,
    /// The signals at the time.
    pub signals: Vec<Signal>,
    /// Example record ids.
    pub evidence: Vec<String>,
}

/// The monitor's state.
pub struct Monitor {
    cfg: MonitorConfig,
    keys: HashMap<String, KeyWindow>,
    teams: HashMap<String, Vec<(String, features::Packed)>>,
    templates: Templates,
    reports: HashMap<String, ActorReport>,
    clusters: Vec<ActorReport>,
    key_cluster: HashMap<String, usize>,
    enforced: HashMap<String, Level>,
    detected: HashMap<String, u64>,
    observed: u64,
    since_clusters: u32,
    window_total: usize,
    now: i64,
    enforcing: bool,
    known: std::sync::Arc<known::KnownSets>,
    /// Requests in the window of a team's typical key (the median over its
    /// active keys, at least three), as of the last clustering.
    team_typical: HashMap<String, f64>,
}

impl Monitor {
    /// A monitor with `cfg` (validated).
    pub fn new(cfg: MonitorConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let known = known::KnownSets::load(&cfg.instruction_sets).map_err(|e| ConfigError {
            key: "instruction_sets".into(),
            message: e.to_string(),
        })?;
        Ok(Self {
            cfg,
            keys: HashMap::new(),
            teams: HashMap::new(),
            templates: Templates::default(),
            reports: HashMap::new(),
            clusters: Vec::new(),
            key_cluster: HashMap::new(),
            enforced: HashMap::new(),
            detected: HashMap::new(),
            observed: 0,
            since_clusters: 0,
            window_total: 0,
            now: i64::MIN,
            enforcing: true,
            known,
            team_typical: HashMap::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MonitorConfig {
        &self.cfg
    }

    /// Whether [`observe`](Self::observe) returns ladder decisions (off while
    /// replaying the ledger: the steps taken then are in the ledger).
    pub fn set_enforcing(&mut self, on: bool) {
        self.enforcing = on;
    }

    /// Observations so far.
    pub fn observed(&self) -> u64 {
        self.observed
    }

    /// Keys with state.
    pub fn active_keys(&self) -> usize {
        self.keys.len()
    }

    /// The latest time seen.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Whether a key's declared purpose is one of a key serving many people.
    fn serving(&self, w: &KeyWindow) -> bool {
        w.purpose
            .as_ref()
            .is_some_and(|p| self.cfg.serving_purposes.contains(p))
    }

    /// Whether a chat follow-up goes on from a turn its key sent before (the
    /// earlier prompt is in the key's window), at most
    /// `FOLLOW_UPS_PER_TURN` times: a history written into each request,
    /// or one turn followed up without end, is not a conversation.
    fn follows_a_sent_turn(&mut self, o: &Observation, ids: Ids) -> bool {
        if o.earlier.is_none() && o.continues.is_none() {
            return true;
        }
        let Some(w) = self.keys.get_mut(&o.key) else {
            return false;
        };
        let h = match (&o.earlier, &o.continues) {
            // A chat: its earlier turn must be a prompt the key sent and
            // was answered.
            (Some(earlier), _) => {
                if earlier.is_empty() {
                    return false;
                }
                // Sent with these definitions, with none, or with others
                // the key sent lately (a tool list that changes between
                // turns, a schema on the last call only).
                let base = request_hash(&o.system, earlier);
                // Found by the requests' words and definitions alone (what
                // the client wrote in the model's name changes what a
                // request asks, not which conversation it is part of).
                let sent = |h: u64| {
                    w.events
                        .iter()
                        .any(|e| e.base == h && e.flags & LIMITED == 0)
                };
                match std::iter::once(ids.defs)
                    .chain(std::iter::once(0))
                    .chain(w.definitions.iter().copied())
                    .map(|d| base ^ d)
                    .find(|h| sent(*h))
                {
                    Some(h) => h,
                    None => return false,
                }
            }
            // A Responses turn: the gateway checked the response is the
            // key's; each may be gone on from a few times only.
            (None, Some(id)) => features::exact_hash(&format!("\u{2}response {id}")),
            (None, None) => return true,
        };
        if w.followed.len() > 16_384 {
            w.followed.clear();
        }
        // A tool loop's steps hand results back to one instruction: counted
        // apart, with room for a long loop.
        let (h, cap) = if o.tool_step {
            (h ^ 0x746f_6f6c_7374_6570, TOOL_STEPS_PER_TURN)
        } else {
            (h, FOLLOW_UPS_PER_TURN)
        };
        let n = w.followed.entry(h).or_insert(0);
        *n = n.saturating_add(1);
        *n <= cap
    }

    /// Whether a short answer to a follow-up brings the answers to its
    /// earlier turn (a prompt the key sent, answered short) to an answer at
    /// length (`LONG_ANSWER_TOKENS`, twice that turn's prompt) for the first
    /// time: an answer asked for in installments. Adds the answer to the
    /// turn's.
    fn completes_in_parts(&mut self, o: &Observation, ids: Ids) -> bool {
        let Some(earlier) = &o.earlier else {
            return false;
        };
        let h = request_hash(&o.system, earlier) ^ ids.defs;
        let Some(w) = self.keys.get_mut(&o.key) else {
            return false;
        };
        let Some(turn) = w.parts.get_mut(&h) else {
            return false;
        };
        if turn.done {
            return false;
        }
        turn.tokens = turn
            .tokens
            .saturating_add(u32::try_from(o.completion_tokens).unwrap_or(u32::MAX));
        let prompt = u64::from(turn.prompt_tokens);
        let total = u64::from(turn.tokens);
        turn.done = total >= LONG_ANSWER_TOKENS && total >= prompt.saturating_mul(2);
        let (turn, done) = (*turn, turn.done);
        // The next "continue" goes on from this request's words (the turn
        // and this follow-up): found under them too.
        w.parts.insert(ids.base, turn);
        done
    }

    /// Takes in one request; returns the ladder steps now due.
    pub fn observe(&mut self, o: &Observation) -> Vec<Decision> {
        self.observed += 1;
        self.now = self.now.max(o.time.0);
        let written = Written::of(o, self.keys.get_mut(&o.key));
        let ids = Ids::of(o, &written);
        let sig = features::template_signature(&o.prompt);
        let template = self
            .templates
            .assign(&sig, o.time.0, self.cfg.template_jaccard);
        let mut flags = 0u8;
        if o.rate_limited {
            flags |= LIMITED;
        }
        if o.hit_max_tokens {
            flags |= MAX_TOKENS;
        }
        if features::asks_for_reasoning(&o.prompt) {
            flags |= REASONING;
        }
        if o.probing_params {
            flags |= PARAMS;
        }
        // What was asked: this turn's own words (or tools' results), and
        // the system text unless the key sent it before (a fixed preamble
        // is standing context, as the history of a chat is).
        let system_hash =
            (!o.system.is_empty()).then(|| xxhash_rust::xxh3::xxh3_64(o.system.as_bytes()));
        let system_repeated = system_hash.is_some_and(|h| {
            self.keys
                .get(&o.key)
                .is_some_and(|w| w.systems.contains(&h))
        });
        let asked = o.parts.asked_tokens(o.prompt_tokens, system_repeated);
        // An answer at length, longer than twice what was asked: output
        // worth harvesting (a label, a greeting, a summary or translation of
        // a longer text are not).
        if o.completion_tokens >= LONG_ANSWER_TOKENS
            && o.completion_tokens >= asked.saturating_mul(2)
        {
            flags |= YIELD;
            if !o.follow_up || written.latest || !self.follows_a_sent_turn(o, ids) {
                flags |= HARVEST;
            } else if !o.tool_step && self.completes_in_parts(o, ids) {
                // A part at length of an answer asked for in installments
                // (a "continue" asks a word): the turn's harvest, once.
                flags |= HARVEST;
            }
        } else if o.follow_up
            && !o.tool_step
            && !written.latest
            && o.completion_tokens > 0
            && self.completes_in_parts(o, ids)
        {
            // A short answer that completes an answer at length to an
            // earlier turn, delivered in parts ("continue"): that turn's
            // harvest, counted once (a tool loop's steps are not parts).
            flags |= YIELD | HARVEST;
        }
        // The item of a known set asked, in the user's turn, the system
        // text, or the two read as one (an item split between them); the
        // topic and type of an answer at length.
        let known = self
            .known
            .find(&o.prompt)
            .or_else(|| self.known.find(&o.system))
            .or_else(|| known::seam(&o.system, &o.prompt).and_then(|s| self.known.find(&s)))
            .or_else(|| self.known.find(&o.definitions))
            .or_else(|| {
                (!written.text.is_empty())
                    .then(|| self.known.find(&written.text))
                    .flatten()
            })
            .map_or(0, |g| g.saturating_add(1));
        let cell = if flags & YIELD == 0 {
            NO_CELL
        } else if written.text.is_empty() {
            topics::cell(&o.system, &o.prompt)
        } else {
            topics::cell(&o.system, &format!("{}\n{}", o.prompt, written.text))
        };
        let fold = |h: u64| {
            if h == 0 {
                0
            } else {
                ((h ^ (h >> 32)) as u32).max(1)
            }
        };
        let ev = Ev {
            t: o.time.0,
            rid: o.record_id,
            prompt_tokens: u32::try_from(o.prompt_tokens).unwrap_or(u32::MAX),
            completion_tokens: u32::try_from(o.completion_tokens).unwrap_or(u32::MAX),
            flags,
            template,
            exact: ids.exact,
            base: ids.base,
            sampling: o.sampling,
            cell,
            known,
            user: fold(
                o.end_user
                    .as_deref()
                    .map_or(0, |u| xxhash_rust::xxh3::xxh3_64(u.as_bytes()).max(1)),
            ),
            params: fold(o.params),
            latency_ms: u32::try_from(o.latency_ms).unwrap_or(u32::MAX),
        };
        let (window, rhythm) = (self.cfg.window_ms as i64, self.cfg.rhythm_window_ms as i64);
        let cap = self.cfg.bounded_prompts as usize;
        let w = self.keys.entry(o.key.clone()).or_default();
        w.team.clone_from(&o.team);
        if o.purpose.is_some() {
            w.purpose.clone_from(&o.purpose);
        }
        if let Some(c) = &o.client {
            w.note_client(c);
        }
        if let Some(h) = system_hash {
            w.note_system(h);
        }
        if ids.defs != 0 {
            w.note_definitions(ids.defs);
        }
        // A self-contained request answered short: its answer may go on in
        // parts.
        if !o.follow_up && flags & (YIELD | LIMITED) == 0 && o.completion_tokens > 0 {
            w.note_short_turn(
                ids.base,
                u32::try_from(o.completion_tokens).unwrap_or(u32::MAX),
                u32::try_from(asked).unwrap_or(u32::MAX),
            );
        }
        w.push(ev, window, rhythm, cap);
        if !o.rate_limited {
            w.note_answer(o.answer);
        }
        // With an embeddings model configured, only its vectors are used (a
        // test must not mix two spaces); an observation without one (the
        // call failed, or replay after a restart) adds none.
        let vector = match (&o.vector, self.cfg.embeddings_model.is_some()) {
            (Some(v), _) => Some(features::unit(v)),
            (None, false) => Some(features::vector(&o.prompt)),
            (None, true) => None,
        };
        if let (false, false, Some(v)) = (o.rate_limited, o.prompt.is_empty(), vector) {
            let v = features::Packed::pack(&v);
            let own_in_team = w.history.len();
            w.add_vector(v.clone(), self.cfg.shift_recent, self.cfg.shift_history);
            let team = self.teams.entry(o.team.clone()).or_default();
            let per_key = (self.cfg.shift_history / 4).max(1);
            if team.len() < self.cfg.shift_history * 2
                && own_in_team < per_key
                && team.iter().filter(|(k, _)| *k == o.key).count() < per_key
            {
                team.push((o.key.clone(), v));
            }
        }
        // Re-score every `evaluate_every` requests while a key is young, then
        // every 1/16 of its window: early detection matters, and scoring a
        // window costs in proportion to its length.
        let every = (self.cfg.evaluate_every as usize).max(w.events.len() / 16);
        let due = w.since_eval as usize >= every;
        let mut out = Vec::new();
        if due {
            self.evaluate_key(&o.key);
            out.extend(self.decide(&o.key));
        }
        self.since_clusters += 1;
        let every = (self.cfg.evaluate_every as usize * 5).max(self.window_total / 20);
        if self.since_clusters as usize >= every {
            out.extend(self.evaluate_clusters());
        }
        if self.observed.is_multiple_of(10_000) {
            self.housekeeping();
        }
        out
    }

    fn housekeeping(&mut self) {
        let horizon = self.now - self.cfg.rhythm_window_ms as i64;
        self.templates.prune(self.now - self.cfg.window_ms as i64);
        let idle: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, w)| w.last_t < horizon)
            .map(|(k, _)| k.clone())
            .collect();
        for k in idle {
            self.keys.remove(&k);
            self.reports.remove(&k);
        }
    }

    /// Re-scores every key with new requests and the clusters, at `now`
    /// (for reports); returns the ladder steps due.
    pub fn evaluate_all(&mut self) -> Vec<Decision> {
        let mut keys: Vec<String> = self.keys.keys().cloned().collect();
        keys.sort();
        let mut out = Vec::new();
        for k in &keys {
            self.evaluate_key(k);
        }
        out.extend(self.evaluate_clusters());
        for k in &keys {
            out.extend(self.decide(k));
        }
        out
    }

    fn evaluate_key(&mut self, key: &str) {
        let (window, rhythm) = (self.cfg.window_ms as i64, self.cfg.rhythm_window_ms as i64);
        let now = self.now;
        let Some(w) = self.keys.get_mut(key) else {
            return;
        };
        w.prune(now, window, rhythm);
        w.since_eval = 0;
        let shift = shift_signal(w, key, self.teams.get(&w.team), &self.cfg);
        let w = &self.keys[key];
        let serving = self.serving(w);
        let view = View {
            events: w.events.iter().collect(),
            hours: w.hours.clone(),
            harvest_week: w.harvest_seen.len() as u64,
            known: &self.known,
            serving,
            baseline: baseline(w, now, window, self.team_typical.get(&w.team).copied()),
        };
        let mut raw = signals::compute(&view, &self.cfg);
        raw.push(shift);
        let n = view.events.len();
        let bounded = w
            .purpose
            .as_ref()
            .is_some_and(|p| self.cfg.bounded_purposes.contains(p))
            && w.distinct.len() <= self.cfg.bounded_prompts as usize;
        let confidence = (n as f64 / f64::from(self.cfg.min_requests.max(1))).min(1.0);
        let evidence = evidence(&view.events, &raw, &self.cfg);
        let (score, mut signals) = signals::weigh(raw, &self.cfg, confidence, bounded);
        if bounded {
            for s in &mut signals {
                if s.contribution < s.weight * s.value * confidence - 1e-9 {
                    s.detail.push_str(" [halved: declared bounded purpose]");
                }
            }
        }
        let mut level = capped(
            Level::of(score, &self.cfg.thresholds),
            &mut signals,
            serving,
        );
        if serving && level > Level::Notice && w.names_end_users() {
            // Many named people: what one of them asks is the evidence, and
            // the step to take is on that person, in the product; the key
            // is told (a notice), never throttled for its users.
            level = Level::Notice;
            if let Some(f) = signals.iter_mut().find(|s| s.name == "families") {
                f.detail.push_str(
                    "; held at notice: a key serving many people that names them is judged per end user (see harvest)",
                );
            }
        }
        if bounded && level > Level::Notice {
            // A declared bounded purpose within its bound is a claim a
            // reviewer checks: a notice, no more, until the bound is passed.
            level = Level::Notice;
            if let Some(f) = signals.iter_mut().find(|s| s.name == "families") {
                f.detail.push_str(&format!(
                    "; held at notice: declared {} within {} distinct prompts",
                    w.purpose.as_deref().unwrap_or_default(),
                    self.cfg.bounded_prompts
                ));
            }
        }
        if level >= Level::Notice {
            self.detected.entry(key.to_owned()).or_insert(w.total);
        }
        let report = ActorReport {
            kind: "key",
            key_id: key.to_owned(),
            team: w.team.clone(),
            members: vec![key.to_owned()],
            score: round3(score),
            level,
            enforced: self.enforced.get(key).copied().unwrap_or_default(),
            requests: w.total,
            window_requests: n,
            detected_after: self.detected.get(key).copied(),
            cluster: None,
            purpose: w.purpose.clone(),
            signals,
            evidence,
        };
        self.reports.insert(key.to_owned(), report);
    }

    /// The level a key is judged at: its own, or its cluster's when it takes
    /// part in one's workload.
    fn effective(&self, key: &str) -> Option<(Level, &ActorReport)> {
        let own = self.reports.get(key);
        let clus = self
            .key_cluster
            .get(key)
            .and_then(|i| self.clusters.get(*i));
        match (own, clus) {
            (Some(o), Some(c)) if c.level > o.level => Some((c.level, c)),
            (Some(o), _) => Some((o.level, o)),
            (None, Some(c)) => Some((c.level, c)),
            (None, None) => None,
        }
    }

    fn decide(&mut self, key: &str) -> Vec<Decision> {
        if !self.enforcing {
            return Vec::new();
        }
        let Some((level, actor)) = self.effective(key) else {
            return Vec::new();
        };
        let enforced = self.enforced.get(key).copied().unwrap_or_default();
        if level <= enforced {
            return Vec::new();
        }
        let team = self
            .keys
            .get(key)
            .map(|w| w.team.clone())
            .unwrap_or_default();
        let out: Vec<Decision> = ladder::steps(enforced, level, &self.cfg.ladder)
            .into_iter()
            .map(|(l, mode)| Decision {
                key: key.to_owned(),
                team: team.clone(),
                level: l,
                mode,
                actor: actor.key_id.clone(),
                score: actor.score,
                signals: actor.signals.clone(),
                evidence: actor.evidence.clone(),
            })
            .collect();
        self.enforced.insert(key.to_owned(), level);
        if let Some(r) = self.reports.get_mut(key) {
            r.enforced = level;
        }
        out
    }

    /// Keys and clusters by risk, highest first.
    pub fn report(&self) -> Vec<ActorReport> {
        let enforced = |k: &str| self.enforced.get(k).copied().unwrap_or_default();
        let mut out: Vec<ActorReport> = self
            .reports
            .values()
            .cloned()
            .chain(self.clusters.iter().cloned())
            .map(|mut r| {
                // Requests and what the ladder did may postdate the last
                // scoring (a long window is re-scored every 1/16 of it).
                if r.kind == "key"
                    && let Some(w) = self.keys.get(&r.key_id)
                {
                    r.requests = w.total;
                }
                r.enforced = r
                    .members
                    .iter()
                    .map(|m| enforced(m))
                    .max()
                    .unwrap_or_default();
                r
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.key_id.cmp(&b.key_id))
        });
        out
    }

    /// The report on one key, if it has one.
    pub fn key_report(&self, key: &str) -> Option<&ActorReport> {
        self.reports.get(key)
    }

    /// The highest step taken on each key.
    pub fn enforced(&self) -> Vec<(String, Level)> {
        let mut v: Vec<(String, Level)> = self
            .enforced
            .iter()
            .filter(|(_, l)| **l > Level::Ok)
            .map(|(k, l)| (k.clone(), *l))
            .collect();
        v.sort();
        v
    }

    /// The highest step taken on `key`.
    pub fn enforced_level(&self, key: &str) -> Level {
        self.enforced.get(key).copied().unwrap_or_default()
    }

    /// Undoes the marking of step `level` on `key` (it could not be carried
    /// out); the monitor will decide it again.
    pub fn forget_step(&mut self, key: &str, level: Level) {
        if let Some(e) = self.enforced.get_mut(key)
            && *e >= level
        {
            *e = Level::ALL
                .into_iter()
                .rev()
                .find(|l| *l < level)
                .unwrap_or_default();
        }
    }

    /// Records that step `level` was taken on `key` (replaying the ledger).
    pub fn note_step(&mut self, key: &str, level: Level) {
        let e = self.enforced.entry(key.to_owned()).or_default();
        *e = (*e).max(level);
    }

    /// Forgets a key's history and enforcement: it was reinstated or
    /// cleared by an administrator, and is watched afresh from now.
    pub fn reset_key(&mut self, key: &str) {
        self.enforced.remove(key);
        self.detected.remove(key);
        self.reports.remove(key);
        if let Some(w) = self.keys.get_mut(key) {
            let team = std::mem::take(&mut w.team);
            *w = KeyWindow {
                team,
                last_t: w.last_t,
                ..KeyWindow::default()
            };
        }
    }

    /// Applies a ledger record: exchanges are observed (without decisions),
    /// monitor and lifecycle events restore the ladder's state.
    pub fn replay(&mut self, r: &Record) {
        match r.kind {
            RecordKind::Exchange => {
                if let Some(o) = Observation::from_record(r) {
                    let was = self.enforcing;
                    self.enforcing = false;
                    self.observe(&o);
                    self.enforcing = was;
                }
            }
            RecordKind::Event => {
                let Some(key) = r.key_id.as_ref().map(|k| k.0.as_str()) else {
                    return;
                };
                self.now = self.now.max(r.time.0);
                let name = r.endpoint.as_str();
                if let Some(step) = name.strip_prefix("monitor.") {
                    match step {
                        "cleared" => self.reset_key(key),
                        "review" => {
                            let level = serde_json::from_str::<serde_json::Value>(
                                r.detail.as_deref().unwrap_or("{}"),
                            )
                            .ok()
                            .and_then(|d| {
                                d.get("level")
                                    .and_then(|l| l.as_str())
                                    .and_then(Level::parse)
                            });
                            if let Some(l) = level {
                                self.note_step(key, l);
                            }
                        }
                        s => {
                            if let Some(l) = Level::parse(s) {
                                self.note_step(key, l);
                            }
                        }
                    }
                } else if name == "key.reinstated" {
                    self.reset_key(key);
                }
            }
        }
    }
}

/// A request's hashes, worked out once per observation.
#[derive(Clone, Copy)]
struct Ids {
    /// The tools and schema it defines (0: none).
    defs: u64,
    /// Its system text and the user's words ([`request_hash`]), and its
    /// definitions (an instruction in a function's description makes a
    /// request of its own): what a follow-up's earlier turn is found by.
    base: u64,
    /// Its identity: `base`, and the turns the client wrote in the model's
    /// name ([`Written`]).
    exact: u64,
}

impl Ids {
    fn of(o: &Observation, written: &Written) -> Self {
        let defs = if o.definitions.is_empty() {
            0
        } else {
            xxhash_rust::xxh3::xxh3_64_with_seed(o.definitions.as_bytes(), 0x64_6566)
        };
        let base = request_hash(&o.system, &o.prompt) ^ defs;
        Self {
            defs,
            base,
            exact: base ^ written.all,
        }
    }
}

/// The turns a request shows the model as having said that the key's
/// answers do not hold: written by the client (a made-up history, an
/// answer's opening to go on from, a tool call the model never made and
/// its result). What they say is part of what the request asks, so a
/// request differs from another by them as by its user's words.
#[derive(Default)]
struct Written {
    /// Their hashes, combined (0: none).
    all: u64,
    /// One of them is part of the request's own turn (an answer's opening,
    /// or the call whose results it hands back): the request goes on from
    /// nothing the model said, so it is no conversation's next step.
    latest: bool,
    /// Their text and their results', a line each.
    text: String,
}

impl Written {
    fn of(o: &Observation, mut w: Option<&mut KeyWindow>) -> Self {
        let mut out = Self::default();
        for s in &o.said {
            if s.hash == 0 && s.results == 0 {
                continue;
            }
            let said = s.hash != 0
                && w.as_deref_mut()
                    .is_some_and(|w| w.answered(s.hash, s.results));
            if said {
                continue;
            }
            out.latest |= s.latest;
            // Summed, not xor-ed: a turn written twice is not none.
            let h = xxhash_rust::xxh3::xxh3_64_with_seed(
                &[s.hash.to_le_bytes(), s.results.to_le_bytes()].concat(),
                0x7772_6974,
            );
            out.all = out.all.wrapping_add(h);
            // Read as the known sets read a text: its first 16 KiB.
            observation::push_line(&mut out.text, &s.text);
        }
        out
    }
}

/// What tells two requests apart: the user's words, and the system text
/// around them (an instruction may sit in the system message as well as in
/// the user's turn). A follow-up's earlier turn is hashed the same way, to
/// be found among the key's requests.
fn request_hash(system: &str, prompt: &str) -> u64 {
    if system.is_empty() {
        features::exact_hash(prompt)
    } else {
        features::exact_hash(&format!("{system}\n\u{1}{prompt}"))
    }
}

/// The cell of a request not answered at length (not counted in `topics`).
pub(crate) const NO_CELL: u8 = u8::MAX;

/// What a key's window is measured against for `surge`: the median of its
/// own daily requests over the full days before the window (from its first
/// request in the rhythm window; idle days count as 0), or, for a key with
/// less than a day of earlier history, its team's typical key; and what it
/// is.
fn baseline(w: &KeyWindow, now: i64, window: i64, team: Option<f64>) -> Option<(f64, String)> {
    const DAY_H: i64 = 24;
    let start_h = now.saturating_sub(window).div_euclid(3_600_000);
    let first = *w.hours.keys().next()?;
    let days = (start_h - first) / DAY_H;
    if days >= 1 {
        let mut per_day = vec![0u64; days as usize];
        for (h, c) in w.hours.range(..start_h) {
            let d = (start_h - 1 - h) / DAY_H;
            if let Some(x) = per_day.get_mut(d as usize) {
                *x += u64::from(*c);
            }
        }
        per_day.sort_unstable();
        let median = per_day[per_day.len() / 2] as f64;
        return Some((
            median,
            format!("its median day over the {days} days before"),
        ));
    }
    team.map(|t| (t, "its team's typical key".to_owned()))
}

/// Follow-ups of one sent turn that count as a conversation (a person may
/// ask again or rephrase a couple of times).
const FOLLOW_UPS_PER_TURN: u8 = 3;

/// Tool results handed back to one sent turn that count as its tool loop
/// (an agent's long task; past it, each further step counts as a new
/// instruction).
const TOOL_STEPS_PER_TURN: u8 = 64;

/// The level the evidence allows: beyond `notice` only with output worth
/// harvesting and one more family of signals (a busy product, a templated
/// pipeline or a shared address alone is not extraction). The families'
/// contributions are added to the explanation as a signal of weight 0.
pub(crate) fn capped(level: Level, signals: &mut Vec<Signal>, content_needed: bool) -> Level {
    let (ok, list) = signals::may_go_beyond_notice(signals, content_needed);
    let capped = if ok || level <= Level::Notice {
        level
    } else {
        Level::Notice
    };
    let detail = if capped < level {
        format!(
            "evidence by family: {list}; held at notice: enforcement beyond it needs output worth harvesting and one more family"
        )
    } else {
        format!("evidence by family: {list}")
    };
    signals.push(Signal {
        name: "families",
        value: 0.0,
        weight: 0.0,
        contribution: 0.0,
        detail,
    });
    capped
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Example record ids behind the strongest of the signals that point at
/// particular requests.
fn evidence(events: &[&Ev], raw: &Raw, cfg: &MonitorConfig) -> Vec<String> {
    let strongest = raw
        .iter()
        .filter(|(n, v, _)| *v > 0.0 && cfg.weights.get(n) > 0.0)
        .max_by(|a, b| (cfg.weights.get(a.0) * a.1).total_cmp(&(cfg.weights.get(b.0) * b.1)))
        .map(|r| r.0);
    let top = top_templates(events).first().map(|t| t.0);
    let pick: Box<dyn Fn(&Ev) -> bool> = match strongest {
        Some("template_share" | "coverage" | "spread") if top.is_some() => {
            Box::new(move |e: &Ev| Some(e.template) == top)
        }
        Some("reasoning") => Box::new(|e: &Ev| e.flags & REASONING != 0),
        Some("public_set" | "pool_split") => Box::new(|e: &Ev| e.known != 0),
        Some("harvest") => Box::new(|e: &Ev| e.flags & HARVEST != 0),
        Some("topics") => Box::new(|e: &Ev| e.cell != NO_CELL),
        Some("parameters") => Box::new(|e: &Ev| e.flags & PARAMS != 0),
        Some("limit_time" | "limit_429_rate" | "limit_retries") => {
            Box::new(|e: &Ev| e.flags & LIMITED != 0)
        }
        Some("max_tokens_share") => Box::new(|e: &Ev| e.flags & MAX_TOKENS != 0),
        _ => Box::new(|_: &Ev| true),
    };
    let mut out: Vec<String> = events
        .iter()
        .rev()
        .filter(|e| pick(e))
        .take(cfg.evidence)
        .map(|e| e.rid.to_string())
        .collect();
    if out.is_empty() {
        out = events
            .iter()
            .rev()
            .take(cfg.evidence)
            .map(|e| e.rid.to_string())
            .collect();
    }
    out
}

/// The built-in set's items of six words or more (for tests).
#[cfg(test)]
pub(crate) fn test_known_items() -> Vec<String> {
    include_str!("../data/alpaca_eval.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<String>(l).ok())
        .filter(|s| s.split_whitespace().count() >= 6)
        .collect()
}

/// An observation for tests: a served request of `key` in `team` from
/// `client` at `t` (ms) asking `prompt`.
#[cfg(test)]
pub(crate) fn test_observation(
    key: &str,
    team: &str,
    client: &str,
    t: i64,
    prompt: &str,
) -> Observation {
    use proviso_types::{RecordId, UnixMillis};
    Observation {
        record_id: RecordId::new_at(UnixMillis(t)),
        time: UnixMillis(t),
        key: key.into(),
        team: team.into(),
        purpose: Some("product".into()),
        client: Some(client.into()),
        rate_limited: false,
        prompt: prompt.into(),
        system: String::new(),
        definitions: String::new(),
        follow_up: false,
        earlier: None,
        continues: None,
        said: Vec::new(),
        answer: 0,
        tool_step: false,
        prompt_tokens: 20,
        completion_tokens: 50,
        hit_max_tokens: false,
        probing_params: false,
        sampling: (1000, 1000),
        vector: None,
        end_user: None,
        params: 0,
        latency_ms: 0,
        parts: PromptParts::default(),
    }
}
