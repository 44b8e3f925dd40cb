//! Every kind of bad input is reported with its file and line, and never
//! stops the audit; compressed inputs are read; sample estimates cover the
//! true rate.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use std::io::Write;

use proviso_audit::{
    BadInput, Document, FieldSpec, Progress, Summary, read, sample, scan, scan_paths,
};
use proviso_index::{IndexBuilder, Params, Reference};

fn collect(paths: &[String], spec: &FieldSpec) -> (Vec<Document>, Vec<BadInput>) {
    let mut docs = Vec::new();
    let mut bad = Vec::new();
    read(paths, spec, &mut bad, &mut |d| docs.push(d));
    (docs, bad)
}

#[test]
fn bad_input_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let mut f = std::fs::File::create(p("a.jsonl")).unwrap();
    f.write_all(b"{\"text\": \"fine one\"}\n{not json}\n\xff\xfe invalid utf8\n{\"other\": 1}\n\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n").unwrap();
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"{\"text\": \"zipped\"}\n{\"text\": \"zipped too\"}\n")
            .unwrap();
        e.finish().unwrap()
    };
    std::fs::write(p("b.jsonl.gz"), &gz).unwrap();
    std::fs::write(p("truncated.jsonl.gz"), &gz[..gz.len() / 2]).unwrap();
    std::fs::write(
        p("c.jsonl.zst"),
        zstd::stream::encode_all(
            &b"{\"conversations\": [{\"from\": \"human\", \"value\": \"sharegpt\"}]}\n"[..],
            3,
        )
        .unwrap(),
    )
    .unwrap();
    std::fs::write(p("empty.jsonl.zst"), b"").unwrap();
    std::fs::write(
        p("d.json"),
        b"[{\"instruction\": \"i\", \"input\": \"\", \"output\": \"alpaca\"}, 5]",
    )
    .unwrap();
    std::fs::write(p("e.txt"), b"line one\nline two\n").unwrap();
    let (docs, bad) = collect(
        &[dir.path().display().to_string(), p("missing.jsonl")],
        &FieldSpec::Auto,
    );
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    for want in [
        "fine one",
        "hi",
        "zipped",
        "zipped too",
        "sharegpt",
        "i\nalpaca",
        "line one",
        "line two",
    ] {
        assert!(texts.contains(&want), "{want} not read: {texts:?}");
    }
    let at = |file: &str, line: u64| {
        bad.iter()
            .find(|b| b.file.ends_with(file) && b.line == line)
            .map(|b| b.error.clone())
    };
    assert!(at("a.jsonl", 2).unwrap().contains("invalid JSON"));
    assert!(at("a.jsonl", 3).unwrap().contains("invalid UTF-8"));
    assert!(at("a.jsonl", 4).unwrap().contains("no text field"));
    assert!(at("d.json", 2).unwrap().contains("no text field"));
    assert!(
        bad.iter()
            .any(|b| b.file.ends_with("truncated.jsonl.gz") && b.error.contains("truncated")),
        "{bad:?}"
    );
    assert!(
        bad.iter().any(|b| b.file.ends_with("empty.jsonl.zst")),
        "an empty compressed file is reported: {bad:?}"
    );
    assert!(
        bad.iter()
            .any(|b| b.file.ends_with("missing.jsonl") && b.error.contains("no such file"))
    );
    // An explicit field that is missing is named.
    let (_, bad) = collect(
        &[p("e.txt"), p("a.jsonl")],
        &FieldSpec::Named("/body".into()),
    );
    assert!(bad.iter().any(|b| b.error == "missing field /body"));
}

