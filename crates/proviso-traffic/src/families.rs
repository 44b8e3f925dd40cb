//! Workload families written to test the monitor as an adversary who has
//! read its documentation would, and as real product traffic looks: many
//! keys per family, so that rates come with intervals. Each family is marked
//! [`Split::Tune`] (the monitor's weights may be set on it) or
//! [`Split::HeldOut`] (reported on only; never used to choose a setting).
//!
//! Extraction families avoid the tells the first simulator's campaigns
//! announce (a "training data" scaffold, one template per key, reasoning
//! keywords, logprobs, one team, shared addresses):
//!
//! | family | split | what |
//! | --- | --- | --- |
//! | `paraphrased_scaffold` | tune | instruction-response generation, the scaffold reworded every request |
//! | `false_evaluation` | tune | dataset instructions enumerated under a declared `evaluation` purpose |
//! | `fake_history` | tune | every instruction written as the follow-up of one greeting sent once |
//! | `rotating_users` | tune | a `product` key harvesting dataset instructions under a new invented end user every one to three requests |
//! | `staggered_pool` | tune | campaigns of ten keys in ten teams, disjoint slices of one instruction pool, started hours apart, at a person's pace |
//! | `plain_dataset` | held out | distinct dataset instructions as plain user turns under the most common system prompt, long answers, every 1–4 s |
//! | `system_instructions` | held out | the instruction in the system message, a bare user turn |
//! | `human_paced` | held out | dataset instructions in sessions with jitter and pauses, working hours only |
//! | `low_and_slow` | held out | one instruction every 3–8 minutes around the clock |
//! | `distributed` | held out | campaigns of ten keys in ten teams, each its own address and phrasing, disjoint slices of one instruction pool in the same minutes |
//!
//! Benign families look templated or busy:
//!
//! | family | split | what |
//! | --- | --- | --- |
//! | `chat` | tune / held out | people: weekdays, their own hours, bursty sessions of ordinary questions, some behind shared office addresses |
//! | `healthcheck` | tune | `hi <n>` every 50 ms for two minutes (a liveness probe) |
//! | `assistant` | tune | an internal assistant: one `product` key serving 100–300 named employees (`user`), ordinary questions answered at length |
//! | `rag` | tune | a fixed system prompt, retrieved documents and a user's question |
//! | `classification` | held out | a fixed prompt over varying customer reviews, a one-word answer, at machine speed |
//! | `translation` | tune (held out in its first run, then corrected: see docs/monitor.md) | a fixed instruction over varying documents |
//! | `office_nat` | held out | quiet people behind one address with a busy extraction key |
//!
//! Extraction instructions come from the AlpacaEval set; people's questions
//! from the Alpaca sets; customer text from human reviews and web pages.

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::{Corpus, Role, Scenario, SimKey, SimRequest, Split};

/// How many keys of each family, and for how long.
#[derive(Clone, Debug)]
pub struct FamilyOptions {
    /// The seed of every random choice.
    pub seed: u64,
    /// Simulated start, ms.
    pub start_ms: i64,
    /// Keys per extraction family.
    pub extraction_keys: usize,
    /// Campaigns of the `distributed` family (ten keys each).
    pub campaigns: usize,
    /// People in the tuning part of `chat`.
    pub chat_tune: usize,
    /// People in the held-out part of `chat`.
    pub chat_held_out: usize,
    /// Keys per benign product family.
    pub product_keys: usize,
    /// Most requests an extraction key sends (detection is wanted within
    /// 1,000).
    pub max_extraction_requests: usize,
}

impl Default for FamilyOptions {
    fn default() -> Self {
        Self {
            seed: 21,
            start_ms: crate::DEFAULT_START_MS,
            extraction_keys: 10,
            campaigns: 3,
            chat_tune: 100,
            chat_held_out: 220,
            product_keys: 20,
            max_extraction_requests: 1_000,
        }
    }
}

const COMMON_SYSTEM: &str = "You are a helpful assistant.";
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// Rewordings of "write an instruction and an ideal answer" (no two share
/// a template).
const SCAFFOLDS: &[&str] = &[
    "Come up with a question a student might ask about {s}, then answer it thoroughly.",
    "I need an example task related to {s} along with a model answer. Please provide both.",
    "Invent a realistic user request concerning {s} and write the best possible reply to it.",
    "Pose a challenging problem on {s}; afterwards give a complete, careful solution.",
    "Think of something people often want to know about {s}. State it as a request, then respond as an expert would.",
    "Give me one prompt about {s} that an AI assistant could receive, and the response it should give.",
    "Draft a short exercise on {s} and its worked answer.",
    "What is a good instruction someone could write about {s}? Write it, then fulfil it in detail.",
];

