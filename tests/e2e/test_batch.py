"""The Batch API end to end with the official `openai` SDK: upload, create,
poll, download against the real gateway and the fake upstream's batches.
Every line is checked as a request (a refused line refuses the batch), the
file sent upstream is the masked one, the answers come back restored, every
line is recorded in the ledger (which verifies), the audit finds a batch's
output and the monitor counts its lines."""

import json
import time

import httpx
import openai
import pytest

from conftest import Fake, FIXTURES, Proviso

TOKEN = "batch-admin-token-0123456789"
POLICY = f"""
[batch]
poll_interval_ms = 100
[admin]
token = "{TOKEN}"
[policy]
[[policy.rules]]
name = "no-interns"
effect = "deny"
teams = ["interns"]
reason = "interns do not call providers"
[[policy.rules]]
name = "mask-support"
effect = "desensitize"
teams = ["support"]
reason = "tickets carry customer contacts"
[[policy.rules]]
name = "allow-all"
effect = "allow"
"""

SECRET = "Ticket from ann.lee@example.com about her refund."


def line(custom_id, content, **extra):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body})


@pytest.fixture
def bgw(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, extra=POLICY)
    yield g
    g.stop()


def client(gw, team="support"):
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.create_key(team), max_retries=0)


def upload(c, lines):
    return c.files.create(file=("input.jsonl", ("\n".join(lines) + "\n").encode()), purpose="batch")


def wait_done(c, batch_id, timeout=30.0):
    deadline = time.time() + timeout
    while True:
        b = c.batches.retrieve(batch_id)
        if b.status in ("completed", "failed", "expired", "cancelled") or time.time() > deadline:
            return b
        time.sleep(0.1)


def upstream_seen(fake, path):
    return [s["body"] for s in httpx.get(fake.url + "/_fake/requests").json() if s["path"] == path]


def batch_records(gw, batch_id):
    return [r for r in gw.records() if json.loads(r.get("detail") or "{}").get("batch", {}).get("id") == batch_id]


def events(gw, name):
    return [r for r in gw.records(kind=None) if r["endpoint"] == name]


def test_batch_flow_with_a_masked_line_and_a_failed_line(bgw, fake):
    c = client(bgw)
    f = upload(c, [
        line("masked", "ECHO: " + SECRET),
        line("plain", "Give three tips for staying healthy."),
        line("broken", "This one fails upstream.", fake_fault="status:500"),
        line("bob@example.org's ticket", "Hello."),
    ])
    assert f.purpose == "batch" and f.id.startswith("file-")
    b = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                         metadata={"job": "tickets"})
    assert b.status in ("validating", "in_progress") and b.request_counts.total == 4
    # The file that left holds placeholders, never the address, and line
    # numbers in place of the client's ids; the client's metadata stays.
    [sent] = [u["content"] for u in upstream_seen(fake, "/v1/files")]
    assert "ann.lee@example.com" not in sent and "<EMAIL_1>" in sent
    assert "bob@example.org" not in sent and "masked" not in sent
    assert [json.loads(l)["custom_id"] for l in sent.splitlines()] == ["line-1", "line-2", "line-3", "line-4"]
    [created] = upstream_seen(fake, "/v1/batches")
    assert created["metadata"] == {"proviso_batch": b.id}
    done = wait_done(c, b.id)
    assert done.status == "completed", done
    assert (done.request_counts.completed, done.request_counts.failed) == (3, 1)
    assert done.metadata == {"job": "tickets"}
    out = [json.loads(l) for l in c.files.content(done.output_file_id).text.splitlines()]
    by_id = {o["custom_id"]: o for o in out}
    assert set(by_id) == {"masked", "plain", "bob@example.org's ticket"}
    # The answer comes back with the address restored.
    assert by_id["masked"]["response"]["body"]["choices"][0]["message"]["content"] == SECRET
    errs = [json.loads(l) for l in c.files.content(done.error_file_id).text.splitlines()]
    assert [e["custom_id"] for e in errs] == ["broken"]
    assert errs[0]["response"]["status_code"] == 500
    # One exchange record per line, masked, attributed to the key and the
    # batch; the submission and the end recorded; the chain verifies.
    recs = batch_records(bgw, b.id)
    by_line = {json.loads(r["detail"])["batch"]["line"]: r for r in recs}
    assert sorted(by_line) == [1, 2, 3, 4]
    assert all(r["endpoint"] == "/v1/chat/completions" for r in recs)
    assert [by_line[n]["outcome"] for n in (1, 2, 3, 4)] == ["ok", "ok", "failed", "ok"]
    assert by_line[3]["status"] == 500
    everything = json.dumps(bgw.records(kind=None))
    assert "ann.lee@example.com" not in everything and "bob@example.org" not in everything
    masked = by_line[1]
    assert "<EMAIL_1>" in masked["request"] and "<EMAIL_1>" in masked["output"]
    for o in out + errs:
        n = {"masked": 1, "plain": 2, "broken": 3, "bob@example.org's ticket": 4}[o["custom_id"]]
        assert o["proviso_record_id"] == by_line[n]["id"]
    assert len(events(bgw, "batch.submitted")) == 1 and len(events(bgw, "batch.ended")) == 1
    assert bgw.verify().returncode == 0
    # Listing shows the key its batch and files.
    assert [x.id for x in c.batches.list().data] == [b.id]
    purposes = sorted(x.purpose for x in c.files.list().data)
    assert purposes == ["batch", "batch_error", "batch_output"]
    # The same API under Azure's /openai/v1/ routes.
    r = httpx.get(bgw.url + f"/openai/v1/batches/{b.id}", headers={"api-key": c.api_key})
    assert r.status_code == 200 and r.json()["status"] == "completed"


