"""The Responses API through Proviso with the official openai SDK: created
streamed and not, each exchange recorded with its output and usage (from
the API's own usage block), the stream's last event held until the record
is committed, quotas counted, and desensitization round-tripping through
the API's events; against an upstream that speaks it (`native`) and one
that speaks only chat completions (`translate`), which the client cannot
tell apart."""

import json

import httpx
import openai
import pytest

from conftest import Proviso
from test_desensitize import POLICY, SECRET_TEXT


@pytest.fixture(params=["native", "translate"])
def mode(request):
    return request.param


@pytest.fixture
def gw(tmp_path, fake, mode):
    # Inside the fake's [[upstreams]] table.
    g = Proviso(tmp_path, fake.url, extra=f'responses = "{mode}"\n')
    yield g
    g.stop()


@pytest.fixture
def client(gw):
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key("ml"), max_retries=0)


def seen(fake):
    return httpx.get(fake.url + "/_fake/requests").json()[-1]


def test_created_and_recorded_with_output_and_usage(gw, client, fake, mode):
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
    sent = seen(fake)
    if mode == "native":
        assert json.loads(rec["response"])["id"] == r.id
        assert sent["path"] == "/v1/responses"
        assert sent["body"]["input"] == "ECHO: the tide comes in twice a day" and "stream_options" not in sent["body"]
    else:
        # What left and what came back are what the ledger keeps.
        assert sent["path"] == "/v1/chat/completions"
        assert sent["body"]["messages"] == [{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "ECHO: the tide comes in twice a day"}]
        assert sent["body"]["max_tokens"] == 50 and "input" not in sent["body"]
        assert json.loads(rec["request"]) == sent["body"]
        assert json.loads(rec["response"])["object"] == "chat.completion"
        detail = rec["detail"] if isinstance(rec["detail"], dict) else json.loads(rec["detail"])
        assert detail["attempts"][0]["sent_as"] == "/v1/chat/completions"


