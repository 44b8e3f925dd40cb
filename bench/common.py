"""Helpers shared by the benchmark scripts: machine description, results file."""

import datetime
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"\n## {title}\n\n{stamp}, commit `{commit()}`, `{command}`\n\nMachine: {machine()}\n\n{body}\n"
    path = ROOT / "bench" / "RESULTS.md"
    if not path.exists():
        path.write_text("# Benchmark results\n\nNewest last. Each section says the command that produced it.\n")
    with open(path, "a") as f:
        f.write(text)
    print(text)
