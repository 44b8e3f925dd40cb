//! `proviso-fake-upstream`: a deterministic OpenAI-compatible server for
//! tests, benchmarks and trying Proviso without an API key.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use proviso_testkit::fake::{FakeConfig, load_corpus, serve};

/// A deterministic OpenAI-compatible server with fault injection.
#[derive(Parser)]
#[command(name = "proviso-fake-upstream", version)]
struct Args {
    /// Port to listen on (0 picks a free one; the bound address is printed).
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Delay before the first byte of every answer, milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Streaming speed in tokens per second (0: as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    tokens_per_s: f64,
    /// Answers to draw from (JSON array with `output`, or JSON lines).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Require this upstream key (Bearer or api-key header).
    #[arg(long, env = "FAKE_UPSTREAM_KEY")]
    require_key: Option<String>,
    /// How long a batch runs before it completes, milliseconds.
    #[arg(long, default_value_t = 300)]
    batch_delay_ms: u64,
    /// Worker threads (default: 1).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut cfg = FakeConfig {
        latency: Duration::from_millis(args.latency_ms),
        tokens_per_s: args.tokens_per_s,
        require_key: args.require_key.clone(),
        batch_delay: Duration::from_millis(args.batch_delay_ms),
        ..FakeConfig::default()
    };
    if let Some(p) = &args.corpus {
        match load_corpus(p) {
            Ok(c) => cfg.corpus = c,
            Err(e) => {
                eprintln!("proviso-fake-upstream: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("proviso-fake-upstream: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "proviso-fake-upstream: cannot bind {}:{}: {e}",
                    args.host, args.port
                );
                return ExitCode::FAILURE;
            }
        };
        match listener.local_addr() {
            Ok(a) => println!("proviso-fake-upstream listening on http://{a}"),
            Err(e) => eprintln!("proviso-fake-upstream: {e}"),
        }
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match serve(listener, cfg, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("proviso-fake-upstream: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
