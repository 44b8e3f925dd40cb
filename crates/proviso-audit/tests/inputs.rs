//! Every kind of bad input is reported with its file and line, and never
//! stops the audit; compressed inputs are read; sample estimates cover the
//! true rate.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use std::io::Write;

use proviso_audit::{BadInput, Document, FieldSpec, Summary, read, sample, scan};
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
    let index = b.build();
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
