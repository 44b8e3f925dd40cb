//! `proviso index add | background | rebuild | stats`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use proviso_audit::{BadInput, FieldSpec, read_references};
use proviso_index::{
    Background, Index, IndexBuilder, IndexSet, Params, Reference, read_segment, write_segment,
};
use proviso_ledger::{LedgerReader, Outcome, RecordKind};

use crate::config::Config;
use crate::{EXIT_USAGE, Exit};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Add reference outputs from files (JSON arrays or JSON lines with
    /// `output`, `text` or `content`); each keeps its file and row.
    Add {
        /// Files, directories or globs.
        #[arg(required = true)]
        files: Vec<String>,
        /// The field holding the output (a key or a JSON pointer).
        #[arg(long)]
        field: Option<String>,
        /// The field holding the request that produced the output (a key
        /// or a JSON pointer; chat messages are joined): text the output
        /// repeats from it is not taken as evidence of a copy.
        #[arg(long)]
        prompt_field: Option<String>,
    },
    /// Add texts the provider did not write (human text, other models'
    /// answers) to the index's background: the phrases they hold are then
    /// no evidence of a copy.
    Background {
        /// Files, directories or globs (JSON arrays, JSON lines, text).
        #[arg(required = true)]
        files: Vec<String>,
        /// The field holding the text (a key or a JSON pointer).
        #[arg(long)]
        field: Option<String>,
    },
    /// Rebuild the ledger's segment from every output the ledger holds.
    Rebuild,
    /// Show what the index holds.
    Stats,
}

/// The index directory.
pub fn dir(cfg: &Config) -> PathBuf {
    cfg.index
        .dir
        .clone()
        .unwrap_or_else(|| cfg.data_dir.join("index"))
}

/// Loads every segment of the index directory into one index.
pub fn load(cfg: &Config) -> anyhow::Result<IndexSet> {
    load_with(cfg, read_segment).map(|(set, _)| set)
}

/// Loads every segment without reading each whole file for its checksum
/// (see [`proviso_index::open_segment`]); the paths are returned for
/// [`check_loaded`], which must pass before anything found is reported.
pub fn load_unchecked(cfg: &Config) -> anyhow::Result<(IndexSet, Vec<PathBuf>)> {
    load_with(cfg, proviso_index::open_segment)
}

/// The checksum and references of every segment of a [`load_unchecked`]
/// index.
pub fn check_loaded(set: &IndexSet, paths: &[PathBuf]) -> anyhow::Result<()> {
    for (seg, path) in set.segments().iter().zip(paths) {
        proviso_index::check_opened(seg, path)?;
    }
    Ok(())
}

fn load_with(
    cfg: &Config,
    open: fn(&std::path::Path) -> Result<Index, proviso_index::IndexError>,
) -> anyhow::Result<(IndexSet, Vec<PathBuf>)> {
    let d = dir(cfg);
    proviso_index::open_dir(&d, open).map_err(|e| open_error(&d, e))
}

/// An index directory's opening error as the CLI reports it.
fn open_error(d: &std::path::Path, e: proviso_index::IndexError) -> anyhow::Error {
    use proviso_index::IndexError;
    match e {
        IndexError::Io { path, source } if path == d.display().to_string() => {
            anyhow::Error::new(source).context(format!(
                "no index at {} (run `proviso index add` or `proviso index rebuild`)",
                d.display()
            ))
        }
        e @ IndexError::Empty { .. } => Exit(EXIT_USAGE, e.to_string()).into(),
        IndexError::ParamsDiffer => params_differ(),
        // A segment or the background that cannot be read.
        IndexError::Io { path, source } => {
            anyhow::Error::new(source).context(format!("reading {path}"))
        }
        e => e.into(),
    }
}

/// The index directory's background, if it has one.
fn read_background(d: &std::path::Path) -> anyhow::Result<Option<Background>> {
    proviso_index::read_background(d).map_err(|e| open_error(d, e))
}

/// The parameters of new segments for directory `d`: those of a segment
/// already there (so a directory keeps one tokenizer version and one salt
/// across an upgrade and stays one index), else today's defaults keyed by
/// the directory's salt ([`dir_salt`]).
fn params_for(d: &std::path::Path) -> anyhow::Result<Params> {
    let existing = proviso_index::segment_paths(d).ok().and_then(|paths| {
        paths
            .iter()
            .find_map(|p| proviso_index::open_segment(p).ok())
    });
    match existing {
        Some(seg) => Ok(seg.params().clone()),
        None => Ok(Params::keyed(dir_salt(d)?)),
    }
}

