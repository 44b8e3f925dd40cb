//! The signals, computed over a view of requests (one key's window, or the
//! merged windows of a cluster's members). Every value is in 0..=1 and
//! comes with a sentence saying what was measured.

use std::collections::BTreeMap;

use crate::fxhash::{FastMap as HashMap, FastSet as HashSet};

use serde::Serialize;

use crate::NO_CELL;
use crate::config::MonitorConfig;
use crate::known::KnownSets;
use crate::topics::CELLS;
use crate::window::{Ev, HARVEST, LIMITED, MAX_TOKENS, PARAMS, REASONING, YIELD, names_end_users};

/// One signal's value and its part in the score.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Signal {
    /// Its name (as in `[monitor.weights]`).
    pub name: &'static str,
    /// Its value, 0..=1.
    pub value: f64,
    /// The weight in force.
    pub weight: f64,
    /// What it adds to the score.
    pub contribution: f64,
    /// What was measured.
    pub detail: String,
}

/// A view over requests: sorted by time.
pub(crate) struct View<'a> {
    pub events: Vec<&'a Ev>,
    pub hours: BTreeMap<i64, u32>,
    /// Harvest requests in the rhythm window (a week).
    pub harvest_week: u64,
    /// The known instruction sets.
    pub known: &'a KnownSets,
    /// The key serves many people (its purpose is a serving one).
    pub serving: bool,
    /// What the window's volume is measured against, for `surge`.
    pub baseline: Option<(f64, String)>,
}

