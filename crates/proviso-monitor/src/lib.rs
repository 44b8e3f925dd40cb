//! Proviso's monitor: signals of model extraction and abuse per key and
//! per cluster of linked keys, a transparent risk score (every signal's
//! value and contribution), and the enforcement ladder's decisions.
//!
//! The monitor is a plain state machine fed [`Observation`]s in order; it
//! does no I/O. The gateway feeds it from a bounded queue off the request
//! path and carries out its [`Decision`]s; `proviso monitor` and a
//! restarting gateway feed it the ledger, so both reach the same state.
#![deny(missing_docs)]

pub mod config;
pub mod features;
mod fxhash;
pub mod ladder;
pub mod mmd;
pub mod observation;
pub mod signals;
pub mod templates;
mod window;

use std::collections::{BTreeMap, HashMap};

use proviso_ledger::{Record, RecordKind};
use serde::Serialize;

pub use config::{ConfigError, LadderConfig, Mode, MonitorConfig, SIGNALS, Thresholds, Weights};
pub use ladder::Level;
pub use observation::Observation;
pub use signals::Signal;

use signals::{Raw, View, top_templates};
use templates::Templates;
use window::{Ev, KeyWindow, LIMITED, MAX_TOKENS, PARAMS, REASONING};

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
}

impl Monitor {
    /// A monitor with `cfg` (validated).
    pub fn new(cfg: MonitorConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
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

    /// Takes in one request; returns the ladder steps now due.
    pub fn observe(&mut self, o: &Observation) -> Vec<Decision> {
        self.observed += 1;
        self.now = self.now.max(o.time.0);
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
        let ev = Ev {
            t: o.time.0,
            rid: o.record_id,
            prompt_tokens: u32::try_from(o.prompt_tokens).unwrap_or(u32::MAX),
            completion_tokens: u32::try_from(o.completion_tokens).unwrap_or(u32::MAX),
            flags,
            template,
            exact: features::exact_hash(&o.prompt),
            sampling: o.sampling,
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
        w.push(ev, window, rhythm, cap);
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
        let view = View {
            events: w.events.iter().collect(),
            hours: w.hours.clone(),
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
        let level = Level::of(score, &self.cfg.thresholds);
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

    fn evaluate_clusters(&mut self) -> Vec<Decision> {
        self.since_clusters = 0;
        self.window_total = self.keys.values().map(|w| w.events.len()).sum();
        let mut names: Vec<&String> = self.keys.keys().collect();
        names.sort();
        let mut uf = UnionFind::new(names.len());
        // shared templates
        let mut by_template: fxhash::FastMap<u32, Vec<usize>> = fxhash::FastMap::default();
        for (i, k) in names.iter().enumerate() {
            let mut counts: fxhash::FastMap<u32, u32> = fxhash::FastMap::default();
            for e in &self.keys[*k].events {
                *counts.entry(e.template).or_insert(0) += 1;
            }
            for (t, c) in counts {
                if c >= 2 {
                    by_template.entry(t).or_default().push(i);
                }
            }
        }
        for ks in by_template.values() {
            if ks.len() >= self.cfg.min_cluster_keys {
                for k in &ks[1..] {
                    uf.union(ks[0], *k);
                }
            }
        }
        // shared client addresses
        let mut by_client: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, k) in names.iter().enumerate() {
            for c in &self.keys[*k].clients {
                by_client.entry(c.as_str()).or_default().push(i);
            }
        }
        let mut shares_client = vec![false; names.len()];
        for ks in by_client.values() {
            if ks.len() >= 2 {
                for k in ks {
                    shares_client[*k] = true;
                }
                for k in &ks[1..] {
                    uf.union(ks[0], *k);
                }
            }
        }
        // synchronised bursts, within a team
        let mut synced = vec![false; names.len()];
        let mut by_team: BTreeMap<&str, Vec<(usize, Vec<i64>)>> = BTreeMap::new();
        for (i, k) in names.iter().enumerate() {
            let w = &self.keys[*k];
            // Events are in time order: their minutes come sorted.
            let mut mins: Vec<i64> = w.events.iter().map(|e| e.t.div_euclid(60_000)).collect();
            mins.dedup();
            if mins.len() >= 10 {
                by_team.entry(w.team.as_str()).or_default().push((i, mins));
            }
        }
        for members in by_team.values() {
            let members = &members[..members.len().min(300)];
            for a in 0..members.len() {
                for b in (a + 1)..members.len() {
                    let (ia, ma) = &members[a];
                    let (ib, mb) = &members[b];
                    let inter = sorted_intersection(ma, mb);
                    let union = ma.len() + mb.len() - inter;
                    if union > 0 && inter as f64 / union as f64 >= 0.5 {
                        synced[*ia] = true;
                        synced[*ib] = true;
                        uf.union(*ia, *ib);
                    }
                }
            }
        }
        let mut comps: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..names.len() {
            comps.entry(uf.find(i)).or_default().push(i);
        }
        let mut clusters = Vec::new();
        let mut key_cluster = HashMap::new();
        for members in comps.values() {
            if members.len() < self.cfg.min_cluster_keys {
                continue;
            }
            let (report, participants) =
                self.cluster_report(&names, members, &shares_client, &synced);
            if report.level >= Level::Notice {
                self.detected
                    .entry(report.key_id.clone())
                    .or_insert(report.requests);
            }
            let at = clusters.len();
            for p in participants {
                key_cluster.insert(names[p].clone(), at);
            }
            clusters.push(report);
        }
        self.clusters = clusters;
        for c in &mut self.clusters {
            c.detected_after = self.detected.get(&c.key_id).copied();
        }
        self.key_cluster = key_cluster;
        let mut members: Vec<String> = self.key_cluster.keys().cloned().collect();
        members.sort();
        // A member too new to have been scored on its own still gets a report
        // (the cluster may act on it after a handful of requests).
        for k in &members {
            if !self.reports.contains_key(k) {
                self.evaluate_key(k);
            }
        }
        for (k, r) in self.reports.iter_mut() {
            r.cluster = self
                .key_cluster
                .get(k)
                .and_then(|i| self.clusters.get(*i))
                .map(|c| c.key_id.clone());
        }
        let mut out = Vec::new();
        for k in members {
            out.extend(self.decide(&k));
        }
        out
    }

    fn cluster_report(
        &self,
        names: &[&String],
        members: &[usize],
        shares_client: &[bool],
        synced: &[bool],
    ) -> (ActorReport, Vec<usize>) {
        let mut events: Vec<&Ev> = Vec::new();
        let mut hours: BTreeMap<i64, u32> = BTreeMap::new();
        let mut teams: Vec<&str> = Vec::new();
        let mut total = 0u64;
        let mut per_member = Vec::with_capacity(members.len());
        for m in members {
            let w = &self.keys[names[*m]];
            events.extend(w.events.iter());
            for (h, c) in &w.hours {
                *hours.entry(*h).or_insert(0) += c;
            }
            if !teams.contains(&w.team.as_str()) {
                teams.push(w.team.as_str());
            }
            total += w.total;
            per_member.push(w.events.len());
        }
        events.sort_by_key(|e| e.t);
        let view = View { events, hours };
        let mut raw = signals::compute(&view, &self.cfg);
        let n = view.events.len();
        let k = members.len();
        let shared = members.iter().filter(|m| shares_client[**m]).count();
        raw.push((
            "shared_client",
            shared as f64 / k as f64,
            format!("{shared} of {k} member keys share client addresses"),
        ));
        let sync = members.iter().filter(|m| synced[**m]).count();
        raw.push((
            "sync_bursts",
            sync as f64 / k as f64,
            format!("{sync} of {k} member keys active in the same minutes"),
        ));
        let top = per_member.iter().copied().max().unwrap_or(0);
        let evenness = if n == 0 {
            0.0
        } else {
            1.0 - top as f64 / n as f64
        };
        let spread = evenness * (k as f64 / 10.0).min(1.0);
        raw.push((
            "spread",
            spread,
            format!("{n} requests over {k} keys, the busiest key has {top}"),
        ));
        let tops: fxhash::FastSet<u32> = top_templates(&view.events)
            .into_iter()
            .take(3)
            .map(|(t, _)| t)
            .collect();
        let in_top = view
            .events
            .iter()
            .filter(|e| tops.contains(&e.template))
            .count();
        let participants: Vec<usize> = if (in_top as f64) < 0.3 * n as f64 {
            members.to_vec()
        } else {
            members
                .iter()
                .copied()
                .filter(|m| {
                    let w = &self.keys[names[*m]];
                    let own = w
                        .events
                        .iter()
                        .filter(|e| tops.contains(&e.template))
                        .count();
                    own * 2 >= w.events.len().max(1)
                })
                .collect()
        };
        let confidence = (n as f64 / f64::from(self.cfg.min_requests.max(1))).min(1.0);
        let evidence = evidence(&view.events, &raw, &self.cfg);
        let (score, signals) = signals::weigh(raw, &self.cfg, confidence, false);
        let level = Level::of(score, &self.cfg.thresholds);
        let id = format!("cluster:{}", names[members[0]]);
        let enforced = members
            .iter()
            .filter_map(|m| self.enforced.get(names[*m].as_str()))
            .copied()
            .max()
            .unwrap_or_default();
        let report = ActorReport {
            kind: "cluster",
            key_id: id,
            team: teams.join(","),
            members: members.iter().map(|m| names[*m].clone()).collect(),
            score: round3(score),
            level,
            enforced,
            requests: total,
            window_requests: n,
            detected_after: None,
            cluster: None,
            purpose: None,
            signals,
            evidence,
        };
        (report, participants)
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

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The shift signal of a key: its recent prompts against its own benign
/// history, or, while it has none, against its team's.
fn shift_signal(
    w: &mut KeyWindow,
    key: &str,
    team: Option<&Vec<(String, features::Packed)>>,
    cfg: &MonitorConfig,
) -> (&'static str, f64, String) {
    let own = w.history.len() >= cfg.shift_history && w.recent.len() >= cfg.shift_recent;
    if let Some((at, v, p)) = w.shift
        && w.total < at + (cfg.shift_recent as u64).max(1)
    {
        return (
            "shift",
            v,
            format!("p = {p:.3} (measured {} requests ago)", w.total - at),
        );
    }
    let seed = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
    let unpack = |v: &features::Packed| v.unpack();
    if own && w.history_gram.is_empty() {
        let h: Vec<Vec<f32>> = w.history.iter().map(unpack).collect();
        let h: Vec<&[f32]> = h.iter().map(Vec::as_slice).collect();
        w.history_gram = mmd::gram(&h);
    }
    let (x, y, against): (Vec<Vec<f32>>, Vec<Vec<f32>>, &str) = if own {
        (
            w.recent.iter().map(unpack).collect(),
            w.history.iter().map(unpack).collect(),
            "the key's own first requests",
        )
    } else {
        let base: Vec<Vec<f32>> = team
            .map(|t| {
                t.iter()
                    .filter(|(k, _)| k != key)
                    .map(|(_, v)| v.unpack())
                    .collect()
            })
            .unwrap_or_default();
        let mine: Vec<Vec<f32>> = w
            .history
            .iter()
            .chain(w.recent.iter())
            .rev()
            .take(cfg.shift_recent)
            .map(unpack)
            .collect();
        if base.len() < cfg.shift_recent || mine.len() < cfg.shift_recent {
            return (
                "shift",
                0.0,
                "no benign history to compare with yet".to_owned(),
            );
        }
        (mine, base, "the team's other keys")
    };
    let (x, y): (Vec<&[f32]>, Vec<&[f32]>) = (
        x.iter().map(Vec::as_slice).collect(),
        y.iter().map(Vec::as_slice).collect(),
    );
    let g = own.then_some(w.history_gram.as_slice());
    match mmd::test_with(&x, &y, g, 100, 0.03, seed) {
        Some(t) => {
            // Tests repeat every `shift_recent` requests on fresh samples; a
            // shift counts only when two tests in a row reject, so chance
            // rejections of repeated testing do not add up.
            let prev = w.shift.map_or(1.0, |s| s.2);
            let v = ((0.03 - t.p_value.max(prev)) / 0.02).clamp(0.0, 1.0);
            w.shift = Some((w.total, v, t.p_value));
            (
                "shift",
                v,
                format!(
                    "MMD² {:.4}, p = {:.3} (previous test {prev:.3}): {} recent prompts against {} from {against} ({})",
                    t.mmd2,
                    t.p_value,
                    x.len(),
                    y.len(),
                    cfg.embeddings_model
                        .as_deref()
                        .map_or("hashed n-gram vectors".to_owned(), |m| format!(
                            "{m} embeddings"
                        ))
                ),
            )
        }
        None => ("shift", 0.0, "too few prompts".to_owned()),
    }
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

/// Elements two sorted, deduplicated lists share.
fn sorted_intersection(a: &[i64], b: &[i64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn new(n: usize) -> Self {
        Self((0..n).collect())
    }
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.0[hi] = lo;
        }
    }
}
