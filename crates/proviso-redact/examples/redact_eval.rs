//! Scores the recognisers on a labelled set made by
//! `bench/redact_eval/gen.py`: per type and split, recall, look-alike false
//! positives and precision with 95% intervals and sample sizes, and what
//! was missed or wrongly flagged, by notation. JSON on the last line.
//!
//! `cargo run --release -p proviso-redact --example redact_eval -- FILE [SPLIT]`

use proviso_redact::score::{score_jsonl, wilson};
use proviso_redact::{RedactConfig, Redactor};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or("usage: redact_eval FILE [tune|test]")?;
    let split = args.get(2).map(String::as_str);
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let r = Redactor::new(RedactConfig::default()).map_err(|e| e.to_string())?;
    // `SPEED=1`: the time each type's recogniser takes over the documents.
    if std::env::var("SPEED").is_ok() {
        let docs: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["text"].as_str().map(str::to_owned))
            .collect();
        let bytes: usize = docs.iter().map(String::len).sum();
        for k in proviso_redact::EntityKind::ALL {
            let t0 = std::time::Instant::now();
            for d in &docs {
                std::hint::black_box(r.find(d, Some(&[k])));
            }
            let s = t0.elapsed().as_secs_f64();
            println!("{:<16} {:>8.1} MB/s", k.name(), bytes as f64 / 1e6 / s);
        }
        let t0 = std::time::Instant::now();
        for d in &docs {
            std::hint::black_box(r.find(d, None));
        }
        println!(
            "all              {:>8.1} MB/s",
            bytes as f64 / 1e6 / t0.elapsed().as_secs_f64()
        );
    }
    let t0 = std::time::Instant::now();
    let s = score_jsonl(&r, &text, split)?;
    let secs = t0.elapsed().as_secs_f64();
    // `CARRIER=1` lists findings outside the planted item.
    if std::env::var("CARRIER").is_ok() {
        for line in text.lines() {
            let d: proviso_redact::score::Labelled =
                serde_json::from_str(line).map_err(|e| e.to_string())?;
            for f in r.find(&d.text, None) {
                if f.end <= d.start || f.start >= d.end {
                    println!("CARRIER {}: {:?}", f.kind.name(), &d.text[f.start..f.end]);
                }
            }
        }
    }
    // `SHOW=kind` lists that kind's misses and flagged look-alikes.
    if let Ok(kind) = std::env::var("SHOW") {
        for line in text.lines() {
            let d: proviso_redact::score::Labelled =
                serde_json::from_str(line).map_err(|e| e.to_string())?;
            if d.kind != kind || split.is_some_and(|s| s != d.split) {
                continue;
            }
            let mut one = proviso_redact::score::Score::default();
            proviso_redact::score::add(&mut one, &r, &d);
            let t = &one.types[&d.kind];
            if (d.valid && t.recalled == 0) || (!d.valid && t.lookalikes_flagged > 0) {
                {
                    let found: Vec<String> = r
                        .find(&d.text, None)
                        .iter()
                        .map(|f| format!("{}:{:?}", f.kind.name(), &d.text[f.start..f.end]))
                        .collect();
                    println!(
                        "{} {:?} [{}] {:?} found {:?}",
                        if d.valid { "MISSED" } else { "FLAGGED" },
                        &d.text[d.start..d.end],
                        d.notation,
                        d.text[..d.start]
                            .chars()
                            .rev()
                            .take(12)
                            .collect::<String>()
                            .chars()
                            .rev()
                            .collect::<String>(),
                        found
                    );
                }
            }
        }
    }
    println!(
        "{:<16} {:>5} {:>20} {:>5} {:>20} {:>9}",
        "type", "n", "recall [95% CI]", "n", "look-alike FP [CI]", "precision"
    );
    for (kind, t) in &s.types {
        let (rl, rh) = wilson(t.recalled, t.positives);
        let (fl, fh) = wilson(t.lookalikes_flagged, t.lookalikes);
        println!(
            "{kind:<16} {:>5} {:>6.3} [{rl:.3}, {rh:.3}] {:>5} {:>6.3} [{fl:.3}, {fh:.3}] {:>9.3}",
            t.positives,
            t.recall(),
            t.lookalikes,
            t.lookalike_fp(),
            t.precision()
        );
        if !t.missed.is_empty() {
            println!("    missed: {:?}", t.missed);
        }
        if !t.flagged.is_empty() {
            println!("    flagged: {:?}", t.flagged);
        }
    }
    println!(
        "carrier text touched in {} of {} documents",
        s.carrier_docs_touched, s.docs
    );
    let mut v = serde_json::to_value(&s).map_err(|e| e.to_string())?;
    // Throughput over the whole file's bytes (every line is parsed; the
    // split's documents are scanned).
    v["seconds"] = serde_json::json!(secs);
    println!("{v}");
    Ok(())
}
