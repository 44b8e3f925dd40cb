//! Simulated traffic for the monitor. [`scenario`] turns a corpus and a
//! seed into keys and a time-ordered list of requests: ordinary chat users
//! with a human daily rhythm, an evaluation harness running a fixed
//! benchmark, a product key with steady automated traffic, and extraction
//! campaigns (self-instruct loops, systematic topic enumeration, reasoning
//! harvesting, a "hydra" of many low-and-slow keys acting as one, and
//! extraction mixed into a key's normal traffic). The same seed always
//! gives the same scenario; times are simulated milliseconds.
#![deny(missing_docs)]

pub mod families;

use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Monday 2026-01-05 00:00 UTC, the default start of simulated time.
pub const DEFAULT_START_MS: i64 = 1_767_571_200_000;

/// The texts workloads draw from.
#[derive(Clone, Debug, Deserialize)]
pub struct Corpus {
    /// The 805 AlpacaEval instructions (the evaluation harness's benchmark).
    pub alpaca_eval: Vec<String>,
    /// English instructions people ask.
    pub alpaca_en: Vec<String>,
    /// Chinese instructions people ask.
    pub alpaca_zh: Vec<String>,
    /// Human documents (for the product key's summaries).
    #[serde(default)]
    pub web: Vec<String>,
    /// Human customer reviews (Chinese), for classification pipelines.
    #[serde(default)]
    pub reviews: Vec<String>,
}

/// Why a corpus could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not what was expected.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Corpus {
    /// Reads `traffic_prompts.json` and, beside it, `c4_human.jsonl`
    /// (the repository's `tests/fixtures`).
    pub fn from_fixtures(dir: &Path) -> Result<Self, CorpusError> {
        let p = dir.join("traffic_prompts.json");
        let text = std::fs::read_to_string(&p).map_err(|source| CorpusError::Io {
            path: p.display().to_string(),
            source,
        })?;
        let mut c: Corpus = serde_json::from_str(&text).map_err(|e| CorpusError::Format {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
        let w = dir.join("c4_human.jsonl");
        let web = std::fs::read_to_string(&w).map_err(|source| CorpusError::Io {
            path: w.display().to_string(),
            source,
        })?;
        for (i, line) in web.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line).map_err(|e| CorpusError::Format {
                path: format!("{}:{}", w.display(), i + 1),
                message: e.to_string(),
            })?;
            if let Some(t) = v.get("text").and_then(Value::as_str) {
                c.web.push(t.chars().take(1500).collect());
            }
        }
        let r = dir.join("chinese_reviews.json");
        if let Ok(text) = std::fs::read_to_string(&r) {
            c.reviews = serde_json::from_str(&text).map_err(|e| CorpusError::Format {
                path: r.display().to_string(),
                message: e.to_string(),
            })?;
        }
        if c.alpaca_eval.is_empty() || c.alpaca_en.is_empty() || c.web.is_empty() {
            return Err(CorpusError::Format {
                path: dir.display().to_string(),
                message: "the corpus needs alpaca_eval, alpaca_en and web texts".into(),
            });
        }
        Ok(c)
    }
}

/// Whether a key is benign or part of an extraction campaign (the truth the
/// monitor is measured against).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Ordinary use.
    Benign,
    /// Extraction.
    Extraction,
}

/// A key the scenario needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimKey {
    /// A name, unique in the scenario (`chat-03`, `hydra-07`).
    pub name: String,
    /// Its team.
    pub team: String,
    /// The purpose it declares.
    pub purpose: String,
    /// The workload it runs.
    pub workload: String,
    /// The truth.
    pub role: Role,
    /// Requests per minute the key is issued with (none: unlimited).
    pub requests_per_minute: Option<u64>,
    /// Whether the monitor's weights may be set on this key's family, or it
    /// is held out (only reported on).
    #[serde(default)]
    pub split: Split,
}

/// Whether a family may shape the monitor's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Weights and thresholds may be set on it.
    #[default]
    Tune,
    /// Never used for tuning: reported only.
    HeldOut,
}

/// One request at a simulated time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimRequest {
    /// Milliseconds since the epoch (simulated).
    pub t: i64,
    /// Index into [`Scenario::keys`].
    pub key: usize,
    /// The client address it comes from.
    pub client: String,
    /// The chat completion body.
    pub body: Value,
    /// Whether this request is part of an extraction campaign (the truth
    /// for requests-to-detection; a mixed key sends both kinds).
    pub extraction: bool,
    /// How long the answer is expected to be, tokens, when the workload
    /// knows (a classification's label, a greeting's reply); an in-process
    /// simulation uses it in place of an upstream's answer.
    #[serde(default)]
    pub answer_tokens: Option<u32>,
}

