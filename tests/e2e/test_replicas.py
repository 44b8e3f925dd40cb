"""Several `proviso serve` replicas on one PostgreSQL ledger (issue 22):
one chain for all of them, the sequencer killed mid-load and taken over,
and a PostgreSQL stopped mid-load (one this test starts itself)."""

import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest

from conftest import Proviso, burst, free_port, harvest, metric

PG_ADMIN = os.environ.get("PROVISO_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# The sequencer's advisory lock: classid "PRVS", objid 2.
LOCK_CLASS, LOCK_OBJ = 0x50525653, 2


def psql(url: str, sql: str) -> str:
    r = subprocess.run(["psql", url, "-tAc", sql], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"psql {sql!r}: {r.stderr}"
    return r.stdout.strip()


@pytest.fixture
def pgdb():
    """A fresh database on the machine's PostgreSQL, dropped afterwards."""
    name = f"proviso_e2e_{os.getpid()}_{random.randrange(1 << 30)}"
    psql(PG_ADMIN, f"CREATE DATABASE {name}")
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    psql(PG_ADMIN, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def replica(tmp: Path, i: int, upstream: str, url: str, keys: Path | None, extra: str = "", **kw) -> Proviso:
    """A replica on the shared ledger; keys in the file `keys` (one machine)
    or, with None, in PostgreSQL too (the deployment across machines)."""
    d = tmp / f"r{i}"
    d.mkdir()
    where = f'path = "{keys}"' if keys else f'url = "{url}"'
    return Proviso(
        d, upstream,
        ledger_extra=f'url = "{url}"\nreplica = "r{i}"\nstatement_timeout_ms = 2000\n',
        extra=f'[keys]\n{where}\n' + extra,
        **kw,
    )


def sequencer_holder(url: str) -> str:
    """The replica whose session holds the sequencer's lock, or ''."""
    return psql(
        url,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        f"WHERE l.locktype = 'advisory' AND l.classid::bigint = {LOCK_CLASS} "
        f"AND l.objid::bigint = {LOCK_OBJ} AND l.granted",
    )


def wait_until(ok, what: str, timeout: float = 30.0):
    deadline = time.time() + timeout
    while True:
        v = ok()
        if v:
            return v
        assert time.time() < deadline, f"timed out: {what}"
        time.sleep(0.05)


def ask(url: str, key: str, text: str):
    c = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)
    raw = c.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
    return raw.headers["x-proviso-record-id"], raw.parse()


def exported_ids(gw: Proviso) -> list[str]:
    return [r["id"] for r in gw.records(kind=None)]


def test_three_replicas_one_chain_and_the_sequencer_killed_mid_load(tmp_path, fake, pgdb):
    keys = tmp_path / "keys.db"
    gws = [replica(tmp_path, i, fake.url, pgdb, keys) for i in range(3)]
    try:
        key = gws[0].create_key()
        holder = wait_until(lambda: sequencer_holder(pgdb), "a sequencer is elected")
        victim = int(holder.split(":")[1][1:])  # application_name "proviso:r<i>"
        received: list[str] = []
        refused: list[str] = []
        lock = threading.Lock()
        killed = threading.Event()
        sent = [0]

        def client(n: int):
            for j in range(24):
                for attempt in range(3):
                    g = gws[(n + j + attempt) % 3]
                    try:
                        rid, _ = ask(g.url, key, f"client {n} request {j}")
                    except (openai.APIConnectionError, httpx.HTTPError):
                        continue  # that replica is gone: the client tries another
                    except openai.APIStatusError as e:
                        with lock:
                            refused.append(f"{e.status_code}")
                        break
                    with lock:
                        received.append(rid)
                        sent[0] += 1
                        if sent[0] == 120 and not killed.is_set():
                            killed.set()
                            gws[victim].proc.send_signal(signal.SIGKILL)
                    break

        threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert killed.is_set()
        gws[victim].proc.wait(timeout=10)
        alive = [g for i, g in enumerate(gws) if i != victim]
        new_holder = wait_until(lambda: (h := sequencer_holder(pgdb)) not in ("", holder) and h,
                                "another replica takes over")
        assert new_holder != holder
        print("holder", holder, "->", new_holder, "received", len(received), "refused", refused)
        wait_until(lambda: psql(pgdb, "SELECT count(*) FROM ledger_pending") == "0",
                   "the queue is drained by the new sequencer")
        assert len(received) >= 16 * 24 - 40, (len(received), refused)
        ids = exported_ids(alive[0])
        assert len(ids) == len(set(ids)), "no record appears twice"
        missing = set(received) - set(ids)
        assert not missing, f"{len(missing)} acknowledged answers are not in the ledger"
        v = alive[1].verify()
        assert v.returncode == 0, v.stdout + v.stderr
        assert "intact" in v.stdout
        seqs = [int(r["seq"]) for r in alive[0].records(kind=None)]
        assert seqs == list(range(1, len(seqs) + 1)), "contiguous sequence numbers"
    finally:
        for g in gws:
            g.stop()


class OwnPostgres:
    """A PostgreSQL server of the test's own (initdb and pg_ctl on a free
    port): it may be stopped without touching the machine's."""

    def __init__(self, options: str = "", setup=None):
        """`options`: server settings (`-c name=value …`); `setup(self)`
        runs between initdb and the first start (to write pg_hba.conf,
        certificates)."""
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="proviso-pg-"))
        self.data = self.dir / "data"
        self.options = options
        self.as_root = os.geteuid() == 0
        if self.as_root:  # initdb refuses to run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        if setup:
            setup(self)
        self.start()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *cmd: str):
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        r = subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"{cmd}: {r.stdout} {r.stderr}"

    def start(self):
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w",
                 "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 {self.options}",
                 "start")

    def give(self, path: Path, mode: int = 0o600):
        """Makes a file the server's own (a key file must be)."""
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, mode)

    def stop(self):
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self):
        try:
            self.stop()
        except AssertionError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_pg():
    if not shutil.which("pg_ctl") or not shutil.which("initdb"):
        pytest.fail("initdb and pg_ctl are needed (Debian's postgresql package)")
    pg = OwnPostgres()
    yield pg
    pg.destroy()


