"""Detection of disguised copies by `proviso audit`, on data its code did not
shape (issue 20's measurement). Usage (from the project root):

    python3 bench/audit_quality.py PROVISO_BIN WORK_DIR [SEED]

References: GPT-4-turbo's and GPT-3.5's answers to the 805 AlpacaEval
instructions and the Chinese answers of LLaMA-Factory's Alpaca demo, indexed
with `proviso index add`. The instructions are split in halves by a seeded
hash: `tune` (what may be looked at while changing the audit) and `test`
(reported). Copies of the test half's answers are disguised by this script
alone, never with Proviso's code: word edits at 10/20/30/40% (each edit a
replacement from the vocabulary of other answers, an insertion or a
deletion, in equal parts), sentences shuffled, the copy inside a long
human document, and, for Chinese, conversion to Traditional script by
OpenCC's C++ library (the `opencc` package: s2t, s2tw, s2twp) when it is
installed. Negatives: the other eight models' answers to the same
instructions, C4 and Wikipedia paragraphs, Chinese hotel reviews. Each
category is one file given to `proviso audit --json`; a document counts as
found when it is flagged. The alignment thresholds are chosen on the tune
quarter with the reference models rotated (`bench/audit_tune.py`), never on
the test half. Prints a Markdown table (rates with 95% Wilson
intervals and sample sizes) and appends it to bench/RESULTS.md."""

import csv
import functools
import glob
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import append_results  # noqa: E402

# The share of a reference a document must keep (`proviso audit
# --kept-min`, the product's `ALIGN_DEFAULT_KEPT` and
# `ALIGN_DEFAULT_KEPT_WITH_BACKGROUND`), by whether there is a background,
# chosen with `bench/audit_tune.py` on the tune quarter only: of 0.5,
# 0.55, 0.6 and 0.65, each with the smallest threshold in bits that kept
# the rotations' negatives within 0.5%, the one that found the most copies
# with 30% of their words edited there.
KEPT = {False: 0.55, True: 0.5}

CORPORA = "../shared/corpora"
# The key of the indexes built here (`proviso index add` keys a new
# directory with the `salt` file it finds there, else a random one): fixed,
# so that a run can be repeated; `AUDIT_SALT=…` (16 hex digits) measures
# another key.
SALT = os.environ.get("AUDIT_SALT", "5eed5a1700000001")


def keyed_dir(path):
    """An index directory keyed by SALT, before its first segment."""
    os.makedirs(path, exist_ok=True)
    with open(f"{path}/salt", "w") as f:
        f.write(SALT + "\n")
SPLIT_SALT = "proviso-audit-quality-split-v1"


def wilson(k, n, z=1.959964):
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    m = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / d
    return max(0.0, c - m), min(1.0, c + m)


def cluster_interval(flags_by_cluster, reps=2000, seed=1):
    """A 95% interval of a rate whose items come in clusters (the eight
    models' answers to one instruction are flagged together or not at all,
    more often than chance: a passage the instruction supplied, a list
    every answer gives): the clusters resampled with replacement, the
    2.5th and 97.5th percentiles of the rate. A Wilson interval that
    counts each answer alone is too narrow for such a rate."""
    rng = random.Random(seed)
    clusters = list(flags_by_cluster.values())
    rates = []
    for _ in range(reps):
        k = n = 0
        for _ in clusters:
            c = clusters[rng.randrange(len(clusters))]
            k += sum(c)
            n += len(c)
        rates.append(k / max(n, 1))
    rates.sort()
    return rates[int(0.025 * reps)], rates[int(0.975 * reps) - 1]


def split_of(key):
    h = hashlib.sha256(f"{SPLIT_SALT}:{key}".encode()).digest()
    return "tune" if h[0] % 2 == 0 else "test"


def part_of(key):
    """`test` (half of the instructions, reported), else `background` or
    `tune` (a quarter each: the background is made of one, the threshold
    chosen on the other, so tuning sees instructions the background never
    saw, as the test does)."""
    if split_of(key) == "test":
        return "test"
    return "background" if split_of(f"background:{key}") == "tune" else "tune"


