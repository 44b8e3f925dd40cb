"""Streams that end badly, a ledger that cannot be written, concurrency and
shutdown: every exchange is recorded correctly and the server stays up."""

import asyncio
import json
import os
import shutil
import signal
import threading
import time

import httpx
import openai
import pytest

from conftest import FIXTURES, Fake, Proviso

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Tell me about the moon."}]}
ANSWERS = [r["output"] for r in json.loads((FIXTURES / "gpt4_outputs.json").read_text())]


@pytest.fixture
def slow(tmp_path):
    """A fake upstream streaming 50 tokens per second."""
    f = Fake(tmp_path, "--corpus", str(FIXTURES / "gpt4_outputs.json"), "--tokens-per-s", "50")
    yield f
    f.stop()


def healthy(gw, key):
    assert httpx.get(gw.url + "/healthz").status_code == 200
    r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 200


def test_client_disconnect_mid_stream_records_partial_text(tmp_path, slow):
    gw = Proviso(tmp_path, slow.url)
    try:
        key = gw.create_key()
        got = b""
        with httpx.stream("POST", gw.url + "/v1/chat/completions", json={**CHAT, "stream": True},
                          headers={"authorization": f"Bearer {key}"}, timeout=10) as r:
            for chunk in r.iter_bytes():
                got += chunk
                if got.count(b"data:") >= 6:
                    break  # leaves the block: the connection is closed
        [rec] = gw.wait_records(1)
        assert rec["outcome"] == "partial" and rec["error_code"] == "client_disconnected"
        assert rec["output"], "the text produced before the disconnect"
        assert any(a.startswith(rec["output"]) for a in ANSWERS)
        assert not any(a == rec["output"] for a in ANSWERS), "only part of the answer"
        healthy(gw, key)
        assert gw.verify().returncode == 0
    finally:
        gw.stop()


def test_upstream_disconnect_mid_stream(gw):
    c = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key(), max_retries=0)
    text = ""
    with pytest.raises(openai.APIError) as ei:
        for ch in c.chat.completions.create(**CHAT, stream=True, extra_body={"fake_fault": "disconnect_after:4"}):
            if ch.choices:
                text += ch.choices[0].delta.content or ""
    assert "broke the stream" in str(ei.value)
    [rec] = gw.records()
    assert (rec["outcome"], rec["error_code"]) == ("partial", "upstream_stream_broken")
    assert rec["output"] == text and len(text.split()) == 4
    healthy(gw, gw.create_key())


def test_upstream_stall_mid_stream_past_the_timeout(gw):
    c = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key(), max_retries=0)
    t0 = time.time()
    with pytest.raises(openai.APIError) as ei:
        for _ in c.chat.completions.create(**CHAT, stream=True, extra_body={"fake_fault": "stall_after:2:5000"}):
            pass
    assert time.time() - t0 < 4, "stream_idle_timeout_ms = 1000 cut it short"
    assert "timed out" in str(ei.value)
    [rec] = gw.records()
    assert (rec["outcome"], rec["error_code"]) == ("partial", "upstream_timeout")
    assert len(rec["output"].split()) == 2
    healthy(gw, gw.create_key())


def test_ledger_unwritable_fails_closed_and_recovers(gw, fake):
    key = gw.create_key()
    healthy(gw, key)
    before = len(httpx.get(fake.url + "/_fake/requests").json())
    moved = gw.data.with_name("data-moved")
    os.rename(gw.data, moved)
    try:
        # The first request finds out at commit time: the answer is withheld.
        r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "ledger_unavailable"
        assert "choices" not in r.text
        assert httpx.get(gw.url + "/readyz").status_code == 503
        # Later ones are refused before anything leaves for the upstream.
        for _ in range(3):
            r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {key}"})
            assert r.status_code == 503
        s = httpx.post(gw.url + "/v1/chat/completions", json={**CHAT, "stream": True}, headers={"authorization": f"Bearer {key}"})
        assert s.status_code == 503
        assert len(httpx.get(fake.url + "/_fake/requests").json()) == before + 1
        assert httpx.get(gw.url + "/healthz").status_code == 200
    finally:
        os.rename(moved, gw.data)
    deadline = time.time() + 5
    while httpx.get(gw.url + "/readyz").status_code != 200:
        assert time.time() < deadline, "the gateway did not recover"
        time.sleep(0.1)
    healthy(gw, key)
    recs = gw.records()
    assert [(r["status"], r["outcome"]) for r in recs] == [
        (200, "ok"), (503, "withheld"), (503, "withheld"), (503, "withheld"), (503, "withheld"), (503, "withheld"), (200, "ok"),
    ]
    assert "was withheld from the client" in recs[1]["error"]
    assert recs[1]["output"], "the withheld answer is in the ledger, not lost"
    assert all(r["error_code"] == "ledger_unavailable" for r in recs[1:6])
    assert gw.verify().returncode == 0
    metrics = httpx.get(gw.url + "/metrics").text
    assert "proviso_ledger_failed_batches_total" in metrics


def test_500_concurrent_requests_all_recorded_chain_intact(patient_gw):
    key = patient_gw.create_key()

    async def main():
        c = openai.AsyncOpenAI(base_url=patient_gw.url + "/v1", api_key=key, max_retries=0, timeout=60)
        async def one(i):
            raw = await c.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"ECHO: request {i}"}], stream=False)
            return raw.headers["x-proviso-record-id"], raw.parse().choices[0].message.content
        return await asyncio.gather(*(one(i) for i in range(500)))

    results = asyncio.run(main())
    assert sorted(t for _, t in results) == sorted(f"request {i}" for i in range(500))
    recs = patient_gw.records()
    assert len(recs) == 500
    by_id = {r["id"]: r["output"] for r in recs}
    assert all(by_id[rid] == text for rid, text in results)
    r = patient_gw.verify()
    assert r.returncode == 0 and "intact" in r.stdout
    assert "501 records" in r.stdout, "500 exchanges and the key event"


def test_sigterm_finishes_in_flight_stream_then_flushes(tmp_path, slow):
    gw = Proviso(tmp_path, slow.url)
    key = gw.create_key()
    out = {}

    words = " ".join(f"w{i}" for i in range(60))  # 1.2 s at 50 tokens/s
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "ECHO: " + words}]}

    started = threading.Event()

    def stream():
        with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body,
                          headers={"authorization": f"Bearer {key}"}, timeout=30) as r:
            got = []
            for chunk in r.iter_bytes():
                got.append(chunk)
                started.set()
            out["body"] = b"".join(got)

    t = threading.Thread(target=stream)
    t.start()
    # SIGTERM while the stream is in flight: after its first bytes.
    assert started.wait(10), "the stream never started"
    assert "body" not in out, "the stream ended before SIGTERM"
    rc = gw.stop(signal.SIGTERM)
    t.join(timeout=30)
    assert rc == 0
    assert out["body"].rstrip().endswith(b"data: [DONE]"), "the in-flight stream completed"
    [rec] = gw.records()
    assert rec["outcome"] == "ok" and rec["output"] == words
    assert gw.verify().returncode == 0
