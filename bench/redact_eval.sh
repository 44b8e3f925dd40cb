#!/usr/bin/env bash
# The independent desensitization evaluation (issue 19), full size: a set
# made by bench/redact_eval/gen.py from faker (ten locales), libphonenumber's
# example numbers and look-alikes broken by construction, in real English
# (GPT-4-turbo and Claude 3 answers) and Chinese (hotel and food reviews)
# text from ../shared/corpora. Proviso and Presidio score the same documents
# by the same rules; Proviso's recognisers were adjusted on other sets'
# `tune` splits only, Presidio's thresholds are chosen on this set's `tune`
# split, and the table is the `test` split. Both single-threaded on core 1.
# Usage (from the project root): bench/redact_eval.sh [PER_TYPE] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
per_type="${1:-600}"
seed="${2:-3141}"
corpora=../shared/corpora
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
. bench/redact_eval/venv.sh
set_file=$(mktemp /tmp/proviso-redact-eval.XXXX.jsonl)
trap 'rm -f "$set_file"' EXIT
"$venv/bin/python" bench/redact_eval/gen.py --out "$set_file" --per-type "$per_type" --seed "$seed" \
  --en "$corpora/alpaca_eval/gpt-4-turbo-2024-04-09.json,$corpora/alpaca_eval/claude-3-opus-20240229.json" \
  --zh "$corpora/chinese_reviews/ChnSentiCorp_htl_all.csv,$corpora/chinese_reviews/waimai_10k.csv" >/dev/null
cargo build -q --release -p proviso-redact --example redact_eval
ours=$(taskset -c 1 "$CARGO_TARGET_DIR/release/examples/redact_eval" "$set_file" test | tail -1)
ours_all=$(taskset -c 1 "$CARGO_TARGET_DIR/release/examples/redact_eval" "$set_file" | tail -1)
theirs=$(taskset -c 1 "$venv/bin/python" bench/redact_eval/presidio_score.py "$set_file" | tail -1)
"$venv/bin/python" - "$per_type" "$seed" "$ours" "$ours_all" "$theirs" "$set_file" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from common import append_results
per_type, seed, ours, ours_all, theirs, path = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]), json.loads(sys.argv[5]), sys.argv[6]
size = sum(len(l.encode()) for l in open(path, encoding="utf-8"))

def wilson(k, n, z=1.959964):
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    m = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / d
    return max(0.0, c - m), min(1.0, c + m)

def cell(k, n):
    lo, hi = wilson(k, n)
    return f"{k / max(n, 1):.3f} [{lo:.3f}, {hi:.3f}]"

lines = [
    f"{ours['docs']} held-out documents (`test` split) of a set of {per_type} items per type (two thirds valid, one third "
    f"look-alikes; plus {per_type} decoys), seed {seed}, made by `bench/redact_eval/gen.py` (faker, libphonenumber's example "
    "numbers, look-alikes broken by construction; never Proviso's validators) in GPT-4-turbo and Claude 3 answers and Chinese "
    "hotel and food reviews. Recall: the finding of the item's type covers all of it and nothing around it; look-alike FP: any "
    "finding touches a look-alike or decoy; precision: of the planted items a type's findings touch, the share that are "
    "valid items of that type recalled (n in brackets; 95% Wilson intervals). Presidio "
    f"{theirs['version']}: regex and checksum recognisers, `spacy.blank(\"en\")` (no NER model: none can be downloaded here), "
    "threshold per type chosen on the `tune` split; it has no Chinese resident ID or URL-credential recogniser.",
    "",
    "| type | Proviso recall | Proviso look-alike FP | Proviso precision | Presidio recall | Presidio look-alike FP | Presidio precision |",
    "| --- | --- | --- | --- | --- | --- | --- |",
]
for k in ["phone", "email", "credit_card", "iban", "us_ssn", "cn_resident_id", "ip_address", "url_credentials", "decoy"]:
    o = ours["types"].get(k, {})
    t = theirs["types"].get(k, {})
    rec = cell(o.get("recalled", 0), o.get("positives", 0)) + f" (n {o.get('positives', 0)})" if k != "decoy" else "—"
    fp = cell(o.get("lookalikes_flagged", 0), o.get("lookalikes", 0)) + f" (n {o.get('lookalikes', 0)})"
    def precision(x):
        tp, fp_ = x.get("recalled", 0), x.get("lookalikes_flagged", 0)
        return cell(tp, tp + fp_) + f" (n {tp + fp_})" if k != "decoy" else "—"
    if k in ("cn_resident_id", "url_credentials"):
        prec, pfp, pprec = "not supported", cell(t.get("lookalikes_flagged", 0), t.get("lookalikes", 0)), "—"
    else:
        prec = cell(t.get("recalled", 0), t.get("positives", 0)) if k != "decoy" else "—"
        pfp = cell(t.get("lookalikes_flagged", 0), t.get("lookalikes", 0))
        pprec = precision(t)
    lines.append(f"| {k} | {rec} | {fp} | {precision(o)} | {prec} | {pfp} | {pprec} |")
lines += [
    "",
    f"Findings outside the planted item: Proviso in {ours['carrier_docs_touched']} of {ours['docs']} documents, "
    f"Presidio in {theirs['carrier_docs_touched']} of {theirs['test_docs']}. The carriers are real text and hold entities of "
    "their own (example e-mail addresses in model answers, a phone number in a review: found on the `tune` split with "
    "`CARRIER=1` of the example `redact_eval`), so these are not all errors.",
    "",
    f"Speed on the whole set ({size / 1e6:.1f} MB, scoring included, one thread): Proviso "
    f"{size / 1e6 / ours_all['seconds']:.1f} MB/s, Presidio {theirs['mb_per_s']:.3f} MB/s "
    f"(**{size / 1e6 / ours_all['seconds'] / theirs['mb_per_s']:.0f}×**).",
]
append_results("Desensitization on independent data: Proviso against Presidio", f"bench/redact_eval.sh {per_type} {seed}", "\n".join(lines))
print("\n".join(lines))
PY
