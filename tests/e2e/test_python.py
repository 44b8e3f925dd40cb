"""The Python package `proviso_audit` (issue 23): the audit over Arrow
record batches gives what `proviso audit` gives on the same input and
index, row for row and span for span, with the same rate and intervals."""

import json
import subprocess

import pyarrow as pa
import pytest

import proviso_audit
from conftest import BIN_DIR, FIXTURES


def run(cfg, *args):
    return subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """An index of 40 GPT-4 outputs, and a training set of human text with
    some of those outputs planted in it (whole, or after a human paragraph),
    Claude's answers to the same instructions (not planted), as the CLI and
    the package both read it."""
    tmp = tmp_path_factory.mktemp("py")
    cfg = tmp / "c.toml"
    cfg.write_text(f'data_dir = "{tmp / "data"}"\n')
    r = run(cfg, "index", "add", str(FIXTURES / "gpt4_outputs.json"))
    assert r.returncode == 0, r.stderr
    gpt4 = json.loads((FIXTURES / "gpt4_outputs.json").read_text())
    claude = json.loads((FIXTURES / "claude3_outputs.json").read_text())
    human = [json.loads(l)["text"] for l in (FIXTURES / "c4_human.jsonl").read_text().splitlines()]
    texts = []
    for i, h in enumerate(human[:30]):
        texts.append(h + "\n\n" + gpt4[i]["output"] if i % 5 == 0 else h)
    texts += [c["output"] for c in claude[:20]]
    texts += [gpt4[35]["output"]]
    train = tmp / "train.jsonl"
    train.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp / "report.jsonl"
    r = run(cfg, "audit", str(train), "--json", str(out))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    table = pa.table({"id": list(range(len(texts))), "text": texts})
    return {"index": tmp / "data" / "index", "texts": texts, "table": table, "train": train,
            "cli": lines[:-1], "summary": lines[-1]["summary"]}


def same_as_cli(rows: list[dict], summary, planted):
    """Every row back once, with its input id; the CLI's flagged lines, and
    for each the same kind, runs, spans and references; the same summary."""
    rows = sorted(rows, key=lambda r: r["row"])
    assert [r["row"] for r in rows] == list(range(len(planted["texts"])))
    assert [r["id"] for r in rows] == list(range(len(planted["texts"]))), "the input's columns kept, row for row"
    cli = {f["line"] - 1: f for f in planted["cli"]}
    assert len(cli) >= 7, "the planted set has something to find"
    flagged = [r for r in rows if r["flagged"]]
    assert [r["row"] for r in flagged] == sorted(cli)
    for r in flagged:
        c = cli[r["row"]]
        assert r["kind"] == c["kind"] and r["longest_run"] == c["longest_run"]
        assert [(s["start"], s["end"]) for s in r["spans"]] == [tuple(s) for s in c["spans"]]
        assert r["jaccard"] == pytest.approx(c["jaccard"]) and r["covered"] == pytest.approx(c["covered"])
        assert json.loads(r["references"]) == c["references"]
        assert r["record_id"] == c["references"][0]["attribution"].get("record_id")
    s, cs = summary.to_dict(), planted["summary"]
    for k in ("audited", "flagged", "bytes", "tokens", "rate", "token_weighted_rate"):
        assert s[k] == pytest.approx(cs[k]), k
    assert s["wilson"] == pytest.approx(cs["wilson"]) and s["clopper_pearson"] == pytest.approx(cs["clopper_pearson"])


def test_the_package_finds_what_the_cli_finds(planted):
    idx = proviso_audit.Index(planted["index"])
    assert idx.references == 40
    table = planted["table"]
    # Batches of 17 rows: the findings' rows count across batches.
    out, summary = idx.audit(pa.Table.from_batches(table.to_batches(max_chunksize=17)))
    assert out.num_rows == table.num_rows
    assert out.column("row").to_pylist() == list(range(table.num_rows)), "in input order"
    same_as_cli(out.to_pylist(), summary, planted)
    # Only the flagged rows, on request.
    only, _ = idx.audit(table, flagged_only=True)
    assert only.column("row").to_pylist() == sorted(f["line"] - 1 for f in planted["cli"])


