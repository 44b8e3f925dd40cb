#!/usr/bin/env bash
# The gateway against its floor on a near-free upstream: nginx returning a
# fixed 0.9 KB chat answer, a bare proxy on Proviso's own HTTP stack with and
# without a chained SQLite record, and Proviso with the index follower off
# and on (defaults), each with one worker thread on core 1; nginx and wrk on
# core 0. Throughput at 32 connections, latency at 1, peak memory.
# Usage (from the project root): bench/gateway_floor.sh [SECONDS] [ROUNDS] [--profile DIR] [--baseline DIR] [--only A,B]
# Installs what it needs: nginx-light and wrk (apt-get), perf for --profile.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"; rounds="${2:-3}"; shift $(( $# < 2 ? $# : 2 ))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
if [ "${#need[@]}" -gt 0 ]; then apt-get update -qq && apt-get install -y -qq "${need[@]}"; fi
cargo build --release -q -p proviso-cli -p proviso-testkit
exec python3 bench/gateway_floor.py --seconds "$secs" --rounds "$rounds" --bin-dir "$CARGO_TARGET_DIR/release" "$@"