def test_a_refused_line_refuses_the_batch_naming_the_lines(bgw, fake):
    c = client(bgw, "ml")
    f = upload(c, [
        line("ok", "Fine."),
        line("unknown-model", "x") .replace("gpt-4o-mini", "gpt-9"),
        line("streamed", "y", stream=True),
        json.dumps({"custom_id": "wrong-url", "method": "POST", "url": "/v1/embeddings",
                    "body": {"model": "text-embedding-3-small", "input": "z"}}),
    ])
    with pytest.raises(openai.BadRequestError) as e:
        c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    err = e.value.body
    assert err["code"] == "batch_refused"
    assert [(l["line"], l["custom_id"]) for l in err["lines"]] == [(2, "unknown-model"), (3, "streamed"), (4, "wrong-url")]
    assert err["lines"][0]["code"] == "model_not_found"
    seen = httpx.get(fake.url + "/_fake/requests").json()
    assert not [s for s in seen if s["path"] in ("/v1/files", "/v1/batches")], "nothing was sent"
    refusals = [r for r in bgw.records() if r["endpoint"] == "/v1/batches"]
    assert refusals and refusals[-1]["error_code"] == "batch_refused"
    # The refusal's record keeps the lines as the client was told them.
    kept = json.loads(refusals[-1]["response"])["error"]["lines"]
    assert [l["line"] for l in kept] == [2, 3, 4]
    # The policy refuses every line of a team it denies.
    ic = client(bgw, "interns")
    f2 = upload(ic, [line("a", "x"), line("b", "y")])
    with pytest.raises(openai.BadRequestError) as e:
        ic.batches.create(input_file_id=f2.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert [(l["line"], l["code"]) for l in e.value.body["lines"]] == [(1, "policy_denied"), (2, "policy_denied")]
    assert not upstream_seen(fake, "/v1/files") and not upstream_seen(fake, "/v1/batches")


def test_a_malformed_upload_is_refused_with_its_line_numbers(bgw):
    c = client(bgw, "ml")
    with pytest.raises(openai.BadRequestError) as e:
        c.files.create(file=("bad.jsonl", (line("a", "x") + "\n{oops\n").encode()), purpose="batch")
    assert e.value.body["code"] == "invalid_file" and e.value.body["lines"][0]["line"] == 2
    with pytest.raises(openai.BadRequestError) as e:
        c.files.create(file=("ft.jsonl", line("a", "x").encode()), purpose="fine-tune")
    assert e.value.body["param"] == "purpose"


def test_files_and_batches_belong_to_their_key(bgw):
    owner, other = client(bgw, "ml"), client(bgw, "ml")
    f = upload(owner, [line("a", "Hello.")])
    b = owner.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    for call in (lambda: other.files.retrieve(f.id), lambda: other.files.content(f.id),
                 lambda: other.files.delete(f.id),
                 lambda: other.batches.retrieve(b.id), lambda: other.batches.cancel(b.id),
                 lambda: other.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                                              completion_window="24h")):
        with pytest.raises(openai.NotFoundError):
            call()
    assert other.batches.list().data == [] and other.files.list().data == []
    assert owner.files.content(f.id).text.strip() == line("a", "Hello.")
    assert owner.files.delete(f.id).deleted
    with pytest.raises(openai.NotFoundError):
        owner.files.retrieve(f.id)


