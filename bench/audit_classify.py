"""Classifies the documents the audit benchmark flagged that were not
planted: for each, whether the matched text really is in the reference
output it points at (normalised words, as the tokenizer sees them), where
the document came from (one of the five models whose answers are hard
negatives, or human text), and which model's answer the shared sentence
was taken from, for the same instruction or another.
Usage: python3 bench/audit_classify.py DATA_DIR   (after bench/audit.sh)"""

import collections
import glob
import json
import re
import sys
import unicodedata
from pathlib import Path

files = sorted(glob.glob("../shared/corpora/alpaca_eval/*.json"))
def norm(t):
    """Words as the tokenizer sees them: decomposed, accents dropped, case
    folded, list numbers at the start of a line dropped."""
    t = re.sub(r"(?m)^([\s#*>+-]*)\d+[.)]", r"\1", t)
    t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    return " ".join(re.findall(r"[^\W_]+", t.lower()))

# As in audit_gen.py: even files give reference sentences, odd files the hard negatives.
answer_of = {}   # normalised answer -> (model, instruction)
sentence_src = collections.defaultdict(set)  # normalised sentence -> {(model, instruction)}
for i, f in enumerate(files):
    model = Path(f).stem
    for r in json.load(open(f)):
        if len(r["output"]) <= 200:
            continue
        if i % 2 == 0:
            for s in re.split(r"(?<=[.!?])\s+", r["output"]):
                if 40 < len(s) < 400:
                    sentence_src[norm(s)].add((model, r["instruction"]))
        else:
            answer_of[norm(r["output"])] = (model, r["instruction"])

def classify(data):
    """The classification, as text."""
    data = Path(data)
    out = []
    planted = set(json.load(open(data / "planted.json")))
    findings = [json.loads(l) for l in open(data / "findings.jsonl")][:-1]
    others = {f["line"]: f for f in findings if f["line"] not in planted}
    docs = {}
    with open(data / "train.jsonl", "rb") as fh:
        for n, line in enumerate(fh, 1):
            if n in others:
                docs[n] = json.loads(line)["text"]
    wanted_rows = {r["attribution"]["row"] for f in others.values() for r in f["references"][:1]}
    refs = {}
    with open(data / "refs.jsonl", "rb") as fh:
        for n, line in enumerate(fh, 1):
            if n in wanted_rows:
                refs[n] = json.loads(line)["output"]

    counts = collections.Counter()
    pairs = collections.Counter()
    examples = []
    for n, f in sorted(others.items()):
        text = docs[n].encode()
        best = f["references"][0]
        ref = norm(refs.get(best["attribution"]["row"], ""))
        if best["kind"] == "exact":
            span = max(best["spans"], key=lambda s: s[1] - s[0])
            shared = norm(text[span[0]:span[1]].decode("utf-8", "replace"))
            verbatim = shared in ref
        else:
            shared, verbatim = "", None
        origin = answer_of.get(norm(docs[n]))
        src = [s for sent, s in sentence_src.items() if shared and shared in sent] if verbatim else []
        srcs = set().union(*src) if src else set()
        same_instruction = bool(origin and any(i == origin[1] for _, i in srcs))
        kind = best["kind"]
        cat = (
            f"{kind}: "
            + ("human text" if origin is None else "another model's answer")
            + (", text really in the reference" if verbatim else (", NOT in the reference" if verbatim is False else ""))
            + (", same instruction" if same_instruction else (", other instruction" if origin and srcs else ""))
        )
        counts[cat] += 1
        if origin and srcs:
            for m, _ in srcs:
                pairs[(origin[0], m)] += 1
        if len(examples) < 8 and verbatim:
            examples.append((n, best["longest_run"], shared[:160]))

    total = len(others)
    out.append(f"{total} flagged documents that were not planted:")
    for c, k in counts.most_common():
        out.append(f"  {k:6d}  {k / total:6.1%}  {c}")
    out.append("model of the document -> model whose sentence it shares (top 10):")
    for (a, b), k in pairs.most_common(10):
        out.append(f"  {k:6d}  {a} -> {b}")
    out.append("examples (line, longest run, shared text):")
    for e in examples:
        out.append(f"  {e[0]}  {e[1]}  {e[2]!r}")
    return "\n".join(out)


if __name__ == "__main__":
    print(classify(sys.argv[1]))
