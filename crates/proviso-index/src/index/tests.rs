//! The index's unit tests (look-ups, older formats, merges, references).

#![allow(clippy::unwrap_used)]

use super::build::fingerprint_one;
use super::query::chain_runs;
use super::*;
use crate::tokenize;

/// The guessed and galloping look-up finds exactly the positions of a
/// key, present or not, on uniform keys, clustered keys, and keys
/// repeated thousands of times (a sentence in many references).
#[test]
fn look_ups_find_every_position_of_a_key() {
    let mut x = 99u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut keys: Vec<u64> = (0..20_000).map(|_| next()).collect();
    keys.extend(std::iter::repeat_n(keys[7], 3_000));
    keys.extend((0..2_000u64).map(|i| (5 << 60) + i * 3)); // clustered
    keys.extend([0, 0, u64::MAX, u64::MAX]);
    let exact: Vec<(u64, u32, u32)> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, 0, i as u32))
        .collect();
    let ix = Index::assemble(Contents {
        params: Params::default(),
        refs: vec![Reference::file("t", 1)],
        exact,
        sigs: vec![0; 128],
        tok_start: vec![0],
        ..Contents::default()
    })
    .unwrap();
    assert!(ix.dir_bits < 14, "a bucket per 64 keys, not per key");
    assert_eq!(
        ix.count(store::POSTINGS, 8),
        3_001 + 2 + 2,
        "repeated keys are grouped"
    );
    let mut probes: Vec<u64> = keys.iter().step_by(7).copied().collect();
    probes.extend((0..3_000).map(|_| next()));
    probes.extend([
        1,
        u64::MAX - 1,
        (5 << 60) + 1,
        (5 << 60) + 3,
        keys[7] + 1,
        keys[7] - 1,
    ]);
    let mut found = vec![0..7, 1..2]; // replaced, not added to
    ix.find_many(
        store::EXACT,
        store::EXACT_DIR,
        ix.dir_bits,
        &probes,
        &mut found,
    );
    let mut at: std::collections::HashMap<u64, Vec<u32>> = Default::default();
    for (i, k) in keys.iter().enumerate() {
        at.entry(*k).or_default().push(i as u32);
    }
    for (k, r) in probes.iter().zip(found.iter().cloned()) {
        let mut want = at.get(k).cloned().unwrap_or_default();
        let mut got: Vec<u32> = r.flat_map(|i| ix.postings(i)).map(|p| p.1).collect();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "key {k:#x}");
    }
    // Mapped from its file, the segment reads its directories from
    // copies in memory (the same bytes) and finds the same positions.
    let dir = std::env::temp_dir().join(format!("pvx-hot-{}", std::process::id()));
    let path = dir.join("a.pvx");
    crate::write_segment(&ix, &path).unwrap();
    let mapped = crate::read_segment(&path).unwrap();
    assert!(mapped.is_mapped() && ix.hot.iter().all(Option::is_none));
    for i in 0..store::SECTIONS {
        let (o, l) = mapped.sec[i];
        let copied = mapped.hot[i].as_deref();
        let dir = i == store::EXACT_DIR || i == store::BAND_DIR;
        assert_eq!(copied.is_some(), dir, "section {i}");
        assert_eq!(mapped.section(i), &mapped.bytes()[o..o + l]);
    }
    let mut again = Vec::new();
    mapped.find_many(
        store::EXACT,
        store::EXACT_DIR,
        mapped.dir_bits,
        &probes,
        &mut again,
    );
    assert_eq!(again, found);
    let _ = std::fs::remove_dir_all(dir);
}

/// A segment of an older format (2, or 3 with `spread` keys) holding
/// `text` as `r`, laid out as that format's writer laid it out.
fn assemble_old(
    p: &Params,
    version: u32,
    text: &str,
    mut r: Reference,
    key: fn(u64) -> u64,
) -> Index {
    let parts = fingerprint_one(p, &MinHasher::new(p.num_perm), text, None);
    r.tokens = parts.toks.len() as u32;
    Index::assemble_as(
        version,
        Contents {
            params: p.clone(),
            refs: vec![r],
            exact: parts
                .exact
                .iter()
                .map(|&(h, pos)| (key(h), 0, pos))
                .collect(),
            bands: parts.bands.iter().map(|&k| (k, 0)).collect(),
            sigs: parts.sig,
            tok_start: vec![0],
            toks: parts.toks,
        },
    )
    .unwrap()
}

/// Writes the golden segments of formats 2 and 3 into `tests/compat/`
/// (see `tests/compat.rs`); run by hand, with `--ignored`, only when a
/// format is added, beside the old files, never over them.
#[test]
#[ignore = "writes golden files"]
fn write_golden_segments_2_and_3() {
    let p = Params::default();
    let text = crate::segment::tests::GOLDEN_TEXT;
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat"));
    for (version, key) in [
        (2u32, (|h| h) as fn(u64) -> u64),
        (3, crate::fingerprint::spread),
    ] {
        let idx = assemble_old(&p, version, text, Reference::file("old.jsonl", 5), key);
        let path = dir.join(format!("segment-v{version}.pvx"));
        assert!(!path.exists(), "never overwrite a golden file");
        std::fs::write(path, idx.bytes()).unwrap();
    }
}

