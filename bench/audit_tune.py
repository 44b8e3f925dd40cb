"""More negatives to tune the audit's rules on, without looking at the test
half (issue 20). Usage (from the project root):

    python3 bench/audit_tune.py PROVISO_BIN WORK_DIR [--align-min BITS] [--no-background] [--dump F]

`bench/audit_quality.py` tunes on a quarter of the AlpacaEval instructions,
whose eight other models' answers are about 1,450 negatives: at a 0.5%
bound that is seven false positives, too few to choose a rule from. Here
the reference models rotate: five pairs of the ten models in turn are the
references (their answers to the tune and background quarters indexed
with their instructions, a background made of the other eight models'
answers to the background quarter and the background quarter of the
human text), and the other eight models' answers to the tune quarter are
the negatives, 7,280 over the five pairs. Positives are the
reference pair's tune answers disguised by `bench/audit_quality.py`'s own
code (word edits at 10-40%, sentences shuffled, inside a long human
document, and the first half alone). The test half's instructions are
never read.

Prints, per rotation and over all, the negatives flagged and the copies
found; `--dump F` writes every flagged document's findings with its
category (for studying a rule before it is built)."""

import argparse
import glob
import json
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from audit_quality import CORPORA, KEPT, alpaca, edit_words, every_nth_word, keyed_dir, part_of, shuffle_sentences, wilson  # noqa: E402

# Five disjoint pairs of the ten models: the first is audit_quality.py's.
PAIRS = [
    ("gpt-4-turbo-2024-04-09", "gpt-3.5-turbo-0613"),
    ("claude-3-opus-20240229", "Meta-Llama-3-70B-Instruct"),
    ("Qwen1.5-72B-Chat", "Mixtral-8x7B-Instruct-v0.1"),
    ("deepseek-llm-67b-chat", "gpt4"),
    ("gpt35_turbo_instruct", "text_davinci_003"),
]


def models():
    return sorted(os.path.basename(f)[:-len(".json")] for f in glob.glob(f"{CORPORA}/alpaca_eval/*.json"))


