"""The fault and abuse suite: the real binaries attacked as a hostile client
would, and loaded as steady traffic does. Each test fails on the code before
the hardening it guards (docs/security.md lists what it defends)."""

import concurrent.futures as cf
import json
import os
import subprocess
import threading
import time

import httpx
import openai
import pytest

from conftest import BIN_DIR, Proviso, free_port

TOKEN = "admin-token-0123456789abcdef"
EMAIL = "ann.lee@example.com"


def seen(fake):
    return httpx.get(fake.url + "/_fake/requests").json()


# --- the simulated clock -------------------------------------------------------

def _serve_once(tmp_path, listen, *args):
    cfg = tmp_path / "sim.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/d"\n[server]\nlisten = "{listen}"\nclock = "simulated"\n')
    return subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "serve", *args],
                          capture_output=True, text=True, timeout=30)


def test_a_simulated_clock_needs_the_test_flag(tmp_path):
    r = _serve_once(tmp_path, "127.0.0.1:0")
    assert r.returncode == 2 and "--allow-simulated-clock" in r.stderr, r.stderr


def test_a_simulated_clock_is_refused_off_loopback(tmp_path):
    r = _serve_once(tmp_path, "0.0.0.0:0", "--allow-simulated-clock")
    assert r.returncode == 2 and "loopback" in r.stderr, r.stderr


def test_only_a_key_holder_moves_the_simulated_clock(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, server_extra='clock = "simulated"\n',
                serve_args=("--allow-simulated-clock",), extra=f'[admin]\ntoken = "{TOKEN}"\n')
    try:
        admin = {"authorization": f"Bearer {TOKEN}"}
        t0 = httpx.get(g.url + "/admin/clock", headers=admin).json()["now_ms"]
        future = t0 + 400 * 86_400_000
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        for headers in ({}, {"authorization": "Bearer sk-not-a-key"}):
            r = httpx.post(g.url + "/v1/chat/completions", json=body,
                           headers={**headers, "proviso-sim-time": str(future)})
            assert r.status_code == 401
        revoked = g.create_key()
        key_id = [k for k in json.loads(g.cli("keys", "list", "--json").stdout)][-1]["id"]
        g.cli("keys", "revoke", key_id, "--reason", "test")
        time.sleep(0.3)  # key_refresh_ms = 100
        r = httpx.post(g.url + "/v1/chat/completions", json=body,
                       headers={"authorization": f"Bearer {revoked}", "proviso-sim-time": str(future)})
        assert r.status_code == 401
        t1 = httpx.get(g.url + "/admin/clock", headers=admin).json()["now_ms"]
        assert t1 < t0 + 86_400_000, "an anonymous caller or a revoked key moved the clock"
        key = g.create_key()
        r = httpx.post(g.url + "/v1/chat/completions", json=body,
                       headers={"authorization": f"Bearer {key}", "proviso-sim-time": str(future)})
        assert r.status_code == 200
        assert httpx.get(g.url + "/admin/clock", headers=admin).json()["now_ms"] >= future
    finally:
        g.stop()


# --- masking where it must hold -------------------------------------------------