/// Format 2 stored fingerprints under their own value, format 3 had
/// directories without filters: such segments are still queried as
/// they are, alone or beside the newest format, and merging rewrites
/// them in it.
#[test]
fn older_formats_are_read_and_merged() {
    let p = Params::default();
    let a = "the committee met on tuesday to review the annual budget and decided that the library would stay open on sundays through the winter months";
    let b = "photosynthesis turns light water and carbon dioxide into sugar and oxygen inside the chloroplasts of green plants and many kinds of algae";
    let c = "the river flooded the lower town twice that spring and the council voted to raise the embankment before the autumn rains came again";
    // Format 2 (or 3: fingerprints under spread keys, directories
    // without filters) of one text.
    let old = |version: u32, text: &str, key: fn(u64) -> u64| {
        assemble_old(&p, version, text, Reference::file("old.jsonl", 1), key)
    };
    let v2 = || old(2, a, |h| h);
    let v3 = || old(3, c, crate::fingerprint::spread);
    let v4 = || {
        let mut nb = IndexBuilder::new(p.clone());
        nb.add(b, Reference::file("new.jsonl", 1));
        nb.build().unwrap()
    };
    assert!(!v2().spread() && !v2().filtered());
    assert!(v3().spread() && !v3().filtered());
    assert!(v4().spread() && v4().filtered());
    assert_eq!(store::u32_at(v2().bytes(), 8), 2);
    assert_eq!(store::u32_at(v3().bytes(), 8), 3);
    let doc3 = format!("Before. {c}. After.");
    assert_eq!(v3().query(&doc3).longest_run, tokenize(c).len());
    let set = IndexSet::new(vec![v3(), v4()]).unwrap();
    assert!(set.query(&doc3).flagged);
    let merged = Index::merge(vec![v3(), v4()]).unwrap();
    assert!(merged.filtered());
    assert_eq!(merged.query(&doc3).longest_run, tokenize(c).len());
    let doc = format!("Some words first. {a}. Then more. {b}. The end.");
    let alone = v2().query(&doc);
    assert!(alone.flagged);
    assert_eq!(alone.longest_run, tokenize(a).len());
    let refs = |r: &QueryResult| {
        let mut v: Vec<u32> = r.matches.iter().map(|m| m.reference).collect();
        v.sort_unstable();
        v
    };
    let set = IndexSet::new(vec![v2(), v4()]).unwrap();
    assert_eq!(refs(&set.query(&doc)), vec![0, 1]);
    let merged = Index::merge(vec![v2(), v4()]).unwrap();
    assert!(merged.spread());
    assert_eq!(
        store::u32_at(merged.bytes(), 8),
        crate::store::FORMAT_VERSION
    );
    let q = merged.query(&doc);
    assert_eq!(refs(&q), vec![0, 1]);
    assert!(q.matches.iter().all(|m| m.kind == "exact"));
}

/// The references of a segment's JSON, made whole.
fn refs_from_json(json: &[u8]) -> Result<Vec<Reference>, String> {
    RefTable::from_json(json).map(|t| t.all())
}

