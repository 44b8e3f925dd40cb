"""Each error the gateway can answer: status, OpenAI error JSON, and a
ledger record of it."""

import json
import time

import httpx
import openai
import pytest

from conftest import Proviso


def post(gw, path, body, key=None, headers=None):
    h = {"content-type": "application/json", **(headers or {})}
    if key:
        h["authorization"] = f"Bearer {key}"
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(gw.url + path, content=data, headers=h, timeout=30)


def check_error(resp, status, code):
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    assert err["code"] == code, err
    assert err["message"]
    return err


def last_record(gw):
    return gw.records()[-1]


CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_malformed_json_is_400_and_recorded(gw):
    key = gw.create_key()
    check_error(post(gw, "/v1/chat/completions", b'{"model": "gpt-4o-mini", "messages": [', key), 400, "invalid_json")
    rec = last_record(gw)
    assert (rec["status"], rec["outcome"], rec["error_code"]) == (400, "refused", "invalid_json")
    assert rec["request"] == '{"model": "gpt-4o-mini", "messages": ['
    check_error(post(gw, "/v1/chat/completions", b"[1, 2]", key), 400, "invalid_json")
    check_error(post(gw, "/v1/chat/completions", b"\xff\xfe", key), 400, "invalid_json")


@pytest.mark.parametrize("path,body,field", [
    ("/v1/chat/completions", {"messages": []}, "model"),
    ("/v1/chat/completions", {"model": "gpt-4o-mini"}, "messages"),
    ("/v1/completions", {"model": "gpt-4o-mini"}, "prompt"),
    ("/v1/embeddings", {"model": "text-embedding-3-small"}, "input"),
])
def test_missing_field_is_400_naming_it(gw, path, body, field):
    err = check_error(post(gw, path, body, gw.create_key()), 400, "missing_field")
    assert err["param"] == field
    assert last_record(gw)["error_code"] == "missing_field"


def test_wrong_types_are_400(gw):
    key = gw.create_key()
    assert check_error(post(gw, "/v1/chat/completions", {**CHAT, "model": 5}, key), 400, "invalid_field")["param"] == "model"
    assert check_error(post(gw, "/v1/chat/completions", {**CHAT, "stream": "yes"}, key), 400, "invalid_field")["param"] == "stream"
    assert check_error(post(gw, "/v1/chat/completions", {**CHAT, "messages": "hi"}, key), 400, "invalid_field")["param"] == "messages"


def test_missing_bad_and_revoked_keys_are_401_and_recorded(gw):
    check_error(post(gw, "/v1/chat/completions", CHAT), 401, "missing_api_key")
    check_error(post(gw, "/v1/chat/completions", CHAT, "pvk-not-a-real-key"), 401, "invalid_api_key")
    c = openai.OpenAI(base_url=gw.url + "/v1", api_key="pvk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        c.models.list()
    key = gw.create_key("search")
    kid = json.loads(gw.cli("keys", "list", "--json").stdout)[-1]["id"]
    assert post(gw, "/v1/chat/completions", CHAT, key).status_code == 200
    gw.cli("keys", "revoke", kid, "--reason", "leaked in a notebook")
    time.sleep(0.3)  # key_refresh_ms = 100
    err = check_error(post(gw, "/v1/chat/completions", CHAT, key), 401, "key_revoked")
    assert "leaked in a notebook" in err["message"]
    recs = gw.records()
    assert [r["error_code"] for r in recs] == ["missing_api_key", "invalid_api_key", "invalid_api_key", None, "key_revoked"]
    assert recs[-1]["key_id"] == kid and recs[-1]["team"] == "search"
    assert recs[2]["endpoint"] == "/v1/models"
    events = gw.records(kind="event")
    assert [e["endpoint"] for e in events] == ["key.created", "key.revoked"]
    assert json.loads(events[1]["detail"])["reason"] == "leaked in a notebook"
    assert gw.verify().returncode == 0


def test_azure_style_api_key_header_authenticates(gw):
    key = gw.create_key()
    r = post(gw, "/v1/chat/completions", CHAT, headers={"api-key": key})
    assert r.status_code == 200


def test_unknown_model_is_404(gw):
    c = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key(), max_retries=0)
    with pytest.raises(openai.NotFoundError) as ei:
        c.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert ei.value.code == "model_not_found"
    rec = last_record(gw)
    assert (rec["status"], rec["model"], rec["error_code"]) == (404, "gpt-9", "model_not_found")


