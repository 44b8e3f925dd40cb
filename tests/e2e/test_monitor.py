"""The monitor end to end: `proviso-traffic` drives the real gateway (on a
simulated clock) through the fake upstream with seeded workloads; the
monitor must catch every extraction key and cluster within 500 of its
requests, leave benign keys alone, walk the ladder in order with its
evidence in the ledger, take effect without a restart, and rebuild its
state from the ledger after one."""

import gzip
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest

from conftest import BIN_DIR, FIXTURES, Proviso, burst, harvest, metric

TOKEN = "adm-monitor-0123456789"
SIM = 'clock = "simulated"\ntrust_forwarded_for = true\n'
SIM_ARGS = ("--allow-simulated-clock",)


def admin(gw, method, path, body=None):
    return httpx.request(method, gw.url + "/admin" + path, json=body,
                         headers={"authorization": f"Bearer {TOKEN}"}, timeout=60)


def traffic(gw, tmp_path, seed=7, days=1, extra=()):
    out = tmp_path / f"traffic-{seed}.json"
    r = subprocess.run(
        [str(BIN_DIR / "proviso-traffic"), "--gateway", gw.url, "--admin-token", TOKEN,
         "--fixtures", str(FIXTURES), "--seed", str(seed), "--days", str(days), "--out", str(out),
         *extra],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr + r.stdout
    return json.loads(out.read_text())


@pytest.fixture
def sim(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, server_extra=SIM, serve_args=SIM_ARGS, extra=f'[admin]\ntoken = "{TOKEN}"\n', monitor="")
    yield g
    g.stop()


def test_campaigns_are_caught_benign_keys_are_not_and_the_ledger_holds_the_evidence(sim, tmp_path):
    rep = traffic(sim, tmp_path)
    s = rep["summary"]
    keys = {k["name"]: k for k in rep["keys"]}
    print(json.dumps(s))
    # Every extraction key caught within 500 of its extraction requests; no
    # benign key above notice (thresholds in docs/monitor.md).
    assert s["extraction_detected_within_500"] == s["extraction_keys"] == 16, rep["keys"]
    assert s["benign_above_notice"] == 0
    for name in ["product-support"] + [f"chat-{i:02}" for i in range(20)]:
        assert keys[name]["enforced"] in ("ok",), (name, keys[name])
        assert keys[name]["refused_suspended"] == 0
    # A declared evaluation enumerating its benchmark (805 instructions
    # answered at length) is harvesting on the face of it: a notice for a
    # reviewer, never more while it stays within its declared bound.
    assert keys["eval-harness"]["enforced"] in ("ok", "notice"), keys["eval-harness"]
    assert keys["eval-harness"]["refused_suspended"] == 0
    # The hydra is one actor with its member keys.
    hydra_ids = {k["key_id"] for k in rep["keys"] if k["workload"] == "hydra"}
    clusters = [c for c in rep["clusters"] if c["level"] != "ok"]
    assert any(len(hydra_ids & set(c["members"])) == len(hydra_ids) for c in clusters), clusters
    # The ladder took effect in the running gateway: suspended keys were
    # refused, the mixed key saw the notice header. A hydra key sends few
    # requests, low and slow: on a loaded machine the monitor (at idle
    # priority) can act after its last one, so it is held to its level.
    for name in ["selfinstruct", "enumerator", "reasoning"]:
        assert keys[name]["enforced"] in ("suspend", "revoke") and keys[name]["refused_suspended"] > 0, keys[name]
    assert keys["hydra-00"]["enforced"] in ("suspend", "revoke"), keys["hydra-00"]
    assert keys["mixed"]["first_effect"] == "notice"

    # Each step is a ledger event, in order, with evidence from the ledger.
    recs = sim.cli("ledger", "export").stdout.splitlines()
    recs = [json.loads(l) for l in recs if l.strip()]
    ids = {r["id"]: r for r in recs}
    kid = keys["selfinstruct"]["key_id"]
    steps = [r for r in recs if r["key_id"] == kid and r["kind"] == "event"]
    names = [r["endpoint"] for r in steps]
    assert names[0] == "key.created"
    steps = steps[1:]
    names = names[1:]
    assert names[:4] == ["monitor.notice", "monitor.throttle", "monitor.suspend", "key.suspended"], names
    d = json.loads(steps[2]["detail"])
    assert d["level"] == "suspend" and d["score"] >= 0.5
    assert {"name", "value", "contribution"} <= set(d["signals"][0])
    assert any(x["name"] == "template_share" and x["contribution"] > 0.1 for x in d["signals"])
    assert d["evidence"] and all(ids[e]["key_id"] == kid and ids[e]["kind"] == "exchange" for e in d["evidence"])
    assert json.loads(steps[1]["detail"])["limits"]["requests_per_minute"] == 10
    assert "monitor" in json.loads(steps[3]["detail"])["by"]
    assert sim.verify().returncode == 0

    # `proviso monitor --json` (rebuilt from the ledger) agrees with the API.
    api = {a["key_id"]: a for a in admin(sim, "GET", "/monitor").json()}
    cli = json.loads(sim.cli("monitor", "--json", "--top", "0").stdout)
    assert all({"key_id", "team", "score", "level", "signals", "evidence"} <= set(a) for a in cli)
    cli_by = {a["key_id"]: a for a in cli}
    # (revoke is a manual step by default: "revoke" here means it awaits review)
    assert cli_by[kid]["enforced"] == api[kid]["enforced"] in ("suspend", "revoke")
    text = sim.cli("monitor", "--min-level", "suspend").stdout
    assert "template_share" in text and "evidence:" in text

    # The state survives a restart: rebuilt from the ledger.
    sim.stop()
    sim.start()
    after = {a["key_id"]: a for a in admin(sim, "GET", "/monitor").json()}
    assert after[kid]["enforced"] == api[kid]["enforced"]
    assert after[kid]["level"] in ("suspend", "revoke", "throttle", "notice")
    assert abs(after[kid]["requests"] - api[kid]["requests"]) <= 5, (after[kid]["requests"], api[kid]["requests"])
    m = httpx.get(sim.url + "/metrics").text
    assert "proviso_monitor_observed_total" in m


class Hook(BaseHTTPRequestHandler):
    calls: list = []
    fail_first = 2

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Hook.calls.append(json.loads(body))
        ok = len(Hook.calls) > Hook.fail_first
        self.send_response(200 if ok else 500)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_notice_header_throttle_review_webhook_retries_and_clock_jumps(tmp_path, fake):
    Hook.calls = []
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    extra = (f'[admin]\ntoken = "{TOKEN}"\n'
             f'[monitor]\nmin_requests = 10\nevaluate_every = 5\nwebhook_url = "http://127.0.0.1:{hook.server_port}/hook"\n'
             f'[monitor.ladder]\nsuspend = "manual"\nrevoke = "off"\nthrottle_requests_per_minute = 2\n')
    g = Proviso(tmp_path, fake.url, server_extra=SIM, serve_args=SIM_ARGS, extra=extra, monitor="")
    try:
        secret = g.create_key(team="gen")
        c = openai.OpenAI(base_url=g.url + "/v1", api_key=secret, max_retries=0)
        t0 = admin(g, "GET", "/clock").json()["now_ms"] + 86_400_000
        notice_seen, limited = None, 0
        # The monitor follows the ledger on its own thread: on a loaded
        # machine it acts some requests later, so the key goes on asking
        # (its simulated time advancing) until both steps reached it.
        deadline = time.time() + 30
        for i in range(400):
            if i >= 60 and (notice_seen is not None and limited > 0 or time.time() > deadline):
                break
            try:
                r = harvest(c, i, t0)
                if notice_seen is None and r.headers.get("proviso-notice"):
                    notice_seen = i
            except openai.RateLimitError as e:
                limited += 1
                assert e.status_code == 429
            time.sleep(0.01)
        assert notice_seen is not None and notice_seen < 120, "the notice header reached the client"
        assert limited > 0, "the throttle lowered the key's limit"
        deadline = time.time() + 30
        names = []
        while time.time() < deadline:
            names = [r["endpoint"] for r in g.records(kind="event") if r["endpoint"].startswith("monitor.")]
            if "monitor.review" in names:
                break
            time.sleep(0.1)
        assert names[:3] == ["monitor.notice", "monitor.throttle", "monitor.review"], names
        review = [r for r in g.records(kind="event") if r["endpoint"] == "monitor.review"][0]
        assert json.loads(review["detail"])["level"] == "suspend"
        # manual suspension: the key stays usable until an administrator acts
        keys = json.loads(g.cli("keys", "list", "--json").stdout)
        assert [k["state"] for k in keys] == ["active"]
        # The webhook failed twice and was retried; every step reached it.
        deadline = time.time() + 15
        while time.time() < deadline and (len({c["event"] for c in Hook.calls}) < 3 or len(Hook.calls) < 5):
            time.sleep(0.2)
        events = [c["event"] for c in Hook.calls]
        assert set(events) >= {"monitor.notice", "monitor.throttle", "monitor.review"}, events
        assert len(events) >= 5, "the two failed calls were retried"
        assert all(c["evidence"] and c["signals"] for c in Hook.calls)
        # A clock that jumps back breaks nothing.
        assert admin(g, "POST", "/clock", {"now_ms": t0 - 7 * 86_400_000}).status_code == 200
        r = httpx.post(g.url + "/v1/chat/completions", headers={"authorization": f"Bearer {secret}"},
                       json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ECHO: hi"}]}, timeout=30)
        assert r.status_code in (200, 429), r.text
        assert admin(g, "GET", "/monitor").status_code == 200
        # An administrator closes the review: notice and throttle lifted.
        kid = keys[0]["id"]
        assert admin(g, "POST", f"/monitor/keys/{kid}/clear", {"reason": "research project, approved"}).status_code == 200
        r = c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "ECHO: fine"}],
            extra_headers={"proviso-sim-time": str(t0 + 3_600_000)})
        assert r.headers.get("proviso-notice") is None
        assert "monitor.cleared" in [r["endpoint"] for r in g.records(kind="event")]
        assert g.verify().returncode == 0
    finally:
        g.stop()
        hook.shutdown()


