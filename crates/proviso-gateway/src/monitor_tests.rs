//! The monitor's actuator in process: each ladder step a decision asks for
//! is recorded first and then taken (notice, throttle, suspension,
//! scheduled revocation), manual steps are only recorded, and a step whose
//! record cannot be written is not taken.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use std::sync::Arc;

use proviso_access::{Change, KeyRecord, KeyState, KeyStore, NewKey};
use proviso_ledger::{LedgerHandle, MemoryStore, WriterConfig};
use proviso_monitor::{Decision, Level, Mode, MonitorConfig};
use proviso_types::{KeyId, UnixMillis};
use serde_json::Map;

use super::{Behind, Hands, MIN_QUEUE_BYTES, MonitorHandle, slim};
use crate::config::QuotaConfig;
use crate::key_cache::KeyCache;
use crate::quota::{QuotaError, QuotaService};
use proviso_ledger::Record;
use std::sync::atomic::Ordering;

struct World {
    monitor: Arc<MonitorHandle>,
    store: MemoryStore,
    ledger: LedgerHandle,
    keys: Arc<KeyCache>,
    quotas: Arc<QuotaService>,
    rt: tokio::runtime::Runtime,
    key: KeyRecord,
    _dir: tempfile::TempDir,
}

const NOW: UnixMillis = UnixMillis(1_780_000_000_000);

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut store_keys = KeyStore::open(&dir.path().join("keys.db")).unwrap();
    let (key, _secret) = store_keys
        .create(
            &NewKey {
                team: "research".into(),
                ..NewKey::default()
            },
            &Change {
                by: "test",
                reason: "test",
                record_id: "01TEST",
                now: NOW,
            },
        )
        .unwrap();
    let store = MemoryStore::default();
    let ledger = LedgerHandle::spawn(Box::new(store.clone()), WriterConfig::default()).unwrap();
    let mut cfg = MonitorConfig::default();
    cfg.ladder.throttle_requests_per_minute = 2;
    World {
        monitor: MonitorHandle::new(cfg, None).unwrap(),
        store,
        ledger,
        keys: Arc::new(KeyCache::new(store_keys).unwrap()),
        quotas: QuotaService::new(QuotaConfig::default()).unwrap(),
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        key,
        _dir: dir,
    }
}

fn decision(w: &World, level: Level, mode: Mode) -> Decision {
    Decision {
        key: w.key.id.0.clone(),
        team: w.key.team.clone(),
        level,
        mode,
        actor: format!("key {}", w.key.id),
        score: 0.9,
        signals: Vec::new(),
        evidence: vec!["01EXAMPLE".into()],
    }
}

fn act(w: &World, d: &Decision, now: UnixMillis) {
    let hands = Hands {
        ledger: &w.ledger,
        keys: &w.keys,
        quotas: &w.quotas,
        rt: w.rt.handle(),
        http: None,
    };
    w.monitor.carry_out(d, now, &hands);
}

/// The names of the event records in the ledger, in order.
fn events(w: &World) -> Vec<String> {
    w.store
        .with_records(|r| r.iter().map(|c| c.record.endpoint.clone()).collect())
}

fn stored(w: &World) -> KeyRecord {
    w.keys
        .with_store(|s| s.get(&KeyId(w.key.id.0.clone())))
        .unwrap()
        .unwrap()
}

/// Whether a request of the key is admitted by the quotas now.
fn admitted(w: &World) -> bool {
    let plan = w
        .quotas
        .plan(&w.key, "gpt-4o-mini", "/v1/chat/completions", &Map::new());
    match w.rt.block_on(w.quotas.reserve(plan)) {
        Ok(r) => {
            r.settle(Some(1));
            true
        }
        Err(QuotaError::Refused(_)) => false,
        Err(e) => panic!("quota service: {e:?}"),
    }
}

#[test]
fn a_notice_is_recorded_then_put_on_the_key() {
    let w = world();
    assert!(w.monitor.notice(&w.key.id.0).is_none());
    act(&w, &decision(&w, Level::Notice, Mode::Auto), NOW);
    assert_eq!(events(&w), ["monitor.notice"]);
    let detail: serde_json::Value = w
        .store
        .with_records(|r| serde_json::from_str(r[0].record.detail.as_deref().unwrap()).unwrap());
    assert_eq!(detail["evidence"][0], "01EXAMPLE");
    assert!(
        w.monitor
            .notice(&w.key.id.0)
            .is_some_and(|n| n.contains("level notice"))
    );
    assert!(admitted(&w), "a notice does not limit");
}

