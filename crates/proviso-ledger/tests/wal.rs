//! The SQLite ledger's write-ahead log stays bounded under steady traffic
//! with no idle gap (the writer's own checkpoint runs only when idle), while
//! the database grows.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use proviso_ledger::{LedgerHandle, Record, SqliteConfig, SqliteStore, WriterConfig, verify};

/// The tests of this file measure the log while writing as fast as the
/// disk allows: one at a time, so that they do not share the disk and both
/// cores with each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A store whose log is checkpointed in the background every 50 ms and
/// bounded at `bound`.
fn bounded_store(db: &std::path::Path, bound: u64) -> SqliteStore {
    SqliteStore::open(
        db,
        SqliteConfig {
            wal_checkpoint_interval: Some(Duration::from_millis(50)),
            wal_max_bytes: bound,
            ..SqliteConfig::default()
        },
    )
    .unwrap()
}

/// A writer never idle long enough for its own checkpoint.
fn never_idle(store: SqliteStore) -> LedgerHandle {
    LedgerHandle::spawn(
        Box::new(store),
        WriterConfig {
            idle_interval: Duration::from_secs(3600),
            ..WriterConfig::default()
        },
    )
    .unwrap()
}

fn file_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

/// A ledger in a directory of its own, its log bounded at 1 MiB
/// ([`bounded_store`]), while no other test of this file runs.
struct Bounded {
    _alone: std::sync::MutexGuard<'static, ()>,
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    wal: std::path::PathBuf,
    bound: u64,
}

fn bounded() -> (Bounded, SqliteStore) {
    let alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let bound = 1024 * 1024;
    let store = bounded_store(&db, bound);
    let b = Bounded {
        _alone: alone,
        wal: dir.path().join("ledger.db-wal"),
        _dir: dir,
        db,
        bound,
    };
    (b, store)
}

/// Writes records of `body` in batches of eight, each batch then waited
/// for, resting `rest` after each, until the database holds `target`
/// bytes or a minute has passed; gives the largest the log grew to.
fn write_until(ledger: &LedgerHandle, b: &Bounded, body: &str, target: u64, rest: Duration) -> u64 {
    let (mut max_wal, mut n) = (0, 0u64);
    let start = Instant::now();
    while file_len(&b.db) < target && start.elapsed() < Duration::from_secs(60) {
        for _ in 0..8 {
            ledger.submit(Record::test(&format!("{n} {body}")));
            n += 1;
        }
        ledger.append_blocking(Record::test("sync")).unwrap();
        max_wal = max_wal.max(file_len(&b.wal));
        if !rest.is_zero() {
            std::thread::sleep(rest);
        }
    }
    max_wal
}

