"""`proviso index` and `proviso audit` end to end: index reference files and
the gateway's own ledger, audit training data, attribute matches to ledger
records (key, team, model, time), report bad input, gate with --fail-above."""

import gzip
import json
import os
import random
import subprocess

import openai

from conftest import BIN_DIR, FIXTURES


def run(cfg, *args):
    return subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), *args], capture_output=True, text=True, timeout=120)


def test_audit_files_against_reference_outputs(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    r = run(cfg, "index", "add", str(FIXTURES / "gpt4_outputs.json"))
    assert r.returncode == 0, r.stderr
    assert "indexed 40 reference outputs" in r.stderr
    r = run(cfg, "index", "stats")
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["references"] == 40 and stats["segments"] == 1 and stats["mapped"]
    assert stats["formats"] == {"7": 1} and stats["params"]["k"] == 8 and stats["params"]["tokenizer"] == 2
    # A new index is keyed; its key is not shown.
    assert stats["keyed"] is True and "salt" not in stats["params"], stats
    gpt4 = json.loads((FIXTURES / "gpt4_outputs.json").read_text())
    claude = json.loads((FIXTURES / "claude3_outputs.json").read_text())
    human = [json.loads(l)["text"] for l in (FIXTURES / "c4_human.jsonl").read_text().splitlines()]
    train = tmp_path / "train.jsonl.gz"
    with gzip.open(train, "wt") as f:
        for i, h in enumerate(human[:30]):
            text = h + "\n\n" + gpt4[i]["output"] if i % 5 == 0 else h
            f.write(json.dumps({"text": text}) + "\n")
        for c in claude[:20]:
            f.write(json.dumps({"messages": [{"role": "assistant", "content": c["output"]}]}) + "\n")
        f.write("{broken\n")
    out = tmp_path / "report.jsonl"
    r = run(cfg, "audit", str(train), "--json", str(out))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    flagged, summary = lines[:-1], lines[-1]["summary"]
    assert sorted(f["line"] for f in flagged) == [1, 6, 11, 16, 21, 26]
    f0 = flagged[0]
    assert f0["kind"] == "exact" and f0["references"][0]["attribution"]["row"] == 1
    a, b = f0["spans"][0]
    assert "gpt4_outputs.json" in f0["references"][0]["attribution"]["source"]
    assert summary["audited"] == 50 and summary["flagged"] == 6
    assert summary["errors"][0]["line"] == 51 and "invalid JSON" in summary["errors"][0]["error"]
    lo, hi = summary["wilson"]
    assert lo < 0.12 < hi
    report = tmp_path / "report.html"
    r = run(cfg, "audit", str(train), "--report", str(report))
    assert r.returncode == 0, r.stderr
    page = report.read_text()
    assert page.startswith("<!doctype html>") and "Provider output found" in page
    assert page.count("<mark>") >= 6, "matched text highlighted"
    assert "gpt4_outputs.json row 1" in page
    assert gpt4[0]["output"][:60].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;") in page, "the reference text beside it"
    assert "invalid JSON" in page, "bad input listed"
    r = run(cfg, "audit", str(train), "--fail-above", "0.05")
    assert r.returncode == 3 and "above --fail-above" in r.stderr
    r = run(cfg, "audit", str(train), "--sample", "20", "--seed", "7", "--fail-above", "0.9")
    assert r.returncode == 0 and "audited 20 of 50" in r.stderr
    r = run(cfg, "audit", str(tmp_path / "nope.jsonl"))
    assert r.returncode == 0 and "no such file" in r.stderr
    r = run(cfg, "audit", str(train), "--fail-above", "7")
    assert r.returncode == 2
    # The findings written as the scan goes: to a pipe in place, the same
    # lines; to a directory that does not exist, an error before the scan.
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "audit", str(train), "--json", "/dev/stdout"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == out.read_text()
    # A symbolic link is written through (the link stays, its file is
    # replaced), also when the file it names does not exist yet.
    (tmp_path / "kept").mkdir()
    target = tmp_path / "kept" / "findings.jsonl"
    target.write_text("old\n")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(target)
    dangling = tmp_path / "next.jsonl"
    dangling.symlink_to("kept/new.jsonl")
    for via, real in ((link, target), (dangling, tmp_path / "kept" / "new.jsonl")):
        r = run(cfg, "audit", str(train), "--json", str(via))
        assert r.returncode == 0, r.stderr
        assert via.is_symlink() and real.read_text() == out.read_text()
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["findings.jsonl", "new.jsonl"], "no partial file left"
    r = run(cfg, "audit", str(train), "--json", str(tmp_path / "no" / "such" / "dir.jsonl"))
    assert r.returncode == 1 and "creating" in r.stderr and "audited" not in r.stderr, r.stderr
    # A damaged segment (one byte of its last table changed: its frame and
    # tables still read) stops the audit before anything is written.
    (seg,) = (tmp_path / "data" / "index").glob("*.pvx")
    raw = bytearray(seg.read_bytes())
    raw[-30] ^= 0x5A
    seg.write_bytes(bytes(raw))
    damaged_out = tmp_path / "damaged.jsonl"
    for extra in ([], ["--sample", "5"]):
        r = run(cfg, "audit", str(train), "--json", str(damaged_out), *extra)
        assert r.returncode == 1 and "checksum mismatch" in r.stderr, r.stderr
        assert not damaged_out.exists()
        assert not list(tmp_path.glob(".damaged.jsonl.*")), "no partial file left behind"


def test_audit_attributes_to_ledger_records(gw):
    c = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key("growth"), max_retries=0)
    answers = []
    for q in ["Tell me about rivers.", "Explain photosynthesis.", "Plan a trip."]:
        answers.append(c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": q}]).choices[0].message.content)
    rec_ids = [r["id"] for r in gw.records()]
    r = gw.cli("index", "rebuild")
    assert "indexed 3 outputs from the ledger" in r.stderr
    train = gw.tmp / "train.jsonl"
    train.write_text("\n".join(json.dumps({"text": "Some preface. " + a}) for a in answers[1:]) + "\n"
                     + json.dumps({"text": "unrelated human text about cooking pasta at home"}) + "\n")
    out = gw.tmp / "audit.jsonl"
    r = gw.cli("audit", str(train), "--json", str(out))
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    flagged = lines[:-1]
    assert len(flagged) == 2
    att = flagged[0]["references"][0]["attribution"]
    assert att["source"] == "ledger" and att["record_id"] in rec_ids[1:]
    assert att["team"] == "growth" and att["model"] == "gpt-4o-mini" and att["key_id"].startswith("key_") and att["time"]
    report = gw.tmp / "audit.html"
    gw.cli("audit", str(train), "--report", str(report))
    page = report.read_text()
    assert "ledger record " + att["record_id"] in page or any("ledger record " + i in page for i in rec_ids)
    assert "team growth" in page


def test_outputs_are_indexed_as_they_are_recorded(gw):
    """`proviso serve` follows the ledger: no rebuild needed."""
    import time
    c = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key("live"), max_retries=0)
    answer = c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Explain tides."}]).choices[0].message.content
    train = gw.tmp / "live.jsonl"
    train.write_text(json.dumps({"text": "Copied: " + answer}) + "\n")
    out = gw.tmp / "live-audit.jsonl"
    deadline = time.time() + 10
    while True:
        r = gw.cli("audit", str(train), "--json", str(out), check=False)
        lines = [json.loads(l) for l in out.read_text().splitlines()] if out.exists() else []
        if len(lines) == 2 or time.time() > deadline:
            break
        time.sleep(0.3)
    assert len(lines) == 2, r.stderr
    att = lines[0]["references"][0]["attribution"]
    assert att["team"] == "live" and att["record_id"] == gw.records()[-1]["id"]


