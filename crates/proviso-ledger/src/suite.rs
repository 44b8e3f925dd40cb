//! The ledger suite: the same checks against every [`LedgerStore`]
//! (memory, SQLite, PostgreSQL), as tantivy runs one suite over its
//! directories. Each store's tests call [`run`] with a way to make a
//! fresh, empty store. Assertions panic: this is test code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use crate::merkle::root_of;
use crate::{LedgerReader, LedgerStore, Record, verify};

/// A fresh, empty store under test.
pub struct Subject {
    /// Its name in failure messages.
    pub name: String,
    /// The store, as the writer would hold it.
    pub store: Box<dyn LedgerStore>,
    /// A reader of the same ledger.
    pub reader: Box<dyn LedgerReader>,
    /// Makes every appended record part of the chain (a store that
    /// sequences later runs its sequencer here; others do nothing).
    pub settle: Box<dyn FnMut()>,
}

/// A maker of fresh subjects writing a checkpoint every given number of
/// records.
pub type Maker<'a> = &'a mut dyn FnMut(u64) -> Subject;

fn records(n: usize, tag: &str) -> Vec<Record> {
    (0..n)
        .map(|i| Record::test(&format!("output {tag} {i}")))
        .collect()
}

/// Runs every check, each on a fresh subject.
pub fn run(make: Maker<'_>) {
    appends_are_sequenced_chained_and_checkpointed(make);
    empty_ledger_verifies(make);
    scan_from_and_early_stop(make);
    every_field_survives_the_round_trip(make);
    usage_by_key_counts_exchanges(make);
}

/// Two batches become one chain of 25 with three checkpoints of the right
/// RFC 6962 roots; receipts (where the store knows them) are 1..=25.
pub fn appends_are_sequenced_chained_and_checkpointed(make: Maker<'_>) {
    let mut s = make(8);
    let name = s.name.clone();
    let a = s.store.append(&records(5, "a")).unwrap();
    let b = s.store.append(&records(20, "b")).unwrap();
    assert_eq!(a.len() + b.len(), 25, "{name}: one receipt per record");
    let seqs: Vec<Option<u64>> = a.iter().chain(&b).map(|r| r.seq).collect();
    if seqs.iter().all(Option::is_some) {
        let seqs: Vec<u64> = seqs.into_iter().flatten().collect();
        assert_eq!(seqs, (1..=25).collect::<Vec<_>>(), "{name}");
    } else {
        assert!(seqs.iter().all(Option::is_none), "{name}: all or none");
    }
    (s.settle)();
    let reader = s.reader.as_ref();
    let mut hashes = Vec::new();
    let mut outputs = Vec::new();
    let mut prev = [0u8; 32];
    reader
        .scan(0, &mut |c| {
            assert_eq!(c.prev_hash, prev, "{name}: chained");
            assert_eq!(c.seq, hashes.len() as u64 + 1, "{name}: contiguous");
            prev = c.hash;
            hashes.push(c.hash);
            outputs.push(c.record.output);
            true
        })
        .unwrap();
    assert_eq!(hashes.len(), 25, "{name}");
    assert_eq!(outputs[0], "output a 0", "{name}: in order");
    assert_eq!(outputs[24], "output b 19", "{name}: in order");
    let cps = reader.checkpoints().unwrap();
    assert_eq!(
        cps.iter().map(|c| c.tree_size).collect::<Vec<_>>(),
        vec![8, 16, 24],
        "{name}"
    );
    for cp in &cps {
        let n = usize::try_from(cp.tree_size).unwrap();
        assert_eq!(cp.root, root_of(&hashes[..n]), "{name}: RFC 6962 root");
        assert_eq!(cp.last_hash, hashes[n - 1], "{name}");
    }
    let st = reader.tree_state().unwrap();
    assert_eq!(st.size(), 25, "{name}");
    assert_eq!(st.last_hash, hashes[24], "{name}");
    assert_eq!(reader.find_by_hash(&hashes[3]).unwrap(), Some(4), "{name}");
    assert_eq!(reader.find_by_hash(&[7; 32]).unwrap(), None, "{name}");
    let report = verify(reader).unwrap();
    assert!(report.is_intact(), "{name}: {:?}", report.findings);
    assert_eq!((report.records, report.checkpoints), (25, 3), "{name}");
}

