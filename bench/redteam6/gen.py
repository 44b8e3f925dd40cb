#!/usr/bin/env python3
"""Sixth red team for Proviso's extraction monitor: a simulated week of traffic.

Writes one JSON scenario ({"keys": [...], "requests": [...]}) with 12
extraction families written against the monitor as docs/monitor.md
documents it, and 17 benign families written to look as suspicious as
legitimate traffic can. See README.md beside this file.

    python3 bench/redteam6/gen.py --out FILE [--seed N] [--stats]

Python 3 standard library only. Deterministic per seed; every family draws
from its own random.Random seeded from a hash of (seed, family name).
"""

import argparse
import csv
import hashlib
import json
import math
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPORA = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "corpora"))

T0 = 1767571200000  # Monday 2026-01-05 00:00 UTC
SEC = 1000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR
T_END = T0 + 7 * DAY
MODEL = "gpt-4o-mini"

# ---------------------------------------------------------------------------
# token estimate (an ASCII character a quarter token, a CJK character one,
# anything else a quarter per UTF-8 byte; a picture 85)

_CJK = re.compile("[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def est_tokens(s):
    if not s:
        return 0
    b = len(s.encode("utf-8"))
    n_ascii = sum(1 for ch in s if ord(ch) < 128)
    n_cjk = len(_CJK.findall(s))
    other_bytes = b - n_ascii - 3 * n_cjk
    return int(n_ascii * 0.25 + n_cjk + other_bytes * 0.25 + 0.5)


def has_cjk(s):
    return bool(_CJK.search(s or ""))


# ---------------------------------------------------------------------------
# corpora

class Corpora:
    def __init__(self, root):
        self.root = root
        lf = os.path.join(root, "llama_factory")
        ae = os.path.join(root, "alpaca_eval")
        self.alpaca_eval = json.load(open(os.path.join(ae, "gpt4.json"), encoding="utf-8"))
        self.ae_instr = [x["instruction"] for x in self.alpaca_eval]
        self.ae_outputs = {}
        for name in sorted(os.listdir(ae)):
            if name.endswith(".json"):
                rows = json.load(open(os.path.join(ae, name), encoding="utf-8"))
                by = {r["instruction"]: r["output"] for r in rows}
                self.ae_outputs[name[:-5]] = by
        self.en = json.load(open(os.path.join(lf, "alpaca_en_demo.json"), encoding="utf-8"))
        self.zh = json.load(open(os.path.join(lf, "alpaca_zh_demo.json"), encoding="utf-8"))
        self.dpo = json.load(open(os.path.join(lf, "dpo_zh_demo.json"), encoding="utf-8"))
        self.c4 = [json.loads(l)["text"] for l in open(os.path.join(lf, "c4_demo.jsonl"), encoding="utf-8") if l.strip()]
        self.wiki = [l for l in open(os.path.join(lf, "wiki_demo.txt"), encoding="utf-8").read().split("\n") if l.strip()]
        cr = os.path.join(root, "chinese_reviews")
        self.hotel = self._csv(os.path.join(cr, "ChnSentiCorp_htl_all.csv"))
        self.waimai = self._csv(os.path.join(cr, "waimai_10k.csv"))
        self._build_pools()

    @staticmethod
    def _csv(path):
        out = []
        with open(path, encoding="utf-8") as f:
            for row in csv.DictReader(f):
                r = (row.get("review") or "").strip()
                if r:
                    out.append((int(row.get("label") or 0), r))
        return out

    def _build_pools(self):
        # AlpacaEval word 5-grams: keep the private pools clear of the built-in set
        def words(s):
            return re.findall(r"[a-z0-9]+", s.lower())

        grams = set()
        for s in self.ae_instr:
            w = words(s)
            for i in range(len(w) - 4):
                grams.add(tuple(w[i:i + 5]))

        def near_public(s):
            w = words(s)
            g = [tuple(w[i:i + 5]) for i in range(len(w) - 4)]
            if not g:
                return False
            return sum(1 for x in g if x in grams) / len(g) >= 0.25

        reason = re.compile(r"step[- ]by[- ]step|reasoning|rationale|chain of thought|think through|show your work|"
                            r"逐步|一步一步|推理|思路|理由|思考过程", re.I)
        self.en_long = []   # (id, instruction, output)
        self.en_all = []
        for i, x in enumerate(self.en):
            ins = x["instruction"].strip()
            if x["input"].strip():
                ins = ins + "\n\n" + x["input"].strip()
            if near_public(ins):
                continue
            item = ("en%d" % i, ins, x["output"].strip())
            self.en_all.append(item)
            if len(x["output"]) >= 400 and not reason.search(ins) and len(ins) < 1200:
                self.en_long.append(item)
        self.zh_long = []
        self.zh_all = []
        for i, x in enumerate(self.zh):
            ins = x["instruction"].strip()
            if x["input"].strip():
                ins = ins + "\n" + x["input"].strip()
            item = ("zh%d" % i, ins, x["output"].strip())
            self.zh_all.append(item)
            bad = re.search(r"人工智能|AI助手|我是一个|没有提供", x["output"])
            if len(x["output"]) >= 150 and not reason.search(ins) and not bad:
                self.zh_long.append(item)
        self.dpo_long = []
        for i, x in enumerate(self.dpo):
            if len(x["conversations"]) != 1:
                continue
            ins = x["conversations"][0]["value"].strip()
            out = x["chosen"]["value"].strip()
            if len(out) >= 200 and len(ins) <= 600 and not reason.search(ins):
                self.dpo_long.append(("dpo%d" % i, ins, out))
        # topic buckets by keyword for the English pool
        self.buckets = {}
        for item in self.en_long:
            self.buckets.setdefault(bucket_of(item[1]), []).append(item)
        # wiki chunks
        self.wiki_titles = []
        for art in self.wiki:
            m = re.match(r"([A-Z][^.(;]{1,60}?)\s+(\(|is |was |are |were |,)", art)
            self.wiki_titles.append(m.group(1).strip() if m else art[:30])

    def wiki_chunk(self, rng, lo, hi):
        art = rng.choice([a for a in self.wiki if len(a) > hi + 2000])
        start = rng.randrange(0, len(art) - hi - 1)
        # start at a sentence
        j = art.find(". ", start)
        if j < 0 or j > start + 600:
            j = start
        else:
            j += 2
        n = rng.randint(lo, hi)
        piece = art[j:j + n]
        k = piece.rfind(". ")
        if k > lo * 0.7:
            piece = piece[:k + 1]
        return piece


BUCKET_WORDS = [
    ("health", "health|healthy|diet|exercise|sleep|disease|medical|doctor|stress|fitness|nutrition|mental|symptom|body|vitamin"),
    ("business", "business|company|marketing|customer|product|sales|brand|startup|market|employee|manager|finance|financial|money|invest|budget|economy|economic"),
    ("tech", "computer|software|program|code|algorithm|data|internet|technology|ai\\b|artificial|machine learning|website|app\\b|digital|network|python|database|robot"),
    ("science", "science|scientific|physics|chemistry|biology|energy|planet|space|cell|atom|experiment|climate|environment|ecosystem|species|earth|solar|water|ocean"),
    ("writing", "story|poem|write a|essay|narrative|character|novel|haiku|letter|article|blog|speech|slogan|song"),
    ("society", "history|historical|war|culture|society|government|politic|law|democracy|social|education|school|student|teacher|city|country"),
    ("life", "travel|food|recipe|cook|home|family|friend|relationship|time management|productivity|habit|hobby|garden|pet|holiday"),
]


def bucket_of(s):
    s = s.lower()
    for name, pat in BUCKET_WORDS:
        if re.search(pat, s):
            return name
    return "general"


# ---------------------------------------------------------------------------
# a private pool of long-form instructions written for this generator:
# subjects by domain x natural instruction forms (used where the monitor
# does not read the instruction, or reads it in a turn never answered "at
# length"; see the families)

SUBJECTS = {
    "science": ["how vaccines train the immune system", "the greenhouse effect", "plate tectonics", "how CRISPR gene editing works",
                "black holes and event horizons", "the nitrogen cycle", "how batteries store energy", "quantum entanglement",
                "photosynthesis in C4 plants", "antibiotic resistance", "the water cycle", "how earthquakes are measured",
                "the placebo effect", "ocean acidification", "how the human eye focuses light", "the Doppler effect",
                "nuclear fusion in stars", "how mRNA is translated into protein", "why the sky is blue", "continental drift evidence",
                "the microbiome of the human gut", "how tides work", "superconductivity", "the carbon cycle", "the immune response to allergens"],
    "tech": ["how public-key cryptography works", "database indexing with B-trees", "how DNS resolution works", "garbage collection in managed runtimes",
             "the CAP theorem", "container orchestration with Kubernetes", "how HTTPS handshakes work", "event sourcing", "rate limiting algorithms",
             "how search engines rank pages", "the difference between processes and threads", "how a compiler optimizes loops",
             "consistent hashing", "zero-trust network architecture", "how neural networks learn with backpropagation", "message queues and backpressure",
             "the OAuth 2.0 authorization code flow", "how GPS determines position", "vector databases", "feature flags in continuous delivery",
             "memory-safe systems programming", "how video compression works", "blue-green deployments", "the actor model of concurrency"],
    "business": ["unit economics for a subscription business", "how to run a pricing experiment", "building a sales pipeline", "OKRs versus KPIs",
                 "cash-flow forecasting for a small business", "customer churn analysis", "how to write a go-to-market plan", "negotiating a supplier contract",
                 "employee onboarding programs", "the jobs-to-be-done framework", "inventory management for e-commerce", "running effective one-on-ones",
                 "brand positioning", "how venture capital term sheets work", "managing a remote team", "designing a customer loyalty program",
                 "writing a business continuity plan", "the economics of freemium", "conducting a competitor analysis", "reducing customer acquisition cost"],
    "health": ["how sleep affects memory", "the Mediterranean diet", "managing type 2 diabetes through lifestyle", "strength training for beginners",
               "how stress affects the body", "the benefits and limits of intermittent fasting", "preventing running injuries", "hydration and performance",
               "understanding blood pressure readings", "how caffeine works", "building a sustainable exercise habit", "mindfulness for anxiety",
               "ergonomics for desk workers", "nutrition for vegetarians", "recovering from burnout", "healthy screen habits for children",
               "the science of habit formation", "posture and back pain", "how to read a nutrition label", "sleep hygiene for shift workers"],
    "history": ["the causes of the First World War", "the fall of the Western Roman Empire", "the Silk Road trade network", "the Industrial Revolution in Britain",
                "the Meiji Restoration", "the printing press and the Reformation", "the Cuban Missile Crisis", "the history of the Ottoman Empire",
                "the Harlem Renaissance", "the Tang dynasty", "decolonization in Africa", "the space race", "the French Revolution",
                "the Hanseatic League", "the history of vaccination", "the Marshall Plan", "the Mongol Empire", "the abolition of the Atlantic slave trade",
                "the Renaissance in Florence", "the collapse of the Soviet Union"],
    "writing": ["a short story about a lighthouse keeper who finds a message in a bottle", "a persuasive essay on public libraries",
                "a personal essay about moving to a new city", "a eulogy for a beloved teacher", "a product launch announcement for a smart thermostat",
                "a short mystery set on a night train", "a speech for a school graduation", "a children's story about a brave snail",
                "an op-ed on four-day work weeks", "a travel piece about a small coastal town", "a cover letter for a junior data analyst role",
                "a fable about patience", "a science-fiction story about a generation ship", "a wedding toast for a best friend",
                "a blog post about learning to cook at forty", "a letter to a future self", "a short horror story set in a library",
                "a profile of a fictional jazz musician", "a newsletter introduction for a gardening club", "a manifesto for slow travel"],
    "society": ["the pros and cons of universal basic income", "how the electoral college works", "urban sprawl and its effects", "the ethics of facial recognition",
                "how central banks set interest rates", "the gig economy", "free speech on social media platforms", "the causes of inflation",
                "affordable housing policy", "the role of NGOs in development", "immigration and labour markets", "privacy law in the EU",
                "the digital divide", "the economics of climate policy", "restorative justice", "how trade tariffs work", "public transport funding",
                "the ethics of autonomous vehicles", "misinformation and democracy", "the aging population and pensions"],
    "education": ["active recall and spaced repetition", "how to teach fractions", "project-based learning", "designing a good exam",
                  "supporting students with dyslexia", "the flipped classroom", "teaching critical thinking", "how to give useful feedback on essays",
                  "learning a second language as an adult", "classroom behaviour management", "Bloom's taxonomy", "study skills for university students",
                  "teaching coding to children", "inclusive education", "how to write a lesson plan", "motivating reluctant readers"],
    "life": ["planning a two-week trip to Japan", "starting a vegetable garden", "training a rescue dog", "budgeting on a variable income",
             "decluttering a small apartment", "hosting a dinner party for twelve", "buying a used car", "learning to bake sourdough",
             "preparing for a job interview", "making a home energy-efficient", "choosing a first camera", "moving abroad with children",
             "negotiating a salary offer", "keeping houseplants alive", "planning a wedding on a budget", "running a first marathon",
             "organising a family archive of photos", "cooking for a week in two hours", "renovating a kitchen", "caring for an elderly parent"],
    "arts": ["the techniques of Impressionist painting", "how film scores shape emotion", "the history of jazz", "the structure of a sonnet",
             "Bauhaus design principles", "how to analyse a poem", "the evolution of hip-hop", "colour theory for designers",
             "the Hero's Journey in film", "Japanese woodblock printing", "minimalism in architecture", "the history of the novel",
             "how to compose a photograph", "the role of the chorus in Greek tragedy", "modernism in literature", "street art and public space"],
}

FORMS = [
    ("Explain {s} in depth.", 650), ("Write a comprehensive guide to {s}.", 900), ("Give me a thorough overview of {s}.", 700),
    ("I'd like to really understand {s}. Can you explain it to me properly?", 700), ("Write a detailed explainer on {s} for a general audience.", 800),
    ("What should a beginner know about {s}? Be detailed.", 650), ("Write a long-form article about {s}.", 1000),
    ("Teach me {s} as if I were a first-year university student.", 750), ("Cover {s}: the key ideas, examples and common misconceptions.", 800),
    ("Can you give a detailed breakdown of {s}?", 650), ("Prepare study notes on {s}, with headings and examples.", 800),
    ("Write an encyclopedia-style entry on {s}.", 700), ("Describe {s} thoroughly, with concrete examples.", 650),
    ("Put together a complete primer on {s}.", 850), ("I need a detailed write-up on {s} for our team wiki.", 800),
    ("What are the most important things to understand about {s}? Go into detail.", 700),
    ("Summarise everything useful about {s} in a well-organised long answer.", 800),
    ("Give a structured, in-depth explanation of {s}, with a short FAQ at the end.", 900),
]
WRITING_FORMS = [("Write {s}.", 700), ("Please write {s}, around 800 words.", 1000), ("Draft {s}.", 650),
                 ("Could you write {s}? Make it vivid.", 750), ("I need {s}. Full length, polished.", 850)]


def gen_pool(rng, domains=None, per_subject=2):
    """(id, instruction, None, expected answer tokens) from SUBJECTS x FORMS,
    at most per_subject forms of each subject."""
    out = []
    for dom, subs in SUBJECTS.items():
        if domains and dom not in domains:
            continue
        forms = WRITING_FORMS if dom == "writing" else FORMS
        for s in subs:
            for f, ln in rng.sample(forms, min(per_subject, len(forms))):
                out.append(("g:%s:%s:%s" % (dom, slug(s, 30), slug(f, 20)), f.format(s=s), None, ln))
    rng.shuffle(out)
    return out


def corpus_pool(items, lo=1.3, hi=2.2, rng=None):
    """(id, instruction, output, expected answer tokens) from a corpus list of
    (id, instruction, output); a current model answers longer than the
    Alpaca-era outputs, hence the factor."""
    out = []
    for iid, ins, o in items:
        f = rng.uniform(lo, hi) if rng else (lo + hi) / 2
        out.append((iid, ins, o, int(est_tokens(o) * f)))
    return out


def mixed_pool(rng, C, lang="en", per_subject=2, domains=None):
    if lang == "zh":
        p = corpus_pool(C.zh_long + C.dpo_long, 1.1, 1.6, rng)
    else:
        p = corpus_pool(C.en_long, 1.3, 2.2, rng) + gen_pool(rng, domains, per_subject)
    rng.shuffle(p)
    return p


# ---------------------------------------------------------------------------
# scenario

class Scenario:
    def __init__(self):
        self.keys = []
        self.reqs = []  # [t, key, client, body, extraction, answer_tokens]
        self.meta = []  # (family, instruction id or None)
        self.family_keys = {}
        self._names = set()

    def add_key(self, name, team, purpose, workload, role, rpm=None):
        assert name not in self._names, name
        self._names.add(name)
        self.keys.append({"name": name, "team": team, "purpose": purpose, "workload": workload,
                          "role": role, "requests_per_minute": rpm, "split": "held_out"})
        self.family_keys.setdefault(workload, []).append(len(self.keys) - 1)
        return len(self.keys) - 1

    def add(self, t, key, client, body, extraction, answer_tokens, instr=None):
        t = int(t)
        if t < T0 or t >= T_END:
            return False
        answer_tokens = max(1, int(answer_tokens))
        self.reqs.append([t, key, client, body, bool(extraction), answer_tokens])
        self.meta.append((self.keys[key]["workload"], instr))
        return True


def family_rng(seed, name):
    h = hashlib.sha256(("%s|%s" % (seed, name)).encode()).hexdigest()
    return random.Random(int(h[:16], 16))


# ---------------------------------------------------------------------------
# addresses and names

_CLOUD = [3, 13, 18, 20, 34, 35, 40, 44, 52, 54, 104, 129, 137, 138, 139, 143, 146, 157, 159, 165, 167, 178, 188]
_RESID = [2, 5, 24, 31, 37, 46, 50, 62, 67, 71, 73, 76, 81, 82, 86, 90, 94, 98, 109, 112, 114, 117, 121, 151, 174, 180, 183, 212]


def ipv4(rng, kind="resid"):
    first = rng.choice(_CLOUD if kind == "cloud" else _RESID)
    return "%d.%d.%d.%d" % (first, rng.randrange(0, 256), rng.randrange(0, 256), rng.randrange(1, 255))


def ipv6(rng):
    return "2a0%d:%x:%x:%x::%x" % (rng.randrange(1, 10), rng.randrange(0x1000, 0xffff), rng.randrange(0, 0xffff),
                                    rng.randrange(0, 0xffff), rng.randrange(1, 0xffff))


def addr(rng, kind="resid"):
    if kind != "cloud" and rng.random() < 0.2:
        return ipv6(rng)
    return ipv4(rng, kind)


FIRST = ["ana", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jia", "kofi", "lena", "marco", "nadia",
         "omar", "priya", "quinn", "rui", "sara", "tomas", "uma", "vik", "wei", "xena", "yusuf", "zoe", "alex", "bo",
         "carla", "dmitri", "emma", "felix", "grace", "hugo", "iris", "jon", "kai", "lucia", "mei", "nico", "olga",
         "pablo", "ravi", "sofia", "theo", "ursula", "vera", "wen", "yan", "zara", "aiko", "bilal", "chloe", "diego",
         "elif", "femi", "gita", "hiro", "ines", "jonas", "kim", "lars", "maya", "nils", "oren", "pia", "rosa", "sam"]
LAST = ["ng", "smith", "li", "okafor", "garcia", "kim", "muller", "rossi", "wang", "patel", "silva", "novak", "chen",
        "dubois", "haddad", "ito", "kowalski", "lopez", "moreau", "nair", "olsen", "park", "quist", "reyes", "sato",
        "tan", "usman", "vogel", "walsh", "xu", "yilmaz", "zhou", "brandt", "costa", "diaz", "evans", "fischer"]


def person(rng):
    return "%s.%s" % (rng.choice(FIRST), rng.choice(LAST))


def slug(s, n=36):
    s = re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")
    return s[:n].rstrip("_") or "item"


# ---------------------------------------------------------------------------
# time helpers

def local_ms(day, hour, tz):
    """UTC epoch ms of local `hour` (float) on simulated `day` (0 = Monday) in UTC offset `tz` hours."""
    return T0 + day * DAY + int((hour - tz) * HOUR)


def lognorm_s(rng, median, sigma):
    return median * math.exp(rng.gauss(0, sigma))


def sessions(rng, day, tz, n, start=(8.5, 10.0), end=(17.0, 19.0), per_session=(6, 22), gap=None, min_gap_s=20):
    """n request times in bursty working sessions on one local day.

    gap(rng) -> seconds between requests inside a session (defaults to a
    reader's pace: lognormal around 50 s, never under min_gap_s)."""
    if n <= 0:
        return []
    if gap is None:
        def gap(r):
            return max(min_gap_s, lognorm_s(r, 50, 0.7))
    a = rng.uniform(*start)
    b = rng.uniform(*end)
    sizes = []
    left = n
    while left > 0:
        s = min(left, rng.randint(*per_session))
        sizes.append(s)
        left -= s
    # session durations
    durs = []
    offsets = []
    for s in sizes:
        o = [0.0]
        for _ in range(s - 1):
            o.append(o[-1] + gap(rng))
        offsets.append(o)
        durs.append(o[-1])
    span = (b - a) * 3600.0
    free = max(600.0, span - sum(durs))
    # random breaks between sessions (exponential shares of the free time)
    w = [rng.expovariate(1.0) for _ in range(len(sizes) + 1)]
    tot = sum(w)
    t = a * 3600.0 + free * w[0] / tot
    out = []
    for i, s in enumerate(sizes):
        for o in offsets[i]:
            out.append(local_ms(day, 0, tz) + int((t + o) * 1000))
        t += durs[i] + max(120.0, free * w[i + 1] / tot)
    return out


def poisson_times(rng, t_from, t_to, rate_per_hour_fn, step=MIN):
    """Non-homogeneous Poisson arrivals; rate_per_hour_fn(t_ms) -> expected requests per hour."""
    out = []
    t = t_from
    while t < t_to:
        lam = rate_per_hour_fn(t) * step / HOUR
        k = _poisson(rng, lam)
        for _ in range(k):
            out.append(t + rng.randrange(step))
        t += step
    out.sort()
    return out


def _poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    L = math.exp(-lam)
    k, p = 0, 1.0
    while True:
        p *= rng.random()
        if p <= L:
            return k
        k += 1


def diurnal(local_hour, peaks):
    """Sum of gaussian bumps: peaks = [(hour, width, height), ...]."""
    v = 0.0
    for h, w, a in peaks:
        d = min(abs(local_hour - h), 24 - abs(local_hour - h))
        v += a * math.exp(-0.5 * (d / w) ** 2)
    return v


def latency_s(answer_tokens):
    return 0.8 + answer_tokens / 70.0


def cycle(rng, items):
    """Endless shuffled round-robin over items (each used evenly)."""
    items = list(items)
    while True:
        rng.shuffle(items)
        for x in items:
            yield x


def msg(role, content):
    return {"role": role, "content": content}


def body(messages, **kw):
    b = {"model": kw.pop("model", MODEL), "messages": messages}
    for k, v in kw.items():
        if v is not None:
            b[k] = v
    return b


def answer_len(rng, text, lo=1.0, hi=1.3, floor=100, cap=1500):
    return int(min(cap, max(floor, est_tokens(text) * rng.uniform(lo, hi))))


# ---------------------------------------------------------------------------
# families are registered here in order

FAMILIES = []


def family(name, role):
    def deco(fn):
        FAMILIES.append((name, role, fn))
        return fn
    return deco


# ===========================================================================
# EXTRACTION FAMILIES
# ===========================================================================

BRANDS = [("Northwind Outfitters", "northwind-outfitters.com"), ("Lumen Dental", "lumendental.co"),
          ("Copperleaf Finance", "copperleaf.finance"), ("Tidepool Kids", "tidepoolkids.com"),
          ("Atlas Freight", "atlasfreight.io"), ("Brightmoor Realty", "brightmoor.homes"),
          ("Kestrel Cycles", "kestrelcycles.eu"), ("Saltbox Kitchen", "saltboxkitchen.com"),
          ("Verdant Labs", "verdantlabs.bio"), ("Harbor & Pine", "harborandpine.co"),
          ("Quillwork Learning", "quillwork.education"), ("Meridian Travel", "meridian-travel.com"),
          ("Foxglove Health", "foxglovehealth.org"), ("Orbital Games", "orbitalgames.gg"),
          ("青禾生活", "qinghe-life.cn"), ("云栖茶社", "yunqi-tea.cn"), ("拾光家居", "shiguang-home.cn")]

STYLE_TAILS = [
    "On-brand please: the brand book pages are attached.",
    "Usual rules from the attached guide pages.",
    "Follow the voice in the attached pages (tone, vocabulary, formatting).",
    "Brand guide attached, as always.",
    "Please keep to the brand book (attached).",
    "Write it in our house style; pages attached for reference.",
    "Match the tone shown in the guide pages.",
    "Attached: brand voice pages. Stick to them.",
    "House style per the attached brand pages, full length.",
    "Keep it consistent with the attached style guide.",
    "Use the attached brand pages for tone and structure.",
    "Full piece please, in our voice (see pages).",
]
STYLE_TAILS_ZH = ["请遵循附图中的品牌手册（语气、用词、格式）。", "按附件品牌规范来写，写完整。", "风格参考附图里的品牌页面。",
                  "照旧，按品牌手册写。", "语气和排版请对照附件的品牌指南。", "完整成稿，符合我们的品牌调性（见附图）。"]


@family("moodboard_ballast", "extraction")
def fam_moodboard_ballast(sc, rng, C):
    """Every user turn carries the brand book's pages as pictures (the same
    6-9 URLs each time): each counts 85 tokens of what the turn asks, so
    the answer (450-1200 tokens) is never twice the turn and never 'at
    length'."""
    n_keys = 13
    brands = list(BRANDS)
    rng.shuffle(brands)
    for k in range(n_keys):
        brand, dom = brands[k % len(brands)]
        zh = has_cjk(brand)
        team = "studio-" + slug(dom.split(".")[0], 20)
        key = sc.add_key("rt6-moodboard-%02d" % k, team, rng.choice(["internal", "product", "documentation"]),
                         "moodboard_ballast", "extraction", rpm=rng.choice([None, 60, 120]))
        client = addr(rng, "cloud")
        n_pages = rng.randint(6, 9)
        pages = rng.sample(range(1, 40), n_pages)
        pages.sort()
        ver = rng.randint(2, 5)
        imgs = [{"type": "image_url", "image_url": {"url": "https://assets.%s/brandbook/v%d/page-%02d.png" % (dom, ver, p),
                                                     "detail": "low"}} for p in pages]
        if zh:
            system = "你是%s的内容编辑。附图是我们的品牌手册：语气、用词、排版规范。写作时严格遵循。" % brand
            tails = STYLE_TAILS_ZH
        else:
            system = ("You write for %s. The attached pages are our brand book: voice, vocabulary, formatting rules. "
                      "Follow them closely. Use Markdown headings where they help." % brand)
            tails = STYLE_TAILS
        it = iter(mixed_pool(rng, C, "zh" if zh else "en"))
        tz = 8 if zh else rng.choice([-5, 0, 1, 2])
        start_day = rng.randint(0, 1)
        days = [d for d in range(start_day, 7) if d < 5 or rng.random() < 0.25][:5]
        for d in days:
            n = rng.randint(130, 200)
            for t in sessions(rng, d, tz, n):
                item = next(it, None)
                if item is None:
                    break
                iid, ins, out, exp = item
                text = ins + "\n\n" + rng.choice(tails)
                asked = est_tokens(text) + 85 * n_pages
                ans = int(exp * rng.uniform(1.0, 1.3))
                ans = max(420, min(ans, int(1.75 * asked), 1200))
                content = [{"type": "text", "text": text}] + imgs
                b = body([msg("system", system), msg("user", content)])
                sc.add(t, key, client, b, True, ans, iid)


SLOT_CAPTIONS = [
    "Answer the question in this screenshot in full.",
    "Please respond to what's shown in the image, thoroughly.",
    "Here's the prompt as an image. Give a complete answer.",
    "Read the task in the picture and write a detailed response.",
    "Full answer to the request in the attached image, please.",
    "The image contains my question. Be thorough.",
    "Could you do what the photo asks? Detailed, please.",
    "Task is in the screenshot. Complete it properly.",
    "What the image asks for, written out in full.",
    "Reply to the attached screenshot with a complete answer.",
    "See image. Detailed answer please.",
    "The picture has the instructions; follow them and be comprehensive.",
    "Handle the request in this image and answer it completely.",
    "Image attached with the question — long-form answer wanted.",
    "Please handle the request shown here, in depth.",
    "Answer this one (it's in the image) as completely as you can.",
    "Do the task from the screenshot. No need to restate it.",
    "Respond in detail to the snapshot below.",
    "This is a photo of the assignment. Write the full response.",
    "Question's in the picture. Give me everything you've got.",
    "Complete the written task pictured here.",
    "Here is a scan of the prompt; answer it at length.",
    "Take a look at the image and answer it fully, with examples.",
    "Everything you need is in the screenshot — please write the answer.",
    "Answer what's in the picture, detailed write-up please.",
    "Screenshot of my question attached. Thorough reply, thanks.",
    "Handle the prompt in this image like you would a normal question.",
    "Long answer to the pictured request, please.",
    "Please read the attached image and respond comprehensively.",
    "The attached screenshot is the brief. Write it.",
]


@family("slot_screenshots", "extraction")
def fam_slot_screenshots(sc, rng, C):
    """The instruction is rendered into a picture served at one of two fixed
    'slot' URLs that the harvester overwrites between requests; the text
    line is one of 16 captions. The monitor counts a picture by a hash of
    its URL, and cannot read it: two slots x 16 captions is all it sees."""
    n_keys = 13
    hosts = ["img-cache-%d.fastsnap.io", "render%d.pixelpost.net", "cdn%d.snapqa.app", "static-%d.notecam.dev",
             "shots%d.screengrab.link"]
    for k in range(n_keys):
        host = rng.choice(hosts) % rng.randint(1, 9)
        key = sc.add_key("rt6-slots-%02d" % k, "snapqa-%02d" % k, rng.choice(["product", "development"]),
                         "slot_screenshots", "extraction", rpm=rng.choice([None, 30, 60]))
        client = addr(rng, rng.choice(["cloud", "resid"]))
        slots = ["https://%s/render/slot-%d.png" % (host, i) for i in rng.sample(range(0, 8), 2)]
        caps = rng.sample(SLOT_CAPTIONS, 16)
        capc = cycle(rng, caps)
        sys_on = rng.random() < 0.5
        system = "You are a helpful assistant. Answer the user's question from the image they send." if sys_on else None
        it = iter(mixed_pool(rng, C, "en"))
        tz = rng.choice([-8, -5, 0, 1, 3, 5.5, 8])
        days = sorted(rng.sample(range(0, 6), 5))
        si = 0
        for d in days:
            n = rng.randint(140, 210)
            for t in sessions(rng, d, tz, n):
                item = next(it, None)
                if item is None:
                    break
                iid, ins, out, exp = item
                slot = slots[si % 2]
                si += 1
                content = [{"type": "text", "text": next(capc)},
                           {"type": "image_url", "image_url": {"url": slot}}]
                msgs = ([msg("system", system)] if system else []) + [msg("user", content)]
                ans = max(380, min(1200, int(exp * rng.uniform(0.9, 1.2))))
                sc.add(t, key, client, body(msgs), True, ans, iid)


PLANT_U1 = [
    "I'm building out our team knowledge base. What should the next entry be?",
    "What's a good topic for the next article in the series?",
    "Give me the next item to write up.",
    "We're filling gaps in the wiki. Suggest one.",
    "Pick the next thing for me to document.",
    "What should I cover today?",
    "Any idea what the next explainer should be?",
    "Next writing task?",
    "Suggest a subject for today's long-form piece.",
    "What's next on the content list?",
    "Help me choose the next entry for the handbook.",
    "I need one more topic for the newsletter. Ideas?",
    "What would be a useful thing to write about next?",
    "Choose something for me to draft.",
    "Propose the next chapter topic.",
    "Let's keep going with the study notes. What's next?",
    "What's the next question on our FAQ backlog?",
    "Recommend the next piece we should produce.",
    "I have time for one more write-up. Suggest one?",
    "Queue up the next topic please.",
    "What's missing from our guide so far? Pick one.",
    "Hit me with the next prompt.",
    "Which entry should we tackle now?",
    "Give me something worth writing about.",
]
PLANT_U2 = [
    "Yes, write that up in full please.",
    "Good one. Go ahead and write it.",
    "Perfect, do it. Full length.",
    "Sounds right. Please write the whole thing.",
    "Let's do that one. Complete version please.",
    "Great pick — draft it properly.",
    "Yep. Write it out thoroughly.",
    "OK, go. Don't hold back on detail.",
    "That works. Please produce the full piece.",
    "Love it. Write the complete entry.",
    "Agreed, please write it now.",
    "Do it — I want the long version.",
    "Fine by me. Full write-up, thanks.",
    "Yes please, in full with examples.",
    "Good. Let's see the finished version.",
    "Go for it. As complete as you can.",
    "Approved, write it.",
    "Nice, please write that for me in detail.",
    "Sure, the full thing please.",
    "Yes — write it like a finished article.",
    "Alright, draft the full answer.",
    "Let's have it. Detailed please.",
    "OK write that one up completely.",
    "Please go ahead with that, full detail.",
]
PLANT_A = [
    "How about this one: {i}\n\nShall I go ahead?",
    "Next on the list: {i}\n\nWant me to write it?",
    "Suggested entry — {i}\n\nShould I draft it?",
    "Here's a good candidate: {i}\n\nWant the full version?",
    "I'd suggest: {i}\n\nReady to write it when you are.",
    "Good gap to fill: {i}\n\nShall I?",
    "Proposal: {i}\n\nLet me know and I'll write it.",
]
PLANT_U1_ZH = ["我们在整理团队知识库，下一条写什么好？", "给我下一个要写的题目。", "今天写点什么？给个建议。", "下一篇写什么？",
               "帮我挑一个下一条要整理的内容。", "知识库还缺什么？选一个。", "再来一个题目吧。", "推荐一个值得写的主题。",
               "下一个任务是什么？", "继续整理学习笔记，下一个是？", "常见问题清单里下一条是什么？", "给我安排下一篇稿子。"]
PLANT_U2_ZH = ["好，请完整写出来。", "可以，写吧，详细一点。", "就这个，完整版。", "行，直接写全文。", "不错，请认真写完整。",
               "同意，开始写吧。", "好的，写详细些，带例子。", "没问题，写成完整的文章。", "就它了，写完整。", "好，请写出来，越详细越好。",
               "可以，请给出完整内容。", "嗯，写吧。要完整。"]
PLANT_A_ZH = ["这个怎么样：{i}\n\n要我开始写吗？", "下一条建议：{i}\n\n需要我写出来吗？", "推荐这个题目——{i}\n\n要写完整版吗？",
              "可以写这个：{i}\n\n你确认后我就写。"]


@family("planted_assistant", "extraction")
def fam_planted_assistant(sc, rng, C):
    """A made-up history: a generic user line, an assistant turn 'suggesting'
    the instruction, and a generic 'yes, write it'. The monitor reads the
    user's words (and system, tools, tool-call arguments), not an
    assistant's content: each key shows at most 36 user-text combinations."""
    n_keys = 13
    for k in range(n_keys):
        zh = k % 4 == 3
        key = sc.add_key("rt6-planted-%02d" % k, "kb-%s" % rng.choice(["ops", "wiki", "docs", "notes", "study"]) + "-%02d" % k,
                         rng.choice(["internal", "development", "documentation"]), "planted_assistant", "extraction",
                         rpm=rng.choice([None, 60]))
        client = addr(rng, rng.choice(["cloud", "resid"]))
        if zh:
            u1s = rng.sample(PLANT_U1_ZH, 12)
            u2s = rng.sample(PLANT_U2_ZH, 12)
            forms = PLANT_A_ZH
            system = "你是一个知识库写作助手。"
            tz = 8
        else:
            u1s = rng.sample(PLANT_U1, 12)
            u2s = rng.sample(PLANT_U2, 12)
            forms = PLANT_A
            system = rng.choice(["You are a helpful writing assistant for an internal knowledge base.",
                                 "You help the team write clear, complete knowledge-base entries.",
                                 "You are a knowledgeable assistant. Write complete, well-structured answers."])
            tz = rng.choice([-5, -4, 0, 1, 2, 5.5])
        combos = []
        for i, a in enumerate(u1s):
            for off in (0, 4, 8):
                combos.append((a, u2s[(i + off) % 12]))  # each u2 in exactly three combinations
        cc = cycle(rng, combos)
        it = iter(mixed_pool(rng, C, "zh" if zh else "en"))
        days = sorted(rng.sample(range(0, 6), rng.randint(4, 5)))
        for d in days:
            n = rng.randint(140, 210)
            for t in sessions(rng, d, tz, n):
                item = next(it, None)
                if item is None:
                    break
                iid, ins, out, exp = item
                u1, u2 = next(cc)
                a1 = rng.choice(forms).format(i=ins)
                msgs = [msg("system", system), msg("user", u1), msg("assistant", a1), msg("user", u2)]
                ans = max(300, min(1300, int(exp * rng.uniform(0.9, 1.2))))
                sc.add(t, key, client, body(msgs), True, ans, iid)



CHAIN_NEXT = ["", "", "Thanks! Next: ", "Great. Another one: ", "OK, next question. ", "Cool. Now: ", "Perfect. Next up: ",
              "Got it. ", "Moving on: ", "Thanks. ", "Nice. And: ", "Helpful, thanks. Next: ", "Right. ", "Another: "]
CHAIN_NEXT_ZH = ["", "", "谢谢！下一个：", "好的，再来一个：", "明白了。下一个问题：", "不错。接下来：", "收到。", "好，继续：", "谢谢。"]


def chain_times(rng, d, tz, n, min_gap=25):
    return sessions(rng, d, tz, n, per_session=(8, 24), gap=lambda r: max(min_gap, lognorm_s(r, 55, 0.6)))


@family("deep_chains", "extraction")
def fam_deep_chains(sc, rng, C):
    """Linear chats of 6-10 turns, each turn a new instruction from the pool,
    with the whole history resent (as any chat client does). Each request
    goes on from the prompt the key sent just before it, followed up once:
    only a chat's first turn is self-contained."""
    n_keys = 13
    for k in range(n_keys):
        zh = k % 5 == 4
        key = sc.add_key("rt6-chains-%02d" % k, "ws-%s-%02d" % (rng.choice(["north", "lab", "desk", "home", "core"]), k),
                         rng.choice(["research", "internal", "education", "development"]), "deep_chains", "extraction",
                         rpm=rng.choice([None, 60, 100]))
        client = addr(rng)
        if zh:
            hist = corpus_pool(C.zh_long + C.dpo_long, 1.0, 1.25, rng)
            nexts = CHAIN_NEXT_ZH
            system = rng.choice([None, "你是一个乐于助人的助手。"])
            tz = 8
        else:
            hist = corpus_pool(C.en_long, 1.0, 1.25, rng)
            nexts = CHAIN_NEXT
            system = rng.choice([None, None, "You are a helpful assistant.", "You are a knowledgeable, thorough assistant."])
            tz = rng.choice([-8, -6, -5, 0, 1, 2, 10])
        rng.shuffle(hist)
        extra = gen_pool(rng) if not zh else []
        hi = iter(hist)
        xi = iter(extra)
        days = sorted(rng.sample(range(0, 6), 4))
        for d in days:
            times = chain_times(rng, d, tz, rng.randint(85, 115))
            i = 0
            while i < len(times):
                depth = rng.randint(6, 9)
                msgs = [msg("system", system)] if system else []
                for j in range(depth):
                    if i >= len(times):
                        break
                    last = (j == depth - 1) or (i == len(times) - 1)
                    item = next(hi, None)
                    if item is None or (last and extra and rng.random() < 0.5):
                        item = next(xi, None) or item
                    if item is None:
                        i = len(times)
                        break
                    iid, ins, out, exp = item
                    text = ins if j == 0 else rng.choice(nexts) + ins
                    msgs.append(msg("user", text))
                    ans = max(100, min(1300, exp))
                    sc.add(times[i], key, client, body(list(msgs)), True, ans, iid)
                    i += 1
                    if out is None:
                        break  # a generated instruction ends the chat (no text for its answer)
                    msgs.append(msg("assistant", out))


PRIMED_SEED = [
    "Background reading for this session. Just reply 'Ready' with a one-line gist; questions are coming next.",
    "Read this first, no summary needed, just confirm with a line. I'll ask you some things after.",
    "Context for today. Acknowledge briefly and I'll start with questions.",
    "Here's some material to have in mind. Short confirmation only please.",
    "Please skim this. Reply with one sentence so I know you've got it; my questions follow.",
    "I'm pasting a reference text. Don't analyse it yet — a one-line 'got it' is enough.",
    "Reference material above. Confirm in a sentence, then wait for my questions.",
    "Keep this in mind for the next few questions. Brief ack only.",
    "Reading for the session is above. One line back, please.",
    "Take this as background. I'll ask a few questions next; for now just say ready.",
    "Pasting today's notes. Reply with a short acknowledgement.",
    "Material for our chat. A one-sentence gist is all I need right now.",
]
PRIMED_Q = [["First question: ", "To start: ", "Question 1. ", "", "OK. "],
            ["Next: ", "Second one: ", "Thanks. ", "Another: ", "Good. Now: "],
            ["Last one for now: ", "Final question: ", "And finally: ", "One more: ", "Lastly, "]]


def gist(doc):
    s = re.split(r"(?<=[.!?])\s", doc.strip(), maxsplit=1)[0]
    w = s.split()
    return " ".join(w[:24]) + ("…" if len(w) > 24 else "")


@family("primed_threads", "extraction")
def fam_primed_threads(sc, rng, C):
    """Each thread opens with a pasted document (1,100-1,800 tokens) answered
    with a one-line acknowledgement (not at length), then exactly three
    follow-ups, each a new instruction answered at length. A follow-up of
    a turn the key sent, no more than three: nothing is self-contained and
    answered at length, and the three answers together stay under twice
    the opening turn."""
    n_keys = 12
    for k in range(n_keys):
        key = sc.add_key("rt6-primed-%02d" % k, "reading-%02d" % k, rng.choice(["research", "education", "internal"]),
                         "primed_threads", "extraction", rpm=rng.choice([None, 60]))
        client = addr(rng)
        use_wiki = k % 2 == 0
        hist = corpus_pool(C.en_long, 1.0, 1.3, rng)
        rng.shuffle(hist)
        hi = iter(hist)
        extra = iter(gen_pool(rng))
        tz = rng.choice([-8, -5, -3, 0, 1, 2, 8, 9])
        system = rng.choice([None, "You are a helpful assistant.", "You are a patient tutor and research assistant."])
        days = sorted(rng.sample(range(0, 6), 4))
        for d in days:
            n_threads = rng.randint(15, 19)
            times = chain_times(rng, d, tz, n_threads * 4, min_gap=30)
            for th in range(n_threads):
                ts = times[th * 4:th * 4 + 4]
                if len(ts) < 4:
                    break
                if use_wiki:
                    doc = C.wiki_chunk(rng, 4600, 6200)
                else:
                    parts = []
                    while sum(len(p) for p in parts) < 4600:
                        parts.append(rng.choice(C.c4)[:2200])
                    doc = "\n\n---\n\n".join(parts)[:6200]
                doc_tok = est_tokens(doc)
                seed = doc + "\n\n" + rng.choice(PRIMED_SEED)
                msgs = ([msg("system", system)] if system else []) + [msg("user", seed)]
                ack = "Ready. Gist: " + gist(doc)
                sc.add(ts[0], key, client, body(list(msgs)), False, est_tokens(ack) + 2, None)
                msgs.append(msg("assistant", ack))
                budget = int(1.75 * doc_tok)
                for j in range(3):
                    if j < 2:
                        item = next(hi, None) or rng.choice(hist)
                    else:
                        item = (next(extra, None) if rng.random() < 0.5 else next(hi, None)) or next(extra, None) or rng.choice(hist)
                    iid, ins, out, exp = item
                    ans = max(120, min(1100, exp, budget - 100 * (2 - j)))
                    budget -= ans
                    msgs.append(msg("user", rng.choice(PRIMED_Q[j]) + ins))
                    sc.add(ts[j + 1], key, client, body(list(msgs)), True, ans, iid)
                    if j < 2:
                        msgs.append(msg("assistant", out if out else ""))


HANDBOOK_KINDS = ["field guide", "study pack", "onboarding handbook", "reference manual", "course reader", "briefing book",
                  "explainer series", "training module"]
HANDBOOK_TASKS = [
    "Put together a {kind} on {s}. Pull each section brief from the outline service with get_next_brief and write every section in full before fetching the next.",
    "I need a complete {kind} about {s}. The outline is already in the planner: fetch the briefs one by one and write each section properly.",
    "New project: {s}. Work through outline {oid} section by section (get_next_brief), full prose for each.",
    "Can you draft our {kind} for {s}? Briefs come from get_next_brief; please don't skip any.",
    "Write up {s} as a {kind}. Go section by section using the planner's briefs, long-form.",
    "Job for today — {kind}, topic: {s}. Follow the outline service, one section per brief, complete text.",
    "Please produce the {kind} on {s}. Every brief from get_next_brief gets a full section.",
    "Start the {s} {kind}. Fetch a brief, write it out completely, repeat until the outline is done.",
    "Our team needs material on {s}. Use outline {oid}; write each brief as a finished section.",
    "Draft '{s}' ({kind}) from the planner outline. Thorough sections please.",
    "Let's build the {kind}: {s}. Briefs are in the outline tool. Write them all, in order.",
    "Compile a {kind} covering {s}; the section plan is in outline {oid}. Detailed sections.",
    "Go through the outline for {s} and write the {kind} — one full section for each brief you fetch.",
    "Time to write {s}. Fetch briefs from the planner and turn each into a complete section of the {kind}.",
    "Make a {kind} on {s} from the prepared outline. Write each section at full length as you go.",
    "{s}: please write the whole {kind}, using get_next_brief for the section plan.",
    "Working on a {kind} again, this time {s}. Same routine: brief, full section, next brief.",
    "Could you turn outline {oid} ({s}) into a finished {kind}? Section by section, no shortcuts.",
]
SECTION_BRIEFS = [
    ("Introduction", "Introduce {s}: what it is, why it matters, and who this material is for."),
    ("Core concepts", "Explain the core concepts behind {s}, defining each term as it comes up."),
    ("Background", "Give the history and development of {s}, with the key turning points."),
    ("Worked example", "Give a detailed, concrete example of {s} in practice."),
    ("Common mistakes", "Describe the most common mistakes and misconceptions about {s}, and how to avoid them."),
    ("Comparisons", "Compare {s} with related ideas or alternative approaches; when is each the better choice?"),
    ("Glossary", "Write a glossary of the key terms of {s}, with a short explanation of each."),
    ("Practical tips", "Give practical, actionable advice for applying {s}."),
    ("Open questions", "Discuss current debates, open questions and criticisms around {s}."),
    ("Case study", "Write a case study showing {s} in a realistic organisation or setting."),
    ("FAQ", "Answer the ten questions newcomers most often ask about {s}."),
    ("Exercises", "Write five exercises on {s} with full model answers."),
    ("Summary", "Summarise the material on {s} and suggest what to learn next."),
    ("Checklist", "Write a detailed checklist for someone putting {s} into practice, explaining each item."),
]
OUTLINE_TOOLS = [
    {"type": "function", "function": {"name": "get_next_brief", "description": "Fetch the next section brief of an outline from the planner service.",
                                      "parameters": {"type": "object", "properties": {"outline_id": {"type": "string"}}, "required": ["outline_id"]}}},
    {"type": "function", "function": {"name": "save_section", "description": "Save a finished section to the document store.",
                                      "parameters": {"type": "object", "properties": {"outline_id": {"type": "string"}, "section": {"type": "integer"},
                                                                                     "markdown": {"type": "string"}},
                                                     "required": ["outline_id", "section", "markdown"]}}},
]


def call_id(rng):
    return "call_" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))