/// Puts `salt` in the directory's `salt` file, replacing what it held.
fn write_salt(d: &std::path::Path, salt: u64) -> anyhow::Result<()> {
    let path = d.join("salt");
    let tmp = salt_beside(d, salt)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

/// `salt` written whole in a file of its own in `d`, to be put in place
/// as `salt`; its path.
fn salt_beside(d: &std::path::Path, salt: u64) -> anyhow::Result<std::path::PathBuf> {
    let tmp = d.join(format!("salt.{}.tmp", proviso_types::RecordId::new()));
    std::fs::write(&tmp, salt_text(salt)).with_context(|| format!("writing {}", tmp.display()))?;
    Ok(tmp)
}

/// How a salt is written in its file.
fn salt_text(salt: u64) -> String {
    format!("{salt:016x}\n")
}

/// The salt of a directory's first segment: chosen at random and kept in
/// `salt` (hexadecimal) in the directory, when it exists, so that two
/// writers creating its first segment at once (the gateway's follower and
/// an `index add`) choose the same. The file is put in place whole, by a
/// link that fails if another writer's is already there.
fn dir_salt(d: &std::path::Path) -> anyhow::Result<u64> {
    let path = d.join("salt");
    loop {
        match std::fs::read_to_string(&path) {
            Ok(s) => {
                return u64::from_str_radix(s.trim(), 16)
                    .ok()
                    .filter(|&v| v != 0)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "{}: not a salt (16 hexadecimal digits, not all zero); it is read only while the directory holds no segment: remove it to choose another",
                            path.display()
                        )
                    });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        let mut salt = 0u64;
        while salt == 0 {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b)
                .map_err(|e| anyhow::anyhow!("no randomness for a salt: {e}"))?;
            salt = u64::from_le_bytes(b);
        }
        // The directory made first (not its parent: a data directory
        // moved away is not made again), so that two writers meet at the
        // file. Without a parent, the salt is not kept: the follower writes
        // nothing then, and `index add` makes the directory with its segment.
        match std::fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(salt),
            Err(e) => return Err(e).with_context(|| format!("creating {}", d.display())),
        }
        let tmp = salt_beside(d, salt)?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(salt),
            // Another writer's salt is in place: read it.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            // A file system without hard links: created in place (a
            // writer racing may read it half written and fail, once).
            Err(_) => {
                use std::io::Write;
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                {
                    Ok(mut f) => {
                        f.write_all(salt_text(salt).as_bytes())
                            .with_context(|| format!("writing {}", path.display()))?;
                        return Ok(salt);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e).with_context(|| format!("writing {}", path.display())),
                }
            }
        }
    }
}

/// Segments that cannot be queried or merged together.
fn params_differ() -> anyhow::Error {
    Exit(1, proviso_index::IndexError::ParamsDiffer.to_string()).into()
}