def test_a_cancelled_batch_records_the_lines_that_did_not_run(tmp_path):
    fake = Fake(tmp_path, "--batch-delay-ms", "600000")
    gw = Proviso(tmp_path, fake.url, extra=POLICY)
    try:
        c = client(gw, "ml")
        f = upload(c, [line("a", "one"), line("b", "two")])
        b = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        assert c.batches.cancel(b.id).status == "cancelling"
        done = wait_done(c, b.id)
        assert done.status == "cancelled" and done.output_file_id is None
        errs = [json.loads(l) for l in c.files.content(done.error_file_id).text.splitlines()]
        assert {e["error"]["code"] for e in errs} == {"batch_cancelled"}
        recs = batch_records(gw, b.id)
        assert len(recs) == 2 and {r["error_code"] for r in recs} == {"batch_cancelled"}
        with pytest.raises(openai.ConflictError):
            c.batches.cancel(b.id)
        assert len(events(gw, "batch.cancel_requested")) == 1
        assert gw.verify().returncode == 0
    finally:
        gw.stop()
        fake.stop()


def test_batch_outputs_are_audited_and_monitored(bgw):
    c = client(bgw, "ml")
    # Enough lines for the monitor to score the key (it scores every 10).
    prompts = ["Explain tides.", "Describe photosynthesis.", "How do vaccines work?"] + [
        f"Question {i}: name a river in Europe." for i in range(9)]
    f = upload(c, [line(f"q{i}", p) for i, p in enumerate(prompts)])
    b = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    done = wait_done(c, b.id)
    assert done.status == "completed"
    answers = [json.loads(l)["response"]["body"]["choices"][0]["message"]["content"]
               for l in c.files.content(done.output_file_id).text.splitlines()]
    train = bgw.tmp / "train.jsonl"
    train.write_text(json.dumps({"text": "Copied: " + answers[0]}) + "\n"
                     + json.dumps({"text": "Unrelated human text about the weather in spring, rain and wind."}) + "\n")
    out = bgw.tmp / "audit.jsonl"
    deadline = time.time() + 15
    while True:
        bgw.cli("audit", str(train), "--json", str(out), check=False)
        flagged = [json.loads(l) for l in out.read_text().splitlines()][:-1] if out.exists() else []
        if flagged or time.time() > deadline:
            break
        time.sleep(0.3)
    assert [f["line"] for f in flagged] == [1], flagged
    att = flagged[0]["references"][0]["attribution"]
    recorded = {r["id"] for r in batch_records(bgw, b.id)}
    assert att["record_id"] in recorded
    # The monitor took in every line of the batch.
    deadline = time.time() + 10
    while True:
        seen = httpx.get(bgw.url + "/admin/monitor", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        mine = [a for a in seen if a["team"] == "ml"]
        if (mine and mine[0]["requests"] >= len(prompts)) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert mine and mine[0]["requests"] == len(prompts), seen


def test_a_batch_is_charged_as_its_lines_sent_at_once(bgw):
    secret = json.loads(bgw.cli("keys", "create", "--team", "ml", "--rpm", "2", "--json").stdout)["secret"]
    c = openai.OpenAI(base_url=bgw.url + "/v1", api_key=secret, max_retries=0)
    big = upload(c, [line("a", "one"), line("b", "two"), line("c", "three")])
    with pytest.raises(openai.RateLimitError) as e:
        c.batches.create(input_file_id=big.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert e.value.body["code"] == "rate_limit_exceeded"
    small = upload(c, [line("a", "one"), line("b", "two")])
    b = c.batches.create(input_file_id=small.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert b.request_counts.total == 2
    # The batch took the minute's two requests: a single request now waits.
    with pytest.raises(openai.RateLimitError):
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert wait_done(c, b.id).status == "completed"


def test_lines_asking_for_the_most_tokens_are_charged_without_wrapping(bgw):
    # Two lines of max_tokens 2**63 add up to 2**64: the batch's charge
    # once wrapped to nothing (a debug build panicked). With a request
    # limit only, the batch is taken and runs; its lines are recorded.
    secret = json.loads(bgw.cli("keys", "create", "--team", "ml", "--rpm", "10", "--json").stdout)["secret"]
    c = openai.OpenAI(base_url=bgw.url + "/v1", api_key=secret, max_retries=0)
    f = upload(c, [line("a", "one", max_tokens=2**63), line("b", "two", max_completion_tokens=2**63)])
    b = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert b.request_counts.total == 2
    assert wait_done(c, b.id).status == "completed"
    assert len(batch_records(bgw, b.id)) == 2


def test_recording_goes_on_after_a_restart(tmp_path):
    """The gateway stops while the batch runs upstream; started again, it
    finds the batch in its store, and records and restores it."""
    fake = Fake(tmp_path, "--batch-delay-ms", "1500")
    gw = Proviso(tmp_path, fake.url, extra=POLICY)
    try:
        c = client(gw)
        f = upload(c, [line("masked", "ECHO: " + SECRET), line("plain", "Explain tides.")])
        b = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        assert gw.stop() == 0
        time.sleep(1.6)
        gw.start()
        done = wait_done(c, b.id)
        assert done.status == "completed" and done.request_counts.completed == 2
        out = {json.loads(l)["custom_id"]: json.loads(l) for l in c.files.content(done.output_file_id).text.splitlines()}
        assert out["masked"]["response"]["body"]["choices"][0]["message"]["content"] == SECRET
        recs = {r["id"] for r in batch_records(gw, b.id)}
        assert len(recs) == 2 and {o["proviso_record_id"] for o in out.values()} == recs
        assert gw.verify().returncode == 0
    finally:
        gw.stop()
        fake.stop()


def test_revoking_a_key_cancels_its_running_batch(tmp_path):
    fake = Fake(tmp_path, "--batch-delay-ms", "600000")
    gw = Proviso(tmp_path, fake.url, extra=POLICY)
    try:
        c = client(gw, "ml")
        kid = json.loads(gw.cli("keys", "list", "--json").stdout)[-1]["id"]
        f = upload(c, [line("a", "one"), line("b", "two")])
        b = c.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        gw.cli("keys", "revoke", kid, "--reason", "harvesting")
        deadline = time.time() + 20
        while not events(gw, "batch.ended") and time.time() < deadline:
            time.sleep(0.2)
        [ended] = events(gw, "batch.ended")
        assert json.loads(ended["detail"])["status"] == "cancelled"
        [why] = events(gw, "batch.cancelled_for_key")
        assert json.loads(why["detail"])["key_state"] == "revoked"
        assert upstream_seen(fake, f"/v1/batches/{json.loads(why['detail'])['upstream_batch']}/cancel") == [None]
        recs = batch_records(gw, b.id)
        assert len(recs) == 2 and {r["error_code"] for r in recs} == {"batch_cancelled"}
    finally:
        gw.stop()
        fake.stop()


def test_the_batch_api_can_be_turned_off(tmp_path, fake):
    gw = Proviso(tmp_path, fake.url, extra="[batch]\nenabled = false\n")
    try:
        c = client(gw, "ml")
        for call in (lambda: c.files.create(file=("a.jsonl", line("a", "x").encode()), purpose="batch"),
                     lambda: c.batches.list()):
            with pytest.raises(openai.NotFoundError) as e:
                call()
            assert e.value.body["code"] == "unsupported_endpoint"
    finally:
        gw.stop()
