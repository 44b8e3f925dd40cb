//! Reading training data: formats, compression, fields, bad input.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;

pub use crate::fields::{FieldSpec, extract};
pub use crate::files::BadInput;
use crate::files::open;
pub use crate::files::{Progress, expand};
pub(crate) use crate::json_field::Picker;

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

/// Calls `f` on every document of every file; bad input goes to `bad`.
pub fn read(
    paths: &[String],
    spec: &FieldSpec,
    bad: &mut Vec<BadInput>,
    f: &mut dyn FnMut(Document),
) {
    read_tracked(paths, spec, bad, &Progress::default(), f);
}

/// [`read`], counting the bytes read into `progress`.
pub fn read_tracked(
    paths: &[String],
    spec: &FieldSpec,
    bad: &mut Vec<BadInput>,
    progress: &Progress,
    f: &mut dyn FnMut(Document),
) {
    let picker = Picker {
        first_key: spec.first_key(false),
        pick: &|v| extract(v, spec),
    };
    read_with(paths, spec, picker, false, bad, progress, f);
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
    let picker = Picker {
        first_key: spec.first_key(true),
        pick: &pick,
    };
    read_with(
        paths,
        spec,
        picker,
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

/// Bytes of complete lines handed on at a time.
const BLOCK: usize = 4 << 20;

/// What the reader hands on: complete lines of one file (parsed by whoever
/// takes them, in parallel when scanning), documents already parsed (JSON
/// arrays, Parquet) with their problems in order, or a file's problem.
pub(crate) enum Unit {
    Lines(Lines),
    Parsed(Vec<Result<Document, BadInput>>),
    Bad(BadInput),
}

/// Complete lines of one file.
pub(crate) struct Lines {
    pub file: std::sync::Arc<str>,
    /// The number of the first line in `buf` (1-based).
    pub first: u64,
    pub buf: Vec<u8>,
    /// JSON lines (else plain text, a line a document).
    pub json: bool,
}

impl Lines {
    /// Each line with its number (a final empty piece is a blank line).
    pub fn each(&self) -> impl Iterator<Item = (u64, &[u8])> {
        // Line ends found by memchr (vector compares), not byte by byte:
        // a full scan passes every byte of its input through here.
        let ends = memchr::memchr_iter(b'\n', &self.buf).chain([self.buf.len()]);
        let mut start = 0;
        ends.enumerate().map(move |(i, end)| {
            let line = self.buf.get(start..end).unwrap_or(&[]);
            start = end + 1;
            (self.first + i as u64, line)
        })
    }
}

/// The text of one line: `None` for a blank line, else the document's text
/// or what is wrong with the line.
pub(crate) fn line_text(
    raw: &[u8],
    json: bool,
    picker: Picker<'_>,
) -> Option<Result<String, String>> {
    let mut b = raw;
    while let [rest @ .., b'\r' | b'\n'] = b {
        b = rest;
    }
    if b.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    // Checked with vector instructions (std's byte loop was 1.4% of a scan).
    let text = match simdutf8::compat::from_utf8(b) {
        Ok(t) => t,
        Err(e) => return Some(Err(format!("invalid UTF-8 at byte {}", e.valid_up_to()))),
    };
    Some(if json {
        picker.text_of_line(text)
    } else {
        Ok(text.to_owned())
    })
}

/// The shared reader: calls `f` on every document in order.
fn read_with(
    paths: &[String],
    spec: &FieldSpec,
    picker: Picker<'_>,
    references: bool,
    bad: &mut Vec<BadInput>,
    progress: &Progress,
    f: &mut dyn FnMut(Document),
) {
    produce(
        paths,
        spec,
        picker,
        references,
        progress,
        &mut || None,
        &mut |unit| {
            match unit {
                Unit::Lines(l) => {
                    for (n, raw) in l.each() {
                        match line_text(raw, l.json, picker) {
                            Some(Ok(text)) => f(Document {
                                file: l.file.to_string(),
                                line: n,
                                text,
                            }),
                            Some(Err(e)) => bad_at(bad, &l.file, n, e),
                            None => {}
                        }
                    }
                }
                Unit::Parsed(items) => {
                    for item in items {
                        match item {
                            Ok(d) => f(d),
                            Err(b) => bad.push(b),
                        }
                    }
                }
                Unit::Bad(b) => bad.push(b),
            }
            true
        },
    );
}

/// Reads every file into [`Unit`]s. `references`: every file is JSON (an
/// array when it starts with `[`, else JSON lines), and a file must be an
/// array. Reading stops when `emit` returns false (the units are no
/// longer wanted). Blocks of lines are read into buffers from `spare`
/// when it has one (the buffers of blocks already scanned, handed back:
/// a new 4 MiB buffer is new memory, a page fault and zeroed page every
/// 4 KiB), else into new ones.
pub(crate) fn produce(
    paths: &[String],
    spec: &FieldSpec,
    picker: Picker<'_>,
    references: bool,
    progress: &Progress,
    spare: &mut dyn FnMut() -> Option<Vec<u8>>,
    emit: &mut dyn FnMut(Unit) -> bool,
) {
    let mut expand_bad = Vec::new();
    let files = expand(paths, &mut expand_bad);
    let mut going = true;
    for b in expand_bad {
        going &= emit(Unit::Bad(b));
    }
    for path in files {
        if !going {
            return;
        }
        let file = path.display().to_string();
        let file_bad = |line: u64, error: String| {
            Unit::Bad(BadInput {
                file: file.clone(),
                line,
                error,
            })
        };
        let (reader, inner, counted) = match open(&path, progress) {
            Ok(x) => x,
            Err(e) => {
                going &= emit(file_bad(0, e.to_string()));
                continue;
            }
        };
        if inner.ends_with(".parquet") {
            let mut items = Vec::new();
            read_parquet(&path, &file, spec, &mut |item| {
                items.push(item);
                if items.len() == 4096 && going {
                    going = emit(Unit::Parsed(std::mem::take(&mut items)));
                }
            });
            going &= emit(Unit::Parsed(items));
            progress.add(std::fs::metadata(&path).map_or(0, |m| m.len()));
            continue;
        }
        let mut r = BufReader::with_capacity(1 << 16, reader);
        let array = inner.ends_with(".json")
            || (references
                && r.fill_buf()
                    .is_ok_and(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'[')));
        if array {
            let mut buf = Vec::new();
            let read = r.read_to_end(&mut buf);
            if !counted {
                progress.add(buf.len() as u64);
            }
            if let Err(e) = read {
                going &= emit(file_bad(
                    0,
                    format!("cannot read (truncated or damaged?): {e}"),
                ));
                continue;
            }
            let doc = |line: u64, text: Result<String, String>| match text {
                Ok(text) => Ok(Document {
                    file: file.clone(),
                    line,
                    text,
                }),
                Err(error) => Err(BadInput {
                    file: file.clone(),
                    line,
                    error,
                }),
            };
            match serde_json::from_slice::<Value>(&buf) {
                Ok(Value::Array(items)) => {
                    for chunk in items.chunks(4096).enumerate() {
                        let (c, vs) = chunk;
                        going &= emit(Unit::Parsed(
                            vs.iter()
                                .enumerate()
                                .map(|(i, v)| doc((c * 4096 + i) as u64 + 1, (picker.pick)(v)))
                                .collect(),
                        ));
                    }
                }
                Ok(_) if references => going &= emit(file_bad(1, "expected a JSON array".into())),
                Ok(v) => going &= emit(Unit::Parsed(vec![doc(1, (picker.pick)(&v))])),
                Err(e) => going &= emit(file_bad(e.line() as u64, format!("invalid JSON: {e}"))),
            }
            continue;
        }
        let json = references || inner.ends_with(".jsonl") || inner.ends_with(".ndjson");
        let file: std::sync::Arc<str> = file.as_str().into();
        let read = read_lines(&mut r, spare, &mut |first, buf| {
            if !counted {
                progress.add(buf.len() as u64);
            }
            going = emit(Unit::Lines(Lines {
                file: file.clone(),
                first,
                buf,
                json,
            }));
            going
        });
        if let Err((line, e)) = read {
            going &= emit(Unit::Bad(BadInput {
                file: file.to_string(),
                line,
                error: format!("cannot read further (truncated or damaged?): {e}"),
            }));
        }
    }
}

/// Hands on blocks of about [`BLOCK`] bytes of complete lines, each with
/// the number of its first line. On a read error, the complete lines read
/// before it are handed on and the error comes back with the number of the
/// line it stopped. Reading stops when `emit` returns false.
fn read_lines(
    r: &mut dyn Read,
    spare: &mut dyn FnMut() -> Option<Vec<u8>>,
    emit: &mut dyn FnMut(u64, Vec<u8>) -> bool,
) -> Result<(), (u64, std::io::Error)> {
    let mut carry: Vec<u8> = Vec::new();
    let mut line = 0u64; // lines handed on so far
    loop {
        let mut buf = match spare() {
            Some(mut b) => {
                b.clear();
                b.append(&mut carry);
                b
            }
            None => std::mem::take(&mut carry),
        };
        buf.reserve(BLOCK);
        // Up to a block more (short of it only at the end of the input);
        // on an error, what was read before it stays in `buf`.
        let (eof, failed) = match (&mut *r).take(BLOCK as u64).read_to_end(&mut buf) {
            Ok(n) => (n < BLOCK, None),
            Err(e) => (false, Some(e)),
        };
        if !eof {
            // Keep the unfinished last line for the next block (or drop it
            // when reading failed: it is where the file broke).
            match memchr::memrchr(b'\n', &buf) {
                Some(p) => carry = buf.split_off(p + 1),
                None if failed.is_none() => {
                    carry = buf; // one line longer than a block: read on
                    continue;
                }
                None => buf.clear(),
            }
            if failed.is_some() {
                carry.clear();
            }
        }
        let ends_open = !buf.is_empty() && buf.last() != Some(&b'\n');
        let lines = memchr::memchr_iter(b'\n', &buf).count() as u64 + u64::from(ends_open);
        if !buf.is_empty() && !emit(line + 1, buf) {
            return Ok(()); // no more wanted
        }
        line += lines;
        if let Some(e) = failed {
            return Err((line + 1, e));
        }
        if eof {
            return Ok(());
        }
    }
}

/// Parquet: the text column is `--field` (default `text`); each row is a
/// document, numbered from 1. Nulls and non-text columns are bad input.
fn read_parquet(
    path: &Path,
    file: &str,
    spec: &FieldSpec,
    f: &mut dyn FnMut(Result<Document, BadInput>),
) {
    use arrow_array::{Array, LargeStringArray, StringArray, StringViewArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let column = match spec {
        FieldSpec::Named(n) => n.trim_start_matches('/').to_owned(),
        FieldSpec::Auto => "text".to_owned(),
    };
    let fail = |f: &mut dyn FnMut(Result<Document, BadInput>), line: u64, error: String| {
        f(Err(BadInput {
            file: file.to_owned(),
            line,
            error,
        }))
    };
    let opened = File::open(path).map_err(|e| e.to_string()).and_then(|fh| {
        ParquetRecordBatchReaderBuilder::try_new(fh)
            .map_err(|e| format!("not a readable Parquet file: {e}"))
    });
    let builder = match opened {
        Ok(b) => b,
        Err(e) => return fail(f, 0, e),
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
            f,
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
        Err(e) => return fail(f, 0, e.to_string()),
    };
    let mut row = 0u64;
    for batch in reader {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                return fail(
                    f,
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
                    f,
                    0,
                    format!("column {column:?} is {}, not text", col.data_type()),
                );
            };
        for i in 0..batch.num_rows() {
            row += 1;
            match get(i) {
                Some(text) => f(Ok(Document {
                    file: file.to_owned(),
                    line: row,
                    text,
                })),
                None => fail(f, row, format!("column {column:?} is null")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_reported_where_it_starts() {
        let pick = |_: &Value| -> Result<String, String> { Err("unused".into()) };
        let picker = Picker {
            first_key: None,
            pick: &pick,
        };
        // A valid prefix long enough for the vector check's blocks, then a
        // truncated three-byte character.
        let mut line = "é".repeat(40).into_bytes();
        line.extend_from_slice(b"ok \xe4\xb8 end\n");
        assert_eq!(
            line_text(&line, false, picker),
            Some(Err("invalid UTF-8 at byte 83".into()))
        );
        assert_eq!(
            line_text("中文 é\r\n".as_bytes(), false, picker),
            Some(Ok("中文 é".into()))
        );
    }

    /// Lines are what splitting at every newline gives (a final empty
    /// piece included), numbered from the block's first line; blocks are
    /// numbered on from the lines before them, however the input falls.
    #[test]
    fn lines_are_split_and_numbered_as_the_input_lies() {
        for text in ["", "a", "a\n", "\n\n", "one\ntwo\n\nfour", "x\r\ny\r\n"] {
            let l = Lines {
                file: "f".into(),
                first: 7,
                buf: text.as_bytes().to_vec(),
                json: false,
            };
            let want: Vec<(u64, &[u8])> = text
                .as_bytes()
                .split(|b| *b == b'\n')
                .enumerate()
                .map(|(i, s)| (7 + i as u64, s))
                .collect();
            assert_eq!(l.each().collect::<Vec<_>>(), want, "{text:?}");
        }
        // An input of more than one block: every line comes once, with its
        // number.
        let text: String = (1..=500_000).map(|i| format!("line {i}\n")).collect();
        let mut seen = Vec::new();
        read_lines(&mut text.as_bytes(), &mut || None, &mut |first, buf| {
            let l = Lines {
                file: "f".into(),
                first,
                buf,
                json: false,
            };
            for (n, s) in l.each() {
                if !s.is_empty() {
                    seen.push((n, String::from_utf8_lossy(s).into_owned()));
                }
            }
            true
        })
        .unwrap();
        assert_eq!(seen.len(), 500_000);
        assert!(seen.iter().all(|(n, s)| *s == format!("line {n}")));
    }
}