/// Raw values before weighting.
pub(crate) type Raw = Vec<(&'static str, f64, String)>;

fn clamp(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn pct(a: usize, b: usize) -> String {
    if b == 0 {
        "0".into()
    } else {
        format!("{a} of {b} ({:.0}%)", 100.0 * a as f64 / b as f64)
    }
}

/// The largest template clusters of a view (template id, requests), most
/// used first, counting only clusters with at least 3 requests.
pub(crate) fn top_templates(events: &[&Ev]) -> Vec<(u32, usize)> {
    let mut by: HashMap<u32, usize> = HashMap::default();
    for e in events {
        *by.entry(e.template).or_insert(0) += 1;
    }
    let mut v: Vec<(u32, usize)> = by.into_iter().filter(|(_, n)| *n >= 3).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

/// The per-request signals of a view (all but shift and the cluster ones).
pub(crate) fn compute(view: &View<'_>, cfg: &MonitorConfig) -> Raw {
    let ev = &view.events;
    let n = ev.len();
    let mut out: Raw = Vec::with_capacity(16);
    // volume
    out.push((
        "volume",
        clamp(n as f64 / f64::from(cfg.volume_requests_high.max(1))),
        format!(
            "{n} requests in the window (full volume at {})",
            cfg.volume_requests_high
        ),
    ));
    let served: Vec<&&Ev> = ev.iter().filter(|e| e.flags & LIMITED == 0).collect();
    let (pt, ct) = served.iter().fold((0u64, 0u64), |(a, b), e| {
        (
            a + u64::from(e.prompt_tokens),
            b + u64::from(e.completion_tokens),
        )
    });
    let ratio = ct as f64 / pt.max(1) as f64;
    out.push((
        "output_ratio",
        if served.is_empty() {
            0.0
        } else {
            clamp((ratio - 2.0) / 8.0)
        },
        format!("{ct} output tokens for {pt} input tokens ({ratio:.1}x)"),
    ));
    let maxed = served.iter().filter(|e| e.flags & MAX_TOKENS != 0).count();
    out.push((
        "max_tokens_share",
        clamp(maxed as f64 / served.len().max(1) as f64),
        format!("{} answers stopped at max_tokens", pct(maxed, served.len())),
    ));
    // pressure
    let limited = ev.iter().filter(|e| e.flags & LIMITED != 0).count();
    let mut minutes: HashMap<i64, bool> = HashMap::default();
    for e in ev {
        let m = minutes.entry(e.t.div_euclid(60_000)).or_insert(false);
        *m |= e.flags & LIMITED != 0;
    }
    let limited_minutes = minutes.values().filter(|v| **v).count();
    out.push((
        "limit_time",
        clamp(limited_minutes as f64 / minutes.len().max(1) as f64),
        format!(
            "{} active minutes had a 429",
            pct(limited_minutes, minutes.len())
        ),
    ));
    out.push((
        "limit_429_rate",
        clamp(limited as f64 / n.max(1) as f64),
        format!("{} requests refused by a rate limit", pct(limited, n)),
    ));
    let retried = ev
        .windows(2)
        .filter(|w| w[0].flags & LIMITED != 0 && w[1].t - w[0].t <= cfg.retry_window_ms as i64)
        .count();
    out.push((
        "limit_retries",
        clamp(retried as f64 / limited.max(1) as f64),
        format!(
            "{} 429s retried within {} s",
            pct(retried, limited),
            cfg.retry_window_ms / 1000
        ),
    ));
    // rhythm
    out.push(rhythm(&view.hours));
    out.push(regularity(ev));
    // harvest: self-contained instructions answered at length
    out.push(harvest(view, cfg));
    // templates and coverage, of requests answered at length: a template
    // filled with varying data for a label, a short reply or a summary of
    // a longer text is a product, not a harvest
    let yielding: Vec<&Ev> = ev
        .iter()
        .copied()
        .filter(|e| e.flags & YIELD != 0)
        .collect();
    let tops = top_templates(&yielding);
    let in_top: usize = tops.iter().take(3).map(|(_, c)| c).sum();
    out.push((
        "template_share",
        clamp(in_top as f64 / n.max(1) as f64),
        format!(
            "{} requests answered at length in the {} largest prompt templates",
            pct(in_top, n),
            tops.len().min(3)
        ),
    ));
    let templated: HashSet<u32> = tops
        .iter()
        .filter(|(_, c)| *c >= 5)
        .map(|(t, _)| *t)
        .collect();
    let distinct: HashSet<u64> = yielding
        .iter()
        .filter(|e| templated.contains(&e.template))
        .map(|e| e.exact)
        .collect();
    out.push((
        "coverage",
        clamp(distinct.len() as f64 / n.max(1) as f64),
        format!(
            "{} distinct instructions enumerated under {} templates",
            distinct.len(),
            templated.len()
        ),
    ));
    let reasoning = ev.iter().filter(|e| e.flags & REASONING != 0).count();
    out.push((
        "reasoning",
        clamp(reasoning as f64 / n.max(1) as f64),
        format!(
            "{} requests ask for step-by-step reasoning",
            pct(reasoning, n)
        ),
    ));
    // Probabilities of a verdict of a few words (a judge's score, a
    // classifier's label) distil nothing: probing counts over answers of
    // `PROBED_ANSWER` tokens or more.
    let probing = ev
        .iter()
        .filter(|e| e.flags & PARAMS != 0 && e.completion_tokens >= PROBED_ANSWER)
        .count();
    let mut sweeps: HashMap<u64, HashSet<(i32, i32)>> = HashMap::default();
    for e in ev {
        sweeps.entry(e.exact).or_default().insert(e.sampling);
    }
    let swept: HashSet<u64> = sweeps
        .iter()
        .filter(|(_, s)| s.len() >= 3)
        .map(|(h, _)| *h)
        .collect();
    let in_sweeps = ev.iter().filter(|e| swept.contains(&e.exact)).count();
    let p = probing.max(in_sweeps);
    out.push((
        "parameters",
        clamp(p as f64 / n.max(1) as f64),
        format!(
            "{} ask for logprobs, logit_bias or n > 1 over an answer of {PROBED_ANSWER} tokens or more; {} prompts swept over temperature/top_p",
            pct(probing, n),
            swept.len()
        ),
    ));
    out.push(public_set(view, cfg));
    out.push(topics(&yielding, view.serving));
    out.push(pace(ev));
    out.push(concurrency(ev));
    out.push(surge(n, view.baseline.as_ref()));
    out
}

/// Distinct items of the best-covered known instruction set asked in the
/// window, against `public_set_high`.
fn public_set(view: &View<'_>, cfg: &MonitorConfig) -> (&'static str, f64, String) {
    let mut by_set: BTreeMap<usize, HashSet<u32>> = BTreeMap::new();
    for e in &view.events {
        if e.known != 0 {
            by_set
                .entry(view.known.set_of(e.known - 1))
                .or_default()
                .insert(e.known);
        }
    }
    let Some((set, items)) = by_set
        .iter()
        .max_by_key(|(s, i)| (i.len(), std::cmp::Reverse(**s)))
    else {
        return (
            "public_set",
            0.0,
            "no instruction of a known public set asked".into(),
        );
    };
    (
        "public_set",
        clamp(items.len() as f64 / f64::from(cfg.public_set_high.max(1))),
        format!(
            "{} distinct instructions of the public set {} ({} items) asked in the window (high {})",
            items.len(),
            view.known.name(*set),
            view.known.size(*set),
            cfg.public_set_high
        ),
    )
}

/// Answers at length of fewer than this many requests say nothing of
/// breadth.
const TOPICS_MIN: usize = 20;

/// The (topic, instruction type) cells the answers at length walk through:
/// how many, and how evenly (normalised entropy over the cells touched).
/// 0 up to 12 cells, 1 from 40 cells walked evenly.
fn topics(yielding: &[&Ev], serving: bool) -> (&'static str, f64, String) {
    let mut counts = vec![0f64; CELLS];
    let mut n = 0usize;
    for e in yielding {
        if e.cell != NO_CELL {
            counts[usize::from(e.cell) % CELLS] += 1.0;
            n += 1;
        }
    }
    let touched: Vec<f64> = counts.into_iter().filter(|c| *c > 0.0).collect();
    let even = entropy(&touched);
    let value = if n < TOPICS_MIN {
        0.0
    } else {
        clamp((touched.len() as f64 - 12.0) / 28.0) * even
    };
    let detail = format!(
        "{} of {CELLS} topic × instruction-type cells walked by {n} answers at length (evenness {even:.2})",
        touched.len()
    );
    if serving {
        return (
            "topics",
            0.0,
            format!(
                "{detail}; not counted for a key serving many people (its users walk every topic)"
            ),
        );
    }
    ("topics", value, detail)
}

/// Requests per active minute: a person reads an answer before asking
/// again (about one a minute); 0 up to two, 1 from ten.
fn pace(ev: &[&Ev]) -> (&'static str, f64, String) {
    let mut minutes = 0usize;
    let mut last = i64::MIN;
    for e in ev {
        let m = e.t.div_euclid(60_000);
        if m != last {
            minutes += 1;
            last = m;
        }
    }
    let p = ev.len() as f64 / minutes.max(1) as f64;
    (
        "pace",
        if ev.len() < 20 {
            0.0
        } else {
            clamp((p - 2.0) / 8.0)
        },
        format!("{:.1} requests per active minute over {minutes} minutes", p),
    )
}

/// The most requests in flight at once among the last 512 (arrival plus
/// latency): 0 up to two, 1 from eight.
fn concurrency(ev: &[&Ev]) -> (&'static str, f64, String) {
    let start = ev.len().saturating_sub(512);
    let mut ends: std::collections::BinaryHeap<std::cmp::Reverse<i64>> =
        std::collections::BinaryHeap::new();
    let mut peak = 0usize;
    for e in &ev[start..] {
        while ends.peek().is_some_and(|r| r.0 <= e.t) {
            ends.pop();
        }
        ends.push(std::cmp::Reverse(
            e.t.saturating_add(i64::from(e.latency_ms)),
        ));
        peak = peak.max(ends.len());
    }
    (
        "concurrency",
        clamp((peak as f64 - 2.0) / 6.0),
        format!("at most {peak} requests in flight at once"),
    )
}

/// The window's requests against the baseline (at least 20): 0 up to three
/// times it, 1 from twelve times.
fn surge(n: usize, baseline: Option<&(f64, String)>) -> (&'static str, f64, String) {
    match baseline {
        None => (
            "surge",
            0.0,
            format!("{n} requests in the window; no earlier day or team to compare with"),
        ),
        Some((b, what)) => {
            let ratio = n as f64 / b.max(20.0);
            (
                "surge",
                clamp((ratio - 3.0) / 9.0),
                format!("{n} requests in the window, {ratio:.1}x {what} ({b:.0})"),
            )
        }
    }
}

/// Distinct self-contained instructions answered at length in the window
/// (a day), and harvest requests in the week, against what a person asks:
/// the larger of the two shares of their highs. For a key serving many
/// people that names them (`user`, `safety_identifier`) on half or more of
/// its harvest requests, what one person asks is counted per end user (the
/// requests naming nobody as one more user): the
/// busiest end user's share of the day's high, or `named_users_key_share`
/// (a half) of the key's share, whichever is larger (a product's users
/// together ask a harvest's worth; a script that invents a user per
/// request still shows at half).
fn harvest(view: &View<'_>, cfg: &MonitorConfig) -> (&'static str, f64, String) {
    let mut day: HashSet<u64> = HashSet::default();
    let mut by_user: HashMap<u32, HashSet<u64>> = HashMap::default();
    for e in view.events.iter().filter(|e| e.flags & HARVEST != 0) {
        day.insert(e.exact);
        // Requests naming nobody count as one anonymous user.
        by_user.entry(e.user).or_default().insert(e.exact);
    }
    let d = day.len() as f64 / f64::from(cfg.harvest_day_high.max(1));
    let w = view.harvest_week as f64 / f64::from(cfg.harvest_week_high.max(1));
    let key = clamp(d.max(w));
    let detail = format!(
        "{} distinct self-contained instructions answered at length in the window (high {}), {} in the week (high {})",
        day.len(),
        cfg.harvest_day_high,
        view.harvest_week,
        cfg.harvest_week_high
    );
    if view.serving && names_end_users(view.events.iter().copied()) {
        let top = by_user.values().map(HashSet::len).max().unwrap_or(0);
        let user = clamp(top as f64 / f64::from(cfg.harvest_day_high.max(1)));
        return (
            "harvest",
            user.max(key * cfg.named_users_key_share),
            format!(
                "{detail}; counted per end user (the key serves many people and names them): the busiest of {} end users asked {top}, the key as a whole counts {}",
                by_user.len(),
                cfg.named_users_key_share
            ),
        );
    }
    ("harvest", key, detail)
}

/// The family of a signal: what kind of evidence it is. Enforcement beyond
/// `notice` needs output worth harvesting (`yield`) and one more family.
pub(crate) fn family(name: &str) -> &'static str {
    match name {
        "output_ratio" | "max_tokens_share" | "harvest" | "parameters" => "yield",
        "template_share" | "coverage" | "reasoning" | "shift" | "spread" | "public_set"
        | "topics" | "pool_split" => "content",
        "volume" | "limit_time" | "limit_429_rate" | "limit_retries" | "flat_rhythm"
        | "regular_timing" | "sync_bursts" | "pace" | "concurrency" | "surge" => "automation",
        // A shared address may link keys; it is never evidence.
        _ => "link",
    }
}

/// Answers shorter than this (tokens) are verdicts: probing their
/// probabilities is not counted by `parameters`.
const PROBED_ANSWER: u32 = 16;

/// Contribution a family must reach to count as evidence.
const FAMILY_EVIDENCE: f64 = 0.05;

/// Contribution the `yield` family must reach for enforcement beyond
/// `notice`: a harvest worth stopping (about ninety distinct instructions
/// answered at length in a day, or 260 in a week: more than the busiest
/// people ask; office staff asking 55 to 70 a day were throttled at the
/// sixty this was before), not a handful of long answers in a templated
/// job.
const YIELD_EVIDENCE: f64 = 0.25;

/// The other way to `yield` evidence: probing parameters (`logprobs`,
/// sweeps) on four requests in five at the default weight (over answers
/// longer than a verdict: [`PROBED_ANSWER`]); distillation from
/// probabilities needs fewer answers, and of any length.
const PROBING_EVIDENCE: f64 = 0.12;

/// The value of `harvest` from which a harvest is beyond what one person
/// asks: at its high (`harvest_day_high` distinct instructions answered at
/// length in a day, or `harvest_week_high` in a week). Under it, a harvest
/// is not enforced on content alone: enforcement needs automation
/// evidence too, or probing.
const PERSON_REACH: f64 = 1.0;

/// Whether the signals carry the evidence enforcement beyond `notice`
/// needs: `yield` at least [`YIELD_EVIDENCE`] (or `parameters` at least
/// [`PROBING_EVIDENCE`]) and at least one other
/// family (not `link`; `content` when `content_needed`) at least
/// [`FAMILY_EVIDENCE`]; a `harvest` under [`PERSON_REACH`] without probing
/// needs `automation` among them too (a person asking many long questions
/// about many things is a reviewer's call, not the ladder's); and the
/// sentence saying which families do.
pub(crate) fn may_go_beyond_notice(signals: &[Signal], content_needed: bool) -> (bool, String) {
    let mut by: BTreeMap<&'static str, f64> = BTreeMap::new();
    let mut probing = 0.0;
    let mut harvest = 0.0;
    for s in signals {
        *by.entry(family(s.name)).or_insert(0.0) += s.contribution;
        match s.name {
            "parameters" => probing += s.contribution,
            "harvest" => harvest = s.value,
            _ => {}
        }
    }
    let yield_ok = |c: f64| c >= YIELD_EVIDENCE || probing >= PROBING_EVIDENCE;
    let strong: Vec<&str> = by
        .iter()
        .filter(|(f, c)| match **f {
            "link" => false,
            "yield" => yield_ok(**c),
            _ => **c >= FAMILY_EVIDENCE,
        })
        .map(|(f, _)| *f)
        .collect();
    let person_sized = harvest < PERSON_REACH && probing < PROBING_EVIDENCE;
    let ok = strong.contains(&"yield")
        && if content_needed {
            strong.contains(&"content")
        } else {
            strong.len() >= 2
        }
        && (!person_sized || strong.contains(&"automation"));
    let list = by
        .iter()
        .map(|(f, c)| format!("{f} {c:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    (ok, list)
}

fn entropy(counts: &[f64]) -> f64 {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 || counts.len() < 2 {
        return 0.0;
    }
    let h: f64 = counts
        .iter()
        .filter(|c| **c > 0.0)
        .map(|c| {
            let p = c / total;
            -p * p.ln()
        })
        .sum();
    h / (counts.len() as f64).ln()
}

/// Flatness over the hours of the day (and the days of the week, once a
/// week is seen): normalised entropy, 0 below 0.80 (a working day), 1 at a
/// flat 24/7 load.
fn rhythm(hours: &BTreeMap<i64, u32>) -> (&'static str, f64, String) {
    let total: u32 = hours.values().sum();
    let span_h = match (hours.first_key_value(), hours.last_key_value()) {
        (Some((a, _)), Some((b, _))) => b - a + 1,
        _ => 0,
    };
    if total < 48 || span_h < 24 {
        return (
            "flat_rhythm",
            0.0,
            format!("not enough history ({total} requests over {span_h} h)"),
        );
    }
    let mut day = [0f64; 24];
    let mut week = [0f64; 7];
    for (h, c) in hours {
        day[h.rem_euclid(24) as usize] += f64::from(*c);
        week[(h.div_euclid(24) + 4).rem_euclid(7) as usize] += f64::from(*c);
    }
    let hd = entropy(&day) + 0.0;
    let vd = clamp((hd - 0.80) / 0.18);
    if span_h >= 7 * 24 {
        let hw = entropy(&week) + 0.0;
        let vw = clamp((hw - 0.90) / 0.09);
        (
            "flat_rhythm",
            (vd + vw) / 2.0,
            format!("hour-of-day entropy {hd:.2}, day-of-week entropy {hw:.2} (1 = flat)"),
        )
    } else {
        (
            "flat_rhythm",
            vd,
            format!("hour-of-day entropy {hd:.2} over {span_h} h (1 = flat)"),
        )
    }
}

/// Regular inter-arrival times: 1 − coefficient of variation of the last
/// 256 gaps (people are bursty, CV ≥ 1; a paced loop is near 0).
fn regularity(ev: &[&Ev]) -> (&'static str, f64, String) {
    let start = ev.len().saturating_sub(257);
    let gaps: Vec<f64> = ev[start..]
        .windows(2)
        .map(|w| (w[1].t - w[0].t).max(0) as f64)
        .collect();
    if gaps.len() < 20 {
        return (
            "regular_timing",
            0.0,
            format!("{} gaps (need 20)", gaps.len()),
        );
    }
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    if mean <= 0.0 {
        return ("regular_timing", 1.0, "all requests at once".into());
    }
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    let cv = var.sqrt() / mean;
    (
        "regular_timing",
        clamp(1.0 - cv),
        format!(
            "inter-arrival CV {cv:.2} over {} gaps (mean {:.1} s)",
            gaps.len(),
            mean / 1000.0
        ),
    )
}

/// Weights the raw values into signals; `confidence` scales every
/// contribution, `bounded` halves the automation signals and the shift test
/// of a declared, bounded purpose (a fixed benchmark runs like a machine and
/// moves from one section to the next).
pub(crate) fn weigh(
    raw: Raw,
    cfg: &MonitorConfig,
    confidence: f64,
    bounded: bool,
) -> (f64, Vec<Signal>) {
    let mut score = 0.0;
    let mut out = Vec::with_capacity(raw.len());
    for (name, value, detail) in raw {
        let weight = cfg.weights.get(name);
        let automation = matches!(
            name,
            "volume"
                | "output_ratio"
                | "max_tokens_share"
                | "limit_time"
                | "limit_429_rate"
                | "limit_retries"
                | "flat_rhythm"
                | "regular_timing"
                | "shift"
                | "pace"
                | "concurrency"
                | "surge"
        );
        let factor = if bounded && automation { 0.5 } else { 1.0 };
        let contribution = weight * value * confidence * factor;
        score += contribution;
        out.push(Signal {
            name,
            value: (value * 1000.0).round() / 1000.0,
            weight,
            contribution: (contribution * 1000.0).round() / 1000.0,
            detail,
        });
    }
    (score, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proviso_types::RecordId;

    fn ev(t: i64, template: u32, exact: u64, flags: u8) -> Ev {
        Ev {
            t,
            rid: RecordId::new(),
            prompt_tokens: 20,
            completion_tokens: 400,
            flags,
            template,
            exact,
            base: 0,
            sampling: (1000, 1000),
            cell: 0,
            known: 0,
            user: 0,
            params: 0,
            latency_ms: 0,
        }
    }

    fn value(raw: &Raw, name: &str) -> f64 {
        raw.iter().find(|r| r.0 == name).map_or(-1.0, |r| r.1)
    }

    fn view(evs: &[Ev]) -> View<'_> {
        let mut hours = BTreeMap::new();
        for e in evs {
            *hours.entry(e.t.div_euclid(3_600_000)).or_insert(0) += 1;
        }
        View {
            events: evs.iter().collect(),
            hours,
            harvest_week: evs.iter().filter(|e| e.flags & HARVEST != 0).count() as u64,
            known: Box::leak(Box::new(KnownSets::default())),
            serving: false,
            baseline: None,
        }
    }

    #[test]
    fn one_request_gives_no_signal_beyond_its_own_flags() {
        let evs = [ev(0, 1, 1, 0)];
        let raw = compute(&view(&evs), &MonitorConfig::default());
        for (name, v, _) in &raw {
            if *name == "output_ratio" || *name == "volume" {
                continue;
            }
            assert_eq!(*v, 0.0, "{name}");
        }
    }

    #[test]
    fn template_enumeration_reasoning_and_pressure() {
        let mut evs = Vec::new();
        for i in 0..200i64 {
            let flags = REASONING | YIELD | HARVEST | if i % 4 == 0 { LIMITED } else { 0 };
            evs.push(ev(i * 5_000, 7, i as u64, flags));
        }
        let raw = compute(&view(&evs), &MonitorConfig::default());
        assert_eq!(value(&raw, "template_share"), 1.0);
        assert!(value(&raw, "coverage") > 0.7, "{}", value(&raw, "coverage"));
        assert_eq!(value(&raw, "reasoning"), 1.0);
        assert!((value(&raw, "limit_429_rate") - 0.25).abs() < 1e-9);
        assert_eq!(value(&raw, "limit_retries"), 1.0);
        assert_eq!(value(&raw, "regular_timing"), 1.0);
        assert!(value(&raw, "output_ratio") > 0.9);
    }

    #[test]
    fn a_fixed_benchmark_repeated_has_no_coverage() {
        let mut evs = Vec::new();
        for pass in 0..5i64 {
            for q in 0..100i64 {
                evs.push(ev(pass * 1_000_000 + q * 1000, q as u32, q as u64, 0));
            }
        }
        evs.sort_by_key(|e| e.t);
        let raw = compute(&view(&evs), &MonitorConfig::default());
        assert!(value(&raw, "template_share") < 0.05);
        assert!(value(&raw, "coverage") < 0.25);
    }

    #[test]
    fn rhythm_of_a_working_day_is_not_flat_and_24_7_is() {
        let mut office = Vec::new();
        let mut flat = Vec::new();
        for d in 0..14i64 {
            for h in 0..24i64 {
                let t = (d * 24 + h) * 3_600_000;
                if (9..18).contains(&h) && d % 7 < 5 {
                    office.push(ev(t, 0, 0, 0));
                }
                flat.push(ev(t, 0, 0, 0));
            }
        }
        let raw_o = compute(&view(&office), &MonitorConfig::default());
        let raw_f = compute(&view(&flat), &MonitorConfig::default());
        assert_eq!(value(&raw_o, "flat_rhythm"), 0.0);
        assert!(value(&raw_f, "flat_rhythm") > 0.95);
        // a day of history is not enough to judge a week
        let raw_short = compute(&view(&flat[..10]), &MonitorConfig::default());
        assert_eq!(value(&raw_short, "flat_rhythm"), 0.0);
    }

    #[test]
    fn sweeps_and_probing_parameters() {
        let mut evs = Vec::new();
        for i in 0..30i64 {
            let mut e = ev(i * 1000, i as u32 % 3, (i % 3) as u64, 0);
            e.sampling = ((i % 10) as i32 * 100, 1000);
            evs.push(e);
        }
        let raw = compute(&view(&evs), &MonitorConfig::default());
        assert_eq!(value(&raw, "parameters"), 1.0);
        let evs: Vec<Ev> = (0..10)
            .map(|i| ev(i, i as u32, i as u64, if i < 5 { PARAMS } else { 0 }))
            .collect();
        let raw = compute(&view(&evs), &MonitorConfig::default());
        assert!((value(&raw, "parameters") - 0.5).abs() < 1e-9);
        // A judge reading the probability of a one-word verdict.
        let verdicts: Vec<Ev> = (0..10)
            .map(|i| Ev {
                completion_tokens: 3,
                ..ev(i, i as u32, i as u64, PARAMS)
            })
            .collect();
        let raw = compute(&view(&verdicts), &MonitorConfig::default());
        assert_eq!(value(&raw, "parameters"), 0.0);
    }

    #[test]
    fn bursty_people_are_not_regular() {
        let mut t = 0i64;
        let mut evs = Vec::new();
        for i in 0..100i64 {
            t += if i % 10 == 0 {
                3_600_000
            } else {
                20_000 + (i * 7919 % 50_000)
            };
            evs.push(ev(t, i as u32, i as u64, 0));
        }
        let raw = compute(&view(&evs), &MonitorConfig::default());
        assert_eq!(value(&raw, "regular_timing"), 0.0);
    }
}

#[cfg(test)]
mod harvest_tests {
    use super::*;
    use crate::Monitor;
    use crate::ladder::Level;

    const T0: i64 = 1_780_000_000_000;

    fn obs(t: i64, i: usize, completion: u64, follow_up: bool) -> crate::Observation {
        crate::Observation {
            completion_tokens: completion,
            follow_up,
            ..crate::test_observation(
                "k",
                "t",
                "10.0.0.1",
                t,
                &format!("distinct request number {i} {}", i * 7919),
            )
        }
    }

    fn signal(m: &Monitor, name: &str) -> f64 {
        m.key_report("k")
            .and_then(|r| r.signals.iter().find(|s| s.name == name))
            .map_or(-1.0, |s| s.value)
    }

    #[test]
    fn harvest_counts_self_contained_instructions_answered_at_length() {
        let cfg = MonitorConfig::default();
        let mut m = Monitor::new(cfg.clone()).unwrap();
        for i in 0..100 {
            m.observe(&obs(T0 + i as i64 * 60_000, i, 400, false));
        }
        let v = signal(&m, "harvest");
        assert!(
            (v - 100.0 / f64::from(cfg.harvest_day_high)).abs() < 0.06,
            "{v}"
        );
        // Follow-ups and short answers are not harvests.
        let mut m = Monitor::new(cfg.clone()).unwrap();
        for i in 0..100 {
            m.observe(&obs(T0 + i as i64 * 60_000, i, 400, true));
            m.observe(&obs(T0 + i as i64 * 60_000 + 1, 1000 + i, 8, false));
        }
        assert_eq!(signal(&m, "harvest"), 0.0);
    }

    #[test]
    fn a_week_of_harvest_counts_after_the_day_window_forgets_it() {
        let cfg = MonitorConfig::default();
        let mut m = Monitor::new(cfg.clone()).unwrap();
        // 100 a day for five days: the day window sees 100, the week 500.
        for d in 0..5i64 {
            for i in 0..100usize {
                m.observe(&obs(
                    T0 + d * 86_400_000 + i as i64 * 60_000,
                    d as usize * 1000 + i,
                    400,
                    false,
                ));
            }
        }
        let v = signal(&m, "harvest");
        assert!(
            (v - 500.0 / f64::from(cfg.harvest_week_high)).abs() < 0.02,
            "{v}"
        );
        // A long idle: a fortnight later one request; both windows forgot.
        m.observe(&obs(T0 + 20 * 86_400_000, 99_999, 400, false));
        m.evaluate_key("k");
        assert!(signal(&m, "harvest") < 0.01);
    }

    #[test]
    fn a_clock_jump_back_does_not_reorder_or_inflate() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        for i in 0..50 {
            m.observe(&obs(T0 + i as i64 * 60_000, i, 400, false));
        }
        // The clock goes back an hour: taken as the last time.
        m.observe(&obs(T0 - 3_600_000, 50, 400, false));
        m.evaluate_key("k");
        assert!(signal(&m, "harvest") <= 51.0 / 200.0 + 1e-9);
    }

    #[test]
    fn templated_short_answers_and_busy_automation_stay_at_notice_or_below() {
        // `hi <n>` every 50 ms: one template, regular, busy; answers of a
        // few tokens. No output worth harvesting: never beyond notice.
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let mut worst = Level::Ok;
        for i in 0..2_400usize {
            let o = crate::Observation {
                completion_tokens: 9,
                ..crate::test_observation(
                    "k",
                    "t",
                    "10.0.0.1",
                    T0 + i as i64 * 50,
                    &format!("hi {i}"),
                )
            };
            for d in m.observe(&o) {
                worst = worst.max(d.level);
            }
        }
        assert!(worst <= Level::Notice, "{worst:?}");
        let (ok, _) = may_go_beyond_notice(&m.key_report("k").unwrap().signals, false);
        assert!(!ok);
    }
}

#[cfg(test)]
mod follow_up_tests {
    use super::*;
    use crate::Monitor;

    const T0: i64 = 1_780_000_000_000;

    /// A question of 20 characters under a system text of 2,000, answered
    /// with 400 tokens, the prompt 500 tokens in all.
    fn under_preamble(i: usize, system: &str) -> crate::Observation {
        crate::Observation {
            completion_tokens: 400,
            prompt_tokens: 500,
            system: system.into(),
            parts: crate::PromptParts {
                new: 20,
                system: 2_000,
                total: 2_020,
            },
            ..crate::test_observation(
                "k",
                "t",
                "10.0.0.1",
                T0 + i as i64 * 60_000,
                &format!("question number {i}"),
            )
        }
    }

    #[test]
    fn a_fixed_preamble_is_context_and_a_new_one_is_asked() {
        let harvested = |systems: &dyn Fn(usize) -> String| {
            let mut m = Monitor::new(MonitorConfig::default()).unwrap();
            for i in 0..10 {
                m.observe(&under_preamble(i, &systems(i)));
            }
            m.keys["k"]
                .events
                .iter()
                .filter(|e| e.flags & HARVEST != 0)
                .count()
        };
        // The same preamble every time: from the second request on, each
        // answer is held against its own question.
        assert_eq!(harvested(&|_| "house style".repeat(180)), 9);
        // A preamble never sent before is part of what is asked: 400
        // tokens against about 500 is not an answer at length.
        assert_eq!(
            harvested(&|i| format!("{i} {}", "house style".repeat(180))),
            0
        );
    }

    fn follow_up(t: i64, earlier: &str, now: &str) -> crate::Observation {
        crate::Observation {
            completion_tokens: 400,
            follow_up: true,
            earlier: Some(earlier.into()),
            ..crate::test_observation("k", "t", "10.0.0.1", t, &format!("{earlier}\n{now}"))
        }
    }

    fn first(t: i64, prompt: &str) -> crate::Observation {
        crate::Observation {
            completion_tokens: 400,
            ..crate::test_observation("k", "t", "10.0.0.1", t, prompt)
        }
    }

    fn harvest_flags(m: &Monitor) -> usize {
        m.keys["k"]
            .events
            .iter()
            .filter(|e| e.flags & HARVEST != 0)
            .count()
    }

    /// An observation of a request body, read as the gateway reads it,
    /// answered with 400 tokens.
    fn of_body(t: i64, body: serde_json::Value) -> crate::Observation {
        use crate::observation as ob;
        let parts = ob::prompt_parts(&body);
        crate::Observation {
            completion_tokens: 400,
            prompt_tokens: parts.total / 4 + 8,
            system: ob::system_text(&body),
            definitions: ob::definitions_text(&body),
            follow_up: ob::is_follow_up(&body),
            earlier: ob::earlier_text(&body),
            tool_step: ob::is_tool_step(&body),
            said: ob::said_turns(&body),
            parts,
            ..crate::test_observation("k", "t", "10.0.0.1", t, &ob::prompt_text(&body))
        }
    }

    fn distinct_harvest(bodies: impl Iterator<Item = serde_json::Value>) -> f64 {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let bodies: Vec<serde_json::Value> = bodies.collect();
        // Each answered as a client going on from it shows it.
        let keyed: Vec<(u64, &serde_json::Value)> = bodies.iter().map(|b| (0, b)).collect();
        let answers = crate::observation::replayed_answers(&keyed);
        for (i, (b, answer)) in bodies.iter().zip(answers).enumerate() {
            m.observe(&crate::Observation {
                answer,
                ..of_body(T0 + i as i64 * 60_000, b.clone())
            });
        }
        m.evaluate_key("k");
        m.key_report("k")
            .and_then(|r| r.signals.iter().find(|s| s.name == "harvest"))
            .map_or(-1.0, |s| s.value)
            * f64::from(MonitorConfig::default().harvest_day_high)
    }

    #[test]
    fn an_instruction_in_a_schema_a_tool_or_a_tool_call_is_asked() {
        let system = serde_json::json!({"role": "system", "content": "Fill the record."});
        let user = serde_json::json!({"role": "user", "content": "Next record, please."});
        let schema = |desc: &str| {
            serde_json::json!({"messages": [system, user], "response_format": {
                "type": "json_schema", "json_schema": {"name": "record", "strict": true, "schema": {
                    "type": "object", "required": ["body"],
                    "properties": {"body": {"type": "string", "description": desc}}}}}})
        };
        let tool = |desc: &str| {
            serde_json::json!({"messages": [system, user], "tools": [{"type": "function",
                "function": {"name": "save", "description": desc,
                    "parameters": {"type": "object", "properties": {"body": {"type": "string"}}}}}],
                "tool_choice": {"type": "function", "function": {"name": "save"}}})
        };
        let brief = |i: usize| format!("Write a long essay on subject number {i} and its history");
        for make in [&schema as &dyn Fn(&str) -> serde_json::Value, &tool] {
            let varied = distinct_harvest((0..12).map(|i| make(&brief(i))));
            let fixed = distinct_harvest((0..12).map(|_| make(&brief(0))));
            assert!((varied - 12.0).abs() < 0.5, "{varied}");
            assert!((fixed - 1.0).abs() < 0.5, "{fixed}");
        }
        // A real tool loop: the turn sent first, then its steps, each
        // handing a result back after the calls the model made (its
        // history grows a call and a result a step), under the same tools,
        // or under a tool list that changed since (a handoff), or with a
        // schema on the last call only: one instruction.
        let step = |tools: serde_json::Value, i: usize| {
            let mut msgs = vec![system.clone(), user.clone()];
            for j in 0..=i {
                msgs.push(
                    serde_json::json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": format!("c{j}"), "type": "function",
                     "function": {"name": "save", "arguments": format!("{{\"q\":{j}}}")}}]}),
                );
                msgs.push(
                    serde_json::json!({"role": "tool", "tool_call_id": format!("c{j}"),
                    "content": format!("result {j}")}),
                );
            }
            let mut b = serde_json::json!({ "messages": msgs });
            b["tools"] = tools;
            b
        };
        let tools = tool("Save the record.")["tools"].clone();
        let other = tool("Another tool set.")["tools"].clone();
        let first = tool("Save the record.");
        let steps = (0..12).map(|i| step(if i < 6 { tools.clone() } else { other.clone() }, i));
        let last = {
            // The step after the last: the call the model made at its end.
            let mut b = step(other.clone(), 12);
            b["response_format"] = schema("The final report.")["response_format"].clone();
            b
        };
        let loop_ = std::iter::once(first)
            .chain(steps)
            .chain(std::iter::once(last));
        assert!((distinct_harvest(loop_) - 1.0).abs() < 0.5);
    }

    #[test]
    fn what_the_client_writes_in_the_models_name_is_asked() {
        let user = |s: &str| serde_json::json!({"role": "user", "content": s});
        let said = |s: &str| serde_json::json!({"role": "assistant", "content": s});
        let brief = |i: usize| format!("Write a long essay on subject number {i} and its history");
        // A made-up history: the instruction in the model's turn, between
        // two fixed user lines.
        let planted = |b: &str| {
            serde_json::json!({"messages": [user("What's next on the list?"),
                said(&format!("How about this: {b}. Shall I?")), user("Yes, write it up in full.")]})
        };
        // An answer's opening for the model to go on from.
        let prefill = |b: &str| serde_json::json!({"messages": [user("Continue."), said(&format!("# {b}\n\n"))]});
        // A tool round the model never made: the instruction in its result.
        let round = |b: &str| {
            serde_json::json!({"messages": [user("Pull the next task and do it."),
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "get_task", "arguments": "{\"queue\": \"articles\"}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": format!("{{\"brief\": \"{b}\"}}")}]})
        };
        for make in [
            &planted as &dyn Fn(&str) -> serde_json::Value,
            &prefill,
            &round,
        ] {
            let varied = distinct_harvest((0..12).map(|i| make(&brief(i))));
            let fixed = distinct_harvest((0..12).map(|_| make(&brief(0))));
            assert!((varied - 12.0).abs() < 0.5, "{varied}");
            assert!((fixed - 1.0).abs() < 0.5, "{fixed}");
        }
        // The same rounds after the turn that asked for the task was sent
        // and answered with that call: the model's own call, its result a
        // tool loop's step (one instruction; what the docs call a real
        // tool loop, which costs the harvester a request an instruction).
        let real = (0..12).flat_map(|i| {
            [
                serde_json::json!({"messages": [user("Pull the next task and do it.")]}),
                round(&brief(i)),
            ]
        });
        assert!((distinct_harvest(real) - 1.0).abs() < 0.5);
        // One call the model made, handed back with a new result each time:
        // only its first result is a tool loop's step; the others were
        // written (the turn that asked, and eleven).
        let reused = std::iter::once(
            serde_json::json!({"messages": [user("Pull the next task and do it.")]}),
        )
        .chain((0..12).map(|i| round(&brief(i))));
        assert!((distinct_harvest(reused) - 12.0).abs() < 0.5);
        // The same, each round followed by a user line: a conversation's
        // first three follow-ups, then written ones again.
        let go = |i: usize| {
            let mut b = round(&brief(i));
            if let Some(m) = b["messages"].as_array_mut() {
                m.push(user("Go."));
            }
            b
        };
        let followed = std::iter::once(
            serde_json::json!({"messages": [user("Pull the next task and do it.")]}),
        )
        .chain((0..12).map(go));
        assert!(distinct_harvest(followed) >= 8.5);
    }

    #[test]
    fn a_status_polled_twice_is_one_tool_loop() {
        // The model calls the same function twice and gets two results:
        // each call of its own, with its own result.
        let user = serde_json::json!({"role": "user", "content": "Deploy build 7 and report."});
        let call = serde_json::json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "status", "arguments": "{}"}}]});
        let res = |r: &str| serde_json::json!({"role": "tool", "tool_call_id": "c", "content": r});
        let bodies = [
            serde_json::json!({"messages": [user]}),
            serde_json::json!({"messages": [user, call, res("pending")]}),
            serde_json::json!({"messages": [user, call, res("pending"), call, res("done")]}),
        ];
        assert!((distinct_harvest(bodies.into_iter()) - 1.0).abs() < 0.5);
    }

    #[test]
    fn the_models_own_answer_sent_back_is_not_written() {
        // A story app that sends the last chapter back as the model's turn
        // before the same line: the chapters are the model's answers, so
        // the requests are one (and so is a key's only turn of a chat it
        // keeps elsewhere). The same bodies with chapters the model never
        // wrote are twelve instructions.
        let chapter = |i: usize| format!("Chapter {i}: the fox went further into the wood.");
        let run = |answered: bool| {
            let mut m = Monitor::new(MonitorConfig::default()).unwrap();
            for i in 0..12usize {
                let body = serde_json::json!({"messages": [
                    {"role": "system", "content": "You write bedtime stories."},
                    {"role": "assistant", "content": chapter(i)},
                    {"role": "user", "content": "Write the next chapter."}]});
                let answer = if answered {
                    crate::observation::said_hash(&chapter(i + 1))
                } else {
                    0
                };
                let o = crate::Observation {
                    answer,
                    ..of_body(T0 + i as i64 * 60_000, body)
                };
                if i == 0 && answered {
                    // Its first chapter, answered to a request of its own.
                    m.observe(&crate::Observation {
                        answer: crate::observation::said_hash(&chapter(0)),
                        ..first(T0 - 60_000, "Start a bedtime story.")
                    });
                }
                m.observe(&o);
            }
            m.evaluate_key("k");
            m.key_report("k")
                .and_then(|r| r.signals.iter().find(|s| s.name == "harvest"))
                .map_or(-1.0, |s| s.value)
                * f64::from(MonitorConfig::default().harvest_day_high)
        };
        let own = run(true);
        let written = run(false);
        // The opening request and the chapters' one line.
        assert!((own - 2.0).abs() < 0.5, "{own}");
        assert!((written - 12.0).abs() < 0.5, "{written}");
    }

    #[test]
    fn a_conversation_with_a_written_opening_is_still_one() {
        // Few-shot examples written as a user and an assistant turn before
        // the question, then a follow-up of the question with the model's
        // answer: the follow-up goes on from the request sent (found with
        // the written turn it held), so it is a conversation.
        let user = |s: &str| serde_json::json!({"role": "user", "content": s});
        let said = |s: &str| serde_json::json!({"role": "assistant", "content": s});
        let shots = [
            user("Example question"),
            said("Example answer, written by the client."),
        ];
        let ask = |i: usize| format!("Explain topic {i} in depth");
        let bodies = (0..6).flat_map(|i| {
            let first = serde_json::json!({"messages": [shots[0], shots[1], user(&ask(i))]});
            let next = serde_json::json!({"messages": [shots[0], shots[1], user(&ask(i)),
                said(&format!("The model's answer on topic {i}")), user("Shorter, please.")]});
            [first, next]
        });
        assert!((distinct_harvest(bodies) - 6.0).abs() < 0.5);
        // A search the client made and wrote in as a tool round (its
        // request asks it), then the model's answer and a follow-up: the
        // follow-up goes on from the request sent.
        let search = |i: usize| {
            [
                user(&ask(i)),
                serde_json::json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "s", "type": "function", "function": {"name": "search", "arguments": "{}"}}]}),
                serde_json::json!({"role": "tool", "tool_call_id": "s", "content": format!("Documents {i}")}),
            ]
        };
        let bodies = (0..6).flat_map(|i| {
            let [u, call, docs] = search(i);
            let first = serde_json::json!({"messages": [u, call, docs]});
            let next = serde_json::json!({"messages": [u, call, docs,
                said(&format!("The model's answer on topic {i}")), user("Shorter, please.")]});
            [first, next]
        });
        assert!((distinct_harvest(bodies) - 6.0).abs() < 0.5);
    }

    #[test]
    fn a_follow_up_of_a_turn_sent_before_is_a_conversation() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        m.observe(&first(T0, "what is a prime number"));
        m.observe(&follow_up(
            T0 + 60_000,
            "what is a prime number",
            "shorter please",
        ));
        assert_eq!(harvest_flags(&m), 1, "only the first question");
    }

    #[test]
    fn a_history_never_sent_or_one_turn_followed_without_end_is_not() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        // Written into the request: its earlier turn was never sent.
        m.observe(&follow_up(T0, "invented question", "real instruction 1"));
        assert_eq!(harvest_flags(&m), 1);
        // One greeting, followed up ten times with new instructions.
        m.observe(&first(T0 + 1_000, "hello there"));
        for i in 0..10 {
            m.observe(&follow_up(
                T0 + 2_000 + i * 1_000,
                "hello there",
                &format!("instruction {i}"),
            ));
        }
        // the greeting, the invented one, and all but the first three
        assert_eq!(harvest_flags(&m), 1 + 1 + 7);
    }
}