/// References are stored with each source once, and read back whole
/// (ledger fields, escaped strings, unknown keys ignored, the keys in
/// any order); the plain array written before is still read; a source
/// number past the list, a missing part or a reference of the wrong
/// shape is an error, not a guess.
#[test]
fn references_store_each_source_once() {
    let mut refs: Vec<Reference> = (1..=1000)
        .map(|i| Reference::file("/data/a/very/long/path/to/outputs.jsonl", i))
        .collect();
    refs.push(Reference {
        source: "ledger".into(),
        record_id: Some("01J".into()),
        team: Some("research".into()),
        ..Reference::default()
    });
    refs.push(Reference {
        source: "C:\\data\\\"quoted\".jsonl".into(),
        row: Some(7),
        record_id: Some("01K".into()),
        key_id: Some("key-\u{e9}".into()),
        team: Some("t\nnewline".into()),
        model: Some("gpt-4o".into()),
        time: Some("2026-12-02T12:00:00Z".into()),
        tokens: 12,
    });
    refs.push(Reference::file(
        "/data/a/very/long/path/to/outputs.jsonl",
        1001,
    ));
    assert_eq!(RefTable::from_refs(refs.clone()).all(), refs);
    let json = RefTable::from_refs(refs.clone()).to_json().unwrap();
    assert_eq!(refs_from_json(&json).unwrap(), refs);
    assert!(
        json.len() < 1000 * 30,
        "{} bytes: the path is stored once",
        json.len()
    );
    let plain = serde_json::to_vec(&refs).unwrap();
    assert_eq!(refs_from_json(&plain).unwrap(), refs);
    let bad = br#"{"sources":["a"],"source_of":[3],"refs":[{"row":1,"tokens":0}]}"#;
    assert!(refs_from_json(bad).unwrap_err().contains("source number"));
    let short = br#"{"sources":["a"],"source_of":[],"refs":[{"row":1,"tokens":0}]}"#;
    assert!(refs_from_json(short).is_err());
    let reordered = br#"{"refs":[{"tokens":3,"row":2,"extra":[1]}],"other":{},"source_of":[0],"sources":["a"]}"#;
    assert_eq!(
        refs_from_json(reordered).unwrap(),
        vec![Reference {
            tokens: 3,
            ..Reference::file("a", 2)
        }]
    );
    for bad in [
        &br#"{"sources":["a"],"source_of":[0]}"#[..],
        br#"{"sources":["a"],"refs":[{"row":1}]}"#,
        br#"{"sources":["a"],"source_of":[0],"refs":[{"row":"one"}]}"#,
        br#"{"sources":["a"],"source_of":[0],"refs":[{"row":1}]} trailing"#,
        br#"{"sources":["a"],"source_of":[0],"refs":[{"row":1}"#,
    ] {
        assert!(
            refs_from_json(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

/// Chaining hits through the hash table gives the runs that sorting
/// the hits and chaining them in order gives, over many documents of
/// hits with few references and diagonals (many chains and gaps) and
/// with many (few collisions).
#[test]
fn chained_runs_are_those_of_sorted_hits() {
    let mut x = 0x1234_5678_9ABC_DEF0u64;
    let mut next = |m: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % m
    };
    let (mut slots, mut runs) = (Vec::new(), Vec::new());
    for case in 0..300 {
        let spread = [3u64, 40, 100_000][case % 3];
        let mut hits = Vec::new();
        let mut pos = 0u32;
        for _ in 0..next(400) {
            pos += 1 + next(6) as u32;
            for _ in 0..next(5) {
                let r = next(spread) as u32;
                let rpos = next(spread.min(50)) as i64;
                hits.push((r, rpos - i64::from(pos), pos));
            }
        }
        hits.dedup();
        let w = 1 + next(9) as u32;
        let mut sorted = hits.clone();
        sorted.sort_unstable();
        let mut want: Vec<(u32, i64, u32, u32)> = Vec::new();
        for &(r, d, p) in &sorted {
            match want.last_mut() {
                Some(l) if l.0 == r && l.1 == d && l.3 + w >= p => l.3 = p,
                _ => want.push((r, d, p, p)),
            }
        }
        chain_runs(&hits, w, &mut slots, &mut runs);
        assert_eq!(runs, want, "case {case}");
    }
}

/// The pipeline asks far, then near, then works, for every item once
/// and in order, however many items there are.
#[test]
fn pipeline_visits_every_item_in_order() {
    for (n, ahead) in [0usize, 1, 3, 5, 40, 100]
        .into_iter()
        .flat_map(|n| [(n, 2), (n, 16), (n, 32)])
    {
        let log = std::cell::RefCell::new(Vec::new());
        pipeline(
            n,
            ahead,
            |i| log.borrow_mut().push(('f', i)),
            |i| {
                log.borrow_mut().push(('n', i));
                i * 10
            },
            |i, m| {
                assert_eq!(m, i * 10);
                log.borrow_mut().push(('w', i));
            },
        );
        let log = log.into_inner();
        let at = |e| log.iter().position(|x| *x == e).unwrap();
        for i in 0..n {
            assert!(
                at(('f', i)) < at(('n', i)) && at(('n', i)) < at(('w', i)),
                "n {n} item {i}"
            );
        }
        let worked: Vec<usize> = log.iter().filter(|e| e.0 == 'w').map(|e| e.1).collect();
        assert_eq!(worked, (0..n).collect::<Vec<_>>());
        assert_eq!(log.len(), 3 * n);
    }
}

/// A merge that cannot be done says why; it never yields an empty
/// index in place of the segments.
#[test]
fn merges_that_cannot_be_done_are_errors() {
    assert!(matches!(
        Index::merge(Vec::new()),
        Err(IndexError::Build(_))
    ));
    let one = |params: Params| {
        let mut b = IndexBuilder::new(params);
        b.add(
            "alpha beta gamma delta epsilon zeta eta theta iota kappa",
            Reference::file("f", 1),
        );
        b.build().unwrap()
    };
    let other = Params {
        min_run: 30,
        ..Params::default()
    };
    let e = Index::merge(vec![one(Params::default()), one(other)]).unwrap_err();
    assert!(matches!(e, IndexError::ParamsDiffer));
    assert!(e.to_string().contains("different parameters"));
    assert_eq!(
        Index::merge(vec![one(Params::default()), one(Params::default())])
            .unwrap()
            .len(),
        2
    );
}

/// Adding in parallel gives the very same segment as adding one by one.
#[test]
fn add_all_is_add_in_order() {
    let texts: Vec<String> = (0..300)
        .map(|i| {
            (0..(5 + i % 40))
                .map(|w| format!("t{}w{w}", i % 17))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mut one = IndexBuilder::new(Params::default());
    one.add("already here first", Reference::file("a", 1));
    let mut all = IndexBuilder::new(Params::default());
    all.add("already here first", Reference::file("a", 1));
    for (i, t) in texts.iter().enumerate() {
        one.add(t, Reference::file("f", i as u64));
    }
    all.add_all(
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), Reference::file("f", i as u64)))
            .collect(),
    );
    assert_eq!(one.build().unwrap().bytes(), all.build().unwrap().bytes());
}

/// A stock sentence in every reference: each copy is still attributed
/// to its own reference (through its own text), a document holding
/// only the stock sentence is flagged through the first COMMON
/// references that hold it, not all of them.
#[test]
fn common_text_is_followed_in_a_bounded_number_of_references() {
    let stock = "thank you for your question here is a detailed answer that covers the main points you asked about in order";
    let n = 3 * COMMON;
    let mut b = IndexBuilder::new(Params::default());
    let text = |i: usize| {
        let own: Vec<String> = (0..30).map(|w| format!("own{i}x{w}")).collect();
        format!("{stock} {}", own.join(" "))
    };
    for i in 0..n {
        b.add(&text(i), Reference::file("refs", i as u64 + 1));
    }
    let ix = b.build().unwrap();
    let last = n - 1;
    let r = ix.query(&format!("some human preface. {}", text(last)));
    assert!(r.flagged);
    assert_eq!(
        r.matches[0].reference as usize, last,
        "attributed to its own reference"
    );
    assert_eq!(
        r.longest_run,
        ix.reference(last).unwrap().tokens as usize,
        "the whole reference"
    );
    let r = ix.query(&format!(
        "a forum post quoting: {stock} and nothing else of note"
    ));
    assert!(r.flagged, "the stock sentence is a copied span");
    assert!(r.longest_run >= 20);
    assert!(
        r.matches.len() <= COMMON,
        "{} references followed",
        r.matches.len()
    );
}

/// An index keeps its tokenizer's version and is queried with it: one built
/// before Traditional Chinese was folded matches text as written, a new one
/// matches either script.
#[test]
fn queries_use_the_tokenizer_of_the_index() {
    let simplified = "细胞理论是生物科学的一个理论，它认为所有生命体都是由微小的基本单元细胞所构成，这是生物学的一个基础理论";
    let traditional = "細胞理論是生物科學的一個理論，它認爲所有生命體都是由微小的基本單元細胞所構成，這是生物學的一個基礎理論";
    let built = |tokenizer: u32| {
        let mut b = IndexBuilder::new(Params {
            tokenizer,
            ..Params::default()
        });
        b.add(simplified, Reference::file("zh", 1));
        b.build().unwrap()
    };
    let (old, new) = (built(1), built(crate::TOKENIZER));
    assert!(old.query(simplified).flagged);
    assert!(
        !old.query(traditional).flagged,
        "version 1 reads characters as written"
    );
    assert!(new.query(simplified).flagged);
    assert!(
        new.query(traditional).flagged,
        "version 2 folds Traditional to Simplified"
    );
    let reopened = crate::segment::reopen(new.bytes().to_vec()).unwrap();
    assert_eq!(reopened.params().tokenizer, crate::TOKENIZER);
    assert!(reopened.query(traditional).flagged);
}

/// Text an output repeats from its request (a passage to correct) is no
/// evidence: another answer repeating the same passage is not flagged
/// when the reference was indexed with its request, a copy of the
/// output's own writing still is, and without the request the passage
/// alone flags.
#[test]
fn text_the_request_supplied_is_not_evidence() {
    let passage = "Zinc is an essential mineral that is required for good health and it is involved in many biochemical processes in the body including the growth of cells";
    let own = "The corrected version fixes two errors of agreement and one of punctuation, and I have also rewritten the second clause so that the sentence reads more naturally for a general audience";
    let output = format!("{own}. Here it is: {passage}.");
    let prompt = format!("Correct the grammar of this paragraph: {passage}");
    let mut with = IndexBuilder::new(Params::default());
    with.add_with_prompt(&output, &prompt, Reference::file("refs", 1));
    let with = with.build().unwrap();
    let mut without = IndexBuilder::new(Params::default());
    without.add(&output, Reference::file("refs", 1));
    let without = without.build().unwrap();
    let other_answer = format!("Sure! {passage}. Let me know if you need anything else.");
    assert!(without.query(&other_answer).flagged);
    let r = with.query(&other_answer);
    assert!(!r.flagged, "{r:?}");
    let copy = format!("From a forum: {own}.");
    let r = with.query(&copy);
    assert!(r.flagged && r.longest_run >= 20, "{r:?}");
    // A copy of the whole output: its own part is what matches, and the
    // run stops where the supplied passage starts.
    let r = with.query(&output);
    assert!(r.flagged);
    assert!(r.longest_run < crate::tokenize(&output).len(), "{r:?}");
}

#[test]
fn supplied_marks_runs_of_eight_shared_tokens() {
    let t = crate::tokenize("zero one two three four five six seven eight nine ten");
    let p = crate::tokenize("say: two three four five six seven eight nine, and stop");
    let m = super::build::supplied(&t, &p);
    let want: Vec<bool> = (0..11).map(|i| (2..10).contains(&i)).collect();
    assert_eq!(m, want);
    // Seven in a row is not enough.
    let p = crate::tokenize("two three four five six seven eight");
    assert!(!super::build::supplied(&t, &p).contains(&true));
}

/// A phrase the background holds is no evidence: a run made of stock
/// phrasing stops counting once the background has it, a run of the
/// reference's own writing still counts.
#[test]
fn the_background_discounts_stock_phrasing() {
    let stock = "bring the mixture to a boil then reduce the heat to low cover the pot and let it simmer for about twenty minutes until the rice is tender";
    let own = "my grandmother always added a handful of toasted cumin seeds and a strip of orange peel which is the secret nobody in the village ever guessed, and she would never write the recipe down for anyone, not even for her own daughters";
    let mut b = IndexBuilder::new(Params::default());
    b.add(&format!("{own}. Then {stock}."), Reference::file("refs", 1));
    let mut set = IndexSet::from(b.build().unwrap());
    let other_recipe = format!("For the lentils, {stock}. Serve warm.");
    assert!(set.query(&other_recipe).flagged);
    let mut bg = crate::Background::new(crate::TOKENIZER);
    bg.add_texts(&[format!("A soup: {stock}, then blend.")]);
    set.set_background(Some(bg)).unwrap();
    let r = set.query(&other_recipe);
    assert!(!r.flagged, "{r:?}");
    let r = set.query(&format!("Overheard: {own}."));
    assert!(r.flagged && r.longest_run >= 20, "{r:?}");
    // A background of another tokenizer is refused.
    assert!(set.set_background(Some(crate::Background::new(1))).is_err());
}

/// 150 distinct words: a reference no other text shares by chance.
fn distinct_words(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}{i}w")).collect()
}

/// The alignment across segments: an edited copy of the second segment's
/// reference is found as `aligned`, numbered across segments, each span
/// holding the same words as its reference span; off, it is not found; a
/// verbatim copy is an exact run and is not aligned too.
#[test]
fn an_edited_copy_is_aligned_across_segments() {
    let other = distinct_words("other", 150).join(" ");
    let words = distinct_words("ref", 150);
    let reference = words.join(" ");
    let seg = |t: &str| {
        let mut b = IndexBuilder::new(Params::default());
        b.add(t, Reference::file("refs", 1));
        b.build().unwrap()
    };
    let mut set = IndexSet::new(vec![seg(&other), seg(&reference)]).unwrap();
    // The first 32 words with every 16th replaced (a run of 15: one
    // shared fingerprint), the rest with every 6th (runs of 5: seeds, no
    // fingerprint, and the whole no near duplicate).
    let edited: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if (i < 32 && i % 16 == 15) || (i >= 32 && i % 6 == 5) {
                format!("edit{i}")
            } else {
                w.clone()
            }
        })
        .collect();
    let doc = format!("Some preface. {} And more.", edited.join(" "));
    let r = set.query(&doc);
    assert!(r.flagged && r.longest_run < 20, "{r:?}");
    let m = &r.matches[0];
    assert_eq!((m.kind, m.reference), ("aligned", 1));
    assert!(
        m.significance >= crate::ALIGN_DEFAULT_MIN && m.aligned >= 120,
        "{m:?}"
    );
    assert_eq!(m.spans.len(), m.reference_spans.len());
    assert!(m.spans.len() >= 15);
    let ref_tokens = tokenize(&reference);
    for (&(a, b), &(ra, rb)) in m.spans.iter().zip(&m.reference_spans) {
        let doc_words: Vec<&str> = doc[a..b].split_whitespace().collect();
        let ref_words: Vec<&str> = reference
            [ref_tokens[ra].start as usize..ref_tokens[rb - 1].end as usize]
            .split_whitespace()
            .collect();
        assert_eq!(doc_words, ref_words);
    }
    assert!((0.8..0.9).contains(&m.reference_coverage), "{m:?}");
    set.set_alignment(crate::Alignment::Off);
    assert!(!set.query(&doc).flagged);
    set.set_alignment(crate::Alignment::Default);
    let r = set.query(&format!("x {reference} y"));
    assert_eq!((r.matches[0].kind, r.matches[0].aligned), ("exact", 0));
}

