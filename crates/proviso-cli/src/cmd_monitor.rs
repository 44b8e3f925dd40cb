//! `proviso monitor`: keys and clusters by risk, each signal's value and
//! contribution, rebuilt from the ledger with the configured weights (the
//! same state a restarting gateway rebuilds).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use proviso_monitor::{Level, Monitor};

use crate::config::Config;
use crate::{EXIT_USAGE, Exit};

/// Show per-key and per-cluster risk.
#[derive(clap::Args)]
pub struct Args {
    /// Print JSON (a list of objects, as `GET /admin/monitor`).
    #[arg(long)]
    json: bool,
    /// Show only actors at or above this level (ok, notice, throttle,
    /// suspend, revoke).
    #[arg(long, default_value = "ok")]
    min_level: String,
    /// Show at most this many actors (0: all).
    #[arg(long, default_value_t = 20)]
    top: usize,
}

pub fn run(cfg: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let min = Level::parse(&args.min_level).ok_or_else(|| {
        Exit(
            EXIT_USAGE,
            format!(
                "--min-level {:?}: expected ok, notice, throttle, suspend or revoke",
                args.min_level
            ),
        )
    })?;
    let store = crate::ledger_store::reader(cfg)?;
    let mut m = Monitor::new(cfg.monitor.clone()).map_err(|e| Exit(EXIT_USAGE, e.to_string()))?;
    m.set_enforcing(false);
    store
        .scan(1, &mut |c| {
            m.replay(&c.record);
            true
        })
        .context("reading the ledger")?;
    m.evaluate_all();
    let mut report: Vec<_> = m.report().into_iter().filter(|r| r.level >= min).collect();
    if args.top > 0 {
        report.truncate(args.top);
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{} requests observed, {} keys; scores as of the last request",
        m.observed(),
        m.active_keys()
    )?;
    if report.is_empty() {
        writeln!(out, "nothing at or above {min}")?;
    }
    for r in &report {
        writeln!(
            out,
            "\n{:<7} {:<28} team {:<14} score {:.3}  level {:<8} enforced {:<8} requests {}{}",
            r.kind,
            r.key_id,
            r.team,
            r.score,
            r.level,
            r.enforced,
            r.requests,
            r.cluster
                .as_ref()
                .map_or(String::new(), |c| format!("  (in {c})"))
        )?;
        if r.kind == "cluster" {
            writeln!(out, "  members: {}", r.members.join(", "))?;
        }
        let mut sigs: Vec<_> = r.signals.iter().filter(|s| s.value > 0.0).collect();
        sigs.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        for s in sigs {
            writeln!(
                out,
                "  {:<17} value {:.3}  x {:.2} = {:.3}  {}",
                s.name, s.value, s.weight, s.contribution, s.detail
            )?;
        }
        if !r.evidence.is_empty() && r.level > Level::Ok {
            writeln!(out, "  evidence: {}", r.evidence.join(" "))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