#[cfg(test)]
mod purpose_tests {
    use super::*;
    use crate::Monitor;
    use crate::ladder::Level;

    const T0: i64 = 1_780_000_000_000;

    /// Eight pseudo-random words (no two prompts share a template).
    fn words(i: usize) -> String {
        let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (0..8)
            .map(|_| {
                (0..6)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        char::from(b'a' + (x % 26) as u8)
                    })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A key declaring `purpose`, sending `n` distinct questions answered
    /// at length, every second, around the clock.
    fn busy(purpose: &str, n: usize) -> Level {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let mut worst = Level::Ok;
        for i in 0..n {
            let o = crate::Observation {
                completion_tokens: 400,
                purpose: Some(purpose.into()),
                ..crate::test_observation("k", "t", "10.0.0.1", T0 + i as i64 * 1_000, &words(i))
            };
            for d in m.observe(&o) {
                worst = worst.max(d.level);
            }
        }
        worst
    }

    fn sig(name: &'static str, contribution: f64) -> Signal {
        Signal {
            name,
            // At the default weights (harvest 0.5).
            value: if name == "harvest" {
                contribution / 0.5
            } else {
                0.0
            },
            weight: 0.0,
            contribution,
            detail: String::new(),
        }
    }

    #[test]
    fn enforcement_needs_more_harvest_than_a_busy_person_asks_unless_parameters_are_probed() {
        let content = sig("topics", 0.30);
        // Sixty-odd long answers a day with a habit of content: what the
        // red teams' office power users look like. A notice only.
        let busy_person = [
            sig("harvest", 0.17),
            sig("output_ratio", 0.03),
            content.clone(),
        ];
        assert!(!may_go_beyond_notice(&busy_person, false).0);
        // A hundred and more a day, by a script (paced like no person).
        let harvest = [
            sig("harvest", 0.23),
            sig("output_ratio", 0.03),
            content.clone(),
            sig("pace", 0.04),
            sig("concurrency", 0.02),
        ];
        assert!(may_go_beyond_notice(&harvest, false).0);
        // The same harvest at a person's pace, with content only: a
        // reviewer's call, not the ladder's.
        assert!(!may_go_beyond_notice(&harvest[..3], false).0);
        // Beyond what one person asks (harvest at its high), content
        // alone is enough.
        let beyond = [
            sig("harvest", 0.5),
            sig("output_ratio", 0.03),
            content.clone(),
        ];
        assert!(may_go_beyond_notice(&beyond, false).0);
        // Just under the high, whatever the other yield signals add: a
        // person's harvest still.
        let under = [
            sig("harvest", 0.49),
            sig("output_ratio", 0.05),
            sig("max_tokens_share", 0.05),
            content.clone(),
        ];
        assert!(!may_go_beyond_notice(&under, false).0);
        // A key that serves many people needs content, and under the high
        // automation too.
        let serving = [sig("harvest", 0.3), content.clone(), sig("pace", 0.04)];
        assert!(!may_go_beyond_notice(&serving, true).0);
        let serving = [
            sig("harvest", 0.3),
            content.clone(),
            sig("pace", 0.04),
            sig("regular_timing", 0.03),
        ];
        assert!(may_go_beyond_notice(&serving, true).0);
        assert!(
            !may_go_beyond_notice(
                &[
                    sig("harvest", 0.3),
                    sig("pace", 0.04),
                    sig("regular_timing", 0.03)
                ],
                true
            )
            .0
        );
        // Probabilities asked for on nearly every answer need less.
        let probing = [sig("parameters", 0.14), content.clone()];
        assert!(may_go_beyond_notice(&probing, false).0);
        // Now and then is not probing.
        let now_and_then = [sig("parameters", 0.05), sig("harvest", 0.15), content];
        assert!(!may_go_beyond_notice(&now_and_then, false).0);
        // And yield alone, however large, is not enough.
        assert!(!may_go_beyond_notice(&[sig("harvest", 0.5)], false).0);
    }

    #[test]
    fn a_key_serving_many_people_needs_content_evidence_beyond_notice() {
        // A product key answering thousands of its users' questions: its
        // harvest is their questions. A notice, no more.
        assert_eq!(busy("product", 3_000), Level::Notice);
        // The same traffic under another purpose is enforced further.
        assert!(busy("research", 3_000) > Level::Notice);
    }

    #[test]
    fn one_stored_response_gone_on_from_without_end_is_a_harvest() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        m.observe(&crate::Observation {
            completion_tokens: 400,
            ..crate::test_observation("k", "t", "10.0.0.1", T0, "start")
        });
        for i in 0..10 {
            m.observe(&crate::Observation {
                completion_tokens: 400,
                follow_up: true,
                continues: Some("resp_1".into()),
                ..crate::test_observation(
                    "k",
                    "t",
                    "10.0.0.1",
                    T0 + 1_000 * (i + 1),
                    &format!("task {i}"),
                )
            });
        }
        let harvest = m.keys["k"]
            .events
            .iter()
            .filter(|e| e.flags & HARVEST != 0)
            .count();
        // the first request, and all but the first three continuations
        assert_eq!(harvest, 1 + 7);
    }
}

