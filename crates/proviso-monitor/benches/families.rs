//! The monitor on the workload families of `proviso_traffic::families`
//! (in process, no gateway): per family, how many extraction keys reach
//! `notice` within 1,000 of their requests and after how many, and how many
//! benign keys reach `notice` and `throttle`, with 95% intervals; tuning
//! and held-out families reported apart; answers as long as GPT-4's to
//! AlpacaEval (the fixture's 40, chosen by prompt). Run by
//! `bench/monitor_families.sh`.
//! Usage: families [SEED...] (default 21 22)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::collections::BTreeMap;
use std::path::Path;

#[path = "../tests/support/mod.rs"]
mod support;

use proviso_monitor::{Level, Monitor, MonitorConfig};
use proviso_traffic::families::{FamilyOptions, families};
use proviso_traffic::{Corpus, Role, Split};

/// Clopper-Pearson 95% interval of k successes in n, by bisection on the
/// binomial tail.
fn clopper_pearson(k: u64, n: u64) -> (f64, f64) {
    fn tail_ge(k: u64, n: u64, p: f64) -> f64 {
        // P(X >= k)
        let mut s = 0.0;
        for i in k..=n {
            s += binom(n, i, p);
        }
        s
    }
    fn binom(n: u64, k: u64, p: f64) -> f64 {
        let mut lc = 0.0;
        for i in 0..k {
            lc += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
        }
        (lc + k as f64 * p.max(1e-300).ln() + (n - k) as f64 * (1.0 - p).max(1e-300).ln()).exp()
    }
    let solve = |f: &dyn Fn(f64) -> f64| {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if f(mid) < 0.0 { lo = mid } else { hi = mid }
        }
        (lo + hi) / 2.0
    };
    let lower = if k == 0 {
        0.0
    } else {
        solve(&|p| tail_ge(k, n, p) - 0.025)
    };
    let upper = if k == n {
        1.0
    } else {
        solve(&|p| 0.025 - (1.0 - tail_ge(k + 1, n, p)))
    };
    (lower, upper)
}

#[derive(Default)]
struct Tally {
    split: Option<Split>,
    role: Option<Role>,
    keys: u64,
    detected: u64,
    at_notice: u64,
    at_throttle: u64,
    to_detection: Vec<u64>,
}

