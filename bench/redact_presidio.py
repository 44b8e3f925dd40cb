"""Presidio's side of bench/redact.sh: analyse the same labelled documents
with presidio-analyzer's regex and checksum recognisers, single thread, and
print throughput and F1 per type (exact spans) as JSON.

No NER model runs: spaCy's default model cannot be downloaded here, so the
NLP engine is spacy.blank("en") with a component that sets each token's lemma
to its lower case (context words still work). tldextract is pointed at the
suffix list its package bundles."""

import json
import sys
import time

import spacy
import tldextract
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine, NlpEngineProvider  # noqa: F401
from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer, IbanRecognizer,
                                                      IpRecognizer, PhoneRecognizer, UrlRecognizer, UsSsnRecognizer)
from spacy.language import Language

_offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
tldextract.extract = _offline
try:
    import presidio_analyzer.predefined_recognizers.email_recognizer as _er  # noqa: E402
    _er.tldextract.extract = _offline
except Exception:
    pass


@Language.component("lower_lemma")
def lower_lemma(doc):
    for t in doc:
        t.lemma_ = t.text.lower()
    return doc


class BlankEngine(SpacyNlpEngine):
    def __init__(self):
        super().__init__(models=[{"lang_code": "en", "model_name": "blank"}])

    def load(self):
        nlp = spacy.blank("en")
        nlp.add_pipe("lower_lemma")
        self.nlp = {"en": nlp}


TYPES = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "credit_card",
         "IBAN_CODE": "iban", "US_SSN": "us_ssn", "IP_ADDRESS": "ip_address"}


def analyzer(with_url=True):
    """Presidio's analyzer as every benchmark here runs it: the blank English
    engine and the card, e-mail, IBAN, IP, phone, US SSN (and URL)
    recognisers."""
    engine = BlankEngine()
    engine.load()
    reg = RecognizerRegistry()
    for r in (CreditCardRecognizer(), EmailRecognizer(), IbanRecognizer(), IpRecognizer(), PhoneRecognizer(),
              UsSsnRecognizer()):
        reg.add_recognizer(r)
    if with_url:
        reg.add_recognizer(UrlRecognizer())
    return AnalyzerEngine(nlp_engine=engine, registry=reg, supported_languages=["en"])


def main(path):
    docs = [json.loads(l) for l in open(path)]
    az = analyzer()
    ents = list(TYPES) + ["URL"]
    az.analyze(text=docs[0]["text"], language="en", entities=ents)  # warm up
    t = time.perf_counter()
    results = [az.analyze(text=d["text"], language="en", entities=ents) for d in docs]
    secs = time.perf_counter() - t
    size = sum(len(d["text"].encode()) for d in docs)
    # Presidio reports character offsets; ours are bytes.
    def to_bytes(text, i):
        return len(text[:i].encode())
    best = {}
    for threshold in (0.0, 0.3, 0.5):
        stats = {k: [0, 0, 0] for k in TYPES.values()}
        for d, res in zip(docs, results):
            found = {(TYPES[r.entity_type], to_bytes(d["text"], r.start), to_bytes(d["text"], r.end))
                     for r in res if r.entity_type in TYPES and r.score >= threshold}
            planted = {(p["kind"], p["start"], p["end"]) for p in d["planted"] if p["valid"] and p["kind"] in stats}
            for k, s, e in found:
                stats[k][0 if (k, s, e) in planted else 1] += 1
            for k, s, e in planted - found:
                stats[k][2] += 1
        for k, (tp, fp, fn) in stats.items():
            f1 = 2 * tp / max(2 * tp + fp + fn, 1)
            if f1 >= best.get(k, (-1, 0))[0]:
                best[k] = (f1, threshold)
    import presidio_analyzer
    print(json.dumps({"docs": len(docs), "bytes": size, "seconds": secs, "mb_per_s": size / 1e6 / secs,
                      "f1": {k: v[0] for k, v in best.items()}, "threshold": {k: v[1] for k, v in best.items()},
                      "version": getattr(presidio_analyzer, "__version__", "?"), "spacy": spacy.__version__}))


if __name__ == "__main__":
    main(sys.argv[1])