#[test]
fn sample_intervals_cover_the_true_rate() {
    // 2,000 documents, 10% of them copies of indexed outputs.
    let refs: Vec<String> = (0..50)
        .map(|i| {
            (0..60)
                .map(|w| format!("ref{i}word{w}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mut b = IndexBuilder::new(Params::default());
    for (i, r) in refs.iter().enumerate() {
        b.add(r, Reference::file("refs", i as u64));
    }
    let index = proviso_index::IndexSet::from(b.build().unwrap());
    let docs: Vec<Document> = (0..2000)
        .map(|i| Document {
            file: "train".into(),
            line: i + 1,
            text: if i % 10 == 0 {
                refs[(i / 10) as usize % 50].clone()
            } else {
                (0..60)
                    .map(|w| format!("human{i}w{w}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            },
        })
        .collect();
    let mut covered_w = 0;
    let mut covered_cp = 0;
    let runs = 40;
    for seed in 0..runs {
        let mut s = sample(200, seed);
        for d in &docs {
            s.offer(d.clone());
        }
        let mut sum = Summary::default();
        scan(&index, &s.kept, &mut sum);
        assert_eq!(sum.audited, 200);
        covered_w += usize::from(sum.wilson.0 <= 0.1 && 0.1 <= sum.wilson.1);
        covered_cp += usize::from(sum.clopper_pearson.0 <= 0.1 && 0.1 <= sum.clopper_pearson.1);
    }
    // 95% intervals: expect about 38 of 40; allow sampling noise.
    assert!(
        covered_w >= 34,
        "Wilson covered the true rate {covered_w}/{runs} times"
    );
    assert!(
        covered_cp >= 35,
        "Clopper-Pearson covered the true rate {covered_cp}/{runs} times"
    );
    // And a full scan finds exactly 10%.
    let mut sum = Summary::default();
    scan(&index, &docs, &mut sum);
    assert_eq!(sum.flagged, 200);
}

#[test]
fn parquet_column_rows_and_problems() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.parquet");
    let text: ArrayRef = Arc::new(StringArray::from(vec![
        Some("first row"),
        None,
        Some("third row"),
    ]));
    let n: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
    let batch = RecordBatch::try_from_iter([("text", text), ("n", n)]).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let p = path.display().to_string();
    let (docs, bad) = collect(std::slice::from_ref(&p), &FieldSpec::Auto);
    assert_eq!(
        docs.iter()
            .map(|d| (d.line, d.text.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "first row"), (3, "third row")]
    );
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].line, bad[0].error.as_str()),
        (2, "column \"text\" is null")
    );
    let (_, bad) = collect(std::slice::from_ref(&p), &FieldSpec::Named("body".into()));
    assert!(
        bad[0].error.contains("no column \"body\"") && bad[0].error.contains("text, n"),
        "{bad:?}"
    );
    let (_, bad) = collect(std::slice::from_ref(&p), &FieldSpec::Named("n".into()));
    assert!(bad[0].error.contains("not text"), "{bad:?}");
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (_, bad) = collect(&[cut.display().to_string()], &FieldSpec::Auto);
    assert!(
        bad[0].error.contains("not a readable Parquet file"),
        "{bad:?}"
    );
}

#[test]
fn progress_counts_the_stored_bytes_of_every_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(p("a.jsonl"), "{\"text\": \"one\"}\n{\"text\": \"two\"}\n").unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all("{\"text\": \"three\"}\n".repeat(200).as_bytes())
        .unwrap();
    std::fs::write(p("b.jsonl.gz"), e.finish().unwrap()).unwrap();
    let paths = vec![dir.path().display().to_string()];
    let progress = proviso_audit::Progress::for_paths(&paths);
    let sizes: u64 = ["a.jsonl", "b.jsonl.gz"]
        .iter()
        .map(|n| std::fs::metadata(p(n)).unwrap().len())
        .sum();
    assert_eq!(progress.total, sizes);
    assert_eq!(progress.done(), 0);
    let mut n = 0;
    let mut bad = Vec::new();
    proviso_audit::read_tracked(&paths, &FieldSpec::Auto, &mut bad, &progress, &mut |_| {
        n += 1
    });
    assert_eq!(n, 202);
    assert!(bad.is_empty());
    assert_eq!(
        progress.done(),
        progress.total,
        "every stored byte was read"
    );
}

/// The full scan (reader thread, blocks of lines parsed on every core)
/// gives what reading in order and scanning gives: the same documents,
/// flagged lines, counts and bad input in the same order, across block
/// boundaries, and with the index split into segments.
#[test]
fn full_scan_agrees_with_reading_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let refs: Vec<String> = (0..40)
        .map(|i| {
            (0..50)
                .map(|w| format!("ref{i}w{w}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mut segs = Vec::new();
    for half in refs.chunks(20) {
        let mut b = IndexBuilder::new(Params::default());
        for (i, r) in half.iter().enumerate() {
            b.add(r, Reference::file("refs", i as u64 + 1));
        }
        segs.push(b.build().unwrap());
    }
    let split = proviso_index::IndexSet::new(segs).unwrap();
    // About 9 MB: the reader hands on at least three blocks.
    let path = dir.path().join("big.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let filler: String = (0..300)
        .map(|w| format!("human{w}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut want_flagged = Vec::new();
    for i in 1..=4000u64 {
        match i % 97 {
            0 => {
                want_flagged.push(i);
                let r = &refs[(i as usize / 97) % 40];
                writeln!(
                    f,
                    "{}",
                    serde_json::json!({"text": format!("{filler} {r} {filler}")})
                )
                .unwrap();
            }
            5 => writeln!(f, "{{broken").unwrap(),
            7 => f.write_all(b"{\"text\": \"bad \xff utf8\"}\n").unwrap(),
            9 => writeln!(f).unwrap(),
            _ => writeln!(
                f,
                "{}",
                serde_json::json!({"id": i, "text": format!("{filler} doc{i}")})
            )
            .unwrap(),
        }
    }
    f.write_all(b"{\"text\": \"no newline at the end\"}")
        .unwrap();
    drop(f);
    let paths = vec![
        path.display().to_string(),
        dir.path().join("missing.jsonl").display().to_string(),
    ];
    let mut summary = Summary::default();
    let mut flagged = Vec::new();
    let mut blocks = 0;
    scan_paths(
        &split,
        &paths,
        &FieldSpec::Auto,
        &Progress::for_paths(&paths),
        true,
        &mut summary,
        &mut |found| {
            assert!(found.text.contains("ref"));
            // The JSON line, made on the scanning threads, is the flagged
            // document's.
            let json: serde_json::Value =
                serde_json::from_str(found.json.as_deref().unwrap()).unwrap();
            assert_eq!(json["line"], found.flagged.line);
            assert_eq!(json["longest_run"], found.flagged.longest_run);
            flagged.push(found.flagged.line)
        },
        &mut |_| {
            blocks += 1;
            true
        },
    );
    assert!(blocks >= 3, "{blocks} blocks");
    assert_eq!(flagged, want_flagged, "flagged lines, in order");
    // A scan told to stop after its first block (of lines: the file
    // alone) stops there.
    let mut first = Summary::default();
    let mut seen_blocks = 0;
    scan_paths(
        &split,
        &paths[..1],
        &FieldSpec::Auto,
        &Progress::for_paths(&paths[..1]),
        false,
        &mut first,
        &mut |found| assert!(found.json.is_none()),
        &mut |_| {
            seen_blocks += 1;
            false
        },
    );
    assert_eq!(seen_blocks, 1);
    assert!(first.audited > 0 && first.audited < summary.audited);
    // The same by reading in order, and with one merged segment.
    let (docs, bad) = collect(&paths, &FieldSpec::Auto);
    assert_eq!(
        docs.last().map(|d| (d.line, d.text.as_str())),
        Some((4001, "no newline at the end"))
    );
    let mut seq = Summary::default();
    let mut b = IndexBuilder::new(Params::default());
    for (i, r) in refs.iter().enumerate() {
        b.add(r, Reference::file("refs", i as u64 + 1));
    }
    let one = proviso_index::IndexSet::from(b.build().unwrap());
    let seq_flagged: Vec<u64> = scan(&one, &docs, &mut seq).iter().map(|f| f.line).collect();
    assert_eq!(seq_flagged, want_flagged);
    assert_eq!(
        (
            summary.audited,
            summary.documents,
            summary.bytes,
            summary.tokens,
            summary.flagged
        ),
        (
            seq.audited,
            docs.len() as u64,
            seq.bytes,
            seq.tokens,
            seq.flagged
        )
    );
    let lines = |b: &[BadInput]| {
        b.iter()
            .map(|e| (e.line, e.error.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(&summary.errors), lines(&bad));
    let every = |k: u64| (1..=4000u64).filter(|i| i % 97 == k).count();
    assert_eq!(
        summary.errors.len(),
        every(5) + every(7) + 1,
        "broken lines, invalid UTF-8, one missing file"
    );
    assert!(
        summary.errors[0].error.contains("no such file"),
        "file problems come first: {:?}",
        summary.errors[0]
    );
    assert_eq!(summary.errors[1].line, 5);
    assert_eq!(summary.errors[2].line, 7);
    // Matches in the second segment are numbered after the first's.
    let r = split.query(&refs[30]);
    assert_eq!(r.matches[0].reference, 30);
    assert_eq!(split.reference(30).unwrap().row, Some(11));
}