@functools.lru_cache(maxsize=None)
def alpaca(name):
    """One model's answers in the order of the 805 instructions (as in
    gpt4.json), None where the model has no answer: gpt35_turbo_instruct
    lacks one, and its answers after it would otherwise be filed under the
    next instruction (and so in the wrong part of the split). Read once
    per model (the callers only read the list)."""
    order = {r["instruction"]: i for i, r in enumerate(json.load(open(f"{CORPORA}/alpaca_eval/gpt4.json")))}
    out = [None] * len(order)
    for r in json.load(open(f"{CORPORA}/alpaca_eval/{name}")):
        out[order[r["instruction"]]] = r["output"]
    return out


def edit(units, rate, rng, vocab, editable=lambda u: True):
    """About `rate` of the editable units (words, characters) edited: each
    edit a replacement from `vocab`, an insertion after the unit or a
    deletion, in equal parts."""
    out = []
    for u in units:
        if not editable(u) or rng.random() >= rate:
            out.append(u)
            continue
        op = rng.randrange(3)
        if op == 0:
            out.append(rng.choice(vocab))
        elif op == 1:
            out += [u, rng.choice(vocab)]
        # op == 2: deleted
    return out


def edit_words(text, rate, rng, vocab):
    return " ".join(edit(text.split(" "), rate, rng, vocab))


def edit_chars(text, rate, rng, vocab):
    """The same edits on the Han characters of Chinese, which has no spaces."""
    return "".join(edit(text, rate, rng, vocab, lambda c: "\u4e00" <= c <= "\u9fff"))


def every_nth_word(text, n, rng, vocab):
    """Every `n`th word replaced from `vocab`, from a random first one: a
    regular pattern, the edit of an adversary who has read docs/audit.md
    and leaves no unchanged run of `n` words (and so, for n <= 5, no
    5-token seed)."""
    words = text.split(" ")
    first = rng.randrange(n)
    return " ".join(rng.choice(vocab) if j % n == first else w for j, w in enumerate(words))


def shuffle_sentences(text, rng):
    parts = re.split(r"(?<=[.!?。！？])\s*", text)
    parts = [p for p in parts if p.strip()]
    rng.shuffle(parts)
    return " ".join(parts)