def test_body_over_limit_is_413(tmp_path, fake):
    gw = Proviso(tmp_path, fake.url, extra="")
    try:
        gw.stop()
        text = gw.config.read_text().replace("[server]\n", "[server]\nmax_body_bytes = 2048\n")
        gw.config.write_text(text)
        gw.start()
        key = gw.create_key()
        big = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 5000}]}
        check_error(post(gw, "/v1/chat/completions", big, key), 413, "request_too_large")
        assert last_record(gw)["error_code"] == "request_too_large"
        assert post(gw, "/v1/chat/completions", CHAT, key).status_code == 200
    finally:
        gw.stop()


def test_upstream_timeout_is_504(gw):
    key = gw.create_key()
    r = post(gw, "/v1/chat/completions", {**CHAT, "fake_fault": "stall_ms:4000"}, key)
    check_error(r, 504, "upstream_timeout")
    rec = last_record(gw)
    assert (rec["status"], rec["outcome"], rec["upstream"]) == (504, "failed", "fake")


def test_upstream_openai_error_is_passed_through_as_502(gw):
    key = gw.create_key()
    r = post(gw, "/v1/chat/completions", {**CHAT, "fake_fault": "status:500"}, key)
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "fake_fault", "the upstream's own OpenAI-format error"
    rec = last_record(gw)
    assert (rec["status"], rec["outcome"], rec["error_code"]) == (502, "failed", "upstream_error")
    assert "fake upstream fault" in rec["error"]


def test_upstream_non_json_error_is_502_in_our_format(gw):
    key = gw.create_key()
    check_error(post(gw, "/v1/chat/completions", {**CHAT, "fake_fault": "status_plain:503"}, key), 502, "upstream_error")
    check_error(post(gw, "/v1/chat/completions", {**CHAT, "fake_fault": "garbage"}, key), 502, "upstream_bad_response")


def test_upstream_client_errors_keep_their_status(gw):
    key = gw.create_key()
    r = post(gw, "/v1/chat/completions", {**CHAT, "fake_fault": "status:400"}, key)
    assert r.status_code == 400 and r.json()["error"]["code"] == "fake_fault"


def test_upstream_unreachable_is_502(tmp_path):
    from conftest import free_port
    gw = Proviso(tmp_path, f"http://127.0.0.1:{free_port()}")
    try:
        check_error(post(gw, "/v1/chat/completions", CHAT, gw.create_key()), 502, "upstream_unreachable")
        assert last_record(gw)["outcome"] == "failed"
    finally:
        gw.stop()


def test_unknown_path_and_method(gw):
    check_error(httpx.get(gw.url + "/v1/nothing"), 404, "not_found")
    check_error(httpx.get(gw.url + "/v1/chat/completions"), 405, "method_not_allowed")


def test_garbage_never_crashes_the_server(gw):
    key = gw.create_key()
    bodies = [b"", b"null", b"{}", b'{"model": null}', b'{"model": ""}', b'{"model": "gpt-4o-mini", "messages": null}',
              b'{"model": "gpt-4o-mini", "messages": [], "stream": null}', "{\"model\": \"\u00e9\u0000\"}".encode(),
              b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": {"deep": [[[[]]]]}}]}',
              b"{" * 10000]
    for b in bodies:
        r = post(gw, "/v1/chat/completions", b, key)
        assert 200 <= r.status_code < 600
        assert "error" in r.json() or r.status_code == 200
    assert httpx.get(gw.url + "/healthz").status_code == 200
    assert gw.verify().returncode == 0


def test_an_upstreams_redirect_is_not_followed(tmp_path):
    # The prompt must reach only the upstream the ledger names: a 307 (which
    # an HTTP client would follow with the body) is the upstream's answer.
    import http.server
    import threading

    hits = {"target": 0}

    class Target(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hits["target"] += 1
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Target)
    where = f"http://127.0.0.1:{target.server_address[1]}/v1/chat/completions"

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(307)
            self.send_header("location", where)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    redirect = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    for srv in (target, redirect):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    g = Proviso(tmp_path, f"http://127.0.0.1:{redirect.server_address[1]}")
    try:
        key = g.create_key()
        r = httpx.post(g.url + "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
                       headers={"authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 502, r.text
        assert r.json()["error"]["code"] == "upstream_error"
        assert "HTTP 307" in r.json()["error"]["message"]
        assert hits["target"] == 0, "the prompt followed the redirect"
        recs = g.records()
        assert len(recs) == 1 and recs[0]["upstream"] == "fake" and recs[0]["status"] == 502
    finally:
        g.stop()
        for srv in (target, redirect):
            srv.shutdown()