def test_system_clock_cannot_be_set(tmp_path, fake):
    g = Proviso(tmp_path, fake.url, extra=f'[admin]\ntoken = "{TOKEN}"\n')
    try:
        r = admin(g, "POST", "/clock", {"now_ms": 0})
        assert r.status_code == 409 and r.json()["error"]["code"] == "clock_not_simulated"
    finally:
        g.stop()


@pytest.mark.parametrize("body,needle", [
    ("[monitor.weights]\ntemplate_reuse = 0.3\n", "template_reuse"),
    ("[monitor.weights]\nreasoning = \"high\"\n", "reasoning"),
    ("[monitor.weights]\nshift = -1.0\n", "weights.shift"),
    ("[monitor.thresholds]\nnotice = 0.9\n", "thresholds.notice"),
])
def test_bad_monitor_config_stops_start_up_naming_key_and_line(tmp_path, body, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/d"\n[server]\nlisten = "127.0.0.1:0"\n' + body)
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "serve"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "line 5" in r.stderr and "bad.toml" in r.stderr, r.stderr


def test_an_unreadable_instruction_set_stops_start_up_naming_it(tmp_path):
    bad = tmp_path / "set.jsonl"
    bad.write_text('"a fine instruction to follow here"\n{not json\n')
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/d"\n[server]\nlisten = "127.0.0.1:0"\n'
                   f'[monitor]\ninstruction_sets = ["alpaca_eval", "{bad}"]\n')
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "serve"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stderr
    assert "instruction_sets" in r.stderr and f"{bad}:2" in r.stderr, r.stderr


