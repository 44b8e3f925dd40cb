#!/usr/bin/env bash
# Gateway latency and throughput: direct to the fake upstream, through Proviso
# (ledger on), and through the LiteLLM proxy, side by side in one run.
# Usage (from the project root): bench/gateway.sh [SECONDS_PER_RATE]   (default 30)
# Installs what it needs: oha (cargo install), LiteLLM 1.106.2 in target/bench-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
command -v oha >/dev/null || cargo install oha --locked
venv="$PWD/target/bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import litellm' 2>/dev/null || "$venv/bin/pip" install -q 'litellm[proxy]==1.106.2'
cargo build --release -q -p proviso-cli -p proviso-testkit
exec "$venv/bin/python" bench/gateway.py --seconds "$secs" --bin-dir "$CARGO_TARGET_DIR/release" --litellm "$venv/bin/litellm"