def test_bad_input_is_a_python_error_with_the_clis_message(planted, tmp_path):
    with pytest.raises(FileNotFoundError, match="no index at"):
        proviso_audit.Index(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is empty"):
        proviso_audit.Index(tmp_path / "empty")
    idx = proviso_audit.Index(planted["index"])
    batch = pa.record_batch({"body": ["some text"], "n": [1]})
    with pytest.raises(KeyError, match="its columns: body, n"):
        idx.audit_batch(batch)
    with pytest.raises(TypeError, match="not text"):
        idx.audit_batch(batch, field="n")
    # A null text is bad input, counted with its row (from 1, as the CLI
    # counts lines), not a crash; large strings are text too.
    nulls = pa.record_batch({"text": pa.array([None, planted["texts"][0]], type=pa.large_string())})
    findings, counts = idx.audit_batch(nulls, first_row=5)
    assert findings.column("flagged").to_pylist() == [False, True]
    assert counts["audited"] == 1 and counts["errors"] == [(6, 'column "text" is null')]
    empty, summary = idx.audit(pa.table({"text": pa.array([], type=pa.string())}))
    assert empty.num_rows == 0 and "flagged" in empty.column_names and summary.audited == 0


def test_hugging_face_datasets_map(planted):
    import datasets
    from proviso_audit import hf

    ds = datasets.Dataset(planted["table"])
    out, summary = hf.audit(ds, planted["index"], batch_size=17)
    assert out.column_names[:2] == ["id", "text"] and "flagged" in out.column_names
    same_as_cli(out.with_format("arrow")[:].to_pylist(), summary, planted)


def test_datasets_workers_forked_after_an_audit_do_not_hang(planted, tmp_path):
    """datasets forks its num_proc workers: the audit's threads are made
    again in each (an inherited thread pool would wait for ever)."""
    import sys

    script = tmp_path / "forked.py"
    script.write_text(
        "import sys, datasets, pyarrow as pa, proviso_audit\n"
        "from proviso_audit import hf\n"
        "idx = proviso_audit.index_for(sys.argv[1])\n"
        "t = pa.table({'text': [open(sys.argv[2]).read()] * 40})\n"
        "idx.audit(t)  # the parent's threads exist before the fork\n"
        "out, s = hf.audit(datasets.Dataset(t), sys.argv[1], batch_size=5, num_proc=2)\n"
        "print(s.audited, s.flagged)\n")
    text = tmp_path / "t.txt"
    text.write_text(planted["texts"][0])
    r = subprocess.run([sys.executable, str(script), str(planted["index"]), str(text)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["40", "40"], r.stdout


def test_ray_data_map_batches(planted):
    import ray
    import ray.data
    from proviso_audit import ray as pray

    # Logical CPUs: the numbering actor and two auditors hold one each.
    ray.init(num_cpus=4, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
             configure_logging=False)
    try:
        # Several blocks, as a dataset read from many files would be.
        ds = ray.data.from_arrow([pa.Table.from_batches([b]) for b in planted["table"].to_batches(max_chunksize=5)])
        # A dataset runs with the context it was made with, not the current
        # one: order is kept on that one while the audit runs, and given
        # back after.
        assert not ds.context.execution_options.preserve_order
        ds.context.max_errored_blocks = 3
        with pray._order_kept(ds):
            assert ds.context.execution_options.preserve_order
            assert ds.context.max_errored_blocks == 0
        assert not ds.context.execution_options.preserve_order
        assert ds.context.max_errored_blocks == 3
        # Two auditing actors behind a numbering one, and one that numbers.
        for concurrency in (2, 1):
            out, summary = pray.audit(ds, planted["index"], batch_size=8, concurrency=concurrency)
            rows = pa.concat_tables(list(out.iter_batches(batch_format="pyarrow"))).to_pylist()
            assert all(pray.POSITION not in r for r in rows)
            assert [r["row"] for r in rows] == list(range(len(rows))), "the input's order kept"
            same_as_cli(rows, summary, planted)
            # A null text is bad input, reported with its row counted from 1
            # (as the CLI counts lines), in a block after the first.
            # The input has columns named as the findings' `row` is (then
            # written `proviso_row`) and as that: the counts still go by
            # position.
            texts = planted["texts"][:6]
            nulls = ray.data.from_arrow([
                pa.table({"text": pa.array(texts[:4], type=pa.large_string()), "row": [7] * 4}),
                pa.table({"text": pa.array([texts[4], None, texts[5]], type=pa.large_string()), "row": [7] * 3}),
            ])
            found, bad = pray.audit(nulls, planted["index"], batch_size=2, concurrency=concurrency)
            assert bad.errors == [(6, 'column "text" is null')] and bad.audited == 6, bad
            got = pa.concat_tables(list(found.iter_batches(batch_format="pyarrow"))).to_pylist()
            assert [r["proviso_row"] for r in got] == list(range(7)) and {r["row"] for r in got} == {7}
    finally:
        ray.shutdown()


def test_spark_map_in_arrow(planted, monkeypatch):
    import sys
    from pyspark.sql import SparkSession
    from proviso_audit import spark as pspark

    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("proviso-audit-test")
               .config("spark.ui.enabled", "false")
               # Small partitions: the rows are numbered across them.
               .config("spark.sql.files.maxPartitionBytes", "8192")
               .config("spark.sql.files.openCostInBytes", "0")
               .getOrCreate())
    try:
        jsonl = planted["train"].with_name("with_ids.jsonl")
        jsonl.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(planted["texts"])))
        from pyspark.sql import functions as F

        # A column that is never null, and one whose name is a findings
        # column's but for its case (Spark compares names without case).
        df = (session.read.schema("id long, text string").json(str(jsonl))
              .withColumn("Tokens", F.lit(7)))
        assert df.rdd.getNumPartitions() > 1
        out, summary = pspark.audit(df, planted["index"])
        assert "proviso_tokens" in out.columns and "Tokens" in out.columns
        assert pspark.PARTITION not in out.columns
        rows = out.toArrow().to_pylist()
        assert {r["Tokens"] for r in rows} == {7}
        same_as_cli(rows, summary, planted)
        # A null text is bad input, reported with its row counted from 1,
        # here the first row of the last of three partitions.
        texts = planted["texts"][:6]
        nulls = session.sparkContext.parallelize([(t,) for t in texts[:4] + [None] + texts[4:]], 3).toDF("text string")
        found, bad = pspark.audit(nulls, planted["index"])
        assert bad.errors == [(5, 'column "text" is null')] and bad.audited == 6, bad
        assert sorted(r["row"] for r in found.toArrow().to_pylist()) == list(range(7))
    finally:
        session.stop()


