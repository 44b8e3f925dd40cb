//! One suite run against every `LedgerStore` implementation (SQLite and the
//! in-memory twin), plus SQLite-specific cases.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use proviso_ledger::merkle::root_of;
use proviso_ledger::{
    FindingKind, LedgerStore, MemoryStore, Record, SqliteConfig, SqliteStore, verify,
};

fn stores(dir: &tempfile::TempDir) -> Vec<(&'static str, Box<dyn LedgerStore>)> {
    let cfg = SqliteConfig {
        checkpoint_every: 8,
        ..SqliteConfig::default()
    };
    vec![
        ("memory", Box::new(MemoryStore::with_checkpoint_every(8))),
        (
            "sqlite",
            Box::new(SqliteStore::open(&dir.path().join("l.db"), cfg).unwrap()),
        ),
    ]
}

fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record::test(&format!("output {i}")))
        .collect()
}

#[test]
fn appends_are_sequenced_chained_and_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    for (name, mut store) in stores(&dir) {
        let a = store.append(&records(5)).unwrap();
        let b = store.append(&records(20)).unwrap();
        let seqs: Vec<u64> = a.iter().chain(&b).map(|(s, _)| *s).collect();
        assert_eq!(seqs, (1..=25).collect::<Vec<_>>(), "{name}");
        let mut hashes = Vec::new();
        let mut prev = [0u8; 32];
        store
            .scan(0, &mut |c| {
                assert_eq!(c.prev_hash, prev, "{name}: chained");
                prev = c.hash;
                hashes.push(c.hash);
                true
            })
            .unwrap();
        assert_eq!(hashes.len(), 25);
        let cps = store.checkpoints().unwrap();
        assert_eq!(
            cps.iter().map(|c| c.tree_size).collect::<Vec<_>>(),
            vec![8, 16, 24],
            "{name}"
        );
        for cp in &cps {
            let n = usize::try_from(cp.tree_size).unwrap();
            assert_eq!(cp.root, root_of(&hashes[..n]), "{name}: RFC 6962 root");
        }
        assert_eq!(store.tree_state().unwrap().size(), 25);
        assert_eq!(store.find_by_hash(&hashes[3]).unwrap(), Some(4));
        assert_eq!(store.find_by_hash(&[7; 32]).unwrap(), None);
        let report = verify(store.as_ref()).unwrap();
        assert!(report.is_intact(), "{name}: {:?}", report.findings);
        assert_eq!((report.records, report.checkpoints), (25, 3));
    }
}

#[test]
fn empty_ledger_verifies() {
    let dir = tempfile::tempdir().unwrap();
    for (name, store) in stores(&dir) {
        let r = verify(store.as_ref()).unwrap();
        assert!(r.is_intact(), "{name}");
        assert_eq!(r.records, 0);
    }
}

#[test]
fn scan_from_and_early_stop() {
    let dir = tempfile::tempdir().unwrap();
    for (name, mut store) in stores(&dir) {
        store.append(&records(10)).unwrap();
        let mut seen = Vec::new();
        store
            .scan(4, &mut |c| {
                seen.push(c.seq);
                c.seq < 6
            })
            .unwrap();
        assert_eq!(seen, vec![4, 5, 6], "{name}");
    }
}

#[test]
fn memory_tampering_is_found() {
    let store = MemoryStore::with_checkpoint_every(4);
    let mut w = store.clone();
    w.append(&records(12)).unwrap();
    store.with_records(|r| r[5].record.output = "changed".into());
    let rep = verify(&store).unwrap();
    let f = rep.first(FindingKind::ChangedRecord).unwrap();
    assert_eq!(f.seq, 6);
    store.with_records(|r| {
        r[5].record.output = "output 5".into();
        r.swap(2, 3);
        let (a, b) = (r[2].seq, r[3].seq);
        r[2].seq = b;
        r[3].seq = a;
    });
    let rep = verify(&store).unwrap();
    assert_eq!(rep.findings[0].kind, FindingKind::Reordered);
    assert_eq!(rep.findings[0].seq, 3);
}

#[test]
fn sqlite_survives_reopen_and_a_second_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let cfg = SqliteConfig {
        checkpoint_every: 4,
        ..SqliteConfig::default()
    };
    let mut a = SqliteStore::open(&path, cfg.clone()).unwrap();
    let mut b = SqliteStore::open(&path, cfg.clone()).unwrap();
    a.append(&records(3)).unwrap();
    b.append(&records(3)).unwrap(); // e.g. `proviso keys` while the gateway runs
    a.append(&records(3)).unwrap();
    drop((a, b));
    let c = SqliteStore::open(&path, cfg).unwrap();
    let rep = verify(&c).unwrap();
    assert!(rep.is_intact(), "{:?}", rep.findings);
    assert_eq!((rep.records, rep.checkpoints), (9, 2));
}

