#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The monitor on simulated traffic (fixed seeds), in process: detection
//! of every extraction key and cluster, no benign key above `notice`, and
//! requests until detection, against the thresholds in docs/monitor.md.

use std::collections::HashMap;
use std::path::Path;

mod support;

use proviso_monitor::{Level, Monitor, MonitorConfig};
use proviso_traffic::{Corpus, Options, Role, Scenario, scenario};

fn corpus() -> Corpus {
    Corpus::from_fixtures(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures"))
        .unwrap()
}

fn observe_all(s: &Scenario, m: &mut Monitor) -> HashMap<String, (u64, Option<u64>, Level)> {
    // key name → (requests, requests at first decision, highest step)
    let mut out: HashMap<String, (u64, Option<u64>, Level)> = HashMap::new();
    let answers = support::answers(s);
    for (r, &answer) in s.requests.iter().zip(&answers) {
        let k = &s.keys[r.key];
        let o = support::observation(s, r, answer);
        let e = out.entry(k.name.clone()).or_insert((0, None, Level::Ok));
        // requests-to-detection counts from the key's first extraction
        // request (a mixed key is ordinary before it).
        if r.extraction || e.0 > 0 || k.role == Role::Benign {
            e.0 += 1;
        }
        for d in m.observe(&o) {
            let e = out.entry(d.key.clone()).or_insert((0, None, Level::Ok));
            if e.1.is_none() {
                e.1 = Some(e.0);
            }
            e.2 = e.2.max(d.level);
        }
    }
    out
}

#[test]
fn extraction_is_detected_and_benign_traffic_is_not() {
    let c = corpus();
    for seed in [7u64, 11] {
        let s = scenario(
            &c,
            &Options {
                seed,
                days: 2,
                ..Options::default()
            },
        );
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let seen = observe_all(&s, &mut m);
        let mut missed = Vec::new();
        let mut false_pos = Vec::new();
        for k in &s.keys {
            let (n, first, level) = seen.get(&k.name).copied().unwrap_or((0, None, Level::Ok));
            println!(
                "seed {seed} {:16} {:18} {:?} requests {n:5} first step after {first:?} highest {level}",
                k.name, k.workload, k.role
            );
            match k.role {
                Role::Extraction if first.is_none_or(|f| f > 500) => missed.push(k.name.clone()),
                Role::Benign if level > Level::Notice => false_pos.push(k.name.clone()),
                _ => {}
            }
        }
        for r in m.report().iter().take(12) {
            println!(
                "  {} {} score {} level {} members {} | {}",
                r.kind,
                r.key_id,
                r.score,
                r.level,
                r.members.len(),
                r.signals
                    .iter()
                    .filter(|s| s.contribution > 0.0)
                    .map(|s| format!("{}={}", s.name, s.contribution))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        let benign = s.keys.iter().filter(|k| k.role == Role::Benign).count();
        let benign_names: Vec<&str> = s
            .keys
            .iter()
            .filter(|k| k.role == Role::Benign)
            .map(|k| k.name.as_str())
            .collect();
        let worst = m
            .report()
            .into_iter()
            .filter(|r| r.kind == "key" && benign_names.contains(&r.key_id.as_str()))
            .map(|r| (r.score, r.key_id))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        println!("seed {seed}: highest benign score {worst:?}");
        if let Some(r) = worst.as_ref().and_then(|w| m.key_report(&w.1)) {
            for s in &r.signals {
                println!("    {} {} {} {}", s.name, s.value, s.contribution, s.detail);
            }
        }
        println!(
            "seed {seed}: missed {missed:?}, false positives {false_pos:?} of {benign} benign"
        );
        assert!(missed.is_empty(), "seed {seed}: missed {missed:?}");
        assert!(
            false_pos.is_empty(),
            "seed {seed}: benign above notice: {false_pos:?}"
        );
        assert!(
            m.report().iter().any(|r| r.kind == "cluster"
                && r.level >= Level::Notice
                && r.members.iter().filter(|k| k.starts_with("hydra-")).count() >= 10),
            "the hydra is reported as one actor"
        );
    }
}
