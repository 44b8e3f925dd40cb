//! `proviso redact`: masked text on stdout (and only that), findings on
//! stderr, never a value in clear.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use proviso_redact::{Action, EntityKind, Redactor, Session};
use serde_json::json;

use crate::config::Config;
use crate::{EXIT_USAGE, Exit};

/// Mask personal data and secrets.
#[derive(clap::Args)]
pub struct Args {
    /// Entity types to look for, comma-separated (default: `[redact] entities`, else all).
    #[arg(long, value_delimiter = ',')]
    entities: Vec<String>,
    /// Action for every type: pseudonymize, mask, redact or hash (default: `[redact] actions`).
    #[arg(long)]
    action: Option<String>,
    /// Write the findings as JSON lines to this file instead of a table on stderr.
    #[arg(long)]
    findings_json: Option<std::path::PathBuf>,
    /// Print no findings.
    #[arg(long, short)]
    quiet: bool,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// Open the sealed placeholder mapping of a ledger record (needs
    /// `[redact] mapping_key`); prints placeholder → value as JSON.
    Reveal {
        /// The record id (`x-proviso-record-id`).
        record: String,
    },
}

fn reveal(cfg: &Config, record: &str) -> anyhow::Result<ExitCode> {
    let key = cfg.redact.mapping_key.as_ref().ok_or_else(|| {
        Exit(
            EXIT_USAGE,
            "[redact] mapping_key is not configured: no mapping can be opened".into(),
        )
    })?;
    let store = proviso_ledger::SqliteStore::open_existing(
        &cfg.ledger_path(),
        proviso_ledger::SqliteConfig::default(),
    )?;
    let mut detail = None;
    proviso_ledger::LedgerReader::scan(&store, 0, &mut |c| {
        if c.record.id.to_string() == record {
            detail = Some(c.record.detail.clone());
            return false;
        }
        true
    })?;
    let detail = detail.ok_or_else(|| Exit(1, format!("no record {record} in the ledger")))?;
    let sealed = detail
        .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
        .and_then(|d| {
            d.pointer("/desensitized/mapping_sealed")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .ok_or_else(|| Exit(1, format!("record {record} holds no sealed mapping")))?;
    let map = Session::open(&sealed, key.as_str()).map_err(|e| Exit(1, e.to_string()))?;
    println!("{}", serde_json::to_string_pretty(&map)?);
    Ok(ExitCode::SUCCESS)
}

pub fn run(cfg: &Config, a: Args) -> anyhow::Result<ExitCode> {
    if let Some(Sub::Reveal { record }) = &a.command {
        return reveal(cfg, record);
    }
    let mut rc = cfg.redact.redact_config();
    if !a.entities.is_empty() {
        rc.entities = a
            .entities
            .iter()
            .map(|e| e.trim().parse::<EntityKind>())
            .collect::<Result<_, _>>()
            .map_err(|e| Exit(EXIT_USAGE, format!("--entities: {e}")))?;
    }
    if let Some(act) = &a.action {
        let action: Action = serde_json::from_value(json!(act)).map_err(|_| {
            Exit(
                EXIT_USAGE,
                format!("--action: {act:?} is not one of pseudonymize, mask, redact, hash"),
            )
        })?;
        rc.actions = EntityKind::ALL.iter().map(|k| (*k, action)).collect();
    }
    let r = Redactor::new(rc).map_err(|e| Exit(EXIT_USAGE, e.to_string()))?;
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading standard input (it must be UTF-8 text)")?;
    let mut session = Session::default();
    let out = r.redact(&input, None, &mut session);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.text.as_bytes())?;
    stdout.flush()?;
    // Line numbers for the findings table.
    let line_of = |pos: usize| input[..pos].bytes().filter(|b| *b == b'\n').count() + 1;
    if let Some(path) = &a.findings_json {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for x in &out.findings {
            writeln!(
                f,
                "{}",
                json!({"type": x.kind, "start": x.start, "end": x.end, "line": line_of(x.start), "score": x.score})
            )?;
        }
    } else if !a.quiet {
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "{:<16} {:>6} {:>10} {:>6}  MASKED",
            "TYPE", "LINE", "BYTES", "SCORE"
        )?;
        for x in &out.findings {
            let masked = proviso_redact_mask(&input[x.start..x.end]);
            writeln!(
                err,
                "{:<16} {:>6} {:>10} {:>6.2}  {masked}",
                x.kind.name(),
                line_of(x.start),
                format!("{}-{}", x.start, x.end),
                x.score
            )?;
        }
        writeln!(err, "{} findings", out.findings.len())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The value as the findings table shows it: type of characters kept, all
/// but the last two hidden.
fn proviso_redact_mask(v: &str) -> String {
    let n = v.chars().count();
    v.chars()
        .enumerate()
        .map(|(i, c)| {
            if i + 2 >= n || !c.is_alphanumeric() {
                c
            } else {
                '•'
            }
        })
        .collect()
}
