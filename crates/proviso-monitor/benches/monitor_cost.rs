//! The monitor's own cost, off the request path: CPU per 1,000 requests on
//! the simulated scenario (every signal, template clustering, the MMD test,
//! clusters), and memory per active key. Run by `bench/monitor.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::path::Path;
use std::time::Instant;

#[path = "../tests/support/mod.rs"]
mod support;

use proviso_monitor::{Monitor, MonitorConfig, Observation};
use proviso_traffic::{Corpus, Options, Scenario, scenario};
use proviso_types::UnixMillis;

fn observations(s: &Scenario) -> Vec<Observation> {
    let answers = support::answers(s);
    s.requests
        .iter()
        .zip(answers)
        .map(|(r, answer)| support::observation(s, r, answer))
        .collect()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let corpus = Corpus::from_fixtures(&fixtures).unwrap();
    let days: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    let s = scenario(
        &corpus,
        &Options {
            days,
            ..Options::default()
        },
    );
    let obs = observations(&s);
    println!(
        "| traffic | requests observed | keys | ladder steps | monitor CPU per 1,000 requests |"
    );
    println!("| --- | --- | --- | --- | --- |");
    let benign: Vec<Observation> = obs
        .iter()
        .filter(|o| {
            o.key.starts_with("chat-") || o.key == "eval-harness" || o.key == "product-support"
        })
        .cloned()
        .collect();
    for (label, set, enforce) in [
        (
            "whole scenario, suspended keys refused (as the gateway does)",
            &obs,
            true,
        ),
        (
            "whole scenario, nothing refused (every campaign runs to the end)",
            &obs,
            false,
        ),
        ("benign keys only", &benign, true),
    ] {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let mut suspended = std::collections::HashSet::new();
        let mut steps = 0usize;
        let mut n = 0usize;
        let t = Instant::now();
        for o in set.iter() {
            if enforce && suspended.contains(&o.key) {
                continue;
            }
            n += 1;
            for d in m.observe(o) {
                steps += 1;
                if d.level >= proviso_monitor::Level::Suspend {
                    suspended.insert(d.key.clone());
                }
            }
        }
        let el = t.elapsed();
        println!(
            "| {label} (seed 7, {days} days) | {n} | {} | {steps} | {:.1} ms |",
            m.active_keys(),
            el.as_secs_f64() * 1e6 / n.max(1) as f64
        );
    }
    // Memory per active key: many ordinary keys, 50 requests each.
    let users = 5_000usize;
    let chat: Vec<&Observation> = obs.iter().filter(|o| o.key.starts_with("chat-")).collect();
    let mut m = Monitor::new(MonitorConfig::default()).unwrap();
    let before = rss_kib();
    let mut i = 0usize;
    for u in 0..users {
        for j in 0..50 {
            let mut o = chat[i % chat.len()].clone();
            i += 1;
            o.key = format!("key_{u:06}");
            o.team = format!("team_{}", u % 50);
            o.client = Some(format!("10.{}.{}.{}", u / 65536, (u / 256) % 256, u % 256));
            o.time = UnixMillis(1_767_571_200_000 + (u as i64) * 10 + j * 60_000);
            m.observe(&o);
        }
    }
    m.evaluate_all();
    let after = rss_kib();
    println!();
    println!("| active keys | requests per key | resident memory added | per active key |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| {users} | 50 | {:.1} MiB | {:.1} KiB |",
        (after.saturating_sub(before)) as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / users as f64
    );
}