def test_postgres_stopped_mid_load_fails_closed_and_loses_nothing(tmp_path, fake, own_pg):
    gw = replica(tmp_path, 0, fake.url, own_pg.url, tmp_path / "keys.db")
    try:
        key = gw.create_key()
        received = [ask(gw.url, key, f"before {i}")[0] for i in range(10)]
        own_pg.stop()
        codes = []
        for i in range(5):
            try:
                ask(gw.url, key, f"during {i}")
                codes.append(200)
            except openai.APIStatusError as e:
                codes.append(e.status_code)
                assert e.response.json()["error"]["code"] == "ledger_unavailable"
                assert e.response.headers.get("retry-after")
        assert codes == [503] * 5, codes
        own_pg.start()
        rid = wait_until(lambda: _try(gw.url, key), "service resumes", timeout=30)
        received.append(rid)
        received += [ask(gw.url, key, f"after {i}")[0] for i in range(10)]
        wait_until(lambda: psql(own_pg.url, "SELECT count(*) FROM ledger_pending") == "0",
                   "queue drained")
        recs = gw.records(kind=None)
        ids = [r["id"] for r in recs]
        assert len(ids) == len(set(ids))
        assert set(received) <= set(ids), "every acknowledged answer is in the ledger"
        withheld = [r for r in recs if r["kind"] == "exchange" and r["outcome"] == "withheld"]
        refused = [r for r in recs if r["kind"] == "exchange" and r["status"] == 503]
        assert len(withheld) + len(refused) >= 5, "the refusals are recorded too, once back"
        v = gw.verify()
        assert v.returncode == 0, v.stdout + v.stderr
    finally:
        gw.stop()


def _try(url: str, key: str):
    try:
        return ask(url, key, "are you back")[0]
    except openai.APIStatusError:
        return None