def test_failover_into_a_masking_deployment_sends_placeholders(tmp_path, fake):
    dead = free_port()  # nothing listens: connection refused, before the first byte
    extra = f"""
[[upstreams]]
name = "dead"
kind = "openai-compatible"
base_url = "http://127.0.0.1:{dead}/v1"
connect_timeout_ms = 500
[[models]]
name = "gpt-4o-mini"
deployments = [{{ upstream = "dead" }}, {{ upstream = "fake" }}]
[policy]
[[policy.rules]]
name = "dead-is-in-house"
effect = "allow"
upstreams = ["dead"]
reason = "self-hosted"
[[policy.rules]]
name = "fake-is-third-party"
effect = "desensitize"
upstreams = ["fake"]
reason = "third party: mask"
"""
    g = Proviso(tmp_path, fake.url, extra=extra)
    try:
        c = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key(), max_retries=0)
        r = c.chat.completions.create(model="gpt-4o-mini",
                                      messages=[{"role": "user", "content": f"ECHO: write to {EMAIL}"}])
        assert r.choices[0].message.content == f"write to {EMAIL}", "restored for the client"
        sent = seen(fake)[-1]["body"]["messages"][0]["content"]
        assert EMAIL not in sent and "<EMAIL_1>" in sent, sent
        [rec] = g.records()
        assert EMAIL not in json.dumps(rec)
        attempts = json.loads(rec["detail"])["attempts"]
        assert [a["upstream"] for a in attempts] == ["dead", "fake"], attempts
        assert attempts[0]["ended"] == "unreachable" and attempts[1]["ended"] == "HTTP 200"
    finally:
        g.stop()


MASK_ALL = """
[policy]
[[policy.rules]]
name = "mask"
effect = "desensitize"
reason = "customer text"
"""


