#!/usr/bin/env bash
# `proviso redact` on files of mixed English and Chinese text (one paragraph
# a line, an independently made item every fourth line) at 1, 4 and 16 MB:
# throughput (best of three, one thread pinned to core 1, output to
# /dev/null), peak resident memory, and the ratio of the 16 MB rate to the
# 1 MB rate (1.0 is linear); Presidio's analyzer on the 1 MB file, a line at
# a time, in the same run.
# Usage (from the project root): bench/redact_stream.sh [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
seed="${1:-4242}"
corpora=../shared/corpora
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
. bench/redact_eval/venv.sh
work=$(mktemp -d /tmp/proviso-redact-stream.XXXX)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" bench/redact_eval/gen.py --out "$work/eval.jsonl" --per-type 200 --seed "$seed" \
  --en "$corpora/alpaca_eval/gpt-4-turbo-2024-04-09.json" \
  --zh "$corpora/chinese_reviews/ChnSentiCorp_htl_all.csv" >/dev/null
cargo build -q --release -p proviso-cli
cargo bench -q -p proviso-redact --bench redact_stream --no-run
bin="$CARGO_TARGET_DIR/release/proviso"
rows=""
for mb in 1 4 16; do
  meta=$("$venv/bin/python" bench/redact_stream/make_input.py "$work/eval.jsonl" "$mb" "$work/in$mb.txt")
  rate=$(taskset -c 1 cargo bench -q -p proviso-redact --bench redact_stream -- "$work/in$mb.txt" | tail -1)
  /usr/bin/time -o "$work/time" -f '%e %M' taskset -c 1 "$bin" --config /dev/null redact -q "$work/in$mb.txt" >/dev/null
  rows="$rows$mb"$'\t'"$meta"$'\t'"$rate"$'\t'"$(cat "$work/time")"$'\n'
done
theirs=$(taskset -c 1 "$venv/bin/python" bench/redact_stream/presidio_rate.py "$work/in1.txt" | tail -1)
ver=$("$venv/bin/pip" show presidio-analyzer 2>/dev/null | awk '/^Version/ {print $2}')
"$venv/bin/python" - "$seed" "$theirs" "$ver" <<PY
import json, sys
sys.path.insert(0, "bench")
from common import append_results
seed, theirs, ver = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
rows = []
for line in """$rows""".strip().splitlines():
    mb, meta, rate, timing = line.split("\t")
    secs, kb = timing.split()
    rows.append((int(mb), json.loads(meta), json.loads(rate), float(secs), int(kb)))
base = rows[0][2]["mb_per_s"]
lines = [
    "Files of mixed English and Chinese text, one paragraph a line (GPT-4 and Claude 3 answers, hotel and food "
    "reviews, Chinese instruction answers from ../shared/corpora), every fourth line a document of the independent "
    f"evaluation set (bench/redact_eval/gen.py, seed {seed}: one faker or libphonenumber item, valid or a look-alike). "
    "Rate: the \`redact_stream\` benchmark, what \`proviso redact\` does (the file read in 64 KiB pieces into a "
    "\`BlockRedactor\`, every type, default actions), one thread pinned to core 1, the best of three or more passes (a second in all at least) after a first pass. "
    "Wall time and peak memory: \`proviso redact -q FILE\` itself, once, output to /dev/null (the wall time "
    "includes start-up: loading the numbering plans and compiling the patterns, about 0.1-0.2 s once per process). "
    f"Presidio {ver} (\`presidio-analyzer\`, regex and checksum recognisers, \`spacy.blank(\"en\")\`, no NER model) "
    "analyses the 1 MB file a line at a time on core 1.",
    "",
    "| input | items | Proviso MB/s | rate / 1 MB rate | \`proviso redact\` wall time | peak memory |",
    "| --- | --- | --- | --- | --- | --- |",
]
for mb, meta, rate, secs, kb in rows:
    r = rate["mb_per_s"]
    lines.append(f"| {meta['bytes'] / 1e6:.1f} MB | {meta['items']} | {r:.1f} | {r / base:.2f} | {secs:.2f} s | {kb / 1024:.0f} MiB |")
lines += ["", f"Presidio on the 1 MB file: {theirs['mb_per_s']:.3f} MB/s; Proviso's rate is **{base / theirs['mb_per_s']:.0f}x** it."]
append_results("Desensitization: streaming proviso redact against Presidio", "bench/redact_stream.sh $seed", "\n".join(lines))
PY
