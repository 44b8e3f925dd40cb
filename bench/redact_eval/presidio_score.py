"""Presidio's side of bench/redact_eval.sh: the same labelled documents,
scored by the same rules as `proviso_redact::score` (written again here, not
imported): a valid item is recalled when a finding of its type covers every
letter and digit of it and none around it; a look-alike or decoy is a false
positive when any finding touches it; findings elsewhere touch the carrier.

Presidio's score threshold is chosen per type on the `tune` split (best F1
of 0, 0.3, 0.5) and applied to the `test` split. Its NLP engine is
`spacy.blank("en")` (no NER model can be downloaded here), as in
bench/redact_presidio.py. Prints JSON on the last line."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import redact_presidio as rp  # noqa: E402  (its offline setup and engine)


TYPES = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "credit_card",
         "IBAN_CODE": "iban", "US_SSN": "us_ssn", "IP_ADDRESS": "ip_address"}


def covers(text, fs, fe, s, e):
    item = text[s:e]
    alnum = [i for i, c in enumerate(item) if c.isalnum()]
    first, last = (s + alnum[0], s + alnum[-1] + 1) if alnum else (s, e)
    outside = text[min(fs, s):s] + text[e:max(fe, e)]
    return fs <= first and fe >= last and not any(c.isalnum() for c in outside)


def score(docs, results, thresholds):
    types = {}
    carrier_docs = 0
    for d, res in zip(docs, results):
        text, kind, valid = d["text"], d["kind"], d["valid"]
        b = text.encode()
        s, e = len(b[:d["start"]].decode()), len(b[:d["end"]].decode())
        t = types.setdefault(kind, {"positives": 0, "recalled": 0, "lookalikes": 0, "lookalikes_flagged": 0})
        found = [(TYPES[r.entity_type], r.start, r.end) for r in res
                 if r.entity_type in TYPES and r.score >= thresholds.get(TYPES[r.entity_type], 0.5)]
        t["positives" if valid else "lookalikes"] += 1
        if valid and any(k == kind and covers(text, fs, fe, s, e) for k, fs, fe in found):
            t["recalled"] += 1
        if not valid and any(fs < e and fe > s for _, fs, fe in found):
            t["lookalikes_flagged"] += 1
        if any(not (fs < e and fe > s) for _, fs, fe in found):
            carrier_docs += 1
    return types, carrier_docs


def f1(t):
    tp = t["recalled"]
    fn = t["positives"] - tp
    fp = t["lookalikes_flagged"]
    return 2 * tp / max(2 * tp + fp + fn, 1)


def main(path):
    docs = [json.loads(line) for line in open(path, encoding="utf-8")]
    analyzer = rp.analyzer(with_url=False)
    ents = list(TYPES)
    analyzer.analyze(text=docs[0]["text"], language="en", entities=ents)  # warm up
    t0 = time.perf_counter()
    results = [analyzer.analyze(text=d["text"], language="en", entities=ents, score_threshold=0.0) for d in docs]
    secs = time.perf_counter() - t0
    size = sum(len(d["text"].encode()) for d in docs)
    tune = [(d, r) for d, r in zip(docs, results) if d["split"] == "tune"]
    test = [(d, r) for d, r in zip(docs, results) if d["split"] == "test"]
    chosen = {}
    for kind in TYPES.values():
        best = None
        for th in (0.0, 0.3, 0.5):
            types, _ = score([d for d, _ in tune], [r for _, r in tune], {kind: th, **{k: 0.5 for k in TYPES.values() if k != kind}})
            v = f1(types.get(kind, {"positives": 0, "recalled": 0, "lookalikes_flagged": 0}))
            if best is None or v > best[0]:
                best = (v, th)
        chosen[kind] = best[1]
    types, carrier = score([d for d, _ in test], [r for _, r in test], chosen)
    import importlib.metadata
    print(json.dumps({"docs": len(docs), "bytes": size, "seconds": secs, "mb_per_s": size / 1e6 / secs,
                      "types": types, "carrier_docs_touched": carrier, "test_docs": len(test),
                      "thresholds": chosen, "version": importlib.metadata.version("presidio-analyzer")}))


if __name__ == "__main__":
    main(sys.argv[1])
