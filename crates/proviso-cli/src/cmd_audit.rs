//! `proviso audit PATH…`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use proviso_audit::{Document, FieldSpec, Summary, read, sample, scan};

use crate::config::Config;
use crate::{EXIT_USAGE, Exit};

/// Scan training data against the index.
#[derive(clap::Args)]
pub struct Args {
    /// Files, directories or globs (JSON lines, JSON arrays, text; .gz or .zst).
    #[arg(required = true)]
    paths: Vec<String>,
    /// The field holding the text (a key or a JSON pointer); default: text,
    /// messages, conversations or instruction/input/output.
    #[arg(long)]
    field: Option<String>,
    /// Audit a uniform random sample of N documents instead of all.
    #[arg(long)]
    sample: Option<usize>,
    /// Seed of the sample.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write one JSON line per flagged document, then the summary, here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Exit with status 3 when the flagged rate (the sample's upper 95%
    /// Wilson bound when sampling) is above this fraction.
    #[arg(long)]
    fail_above: Option<f64>,
}

const BATCH: usize = 4096;

pub fn run(cfg: &Config, a: Args) -> anyhow::Result<ExitCode> {
    if let Some(r) = a.fail_above.filter(|r| !(0.0..=1.0).contains(r)) {
        return Err(Exit(
            EXIT_USAGE,
            format!("--fail-above {r}: expected a fraction between 0 and 1"),
        )
        .into());
    }
    if a.sample == Some(0) {
        return Err(Exit(EXIT_USAGE, "--sample must be at least 1".into()).into());
    }
    let index = crate::cmd_index::load(cfg)?;
    let spec = a.field.clone().map(FieldSpec::Named).unwrap_or_default();
    let mut summary = Summary::default();
    let mut bad = Vec::new();
    let mut flagged = Vec::new();
    let mut docs = 0u64;
    let started = std::time::Instant::now();
    match a.sample {
        Some(n) => {
            let mut s = sample(n, a.seed);
            read(&a.paths, &spec, &mut bad, &mut |d| s.offer(d));
            docs = s.seen();
            summary.sampled = true;
            flagged = scan(&index, &s.kept, &mut summary);
        }
        None => {
            let mut batch: Vec<Document> = Vec::with_capacity(BATCH);
            read(&a.paths, &spec, &mut bad, &mut |d| {
                docs += 1;
                batch.push(d);
                if batch.len() == BATCH {
                    flagged.extend(scan(&index, &batch, &mut summary));
                    batch.clear();
                }
            });
            flagged.extend(scan(&index, &batch, &mut summary));
        }
    }
    summary.documents = docs;
    summary.errors = bad;
    let secs = started.elapsed().as_secs_f64();
    if let Some(path) = &a.json {
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        for f in &flagged {
            writeln!(w, "{}", serde_json::to_string(f)?)?;
        }
        writeln!(w, "{}", serde_json::json!({"summary": summary}))?;
        w.flush()?;
    }
    let (wl, wh) = summary.wilson;
    let (cl, ch) = summary.clopper_pearson;
    eprintln!(
        "audited {} of {} documents ({:.1} MB, {:.1} MB/s): {} flagged, rate {:.4} (95% Wilson {:.4}–{:.4}, Clopper–Pearson {:.4}–{:.4}), token-weighted {:.4}; {} bad inputs",
        summary.audited,
        summary.documents,
        summary.bytes as f64 / 1e6,
        summary.bytes as f64 / 1e6 / secs.max(1e-9),
        summary.flagged,
        summary.rate,
        wl,
        wh,
        cl,
        ch,
        summary.token_weighted_rate,
        summary.errors.len()
    );
    for e in summary.errors.iter().take(20) {
        eprintln!("  bad input {}:{}: {}", e.file, e.line, e.error);
    }
    if summary.errors.len() > 20 {
        eprintln!("  … and {} more (all in --json)", summary.errors.len() - 20);
    }
    for f in flagged.iter().take(10) {
        let r = f.references.first();
        let origin = r
            .map(|r| {
                r.attribution.record_id.clone().unwrap_or_else(|| {
                    format!(
                        "{}:{}",
                        r.attribution.source,
                        r.attribution.row.unwrap_or(0)
                    )
                })
            })
            .unwrap_or_default();
        eprintln!(
            "  {}:{}  {} run {} covered {:.2} jaccard {:.2}  ← {origin}",
            f.file, f.line, f.kind, f.longest_run, f.covered, f.jaccard
        );
    }
    let gate = if summary.sampled {
        summary.wilson.1
    } else {
        summary.rate
    };
    if a.fail_above.is_some_and(|limit| gate > limit) {
        eprintln!(
            "proviso: flagged rate {gate:.4} is above --fail-above {}",
            a.fail_above.unwrap_or(0.0)
        );
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}
