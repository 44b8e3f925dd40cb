//! `proviso redact`: masked text on stdout (and only that), findings on
//! stderr, never a value in clear.

use std::io::{Read, Write};
use std::process::ExitCode;

use proviso_redact::{Action, BlockRedactor, EntityKind, Finding, Redactor, Session};
use serde_json::json;

use crate::config::Config;
use crate::{EXIT_USAGE, Exit};

/// Mask personal data and secrets.
#[derive(clap::Args)]
pub struct Args {
    /// The text to mask (default: standard input). Read in blocks: any
    /// size takes the same memory.
    file: Option<std::path::PathBuf>,
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
    let store = crate::ledger_store::reader(cfg)?;
    let mut detail = None;
    store.scan(0, &mut |c| {
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
    let (name, mut input): (String, Box<dyn Read>) = match &a.file {
        Some(p) => (
            p.display().to_string(),
            Box::new(
                std::fs::File::open(p)
                    .map_err(|e| Exit(EXIT_USAGE, format!("{}: {e}", p.display())))?,
            ),
        ),
        None => ("standard input".into(), Box::new(std::io::stdin().lock())),
    };
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let mut report = Report::new(&a)?;
    let mut session = Session::default();
    let mut blocks = BlockRedactor::new(&r, None);
    let mut utf8 = Utf8Pieces::default();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {name}"))),
        };
        let piece = utf8
            .push(&buf[..n])
            .map_err(|line| Exit(1, format!("{name}: line {line}: not UTF-8 text")))?;
        let out = blocks.push(&piece, &mut session);
        stdout.write_all(out.text.as_bytes())?;
        report.add(&out.findings, &piece, blocks.released())?;
    }
    if let Some(line) = utf8.unfinished() {
        return Err(Exit(
            1,
            format!("{name}: line {line}: not UTF-8 text (cut short)"),
        )
        .into());
    }
    let out = blocks.finish(&mut session);
    stdout.write_all(out.text.as_bytes())?;
    stdout.flush()?;
    report.add(&out.findings, "", blocks.released())?;
    report.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// Bytes turned into text as they come: a character cut between two reads
/// waits for the rest; anything else not UTF-8 is an error naming its line.
#[derive(Default)]
struct Utf8Pieces {
    held: Vec<u8>,
    /// Lines before the held bytes.
    lines: usize,
}

impl Utf8Pieces {
    /// The text of `bytes` (and what was held), or the 1-based line of
    /// bytes that are not UTF-8.
    fn push(&mut self, bytes: &[u8]) -> Result<String, usize> {
        self.held.extend_from_slice(bytes);
        // A character cut at the end waits for the next read; the rest is
        // checked once.
        let h = &self.held;
        let lead = (h.len().saturating_sub(4)..h.len())
            .rev()
            .find(|&i| h[i] & 0b1100_0000 != 0b1000_0000);
        let upto = match lead {
            Some(i) => {
                let need = match h[i] {
                    0xF0.. => 4,
                    0xE0.. => 3,
                    0xC0.. => 2,
                    _ => 1,
                };
                if i + need > h.len() { i } else { h.len() }
            }
            None => h.len(),
        };
        let text = match std::str::from_utf8(&h[..upto]) {
            Ok(t) => t.to_owned(),
            Err(e) => {
                let before = &h[..e.valid_up_to()];
                return Err(self.lines + before.iter().filter(|b| **b == b'\n').count() + 1);
            }
        };
        self.held.drain(..upto);
        self.lines += text.bytes().filter(|b| *b == b'\n').count();
        Ok(text)
    }

    /// The line of a character left unfinished at the end, if any.
    fn unfinished(&self) -> Option<usize> {
        (!self.held.is_empty()).then_some(self.lines + 1)
    }
}

/// The findings, as JSON lines or a table, written as the text is read:
/// only line counts are kept, never the text.
struct Report {
    json: Option<std::io::BufWriter<std::fs::File>>,
    table: bool,
    count: usize,
    /// Whether the table's heading is written.
    headed: bool,
    /// Text read and not yet released: its line breaks are counted as
    /// findings and releases go past them.
    pending: String,
    /// Where in `pending` the text not yet passed starts.
    pos: usize,
    /// Offset (bytes of input) of `pending[pos]`, and its line.
    at: usize,
    line: usize,
}

impl Report {
    fn new(a: &Args) -> anyhow::Result<Self> {
        let json = match &a.findings_json {
            Some(path) => Some(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .map_err(|e| Exit(EXIT_USAGE, format!("{}: {e}", path.display())))?,
            )),
            None => None,
        };
        let table = json.is_none() && !a.quiet;
        Ok(Self {
            json,
            table,
            count: 0,
            headed: false,
            pending: String::new(),
            pos: 0,
            at: 0,
            line: 1,
        })
    }

    /// Reports `findings` (in input order, offsets into the whole input),
    /// after `read`, the text read since the last call; `released` is how
    /// much of the input has been released, which no later finding reaches.
    fn add(&mut self, findings: &[Finding], read: &str, released: usize) -> anyhow::Result<()> {
        self.pending.push_str(read);
        for f in findings {
            self.advance(f.start);
            let value = self
                .pending
                .get(self.pos..self.pos + (f.end - f.start))
                .unwrap_or_default();
            let masked = proviso_redact_mask(value);
            self.count += 1;
            if let Some(out) = &mut self.json {
                writeln!(
                    out,
                    "{}",
                    json!({"type": f.kind, "start": f.start, "end": f.end, "line": self.line, "score": f.score})
                )?;
            } else if self.table {
                self.heading()?;
                writeln!(
                    std::io::stderr().lock(),
                    "{:<16} {:>6} {:>10} {:>6.2}  {masked}",
                    f.kind.name(),
                    self.line,
                    format!("{}-{}", f.start, f.end),
                    f.score,
                )?;
            }
        }
        self.advance(released);
        // Released text is forgotten once per call, not once per finding.
        self.pending.drain(..self.pos);
        self.pos = 0;
        Ok(())
    }

    fn heading(&mut self) -> std::io::Result<()> {
        if !self.headed {
            self.headed = true;
            writeln!(
                std::io::stderr().lock(),
                "{:<16} {:>6} {:>10} {:>6}  MASKED",
                "TYPE",
                "LINE",
                "BYTES",
                "SCORE"
            )?;
        }
        Ok(())
    }

    /// Counts the line breaks before input offset `to` and moves past
    /// that text.
    fn advance(&mut self, to: usize) {
        let k = to
            .saturating_sub(self.at)
            .min(self.pending.len() - self.pos);
        let passed = &self.pending.as_bytes()[self.pos..self.pos + k];
        self.line += passed.iter().filter(|b| **b == b'\n').count();
        self.pos += k;
        self.at += k;
    }

    fn finish(mut self) -> anyhow::Result<()> {
        if let Some(out) = &mut self.json {
            out.flush()?;
        } else if self.table {
            self.heading()?;
            writeln!(std::io::stderr().lock(), "{} findings", self.count)?;
        }
        Ok(())
    }
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