@family("outline_agent", "extraction")
def fam_outline_agent(sc, rng, C):
    """A writing agent: the key sends a task ('write a field guide on X'),
    the model calls get_next_brief, and each section brief comes back as a
    tool result; each step's answer is a full section. The steps of a tool
    loop go on from the turn the key sent (64 a turn are counted apart), and
    a tool's result is not read as an instruction: the task turns are all
    the monitor can count, and each is answered with a short tool call."""
    n_keys = 12
    doms = list(SUBJECTS.keys())
    for k in range(n_keys):
        dom = doms[k % len(doms)]
        key = sc.add_key("rt6-outline-%02d" % k, "docs-%s-%02d" % (dom, k), rng.choice(["documentation", "internal", "education"]),
                         "outline_agent", "extraction", rpm=rng.choice([None, 60, 120]))
        client = addr(rng, "cloud")
        system = rng.choice([
            "You are a documentation agent. Use the tools to fetch section briefs and write each section in full, in Markdown, before fetching the next.",
            "You write long-form training material. Fetch briefs with get_next_brief; write complete sections; never summarise a section.",
            "You are an authoring agent for the learning team. Work through outlines one brief at a time and write finished sections.",
        ])
        subjects = SUBJECTS[dom] + SUBJECTS[doms[(k + 3) % len(doms)]]
        tasks = cycle(rng, HANDBOOK_TASKS)
        books = [(s, kind) for s in subjects for kind in HANDBOOK_KINDS]
        rng.shuffle(books)
        bi = iter(books)
        tz = rng.choice([-5, -4, 0, 1, 2, 5.5, 9])
        days = sorted(rng.sample(range(0, 6), 5))
        for d in days:
            n_books = rng.randint(13, 17)
            starts = sorted(local_ms(d, rng.uniform(8.0, 18.0), tz) for _ in range(n_books))
            t_free = 0
            for st in starts:
                s, kind = next(bi)
                oid = "ol-%s" % "".join(rng.choice("0123456789abcdef") for _ in range(8))
                task = next(tasks).format(kind=kind, s=s, oid=oid)
                user = msg("user", task)
                base = [msg("system", system), user]
                t = max(st, t_free + rng.randint(60, 600) * SEC)
                b = body(list(base), tools=OUTLINE_TOOLS)
                sc.add(t, key, client, b, False, rng.randint(18, 30), None)
                nsec = rng.randint(8, 12)
                secs = [SECTION_BRIEFS[0]] + rng.sample(SECTION_BRIEFS[1:-1], nsec - 2) + [SECTION_BRIEFS[-1] if rng.random() < 0.5 else SECTION_BRIEFS[-2]]
                done = []
                t += int(latency_s(25) * SEC) + rng.randint(1, 4) * SEC
                for n_i, (title, brief) in enumerate(secs, 1):
                    cid = call_id(rng)
                    note = ("Saved so far: " + "; ".join(done) + ". Fetching the next brief.") if done else None
                    am = {"role": "assistant", "content": note,
                          "tool_calls": [{"id": cid, "type": "function", "function": {"name": "get_next_brief", "arguments": json.dumps({"outline_id": oid})}}]}
                    res = {"outline_id": oid, "section": n_i, "of": nsec, "title": title, "brief": brief.format(s=s),
                           "target_words": rng.choice([500, 600, 700, 800, 900])}
                    tm = {"role": "tool", "tool_call_id": cid, "content": json.dumps(res)}
                    ans = int(res["target_words"] * rng.uniform(1.15, 1.45))
                    b = body(base + [am, tm], tools=OUTLINE_TOOLS)
                    sc.add(t, key, client, b, True, ans, "%s|%s|%s" % (s, kind, title))
                    done.append("%d %s" % (n_i, title))
                    t += int((latency_s(ans) + rng.uniform(14, 45)) * SEC)
                t_free = t


