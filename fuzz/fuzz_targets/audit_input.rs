//! A training-data file as the audit reads it: JSON lines, a JSON array,
//! gzip, zstd or Parquet, chosen by the first byte; every document found is
//! tokenised as the scan does.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use proviso_audit::{FieldSpec, read};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else { return };
    let ext = match kind % 6 {
        0 => "jsonl",
        1 => "json",
        2 => "jsonl.gz",
        3 => "jsonl.zst",
        4 => "parquet",
        _ => "txt",
    };
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join(format!("in.{ext}"));
    let Ok(mut f) = std::fs::File::create(&path) else { return };
    if f.write_all(body).is_err() {
        return;
    }
    drop(f);
    let paths = vec![path.to_string_lossy().into_owned()];
    let mut bad = Vec::new();
    for spec in [FieldSpec::Auto, FieldSpec::Named("/messages/0/content".into())] {
        read(&paths, &spec, &mut bad, &mut |d| {
            let _ = proviso_index::tokenize(&d.text);
        });
    }
});