/// Keys and their requests, ordered by time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scenario {
    /// The keys.
    pub keys: Vec<SimKey>,
    /// The requests, by time.
    pub requests: Vec<SimRequest>,
}

/// How big a scenario to build.
#[derive(Clone, Debug)]
pub struct Options {
    /// The seed of every random choice.
    pub seed: u64,
    /// Simulated days.
    pub days: u32,
    /// Ordinary chat users.
    pub users: usize,
    /// Keys of the hydra campaign.
    pub hydra_keys: usize,
    /// Simulated start time.
    pub start_ms: i64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seed: 7,
            days: 3,
            users: 20,
            hydra_keys: 12,
            start_ms: DEFAULT_START_MS,
        }
    }
}

const SUBJECTS: &[&str] = &[
    "photosynthesis",
    "the French revolution",
    "quantum entanglement",
    "supply and demand",
    "the immune system",
    "plate tectonics",
    "machine learning",
    "the Roman empire",
    "climate change",
    "blockchain",
    "the human heart",
    "game theory",
    "volcanoes",
    "the Renaissance",
    "black holes",
    "inflation",
    "DNA replication",
    "the Cold War",
    "renewable energy",
    "neural networks",
    "probability",
    "the water cycle",
    "jazz",
    "antibiotics",
    "compilers",
    "the stock market",
    "ancient Egypt",
    "electric cars",
    "operating systems",
    "cryptography",
    "the Silk Road",
    "vaccines",
    "relativity",
    "urban planning",
    "coral reefs",
    "microeconomics",
    "linear algebra",
    "impressionism",
    "the printing press",
    "databases",
];

const ASPECTS: &[&str] = &[
    "its history",
    "how it works",
    "common misconceptions",
    "its key figures",
    "its practical applications",
    "the current research",
    "its ethical issues",
    "a beginner's overview",
    "an expert-level deep dive",
    "its future",
];

/// The part of a scenario whose keys run one of `workloads`.
pub fn keep_workloads(s: Scenario, workloads: &[&str]) -> Scenario {
    let mut map = vec![None; s.keys.len()];
    let mut keys = Vec::new();
    for (i, k) in s.keys.into_iter().enumerate() {
        if workloads.contains(&k.workload.as_str()) {
            map[i] = Some(keys.len());
            keys.push(k);
        }
    }
    let requests = s
        .requests
        .into_iter()
        .filter_map(|mut r| {
            r.key = map[r.key]?;
            Some(r)
        })
        .collect();
    Scenario { keys, requests }
}

/// At most `cap` requests of each key, the first ones.
pub fn capped_per_key(s: Scenario, cap: usize) -> Scenario {
    let mut sent = vec![0usize; s.keys.len()];
    let requests = s
        .requests
        .into_iter()
        .filter(|r| {
            let Some(n) = sent.get_mut(r.key) else {
                return false;
            };
            *n += 1;
            *n <= cap
        })
        .collect();
    Scenario {
        keys: s.keys,
        requests,
    }
}

/// Monday 00:00 UTC of the week of `t` (ms since the epoch).
pub fn monday_of(t: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    let day = t.div_euclid(DAY);
    // 1970-01-01 was a Thursday.
    (day - (day + 3).rem_euclid(7)) * DAY
}

/// The scenario moved in time by whole weeks' worth of days so that its
/// first week starts at the Monday of the week of `start_ms` (weekdays and
/// hours kept).
pub fn moved_to_week_of(mut s: Scenario, start_ms: i64) -> Scenario {
    let Some(first) = s.requests.iter().map(|r| r.t).min() else {
        return s;
    };
    let shift = monday_of(start_ms) - monday_of(first);
    for r in &mut s.requests {
        r.t += shift;
    }
    s
}