def test_a_full_queue_never_fails_a_request_and_what_it_drops_is_read_back(tmp_path, fake):
    # (200 requests of one template would rightly be throttled: the ladder
    # is off here, this test is about the queue.)
    g = Proviso(tmp_path, fake.url, extra="[monitor]\nqueue = 1\n[monitor.ladder]\nnotice = \"off\"\nthrottle = \"off\"\nsuspend = \"off\"\n", monitor="")
    try:
        secret = g.create_key()
        codes = burst(g.url, secret)
        assert codes == [200] * 200
        # The writer answers a batch's callers before it hands the batch to
        # the monitor: the counters may trail the last answer a moment.
        seen, deadline = 0, time.time() + 10
        while time.time() < deadline:
            m = httpx.get(g.url + "/metrics").text
            seen = metric(m, "proviso_monitor_queued_total") + metric(m, "proviso_monitor_dropped_total")
            if seen >= 200:
                break
            time.sleep(0.05)
        assert seen == 200, seen
        # A queue of one under 32 clients drops; what it dropped is read
        # back from the ledger, so the monitor observes every exchange.
        dropped = metric(m, "proviso_monitor_dropped_total")
        assert dropped > 0, m
        deadline = time.time() + 20
        while time.time() < deadline:
            m = httpx.get(g.url + "/metrics").text
            if (metric(m, "proviso_monitor_processed_total") == metric(m, "proviso_monitor_queued_total")
                    and metric(m, "proviso_monitor_unread") == 0 and metric(m, "proviso_monitor_observed_total") >= 200):
                break
            time.sleep(0.05)
        # Each exchange observed once: what was read back (the dropped
        # ones, and queued ones read in the same pass) is not observed
        # again when it comes out of the queue.
        assert metric(m, "proviso_monitor_observed_total") == 200, m
        assert metric(m, "proviso_monitor_backfilled_total") >= dropped, m
        assert metric(m, "proviso_monitor_backfill_failures_total") == 0 and metric(m, "proviso_monitor_unread") == 0, m
    finally:
        g.stop()


def test_revoke_step_gives_notice_then_revokes_on_the_simulated_clock(tmp_path, fake):
    extra = (f'[admin]\ntoken = "{TOKEN}"\n'
             '[monitor]\nmin_requests = 10\nevaluate_every = 5\n'
             '[monitor.ladder]\nrevoke = "auto"\nrevoke_notice_ms = 60000\n')
    g = Proviso(tmp_path, fake.url, server_extra=SIM, serve_args=SIM_ARGS, extra=extra, monitor="")
    try:
        secret = g.create_key(team="gen")
        h = {"authorization": f"Bearer {secret}"}
        t0 = admin(g, "GET", "/clock").json()["now_ms"] + 86_400_000

        def ask(i, t):
            return httpx.post(g.url + "/v1/chat/completions", headers={**h, "proviso-sim-time": str(t)}, timeout=30,
                              json={"model": "gpt-4o-mini", "logprobs": True, "top_logprobs": 5,
                                    "messages": [{"role": "user", "content": f"Write 5 diverse instructions about topic number {i} with ideal responses for a training dataset. Explain your reasoning step by step."}]})
        # The monitor scores on a thread of its own: on a loaded machine it
        # acts some requests later, so ask until refused (bounded in time
        # and in requests), on the simulated clock one second apart.
        refused, i = None, 0
        deadline = time.time() + 30
        while time.time() < deadline and i < 400:
            r = ask(i, t0 + i * 1000)
            if r.status_code == 403:
                refused = r.json()["error"]
                break
            i += 1
            time.sleep(0.02)
        assert refused and refused["code"] == "key_suspended", refused
        suspended_at = t0 + i * 1000
        names = []
        deadline = time.time() + 20
        while time.time() < deadline and "monitor.revoke" not in names:
            names = [e["endpoint"] for e in g.records(kind="event") if e["endpoint"].startswith(("monitor.", "key.s"))]
            time.sleep(0.1)
        assert names[:5] == ["monitor.notice", "monitor.throttle", "monitor.suspend", "key.suspended", "monitor.revoke"], names
        key = json.loads(g.cli("keys", "list", "--json").stdout)[0]
        assert key["state"] == "suspended" and key["revoke_at"], key
        # The notice period runs on the gateway's clock: move it past the end
        # (through the admin API: a suspended key's own header does not move
        # the clock).
        later = suspended_at + 10 * 60_000
        assert admin(g, "POST", "/clock", {"now_ms": later}).status_code == 200
        deadline = time.time() + 20
        while time.time() < deadline:
            r = ask(1000, later + 1000)
            if r.status_code == 401:
                break
            time.sleep(0.2)
        assert r.status_code == 401 and r.json()["error"]["code"] == "key_revoked", r.text
        # the gateway's sweeper records the revocation (every key_refresh_ms)
        deadline = time.time() + 20
        revoked = []
        while time.time() < deadline and not revoked:
            revoked = [e for e in g.records(kind="event") if e["endpoint"] == "key.revoked"]
            time.sleep(0.1)
        assert len(revoked) == 1 and json.loads(revoked[0]["detail"])["by"] == "system"
        assert g.verify().returncode == 0
    finally:
        g.stop()


def test_shift_vectors_from_a_self_hosted_embeddings_model(tmp_path, fake):
    extra = (f'[admin]\ntoken = "{TOKEN}"\n'
             '[monitor]\nembeddings_model = "text-embedding-3-small"\nshift_recent = 8\nshift_history = 16\n')
    g = Proviso(tmp_path, fake.url, extra=extra)
    try:
        secret = g.create_key()
        prompts = [f"ECHO: tell me about {w} in one line" for w in
                   ["otters", "granite", "tea", "sailing", "opera", "moss", "radar", "kites", "salt", "comets",
                    "maple", "rivets", "tango", "yeast", "zinc", "chess", "ferns", "jazz", "lynx", "quartz",
                    "reefs", "sonar", "tulips", "umami", "vinyl", "wharf", "bison", "cedar", "dunes", "elbows"]]
        for p in prompts:
            r = httpx.post(g.url + "/v1/chat/completions", headers={"authorization": f"Bearer {secret}"}, timeout=30,
                           json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": p}]})
            assert r.status_code == 200
        # The monitor asked the (self-hosted) embeddings model for the
        # prompts' vectors, in batches, off the request path.
        deadline = time.time() + 10
        inputs = []
        while time.time() < deadline and len(inputs) < len(prompts):
            seen = httpx.get(fake.url + "/_fake/requests").json()
            inputs = [i for s in seen if s["path"] == "/v1/embeddings" for i in s["body"]["input"]]
            time.sleep(0.1)
        assert sorted(inputs) == sorted(prompts)
        m = httpx.get(g.url + "/metrics").text
        assert "proviso_monitor_embedding_failures_total 0" in m
        deadline = time.time() + 10
        shift = []
        while time.time() < deadline:
            rep = admin(g, "GET", "/monitor").json()
            shift = [s for a in rep if a["kind"] == "key" for s in a["signals"] if s["name"] == "shift"]
            if shift and "embeddings" in shift[0]["detail"]:
                break
            time.sleep(0.1)
        assert shift and "text-embedding-3-small embeddings" in shift[0]["detail"], shift
        # None of those calls is an exchange: the ledger holds the 30 chats only.
        assert len(g.records()) == len(prompts)
    finally:
        g.stop()


def test_embeddings_only_from_a_self_hosted_upstream(tmp_path, fake):
    cfg = tmp_path / "p.toml"
    cfg.write_text(f'data_dir = "{tmp_path}/d"\n[server]\nlisten = "127.0.0.1:0"\n'
                   '[[upstreams]]\nname = "openai"\nkind = "openai"\napi_key = "sk-x"\nmodels = ["text-embedding-3-small"]\n'
                   '[monitor]\nembeddings_model = "text-embedding-3-small"\n')
    r = subprocess.run([str(BIN_DIR / "proviso"), "--config", str(cfg), "serve"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "embeddings_model" in r.stderr and "self-hosted" in r.stderr, r.stderr


def test_held_out_families_through_the_gateway(sim, tmp_path):
    """Held-out workload families (never used to choose a setting) through
    the real gateway on the simulated clock, the fake upstream answering as
    long as each workload expects: extraction without its tells is caught
    (plain dataset instructions; ten keys in ten teams harvesting in step;
    a busy key behind an office address), and templated products and the
    quiet people behind that address are not acted on beyond a notice."""
    rep = traffic(sim, tmp_path, seed=41, extra=(
        "--families", "--family-keys", "2", "--family-cap", "250", "--users", "10",
        "--only", "plain_dataset,distributed,classification,office_nat",
        "--fake-answer-lengths", "--concurrency", "16"))
    keys = rep["keys"]
    extraction = [k for k in keys if k["role"] == "extraction"]
    benign = [k for k in keys if k["role"] == "benign"]
    assert len(extraction) == 2 + 3 + 10 and len(benign) == 2 + 60, (len(extraction), len(benign))
    missed = [k["name"] for k in extraction if k["enforced"] == "ok" and k["detected_after"] is None]
    assert not missed, missed
    too_far = [k["name"] for k in benign if k["enforced"] not in ("ok", "notice")]
    assert not too_far, too_far
    office = [k for k in benign if k["workload"] == "office_nat"]
    assert all(k["enforced"] == "ok" and k["refused_suspended"] == 0 for k in office), \
        [k for k in office if k["enforced"] != "ok"]
    assert sim.verify().returncode == 0


def test_a_red_teams_families_through_the_gateway(sim, tmp_path):
    """Families written apart from the monitor (a slice of the third red
    team, tests/fixtures/redteam3_slice.json.gz) through the real gateway on
    the simulated clock, prompt tokens counted by the fake upstream over the
    whole request: an instruction in each picture under a stock line of text
    is that many instructions; threads whose every turn is a new instruction
    are held against each turn's own words, the history being context; a
    translation desk is not acted on beyond a notice."""
    scenario = tmp_path / "redteam3_slice.json"
    scenario.write_bytes(gzip.decompress((FIXTURES / "redteam3_slice.json.gz").read_bytes()))
    rep = traffic(sim, tmp_path, extra=(
        "--scenario", str(scenario), "--family-cap", "300", "--fake-answer-lengths", "--concurrency", "16"))
    keys = rep["keys"]
    by = {}
    for k in keys:
        by.setdefault(k["workload"], []).append(k)
    assert {w: len(v) for w, v in by.items()} == {"image_prompts": 2, "multiturn_threads": 2, "translation_desk": 2}
    assert rep["summary"]["requests"] == 1200, rep["summary"]
    missed = [(k["workload"], k["score"]) for k in by["image_prompts"] + by["multiturn_threads"]
              if k["enforced"] == "ok" and k["detected_after"] is None]
    assert not missed, missed
    assert all(k["enforced"] in ("ok", "notice") for k in by["translation_desk"]), by["translation_desk"]
    assert sim.verify().returncode == 0


def test_instructions_written_in_the_models_name_through_the_gateway(sim, tmp_path):
    """A slice of the sixth red team (tests/fixtures/redteam6_slice.json.gz)
    through the real gateway on the simulated clock: an instruction in a
    made-up assistant turn, in an answer's opening for the model to go on
    from, or in the result of a tool call the model never made, is asked
    (the turns are not among the key's answers, which the ledger holds);
    the benign twin, a helpdesk agent writing up one made-up tool round a
    ticket, is taken no further than a notice."""
    scenario = tmp_path / "redteam6_slice.json"
    scenario.write_bytes(gzip.decompress((FIXTURES / "redteam6_slice.json.gz").read_bytes()))
    rep = traffic(sim, tmp_path, extra=(
        "--scenario", str(scenario), "--family-cap", "150", "--fake-answer-lengths", "--concurrency", "16"))
    by = {}
    for k in rep["keys"]:
        by.setdefault(k["workload"], []).append(k)
    assert {w: len(v) for w, v in by.items()} == {
        "planted_assistant": 2, "prefill_headings": 2, "queue_worker": 2, "helpdesk_queue_agent": 2}
    assert rep["summary"]["requests"] == 1200, rep["summary"]
    missed = [(k["workload"], k["score"]) for w in ("planted_assistant", "prefill_headings", "queue_worker")
              for k in by[w] if k["enforced"] == "ok" and k["detected_after"] is None]
    assert not missed, missed
    assert all(k["enforced"] in ("ok", "notice") for k in by["helpdesk_queue_agent"]), by["helpdesk_queue_agent"]
    assert sim.verify().returncode == 0


def test_a_client_that_sends_the_models_answers_back_is_one_conversation(sim):
    """Two story apps through the gateway, each sending the last chapter
    back as the model's turn before the same line: one sends the answers
    the gateway gave it (the monitor remembers them from the ledger's
    records), the other chapters it wrote itself. The first asks one thing
    over and over; the second asks a new thing each time."""
    own_secret, written_secret = sim.create_key(team="story-own"), sim.create_key(team="story-written")
    system = {"role": "system", "content": "You write bedtime stories, a chapter at a time."}
    nxt = {"role": "user", "content": "Write the next chapter."}
    own = openai.OpenAI(base_url=sim.url + "/v1", api_key=own_secret, max_retries=0)
    written = openai.OpenAI(base_url=sim.url + "/v1", api_key=written_secret, max_retries=0)
    r = own.chat.completions.create(model="gpt-4o-mini", messages=[system, {"role": "user", "content": "Start a story."}])
    last = r.choices[0].message.content
    for i in range(24):
        r = own.chat.completions.create(model="gpt-4o-mini", messages=[system, {"role": "assistant", "content": last}, nxt])
        last = r.choices[0].message.content
        made_up = f"Chapter {i}: the fox crossed river number {i} and met a heron who knew the way home."
        written.chat.completions.create(model="gpt-4o-mini", messages=[system, {"role": "assistant", "content": made_up}, nxt])
    keys = {k["team"]: k["id"] for k in json.loads(sim.cli("keys", "list", "--json").stdout)}

    def distinct(team):
        rep = admin(sim, "GET", "/monitor").json()
        a = next((a for a in rep if a["kind"] == "key" and a["key_id"] == keys[team]), None)
        h = a and next((x for x in a["signals"] if x["name"] == "harvest"), None)
        return None if h is None else round(h["value"] * 200)

    deadline = time.time() + 20
    while time.time() < deadline and (distinct("story-written") or 0) < 5:
        time.sleep(0.2)
    # The fake upstream answers from 40 GPT-4 answers, some under 100 tokens
    # (not at length): the written chapters are as many instructions as
    # long answers, the returned ones one (and the opening request).
    assert distinct("story-written") >= 5, distinct("story-written")
    assert distinct("story-own") <= 2, distinct("story-own")


def test_end_users_known_sets_and_disjoint_slices_through_the_gateway(sim, tmp_path):
    """Tuning families that need what the request says beyond its text,
    through the real gateway: a product key harvesting under invented end
    users (`user`), ten keys of ten teams asking disjoint slices of the
    built-in set hours apart (never in step), and an internal assistant
    naming its employees, whose harvest is counted per end user."""
    rep = traffic(sim, tmp_path, seed=43, extra=(
        "--families", "--family-keys", "2", "--family-cap", "200", "--users", "0",
        "--only", "rotating_users,staggered_pool,assistant",
        "--fake-answer-lengths", "--concurrency", "16"))
    keys = rep["keys"]
    by = {}
    for k in keys:
        by.setdefault(k["workload"], []).append(k)
    assert len(by["rotating_users"]) == 2 and len(by["staggered_pool"]) == 10 and len(by["assistant"]) == 1
    missed = [k["name"] for k in by["rotating_users"] + by["staggered_pool"]
              if k["enforced"] == "ok" and k["detected_after"] is None]
    assert not missed, missed
    assert all(k["enforced"] in ("ok", "notice") for k in by["assistant"]), by["assistant"]
    api = {a["key_id"]: a for a in admin(sim, "GET", "/monitor").json()}
    # The disjoint slices made one actor of keys that never ran together:
    # the ledger's ladder steps on them name a cluster linked that way (the
    # cluster itself is gone from the report once its slices left the
    # window).
    stagger = {k["key_id"] for k in by["staggered_pool"]}
    steps = [json.loads(r["detail"]) for r in sim.records(kind="event")
             if r["endpoint"].startswith("monitor.") and r["key_id"] in stagger]
    pooled = [d for d in steps if d["actor"].startswith("cluster:")
              and any(s["name"] == "pool_split" and s["value"] > 0 for s in d["signals"])]
    assert pooled, [(d["actor"], d["level"]) for d in steps]
    # The assistant's harvest is counted per named end user (from the
    # requests' `user`, as the ledger holds them).
    a = api[by["assistant"][0]["key_id"]]
    h = next(s for s in a["signals"] if s["name"] == "harvest")
    assert "end users" in h["detail"], h["detail"]
    # A rotating key asked the built-in set: named in its explanation.
    r = api[by["rotating_users"][0]["key_id"]]
    p = next(s for s in r["signals"] if s["name"] == "public_set")
    assert "alpaca_eval" in p["detail"] and p["value"] > 0.5, p
    assert sim.verify().returncode == 0
