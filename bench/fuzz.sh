#!/usr/bin/env bash
# Fuzzes each parser with libFuzzer (cargo fuzz; the nightly toolchain it
# needs must be installed): request JSON, SSE, non-streamed answers (the
# one-pass reader against the tree of values), configuration, the audit's
# input readers, index segments. Runs each target for SECONDS (default 600),
# keeps the corpus (minimised, packed as fuzz/corpus/<target>.tar.zst) and
# any crash under fuzz/artifacts/<target>, and records the run in
# bench/RESULTS.md.
# Usage: bench/fuzz.sh [SECONDS] [TARGET…]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(request_json sse answer config audit_input segment)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd fuzz
cargo +nightly fuzz build -O 2>&1 | tail -2
rows=""
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  [ -f "corpus/$t.tar.zst" ] && zstd -dc "corpus/$t.tar.zst" | tar xf - -C corpus
  log=$(mktemp)
  set +e
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=4096 \
    -timeout=10 -max_len=65536 -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  crashes=$(find "artifacts/$t" -type f | wc -l)
  # Keep the corpus small enough to commit: the inputs that give its coverage.
  cargo +nightly fuzz cmin -O "$t" "corpus/$t" >/dev/null 2>&1 || true
  (cd corpus && tar cf - "$t" | zstd -19 -q -f -o "$t.tar.zst")
  kept=$(find "corpus/$t" -type f | wc -l)
  verdict=$([ $rc -eq 0 ] && echo "no crash" || echo "FAILED (exit $rc, see fuzz/artifacts/$t)")
  echo "$t: ${runs:-?} inputs, coverage ${cov:-?}, corpus $kept, $verdict"
  rows+="| \`$t\` | ${secs} s | ${runs:-?} | ${cov:-?} | $kept | $crashes | $verdict |"$'\n'
  rm -f "$log"
done
cd ..
python3 - "$secs" "$rows" "$*" <<'PY'
import re, sys
sys.path.insert(0, "bench")
from common import ROOT, append_results
secs, rows, args = sys.argv[1], sys.argv[2], sys.argv[3]
# A run of some targets keeps the other targets' rows of the latest run.
new = {r.split("`")[1]: r for r in rows.strip().splitlines() if r.startswith("| `")}
old = {}
text = (ROOT / "bench" / "RESULTS.md").read_text()
m = re.search(r"(?ms)^## Fuzzing the parsers\n.*?(?=^## |\Z)", text)
if m:
    for line in m.group(0).splitlines():
        if line.startswith("| `"):
            old[line.split("`")[1]] = line
merged = {**old, **new}
order = ["request_json", "sse", "config", "audit_input", "segment"]
lines = [merged[t] for t in order if t in merged] + [merged[t] for t in merged if t not in order]
body = ("libFuzzer through `cargo fuzz` (nightly toolchain, AddressSanitizer, `-O`), one target at a "
        "time on one core; the corpus is minimised (`cargo fuzz cmin`) and kept packed in "
        "`fuzz/corpus/<target>.tar.zst`. Rows of targets not in this run are those of the run before.\n\n"
        "| target | time | inputs run | coverage (edges) | corpus kept | crashes | verdict |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(lines) + "\n")
append_results("Fuzzing the parsers", f"bench/fuzz.sh {secs} {args}".strip(), body)
PY