/// Builds the scenario.
pub fn scenario(corpus: &Corpus, opt: &Options) -> Scenario {
    let mut rng = StdRng::seed_from_u64(opt.seed);
    let mut keys = Vec::new();
    let mut reqs = Vec::new();
    let day = 86_400_000i64;
    let start = opt.start_ms;
    let end = start + i64::from(opt.days) * day;
    let chat = |msg: String, extra: &[(&str, Value)]| {
        let mut b = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": msg}]});
        if let Some(m) = b.as_object_mut() {
            for (k, v) in extra {
                m.insert((*k).to_owned(), v.clone());
            }
        }
        b
    };

    // Ordinary users: weekdays, 08:00–19:00 in their own time zone, a few
    // sessions a day, bursty; a few share an office address.
    for u in 0..opt.users {
        let k = keys.len();
        keys.push(SimKey {
            name: format!("chat-{u:02}"),
            team: format!("staff-{}", u % 4),
            purpose: "research".into(),
            workload: "chat".into(),
            role: Role::Benign,
            requests_per_minute: Some(60),
            split: Split::Tune,
        });
        let tz = rng.random_range(-3i64..=3) * 3_600_000;
        let chinese = u % 5 == 4;
        let client = if u % 4 == 0 {
            "203.0.113.7".to_owned()
        } else {
            format!("10.1.{}.{}", u / 200, u % 200 + 1)
        };
        let mut d = start;
        while d < end {
            let weekday = ((d - start) / day) % 7 < 5;
            if weekday {
                for _ in 0..rng.random_range(2..6) {
                    let mut t = d + 8 * 3_600_000 + rng.random_range(0..11 * 3_600_000) - tz;
                    for _ in 0..rng.random_range(1..7) {
                        let pool = if chinese && rng.random_bool(0.7) {
                            &corpus.alpaca_zh
                        } else {
                            &corpus.alpaca_en
                        };
                        let p = pool.choose(&mut rng).cloned().unwrap_or_default();
                        reqs.push(SimRequest {
                            t,
                            key: k,
                            client: client.clone(),
                            body: chat(p, &[]),
                            extraction: false,
                            answer_tokens: None,
                        });
                        t += rng.random_range(15_000..240_000);
                    }
                }
            }
            d += day;
        }
    }

    // The evaluation harness: the 805 AlpacaEval instructions at night,
    // paced every 2 s, run on day 1 and again on day 2.
    let k = keys.len();
    keys.push(SimKey {
        name: "eval-harness".into(),
        team: "research".into(),
        purpose: "evaluation".into(),
        workload: "evaluation".into(),
        role: Role::Benign,
        requests_per_minute: None,
        split: Split::Tune,
    });
    for run in 0..opt.days.min(2) {
        let mut t = start + i64::from(run) * day + 2 * 3_600_000;
        for p in &corpus.alpaca_eval {
            reqs.push(SimRequest {
                t,
                key: k,
                client: "10.9.0.5".into(),
                body: chat(p.clone(), &[("temperature", json!(0))]),
                extraction: false,
                answer_tokens: None,
            });
            t += 2_000;
        }
    }

    // The product key: a support tool summarising customer messages,
    // around the clock, Poisson arrivals every ~90 s.
    let k = keys.len();
    keys.push(SimKey {
        name: "product-support".into(),
        team: "product".into(),
        purpose: "product".into(),
        workload: "product".into(),
        role: Role::Benign,
        requests_per_minute: None,
        split: Split::Tune,
    });
    let mut t = start;
    while t < end {
        let doc = corpus.web.choose(&mut rng).cloned().unwrap_or_default();
        // A product caps its answers.
        let body = json!({"model": "gpt-4o-mini", "max_tokens": 200, "messages": [
            {"role": "system", "content": "You are a support assistant. Summarise for an agent."},
            {"role": "user", "content": doc}]});
        // A summary is shorter than what it summarises.
        reqs.push(SimRequest {
            t,
            key: k,
            client: "10.2.0.10".into(),
            body,
            extraction: false,
            answer_tokens: Some(120),
        });
        let u: f64 = rng.random_range(0.0001..1.0);
        t += (-u.ln() * 90_000.0) as i64;
    }

    // Extraction 1: a self-instruct loop (seed tasks in a fixed scaffold),
    // at the rate limit around the clock.
    let k = keys.len();
    keys.push(SimKey {
        name: "selfinstruct".into(),
        team: "acme-data".into(),
        purpose: "research".into(),
        workload: "self_instruct".into(),
        role: Role::Extraction,
        requests_per_minute: Some(5),
        split: Split::Tune,
    });
    let mut t = start + 3_600_000;
    while t < end {
        let seeds: Vec<&String> = corpus.alpaca_en.choose_multiple(&mut rng, 3).collect();
        let prompt = format!(
            "You are asked to come up with a set of 20 diverse task instructions. These task instructions will be given to a GPT model and we will evaluate the GPT model for completing the instructions. Here are the requirements:\n1. Try not to repeat the verb for each instruction to maximize diversity.\n2. The language used for the instruction also should be diverse.\n3. The type of instructions should be diverse.\nHere are some examples:\n- {}\n- {}\n- {}\nList of 20 tasks:",
            seeds[0].lines().next().unwrap_or_default(),
            seeds
                .get(1)
                .map_or("", |s| s.lines().next().unwrap_or_default()),
            seeds
                .get(2)
                .map_or("", |s| s.lines().next().unwrap_or_default()),
        );
        reqs.push(SimRequest {
            t,
            key: k,
            client: "198.51.100.20".into(),
            body: chat(
                prompt,
                &[("max_tokens", json!(1024)), ("temperature", json!(1.0))],
            ),
            extraction: true,
            answer_tokens: None,
        });
        t += rng.random_range(8_000..12_000);
    }

    // Extraction 2: systematic topic enumeration under one template.
    let k = keys.len();
    keys.push(SimKey {
        name: "enumerator".into(),
        team: "acme-data".into(),
        purpose: "product".into(),
        workload: "topic_enumeration".into(),
        role: Role::Extraction,
        requests_per_minute: None,
        split: Split::Tune,
    });
    let mut t = start + 5_400_000;
    let mut i = 0usize;
    while t < end {
        let s = SUBJECTS[i % SUBJECTS.len()];
        let a = ASPECTS[(i / SUBJECTS.len()) % ASPECTS.len()];
        let prompt = format!(
            "Write a comprehensive, textbook-quality explanation of {s}, focusing on {a}. Then write 3 question and answer pairs about it for a training dataset."
        );
        reqs.push(SimRequest {
            t,
            key: k,
            client: "198.51.100.21".into(),
            body: chat(prompt, &[]),
            extraction: true,
            answer_tokens: None,
        });
        i += 1;
        t += rng.random_range(20_000..40_000);
    }

    // Extraction 3: reasoning harvest over ordinary instructions.
    let k = keys.len();
    keys.push(SimKey {
        name: "reasoning".into(),
        team: "acme-data".into(),
        purpose: "research".into(),
        workload: "reasoning_harvest".into(),
        role: Role::Extraction,
        requests_per_minute: None,
        split: Split::Tune,
    });
    let mut t = start + 7_200_000;
    while t < end {
        let p = corpus
            .alpaca_en
            .choose(&mut rng)
            .cloned()
            .unwrap_or_default();
        let prompt = format!(
            "{p}\n\nThink step by step and show your full reasoning before giving the final answer."
        );
        reqs.push(SimRequest {
            t,
            key: k,
            client: "198.51.100.22".into(),
            body: chat(
                prompt,
                &[("logprobs", json!(true)), ("top_logprobs", json!(5))],
            ),
            extraction: true,
            answer_tokens: None,
        });
        t += rng.random_range(15_000..45_000);
    }

    // Extraction 4: a hydra, one enumeration spread over many keys of one
    // team, each low and slow, dispatched together, from a few addresses.
    let first = keys.len();
    for h in 0..opt.hydra_keys {
        keys.push(SimKey {
            name: format!("hydra-{h:02}"),
            team: "hydra".into(),
            purpose: "research".into(),
            workload: "hydra".into(),
            role: Role::Extraction,
            requests_per_minute: None,
            split: Split::Tune,
        });
    }
    let mut t = start + 600_000;
    let mut i = 0usize;
    while t < end && opt.hydra_keys > 0 {
        for h in 0..opt.hydra_keys {
            let s = SUBJECTS[(i + h) % SUBJECTS.len()];
            let a = ASPECTS[(i / 3 + h) % ASPECTS.len()];
            let prompt = format!(
                "Generate a detailed instruction and an ideal, expert response about {s} ({a}). Format: Instruction: ... Response: ..."
            );
            reqs.push(SimRequest {
                t: t + rng.random_range(0..20_000),
                key: first + h,
                client: format!("192.0.2.{}", 10 + h % 3),
                body: chat(prompt, &[]),
                extraction: true,
                answer_tokens: None,
            });
        }
        i += 1;
        t += rng.random_range(1_500_000..2_100_000);
    }

    // Extraction 5: a key with ordinary traffic that later mixes in
    // enumeration (one request in two after its first 150).
    let k = keys.len();
    keys.push(SimKey {
        name: "mixed".into(),
        team: "labs".into(),
        purpose: "research".into(),
        workload: "mixed".into(),
        role: Role::Extraction,
        requests_per_minute: None,
        split: Split::Tune,
    });
    let mut t = start + 3_600_000;
    let mut i = 0usize;
    let mut sent = 0usize;
    while t < end {
        let late = sent >= 150;
        sent += 1;
        let extraction = late && rng.random_bool(0.5);
        let prompt = if extraction {
            i += 1;
            let s = SUBJECTS[i % SUBJECTS.len()];
            let a = ASPECTS[(i / SUBJECTS.len()) % ASPECTS.len()];
            format!(
                "Produce 5 diverse instruction-response pairs about {s} ({a}) as JSON lines with fields instruction and response."
            )
        } else {
            corpus
                .alpaca_en
                .choose(&mut rng)
                .cloned()
                .unwrap_or_default()
        };
        reqs.push(SimRequest {
            t,
            key: k,
            client: "10.3.0.40".into(),
            body: chat(prompt, &[]),
            extraction,
            answer_tokens: None,
        });
        t += rng.random_range(60_000..240_000);
    }

    reqs.sort_by_key(|r| r.t);
    Scenario {
        keys,
        requests: reqs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Corpus {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        Corpus::from_fixtures(&dir).unwrap()
    }

    #[test]
    fn same_seed_same_scenario_and_requests_are_ordered() {
        let c = corpus();
        let a = scenario(&c, &Options::default());
        let b = scenario(&c, &Options::default());
        assert_eq!(a.requests.len(), b.requests.len());
        assert_eq!(
            serde_json::to_string(&a.requests[100].body).unwrap(),
            serde_json::to_string(&b.requests[100].body).unwrap()
        );
        assert!(a.requests.windows(2).all(|w| w[0].t <= w[1].t));
        let other = scenario(
            &c,
            &Options {
                seed: 8,
                ..Options::default()
            },
        );
        assert_ne!(
            serde_json::to_string(&a.requests[100].body).unwrap(),
            serde_json::to_string(&other.requests[100].body).unwrap()
        );
        for role in [Role::Benign, Role::Extraction] {
            assert!(a.keys.iter().any(|k| k.role == role));
        }
        for (i, _) in a.keys.iter().enumerate() {
            assert!(
                a.requests.iter().any(|r| r.key == i),
                "key {i} sends nothing"
            );
        }
    }

    #[test]
    fn a_missing_corpus_is_a_clear_error() {
        let e = Corpus::from_fixtures(Path::new("/nonexistent")).unwrap_err();
        assert!(e.to_string().contains("traffic_prompts.json"), "{e}");
    }
}

#[cfg(test)]
mod scenario_file_tests {
    use super::*;

    fn req(t: i64, key: usize) -> SimRequest {
        SimRequest {
            t,
            key,
            client: "10.0.0.1".into(),
            body: serde_json::json!({}),
            extraction: false,
            answer_tokens: None,
        }
    }

    fn key(name: &str) -> SimKey {
        SimKey {
            name: name.into(),
            team: "t".into(),
            purpose: "research".into(),
            workload: "w".into(),
            role: Role::Benign,
            requests_per_minute: None,
            split: Split::HeldOut,
        }
    }

    #[test]
    fn a_scenario_moves_to_the_start_week_keeping_weekday_and_hour() {
        // 2026-01-05 was a Monday; 2026-01-07 10:00 UTC a Wednesday.
        let wed = 1_767_571_200_000 + 2 * 86_400_000 + 10 * 3_600_000;
        let s = Scenario {
            keys: vec![key("a")],
            requests: vec![req(wed, 0), req(wed + 60_000, 0)],
        };
        // Any time in the week of Monday 2026-12-14.
        let start = 1_797_206_400_000 + 3 * 86_400_000 + 5;
        let m = moved_to_week_of(s, start);
        assert_eq!(
            m.requests[0].t,
            1_797_206_400_000 + 2 * 86_400_000 + 10 * 3_600_000
        );
        assert_eq!(m.requests[1].t - m.requests[0].t, 60_000);
    }

    #[test]
    fn a_cap_keeps_each_keys_first_requests() {
        let s = Scenario {
            keys: vec![key("a"), key("b")],
            requests: vec![req(1, 0), req(2, 1), req(3, 0), req(4, 0), req(5, 1)],
        };
        let c = capped_per_key(s, 2);
        let got: Vec<(i64, usize)> = c.requests.iter().map(|r| (r.t, r.key)).collect();
        assert_eq!(got, [(1, 0), (2, 1), (3, 0), (5, 1)]);
    }
}