def prepare(binary, work, pair):
    """The pair's index (answers to the tune and background quarters, with
    their instructions) in WORK/index, the same with a background in
    WORK/index-bg; returns the two config files."""
    os.makedirs(work, exist_ok=True)
    prompts = [r["instruction"] for r in json.load(open(f"{CORPORA}/alpaca_eval/gpt4.json"))]
    answers = {m: alpaca(f"{m}.json") for m in models()}
    cfgs = {}
    for name in ("index", "index-bg"):
        cfgs[name] = f"{work}/{name}.toml"
        with open(cfgs[name], "w") as f:
            f.write(f'data_dir = "{work}/data"\n[index]\ndir = "{work}/{name}"\nfollow = false\n')
    if not glob.glob(f"{work}/index/*.pvx"):
        keyed_dir(f"{work}/index")
        with open(f"{work}/refs.jsonl", "w") as f:
            for m in pair:
                for i, t in enumerate(answers[m]):
                    if t is not None and part_of(f"en:{i}") != "test":
                        f.write(json.dumps({"output": t, "prompt": prompts[i], "model": m}) + "\n")
        subprocess.run([binary, "--config", cfgs["index"], "index", "add", f"{work}/refs.jsonl", "--prompt-field",
                        "prompt"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not os.path.exists(f"{work}/index-bg/background.pvb"):
        os.makedirs(f"{work}/index-bg", exist_ok=True)
        for seg in glob.glob(f"{work}/index/*.pvx"):
            shutil.copy(seg, f"{work}/index-bg")
        human = [json.loads(line)["text"] for line in open(f"{CORPORA}/llama_factory/c4_demo.jsonl")]
        human += [line.strip() for line in open(f"{CORPORA}/llama_factory/wiki_demo.txt") if line.strip()]
        paras = [p for h in human for p in h.split("\n") if len(p) > 300]
        texts = [t for m in models() if m not in pair for i, t in enumerate(answers[m])
                 if t is not None and part_of(f"en:{i}") == "background"]
        texts += [p for p in paras if part_of(f"para:{p}") == "background"]
        with open(f"{work}/background.jsonl", "w") as f:
            for t in texts:
                f.write(json.dumps({"text": t}) + "\n")
        subprocess.run([binary, "--config", cfgs["index-bg"], "index", "background", f"{work}/background.jsonl"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cfgs["index"], cfgs["index-bg"]


def documents(pair, seed, negatives_only=False):
    """(category, model, instruction, text): the other models' answers to
    the tune quarter, then the pair's tune answers disguised."""
    rng = random.Random(seed)
    answers = {m: alpaca(f"{m}.json") for m in models()}
    tune = [i for i in range(len(answers["gpt4"])) if part_of(f"en:{i}") == "tune"]
    docs = []
    for m in models():
        if m not in pair:
            docs += [("negative", m, i, answers[m][i]) for i in tune if answers[m][i] is not None]
    if negatives_only:
        return docs
    human = [json.loads(line)["text"] for line in open(f"{CORPORA}/llama_factory/c4_demo.jsonl")]
    paras = [p for h in human for p in h.split("\n") if len(p) > 300 and part_of(f"para:{p}") == "tune"]
    vocab = [w for t in answers["claude-3-opus-20240229"] if t for w in t.split() if w.isalpha()]
    for m in pair:
        en = [(i, answers[m][i]) for i in tune if answers[m][i] and len(answers[m][i].split()) >= 60]
        for rate in (0.1, 0.2, 0.3, 0.4):
            docs += [(f"edited {int(rate * 100)}%", m, i, edit_words(t, rate, rng, vocab)) for i, t in en]
        docs += [("shuffled", m, i, shuffle_sentences(t, rng)) for i, t in en]
        docs += [("embedded", m, i, "\n\n".join([rng.choice(paras), t, rng.choice(paras)])) for i, t in en]
        docs += [("first half", m, i, " ".join(t.split(" ")[:len(t.split(" ")) // 2])) for i, t in en]
    # Regular edits, from a generator of their own (the categories above
    # are the ones measured before these were added).
    regular = random.Random(seed * 31 + 5)
    for m in pair:
        en = [(i, answers[m][i]) for i in tune if answers[m][i] and len(answers[m][i].split()) >= 60]
        for n in (4, 5, 6):
            docs += [(f"every {n}th word", m, i, every_nth_word(t, n, regular, vocab)) for i, t in en]
    # Sentences shuffled and words edited (the move against alignment
    # along one diagonal), from a generator of their own too.
    moved = random.Random(seed * 31 + 7)
    for m in pair:
        en = [(i, answers[m][i]) for i in tune if answers[m][i] and len(answers[m][i].split()) >= 60]
        for rate in (0.15, 0.3):
            docs += [(f"shuffled, edited {int(rate * 100)}%", m, i,
                      edit_words(shuffle_sentences(t, moved), rate, moved, vocab)) for i, t in en]
    return docs


def audit(binary, cfg, docs, path, align, kept=None):
    """The documents flagged: {position: finding}; `align` in bits, or
    None for --no-align; `kept` the --kept-min given (None: the
    binary's default)."""
    if not os.path.exists(path):
        with open(path, "w") as f:
            for _, _, _, t in docs:
                f.write(json.dumps({"text": t}) + "\n")
    out = f"{path}.{os.path.basename(cfg)}.{align}.{kept}.findings"
    mode = ["--no-align"] if align is None else ["--align-min", str(align)]
    if align is not None and kept is not None:
        mode += ["--kept-min", str(kept)]
    subprocess.run([binary, "--config", cfg, "audit", path, "--json", out, *mode], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    flagged = {}
    for line in open(out):
        r = json.loads(line)
        if "summary" not in r:
            flagged[r["line"] - 1] = r
    return flagged




def choose_threshold(binary, work, background, bound=0.005, kept=None):
    """The alignment threshold in bits (20, 21, ... 60), with documents
    that keep `kept` of a reference flagged too (None: that rule off): the
    smallest at which the other models' answers flagged over the five
    rotations are at most `bound` of them, or, where exact runs and near
    duplicates alone flag more, at which alignment adds none. Returns
    (bits, flagged, negatives, flagged without alignment)."""
    runs = []
    for n, pair in enumerate(PAIRS):
        cfg = prepare(binary, f"{work}/pair{n}", pair)[1 if background else 0]
        runs.append((cfg, documents(pair, 0, negatives_only=True), f"{work}/pair{n}/negatives.jsonl"))
    total = sum(len(d) for _, d, _ in runs)
    base = sum(len(audit(binary, cfg, d, path, None)) for cfg, d, path in runs)
    allowed = max(base, int(bound * total))
    for t in range(20, 61):
        k = sum(len(audit(binary, cfg, d, path, t, "off" if kept is None else kept)) for cfg, d, path in runs)
        if k <= allowed:
            return t, k, total, base
    return 61, None, total, base


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("work")
    ap.add_argument("--align-min", type=float, default=20.0)
    ap.add_argument("--no-background", action="store_true")
    ap.add_argument("--kept-min", help="passed to proviso audit (a fraction, or off; default: audit_quality.KEPT "
                    "for the background or not)")
    ap.add_argument("--dump")
    ap.add_argument("--seed", type=int, default=20261207)
    a = ap.parse_args()
    totals = {}
    dump = open(a.dump, "w") if a.dump else None
    for n, pair in enumerate(PAIRS):
        cfg = prepare(a.binary, f"{a.work}/pair{n}", pair)[0 if a.no_background else 1]
        docs = documents(pair, a.seed + n)
        kept = a.kept_min or KEPT[not a.no_background]
        flagged = audit(a.binary, cfg, docs, f"{a.work}/pair{n}/docs-{a.seed + n}.jsonl", a.align_min, kept)
        counts = {}
        for j, (cat, m, i, _) in enumerate(docs):
            k, t = counts.get(cat, (0, 0))
            counts[cat] = (k + (j in flagged), t + 1)
            if dump and j in flagged:
                dump.write(json.dumps({"pair": n, "category": cat, "model": m, "instruction": i,
                                       "finding": flagged[j]}) + "\n")
        print(f"pair {n} ({' + '.join(pair)}): " + ", ".join(f"{c} {k}/{t}" for c, (k, t) in counts.items()))
        for c, (k, t) in counts.items():
            K, T = totals.get(c, (0, 0))
            totals[c] = (K + k, T + t)
    print("\nall five pairs (tune quarter only):")
    for c, (k, t) in totals.items():
        lo, hi = wilson(k, t)
        print(f"  {c:12} {k:5}/{t:5} = {k / t:.4f} [{lo:.4f}, {hi:.4f}]")


if __name__ == "__main__":
    main()
