//! Signatures per second of our MinHash (one-permutation hashing with
//! densification, 128 values) over pre-made shingles: each document is a
//! list of shingle strings, hashed with xxh3 and signed, one thread.
//! Usage: minhash SHINGLES.json (a JSON array of arrays of strings)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::time::Instant;

use proviso_index::MinHasher;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: minhash SHINGLES.json");
    let docs: Vec<Vec<String>> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let m = MinHasher::new(128);
    let bytes: usize = docs.iter().flatten().map(String::len).sum();
    let mut best = f64::MAX;
    let mut check = 0u64;
    let mut hashes: Vec<u64> = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        for d in &docs {
            hashes.clear();
            hashes.extend(
                d.iter().map(|s| {
                    xxhash_rust::xxh3::xxh3_64_with_seed(s.as_bytes(), proviso_index::SEED)
                }),
            );
            let sig = m.signature(&hashes);
            check = check.wrapping_add(u64::from(sig[0]));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{{\"docs\": {}, \"seconds\": {best}, \"sig_per_s\": {}, \"mb_per_s\": {}, \"check\": {check}}}",
        docs.len(),
        docs.len() as f64 / best,
        bytes as f64 / 1e6 / best
    );
}