def test_rows_are_attributed_to_the_ledger_records_that_produced_them(gw):
    """With an index the gateway built from its ledger, each finding names
    the record (the exchange) that produced the copied output, the same
    record the CLI names, through the package and the datasets adapter."""
    import datasets
    import openai
    from proviso_audit import hf

    c = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key("growth"), max_retries=0)
    answers = [c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": q}])
               .choices[0].message.content
               for q in ["Tell me about rivers.", "Explain photosynthesis.", "Plan a trip.", "Describe tides."]]
    ids = [r["id"] for r in gw.records()]
    assert len(ids) == 4
    r = gw.cli("index", "rebuild")
    assert "indexed 4 outputs from the ledger" in r.stderr
    texts = ["Some preface. " + answers[1], "unrelated human text about cooking pasta at home",
             answers[3] + " And a closing line.", "another human line, about a walk by the sea"]
    train = gw.tmp / "train.jsonl"
    train.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = gw.tmp / "audit.jsonl"
    gw.cli("audit", str(train), "--json", str(out))
    cli = {f["line"] - 1: f for f in (json.loads(l) for l in out.read_text().splitlines()[:-1])}
    assert sorted(cli) == [0, 2]
    expected = {row: f["references"][0]["attribution"]["record_id"] for row, f in cli.items()}
    assert expected == {0: ids[1], 2: ids[3]}, "the CLI names the exchanges that produced the copies"
    table = pa.table({"text": texts})
    got, _ = proviso_audit.Index(gw.data / "index").audit(table)
    hf_out, _ = hf.audit(datasets.Dataset(table), gw.data / "index")
    for rows in (got.to_pylist(), hf_out.with_format("arrow")[:].to_pylist()):
        assert {r["row"]: r["record_id"] for r in rows if r["flagged"]} == expected
        assert all(r["record_id"] is None for r in rows if not r["flagged"])