def test_an_index_of_the_previous_tokenizer_keeps_working_after_the_upgrade(tmp_path):
    """A directory holding a segment of tokenizer version 1 (the golden
    format-4 file) takes new segments of the same version, so `audit` still
    opens it as one index and finds both old and new references; an empty
    directory gets today's version."""
    import shutil
    cfg = tmp_path / "c.toml"
    index = tmp_path / "data" / "index"
    index.mkdir(parents=True)
    shutil.copy(FIXTURES.parent / "compat" / "segment-v4.pvx", index / "seg-old.pvx")
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    r = run(cfg, "index", "add", str(FIXTURES / "gpt4_outputs.json"))
    assert r.returncode == 0, r.stderr
    stats = json.loads(run(cfg, "index", "stats").stdout)
    assert stats["segments"] == 2 and stats["params"]["tokenizer"] == 1 and stats["keyed"] is False, stats
    gpt4 = json.loads((FIXTURES / "gpt4_outputs.json").read_text())
    golden = ("the committee met on tuesday to review the annual budget and decided that the library would "
              "stay open on sundays through the winter months")
    train = tmp_path / "t.jsonl"
    train.write_text(json.dumps({"text": gpt4[3]["output"]}) + "\n" + json.dumps({"text": golden}) + "\n")
    out = tmp_path / "f.jsonl"
    r = run(cfg, "audit", str(train), "--json", str(out))
    assert r.returncode == 0, r.stderr
    flagged = [json.loads(l) for l in out.read_text().splitlines() if '"summary"' not in l]
    assert [f["line"] for f in flagged] == [1, 2]
    fresh = tmp_path / "fresh.toml"
    fresh.write_text(f'data_dir = "{tmp_path / "fresh"}"\n')
    assert run(fresh, "index", "add", str(FIXTURES / "gpt4_outputs.json")).returncode == 0
    stats = json.loads(run(fresh, "index", "stats").stdout)
    assert stats["params"]["tokenizer"] == 2 and stats["keyed"] is True, stats
    # A second segment takes the first's key: the two are one index, and
    # each finds its own references.
    claude = json.loads((FIXTURES / "claude3_outputs.json").read_text())
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"output": claude[0]["output"]}) + "\n")
    r = run(fresh, "index", "add", str(more))
    assert r.returncode == 0, r.stderr
    assert json.loads(run(fresh, "index", "stats").stdout)["segments"] == 2
    train.write_text(json.dumps({"text": gpt4[3]["output"]}) + "\n" + json.dumps({"text": claude[0]["output"]}) + "\n")
    r = run(fresh, "audit", str(train), "--json", str(out))
    assert r.returncode == 0, r.stderr
    flagged = [json.loads(l) for l in out.read_text().splitlines() if '"summary"' not in l]
    assert [f["line"] for f in flagged] == [1, 2]


