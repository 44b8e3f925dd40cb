#!/usr/bin/env bash
# Added latency per request of the call specification check and quotas:
# policy evaluation, quota reserve and settle, in memory and against the
# machine's Redis (127.0.0.1:6379 or REDIS_URL), with a bare PING round trip
# measured in the same run. Usage (from the project root): bench/policy_quota.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
iters="${1:-200000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
out=$(taskset -c 1 cargo bench -q -p proviso-gateway --bench check_overhead -- "$iters")
python3 - "$iters" "$out" <<'PY'
import sys
sys.path.insert(0, "bench")
from common import append_results
iters, table = sys.argv[1], sys.argv[2]
body = ("One thread pinned to core 1, release profile (`cargo bench`), sequential requests; "
        "the key has purposes, a model scope and per-minute and monthly limits, its team none. "
        "The chat prompt is tokenised with o200k_base on every request. Redis 7 on loopback.\n\n" + table)
append_results("Policy and quota checks: added latency per request", f"bench/policy_quota.sh {iters}", body)
PY