/// With a background, the default threshold is the lower one: a chain
/// between the two is flagged only then.
#[test]
fn a_background_lowers_the_default_threshold() {
    // 50 words (too few for what a document keeps of it to count), the
    // first 16 unchanged (a shared fingerprint), the 17th and 18th
    // replaced, then every 6th (runs of 5: seeds only): a chain spanning
    // the whole reference, about 29.7 bits.
    let words = distinct_words("ref", 50);
    let mut set = one_reference(&words.join(" "));
    let doc = edited_from(&words, 17, 6);
    set.set_alignment(crate::Alignment::AtLeast(f64::MIN));
    let sig = set.query(&doc).matches[0].significance;
    assert!(
        (crate::ALIGN_DEFAULT_MIN_WITH_BACKGROUND..crate::ALIGN_DEFAULT_MIN).contains(&sig),
        "the test needs a chain between the two thresholds: {sig}"
    );
    set.set_alignment(crate::Alignment::Default);
    assert!(!set.query(&doc).flagged);
    let mut bg = crate::Background::new(crate::TOKENIZER);
    bg.add_texts(&["an unrelated text about gardens and weather in the spring".to_string()]);
    set.set_background(Some(bg)).unwrap();
    assert!(set.query(&doc).flagged);
}

/// An index of one reference.
fn one_reference(text: &str) -> IndexSet {
    let mut b = IndexBuilder::new(Params::default());
    b.add(text, Reference::file("refs", 1));
    IndexSet::from(b.build().unwrap())
}