#[test]
fn a_throttle_lowers_the_keys_limits_until_cleared() {
    let w = world();
    act(&w, &decision(&w, Level::Throttle, Mode::Auto), NOW);
    assert_eq!(events(&w), ["monitor.throttle"]);
    assert!(admitted(&w) && admitted(&w), "two requests a minute");
    assert!(!admitted(&w), "the third in the minute is refused");
    w.monitor.clear(&w.key.id.0, &w.quotas);
    assert!(
        admitted(&w),
        "cleared: the key's own (unlimited) quotas again"
    );
}

#[test]
fn a_suspension_goes_through_the_lifecycle_and_a_revocation_is_scheduled_after_it() {
    let w = world();
    act(&w, &decision(&w, Level::Suspend, Mode::Auto), NOW);
    assert_eq!(events(&w), ["monitor.suspend", "key.suspended"]);
    let k = stored(&w);
    assert_eq!(k.state, KeyState::Suspended);
    assert!(
        k.reason
            .as_deref()
            .is_some_and(|r| r.contains("score 0.900"))
    );
    assert_eq!(k.revoke_at, None);
    let later = UnixMillis(NOW.0 + 60_000);
    act(&w, &decision(&w, Level::Revoke, Mode::Auto), later);
    let k = stored(&w);
    let notice_ms = MonitorConfig::default().ladder.revoke_notice_ms as i64;
    assert_eq!(k.revoke_at, Some(UnixMillis(later.0 + notice_ms)));
    assert_eq!(k.effective_state(later), KeyState::Suspended);
    assert_eq!(
        k.effective_state(UnixMillis(later.0 + notice_ms)),
        KeyState::Revoked
    );
}

#[test]
fn a_manual_step_is_recorded_for_review_and_not_taken() {
    let w = world();
    act(&w, &decision(&w, Level::Suspend, Mode::Manual), NOW);
    assert_eq!(events(&w), ["monitor.review"]);
    assert_eq!(stored(&w).state, KeyState::Active);
    assert!(w.monitor.notice(&w.key.id.0).is_none());
}

#[test]
fn a_step_whose_record_cannot_be_written_is_not_taken() {
    let w = world();
    w.store.set_failure(Some("disk full"));
    act(&w, &decision(&w, Level::Notice, Mode::Auto), NOW);
    act(&w, &decision(&w, Level::Throttle, Mode::Auto), NOW);
    act(&w, &decision(&w, Level::Suspend, Mode::Auto), NOW);
    assert!(events(&w).is_empty());
    assert!(w.monitor.notice(&w.key.id.0).is_none());
    assert!(
        admitted(&w) && admitted(&w) && admitted(&w),
        "not throttled"
    );
    assert_eq!(stored(&w).state, KeyState::Active);
}

/// An exchange of one key, as the queue tests observe it.
fn keyed_record() -> Record {
    let mut rec = Record::test("out");
    rec.key_id = Some(proviso_types::KeyId("key_x".into()));
    rec
}

#[test]
fn the_queue_is_bounded_in_bytes() {
    let cfg = MonitorConfig {
        queue_bytes: 8 * 1024 * 1024,
        ..MonitorConfig::default()
    };
    let m = MonitorHandle::new(cfg, None).unwrap();
    let mut rec = keyed_record();
    rec.request = format!("{{\"model\":\"m\",\"prompt\":\"{}\"}}", "é".repeat(200_000));
    let s = slim(rec.clone());
    assert_eq!(
        s.request, rec.request,
        "the request stays whole (valid JSON)"
    );
    assert!(s.output.is_empty());
    // The thread is not started: the queue only fills. 400 KB each in
    // 8 MiB: 20 fit.
    for _ in 0..40 {
        m.observe(slim(rec.clone()));
    }
    let queued = m.queued.load(Ordering::Relaxed);
    assert!((19..=21).contains(&queued), "{queued} queued in 8 MiB");
    assert_eq!(m.dropped.load(Ordering::Relaxed), 40 - queued);
    assert!(m.queued_bytes.load(Ordering::Relaxed) <= 8 * 1024 * 1024);
}

