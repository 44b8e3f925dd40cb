#!/usr/bin/env bash
# The monitor: detection per workload on simulated traffic through the real
# gateway (release build, simulated clock, fake upstream), for several seeds;
# and its cost: what the observe stage adds to the request path (monitor on
# against off, same run), CPU per 1,000 requests, memory per active key.
# Usage (from the project root): bench/monitor.sh [DAYS] [SEEDS...]   (default 2 days, seeds 7 11 13)
set -euo pipefail
cd "$(dirname "$0")/.."
days="${1:-2}"; shift || true
seeds="${*:-7 11 13}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p proviso-cli -p proviso-testkit -p proviso-traffic
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d /tmp/proviso-monitor-bench.XXXX)
token="bench-admin-token-0123456789"
reports=()
for seed in $seeds; do
  d="$work/seed-$seed"; mkdir -p "$d"
  fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  gport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin/proviso-fake-upstream" --port "$fport" --corpus tests/fixtures/gpt4_outputs.json > "$d/fake.log" 2>&1 &
  fpid=$!
  cat > "$d/proviso.toml" <<TOML
data_dir = "$d/data"
[server]
listen = "127.0.0.1:$gport"
clock = "simulated"
trust_forwarded_for = true
[index]
follow = false
[admin]
token = "$token"
[[upstreams]]
name = "fake"
kind = "openai-compatible"
base_url = "http://127.0.0.1:$fport/v1"
models = ["gpt-4o-mini"]
TOML
  "$bin/proviso" --config "$d/proviso.toml" serve --allow-simulated-clock > "$d/proviso.log" 2>&1 &
  gpid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gport/healthz" >/dev/null && break; sleep 0.1; done
  "$bin/proviso-traffic" --gateway "http://127.0.0.1:$gport" --admin-token "$token" --fixtures tests/fixtures \
    --seed "$seed" --days "$days" --concurrency 16 --out "$d/report.json" > "$d/traffic.txt"
  "$bin/proviso" --config "$d/proviso.toml" ledger verify > "$d/verify.txt" 2>&1 || true
  kill "$gpid" "$fpid"; wait "$gpid" "$fpid" 2>/dev/null || true
  reports+=("$d/report.json")
done
observe=$(cargo bench -q -p proviso-gateway --bench observe_overhead -- 50000 | grep -E '^\||^Added|^The tap')
cost=$(cargo bench -q -p proviso-monitor --bench monitor_cost -- "$days" | grep -E '^\||^$')
python3 bench/monitor_report.py "$days" "$observe" "$cost" "${reports[@]}"
rm -rf "$work"
