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

/// Options in the URL (a search_path per deployment) are kept beside the
/// gateway's own: two schemas of one database hold two ledgers.
#[test]
fn a_search_path_in_the_url_keeps_ledgers_apart() {
    let db = TestDatabase::create().unwrap();
    let mut admin = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    admin
        .batch_execute("CREATE SCHEMA a; CREATE SCHEMA b;")
        .unwrap();
    let in_schema = |s: &str| PgConfig {
        checkpoint_every: 4,
        ..PgConfig::new(&format!("{}?options=-csearch_path%3D{s}", db.url()))
    };
    let (mut a, mut b) = (
        PgStore::open(in_schema("a")).unwrap(),
        PgStore::open(in_schema("b")).unwrap(),
    );
    a.append(&[Record::test("in a")]).unwrap();
    b.append(&[Record::test("in b"), Record::test("also b")])
        .unwrap();
    a.sequence_pending(10).unwrap();
    b.sequence_pending(10).unwrap();
    assert_eq!(outputs(&a), vec!["in a"]);
    assert_eq!(outputs(&b), vec!["in b", "also b"]);
    let n: i64 = admin
        .query_one("SELECT count(*) FROM a.ledger_records", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

/// A batch stops at BATCH_BYTES of bodies; a body that cannot be read and
/// a record set aside become stand-ins in the chain, never a stuck queue.
#[test]
fn large_unreadable_and_refused_records_do_not_stop_the_queue() {
    let db = TestDatabase::create().unwrap();
    let cfg = config(&db, 8);
    let store = PgStore::open(cfg.clone()).unwrap();
    let mut w = PgStore::open(cfg.clone()).unwrap();
    let big = "x".repeat(usize::try_from(proviso_postgres::BATCH_BYTES).unwrap() / 3 + 1024);
    w.append(&[Record::test(&big), Record::test(&big), Record::test(&big)])
        .unwrap();
    let mut c = cfg.connect().unwrap();
    let n =
        proviso_postgres::sequence_batch(&mut c, 8, 4096, proviso_postgres::Head::Chain).unwrap();
    assert_eq!(n, 2, "the third would pass the byte bound");
    assert_eq!(store.sequence_pending(10).unwrap(), 1);
    // A body no version can read, queued by something else.
    c.execute(
        "INSERT INTO ledger_pending (id, queued_us, replica, ord, body) VALUES ('01BAD', 0, 'x', 0, 'not json')",
        &[],
    )
    .unwrap();
    w.append(&[Record::test("after the bad one")]).unwrap();
    store.sequence_pending(10).unwrap();
    assert_eq!(store.pending().unwrap(), 0);
    let mut events = Vec::new();
    store
        .scan(0, &mut |r| {
            events.push((
                r.record.endpoint.clone(),
                r.record.detail.clone(),
                r.record.output,
            ));
            true
        })
        .unwrap();
    let set_aside = events
        .iter()
        .find(|e| e.0 == "ledger.set_aside")
        .expect("a stand-in for the unreadable body");
    let d: serde_json::Value = serde_json::from_str(set_aside.1.as_deref().unwrap()).unwrap();
    assert_eq!(d["record_id"], "01BAD");
    assert_eq!(d["body"], "not json");
    assert_eq!(events.last().unwrap().2, "after the bad one");
    // The head set aside on purpose (the server refused it twice): its
    // metadata and digests stay, its text does not.
    w.append(&[Record::test("refused text")]).unwrap();
    proviso_postgres::sequence_batch(&mut c, 8, 4096, proviso_postgres::Head::SetAside).unwrap();
    let mut last = None;
    store
        .scan(0, &mut |r| {
            last = Some(r.record);
            true
        })
        .unwrap();
    let last = last.unwrap();
    assert_eq!(last.output, "");
    assert!(last.detail.unwrap().contains("output_sha256"));
    assert!(verify(&store).unwrap().is_intact());
}

/// A record written again after its acknowledgement was lost, with
/// another body (its callers were told it failed: withheld): the chain
/// keeps the first and adds what the client received.
#[test]
fn a_retried_record_with_another_body_is_recorded_as_resubmitted() {
    let db = TestDatabase::create().unwrap();
    let cfg = config(&db, 8);
    let store = PgStore::open(cfg.clone()).unwrap();
    let mut w = PgStore::open(cfg).unwrap();
    let mut r = Record::test("served");
    w.append(std::slice::from_ref(&r)).unwrap();
    store.sequence_pending(10).unwrap();
    r.status = 503;
    r.outcome = proviso_ledger::Outcome::Withheld;
    w.append(std::slice::from_ref(&r)).unwrap();
    store.sequence_pending(10).unwrap();
    let mut recs = Vec::new();
    store
        .scan(0, &mut |c| {
            recs.push(c.record);
            true
        })
        .unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].outcome, proviso_ledger::Outcome::Ok);
    assert_eq!(recs[1].endpoint, "ledger.resubmitted");
    assert!(recs[1].detail.as_deref().unwrap().contains("withheld"));
}