/// `words` with the 16th replaced, then every `every`th word from
/// `intact` on: a first run of 15 (a shared fingerprint), then runs of
/// `every - 1`.
fn edited_from(words: &[String], intact: usize, every: usize) -> String {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i + 1 == intact || (i >= intact && i % every == every - 1) {
                format!("edit{i}")
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `words` with every `n`th replaced (the `n`th, the `2n`th, ...): runs
/// of `n - 1` left.
fn every_nth_replaced(words: &[String], n: usize) -> Vec<String> {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i % n == n - 1 {
                format!("edit{i}")
            } else {
                w.clone()
            }
        })
        .collect()
}

/// One run shorter than 40 tokens over less than a fifth of its
/// reference is what two answers to one question share: alone it matches
/// nothing (and is no chain long enough either); two such runs, or one of
/// 40 tokens, do.
#[test]
fn one_short_shared_run_is_not_evidence_alone() {
    // 400 tokens: two runs of 25, or one of 45, are under a fifth of it.
    let words = distinct_words("ref", 400);
    let set = one_reference(&words.join(" "));
    let own = |tag: &str| distinct_words(tag, 60).join(" ");
    let one = format!("{} {} {}", own("a"), words[50..75].join(" "), own("b"));
    let r = set.query(&one);
    assert!(!r.flagged, "{r:?}");
    let two = format!(
        "{} {} {} {} {}",
        own("a"),
        words[20..45].join(" "),
        own("b"),
        words[120..145].join(" "),
        own("c")
    );
    let r = set.query(&two);
    assert!(r.flagged, "{r:?}");
    assert_eq!((r.matches[0].kind, r.matches[0].spans.len()), ("exact", 2));
    let long = format!("{} {} {}", own("a"), words[50..95].join(" "), own("b"));
    let r = set.query(&long);
    assert!(r.flagged && r.longest_run >= 40, "{r:?}");
    // A sentence the reference says twice, shared once: one run still.
    let said_twice = format!(
        "{} {} {} {}",
        words[..100].join(" "),
        words[200..225].join(" "),
        words[100..200].join(" "),
        words[200..225].join(" ")
    );
    let twice = one_reference(&said_twice);
    let doc = format!("{} {} {}", own("a"), words[200..225].join(" "), own("b"));
    let r = twice.query(&doc);
    assert!(!r.flagged, "{r:?}");
    let mut off = one_reference(&said_twice);
    off.set_alignment(crate::Alignment::AtLeast(f64::MIN));
    assert_eq!(
        off.query(&doc).matches.len(),
        1,
        "the reference is aligned instead"
    );
    // A short reference mostly shared: a fifth of it or more.
    let short = distinct_words("short", 30);
    let set = one_reference(&short.join(" "));
    let r = set.query(&format!("{} {}", own("a"), short[..25].join(" ")));
    assert!(r.flagged && r.matches[0].kind == "exact", "{r:?}");
}

/// A chain must span most of its reference: heavy edits over the whole
/// of it are flagged, the same edits over a part of it (a passage two
/// texts on one subject might share) need 30 bits more.
#[test]
fn a_chain_over_part_of_its_reference_needs_more() {
    let words = distinct_words("ref", 300);
    let mut set = one_reference(&words.join(" "));
    let whole = edited_from(&words, 16, 6);
    let part = edited_from(&words[..80], 16, 6);
    let r = set.query(&whole);
    assert!(r.flagged && r.matches[0].kind == "aligned", "{r:?}");
    set.set_alignment(crate::Alignment::AtLeast(f64::MIN));
    let sig = set.query(&part).matches[0].significance;
    let local = crate::ALIGN_DEFAULT_MIN + super::query::LOCAL_BITS;
    assert!(
        (crate::ALIGN_DEFAULT_MIN..local).contains(&sig),
        "the test needs a chain between the two: {sig}"
    );
    set.set_alignment(crate::Alignment::Default);
    assert!(!set.query(&part).flagged);
    set.set_alignment(crate::Alignment::AtLeast(sig - super::query::LOCAL_BITS));
    assert!(set.query(&part).flagged);
}

