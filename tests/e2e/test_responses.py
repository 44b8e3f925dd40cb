"""The Responses API through Proviso with the official openai SDK: created
streamed and not, each exchange recorded with its output and usage (from
the API's own usage block), the stream's last event held until the record
is committed, quotas counted, and desensitization round-tripping through
the API's events."""

import json

import httpx
import openai
import pytest

from conftest import Proviso
from test_desensitize import POLICY, SECRET_TEXT, last_seen


@pytest.fixture
def client(gw):
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key("ml"), max_retries=0)


def test_created_and_recorded_with_output_and_usage(gw, client, fake):
    raw = client.responses.with_raw_response.create(
        model="gpt-4o-mini", instructions="Be brief.", input="ECHO: the tide comes in twice a day",
        max_output_tokens=50)
    r = raw.parse()
    assert r.object == "response" and r.status == "completed"
    assert r.output_text == "the tide comes in twice a day"
    assert r.usage.output_tokens > 0 and r.usage.input_tokens > 0
    [rec] = gw.records()
    assert rec["id"] == raw.headers["x-proviso-record-id"]
    assert rec["endpoint"] == "/v1/responses" and rec["outcome"] == "ok" and rec["stream"] is False
    assert rec["output"] == r.output_text
    assert rec["finish_reason"] == "completed"
    assert rec["usage"]["prompt_tokens"] == r.usage.input_tokens
    assert rec["usage"]["completion_tokens"] == r.usage.output_tokens
    assert json.loads(rec["response"])["id"] == r.id
    sent = last_seen(fake)
    assert sent["input"] == "ECHO: the tide comes in twice a day" and "stream_options" not in sent


def test_streamed_events_are_relayed_and_the_last_one_waits_for_the_record(gw, client):
    events = list(client.responses.create(model="gpt-4o-mini", input="ECHO: one two three four", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "one two three four"
    assert events[-1].response.output_text == "one two three four"
    [rec] = gw.records()
    assert rec["stream"] is True and rec["outcome"] == "ok"
    assert rec["output"] == "one two three four" and rec["finish_reason"] == "completed"
    assert rec["usage"]["completion_tokens"] == events[-1].response.usage.output_tokens


def test_input_items_previous_response_and_a_broken_stream(gw, client):
    first = client.responses.create(model="gpt-4o-mini", input="ECHO: first turn")
    second = client.responses.create(
        model="gpt-4o-mini", previous_response_id=first.id,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "ECHO: second turn"}]}])
    assert second.output_text == "second turn"
    recs = gw.records()
    assert [r["output"] for r in recs] == ["first turn", "second turn"]
    assert json.loads(recs[1]["request"])["previous_response_id"] == first.id
    # The upstream drops the stream midway: what arrived is recorded as
    # partial, and the client gets an error event, not a completed one.
    with pytest.raises(Exception):
        list(client.responses.create(model="gpt-4o-mini", input="ECHO: a b c d e f", stream=True,
                                     extra_body={"fake_fault": "disconnect_after:2"}))
    rec = gw.wait_records(3)[-1]
    assert rec["outcome"] == "partial" and rec["output"] == "a b "


def test_quota_counts_the_input_and_max_output_tokens(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, extra='[quotas]\n[quotas.teams.ml]\ntokens_per_minute = 120\n')
    try:
        c = openai.OpenAI(base_url=g.url + "/v1", api_key=g.create_key("ml"), max_retries=0)
        c.responses.create(model="gpt-4o-mini", input="ECHO: small", max_output_tokens=20)
        with pytest.raises(openai.RateLimitError):
            c.responses.create(model="gpt-4o-mini", input="ECHO: large", max_output_tokens=500)
    finally:
        g.stop()


@pytest.fixture
def dgw(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, extra=POLICY)
    yield g
    g.stop()


@pytest.mark.parametrize("chunk", [None, "chunk_bytes:3"])
def test_desensitized_streamed_and_not(dgw, fake, chunk):
    c = openai.OpenAI(base_url=dgw.url + "/v1", api_key=dgw.create_key("support"), max_retries=0)
    extra = {"fake_fault": chunk} if chunk else {}
    expected = SECRET_TEXT.replace("536-22-1234", "<US_SSN>")
    r = c.responses.create(model="gpt-4o-mini", input="ECHO: " + SECRET_TEXT, extra_body=extra)
    sent = last_seen(fake)["input"]
    assert "ann.lee@example.com" not in sent and "<EMAIL_1>" in sent
    assert r.output_text == expected
    events = list(c.responses.create(model="gpt-4o-mini", input="ECHO: " + SECRET_TEXT, stream=True,
                                     extra_body=extra))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == expected, "placeholders split across events are restored"
    done = [e.text for e in events if e.type == "response.output_text.done"]
    assert done == [expected] and events[-1].response.output_text == expected
    for rec in dgw.records():
        assert "ann.lee@example.com" not in json.dumps(rec) and "<EMAIL_1>" in rec["output"]


def test_bad_bodies_are_refused_in_openai_shape(gw, client):
    key = client.api_key
    r = httpx.post(gw.url + "/v1/responses", headers={"Authorization": f"Bearer {key}"},
                   json={"model": "gpt-4o-mini"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input"
    r = httpx.get(gw.url + "/v1/responses", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 405


@pytest.mark.parametrize("stream", [False, True])
def test_placeholders_hold_across_turns_named_by_previous_response_id(dgw, fake, stream):
    c = openai.OpenAI(base_url=dgw.url + "/v1", api_key=dgw.create_key("support"), max_retries=0)

    def ask(text, previous=None):
        kw = {"previous_response_id": previous} if previous else {}
        if not stream:
            r = c.responses.create(model="gpt-4o-mini", input=text, **kw)
            return r.id, r.output_text
        events = list(c.responses.create(model="gpt-4o-mini", input=text, stream=True, **kw))
        return events[-1].response.id, "".join(e.delta for e in events if e.type == "response.output_text.delta")

    first, _ = ask("ECHO: write to ann.lee@example.com")
    assert last_seen(fake)["input"] == "ECHO: write to <EMAIL_1>"
    # The next turn names the first: a new address is the second, and the
    # first's placeholder, which the upstream knows from the earlier turn,
    # comes back restored when the answer repeats it.
    _, text = ask("ECHO: cc bob.ng@example.org and <EMAIL_1>", previous=first)
    assert last_seen(fake)["input"] == "ECHO: cc <EMAIL_2> and <EMAIL_1>"
    assert text == "cc bob.ng@example.org and ann.lee@example.com"
    # Another key naming the same response gets none of it.
    other = openai.OpenAI(base_url=dgw.url + "/v1", api_key=dgw.create_key("support"), max_retries=0)
    r = other.responses.create(model="gpt-4o-mini", input="ECHO: hi <EMAIL_1>", previous_response_id=first)
    assert r.output_text == "hi <EMAIL_1>"