#[test]
fn the_wal_stays_bounded_under_steady_writes() {
    let (b, store) = bounded();
    let (db, bound) = (&b.db, b.bound);
    let gauge = store.wal_bytes();
    let ledger = never_idle(store);
    // About 24 MB of records in small batches, as steady traffic writes them.
    let max_wal = write_until(&ledger, &b, &"x".repeat(2_000), 12 * bound, Duration::ZERO);
    let db_len = file_len(db);
    assert!(
        db_len >= 12 * bound,
        "the database did not grow: {db_len} bytes"
    );
    // Between two checkpoints the log grows by what arrives in 50 ms; the
    // bound holds up to that.
    assert!(
        max_wal < 4 * bound,
        "the WAL reached {max_wal} bytes (bound {bound}) while the database grew to {db_len}"
    );
    assert!(
        gauge.load(std::sync::atomic::Ordering::Relaxed) < 4 * bound,
        "the gauge reports the WAL's size"
    );
    ledger.shutdown();
    let reader = SqliteStore::open_existing(db, SqliteConfig::default()).unwrap();
    let report = verify(&reader).unwrap();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

/// A reader that holds an old snapshot keeps the log from being restarted;
/// the writer must not wait for it (the busy timeout is 5 s) on every
/// commit once the log is over its bound.
#[test]
fn a_reader_holding_a_snapshot_does_not_stall_commits() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let bound: u64 = 1024 * 1024;
    let store = SqliteStore::open(
        &db,
        SqliteConfig {
            wal_checkpoint_interval: Some(Duration::from_millis(200)),
            wal_max_bytes: bound,
            ..SqliteConfig::default()
        },
    )
    .unwrap();
    let ledger = LedgerHandle::spawn(Box::new(store), WriterConfig::default()).unwrap();
    ledger.append_blocking(Record::test("first")).unwrap();
    let reader = rusqlite::Connection::open(&db).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let n: i64 = reader
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "the reader's snapshot is open");
    let body = "y".repeat(20_000);
    let start = Instant::now();
    for i in 0..200 {
        ledger
            .append_blocking(Record::test(&format!("{i} {body}")))
            .unwrap();
    }
    // 4 MB written past a 1 MiB bound while the snapshot pins the log: the
    // writer tried to restart it and found it busy, without waiting 5 s each
    // time (the whole run takes a fraction of one busy timeout).
    assert!(file_len(&dir.path().join("ledger.db-wal")) > bound);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "commits waited for the reader: {:?}",
        start.elapsed()
    );
    reader.execute_batch("COMMIT").unwrap();
    // The reader gone, the background checkpoint catches up and the writer
    // restarts the log: the file is cut back to the bound within a few
    // intervals of further commits.
    let wal = dir.path().join("ledger.db-wal");
    let grown = file_len(&wal);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut i = 0;
    while file_len(&wal) > bound + 64 * 1024 && Instant::now() < deadline {
        ledger
            .append_blocking(Record::test(&format!("after {i}")))
            .unwrap();
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        file_len(&wal) <= bound + 64 * 1024,
        "the log stayed at {} bytes (it had grown to {grown}; bound {bound})",
        file_len(&wal)
    );
    ledger.shutdown();
}

/// A reader that reads page after page, each in a transaction of its own
/// (the gateway's index follower), leaves the writer hardly a moment with
/// no reader on the log, so a restart would keep finding it busy and the
/// log would grow. Taking the store's restart gate before each page, it
/// stands aside while the log is over its bound, and the bound holds.
/// (Without the gate, the same run's log holds everything written.)
#[test]
fn a_reader_taking_the_restart_gate_lets_the_log_be_restarted() {
    let (b, store) = bounded();
    let (db, bound) = (b.db.clone(), b.bound);
    let gate = store.restart_gate();
    let ledger = never_idle(store);
    ledger.append_blocking(Record::test("first")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (reader_stop, reader_db) = (stop.clone(), db.clone());
    let reader = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&reader_db).unwrap();
        let (mut pages, mut waited) = (0u64, Duration::ZERO);
        while !reader_stop.load(std::sync::atomic::Ordering::SeqCst) {
            waited += gate.wait();
            conn.execute_batch("BEGIN").unwrap();
            let _: i64 = conn
                .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
                .unwrap();
            // A page's records are handed over while the snapshot is held.
            std::thread::sleep(Duration::from_millis(20));
            conn.execute_batch("COMMIT").unwrap();
            pages += 1;
        }
        (pages, waited)
    });
    let start = Instant::now();
    // About 2 MB/s, so that between two background passes the log grows
    // by a tenth of its bound: what takes it further is the reader.
    let body = "z".repeat(2_000);
    let max_wal = write_until(&ledger, &b, &body, 8 * bound, Duration::from_millis(8));
    let elapsed = start.elapsed();
    assert!(file_len(&db) >= 8 * bound, "the database did not grow");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (pages, waited) = reader.join().unwrap();
    // It stood aside (the gate closed), and not for most of the run (the
    // gate opened again).
    assert!(
        waited > Duration::ZERO,
        "the reader never stood aside ({pages} pages)"
    );
    assert!(
        waited < elapsed * 3 / 4 && pages > 50,
        "the reader waited {waited:?} of {elapsed:?} and read {pages} pages"
    );
    assert!(
        max_wal < 3 * bound,
        "the WAL reached {max_wal} bytes (bound {bound}) beside a reader of {pages} pages"
    );
    ledger.shutdown();
}
