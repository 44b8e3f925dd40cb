"""Where a gateway's CPU goes per request, from a perf recording with call
graphs: each sample is put in the first stage below whose frames it holds
(a sample in the monitor's thread is the monitor's, one under
`authenticate::run` is authentication, and so on), and the stages are given
in microseconds of CPU per request. Used by bench/gateway_floor.py --profile;
also runs alone:

    python3 bench/gateway_profile.py PERF_DATA REQUESTS FREQUENCY_HZ
"""

import collections
import subprocess
import sys


def _has(*names):
    return lambda comm, frames: any(n in f for f in frames for n in names)


def _thread(prefix, *names):
    return lambda comm, frames: comm.startswith(prefix) and (not names or any(n in f for f in frames for n in names))


# (stage, test on the sample's thread name and frames); the first that
# matches takes the sample. Thread names are cut to 15 characters by Linux.
STAGES = [
    ("monitor (its own thread)", _thread("proviso-monit")),
    ("index follower (its own thread)", _thread("index-follow")),
    ("WAL checkpointer (its own thread)", _thread("ledger-wal")),
    ("ledger writer: record hash (canonical JSON + SHA-256)", _thread("ledger-writ", "record_hash")),
    ("ledger writer: SQLite insert and commit", _thread("ledger-writ", "SqliteStore", "sqlite3")),
    ("ledger writer: queue, replies, freeing records, monitor hand-off", _thread("ledger-writ")),
    ("other background threads", lambda comm, frames: not comm.startswith("tokio-rt")),
    ("authenticate", _has("authenticate::run")),
    ("parse the request (JSON)", _has("pipeline::parse::run")),
    ("route, policy, quota, desensitize", _has("check_policy::run", "route::run", "route::follow_previous",
                                                "reserve_quota", "desensitize::run")),
    ("read the answer", _has("answer_bytes", "non_stream_output", "respond::read")),
    ("build the record", _has("Context::record")),
    ("hand the record to the writer", _has("LedgerHandle::send")),
    ("upstream call (HTTP client)", _has("reqwest::", "hyper_util::client", "hyper::client")),
    ("metrics, headers, logs", _has("record::emit", "record::tag", "metrics::", "tracing")),
    ("client connection (HTTP server, routing)", _has("hyper::proto", "hyper::server", "axum", "tower")),
    ("other: scheduler, kernel, unattributed", lambda comm, frames: True),
]


def samples(data: str):
    """(thread, frames leaf first) of each sample in a perf recording."""
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,ip,sym"], capture_output=True, text=True,
                         errors="replace").stdout
    cur = None
    for line in out.splitlines():
        if not line.startswith("\t") and line.strip():
            if cur:
                yield cur
            cur = (line.split()[0], [])
        elif line.strip() and cur:
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                cur[1].append(parts[1])
    if cur:
        yield cur


def stages(data: str, requests: int, hz: int) -> list[tuple[str, float]]:
    """Microseconds of CPU per request in each stage."""
    counts = collections.Counter()
    for comm, frames in samples(data):
        for name, test in STAGES:
            if test(comm, frames):
                counts[name] += 1
                break
    per_sample_us = 1e6 / hz
    return [(name, counts[name] * per_sample_us / max(requests, 1)) for name, _ in STAGES]


def table(columns: dict[str, list[tuple[str, float]]]) -> str:
    """A Markdown table of several profiles' stages side by side (rows with
    nothing in any column left out) and their totals."""
    names = list(columns)
    lines = ["| stage | " + " | ".join(f"{n} (µs/request)" for n in names) + " |",
             "| --- | " + " | ".join("---" for _ in names) + " |"]
    for i, (stage, _) in enumerate(STAGES):
        vals = [columns[n][i][1] for n in names]
        if max(vals) >= 0.05:
            lines.append(f"| {stage} | " + " | ".join(f"{v:.1f}" for v in vals) + " |")
    lines.append("| **total** | " + " | ".join(f"**{sum(v for _, v in columns[n]):.1f}**" for n in names) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    data, requests, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(table({data: stages(data, requests, hz)}))
