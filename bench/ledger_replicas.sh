#!/usr/bin/env bash
# The shared ledger: records per second sustained by 1, 2 and 3 gateway
# replicas on this machine's PostgreSQL, against one replica on SQLite, in
# one run; p99 added latency against the fake upstream direct; records lost.
# The same replicas at a fixed rate (oha, open loop): p50 and p99.
# Usage (from the project root): bench/ledger_replicas.sh [SECONDS] [CONNECTIONS] [RATE]
# Needs the machine's PostgreSQL (PROVISO_TEST_PG_URL, else
# postgres://postgres@127.0.0.1:5432/postgres), wrk (installed if missing)
# and oha (cargo-installed if missing). RATE 0 skips the fixed-rate runs.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
conns="${2:-48}"
rate="${3:-2000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v oha >/dev/null || cargo install --locked -q oha@1.16.0
cargo build --release -q -p proviso-cli -p proviso-testkit
exec python3 bench/ledger_replicas.py --seconds "$secs" --conns "$conns" --rate "$rate" --bin-dir "$CARGO_TARGET_DIR/release"
