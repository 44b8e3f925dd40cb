"""The usage specification end to end: the key lifecycle (apply, approve
narrowed, deny, suspend with notice, reinstate, revoke) and purpose-bound
policy, all taking effect without a restart and all recorded as
hash-chained ledger events."""

import json
import time

import httpx
import openai
import pytest

from conftest import Fake, Proviso

POLICY = """
[policy]
[[policy.rules]]
name = "product-and-evaluation"
effect = "allow"
purposes = ["product", "evaluation"]
reason = "covered by the services agreement"

[[policy.rules]]
name = "no-research-on-gpt-4o"
effect = "deny"
purposes = ["research"]
models = ["gpt-4o*"]
reason = "research runs on the self-hosted models"
reference = "Internal policy R-2"
"""


@pytest.fixture
def pgw(tmp_path, fake):
    """A gateway whose fake upstream is declared as kind `openai`, so the
    OpenAI terms pack applies to it."""
    g = Proviso(tmp_path, fake.url, extra=POLICY)
    text = g.config.read_text().replace('kind = "openai-compatible"', 'kind = "openai"')
    g.config.write_text(text)
    g.stop()
    g.start()
    yield g
    g.stop()


def client(gw, key, purpose=None):
    headers = {"Proviso-Purpose": purpose} if purpose else None
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, default_headers=headers)


def chat(c):
    return c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ECHO: ok"}])


def refused(c, exc, timeout: float = 10.0):
    """The key's first refusal of type ``exc``, once the gateway's key
    cache has reloaded (every key_refresh_ms); answers before that are
    the old state's."""
    deadline = time.time() + timeout
    while True:
        try:
            chat(c)
        except exc as e:
            return e
        assert time.time() < deadline, f"never refused with {exc.__name__}"
        time.sleep(0.05)


def key_id(gw, secret_json):
    return json.loads(secret_json)["id"]


def test_forbidden_purpose_is_403_naming_the_rule_and_terms(pgw):
    key = pgw.create_key()
    assert chat(client(pgw, key, "product")).choices[0].message.content == "ok"
    with pytest.raises(openai.PermissionDeniedError) as ei:
        chat(client(pgw, key, "model-training"))
    err = ei.value.body
    assert err["code"] == "policy_denied" and err["param"] == "openai-terms-no-competing-models"
    assert "compete with OpenAI" in err["message"]
    with pytest.raises(openai.PermissionDeniedError) as ei:
        chat(client(pgw, key, "research"))
    assert ei.value.body["param"] == "no-research-on-gpt-4o" and "Internal policy R-2" in ei.value.body["message"]
    with pytest.raises(openai.PermissionDeniedError) as ei:
        chat(client(pgw, key, "fun"))
    assert ei.value.body["param"] == "purpose-vocabulary"
    with pytest.raises(openai.PermissionDeniedError) as ei:
        chat(client(pgw, key))  # no purpose declared, the key has no default
    assert ei.value.body["param"] == "default-deny"
    recs = pgw.records()
    assert [r["status"] for r in recs] == [200, 403, 403, 403, 403]
    details = [json.loads(r["detail"]) for r in recs]
    assert details[0]["purpose"] == "product" and details[0]["policy"]["rule"] == "product-and-evaluation"
    assert details[1]["policy"] == {"allowed": False, "rule": "openai-terms-no-competing-models",
                                    "reference": details[1]["policy"]["reference"], "desensitize": None}
    assert pgw.verify().returncode == 0


def test_lifecycle_takes_effect_without_restart_and_is_recorded(pgw):
    app = pgw.cli("keys", "apply", "--team", "research", "--contact", "lead@example.com",
                  "--purpose", "evaluation", "--purpose", "product", "--model", "gpt-4o*",
                  "--justification", "benchmark our assistant", "--json")
    kid = json.loads(app.stdout)["id"]
    listed = {k["id"]: k for k in json.loads(pgw.cli("keys", "list", "--json").stdout)}
    assert listed[kid]["state"] == "pending"
    # widening is refused; narrowing works and yields the secret once
    bad = pgw.cli("keys", "approve", kid, "--purpose", "model-training", check=False)
    assert bad.returncode != 0 and "cannot grant purpose" in bad.stderr
    out = json.loads(pgw.cli("keys", "approve", kid, "--purpose", "evaluation", "--rpm", "600", "--json").stdout)
    key = out["secret"]
    assert out["purposes"] == ["evaluation"]
    c = client(pgw, key)  # the single approved purpose is the default
    assert chat(c).choices[0].message.content == "ok"
    with pytest.raises(openai.PermissionDeniedError) as ei:
        chat(client(pgw, key, "product"))
    assert ei.value.body["param"] == "key-scope"
    with pytest.raises(openai.PermissionDeniedError) as ei:
        c.chat.completions.create(model="text-embedding-3-small", messages=[{"role": "user", "content": "x"}])
    assert "approved for models" in ei.value.body["message"]
    assert [m.id for m in c.models.list()] == ["gpt-4o-mini"], "only the key's models are listed"

    pgw.cli("keys", "suspend", kid, "--reason", "unusual volume at night")
    e = refused(c, openai.PermissionDeniedError)
    assert e.body["code"] == "key_suspended"
    assert "unusual volume at night" in e.body["message"] and "Reference: " in e.body["message"]
    pgw.cli("keys", "reinstate", kid, "--reason", "explained by the team")
    deadline = time.time() + 10
    while True:
        try:
            answer = chat(c)
            break
        except openai.PermissionDeniedError:
            assert time.time() < deadline, "the reinstated key was still refused"
            time.sleep(0.05)
    assert answer.choices[0].message.content == "ok"
    pgw.cli("keys", "revoke", kid, "--reason", "project over")
    e = refused(c, openai.AuthenticationError)
    assert e.body["code"] == "key_revoked"

    denied = json.loads(pgw.cli("keys", "apply", "--team", "x", "--contact", "a@b.c", "--purpose", "product",
                                "--model", "*", "--justification", "j", "--json").stdout)["id"]
    pgw.cli("keys", "deny", denied, "--reason", "no budget this quarter")
    assert pgw.cli("keys", "approve", denied, check=False).returncode != 0

    events = pgw.records(kind="event")
    mine = [(e["endpoint"], json.loads(e["detail"])["reason"]) for e in events if e["key_id"] == kid]
    assert mine == [
        ("key.applied", "benchmark our assistant"),
        ("key.approved", "approved"),
        ("key.suspended", "unusual volume at night"),
        ("key.reinstated", "explained by the team"),
        ("key.revoked", "project over"),
    ]
    assert all(json.loads(e["detail"])["by"] for e in events)
    assert [e["endpoint"] for e in events if e["key_id"] == denied] == ["key.applied", "key.denied"]
    assert pgw.verify().returncode == 0


