"""Driver for bench/gateway_floor.sh: see there. The gateway against the
floor of what a proxy with a durable, chained record can do, on a near-free
upstream (nginx returning a fixed chat answer). Prints a Markdown table and
appends it to bench/RESULTS.md; with --profile, also a perf profile of
Proviso at 1 and 32 connections.

For experiments (not used by the recorded runs): FLOOR_BARE_ARGS adds
arguments to the bare proxy with the record (e.g. "--wal-checkpoint-ms 50"),
FLOOR_EXTRA_TOML adds sections to the configuration of every Proviso run,
the baseline's too (a backslash-n for a new line, e.g.
'[ledger]\\nwal_checkpoint_interval_ms = 50'). A run with either set says so
in the command it records.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gateway_profile  # noqa: E402
from common import append_results, free_port, wait_port  # noqa: E402

PERF_HZ = 499

BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Write a short note about rivers."}]})

# A chat answer of about 0.9 KB, as an upstream would send it.
ANSWER = json.dumps({
    "id": "chatcmpl-floor0000000000000000000000",
    "object": "chat.completion",
    "created": 1764979200,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": (
            "Rivers are the arteries of the land. They gather rain and snowmelt from vast basins, carve "
            "valleys over millennia, and carry sediment that builds deltas and fertile plains. Cities grew "
            "along their banks because rivers offered water, food, transport and power. Today they face "
            "pollution, dams that fragment habitats, and droughts made worse by a warming climate. Restoring "
            "floodplains, removing obsolete dams and cutting runoff from farms help rivers recover, and the "
            "fish, birds and people who depend on them recover with them."),
            "refusal": None},
        "logprobs": None,
        "finish_reason": "stop",
    }],
    "usage": {"prompt_tokens": 14, "completion_tokens": 112, "total_tokens": 126},
    "system_fingerprint": "fp_0000000000",
}, separators=(",", ":"))

WRK_LUA = r"""
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY")
if key ~= nil and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"non2xx":%d,"errors":%d,"p50":%d,"p99":%d,"p999":%d,"mean":%f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.mean))
end
"""


def start(cmd, cpu, log, env=None):
    return subprocess.Popen(["taskset", "-c", str(cpu), *cmd], stdout=log, stderr=subprocess.STDOUT, env=env)


def wrk(url, key, seconds, conns, lua):
    env = {**os.environ, "BENCH_BODY": BODY, "BENCH_KEY": key or ""}
    cmd = ["taskset", "-c", "0", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(lua), url]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    j = json.loads(out.stdout.strip().splitlines()[-1])
    ok = j["requests"] - j["non2xx"]
    return {"rps": ok / (j["duration_us"] / 1e6), "p50": j["p50"] / 1e3, "p99": j["p99"] / 1e3,
            "ok": ok, "errors": j["non2xx"] + j["errors"]}


def rss_kb(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def monitor_counts(base: str) -> dict:
    """The monitor's counters from a gateway's /metrics (0 for any it does
    not have)."""
    import urllib.request
    text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    out = {}
    for name in ("queued", "processed", "dropped", "backfilled", "observed", "unread"):
        for line in text.splitlines():
            if line.startswith((f"proviso_monitor_{name}_total ", f"proviso_monitor_{name} ")):
                out[name] = int(float(line.split()[1]))
        out.setdefault(name, 0)
    return out


def nginx_conf(tmp: Path, port: int) -> Path:
    (tmp / "answer.json").write_text(ANSWER)
    conf = tmp / "nginx.conf"
    esc = ANSWER.replace("'", "\\'")
    conf.write_text(f"""
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  keepalive_requests 10000000;
  server {{
    listen 127.0.0.1:{port};
    location = /v1/chat/completions {{
      default_type application/json;
      return 200 '{esc}';
    }}
  }}
}}
""")
    return conf


def proviso_conf(tmp: Path, name: str, port: int, nport: int, follow: bool) -> Path:
    cfg = tmp / f"{name}.toml"
    cfg.write_text(
        f'data_dir = "{tmp / name}"\n[server]\nlisten = "127.0.0.1:{port}"\nworker_threads = 1\n'
        f'[log]\nlevel = "warn"\n'
        f'[index]\nfollow = {"true" if follow else "false"}\n'
        + "\n" + os.environ.get("FLOOR_EXTRA_TOML", "").replace("\\n", "\n") + "\n" +
        f'[[upstreams]]\nname = "nginx"\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:{nport}/v1"\n'
        f'models = ["gpt-4o-mini"]\n')
    return cfg


def perf_profile(pid: int, url: str, key: str, conns: int, seconds: int, lua: Path, out: Path) -> tuple[dict, list]:
    """Samples the gateway's process (DWARF call graphs: the release build
    keeps no frame pointers) while wrk drives it; writes `perf report`'s
    self time by symbol to `out` and inclusive time to `out`.children.txt.
    Returns the run's throughput and latencies (lower than unprofiled) and
    its CPU per request by stage (bench/gateway_profile.py)."""
    data = out.with_suffix(".data")
    # perf starts half a second before wrk and stops a second after it
    # began plus wrk's time: every request wrk counts falls in the window.
    rec = subprocess.Popen(["perf", "record", "-F", str(PERF_HZ), "--call-graph", "dwarf,16384", "-p", str(pid), "-o", str(data),
                            "--", "sleep", str(seconds + 1)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    r = wrk(url, key, seconds, conns, lua)
    rec.wait()
    for name, args in ((out, ["--no-children", "--sort", "dso,symbol", "--percent-limit", "0.5"]),
                       (out.with_suffix(".children.txt"), ["--children", "--sort", "symbol", "--percent-limit", "1"])):
        rep = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "-g", "none", *args], capture_output=True, text=True)
        name.write_text(rep.stdout)
    # The samples cover all of wrk's requests (and the half second on each
    # side, when the gateway finishes what they left it).
    by_stage = gateway_profile.stages(str(data), r["ok"], PERF_HZ)
    data.unlink(missing_ok=True)
    return r, by_stage


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--profile", help="directory to write perf reports of Proviso into")
    ap.add_argument("--only", help="comma-separated subset of the targets (direct, bare, bare+ledger, proviso-nofollow, "
                    "proviso, base-nofollow, base)")
    ap.add_argument("--baseline", help="a directory holding another build's `proviso`: it runs beside this one, "
                    "follower off and on, in the same rounds")
    ap.add_argument("--no-results", action="store_true", help="print, do not write bench/RESULTS.md")
    a = ap.parse_args()
    bins = Path(a.bin_dir)
    tmp = Path(tempfile.mkdtemp(prefix="proviso-floor-"))
    lua = tmp / "post.lua"
    lua.write_text(WRK_LUA)
    logs = open(tmp / "servers.log", "w")
    procs = {}
    sampling = None
    try:
        nport = free_port()
        procs["nginx"] = start(["nginx", "-c", str(nginx_conf(tmp, nport)), "-p", str(tmp)], 0, logs)
        wait_port(nport)
        upstream = f"http://127.0.0.1:{nport}"
        targets = {"direct (nginx)": (f"{upstream}/v1/chat/completions", None, None)}
        port = free_port()
        procs["bare"] = start([str(bins / "proviso-bare-proxy"), "--listen", f"127.0.0.1:{port}", "--upstream", upstream], 1, logs)
        targets["bare proxy"] = (f"http://127.0.0.1:{port}/v1/chat/completions", None, "bare")
        port = free_port()
        procs["bare+ledger"] = start([str(bins / "proviso-bare-proxy"), "--listen", f"127.0.0.1:{port}", "--upstream", upstream,
                                      "--ledger", str(tmp / "bare-ledger.db")] + os.environ.get("FLOOR_BARE_ARGS", "").split(), 1, logs)
        targets["bare proxy + chained SQLite record"] = (f"http://127.0.0.1:{port}/v1/chat/completions", None, "bare+ledger")
        cfgs = {}
        builds = [("proviso", bins, "Proviso")]
        if a.baseline:
            builds.append(("base", Path(a.baseline), "Proviso at the baseline build"))
        for prefix, bdir, what in builds:
            for name, follow in ((f"{prefix}-nofollow", False), (prefix, True)):
                port = free_port()
                cfg = proviso_conf(tmp, name, port, nport, follow)
                cfgs[name] = (cfg, bdir)
                key = json.loads(subprocess.run([str(bdir / "proviso"), "--config", str(cfg), "keys", "create", "--team", "bench",
                                                 "--json"], capture_output=True, text=True, check=True).stdout)["secret"]
                procs[name] = start([str(bdir / "proviso"), "--config", str(cfg), "serve"], 1, logs)
                label = f"{what}, follower off" if not follow else f"{what}, defaults (follower on)"
                targets[label] = (f"http://127.0.0.1:{port}/v1/chat/completions", key, name)
        for p in [nport] + [int(u.rsplit(":", 1)[1].split("/")[0]) for u, _, _ in targets.values()]:
            wait_port(p)
        if a.only:
            keep = a.only.split(",")
            for name in [n for n in procs if n != "nginx" and n not in keep]:  # not measured: not left on core 1
                p = procs.pop(name)
                p.terminate()
                p.wait(timeout=20)
                cfgs.pop(name, None)
            targets = {k: v for k, v in targets.items() if v[2] in keep or (v[2] is None and "direct" in keep)}
        for name, (url, key, _) in targets.items():  # warm up, check it answers
            r = wrk(url, key, 2, 8, lua)
            assert r["ok"] > 0 and r["errors"] == 0, f"{name} did not answer cleanly: {r}"

        # The write-ahead log of each ledger, sampled every 5 ms through the
        # measured runs: its bound (`[ledger] wal_max_bytes`, 4 MiB by
        # default) must hold under load.
        wals = {"bare+ledger": tmp / "bare-ledger.db-wal"}
        wals.update({n: tmp / n / "ledger.db-wal" for n in cfgs})
        peak_wal = {n: 0 for n in wals}
        sampling = threading.Event()

        def sample_wals():
            os.sched_setaffinity(0, {0})  # beside the load, off the gateway's core
            while not sampling.is_set():
                for n, w in wals.items():
                    try:
                        peak_wal[n] = max(peak_wal[n], w.stat().st_size)
                    except OSError:
                        pass
                time.sleep(0.005)

        sampler = threading.Thread(target=sample_wals, daemon=True)
        sampler.start()
        runs = {name: {32: [], 1: []} for name in targets}
        for rnd in range(a.rounds):
            for name, (url, key, _) in targets.items():
                for conns in (32, 1):
                    r = wrk(url, key, a.seconds, conns, lua)
                    runs[name][conns].append(r)
                    print(f"round {rnd + 1} {name} c={conns}: {r['rps']:.0f} req/s p50 {r['p50']:.3f} p99 {r['p99']:.3f} ms err {r['errors']}",
                          flush=True)
        sampling.set()
        sampler.join()
        mem = {}
        for name, (_, _, proc) in targets.items():
            if proc:
                mem[name] = (rss_kb(procs[proc].pid, "VmHWM"), rss_kb(procs[proc].pid, "VmRSS"))
        profiles = {}
        if a.profile:
            pdir = Path(a.profile)
            pdir.mkdir(parents=True, exist_ok=True)
            for name, (url, key, proc) in targets.items():
                if proc in ("bare+ledger", "proviso", "proviso-nofollow"):
                    for conns in (32, 1):
                        out = pdir / f"{proc}-c{conns}.txt"
                        r, by_stage = perf_profile(procs[proc].pid, url, key, conns, a.seconds, lua, out)
                        profiles[(proc, conns)] = (out, r, name, by_stage)
        verify = {n: subprocess.run([str(b / "proviso"), "--config", str(c), "ledger", "verify"], capture_output=True, text=True)
                  for n, (c, b) in cfgs.items()}
        # How far the follower got: the last record its ledger segments cover.
        indexed = {}
        for n in cfgs:
            ends = [int(p.stem.rsplit("-", 1)[1]) for p in (tmp / n / "index").glob("ledger-*.pvx")]
            indexed[n] = (max(ends) if ends else 0, len(ends))
        # The monitor of each Proviso: what it took from its queue, what the
        # full queue dropped and (builds that read drops back from the
        # ledger) what it read back, when the load stopped and once it has
        # caught up (waited for up to 120 s).
        monitors = {}
        for label, (url, _, proc) in targets.items():
            if proc and proc.startswith(("proviso", "base")):
                base = url.rsplit("/v1/", 1)[0]
                stopped = monitor_counts(base)
                t0, after = time.time(), stopped
                while time.time() - t0 < 120 and after.get("unread", 0) + after["queued"] - after["processed"] > 0:
                    time.sleep(0.5)
                    after = monitor_counts(base)
                monitors[label] = (stopped, after, time.time() - t0)
    finally:
        if sampling is not None:
            sampling.set()
        for p in procs.values():
            p.send_signal(signal.SIGTERM if p is not procs.get("nginx") else signal.SIGQUIT)
        for p in procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

    def med(xs, k):
        return statistics.median(x[k] for x in xs)

    direct = runs.get("direct (nginx)")
    lines = ["| path | req/s at 32 conns | p50 / p99 at 32 | p50 / p99 at 1 conn | added at 1 conn p50 / p99 | peak / end RSS "
             "| peak WAL | errors |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in runs.items():
        added = "—"
        if direct and name != "direct (nginx)":
            added = (f"+{(med(r[1], 'p50') - med(direct[1], 'p50')) * 1e3:.0f} µs / "
                     f"+{(med(r[1], 'p99') - med(direct[1], 'p99')) * 1e3:.0f} µs")
        m = mem.get(name)
        memcell = f"{m[0] / 1024:.0f} / {m[1] / 1024:.0f} MiB" if m else "—"
        errs = sum(x["errors"] for c in (32, 1) for x in r[c])
        proc = targets[name][2]
        walcell = f"{peak_wal[proc] / 2**20:.1f} MiB" if proc in peak_wal else "—"
        lines.append(f"| {name} | {med(r[32], 'rps'):,.0f} | {med(r[32], 'p50'):.2f} / {med(r[32], 'p99'):.2f} ms | "
                     f"{med(r[1], 'p50') * 1e3:.0f} / {med(r[1], 'p99') * 1e3:.0f} µs | {added} | {memcell} | {walcell} | {errs} |")
    table = "\n".join(lines)
    ver = "\n".join(f"- {n}: `{v.stdout.strip() or v.stderr.strip()}`; the follower had indexed through record "
                    f"{indexed[n][0]:,} in {indexed[n][1]} ledger segments" for n, v in verify.items())
    nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    body = (
        f"Upstream: {nginx_v} (`worker_processes 1`) returning a fixed {len(ANSWER)}-byte chat completion; load from "
        f"{wrk_v.split(' [')[0]} (one thread, a Lua script posting a {len(BODY)}-byte chat request). Pinned: nginx and wrk on core 0; "
        "the gateway under test on core 1 with one worker thread (Proviso `worker_threads = 1`, ledger on in SQLite, "
        "every response released after its record commits; `proviso-bare-proxy --threads 1`). "
        f"Median of {a.rounds} rounds of {a.seconds} s per cell; the paths alternate within each round. "
        "The bare proxy is Proviso's own HTTP stack (axum server, reqwest client) forwarding the body and nothing else; "
        "with the chained record it also commits each exchange through Proviso's ledger writer (SQLite WAL, group commit, "
        "SHA-256 chain) before answering: the floor a durable, chained record allows. "
        "Peak WAL: the largest the ledger's write-ahead log file was, sampled every 5 ms through all the runs "
        "(its bound, `[ledger] wal_max_bytes`, is 4 MiB by default; it is passed by what arrives before the "
        "restart).\n\n"
        f"{table}\n\nLedgers after the run:\n{ver}\n")
    if monitors:
        body += ("\nThe monitor (its counters when the load stopped, and when it had caught up: nothing queued or "
                 "dropped left to observe, waited for up to 120 s; a build that does not read drops back shows 0 read "
                 "back):\n" + "\n".join(
                     f"- {label}: stopped: {st['queued'] + st['dropped']:,} exchanges offered, {st['processed']:,} taken "
                     f"from the queue, {st['dropped']:,} dropped, {st['backfilled']:,} read back; caught up after {t:.1f} s: "
                     f"{af['processed']:,} taken, {af['backfilled']:,} read back, {af['observed']:,} observed in all "
                     f"(with the ledger replayed at start)"
                     for label, (st, af, t) in monitors.items()) + "\n")
    if profiles:
        body += (f"\nperf profiles (`perf record -F {PERF_HZ} --call-graph dwarf`; the profiled run's own rate beside each):\n"
                 + "\n".join(f"- `{p}` (and `.children.txt`): {r['rps']:,.0f} req/s, p50 {r['p50']:.3f} ms"
                              for p, r, _, _ in profiles.values()) + "\n")
        for conns in (32, 1):
            cols = {f"{label} ({r['rps']:,.0f} req/s)": st for (_, c), (_, r, label, st) in profiles.items() if c == conns}
            if cols:
                body += (f"\nCPU per request by stage at {conns} connection{'s' if conns > 1 else ''} (all of the process's "
                         "threads, on its one core; `bench/gateway_profile.py`: each sample goes to the first stage whose "
                         "frames it holds):\n\n" + gateway_profile.table(cols) + "\n")
    print(body)
    if not a.no_results:
        extra = (" --baseline DIR" if a.baseline else "") + (f" --only {a.only}" if a.only else "")
        for knob in ("FLOOR_BARE_ARGS", "FLOOR_EXTRA_TOML"):
            if os.environ.get(knob):
                extra = f"{knob}={os.environ[knob]!r} " + extra
        append_results("Gateway: the floor on a near-free upstream", f"bench/gateway_floor.sh {a.seconds} {a.rounds}{extra}", body)


if __name__ == "__main__":
    main()
