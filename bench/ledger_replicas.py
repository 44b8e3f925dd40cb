"""Driver for bench/ledger_replicas.sh: see there. Prints a Markdown table and
appends it to bench/RESULTS.md."""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import append_results, free_port, wait_port  # noqa: E402

PG_ADMIN = os.environ.get("PROVISO_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Write a short note about rivers."}]})


def psql(url, sql):
    r = subprocess.run(["psql", url, "-tAc", sql], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return r.stdout.strip()


def wrk(url, conns, seconds, key, tmp):
    lua = tmp / "post.lua"
    lua.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(BODY)}\n"
        'wrk.headers["content-type"] = "application/json"\n'
        + (f'wrk.headers["authorization"] = "Bearer {key}"\n' if key else "")
        + "done = function(summary, latency, requests)\n"
        '  io.write(string.format("JSON {\\"requests\\": %d, \\"non2xx\\": %d, \\"errors\\": %d, '
        '\\"p50\\": %f, \\"p99\\": %f, \\"secs\\": %f}\\n", summary.requests, summary.errors.status, '
        "summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, "
        "latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration / 1e6))\n"
        "end\n")
    return subprocess.Popen(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-s", str(lua), url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def oha(url, conns, seconds, rate, key):
    """A fixed request rate (open loop: latency counted from when each
    request was due, so a stall is not hidden by requests not sent)."""
    cmd = ["oha", "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-c", str(conns),
           "-q", str(rate), "--latency-correction", "-m", "POST", "-H", "content-type: application/json",
           "-d", BODY]
    if key:
        cmd += ["-H", f"authorization: Bearer {key}"]
    return subprocess.Popen([*cmd, url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def collect(p):
    out, _ = p.communicate(timeout=600)
    if out.lstrip().startswith("{"):  # oha
        o = json.loads(out)
        codes = o.get("statusCodeDistribution", {})
        ok = sum(v for k, v in codes.items() if k.startswith("2"))
        n = sum(codes.values())
        pct = o["latencyPercentiles"]
        return {"requests": n, "non2xx": n - ok, "errors": sum(o.get("errorDistribution", {}).values()),
                "p50": pct["p50"] * 1000, "p99": pct["p99"] * 1000, "secs": o["summary"]["total"]}
    m = re.search(r"^JSON (.*)$", out, re.M)
    if not m:
        raise RuntimeError(out)
    return json.loads(m.group(1))


class Gateway:
    def __init__(self, bin_dir, tmp, upstream, ledger, keys, name):
        self.port = free_port()
        self.dir = tmp / name
        self.dir.mkdir()
        self.config = self.dir / "proviso.toml"
        self.config.write_text(
            f'data_dir = "{self.dir / "data"}"\n'
            f'[server]\nlisten = "127.0.0.1:{self.port}"\n'
            f"[ledger]\n{ledger}"
            f'[keys]\npath = "{keys}"\n'
            '[index]\nfollow = false\n'
            f'[[upstreams]]\nname = "fake"\nkind = "openai-compatible"\nbase_url = "{upstream}/v1"\n'
            'models = ["gpt-4o-mini"]\n'
            '[monitor.ladder]\nnotice = "off"\nthrottle = "off"\nsuspend = "off"\n')
        self.bin = Path(bin_dir) / "proviso"
        self.log = open(self.dir / "log", "w")
        self.proc = subprocess.Popen([str(self.bin), "--config", str(self.config), "serve"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}/v1/chat/completions"

    def cli(self, *args):
        r = subprocess.run([str(self.bin), "--config", str(self.config), *args], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"{args}: {r.stderr}")
        return r.stdout

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def scenario(bin_dir, upstream, kind, n, conns, seconds, rate=None):
    """One run: `n` replicas on `kind`; wrk at `conns` connections, or oha
    at `rate` requests/s in all."""
    tmp = Path(tempfile.mkdtemp(prefix="proviso-bench-"))
    db = None
    if kind == "postgres":
        db = f"proviso_bench_{os.getpid()}_{random.randrange(1 << 30)}"
        psql(PG_ADMIN, f"CREATE DATABASE {db}")
        # Loopback: no TLS (the machine's server offers it, and libpq's
        # default would take it).
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db + "?sslmode=disable"
        ledger = lambda i: f'url = "{url}"\nreplica = "r{i}"\n'  # noqa: E731
    else:
        ledger = lambda i: ""  # noqa: E731
    keys = tmp / "keys.db"
    gws = [Gateway(bin_dir, tmp, upstream, ledger(i), keys, f"r{i}") for i in range(n)]
    try:
        key = json.loads(gws[0].cli("keys", "create", "--team", "bench", "--json"))["secret"]
        per = max(1, conns // n)
        if rate:
            procs = [oha(g.url, per, seconds, max(1, rate // n), key) for g in gws]
        else:
            procs = [wrk(g.url, per, seconds, key, g.dir) for g in gws]
        results = [collect(p) for p in procs]
        t_end = time.time()
        drain = 0.0
        if kind == "postgres":
            while psql(url, "SELECT count(*) FROM ledger_pending") != "0":
                time.sleep(0.05)
            drain = time.time() - t_end
    finally:
        for g in gws:
            g.stop()
    report = json.loads(gws[0].cli("ledger", "verify", "--json"))
    ok = sum(r["requests"] - r["non2xx"] for r in results)
    secs = max(r["secs"] for r in results)
    recorded = report["records"] - 1  # the key's creation event
    if db:
        psql(PG_ADMIN, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    return {
        "kind": kind, "n": n, "rps": ok / secs, "ok": ok,
        "non2xx": sum(r["non2xx"] for r in results), "errors": sum(r["errors"] for r in results),
        "p50": max(r["p50"] for r in results), "p99": max(r["p99"] for r in results),
        "recorded": recorded, "intact": not report["findings"], "drain": drain,
    }


def table(rows, base_rps=None, direct=None):
    lines = [
        "| ledger | replicas | records/s (answers recorded) | × SQLite | p50 ms | p99 ms | p99 added vs direct, ms "
        "| non-2xx | lost | chain | queue drained after load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lost = r["ok"] - r["recorded"] if r["recorded"] < r["ok"] else 0
        ratio = f"{r['rps'] / base_rps:.2f}" if base_rps else "—"
        added = f"{r['p99'] - direct['p99']:+.2f}" if direct else "—"
        lines.append(
            f"| {r['kind']} | {r['n']} | {r['rps']:,.0f} | {ratio} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{added} | {r['non2xx']} | {lost} | {'intact' if r['intact'] else 'DAMAGED'} | {r['drain']:.2f} s |")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--conns", type=int, default=48)
    ap.add_argument("--rate", type=int, default=2000, help="requests/s in all for the fixed-rate runs (0: none)")
    ap.add_argument("--bin-dir", required=True)
    a = ap.parse_args()
    fport = free_port()
    fake = subprocess.Popen([str(Path(a.bin_dir) / "proviso-fake-upstream"), "--port", str(fport)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(fport)
    upstream = f"http://127.0.0.1:{fport}"
    fixed = []
    try:
        tmp = Path(tempfile.mkdtemp(prefix="proviso-bench-"))
        direct = collect(wrk(f"{upstream}/v1/chat/completions", a.conns, a.seconds, None, tmp))
        rows = [scenario(a.bin_dir, upstream, k, n, a.conns, a.seconds)
                for k, n in [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 3)]]
        if a.rate:
            direct_rate = collect(oha(f"{upstream}/v1/chat/completions", a.conns, a.seconds, a.rate, None))
            fixed = [scenario(a.bin_dir, upstream, k, n, a.conns, a.seconds, rate=a.rate)
                     for k, n in [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 3)]]
    finally:
        fake.kill()
    base = rows[0]["rps"]
    lines = [
        f"Highest sustained rate: {a.conns} connections in all (`wrk -t1`, one per replica, connections split "
        f"evenly), {a.seconds} s each, nothing pinned: every replica, PostgreSQL 15 (the machine's, over loopback "
        "without TLS), the fake upstream and wrk share the 2 cores. Defaults otherwise (monitor on with its ladder "
        "off, index follower off). "
        f"The fake upstream direct at {a.conns} connections: {direct['requests'] / direct['secs']:,.0f} req/s, "
        f"p99 {direct['p99']:.2f} ms.",
        "",
        *table(rows, base, direct),
    ]
    if fixed:
        lines += ["", f"At a fixed rate: {a.rate:,} requests/s in all (`oha -q --latency-correction`: open loop, "
                  "latency counted from when each request was due, so a stall is not hidden by requests not sent; "
                  f"the rate split evenly over the replicas), {a.conns} connections in all, {a.seconds} s each. "
                  f"The fake upstream direct at that rate: p50 {direct_rate['p50']:.2f} ms, p99 {direct_rate['p99']:.2f} ms.",
                  "", *table(fixed, None, direct_rate)]
    lines.append("")
    lines.append("Lost = answers a client received (2xx) minus exchange records in the ledger after the queue drained "
                 "(records of refusals are also kept, so recorded may exceed received).")
    body = "\n".join(lines)
    print(body, flush=True)
    append_results("Shared ledger: replicas on PostgreSQL",
                   f"bench/ledger_replicas.sh {a.seconds} {a.conns} {a.rate}", body)


if __name__ == "__main__":
    main()