/// Ways a person phrases a request (the `distributed` family's members
/// each keep one).
const WRAPPERS: &[&str] = &[
    "{i}",
    "Hey, quick one: {i}",
    "{i} Please be detailed.",
    "Could you help me with this? {i}",
    "Task: {i}",
    "{i}\n\nAnswer carefully.",
    "I'm working on something and need this: {i}",
    "Please do the following. {i}",
    "{i} Thanks!",
    "Question for you — {i}",
];

/// Extraction keys sending one kind of request at a steady pace.
struct Steady {
    family: &'static str,
    /// Key names are `{prefix}-NN`.
    prefix: &'static str,
    /// Team names are `{team}N`.
    team: &'static str,
    purpose: &'static str,
    split: Split,
    /// Addresses are `198.18.{net}.N`.
    net: u8,
    keys: usize,
    cap: usize,
    start: i64,
    /// Each key starts at a random time within this much of `start`.
    start_within: i64,
    /// Time between two requests of a key, ms.
    gap: std::ops::Range<i64>,
}

struct Builder<'a> {
    corpus: &'a Corpus,
    rng: StdRng,
    keys: Vec<SimKey>,
    reqs: Vec<SimRequest>,
}

impl Builder<'_> {
    fn key(
        &mut self,
        name: String,
        team: &str,
        purpose: &str,
        family: &str,
        role: Role,
        split: Split,
    ) -> usize {
        self.keys.push(SimKey {
            name,
            team: team.to_owned(),
            purpose: purpose.to_owned(),
            workload: family.to_owned(),
            role,
            requests_per_minute: None,
            split,
        });
        self.keys.len() - 1
    }

    fn push(
        &mut self,
        t: i64,
        key: usize,
        client: &str,
        body: Value,
        extraction: bool,
        answer: Option<u32>,
    ) {
        self.reqs.push(SimRequest {
            t,
            key,
            client: client.to_owned(),
            body,
            extraction,
            answer_tokens: answer,
        });
    }

    /// The keys of `spec`, each sending `spec.cap` requests made by `body`.
    fn steady(&mut self, spec: Steady, body: impl Fn(&mut Self) -> Value) {
        for i in 0..spec.keys {
            let k = self.key(
                format!("{}-{i:02}", spec.prefix),
                &format!("{}{i}", spec.team),
                spec.purpose,
                spec.family,
                Role::Extraction,
                spec.split,
            );
            let client = format!("198.18.{}.{}", spec.net, i + 1);
            let mut t = spec.start + self.rng.random_range(0..spec.start_within);
            for _ in 0..spec.cap {
                let b = body(self);
                self.push(t, k, &client, b, true, None);
                t += self.rng.random_range(spec.gap.clone());
            }
        }
    }

    fn instruction(&mut self) -> String {
        self.corpus
            .alpaca_eval
            .choose(&mut self.rng)
            .cloned()
            .unwrap_or_default()
    }

    fn question(&mut self) -> String {
        let zh = self.rng.random_bool(0.15);
        let pool = if zh && !self.corpus.alpaca_zh.is_empty() {
            &self.corpus.alpaca_zh
        } else {
            &self.corpus.alpaca_en
        };
        pool.choose(&mut self.rng).cloned().unwrap_or_default()
    }

    /// People on weekdays in their own hours, bursty sessions.
    fn person(&mut self, k: usize, client: &str, start: i64, days: i64) {
        let tz = self.rng.random_range(-3i64..=3) * HOUR;
        for d in 0..days {
            if d % 7 >= 5 {
                continue;
            }
            for _ in 0..self.rng.random_range(1..5) {
                let mut t = start + d * DAY + 8 * HOUR + self.rng.random_range(0..11 * HOUR) - tz;
                let mut last: Option<String> = None;
                for _ in 0..self.rng.random_range(1..7) {
                    // Some turns follow up on the question just asked.
                    let body = match last.take() {
                        Some(q) if self.rng.random_bool(0.25) => {
                            json!({"model": "gpt-4o-mini", "messages": [
                                {"role": "user", "content": q},
                                {"role": "assistant", "content": "(earlier answer)"},
                                {"role": "user", "content": "Can you make that shorter?"}]})
                        }
                        _ => {
                            let q = self.question();
                            last = Some(q.clone());
                            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": q}]})
                        }
                    };
                    self.push(t, k, client, body, false, None);
                    t += self.rng.random_range(20_000..300_000);
                }
            }
        }
    }
}

