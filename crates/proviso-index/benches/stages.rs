//! Where a full scan's time goes, one thread: the documents of a JSON-lines
//! training set (field `text`) are read into memory, then timed through
//! each stage of a look-up in turn (tokens, and tokens as tokenizer
//! version 1 made them, without script folding; tokens and winnowed
//! fingerprints; and the MinHash signature; the whole query against the
//! index's segments, with and without alignment of short seeds). Each
//! line gives MB/s of document text.
//! Usage: stages INDEX_DIR TRAIN.jsonl [MB]   (default 100 MB of documents)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::io::BufRead;
use std::time::Instant;

use proviso_index::{
    IndexSet, MinHasher, read_segment, shingles, tokenize, tokenize_version, winnow,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: stages INDEX_DIR TRAIN.jsonl [MB]");
    let train = args
        .next()
        .expect("usage: stages INDEX_DIR TRAIN.jsonl [MB]");
    let mb: usize = args.next().map_or(100, |s| s.parse().unwrap());
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pvx"))
        .collect();
    paths.sort();
    let mut set = IndexSet::new(paths.iter().map(|p| read_segment(p).unwrap()).collect()).unwrap();
    // The directory's background, when it has one, as `proviso audit`
    // would use it.
    if let Ok(b) = std::fs::read(std::path::Path::new(&dir).join("background.pvb")) {
        set.set_background(Some(proviso_index::Background::from_bytes(&b).unwrap()))
            .unwrap();
    }
    let p = set.params().unwrap().clone();
    let mut docs: Vec<String> = Vec::new();
    let mut bytes = 0usize;
    for line in std::io::BufReader::new(std::fs::File::open(train).unwrap()).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let t = v["text"].as_str().unwrap_or("").to_string();
        bytes += t.len();
        docs.push(t);
        if bytes >= mb << 20 {
            break;
        }
    }
    let hasher = MinHasher::new(p.num_perm);
    // STAGES=NAME times only the stages whose name starts with NAME (for a
    // profiler).
    let only = std::env::var("STAGES").unwrap_or_default();
    let time = |name: &str, f: &dyn Fn(&str) -> u64| {
        if !name.starts_with(&only) {
            return;
        }
        let t = Instant::now();
        let check = docs.iter().fold(0u64, |a, d| a.wrapping_add(f(d)));
        let s = t.elapsed().as_secs_f64();
        println!(
            "{name:<36} {:>8.1} MB/s  {:>8.0} docs/s  (check {check})",
            bytes as f64 / 1e6 / s,
            docs.len() as f64 / s
        );
    };
    println!(
        "{} documents, {:.1} MB, {} references in {} segments, background of {} phrases",
        docs.len(),
        bytes as f64 / 1e6,
        set.len(),
        set.segments().len(),
        set.background().map_or(0, proviso_index::Background::len)
    );
    // One untimed pass first: the script table is built on the first Han
    // character, and the first pass over fresh memory pays page faults.
    let warm = docs.iter().map(|d| tokenize(d).len()).sum::<usize>();
    std::hint::black_box(warm);
    {
        // The checks are sums of what each stage computed, to compare a
        // change that must not change the results.
        time("tokens", &|d| {
            tokenize(d).iter().fold(0u64, |a, t| {
                a.wrapping_mul(31)
                    .wrapping_add(t.hash ^ u64::from(t.start) << 32 ^ u64::from(t.end))
            })
        });
        // The same tokens as tokenizer version 1 made them (no Traditional
        // to Simplified folding): the folding's cost is the difference.
        time("tokens (version 1: no script folding)", &|d| {
            tokenize_version(d, 1).iter().fold(0u64, |a, t| {
                a.wrapping_mul(31)
                    .wrapping_add(t.hash ^ u64::from(t.start) << 32 ^ u64::from(t.end))
            })
        });
        time("tokens + fingerprints", &|d| {
            let t = tokenize(d);
            winnow(&shingles(&t, p.k), p.w).iter().fold(0u64, |a, f| {
                a.wrapping_mul(31).wrapping_add(f.0 ^ u64::from(f.1))
            })
        });
        time("tokens + fingerprints + signature", &|d| {
            let t = tokenize(d);
            let f = winnow(&shingles(&t, p.k), p.w).len() as u64;
            f + u64::from(hasher.signature(&MinHasher::shingle_set(&t))[0])
        });
    }
    time("query", &|d| look_up(&set, d));
    time("query (again: index pages warm)", &|d| look_up(&set, d));
    // Without alignment of short seeds: its cost is the difference.
    let mut plain = set;
    plain.set_alignment(proviso_index::Alignment::Off);
    time("query (no alignment)", &|d| look_up(&plain, d));
}

/// A look-up, and a check that covers what it found: the matches (their
/// references, runs, coverage, Jaccard and spans, in order), not only
/// whether the document is flagged.
fn look_up(set: &IndexSet, d: &str) -> u64 {
    let r = set.query(d);
    let mut h = r.tokens as u64 ^ u64::from(r.flagged) << 40 ^ r.covered.to_bits();
    for m in &r.matches {
        h = h.wrapping_mul(31).wrapping_add(
            u64::from(m.reference)
                ^ (m.longest_run as u64) << 32
                ^ m.reference_coverage.to_bits().rotate_left(7)
                ^ m.jaccard.to_bits().rotate_left(13),
        );
        for s in &m.spans {
            h = h
                .wrapping_mul(31)
                .wrapping_add((s.0 as u64) << 32 | s.1 as u64);
        }
    }
    h
}