fn main() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let corpus = Corpus::from_fixtures(&fixtures).unwrap();
    // Answer lengths as GPT-4 gave them (tests/fixtures/gpt4_outputs.json,
    // 40 AlpacaEval answers, 36 to 728 tokens), chosen by the prompt as the
    // fake upstream chooses its answer; a workload that says how long its
    // answers are keeps that.
    let answers: Vec<u64> = {
        let text = std::fs::read_to_string(fixtures.join("gpt4_outputs.json")).unwrap();
        let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        v.iter()
            .filter_map(|o| o.get("output").and_then(|x| x.as_str()))
            .map(|o| o.split_whitespace().count() as u64 * 4 / 3 + 1)
            .collect()
    };
    // FAMILIES_SPLIT=tune shows the tuning families only (while settings
    // are being chosen, the held-out ones stay unseen).
    let only_tune = std::env::var("FAMILIES_SPLIT").is_ok_and(|o| o == "tune");
    let seeds: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let seeds = if seeds.is_empty() {
        vec![21, 22]
    } else {
        seeds
    };
    // FAMILIES_WEIGHTS=public_set=0,topics=0 sets weights (to measure
    // without a signal an adversary who read the docs would avoid).
    let config: MonitorConfig = match std::env::var("FAMILIES_WEIGHTS") {
        Ok(w) if !w.is_empty() => {
            toml::from_str(&format!("[weights]\n{}", w.replace(',', "\n"))).unwrap()
        }
        _ => MonitorConfig::default(),
    };
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total_requests = 0usize;
    let started = std::time::Instant::now();
    for &seed in &seeds {
        // FAMILIES_SCENARIO=FILE: a scenario written elsewhere (a JSON
        // `proviso_traffic::Scenario`, as bench/redteam/gen.py writes), in
        // place of the families (the seed is then only a label).
        let s = match std::env::var("FAMILIES_SCENARIO") {
            Ok(path) if !path.is_empty() => {
                let text = std::fs::read_to_string(&path).unwrap();
                serde_json::from_str::<proviso_traffic::Scenario>(&text).unwrap()
            }
            _ => families(
                &corpus,
                &FamilyOptions {
                    seed,
                    ..FamilyOptions::default()
                },
            ),
        };
        total_requests += s.requests.len();
        let mut m = Monitor::new(config.clone()).unwrap();
        // key → (its requests so far, requests at its first step, highest step)
        let mut seen: BTreeMap<String, (u64, Option<u64>, Level)> = BTreeMap::new();
        // The first key of each family, explained as of its last request
        // (an idle key's state is dropped before the scenario ends), with
        // its cluster.
        let explain = std::env::var_os("FAMILIES_EXPLAIN").is_some();
        // FAMILIES_DEBUG=<family>: each of its keys' first step at throttle
        // or above, with every signal's detail (`*`: every family's).
        let debug = std::env::var("FAMILIES_DEBUG").ok();
        // FAMILIES_DEBUG_LEVEL=notice: print the first step at that level
        // instead (throttle unless set).
        let debug_level = match std::env::var("FAMILIES_DEBUG_LEVEL").as_deref() {
            Ok("notice") => Level::Notice,
            Ok("suspend") => Level::Suspend,
            _ => Level::Throttle,
        };
        let mut debugged = std::collections::HashSet::new();
        let mut last: BTreeMap<usize, usize> = BTreeMap::new();
        let mut families_seen = std::collections::HashSet::new();
        for (i, r) in s.requests.iter().enumerate() {
            let k = &s.keys[r.key];
            if families_seen.insert(k.workload.clone()) || last.contains_key(&r.key) {
                last.insert(r.key, i);
            }
        }
        let last_of: BTreeMap<usize, usize> = last.iter().map(|(k, i)| (*i, *k)).collect();
        let mut snapshots: Vec<(usize, Vec<proviso_monitor::ActorReport>)> = Vec::new();
        let replayed = support::answers(&s);
        for (i, r) in s.requests.iter().enumerate() {
            let k = &s.keys[r.key];
            let e = seen.entry(k.name.clone()).or_insert((0, None, Level::Ok));
            e.0 += 1;
            let mut o = support::observation(&s, r, replayed[i]);
            if r.answer_tokens.is_none() {
                let h = xxhash_rust::xxh3::xxh3_64_with_seed(o.prompt.as_bytes(), 0x5eed);
                let full = answers[(h % answers.len() as u64) as usize];
                let cap = r.body.get("max_tokens").and_then(|v| v.as_u64());
                o.completion_tokens = full.min(cap.unwrap_or(u64::MAX));
                o.hit_max_tokens = cap.is_some_and(|c| c < full);
            }
            for d in m.observe(&o) {
                if let Some(family) = &debug
                    && d.level >= debug_level
                    && s.keys
                        .iter()
                        .any(|k| k.name == d.key && (&k.workload == family || family == "*"))
                    && debugged.insert(d.key.clone())
                {
                    let sig: Vec<String> = d
                        .signals
                        .iter()
                        .filter(|x| x.contribution > 0.0 || x.name == "families")
                        .map(|x| format!("{}={:.3} [{}]", x.name, x.contribution, x.detail))
                        .collect();
                    let k = s.keys.iter().find(|k| k.name == d.key);
                    println!(
                        "{} {} {} {} by {} score {:.2}:\n  {}",
                        k.map_or("", |k| k.workload.as_str()),
                        role_name(k.map(|k| k.role)),
                        d.key,
                        d.level,
                        d.actor,
                        d.score,
                        sig.join("\n  ")
                    );
                }
                let e = seen.entry(d.key.clone()).or_insert((0, None, Level::Ok));
                if e.1.is_none() {
                    e.1 = Some(e.0);
                }
                e.2 = e.2.max(d.level);
            }
            if explain && let Some(key) = last_of.get(&i) {
                m.evaluate_all();
                let name = &s.keys[*key].name;
                let report = m.report();
                let own = report.iter().find(|r| &r.key_id == name).cloned();
                let cluster = own
                    .as_ref()
                    .and_then(|o| o.cluster.clone())
                    .and_then(|c| report.iter().find(|r| r.key_id == c).cloned());
                snapshots.push((*key, own.into_iter().chain(cluster).collect()));
            }
        }
        if explain {
            for (key, reports) in &snapshots {
                let k = &s.keys[*key];
                if only_tune && k.split != Split::Tune {
                    continue;
                }
                for r in reports {
                    println!(
                        "{:22} {:14} {} members score {:.2} {} | {}",
                        k.workload,
                        r.key_id,
                        r.members.len(),
                        r.score,
                        r.level,
                        r.signals
                            .iter()
                            .filter(|x| x.contribution > 0.0 || x.name == "families")
                            .map(|x| if x.name == "families" {
                                x.detail.clone()
                            } else {
                                format!("{}={:.2}", x.name, x.contribution)
                            })
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
            }
        }
        for k in &s.keys {
            let (_, first, level) = seen.get(&k.name).copied().unwrap_or((0, None, Level::Ok));
            let split = if k.split == Split::HeldOut {
                "held out"
            } else {
                "tune"
            };
            let t = tallies
                .entry(format!("{} ({split})", k.workload))
                .or_default();
            t.split = Some(k.split);
            t.role = Some(k.role);
            t.keys += 1;
            if level >= Level::Notice {
                t.at_notice += 1;
            }
            if level >= Level::Throttle {
                t.at_throttle += 1;
            }
            if let Some(f) = first.filter(|f| *f <= 1_000) {
                t.detected += 1;
                t.to_detection.push(f);
            }
        }
    }
    println!(
        "seeds {seeds:?}: {total_requests} requests in {:.1} s\n",
        started.elapsed().as_secs_f64()
    );
    println!(
        "| family | split | role | keys | extraction detected ≤1,000 requests [95% CI] | median requests to detection | at notice+ [95% CI] | at throttle+ [95% CI] |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut pooled: BTreeMap<(String, String), (u64, u64, u64, u64)> = BTreeMap::new();
    for (family, t) in &tallies {
        let split = match t.split {
            Some(Split::HeldOut) => "held out",
            _ => "tune",
        };
        if only_tune && split != "tune" {
            continue;
        }
        let family = family.split(" (").next().unwrap_or(family);
        let role = role_name(t.role);
        let ci = |k: u64, n: u64| {
            let (lo, hi) = clopper_pearson(k, n);
            format!("{k}/{n} [{:.1}%, {:.1}%]", 100.0 * lo, 100.0 * hi)
        };
        let mut d = t.to_detection.clone();
        d.sort_unstable();
        let median = d.get(d.len() / 2).map_or("-".to_owned(), |m| m.to_string());
        let det = if role == "extraction" {
            ci(t.detected, t.keys)
        } else {
            "-".to_owned()
        };
        let (notice, throttle) = (ci(t.at_notice, t.keys), ci(t.at_throttle, t.keys));
        println!(
            "| {family} | {split} | {role} | {} | {det} | {median} | {notice} | {throttle} |",
            t.keys
        );
        let p = pooled
            .entry((split.to_owned(), role.to_owned()))
            .or_default();
        p.0 += t.keys;
        p.1 += t.detected;
        p.2 += t.at_notice;
        p.3 += t.at_throttle;
    }
    println!();
    for ((split, role), (n, det, notice, throttle)) in &pooled {
        let f = |k: u64| {
            let (lo, hi) = clopper_pearson(k, *n);
            format!(
                "{k}/{n} = {:.1}% [{:.1}%, {:.1}%]",
                100.0 * k as f64 / *n as f64,
                100.0 * lo,
                100.0 * hi
            )
        };
        if role == "extraction" {
            println!(
                "{split} extraction keys detected within 1,000 requests: {}",
                f(*det)
            );
        } else {
            println!(
                "{split} benign keys at notice or above: {}; at throttle or above: {}",
                f(*notice),
                f(*throttle)
            );
        }
    }
}

/// A key's role as the tables print it (no role: benign).
fn role_name(role: Option<Role>) -> &'static str {
    match role {
        Some(Role::Extraction) => "extraction",
        _ => "benign",
    }
}