/// Weak runs make a patchwork when they come from three references or
/// more over as many parts of the document, each held by one reference:
/// one sentence from each of three outputs is flagged, from two it is
/// not, and a sentence that three outputs hold counts for nothing, however
/// often the document repeats it.
#[test]
fn a_patchwork_of_short_runs_is_evidence() {
    let refs: Vec<Vec<String>> = (0..3)
        .map(|i| distinct_words(&format!("r{i}x"), 300))
        .collect();
    let stock = distinct_words("stock", 25).join(" ");
    let mut b = IndexBuilder::new(Params::default());
    for (i, r) in refs.iter().enumerate() {
        let text = format!("{} {stock} {}", r[..150].join(" "), r[150..].join(" "));
        b.add(&text, Reference::file("refs", i as u64 + 1));
    }
    let set = IndexSet::from(b.build().unwrap());
    let own = |tag: &str| distinct_words(tag, 40).join(" ");
    let fragment = |i: usize| refs[i][100..125].join(" ");
    let three = format!(
        "{} {} {} {} {} {}",
        own("a"),
        fragment(0),
        own("b"),
        fragment(1),
        own("c"),
        fragment(2)
    );
    let r = set.query(&three);
    assert!(r.flagged, "{r:?}");
    assert_eq!(r.matches.len(), 3);
    assert!(
        r.matches
            .iter()
            .all(|m| m.kind == "exact" && m.spans.len() == 1)
    );
    let two = format!("{} {} {} {}", own("a"), fragment(0), own("b"), fragment(1));
    assert!(!set.query(&two).flagged);
    let r = set.query(&format!("{} {stock} {}", own("a"), own("b")));
    assert!(!r.flagged, "{r:?}");
    // The stock sentence three times, apart: three parts, each held by
    // every reference, none by one alone.
    let r = set.query(&format!(
        "{} {stock} {} {stock} {} {stock}",
        own("a"),
        own("b"),
        own("c")
    ));
    assert!(!r.flagged, "{r:?}");
}

/// A short reference edited all along keeps too few seeds for a
/// significant chain; what the document keeps of it flags it. A reference
/// under `ALIGN_KEPT_MIN_TOKENS` is not flagged that way, nor is a text
/// that holds the reference's words out of their order.
#[test]
fn an_edited_short_copy_is_flagged_by_what_it_keeps() {
    // Every fourth word replaced after the first 15: runs of three, no
    // seed of five but in the first run.
    let words = distinct_words("ref", 80);
    let mut set = one_reference(&words.join(" "));
    let doc = edited_from(&words, 16, 4);
    let r = set.query(&doc);
    assert!(r.flagged, "{r:?}");
    let m = &r.matches[0];
    assert_eq!(m.kind, "aligned");
    assert!(m.significance < crate::ALIGN_DEFAULT_MIN, "{m:?}");
    // 17 of the 80 tokens replaced.
    assert_eq!(m.kept, Some(1.0 - 17.0 / 80.0), "{m:?}");
    // Within the document's text, wherever it stands.
    let own = distinct_words("own", 200).join(" ");
    assert!(set.query(&format!("{own} {doc} {own}")).flagged);
    set.set_kept(None);
    let r = set.query(&doc);
    assert!(!r.flagged && r.matches.is_empty(), "{r:?}");
    set.set_kept(Some(0.8));
    assert!(!set.query(&doc).flagged);
    // 63 of 80 kept: at the bound exactly, flagged.
    set.set_kept(Some(63.0 / 80.0));
    assert!(set.query(&doc).flagged);
    // The same words, the rest of them in reverse order.
    set.set_kept(Some(crate::ALIGN_DEFAULT_KEPT));
    let mut shuffled = words[..15].to_vec();
    shuffled.extend(words[15..].iter().rev().cloned());
    let r = set.query(&shuffled.join(" "));
    assert!(!r.flagged, "{r:?}");
}

/// Insertions and deletions count one edit each, as replacements do,
/// however they are spread: the share kept is exact.
#[test]
fn kept_counts_insertions_and_deletions() {
    let words = distinct_words("ref", 100);
    let set = one_reference(&words.join(" "));
    // The first 19 unchanged (a fingerprint, too short a run to count
    // alone); then, in turn, a word deleted, one inserted after a word,
    // one replaced, every fourth word.
    let mut doc: Vec<String> = words[..16].to_vec();
    let mut edits = 0;
    for (i, w) in words.iter().enumerate().skip(16) {
        match (i % 4 == 3).then_some((i / 4 + 2) % 3) {
            Some(0) => {}
            Some(1) => doc.extend([w.clone(), format!("ins{i}")]),
            Some(_) => doc.push(format!("rep{i}")),
            None => {
                doc.push(w.clone());
                continue;
            }
        }
        edits += 1;
    }
    let r = set.query(&doc.join(" "));
    let m = &r.matches[0];
    assert_eq!(m.kept, Some(1.0 - f64::from(edits) / 100.0), "{m:?}");
    assert!(
        r.flagged && m.significance < crate::ALIGN_DEFAULT_MIN,
        "{m:?}"
    );
}

/// Under `ALIGN_KEPT_MIN_TOKENS` tokens a reference is aligned but what a
/// document keeps of it is not worked out; from there on it is.
#[test]
fn kept_is_worked_out_from_the_least_length_on() {
    let n = crate::ALIGN_KEPT_MIN_TOKENS;
    for (len, worked) in [(n - 1, false), (n, true)] {
        let words = distinct_words("ref", len);
        let mut set = one_reference(&words.join(" "));
        let doc = edited_from(&words, 16, 4);
        set.set_alignment(crate::Alignment::AtLeast(f64::MIN));
        let r = set.query(&doc);
        let m = &r.matches[0];
        assert!(m.kind == "aligned" && m.aligned > 0, "{m:?}");
        assert_eq!(m.kept.is_some(), worked, "{len} tokens: {m:?}");
        // The chain alone is far from the default; the share is not.
        set.set_alignment(crate::Alignment::Default);
        assert_eq!(set.query(&doc).flagged, worked, "{len} tokens");
    }
}

