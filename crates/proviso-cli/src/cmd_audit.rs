//! `proviso audit PATH…`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use proviso_audit::{FieldSpec, Summary, read, sample, scan, scan_paths};

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
    /// Write a self-contained HTML report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Exit with status 3 when the flagged rate (the sample's upper 95%
    /// Wilson bound when sampling) is above this fraction.
    #[arg(long)]
    fail_above: Option<f64>,
    /// The significance in bits a chain of short shared seeds needs to
    /// flag a copy with many small edits (docs/audit.md): lower finds more
    /// edited copies, and more documents that are not copies [default: 33,
    /// or 27 when the index has a background]. What a copy keeps of a
    /// reference is a rule of its own (`--kept-min`); `--no-align` turns
    /// both off.
    #[arg(long, allow_negative_numbers = true)]
    align_min: Option<f64>,
    /// The share of an aligned reference (64 to 2,048 tokens long) that a
    /// document must keep (1 less the token edits that turn the reference
    /// into a stretch of the document, over its tokens) to be flagged,
    /// whatever its chain's significance (docs/audit.md): a fraction, or
    /// `off` [default: 0.55, or 0.5 when the index has a background].
    #[arg(long, conflicts_with = "no_align", value_parser = kept_share)]
    kept_min: Option<Kept>,
    /// No alignment of short seeds: exact runs and near duplicates only
    /// (a reference whose only run is short is then not matched).
    #[arg(long, conflicts_with = "align_min")]
    no_align: bool,
}

/// `--kept-min`: a share, or off.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kept(Option<f64>);

fn kept_share(s: &str) -> Result<Kept, String> {
    if s == "off" {
        return Ok(Kept(None));
    }
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(Kept(Some(v))),
        _ => Err(format!("{s}: expected a fraction between 0 and 1, or off")),
    }
}

/// Flagged documents kept with their text for the HTML report.
const SHOWN: usize = 50;

/// Flagged documents listed on stderr at the end.
const LISTED: usize = 10;

/// The `--json` file, written as the scan goes: one line per flagged
/// document, then the summary. A regular file is written beside its
/// destination (`.NAME.PID.partial`) and takes its name only when the
/// audit ends well, so a pipeline that reads it never sees a half-written
/// one, and a failed audit leaves none (the partial file goes when this is
/// dropped unfinished); anything else (`/dev/stdout`, a pipe) is written
/// in place. A symbolic link is followed: the file it points at is
/// replaced (or created), and the link stays a link.
struct Findings {
    /// The path as the user gave it (for messages).
    named: PathBuf,
    /// Where the finished file goes: `named`, or the file a symbolic link
    /// there points at.
    dest: PathBuf,
    partial: Option<PathBuf>,
    w: std::io::BufWriter<std::fs::File>,
    error: Option<std::io::Error>,
}

/// The file a symbolic link points at, followed to the end (a target that
/// does not exist yet: the link's own target, relative to the link's
/// directory); any other path as it is.
fn link_target(path: &std::path::Path) -> PathBuf {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return path.to_owned();
    }
    std::fs::canonicalize(path).unwrap_or_else(|_| match std::fs::read_link(path) {
        Ok(t) => path.parent().map_or_else(|| t.clone(), |dir| dir.join(&t)),
        Err(_) => path.to_owned(),
    })
}

impl Findings {
    fn create(named: &std::path::Path) -> anyhow::Result<Findings> {
        // A symbolic link is written through: the finished file replaces
        // the file it points at, and the link stays.
        let dest = link_target(named);
        let special = std::fs::metadata(&dest).is_ok_and(|m| !m.is_file());
        let partial = (!special).then(|| {
            let name = dest
                .file_name()
                .map_or_else(|| "findings".into(), |n| n.to_string_lossy().into_owned());
            dest.with_file_name(format!(".{name}.{}.partial", std::process::id()))
        });
        let at = partial.as_deref().unwrap_or(&dest);
        let opened = if special {
            std::fs::OpenOptions::new().write(true).open(at)
        } else {
            std::fs::File::create(at)
        };
        let file = opened.with_context(|| format!("creating {}", named.display()))?;
        Ok(Findings {
            named: named.to_owned(),
            dest,
            partial,
            w: std::io::BufWriter::with_capacity(1 << 20, file),
            error: None,
        })
    }

    /// Writes one line; false once writing has failed (the first error is
    /// kept for [`Findings::finish`]).
    fn line(&mut self, line: &str) -> bool {
        if self.error.is_none()
            && let Err(e) = writeln!(self.w, "{line}")
        {
            self.error = Some(e);
        }
        self.error.is_none()
    }

    /// Writes the last line and gives the file its name.
    fn finish(mut self, last: &str) -> anyhow::Result<()> {
        self.line(last);
        let flushed = self.w.flush();
        let failed = self.error.take().map_or(flushed, Err);
        failed.with_context(|| format!("writing {}", self.named.display()))?;
        if let Some(partial) = &self.partial {
            // On an error the partial file goes with `self` (`Drop`).
            std::fs::rename(partial, &self.dest)
                .with_context(|| format!("writing {}", self.named.display()))?;
        }
        self.partial = None;
        Ok(())
    }
}

