//! `proviso-bare-proxy`: the floor the gateway is measured against. It
//! forwards `POST /v1/chat/completions` to one upstream on the gateway's
//! own HTTP stack (axum server, reqwest client) and does nothing else; with
//! `--ledger` it also commits one chained record of each exchange through
//! Proviso's ledger writer (SQLite, group commit) before answering, which
//! is the least a durable, chained record costs. Benchmarks only
//! (`bench/gateway_floor.sh`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use clap::Parser;
use proviso_ledger::{LedgerHandle, Record, SqliteConfig, SqliteStore, WriterConfig};

/// The allocator `proviso` uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Forwards chat completions to one upstream; optionally records each.
#[derive(Parser)]
#[command(name = "proviso-bare-proxy", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
    /// The upstream's base URL (`…/v1/chat/completions` is appended).
    #[arg(long)]
    upstream: String,
    /// Commit a chained record of each exchange to this SQLite ledger
    /// before answering.
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// How often the ledger's WAL is checkpointed in the background, in
    /// milliseconds (`[ledger] wal_checkpoint_interval_ms`, whose default
    /// this is; 0: only when idle).
    #[arg(long, default_value_t = 10)]
    wal_checkpoint_ms: u64,
    /// The bound on the ledger's WAL (`[ledger] wal_max_bytes`; unlike
    /// `proviso serve`, no 1 MiB floor).
    #[arg(long, default_value_t = SqliteConfig::default().wal_max_bytes)]
    wal_max_bytes: u64,
}

struct Proxy {
    client: reqwest::Client,
    url: String,
    ledger: Option<LedgerHandle>,
}

async fn forward(State(p): State<Arc<Proxy>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut req = p.client.post(&p.url).body(body.clone());
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        req = req.header(header::AUTHORIZATION, v);
    }
    req = req.header(header::CONTENT_TYPE, "application/json");
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = resp.status();
    let answer = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    if let Some(ledger) = &p.ledger {
        let mut r = Record::test("");
        r.status = status.as_u16();
        r.request = String::from_utf8_lossy(&body).into_owned();
        r.response = Some(String::from_utf8_lossy(&answer).into_owned());
        if let Err(e) = ledger
            .append(r)
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
        {
            return (StatusCode::SERVICE_UNAVAILABLE, e).into_response();
        }
    }
    (status, [(header::CONTENT_TYPE, "application/json")], answer).into_response()
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proviso-bare-proxy: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let ledger = match &args.ledger {
        Some(path) => {
            let store = SqliteStore::open(
                path,
                SqliteConfig {
                    wal_checkpoint_interval: (args.wal_checkpoint_ms > 0)
                        .then(|| Duration::from_millis(args.wal_checkpoint_ms)),
                    wal_max_bytes: args.wal_max_bytes,
                    ..SqliteConfig::default()
                },
            )?;
            Some(LedgerHandle::spawn(
                Box::new(store),
                WriterConfig::default(),
            )?)
        }
        None => None,
    };
    let proxy = Arc::new(Proxy {
        client: reqwest::Client::builder().build()?,
        url: format!(
            "{}/v1/chat/completions",
            args.upstream.trim_end_matches('/')
        ),
        ledger,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let app = Router::new()
            .route("/v1/chat/completions", post(forward))
            .with_state(proxy);
        let listener = tokio::net::TcpListener::bind(&args.listen).await?;
        println!("listening on {}", listener.local_addr()?);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
