//! Precision and recall per entity type on the labelled evaluation set
//! (`evalset`, fixed seed, English and Chinese), and no look-alike flagged.
//! Thresholds are in `docs/desensitization.md`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use std::collections::BTreeMap;

use proviso_redact::evalset::generate;
use proviso_redact::{EntityKind, RedactConfig, Redactor};

fn base() -> (Vec<String>, Vec<String>) {
    let en: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../../../tests/fixtures/gpt4_outputs.json")).unwrap();
    let en = en
        .iter()
        .map(|v| v["output"].as_str().unwrap().to_string())
        .collect();
    let zh: Vec<String> =
        serde_json::from_str(include_str!("../../../tests/fixtures/chinese_reviews.json")).unwrap();
    (en, zh)
}

#[test]
fn precision_and_recall_per_type() {
    let (en, zh) = base();
    let docs = generate(20261124, 600, &en, &zh);
    let r = Redactor::new(RedactConfig::default()).unwrap();
    // (true positives, false positives, false negatives, look-alikes flagged, look-alikes)
    let mut stats: BTreeMap<EntityKind, [usize; 5]> = BTreeMap::new();
    for d in &docs {
        let found = r.find(&d.text, None);
        for p in &d.planted {
            let hit = found
                .iter()
                .any(|f| f.kind == p.kind && f.start == p.start && f.end == p.end);
            let s = stats.entry(p.kind).or_default();
            if p.valid {
                if hit { s[0] += 1 } else { s[2] += 1 }
            } else {
                s[4] += 1;
                if found
                    .iter()
                    .any(|f| f.kind == p.kind && f.start < p.end && p.start < f.end)
                {
                    s[3] += 1;
                }
            }
        }
        for f in &found {
            let planted = d
                .planted
                .iter()
                .any(|p| p.valid && f.kind == p.kind && f.start == p.start && f.end == p.end);
            if !planted {
                stats.entry(f.kind).or_default()[1] += 1;
            }
        }
    }
    let mut report = String::new();
    for (k, [tp, fp, fn_, bad, looks]) in &stats {
        let p = *tp as f64 / (tp + fp).max(1) as f64;
        let rc = *tp as f64 / (tp + fn_).max(1) as f64;
        report.push_str(&format!("{k:<16} tp {tp:>4} fp {fp:>3} fn {fn_:>3}  precision {p:.3} recall {rc:.3}  look-alikes flagged {bad}/{looks}\n"));
    }
    eprintln!("{report}");
    assert_eq!(stats.len(), EntityKind::ALL.len(), "every type planted");
    for (k, [tp, fp, fn_, bad, _]) in &stats {
        let p = *tp as f64 / (tp + fp).max(1) as f64;
        let rc = *tp as f64 / (tp + fn_).max(1) as f64;
        assert!(*tp >= 20, "{k}: too few planted to measure");
        assert!(p >= 0.95, "{k}: precision {p:.3} below 0.95\n{report}");
        assert!(rc >= 0.95, "{k}: recall {rc:.3} below 0.95\n{report}");
        assert_eq!(
            *bad, 0,
            "{k}: a look-alike (bad checksum, date or range) was flagged\n{report}"
        );
    }
}

#[test]
fn generator_is_deterministic() {
    let (en, zh) = base();
    let a = generate(7, 20, &en, &zh);
    let b = generate(7, 20, &en, &zh);
    assert_eq!(
        a.iter().map(|d| d.text.clone()).collect::<Vec<_>>(),
        b.iter().map(|d| d.text.clone()).collect::<Vec<_>>()
    );
    assert!(
        a.iter().any(|d| d.lang == "zh") && a.iter().any(|d| d.planted.iter().any(|p| !p.valid))
    );
}