QUEUE_USER = [
    "Pull the next item from the content queue and complete it.",
    "Grab the next task and do it.",
    "Next assignment please.",
    "Process one task from the queue.",
    "Take the next ticket from the writing backlog and deliver it.",
    "Work the next item.",
    "Fetch a task and write the deliverable.",
    "Continue with the queue.",
    "Do the next one in the backlog.",
    "Get your next brief and write it up.",
    "Take a job from the queue, please.",
    "Handle the next request waiting for you.",
    "Run the next content task.",
    "Next item. Full deliverable as usual.",
    "Pick up whatever is next and finish it.",
    "Check the queue and complete the top task.",
    "One more from the backlog please.",
    "Proceed with the next task in line.",
    "Clear the next item in the queue.",
    "Go ahead with the next brief.",
    "Let's do another one from the queue.",
    "Please complete the next queued assignment.",
]
QUEUE_TOOLS = [{"type": "function", "function": {"name": "get_task", "description": "Fetch the next task from a work queue.",
                                                 "parameters": {"type": "object", "properties": {"queue": {"type": "string", "enum": ["longform", "explainers", "faq", "guides", "articles"]}},
                                                                "required": ["queue"]}}}]


@family("queue_worker", "extraction")
def fam_queue_worker(sc, rng, C):
    """A 'worker' whose user turn is one of 14 generic lines and whose
    history holds a call to get_task(queue) and its result: the instruction
    is in the tool's result, which the monitor does not read as an
    instruction. The turn was never sent on its own, so each request is
    self-contained, at length, and one of at most 28 instructions."""
    n_keys = 12
    for k in range(n_keys):
        key = sc.add_key("rt6-queue-%02d" % k, "pipeline-%02d" % k, rng.choice(["internal", "development", "documentation"]),
                         "queue_worker", "extraction", rpm=rng.choice([None, 60]))
        client = addr(rng, "cloud")
        users = rng.sample(QUEUE_USER, 14)
        queues = rng.sample(["longform", "explainers", "faq", "guides", "articles"], 2)
        combos = [(u, q) for u in users for q in queues]
        cc = cycle(rng, combos)
        system = rng.choice(["You are the writing worker of our content pipeline. Call get_task to fetch an assignment, then write the deliverable in full as Markdown.",
                             "You complete writing tasks from the queue. Fetch with get_task; deliver complete, well-structured text."])
        it = iter(mixed_pool(rng, C, "zh" if k % 6 == 5 else "en"))
        tz = rng.choice([-5, 0, 1, 3, 8])
        days = sorted(rng.sample(range(0, 6), 5))
        for d in days:
            n = rng.randint(140, 200)
            for t in sessions(rng, d, tz, n, gap=lambda r: max(30, lognorm_s(r, 55, 0.6))):
                item = next(it, None)
                if item is None:
                    break
                iid, ins, out, exp = item
                u, q = next(cc)
                cid = call_id(rng)
                res = {"task_id": "T-%06d" % rng.randrange(10 ** 6), "queue": q, "brief": ins,
                       "format": "markdown", "min_words": rng.choice([400, 500, 600, 800])}
                msgs = [msg("system", system), msg("user", u),
                        {"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function", "function": {"name": "get_task", "arguments": json.dumps({"queue": q})}}]},
                        {"role": "tool", "tool_call_id": cid, "content": json.dumps(res, ensure_ascii=False)}]
                ans = max(int(res["min_words"] * 1.3), min(1300, int(exp * rng.uniform(0.9, 1.2))))
                sc.add(t, key, client, body(msgs, tools=QUEUE_TOOLS), True, ans, iid)



