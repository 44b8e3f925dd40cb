//! Throughput, latency and F1 of the recognisers on the labelled
//! evaluation set; also writes the set as JSON lines for the Presidio side
//! of `bench/redact.sh`. Usage: redact_throughput OUT.jsonl [DOCS]

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use proviso_redact::evalset::generate;
use proviso_redact::{EntityKind, RedactConfig, Redactor, Session};

fn main() {
    let out = std::env::args()
        .nth(1)
        .expect("usage: redact_throughput OUT.jsonl [DOCS]");
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(900);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/");
    let en: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{root}gpt4_outputs.json")).unwrap())
            .unwrap();
    let en: Vec<String> = en
        .iter()
        .map(|v| v["output"].as_str().unwrap().to_string())
        .collect();
    let zh: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}chinese_reviews.json")).unwrap(),
    )
    .unwrap();
    let docs = generate(20261124, n, &en, &zh);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
    for d in &docs {
        writeln!(f, "{}", serde_json::to_string(d).unwrap()).unwrap();
    }
    f.flush().unwrap();
    let bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let r = Redactor::new(RedactConfig::default()).unwrap();
    // Throughput: several passes over the set, best of 5.
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut count = 0;
        for d in &docs {
            count += r
                .redact(&d.text, None, &mut Session::default())
                .findings
                .len();
        }
        assert!(count > 0);
        best = best.min(t.elapsed().as_secs_f64());
    }
    // Latency of one 4 KB prompt (documents cut to 4096 bytes).
    let mut lat = Vec::new();
    for _ in 0..20 {
        for d in docs.iter().filter(|d| d.text.len() >= 3000) {
            let mut cut = d.text.len().min(4096);
            while !d.text.is_char_boundary(cut) {
                cut -= 1;
            }
            let t = Instant::now();
            let _ = r.redact(&d.text[..cut], None, &mut Session::default());
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    // F1 per type with exact spans.
    let mut s: BTreeMap<EntityKind, [usize; 3]> = BTreeMap::new();
    for d in &docs {
        let found = r.find(&d.text, None);
        for pl in d.planted.iter().filter(|p| p.valid) {
            let hit = found
                .iter()
                .any(|x| x.kind == pl.kind && x.start == pl.start && x.end == pl.end);
            s.entry(pl.kind).or_default()[if hit { 0 } else { 2 }] += 1;
        }
        for x in &found {
            if !d
                .planted
                .iter()
                .any(|p| p.valid && p.kind == x.kind && p.start == x.start && p.end == x.end)
            {
                s.entry(x.kind).or_default()[1] += 1;
            }
        }
    }
    println!(
        "{{\"docs\": {}, \"bytes\": {bytes}, \"seconds\": {best}, \"mb_per_s\": {}, \"p50_us_4k\": {}, \"p99_us_4k\": {}, \"f1\": {{{}}}}}",
        docs.len(),
        bytes as f64 / 1e6 / best,
        p(0.5),
        p(0.99),
        s.iter()
            .map(|(k, [tp, fp, fnn])| {
                let f1 = 2.0 * *tp as f64 / (2 * tp + fp + fnn).max(1) as f64;
                format!("\"{}\": {f1:.4}", k.name())
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
}