def edit_words(text, tag, rate=0.25):
    """A heavy disguise made here, not by Proviso: about a quarter of the
    words replaced, followed by an inserted word, or deleted, at random
    (seeded)."""
    rng = random.Random(tag)
    out = []
    for i, w in enumerate(text.split()):
        if rng.random() >= rate:
            out.append(w)
            continue
        op = rng.randrange(3)
        if op == 0:
            out.append(f"zq{tag}x{i}")
        elif op == 1:
            out += [w, f"ins{tag}y{i}"]
    return " ".join(out)


def test_heavily_edited_copies_are_aligned_and_a_background_discounts(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    assert run(cfg, "index", "add", str(FIXTURES / "gpt4_outputs.json")).returncode == 0
    gpt4 = [o["output"] for o in json.loads((FIXTURES / "gpt4_outputs.json").read_text())]
    long = [(i, t) for i, t in enumerate(gpt4) if len(t.split()) >= 120]
    assert len(long) >= 10
    train = tmp_path / "edited.jsonl"
    train.write_text("".join(json.dumps({"text": edit_words(t, i)}) + "\n" for i, t in long))

    def audit(*flags):
        out = tmp_path / "f.jsonl"
        r = run(cfg, "audit", str(train), "--json", str(out), *flags)
        assert r.returncode == 0, r.stderr
        return [json.loads(l) for l in out.read_text().splitlines()][:-1]

    found = audit()
    # A quarter of the words changed leaves few runs of 20 tokens: the
    # alignment finds the copies, each attributed to its own reference.
    assert len(found) >= 0.8 * len(long), (len(found), len(long))
    aligned = [f for f in found if f["kind"] == "aligned"]
    assert len(aligned) >= 0.5 * len(found)
    for f in found:
        m = f["references"][0]
        assert m["attribution"]["row"] == long[f["line"] - 1][0] + 1
        assert len(m["spans"]) == len(m["reference_spans"])
    for f in aligned:
        m = f["references"][0]
        assert m["kind"] == "aligned" and m["aligned"] > 0 and len(m["spans"]) >= 1
        # A significant chain, or most of the reference kept.
        assert m["significance"] >= 33 or m["kept"] >= 0.55, m
    # Without alignment, only those whose runs are evidence alone (two
    # runs, one of 40 tokens, or a fifth of the reference).
    assert [f["line"] for f in audit("--no-align")] == [f["line"] for f in found if f["kind"] == "exact"]
    no_chain = [f["line"] for f in audit("--align-min", "100000")]
    assert [f["line"] for f in audit("--align-min", "100000", "--kept-min", "off")] == \
        [f["line"] for f in audit("--no-align")]
    # What a copy keeps flags it alone: those flagged without any chain
    # are the aligned ones that keep at least the share asked for.
    kept = {f["line"] for f in aligned if (f["references"][0]["kept"] or 0) >= 0.55}
    assert kept and kept <= set(no_chain), (kept, no_chain)
    for bad in (("--no-align", "--align-min", "5"), ("--no-align", "--kept-min", "0.5")):
        r = run(cfg, "audit", str(train), *bad)
        assert r.returncode == 2 and "cannot be used with" in r.stderr, r.stderr
    r = run(cfg, "audit", str(train), "--kept-min", "1.5")
    assert r.returncode == 2 and "expected a fraction between 0 and 1, or off" in r.stderr, r.stderr
    # The plain code (as on a processor without vector instructions)
    # finds the same.
    out = tmp_path / "plain.jsonl"
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "audit", str(train), "--json", str(out)],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "PROVISO_SIMD": "off"})
    assert r.returncode == 0, r.stderr
    plain = [json.loads(l) for l in out.read_text().splitlines()][:-1]
    assert [(f["line"], f["spans"]) for f in plain] == [(f["line"], f["spans"]) for f in found]
    # Both sides highlighted in the report.
    report = tmp_path / "r.html"
    r = run(cfg, "audit", str(train), "--report", str(report))
    assert r.returncode == 0, r.stderr
    page = report.read_text()
    blocks = page.split("<h3>")[1:]
    for kind, pieces in (("aligned", 2), ("exact", 1)):
        block = next((b for b in blocks if f"— {kind} match" in b), None)
        assert block is not None, f"no {kind} match in the report"
        doc_side, ref_side = block.split("<b>reference output</b>", 1)
        assert doc_side.count("<mark>") >= pieces, kind
        assert ref_side.split("</pre>")[0].count("<mark>") >= pieces, kind
    # Other models' answers to the same instructions: at most one flagged.
    claude = tmp_path / "claude.jsonl"
    claude.write_text("".join(json.dumps({"text": c["output"]}) + "\n"
                              for c in json.loads((FIXTURES / "claude3_outputs.json").read_text())))
    out = tmp_path / "claude.findings"
    r = run(cfg, "audit", str(claude), "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text().splitlines()[-1])["summary"]["flagged"] <= 1
    # What each keeps of a reference it is aligned with is under the bound
    # (seen with every chain reported, however weak).
    r = run(cfg, "audit", str(claude), "--json", str(out), "--align-min", "-1000", "--kept-min", "1")
    assert r.returncode == 0, r.stderr
    shares = [m["kept"] for l in out.read_text().splitlines()[:-1] for m in json.loads(l)["references"]
              if m["kind"] == "aligned" and m["kept"] is not None]
    assert shares and max(shares) < 0.55, sorted(shares)[-5:]
    # A background (here other answers to the same instructions, which
    # share much phrasing with the references): its phrases are counted in
    # `stats`, are no seeds (the chains' significance falls), and the
    # copies are still found with it.
    before = {f["line"]: f["references"][0]["significance"] for f in aligned}
    r = run(cfg, "index", "background", str(claude))
    assert r.returncode == 0, r.stderr
    assert "phrases" in r.stderr
    stats = json.loads(run(cfg, "index", "stats").stdout)
    assert stats["background_phrases"] > 1000
    with_bg = audit()
    assert len(with_bg) >= 0.8 * len(long)
    after = {f["line"]: f["references"][0]["significance"] for f in with_bg if f["kind"] == "aligned"}
    common = before.keys() & after.keys()
    assert common and all(after[k] <= before[k] for k in common) and any(after[k] < before[k] for k in common)


def test_what_an_edited_copy_keeps_is_its_edit_distance(tmp_path):
    """A reference of 100 distinct words (written here) and a copy with
    every fourth word from the 20th on replaced by a new one: 21 edits, so
    it keeps exactly 0.79 of the reference, which flags it although its
    chain of seeds (runs of three words but the first) is far from
    significant; a copy with those words reordered keeps little."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    words = [f"w{i}x{'abcdefgh'[i % 8]}" for i in range(100)]
    refs = tmp_path / "refs.jsonl"
    refs.write_text(json.dumps({"output": " ".join(words)}) + "\n")
    assert run(cfg, "index", "add", str(refs)).returncode == 0
    copy = [f"new{i}" if i >= 16 and i % 4 == 3 else w for i, w in enumerate(words)]
    assert sum(a != b for a, b in zip(copy, words)) == 21
    reordered = words[:16] + words[16:][::-1]
    train = tmp_path / "t.jsonl"
    train.write_text("".join(json.dumps({"text": " ".join(t)}) + "\n" for t in (copy, reordered)))
    out = tmp_path / "f.jsonl"
    r = run(cfg, "audit", str(train), "--json", str(out))
    assert r.returncode == 0, r.stderr
    found = [json.loads(l) for l in out.read_text().splitlines()][:-1]
    assert [f["line"] for f in found] == [1], found
    m = found[0]["references"][0]
    assert m["kind"] == "aligned" and abs(m["kept"] - 0.79) < 1e-9 and m["significance"] < 24, m
    r = run(cfg, "audit", str(train), "--json", str(out), "--kept-min", "off")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text().splitlines()[-1])["summary"]["flagged"] == 0
    r = run(cfg, "audit", str(train), "--json", str(out), "--kept-min", "0.8")
    assert json.loads(out.read_text().splitlines()[-1])["summary"]["flagged"] == 0
