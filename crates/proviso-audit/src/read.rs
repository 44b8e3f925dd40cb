//! Reading training data: formats, compression, fields, bad input.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// One document to audit.
#[derive(Clone, Debug)]
pub struct Document {
    /// The file it came from.
    pub file: String,
    /// Its line (JSON lines, text) or element (JSON arrays), 1-based.
    pub line: u64,
    /// The text audited.
    pub text: String,
}

/// Input that could not be read, with where.
#[derive(Clone, Debug, Serialize)]
pub struct BadInput {
    /// The file.
    pub file: String,
    /// The line or element (0 for the file as a whole).
    pub line: u64,
    /// What is wrong.
    pub error: String,
}

/// Which part of a record is the text.
#[derive(Clone, Debug, Default)]
pub enum FieldSpec {
    /// `text`; else OpenAI chat `messages`; else ShareGPT `conversations`;
    /// else Alpaca `instruction`/`input`/`output`; else `output`/`content`.
    #[default]
    Auto,
    /// A JSON pointer (`/a/b`) or a top-level key.
    Named(String),
}

fn join_messages(arr: &[Value], content_key: &str) -> String {
    arr.iter()
        .filter_map(|m| match m.get(content_key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(parts)) => Some(
                parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of a JSON record, or why there is none.
pub fn extract(v: &Value, spec: &FieldSpec) -> Result<String, String> {
    match spec {
        FieldSpec::Named(f) => {
            let found = if f.starts_with('/') {
                v.pointer(f)
            } else {
                v.get(f)
            };
            match found {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Array(a)) => Ok(join_messages(a, "content")),
                Some(other) => Err(format!("field {f} is {}, not text", kind(other))),
                None => Err(format!("missing field {f}")),
            }
        }
        FieldSpec::Auto => {
            if let Value::String(s) = v {
                return Ok(s.clone());
            }
            if let Some(s) = v.get("text").and_then(Value::as_str) {
                return Ok(s.to_owned());
            }
            if let Some(a) = v.get("messages").and_then(Value::as_array) {
                return Ok(join_messages(a, "content"));
            }
            if let Some(a) = v.get("conversations").and_then(Value::as_array) {
                return Ok(join_messages(a, "value"));
            }
            if v.get("instruction").is_some() || v.get("output").is_some() {
                let parts: Vec<&str> = ["instruction", "input", "output"]
                    .iter()
                    .filter_map(|k| v.get(*k).and_then(Value::as_str))
                    .filter(|s| !s.is_empty())
                    .collect();
                return Ok(parts.join("\n"));
            }
            if let Some(s) = v.get("content").and_then(Value::as_str) {
                return Ok(s.to_owned());
            }
            Err("no text field (looked for text, messages, conversations, instruction/input/output, content; use --field)".into())
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Files named by `paths`: files as they are, directories recursively
/// (sorted), globs expanded.
pub fn expand(paths: &[String], bad: &mut Vec<BadInput>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.contains(['*', '?', '[']) {
            match glob::glob(p) {
                Ok(g) => {
                    let mut hits: Vec<PathBuf> =
                        g.filter_map(Result::ok).filter(|p| p.is_file()).collect();
                    if hits.is_empty() {
                        bad.push(BadInput {
                            file: p.clone(),
                            line: 0,
                            error: "the pattern matches no file".into(),
                        });
                    }
                    hits.sort();
                    out.extend(hits);
                }
                Err(e) => bad.push(BadInput {
                    file: p.clone(),
                    line: 0,
                    error: format!("bad pattern: {e}"),
                }),
            }
            continue;
        }
        let path = Path::new(p);
        if path.is_dir() {
            let mut stack = vec![path.to_path_buf()];
            let mut files = Vec::new();
            while let Some(d) = stack.pop() {
                match std::fs::read_dir(&d) {
                    Ok(rd) => {
                        for e in rd.flatten() {
                            let ep = e.path();
                            if ep.is_dir() {
                                stack.push(ep)
                            } else {
                                files.push(ep)
                            }
                        }
                    }
                    Err(e) => bad.push(BadInput {
                        file: d.display().to_string(),
                        line: 0,
                        error: e.to_string(),
                    }),
                }
            }
            files.sort();
            out.extend(files);
        } else if path.is_file() {
            out.push(path.to_path_buf());
        } else {
            bad.push(BadInput {
                file: p.clone(),
                line: 0,
                error: "no such file or directory".into(),
            });
        }
    }
    out
}

/// How far reading has got, in bytes of the input files as stored
/// (compressed or not), for a progress line with an ETA.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of every input file, as stored.
    pub total: u64,
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Progress {
    /// The total size of the files `paths` name (after expanding
    /// directories and globs).
    pub fn for_paths(paths: &[String]) -> Self {
        let mut scratch = Vec::new();
        let total = expand(paths, &mut scratch)
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        Self {
            total,
            done: Default::default(),
        }
    }

    /// Bytes read so far.
    pub fn done(&self) -> u64 {
        self.done.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn add(&self, n: u64) {
        self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A file that counts the bytes read from it.
struct Counting {
    f: File,
    done: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.f.read(buf)?;
        self.done
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

fn open(path: &Path, progress: &Progress) -> std::io::Result<(Box<dyn Read + Send>, String)> {
    let f = Counting {
        f: File::open(path)?,
        done: progress.done.clone(),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if let Some(inner) = name.strip_suffix(".gz") {
        return Ok((
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(f))),
            inner.to_owned(),
        ));
    }
    if let Some(inner) = name.strip_suffix(".zst") {
        return Ok((
            Box::new(zstd::stream::read::Decoder::new(f)?),
            inner.to_owned(),
        ));
    }
    Ok((Box::new(f), name))
}

/// Calls `f` on every document of every file; bad input goes to `bad`.
pub fn read(
    paths: &[String],
    spec: &FieldSpec,
    bad: &mut Vec<BadInput>,
    f: &mut dyn FnMut(Document),
) {
    read_with(
        paths,
        spec,
        &|v| extract(v, spec),
        false,
        bad,
        &Progress::default(),
        f,
    );
}

/// [`read`], counting the bytes read into `progress`.
pub fn read_tracked(
    paths: &[String],
    spec: &FieldSpec,
    bad: &mut Vec<BadInput>,
    progress: &Progress,
    f: &mut dyn FnMut(Document),
) {
    read_with(paths, spec, &|v| extract(v, spec), false, bad, progress, f);
}

/// Reference outputs from files (JSON arrays or lines of objects with
/// `output`, `text`, `content` or `messages`), for `proviso index add`.
/// Empty outputs are skipped.
pub fn read_references(
    paths: &[String],
    spec: &FieldSpec,
    bad: &mut Vec<BadInput>,
    f: &mut dyn FnMut(Document),
) {
    let pick = |v: &Value| -> Result<String, String> {
        if let FieldSpec::Named(_) = spec {
            return extract(v, spec);
        }
        for k in ["output", "text", "content", "response", "completion"] {
            if let Some(s) = v.get(k).and_then(Value::as_str) {
                return Ok(s.to_owned());
            }
        }
        extract(v, &FieldSpec::Auto)
    };
    read_with(
        paths,
        spec,
        &pick,
        true,
        bad,
        &Progress::default(),
        &mut |d| {
            if !d.text.trim().is_empty() {
                f(d);
            }
        },
    );
}

fn bad_at(bad: &mut Vec<BadInput>, file: &str, line: u64, error: String) {
    bad.push(BadInput {
        file: file.to_owned(),
        line,
        error,
    });
}

/// A document, or its problem.
fn give(
    f: &mut dyn FnMut(Document),
    bad: &mut Vec<BadInput>,
    file: &str,
    line: u64,
    text: Result<String, String>,
) {
    match text {
        Ok(text) => f(Document {
            file: file.to_owned(),
            line,
            text,
        }),
        Err(e) => bad_at(bad, file, line, e),
    }
}

/// The shared reader. `references`: every file is JSON (an array when it
/// starts with `[`, else JSON lines), and a file must be an array.
fn read_with(
    paths: &[String],
    spec: &FieldSpec,
    pick: &dyn Fn(&Value) -> Result<String, String>,
    references: bool,
    bad: &mut Vec<BadInput>,
    progress: &Progress,
    f: &mut dyn FnMut(Document),
) {
    for path in expand(paths, bad) {
        let file = path.display().to_string();
        let (reader, inner) = match open(&path, progress) {
            Ok(x) => x,
            Err(e) => {
                bad_at(bad, &file, 0, e.to_string());
                continue;
            }
        };
        if inner.ends_with(".parquet") {
            read_parquet(&path, &file, spec, bad, f);
            progress.add(std::fs::metadata(&path).map_or(0, |m| m.len()));
            continue;
        }
        let mut r = BufReader::with_capacity(1 << 20, reader);
        let array = inner.ends_with(".json")
            || (references
                && r.fill_buf()
                    .is_ok_and(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'[')));
        if array {
            let mut buf = Vec::new();
            if let Err(e) = r.read_to_end(&mut buf) {
                bad_at(
                    bad,
                    &file,
                    0,
                    format!("cannot read (truncated or damaged?): {e}"),
                );
                continue;
            }
            match serde_json::from_slice::<Value>(&buf) {
                Ok(Value::Array(items)) => {
                    for (i, v) in items.iter().enumerate() {
                        give(f, bad, &file, i as u64 + 1, pick(v));
                    }
                }
                Ok(_) if references => bad_at(bad, &file, 1, "expected a JSON array".into()),
                Ok(v) => give(f, bad, &file, 1, pick(&v)),
                Err(e) => bad_at(bad, &file, e.line() as u64, format!("invalid JSON: {e}")),
            }
            continue;
        }
        let json_lines = references || inner.ends_with(".jsonl") || inner.ends_with(".ndjson");
        let mut buf = Vec::new();
        let mut line = 0u64;
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    bad_at(
                        bad,
                        &file,
                        line + 1,
                        format!("cannot read further (truncated or damaged?): {e}"),
                    );
                    break;
                }
            }
            line += 1;
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let text = match std::str::from_utf8(&buf) {
                Ok(t) => t,
                Err(e) => {
                    bad_at(
                        bad,
                        &file,
                        line,
                        format!("invalid UTF-8 at byte {}", e.valid_up_to()),
                    );
                    continue;
                }
            };
            let doc = if json_lines {
                serde_json::from_str::<Value>(text)
                    .map_err(|e| format!("invalid JSON: {e}"))
                    .and_then(|v| pick(&v))
            } else {
                Ok(text.to_owned())
            };
            give(f, bad, &file, line, doc);
        }
    }
}

/// Parquet: the text column is `--field` (default `text`); each row is a
/// document, numbered from 1. Nulls and non-text columns are bad input.
fn read_parquet(
    path: &Path,
    file: &str,
    spec: &FieldSpec,
    bad: &mut Vec<BadInput>,
    f: &mut dyn FnMut(Document),
) {
    use arrow_array::{Array, LargeStringArray, StringArray, StringViewArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let column = match spec {
        FieldSpec::Named(n) => n.trim_start_matches('/').to_owned(),
        FieldSpec::Auto => "text".to_owned(),
    };
    let fail = |bad: &mut Vec<BadInput>, line: u64, error: String| {
        bad.push(BadInput {
            file: file.to_owned(),
            line,
            error,
        })
    };
    let opened = File::open(path).map_err(|e| e.to_string()).and_then(|fh| {
        ParquetRecordBatchReaderBuilder::try_new(fh)
            .map_err(|e| format!("not a readable Parquet file: {e}"))
    });
    let builder = match opened {
        Ok(b) => b,
        Err(e) => return fail(bad, 0, e),
    };
    let Some(idx) = builder
        .schema()
        .fields()
        .iter()
        .position(|fl| fl.name() == &column)
    else {
        let cols: Vec<String> = builder
            .schema()
            .fields()
            .iter()
            .map(|fl| fl.name().clone())
            .collect();
        return fail(
            bad,
            0,
            format!(
                "no column {column:?} (columns: {}; use --field)",
                cols.join(", ")
            ),
        );
    };
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [idx]);
    let reader = match builder.with_projection(mask).with_batch_size(4096).build() {
        Ok(r) => r,
        Err(e) => return fail(bad, 0, e.to_string()),
    };
    let mut row = 0u64;
    for batch in reader {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                return fail(
                    bad,
                    row + 1,
                    format!("cannot read further (truncated or damaged?): {e}"),
                );
            }
        };
        let col = batch.column(0);
        let get: Box<dyn Fn(usize) -> Option<String>> =
            if let Some(a) = col.as_any().downcast_ref::<StringArray>() {
                Box::new(move |i| a.is_valid(i).then(|| a.value(i).to_owned()))
            } else if let Some(a) = col.as_any().downcast_ref::<LargeStringArray>() {
                Box::new(move |i| a.is_valid(i).then(|| a.value(i).to_owned()))
            } else if let Some(a) = col.as_any().downcast_ref::<StringViewArray>() {
                Box::new(move |i| a.is_valid(i).then(|| a.value(i).to_owned()))
            } else {
                return fail(
                    bad,
                    0,
                    format!("column {column:?} is {}, not text", col.data_type()),
                );
            };
        for i in 0..batch.num_rows() {
            row += 1;
            match get(i) {
                Some(text) => f(Document {
                    file: file.to_owned(),
                    line: row,
                    text,
                }),
                None => fail(bad, row, format!("column {column:?} is null")),
            }
        }
    }
}
