"""Two builds of the gateway side by side on this machine: throughput at 32
connections and latency at 1, non-streamed and streamed, against the fake
upstream with no added latency; the two alternate round by round so a slow
minute of the machine falls on both. For checking that a change does not
regress the request path. Appends a Markdown table to bench/RESULTS.md.

Usage: python3 bench/gateway_ab.py --a DIR --b DIR [--label-a A] [--label-b B]
       [--seconds 10] [--rounds 3]
Each DIR holds `proviso` and `proviso-fake-upstream` release binaries.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, append_results  # noqa: E402
from gateway import free_port, oha, start, wait_port  # noqa: E402


def run_one(bins: Path, seconds: int, stream: bool, fake_url: str, tmp: Path, logs, extra: str = ""):
    port = free_port()
    cfg = tmp / f"p{port}.toml"
    cfg.write_text(
        f'data_dir = "{tmp / f"data{port}"}"\n[server]\nlisten = "127.0.0.1:{port}"\nworker_threads = 1\n'
        f'[log]\nlevel = "warn"\n[index]\nfollow = false\n'
        f'[[upstreams]]\nname = "fake"\nkind = "openai-compatible"\nbase_url = "{fake_url}/v1"\n'
        f'models = ["gpt-4o-mini"]\n' + extra)
    prov = start([str(bins / "proviso"), "--config", str(cfg), "serve"], 1, logs)
    try:
        wait_port(port)
        key = json.loads(subprocess.run([str(bins / "proviso"), "--config", str(cfg), "keys", "create",
                                         "--team", "bench", "--json"],
                                        capture_output=True, text=True, check=True).stdout)["secret"]
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        h = [f"authorization: Bearer {key}"]
        import gateway
        body = json.loads(gateway.BODY)
        if stream:
            body["stream"] = True
        saved = gateway.BODY
        gateway.BODY = json.dumps(body)
        try:
            oha(url, h, 2, conns=8)  # warm up
            tput = oha(url, h, seconds, conns=32)
            lat = oha(url, h, seconds, conns=1)
        finally:
            gateway.BODY = saved
        return {"rps": tput["rps"], "p99_32": tput["p99"], "p50_1": lat["p50"], "p99_1": lat["p99"],
                "errors": tput["errors"] + lat["errors"]}
    finally:
        prov.terminate()
        prov.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--label-a", default="A")
    ap.add_argument("--label-b", default="B")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--extra-a", default="", help="TOML appended to A's configuration")
    ap.add_argument("--extra-b", default="", help="TOML appended to B's configuration")
    ap.add_argument("--no-stream", action="store_true", help="only the non-streamed measures")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="proviso-ab-"))
    logs = open(tmp / "servers.log", "w")
    fport = free_port()
    corpus = ROOT / "tests" / "fixtures" / "gpt4_outputs.json"
    fake = start([str(Path(a.b) / "proviso-fake-upstream"), "--port", str(fport), "--corpus", str(corpus),
                  "--threads", "1"], 0, logs)
    res = {(v, s): [] for v in ("a", "b") for s in (False, True)}
    try:
        wait_port(fport)
        for _ in range(a.rounds):
            for v, d, extra in (("a", a.a, a.extra_a), ("b", a.b, a.extra_b)):
                for s in (False,) if a.no_stream else (False, True):
                    res[(v, s)].append(run_one(Path(d), a.seconds, s, f"http://127.0.0.1:{fport}", tmp, logs,
                                               extra.replace("\\n", "\n")))
    finally:
        fake.terminate()
        fake.wait(timeout=30)

    def med(v, s, k):
        return statistics.median(r[k] for r in res[(v, s)])

    rows = []
    for s in (False,) if a.no_stream else (False, True):
        kind = "streamed" if s else "non-streamed"
        for k, what, fmt in (("rps", "req/s at 32 connections", "{:.0f}"), ("p99_32", "p99 at 32 connections (ms)", "{:.2f}"),
                             ("p50_1", "p50 at 1 connection (ms)", "{:.3f}"), ("p99_1", "p99 at 1 connection (ms)", "{:.3f}")):
            x, y = med("a", s, k), med("b", s, k)
            rows.append(f"| {kind} | {what} | {fmt.format(x)} | {fmt.format(y)} | {y / x if x else 0:.2f} |")
    errors = sum(r["errors"] for rs in res.values() for r in rs)
    extras = "".join(f" {lab}'s configuration adds `{x}`." for lab, x in ((a.label_a, a.extra_a), (a.label_b, a.extra_b)) if x)
    body = (f"Fake upstream (no added latency, one thread, core 0) and oha on core 0; each gateway with one worker "
            f"thread on core 1, defaults otherwise (ledger on, SQLite), index follower off. {a.rounds} alternated rounds of "
            f"{a.seconds} s per measure; medians. **{a.label_a}** against **{a.label_b}**; the ratio is {a.label_b} / {a.label_a} "
            f"(above 1 is more for req/s, slower for latency).{extras} Errors in all runs: {errors}.\n\n"
            f"| | measure | {a.label_a} | {a.label_b} | ratio |\n|---|---|---|---|---|\n" + "\n".join(rows))
    append_results(f"Gateway: {a.label_b} against {a.label_a}", "python3 bench/gateway_ab.py " + " ".join(sys.argv[1:]), body)


if __name__ == "__main__":
    main()