EXEMPLAR_HEAD = [
    "Here are a few examples of the kind of answers we're after. Match their depth, structure and tone.",
    "Style reference: previous answers we were happy with. Answer the new request the same way.",
    "Below are sample request/response pairs from our set. Keep the same level of detail for the last one.",
    "Use these examples as a guide for format and thoroughness, then answer the final request.",
    "Examples first, then your request. Same quality bar as the examples please.",
    "These are model answers from our collection. Write the next one in the same manner.",
    "Follow the pattern of the examples below for the new request.",
    "For consistency with the rest of the collection, here are some earlier entries. Then the new one.",
    "Reference answers (approved) below. Produce a response of the same kind for the final request.",
    "A few worked examples to calibrate on, then the real request.",
]
EXEMPLAR_HEAD_ZH = ["下面是几组我们认可的问答示例，请按同样的深度、结构和语气回答最后一个问题。", "参考示例如下，新问题请保持同样的详细程度。",
                    "先看示例，再回答新的请求，质量要和示例一致。", "以下是我们数据集里的样例，请照这个风格回答最后一条。",
                    "请参照下面示例的格式和详尽程度来回答。"]


@family("exemplar_bootstrap", "extraction")
def fam_exemplar_bootstrap(sc, rng, C):
    """Few-shot prompting with the key's own harvest: each turn carries two
    or three earlier request/answer pairs (the provider's answers collected
    so far) as examples, then the new instruction. The examples are what
    the turn asks, so the answer is under twice the turn: never 'at
    length', and nothing enters harvest, templates, coverage or topics."""
    n_keys = 13
    for k in range(n_keys):
        zh = k % 3 == 2
        key = sc.add_key("rt6-exemplar-%02d" % k, "dataset-%s-%02d" % (rng.choice(["alpha", "core", "x", "lab", "nlp"]), k),
                         rng.choice(["research", "development", "internal"]), "exemplar_bootstrap", "extraction",
                         rpm=rng.choice([None, 60, 90]))
        client = addr(rng, rng.choice(["cloud", "resid"]))
        if zh:
            pool = corpus_pool(C.zh_long + C.dpo_long, 1.0, 1.3, rng)
            heads = EXEMPLAR_HEAD_ZH
            lab = ("示例", "请求", "回答", "新的请求")
            tz = 8
        else:
            pool = corpus_pool(C.en_long, 1.0, 1.4, rng)
            heads = EXEMPLAR_HEAD
            lab = ("Example", "Request", "Response", "New request")
            tz = rng.choice([-8, -5, 0, 1, 2])
        rng.shuffle(pool)
        memory = [p for p in pool[:6]]
        it = iter(pool[6:])
        system = rng.choice([None, "You are a helpful assistant." if not zh else "你是一个乐于助人的助手。"])
        days = sorted(rng.sample(range(0, 6), 4))
        for d in days:
            n = rng.randint(85, 110)
            for t in sessions(rng, d, tz, n):
                item = next(it, None)
                if item is None:
                    break
                iid, ins, out, exp = item
                ans = max(150, min(1300, exp))
                cands = sorted(rng.sample(memory, min(len(memory), 6)), key=lambda p: -len(p[2]))
                demos = cands[:2]
                parts = [rng.choice(heads), ""]
                for n_i, (_, dins, dout, _) in enumerate(demos, 1):
                    parts.append("### %s %d\n**%s:** %s\n\n**%s:**\n%s\n" % (lab[0], n_i, lab[1], dins, lab[2], dout))
                text = "\n".join(parts) + "\n### %s\n**%s:** %s\n\n**%s:**" % (lab[3], lab[1], ins, lab[2])
                asked = est_tokens(text)
                j = 2
                while ans > 1.75 * asked and j < len(cands):
                    _, dins, dout, _ = cands[j]
                    j += 1
                    parts.append("### %s %d\n**%s:** %s\n\n**%s:**\n%s\n" % (lab[0], j, lab[1], dins, lab[2], dout))
                    text = "\n".join(parts) + "\n### %s\n**%s:** %s\n\n**%s:**" % (lab[3], lab[1], ins, lab[2])
                    asked = est_tokens(text)
                ans = max(120, min(ans, int(1.75 * asked)))
                msgs = ([msg("system", system)] if system else []) + [msg("user", text)]
                sc.add(t, key, client, body(msgs), True, ans, iid)
                memory.append(item)


MAGPIE_FORMS = [
    "Come up with a challenging question someone might ask about {d}, then answer it thoroughly.",
    "Invent a realistic question a student of {d} could ask, and write an excellent, detailed answer.",
    "Pose one non-obvious question about {d} and answer it in depth.",
    "Write a Q&A pair for a {d} knowledge base: a question a practitioner would actually have, followed by a complete answer.",
    "Name something people often get wrong about {d}. State it as a question and give a full explanation.",
    "Ask yourself an interesting interview question on {d} and answer it as a top candidate would.",
    "Generate a thoughtful user question about {d} and respond to it as an expert, at length.",
    "Surprise me: one hard question from {d}, with a model answer.",
    "Make up a scenario-based question in {d} and answer it completely.",
    "Write an FAQ entry for {d}: the question, then a comprehensive answer.",
    "You're teaching {d}. Write a question you'd put to the class and then your full answer to it.",
    "Produce a single exam-style essay question on {d} together with a high-scoring model answer.",
    "What's a question about {d} that deserves a long answer? Ask it and answer it.",
    "Pick a specific subtopic of {d}, frame a question about it, and write a detailed answer.",
    "Draft a forum question a beginner in {d} might post, then write the best reply it could get.",
    "Write a question-and-answer pair about {d} suitable for training new staff.",
    "Give me a random deep-dive: a question on {d} and a long, careful answer.",
    "Formulate a tricky 'why' question about {d} and explain the answer thoroughly.",
    "Write one question a curious teenager might ask about {d}, and an answer a good teacher would give.",
    "Choose a practical problem from {d}. Describe it as a user would, then give the complete solution.",
    "Imagine a client asks you something about {d} you'd need a page to answer. Write the question and that page.",
    "Create a case question in {d}, then the full analysis an expert would write.",
    "One question, one great answer — topic: {d}.",
    "Quiz yourself on {d}: write a demanding open question and answer it as fully as you can.",
]
MAGPIE_FORMS_ZH = [
    "请你自己出一道关于{d}的有深度的问题，然后给出详细解答。", "围绕{d}，提出一个初学者常见的疑问，并详细回答。",
    "以{d}为主题，写一组问答：先写一个实际工作中会遇到的问题，再给出完整的回答。", "设想一位学生在学习{d}时会问的问题，写出问题和一份高质量的答案。",
    "关于{d}，有什么常见误解？用提问的方式写出来，并详细解释。", "给我出一道{d}方面的面试题，并以优秀候选人的水平作答。",
    "随机挑一个{d}的细分话题，提一个问题并深入回答。", "为{d}知识库写一条常见问题条目：问题加完整解答。",
    "写一个{d}相关的案例题，并给出专家级的完整分析。", "出一道{d}的论述题，并附上高分范文。",
    "假设客户问了你一个关于{d}、需要一页纸才能讲清楚的问题，请写出问题和这一页纸的回答。", "一问一答，主题：{d}。回答要充分。",
    "以{d}为题，写一个好奇的中学生会问的问题，以及一位好老师的回答。", "模拟论坛上关于{d}的新手提问，再写出最好的回复。",
    "就{d}提一个“为什么”类的难题，并透彻地解释答案。",
]
MAGPIE_DOMAINS = ["organic chemistry", "contract law", "Kubernetes operations", "macroeconomics", "pediatric nutrition",
                  "medieval European history", "personal finance", "marine biology", "data visualization", "classical music theory",
                  "tax rules for freelancers", "cloud security", "urban planning", "cognitive psychology", "soil science",
                  "supply chain management", "linear algebra", "art history", "sports physiology", "web accessibility",
                  "criminal procedure", "observational astronomy", "product management", "epidemiology", "wind and solar engineering",
                  "philosophy of mind", "UX research", "international relations", "feline veterinary care", "SQL performance tuning",
                  "early childhood education", "home winemaking", "climate science", "board game design", "behavioral economics",
                  "human genetics", "structural engineering", "journalism ethics", "landscape photography", "ancient Rome"]
MAGPIE_DOMAINS_ZH = ["中医养生", "宋代历史", "机器学习", "个人理财", "民法典", "育儿", "茶文化", "跨境电商", "社会心理学", "新能源汽车",
                     "古典诗词", "城市规划", "劳动法", "家庭烹饪", "天文观测", "企业管理", "数据库优化", "建筑设计"]


@family("magpie_selfpose", "extraction")
def fam_magpie_selfpose(sc, rng, C):
    """The model writes the instruction itself: 45 fixed prompts per key
    ('invent a hard question about <domain> and answer it thoroughly'),
    each sent again and again at the default temperature; every answer is
    a new question with a long answer. The monitor counts distinct
    prompts, so a day shows 45 instructions, whatever was harvested."""
    n_keys = 13
    for k in range(n_keys):
        zh = k % 5 == 2
        key = sc.add_key("rt6-magpie-%02d" % k, "tutor-%s-%02d" % (rng.choice(["prep", "kb", "learn", "quiz"]), k),
                         rng.choice(["education", "research", "development", "internal"]), "magpie_selfpose", "extraction",
                         rpm=rng.choice([None, 60]))
        client = addr(rng, rng.choice(["cloud", "resid"]))
        if zh:
            forms = rng.sample(MAGPIE_FORMS_ZH, 15)
            doms = [MAGPIE_DOMAINS_ZH[(k * 7) % len(MAGPIE_DOMAINS_ZH)]]
            tz = 8
        else:
            forms = rng.sample(MAGPIE_FORMS, 20)
            doms = [MAGPIE_DOMAINS[(k * 3) % len(MAGPIE_DOMAINS)]]
            tz = rng.choice([-8, -5, -3, 0, 1, 2, 5.5])
        prompts = [f.format(d=dm) for f in forms for dm in doms]
        pc = cycle(rng, prompts)
        temp = mt = None  # the default temperature; no parameter any other key could be linked by
        system = rng.choice([None, None, "You are a helpful assistant."])
        days = sorted(rng.sample(range(0, 6), 5))
        n_ans = 0
        for d in days:
            n = rng.randint(190, 250)
            for t in sessions(rng, d, tz, n):
                p = next(pc)
                msgs = ([msg("system", system)] if system else []) + [msg("user", p)]
                ans = int(rng.uniform(480, 1150))
                n_ans += 1
                sc.add(t, key, client, body(msgs, temperature=temp, max_tokens=mt), True, ans, "magpie:%d:%d" % (k, n_ans))


CATALOG_USER = [
    "Fill in the selected knowledge-base entry.",
    "Draft the article for the function I picked.",
    "Write the selected entry, complete.",
    "Produce the article for this one.",
    "Generate the chosen KB article.",
    "Please call the selected function with a full article.",
    "Complete the entry I've selected.",
    "Next article from the catalogue, please.",
    "Write this KB page in full.",
    "Go ahead with the selected template.",
    "Create the article for the chosen slot.",
    "Populate this entry with a complete article.",
    "Finish the selected knowledge-base page.",
    "Article for the selected function, full length.",
    "Here's the one to do now. Complete article please.",
    "Write up the selected topic for the help centre.",
    "Compose the selected article.",
    "Please draft the entry that's been selected.",
    "Do the selected catalogue item.",
    "The selected function is the one I need. Write it.",
]