def test_every_forwarded_string_is_masked(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, extra=MASK_ALL)
    try:
        key = g.create_key()
        body = {
            "model": "gpt-4o-mini",
            "user": f"user {EMAIL}",
            "metadata": {"owner": EMAIL, f"note {EMAIL}": "x"},
            "prediction": {"type": "content", "content": f"Dear {EMAIL}"},
            "tools": [{"type": "function", "function": {
                "name": "send", "description": f"sends mail as {EMAIL}",
                "parameters": {"type": "object", "properties": {"to": {"type": "string"},
                                                                EMAIL: {"type": "string"}}}}}],
            "logit_bias": {"4111111111111111": 1},
            "seed": 4111111111111111,
            "messages": [
                {"role": "user", "name": "ann", "content": [{"type": "text", "text": f"hi {EMAIL}"}]},
                {"role": "assistant", "content": None, "tool_calls": [{
                    "id": "call_1", "type": "function",
                    "function": {"name": "send", "arguments": json.dumps({"to": EMAIL})}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": f"sent to {EMAIL}"},
                {"role": "user", "content": "thanks"},
            ],
        }
        r = httpx.post(g.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        sent = json.dumps(seen(fake)[-1]["body"])
        assert EMAIL not in sent, sent
        assert sent.count("<EMAIL_1>") >= 8, sent
        assert "4111111111111111" not in sent, "card numbers as keys and as JSON numbers"

        comp = {"model": "gpt-4o-mini", "prompt": "hello", "suffix": f"from {EMAIL}"}
        r = httpx.post(g.url + "/v1/completions", json=comp, headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        assert EMAIL not in json.dumps(seen(fake)[-1]["body"])
        assert EMAIL not in json.dumps(g.records())
    finally:
        g.stop()


# Only the team matched by a glob masks, and only phones: a refusal is still
# recorded with every entity type masked.
MASK_SUPPORT_PHONES = """
[policy]
[[policy.rules]]
name = "mask-support"
effect = "desensitize"
teams = ["support-*"]
entities = ["phone"]
reason = "customer text"
[[policy.rules]]
name = "allow"
effect = "allow"
"""


@pytest.mark.parametrize("case", ["unknown_model", "bad_json", "missing_field", "escaped"])
def test_refusals_of_a_masking_key_are_recorded_masked(tmp_path, fake, case):
    g = Proviso(tmp_path, fake.url, extra=MASK_SUPPORT_PHONES)
    try:
        key = g.create_key("support-emea")
        text = {
            "unknown_model": json.dumps({"model": "no-such-model", "messages": [{"role": "user", "content": EMAIL}]}),
            "bad_json": '{"model": "gpt-4o-mini", "messages": [' + json.dumps(EMAIL),
            "missing_field": json.dumps({"model": "gpt-4o-mini", "prompt_text": EMAIL}),
            # JSON escapes hide the address from a scan of the raw text.
            "escaped": '{"model": "no-such-model", "messages": [{"role": "user", "content": "ann.lee\\u0040example.com"}]}',
        }[case]
        r = httpx.post(g.url + "/v1/chat/completions", content=text,
                       headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
        assert r.status_code in (400, 404), r.text
        [rec] = g.records()
        assert rec["outcome"] == "refused"
        assert "ann.lee" not in json.dumps(rec), rec["request"]
        if case == "bad_json":
            assert rec["request"].startswith("(body withheld:") and "sha256" in rec["request"]
        else:
            assert "<EMAIL_1>" in rec["request"], rec["request"]
        if case == "unknown_model":
            assert rec["model"] == "no-such-model"
    finally:
        g.stop()


def test_refusals_of_a_key_no_rule_masks_are_recorded_as_received(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, extra=MASK_SUPPORT_PHONES)
    try:
        key = g.create_key("research")
        body = {"model": "no-such-model", "messages": [{"role": "user", "content": EMAIL}]}
        r = httpx.post(g.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 404
        [rec] = g.records()
        assert EMAIL in rec["request"], "evidence kept as received where no rule masks"
    finally:
        g.stop()


# --- the Azure path cannot be steered -------------------------------------------

def test_a_model_name_cannot_steer_the_azure_url(tmp_path, fake):
    extra = f"""
[[upstreams]]
name = "az"
kind = "azure"
base_url = "{fake.url}"
api_key = "az-key"
api_version = "2024-10-21"
models = ["*"]
"""
    g = Proviso(tmp_path, fake.url, extra=extra)
    try:
        key = g.create_key()
        before = len(seen(fake))
        for model in ["x/../other-deployment", "gpt?api-version=1", "gpt#frag", "a%2F..%2Fb"]:
            r = httpx.post(g.url + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                           json={"model": model, "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found", (model, r.text)
        assert len(seen(fake)) == before, "nothing reached the upstream"
        r = httpx.post(g.url + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                       json={"model": "my-deployment.v2", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, r.text
        assert seen(fake)[-1]["path"] == "/openai/deployments/my-deployment.v2/chat/completions"
    finally:
        g.stop()


# --- hostile text in the masking stage -----------------------------------------

def test_unicode_digits_do_not_crash_the_masking_stage(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, extra=MASK_ALL)
    try:
        c = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key(), max_retries=0)
        for text in ["SSN ５３６-２２-１２３４", "ssn ٥٣٦-٢٢-١٢٣٤", "卡号４１１１ １１１１ １１１１ １１１１"]:
            r = c.chat.completions.create(model="gpt-4o-mini",
                                          messages=[{"role": "user", "content": "ECHO: " + text}])
            assert r.choices[0].message.content == text
            sent = seen(fake)[-1]["body"]["messages"][0]["content"]
            assert "<" in sent and "２２" not in sent and "٢٢" not in sent and "１１１１" not in sent, sent
        assert len(g.records()) == 3 and g.verify().returncode == 0
    finally:
        g.stop()


def test_a_large_body_is_masked_while_health_still_answers(tmp_path, fake):
    # One async worker: if parsing, counting or masking ran on it, /healthz
    # could not answer until the large request was done.
    # Patient upstream timeouts: the fake reads a 5.4 MB body before it
    # answers, which a 2 s first-byte timeout did not always allow on a
    # loaded CI.
    g = Proviso(tmp_path, fake.url, extra=MASK_ALL, timeouts=Proviso.PATIENT,
                server_extra="max_body_bytes = 8388608\nworker_threads = 1\n")
    try:
        key = g.create_key()
        text = "a1@ex.co " * 600_000  # 5.4 MB of back-to-back addresses
        done = {}

        def big():
            r = httpx.post(g.url + "/v1/chat/completions", timeout=120,
                           headers={"authorization": f"Bearer {key}"},
                           json={"model": "gpt-4o-mini", "max_tokens": 5,
                                 "messages": [{"role": "user", "content": text}]})
            done["status"] = r.status_code
            done["at"] = time.time()

        started = time.time()
        t = threading.Thread(target=big)
        t.start()
        waits = []
        while t.is_alive():
            t0 = time.time()
            r = httpx.get(g.url + "/healthz", timeout=60)
            if t.is_alive():
                waits.append(time.time() - t0)
            assert r.status_code == 200
            time.sleep(0.01)
        t.join()
        assert done.get("status") == 200
        took = done["at"] - started
        # Masking the body takes most of the request's time; had it run on
        # the one async worker, a health check sent meanwhile would wait for
        # all of it.
        assert len(waits) >= 3 and max(waits) < took / 3, (max(waits), took, len(waits))
        sent = seen(fake)[-1]["body"]["messages"][0]["content"]
        assert "a1@ex.co" not in sent
    finally:
        g.stop()


# --- the write-ahead log under steady load --------------------------------------

def test_the_wal_stays_bounded_under_steady_load(tmp_path, fake):
    bound = 1024 * 1024
    g = Proviso(tmp_path, fake.url,
                ledger_extra=f"wal_checkpoint_interval_ms = 100\nwal_max_bytes = {bound}\n")
    wal = g.data / "ledger.db-wal"
    db = g.data / "ledger.db"
    try:
        key = g.create_key()
        # Ends when the database reaches ten bounds; the time limit is only
        # for a gateway that stopped writing.
        stop = time.time() + 60
        filler = "lorem ipsum dolor sit amet " * 600  # ~16 KB per record
        max_wal = [0]
        clients_done = threading.Event()

        def client():
            with httpx.Client(headers={"authorization": f"Bearer {key}"}) as h:
                while time.time() < stop and db.stat().st_size < 10 * bound:
                    h.post(g.url + "/v1/chat/completions",
                           json={"model": "gpt-4o-mini", "max_tokens": 5,
                                 "messages": [{"role": "user", "content": filler}]})

        def sampler():
            while not clients_done.is_set():
                if wal.exists():
                    max_wal[0] = max(max_wal[0], wal.stat().st_size)
                time.sleep(0.02)

        with cf.ThreadPoolExecutor(5) as ex:
            s = ex.submit(sampler)
            for f in [ex.submit(client) for _ in range(4)]:
                f.result()
            clients_done.set()
            s.result()
        assert db.stat().st_size >= 10 * bound, f"the database grew only to {db.stat().st_size}"
        assert max_wal[0] < 4 * bound, f"WAL reached {max_wal[0]} bytes with a bound of {bound}"
        metrics = httpx.get(g.url + "/metrics").text
        line = [l for l in metrics.splitlines() if l.startswith("proviso_ledger_wal_bytes ")]
        assert line and int(float(line[0].split()[1])) < 4 * bound, line
        assert g.verify().returncode == 0
    finally:
        g.stop()


# --- the client address ---------------------------------------------------------

def test_the_client_address_is_the_rightmost_untrusted_hop(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, server_extra="trust_forwarded_for = true\n")
    try:
        key = g.create_key()
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        # The client wrote the first two hops; the (trusted, loopback) proxy
        # appended what it saw, and a second trusted proxy appended itself.
        for xff, want in [("6.6.6.6, 203.0.113.9", "203.0.113.9"),
                          ("6.6.6.6, 203.0.113.9, 127.0.0.1", "203.0.113.9"),
                          ("not-an-ip, 198.51.100.4", "198.51.100.4"),
                          ("198.51.100.4, not-an-ip", "127.0.0.1"),
                          ("6.6.6.6, 192.0.2.7:51234", "192.0.2.7"),
                          ("[2001:db8::5]:443", "2001:db8::5")]:
            r = httpx.post(g.url + "/v1/chat/completions", json=body,
                           headers={"authorization": f"Bearer {key}", "x-forwarded-for": xff})
            assert r.status_code == 200
            assert json.loads(g.records()[-1]["detail"])["client"] == want, xff
    finally:
        g.stop()


# --- slow clients, connection and request limits --------------------------------

def _raw(port):
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def test_a_client_that_never_finishes_its_headers_is_closed(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, server_extra="header_read_timeout_ms = 500\n")
    try:
        s = _raw(g.port)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        t0 = time.time()
        data = s.recv(1024)  # blocks until the server closes (or answers)
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data
        assert time.time() - t0 < 8
        s.close()
    finally:
        g.stop()


def test_a_body_that_never_arrives_gets_408_and_is_recorded(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, server_extra="body_read_timeout_ms = 500\n")
    try:
        key = g.create_key()
        s = _raw(g.port)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + f"Authorization: Bearer {key}\r\nContent-Length: 100\r\n\r\n".encode() + b'{"model":')
        data = s.recv(4096)
        s.close()
        assert data.startswith(b"HTTP/1.1 408"), data
        assert b"request_timeout" in data
        [rec] = g.records()
        assert rec["error_code"] == "request_timeout" and rec["outcome"] == "refused"
    finally:
        g.stop()


def test_requests_over_the_concurrency_limit_get_503_and_health_still_answers(tmp_path, fake):
    # Patient upstream timeouts: the stalled requests must not time out (a
    # 2 s first-byte timeout left 0.5 s of slack, too little on a loaded CI).
    g = Proviso(tmp_path, fake.url, server_extra="max_concurrent_requests = 2\n", timeouts=Proviso.PATIENT)
    try:
        key = g.create_key()
        h = {"authorization": f"Bearer {key}"}
        slow = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "fake_fault": "stall_ms:1500"}
        stalled = lambda: sum(1 for s in httpx.get(fake.url + "/_fake/requests").json()  # noqa: E731
                              if isinstance(s.get("body"), dict) and s["body"].get("fake_fault") == "stall_ms:1500")
        before = stalled()
        with cf.ThreadPoolExecutor(2) as ex:
            futs = [ex.submit(httpx.post, g.url + "/v1/chat/completions", json=slow, headers=h, timeout=10)
                    for _ in range(2)]
            # Both slots are held once the fake has both stalled requests
            # (it records a request as it arrives).
            deadline = time.time() + 10
            while time.time() < deadline and stalled() < before + 2:
                time.sleep(0.02)
            assert stalled() >= before + 2, "the two slow requests never reached the upstream"
            r = httpx.post(g.url + "/v1/chat/completions", headers=h,
                           json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded", r.text
            assert r.headers["retry-after"] == "1"
            assert httpx.get(g.url + "/healthz").status_code == 200
            assert [f.result().status_code for f in futs] == [200, 200]
        r = httpx.post(g.url + "/v1/chat/completions", headers=h,
                       json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200
        assert int(r.headers["content-length"]) == len(r.content), "a complete answer keeps its length"
        assert "proviso_overloaded_total 1" in httpx.get(g.url + "/metrics").text
    finally:
        g.stop()


def test_a_stream_holds_its_slot_until_it_ends(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, server_extra="max_concurrent_requests = 1\n")
    try:
        c = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key(), max_retries=0)
        stream = c.chat.completions.create(model="gpt-4o-mini", stream=True,
                                           messages=[{"role": "user", "content": "ECHO: one two three four"}],
                                           extra_body={"fake_fault": "stall_after:1:600"})
        first = next(iter(stream))
        assert first is not None
        with pytest.raises(openai.InternalServerError):
            c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        for _ in stream:
            pass
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    finally:
        g.stop()


def test_connections_over_the_cap_wait_until_one_closes(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, server_extra="max_connections = 2\n")
    try:
        idle = [_raw(g.port), _raw(g.port)]
        time.sleep(0.3)
        with pytest.raises(httpx.TimeoutException):
            httpx.get(g.url + "/healthz", timeout=1.0)
        idle[0].close()
        assert httpx.get(g.url + "/healthz", timeout=5.0).status_code == 200
        idle[1].close()
    finally:
        g.stop()


# --- an unauthenticated flood cannot fill the disk ------------------------------

def test_an_unauthenticated_flood_is_recorded_in_part_and_summarised(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, server_extra="unauthenticated_records_per_minute = 5\n")
    try:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 1000}]}
        # A refused caller's body is never read, so the gateway closes the
        # connection after the 401: a fresh connection each time.
        for i in range(40):
            r = httpx.post(g.url + "/v1/chat/completions", json=body,
                           headers={"authorization": f"Bearer sk-guess-{i}"})
            assert r.status_code == 401
        key = g.create_key()  # an authenticated caller is unaffected
        assert httpx.post(g.url + "/v1/chat/completions", json=body,
                          headers={"authorization": f"Bearer {key}"}).status_code == 200
    finally:
        assert g.stop() == 0
    recs = g.records()
    refused = [r for r in recs if r["status"] == 401 and r["error_code"] == "invalid_api_key"]
    summaries = [r for r in recs if r.get("error_code") == "unauthenticated_summary"]
    assert len(refused) == 5, len(refused)
    assert len(summaries) == 1
    d = json.loads(summaries[0]["detail"])
    assert d["suppressed"] == 35 and d["client"] == "127.0.0.1" and d["codes"] == ["invalid_api_key"]
    assert len([r for r in recs if r["status"] == 200]) == 1
    assert g.verify().returncode == 0


# --- a stream is on record before its first byte --------------------------------

def test_kill_9_mid_stream_leaves_the_opened_record(tmp_path, fake):
    g = Proviso(tmp_path, fake.url)
    key = g.create_key()
    body = {"model": "gpt-4o-mini", "stream": True, "fake_fault": "stall_after:2:900",
            "messages": [{"role": "user", "content": f"ECHO: {'word ' * 50}"}]}
    with httpx.stream("POST", g.url + "/v1/chat/completions", json=body,
                      headers={"authorization": f"Bearer {key}"}, timeout=10) as r:
        assert r.status_code == 200
        exchange_id = r.headers["x-proviso-record-id"]
        lines = r.iter_lines()
        first = next(l for l in lines if l.startswith("data: ") and "word" in l)
        assert first, "the client already holds text"
        g.proc.kill()  # SIGKILL: no chance to write the closing record
        g.proc.wait()
    v = g.cli("ledger", "verify", check=False)
    assert v.returncode == 0, v.stdout + v.stderr  # the chain is intact
    assert "OPEN" in v.stdout and exchange_id in v.stdout, v.stdout
    rep = json.loads(g.cli("ledger", "verify", "--json").stdout)
    assert [u["exchange_id"] for u in rep["unclosed"]] == [exchange_id]
    [opened] = [r for r in g.records(kind="event") if r["endpoint"] == "exchange.opened"]
    assert opened["unclosed"] is True and json.loads(opened["detail"])["exchange"] == exchange_id
    assert "word" in opened["request"] and opened["upstream"] == "fake"
    assert g.records() == [], "no closing record"


def test_a_completed_stream_is_opened_then_closed(tmp_path, fake):
    g = Proviso(tmp_path, fake.url)
    try:
        c = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key(), max_retries=0)
        text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
            model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "ECHO: a b c"}]) if ch.choices)
        assert text == "a b c"
        [closing] = g.records()
        [opened] = [r for r in g.records(kind="event") if r["endpoint"] == "exchange.opened"]
        assert opened["seq"] < closing["seq"] and opened["unclosed"] is False
        assert json.loads(closing["detail"])["opened"] == opened["id"]
        assert json.loads(opened["detail"])["exchange"] == closing["id"]
        rep = json.loads(g.cli("ledger", "verify", "--json").stdout)
        assert rep["unclosed"] == []
    finally:
        g.stop()
