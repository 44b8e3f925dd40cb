//! `proviso serve`

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use proviso_gateway::config::LedgerOpener;
use proviso_gateway::config::{GatewayConfig, UpstreamConfig};
use proviso_ledger::{
    LedgerHandle, LedgerReader, LedgerStore, SqliteConfig, SqliteStore, WriterConfig,
};
use proviso_postgres::{PgStore, SequencerHandle};

use crate::config::Config;
use crate::{EXIT_USAGE, Exit};

/// Run the gateway.
#[derive(clap::Args)]
pub struct Args {
    /// Listen address (overrides `server.listen`; port 0 picks a free port).
    #[arg(long)]
    listen: Option<String>,
    /// For tests and simulations only: allow `[server] clock = "simulated"`,
    /// whose time clients move with `Proviso-Sim-Time` (loopback listeners
    /// only).
    #[arg(long)]
    allow_simulated_clock: bool,
}

pub fn run(mut cfg: Config, args: Args) -> anyhow::Result<ExitCode> {
    if let Some(l) = args.listen {
        cfg.server.listen = l;
    }
    if cfg.upstreams.is_empty() {
        let key = std::env::var("OPENAI_API_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        if key.is_none() {
            tracing::warn!(
                "no upstreams configured and OPENAI_API_KEY is not set: requests will reach OpenAI without a key"
            );
        }
        cfg.upstreams.push(UpstreamConfig::default_openai(key));
    }
    // What the index follower needs, taken before the config is consumed.
    let pg = crate::ledger_store::postgres(&cfg);
    let follow_settings = cfg.index.follow.then(|| {
        let every = std::time::Duration::from_millis(cfg.index.follow_interval_ms.max(50));
        let c = crate::config::Config {
            data_dir: cfg.data_dir.clone(),
            ledger: crate::config::LedgerSection {
                path: Some(cfg.ledger_path()),
                url: cfg.ledger.url.clone(),
                replica: cfg.ledger.replica.clone(),
                statement_timeout_ms: cfg.ledger.statement_timeout_ms,
                ..crate::config::LedgerSection::default()
            },
            index: crate::config::IndexSection {
                dir: Some(crate::cmd_index::dir(&cfg)),
                ..crate::config::IndexSection::default()
            },
            ..crate::config::Config::default()
        };
        (every, c)
    });
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if cfg.server.worker_threads > 0 {
        rt.worker_threads(cfg.server.worker_threads);
    }
    let rt = rt
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    let ledger_path = cfg.ledger_path();
    let ledger_name = crate::ledger_store::describe(&cfg);
    // With PostgreSQL, records are queued by this replica's writer and
    // chained by the deployment's one sequencer: every replica runs a
    // sequencer thread, and the one holding the lock works.
    // With SQLite, the gate the index follower's reads take, so that they
    // leave the writer room to restart the write-ahead log.
    let (store, mut sequencer, restart_gate): (Box<dyn LedgerStore>, _, _) = match &pg {
        Some(pg) => (
            Box::new(
                PgStore::open(pg.clone())
                    .with_context(|| format!("opening the ledger {ledger_name}"))?,
            ),
            Some(SequencerHandle::spawn(pg.clone()).context("starting the ledger's sequencer")?),
            None,
        ),
        None => {
            let store = SqliteStore::open(
                &ledger_path,
                SqliteConfig {
                    checkpoint_every: cfg.ledger.checkpoint_every,
                    wal_checkpoint_interval: (cfg.ledger.wal_checkpoint_interval_ms > 0)
                        .then(|| Duration::from_millis(cfg.ledger.wal_checkpoint_interval_ms)),
                    wal_max_bytes: cfg.ledger.wal_max_bytes.max(1024 * 1024),
                    ..SqliteConfig::default()
                },
            )
            .with_context(|| format!("opening the ledger {ledger_name}"))?;
            let gate = store.restart_gate();
            (Box::new(store), None, Some(gate))
        }
    };
    // Readers of the ledger in this process (the monitor's feed, the
    // publisher, /admin/usage): with PostgreSQL they share one connection,
    // made when first needed and again after it is lost.
    let open_reader = LedgerOpener(std::sync::Arc::new(reader_opener(
        ledger_path.clone(),
        pg.clone(),
    )));
    // With a shared ledger, the replica that runs the sequencer publishes.
    let publishes: Box<dyn Fn() -> bool + Send> = match &sequencer {
        Some(s) => Box::new(s.leader_probe()),
        None => Box::new(|| true),
    };
    let mut publisher = crate::checkpoints::Publisher::start(
        &cfg,
        open_reader.clone(),
        publishes,
        rt.handle().clone(),
    )?;
    let ledger = LedgerHandle::spawn(
        store,
        WriterConfig {
            max_batch: cfg.ledger.max_batch.max(1),
            max_backlog: cfg.ledger.max_backlog.max(1),
            max_backlog_bytes: cfg.ledger.max_backlog_bytes.max(1),
            ..WriterConfig::default()
        },
    )
    .context("starting the ledger writer")?;
    let (keys, mut key_listener) = crate::key_store::open_with_listener(&cfg)?;
    let batch_path = cfg.batch_path();
    // With a shared ledger, whether this replica runs the deployment's
    // monitor now.
    let monitor_acting = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gw = GatewayConfig {
        server: cfg.server.clone(),
        upstreams: cfg.upstreams,
        models: cfg.models,
        policy: cfg.policy,
        quotas: cfg.quotas,
        admin: cfg.admin,
        redact: cfg.redact,
        batch: proviso_gateway::config::BatchConfig {
            path: Some(batch_path),
            ..cfg.batch
        },
        monitor: cfg.monitor,
        ledger_reader: Some(open_reader.clone()),
        monitor_from_chain: pg.is_some(),
        monitor_report: pg
            .clone()
            .map(|p| crate::deployment::report_source(p, monitor_acting.clone())),
        allow_simulated_clock: args.allow_simulated_clock,
    };
    // The Redis quota client attaches to the runtime it is built in.
    let _in_runtime = rt.enter();
    let state = proviso_gateway::state(gw, ledger.clone(), keys)
        .map_err(|e| Exit(EXIT_USAGE, e.to_string()))?;
    // With a shared key store, another replica's change (a revocation) is
    // announced: reload at once instead of at the next refresh.
    let keys_stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let key_watch = match key_listener.take() {
        Some(mut listener) => {
            let (st, stop) = (state.clone(), keys_stop.clone());
            Some(
                std::thread::Builder::new()
                    .name("key-changes".into())
                    .spawn(move || {
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            if listener.wait(Duration::from_millis(250))
                                && let Err(e) = st.keys.refresh()
                            {
                                tracing::warn!(error = %e, "reloading keys after a change failed");
                            }
                        }
                    })
                    .context("starting the key change listener")?,
            )
        }
        None => None,
    };
    // The monitor's state survives a restart: rebuilt from the ledger.
    let mut replayed = 0;
    if let Some(m) = &state.monitor {
        let reader =
            (open_reader.0)().with_context(|| format!("reading the ledger {ledger_name}"))?;
        let t = std::time::Instant::now();
        let n = m
            .replay(reader.as_ref(), &state.quotas)
            .context("rebuilding the monitor from the ledger")?;
        replayed = n;
        let (observed, keys) = m.totals();
        tracing::info!(
            records = n,
            observed,
            keys,
            ms = t.elapsed().as_millis() as u64,
            "monitor rebuilt from the ledger"
        );
    }
    // On one node, what the monitor's queue drops under load is read back
    // from the ledger when the monitor has time: on a thread of normal
    // priority of its own (crate::background::ReadingThread), for the
    // reason the follower's is.
    if let (Some(m), None) = (&state.monitor, &pg) {
        let reader = crate::background::ReadingThread::start(
            Box::new(reader_opener(ledger_path.clone(), None)),
            restart_gate.clone(),
        )
        .context("starting the monitor's ledger reader")?;
        m.set_backfill(std::sync::Arc::new(reader));
    }
    // With a shared ledger: the monitor follows the chain (every
    // replica's records); one replica scores and acts.
    let feed_stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feed = match (&pg, &state.monitor) {
        (Some(pg), Some(m)) => Some(
            crate::deployment::start_monitor_feed(
                pg.clone(),
                m.clone(),
                state.quotas.clone(),
                open_reader.clone(),
                replayed + 1,
                monitor_acting.clone(),
                feed_stop.clone(),
            )
            .context("starting the monitor's feed")?,
        ),
        _ => None,
    };
    let listen = cfg.server.listen.clone();
    // Index recorded outputs as they are committed, in a thread of its own:
    // never on the request path, and a failure here never fails a request.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let follower = follow_settings.map(|(every, cfg_for_index)| {
        let stop = stop.clone();
        // The follower reads the ledger on a connection of its own, from a
        // thread of normal priority (crate::background::ReadingThread): at
        // idle priority it could otherwise hold a read transaction (or the
        // shared PostgreSQL reader) while it waits for CPU time.
        let reader = crate::background::ReadingThread::start(
            Box::new(reader_opener(ledger_path.clone(), pg.clone())),
            restart_gate.clone(),
        )?;
        // Made here, so that the thread keeping the claim runs at normal
        // priority (a thread inherits its maker's).
        let turn = crate::deployment::FollowerTurn::new(pg.clone())?;
        std::thread::Builder::new()
            .name("index-follower".into())
            .spawn(move || {
                // Indexing can wait; a request cannot.
                crate::background::yield_to_requests();
                // Asked after each chunk of records read (and before each
                // write and merge): the core is offered to whatever else is
                // ready (a thread of idle priority, once picked, is
                // otherwise left to run out its time slice).
                let go_on = || {
                    std::thread::yield_now();
                    !stop.load(std::sync::atomic::Ordering::Relaxed) && turn.mine()
                };
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let result = if turn.mine() {
                        crate::cmd_index::follow_from(&cfg_for_index, &reader, &go_on)
                    } else {
                        Ok(crate::cmd_index::Pass::NOTHING)
                    };
                    match result {
                        Ok(p) => {
                            if p.indexed > 0 {
                                tracing::info!(outputs = p.indexed, "indexed new ledger outputs");
                            }
                            if !p.caught_up {
                                // Behind: the next pass goes on at once.
                                continue;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "indexing the ledger failed; will retry")
                        }
                    }
                    let until = std::time::Instant::now() + every;
                    while std::time::Instant::now() < until
                        && !stop.load(std::sync::atomic::Ordering::Relaxed)
                    {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                }
            })
    });
    if let Some(Err(e)) = &follower {
        tracing::error!(error = %e, "the index follower could not start; outputs are not indexed until a restart");
    }
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await.map_err(|e| {
            proviso_gateway::StartError::Bind {
                addr: listen.clone(),
                source: e,
            }
        })?;
        let addr = listener
            .local_addr()
            .map_err(proviso_gateway::StartError::Serve)?;
        println!("proviso listening on http://{addr}");
        tracing::info!(%addr, ledger = %ledger_name, "proviso gateway started");
        proviso_gateway::serve(state, listener, shutdown_signal()).await
    });
    // Make sure the writer has flushed even if serving failed.
    ledger.shutdown();
    if let Some(s) = sequencer.as_mut() {
        s.stop();
    }
    if let Some(p) = publisher.as_mut() {
        p.stop();
    }
    feed_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(h) = feed {
        let _ = h.join();
    }
    keys_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(h) = key_watch {
        let _ = h.join();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(Ok(h)) = follower {
        let _ = h.join();
    }
    rt.shutdown_timeout(Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Opens a reader of the ledger: the SQLite file at `path`, or with `pg`
/// a PostgreSQL connection the opener's callers share (made when first
/// needed and again after it is lost).
fn reader_opener(
    path: std::path::PathBuf,
    pg: Option<proviso_postgres::PgConfig>,
) -> impl Fn() -> Result<Box<dyn LedgerReader + Send>, proviso_ledger::LedgerError> + Send + Sync + 'static
{
    let shared = pg.map(proviso_postgres::SharedReader::new);
    move || {
        Ok(match &shared {
            Some(s) => Box::new(s.get()?),
            None => Box::new(SqliteStore::open_existing(&path, SqliteConfig::default())?),
        })
    }
}
