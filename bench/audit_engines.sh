#!/usr/bin/env bash
# The audit inside the data team's engines: MB/s per worker through the
# Python package, Ray Data and Spark against `proviso audit` on the same
# data and index, with 1 and 2 workers, and an exact 13-gram PySpark UDF
# beside them. Generates N_REFS reference outputs and TRAIN_MB of training
# data from ../shared/corpora (bench/audit_gen.py) on first use.
# Usage (from the project root): bench/audit_engines.sh [N_REFS] [TRAIN_MB]   (default 100000 100)
# Needs Java 17 (Spark) and network access to PyPI on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"; mb="${2:-100}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p proviso-cli
bin="$CARGO_TARGET_DIR/release/proviso"
data="$CARGO_TARGET_DIR/bench-audit-$n-$mb"
[ -f "$data/planted.json" ] || python3 bench/audit_gen.py "$n" "$mb" "$data" >&2
if [ ! -d "$data/proviso/index" ]; then
  printf 'data_dir = "%s/proviso"\n' "$data" > "$data/proviso.toml"
  "$bin" --config "$data/proviso.toml" index add "$data/refs.jsonl" 2> /dev/null
fi
venv="$CARGO_TARGET_DIR/bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/e2e/requirements.txt
# The release wheel, as a user gets it from `pip install ./python`.
PATH="$venv/bin:$PATH" "$venv/bin/python" -m pip install -q --disable-pip-version-check \
  --no-build-isolation --force-reinstall --no-deps ./python
exec "$venv/bin/python" bench/audit_engines.py --data "$data" --bin "$bin"