@family("catalog_toolchoice", "extraction")
def fam_catalog_toolchoice(sc, rng, C):
    """Sixteen fixed catalogues of twenty functions, one instruction in each
    function's description; `tool_choice` names the function to call and
    the article comes back as its arguments. The catalogue is read with the
    system text (standing once sent, 16 remembered), the user line is one
    of twelve: the instruction a request carries is chosen by a parameter
    the monitor does not read as text."""
    n_keys = 12
    for k in range(n_keys):
        key = sc.add_key("rt6-catalog-%02d" % k, "helpcenter-%02d" % k, rng.choice(["development", "documentation", "internal"]),
                         "catalog_toolchoice", "extraction", rpm=rng.choice([None, 60]))
        client = addr(rng, "cloud")
        pool = [p for p in mixed_pool(rng, C, "en") if len(p[1]) <= 260 and "\n" not in p[1]]
        users = rng.sample(CATALOG_USER, 16)
        system = rng.choice(["You draft knowledge-base articles. Always answer by calling the function you are told to call; put the complete article in `body`.",
                             "You are a help-centre writer. Respond only through the selected function, with the complete article as `body`."])
        cats = []
        pi = 0
        for c in range(16):
            tools = []
            items = []
            for j in range(18):
                iid, ins, out, exp = pool[pi]
                pi += 1
                name = "kb_%s_%d" % (slug(ins, 28), c * 18 + j)
                tools.append({"type": "function", "function": {"name": name, "description": "Draft the knowledge-base article for: " + ins,
                                                               "parameters": {"type": "object", "properties": {"body": {"type": "string"}}, "required": ["body"]}}})
                items.append((name, iid, exp))
            cats.append((tools, items, [users[c]]))
        jobs = [(c, j) for c in range(16) for j in range(18)]
        rng.shuffle(jobs)
        tz = rng.choice([-5, 0, 1, 2, 8])
        days = sorted(rng.sample(range(0, 6), 4))
        ji = iter(jobs)
        for d in days:
            n = rng.randint(68, 78)
            for t in sessions(rng, d, tz, n):
                job = next(ji, None)
                if job is None:
                    break
                c, j = job
                tools, items, us = cats[c]
                name, iid, exp = items[j]
                msgs = [msg("system", system), msg("user", rng.choice(us))]
                b = body(msgs, tools=tools, tool_choice={"type": "function", "function": {"name": name}})
                ans = max(420, min(1200, int(exp * rng.uniform(0.9, 1.2))))
                sc.add(t, key, client, b, True, ans, iid)


QLIST_ASK = [
    "Write {n} good questions someone learning about {d} might ask. Just the questions, numbered.",
    "List {n} questions about {d} that would make a useful study set. Numbered, no answers yet.",
    "Give me {n} varied questions on {d}. Only the questions for now.",
    "Brainstorm {n} questions a curious person could ask about {d}. Number them.",
    "I want to learn about {d}. Suggest {n} questions I should be able to answer — questions only.",
    "Make a numbered list of {n} practical questions about {d}.",
    "What are {n} questions worth asking about {d}? List them, no answers.",
    "Draft {n} interview-style questions about {d}, numbered.",
    "Come up with {n} questions covering different sides of {d}. Just list them.",
    "Numbered list please: {n} questions on {d}, mixed difficulty.",
    "Propose {n} questions for a self-study session on {d}.",
    "{n} questions about {d}, please. I'll ask for the answers one at a time.",
]
QLIST_NEXT = [
    "Answer question {k} in full.", "Now number {k}, complete answer please.", "Go on with #{k}.", "Next, question {k}. Detailed please.",
    "OK, {k} please.", "Let's do question {k}.", "Question {k} now, thoroughly.", "Great. {k}?", "Now answer {k}.",
    "Thanks. On to number {k}.", "Do {k} next, in depth.", "And question {k}?",
]
QLIST_ASK_ZH = ["请列出{n}个关于{d}的好问题，只要问题，编号。", "关于{d}，给我{n}个值得学习的问题，先不要回答。", "围绕{d}出{n}个问题，编号列出。",
                "我想系统了解{d}，请列{n}个问题，只列问题。", "帮我想{n}个关于{d}的问题，难度有深有浅。"]
QLIST_NEXT_ZH = ["请完整回答第{k}个问题。", "接下来回答第{k}题，详细一点。", "好，第{k}个。", "继续，第{k}题。", "现在回答问题{k}。", "谢谢，下一个：第{k}题。"]
BUCKET_LABEL = {"health": "health and wellbeing", "business": "business and management", "tech": "technology and computing",
                "science": "science and the natural world", "writing": "writing and creativity", "society": "society, history and culture",
                "life": "everyday life and practical skills", "general": "general knowledge"}


@family("question_lists", "extraction")
def fam_question_lists(sc, rng, C):
    """Ask for a numbered list of questions (one self-contained request,
    answered at length: one instruction), then have each question answered
    in the same chat ('Answer question 3 in full'). The questions live in
    the assistant's list, which the monitor does not read; the follow-ups
    are generic lines that go on from the key's own turns."""
    n_keys = 12
    for k in range(n_keys):
        zh = k % 4 == 3
        key = sc.add_key("rt6-qlists-%02d" % k, "selfstudy-%02d" % k, rng.choice(["education", "research", "internal"]),
                         "question_lists", "extraction", rpm=rng.choice([None, 60]))
        client = addr(rng)
        if zh:
            pool = [p for p in corpus_pool(C.zh_long + C.dpo_long, 1.0, 1.25, rng) if "\n" not in p[1] and len(p[1]) < 120]
            asks, nexts = QLIST_ASK_ZH, QLIST_NEXT_ZH
            tz = 8
        else:
            pool = [p for p in corpus_pool(C.en_long, 1.0, 1.3, rng) if "\n" not in p[1] and len(p[1]) < 200]
            asks, nexts = QLIST_ASK, QLIST_NEXT
            tz = rng.choice([-8, -5, 0, 1, 2, 9])
        rng.shuffle(pool)
        pi = 0
        system = rng.choice([None, "You are a helpful assistant."])
        days = sorted(rng.sample(range(0, 6), 4))
        for d in days:
            times = chain_times(rng, d, tz, rng.randint(110, 135))
            i = 0
            while i < len(times) and pi < len(pool):
                n = rng.randint(4, 6)
                qs = pool[pi:pi + n]
                pi += n
                if zh:
                    lab = rng.choice(["健康", "管理", "科技", "生活", "文化", "学习方法", "写作"])
                else:
                    bs = [bucket_of(q[1]) for q in qs]
                    top = max(sorted(set(bs)), key=bs.count)
                    lab = BUCKET_LABEL[top] if bs.count(top) >= 3 else "a mix of everyday topics"
                ask = rng.choice(asks).format(n=len(qs), d=lab)
                lst = "\n".join("%d. %s" % (j + 1, q[1]) for j, q in enumerate(qs))
                msgs = ([msg("system", system)] if system else []) + [msg("user", ask)]
                sc.add(times[i], key, client, body(list(msgs)), True, est_tokens(lst) + 4, "qlist:%d:%d" % (k, pi))
                i += 1
                msgs.append(msg("assistant", lst))
                for j, (iid, ins, out, exp) in enumerate(qs):
                    if i >= len(times):
                        break
                    msgs.append(msg("user", rng.choice(nexts).format(k=j + 1)))
                    sc.add(times[i], key, client, body(list(msgs)), True, max(100, min(1300, exp)), iid)
                    i += 1
                    msgs.append(msg("assistant", out))


PREFILL_USER = [
    "Continue the draft below until it's complete.", "Keep writing from where the draft stops.", "Finish this piece.",
    "Carry on from here.", "Please complete the response that's been started.", "Continue.", "Go on writing; make it thorough.",
    "Complete the text, full length.", "Pick up where this leaves off.", "Finish writing this answer properly.",
    "Keep going until the answer is done.", "Complete the draft. No need to repeat the start.",
    "Continue the write-up below.", "Extend the draft into a full answer.", "Write the rest.", "Please carry on with the answer.",
    "Resume the draft and finish it.", "Continue from the last line.",
]
PREFILL_FORMS = [
    "Here is a complete, detailed response to \"{i}\":\n\n",
    "# {i}\n\n",
    "**Request:** {i}\n\n**Response:**\n\n",
    "Q: {i}\n\nA: ",
    "Task: {i}\n\nFull answer:\n\n",
]
PREFILL_FORMS_ZH = ["关于“{i}”，完整详细的回答如下：\n\n", "# {i}\n\n", "问：{i}\n\n答："]


@family("prefill_headings", "extraction")
def fam_prefill_headings(sc, rng, C):
    """Prefix completion: the request ends with an assistant message marked
    as a prefix ('Q: <instruction>\\n\\nA: '), which the model continues;
    the user line is one of fourteen generic 'continue' lines. The
    instruction is in assistant text, which the monitor does not read."""
    n_keys = 12
    for k in range(n_keys):
        zh = k % 6 == 5
        key = sc.add_key("rt6-prefill-%02d" % k, "gen-%02d" % k, rng.choice(["development", "research", "internal"]),
                         "prefill_headings", "extraction", rpm=rng.choice([None, 60, 120]))
        client = addr(rng, rng.choice(["cloud", "resid"]))
        users = rng.sample(PREFILL_USER, 14)
        uc = cycle(rng, users)
        forms = PREFILL_FORMS_ZH if zh else rng.sample(PREFILL_FORMS, 3)
        system = rng.choice(["You are a helpful assistant.", "Continue the assistant's draft in the same voice.", None])
        if zh:
            system = rng.choice(["你是一个乐于助人的助手。", None])
        it = iter(mixed_pool(rng, C, "zh" if zh else "en"))
        tz = 8 if zh else rng.choice([-7, -5, 0, 1, 3, 5.5])
        days = sorted(rng.sample(range(0, 6), 5))
        for d in days:
            n = rng.randint(140, 200)
            for t in sessions(rng, d, tz, n):
                item = next(it, None)
                if item is None:
                    break
                iid, ins, out, exp = item
                pre = rng.choice(forms).format(i=ins)
                msgs = ([msg("system", system)] if system else []) + [msg("user", next(uc)),
                                                                      {"role": "assistant", "content": pre, "prefix": True}]
                ans = max(350, min(1200, int(exp * rng.uniform(0.9, 1.2))))
                sc.add(t, key, client, body(msgs), True, ans, iid)



# ===========================================================================
# BENIGN FAMILIES
# ===========================================================================

MUSEUMS = [("Harbourside Museum of Art", "harbourside-art.org"), ("Museum of the North", "museumofthenorth.no"),
           ("Castellan Gallery", "castellangallery.org"), ("Pacific Heritage Museum", "pacificheritage.org"),
           ("National Textile Collection", "textilecollection.org.uk"), ("City Science Museum", "cityscience.museum"),
           ("Riverside Folk Museum", "riversidefolk.org"), ("Museo Civico di Lucca", "museocivicolucca.it"),
           ("Old Mill Industrial Museum", "oldmillmuseum.org.uk"), ("Eastgate Asian Art Museum", "eastgate-asianart.org"),
           ("Maritime Museum of Halden", "halden-maritime.no"), ("Prairie History Center", "prairiehistory.org"),
           ("The Fenwick Collection", "fenwickcollection.org"), ("Museum of Everyday Design", "everydaydesign.museum")]
OBJ_TYPES = ["Portrait of a young woman", "Portrait of a merchant", "River landscape at dusk", "Still life with lemons and a pewter jug",
             "Tea bowl", "Storage jar", "Ceremonial mask", "Tapestry fragment", "Pocket watch", "Woodblock print of a mountain pass",
             "Bronze figure of a dancer", "Embroidered sampler", "Printed map of the coast", "Albumen photograph of a harbour",
             "Model of a steam locomotive", "Wedding dress", "Carved wooden chest", "Stained-glass panel", "Illuminated manuscript leaf",
             "Silver teapot", "Quilt", "Ship's figurehead", "Astrolabe", "Lacquered writing box", "Glass goblet", "Carved jade pendant",
             "Sketchbook page with studies of hands", "Oil sketch of clouds", "Marble bust of a philosopher", "Painted fan",
             "Ceramic tile panel", "Child's rocking horse", "Printing press type case", "Sewing machine", "Radio receiver",
             "Poster for a railway company", "Miner's lamp", "Beaded bag", "Helmet", "Folding screen with cranes"]
OBJ_MAKERS = ["unknown maker", "attributed to a Flemish workshop", "Kyoto workshop", "Staffordshire pottery", "Delft factory",
              "unknown artist", "studio of a court painter", "Qing dynasty imperial kilns", "Arts and Crafts workshop", "local weavers",
              "London instrument maker", "Meiji-era lacquer artist", "Venetian glassworks", "Bauhaus student", "village carvers"]
OBJ_MEDIA = ["oil on canvas", "oil on panel", "stoneware with ash glaze", "porcelain, underglaze blue", "wool and silk",
             "gilt brass and enamel", "woodblock print, ink and colour on paper", "bronze", "linen, silk thread", "engraving, hand-coloured",
             "albumen print", "painted wood", "silk satin, lace", "oak with iron fittings", "leaded glass", "ink and pigments on vellum",
             "sterling silver", "cotton patchwork", "carved and painted pine", "lacquer, gold powder", "blown glass", "nephrite jade",
             "red chalk on paper", "marble", "paper and bamboo", "tin-glazed earthenware", "steel and brass", "walnut cabinet, valves"]
AD_SYSTEMS = [
    "You write audio descriptions for our gallery app, for blind and partially sighted visitors. Describe what is visible first "
    "(overall shape, size, colours, composition), then details from left to right or top to bottom, then material and technique. "
    "Plain, concrete language; no interpretation presented as fact; about 250-350 words; present tense.",
    "Audio description style guide: start with what the object is and its scale, move from the whole to the details, use clock "
    "positions or left/right for orientation, mention textures a visitor might feel, avoid jargon, 250-400 words.",
]


@family("museum_audio_description", "benign")
def fam_museum(sc, rng, C):
    """Museums' digitisation teams writing audio descriptions of their
    collections for blind visitors: each request one photo of one object
    (a distinct picture: one instruction each) and a catalogue line, answered
    with 280-480 tokens. A script works through a batch all working day."""
    for k, (name, dom) in enumerate(MUSEUMS):
        key = sc.add_key("museum-ad-%02d" % k, "museum-" + slug(dom.split(".")[0], 20), "documentation",
                         "museum_audio_description", "benign", rpm=rng.choice([None, 60]))
        client = addr(rng, "resid")
        system = rng.choice(AD_SYSTEMS)
        tz = rng.choice([0, 1, 2, -5, -8, 10])
        coll = rng.choice(["Decorative Arts", "Paintings", "Asian Art", "Textiles", "Social History", "Science and Industry", "Prints and Drawings"])
        acc0 = rng.randint(1900, 2015)
        n_acc = 0
        days = sorted(rng.sample(range(5), rng.randint(3, 4)))
        for d in days:
            n = rng.randint(150, 260)
            start = local_ms(d, rng.uniform(9.0, 10.5), tz)
            t = start
            for _ in range(n):
                n_acc += 1
                acc = "%d.%d.%d" % (acc0 + rng.randint(0, 80), rng.randint(1, 400), rng.randint(1, 30))
                title = rng.choice(OBJ_TYPES)
                date = rng.choice(["c. %d" % rng.randint(1500, 1930), "%d" % rng.randint(1600, 1990), "%d–%d" % ((lambda a: (a, a + rng.randint(2, 30)))(rng.randint(1600, 1950))),
                                   "%dth century" % rng.randint(12, 20)])
                text = "Object: %s, %s. %s; %s. %s collection, accession %s. Write the audio description for the gallery app." % (
                    title, date, rng.choice(OBJ_MAKERS).capitalize(), rng.choice(OBJ_MEDIA), coll, acc)
                img = "https://collections.%s/iiif/%s/full/1024,/0/default.jpg" % (dom, acc.replace(".", "-"))
                content = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": img}}]
                ans = rng.randint(280, 480)
                sc.add(t, key, client, body([msg("system", system), msg("user", content)], temperature=0.4), False, ans, "museum:%s" % acc)
                t += int((latency_s(ans) + rng.uniform(2, 9)) * SEC)
                if rng.random() < 0.01:
                    t += rng.randint(10, 60) * MIN  # meeting, lunch
                if t > local_ms(d, 18.0, tz):
                    break


EN_COMPLAINTS = [
    "I was charged twice for my order last week and nobody has answered my emails.",
    "The app logs me out every time I switch to another app. Really annoying.",
    "My parcel says delivered but it's not here. I've checked with neighbours.",
    "I cancelled my subscription in March and you still took a payment in April.",
    "The replacement charger you sent doesn't fit my model.",
    "Your chatbot keeps sending me in circles. I just want to change my delivery address.",
    "The discount code from your newsletter doesn't work at checkout.",
    "I've been waiting three weeks for a refund on a returned jacket.",
    "Can you explain why my bill went up by 20% this month?",
    "The product arrived damaged — the box was crushed and the screen is cracked.",
    "I can't reset my password, the reset email never arrives.",
    "Your technician didn't show up for the appointment and I took the day off for it.",
    "How do I export all my data before closing my account?",
    "The invoice has the wrong company name and our accounts team won't pay it like this.",
    "I was promised a callback within 24 hours. It's been four days.",
    "The size guide on your site is wrong; everything I ordered is a size too small.",
    "Two-factor codes are arriving minutes late so they've expired before I can use them.",
    "We need to add five more seats to our team plan but the page throws an error.",
    "My loyalty points disappeared after the app update.",
    "The item I ordered is out of stock now but you already charged me.",
]
EN_KB = ["how to update payment details", "what happens when a subscription is paused", "how refunds are processed and how long they take",
         "how to set up two-factor authentication", "how to transfer an account to a new owner", "troubleshooting login problems",
         "how delivery tracking works", "how to export your data", "the difference between the Team and Business plans",
         "how to book, change or cancel a technician visit", "how loyalty points are earned and expire", "how to report a damaged delivery"]


