#!/usr/bin/env bash
# Desensitization: throughput and F1 per type, Proviso's recognisers against
# Microsoft Presidio's analyzer (regex and checksum recognisers) on the same
# labelled documents, each on one thread pinned to core 1; plus Proviso's
# p50/p99 for one 4 KB prompt.
# Usage (from the project root): bench/redact.sh [DOCS]   (default 900)
set -euo pipefail
cd "$(dirname "$0")/.."
docs="${1:-900}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
venv="$PWD/target/bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import presidio_analyzer' 2>/dev/null || "$venv/bin/pip" install -q presidio-analyzer
set_file=$(mktemp /tmp/proviso-evalset.XXXX.jsonl)
ours=$(taskset -c 1 cargo bench -q -p proviso-redact --bench redact_throughput -- "$set_file" "$docs" | tail -1)
theirs=$(taskset -c 1 "$venv/bin/python" bench/redact_presidio.py "$set_file" | tail -1)
presidio_version=$("$venv/bin/pip" show presidio-analyzer 2>/dev/null | awk '/^Version/ {print $2}')
"$venv/bin/python" - "$docs" "$ours" "$theirs" "$presidio_version" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from common import append_results
docs, ours, theirs, ver = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
ratio = ours["mb_per_s"] / theirs["mb_per_s"]
lines = [
    f"{ours['docs']} documents, {ours['bytes'] / 1e6:.2f} MB of English (GPT-4 answers) and Chinese (hotel reviews) text "
    "with three planted items each (a quarter of them look-alikes), from `proviso_redact::evalset` (seed 20261124). "
    f"Both sides single-threaded on core 1. Presidio {ver} (`presidio-analyzer`), card, e-mail, IBAN, IP, phone, URL and "
    "US SSN recognisers, NLP engine `spacy.blank(\"en\")` with a lower-case lemma component: **no NER model ran** "
    "(spaCy's models cannot be downloaded here). Presidio's F1 is taken at its best score threshold of 0, 0.3 and 0.5 "
    "per type. F1 over exact spans; Chinese documents are analysed as English by Presidio (it has no Chinese setup).",
    "",
    "| | Proviso | Presidio | ratio |",
    "| --- | --- | --- | --- |",
    f"| throughput (MB/s, one thread) | {ours['mb_per_s']:.1f} | {theirs['mb_per_s']:.3f} | **{ratio:.0f}×** |",
]
for k in ["email", "phone", "credit_card", "iban", "us_ssn", "ip_address"]:
    lines.append(f"| F1 {k} | {ours['f1'][k]:.3f} | {theirs['f1'][k]:.3f} (threshold {theirs['threshold'][k]}) | |")
for k in ["cn_resident_id", "url_credentials", "secret"]:
    lines.append(f"| F1 {k} | {ours['f1'][k]:.3f} | not supported | |")
lines += ["", f"Proviso, one 4 KB prompt: p50 {ours['p50_us_4k']:.0f} µs, p99 {ours['p99_us_4k']:.0f} µs (target: under 200 µs p99)."]
append_results("Desensitization: Proviso against Presidio", f"bench/redact.sh {docs}", "\n".join(lines))
PY
rm -f "$set_file"