/// 0, or 1 when some input was bad (and reported).
fn exit_for(bad: &[BadInput]) -> ExitCode {
    if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn report_bad(bad: &[BadInput]) {
    for b in bad.iter().take(20) {
        eprintln!("proviso: {}:{}: {}", b.file, b.line, b.error);
    }
    if bad.len() > 20 {
        eprintln!("proviso: … and {} more bad inputs", bad.len() - 20);
    }
}

fn segment_name() -> String {
    format!("seg-{}.pvx", proviso_types::RecordId::new())
}

pub fn run(cfg: &Config, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Add {
            files,
            field,
            prompt_field,
        } => {
            let spec = field.map(FieldSpec::Named).unwrap_or_default();
            let mut b = IndexBuilder::new(params_for(&dir(cfg))?);
            let mut bad = Vec::new();
            // Each output's request, by file and row, read first. A row
            // without one is indexed without one; a request field that is
            // not text is bad input (the files' own faults are reported
            // once, by the reading of the outputs).
            let mut prompts = std::collections::HashMap::new();
            if let Some(f) = prompt_field {
                let mut bad_prompts = Vec::new();
                read_references(&files, &FieldSpec::Named(f), &mut bad_prompts, &mut |d| {
                    prompts.insert((d.file, d.line), d.text);
                });
                bad.extend(
                    bad_prompts
                        .into_iter()
                        .filter(|b| b.error.contains(", not text")),
                );
            }
            let mut pending = Vec::new();
            read_references(&files, &spec, &mut bad, &mut |d| {
                let prompt = prompts.remove(&(d.file.clone(), d.line));
                pending.push((d.text, prompt, Reference::file(&d.file, d.line)));
                if pending.len() == 8192 {
                    b.add_all_prompted(std::mem::take(&mut pending));
                }
            });
            b.add_all_prompted(pending);
            report_bad(&bad);
            if b.is_empty() {
                return Err(Exit(1, "no reference outputs found in the given files".into()).into());
            }
            let n = b.len();
            let path = dir(cfg).join(segment_name());
            write_segment(&b.build()?, &path)?;
            merge_added(&dir(cfg))?;
            eprintln!(
                "indexed {n} reference outputs into {} ({} bad inputs)",
                path.display(),
                bad.len()
            );
            Ok(exit_for(&bad))
        }
        Command::Background { files, field } => {
            let d = dir(cfg);
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            let mut bg = match read_background(&d)? {
                Some(bg) => bg,
                None => Background::new(params_for(&d)?.tokenizer),
            };
            let before = bg.len();
            let spec = field.map(FieldSpec::Named).unwrap_or_default();
            let mut bad = Vec::new();
            let (mut texts, mut n) = (Vec::new(), 0usize);
            read_references(&files, &spec, &mut bad, &mut |doc| {
                texts.push(doc.text);
                n += 1;
                if texts.len() == 8192 {
                    bg.add_texts(&std::mem::take(&mut texts));
                }
            });
            bg.add_texts(&texts);
            report_bad(&bad);
            if n == 0 {
                return Err(Exit(1, "no texts found in the given files".into()).into());
            }
            let path = d.join(proviso_index::BACKGROUND);
            bg.write(&path)?;
            eprintln!(
                "background: {} phrases ({} new) from {n} texts in {} ({} bad inputs)",
                bg.len(),
                bg.len() - before,
                path.display(),
                bad.len()
            );
            Ok(exit_for(&bad))
        }
        Command::Rebuild => {
            // Replace every ledger segment with one built from the whole ledger.
            let d = dir(cfg);
            // The directory keeps its key (an unkeyed one stays unkeyed): a
            // follower writing meanwhile keeps it too, and the directory
            // stays one index.
            let salt = params_for(&d)?.salt;
            // Kept in the file too, before the segments go: a follower
            // starting a pass meanwhile, with no segment to read it from,
            // reads it there.
            if salt != 0 {
                write_salt(&d, salt)?;
            }
            for (_, _, p) in ledger_segments(&d) {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
            let store = crate::ledger_store::reader(cfg)?;
            // With no other segment left, the ledger is indexed with today's
            // tokenizer; beside files' segments, with theirs.
            let params = Params {
                salt,
                ..params_for(&d)?
            };
            let (b, last, _) = index_ledger_from(store.as_ref(), 1, params, None, &|| true)?;
            let n = b.len();
            let path = d.join(format!("ledger-1-{last}.pvx"));
            write_segment(&b.build()?, &path)?;
            eprintln!(
                "indexed {n} outputs from the ledger into {}",
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats => {
            let idx = load(cfg)?;
            let size: u64 = std::fs::read_dir(dir(cfg))?
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum();
            println!(
                "{}",
                serde_json::json!({
                    "references": idx.len(),
                    "segments": idx.segments().len(),
                    "mapped": idx.segments().iter().all(Index::is_mapped),
                    // Segments per format: older ones are queried as they
                    // are; `index rebuild` or a merge rewrites them.
                    "formats": idx.segments().iter().fold(
                        std::collections::BTreeMap::<String, usize>::new(),
                        |mut m, s| {
                            *m.entry(s.format().to_string()).or_default() += 1;
                            m
                        },
                    ),
                    "bytes_on_disk": size,
                    "background_phrases": idx.background().map_or(0, Background::len),
                    // The salt stays in the segments: shown, it would tell
                    // a copier which windows are kept.
                    "params": idx.params().map(|p| Params { salt: 0, ..p.clone() }),
                    "keyed": idx.params().is_some_and(|p| p.salt != 0),
                })
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Segments of `index add` (`seg-<ULID>.pvx`, oldest first).
fn added_segments(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with("seg-") && n.ends_with(".pvx"))
        })
        .collect();
    out.sort();
    out
}

/// When `index add` has left more than eight segments, they become one (a
/// new segment, written before the old ones are removed), so an audit opens
/// few files however many times references were added.
fn merge_added(dir: &std::path::Path) -> anyhow::Result<()> {
    let segs = added_segments(dir);
    if segs.len() <= 8 {
        return Ok(());
    }
    let path = dir.join(segment_name());
    merge_segments(&segs, &path)?;
    eprintln!(
        "merged {} index segments into {}",
        segs.len(),
        path.display()
    );
    Ok(())
}

/// Merges the segments `parts` into `dest` (written before any part is
/// removed; a part that is `dest` itself stays). Nothing is written when
/// they were built with different parameters: that is an error, for
/// `index add` and the follower alike.
fn merge_segments(parts: &[PathBuf], dest: &std::path::Path) -> anyhow::Result<()> {
    let read = parts
        .iter()
        // Read into memory where small: the follower runs inside `serve`,
        // which a segment truncated under a map would stop with SIGBUS.
        .map(|p| proviso_index::read_segment_copied(p))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = Index::merge(read).map_err(|e| match e {
        proviso_index::IndexError::ParamsDiffer => params_differ(),
        e => e.into(),
    })?;
    write_segment(&merged, dest)?;
    for p in parts.iter().filter(|p| p.as_path() != dest) {
        std::fs::remove_file(p).with_context(|| format!("removing {}", p.display()))?;
    }
    Ok(())
}

/// Segments made from the ledger are named `ledger-<first>-<last>.pvx`
/// after the sequence numbers they cover.
fn ledger_segments(dir: &std::path::Path) -> Vec<(u64, u64, PathBuf)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(range) = name
            .strip_prefix("ledger-")
            .and_then(|n| n.strip_suffix(".pvx"))
        else {
            continue;
        };
        let parsed = range
            .split_once('-')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
        if let Some((a, b)) = parsed {
            out.push((a, b, p));
        }
    }
    out.sort();
    out
}

/// What one pass of the follower did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Outputs added to the index.
    pub indexed: usize,
    /// Whether it reached the ledger's end (else it stopped at
    /// [`FOLLOW_PASS_BYTES`], and the next pass goes on from there).
    pub caught_up: bool,
}

impl Pass {
    /// A pass that added nothing and has nothing more to do now.
    pub const NOTHING: Pass = Pass {
        indexed: 0,
        caught_up: true,
    };
}

/// Indexes the ledger's records after the last one already indexed, at
/// most [`FOLLOW_PASS_BYTES`] of text in one pass (so a follower far
/// behind holds a bounded amount in memory and writes a segment at a
/// time); merges the ledger segments ([`to_merge`]).
/// `store` is the ledger (`proviso serve` passes the reader its threads
/// share). `go_on` is asked between chunks and before anything is written
/// (the server is stopping, or another replica took the job): when it says
/// no, the pass ends and writes nothing more.
pub fn follow_from(
    cfg: &Config,
    store: &dyn LedgerReader,
    go_on: &dyn Fn() -> bool,
) -> anyhow::Result<Pass> {
    let d = dir(cfg);
    let done = ledger_segments(&d).iter().map(|s| s.1).max().unwrap_or(0);
    let (b, last, caught_up) = index_ledger_from(
        store,
        done + 1,
        params_for(&d)?,
        Some(FOLLOW_PASS_BYTES),
        go_on,
    )?;
    if !go_on() {
        return Ok(Pass::NOTHING);
    }
    let n = b.len();
    // The data directory moved away meanwhile (an administrator's doing,
    // or a failing disk): write nothing, rather than create it again
    // beside the ledger's new place; the next pass reads the same records.
    if cfg.ledger.url.is_none() && !cfg.ledger_path().exists() {
        return Ok(Pass::NOTHING);
    }
    if last > done {
        write_segment(
            &b.build()?,
            &d.join(format!("ledger-{}-{last}.pvx", done + 1)),
        )?;
    }
    loop {
        let segs = ledger_segments(&d);
        let sizes: Vec<u64> = segs
            .iter()
            .map(|s| std::fs::metadata(&s.2).map_or(u64::MAX, |m| m.len()))
            .collect();
        let Some(from) = to_merge(&sizes, cfg.index.merge_max_bytes) else {
            break;
        };
        if !go_on() {
            break;
        }
        let run = &segs[from..];
        let (first, end) = (run[0].0, run[run.len() - 1].1);
        let parts: Vec<PathBuf> = run.iter().map(|s| s.2.clone()).collect();
        merge_segments(&parts, &d.join(format!("ledger-{first}-{end}.pvx")))?;
    }
    Ok(Pass {
        indexed: n,
        caught_up,
    })
}

/// Segments merged into one at a time.
const MERGE_FANOUT: usize = 8;

/// Which of the ledger's segments (their sizes, oldest first) to merge:
/// the newest eight, when none of them is more than half of their total
/// and the total is at most `max_bytes`; `None` when there is nothing to
/// merge. No part dominating means each merge at least doubles the segment
/// a record is in, so a record is rewritten at most log₂(`max_bytes` /
/// a pass's segment) times, whatever the passes' sizes; a large segment
/// waits until the newer ones have grown to its size. A merge reads at
/// most `max_bytes` of segments, so the follower's memory stays bounded
/// however long the ledger grows; segments larger than half of it stay
/// as they are.
fn to_merge(sizes: &[u64], max_bytes: u64) -> Option<usize> {
    let from = sizes.len().checked_sub(MERGE_FANOUT)?;
    let run = &sizes[from..];
    let total = run.iter().fold(0u64, |a, &b| a.saturating_add(b));
    let largest = run.iter().copied().max().unwrap_or(0);
    (largest.saturating_mul(2) <= total && total <= max_bytes).then_some(from)
}

/// Most bytes of text (outputs and the prompts beside them) one pass of
/// the follower indexes.
const FOLLOW_PASS_BYTES: usize = 4 * 1024 * 1024;

/// Records read in one read transaction of the follower.
const FOLLOW_CHUNK: usize = 256;

/// Bytes of outputs read in one read transaction of the follower.
const FOLLOW_CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// Adds every served output with a sequence number of `from` or more
/// (with `limit`, until about that many bytes of text were added); returns
/// the builder, the last sequence number seen (or `from - 1`) and whether
/// it reached the ledger's end.
/// The ledger is read in short transactions of at most `FOLLOW_CHUNK`
/// records (and `FOLLOW_CHUNK_BYTES`), and indexing happens between them:
/// a reader's snapshot keeps the write-ahead log from being restarted, so
/// it is never held while the outputs are indexed.
fn index_ledger_from(
    store: &dyn LedgerReader,
    from: u64,
    params: Params,
    limit: Option<usize>,
    go_on: &dyn Fn() -> bool,
) -> anyhow::Result<(IndexBuilder, u64, bool)> {
    let mut b = IndexBuilder::new(params);
    let mut last = from.saturating_sub(1);
    let mut added = 0usize;
    loop {
        let mut chunk: Vec<(String, String, proviso_index::Reference)> = Vec::new();
        let (mut seen, mut bytes) = (0usize, 0usize);
        store.scan(last + 1, &mut |c| {
            last = c.seq;
            seen += 1;
            let r = &c.record;
            let served = matches!(
                r.outcome,
                Outcome::Ok | Outcome::Partial | Outcome::Withheld
            );
            // A stored response read back is an output served again, not a
            // new one: indexed once, when it was made.
            let read_back =
                r.endpoint == proviso_gateway::upstream::Endpoint::StoredResponse.path();
            if r.kind == RecordKind::Exchange && served && !read_back && !r.output.trim().is_empty()
            {
                bytes += r.output.len() + r.request.len();
                chunk.push((
                    r.output.clone(),
                    request_text(&r.request),
                    ledger_reference(r),
                ));
            }
            seen < FOLLOW_CHUNK && bytes < FOLLOW_CHUNK_BYTES
        })?;
        for (output, prompt, reference) in chunk {
            b.add_with_prompt(&output, &prompt, reference);
        }
        if seen < FOLLOW_CHUNK && bytes < FOLLOW_CHUNK_BYTES {
            return Ok((b, last, true));
        }
        added += bytes;
        if limit.is_some_and(|l| added >= l) || !go_on() {
            return Ok((b, last, false));
        }
    }
}

/// Every string a recorded request sent but its model name, one a line:
/// the text its output may repeat from it (empty when it is not JSON).
fn request_text(request: &str) -> String {
    fn walk(v: &serde_json::Value, key: Option<&str>, out: &mut String) {
        match v {
            serde_json::Value::String(s) if key != Some("model") => {
                out.push_str(s);
                out.push('\n');
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, None, out)),
            serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, Some(k), out)),
            _ => {}
        }
    }
    let mut out = String::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(request) {
        walk(&v, None, &mut out);
    }
    out
}