/// With a background, the document's common phrases count as edits: a
/// text whose share in common with a reference is mostly stock phrasing
/// keeps less of it.
#[test]
fn a_background_phrase_is_not_kept() {
    let words = distinct_words("ref", 80);
    let mut set = one_reference(&words.join(" "));
    let doc = edited_from(&words, 16, 4);
    let before = set.query(&doc).matches[0].kept.unwrap_or(0.0);
    // The document's words 20 to 59 are common phrasing.
    let doc_words: Vec<&str> = doc.split_whitespace().collect();
    let mut bg = crate::Background::new(crate::TOKENIZER);
    bg.add_texts(&[doc_words[20..60].join(" ")]);
    set.set_background(Some(bg)).unwrap();
    set.set_alignment(crate::Alignment::AtLeast(f64::MIN));
    let r = set.query(&doc);
    let after = r.matches[0].kept.unwrap_or(1.0);
    assert!(after < before - 0.2, "{before} -> {after}");
    set.set_alignment(crate::Alignment::Default);
    assert!(!set.query(&doc).flagged);
}

/// A short reference with every seventh word replaced shares no 8-token
/// window with its copy, so no fingerprint: its short phrases make it a
/// candidate, and what the copy keeps flags it. A reference over
/// `SHORT_MAX_TOKENS` stores none.
#[test]
fn short_phrases_make_a_short_reference_a_candidate() {
    let words = distinct_words("ref", 80);
    let set = one_reference(&words.join(" "));
    let doc = every_nth_replaced(&words, 7);
    // Every window of 8 holds an edit.
    assert!(
        doc.windows(8)
            .all(|w| w.iter().any(|t| t.starts_with("edit")))
    );
    let r = set.query(&doc.join(" "));
    assert!(r.flagged, "{r:?}");
    let m = &r.matches[0];
    assert_eq!(m.kind, "aligned");
    assert_eq!(m.kept, Some(1.0 - 11.0 / 80.0), "{m:?}");
    // Entries: a short reference has its short phrases beside its
    // fingerprints; a long one only fingerprints.
    let entries = |n: usize| {
        let p = Params::default();
        let hasher = MinHasher::new(p.num_perm);
        let parts =
            super::build::fingerprint_one(&p, &hasher, &distinct_words("x", n).join(" "), None);
        parts.exact.len() as f64 / n as f64
    };
    let short = entries(crate::fingerprint::SHORT_MAX_TOKENS);
    let long = entries(crate::fingerprint::SHORT_MAX_TOKENS + 1);
    // Winnowing keeps about 2/9 of the windows of each kind.
    assert!(short > 0.35 && long < 0.3, "{short} {long}");
}

/// Every fifth word replaced, from the first on a regular pattern: the
/// copy shares no run of five tokens with its reference, so no seed of
/// five; seeds of four chain it, and what it keeps (four fifths) flags it.
/// A chain of such seeds alone flags nothing, however long.
#[test]
fn a_copy_with_every_fifth_word_replaced_is_flagged_by_what_it_keeps() {
    let words = distinct_words("ref", 200);
    let mut set = one_reference(&words.join(" "));
    let doc = every_nth_replaced(&words, 5);
    assert!(
        doc.windows(5)
            .all(|w| w.iter().any(|t| t.starts_with("edit")))
    );
    let doc = doc.join(" ");
    let r = set.query(&doc);
    assert!(r.flagged, "{r:?}");
    let m = &r.matches[0];
    assert_eq!(m.kind, "aligned");
    assert_eq!(m.kept, Some(1.0 - 40.0 / 200.0), "{m:?}");
    // Its spans are the runs of four, each holding the reference's words.
    assert!(m.spans.len() >= 20, "{m:?}");
    let reference = words.join(" ");
    let ref_tokens = tokenize(&reference);
    for (&(a, b), &(ra, rb)) in m.spans.iter().zip(&m.reference_spans) {
        let in_ref = &reference[ref_tokens[ra].start as usize..ref_tokens[rb - 1].end as usize];
        assert_eq!(&doc[a..b], in_ref, "{m:?}");
    }
    // Two words inserted after every replaced one: runs of four still, a
    // long chain of them (far past the default bits), but 120 edits of
    // 200: kept about 0.4. Only the kept share may flag it: found at 0.35,
    // not at the default.
    let padded: Vec<String> = words
        .iter()
        .enumerate()
        .flat_map(|(i, w)| {
            if i % 5 == 4 {
                vec![format!("edit{i}"), format!("ins{i}a"), format!("ins{i}b")]
            } else {
                vec![w.clone()]
            }
        })
        .collect();
    let padded = padded.join(" ");
    set.set_kept(Some(0.35));
    let r = set.query(&padded);
    assert!(r.flagged, "{r:?}");
    let m = &r.matches[0];
    // (The two words inserted after the last word are past the stretch
    // aligned: 118 edits.)
    assert_eq!(m.kept, Some(1.0 - 118.0 / 200.0), "{m:?}");
    assert!(m.significance > crate::ALIGN_DEFAULT_MIN + 60.0, "{m:?}");
    set.set_kept(Some(crate::ALIGN_DEFAULT_KEPT));
    let r = set.query(&padded);
    assert!(!r.flagged, "{r:?}");
}

