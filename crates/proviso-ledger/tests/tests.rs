//! The ledger suite (`proviso_ledger::suite`, also run over PostgreSQL by
//! proviso-postgres) against SQLite and the in-memory twin, plus
//! SQLite-specific cases.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use proviso_ledger::{
    FindingKind, LedgerStore, MemoryStore, Record, SqliteConfig, SqliteStore, suite, verify,
};

fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| Record::test(&format!("output {i}")))
        .collect()
}

/// The ledger suite over the in-memory twin.
#[test]
fn suite_memory() {
    suite::run(&mut |every| {
        let store = MemoryStore::with_checkpoint_every(every);
        suite::Subject {
            name: "memory".into(),
            reader: Box::new(store.clone()),
            store: Box::new(store),
            settle: Box::new(|| {}),
        }
    });
}

/// The ledger suite over SQLite (each subject a new file).
#[test]
fn suite_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    suite::run(&mut |every| {
        n += 1;
        let path = dir.path().join(format!("l{n}.db"));
        let cfg = SqliteConfig {
            checkpoint_every: every,
            ..SqliteConfig::default()
        };
        suite::Subject {
            name: "sqlite".into(),
            store: Box::new(SqliteStore::open(&path, cfg.clone()).unwrap()),
            reader: Box::new(SqliteStore::open(&path, cfg).unwrap()),
            settle: Box::new(|| {}),
        }
    });
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
    assert_eq!(s.append(&records(1)).unwrap()[0].seq, Some(2));
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

/// A checkpoint signed earlier: an extended log is consistent with it; a
/// shorter one (tail cut, or an older copy restored) is truncated; another
/// history of any size is rewritten; a forged or foreign note is refused.
#[test]
fn logs_are_checked_against_a_checkpoint_published_earlier() {
    use proviso_ledger::{Consistency, SignerKey, check_note, leaf_hashes, sign_current};
    let key = SignerKey::generate("proviso.test/ledger").unwrap();
    let vkey = key.verifier();
    let store = MemoryStore::with_checkpoint_every(4);
    let mut w = store.clone();
    w.append(&records(10)).unwrap();
    let (body, note) = sign_current(&store, &key, "proviso.test/ledger").unwrap();
    assert_eq!(body.size, 10);
    let check = |s: &MemoryStore, note: &str| {
        check_note(
            &leaf_hashes(s).unwrap(),
            note,
            &vkey,
            Some("proviso.test/ledger"),
        )
    };
    assert_eq!(
        check(&store, &note),
        Consistency::Consistent {
            size: 10,
            log_size: 10
        }
    );
    w.append(&records(7)).unwrap();
    assert!(check(&store, &note).is_consistent(), "extended");

    // An older copy of the log, restored: its own chain is intact.
    let older = MemoryStore::with_checkpoint_every(4);
    let mut ow = older.clone();
    let first: Vec<Record> =
        store.with_records(|r| r[..6].iter().map(|c| c.record.clone()).collect());
    ow.append(&first).unwrap();
    assert!(verify(&older).unwrap().is_intact());
    assert_eq!(
        check(&older, &note),
        Consistency::Truncated {
            size: 10,
            log_size: 6
        }
    );

    // A history written again from record 5 on, longer than before, with
    // an intact chain of its own.
    let rewritten = MemoryStore::with_checkpoint_every(4);
    let mut rw = rewritten.clone();
    let mut recs: Vec<Record> =
        store.with_records(|r| r.iter().map(|c| c.record.clone()).collect());
    recs[4].output = "quietly changed".into();
    rw.append(&recs).unwrap();
    assert!(verify(&rewritten).unwrap().is_intact());
    assert_eq!(
        check(&rewritten, &note),
        Consistency::Rewritten {
            size: 10,
            log_size: 17
        }
    );

    // Forged: the size raised in the note, or another key's note.
    let forged = note.replacen("\n10\n", "\n9\n", 1);
    assert!(matches!(
        check(&store, &forged),
        Consistency::BadCheckpoint { .. }
    ));
    let other = SignerKey::generate("proviso.test/ledger").unwrap();
    let (_, foreign) = sign_current(&rewritten, &other, "proviso.test/ledger").unwrap();
    assert!(matches!(
        check(&rewritten, &foreign),
        Consistency::BadCheckpoint { .. }
    ));
    // Another log's checkpoint, properly signed.
    let (_, elsewhere) = sign_current(&store, &key, "another/log").unwrap();
    assert!(matches!(
        check(&store, &elsewhere),
        Consistency::BadCheckpoint { .. }
    ));
}