def test_streamed_events_are_relayed_and_the_last_one_waits_for_the_record(gw, client):
    events = list(client.responses.create(model="gpt-4o-mini", input="ECHO: one two three four", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.done") == 1 and kinds.index("response.output_text.done") > kinds.index(
        "response.output_text.delta")
    seqs = [e.sequence_number for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # The raw stream names each event, as the API does.
    import httpx as _h
    with _h.stream("POST", gw.url + "/v1/responses", headers={"Authorization": f"Bearer {client.api_key}"},
                   json={"model": "gpt-4o-mini", "input": "ECHO: x y", "stream": True}) as raw:
        text = "".join(raw.iter_text())
    assert "event: response.created\n" in text and text.rstrip().splitlines()[-2] == "event: response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "one two three four"
    assert events[-1].response.output_text == "one two three four"
    rec = gw.records()[0]
    assert rec["stream"] is True and rec["outcome"] == "ok"
    assert rec["output"] == "one two three four" and rec["finish_reason"] == "completed"
    assert rec["usage"]["completion_tokens"] == events[-1].response.usage.output_tokens


def test_input_items_previous_response_and_a_broken_stream(gw, client, fake, mode):
    first = client.responses.create(model="gpt-4o-mini", input="ECHO: first turn")
    items = [{"role": "user", "content": [{"type": "input_text", "text": "ECHO: second turn"}]}]
    if mode == "native":
        second = client.responses.create(model="gpt-4o-mini", previous_response_id=first.id, input=items)
        assert json.loads(gw.records()[1]["request"])["previous_response_id"] == first.id
    else:
        # A chat upstream keeps no conversation (the response was not
        # stored): refused before anything leaves, naming the field; the
        # earlier turns go as input items.
        n = len(httpx.get(fake.url + "/_fake/requests").json())
        with pytest.raises(openai.NotFoundError) as e:
            client.responses.create(model="gpt-4o-mini", previous_response_id=first.id, input=items)
        assert e.value.body["param"] == "previous_response_id"
        assert len(httpx.get(fake.url + "/_fake/requests").json()) == n
        second = client.responses.create(model="gpt-4o-mini", input=[
            {"role": "user", "content": "ECHO: first turn"},
            {"role": "assistant", "content": [{"type": "output_text", "text": first.output_text}]}, *items])
    assert second.output_text == "second turn"
    recs = gw.records()
    assert [r["output"] for r in recs if r["status"] == 200] == ["first turn", "second turn"]
    if mode == "translate":
        assert [r["status"] for r in recs] == [200, 404, 200], "the refusal is recorded too"
    # The upstream drops the stream midway: what arrived is recorded as
    # partial, and the client gets an error event, not a completed one.
    with pytest.raises(openai.APIError) as e:
        list(client.responses.create(model="gpt-4o-mini", input="ECHO: a b c d e f", stream=True,
                                     extra_body={"fake_fault": "disconnect_after:2"}))
    assert "upstream_stream_broken" in str(e.value.body) or "upstream_stream_broken" in str(e.value)
    rec = gw.records()[-1]
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
def dgw(tmp_path, fake, mode):
    g = Proviso(tmp_path, fake.url, extra=f'responses = "{mode}"\n' + POLICY)
    yield g
    g.stop()


def sent_text(fake):
    """The masked text the upstream received (the input, or the last chat
    message)."""
    body = seen(fake)["body"]
    return body["input"] if "input" in body else body["messages"][-1]["content"]


@pytest.mark.parametrize("chunk", [None, "chunk_bytes:3"])
def test_desensitized_streamed_and_not(dgw, fake, chunk):
    c = openai.OpenAI(base_url=dgw.url + "/v1", api_key=dgw.create_key("support"), max_retries=0)
    extra = {"fake_fault": chunk} if chunk else {}
    expected = SECRET_TEXT.replace("536-22-1234", "<US_SSN>")
    r = c.responses.create(model="gpt-4o-mini", input="ECHO: " + SECRET_TEXT, extra_body=extra)
    sent = sent_text(fake)
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
def test_placeholders_hold_across_turns_named_by_previous_response_id(dgw, fake, stream, mode):
    if mode == "translate":
        pytest.skip("previous_response_id needs an upstream that keeps conversations")
    c = openai.OpenAI(base_url=dgw.url + "/v1", api_key=dgw.create_key("support"), max_retries=0)

    def ask(text, previous=None):
        kw = {"previous_response_id": previous} if previous else {}
        if not stream:
            r = c.responses.create(model="gpt-4o-mini", input=text, **kw)
            return r.id, r.output_text
        events = list(c.responses.create(model="gpt-4o-mini", input=text, stream=True, **kw))
        return events[-1].response.id, "".join(e.delta for e in events if e.type == "response.output_text.delta")

    first, _ = ask("ECHO: write to ann.lee@example.com")
    assert sent_text(fake) == "ECHO: write to <EMAIL_1>"
    # The next turn names the first: a new address is the second, and the
    # first's placeholder, which the upstream knows from the earlier turn,
    # comes back restored when the answer repeats it.
    _, text = ask("ECHO: cc bob.ng@example.org and <EMAIL_1>", previous=first)
    assert sent_text(fake) == "ECHO: cc <EMAIL_2> and <EMAIL_1>"
    assert text == "cc bob.ng@example.org and ann.lee@example.com"
    # Another key cannot go on from it: the upstream holds every key's
    # turns under one account, so the id alone would hand them over.
    other = openai.OpenAI(base_url=dgw.url + "/v1", api_key=dgw.create_key("support"), max_retries=0)
    n = len(httpx.get(fake.url + "/_fake/requests").json())
    with pytest.raises(openai.NotFoundError) as e:
        other.responses.create(model="gpt-4o-mini", input="ECHO: hi <EMAIL_1>", previous_response_id=first)
    assert e.value.body["param"] == "previous_response_id"
    assert len(httpx.get(fake.url + "/_fake/requests").json()) == n, "nothing left for the upstream"
    with pytest.raises(openai.BadRequestError) as e:
        c.responses.create(model="gpt-4o-mini", input=[{"type": "item_reference", "id": "msg_1"}])
    assert e.value.body["param"] == "input"


def test_stored_responses_are_read_back_by_their_key_and_recorded(gw, client, mode):
    r = client.responses.create(model="gpt-4o-mini", input="ECHO: keep this answer")
    if mode == "translate":
        # A chat upstream stores nothing: nothing to read back.
        with pytest.raises(openai.NotFoundError) as e:
            client.responses.retrieve(r.id)
        assert e.value.body["code"] == "not_found" and "chat-completions" in e.value.body["message"]
        return
    back = client.responses.retrieve(r.id)
    assert back.id == r.id and back.output_text == "keep this answer"
    items = client.responses.input_items.list(r.id)
    assert items.data[0].content[0].text == "ECHO: keep this answer"
    # Another key, even of the same team, does not see it.
    other = openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key("ml"), max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(r.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.input_items.list(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_does_not_exist")
    client.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
    recs = gw.records()
    # Created, read back (its output served again), items, two refusals,
    # deleted, a refusal after the deletion.
    assert [(r["status"], r["output"]) for r in recs] == [
        (200, "keep this answer"), (200, "keep this answer"), (200, ""), (404, ""), (404, ""), (404, ""), (404, ""),
        (200, ""), (404, "")]
    assert [r["endpoint"] for r in recs][:2] == ["/v1/responses", "/v1/responses/{id}"]
    got = json.loads(recs[1]["request"])
    assert got == {"method": "GET", "path": f"/v1/responses/{r.id}", "query": ""}
    assert recs[1]["usage"] is None, "read back, not charged"