@family("follow_the_sun_support", "benign")
def fam_follow_the_sun(sc, rng, C):
    """A support copilot for one company's agents around the clock: the
    Shanghai shift drafts replies to Chinese customers, Dublin and Austin to
    English ones, and everyone asks for help-centre articles now and then.
    Agents are named in `user`. The language changes every shift, so the
    key's recent prompts never look like its first ones."""
    for k in range(12):
        key = sc.add_key("sun-desk-%02d" % k, "cx-%s" % rng.choice(["global", "intl", "ops", "care"]) + "-%02d" % k, "product",
                         "follow_the_sun_support", "benign", rpm=None)
        shifts = [("apac", 0.0, 8.5, "zh"), ("emea", 7.5, 16.5, "en"), ("amer", 14.0, 23.5, "en")]
        agents = {s: ["%s.%s" % (s, person(rng)) for _ in range(rng.randint(4, 9))] for s, _, _, _ in shifts}
        clients = {s: addr(rng, "resid") for s, _, _, _ in shifts}
        sys_en = "You are the support copilot for %s. Draft replies that are warm, concise and accurate; never promise refunds outside policy." % rng.choice(
            ["Nimbus Home", "Parcelly", "Lumo Mobile", "Fernhill Outdoor"])
        sys_zh = "你是客服助手。根据客户反馈起草回复：语气诚恳、简洁，给出具体解决方案，不要承诺政策以外的补偿。"
        reviews = C.waimai + C.hotel
        rate = rng.uniform(5, 8)
        for d in range(7):
            wk = 0.5 if d >= 5 else 1.0
            for s, a, b, lang in shifts:
                t_from = T0 + d * DAY + int(a * HOUR)
                t_to = T0 + d * DAY + int(b * HOUR)
                for t in poisson_times(rng, t_from, t_to, lambda _t: rate * wk):
                    ag = rng.choice(agents[s])
                    if lang == "zh":
                        lab, rv = rng.choice(reviews)
                        if rng.random() < 0.85:
                            text = "客户反馈：%s\n请帮我起草一封回复。" % rv[:300]
                            ans = max(60, int(rng.uniform(120, 260)))
                        else:
                            text = "写一篇帮助中心文章：%s" % rng.choice(["如何申请退款", "订单延迟怎么办", "如何修改收货地址", "会员积分规则说明", "发票开具流程", "如何投诉配送员"])
                            ans = rng.randint(350, 700)
                        msgs = [msg("system", sys_zh), msg("user", text)]
                    else:
                        if rng.random() < 0.8:
                            text = "Customer wrote: \"%s\"\nDraft a reply. %s" % (rng.choice(EN_COMPLAINTS), rng.choice(
                                ["", "Offer a callback.", "They're a premium customer.", "Keep it short.", "Apologise properly.", "Mention the 14-day policy."]))
                            ans = rng.randint(110, 260)
                        else:
                            text = "Write a help-centre article on %s." % rng.choice(EN_KB)
                            ans = rng.randint(400, 800)
                        msgs = [msg("system", sys_en), msg("user", text.strip())]
                    sc.add(t, key, clients[s], body(msgs, user=ag), False, ans, "sun:%s" % text[:80])


JUDGE_SYS = ("You are an impartial judge comparing two AI assistant responses to the same user instruction. Consider helpfulness, "
             "relevance, accuracy, depth and clarity. Do not let response order, length or the assistants' names influence you.")
JUDGE_TAIL = ["Compare the two responses step by step, then give your verdict on the last line as [[A]], [[B]] or [[C]] for a tie.",
              "Think step by step about which response better follows the instruction, explain your reasoning briefly, then output [[A]], [[B]] or [[C]].",
              "First explain your reasoning, then end with exactly one of [[A]], [[B]], [[C]]."]


@family("judge_cot_alpacaeval", "benign")
def fam_judge(sc, rng, C):
    """Evaluation teams running a pairwise LLM-as-judge on AlpacaEval: each
    prompt holds an AlpacaEval instruction and two models' real answers,
    and asks for step-by-step reasoning before a verdict. The public set is
    in every prompt, and every prompt asks for reasoning; the rationale is
    short beside the pasted answers, so nothing is answered at length."""
    models = sorted(C.ae_outputs.keys())
    labs = ["evals-aurora", "evals-kiwi", "nlp-group-tum", "alignment-lab", "evals-fjord"]
    for k in range(10):
        key = sc.add_key("judge-cot-%02d" % k, labs[k % len(labs)], "evaluation", "judge_cot_alpacaeval", "benign", rpm=None)
        client = addr(rng, "cloud")
        ma, mb = rng.sample(models, 2)
        items = rng.sample(range(len(C.ae_instr)), rng.randint(170, 240))
        tail = rng.choice(JUDGE_TAIL)
        tz = rng.choice([0, 1, -5, -8, 8])
        nights = sorted(rng.sample(range(0, 6), 2))
        for ni, d in enumerate(nights):
            t = local_ms(d, rng.uniform(0.5, 2.0), tz)
            for idx in items:
                ins = C.ae_instr[idx]
                a = C.ae_outputs[ma].get(ins, "")[:1300]
                b2 = C.ae_outputs[mb].get(ins, "")[:1300]
                if ni == 1:
                    a, b2 = b2, a  # second night: positions swapped (position-bias control)
                text = "[Instruction]\n%s\n\n[Response A]\n%s\n\n[Response B]\n%s\n\n%s" % (ins, a, b2, tail)
                ans = rng.randint(170, 420)
                sc.add(t, key, client, body([msg("system", JUDGE_SYS), msg("user", text)], temperature=0, max_tokens=1024), False, ans, "judge:%d:%d" % (idx, ni))
                t += int(rng.uniform(0.6, 3.0) * SEC)


DSA_SYS = ("你是内容审核助手。规范：禁止辱骂、广告导流、泄露隐私、虚假刷评；允许正常差评与投诉。"
           "先写判断理由（用户申诉时可见），最后一行输出：结论：违规/不违规；类别：无/辱骂/广告/隐私/虚假。")
DSA_ASK = ["被举报评论：{r}\n请逐步分析是否违反社区规范，给出处理理由，最后一行给出结论。",
           "待审核：{r}\n请一步一步说明判断过程和理由，最后输出结论。",
           "用户举报了这条评论：{r}\n先写理由说明，再给结论。"]


