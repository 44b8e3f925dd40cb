"""Tampering with the SQLite ledger directly: `proviso ledger verify` names
the first bad record each time. Plus export, routing to Azure-style and
failover deployments, metrics, and configuration errors."""

import json
import shutil
import sqlite3
import subprocess

import httpx
import openai
import pytest

from conftest import BIN_DIR, Fake, Proviso, free_port

@pytest.fixture
def filled(gw):
    """A ledger with 40 exchanges (plus one key event), gateway stopped."""
    c = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key(), max_retries=0)
    for i in range(40):
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"ECHO: answer {i}"}])
    gw.stop()
    assert gw.verify().returncode == 0
    return gw


def tamper(gw, *sql):
    db = sqlite3.connect(gw.data / "ledger.db")
    for s in sql:
        db.execute(s)
    db.commit()
    db.close()
    r = gw.cli("ledger", "verify", "--json", check=False)
    assert r.returncode == 1, r.stdout
    return json.loads(r.stdout)


def first(report):
    f = report["findings"][0]
    return f["kind"], f["seq"]


def test_changed_field(filled):
    rep = tamper(filled, "UPDATE records SET output = 'answer 99' WHERE seq = 12")
    assert first(rep) == ("changed_record", 12)
    assert rep["findings"][0]["record_id"]


def test_changed_number_field(filled):
    rep = tamper(filled, "UPDATE records SET prompt_tokens = prompt_tokens + 1 WHERE seq = 30")
    assert first(rep) == ("changed_record", 30)


def test_deleted_record(filled):
    rep = tamper(filled, "DELETE FROM records WHERE seq = 20")
    assert first(rep) == ("missing_records", 21)


def test_deleted_record_with_renumbering(filled):
    rep = tamper(filled, "DELETE FROM records WHERE seq = 20", "UPDATE records SET seq = seq - 1 WHERE seq > 20")
    assert first(rep) == ("deleted_before", 20)


def test_inserted_record(filled):
    rep = tamper(
        filled,
        "UPDATE records SET seq = -seq WHERE seq >= 25",
        "UPDATE records SET seq = -seq + 1 WHERE seq < 0",
        "INSERT INTO records SELECT 25, id, time_ms, kind, key_id, team, endpoint, model, upstream, upstream_model, "
        "status, outcome, stream, request, 'forged answer', response, finish_reason, prompt_tokens, completion_tokens, "
        "total_tokens, latency_ms, ttfb_ms, error_code, error, detail, prev_hash, hash FROM records WHERE seq = 5",
    )
    kinds = [(f["kind"], f["seq"]) for f in rep["findings"]]
    assert kinds[0] == ("changed_record", 25)
    assert ("inserted_before", 26) in kinds


def test_swapped_records(filled):
    db = sqlite3.connect(filled.data / "ledger.db")
    cols = [r[1] for r in db.execute("PRAGMA table_info(records)") if r[1] != "seq"]
    db.close()
    shutil.copy(filled.data / "ledger.db", filled.tmp / "copy.db")
    db = sqlite3.connect(filled.data / "ledger.db")
    db.execute("ATTACH ? AS orig", (str(filled.tmp / "copy.db"),))
    sets = ", ".join(f"{c} = (SELECT {c} FROM orig.records o WHERE o.seq = CASE records.seq WHEN 14 THEN 15 ELSE 14 END)" for c in cols)
    db.execute(f"UPDATE records SET {sets} WHERE seq IN (14, 15)")
    db.commit()
    db.close()
    r = filled.cli("ledger", "verify", "--json", check=False)
    assert r.returncode == 1
    assert first(json.loads(r.stdout)) == ("reordered", 14)


def test_changed_checkpoint(filled):
    rep = tamper(filled, "UPDATE checkpoints SET root = zeroblob(32) WHERE tree_size = 32")
    assert first(rep) == ("changed_checkpoint", 32)


def test_rewritten_history_is_caught_by_checkpoints(filled):
    """An edit that also overwrites the record's stored hash breaks the next
    record's link and every Merkle checkpoint after it."""
    rep = tamper(filled, "UPDATE records SET hash = zeroblob(32), output = 'x' WHERE seq = 3")
    kinds = {f["kind"] for f in rep["findings"]}
    assert {"changed_record", "deleted_before", "changed_checkpoint"} <= kinds


def test_truncated_end(filled):
    rep = tamper(filled, "DELETE FROM records WHERE seq = (SELECT MAX(seq) FROM records)")
    assert first(rep)[0] == "changed_end"


def test_verify_text_output_names_first_bad_record(filled):
    db = sqlite3.connect(filled.data / "ledger.db")
    db.execute("UPDATE records SET team = 'other' WHERE seq = 7")
    db.commit()
    db.close()
    r = filled.cli("ledger", "verify", check=False)
    assert r.returncode == 1
    assert "ChangedRecord" in r.stdout and " 7 " in r.stdout and "DAMAGED" in r.stdout


def test_export_since(filled):
    out = filled.cli("ledger", "export", "--since", "2000-01-01").stdout.splitlines()
    assert len(out) == 41
    assert filled.cli("ledger", "export", "--since", "2999-01-01").stdout == ""
    bad = filled.cli("ledger", "export", "--since", "yesterday", check=False)
    assert bad.returncode == 2 and "--since" in bad.stderr
    rec = json.loads(out[1])
    assert {"seq", "hash", "prev_hash", "output", "request", "usage"} <= set(rec)


