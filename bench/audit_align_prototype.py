"""A prototype, in Python, of issue 20's alignment of short seeds (not the
product: it tells what the Rust implementation can reach before it is
built). Usage (from the project root): python3 bench/audit_align_prototype.py [SEED]

Same data and split as bench/audit_quality.py (references: GPT-4-turbo's
and GPT-3.5's answers to the AlpacaEval instructions; copies disguised by
word edits; negatives: the eight other models' answers). Tokens are
lower-case words. Seeds are every shared K-gram of a document and a
reference; seeds found in a background corpus (the other models' answers
to half of the `tune` half's instructions, and C4) are dropped; seeds of
one reference that its own instruction holds are dropped too (PROMPT=0
keeps them); the seeds of one reference are chained in order along a diagonal band (gaps allowed),
and a document is flagged when a chain has at least T seeds. T is chosen on
the other half of the `tune` half (the smallest with at most 0.5% of the
other models' answers flagged) and applied to the `test` half, which is
what is printed."""

import glob
import json
import os
import random
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(__file__))
import audit_quality as aq  # noqa: E402  (its data, split and disguises)

K = 5
BAND = 12  # how far a chain may drift off its diagonal between two seeds


def words(t):
    return re.findall(r"[a-z0-9]+", t.lower())


def grams(ws):
    return [hash(tuple(ws[i:i + K])) for i in range(len(ws) - K + 1)]


def best_chain(hits):
    """The most seeds of one reference in order along a band: hits are
    (doc_pos, ref_pos); a longest chain by dynamic programming."""
    hits = sorted(set(hits))
    best = [1] * len(hits)
    for j in range(len(hits)):
        dj, rj = hits[j]
        for i in range(j):
            di, ri = hits[i]
            if di + K <= dj and ri + K <= rj and abs((rj - ri) - (dj - di)) <= BAND:
                best[j] = max(best[j], best[i] + 1)
    return max(best, default=0)


def main(seed=20261205):
    rng = random.Random(seed)
    turbo, gpt35 = aq.alpaca("gpt-4-turbo-2024-04-09.json"), aq.alpaca("gpt-3.5-turbo-0613.json")
    refs = [t for t in turbo] + [t for t in gpt35]
    ref_split = [aq.split_of(f"en:{i}") for i in range(len(turbo))] * 2
    others = [f for f in sorted(glob.glob(f"{aq.CORPORA}/alpaca_eval/*.json"))
              if not f.endswith(("gpt-4-turbo-2024-04-09.json", "gpt-3.5-turbo-0613.json"))]
    # The other models' answers: the tune half's instructions are split
    # again, the answers to one part making the background and those to the
    # other tuning the threshold (so tuning sees instructions the background
    # never saw, as the test does); to the test half's, all eight models'
    # answers are the reported negatives.
    other = {h: [] for h in ("background", "tune", "test")}
    for f in others:
        for i, t in enumerate(aq.alpaca(os.path.basename(f))):
            if t is None:
                continue
            h = aq.split_of(f"en:{i}")
            if h == "tune":
                h = "background" if aq.split_of(f"background:{i}") == "tune" else "tune"
            other[h].append(t)
    human = [json.loads(l)["text"] for l in open(f"{aq.CORPORA}/llama_factory/c4_demo.jsonl")]
    # Background: what is common in text the references did not write.
    background = set()
    for t in other["background"] + human:
        background.update(grams(words(t)))
    # Each reference's own prompt: a seed the instruction supplied (a passage
    # to correct, a table to complete) is not the provider's writing. The
    # ledger holds every output's request, so the product can do the same.
    prompts = [r["instruction"] for r in json.load(open(f"{aq.CORPORA}/alpaca_eval/gpt4.json"))] * 2
    use_prompt = os.environ.get("PROMPT", "1") == "1"
    index = defaultdict(list)
    for r, t in enumerate(refs):
        own = set(grams(words(prompts[r]))) if use_prompt else set()
        for p, g in enumerate(grams(words(t))):
            if g not in background and g not in own:
                index[g].append((r, p))
    vocab = [w for t in aq.alpaca("claude-3-opus-20240229.json") for w in t.split() if w.isalpha()]

    def score(doc):
        hits = defaultdict(list)
        for p, g in enumerate(grams(words(doc))):
            for r, q in index.get(g, ()):
                hits[r].append((p, q))
        return max((best_chain(h) for h in hits.values()), default=0)

    def half(h):
        return [t for i, (t, s) in enumerate(zip(refs, ref_split))
                if s == h and len(t.split()) >= 60
                and (h == "test" or aq.split_of(f"background:{i % len(turbo)}") != "tune")]

    out = {}
    for h in ("tune", "test"):
        pos = half(h)
        neg_scores = [score(t) for t in other[h]]
        cats = {f"{int(r * 100)}% edited": [score(aq.edit_words(t, r, rng, vocab)) for t in pos]
                for r in (0.1, 0.2, 0.3, 0.4)}
        out[h] = (neg_scores, cats)
    neg_tune = out["tune"][0]
    threshold = next(t for t in range(1, 200) if sum(s >= t for s in neg_tune) <= 0.005 * len(neg_tune))
    neg_test, cats = out["test"]
    lines = [f"K = {K}, band {BAND}, background {len(background)} {K}-grams, seeds of the reference's own prompt "
             f"dropped: {'yes' if use_prompt else 'no'}; threshold chosen on the tune part: {threshold} seeds in a chain.",
             "", "| test half | n | flagged | rate [95% CI] |", "| --- | --- | --- | --- |"]
    k = sum(s >= threshold for s in neg_test)
    lo, hi = aq.wilson(k, len(neg_test))
    lines.append(f"| other models' answers (false positives) | {len(neg_test)} | {k} | "
                 f"{k / len(neg_test):.4f} [{lo:.4f}, {hi:.4f}] |")
    for name, scores in cats.items():
        k = sum(s >= threshold for s in scores)
        lo, hi = aq.wilson(k, len(scores))
        lines.append(f"| copies, {name} | {len(scores)} | {k} | {k / len(scores):.3f} [{lo:.3f}, {hi:.3f}] |")
    return "\n".join(lines)


if __name__ == "__main__":
    from common import append_results
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 20261205
    tables = []
    for prompt in ("1", "0"):
        os.environ["PROMPT"] = prompt
        tables.append(main(seed))
        print(tables[-1] + "\n")
    append_results(
        "Audit: alignment of short seeds, Python prototype (not the product)",
        f"python3 bench/audit_align_prototype.py {seed}",
        "What issue 20's alignment can reach, measured before it is built in Rust: the data, split and disguises of "
        "`bench/audit_quality.py` (English only), every shared 5-gram a seed unless the background (C4 and the other "
        "models' answers to a quarter of the instructions) or, in the first table, the reference's own prompt holds it, "
        "seeds chained along a diagonal band, flagged at a chain length chosen on another quarter of the instructions "
        "(at most 0.5% of the other models' answers there). The product today finds 30% edits 0.094 of the time "
        "(`Audit: disguised copies found` above).\n\n" + "\n\n".join(tables))