fn chat(system: Option<&str>, user: String, extra: &[(&str, Value)]) -> Value {
    let mut messages = Vec::new();
    if let Some(s) = system {
        messages.push(json!({"role": "system", "content": s}));
    }
    messages.push(json!({"role": "user", "content": user}));
    let mut b = json!({"model": "gpt-4o-mini", "messages": messages});
    if let Some(m) = b.as_object_mut() {
        for (k, v) in extra {
            m.insert((*k).to_owned(), v.clone());
        }
    }
    b
}

/// Builds the families' keys and requests, ordered by time.
pub fn families(corpus: &Corpus, opt: &FamilyOptions) -> Scenario {
    let mut b = Builder {
        corpus,
        rng: StdRng::seed_from_u64(opt.seed),
        keys: Vec::new(),
        reqs: Vec::new(),
    };
    let s0 = opt.start_ms;
    let cap = opt.max_extraction_requests;
    let n = opt.extraction_keys;

    // --- extraction, tuning part ---
    let steady = |family, prefix, team, purpose, split, net, start_within, gap| Steady {
        family,
        prefix,
        team,
        purpose,
        split,
        net,
        keys: n,
        cap,
        start: s0,
        start_within,
        gap,
    };
    b.steady(
        steady(
            "paraphrased_scaffold",
            "paraphrase",
            "lab-",
            "research",
            Split::Tune,
            1,
            HOUR,
            5_000..30_000,
        ),
        |b| {
            let subject = b.question();
            let subject: String = subject
                .split_whitespace()
                .take(8)
                .collect::<Vec<_>>()
                .join(" ");
            let scaffold = SCAFFOLDS
                .choose(&mut b.rng)
                .copied()
                .unwrap_or(SCAFFOLDS[0]);
            chat(None, scaffold.replace("{s}", &subject), &[])
        },
    );
    b.steady(
        steady(
            "false_evaluation",
            "false-eval",
            "eval-",
            "evaluation",
            Split::Tune,
            2,
            HOUR,
            1_000..4_000,
        ),
        |b| chat(None, b.instruction(), &[("max_tokens", json!(2048))]),
    );

    // A history written into each request, all of it going on from one
    // greeting sent once, so every request looks like a follow-up.
    for i in 0..n {
        let k = b.key(
            format!("fake-history-{i:02}"),
            &format!("chat-co-{i}"),
            "research",
            "fake_history",
            Role::Extraction,
            Split::Tune,
        );
        let client = format!("198.18.7.{}", i + 1);
        let mut t = s0 + b.rng.random_range(0..HOUR);
        b.push(
            t,
            k,
            &client,
            chat(None, "Hello".into(), &[]),
            true,
            Some(12),
        );
        for _ in 1..cap {
            t += b.rng.random_range(2_000..10_000);
            let body = json!({"model": "gpt-4o-mini", "messages": [
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi! How can I help you today?"},
                {"role": "user", "content": b.instruction()}]});
            b.push(t, k, &client, body, true, None);
        }
    }

    // A product key harvesting under invented end users: a new `user`
    // every one to three requests, so that no end user asks much.
    for i in 0..n {
        let k = b.key(
            format!("rotating-{i:02}"),
            &format!("apps-r{i}"),
            "product",
            "rotating_users",
            Role::Extraction,
            Split::Tune,
        );
        let client = format!("198.18.8.{}", i + 1);
        let mut t = s0 + b.rng.random_range(0..DAY);
        let mut user = String::new();
        let mut left = 0;
        for _ in 0..cap {
            if left == 0 {
                user = format!("u-{:08x}", b.rng.random::<u32>());
                left = b.rng.random_range(1..4);
            }
            left -= 1;
            let mut body = chat(None, b.instruction(), &[]);
            body["user"] = json!(user);
            b.push(t, k, &client, body, true, None);
            t += b.rng.random_range(2_000..8_000);
        }
    }
    // Campaigns of ten keys in ten teams enumerating disjoint slices of one
    // pool, started hours apart and paced like people (no two in step).
    let mut staggered: Vec<String> = corpus.alpaca_eval.clone();
    for c in 0..opt.campaigns {
        staggered.shuffle(&mut b.rng);
        for m in 0..10usize {
            let k = b.key(
                format!("stagger{c}-{m:02}"),
                &format!("guild{c}-{m}"),
                "research",
                "staggered_pool",
                Role::Extraction,
                Split::Tune,
            );
            let client = format!("198.20.{c}.{}", m + 1);
            let mut t = s0 + (c as i64) * DAY + (m as i64) * b.rng.random_range(HOUR..3 * HOUR);
            for j in 0..40usize {
                let ins = staggered.get(m * 40 + j).cloned().unwrap_or_default();
                b.push(t, k, &client, chat(None, ins, &[]), true, None);
                t += b.rng.random_range(30_000..90_000);
            }
        }
    }

    // --- extraction, held out ---
    b.steady(
        steady(
            "plain_dataset",
            "plain",
            "data-",
            "research",
            Split::HeldOut,
            3,
            DAY,
            1_000..4_000,
        ),
        |b| {
            chat(
                Some(COMMON_SYSTEM),
                b.instruction(),
                &[("max_tokens", json!(2048))],
            )
        },
    );
    b.steady(
        steady(
            "system_instructions",
            "system",
            "apps-",
            "product",
            Split::HeldOut,
            4,
            DAY,
            2_000..8_000,
        ),
        |b| {
            json!({"model": "gpt-4o-mini", "messages": [
                {"role": "system", "content": b.instruction()},
                {"role": "user", "content": "Please respond."}]})
        },
    );
    b.steady(
        steady(
            "low_and_slow",
            "slow",
            "team-s",
            "research",
            Split::HeldOut,
            6,
            HOUR,
            3 * MINUTE..8 * MINUTE,
        ),
        |b| chat(None, b.instruction(), &[]),
    );
    for i in 0..n {
        let k = b.key(
            format!("paced-{i:02}"),
            &format!("team-p{i}"),
            "research",
            "human_paced",
            Role::Extraction,
            Split::HeldOut,
        );
        let client = format!("198.18.5.{}", i + 1);
        let mut sent = 0;
        let mut day = 0i64;
        while sent < cap && day < 14 {
            if day % 7 < 5 {
                for _ in 0..b.rng.random_range(3..8) {
                    let mut t = s0 + day * DAY + 9 * HOUR + b.rng.random_range(0..9 * HOUR);
                    for _ in 0..b.rng.random_range(5..25) {
                        if sent >= cap {
                            break;
                        }
                        let ins = b.instruction();
                        b.push(
                            t,
                            k,
                            &client,
                            chat(Some(COMMON_SYSTEM), ins, &[]),
                            true,
                            None,
                        );
                        sent += 1;
                        // think time of a person reading, with a long tail
                        let u: f64 = b.rng.random_range(0.0001..1.0);
                        t += 8_000 + (-u.ln() * 40_000.0) as i64;
                    }
                }
            }
            day += 1;
        }
    }
    // Campaigns of ten keys in ten teams, disjoint slices of the pool,
    // started within the same minutes.
    let mut pool: Vec<String> = corpus.alpaca_eval.clone();
    for c in 0..opt.campaigns {
        pool.shuffle(&mut b.rng);
        let t0 = s0 + 6 * HOUR + (c as i64) * 7 * HOUR;
        for m in 0..10usize {
            let k = b.key(
                format!("dist{c}-{m:02}"),
                &format!("org{c}-{m}"),
                "research",
                "distributed",
                Role::Extraction,
                Split::HeldOut,
            );
            let client = format!("198.19.{c}.{}", m + 1);
            let wrap = WRAPPERS[m % WRAPPERS.len()];
            let mut t = t0 + b.rng.random_range(0..3 * MINUTE);
            for j in 0..60usize {
                let ins = pool.get(m * 60 + j).cloned().unwrap_or_default();
                b.push(
                    t,
                    k,
                    &client,
                    chat(None, wrap.replace("{i}", &ins), &[]),
                    true,
                    None,
                );
                t += b.rng.random_range(3_000..15_000);
            }
        }
    }

    // --- benign ---
    let offices = ["203.0.113.7", "203.0.113.8", "203.0.113.9"];
    for (part, count, split) in [
        ("t", opt.chat_tune, Split::Tune),
        ("h", opt.chat_held_out, Split::HeldOut),
    ] {
        for u in 0..count {
            let k = b.key(
                format!("chat-{part}{u:03}"),
                &format!("staff-{}", u % 7),
                "research",
                "chat",
                Role::Benign,
                split,
            );
            let client = if u % 5 == 0 {
                offices[u % offices.len()].to_owned()
            } else {
                format!(
                    "10.{}.{}.{}",
                    if part == "t" { 1 } else { 2 },
                    u / 200,
                    u % 200 + 1
                )
            };
            b.person(k, &client, s0, 3);
        }
    }
    let p = opt.product_keys;
    // Internal assistants: one key each, serving 100 to 300 employees who
    // are named in `user`, on working days; answers at length.
    for i in 0..p.div_ceil(2) {
        let k = b.key(
            format!("assistant-{i:02}"),
            &format!("apps-{i}"),
            "product",
            "assistant",
            Role::Benign,
            Split::Tune,
        );
        let client = format!("10.9.0.{}", i + 1);
        let staff = b.rng.random_range(100..300);
        for e in 0..staff {
            let user = format!("emp-{i}-{e}");
            for d in 0..3i64 {
                for _ in 0..b.rng.random_range(0..5) {
                    let mut t = s0 + d * DAY + 8 * HOUR + b.rng.random_range(0..10 * HOUR);
                    for _ in 0..b.rng.random_range(1..4) {
                        let mut body = json!({"model": "gpt-4o-mini", "messages": [
                            {"role": "system", "content": "You are the company's internal assistant. Be accurate and concise."},
                            {"role": "user", "content": b.question()}]});
                        body["user"] = json!(user);
                        b.push(t, k, &client, body, false, None);
                        t += b.rng.random_range(30_000..400_000);
                    }
                }
            }
        }
    }
    for i in 0..p.min(10) {
        let k = b.key(
            format!("health-{i:02}"),
            "platform",
            "product",
            "healthcheck",
            Role::Benign,
            Split::Tune,
        );
        let client = format!("10.5.0.{}", i + 1);
        let mut t = s0 + b.rng.random_range(0..DAY);
        for j in 0..2_400u32 {
            b.push(
                t,
                k,
                &client,
                chat(None, format!("hi {j}"), &[]),
                false,
                Some(9),
            );
            t += 50;
        }
    }
    for i in 0..p {
        let k = b.key(
            format!("rag-{i:02}"),
            &format!("kb-{}", i % 4),
            "product",
            "rag",
            Role::Benign,
            Split::Tune,
        );
        let client = format!("10.6.0.{}", i + 1);
        let mut t = s0 + 8 * HOUR + b.rng.random_range(0..HOUR);
        let end = s0 + 2 * DAY;
        while t < end {
            // Three retrieved passages, as a retriever returns them.
            let docs: Vec<String> = corpus
                .web
                .choose_multiple(&mut b.rng, 3)
                .enumerate()
                .map(|(j, d)| format!("[{}] {}", j + 1, d.chars().take(800).collect::<String>()))
                .collect();
            let q = b.question();
            let body = json!({"model": "gpt-4o-mini", "messages": [
                {"role": "system", "content": "Answer the user's question using only the documents below. Cite the document you used. If the answer is not there, say so."},
                {"role": "user", "content": format!("Documents:\n{}\n\nQuestion: {q}", docs.join("\n"))}]});
            b.push(t, k, &client, body, false, Some(150));
            t += b.rng.random_range(20_000..180_000);
        }
    }
    for i in 0..p {
        let k = b.key(
            format!("classify-{i:02}"),
            &format!("cx-{}", i % 4),
            "product",
            "classification",
            Role::Benign,
            Split::HeldOut,
        );
        let client = format!("10.7.0.{}", i + 1);
        let mut t = s0 + b.rng.random_range(0..DAY);
        let texts: &[String] = if corpus.reviews.is_empty() {
            &corpus.web
        } else {
            &corpus.reviews
        };
        for _ in 0..1_000 {
            let r = texts.choose(&mut b.rng).cloned().unwrap_or_default();
            let prompt = format!(
                "Classify the sentiment of this customer review as positive or negative. Answer with one word.\n\nReview: {r}"
            );
            b.push(
                t,
                k,
                &client,
                chat(
                    None,
                    prompt,
                    &[("max_tokens", json!(3)), ("temperature", json!(0))],
                ),
                false,
                Some(1),
            );
            t += b.rng.random_range(200..1_000);
        }
    }
    for i in 0..p {
        let k = b.key(
            format!("translate-{i:02}"),
            &format!("loc-{}", i % 4),
            "product",
            "translation",
            Role::Benign,
            Split::Tune,
        );
        let client = format!("10.8.0.{}", i + 1);
        let mut t = s0 + b.rng.random_range(0..DAY);
        let lang = ["French", "German", "Japanese", "Spanish"][i % 4];
        for _ in 0..600 {
            let doc = corpus.web.choose(&mut b.rng).cloned().unwrap_or_default();
            // A passage of up to 500 characters, not a tail of a few words.
            let len = doc.chars().count();
            let start = b.rng.random_range(0..len.saturating_sub(300).max(1));
            let part: String = doc.chars().skip(start).take(500).collect();
            // A translation is about as long as its text.
            let words = part.split_whitespace().count() as u32;
            let answer = (words * 4 / 3 + 1) * 6 / 5;
            let body = chat(
                Some(&format!(
                    "Translate the user's text into {lang}. Output only the translation."
                )),
                part,
                &[],
            );
            b.push(t, k, &client, body, false, Some(answer));
            t += b.rng.random_range(2_000..10_000);
        }
    }
    // Quiet people behind the address of a busy extraction key.
    for (o, addr) in ["203.0.113.50", "203.0.113.51", "203.0.113.52"]
        .iter()
        .enumerate()
    {
        let k = b.key(
            format!("nat{o}-busy"),
            &format!("nat-{o}"),
            "research",
            "plain_dataset",
            Role::Extraction,
            Split::HeldOut,
        );
        let mut t = s0 + 10 * HOUR;
        for _ in 0..cap {
            let ins = b.instruction();
            b.push(
                t,
                k,
                addr,
                chat(Some(COMMON_SYSTEM), ins, &[("max_tokens", json!(2048))]),
                true,
                None,
            );
            t += b.rng.random_range(1_000..4_000);
        }
        for u in 0..20 {
            let k = b.key(
                format!("nat{o}-user{u:02}"),
                &format!("nat-{o}"),
                "research",
                "office_nat",
                Role::Benign,
                Split::HeldOut,
            );
            b.person(k, addr, s0, 3);
        }
    }
    b.reqs.sort_by_key(|r| r.t);
    Scenario {
        keys: b.keys,
        requests: b.reqs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn families_are_seeded_sized_and_split() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let c = Corpus::from_fixtures(&dir).unwrap();
        let small = FamilyOptions {
            chat_tune: 5,
            chat_held_out: 5,
            product_keys: 2,
            extraction_keys: 2,
            campaigns: 1,
            max_extraction_requests: 50,
            ..FamilyOptions::default()
        };
        let a = families(&c, &small);
        let b = families(&c, &small);
        assert_eq!(a.requests.len(), b.requests.len());
        assert!(a.requests.windows(2).all(|w| w[0].t <= w[1].t));
        for (i, k) in a.keys.iter().enumerate() {
            assert!(
                a.requests.iter().any(|r| r.key == i),
                "{} sends nothing",
                k.name
            );
        }
        let held_benign = a
            .keys
            .iter()
            .filter(|k| k.split == Split::HeldOut && k.role == Role::Benign)
            .count();
        assert!(held_benign >= 5 + 2 + 60, "{held_benign}");
        // The distributed campaign's members enumerate disjoint slices.
        let mut seen = std::collections::HashSet::new();
        for r in a
            .requests
            .iter()
            .filter(|r| a.keys[r.key].workload == "distributed")
        {
            let text = r.body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(seen.insert((r.key, text)));
        }
        // The default sizes give at least 300 held-out benign keys (chat,
        // classification, the office).
        let d = FamilyOptions::default();
        assert!(d.chat_held_out + d.product_keys + 60 >= 300);
    }
}