def test_suspension_with_notice_ends_in_revocation(pgw):
    out = json.loads(pgw.cli("keys", "create", "--team", "growth", "--json").stdout)
    kid, key = out["id"], out["secret"]
    pgw.cli("keys", "suspend", kid, "--reason", "harvesting suspected", "--notice", "5s")
    # Suspended (403) once the gateway's key cache has reloaded (every
    # key_refresh_ms), and until the notice ends (then revoked, 401).
    c, refused, deadline = client(pgw, key, "product"), None, time.time() + 4
    while time.time() < deadline and refused is None:
        try:
            chat(c)
        except openai.PermissionDeniedError as e:
            refused = e
        time.sleep(0.05)
    assert refused is not None, "the suspended key was never refused with 403"
    deadline = time.time() + 20
    while True:
        events = [e for e in pgw.records(kind="event") if e["key_id"] == kid]
        if events[-1]["endpoint"] == "key.revoked" or time.time() > deadline:
            break
        time.sleep(0.2)
    last = events[-1]
    assert last["endpoint"] == "key.revoked"
    assert json.loads(last["detail"])["by"] == "system"
    with pytest.raises(openai.AuthenticationError):
        chat(client(pgw, key, "product"))
    state = {k["id"]: k["state"] for k in json.loads(pgw.cli("keys", "list", "--json").stdout)}
    assert state[kid] == "revoked"
    assert pgw.verify().returncode == 0


def test_expired_key_is_refused(pgw):
    out = json.loads(pgw.cli("keys", "create", "--team", "t", "--expires", "2000-01-01", "--json").stdout)
    with pytest.raises(openai.AuthenticationError) as ei:
        chat(client(pgw, out["secret"], "product"))
    assert ei.value.body["code"] == "key_expired"


def test_policy_check_explains_rule_by_rule(pgw):
    kid = json.loads(pgw.cli("keys", "create", "--team", "ml", "--json").stdout)["id"]
    ok = pgw.cli("policy", "check", "--key", kid, "--purpose", "evaluation", "--model", "gpt-4o-mini")
    line = next(l for l in ok.stdout.splitlines() if "product-and-evaluation" in l and "=>" not in l)
    assert line.split()[:2] == ["MATCH", "product-and-evaluation"], ok.stdout
    assert "decision: allowed" in ok.stdout
    no = pgw.cli("policy", "check", "--key", kid, "--purpose", "data-generation", "--model", "gpt-4o-mini", check=False)
    assert no.returncode == 1
    assert "DENIED by openai-terms-no-competing-models" in no.stdout
    assert "compete with OpenAI" in no.stdout
    j = json.loads(pgw.cli("policy", "check", "--key", kid, "--purpose", "research", "--model", "gpt-4o-mini", "--json", check=False).stdout)
    trace = {t["rule"]: t for t in j["deployments"][0]["decision"]["trace"]}
    assert trace["no-research-on-gpt-4o"]["matched"] is True
    assert trace["product-and-evaluation"]["why"].startswith('purpose "research" is not in')


def test_policy_lint(tmp_path, fake):
    extra = POLICY + """
[[policy.rules]]
name = "allow-research-gpt4o"
effect = "allow"
purposes = ["research"]
models = ["gpt-4o-mini"]
[[policy.rules]]
name = "typo"
effect = "allow"
purposes = ["evalution"]
"""
    gw = Proviso(tmp_path, fake.url, extra=extra)
    try:
        r = gw.cli("policy", "lint", check=False)
        assert r.returncode == 1
        assert "shadowed" in r.stdout and "allow-research-gpt4o" in r.stdout
        assert "unknownpurpose" in r.stdout and "evalution" in r.stdout
        found = json.loads(gw.cli("policy", "lint", "--json", check=False).stdout)
        assert {(f["kind"], f["rule"]) for f in found} == {
            ("shadowed", "allow-research-gpt4o"), ("unknown_purpose", "typo"), ("unreachable", "typo")}
    finally:
        gw.stop()


def test_bad_policy_config_is_a_clear_start_up_error(tmp_path, fake):
    import subprocess
    from conftest import BIN_DIR
    cfg = tmp_path / "p.toml"
    cfg.write_text('[policy]\npacks = ["openai-terms"]\n[[policy.rules]]\nname = "x"\neffect = "alow"\n')
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "serve", "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "line 5" in r.stderr and "alow" in r.stderr
    cfg.write_text('[policy]\npacks = ["nope"]\n')
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "serve", "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "unknown pack" in r.stderr
