//! The ledger suite over PostgreSQL (a fresh database on the machine's
//! server per subject), and what only a shared ledger has: several
//! replicas queueing at once, one sequencer at a time, take-over, retried
//! batches not chained twice.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use proviso_ledger::{LedgerReader, LedgerStore, Record, suite, verify};
use proviso_postgres::{PgConfig, PgStore, SequencerHandle, TestDatabase};

fn config(db: &TestDatabase, every: u64) -> PgConfig {
    PgConfig {
        checkpoint_every: every,
        sequence_interval: Duration::from_millis(2),
        takeover_interval: Duration::from_millis(50),
        ..PgConfig::new(db.url())
    }
}

#[test]
fn suite_postgres() {
    let mut dbs = Vec::new();
    suite::run(&mut |every| {
        let db = TestDatabase::create().expect("the machine's PostgreSQL");
        let cfg = config(&db, every);
        dbs.push(db);
        let store = PgStore::open(cfg.clone()).unwrap();
        let reader = PgStore::open(cfg.clone()).unwrap();
        let sequencer = PgStore::open(cfg).unwrap();
        suite::Subject {
            name: "postgres".into(),
            store: Box::new(store),
            reader: Box::new(reader),
            settle: Box::new(move || {
                sequencer.sequence_pending(1000).unwrap();
                assert_eq!(sequencer.pending().unwrap(), 0);
            }),
        }
    });
}

fn wait_for(mut ok: impl FnMut() -> bool, what: &str) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < Duration::from_secs(30), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn outputs(r: &dyn LedgerReader) -> Vec<String> {
    let mut v = Vec::new();
    r.scan(0, &mut |c| {
        v.push(c.record.output);
        true
    })
    .unwrap();
    v
}

#[test]
fn replicas_queue_at_once_and_one_sequencer_chains_them_all() {
    let db = TestDatabase::create().unwrap();
    let cfg = config(&db, 16);
    let reader = PgStore::open(cfg.clone()).unwrap();
    // Three replicas, each with its writer side and its sequencer thread.
    let mut seqs: Vec<SequencerHandle> = (0..3)
        .map(|i| {
            SequencerHandle::spawn(PgConfig {
                replica: format!("r{i}"),
                ..cfg.clone()
            })
            .unwrap()
        })
        .collect();
    let writers: Vec<_> = (0..3)
        .map(|i| {
            let cfg = PgConfig {
                replica: format!("r{i}"),
                ..cfg.clone()
            };
            std::thread::spawn(move || {
                let mut s = PgStore::open(cfg).unwrap();
                for b in 0..20 {
                    let batch: Vec<Record> = (0..10)
                        .map(|k| Record::test(&format!("r{i} b{b} k{k}")))
                        .collect();
                    let receipts = s.append(&batch).unwrap();
                    assert!(
                        receipts.iter().all(|r| r.seq.is_none()),
                        "queued, not sequenced"
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    wait_for(|| reader.pending().unwrap() == 0, "queue drained");
    wait_for(|| reader.tree_state().unwrap().size() == 600, "600 chained");
    let leaders = seqs.iter().filter(|s| s.stats().leader).count();
    assert_eq!(leaders, 1, "exactly one sequencer");
    let out = outputs(&reader);
    let mut sorted = out.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 600, "every record once");
    // Each replica's records keep their order within the chain.
    for i in 0..3 {
        let mine: Vec<&String> = out
            .iter()
            .filter(|o| o.starts_with(&format!("r{i} ")))
            .collect();
        let mut want = mine.clone();
        want.sort_by_key(|o| {
            let p: Vec<u32> = o
                .split(' ')
                .skip(1)
                .map(|t| t[1..].parse().unwrap())
                .collect();
            (p[0], p[1])
        });
        assert_eq!(mine, want, "replica r{i} in order");
    }
    let report = verify(&reader).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.checkpoints, 600 / 16);
    for s in &mut seqs {
        s.stop();
    }
}

#[test]
fn another_replica_takes_over_when_the_sequencer_stops() {
    let db = TestDatabase::create().unwrap();
    let cfg = config(&db, 4);
    let reader = PgStore::open(cfg.clone()).unwrap();
    let mut writer = PgStore::open(cfg.clone()).unwrap();
    let mut a = SequencerHandle::spawn(cfg.clone()).unwrap();
    wait_for(|| a.stats().leader, "a leads");
    let mut b = SequencerHandle::spawn(cfg.clone()).unwrap();
    writer
        .append(&[Record::test("one"), Record::test("two")])
        .unwrap();
    wait_for(|| reader.tree_state().unwrap().size() == 2, "a chains");
    assert!(!b.stats().leader, "b waits while a holds the lock");
    a.stop();
    wait_for(|| b.stats().leader, "b takes over");
    writer.append(&[Record::test("three")]).unwrap();
    wait_for(|| reader.tree_state().unwrap().size() == 3, "b chains");
    assert_eq!(outputs(&reader), vec!["one", "two", "three"]);
    assert!(verify(&reader).unwrap().is_intact());
    b.stop();
}

#[test]
fn a_batch_queued_again_is_not_chained_twice() {
    let db = TestDatabase::create().unwrap();
    let cfg = config(&db, 8);
    let store = PgStore::open(cfg.clone()).unwrap();
    let mut w = PgStore::open(cfg).unwrap();
    let batch = vec![Record::test("x"), Record::test("y")];
    w.append(&batch).unwrap();
    // Retried before sequencing (the acknowledgement was lost): queued once.
    w.append(&batch).unwrap();
    assert_eq!(store.pending().unwrap(), 2);
    store.sequence_pending(10).unwrap();
    // Retried after sequencing: dropped from the queue, not chained again.
    w.append(&batch).unwrap();
    assert_eq!(store.pending().unwrap(), 2);
    store.sequence_pending(10).unwrap();
    assert_eq!(store.pending().unwrap(), 0);
    assert_eq!(outputs(&store), vec!["x", "y"]);
    assert!(verify(&store).unwrap().is_intact());
}

#[test]
fn an_unreachable_server_is_unavailable_and_names_it() {
    let cfg = PgConfig {
        connect_timeout: Duration::from_secs(2),
        ..PgConfig::new("postgres://proviso:secret@127.0.0.1:1/none")
    };
    let e = PgStore::open(cfg).err().unwrap().to_string();
    assert!(e.contains("127.0.0.1:1") && !e.contains("secret"), "{e}");
    assert!(e.contains("unavailable"), "{e}");
}
