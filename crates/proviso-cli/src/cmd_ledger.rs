//! `proviso ledger verify | export`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use proviso_ledger::{SqliteConfig, SqliteStore, export_jsonl, verify};
use proviso_types::UnixMillis;

use crate::config::Config;
use crate::{EXIT_USAGE, Exit};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Recompute every hash, link and checkpoint. Exit 0 only when intact,
    /// 1 when anything is wrong.
    Verify {
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Export records as JSON lines on stdout (or to --output).
    Export {
        /// Output format (only `jsonl`).
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Only records at or after this time (RFC 3339, a date, or ms).
        #[arg(long)]
        since: Option<String>,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

fn open(cfg: &Config) -> anyhow::Result<SqliteStore> {
    let path = cfg.ledger_path();
    SqliteStore::open_existing(&path, SqliteConfig::default())
        .with_context(|| format!("opening the ledger {}", path.display()))
}

pub fn run(cfg: &Config, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Verify { json } => {
            let store = open(cfg)?;
            let report = verify(&store).context("reading the ledger")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for f in &report.findings {
                    println!(
                        "BAD  {:<18} at {:>8}{}  {}",
                        format!("{:?}", f.kind),
                        f.seq,
                        f.record_id
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default(),
                        f.message
                    );
                }
                if report.total_findings as usize > report.findings.len() {
                    println!(
                        "… and {} more problems",
                        report.total_findings as usize - report.findings.len()
                    );
                }
                for u in &report.unclosed {
                    println!(
                        "OPEN {:<18} at {:>8} ({})  streamed exchange {} was opened and never closed: the gateway stopped mid-stream",
                        "Unclosed", u.seq, u.opened_id, u.exchange_id
                    );
                }
                let verdict = if report.is_intact() {
                    "intact"
                } else {
                    "DAMAGED"
                };
                println!(
                    "ledger {}: {} records, {} checkpoints, root {}: {verdict}",
                    store.path().display(),
                    report.records,
                    report.checkpoints,
                    report.root
                );
            }
            Ok(if report.is_intact() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Export {
            format,
            since,
            output,
        } => {
            if format != "jsonl" {
                return Err(Exit(
                    EXIT_USAGE,
                    format!("unknown export format {format:?}; only \"jsonl\" is supported"),
                )
                .into());
            }
            let since = since
                .map(|s| {
                    UnixMillis::parse(&s).map_err(|e| Exit(EXIT_USAGE, format!("--since: {e}")))
                })
                .transpose()?;
            let store = open(cfg)?;
            let n = match output {
                Some(p) => {
                    let f = std::fs::File::create(&p)
                        .with_context(|| format!("creating {}", p.display()))?;
                    let mut w = std::io::BufWriter::new(f);
                    let n = export_jsonl(&store, since, &mut w)?;
                    w.flush()?;
                    n
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut w = std::io::BufWriter::new(stdout.lock());
                    let n = export_jsonl(&store, since, &mut w)?;
                    w.flush()?;
                    n
                }
            };
            eprintln!("exported {n} records");
            Ok(ExitCode::SUCCESS)
        }
    }
}
