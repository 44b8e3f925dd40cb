"""The official openai SDK against Proviso: every endpoint, streamed and
not; then the ledger holds exactly these exchanges, with the right texts,
and `proviso ledger verify` passes."""

import json

import httpx
import openai
import pytest

from conftest import FIXTURES

ANSWERS = {r["output"] for r in json.loads((FIXTURES / "gpt4_outputs.json").read_text())}


@pytest.fixture
def client(gw):
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key("ml"), max_retries=0)


def test_chat_non_streamed_is_recorded_with_its_text(gw, client):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Name three rivers."}]
    )
    resp = raw.parse()
    text = resp.choices[0].message.content
    assert text in ANSWERS, "the fake answers from the corpus"
    rid = raw.headers["x-proviso-record-id"]
    [rec] = gw.records()
    assert rec["id"] == rid
    assert rec["output"] == text
    assert rec["status"] == 200 and rec["outcome"] == "ok"
    assert rec["team"] == "ml" and rec["model"] == "gpt-4o-mini" and rec["upstream"] == "fake"
    assert json.loads(rec["request"])["messages"][0]["content"] == "Name three rivers."
    assert rec["usage"]["completion_tokens"] == resp.usage.completion_tokens > 0
    assert json.loads(rec["response"])["choices"][0]["message"]["content"] == text
    assert rec["latency_ms"] >= 0 and rec["ttfb_ms"] is not None


def test_chat_streamed_assembles_text_and_hides_injected_usage(gw, client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "Tell me a story."}]
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text in ANSWERS
    assert all(c.choices for c in chunks), "no usage-only chunk the client did not ask for"
    [rec] = gw.records()
    assert rec["stream"] is True and rec["outcome"] == "ok"
    assert rec["output"] == text
    assert rec["finish_reason"] == "stop"
    assert rec["usage"]["completion_tokens"] > 0, "usage was requested upstream for the ledger"
    sent = json.loads(rec["request"])
    assert sent["stream_options"] == {"include_usage": True}


def test_stream_with_usage_requested_by_client(gw, client):
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "ECHO: alpha beta gamma"}],
    ))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "alpha beta gamma"


def test_completions_embeddings_models(gw, client):
    c = client.completions.create(model="gpt-4o-mini", prompt="ECHO: once upon a time")
    assert c.choices[0].text == "once upon a time"
    s = list(client.completions.create(model="gpt-4o-mini", prompt="ECHO: streamed words here", stream=True))
    assert "".join(x.choices[0].text for x in s if x.choices) == "streamed words here"
    e = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(e.data) == 2 and len(e.data[0].embedding) == 8
    models = sorted(m.id for m in client.models.list())
    assert models == ["gpt-4o-mini", "text-embedding-3-small"]
    recs = gw.records()
    assert [(r["endpoint"], r["stream"], r["output"]) for r in recs] == [
        ("/v1/completions", False, "once upon a time"),
        ("/v1/completions", True, "streamed words here"),
        ("/v1/embeddings", False, ""),
    ]
    emb = json.loads(recs[2]["response"])
    assert [d["dimensions"] for d in emb["data"]] == [8, 8], "vectors summarised, not stored"


def test_unknown_request_fields_pass_through_unchanged(gw, client, fake):
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
        temperature=0.3, extra_body={"vendor_knob": {"x": [1, 2]}},
    )
    seen = httpx.get(fake.url + "/_fake/requests").json()[-1]
    assert seen["body"]["vendor_knob"] == {"x": [1, 2]}
    assert seen["body"]["temperature"] == 0.3
    assert seen["authorization"] is None, "the client's Proviso key never reaches the upstream"


def test_ledger_verifies_after_mixed_traffic(gw, client):
    for i in range(20):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"q{i}"}])
    list(client.chat.completions.create(model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "s"}]))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    r = gw.verify()
    assert r.returncode == 0, r.stdout
    assert "intact" in r.stdout
    assert len(gw.records()) == 22
    events = gw.records(kind="event")
    assert [e["endpoint"] for e in events if e["endpoint"] != "exchange.opened"] == ["key.created"], \
        "the key creation is a ledger event"
    assert len([e for e in events if e["endpoint"] == "exchange.opened"]) == 1, "the stream was opened on record"