def test_verify_without_ledger_is_a_clear_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "nothing"}"\n')
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "ledger", "verify"], capture_output=True, text=True)
    assert r.returncode != 0 and "no ledger at" in r.stderr


def test_azure_upstream_gets_deployment_url_and_api_key(tmp_path, fake):
    extra = (
        '[[upstreams]]\nname = "azure"\nkind = "azure"\n'
        f'base_url = "{fake.url}"\napi_key = "az-secret"\napi_version = "2024-10-21"\n'
        '[[models]]\nname = "gpt-4o"\n[[models.deployments]]\nupstream = "azure"\nmodel = "gpt4o-eu"\n'
    )
    gw = Proviso(tmp_path, fake.url, extra=extra)
    try:
        c = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key(), max_retries=0)
        r = c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ECHO: hello azure"}])
        assert r.choices[0].message.content == "hello azure"
        seen = httpx.get(fake.url + "/_fake/requests").json()[-1]
        assert seen["path"] == "/openai/deployments/gpt4o-eu/chat/completions"
        assert seen["query"] == "api-version=2024-10-21"
        assert seen["api_key"] == "az-secret" and seen["authorization"] is None
        assert seen["body"]["model"] == "gpt4o-eu"
        [rec] = gw.records()
        assert (rec["model"], rec["upstream"], rec["upstream_model"]) == ("gpt-4o", "azure", "gpt4o-eu")
        assert "az-secret" not in json.dumps(rec), "the upstream key is never in the ledger"
        assert "az-secret" not in (tmp_path / "proviso.log").read_text()
    finally:
        gw.stop()


def test_openai_upstream_key_from_environment_and_failover(tmp_path, monkeypatch):
    good = Fake(tmp_path, "--require-key", "sk-upstream")
    dead = free_port()
    monkeypatch.setenv("PROVISO_TEST_UPSTREAM_KEY", "sk-upstream")
    extra = (
        f'[[upstreams]]\nname = "primary"\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:{dead}/v1"\n'
        f'[[upstreams]]\nname = "secondary"\nkind = "openai"\nbase_url = "{good.url}/v1"\napi_key = "${{PROVISO_TEST_UPSTREAM_KEY}}"\n'
        '[[models]]\nname = "gpt-4o"\n'
        '[[models.deployments]]\nupstream = "primary"\n'
        '[[models.deployments]]\nupstream = "secondary"\nmodel = "gpt-4o-2024-08-06"\n'
    )
    gw = Proviso(tmp_path, good.url, extra=extra)
    try:
        c = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key(), max_retries=0)
        r = c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ECHO: failover works"}])
        assert r.choices[0].message.content == "failover works"
        seen = httpx.get(good.url + "/_fake/requests").json()[-1]
        assert seen["authorization"] == "Bearer sk-upstream"
        [rec] = gw.records()
        assert rec["upstream"] == "secondary" and rec["upstream_model"] == "gpt-4o-2024-08-06"
        m = httpx.get(gw.url + "/metrics").text
        assert 'proviso_upstream_errors_total{upstream="primary",kind="unreachable"} 1' in m
    finally:
        gw.stop()
        good.stop()


def test_upstream_rejecting_our_key_is_502_without_leaking(tmp_path):
    strict = Fake(tmp_path, "--require-key", "sk-right")
    gw = Proviso(tmp_path, strict.url)
    try:
        r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": []},
                       headers={"authorization": f"Bearer {gw.create_key()}"})
        assert r.status_code == 502 and r.json()["error"]["code"] == "upstream_auth_failed"
    finally:
        gw.stop()
        strict.stop()


def test_metrics_and_readiness(gw):
    key = gw.create_key("vision")
    httpx.post(gw.url + "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]},
               headers={"authorization": f"Bearer {key}"})
    httpx.post(gw.url + "/v1/chat/completions", json={"model": "zzz", "messages": []}, headers={"authorization": f"Bearer {key}"})
    assert httpx.get(gw.url + "/readyz").json() == {"status": "ready"}
    m = httpx.get(gw.url + "/metrics").text
    assert 'proviso_requests_total{endpoint="chat",model="gpt-4o-mini",team="vision",status="200"} 1' in m
    assert 'proviso_requests_total{endpoint="chat",model="other",team="vision",status="404"} 1' in m
    assert "proviso_request_duration_seconds_bucket" in m
    assert "proviso_added_latency_seconds_bucket" in m
    assert "proviso_ledger_queue_depth 0" in m
    assert "proviso_ledger_commit_seconds_count" in m
    assert "proviso_ledger_healthy 1" in m


# The first line of each file is `data_dir = …`, so line numbers count it.
@pytest.mark.parametrize("text,needles", [
    ('[server]\nlisten = "127.0.0.1:1"\nbogus = 1\n', ["bad.toml", "line 4", "bogus"]),
    ('[[upstreams]]\nname = "x"\nkind = "openia"\n', ["bad.toml", "line 4", "openia"]),
    ('[[upstreams]]\nname = "x"\nkind = "openai"\napi_key = "${PROVISO_SURELY_UNSET_VAR}"\n',
     ["bad.toml", "line 5", "PROVISO_SURELY_UNSET_VAR is not set"]),
    ('[[models]]\nname = "m"\n[[models.deployments]]\nupstream = "ghost"\n', ["upstream 'ghost', which is not defined"]),
    ('[[upstreams]]\nname = "a"\nkind = "azure"\nbase_url = "https://x"\n', ["needs api_version"]),
    ('[server\n', ["bad.toml", "line 2"]),
])
def test_config_errors_are_clear(tmp_path, text, needles):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n' + text)
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "serve", "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr
