"""Generates the audit benchmark's data from ../shared/corpora: N reference
outputs (sentences of five alpaca_eval models' answers recombined, seeded,
so each is new) and a training set of about S MB of JSON lines: human web and
Wikipedia text, the other five models' answers (hard negatives), and ~5% of documents holding a
reference output verbatim or inside human text. Writes refs.jsonl,
train.jsonl and planted.json (the line numbers that hold a copy)."""

import glob
import json
import random
import re
import sys
from pathlib import Path

n_refs, mb, out = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
rng = random.Random(20261124)
files = sorted(glob.glob("../shared/corpora/alpaca_eval/*.json"))
# References are built from five models' answers; the other five models'
# answers go into the training set as hard negatives (same instructions).
ref_answers, answers = [], []
for i, f in enumerate(files):
    (ref_answers if i % 2 == 0 else answers).extend(r["output"] for r in json.load(open(f)) if len(r["output"]) > 200)
sentences = [s for a in ref_answers for s in re.split(r"(?<=[.!?])\s+", a) if 40 < len(s) < 400]
human = [json.loads(l)["text"] for l in open("../shared/corpora/llama_factory/c4_demo.jsonl")]
human += [l.strip() for l in open("../shared/corpora/llama_factory/wiki_demo.txt") if l.strip()]
human_paras = [p for h in human for p in h.split("\n") if len(p) > 200]

refs = []
with open(out / "refs.jsonl", "w") as f:
    for i in range(n_refs):
        k = rng.randint(4, 12)
        text = " ".join(rng.choice(sentences) for _ in range(k))
        refs.append(text) if i < 20000 else None
        f.write(json.dumps({"output": text}) + "\n")

planted = []
size = 0
line = 0
limit = mb * 1e6
with open(out / "train.jsonl", "w") as f:
    while size < limit:
        line += 1
        r = rng.random()
        if r < 0.054:
            ref = rng.choice(refs)
            text = ref if rng.random() < 0.5 else rng.choice(human_paras) + "\n\n" + ref + "\n\n" + rng.choice(human_paras)
            planted.append(line)
        elif r < 0.35:
            text = rng.choice(answers)
        else:
            text = "\n".join(rng.choice(human_paras) for _ in range(rng.randint(1, 4)))
        s = json.dumps({"text": text}) + "\n"
        size += len(s.encode())
        f.write(s)
json.dump(planted, open(out / "planted.json", "w"))
print(json.dumps({"refs": n_refs, "train_mb": size / 1e6, "docs": line, "planted": len(planted)}))