/// A copier who has a reference and knows how an unkeyed index winnows
/// edits one token of every window it keeps (fingerprints and short
/// phrases): the copy shares none of the unkeyed index's entries and is
/// not found there, though it keeps most of the reference. A keyed index
/// keeps other windows, which the copy still shares, and finds it.
#[test]
fn a_keyed_index_finds_a_copy_edited_where_an_unkeyed_one_winnows() {
    let words = distinct_words("ref", 200);
    let reference = words.join(" ");
    let tokens = tokenize(&reference);
    // The windows the unkeyed index keeps, and one token edited in each
    // not already holding an edit (its last: it ends later windows too).
    let p = Params::default();
    let mut kept_windows: Vec<(usize, usize)> = Vec::new();
    for (k, w) in [
        (p.k, p.w),
        (crate::fingerprint::SHORT_K, crate::fingerprint::SHORT_W),
    ] {
        let sh = crate::fingerprint::shingles(&tokens, k);
        kept_windows.extend(
            crate::fingerprint::winnow(&sh, w)
                .into_iter()
                .map(|(_, pos)| (pos as usize, pos as usize + k)),
        );
    }
    kept_windows.sort_unstable_by_key(|w| (w.1, w.0));
    let mut edited = vec![false; tokens.len()];
    for (a, b) in kept_windows {
        if !edited[a..b].contains(&true) {
            edited[b - 1] = true;
        }
    }
    let edits = edited.iter().filter(|&&e| e).count();
    assert!(edits < tokens.len() / 4, "{edits} edits");
    let doc: Vec<String> = words
        .iter()
        .zip(&edited)
        .enumerate()
        .map(|(i, (w, &e))| if e { format!("edit{i}") } else { w.clone() })
        .collect();
    let doc = doc.join(" ");
    let build = |p: Params| {
        let mut b = IndexBuilder::new(p);
        b.add(&reference, Reference::file("refs", 1));
        IndexSet::from(b.build().unwrap())
    };
    let r = build(Params::default()).query(&doc);
    assert!(!r.flagged && r.matches.is_empty(), "{r:?}");
    let r = build(Params::keyed(0x9E37_79B9_7F4A_7C15)).query(&doc);
    assert!(r.flagged, "{edits} edits: {r:?}");
    assert_eq!(
        r.matches[0].kept,
        Some(1.0 - edits as f64 / 200.0),
        "{:?}",
        r.matches[0]
    );
    // Segments of two keys are not one index.
    let mut one = IndexBuilder::new(Params::keyed(1));
    one.add(&reference, Reference::file("refs", 1));
    let mut two = IndexBuilder::new(Params::keyed(2));
    two.add(&reference, Reference::file("refs", 2));
    assert!(IndexSet::new(vec![one.build().unwrap(), two.build().unwrap()]).is_none());
}

/// The rules a findings file records follow the background unless set:
/// the lower bits and share with one, what was set otherwise, nothing
/// with alignment off.
#[test]
fn the_default_rules_follow_the_background() {
    let mut set = one_reference(&distinct_words("ref", 80).join(" "));
    let rules = |align_min, kept_min, background| crate::Rules {
        align_min,
        kept_min,
        background,
    };
    assert_eq!(
        set.rules(),
        rules(
            Some(crate::ALIGN_DEFAULT_MIN),
            Some(crate::ALIGN_DEFAULT_KEPT),
            false
        )
    );
    set.set_background(Some(crate::Background::new(crate::TOKENIZER)))
        .unwrap();
    assert_eq!(
        set.rules(),
        rules(
            Some(crate::ALIGN_DEFAULT_MIN_WITH_BACKGROUND),
            Some(crate::ALIGN_DEFAULT_KEPT_WITH_BACKGROUND),
            true
        )
    );
    set.set_kept(Some(0.7));
    set.set_alignment(crate::Alignment::AtLeast(40.0));
    assert_eq!(set.rules(), rules(Some(40.0), Some(0.7), true));
    set.set_kept(None);
    assert_eq!(set.rules(), rules(Some(40.0), None, true));
    set.set_kept(Some(0.7));
    set.set_alignment(crate::Alignment::Off);
    assert_eq!(set.rules(), rules(None, None, true));
}

/// A copy whose sentences were shuffled and a word in seven replaced keeps
/// no chain in order long enough, nor a run of 20: it is found by what it
/// keeps part by part (`align::kept_in_pieces`), with the parts' spans on
/// both sides; with the kept share off it is not; the same words in an
/// order of their own (no two seeds of a part on one diagonal) are not.
#[test]
fn a_copy_with_its_sentences_moved_and_edited_is_found_in_pieces() {
    let words = distinct_words("ref", 160);
    let set = one_reference(&words.join(" "));
    // Eight sentences of 20 words, every seventh word replaced, then put
    // in another order.
    let sentences: Vec<Vec<String>> = words
        .chunks(20)
        .map(|s| {
            s.iter()
                .enumerate()
                .map(|(i, w)| {
                    if i % 7 == 3 {
                        format!("rep{w}")
                    } else {
                        w.clone()
                    }
                })
                .collect()
        })
        .collect();
    let order = [5, 2, 7, 0, 3, 6, 1, 4];
    let doc: Vec<String> = order.iter().flat_map(|&o| sentences[o].clone()).collect();
    let r = set.query(&doc.join(" "));
    assert!(r.flagged, "{r:?}");
    let m = &r.matches[0];
    assert_eq!(m.kind, "aligned", "{m:?}");
    assert!(m.significance < crate::ALIGN_DEFAULT_MIN, "{m:?}");
    let kept = m.kept.unwrap_or(0.0);
    assert!(
        (crate::ALIGN_DEFAULT_KEPT + crate::align::PIECES_MARGIN..1.0).contains(&kept),
        "{m:?}"
    );
    assert!(m.spans.len() >= 4, "one span a part: {m:?}");
    assert_eq!(m.spans.len(), m.reference_spans.len());
    let mut off = one_reference(&words.join(" "));
    off.set_kept(None);
    assert!(!off.query(&doc.join(" ")).flagged);
    // Every word kept but the order of all of them changed: no two seeds of
    // five in a row, so no piece.
    let mut scrambled: Vec<String> = Vec::new();
    for i in 0..40 {
        for j in 0..4 {
            scrambled.push(words[j * 40 + i].clone());
        }
    }
    assert!(!set.query(&scrambled.join(" ")).flagged);
}
