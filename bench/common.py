"""Helpers shared by the benchmark scripts: machine description, results file."""

import datetime
import os
import platform
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} never opened")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.splitlines()
    total = mem[1].split()[1] if len(mem) > 1 else "?"
    return f"{os.cpu_count()} cores ({cpu}), {total} RAM, {platform.system()} {platform.release()}"


def commit() -> str:
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return r.stdout.strip() + ("+dirty" if dirty else "")


def append_results(title: str, command: str, body: str) -> None:
    """Puts this run in bench/RESULTS.md as the latest result of `title`; the
    run it replaces moves to the end of bench/history/<title>.md."""
    import re
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"## {title}\n\n{stamp}, commit `{commit()}`, `{command}`\n\nMachine: {machine()}\n\n{body}\n"
    path = ROOT / "bench" / "RESULTS.md"
    current = path.read_text() if path.exists() else "# Benchmark results\n\n"
    parts = re.split(r"(?m)^(?=## )", current)
    kept, old = [], None
    for part in parts:
        if part.startswith(f"## {title}\n"):
            old = part
        else:
            kept.append(part)
    if old:
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        hist = ROOT / "bench" / "history" / f"{slug}.md"
        hist.parent.mkdir(exist_ok=True)
        if not hist.exists():
            hist.write_text(f"# History: {title}\n\nEarlier runs, oldest first; the latest is in bench/RESULTS.md.\n\n")
        with open(hist, "a") as f:
            f.write(old.rstrip() + "\n\n")
    path.write_text("".join(kept).rstrip() + "\n\n" + text)
    print(text)
