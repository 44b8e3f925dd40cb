//! `proviso`: the gateway, and the tools around its ledger and keys.

/// mimalloc in place of the C library's allocator: the request path
/// allocates and frees many small buffers, and glibc's malloc took about a
/// fifth of the gateway's CPU time under load (bench/RESULTS.md, "Gateway:
/// the floor on a near-free upstream").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod background;
mod checkpoints;
mod cmd_audit;
mod cmd_index;
mod cmd_keys;
mod cmd_ledger;
mod cmd_monitor;
mod cmd_policy;
mod cmd_redact;
mod cmd_serve;
mod config;
mod deployment;
mod key_store;
mod ledger_store;
mod report_html;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Proviso governs how an organisation uses third-party LLM APIs.
#[derive(Parser)]
#[command(name = "proviso", version, about, propagate_version = true)]
struct Cli {
    /// Configuration file (TOML). Without one, embedded defaults are used.
    #[arg(long, global = true, env = "PROVISO_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(cmd_serve::Args),
    /// Manage client keys.
    #[command(subcommand)]
    Keys(cmd_keys::Command),
    /// Check and export the ledger.
    #[command(subcommand)]
    Ledger(cmd_ledger::Command),
    /// Explain and lint the usage policy.
    #[command(subcommand)]
    Policy(cmd_policy::Command),
    /// Mask personal data and secrets: text on stdin, masked text on
    /// stdout, findings on stderr.
    Redact(cmd_redact::Args),
    /// Fill the fingerprint index from files or from the ledger.
    #[command(subcommand)]
    Index(cmd_index::Command),
    /// Scan training data for provider outputs. Exit 0, or 3 above --fail-above.
    Audit(cmd_audit::Args),
    /// Per-key and per-cluster risk of model extraction, with each signal's
    /// contribution (rebuilt from the ledger).
    Monitor(cmd_monitor::Args),
}

/// An error that carries its exit code.
#[derive(Debug)]
pub struct Exit(pub u8, pub String);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for Exit {}

/// Exit code for bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = e.downcast_ref::<Exit>().map_or(1, |x| x.0);
            eprintln!("proviso: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cfg = config::load(cli.config.as_deref())?;
    config::init_logging(&cfg.log);
    match cli.command {
        Command::Serve(a) => cmd_serve::run(cfg, a),
        Command::Keys(c) => cmd_keys::run(&cfg, c),
        Command::Ledger(c) => cmd_ledger::run(&cfg, c),
        Command::Policy(c) => cmd_policy::run(&cfg, c),
        Command::Redact(a) => cmd_redact::run(&cfg, a),
        Command::Index(c) => cmd_index::run(&cfg, c),
        Command::Audit(a) => cmd_audit::run(&cfg, a),
        Command::Monitor(a) => cmd_monitor::run(&cfg, a),
    }
}
