//! What the monitor adds to the request path. The observe stage runs on
//! the ledger's writer thread (a tap on each committed batch), so the only
//! place it could show is the request's last wait, its record's commit:
//! measured with the monitor off, then on (tap set, monitor thread
//! scoring), in the same run. Run by `bench/monitor.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::sync::Arc;
use std::time::{Duration, Instant};

use proviso_gateway::key_cache::KeyCache;
use proviso_gateway::monitor::MonitorHandle;
use proviso_gateway::quota::{QuotaConfig, QuotaService};
use proviso_ledger::{LedgerHandle, Record, WriterConfig};
use proviso_monitor::MonitorConfig;
use proviso_types::{KeyId, RecordId, UnixMillis, Usage};

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    // Realistic records: the simulator's prompts, 38 keys.
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let corpus = proviso_traffic::Corpus::from_fixtures(&fixtures).unwrap();
    let sc = proviso_traffic::scenario(&corpus, &proviso_traffic::Options::default());
    let records: Vec<Record> = sc
        .requests
        .iter()
        .take(20_000)
        .map(|r| {
            let k = &sc.keys[r.key];
            let mut rec = Record::test(&"answer text ".repeat(100));
            rec.id = RecordId::new_at(UnixMillis(r.t));
            rec.time = UnixMillis(r.t);
            rec.key_id = Some(KeyId(format!("key_{}", k.name)));
            rec.team = Some(k.team.clone());
            rec.request = r.body.to_string();
            rec.usage = Some(Usage {
                prompt_tokens: 50,
                completion_tokens: 300,
                total_tokens: 350,
            });
            rec.detail = Some(format!(
                r#"{{"purpose":"{}","client":"{}"}}"#,
                k.purpose, r.client
            ));
            rec
        })
        .collect();
    let mean_request = records.iter().map(|r| r.request.len()).sum::<usize>() / records.len();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = proviso_ledger::SqliteStore::open(
        &dir.path().join("ledger.db"),
        proviso_ledger::SqliteConfig::default(),
    )
    .unwrap();
    let ledger = LedgerHandle::spawn(Box::new(store), WriterConfig::default()).unwrap();
    let keys = Arc::new(
        KeyCache::new(proviso_access::KeyStore::open(&dir.path().join("k.db")).unwrap()).unwrap(),
    );
    let quotas = QuotaService::new(QuotaConfig::default()).unwrap();
    let handle = MonitorHandle::new(MonitorConfig::default(), None).unwrap();
    handle.start(ledger.clone(), keys, quotas, rt.handle().clone());

    // What a request waits for at the end of the request path: its record
    // committed (append, then the receipt). With the monitor on, the
    // writer thread also hands each committed batch to the monitor's queue
    // (after answering) and the monitor thread scores beside it. Paced at
    // 2,000 requests per second; off, then on, in the same run.
    let pace = Duration::from_micros(500);
    // Blocks of 2,000 requests alternate off and on, so that drift of the
    // machine (page cache, other tenants) falls on both alike.
    // A third mode hands the records over but drops them unscored: the
    // tap's own cost, without the monitor's CPU competing.
    let mut rows = vec![
        ("monitor off", Vec::with_capacity(iters)),
        ("monitor on", Vec::with_capacity(iters)),
        (
            "tap only (records dropped, nothing scored)",
            Vec::with_capacity(iters),
        ),
    ];
    let block = 2_000;
    for b in 0..(3 * iters).div_ceil(block) {
        let mode = b % 3;
        match mode {
            1 => ledger.set_tap(proviso_gateway::pipeline::observe::tap(handle.clone())),
            2 => ledger.set_tap(Box::new(|recs: Vec<Record>, _: Vec<Option<u64>>| {
                for r in recs {
                    std::hint::black_box(proviso_gateway::monitor::slim(r));
                }
            })),
            _ => ledger.set_tap(Box::new(|_, _| {})),
        }
        let t = &mut rows[mode].1;
        let mut next = Instant::now();
        for i in (b / 3 * block)..((b / 3 + 1) * block).min(iters) {
            let mut rec = records[i % records.len()].clone();
            rec.id = RecordId::new_at(rec.time);
            // Sleep, not spin: a spinning client would take a core from the
            // gateway's own threads on this two-core machine.
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            next = next.max(now) + pace;
            let s = Instant::now();
            ledger.append(rec).recv().unwrap().unwrap();
            t.push(s.elapsed().as_secs_f64() * 1e9);
        }
    }
    let r = std::sync::atomic::Ordering::Relaxed;
    println!(
        "| record committed (the request path's last wait) | iterations | p50 µs | p99 µs | p99.9 µs |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for (name, t) in &rows {
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} |",
            t.len(),
            pct(t.clone(), 0.5) / 1000.0,
            pct(t.clone(), 0.99) / 1000.0,
            pct(t.clone(), 0.999) / 1000.0,
        );
    }
    let (off, on) = (&rows[0].1, &rows[1].1);
    println!();
    println!(
        "Added at p99: **{:.2} µs**, at p50: {:.2} µs (mean request body {mean_request} bytes, SQLite ledger); observations queued {}, dropped {}.",
        (pct(on.clone(), 0.99) - pct(off.clone(), 0.99)) / 1000.0,
        (pct(on.clone(), 0.5) - pct(off.clone(), 0.5)) / 1000.0,
        handle.queued.load(r),
        handle.dropped.load(r)
    );
    // The writer thread's added work per committed record: the tap itself
    // (drop the output, move into the queue), timed directly.
    let mut tap = proviso_gateway::pipeline::observe::tap(handle.clone());
    let mut t = Vec::with_capacity(iters);
    for i in 0..iters {
        let rec = records[i % records.len()].clone();
        let s = Instant::now();
        tap(vec![rec], vec![Some(i as u64 + 1)]);
        t.push(s.elapsed().as_secs_f64() * 1e9);
        if i % 64 == 0 {
            // let the monitor drain, as it would between batches
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    println!(
        "The tap on the writer thread, per committed record: p50 {:.0} ns, p99 {:.0} ns, p99.9 {:.0} ns.",
        pct(t.clone(), 0.5),
        pct(t.clone(), 0.99),
        pct(t.clone(), 0.999)
    );
    ledger.shutdown();
}