#[test]
fn sqlite_refuses_when_its_file_is_moved_and_recovers_when_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d").join("l.db");
    let mut s = SqliteStore::open(&path, SqliteConfig::default()).unwrap();
    s.append(&records(1)).unwrap();
    let moved = dir.path().join("moved");
    std::fs::rename(dir.path().join("d"), &moved).unwrap();
    let err = s.append(&records(1)).unwrap_err();
    assert!(err.to_string().contains("l.db"), "{err}");
    assert!(s.check_writable().is_err());
    std::fs::rename(&moved, dir.path().join("d")).unwrap();
    s.check_writable().unwrap();
    assert_eq!(s.append(&records(1)).unwrap()[0].0, 2);
}

#[test]
fn sqlite_rejects_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let s = SqliteStore::open(&path, SqliteConfig::default()).unwrap();
    s.connection()
        .execute("UPDATE meta SET v = '99' WHERE k = 'schema_version'", [])
        .unwrap();
    drop(s);
    let err = SqliteStore::open(&path, SqliteConfig::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

/// A reader that counts the store's hash look-ups.
struct Counting<'a>(&'a MemoryStore, std::cell::Cell<u32>);

impl proviso_ledger::LedgerReader for Counting<'_> {
    fn scan(
        &self,
        from: u64,
        f: &mut dyn FnMut(proviso_ledger::ChainedRecord) -> bool,
    ) -> Result<(), proviso_ledger::LedgerError> {
        self.0.scan(from, f)
    }
    fn checkpoints(&self) -> Result<Vec<proviso_ledger::Checkpoint>, proviso_ledger::LedgerError> {
        self.0.checkpoints()
    }
    fn tree_state(&self) -> Result<proviso_ledger::TreeState, proviso_ledger::LedgerError> {
        self.0.tree_state()
    }
    fn find_by_hash(
        &self,
        hash: &proviso_ledger::Hash,
    ) -> Result<Option<u64>, proviso_ledger::LedgerError> {
        self.1.set(self.1.get() + 1);
        self.0.find_by_hash(hash)
    }
}

#[test]
fn many_broken_links_are_explained_without_a_lookup_each() {
    let store = MemoryStore::with_checkpoint_every(1000);
    let mut w = store.clone();
    w.append(&records(400)).unwrap();
    // Every other record removed: 199 broken links.
    store.with_records(|r| {
        let mut i = 0;
        r.retain(|_| {
            i += 1;
            i % 2 == 1
        });
    });
    let counting = Counting(&store, std::cell::Cell::new(0));
    let rep = verify(&counting).unwrap();
    assert!(rep.total_findings >= 199, "{}", rep.total_findings);
    assert!(
        counting.1.get() <= 16,
        "{} look-ups by hash, one per broken link",
        counting.1.get()
    );
}

#[test]
fn verify_lists_streams_opened_and_never_closed() {
    use proviso_ledger::{OPENED_EVENT, Record, RecordKind};
    use proviso_types::RecordId;
    let store = MemoryStore::default();
    let mut w = store.clone();
    let ex_closed = RecordId::new();
    let ex_open = RecordId::new();
    let opened = |ex: RecordId| {
        Record::event(
            RecordId::new(),
            OPENED_EVENT,
            None,
            None,
            format!("{{\"exchange\":\"{ex}\"}}"),
        )
    };
    let mut closing = Record::test("done");
    closing.id = ex_closed;
    assert_eq!(closing.kind, RecordKind::Exchange);
    w.append(&[opened(ex_closed), opened(ex_open), closing])
        .unwrap();
    let rep = verify(&store).unwrap();
    assert!(rep.is_intact(), "an unclosed stream is not damage");
    assert_eq!(rep.unclosed.len(), 1);
    assert_eq!(rep.unclosed[0].exchange_id, ex_open.to_string());
    assert_eq!(rep.unclosed[0].seq, 2);
    let mut out = Vec::new();
    proviso_ledger::export_jsonl(&store, None, &mut out).unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["unclosed"], false);
    assert_eq!(lines[1]["unclosed"], true);
    assert!(lines[2].get("unclosed").is_none());
}