fn ledger_reference(r: &proviso_ledger::Record) -> Reference {
    Reference {
        source: "ledger".into(),
        record_id: Some(r.id.to_string()),
        key_id: r.key_id.as_ref().map(|k| k.0.clone()),
        team: r.team.clone(),
        model: r.model.clone(),
        time: Some(r.time.to_rfc3339()),
        ..Reference::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proviso_ledger::{LedgerStore, Record, SqliteConfig, SqliteStore};

    fn follow_once(cfg: &Config) -> anyhow::Result<usize> {
        follow_from(cfg, crate::ledger_store::reader(cfg)?.as_ref(), &|| true).map(|p| p.indexed)
    }

    /// A configuration whose data directory is a fresh temporary one.
    fn temp_config() -> (tempfile::TempDir, Config) {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = crate::config::parse(
            &format!("data_dir = {:?}\n", tmp.path().display().to_string()),
            "t",
        )
        .unwrap();
        (tmp, cfg)
    }

    /// Forty distinct words for reference `i`.
    fn words(prefix: &str, i: usize) -> String {
        (0..40)
            .map(|w| format!("{prefix}{i}word{w}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A directory's salt: chosen once and kept, the same for writers
    /// racing to choose it; never written where there is no directory; a
    /// damaged file is an error naming it.
    #[test]
    fn a_directory_keeps_one_salt() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("index");
        // Without a parent, a salt and nothing written.
        let orphan = tmp.path().join("gone").join("index");
        assert_ne!(dir_salt(&orphan).unwrap(), 0);
        assert!(!tmp.path().join("gone").exists());
        // The directory is made and the salt kept in it, for every writer.
        let salts: Vec<u64> = (0..8)
            .map(|_| {
                let d = d.clone();
                std::thread::spawn(move || dir_salt(&d).unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert!(salts.iter().all(|&s| s == salts[0] && s != 0), "{salts:?}");
        assert_eq!(params_for(&d).unwrap().salt, salts[0]);
        // Only the salt is left in the directory.
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["salt"]);
        std::fs::write(d.join("salt"), "zz\n").unwrap();
        let e = dir_salt(&d).unwrap_err().to_string();
        assert!(e.contains(&d.join("salt").display().to_string()), "{e}");
        std::fs::write(d.join("salt"), "0000000000000000\n").unwrap();
        assert!(dir_salt(&d).is_err());
    }

    #[test]
    fn added_segments_are_merged_past_eight() {
        let (tmp, cfg) = temp_config();
        std::fs::create_dir_all(dir(&cfg)).unwrap();
        let text = |i: usize| words("added", i);
        for i in 0..12 {
            let f = tmp.path().join(format!("r{i}.jsonl"));
            std::fs::write(&f, format!("{{\"output\": \"{}\"}}\n", text(i))).unwrap();
            run(
                &cfg,
                Command::Add {
                    files: vec![f.display().to_string()],
                    field: None,
                    prompt_field: None,
                },
            )
            .unwrap();
            assert!(added_segments(&dir(&cfg)).len() <= 8, "after add {i}");
        }
        let idx = load(&cfg).unwrap();
        assert_eq!(idx.len(), 12, "every reference once, none lost or doubled");
        for i in [0, 5, 11] {
            assert!(idx.query(&format!("prefix {} suffix", text(i))).flagged);
        }
    }

    #[test]
    fn follower_indexes_new_records_and_merges_in_tiers() {
        let (_tmp, cfg) = temp_config();
        let mut store = SqliteStore::open(&cfg.ledger_path(), SqliteConfig::default()).unwrap();
        let text = |i: usize| words("record", i);
        for pass in 0..12 {
            store.append(&[Record::test(&text(pass))]).unwrap();
            assert_eq!(
                follow_once(&cfg).unwrap(),
                1,
                "pass {pass} indexes exactly the new record"
            );
            assert!(ledger_segments(&dir(&cfg)).len() <= 8, "merged in tiers");
        }
        assert_eq!(follow_once(&cfg).unwrap(), 0, "nothing new");
        let segs = ledger_segments(&dir(&cfg));
        let covered: Vec<(u64, u64)> = segs.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(covered.first().map(|c| c.0), Some(1));
        assert_eq!(covered.last().map(|c| c.1), Some(12));
        assert!(
            covered.windows(2).all(|w| w[0].1 + 1 == w[1].0),
            "contiguous ranges: {covered:?}"
        );
        let idx = load(&cfg).unwrap();
        assert_eq!(idx.len(), 12);
        assert!(idx.query(&format!("prefix {} suffix", text(3))).flagged);
    }

    /// Runs the follower's merge policy over `passes` segments of `each`
    /// bytes: the segments left, and how often the most rewritten byte
    /// was rewritten.
    fn simulate_merges(passes: usize, each: u64, max: u64) -> (Vec<u64>, u32) {
        // (size, times its oldest byte was rewritten)
        let mut segs: Vec<(u64, u32)> = Vec::new();
        let mut most = 0;
        for _ in 0..passes {
            segs.push((each, 0));
            loop {
                let sizes: Vec<u64> = segs.iter().map(|s| s.0).collect();
                let Some(from) = to_merge(&sizes, max) else {
                    break;
                };
                assert_eq!(segs.len() - from, MERGE_FANOUT);
                let run = segs.split_off(from);
                let merged = (
                    run.iter().map(|s| s.0).sum(),
                    run.iter().map(|s| s.1).max().unwrap() + 1,
                );
                most = most.max(merged.1);
                segs.push(merged);
            }
        }
        (segs.iter().map(|s| s.0).collect(), most)
    }

    #[test]
    fn ledger_segments_merge_so_each_byte_is_rewritten_a_few_times() {
        // 4,096 passes of 4 KiB (16 MiB): 8 segments left, a byte
        // rewritten 9 times (the old policy, always the newest eight,
        // rewrote the oldest segment every seventh pass: ~585 times).
        let (left, most) = simulate_merges(4096, 4096, 64 << 20);
        assert_eq!(left.len(), 8, "{left:?}");
        assert_eq!(most, 9);
        assert_eq!(left.iter().sum::<u64>(), 4096 * 4096);
        // A large segment is not merged with small ones; eight small ones
        // are.
        let mut sizes = vec![8 << 20];
        sizes.extend([4096; 7]);
        assert_eq!(to_merge(&sizes, 64 << 20), None);
        sizes.push(4096);
        assert_eq!(to_merge(&sizes, 64 << 20), Some(1));
    }

    #[test]
    fn passes_of_uneven_size_still_merge() {
        // Passes of 2 to 8 KiB: few segments left, each byte rewritten at
        // most log2(total / pass) times.
        let mut segs: Vec<u64> = Vec::new();
        let mut rewrites: Vec<u32> = Vec::new();
        for i in 0..2000u64 {
            segs.push(2048 + (i * 7919) % 6000);
            rewrites.push(0);
            while let Some(from) = to_merge(&segs, 64 << 20) {
                let total = segs.split_off(from).iter().sum();
                let most = rewrites.split_off(from).into_iter().max().unwrap() + 1;
                segs.push(total);
                rewrites.push(most);
            }
        }
        assert!(segs.len() <= 8, "{} segments left: {segs:?}", segs.len());
        let most = rewrites.iter().max().copied().unwrap();
        assert!((3..=12).contains(&most), "rewritten {most} times");
    }

    #[test]
    fn no_merge_reads_more_than_its_bound() {
        let max = 1 << 20;
        let (left, most) = simulate_merges(2000, 8 << 10, max);
        assert_eq!(left.iter().sum::<u64>(), 2000 * (8 << 10));
        assert!(most >= 3, "merges happened");
        assert!(left.iter().all(|&s| s <= max), "{left:?}");
        // 16 MB in segments of at most 1 MiB: more than 16 of them, but
        // not one per pass.
        assert!((16..=40).contains(&left.len()), "{} segments", left.len());
        assert_eq!(to_merge(&[200 << 10; 8], 1 << 20), None, "1.6 MiB > 1 MiB");
        assert_eq!(to_merge(&[100 << 10; 8], 1 << 20), Some(0));
        assert_eq!(to_merge(&[100 << 10; 7], 1 << 20), None, "fewer than eight");
    }

    #[test]
    fn a_pass_stops_at_its_bound_and_the_next_goes_on() {
        let (_tmp, cfg) = temp_config();
        let mut store = SqliteStore::open(&cfg.ledger_path(), SqliteConfig::default()).unwrap();
        let n = FOLLOW_CHUNK * 4;
        let records: Vec<Record> = (0..n).map(|i| Record::test(&words("pass", i))).collect();
        store.append(&records).unwrap();
        let reader = crate::ledger_store::reader(&cfg).unwrap();
        let d = dir(&cfg);
        // A bound of one byte: each pass reads one chunk.
        let (b, last, caught_up) = index_ledger_from(
            reader.as_ref(),
            1,
            params_for(&d).unwrap(),
            Some(1),
            &|| true,
        )
        .unwrap();
        assert!(!caught_up);
        assert_eq!((b.len(), last), (FOLLOW_CHUNK, FOLLOW_CHUNK as u64));
        let (b, last, caught_up) = index_ledger_from(
            reader.as_ref(),
            last + 1,
            params_for(&d).unwrap(),
            None,
            &|| true,
        )
        .unwrap();
        assert!(caught_up);
        assert_eq!((b.len(), last), (n - FOLLOW_CHUNK, n as u64));
        // Told to stop after its second chunk, a pass writes nothing.
        let asked = std::cell::Cell::new(0);
        let once = || {
            asked.set(asked.get() + 1);
            asked.get() < 2
        };
        let p = follow_from(&cfg, reader.as_ref(), &once).unwrap();
        assert_eq!(
            p,
            Pass {
                indexed: 0,
                caught_up: true
            }
        );
        assert!(ledger_segments(&d).is_empty(), "nothing written");
        // The follower's own pass: everything, and it says it caught up.
        let p = follow_from(&cfg, reader.as_ref(), &|| true).unwrap();
        assert_eq!(
            p,
            Pass {
                indexed: n,
                caught_up: true
            }
        );
    }

    #[test]
    fn the_follower_reads_a_long_backlog_in_chunks_and_misses_nothing() {
        let (_tmp, cfg) = temp_config();
        let mut store = SqliteStore::open(&cfg.ledger_path(), SqliteConfig::default()).unwrap();
        let n = FOLLOW_CHUNK * 2 + 7;
        let records: Vec<Record> = (0..n).map(|i| Record::test(&words("backlog", i))).collect();
        store.append(&records).unwrap();
        assert_eq!(follow_once(&cfg).unwrap(), n, "every record, across chunks");
        let segs = ledger_segments(&dir(&cfg));
        assert_eq!(segs.last().map(|s| s.1), Some(n as u64));
        let idx = load(&cfg).unwrap();
        for i in [0, FOLLOW_CHUNK - 1, FOLLOW_CHUNK, n - 1] {
            assert!(
                idx.query(&format!("prefix {} suffix", words("backlog", i)))
                    .flagged,
                "{i}"
            );
        }
        assert_eq!(follow_once(&cfg).unwrap(), 0);
    }

    #[test]
    fn ledger_outputs_are_indexed_without_what_their_request_supplied() {
        let (_tmp, cfg) = temp_config();
        let mut store = SqliteStore::open(&cfg.ledger_path(), SqliteConfig::default()).unwrap();
        let (passage, own) = (words("passage", 0), words("own", 1));
        let mut r = Record::test(&format!("{own} {passage}"));
        r.request = serde_json::json!({
            "model": "m",
            "messages": [{"role": "user", "content": format!("Fix this: {passage}")}]
        })
        .to_string();
        store.append(&[r]).unwrap();
        assert_eq!(follow_once(&cfg).unwrap(), 1);
        let idx = load(&cfg).unwrap();
        assert!(!idx.query(&format!("x {passage} y")).flagged);
        assert!(idx.query(&format!("x {own} y")).flagged);
        assert_eq!(
            request_text(r#"{"model":"m","prompt":["a","b"],"n":2}"#),
            "a\nb\n"
        );
        assert_eq!(request_text("not json"), "");
    }

    #[test]
    fn a_background_makes_its_phrases_no_evidence() {
        let (tmp, cfg) = temp_config();
        let shared = words("shared", 0);
        let own = format!("{} {}", words("own", 1), words("own", 2));
        let refs = tmp.path().join("refs.jsonl");
        std::fs::write(&refs, format!("{{\"output\": \"{own} {shared}\"}}\n")).unwrap();
        let add = Command::Add {
            files: vec![refs.display().to_string()],
            field: None,
            prompt_field: None,
        };
        run(&cfg, add).unwrap();
        let doc = format!("x {shared} y");
        assert!(load(&cfg).unwrap().query(&doc).flagged);
        let texts = tmp.path().join("background.jsonl");
        std::fs::write(&texts, format!("{{\"text\": \"an essay: {shared}\"}}\n")).unwrap();
        let background = Command::Background {
            files: vec![texts.display().to_string()],
            field: None,
        };
        run(&cfg, background).unwrap();
        let idx = load(&cfg).unwrap();
        assert!(idx.background().is_some_and(|b| b.len() >= 36));
        assert!(!idx.query(&doc).flagged);
        assert!(idx.query(&format!("x {own} y")).flagged);
        // A damaged background is an error that names its file.
        let p = dir(&cfg).join(proviso_index::BACKGROUND);
        let mut b = std::fs::read(&p).unwrap();
        let n = b.len();
        b[n / 2] ^= 1;
        std::fs::write(&p, b).unwrap();
        let e = format!("{:#}", load(&cfg).unwrap_err());
        assert!(
            e.contains("background.pvb") && e.contains("checksum"),
            "{e}"
        );
    }
}