#[cfg(test)]
mod new_signal_tests {
    use super::*;
    use crate::Monitor;
    use crate::ladder::Level;

    const T0: i64 = 1_780_000_000_000;
    const MIN: i64 = 60_000;
    const DAY: i64 = 86_400_000;

    use crate::test_known_items as items;

    /// Six pseudo-random words: no two prompts alike, no topic, no set.
    fn words(i: usize) -> String {
        let mut x = (i as u64 + 7).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (0..6)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (0..5)
                    .map(|j| char::from(b'a' + ((x >> (j * 5)) % 26) as u8))
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn obs(key: &str, t: i64, prompt: &str) -> crate::Observation {
        crate::Observation {
            completion_tokens: 400,
            purpose: Some("research".into()),
            ..crate::test_observation(key, "t", "10.0.0.1", t, prompt)
        }
    }

    fn signal(m: &mut Monitor, key: &str, name: &str) -> (f64, String) {
        m.evaluate_all();
        m.key_report(key)
            .and_then(|r| r.signals.iter().find(|s| s.name == name))
            .map_or((-1.0, String::new()), |s| (s.value, s.detail.clone()))
    }

    #[test]
    fn public_set_counts_distinct_items_of_a_known_set() {
        let items = items();
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        m.observe(&obs("k", T0, &items[0]));
        let (v, d) = signal(&mut m, "k", "public_set");
        assert!((v - 1.0 / 50.0).abs() < 1e-9, "{v} {d}");
        assert!(d.contains("alpaca_eval"), "{d}");
        // Asked again and again: one item.
        for i in 0..30 {
            m.observe(&obs("k", T0 + i * MIN, &items[0]));
        }
        assert!((signal(&mut m, "k", "public_set").0 - 0.02).abs() < 1e-9);
        for (i, it) in items.iter().enumerate().take(60) {
            m.observe(&obs("k", T0 + 40 * MIN + i as i64 * MIN, it));
        }
        assert_eq!(signal(&mut m, "k", "public_set").0, 1.0);
        // Other words: nothing.
        let mut p = Monitor::new(MonitorConfig::default()).unwrap();
        for i in 0..100 {
            p.observe(&obs("k", T0 + i as i64 * MIN, &words(i)));
        }
        assert_eq!(signal(&mut p, "k", "public_set").0, 0.0);
        // An item split between the system text and the user's turn is
        // read as one; either half alone asks nothing.
        let item = &items[3];
        let cut = item.len() / 2;
        let cut = (cut..item.len())
            .find(|i| item.is_char_boundary(*i) && item[*i..].starts_with(' '))
            .unwrap_or(cut);
        let (first, second) = item.split_at(cut);
        assert!(
            KnownSets::builtin().find(first).is_none()
                && KnownSets::builtin().find(second).is_none()
        );
        let mut split = Monitor::new(MonitorConfig::default()).unwrap();
        split.observe(&crate::Observation {
            system: first.to_owned(),
            ..obs("k", T0, second)
        });
        assert!((signal(&mut split, "k", "public_set").0 - 0.02).abs() < 1e-9);
        // A long idle: the window forgot; a clock jump back changes nothing.
        m.observe(&obs("k", T0 + 3 * DAY, "hello again my friend"));
        assert_eq!(signal(&mut m, "k", "public_set").0, 0.0);
        m.observe(&obs("k", T0, &items[5]));
        assert!((signal(&mut m, "k", "public_set").0 - 0.02).abs() < 1e-9);
        // No set configured: no signal.
        let cfg = MonitorConfig {
            instruction_sets: Vec::new(),
            ..MonitorConfig::default()
        };
        let mut q = Monitor::new(cfg).unwrap();
        q.observe(&obs("k", T0, &items[0]));
        assert_eq!(signal(&mut q, "k", "public_set").0, 0.0);
        // A set that cannot be read is a configuration error naming it.
        let bad = MonitorConfig {
            instruction_sets: vec!["/nonexistent/set.jsonl".into()],
            ..MonitorConfig::default()
        };
        let e = Monitor::new(bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("instruction_sets") && e.contains("/nonexistent/set.jsonl"),
            "{e}"
        );
    }

    #[test]
    fn topics_are_broad_for_an_enumeration_and_narrow_for_a_product() {
        let items = items();
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        m.observe(&obs("k", T0, &items[0]));
        assert_eq!(signal(&mut m, "k", "topics").0, 0.0, "one request");
        for (i, it) in items.iter().enumerate().take(300) {
            m.observe(&obs("k", T0 + i as i64 * 20_000, it));
        }
        let (v, d) = signal(&mut m, "k", "topics");
        assert!(v > 0.6, "{v} {d}");
        // A support bot: the same few topics and types, worded many ways.
        let mut p = Monitor::new(MonitorConfig::default()).unwrap();
        let asks = [
            "my laptop battery",
            "the phone app",
            "my wifi network",
            "the website login",
        ];
        for i in 0..300usize {
            let q = format!("Why does {} keep failing after update {}?", asks[i % 4], i);
            p.observe(&obs("k", T0 + i as i64 * 20_000, &q));
        }
        let (v, d) = signal(&mut p, "k", "topics");
        assert!(v < 0.05, "{v} {d}");
        // Serving many people: shown, not counted.
        let mut s = Monitor::new(MonitorConfig::default()).unwrap();
        for (i, it) in items.iter().enumerate().take(300) {
            s.observe(&crate::Observation {
                purpose: Some("product".into()),
                ..obs("k", T0 + i as i64 * 20_000, it)
            });
        }
        let (v, d) = signal(&mut s, "k", "topics");
        assert_eq!(v, 0.0);
        assert!(d.contains("serving many people"), "{d}");
    }

    #[test]
    fn pace_and_concurrency_tell_a_script_from_a_person() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        // Eight in flight at once, every two seconds.
        for i in 0..200usize {
            m.observe(&crate::Observation {
                latency_ms: 16_000,
                ..obs("k", T0 + i as i64 * 2_000, &words(i))
            });
        }
        assert_eq!(signal(&mut m, "k", "pace").0, 1.0);
        let (c, d) = signal(&mut m, "k", "concurrency");
        assert_eq!(c, 1.0, "{d}");
        // A person: one question a minute or two, one at a time.
        let mut p = Monitor::new(MonitorConfig::default()).unwrap();
        p.observe(&obs("p", T0, "one"));
        assert_eq!(signal(&mut p, "p", "pace").0, 0.0, "one request");
        for i in 0..60usize {
            p.observe(&crate::Observation {
                latency_ms: 9_000,
                ..obs("p", T0 + 60_000 + i as i64 * 90_000, &words(i))
            });
        }
        assert_eq!(signal(&mut p, "p", "pace").0, 0.0);
        assert_eq!(signal(&mut p, "p", "concurrency").0, 0.0);
        // A clock jump back: each late request is taken as at the last
        // time, so four of them, each a minute long, are in flight with the
        // last one (at their own, earlier times they would overlap nothing).
        for i in 0..4usize {
            p.observe(&crate::Observation {
                latency_ms: 60_000,
                ..obs("p", T0 - 3_600_000, &words(900 + i))
            });
        }
        let (c, d) = signal(&mut p, "p", "concurrency");
        assert!(c > 0.4, "{c} {d}");
    }

