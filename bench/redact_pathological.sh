#!/usr/bin/env bash
# The recognisers on hostile text: each one's worst case at 1, 4 and 16 MB
# on one thread (pinned to core 1); linear time keeps the MB/s, so the last
# column (largest size's rate over 1 MB's) is ~1.0. Appends the table to
# bench/RESULTS.md.
# Usage (from the project root): bench/redact_pathological.sh [MAX_MB]   (default 16)
set -euo pipefail
cd "$(dirname "$0")/.."
max="${1:-16}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
table=$(taskset -c 1 cargo bench -q -p proviso-redact --bench redact_pathological -- "$max")
python3 - "$max" "$table" <<'PY'
import sys
sys.path.insert(0, "bench")
from common import append_results
mx, table = sys.argv[1], sys.argv[2]
body = ("Each row repeats one short unit to the size given and runs every recogniser over it "
        "(`Redactor::find`, all types, best of three). MB/s per size; the last column is the "
        "largest size's rate over the 1 MB rate: 1.0 is linear, quadratic time would fall "
        "towards 1/16.\n\n" + table)
append_results("Desensitization: recognisers on hostile text (linear time)", f"bench/redact_pathological.sh {mx}", body)
PY