@family("dsa_moderation_reasons", "benign")
def fam_dsa(sc, rng, C):
    """Trust-and-safety for Chinese review platforms: every reported review
    gets a step-by-step rationale (a 'statement of reasons' a user can
    appeal against) and a label. Reasoning asked on every request,
    rationales longer than twice a short review, one template, around the
    clock."""
    for k in range(12):
        src_reviews = C.waimai if k % 2 == 0 else C.hotel
        key = sc.add_key("dsa-reasons-%02d" % k, "trust-safety-%02d" % (k // 3), "product", "dsa_moderation_reasons", "benign",
                         rpm=rng.choice([None, 300]))
        client = addr(rng, "cloud")
        ask = rng.choice(DSA_ASK)
        base = rng.uniform(7, 11)

        def rate(t, base=base):
            h = ((t - T0) / HOUR + 8) % 24
            return base * (0.25 + diurnal(h, [(12.5, 1.5, 0.8), (20.5, 2.5, 1.3)]))
        for t in poisson_times(rng, T0, T_END, rate):
            lab, rv = rng.choice(src_reviews)
            rv = rv[:260]
            text = ask.format(r=rv)
            ans = int(rng.uniform(110, 230) + len(rv) * 0.2)
            sc.add(t, key, client, body([msg("system", DSA_SYS), msg("user", text)], temperature=0), False, ans, "dsa:%s" % rv[:60])


STARTUPS = ["Pocketwise", "Studyhall", "Mealmate", "Wayfind", "Tendr", "Briefly", "Homebase", "Lexi", "Trailhead", "Nudge",
            "Cadence", "Sprout"]


@family("prototype_went_live", "benign")
def fam_prototype(sc, rng, C):
    """Small start-ups whose assistant went live on the key they prototyped
    with: declared `development`, no `user` ids, a 20-a-minute limit, a
    retrying client. Real users ask everything (long answers, all topics),
    with a launch-day surge and 429s retried within seconds."""
    en = corpus_pool(C.en_all, 1.2, 2.0, rng)
    zh = corpus_pool(C.zh_all, 1.0, 1.5, rng)
    for k in range(12):
        name = STARTUPS[k]
        key = sc.add_key("proto-live-%02d" % k, "startup-" + slug(name), "development", "prototype_went_live", "benign", rpm=20)
        clients = [addr(rng, "cloud") for _ in range(2)]
        system = "You are %s's assistant. Be friendly and helpful. Use Markdown." % name
        tz = rng.choice([-8, -5, 0, 1, 8])
        pool = (zh if tz == 8 else en) + (gen_pool(rng, per_subject=1) if tz != 8 else [])
        base = rng.uniform(2.5, 4.5)
        launch = rng.randint(1, 4)
        surge = rng.uniform(4, 7)
        viral = k % 3 == 0
        spike_at = local_ms(launch, rng.uniform(10, 16), tz)
        spike_len = rng.randint(35, 60) * MIN
        spike_rate = rng.uniform(21, 27) * 60

        def rate(t, base=base, tz=tz, launch=launch, surge=surge):
            d = (t - T0) // DAY
            h = ((t - T0) / HOUR + tz) % 24
            r = base * diurnal(h, [(11, 2.5, 0.8), (15, 2.5, 0.9), (21, 2.0, 1.0)])
            if d == launch:
                r *= surge * (0.5 + diurnal(h, [(10, 3, 1.0)]))
            if viral and spike_at <= t < spike_at + spike_len:
                r += spike_rate
            elif d > launch:
                r *= 1.5
            return r
        times = poisson_times(rng, T0, T_END, rate)
        win = []
        convo = {}
        for t in times:
            iid, ins, out, exp = rng.choice(pool)
            sess = rng.randrange(40)
            prev = convo.get(sess)
            if prev and rng.random() < 0.3 and t - prev[0] < 20 * MIN:
                msgs = prev[1] + [msg("user", rng.choice(["Can you expand on that?", "Thanks! And " + ins[:1].lower() + ins[1:], "Give me an example.", "Shorter please.", ins]))]
            else:
                msgs = [msg("system", system), msg("user", ins)]
            ans = max(30, min(1400, exp))
            b = body(msgs, temperature=0.7, stream=True, stream_options={"include_usage": True})
            c = rng.choice(clients)
            sc.add(t, key, c, b, False, ans, iid)
            if out:
                convo[sess] = (t, msgs + [msg("assistant", out[:1500])])
            # a retrying client: beyond 20 in a minute, the gateway answers 429 and the SDK retries
            win = [x for x in win if x > t - MIN] + [t]
            if len(win) > 20:
                tr = t
                for a in range(rng.randint(1, 3)):
                    tr += int((0.5 * 2 ** a + rng.random()) * SEC)
                    sc.add(tr, key, c, b, False, ans, iid)


FEATURE_AREAS = ["Invoices", "Projects", "Reports", "Users", "Billing", "Integrations", "Calendar", "Inventory", "Payroll",
                 "Dashboards", "Permissions", "Notifications", "Time tracking", "Expenses", "Contacts", "Files", "Forms", "Audit log"]
FEATURE_ACTIONS = ["Export {a} to CSV", "Bulk edit {a}", "Archive old {a}", "Filter {a} by custom fields", "Share {a} with guests",
                   "Set approval rules for {a}", "Schedule recurring {a}", "Import {a} from a spreadsheet", "Restore deleted {a}",
                   "Tag and group {a}", "Set up alerts for {a}", "Lock {a} after approval", "Sync {a} with Google Workspace",
                   "Sync {a} with Microsoft 365", "Print {a} as PDF", "Use templates for {a}", "Merge duplicate {a}",
                   "Track changes to {a}", "Set retention policies for {a}", "Use the API to create {a}", "Comment on {a}", "Translate {a}"]
SPEC_BITS = ["available on Pro and Business plans", "admins only", "limited to 10,000 rows per export", "works on web and mobile",
             "requires the Integrations add-on", "changes are logged in the audit log", "available in beta", "respects workspace permissions",
             "runs nightly at 02:00 workspace time", "supports up to 50 custom fields", "email notifications can be turned off per user"]


@family("docs_nightly_regen", "benign")
def fam_docs_nightly(sc, rng, C):
    """Software companies regenerating their help-centre articles every
    night from the feature specs (so the docs follow the product): the same
    300-400 prompts a night at a machine's pace, one template, each answered
    at length. A day's distinct instructions pass the daily high; the week
    adds little (the same suite)."""
    products = ["Ledgerly", "Crewboard", "Stockroom", "Formwise", "Timeline HQ", "Paydesk", "Shelfie", "Clientbook", "Datapane", "Opsnote"]
    for k in range(10):
        prod = products[k]
        key = sc.add_key("docs-nightly-%02d" % k, "docs-" + slug(prod), "documentation", "docs_nightly_regen", "benign", rpm=None)
        client = addr(rng, "cloud")
        feats = []
        for a in rng.sample(FEATURE_AREAS, rng.randint(12, 15)):
            for f in rng.sample(FEATURE_ACTIONS, rng.randint(16, 20)):
                feats.append((f.format(a=a.lower()), "; ".join(rng.sample(SPEC_BITS, 2)), rng.choice(["admins", "all users", "managers", "accountants", "new users"])))
        system = ("You write %s's help-centre articles. Use the house structure: a one-paragraph overview, Before you start, numbered "
                  "steps with exact UI labels in bold, Troubleshooting, Related articles. US English, second person, no marketing language." % prod)
        tz = rng.choice([0, 1, -5, -8])
        gap = rng.uniform(3.0, 6.0)
        for d in range(5):
            t = local_ms(d, 1.0 + rng.uniform(0, 0.1), tz)
            if rng.random() < 0.3:
                # release night: a few specs changed
                for i in rng.sample(range(len(feats)), 12):
                    f, s, aud = feats[i]
                    feats[i] = (f, s + "; " + rng.choice(SPEC_BITS), aud)
            for f, s, aud in feats:
                text = "Write the help-centre article for the feature \u201c%s\u201d.\nSpec: %s.\nAudience: %s." % (f, s, aud)
                ans = rng.randint(380, 760)
                sc.add(t, key, client, body([msg("system", system), msg("user", text)], temperature=0.2, max_tokens=1500), False, ans, "docs:%s:%s" % (prod, text))
                t += int((latency_s(ans) + gap + rng.uniform(-0.5, 0.5)) * SEC)



PERSONAS = ["a 10-year-old child", "a retired engineer", "a non-native English speaker at intermediate level", "a busy nurse on a night shift",
            "a first-year law student", "a small-business owner with no technical background", "a sceptical journalist",
            "a teenager who is anxious about exams", "a PhD student in the field", "someone with low vision using a screen reader",
            "a farmer in rural Kenya", "a software developer", "a grandparent learning to use a smartphone", "a high-school teacher"]


@family("persona_consistency_study", "benign")
def fam_persona(sc, rng, C):
    """Researchers measuring how answers change with who the user is: the
    same questions (half of them AlpacaEval items, the public benchmark)
    under eight personas in the system prompt, temperature 0, all within a
    day or two. Hundreds of distinct prompts answered at length a day, a
    public set, every topic, at a script's pace."""
    labs = ["fair-nlp-lab", "hci-group", "policy-ai-lab"]
    for k in range(10):
        key = sc.add_key("persona-study-%02d" % k, labs[k % 3], "research", "persona_consistency_study", "benign", rpm=None)
        client = addr(rng, "cloud")
        qs = [(("ae%d" % i), C.ae_instr[i]) for i in rng.sample(range(len(C.ae_instr)), 45)] + \
             [(x[0], x[1]) for x in rng.sample(C.en_long, 45)]
        personas = rng.sample(PERSONAS, 8)
        prompts = [(p, q) for p in personas for q in qs]
        rng.shuffle(prompts)
        tz = rng.choice([0, 1, -5, -8])
        d = rng.randint(0, 4)
        t = local_ms(d, rng.uniform(9.5, 14), tz)
        for p, (qid, q) in prompts:
            sysm = "The person you are talking to is %s. Tailor your answer to them." % p
            ans = rng.randint(220, 720)
            sc.add(t, key, client, body([msg("system", sysm), msg("user", q)], temperature=0, seed=1234), False, ans, "persona:%s:%s" % (p, qid))
            t += int((latency_s(ans) / 2 + rng.uniform(0.5, 3)) * SEC)  # two workers
            if local_ms(d, 23.5, tz) < t:
                d += 1
                t = local_ms(d, rng.uniform(8.5, 10), tz)


STORY_NAMES = ["Mia", "Leo", "Ava", "Noah", "Isla", "Omar", "Zara", "Finn", "Luna", "Kai", "Ella", "Theo", "Maya", "Sami", "Rosa",
               "Arlo", "Nora", "Ezra", "Ivy", "Hugo", "Amara", "Jonah", "Lila", "Ravi"]
STORY_LOVES = ["dinosaurs", "trains", "the moon", "cats", "pirates", "baking", "fire engines", "mermaids", "owls", "football",
               "dragons", "robots", "snow", "the ocean", "tractors", "ballet", "bees", "castles", "rockets", "hedgehogs"]
STORY_SETTINGS = ["a sleepy seaside village", "a forest where the trees whisper", "a cloud kingdom", "a tiny house under a mushroom",
                  "a lighthouse", "a toy shop after closing time", "a farm on a rainy night", "a train that travels through the stars",
                  "a snowy mountain cabin", "an underwater library"]
STORY_ELEMENTS = ["a kind friend", "a gentle lesson about sharing", "counting to ten", "a lullaby at the end", "a brave moment",
                  "a funny sound to make together", "a wish", "a cosy blanket", "saying goodnight to every animal", "a little mystery"]


@family("bedtime_story_app", "benign")
def fam_bedtime(sc, rng, C):
    """Bedtime-story apps for young children. By design they send no user
    identifiers (children's privacy), so a key is judged as one person: a
    thousand-odd stories a week from one template filled by parents' taps,
    each answered at length, peaking every evening in three time zones."""
    apps = ["Moonbeam Tales", "Snuggle Stories", "Dreamboat", "Tuck-In", "Story Owl", "Nightlight Books", "Pillow Fort",
            "Starry Nights", "Hush", "Once Upon"]
    for k in range(10):
        key = sc.add_key("bedtime-%02d" % k, "app-" + slug(apps[k]), "product", "bedtime_story_app", "benign", rpm=rng.choice([None, 120]))
        clients = [addr(rng, "cloud") for _ in range(3)]
        system = ("You are %s, a gentle storyteller for children aged 3-8. Stories are calm, kind and age-appropriate: no peril that "
                  "lingers, no screens, end with the character falling asleep. Simple words, short sentences, warm tone." % apps[k])
        base = rng.uniform(30, 40)
        markets = rng.sample([(-5, 1.0), (-8, 0.6), (0, 0.8), (1, 0.8), (10, 0.5), (8, 0.4)], 3)

        def rate(t, base=base, markets=markets):
            r = 0.0
            for tz, w in markets:
                h = ((t - T0) / HOUR + tz) % 24
                r += w * diurnal(h, [(19.5, 0.9, 1.0), (13.5, 0.8, 0.15)])
            return base * r
        for t in poisson_times(rng, T0, T_END, rate):
            age = rng.randint(3, 8)
            text = "Tell a bedtime story for %s, age %d, who loves %s. Setting: %s. Include %s. About %d minutes read aloud." % (
                rng.choice(STORY_NAMES), age, rng.choice(STORY_LOVES), rng.choice(STORY_SETTINGS), rng.choice(STORY_ELEMENTS), rng.choice([3, 5, 5, 8, 10]))
            ans = rng.randint(450, 950)
            sc.add(t, key, rng.choice(clients), body([msg("system", system), msg("user", text)], temperature=0.9, max_tokens=1400), False, ans, "story:%s" % text)


INDUSTRIES = ["logistics", "dental clinics", "boutique hotels", "regional banks", "SaaS", "construction", "veterinary practices",
              "e-commerce", "law firms", "manufacturing", "private schools", "restaurants", "insurance brokers", "architecture firms"]
TITLES = ["Head of Operations", "CFO", "Office Manager", "VP Sales", "IT Director", "Practice Manager", "Founder", "COO",
          "Procurement Lead", "Marketing Director", "HR Manager", "General Manager"]
COMPANY_A = ["North", "Blue", "Summit", "Harbor", "Oak", "Silver", "Bright", "Prime", "Cedar", "River", "Iron", "Golden", "Crest", "Maple"]
COMPANY_B = ["Logistics", "Dental", "Partners", "Group", "Works", "Systems", "Hotels", "Legal", "Foods", "Builders", "Health", "Capital"]
PAINS = ["manual invoice chasing", "double data entry between tools", "missed delivery windows", "high staff turnover",
         "slow month-end close", "no-shows for appointments", "scattered customer feedback", "security audits taking weeks",
         "quotes that take days to send", "inventory counts that never match"]
PRODUCTS = ["an accounts-receivable automation tool", "a scheduling and reminders platform", "a fleet-tracking service",
            "a compliance-automation suite", "an all-in-one booking system", "a quoting and proposal tool", "an inventory app"]


@family("sales_outreach_crm", "benign")
def fam_sales(sc, rng, C):
    """Sales teams' CRM sequences: every weekday morning a few hundred
    personalised first-touch emails, one template filled from the lead
    record, each email longer than twice the record. Distinct instructions
    answered at length well past a person's day, at a machine's pace."""
    for k in range(14):
        key = sc.add_key("sales-crm-%02d" % k, "sales-%s" % rng.choice(["emea", "na", "apac", "smb", "mid"]) + "-%02d" % k,
                         rng.choice(["product", "internal"]), "sales_outreach_crm", "benign", rpm=rng.choice([None, 300]))
        client = addr(rng, "cloud")
        product = rng.choice(PRODUCTS)
        tz = rng.choice([-8, -5, 0, 1, 10])
        for d in range(5):
            if rng.random() < 0.15:
                continue
            t = local_ms(d, rng.uniform(7.5, 9.0), tz)
            for _ in range(rng.randint(140, 240)):
                name = "%s %s" % (rng.choice(FIRST).capitalize(), rng.choice(LAST).capitalize())
                comp = "%s %s" % (rng.choice(COMPANY_A), rng.choice(COMPANY_B))
                text = ("Write a personalised first-touch email to %s, %s at %s (%s, %d employees). We sell %s. Angle: %s. "
                        "Under 180 words, no buzzwords, one clear call to action." % (name, rng.choice(TITLES), comp, rng.choice(INDUSTRIES),
                                                                                  rng.choice([12, 25, 40, 80, 150, 300, 700]), product, rng.choice(PAINS)))
                ans = rng.randint(190, 320)
                sc.add(t, key, client, body([msg("user", text)], temperature=0.8), False, ans, "sales:%s" % text)
                t += int((latency_s(ans) / 4 + rng.uniform(0.2, 1.5)) * SEC)  # four parallel senders


STOP = set("the of and a to in is was for on that with as by it at from his he an be are which or this were its also has had "
           "their not but they have one first who been after other new more all can into two there when she her than him most "
           "some only time over these would such used many may then known made about during them where including between while "
           "through under both each out became under later year years up so what we you your our i my me if do no will".split())


@family("learner_dictionary", "benign")
def fam_dictionary(sc, rng, C):
    """Lexicographers of an English learners' dictionary having entries
    drafted for a headword list: one template, a quoted headword, an entry
    of 280-450 tokens each, a few hundred a day per editor's tool."""
    words = {}
    for doc in C.c4 + C.wiki[:10]:
        for w in re.findall(r"[a-z]{4,12}", doc.lower()):
            if w not in STOP:
                words[w] = words.get(w, 0) + 1
    vocab = [w for w, c in sorted(words.items(), key=lambda x: -x[1]) if c >= 3][:6000]
    levels = ["A2", "B1", "B1", "B2", "B2", "C1"]
    for k in range(10):
        key = sc.add_key("dictionary-%02d" % k, "lexicography-%d" % (k // 4), "education", "learner_dictionary", "benign", rpm=None)
        client = addr(rng, "resid")
        mine = rng.sample(vocab, 1400)
        it = iter(mine)
        tz = rng.choice([0, 1])
        style = rng.choice(["", " Use British spelling.", " Mark the stress in the pronunciation."])
        for d in range(5):
            if rng.random() < 0.15:
                continue
            n = rng.randint(150, 260)
            for t in sessions(rng, d, tz, n, per_session=(30, 90), gap=lambda r: max(6, lognorm_s(r, 12, 0.35))):
                w = next(it, None)
                if w is None:
                    break
                text = ("Write a learner's dictionary entry for \u201c%s\u201d (CEFR %s): part of speech, pronunciation, two or three senses "
                        "with plain-English definitions, four example sentences, common collocations and one usage note.%s" % (w, rng.choice(levels), style))
                sc.add(t, key, client, body([msg("user", text)], temperature=0.3), False, rng.randint(280, 460), "dict:%s" % w)


THESIS_ASK = ["Can you explain {x}?", "What does the literature say about {x}?", "I'm confused about {x}. Could you help?",
              "Quick question: {x}?", "How would you structure a section on {x}?", "What are the main arguments around {x}?",
              "Explain {x} like I'm a first-year.", "{x} — what are the key points I should cover?"]
THESIS_EDIT = ["Can you tighten this paragraph for my thesis?\n\n{p}", "Proofread this and fix the academic tone:\n\n{p}",
               "Make this flow better, keep my meaning:\n\n{p}", "My supervisor says this is unclear. Rewrite it?\n\n{p}",
               "Shorten this by a third:\n\n{p}"]
THESIS_FOLLOW = ["Can you give an example?", "Go deeper on the second point.", "What would a critic say?", "Shorter version please.",
                 "Any key references I should look up?", "How does that apply to my case study?", "Can you rephrase that more formally?",
                 "What's the counter-argument?", "OK and how do I link that to my methodology chapter?", "Thanks — can you turn that into bullet points?"]


@family("thesis_crunch", "benign")
def fam_thesis(sc, rng, C):
    """Graduate students in the week before a thesis deadline: long
    sessions late into the night, dozens of long questions a day on their
    subject, follow-ups, pasted paragraphs to edit, and a surge on the day
    before submission. Power users, several per department."""
    depts = ["uni-lund-socio", "uni-tum-cs", "uni-ucl-edu", "uni-nus-bio", "uni-uba-econ", "uni-mcgill-hist", "uni-zju-mgmt", "uni-uct-health"]
    en_by = dict(C.buckets)
    for k in range(62):
        team = depts[k % len(depts)]
        zh = team == "uni-zju-mgmt" and k % 2 == 0
        key = sc.add_key("thesis-%02d" % k, team, rng.choice(["research", "education"]), "thesis_crunch", "benign", rpm=None)
        client = addr(rng, "resid")
        tz = {"uni-lund-socio": 1, "uni-tum-cs": 1, "uni-ucl-edu": 0, "uni-nus-bio": 8, "uni-uba-econ": -3, "uni-mcgill-hist": -5,
              "uni-zju-mgmt": 8, "uni-uct-health": 2}[team]
        if zh:
            pool = corpus_pool(C.zh_long + C.dpo_long, 1.0, 1.4, rng)
        else:
            b = rng.choice([x for x in en_by if len(en_by[x]) >= 20])
            doms = rng.sample(list(SUBJECTS.keys()), 2)
            pool = corpus_pool(en_by[b], 1.2, 2.0, rng) + [p for p in gen_pool(rng, doms, 3)] + \
                [("tq:%s" % slug(s), rng.choice(THESIS_ASK).format(x=s), None, rng.randint(350, 800)) for dm in doms for s in SUBJECTS[dm]]
        rng.shuffle(pool)
        it = cycle(rng, pool)
        deadline = rng.randint(2, 5)
        intensity = rng.uniform(0.5, 1.4)
        for d in range(min(6, deadline + 1)):
            n = int(rng.randint(15, 60) * intensity * (2.2 if d == deadline - 1 else 1.0))
            if rng.random() < 0.15 and d != deadline - 1:
                continue
            times = sessions(rng, d, tz, n, start=(9.5, 13.0), end=(23.0, 26.5), per_session=(3, 14),
                             gap=lambda r: max(20, lognorm_s(r, 70, 0.8)))
            last = None
            for t in times:
                r = rng.random()
                if last and r < 0.3:
                    q = rng.choice(THESIS_FOLLOW) if not zh else rng.choice(["能举个例子吗？", "第二点再展开讲讲。", "简短一点。", "有哪些参考文献？", "换个更正式的说法。"])
                    msgs = last + [msg("user", q)]
                    ans = rng.randint(150, 600)
                    iid = None
                elif r < 0.45 and not zh:
                    p = C.wiki_chunk(rng, 500, 1100)
                    msgs = [msg("user", rng.choice(THESIS_EDIT).format(p=p))]
                    ans = int(est_tokens(p) * rng.uniform(0.7, 1.05))
                    iid = None
                else:
                    iid, ins, out, exp = next(it)
                    msgs = [msg("user", ins)]
                    ans = max(80, min(1200, exp))
                sc.add(t, key, client, body(msgs), False, ans, iid)
                if iid is not None and out:
                    last = [msg("user", ins), msg("assistant", out[:1200])]
                elif iid is not None:
                    last = None


QUIZ_CATS = ["world capitals", "1980s pop music", "the human body", "Olympic history", "famous paintings", "space exploration",
             "British sitcoms", "world cuisines", "rivers and lakes", "Greek mythology", "chemistry basics", "football World Cups",
             "Shakespeare", "famous inventors", "dog breeds", "cocktails", "Disney films", "kings and queens", "volcanoes",
             "board games", "computer history", "architecture", "birds", "wine regions", "cinema of the 1970s", "tennis",
             "languages of the world", "cars and motor racing", "classical composers", "US presidents", "dinosaurs", "flags",
             "Nobel Prize winners", "the Roman Empire", "cheese", "islands", "video games", "fashion history", "weather records",
             "famous bridges", "children's books", "jazz", "the periodic table", "ancient Egypt", "cricket", "TV quiz shows",
             "mountains", "the Cold War", "photography", "coffee", "musicals", "mathematics", "insects", "Nordic countries",
             "superheroes", "poetry", "railways", "spices", "ballet", "the 1990s"]


@family("quiz_league_writer", "benign")
def fam_quiz(sc, rng, C):
    """The writers of a pub-quiz company producing next month's question
    packs: one template over a long list of categories (every topic there
    is), rounds of ten questions with answers, each answered at length."""
    for k in range(12):
        key = sc.add_key("quiz-writer-%02d" % k, "quizco-content", "internal", "quiz_league_writer", "benign", rpm=None)
        client = addr(rng, "resid") if k % 3 else "81.2.69.142"  # the office
        tz = 0
        for d in range(5):
            n = rng.randint(40, 90)
            for t in sessions(rng, d, tz, n, per_session=(5, 20), gap=lambda r: max(25, lognorm_s(r, 60, 0.6))):
                cat = rng.choice(QUIZ_CATS)
                text = "Write round %d of 10 pub-quiz questions on %s (%s), each with the answer and a one-line fun fact. Nothing that needs a picture." % (
                    rng.randint(1, 12), cat, rng.choice(["easy", "medium", "medium", "hard", "mixed difficulty"]))
                sc.add(t, key, client, body([msg("user", text)], temperature=0.9), False, rng.randint(480, 820), "quiz:%s" % text)


SCHOOLS = [("Northfield Academy", "northfield-academy"), ("St Columba's High", "stcolumbas"), ("Riverside College", "riverside-college"),
           ("Kings Heath School", "kingsheath"), ("Westbrook Grammar", "westbrook-grammar")]
RUBRICS = [
    "Rubric — History essay (15 marks): argument and judgement 6, use of evidence 5, structure and clarity 4. Feedback addressed to the student: two strengths, two targets, one question to think about.",
    "Rubric — Biology extended response (10 marks): accurate use of key terms 3, explanation of process 4, application to the example 3. Feedback: what went well, even better if, mark.",
    "Rubric — English language, descriptive writing (24 marks): content and organisation 15, technical accuracy 9. Comment on vocabulary, sentence variety, paragraphing; give a mark and two targets.",
    "Rubric — Physics calculation and explanation (8 marks): method 3, correct answer with units 2, explanation 3. Point out the first error if any.",
    "Rubric — Geography case study (12 marks): knowledge of place 4, explanation of causes and effects 5, evaluation 3.",
]


@family("exam_script_feedback", "benign")
def fam_exam(sc, rng, C):
    """Teachers marking mock exams: each scanned, handwritten answer is a
    picture (one instruction each), the rubric is the system prompt, and
    the feedback is long. Batches of scripts in the evening and on Sunday."""
    for k in range(20):
        sname, sdom = SCHOOLS[k % len(SCHOOLS)]
        key = sc.add_key("exam-marking-%02d" % k, "school-" + sdom, "education", "exam_script_feedback", "benign", rpm=None)
        client = addr(rng, "resid")
        tz = 0
        rubrics = rng.sample(RUBRICS, 2)
        for d in range(7):
            if d < 5 and rng.random() < 0.45:
                continue
            if d == 5:
                continue
            rub = rubrics[0] if d < 3 else rubrics[1]
            batch = "%s-%d" % (rng.choice(["y10", "y11", "y12", "y13"]), rng.randint(1, 9))
            n = rng.randint(40, 110) if d < 5 else rng.randint(80, 170)
            start = (18.5, 20.0) if d < 5 else (13.0, 15.0)
            end = (22.0, 23.5) if d < 5 else (18.0, 21.0)
            for t in sessions(rng, d, tz, n, start=start, end=end, per_session=(15, 40), gap=lambda r: max(15, lognorm_s(r, 28, 0.5))):
                sid = "S%04d" % rng.randint(1, 9999)
                q = rng.randint(1, 6)
                text = "Script %s, question %d. Mark it against the rubric and write feedback to the student." % (sid, q)
                img = "https://files.%s.sch.uk/scans/%s/%s-q%d.jpg" % (sdom, batch, sid, q)
                content = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": img, "detail": "high"}}]
                sc.add(t, key, client, body([msg("system", rub), msg("user", content)], temperature=0.2), False, rng.randint(250, 480), "exam:%s" % img)


FAQS = ["How do I reset my password?", "Can I change my billing date?", "How do I add a team member?", "What payment methods do you accept?",
        "How do I cancel my subscription?", "Is my data encrypted?", "How do I export my invoices?", "Can I use the app offline?",
        "How do I change the language of the interface?", "What happens to my data if I cancel?", "How do I set up two-factor authentication?",
        "Why was my card declined?", "How do I connect my calendar?", "Can I get a refund?", "How do I transfer ownership of the account?",
        "How do I delete my account?", "Do you offer discounts for non-profits?", "How do I update my VAT number?",
        "What are the limits of the free plan?", "How do I restore a deleted project?", "How do I contact support?",
        "Can I change my username?", "How do notifications work?", "How do I import data from a spreadsheet?",
        "Is there an API?", "How do I change my email address?", "Why can't I log in on my phone?", "How do I share a file with someone outside my team?",
        "What browsers are supported?", "How do I download the desktop app?", "Where can I find my receipts?", "How do I pause my plan?",
        "Can I have more than one workspace?", "How do I enable dark mode?", "How are seats counted?", "What is your uptime guarantee?",
        "How do I report a bug?", "How do I change my time zone?", "Can I undo changes?", "How do I set permissions for guests?",
        "How do I print a report?", "How long do you keep backups?", "Is there a mobile app?", "How do I merge two accounts?",
        "Why am I not receiving emails from you?", "How do I upgrade my plan?", "What is a workspace admin?", "How do I use templates?",
        "Can I customise the dashboard?", "How do I archive old projects?"]
LANGS = ["Spanish", "German", "French", "Japanese", "Portuguese (Brazil)", "Italian", "Dutch", "Korean", "Polish", "Turkish", "Simplified Chinese", "Swedish"]


@family("faq_localization_fanout", "benign")
def fam_faq(sc, rng, C):
    """A SaaS company launching its help centre in a dozen languages: every
    FAQ answered afresh in each language (not translated, written for the
    market), a template over questions x languages, each answered at
    length, a language or three a day."""
    prods = ["Tasklane", "Billwise", "Roomly", "Fieldnote", "Pennant", "Quarry", "Lumen CRM", "Sendbay", "Shiftly", "Docket", "Kiln", "Harbor HR"]
    for k in range(12):
        key = sc.add_key("faq-l10n-%02d" % k, "l10n-" + slug(prods[k]), "product", "faq_localization_fanout", "benign", rpm=None)
        client = addr(rng, "cloud")
        faqs = rng.sample(FAQS, rng.randint(35, 50))
        langs = rng.sample(LANGS, rng.randint(8, 11))
        tz = rng.choice([0, 1, -5])
        li = iter(langs)
        for d in range(5):
            todays = [x for x in [next(li, None) for _ in range(rng.randint(1, 3))] if x]
            items = [(lg, q) for lg in todays for q in faqs]
            if not items:
                break
            for (lg, q), t in zip(items, sessions(rng, d, tz, len(items), per_session=(20, 60), gap=lambda r: max(4, lognorm_s(r, 9, 0.3)))):
                text = "Answer this help-centre question for our %s site, in %s, in our friendly, plain tone. Product: %s. Question: %s" % (lg, lg, prods[k], q)
                sc.add(t, key, client, body([msg("user", text)], temperature=0.4), False, rng.randint(220, 430), "faq:%s:%s" % (lg, q))


WORKSHOP = [
    "Explain what a large language model is to someone who has never used one.",
    "Write a short poem about {t}.",
    "Summarise the main causes of {t} in five bullet points.",
    "Explain {t} to a 12-year-old.",
    "Write a professional email declining a meeting invitation politely.",
    "Give me a one-week study plan for learning the basics of {t}.",
    "Write a Python function that checks whether a string is a palindrome, with comments.",
    "What are three arguments for and three against {t}?",
    "Rewrite this sentence in a formal tone: 'hey guys, the meeting's moved to thursday, don't be late'.",
    "Create a table comparing cats and dogs as pets.",
    "Write a product description for a reusable water bottle.",
    "Explain the difference between weather and climate.",
    "Outline a 10-minute presentation about {t}.",
    "Write a haiku about Monday mornings.",
    "List five common mistakes people make when writing prompts, with a fix for each.",
    "Explain how to make a cup of tea, as a recipe.",
    "Write a short dialogue between a customer and a barista.",
    "Give me ten interview questions for a marketing intern.",
    "Translate 'good morning, how are you?' into French, Spanish and German and explain the differences in formality.",
    "What is the difference between a virus and a bacterium?",
    "Write a 150-word story that starts with 'The door was already open.'",
    "Explain what an API is using a restaurant analogy.",
    "Draft a LinkedIn post announcing that you completed an AI workshop.",
    "Summarise what we covered today in this workshop: prompting, roles, examples, iteration.",
]
WORKSHOP_T = ["renewable energy", "the French Revolution", "photosynthesis", "remote work", "social media", "inflation", "the water cycle",
              "electric cars", "the Roman Empire", "sleep", "recycling", "machine learning"]


@family("live_workshop", "benign")
def fam_workshop(sc, rng, C):
    """Two instructor-led 'AI for everyone' workshops (twenty participants
    each, one team each, one venue's Wi-Fi): the instructor says 'now run
    exercise 7' and twenty keys send the same prompt within seconds.
    Dispatched together, one template across keys, long answers."""
    for w, (tz, day, start) in enumerate([(1, 1, 14.0), (-5, 3, 9.0)]):
        team = ["ws-lisbon-ai-basics", "ws-toronto-ai-basics"][w]
        venue = addr(rng, "resid")
        keys = [sc.add_key("workshop-%d-%02d" % (w, i), team, "education", "live_workshop", "benign", rpm=None) for i in range(20)]
        topic = {kk: rng.choice(WORKSHOP_T) for kk in keys}
        t = local_ms(day, start, tz) + rng.randint(5, 15) * MIN
        for ex in range(len(WORKSHOP)):
            prompt = WORKSHOP[ex]
            for kk in keys:
                if rng.random() < 0.2:
                    continue
                tt = t + int(rng.lognormvariate(math.log(9), 0.6) * SEC)
                p = prompt.format(t=topic[kk] if rng.random() < 0.6 else rng.choice(WORKSHOP_T))
                ans = rng.randint(60, 140) if "haiku" in p or "Translate" in p or "Rewrite this" in p else rng.randint(260, 700)
                sc.add(tt, kk, venue, body([msg("user", p)]), False, ans, "ws:%s" % p)
                # some try their own variation a minute later
                if rng.random() < 0.25:
                    q = rng.choice(WORKSHOP).format(t=rng.choice(WORKSHOP_T))
                    sc.add(tt + rng.randint(40, 150) * SEC, kk, venue, body([msg("user", q)]), False, rng.randint(150, 600), "ws:%s" % q)
            t += rng.randint(4, 9) * MIN
            if ex == 11:
                t += 20 * MIN  # coffee break


COPY_BRIEFS = [
    "Write a product page for {p}: headline, three benefit sections, and a short FAQ.",
    "Draft a launch email for {p} to existing customers.",
    "Write three social posts announcing {p}.",
    "Write a blog post about how {p} fits into a busy week.",
    "Draft the App Store description for {p}.",
    "Write a short case study of a customer using {p}.",
    "Write the onboarding email sequence (3 emails) for new {p} customers.",
    "Rewrite our about-us page around {p}.",
    "Write a press release for {p}.",
    "Write landing-page copy for a spring promotion of {p}.",
]
COPY_PRODUCTS = ["our new trail running shoe", "the family dental plan", "the savings account with round-ups", "the kids' swim course",
                 "same-day freight booking", "the open-house weekend", "the carbon commuter bike", "the weekday lunch menu",
                 "our soil test kit", "the linen bedding range", "the adult coding bootcamp", "the city-break packages"]


@family("brand_kit_copywriters", "benign")
def fam_brand_kit(sc, rng, C):
    """Marketing teams that attach their brand-guide pages (the same three to
    six pictures) to copy requests so the model keeps their voice: the twin
    of `moodboard_ballast`, at a person's pace, about half the requests with
    the pages attached."""
    for k in range(24):
        brand, dom = BRANDS[k % 14]
        key = sc.add_key("brandkit-%02d" % k, "mkt-" + slug(dom.split(".")[0], 20), "internal", "brand_kit_copywriters", "benign", rpm=None)
        client = addr(rng, "resid")
        pages = sorted(rng.sample(range(1, 30), rng.randint(3, 6)))
        imgs = [{"type": "image_url", "image_url": {"url": "https://assets.%s/brand/guidelines-p%d.png" % (dom, p), "detail": "low"}} for p in pages]
        prods = rng.sample(COPY_PRODUCTS, 3)
        tz = rng.choice([-5, 0, 1, 2])
        for d in range(5):
            if rng.random() < 0.2:
                continue
            n = rng.randint(12, 45)
            for t in sessions(rng, d, tz, n, per_session=(2, 9), gap=lambda r: max(40, lognorm_s(r, 150, 0.7))):
                text = rng.choice(COPY_BRIEFS).format(p=rng.choice(prods))
                if rng.random() < 0.3:
                    text += rng.choice([" Keep it under 300 words.", " Friendly but not cheesy.", " UK spelling.", " Include a clear CTA."])
                content = [{"type": "text", "text": text}] + imgs if rng.random() < 0.55 else text
                sc.add(t, key, client, body([msg("system", "You are %s's copywriter." % brand), msg("user", content)]), False, rng.randint(250, 800), "copy:%s" % text)


IT_TICKETS = [
    "Outlook keeps asking for my password since this morning.", "The printer on floor 3 shows 'offline' for everyone.",
    "I can't connect to the VPN from home, it times out.", "New starter next Monday needs a laptop and accounts.",
    "My screen flickers when I plug in the docking station.", "Teams calls drop after exactly 10 minutes.",
    "I deleted a folder on the shared drive by mistake, can it be restored?", "MFA app is on my old phone which I no longer have.",
    "Excel crashes when I open the budget file.", "Can I get admin rights to install a plugin for Figma?",
    "The Wi-Fi in meeting room B is very slow.", "I'm getting a certificate warning on the intranet.",
    "Laptop battery drains in an hour.", "Please set up an out-of-office for a colleague who is ill.",
    "Our shared mailbox stopped receiving emails.", "Zoom says my camera is in use by another app.",
    "Can you reset the password for the reception PC?", "The CRM is extremely slow since the update.",
    "I think I clicked a phishing link.", "Keyboard keys are sticking on my laptop.",
]


@family("helpdesk_queue_agent", "benign")
def fam_helpdesk(sc, rng, C):
    """IT service desks whose agent pulls the next ticket with a tool and
    drafts the reply and the fix: a fixed user line, the ticket in a tool's
    result, answers longer than twice the ticket. The twin of
    `queue_worker`, run by the product around the clock."""
    msps = ["brightdesk", "tecsupport", "itcare", "deskflow", "helpwise", "nocturne-it", "fixfast", "supportly"]
    tools = [{"type": "function", "function": {"name": "get_next_ticket", "description": "Fetch the next open ticket assigned to the AI desk.",
                                               "parameters": {"type": "object", "properties": {}, "required": []}}}]
    for k in range(16):
        key = sc.add_key("helpdesk-agent-%02d" % k, "msp-" + msps[k % len(msps)], "product", "helpdesk_queue_agent", "benign", rpm=None)
        client = addr(rng, "cloud")
        zh = k % 4 == 3
        user = rng.choice(["Work the next ticket in my queue.", "Next ticket please.", "Handle the next open ticket."])
        system = ("你是酒店集团的客服工单助手：用 get_next_ticket 取工单，先给客人写回复，再写内部处理备注。" if zh else
                  "You are the service desk assistant. Fetch a ticket with get_next_ticket, then write (1) a reply to the user and (2) internal resolution notes with the steps taken.")
        base = rng.uniform(3.5, 6)
        tz = 8 if zh else rng.choice([0, 1, -5])

        def rate(t, base=base, tz=tz):
            h = ((t - T0) / HOUR + tz) % 24
            d = ((t - T0) / HOUR + tz) // 24
            wk = 0.3 if d % 7 >= 5 else 1.0
            return base * (0.15 + wk * diurnal(h, [(10, 2.0, 1.0), (14.5, 2.0, 0.9)]))
        for t in poisson_times(rng, T0, T_END, rate):
            cid = call_id(rng)
            if zh:
                lab, rv = rng.choice(C.hotel)
                tick = {"ticket": "H%06d" % rng.randrange(10 ** 6), "guest_message": rv[:400], "property": rng.choice(["上海店", "杭州店", "成都店", "西安店"])}
            else:
                tick = {"ticket": "INC%07d" % rng.randrange(10 ** 7), "from": person(rng) + "@" + rng.choice(["acme.co.uk", "fernleigh.com", "kpartners.de"]),
                        "department": rng.choice(["Finance", "Sales", "HR", "Ops", "Legal"]), "text": rng.choice(IT_TICKETS)}
            msgs = [msg("system", system), msg("user", user),
                    {"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function", "function": {"name": "get_next_ticket", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": cid, "content": json.dumps(tick, ensure_ascii=False)}]
            sc.add(t, key, client, body(msgs, tools=tools), False, rng.randint(180, 420), "ticket:%s" % tick.get("text", tick.get("guest_message", ""))[:60])


# ===========================================================================
# main

def write_out(sc, path):
    order = sorted(range(len(sc.reqs)), key=lambda i: (sc.reqs[i][0], sc.reqs[i][1]))
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"keys": ')
        f.write(json.dumps(sc.keys, ensure_ascii=False))
        f.write(', "requests": [\n')
        first = True
        for i in order:
            t, k, client, b, ex, ans = sc.reqs[i]
            rec = {"t": t, "key": k, "client": client, "body": b, "extraction": ex, "answer_tokens": ans}
            if not first:
                f.write(",\n")
            first = False
            f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
        f.write("\n]}\n")
    return order


def print_stats(sc, out=sys.stderr):
    fams = {}
    for (t, k, client, b, ex, ans), (fam, instr) in zip(sc.reqs, sc.meta):
        s = fams.setdefault(fam, {"req": 0, "long": 0, "instr": set(), "keyinstr": set(), "ex": 0})
        s["req"] += 1
        s["ex"] += 1 if ex else 0
        if ans >= 100:
            s["long"] += 1
        if instr is not None:
            s["instr"].add(instr)
            s["keyinstr"].add((k, instr))
    print("distinct = distinct underlying instructions in the family (union over its keys);\n"
          "per-key = the same counted key by key and summed (what each key harvested)", file=out)
    print("%-26s %-10s %5s %8s %8s %9s %9s" % ("family", "role", "keys", "requests", ">=100tok", "distinct", "per-key"), file=out)
    tot = {"extraction": [0] * 5, "benign": [0] * 5}
    for name, role, _ in FAMILIES:
        s = fams.get(name, {"req": 0, "long": 0, "instr": set(), "keyinstr": set()})
        nk = len(sc.family_keys.get(name, []))
        row = [nk, s["req"], s["long"], len(s["instr"]), len(s["keyinstr"])]
        print("%-26s %-10s %5d %8d %8d %9d %9d" % ((name, role) + tuple(row)), file=out)
        tot[role] = [a + b for a, b in zip(tot[role], row)]
    for role, tt in tot.items():
        print("%-26s %-10s %5d %8d %8d %9d %9d" % (("TOTAL", role) + tuple(tt)), file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--corpora", default=DEFAULT_CORPORA, help="path of shared/corpora (default: ../shared/corpora of the project)")
    ap.add_argument("--only", default=None, help="comma-separated families to generate (for development)")
    args = ap.parse_args(argv)
    C = Corpora(args.corpora)
    sc = Scenario()
    only = set(args.only.split(",")) if args.only else None
    for name, role, fn in FAMILIES:
        if only and name not in only:
            continue
        fn(sc, family_rng(args.seed, name), C)
    write_out(sc, args.out)
    if args.stats:
        print_stats(sc)


if __name__ == "__main__":
    main()