/// An empty ledger verifies, with nothing in it.
pub fn empty_ledger_verifies(make: Maker<'_>) {
    let mut s = make(8);
    (s.settle)();
    let r = verify(s.reader.as_ref()).unwrap();
    assert!(r.is_intact(), "{}", s.name);
    assert_eq!(r.records, 0, "{}", s.name);
}

/// `scan` starts at `from` and stops when told.
pub fn scan_from_and_early_stop(make: Maker<'_>) {
    let mut s = make(8);
    s.store.append(&records(10, "s")).unwrap();
    (s.settle)();
    let mut seen = Vec::new();
    s.reader
        .scan(4, &mut |c| {
            seen.push(c.seq);
            c.seq < 6
        })
        .unwrap();
    assert_eq!(seen, vec![4, 5, 6], "{}", s.name);
}

/// A record with every optional field set, and text a database may find
/// awkward (NUL, quotes, non-Latin script, emoji), reads back exactly and
/// verifies.
pub fn every_field_survives_the_round_trip(make: Maker<'_>) {
    let mut s = make(8);
    let mut r = Record::test("nul \0 'quote' \"dq\" 中文 🙂 \\ backslash");
    r.key_id = Some(proviso_types::KeyId("key\0with nul".into()));
    r.team = Some("team ü".into());
    r.model = Some("gpt-4o".into());
    r.upstream = Some("openai".into());
    r.upstream_model = Some("gpt-4o-2024".into());
    r.response = Some("{\"a\": \"\\u0000\"}".into());
    r.finish_reason = Some("stop".into());
    r.usage = Some(proviso_types::Usage {
        prompt_tokens: 3,
        completion_tokens: 4,
        total_tokens: 7,
    });
    r.ttfb_ms = Some(12);
    r.error_code = Some("x".into());
    r.error = Some("e".into());
    r.detail = Some("{\"client\":\"127.0.0.1\"}".into());
    s.store.append(std::slice::from_ref(&r)).unwrap();
    (s.settle)();
    let mut back = Vec::new();
    s.reader
        .scan(0, &mut |c| {
            back.push(c.record);
            true
        })
        .unwrap();
    assert_eq!(back, vec![r], "{}", s.name);
    assert!(verify(s.reader.as_ref()).unwrap().is_intact(), "{}", s.name);
}

/// `usage_by_key` counts each key's exchanges, tokens and last time
/// (records without a key are left out).
pub fn usage_by_key_counts_exchanges(make: Maker<'_>) {
    let mut s = make(8);
    let mut recs = Vec::new();
    for (i, key) in ["a", "b", "a"].iter().enumerate() {
        let mut r = Record::test("x");
        r.key_id = Some(proviso_types::KeyId((*key).into()));
        r.time = proviso_types::UnixMillis(1000 + i as i64);
        r.usage = Some(proviso_types::Usage {
            prompt_tokens: 1,
            completion_tokens: 1,
            total_tokens: 10,
        });
        recs.push(r);
    }
    recs.push(Record::test("no key"));
    s.store.append(&recs).unwrap();
    (s.settle)();
    let u = s.reader.usage_by_key().unwrap();
    assert_eq!(u.len(), 2, "{}", s.name);
    assert_eq!(
        u["a"],
        (2, 20, proviso_types::UnixMillis(1002)),
        "{}",
        s.name
    );
    assert_eq!(
        u["b"],
        (1, 10, proviso_types::UnixMillis(1001)),
        "{}",
        s.name
    );
}
