#!/usr/bin/env bash
# Audit throughput: index N generated reference outputs, then full-scan a
# generated JSON-lines training set of S MB; reports index build rate, index
# size per output, scan MB/s (and per core; the median of three scans of the
# training set read into memory first), documents/s, peak memory, and
# recall of the planted copies, and classifies the other flagged documents.
# Usage (from the project root): bench/audit.sh [N_REFS] [TRAIN_MB]   (default 1000000 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"; mb="${2:-1000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p proviso-cli
bin="$CARGO_TARGET_DIR/release/proviso"
data="$CARGO_TARGET_DIR/bench-audit-$n-$mb"
[ -f "$data/planted.json" ] || python3 bench/audit_gen.py "$n" "$mb" "$data" >&2
rm -rf "$data/proviso" && printf 'data_dir = "%s/proviso"\n' "$data" > "$data/proviso.toml"
t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$data/index.rss" "$bin" --config "$data/proviso.toml" index add "$data/refs.jsonl" 2> "$data/index.log"
t1=$(date +%s.%N)
# The training set read once first, so that the scans read it from memory
# (a scan measures reading, parsing and looking up, not this disk), then
# three scans: the figures are the median's, the three listed.
cat "$data/train.jsonl" > /dev/null
# One scan untimed first: the index just written is read back into the
# page cache as the scans will find it (the first scan after a build
# measured up to 1.8x slower than the next ones).
"$bin" --config "$data/proviso.toml" audit "$data/train.jsonl" --json /dev/null 2> /dev/null
scans=()
for _ in 1 2 3; do
  s=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$data/audit.rss" "$bin" --config "$data/proviso.toml" audit "$data/train.jsonl" --json "$data/findings.jsonl" 2> "$data/audit.log" &
  # How the index is mapped, two seconds in: how much with 2 MiB pages
  # (a segment the page cache holds in large folios, and the directories'
  # copies) changes the speed by ~1.2x (docs/audit.md, Performance).
  sleep 2
  child=$(pgrep -P $! | head -1 || true)
  if [ -n "$child" ] && [ -r "/proc/$child/smaps_rollup" ]; then
    awk '/^(Rss|FilePmdMapped|AnonHugePages):/ {printf "%s %s ", $1, $2}' "/proc/$child/smaps_rollup" > "$data/pages"
  else
    echo "unknown" > "$data/pages"
  fi
  wait $!
  scans+=("$(python3 -c "print($(date +%s.%N) - $s)")")
done
# The same scan of the documents that hold no planted copy (95% of the
# bytes): a planted document's reference is made of sentences that each
# recur in ~170 generated references, which makes it several times as
# costly to scan as a clean one; this figure shows the benchmark's mix
# apart from that (docs/audit.md, Performance).
[ -f "$data/clean.jsonl" ] || python3 - "$data" <<'PY'
import json, sys
d = sys.argv[1]
planted = set(json.load(open(f"{d}/planted.json")))
with open(f"{d}/train.jsonl", "rb") as f, open(f"{d}/clean.jsonl", "wb") as out:
    for i, line in enumerate(f, 1):
        if i not in planted:
            out.write(line)
PY
cat "$data/clean.jsonl" > /dev/null
clean=()
for _ in 1 2 3; do
  s=$(date +%s.%N)
  "$bin" --config "$data/proviso.toml" audit "$data/clean.jsonl" --json "$data/clean-findings.jsonl" 2> /dev/null
  clean+=("$(python3 -c "print($(date +%s.%N) - $s)")")
done
printf '%s\n' "${clean[@]}" > "$data/clean.times"
# The same full scan without alignment of short seeds, in the same run:
# the alignment's cost is the ratio.
plain=()
for _ in 1 2 3; do
  s=$(date +%s.%N)
  "$bin" --config "$data/proviso.toml" audit "$data/train.jsonl" --no-align --json "$data/plain-findings.jsonl" 2> /dev/null
  plain+=("$(python3 -c "print($(date +%s.%N) - $s)")")
done
printf '%s\n' "${plain[@]}" > "$data/plain.times"
# And as on a processor without AVX-512 (PROVISO_SIMD=avx2) and without
# vector instructions at all (off): the same results, the speed of the
# plain code.
for level in avx2 off; do
  runs_=()
  for _ in 1 2 3; do
    s=$(date +%s.%N)
    PROVISO_SIMD=$level "$bin" --config "$data/proviso.toml" audit "$data/train.jsonl" --json "$data/$level-findings.jsonl" 2> /dev/null
    runs_+=("$(python3 -c "print($(date +%s.%N) - $s)")")
  done
  printf '%s\n' "${runs_[@]}" > "$data/$level.times"
  cmp -s <(head -n -1 "$data/$level-findings.jsonl") <(head -n -1 "$data/findings.jsonl") || echo "PROVISO_SIMD=$level found otherwise" >&2
