//! `proviso ledger verify | export`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use proviso_ledger::{export_jsonl, verify};
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
        /// Also check that the log extends this signed checkpoint,
        /// published earlier (repeatable): a truncated tail or a rewritten
        /// history fails even when the chain itself is intact.
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<PathBuf>,
        /// The key the checkpoints must be signed by
        /// (`<name>+<id>+<base64>`, or a file holding it). Default: the
        /// verifier of `[ledger] checkpoint_key`.
        #[arg(long, value_name = "KEY_OR_FILE")]
        key: Option<String>,
    },
    /// Print the signed checkpoint of the log as it stands (C2SP
    /// tlog-checkpoint, signed with `[ledger] checkpoint_key`).
    Checkpoint {
        /// Write it to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Make a new Ed25519 key for signing checkpoints: the signing key is
    /// written to FILE (owner-only), the key that verifies is printed.
    Keygen {
        /// The key's name, by convention the log's origin
        /// (e.g. `proviso.example.com/ledger`).
        #[arg(long)]
        name: String,
        /// Where to write the signing key.
        #[arg(long, short)]
        output: PathBuf,
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

fn open(cfg: &Config) -> anyhow::Result<crate::ledger_store::Reader> {
    crate::ledger_store::reader(cfg)
}

pub fn run(cfg: &Config, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Verify {
            json,
            checkpoints,
            key,
        } => {
            let store = open(cfg)?;
            let report = verify(store.as_ref()).context("reading the ledger")?;
            let against = published(cfg, store.as_ref(), &checkpoints, key.as_deref())?;
            // A shared ledger's records wait in a queue until the
            // sequencer chains them: say how many are not verified yet.
            let queued = match crate::ledger_store::postgres(cfg) {
                Some(pg) => Some(proviso_postgres::PgStore::open(pg)?.pending()?),
                None => None,
            };
            let consistent = against.iter().all(|(_, c)| c.is_consistent());
            if json {
                let mut v = serde_json::to_value(&report)?;
                if let Some(o) = v.as_object_mut() {
                    let list: Vec<serde_json::Value> = against
                        .iter()
                        .map(|(p, c)| {
                            let mut e = serde_json::to_value(c).unwrap_or_default();
                            if let Some(o) = e.as_object_mut() {
                                o.insert("file".into(), p.display().to_string().into());
                            }
                            e
                        })
                        .collect();
                    o.insert("published_checkpoints".into(), list.into());
                    if let Some(n) = queued {
                        o.insert("queued".into(), n.into());
                    }
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (p, c) in &against {
                    println!("{}", describe_consistency(p, c));
                }
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
                    crate::ledger_store::describe(cfg),
                    report.records,
                    report.checkpoints,
                    report.root
                );
                if let Some(n) = queued.filter(|n| *n > 0) {
                    println!("{n} records queued, not yet sequenced (not verified yet)");
                }
            }
            Ok(if report.is_intact() && consistent {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Checkpoint { output } => {
            let key = crate::checkpoints::signer(cfg)?.ok_or_else(|| {
                Exit(
                    EXIT_USAGE,
                    "no signing key: set [ledger] checkpoint_key or checkpoint_key_file".into(),
                )
            })?;
            let store = open(cfg)?;
            let origin = crate::checkpoints::origin(cfg, &key);
            let (body, note) = proviso_ledger::sign_current(store.as_ref(), &key, &origin)?;
            match output {
                Some(p) => {
                    std::fs::write(&p, &note)
                        .with_context(|| format!("writing {}", p.display()))?;
                    eprintln!(
                        "checkpoint of {} records written to {}",
                        body.size,
                        p.display()
                    );
                }
                None => print!("{note}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keygen { name, output } => {
            let key = proviso_ledger::SignerKey::generate(&name)
                .map_err(|e| Exit(EXIT_USAGE, format!("--name: {e}")))?;
            crate::checkpoints::write_private(&output, &key.encode())?;
            eprintln!(
                "signing key written to {}; publish the key that verifies:",
                output.display()
            );
            println!("{}", key.verifier().encode());
            Ok(ExitCode::SUCCESS)
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
                    let n = export_jsonl(store.as_ref(), since, &mut w)?;
                    w.flush()?;
                    n
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut w = std::io::BufWriter::new(stdout.lock());
                    let n = export_jsonl(store.as_ref(), since, &mut w)?;
                    w.flush()?;
                    n
                }
            };
            eprintln!("exported {n} records");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Each `--checkpoint` file against the log.
fn published(
    cfg: &Config,
    store: &dyn proviso_ledger::LedgerReader,
    files: &[PathBuf],
    key: Option<&str>,
) -> anyhow::Result<Vec<(PathBuf, proviso_ledger::Consistency)>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let vkey = crate::checkpoints::verifier(cfg, key)?;
    let origin = cfg.ledger.checkpoint_origin.clone();
    let leaves = proviso_ledger::leaf_hashes(store).context("reading the ledger")?;
    files
        .iter()
        .map(|p| {
            let note = std::fs::read_to_string(p)
                .map_err(|e| Exit(EXIT_USAGE, format!("--checkpoint {}: {e}", p.display())))?;
            Ok((
                p.clone(),
                proviso_ledger::check_note(&leaves, &note, &vkey, origin.as_deref()),
            ))
        })
        .collect()
}

fn describe_consistency(p: &std::path::Path, c: &proviso_ledger::Consistency) -> String {
    use proviso_ledger::Consistency as C;
    let f = p.display();
    match c {
        C::Consistent { size, log_size } => format!(
            "OK   checkpoint {f}: the log's first {size} records are the checkpoint's ({log_size} now)"
        ),
        C::Truncated { size, log_size } => format!(
            "BAD  checkpoint {f}: it covered {size} records, the log has {log_size}: records were removed from the end"
        ),
        C::Rewritten { size, log_size } => format!(
            "BAD  checkpoint {f}: the log's first {size} records are not the ones it covered ({log_size} now): history was rewritten"
        ),
        C::BadCheckpoint { reason } => format!("BAD  checkpoint {f}: {reason}"),
    }
}
