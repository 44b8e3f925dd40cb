#!/usr/bin/env bash
# The monitor against workload families written to evade it and benign
# families that look templated (proviso_traffic::families), in process:
# detection within 1,000 requests per extraction key and benign keys at
# notice and at throttle, with 95% intervals, tuning and held-out families
# apart; and the monitor's CPU per 1,000 requests at HEAD beside a baseline
# commit, in the same run.
# Usage (from the project root): bench/monitor_families.sh BASELINE_COMMIT [SEED...]
# (run the second table too: the same seeds without the public-set signal)
#   (default seeds 31 32 33: seeds never run while the settings were chosen)
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:?baseline commit}"; shift
seeds="${*:-31 32 33}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
out=$(mktemp -d /tmp/proviso-families.XXXX)
cargo bench -q -p proviso-monitor --bench families -- $seeds > "$out/families.txt"
# The same without `public_set`: an adversary who read the docs does not
# enumerate the built-in set (the link by disjoint slices stays: it needs a
# known pool, not the weight).
FAMILIES_WEIGHTS=public_set=0 cargo bench -q -p proviso-monitor --bench families -- $seeds > "$out/families_no_public.txt"
# CPU per 1,000 requests: three runs of each, alternating, the median kept.
git worktree add -q --detach "$out/base" "$base"
for _ in 1 2 3; do
  cargo bench -q -p proviso-monitor --bench monitor_cost -- 2 | grep -E '^\|' >> "$out/cost_head.txt"
  ( cd "$out/base" && CARGO_TARGET_DIR="$out/base-target" cargo bench -q -p proviso-monitor --bench monitor_cost -- 2 | grep -E '^\|' ) >> "$out/cost_base.txt"
done
git worktree remove --force "$out/base"
python3 - "$base" "$seeds" "$out" <<'PY'
import sys, pathlib
sys.path.insert(0, "bench")
from common import append_results
base, seeds, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
fam = (out / "families.txt").read_text()
nopub = (out / "families_no_public.txt").read_text()
head = (out / "cost_head.txt").read_text().splitlines()
old = (out / "cost_base.txt").read_text().splitlines()
def rows(lines):
    runs = {}
    for l in lines:
        cells = [c.strip() for c in l.strip("|").split("|")]
        if len(cells) == 5 and cells[4].endswith(" ms"):
            runs.setdefault(cells[0], (cells[1], []))[1].append(float(cells[4].split()[0]))
    return {k: (n, sorted(v)[len(v) // 2]) for k, (n, v) in runs.items()}
h, o = rows(head), rows(old)
cost = ["| traffic | requests observed | ms per 1,000 requests, baseline `%s` (median of 3) | HEAD (median of 3) | HEAD / baseline |" % base,
        "| --- | --- | --- | --- | --- |"]
for k, (n, ms) in h.items():
    if k in o:
        cost.append(f"| {k} | {n} | {o[k][1]:.1f} | {ms:.1f} | {ms / o[k][1]:.2f}x |")
body = (f"Families of `proviso_traffic::families` (seeds {seeds}), in process (`cargo bench -p proviso-monitor --bench families`), "
        "default `[monitor]`. Answers as long as each workload expects (400 tokens unless it says). An extraction key is detected when "
        "the ladder's first step (`notice` or above) reaches it within 1,000 of its requests; a benign key counts at the highest step it got. "
        "Intervals are Clopper-Pearson 95%.\n\n" + fam.strip() +
        "\n\nThe same seeds with `[monitor.weights] public_set = 0` (`FAMILIES_WEIGHTS=public_set=0`): what is left when the instructions "
        "are not from a known set (every extraction family here draws from AlpacaEval, which is built in):\n\n" + nopub.strip() +
        "\n\nThe monitor thread's CPU (`cargo bench -p proviso-monitor --bench monitor_cost -- 2`, the seed-7 scenario of `proviso-traffic`, one thread), "
        "HEAD and the baseline built from a worktree in the same run:\n\n" + "\n".join(cost))
append_results("Monitor: evasive and templated workload families", f"bench/monitor_families.sh {base} {seeds}", body)
PY
rm -rf "$out"