impl Drop for Findings {
    fn drop(&mut self) {
        if let Some(partial) = &self.partial {
            let _ = std::fs::remove_file(partial);
        }
    }
}

/// Keeps the best flagged documents with their texts, for the report.
fn keep_best(
    shown: &mut Vec<(proviso_audit::Flagged, String)>,
    flagged: proviso_audit::Flagged,
    text: String,
) {
    shown.push((flagged, text));
    if shown.len() > 2 * SHOWN {
        shown.sort_by(|a, b| {
            b.0.longest_run
                .cmp(&a.0.longest_run)
                .then(b.0.jaccard.total_cmp(&a.0.jaccard))
        });
        shown.truncate(SHOWN);
    }
}

/// The text of each shown document's best reference: from the ledger by
/// record id, or from its source file by row.
fn reference_texts(
    cfg: &Config,
    shown: &[(proviso_audit::Flagged, String)],
) -> Vec<Option<String>> {
    use std::collections::HashMap;
    let attr = |f: &proviso_audit::Flagged| f.references.first().map(|r| r.attribution.clone());
    let mut by_record: HashMap<String, String> = HashMap::new();
    let wanted: Vec<String> = shown
        .iter()
        .filter_map(|(f, _)| attr(f)?.record_id)
        .collect();
    let store = (!wanted.is_empty())
        .then(|| crate::ledger_store::reader(cfg).ok())
        .flatten();
    if let Some(store) = store {
        let _ = store.scan(0, &mut |c| {
            let id = c.record.id.to_string();
            if wanted.contains(&id) {
                by_record.insert(id, c.record.output.clone());
            }
            by_record.len() < wanted.len()
        });
    }
    let mut files: HashMap<String, HashMap<u64, String>> = HashMap::new();
    shown
        .iter()
        .map(|(f, _)| {
            let a = attr(f)?;
            if let Some(id) = a.record_id {
                return by_record.get(&id).cloned();
            }
            let rows = files.entry(a.source.clone()).or_insert_with(|| {
                let mut m = HashMap::new();
                let mut bad = Vec::new();
                proviso_audit::read_references(
                    std::slice::from_ref(&a.source),
                    &FieldSpec::Auto,
                    &mut bad,
                    &mut |d| {
                        m.insert(d.line, d.text);
                    },
                );
                m
            });
            rows.get(&a.row?).cloned()
        })
        .collect()
}

