"""Driver for bench/gateway.sh: see there. Prints a Markdown table and appends it
to bench/RESULTS.md."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, append_results, free_port, wait_port  # noqa: E402

MAX_CONNS = 512
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Write a short note about rivers."}]})


def start(cmd, cpu, log, env=None):
    return subprocess.Popen(["taskset", "-c", str(cpu), *cmd], stdout=log, stderr=subprocess.STDOUT, env=env)


def oha(url, headers, seconds, rate=None, conns=None):
    # Enough connections that the 20 ms upstream latency never caps the rate.
    conns = conns or max(64, int((rate or 0) * 0.05))
    cmd = ["taskset", "-c", "0", "oha", "--no-tui", "--output-format", "json", "-z", f"{seconds}s",
           "-c", str(conns), "-m", "POST", "-d", BODY, "-H", "content-type: application/json"]
    for h in headers:
        cmd += ["-H", h]
    if rate:
        cmd += ["-q", str(rate), "--latency-correction"]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    j = json.loads(out.stdout)
    codes = {int(k): v for k, v in (j.get("statusCodeDistribution") or {}).items()}
    # Requests still in flight when the run's time is up are aborted by oha; they are not errors.
    errs = {k: v for k, v in (j.get("errorDistribution") or {}).items() if "deadline" not in k}
    errors = sum(errs.values()) + sum(v for k, v in codes.items() if k >= 400)
    ok = codes.get(200, 0)
    pct = j.get("latencyPercentiles") or {}
    summ = j["summary"]
    return {
        "rps": ok / summ["total"] if summ.get("total") else 0.0,
        "p50": (pct.get("p50") or 0) * 1e3,
        "p99": (pct.get("p99") or 0) * 1e3,
        "ok": ok,
        "errors": errors,
    }


def rss_kb(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--litellm", required=True)
    ap.add_argument("--rates", default="100,500,1000,2000,4000,8000")
    a = ap.parse_args()
    bins = Path(a.bin_dir)
    tmp = Path(tempfile.mkdtemp(prefix="proviso-bench-"))
    logs = open(tmp / "servers.log", "w")
    procs = []
    try:
        fport, pport, lport = free_port(), free_port(), free_port()
        corpus = ROOT / "tests" / "fixtures" / "gpt4_outputs.json"
        procs.append(start([str(bins / "proviso-fake-upstream"), "--port", str(fport), "--latency-ms", "20",
                            "--corpus", str(corpus), "--threads", "1"], 0, logs))
        wait_port(fport)
        cfg = tmp / "proviso.toml"
        cfg.write_text(
            f'data_dir = "{tmp / "data"}"\n[server]\nlisten = "127.0.0.1:{pport}"\nworker_threads = 1\n'
            f'[log]\nlevel = "warn"\n'
            f'[index]\nfollow = false\n'
            f'[[upstreams]]\nname = "fake"\nkind = "openai-compatible"\nbase_url = "http://127.0.0.1:{fport}/v1"\n'
            f'models = ["gpt-4o-mini"]\n')
        prov = start([str(bins / "proviso"), "--config", str(cfg), "serve"], 1, logs)
        procs.append(prov)
        wait_port(pport)
        key = json.loads(subprocess.run([str(bins / "proviso"), "--config", str(cfg), "keys", "create", "--team", "bench", "--json"],
                                        capture_output=True, text=True, check=True).stdout)["secret"]
        lcfg = tmp / "litellm.yaml"
        lcfg.write_text(
            "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n"
            f"      api_base: http://127.0.0.1:{fport}/v1\n      api_key: fake\n")
        master = "sk-bench-0123456789abcdef0123456789abcdef"
        env = {**os.environ, "LITELLM_MASTER_KEY": master, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False",
               "LITELLM_LOG": "ERROR", "NO_DOCKER": "1"}
        lite = start([a.litellm, "--config", str(lcfg), "--port", str(lport), "--host", "127.0.0.1", "--num_workers", "1"], 1, logs, env)
        procs.append(lite)
        wait_port(lport, timeout=180)
        targets = {
            "direct": (f"http://127.0.0.1:{fport}/v1/chat/completions", []),
            "proviso": (f"http://127.0.0.1:{pport}/v1/chat/completions", [f"authorization: Bearer {key}"]),
            "litellm": (f"http://127.0.0.1:{lport}/v1/chat/completions", [f"authorization: Bearer {master}"]),
        }
        for name, (url, h) in targets.items():  # warm up, check it answers
            r = oha(url, h, 3, rate=50, conns=8)
            assert r["ok"] > 0, f"{name} did not answer: {r}"

        # 1. highest sustained rate at fixed concurrency
        maxes = {}
        for name, (url, h) in targets.items():
            maxes[name] = oha(url, h, min(a.seconds, 20), conns=MAX_CONNS)
        # 2. fixed rates
        rows = []
        for rate in [int(x) for x in a.rates.split(",")]:
            res = {}
            for name, (url, h) in targets.items():
                if name == "litellm" and rate > 2 * max(maxes["litellm"]["rps"], 50):
                    res[name] = None  # far past its capacity: skipped
                    continue
                res[name] = oha(url, h, a.seconds, rate=rate)
            rows.append((rate, res))
        peak = rss_kb(prov.pid, "VmHWM")
        now = rss_kb(prov.pid, "VmRSS")
        verify = subprocess.run([str(bins / "proviso"), "--config", str(cfg), "ledger", "verify"], capture_output=True, text=True)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

    def cell(r):
        if r is None:
            return "skipped (past capacity)"
        return f"{r['p50']:.2f} / {r['p99']:.2f} ms, {r['rps']:.0f} req/s, {r['errors']} err"

    lines = [
        "Fake upstream with 20 ms latency (`proviso-fake-upstream --threads 1`, answers from "
        "`tests/fixtures/gpt4_outputs.json`, mean 1.6 KB), chat request of 0.1 KB. Pinned: oha and the "
        "fake upstream on core 0; the gateway under test (Proviso `worker_threads = 1`, ledger on, SQLite WAL; "
        "LiteLLM `--num_workers 1`, master key, no database) on core 1. Both authenticate a client key. "
        "Proviso runs its default policy (provider packs, then allow) and, like LiteLLM, no quotas or masking; "
        "its index follower is off (it shares the pinned core otherwise; it indexes off the request path). Release build. "
        f"oha at fixed rates with `--latency-correction`, {a.seconds} s per rate, max(64, rate × 0.05) connections.",
        "",
        "| rate (req/s) | direct p50 / p99 | Proviso p50 / p99 | LiteLLM p50 / p99 | Proviso added p50 / p99 | LiteLLM added p50 / p99 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rate, res in rows:
        d, p, l = res["direct"], res["proviso"], res["litellm"]
        add_p = f"{p['p50'] - d['p50']:.2f} / {p['p99'] - d['p99']:.2f} ms"
        add_l = f"{l['p50'] - d['p50']:.2f} / {l['p99'] - d['p99']:.2f} ms" if l else "—"
        lines.append(f"| {rate} | {cell(d)} | {cell(p)} | {cell(l)} | {add_p} | {add_l} |")
    lines += [
        "",
        f"Highest sustained rate: {MAX_CONNS} connections, no rate limit (with 20 ms upstream latency, 512 connections allow up to ~24,000 req/s):",
        "",
        "| path | req/s | p50 / p99 | errors |",
        "| --- | --- | --- | --- |",
    ]
    for name, r in maxes.items():
        lines.append(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} / {r['p99']:.2f} ms | {r['errors']} |")
    ratio = maxes["proviso"]["rps"] / max(maxes["litellm"]["rps"], 1e-9)
    lines += [
        "",
        f"Proviso / LiteLLM sustained rate: **{ratio:.1f}×**. Proviso / direct: "
        f"{maxes['proviso']['rps'] / max(maxes['direct']['rps'], 1e-9):.2f}.",
        f"Proviso resident memory: {now / 1024:.1f} MiB after the run, peak {peak / 1024:.1f} MiB.",
        f"Ledger after the run: `{verify.stdout.strip()}`",
        "Peers: LiteLLM proxy 1.106.2 (pip `litellm[proxy]==1.106.2`), oha "
        + subprocess.run(["oha", "--version"], capture_output=True, text=True).stdout.strip() + ".",
    ]
    append_results("Gateway: latency and throughput against LiteLLM", f"bench/gateway.sh {a.seconds}", "\n".join(lines))


if __name__ == "__main__":
    main()