def test_keys_in_postgres_a_revocation_through_one_replica_is_refused_by_all_at_once(tmp_path, fake, pgdb):
    admin = "a" * 32
    gws = [replica(tmp_path, i, fake.url, pgdb, None, extra=f'[admin]\ntoken = "{admin}"\n')
           for i in range(3)]
    try:
        # Polling is slowed to a minute: only the announcement can be quick.
        for g in gws:
            g.stop()
            g.config.write_text(g.config.read_text().replace("key_refresh_ms = 100", "key_refresh_ms = 60000"))
            g.start()
        out = json.loads(gws[2].cli("keys", "create", "--team", "ml", "--json").stdout)
        key, kid = out["secret"], out["id"]
        # A key made through one replica's CLI works on every replica at once
        # (a miss in the cache is looked up).
        for g in gws:
            ask(g.url, key, "hello")
        # Usage is the deployment's, whichever replica is asked.
        wait_until(lambda: psql(pgdb, "SELECT count(*) FROM ledger_pending") == "0", "drained")
        usage = httpx.get(f"{gws[1].url}/admin/usage",
                          headers={"authorization": f"Bearer {admin}"}).json()
        assert [u["requests"] for u in usage if u["key_id"] == kid] == [3], usage
        r = httpx.post(f"{gws[1].url}/admin/keys/{kid}/revoke", json={"reason": "leaked"},
                       headers={"authorization": f"Bearer {admin}", "proviso-actor": "alice"})
        assert r.status_code == 200, r.text
        t0 = time.time()
        for g in (gws[0], gws[2]):
            def refused():
                try:
                    ask(g.url, key, "still?")
                    return False
                except openai.APIStatusError as e:
                    return e.status_code in (401, 403)
            wait_until(refused, "the revocation reaches every replica", timeout=5)
        assert time.time() - t0 < 5, "seen through the announcement, not the minute's poll"
        events = [r for r in gws[0].records(kind="event") if r["endpoint"] == "key.revoked"]
        assert len(events) == 1 and events[0]["key_id"] == kid
    finally:
        for g in gws:
            g.stop()


def test_a_shared_daily_limit_admits_exactly_its_number_across_replicas(tmp_path, fake, pgdb):
    prefix = f"proviso-test-{random.randrange(1 << 30):x}"
    quotas = (f'[quotas]\nbackend = "redis"\nredis_url = "redis://127.0.0.1:6379/"\nkey_prefix = "{prefix}"\n'
              '[quotas.teams.ml]\nrequests_per_day = 25\n')
    gws = [replica(tmp_path, i, fake.url, pgdb, None, extra=quotas) for i in range(3)]
    try:
        key = gws[0].create_key("ml")
        results: list[str] = []
        lock = threading.Lock()

        def client(n: int):
            for j in range(10):
                g = gws[(n + j) % 3]
                try:
                    ask(g.url, key, f"c{n} r{j}")
                    out = "ok"
                except openai.RateLimitError:
                    out = "429"
                with lock:
                    results.append(out)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count("ok") == 25 and results.count("429") == 65, results.count("ok")
        wait_until(lambda: psql(pgdb, "SELECT count(*) FROM ledger_pending") == "0", "drained")
        recs = gws[1].records()
        assert len(recs) == 90 and sum(r["status"] == 429 for r in recs) == 65
        assert gws[2].verify().returncode == 0
    finally:
        for g in gws:
            g.stop()
        keys = subprocess.run(["redis-cli", "--scan", "--pattern", f"{prefix}:*"], capture_output=True, text=True).stdout.split()
        if keys:
            subprocess.run(["redis-cli", "del", *keys], capture_output=True)


def lock_holder(url: str, obj: int) -> str:
    return psql(
        url,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        f"WHERE l.locktype = 'advisory' AND l.classid::bigint = {LOCK_CLASS} "
        f"AND l.objid::bigint = {obj} AND l.granted",
    )


def test_one_monitor_for_the_deployment_acts_once_everywhere_and_is_taken_over(tmp_path, fake, pgdb):
    token = "adm-deploy-0123456789"
    extra = (f'[admin]\ntoken = "{token}"\n'
             '[monitor]\nmin_requests = 10\nevaluate_every = 5\n'
             '[monitor.ladder]\nsuspend = "manual"\nrevoke = "off"\nthrottle_requests_per_minute = 2\n')
    sim = 'clock = "simulated"\ntrust_forwarded_for = true\n'
    gws = [replica(tmp_path, i, fake.url, pgdb, None, extra=extra, server_extra=sim,
                   serve_args=("--allow-simulated-clock",), monitor="") for i in range(2)]

    def admin(g, method, path, body=None):
        return httpx.request(method, g.url + "/admin" + path, json=body,
                             headers={"authorization": f"Bearer {token}"}, timeout=60)
    try:
        secret = gws[0].create_key(team="gen")
        kid = json.loads(gws[0].cli("keys", "list", "--json").stdout)[0]["id"]
        leader = wait_until(lambda: lock_holder(pgdb, 5), "a monitor is elected")
        t0 = admin(gws[0], "GET", "/clock").json()["now_ms"] + 86_400_000
        notice_on, limited_on = set(), set()
        deadline = time.time() + 40
        i = 0
        # Harvesting through both replicas in turn: the one monitor sees it
        # all, and its steps reach both.
        while time.time() < deadline and (len(notice_on) < 2 or len(limited_on) < 2) and i < 600:
            n = i % 2
            c = openai.OpenAI(base_url=gws[n].url + "/v1", api_key=secret, max_retries=0)
            try:
                r = harvest(c, i, t0)
                if r.headers.get("proviso-notice"):
                    notice_on.add(n)
            except openai.RateLimitError:
                limited_on.add(n)
            i += 1
            time.sleep(0.01)
        assert notice_on == {0, 1}, f"the notice reached clients of both replicas ({notice_on}, {i} requests)"
        assert limited_on == {0, 1}, f"the throttle holds on both replicas ({limited_on})"
        wait_until(lambda: psql(pgdb, "SELECT count(*) FROM ledger_pending") == "0", "drained")
        steps = [r["endpoint"] for r in gws[1].records(kind="event") if r["endpoint"].startswith("monitor.")]
        print("requests", i, "leader", leader, "steps", steps)
        assert steps.count("monitor.notice") == 1 and steps.count("monitor.throttle") == 1, steps
        # Any replica answers /admin/monitor with the deployment's report.
        for g in gws:
            def reported():
                rep = admin(g, "GET", "/monitor").json()
                return any(a.get("key_id") == kid and a.get("enforced") in ("notice", "throttle", "suspend", "revoke")
                           for a in rep)
            wait_until(reported, "the key is in every replica's /admin/monitor", timeout=10)
        # The monitor's replica dies: the other takes the job over, rebuilt
        # from the ledger, and still knows the key.
        victim = int(leader.split(":")[1][1:])
        gws[victim].proc.send_signal(signal.SIGKILL)
        gws[victim].proc.wait(timeout=10)
        other = gws[1 - victim]
        # The killed replica's session may hold the lock a moment longer.
        new = wait_until(lambda: (h := lock_holder(pgdb, 5)) not in ("", leader) and h,
                         "another replica runs the monitor")
        assert new != leader
        print("new monitor", new)
        def still_known():
            rep = admin(other, "GET", "/monitor").json()
            return any(a.get("key_id") == kid and a.get("enforced") != "ok" for a in rep)
        wait_until(still_known, "the new monitor rebuilt the key's state", timeout=20)
        steps = [r["endpoint"] for r in other.records(kind="event") if r["endpoint"].startswith("monitor.")]
        assert steps.count("monitor.notice") == 1, f"the take-over did not act again: {steps}"
    finally:
        for g in gws:
            g.stop()


def test_the_chains_feed_waits_for_a_full_monitor_queue_and_drops_nothing(tmp_path, fake, pgdb):
    """With a shared ledger the monitor is fed from the chain: a queue of
    one under 32 clients is full most of the time, and the feed waits for
    it (reading the record again) rather than dropping: the monitor
    observes every exchange, once."""
    extra = ('[monitor]\nqueue = 1\n[monitor.ladder]\nnotice = "off"\nthrottle = "off"\nsuspend = "off"\n')
    g = replica(tmp_path, 0, fake.url, pgdb, None, extra=extra, monitor="")
    try:
        secret = g.create_key()
        codes = burst(g.url, secret)
        assert codes == [200] * 200
        m = ""

        def observed_all():
            nonlocal m
            m = httpx.get(g.url + "/metrics").text
            return metric(m, "proviso_monitor_observed_total") >= 200
        wait_until(observed_all, "the monitor observes every exchange", timeout=60)
        assert metric(m, "proviso_monitor_observed_total") == 200, m
        assert metric(m, "proviso_monitor_dropped_total") == 0, m
    finally:
        g.stop()
