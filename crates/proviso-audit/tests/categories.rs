//! Recall per category of planted reference outputs, and false positives on
//! human text and on other models' answers to the same instructions. The
//! thresholds are documented in docs/audit.md.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use proviso_index::{Index, IndexBuilder, Params, Reference, tokenize};

fn load(name: &str) -> Vec<serde_json::Value> {
    let p = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn outputs(name: &str) -> Vec<String> {
    load(name)
        .iter()
        .map(|v| v["output"].as_str().unwrap().to_string())
        .collect()
}

fn human() -> Vec<String> {
    let p = format!(
        "{}/../../tests/fixtures/c4_human.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

struct Setup {
    index: Index,
    gpt4: Vec<String>,
    zh: Vec<String>,
}

fn setup() -> Setup {
    let gpt4 = outputs("gpt4_outputs.json");
    let zh = outputs("alpaca_zh_outputs.json");
    let mut b = IndexBuilder::new(Params::default());
    for (i, t) in gpt4.iter().enumerate() {
        b.add(t, Reference::file("gpt4", i as u64 + 1));
    }
    for (i, t) in zh.iter().enumerate() {
        b.add(t, Reference::file("zh", i as u64 + 1));
    }
    Setup {
        index: b.build().unwrap(),
        gpt4,
        zh,
    }
}

fn recall(s: &Setup, docs: &[(String, usize)]) -> f64 {
    let hits = docs
        .iter()
        .filter(|(d, r)| {
            s.index
                .query(d)
                .matches
                .iter()
                .any(|m| m.reference as usize == *r)
        })
        .count();
    hits as f64 / docs.len() as f64
}

/// Deterministic word edits: replace about `rate` of the words.
fn edit_words(text: &str, rate: f64, seed: u64) -> String {
    let mut x = seed | 1;
    text.split(' ')
        .map(|w| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (x % 1000) as f64 / 1000.0 < rate {
                "changed"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn strip_markdown(t: &str) -> String {
    t.lines()
        .map(|l| {
            l.trim_start_matches(['#', '-', '*', ' ', '>'])
                .replace("**", "")
                .replace(['*', '`'], "")
        })
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn disguise(t: &str) -> String {
    // Cyrillic look-alikes, zero-width spaces inside words, doubled spaces.
    t.chars()
        .enumerate()
        .map(|(i, c)| match c {
            'a' => "а".to_string(),
            'o' => "о".to_string(),
            'e' if i % 3 == 0 => "е\u{200B}".to_string(),
            ' ' => "  ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[test]
fn recall_per_category() {
    let s = setup();
    let h = human();
    let long: Vec<(usize, &String)> = s
        .gpt4
        .iter()
        .enumerate()
        .filter(|(_, t)| tokenize(t).len() >= 60)
        .collect();
    assert!(long.len() >= 30);
    let cat = |f: &dyn Fn(usize, &str) -> String| -> Vec<(String, usize)> {
        long.iter().map(|(i, t)| (f(*i, t), *i)).collect()
    };
    let verbatim = cat(&|_, t| t.to_string());
    let half = cat(&|_, t| {
        t[..t.len() / 2
            - t[..t.len() / 2]
                .chars()
                .last()
                .map_or(0, |c| c.len_utf8() - 1)]
            .to_string()
    });
    let embedded = cat(&|i, t| format!("{}\n\n{}\n\n{}", h[i % h.len()], t, h[(i + 7) % h.len()]));
    let edited = cat(&|i, t| edit_words(t, 0.10, i as u64 + 1));
    let stripped = cat(&|_, t| strip_markdown(t));
    let disguised = cat(&|_, t| disguise(t));
    let zh: Vec<(String, usize)> =
        s.zh.iter()
            .enumerate()
            .map(|(i, t)| (format!("{}{}", h[i % h.len()], t), s.gpt4.len() + i))
            .collect();
    // Converted to Traditional script by OpenCC's C++ library (the Python
    // package), not by the crate the tokenizer folds with.
    let traditional = load("alpaca_zh_outputs_traditional.json");
    let script = |conv: &str| -> Vec<(String, usize)> {
        traditional
            .iter()
            .enumerate()
            .map(|(i, v)| (v[conv].as_str().unwrap().to_string(), s.gpt4.len() + i))
            .collect()
    };
    let results = [
        ("verbatim", recall(&s, &verbatim), 1.0),
        ("first half", recall(&s, &half), 0.95),
        ("inside a human document", recall(&s, &embedded), 1.0),
        ("10% of words changed", recall(&s, &edited), 0.9),
        (
            "Markdown and white space stripped",
            recall(&s, &stripped),
            1.0,
        ),
        (
            "look-alike letters and zero-width spaces",
            recall(&s, &disguised),
            1.0,
        ),
        ("Chinese, after human text", recall(&s, &zh), 1.0),
        (
            "Chinese converted to Traditional (OpenCC s2t)",
            recall(&s, &script("s2t")),
            1.0,
        ),
        (
            "Chinese converted to Taiwan Traditional (s2tw)",
            recall(&s, &script("s2tw")),
            1.0,
        ),
        (
            "Chinese converted to Hong Kong Traditional (s2hk)",
            recall(&s, &script("s2hk")),
            1.0,
        ),
        (
            "Chinese to Taiwan Traditional with Taiwan words (s2twp)",
            recall(&s, &script("s2twp")),
            0.95,
        ),
    ];
    let table: String = results
        .iter()
        .map(|(n, r, min)| format!("{n:<45} recall {r:.3} (at least {min})\n"))
        .collect();
    eprintln!("{table}");
    for (n, r, min) in results {
        assert!(r >= min, "{n}: recall {r:.3} below {min}\n{table}");
    }
}

#[test]
fn no_false_positives_on_human_text_and_other_models() {
    let s = setup();
    let human_fp = human().iter().filter(|d| s.index.query(d).flagged).count();
    assert_eq!(human_fp, 0, "human web text flagged");
    let claude = outputs("claude3_outputs.json");
    let fp: Vec<usize> = claude
        .iter()
        .enumerate()
        .filter(|(_, d)| s.index.query(d).flagged)
        .map(|(i, _)| i)
        .collect();
    // Other models answering the same instructions share stock phrases,
    // not runs of 20 tokens: at most one in forty may be flagged.
    assert!(
        fp.len() <= 1,
        "Claude's answers to the same instructions flagged: {fp:?}"
    );
}

#[test]
fn spans_map_to_the_right_bytes() {
    let s = setup();
    let h = human();
    let t = &s.gpt4[0];
    let doc = format!("{} {} {}", h[0], t, h[1]);
    let r = s.index.query(&doc);
    assert_eq!(r.spans.len(), 1);
    let (a, b) = r.spans[0];
    let start = h[0].len() + 1;
    // The span covers the reference's tokens exactly: from its first
    // character to its last word character.
    assert_eq!(a, start);
    assert_eq!(
        &doc[a..b],
        t.trim_end_matches(|c: char| !c.is_alphanumeric())
    );
}