#[test]
fn the_queue_bound_counts_what_a_small_record_holds() {
    // Many small exchanges: each holds its record and its texts, not only
    // its request. What is queued must fit the bound as held in memory.
    let bound = MIN_QUEUE_BYTES;
    let m = MonitorHandle::new(
        MonitorConfig {
            queue_bytes: bound,
            ..MonitorConfig::default()
        },
        None,
    )
    .unwrap();
    let mut rec = keyed_record();
    rec.request = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#.into();
    rec.detail = Some(r#"{"purpose":null,"client":"127.0.0.1"}"#.into());
    let held = std::mem::size_of::<Record>()
        + rec.request.len()
        + rec.detail.as_ref().map_or(0, String::len);
    for _ in 0..100_000 {
        m.observe(slim(rec.clone()));
    }
    let queued = usize::try_from(m.queued.load(Ordering::Relaxed)).unwrap();
    assert!(queued > 1000, "{queued} queued");
    assert!(
        queued * held <= bound,
        "{queued} records of at least {held} bytes in {bound}"
    );
    assert_eq!(m.dropped.load(Ordering::Relaxed), 100_000 - queued as u64);
}

#[test]
fn a_request_of_the_default_body_limit_fits_the_smallest_queue() {
    let m = MonitorHandle::new(
        MonitorConfig {
            queue_bytes: 0,
            ..MonitorConfig::default()
        },
        None,
    )
    .unwrap();
    let mut rec = keyed_record();
    let limit = crate::config::ServerConfig::default().max_body_bytes;
    let filler = "x".repeat(limit - 40);
    rec.request = format!("{{\"model\":\"m\",\"prompt\":\"{filler}\"}}");
    assert!(rec.request.len() <= limit);
    rec.detail = Some(r#"{"purpose":"product","client":"203.0.113.7"}"#.into());
    m.observe(slim(rec.clone()));
    assert_eq!(
        m.queued.load(Ordering::Relaxed),
        1,
        "one request at the limit is queued"
    );
    m.observe(slim(rec));
    assert_eq!(m.dropped.load(Ordering::Relaxed), 1, "a second one is not");
}

#[test]
fn the_queue_is_bounded_in_records() {
    let cfg = MonitorConfig {
        queue: 5,
        ..MonitorConfig::default()
    };
    let m = MonitorHandle::new(cfg, None).unwrap();
    let rec = keyed_record();
    // The thread is not started: nobody takes from the queue, and every
    // observation past the fifth is dropped at once.
    for _ in 0..1000 {
        m.observe(slim(rec.clone()));
    }
    assert_eq!(m.queued.load(Ordering::Relaxed), 5);
    assert_eq!(m.dropped.load(Ordering::Relaxed), 995);
}

#[test]
fn what_the_monitor_thread_takes_frees_its_place_in_the_queue() {
    let w = world();
    let m = MonitorHandle::new(
        MonitorConfig {
            queue: 5,
            ..MonitorConfig::default()
        },
        None,
    )
    .unwrap();
    m.start(
        w.ledger.clone(),
        w.keys.clone(),
        w.quotas.clone(),
        w.rt.handle().clone(),
    );
    let rec = keyed_record();
    let drained = |n: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while m.processed.load(Ordering::Relaxed) < n && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        m.processed.load(Ordering::Relaxed)
    };
    // Three rounds of a full queue: each is taken, and its places (count
    // and bytes) are free again for the next.
    for round in 1..=3u64 {
        for _ in 0..5 {
            m.observe(slim(rec.clone()));
        }
        assert_eq!(drained(5 * round), 5 * round);
    }
    assert_eq!(m.queued.load(Ordering::Relaxed), 15);
    assert_eq!(m.dropped.load(Ordering::Relaxed), 0);
    assert_eq!(m.queued_bytes.load(Ordering::Relaxed), 0);
}

#[test]
fn a_stream_cut_before_its_usage_is_observed_the_same_live_and_on_replay() {
    let mut r = Record::test(&"harvested answer text ".repeat(40));
    r.key_id = Some(KeyId("key_a".into()));
    r.usage = None;
    r.detail = Some(r#"{"counted_prompt_tokens":12}"#.into());
    let replayed = proviso_monitor::Observation::from_record(&r).unwrap();
    let live = proviso_monitor::Observation::from_record(&slim(r)).unwrap();
    assert_eq!(live.completion_tokens, replayed.completion_tokens);
    assert_eq!(live.prompt_tokens, replayed.prompt_tokens);
    assert_eq!(live.completion_tokens, (22 * 40u64).div_ceil(4));
}

#[test]
fn an_answer_is_remembered_the_same_live_and_on_replay() {
    // The queue's copy drops the output: its hash travels in the detail,
    // whatever the detail held (nothing, an object, an empty object).
    for detail in [
        None,
        Some(r#"{"client":"10.0.0.1","purpose":"product"}"#),
        Some("{ }"),
    ] {
        let mut r = Record::test("  The model's answer,\n at length. ");
        r.key_id = Some(KeyId("key_a".into()));
        r.detail = detail.map(str::to_owned);
        let replayed = proviso_monitor::Observation::from_record(&r).unwrap();
        let live = proviso_monitor::Observation::from_record(&slim(r)).unwrap();
        assert_ne!(replayed.answer, 0);
        assert_eq!(live.answer, replayed.answer, "{detail:?}");
        assert_eq!(
            (live.client, live.purpose),
            (replayed.client, replayed.purpose)
        );
        assert_eq!(
            live.answer,
            proviso_monitor::observation::said_hash("The model's answer, at length.")
        );
    }
}

/// Where the monitor is behind: a run of drops is read back before the
/// batch queued after it, or when idle as far as the latest drop (the run staying open
/// for drops to come); a queued record a read-back read already is passed
/// over, and a run starting at it starts after it.
#[test]
fn runs_of_drops_are_read_back_in_order_and_once() {
    let mut b = Behind::default();
    assert_eq!((b.before(1), b.idle(9), b.unread(9)), (None, None, 0));
    assert!(b.queued(1));
    // 3 to 6 dropped, 7 queued.
    b.dropped_from(3);
    assert_eq!(b.unread(6), 4);
    assert_eq!(b.before(7), Some((3, 6)));
    b.read_to(6);
    assert!(b.queued(7));
    assert_eq!(b.unread(6), 0);
    // 9 and 10 dropped; idle, read to 10; 12 dropped: read to 12.
    b.dropped_from(9);
    assert_eq!(b.idle(10), Some((9, 10)));
    b.read_to(10);
    assert_eq!((b.idle(10), b.unread(10)), (None, 0));
    assert_eq!(b.idle(12), Some((11, 12)));
    b.read_to(12);
    // 13 queued: nothing left before it.
    assert_eq!(b.before(13), None);
    assert!(b.queued(13));
    // The review's case: 20 and 21 dropped, 22 queued, 23 dropped, the
    // monitor idle in between reads to 23; then 22 and the run at 23 come
    // out of the queue: 22 is not observed again, nor 23 read again.
    b.dropped_from(20);
    assert_eq!(b.idle(23), Some((20, 23)));
    b.read_to(23);
    assert_eq!(b.before(22), None);
    assert!(!b.queued(22));
    b.dropped_from(23);
    assert_eq!(b.unread(23), 0);
    assert_eq!(b.idle(23), None);
    assert_eq!(b.before(24), None);
    assert!(b.queued(24));
    // And a run after it as usual.
    b.dropped_from(25);
    assert_eq!(b.before(27), Some((25, 26)));
    b.read_to(26);
    assert!(b.queued(27));
    // A read that failed at 52 of 50..=59: the queued batch from 60 on is
    // observed from the queue.
    b.dropped_from(50);
    assert_eq!(b.before(60), Some((50, 59)));
    b.read_to(52);
    assert!(b.queued(60));
    assert!(b.queued(61));
    // An idle read that failed gives its run up.
    b.dropped_from(70);
    assert_eq!(b.idle(75), Some((70, 75)));
    b.read_to(71);
    b.give_up();
    assert_eq!((b.idle(80), b.unread(80)), (None, 0));
    assert!(b.queued(76));
}

/// A replica that takes the monitor's job back rebuilds from the chain
/// while its queue may still hold records offered before: those the
/// rebuild covered are not observed again, the one after it is.
#[test]
fn a_queued_record_the_rebuild_covered_is_not_observed_again() {
    use proviso_ledger::{LedgerStore, MemoryStore};
    let w = world();
    let m = MonitorHandle::new(MonitorConfig::default(), None).unwrap();
    let rec = keyed_record();
    // Offered (sequence numbers 1 to 4) before the thread runs.
    for seq in 1..=4 {
        assert!(m.offer(seq, slim(rec.clone())));
    }
    // The rebuild: the chain holds the first three.
    let mut chain = MemoryStore::default();
    chain
        .append(&[rec.clone(), rec.clone(), rec.clone()])
        .unwrap();
    assert_eq!(m.replay(&chain, &w.quotas).unwrap(), 3);
    assert_eq!(m.totals().0, 3);
    m.start(
        w.ledger.clone(),
        w.keys.clone(),
        w.quotas.clone(),
        w.rt.handle().clone(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while m.processed.load(Ordering::Relaxed) < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(m.processed.load(Ordering::Relaxed), 4);
    assert_eq!(m.totals().0, 4, "three rebuilt, one observed");
}
