"""The admin API does what `proviso keys` and `proviso policy` do, with the
same ledger events, behind an admin token that is never a client key."""

import json
import subprocess
import time

import httpx
import openai
import pytest

from conftest import BIN_DIR, Proviso

TOKEN = "adm-0123456789abcdef0123"


@pytest.fixture
def agw(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, extra=f'[admin]\ntoken = "{TOKEN}"\n')
    yield g
    g.stop()


def admin(gw, method, path, body=None, token=TOKEN, actor="alice"):
    h = {"authorization": f"Bearer {token}", "proviso-actor": actor}
    return httpx.request(method, gw.url + "/admin" + path, json=body, headers=h, timeout=30)


def test_lifecycle_over_the_admin_api(agw):
    r = admin(agw, "POST", "/applications", {"team": "search", "contact": "a@example.com", "purposes": ["product", "evaluation"],
                                             "models": ["gpt-4o-mini"], "justification": "ranking experiments"})
    assert r.status_code == 201, r.text
    kid = r.json()["id"]
    assert [k["id"] for k in admin(agw, "GET", "/applications").json()] == [kid]
    r = admin(agw, "POST", f"/keys/{kid}/approve", {"purposes": ["model-training"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_field"
    r = admin(agw, "POST", f"/keys/{kid}/approve", {"purposes": ["product"], "quotas": {"requests_per_minute": 50}})
    assert r.status_code == 200
    secret = r.json()["secret"]
    assert r.json()["quotas"] == {"requests_per_minute": 50}
    assert "secret" not in admin(agw, "GET", f"/keys/{kid}").text, "the secret is shown once"
    c = openai.OpenAI(base_url=agw.url + "/v1", api_key=secret, max_retries=0)
    assert c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ECHO: hi"}]).choices[0].message.content == "hi"
    assert admin(agw, "POST", f"/keys/{kid}/suspend", {}).json()["error"]["code"] == "missing_field"
    r = admin(agw, "POST", f"/keys/{kid}/suspend", {"reason": "pattern looks like harvesting", "notice_seconds": 3600})
    assert r.json()["state"] == "suspended" and r.json()["revoke_at"] is not None
    with pytest.raises(openai.PermissionDeniedError) as ei:
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert "harvesting" in ei.value.body["message"]
    assert admin(agw, "POST", f"/keys/{kid}/reinstate", {"reason": "false alarm"}).json()["state"] == "active"
    c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    r = admin(agw, "POST", f"/keys/{kid}/approve", {})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    assert admin(agw, "POST", f"/keys/{kid}/revoke", {"reason": "done"}).json()["state"] == "revoked"
    with pytest.raises(openai.AuthenticationError):
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert admin(agw, "POST", "/keys/key_missing/revoke", {}).status_code == 404
    events = [e for e in agw.records(kind="event") if e["key_id"] == kid]
    assert [(e["endpoint"], json.loads(e["detail"])["by"]) for e in events] == [
        ("key.applied", "alice"), ("key.approved", "alice"), ("key.suspended", "alice"),
        ("key.reinstated", "alice"), ("key.revoked", "alice")]
    usage = {u["key_id"]: u for u in admin(agw, "GET", "/usage").json()}
    assert usage[kid]["requests"] == 4 and usage[kid]["tokens"] > 0
    assert agw.verify().returncode == 0


def test_create_policy_check_and_lint_over_the_api(agw):
    r = admin(agw, "POST", "/keys", {"team": "ml", "purposes": ["evaluation"]})
    kid, secret = r.json()["id"], r.json()["secret"]
    assert secret.startswith("pvk-")
    listed = admin(agw, "GET", "/keys").json()
    assert [k["id"] for k in listed] == [kid] and "secret" not in json.dumps(listed)
    r = admin(agw, "POST", "/policy/check", {"key": kid, "model": "gpt-4o-mini"})
    assert r.json()["allowed"] is True and r.json()["purpose"] == "evaluation"
    r = admin(agw, "POST", "/policy/check", {"key": kid, "model": "gpt-4o-mini", "purpose": "research"})
    assert r.json()["allowed"] is False and "approved for purposes" in r.json()["key_scope_error"]
    assert admin(agw, "POST", "/policy/check", {"key": kid, "model": "nope"}).status_code == 404
    pol = admin(agw, "GET", "/policy").json()
    assert pol["rules"][0]["name"] == "openai-terms-no-competing-models"
    assert admin(agw, "GET", "/policy/lint").json() == []
    assert admin(agw, "POST", "/keys", {"team": "ml", "bogus": 1}).json()["error"]["code"] == "invalid_json"


def test_admin_token_is_required_and_never_a_client_key(agw, tmp_path):
    assert admin(agw, "GET", "/keys", token="wrong").status_code == 401
    assert admin(agw, "GET", "/keys", token=None).status_code == 401
    secret = agw.create_key()
    assert admin(agw, "GET", "/keys", token=secret).json()["error"]["code"] == "invalid_admin_token"
    # A client key as the admin token is refused at start-up.
    agw.stop()
    agw.config.write_text(agw.config.read_text().replace(TOKEN, secret))
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(agw.config), "serve", "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "is a client key" in r.stderr


def test_admin_api_is_off_without_a_token(gw):
    r = httpx.get(gw.url + "/admin/keys", headers={"authorization": "Bearer anything-at-all-here"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "admin_disabled"