    #[test]
    fn surge_is_measured_against_the_key_and_then_its_team() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        // A week of 40 a day, then 1,000 in a day.
        for d in 0..6i64 {
            for i in 0..40i64 {
                m.observe(&obs(
                    "k",
                    T0 + d * DAY + i * 10 * MIN,
                    &words((d * 40 + i) as usize),
                ));
            }
        }
        let (v, d) = signal(&mut m, "k", "surge");
        assert_eq!(v, 0.0, "{d}");
        for i in 0..1_000i64 {
            m.observe(&obs(
                "k",
                T0 + 6 * DAY + i * 30_000,
                &words(10_000 + i as usize),
            ));
        }
        let (v, d) = signal(&mut m, "k", "surge");
        assert!(v > 0.5 && d.contains("median day"), "{v} {d}");
        // A new key: its team's typical key (three or more active).
        let mut t = Monitor::new(MonitorConfig::default()).unwrap();
        t.observe(&obs("new", T0, "first"));
        assert!(signal(&mut t, "new", "surge").1.contains("no earlier day"));
        for k in 0..4usize {
            for i in 0..30i64 {
                t.observe(&obs(
                    &format!("peer{k}"),
                    T0 + i * MIN,
                    &words(k * 100 + i as usize),
                ));
            }
        }
        for i in 0..900i64 {
            t.observe(&obs(
                "new",
                T0 + 31 * MIN + i * 20_000,
                &words(5_000 + i as usize),
            ));
        }
        let (v, d) = signal(&mut t, "new", "surge");
        assert!(v > 0.5 && d.contains("team"), "{v} {d}");
        // A jump back in time changes nothing: taken as the last time.
        t.observe(&obs("new", T0, "late"));
        assert!(signal(&mut t, "new", "surge").0 > 0.5);
        // A long idle: the window forgot the surge.
        t.observe(&obs("new", T0 + 30 * DAY, "back"));
        assert_eq!(signal(&mut t, "new", "surge").0, 0.0);
    }

    #[test]
    fn the_week_counts_distinct_instructions_not_repeats() {
        // A regression suite of 30 prompts run forty times in a week.
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        for run in 0..40i64 {
            for p in 0..30usize {
                m.observe(&obs(
                    "ci",
                    T0 + run * 4 * 3_600_000 + p as i64 * 2_000,
                    &words(p),
                ));
            }
        }
        let (v, d) = signal(&mut m, "ci", "harvest");
        assert!((v - 30.0 / 200.0).abs() < 1e-9, "{v} {d}");
        assert!(d.contains("30 in the week"), "{d}");
        // A long idle: forgotten.
        m.observe(&obs("ci", T0 + 30 * DAY, &words(1)));
        assert!(signal(&mut m, "ci", "harvest").1.contains("1 in the week"));
    }

    #[test]
    fn a_product_naming_its_users_goes_no_further_than_notice() {
        // Templates filled by 100 named users, answered at length: content
        // evidence, but many people's.
        let run = |named: bool| {
            let mut m = Monitor::new(MonitorConfig::default()).unwrap();
            let mut worst = Level::Ok;
            for i in 0..1_500usize {
                let o = crate::Observation {
                    purpose: Some("product".into()),
                    end_user: named.then(|| format!("tenant:{}", i % 100)),
                    ..obs(
                        "k",
                        T0 + i as i64 * 20_000,
                        &format!(
                            "Write a blog post titled \"{}\" for small business owners, friendly tone.",
                            words(i)
                        ),
                    )
                };
                for d in m.observe(&o) {
                    worst = worst.max(d.level);
                }
            }
            worst
        };
        assert_eq!(run(true), Level::Notice);
        assert!(run(false) > Level::Notice);
    }

    #[test]
    fn an_answer_in_installments_is_one_answer_at_length() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let harvests = |m: &Monitor| {
            m.keys["k"]
                .events
                .iter()
                .filter(|e| e.flags & HARVEST != 0)
                .count()
        };
        let part = |t: i64, instruction: &str, tokens: u64| crate::Observation {
            completion_tokens: tokens,
            follow_up: true,
            earlier: Some(instruction.into()),
            ..obs("k", t, &format!("{instruction}\ncontinue"))
        };
        for i in 0..20usize {
            let ins = words(i);
            let t = T0 + i as i64 * 60_000;
            m.observe(&crate::Observation {
                completion_tokens: 80,
                ..obs("k", t, &ins)
            });
            m.observe(&part(t + 10_000, &ins, 80));
            m.observe(&part(t + 20_000, &ins, 80));
        }
        // One harvest per instruction: its first part made it long (80 +
        // 80), the second adds nothing.
        assert_eq!(harvests(&m), 20);
        // Short turns that stay short: nothing.
        let mut p = Monitor::new(MonitorConfig::default()).unwrap();
        p.observe(&crate::Observation {
            completion_tokens: 10,
            ..obs("k", T0, "hi there")
        });
        p.observe(&part(T0 + 5_000, "hi there", 5));
        assert_eq!(harvests(&p), 0);
        // A part of a turn never sent is not counted.
        p.observe(&part(T0 - 60_000, "never asked", 90));
        assert_eq!(harvests(&p), 0);
        // A chat whose "continue" turns pile up: each goes on from the
        // words before it (the turn and the earlier "continue"s).
        let mut c = Monitor::new(MonitorConfig::default()).unwrap();
        c.observe(&crate::Observation {
            completion_tokens: 40,
            ..obs("k", T0, "tell me about rivers in detail")
        });
        let mut earlier = "tell me about rivers in detail".to_owned();
        for i in 0..3i64 {
            c.observe(&crate::Observation {
                completion_tokens: 40,
                follow_up: true,
                earlier: Some(earlier.clone()),
                ..obs("k", T0 + (i + 1) * 10_000, &format!("{earlier}\ncontinue"))
            });
            earlier.push_str("\ncontinue");
        }
        // 40 + 40 + 40: long at the second continuation, counted once.
        assert_eq!(harvests(&c), 1);
        // Parts at length, each held against the word "continue" (the
        // history is context): still one answer, counted once per turn.
        let mut l = Monitor::new(MonitorConfig::default()).unwrap();
        let asked_a_word = crate::PromptParts {
            new: 8,
            system: 0,
            total: 2_000,
        };
        for i in 0..10usize {
            let ins = words(100 + i);
            let t = T0 + i as i64 * 60_000;
            l.observe(&crate::Observation {
                completion_tokens: 60,
                ..obs("k", t, &ins)
            });
            for j in 0..3i64 {
                l.observe(&crate::Observation {
                    prompt_tokens: 500,
                    parts: asked_a_word,
                    ..part(t + (j + 1) * 10_000, &ins, 150)
                });
            }
        }
        assert_eq!(harvests(&l), 10);
    }

    #[test]
    fn a_tool_loop_is_one_instruction_however_long() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        m.observe(&obs("agent", T0, "fix the failing build in repo x"));
        for i in 0..40i64 {
            m.observe(&crate::Observation {
                follow_up: true,
                tool_step: true,
                earlier: Some("fix the failing build in repo x".into()),
                ..obs(
                    "agent",
                    T0 + (i + 1) * 5_000,
                    "fix the failing build in repo x",
                )
            });
        }
        let harvest = m.keys["agent"]
            .events
            .iter()
            .filter(|e| e.flags & HARVEST != 0)
            .count();
        assert_eq!(harvest, 1);
        // User turns going on from it are still counted three at most.
        for i in 0..5i64 {
            m.observe(&crate::Observation {
                follow_up: true,
                earlier: Some("fix the failing build in repo x".into()),
                ..obs(
                    "agent",
                    T0 + 300_000 + i * 5_000,
                    &format!("fix the failing build in repo x\n{}", words(i as usize)),
                )
            });
        }
        let harvest = m.keys["agent"]
            .events
            .iter()
            .filter(|e| e.flags & HARVEST != 0)
            .count();
        assert_eq!(harvest, 1 + 2);
    }

    #[test]
    fn a_product_naming_its_users_is_counted_per_user() {
        let product = |user: &dyn Fn(usize) -> String| {
            let mut m = Monitor::new(MonitorConfig::default()).unwrap();
            let mut worst = Level::Ok;
            for i in 0..400usize {
                let o = crate::Observation {
                    purpose: Some("product".into()),
                    end_user: Some(user(i)),
                    ..obs("k", T0 + i as i64 * 60_000, &words(i))
                };
                for d in m.observe(&o) {
                    worst = worst.max(d.level);
                }
            }
            let (v, d) = signal(&mut m, "k", "harvest");
            (v, d, worst)
        };
        // 400 questions from 100 people: the key counts half.
        let (v, d, _) = product(&|i| format!("emp-{}", i % 100));
        assert!((v - 0.5).abs() < 1e-9, "{v} {d}");
        assert!(d.contains("of 100 end users asked 4"), "{d}");
        // One of them asks 300: that person is the harvest.
        let (v, d, _) = product(&|i| {
            if i < 300 {
                "mallory".into()
            } else {
                format!("emp-{i}")
            }
        });
        assert_eq!(v, 1.0, "{d}");
        // A key that trusts its user ids.
        let cfg = MonitorConfig {
            named_users_key_share: 0.0,
            ..MonitorConfig::default()
        };
        let mut m = Monitor::new(cfg).unwrap();
        for i in 0..400usize {
            m.observe(&crate::Observation {
                purpose: Some("product".into()),
                end_user: Some(format!("emp-{}", i % 100)),
                ..obs("k", T0 + i as i64 * 60_000, &words(i))
            });
        }
        let (v, _) = signal(&mut m, "k", "harvest");
        assert!((v - 4.0 / 200.0).abs() < 1e-9, "{v}");
    }
}