done
python3 - "$n" "$mb" "$data" "$t0" "$t1" "${scans[@]}" <<'PY'
import json, os, sys
sys.path.insert(0, "bench")
from common import append_results
from audit_classify import classify
n, mb, data, t0, t1 = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
runs = sorted(map(float, sys.argv[6:]))
lines = open(f"{data}/findings.jsonl").read().splitlines()
summary = json.loads(lines[-1])["summary"]
flagged = {json.loads(l)["line"] for l in lines[:-1]}
planted = set(json.load(open(f"{data}/planted.json")))
size = os.path.getsize(f"{data}/train.jsonl")
seg = sum(os.path.getsize(os.path.join(f"{data}/proviso/index", x)) for x in os.listdir(f"{data}/proviso/index"))
scan = runs[len(runs) // 2]
clean_runs = sorted(float(x) for x in open(f"{data}/clean.times").read().split())
clean_scan = clean_runs[len(clean_runs) // 2]
clean_size = os.path.getsize(f"{data}/clean.jsonl")
plain_runs = sorted(float(x) for x in open(f"{data}/plain.times").read().split())
plain_scan = plain_runs[len(plain_runs) // 2]
plain_lines = open(f"{data}/plain-findings.jsonl").read().splitlines()
plain_flagged = {json.loads(l)["line"] for l in plain_lines[:-1]}
cores = os.cpu_count()
rows = [
    f"{n:,} reference outputs (sentences of five alpaca_eval models' answers recombined), a {size / 1e6:,.0f} MB JSON-lines training set "
    f"({summary['documents']:,} documents: C4 and Wikipedia paragraphs, the other five models' answers, {len(planted):,} holding a "
    "reference verbatim or inside human text), generated by `bench/audit_gen.py`. Release build, both cores.",
    "",
    "| what | figure |",
    "| --- | --- |",
    f"| index build | {n / (t1 - t0):,.0f} outputs/s ({t1 - t0:.1f} s), peak {int(open(f'{data}/index.rss').read()) / 1024:,.0f} MiB |",
    f"| index size on disk | {seg / 1e6:,.0f} MB, {seg / n:,.0f} bytes per output |",
    f"| full scan (read, parse, normalise, fingerprint, look up, verify) | {size / 1e6 / scan:,.1f} MB/s, {size / 1e6 / scan / cores:,.1f} MB/s per core, {summary['documents'] / scan:,.0f} documents/s (median of three scans: {' / '.join(f'{r:.2f}' for r in runs)} s, each including loading the index; best {size / 1e6 / runs[0] / cores:,.1f} MB/s per core) |",
    f"| the same scan of the {clean_size / 1e6:,.0f} MB of documents that hold no planted copy | {clean_size / 1e6 / clean_scan / cores:,.1f} MB/s per core (median of three: {' / '.join(f'{r:.2f}' for r in clean_runs)} s) |",
    f"| the same full scan without alignment of short seeds (`--no-align`) | {size / 1e6 / plain_scan / cores:,.1f} MB/s per core (median of three: {' / '.join(f'{r:.2f}' for r in plain_runs)} s): alignment takes {scan / plain_scan:.2f}x the time; it flags {len(flagged - plain_flagged):,} documents more ({len((flagged - plain_flagged) & planted):,} of them planted) |",
    *[f"| the same full scan with `PROVISO_SIMD={lv}` ({what}) | {size / 1e6 / med / cores:,.1f} MB/s per core (median of three: {' / '.join(f'{r:.2f}' for r in rs)} s): {med / scan:.2f}x the time |"
      for lv, what in (("avx2", "as on a processor without AVX-512"), ("off", "no vector instructions"))
      for rs in [sorted(float(x) for x in open(f"{data}/{lv}.times").read().split())] for med in [rs[len(rs) // 2]]],
    f"| peak memory of the scan | {int(open(f'{data}/audit.rss').read()) / 1024:,.0f} MiB |",
    f"| mapped with 2 MiB pages two seconds into the last scan (`/proc/PID/smaps_rollup`, kB) | {open(f'{data}/pages').read().strip()} |",
    f"| planted copies found | {len(planted & flagged):,} / {len(planted):,} |",
    f"| other documents flagged | {len(flagged - planted):,} of {summary['documents'] - len(planted):,} |",
    "",
    "The other flagged documents, classified by `bench/audit_classify.py` (is the matched text really in the",
    "reference output it points at, in normalised words; where the document and the shared sentence came from):",
    "",
    "```",
    classify(data),
    "```",
]
append_results("Audit: full scan against the fingerprint index", f"bench/audit.sh {n} {mb}", "\n".join(rows))
PY