/// The byte ranges of `text` that token ranges of it (as the index's
/// tokenizer `version` reads it) cover, in order.
fn token_bytes(text: &str, version: u32, spans: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let toks = proviso_index::tokenize_version(text, version);
    let mut bytes: Vec<(usize, usize)> = spans
        .iter()
        .filter(|(a, b)| a < b)
        .filter_map(|&(a, b)| Some((toks.get(a)?.start as usize, toks.get(b - 1)?.end as usize)))
        .collect();
    bytes.sort_unstable();
    // Overlapping ranges (pieces on two diagonals) made one.
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(bytes.len());
    for (a, b) in bytes {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

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
    if let Some(bits) = a.align_min.filter(|b| !b.is_finite()) {
        return Err(Exit(
            EXIT_USAGE,
            format!("--align-min {bits}: expected a number of bits"),
        )
        .into());
    }
    let (mut index, segment_paths) = crate::cmd_index::load_unchecked(cfg)?;
    let tokenizer = index
        .params()
        .map_or(proviso_index::TOKENIZER, |p| p.tokenizer);
    index.set_alignment(match (a.no_align, a.align_min) {
        (true, _) => proviso_index::Alignment::Off,
        (false, Some(bits)) => proviso_index::Alignment::AtLeast(bits),
        (false, None) => proviso_index::Alignment::Default,
    });
    if let Some(Kept(share)) = a.kept_min {
        index.set_kept(share);
    }
    let spec = a.field.clone().map(FieldSpec::Named).unwrap_or_default();
    // Created before the scan: a path that cannot be written fails now,
    // not after an hour of scanning.
    let mut out = a.json.as_deref().map(Findings::create).transpose()?;
    let write_failed = std::cell::Cell::new(false);
    let mut summary = Summary::default();
    // The first flagged documents, listed on stderr at the end.
    let mut first: Vec<proviso_audit::Flagged> = Vec::new();
    let mut shown: Vec<(proviso_audit::Flagged, String)> = Vec::new();
    let started = std::time::Instant::now();
    // Progress on stderr only when a person watches it.
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // The segments' checksums (every byte of the index read once) are
    // checked on a thread of their own while the scan starts, instead of
    // before it: on one core the other would wait that long. A damaged
    // segment stops the scan at its next block and the audit with the
    // error it would have had at the start, before anything found is
    // written.
    let damaged = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let checked = scope.spawn(|| {
            let r = crate::cmd_index::check_loaded(&index, &segment_paths);
            damaged.store(r.is_err(), std::sync::atomic::Ordering::Relaxed);
            r
        });
        match a.sample {
            Some(n) => {
                let mut s = sample(n, a.seed);
                let mut bad = Vec::new();
                read(&a.paths, &spec, &mut bad, &mut |d| s.offer(d));
                summary.sampled = true;
                let flagged = scan(&index, &s.kept, &mut summary);
                for f in &flagged {
                    if let Some(out) = out.as_mut() {
                        // A failed write is kept and reported by `finish`.
                        out.line(&serde_json::to_string(f)?);
                    }
                    if a.report.is_some()
                        && let Some(d) =
                            s.kept.iter().find(|d| d.line == f.line && d.file == f.file)
                    {
                        keep_best(&mut shown, f.clone(), d.text.clone());
                    }
                }
                first = flagged.into_iter().take(LISTED).collect();
                summary.documents = s.seen();
                summary.errors = bad;
            }
            None => {
                let progress = proviso_audit::Progress::for_paths(&a.paths);
                scan_paths(
                    &index,
                    &a.paths,
                    &spec,
                    &progress,
                    out.is_some(),
                    &mut summary,
                    &mut |found| {
                        if let (Some(out), Some(line)) = (out.as_mut(), &found.json)
                            && !out.line(line)
                        {
                            write_failed.set(true);
                        }
                        if first.len() < LISTED {
                            first.push(found.flagged.clone());
                        }
                        if a.report.is_some() {
                            keep_best(&mut shown, found.flagged, found.text);
                        }
                    },
                    &mut |summary| {
                        if tty {
                            let secs = started.elapsed().as_secs_f64().max(1e-9);
                            eprint!(
                                "\r{} documents, {:.0} MB, {:.1} MB/s, {} flagged, {}   ",
                                summary.audited,
                                summary.bytes as f64 / 1e6,
                                summary.bytes as f64 / 1e6 / secs,
                                summary.flagged,
                                eta(progress.done(), progress.total, secs)
                            );
                        }
                        // A damaged index or a findings file that
                        // cannot be written stops the scan.
                        !damaged.load(std::sync::atomic::Ordering::Relaxed) && !write_failed.get()
                    },
                );
                if tty {
                    eprintln!();
                }
            }
        }
        checked
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("checking the index failed")))
    })?;
    let secs = started.elapsed().as_secs_f64();
    if let Some(out) = out {
        // The rules the findings were made by, beside the totals: a file
        // read later says what flagged its documents.
        let mut line = serde_json::json!({ "summary": summary });
        line["summary"]["rules"] = serde_json::to_value(index.rules()).unwrap_or_default();
        out.finish(&line.to_string())?;
    }
    if let Some(path) = &a.report {
        shown.sort_by(|x, y| {
            y.0.longest_run
                .cmp(&x.0.longest_run)
                .then(y.0.jaccard.total_cmp(&x.0.jaccard))
        });
        shown.truncate(SHOWN);
        let refs = reference_texts(cfg, &shown);
        let items: Vec<crate::report_html::Shown> = shown
            .into_iter()
            .zip(refs)
            .map(|((flagged, text), reference_text)| {
                let reference_spans = match (&reference_text, flagged.references.first()) {
                    (Some(t), Some(m)) => token_bytes(t, tokenizer, &m.matched.reference_spans),
                    _ => Vec::new(),
                };
                crate::report_html::Shown {
                    flagged,
                    text,
                    reference_text,
                    reference_spans,
                }
            })
            .collect();
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        std::fs::write(path, crate::report_html::render(&summary, &items, &command))
            .with_context(|| format!("writing {}", path.display()))?;
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
    for f in &first {
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
    // The index is not dropped: the process ends here, and freeing a
    // million references' attribution one string at a time would keep it
    // ~0.1 s longer on one core (the map and memory go with the process).
    std::mem::forget(index);
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

/// "37% of 1.2 GB, ETA 1:05" from the bytes of the input files read so far
/// (as stored: compressed files count their compressed size).
fn eta(done: u64, total: u64, secs: f64) -> String {
    if total == 0 || done == 0 {
        return String::new();
    }
    let frac = (done as f64 / total as f64).min(1.0);
    let left = (secs / frac - secs).max(0.0).round() as u64;
    format!(
        "{:.0}% of {:.1} GB, ETA {}:{:02}",
        frac * 100.0,
        total as f64 / 1e9,
        left / 60,
        left % 60
    )
}

#[cfg(test)]
mod eta_tests {
    use super::eta;

    #[test]
    fn eta_from_bytes_read() {
        assert_eq!(eta(0, 100, 1.0), "");
        assert_eq!(
            eta(250_000_000, 1_000_000_000, 30.0),
            "25% of 1.0 GB, ETA 1:30"
        );
        assert_eq!(
            eta(1_000_000_000, 1_000_000_000, 30.0),
            "100% of 1.0 GB, ETA 0:00"
        );
    }
}
