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
    return {"index": tmp / "data" / "index", "texts": texts, "cli": lines[:-1], "summary": lines[-1]["summary"]}


def test_the_package_finds_what_the_cli_finds(planted):
    idx = proviso_audit.Index(planted["index"])
    assert idx.references == 40
    table = pa.table({"id": list(range(len(planted["texts"]))), "text": planted["texts"]})
    # Batches of 17 rows: the findings' rows count across batches.
    out, summary = idx.audit(pa.Table.from_batches(table.to_batches(max_chunksize=17)))
    assert out.num_rows == table.num_rows
    assert out.column("row").to_pylist() == list(range(table.num_rows))
    assert out.column("id").to_pylist() == table.column("id").to_pylist(), "the input's columns kept"
    cli = {f["line"] - 1: f for f in planted["cli"]}
    assert len(cli) >= 7, "the planted set has something to find"
    flagged = [r for r in out.to_pylist() if r["flagged"]]
    assert [r["row"] for r in flagged] == sorted(cli)
    for r in flagged:
        c = cli[r["row"]]
        assert r["kind"] == c["kind"] and r["longest_run"] == c["longest_run"]
        assert [(s["start"], s["end"]) for s in r["spans"]] == [tuple(s) for s in c["spans"]]
        assert r["jaccard"] == pytest.approx(c["jaccard"]) and r["covered"] == pytest.approx(c["covered"])
        assert json.loads(r["references"]) == c["references"]
    s, cs = summary.to_dict(), planted["summary"]
    for k in ("audited", "flagged", "bytes", "tokens", "rate", "token_weighted_rate"):
        assert s[k] == pytest.approx(cs[k]), k
    assert s["wilson"] == pytest.approx(cs["wilson"]) and s["clopper_pearson"] == pytest.approx(cs["clopper_pearson"])
    # Only the flagged rows, on request.
    only, _ = idx.audit(table, flagged_only=True)
    assert only.column("row").to_pylist() == sorted(cli)


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