/// A reader opened as a snapshot sees one moment while the sequencer goes
/// on: `ledger verify` on a live ledger does not report a false end.
#[test]
fn a_snapshot_reader_sees_one_moment() {
    let db = TestDatabase::create().unwrap();
    let cfg = config(&db, 4);
    let mut w = PgStore::open(cfg.clone()).unwrap();
    w.append(&[Record::test("a"), Record::test("b")]).unwrap();
    let seq = PgStore::open(cfg.clone()).unwrap();
    seq.sequence_pending(10).unwrap();
    let snap = PgStore::open_snapshot(cfg).unwrap();
    assert_eq!(snap.tree_state().unwrap().size(), 2);
    w.append(&[Record::test("c"), Record::test("d"), Record::test("e")])
        .unwrap();
    seq.sequence_pending(10).unwrap();
    assert_eq!(outputs(&snap), vec!["a", "b"]);
    let rep = verify(&snap).unwrap();
    assert!(rep.is_intact(), "{:?}", rep.findings);
    assert_eq!(outputs(&seq).len(), 5);
}

/// Checkpoints signed over the shared ledger check as they do for SQLite.
#[test]
fn published_checkpoints_check_against_the_shared_ledger() {
    use proviso_ledger::{SignerKey, check_note, leaf_hashes, sign_current};
    let db = TestDatabase::create().unwrap();
    let cfg = config(&db, 4);
    let store = PgStore::open(cfg.clone()).unwrap();
    let mut w = PgStore::open(cfg).unwrap();
    w.append(&[Record::test("1"), Record::test("2"), Record::test("3")])
        .unwrap();
    store.sequence_pending(10).unwrap();
    let key = SignerKey::generate("pg.test/ledger").unwrap();
    let (_, note) = sign_current(&store, &key, "pg.test/ledger").unwrap();
    w.append(&[Record::test("4")]).unwrap();
    store.sequence_pending(10).unwrap();
    let c = check_note(&leaf_hashes(&store).unwrap(), &note, &key.verifier(), None);
    assert!(c.is_consistent(), "{c:?}");
}

/// Rolling upgrades: a record queued by a newer replica (a field this
/// build does not know) is not chained here, where it would lose that
/// field; what was queued before it is. The sequencer stands down so that
/// an upgraded replica takes the lock, and a reader meeting such a record
/// in the chain says so instead of reporting a broken chain.
#[test]
fn records_of_a_newer_replica_wait_for_a_sequencer_that_reads_them() {
    let db = TestDatabase::create().unwrap();
    let cfg = config(&db, 8);
    let store = PgStore::open(cfg.clone()).unwrap();
    let mut w = PgStore::open(cfg.clone()).unwrap();
    w.append(&[Record::test("before")]).unwrap();
    let mut newer = serde_json::to_value(Record::test("from a newer replica")).unwrap();
    newer["region"] = "eu-west".into();
    let body = serde_json::to_vec(&newer).unwrap();
    let id = newer["id"].as_str().unwrap().to_owned();
    let mut c = cfg.connect().unwrap();
    c.execute(
        "INSERT INTO ledger_pending (id, queued_us, replica, ord, body) \
         VALUES ($1, (SELECT max(queued_us) + 1 FROM ledger_pending), 'newer', 0, $2)",
        &[&id, &body],
    )
    .unwrap();
    w.append(&[Record::test("after")]).unwrap();
    // The one before it is chained; then the newer one stops the queue.
    let e = store.sequence_pending(10).err().unwrap();
    assert!(
        matches!(&e, proviso_ledger::LedgerError::Newer(m) if m.contains(&id) && m.contains("region")),
        "{e}"
    );
    assert_eq!(
        store.pending().unwrap(),
        2,
        "it and the one after, still queued, not lost"
    );
    assert_eq!(outputs(&store), vec!["before"]);
    // The elected sequencer meets it, stands down, and leaves it queued.
    let seq = SequencerHandle::spawn(cfg.clone()).unwrap();
    wait_for(|| seq.stats().stood_down >= 1, "the sequencer stands down");
    wait_for(|| !seq.stats().leader, "and gives up the lock");
    assert_eq!(store.pending().unwrap(), 2);
    drop(seq);
    // Chained by a newer sequencer (as it would: its body as queued), an
    // older reader names the record instead of a broken chain.
    c.execute("DELETE FROM ledger_pending", &[]).unwrap();
    c.execute(
        "INSERT INTO ledger_records (seq, id, time_ms, kind, endpoint, status, outcome, body, prev_hash, hash) \
         VALUES ((SELECT max(seq) + 1 FROM ledger_records), $1, 0, 'exchange', '/v1/chat/completions', \
         200, 'ok', $2, '\\x00', '\\x00')",
        &[&id, &body],
    )
    .unwrap();
    let e = verify(&store).err().unwrap().to_string();
    assert!(e.contains("newer Proviso") && e.contains("region"), "{e}");
}