def main(binary, work, seed=20261205):
    rng = random.Random(seed)
    os.makedirs(work, exist_ok=True)
    turbo, gpt35 = alpaca("gpt-4-turbo-2024-04-09.json"), alpaca("gpt-3.5-turbo-0613.json")
    zh = [d["output"] for d in json.load(open(f"{CORPORA}/llama_factory/alpaca_zh_demo.json")) if len(d["output"]) >= 80]
    others = [f for f in sorted(glob.glob(f"{CORPORA}/alpaca_eval/*.json"))
              if not f.endswith(("gpt-4-turbo-2024-04-09.json", "gpt-3.5-turbo-0613.json"))]
    human = [json.loads(l)["text"] for l in open(f"{CORPORA}/llama_factory/c4_demo.jsonl")]
    human += [l.strip() for l in open(f"{CORPORA}/llama_factory/wiki_demo.txt") if l.strip()]
    paras = [p for h in human for p in h.split("\n") if len(p) > 300]
    reviews = []
    with open(f"{CORPORA}/chinese_reviews/ChnSentiCorp_htl_all.csv", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)
        reviews = [r[1] for r in rows if len(r) > 1 and len(r[1]) > 80]

    # References: every answer (both halves), each with its instruction
    # (the request that produced it, as the ledger would hold it).
    en_prompts = [r["instruction"] for r in json.load(open(f"{CORPORA}/alpaca_eval/gpt4.json"))]
    zh_prompts = [(d["instruction"] + "\n" + d.get("input", "")).strip()
                  for d in json.load(open(f"{CORPORA}/llama_factory/alpaca_zh_demo.json")) if len(d["output"]) >= 80]
    refs = [("en", i, t) for i, t in enumerate(turbo)] + [("en", i, t) for i, t in enumerate(gpt35)]
    refs += [("zh", i, t) for i, t in enumerate(zh)]
    with open(f"{work}/refs.jsonl", "w") as f:
        for lang, i, t in refs:
            prompt = en_prompts[i] if lang == "en" else zh_prompts[i]
            f.write(json.dumps({"output": t, "lang": lang, "prompt": prompt}, ensure_ascii=False) + "\n")
    index_dir = f"{work}/index"
    cfg = f"{work}/proviso.toml"
    with open(cfg, "w") as f:
        f.write(f'data_dir = "{work}/data"\n[index]\ndir = "{index_dir}"\nfollow = false\n')
    if not glob.glob(f"{index_dir}/*.pvx"):
        keyed_dir(index_dir)
        subprocess.run([binary, "--config", cfg, "index", "add", f"{work}/refs.jsonl", "--prompt-field", "prompt"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The same index with a background: the other models' answers to the
    # background quarter's instructions, and the background quarter of the
    # human texts (none of them a negative below).
    bg_dir = f"{work}/index-bg"
    bg_cfg = f"{work}/proviso-bg.toml"
    with open(bg_cfg, "w") as f:
        f.write(f'data_dir = "{work}/data"\n[index]\ndir = "{bg_dir}"\nfollow = false\n')
    if not os.path.exists(f"{bg_dir}/background.pvb"):
        os.makedirs(bg_dir, exist_ok=True)
        for seg in glob.glob(f"{index_dir}/*.pvx"):
            shutil.copy(seg, bg_dir)
        texts = [t for f in others for i, t in enumerate(alpaca(os.path.basename(f)))
                 if t is not None and part_of(f"en:{i}") == "background"]
        texts += [p for p in paras if part_of(f"para:{p}") == "background"]
        texts += [r for r in reviews[:6000] if part_of(f"review:{r}") == "background"]
        with open(f"{work}/background.jsonl", "w") as f:
            for t in texts:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        subprocess.run([binary, "--config", bg_cfg, "index", "background", f"{work}/background.jsonl"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    vocab = [w for t in alpaca("claude-3-opus-20240229.json") if t for w in t.split() if w.isalpha()]
    zh_vocab = [c for r in reviews for c in r if "\u4e00" <= c <= "\u9fff"]
    try:
        import opencc
        converters = {conv: opencc.OpenCC(f"{conv}.json") for conv in ("s2t", "s2tw", "s2twp")}
    except ImportError:
        converters = {}

    def categories(half):
        en = [t for lang, i, t in refs if lang == "en" and part_of(f"en:{i}") == half and len(t.split()) >= 60]
        zh_ = [t for lang, i, t in refs if lang == "zh" and part_of(f"zh:{i}") == half]
        cats = {"English verbatim": en}
        for rate in (0.1, 0.2, 0.3, 0.4):
            cats[f"English, {int(rate * 100)}% of words edited"] = [edit_words(t, rate, rng, vocab) for t in en]
        cats["English, sentences shuffled"] = [shuffle_sentences(t, rng) for t in en]
        cats["English, inside a long human document"] = [
            "\n\n".join([rng.choice(paras), rng.choice(paras), t, rng.choice(paras), rng.choice(paras)]) for t in en]
        # Regular edits draw from a generator of their own, so the other
        # categories are the ones measured before they were added.
        regular = random.Random(seed + 5)
        for n in (4, 5, 6):
            cats[f"English, every {n}th word replaced"] = [every_nth_word(t, n, regular, vocab) for t in en]
        # Sentences shuffled and words edited: the move against alignment
        # along one diagonal (a generator of its own again).
        moved = random.Random(seed + 7)
        for rate in (0.15, 0.3):
            cats[f"English, sentences shuffled and {int(rate * 100)}% of words edited"] = [
                edit_words(shuffle_sentences(t, moved), rate, moved, vocab) for t in en]
        cats["Chinese verbatim"] = zh_
        cats["Chinese, 30% of characters edited"] = [edit_chars(t, 0.3, rng, zh_vocab) for t in zh_]
        for conv, cc in converters.items():
            cats[f"Chinese to Traditional (OpenCC {conv})"] = [cc.convert(t) for t in zh_]
        negs, instructions = {}, {}
        # Other models' answers to this half's instructions, model by model.
        for f in others:
            name = os.path.basename(f)[:-len(".json")]
            kept = [(i, t) for i, t in enumerate(alpaca(os.path.basename(f))) if t is not None and part_of(f"en:{i}") == half]
            negs[f"{name}'s answers"] = [t for _, t in kept]
            instructions[f"{name}'s answers"] = [i for i, _ in kept]
        # Human text has no instructions: parts of it by a hash of the text.
        negs["C4 and Wikipedia paragraphs"] = [p for p in paras if part_of(f"para:{p}") == half]
        negs["Chinese hotel reviews"] = [r for r in reviews[:6000] if part_of(f"review:{r}") == half]
        lengths = [len(t.split()) for t in en]
        return cats, negs, instructions, lengths

    def flags(name, docs, config, align, kept="default"):
        """Per document: whether `proviso audit` flags it, with alignment at
        `align` bits (None: --no-align) and a document that keeps `kept` of
        an aligned reference flagged too (None: that rule off; "default":
        KEPT for the configuration)."""
        if kept == "default":
            kept = KEPT[config == bg_cfg]
        path = f"{work}/{re.sub(r'[^a-z0-9]+', '-', name.lower())}.jsonl"
        if not os.path.exists(path):
            with open(path, "w") as f:
                for d in docs:
                    f.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
        out = path + (".bg" if config == bg_cfg else "") + f".{align}.{kept}.findings"
        mode = ["--no-align"] if align is None else ["--align-min", str(align),
                                                      "--kept-min", "off" if kept is None else str(kept)]
        subprocess.run([binary, "--config", config, "audit", path, "--json", out, *mode],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        res = [False] * len(docs)
        for line in open(out):
            r = json.loads(line)
            if "summary" not in r:
                res[r["line"] - 1] = True
        return res

    def found(res):
        return sum(res)

    halves = {h: categories(h) for h in ("tune", "test")}

    def run(config):
        """The test half's flags without alignment and with it, at the
        threshold chosen on the tune quarter with the reference models
        rotated (`bench/audit_tune.py`: five pairs of models in turn the
        references, the other eight models' answers to the tune quarter's
        instructions the negatives, about 7,300): the smallest
        significance (of 20, 21, ... 60 bits) at which all that is
        flagged among them is at most 0.5% of them, or, when exact runs
        and near duplicates alone flag more, at which alignment adds
        none."""
        from audit_tune import choose_threshold
        t, k, n, base = choose_threshold(binary, f"{work}/rotations", config == bg_cfg, kept=KEPT[config == bg_cfg])
        chosen[config] = (t, k, n, base)
        cats, negs, _, _ = halves["test"]
        got = {}
        for align in (None, t):
            got[align] = ({n: flags(f"test {n}", d, config, align) for n, d in cats.items()},
                          {n: flags(f"test {n}", d, config, align) for n, d in negs.items()})
        # The chain alone (the rule before the kept share), its threshold
        # chosen the same way, for the comparison below.
        t_off = choose_threshold(binary, f"{work}/rotations", config == bg_cfg, kept=None)
        chain_only[config] = (t_off, ({n: flags(f"test {n}", d, config, t_off[0], None) for n, d in cats.items()},
                                      {n: flags(f"test {n}", d, config, t_off[0], None) for n, d in negs.items()}))
        return got, t

    chosen = {}
    chain_only = {}
    (got_plain, t_plain), (got_bg, t_bg) = run(cfg), run(bg_cfg)

    def cell(res):
        k = found(res)
        lo, hi = wilson(k, len(res))
        return f"{k / len(res):.3f} [{lo:.3f}, {hi:.3f}]"

    def row(name, side, pick=lambda r: r[name]):
        cells = [pick(got[i][side]) for got, t in ((got_plain, t_plain), (got_bg, t_bg)) for i in (None, t)]
        return f"| {name} | {len(cells[0])} | " + " | ".join(cell(c) for c in cells) + " |"

    head = ("| {} | n | exact runs and near duplicates | + alignment | with the background: exact runs and near "
            "duplicates | + alignment |\n| --- | --- | --- | --- | --- | --- |")
    (_, k_plain, n_plain, b_plain), (_, k_bg, n_bg, b_bg) = chosen[cfg], chosen[bg_cfg]
    lines = [f"Alignment thresholds chosen on the tune quarter with the reference models rotated "
             f"(`bench/audit_tune.py`): {t_plain:.0f} bits without the background ({k_plain} of {n_plain} other "
             f"models' answers flagged there, {b_plain} by exact runs and near duplicates alone), {t_bg:.0f} bits "
             f"with it ({k_bg} of {n_bg}; {b_bg}); the product's defaults are `proviso_index::ALIGN_DEFAULT_MIN` "
             "and `ALIGN_DEFAULT_MIN_WITH_BACKGROUND`. Rates with 95% Wilson intervals; for the other models' "
             "answers also an interval that resamples instructions (their answers are flagged together).",
             "", head.format("copies found (test half)")]
    cats_names, negs_names = halves["test"][0].keys(), halves["test"][1].keys()
    instructions, lengths = halves["test"][2], halves["test"][3]
    for name in cats_names:
        lines.append(row(name, 0))
    lines += ["", head.format("negatives flagged (test half)")]
    for name in negs_names:
        lines.append(row(name, 1))
    models = [n for n in negs_names if "answers" in n]
    lines.append(row("**all eight other models**", 1, lambda r: [x for n in models for x in r[n]]))
    # The eight models' answers to one instruction are one cluster.
    cells = []
    for got, t in ((got_plain, t_plain), (got_bg, t_bg)):
        for i in (None, t):
            by = {}
            for n in models:
                for ins, flagged in zip(instructions[n], got[i][1][n]):
                    by.setdefault(ins, []).append(flagged)
            lo, hi = cluster_interval(by)
            cells.append(f"[{lo:.3f}, {hi:.3f}]")
    lines.append(f"| all eight, 95% interval resampling the {len(by)} instructions | | " + " | ".join(cells) + " |")
    # Recall on 30% edits by the length of the reference (words).
    name = "English, 30% of words edited"
    lines += ["", head.format("30% of words edited, by reference length (test half)")]
    for lo_w, hi_w in ((60, 100), (100, 150), (150, 200), (200, 300), (300, 10**9)):
        pick = [j for j, n in enumerate(lengths) if lo_w <= n < hi_w]
        label = f"{lo_w}-{hi_w - 1} words" if hi_w < 10**9 else f"{lo_w} words or more"
        lines.append(row(label, 0, lambda r: [r[name][j] for j in pick]))
    # The kept share against the chain alone, each at its own threshold.
    lines += ["", "| the kept share's effect (test half) | n | chain alone | chain or kept share | with the background: "
              "chain alone | chain or kept share |", "| --- | --- | --- | --- | --- | --- |"]
    t_off_plain, t_off_bg = chain_only[cfg][0][0], chain_only[bg_cfg][0][0]
    lines.append(f"| bits (chosen on the tune quarter) | | {t_off_plain:.0f} | {t_plain:.0f} | {t_off_bg:.0f} | "
                 f"{t_bg:.0f} |")
    for name, side, pick in ([(n, 0, None) for n in cats_names if n.startswith("English")]
                             + [("**all eight other models**", 1, lambda r: [x for n in models for x in r[n]])]):
        pick = pick or (lambda r, name=name: r[name])
        cells = [pick(chain_only[cfg][1][side]), pick(got_plain[t_plain][side]),
                 pick(chain_only[bg_cfg][1][side]), pick(got_bg[t_bg][side])]
        lines.append(f"| {name} | {len(cells[0])} | " + " | ".join(cell(c) for c in cells) + " |")
    table = "\n".join(lines)
    print(table)
    intro = (
        f"References: {len(refs)} answers (GPT-4-turbo and GPT-3.5 to the 805 AlpacaEval instructions, "
        f"{len(zh)} Chinese Alpaca-demo answers) indexed by `proviso index add --prompt-field` with their "
        "instructions; the instructions (and human texts) split by a salted hash: a half reported (`test`), a quarter "
        "whose other models' answers and human texts make the background (`proviso index background`), a quarter on "
        "which the alignment thresholds are chosen (with each of five pairs of the ten models in turn as the "
        "references). Disguises made by `bench/audit_quality.py` alone (word edits are replacements, insertions and "
        f"deletions in equal parts; seed {seed}); Traditional script by OpenCC's C++ library (Python `opencc`). A copy "
        "is found when `proviso audit` flags its document.\n\n")
    append_results("Audit: disguised copies found, on data the audit did not shape", "python3 bench/audit_quality.py "
                   "target/release/proviso WORK", intro + table)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
