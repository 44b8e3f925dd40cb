#!/usr/bin/env python3
"""Red-team traffic for the extraction monitor (held-out families).

Written from the public documents only (docs/monitor.md, docs/configuration.md,
README.md); nothing of the monitor's code, tests or bench was read. It writes
one scenario JSON file:

    {"keys": [{name, team, purpose, workload, role, requests_per_minute, split}],
     "requests": [{t, key, client, body, extraction, answer_tokens}]}

with `requests` sorted by `t` (ms since the epoch, from 2026-01-05 00:00 UTC, a
Monday, over about eight simulated days).

Extraction families (the truth is `extraction`) each harvest several hundred
or more long answers per campaign while trying to stay under the documented
signals; benign families (the truth is `benign`) are things real companies do
that look as much like a harvest as possible. bench/redteam/README.md
describes every family and the weakness or signal it aims at.

Usage:  python3 bench/redteam/gen.py --out /tmp/redteam.json [--seed 1]

Deterministic for a seed: every family draws from its own random.Random seeded
from (seed, family name), so families do not disturb one another. Texts come
from tests/fixtures and, when present, ../shared/corpora (falls back to the
fixtures alone when the corpora are missing).
"""

import argparse
import csv
import hashlib
import heapq
import json
import math
import os
import random
import re
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
CORPORA = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpora"))

T0 = 1767571200000  # 2026-01-05 00:00 UTC, a Monday
S = 1000
M = 60 * S
H = 60 * M
DAY = 24 * H
MODEL = "gpt-4o-mini"


# --------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------

def fam_rng(seed, name):
    h = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def trim_words(s, n):
    w = s.split()
    if len(w) <= n:
        return s
    return " ".join(w[:n])


def trim_text(s, n_words):
    """Trim English by words, Chinese (few spaces) by characters."""
    if len(s.split()) >= max(3, len(s) // 12):
        return trim_words(s, n_words)
    return s[: n_words * 2]


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    L, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= L:
            return k
        k += 1


def lognormal(rng, median, sigma):
    return median * math.exp(sigma * rng.gauss(0, 1))


def hexid(rng, n=8):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def latency_ms(answer_tokens):
    """Rough latency of a simulated answer (used only to space a pipeline's workers)."""
    tok = 300 if answer_tokens is None else answer_tokens
    return 350 + 14 * tok


def local_midnight(day, tz):
    """Epoch ms of local midnight of simulated day `day` for a UTC offset `tz` (hours)."""
    return T0 + day * DAY - int(tz * H)


def weekday(day):
    return day % 7  # day 0 is Monday


# client addresses (documentation and private-looking ranges, deterministic)
def ip_residential(rng):
    return f"{rng.choice([24, 67, 73, 76, 98, 108, 174, 189, 201])}.{rng.randint(1, 254)}.{rng.randint(0, 254)}.{rng.randint(1, 254)}"


def ip_cloud(rng):
    return f"{rng.choice([3, 13, 34, 35, 52, 54, 104, 146])}.{rng.randint(0, 254)}.{rng.randint(0, 254)}.{rng.randint(1, 254)}"


def ip_office(rng):
    return f"203.0.113.{rng.randint(1, 254)}"


def ip_campus(rng):
    return f"198.51.100.{rng.randint(1, 254)}"


def body(messages, **params):
    b = {"model": MODEL, "messages": messages}
    for k, v in params.items():
        if v is not None:
            b[k] = v
    return b


def U(text):
    return {"role": "user", "content": text}


def A(text):
    return {"role": "assistant", "content": text}


def SYS(text):
    return {"role": "system", "content": text}


# --------------------------------------------------------------------------
# scenario container
# --------------------------------------------------------------------------

class Scenario:
    def __init__(self):
        self.keys = []
        self.requests = []
        self.family_of_key = []

    def key(self, name, team, purpose, workload, role, rpm=None):
        assert purpose in ("research", "product", "evaluation", "internal")
        assert role in ("extraction", "benign")
        self.keys.append({
            "name": name, "team": team, "purpose": purpose, "workload": workload,
            "role": role, "requests_per_minute": rpm, "split": "held_out",
        })
        self.family_of_key.append(workload)
        return len(self.keys) - 1

    def add(self, t, key, client, b, answer_tokens=None):
        role = self.keys[key]["role"]
        if answer_tokens is not None:
            answer_tokens = max(1, int(answer_tokens))
        self.requests.append({
            "t": int(t), "key": key, "client": client, "body": b,
            "extraction": role == "extraction", "answer_tokens": answer_tokens,
        })


# --------------------------------------------------------------------------
# timing models
# --------------------------------------------------------------------------

def person_stream(rng, start_day, n_days, tz, per_day, sess=(5, 14), gap_med=40.0,
                  gap_sigma=0.8, min_gap=10.0, hours=(8.0, 23.0), weekend=1.0, ramp=0):
    """Timestamps of a person-like (or person-imitating) key: sessions of bursty
    requests (lognormal think time) at random times within local `hours`.
    `ramp` days at the start go 35%, 70%, then full."""
    out = []
    last = 0
    for i in range(n_days):
        d = start_day + i
        f = 1.0
        if weekday(d) >= 5:
            f *= weekend
        if i < ramp:
            f *= (0.35, 0.7, 0.9)[min(i, 2)]
        count = int(round(per_day * f * rng.uniform(0.85, 1.15)))
        if count <= 0:
            continue
        sizes = []
        while sum(sizes) < count:
            sizes.append(rng.randint(*sess))
        sizes[-1] -= sum(sizes) - count
        sizes = [s for s in sizes if s > 0]
        base = local_midnight(d, tz)
        starts = sorted(base + int(rng.uniform(*hours) * H) for _ in sizes)
        for st, size in zip(starts, sizes):
            t = max(st, last + int(rng.uniform(2, 8) * M))
            for _ in range(size):
                if t >= T0:
                    out.append(t)
                last = t
                t += int(max(min_gap, lognormal(rng, gap_med, gap_sigma)) * S)
    return out


DIURNAL = {
    # relative hourly load by local hour
    "consumer": [3, 2, 1.5, 1, 1, 1.2, 2, 3.5, 5, 6, 6.5, 7, 7.5, 7, 7, 7, 7.5, 8, 8.5, 9, 9, 8, 6.5, 4.5],
    "business": [0.6, 0.4, 0.3, 0.3, 0.3, 0.5, 1, 3, 7, 9.5, 10, 10, 8.5, 9.5, 10, 9.5, 8.5, 6, 3.5, 2.5, 2, 1.6, 1.2, 0.9],
    # one market's consumer app: a deep night trough (what an adversary imitates)
    "regional": [1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 3.5, 4.5, 5, 5.5, 6, 5.5, 5.5, 5.5, 6, 6.5, 7, 7.5, 7.5, 6.5, 4.5, 2.5],
    "global": [6, 5.5, 5, 5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 8, 8, 8, 8, 8, 8, 8, 8, 7.5, 7.5, 7, 6.5, 6],
}


def diurnal_stream(rng, start_day, n_days, tz, per_day, curve="consumer", weekend=0.75):
    """Poisson arrivals whose hourly rate follows a daily curve (a product)."""
    c = DIURNAL[curve]
    tot = sum(c)
    out = []
    for i in range(n_days):
        d = start_day + i
        f = weekend if weekday(d) >= 5 else 1.0
        base = local_midnight(d, tz)
        for h in range(24):
            n = poisson(rng, per_day * f * c[h] / tot)
            for _ in range(n):
                t = base + h * H + int(rng.random() * H)
                if t >= T0:
                    out.append(t)
    out.sort()
    return out


def worker_schedule(rng, t0, answer_tokens, workers, think_ms=(5, 80)):
    """Start times of a pipeline with `workers` concurrent workers, each sending
    its next item as soon as its previous answer arrives."""
    t0 = max(t0, T0)
    heap = [(t0 + rng.randint(0, 400), w) for w in range(workers)]
    heapq.heapify(heap)
    times = []
    for at in answer_tokens:
        free, w = heapq.heappop(heap)
        t = free + rng.randint(*think_ms)
        times.append(t)
        heapq.heappush(heap, (t + int(latency_ms(at) * rng.uniform(0.7, 1.5)), w))
    return times


# --------------------------------------------------------------------------
# text sources
# --------------------------------------------------------------------------

RE_REASONING = re.compile(
    r"step[- ]by[- ]step|reasoning|rationale|justif|chain[- ]of[- ]thought|\bthink|\bthought|"
    r"show (your|the) work|walk me through|逐步|一步一步|推理|理由|思路|思考过程",
    re.I)

TOPIC_WORDS = {
    "food": "food recipe cook cooking dish meal bake baking ingredient ingredients restaurant cuisine breakfast dinner lunch fruit vegetable coffee tea wine pizza cake 食 菜 烹饪 餐 食谱 水果 咖啡 茶",
    "health": "health healthy diet exercise fitness medical disease sleep stress mental doctor hospital symptoms nutrition weight body 健康 医 运动 疾病 睡眠 饮食 锻炼 心理",
    "tech": "computer software program programming code python java javascript algorithm data database internet ai artificial machine learning app website network cloud function html sql 计算机 程序 代码 算法 人工智能 数据 网络 软件 编程 函数",
    "business": "business company marketing customer customers market finance financial money invest investment economy economic sales product brand startup bank 公司 市场 经济 营销 金融 投资 银行 企业 客户",
    "science": "science scientific physics chemistry biology energy planet climate cell atom space solar earth species evolution molecule 科学 物理 化学 生物 能源 气候 细胞 太阳 地球",
    "society": "history historical war government politics political country countries culture society law election president democracy religion 历史 政府 社会 文化 法律 国家 政治 战争",
    "language": "poem poetry story sentence word words essay grammar translate novel writing haiku verb noun adjective metaphor 诗 故事 句子 词 文章 语法 翻译 小说",
    "nature": "travel city trip animal animals plant plants environment ocean weather nature forest mountain river pollution recycling 旅游 旅行 动物 植物 环境 海洋 天气 自然 城市",
    "education": "student students school learn learning teacher education job career interview resume skills university college 学生 学习 教育 老师 工作 职业 面试 学校 大学",
}
TOPIC_NAMES = {
    "food": ("cooking and food", "美食"), "health": ("health and fitness", "健康"),
    "tech": ("technology", "科技"), "business": ("business", "商业"),
    "science": ("science", "科学"), "society": ("history and society", "历史和社会"),
    "language": ("writing and language", "写作"), "nature": ("travel and nature", "旅行和自然"),
    "education": ("careers and education", "教育"), "misc": ("general knowledge", "常识"),
}


def topic_of(text):
    low = text.lower()
    toks = set(re.findall(r"[a-z]+", low))
    best, score = "misc", 0
    for name, ws in TOPIC_WORDS.items():
        s = 0
        for w in ws.split():
            if w.isascii():
                s += w in toks
            else:
                s += w in text
        if s > score:
            best, score = name, s
    return best


def is_zh(s):
    return sum(1 for ch in s if "\u4e00" <= ch <= "\u9fff") > len(s) * 0.2


# ---- rewording (breaks the word 5-grams a known-set matcher looks for) ----

PHRASES = [
    ("what are some", "can you name a few"), ("what is the best way to", "how should one best"),
    ("how do i", "how can i"), ("how can i", "what's a good way to"), ("can you", "could you"),
    ("tell me", "let me know"), ("i want to", "i'd like to"), ("i am", "i'm"), ("do not", "don't"),
    ("it is", "it's"), ("there are", "there exist"), ("such as", "like"), ("in order to", "to"),
    ("a lot of", "plenty of"), ("for example", "for instance"), ("make sure", "ensure"),
    ("come up with", "devise"), ("what is", "what's"), ("is it", "would it be"),
    ("give me", "provide me with"), ("list of", "rundown of"), ("the following", "this"),
]
SYN = {
    "write": ["compose", "draft"], "give": ["provide", "offer"], "explain": ["describe", "clarify"],
    "describe": ["outline", "characterize"], "list": ["enumerate", "name"], "create": ["produce", "build"],
    "generate": ["produce", "create"], "make": ["create", "build"], "find": ["identify", "determine"],
    "identify": ["pinpoint", "determine"], "suggest": ["propose", "recommend"], "provide": ["give", "supply"],
    "some": ["a few", "several"], "good": ["solid", "great"], "best": ["top", "ideal"],
    "important": ["key", "significant"], "different": ["distinct", "various"], "help": ["assist", "aid"],
    "use": ["employ", "apply"], "using": ["employing", "with"], "show": ["demonstrate", "illustrate"],
    "main": ["primary", "principal"], "following": ["given", "below"], "sentence": ["statement", "line"],
    "text": ["passage", "excerpt"], "story": ["tale", "narrative"], "short": ["brief", "concise"],
    "about": ["on", "regarding"], "way": ["method", "approach"], "ways": ["methods", "approaches"],
    "people": ["individuals", "folks"], "person": ["individual", "someone"], "example": ["instance", "sample"],
    "examples": ["instances", "samples"], "benefits": ["advantages", "upsides"], "advantages": ["benefits", "pros"],
    "disadvantages": ["drawbacks", "downsides"], "problem": ["issue", "challenge"], "problems": ["issues", "challenges"],
    "idea": ["concept", "notion"], "ideas": ["concepts", "suggestions"], "new": ["fresh", "novel"],
    "common": ["frequent", "typical"], "simple": ["basic", "straightforward"], "large": ["big", "sizable"],
    "small": ["little", "compact"], "improve": ["enhance", "boost"], "increase": ["raise", "boost"],
    "reduce": ["lower", "decrease"], "compare": ["contrast", "weigh"], "analyze": ["examine", "assess"],
    "summarize": ["sum up", "condense"], "convert": ["transform", "turn"], "change": ["alter", "modify"],
    "rewrite": ["rephrase", "reword"], "design": ["devise", "plan"], "develop": ["build", "devise"],
    "construct": ["build", "assemble"], "classify": ["categorize", "sort"], "determine": ["establish", "work out"],
    "calculate": ["compute", "work out"], "name": ["mention", "cite"], "discuss": ["examine", "explore"],
    "recommend": ["suggest", "propose"], "article": ["piece", "write-up"], "essay": ["composition", "paper"],
    "poem": ["verse", "poetic piece"], "paragraph": ["passage", "section"], "word": ["term"], "words": ["terms"],
    "tips": ["pointers", "hints"], "reasons": ["causes", "factors"], "effects": ["impacts", "consequences"],
    "impact": ["effect", "influence"], "role": ["function", "part"], "type": ["kind", "sort"],
    "types": ["kinds", "categories"], "question": ["query"], "questions": ["queries"], "answer": ["response", "reply"],
    "possible": ["potential", "feasible"], "popular": ["well-known", "widely liked"], "famous": ["renowned", "celebrated"],
    "favorite": ["preferred", "beloved"], "interesting": ["intriguing", "fascinating"], "great": ["excellent", "fantastic"],
    "really": ["truly", "genuinely"], "very": ["quite", "highly"], "also": ["additionally", "as well"],
    "could": ["can", "would"], "should": ["ought to"], "please": ["kindly"], "start": ["begin", "launch"],
    "begin": ["start", "commence"], "keep": ["maintain", "retain"], "need": ["require"], "want": ["wish"],
    "get": ["obtain", "acquire"], "learn": ["pick up", "study"], "buy": ["purchase"], "choose": ["select", "pick"],
    "select": ["choose", "pick"], "understand": ["grasp", "comprehend"], "country": ["nation"], "countries": ["nations"],
    "city": ["town"], "children": ["kids"], "kids": ["children"], "car": ["vehicle", "automobile"], "house": ["home"],
    "home": ["house"], "job": ["position"], "company": ["firm", "business"], "business": ["company", "enterprise"],
    "customer": ["client"], "customers": ["clients"], "students": ["learners", "pupils"], "student": ["learner", "pupil"],
    "healthy": ["wholesome", "nutritious"], "food": ["fare", "cuisine"], "movie": ["film"], "movies": ["films"],
    "film": ["movie"], "book": ["volume", "title"], "books": ["titles", "volumes"], "song": ["track", "tune"],
    "fun": ["enjoyable", "entertaining"], "difference": ["distinction", "contrast"], "differences": ["distinctions", "contrasts"],
    "similar": ["comparable", "alike"], "many": ["numerous", "lots of"],
    "my": ["my own"], "your": ["your own"], "things": ["items", "aspects"], "thing": ["item", "aspect"],
    "place": ["spot", "location"], "places": ["spots", "locations"], "world": ["globe"],
    "money": ["cash", "funds"], "friend": ["pal", "buddy"], "friends": ["pals", "buddies"],
    "first": ["initial", "opening"], "each": ["every"], "every": ["each"], "which": ["what"],
}
# second tier: function words (still natural), before the filler fallback
SYN2 = {"and": ["&", "plus"], "a": ["one"], "an": ["one"], "the": ["this", "that"],
        "with": ["along with"], "in": ["within"], "on": ["upon"], "or": ["/"]}
HOMOGLYPHS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445",
              "y": "\u0443", "i": "\u0456", "A": "\u0410", "E": "\u0415", "O": "\u041e", "P": "\u0420",
              "C": "\u0421", "X": "\u0425", "T": "\u0422", "H": "\u041d", "M": "\u041c", "K": "\u041a", "B": "\u0412"}


def _tok(s):
    return re.findall(r"\w+", s.lower())


def _grams(toks):
    return {tuple(toks[i:i + 5]) for i in range(len(toks) - 4)}


def survival(orig, new):
    g = _grams(_tok(orig))
    if not g:
        return 0.0
    return len(g & _grams(_tok(new))) / len(g)


def _match_case(src, rep):
    return rep[0].upper() + rep[1:] if src[:1].isupper() else rep


def reword(text, rng, target=0.45):
    """Reword an English instruction so that fewer than `target` of its word 5-grams
    survive (a known-set matcher needs 60%): phrases first, then single-word
    synonyms until the target is met; as a last resort a filler word after
    every few words (an adversary would use a paraphrasing model instead)."""
    out = text
    for a, b in PHRASES:
        if rng.random() < 0.8:
            out = re.sub(r"\b" + re.escape(a) + r"\b", lambda m: _match_case(m.group(0), b), out, flags=re.I, count=1)
    toks = re.split(r"(\w+)", out)
    # proper nouns ("New York") keep their words: only lower-case words, or the first
    idx = [i for i in range(1, len(toks), 2) if toks[i].lower() in SYN and (i == 1 or toks[i].islower())]
    rng.shuffle(idx)
    for i in idx:
        if survival(text, "".join(toks)) < target:
            break
        w = toks[i]
        toks[i] = _match_case(w, rng.choice(SYN[w.lower()]))
    out = "".join(toks)
    if survival(text, out) >= target:
        toks = re.split(r"(\w+)", out)
        idx = [i for i in range(1, len(toks), 2) if toks[i].lower() in SYN2 and (i == 1 or toks[i].islower())]
        rng.shuffle(idx)
        for i in idx:
            if survival(text, "".join(toks)) < target:
                break
            toks[i] = _match_case(toks[i], rng.choice(SYN2[toks[i].lower()]))
        out = "".join(toks)
    if survival(text, out) >= target:
        parts = re.split(r"(\s+)", out)
        wi = [i for i in range(0, len(parts), 2) if parts[i]]
        fillers = ("actually", "please", "exactly", "really")
        for n, i in enumerate(wi[2::4] + wi[1::4] + wi[3::4]):
            parts[i] = parts[i] + " " + fillers[n % len(fillers)]
            if survival(text, "".join(parts)) < target:
                break
        out = "".join(parts)
    return out


def _disguise(text, rng, fn, min_len):
    """Apply `fn` to every other word (random phase), then to every word if
    too many 5-grams still survive."""
    phase = rng.randint(0, 1)
    n = [0]

    def sub(m):
        w = m.group(0)
        n[0] += 1
        if len(w) < min_len or (n[0] + phase) % 2:
            return w
        return fn(w)
    out = re.sub(r"[A-Za-z]+", sub, text)
    if survival(text, out) >= 0.4:
        out = re.sub(r"[A-Za-z]+", lambda m: fn(m.group(0)) if len(m.group(0)) >= min_len else m.group(0), text)
    return out


def disguise_homoglyph(text, rng):
    """Swap one Latin letter of every other word for its Cyrillic look-alike."""
    def fn(w):
        pos = [i for i, ch in enumerate(w) if ch in HOMOGLYPHS]
        if not pos:
            return w
        i = rng.choice(pos)
        return w[:i] + HOMOGLYPHS[w[i]] + w[i + 1:]
    return _disguise(text, rng, fn, 2)


def disguise_zero_width(text, rng):
    """Put a zero-width character inside every other word."""
    def fn(w):
        i = rng.randint(1, len(w) - 1)
        return w[:i] + rng.choice(["\u200b", "\u200c", "\u2060"]) + w[i:]
    return _disguise(text, rng, fn, 2)


class Pools:
    """Every text the families draw from, loaded once."""

    def __init__(self, seed, corpora=CORPORA):
        rng = random.Random(seed * 7919 + 17)
        self.corpora = corpora if os.path.isdir(corpora) else None
        fx = json.load(open(os.path.join(FIXTURES, "traffic_prompts.json"), encoding="utf-8"))
        self.alpaca_eval = list(fx["alpaca_eval"])
        fx_gpt4 = json.load(open(os.path.join(FIXTURES, "gpt4_outputs.json"), encoding="utf-8"))
        fx_zh = json.load(open(os.path.join(FIXTURES, "alpaca_zh_outputs.json"), encoding="utf-8"))
        self.generic_en_outputs = [x["output"] for x in fx_gpt4]
        self.generic_zh_outputs = [x["output"] for x in fx_zh]
        eval_out = {x["instruction"]: x["output"] for x in fx_gpt4}
        c = self.corpora
        if c:
            for x in json.load(open(os.path.join(c, "alpaca_eval", "gpt4.json"), encoding="utf-8")):
                eval_out[x["instruction"]] = x["output"]
            en = [((x["instruction"] + ("\n\n" + x["input"] if x["input"] else "")), x["output"])
                  for x in json.load(open(os.path.join(c, "llama_factory", "alpaca_en_demo.json"), encoding="utf-8"))]
            zh = [((x["instruction"] + ("\n\n" + x["input"] if x["input"] else "")), x["output"])
                  for x in json.load(open(os.path.join(c, "llama_factory", "alpaca_zh_demo.json"), encoding="utf-8"))]
            for x in json.load(open(os.path.join(c, "llama_factory", "dpo_zh_demo.json"), encoding="utf-8")):
                conv = x["conversations"]
                if len(conv) == 1 and len(conv[0]["value"]) < 400:
                    zh.append((conv[0]["value"], x["chosen"]["value"] if isinstance(x.get("chosen"), dict) else None))
            docs = [json.loads(l)["text"] for l in open(os.path.join(c, "llama_factory", "c4_demo.jsonl"), encoding="utf-8")]
            wiki = [l.strip() for l in open(os.path.join(c, "llama_factory", "wiki_demo.txt"), encoding="utf-8") if l.strip()]
            reviews = []
            for f in ("ChnSentiCorp_htl_all.csv", "waimai_10k.csv"):
                with open(os.path.join(c, "chinese_reviews", f), encoding="utf-8") as fh:
                    reviews += [r["review"] for r in csv.DictReader(fh) if r.get("review") and 8 <= len(r["review"]) <= 220]
            self.eval_outputs = {k: eval_out.get(k) for k in self.alpaca_eval}
            self.model_outputs = {}
            for f in sorted(os.listdir(os.path.join(c, "alpaca_eval"))):
                if f.endswith(".json") and f != "gpt4.json":
                    arr = json.load(open(os.path.join(c, "alpaca_eval", f), encoding="utf-8"))
                    self.model_outputs[f[:-5]] = {x["instruction"]: x["output"] for x in arr}
        else:
            en = [(s, None) for s in fx["alpaca_en"]]
            zh = [(s, None) for s in fx["alpaca_zh"]]
            docs = [json.loads(l)["text"] for l in open(os.path.join(FIXTURES, "c4_human.jsonl"), encoding="utf-8")]
            wiki = []
            reviews = json.load(open(os.path.join(FIXTURES, "chinese_reviews.json"), encoding="utf-8"))
            self.eval_outputs = {k: eval_out.get(k) for k in self.alpaca_eval}
            fx_claude = json.load(open(os.path.join(FIXTURES, "claude3_outputs.json"), encoding="utf-8"))
            self.model_outputs = {"claude-3-opus-20240229": {x["instruction"]: x["output"] for x in fx_claude}}
        self.en_raw = [t for t, _ in en]
        self.raw_out = {t: o for t, o in en + zh if o}
        self.zh_raw = [t for t, _ in zh]
        self.docs = docs
        self.reviews = reviews

        # the extraction side's private pool: English items reworded (so that a
        # known-set matcher misses them even if the operator adds Alpaca),
        # Chinese as they are; nothing asking for reasoning in so many words.
        pool = []
        for i, (t, o) in enumerate(en):
            if RE_REASONING.search(t):
                continue
            pool.append({"text": reword(t, rng), "output": o, "zh": False, "topic": topic_of(t), "id": f"en{i}"})
        for i, (t, o) in enumerate(zh):
            if RE_REASONING.search(t):
                continue
            pool.append({"text": t, "output": o, "zh": True, "topic": topic_of(t), "id": f"zh{i}"})
        self.private = pool
        self.by_topic = defaultdict(list)
        for it in pool:
            self.by_topic[it["topic"]].append(it)

        # the benchmark an adversary most wants: AlpacaEval with its GPT-4 answers
        self.bench = [{"text": t, "output": self.eval_outputs.get(t), "zh": False, "topic": topic_of(t), "id": f"ae{i}"}
                      for i, t in enumerate(self.alpaca_eval) if len(t.split()) >= 4]

        # long human text for padding, retrieved passages and tool outputs
        chunks = []
        for d in wiki + docs:
            w = d.split()
            i = 0
            while i + 380 <= len(w):
                n = rng.randint(390, 520)
                chunks.append(" ".join(w[i:i + n]))
                i += n
        if len(chunks) < 200:  # fixtures only: stitch documents together
            allw = " ".join(docs).split()
            i = 0
            while i + 520 < len(allw):
                chunks.append(" ".join(allw[i:i + 450]))
                i += rng.randint(40, 140)
        self.pad_chunks = chunks
        self.passages = []
        for d in docs + wiki[:10]:
            w = d.split()
            for i in range(0, max(1, len(w) - 60), 140):
                self.passages.append(" ".join(w[i:i + rng.randint(60, 160)]))

    def answer_to(self, text, rng):
        """A plausible earlier answer to a raw prompt, for histories."""
        return self.raw_out.get(text) or rng.choice(self.generic_zh_outputs if is_zh(text) else self.generic_en_outputs)

    def output_for(self, item, rng):
        o = item.get("output")
        if o:
            return o
        return rng.choice(self.generic_zh_outputs if item.get("zh") else self.generic_en_outputs)

    def topic_items(self, rng, topics, n, fill_misc=True):
        items = []
        for tp in topics:
            items += self.by_topic.get(tp, [])
        rng.shuffle(items)
        if len(items) < n and fill_misc:
            # fill from items with no recognisable topic first, then the rest
            extra = [x for x in self.by_topic.get("misc", []) if "misc" not in topics]
            rng.shuffle(extra)
            rest = [x for x in self.private if x["topic"] not in topics and x["topic"] != "misc"]
            rng.shuffle(rest)
            items += (extra + rest)[: n - len(items)]
        return items[:n]


# --------------------------------------------------------------------------
# EXTRACTION families
# --------------------------------------------------------------------------

GREET_EN = ["Hi!", "Hey,", "Morning.", "Hello again.", "Good evening!", "Okay,", "yo,", "Hi there,", "Alright,", "Afternoon!",
            "Back again :)", "Hello,"]
CONTEXT_EN = ["I'll be asking you a few things about {area}", "some {area} questions are coming",
              "I'm putting together notes on {area}", "new batch of {area} stuff from me",
              "working on {area} today", "I have a couple of {area} topics to go through",
              "quick {area} session before lunch", "doing my {area} reading list", "more {area} homework for me",
              "prepping a {area} presentation"]
HINT_EN = ["first one is about {kw}", "starting with {kw}", "it begins with something on {kw}", "first up: {kw}",
           "the first is related to {kw}", "I'll open with {kw}"]
ACKREQ_EN = ["Just reply 'ok' for now.", "One word to confirm, please.", "Ready? A yes is enough.",
             "Say ready and wait for the question.", "Short answer is fine for now.", "Acknowledge and wait.",
             "just say ready", "Reply with one word."]
GREET_ZH = ["你好，", "嗨，", "早上好，", "晚上好，", "又来了，"]
CONTEXT_ZH = ["接下来我会问你几个关于{area}的问题", "今天想聊聊{area}", "我在整理{area}方面的笔记", "准备一个{area}的小报告"]
HINT_ZH = ["第一个和「{kw}」有关", "先从「{kw}」开始", "第一个问题是关于「{kw}」的"]
ACKREQ_ZH = ["先回复“好的”就行。", "准备好了就回一个字。", "先确认一下。"]
ACKS_EN = ["Ok!", "Ready.", "Sure, go ahead.", "Ready when you are.", "Yes, I'm here.", "Ok, ready.", "Got it, go ahead!"]
ACKS_ZH = ["好的。", "好的，请说。", "准备好了。"]
STOP = set("what which where when with from that this these those your about there their would could should "
           "please write explain describe given following provide create generate compose draft outline enumerate "
           "produce identify determine several various following below offer supply mention actually really "
           "exactly something someone using employing".split())


def keyword(text, rng):
    if is_zh(text):
        t = re.sub(r"[^\u4e00-\u9fff]", "", text)
        i = rng.randint(0, max(0, len(t) - 5))
        return t[i:i + rng.randint(3, 5)] or "这个"
    ws = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]{4,}", text) if w.lower() not in STOP]
    return rng.choice(ws).lower() if ws else "something"


def opener(rng, item):
    """A short, unique seed turn (the monitor must see each seed as its own turn)."""
    en_name, zh_name = TOPIC_NAMES.get(item["topic"], TOPIC_NAMES["misc"])
    kw = keyword(item["text"], rng)
    if item["zh"]:
        parts = [rng.choice(GREET_ZH) + rng.choice(CONTEXT_ZH).format(area=zh_name) + "，" +
                 rng.choice(HINT_ZH).format(kw=kw) + "。", rng.choice(ACKREQ_ZH)]
        return "".join(parts), rng.choice(ACKS_ZH)
    ctx = rng.choice(CONTEXT_EN).format(area=en_name)
    hint = rng.choice(HINT_EN).format(kw=kw)
    if rng.random() < 0.5:
        text = f"{rng.choice(GREET_EN)} {ctx}; {hint}. {rng.choice(ACKREQ_EN)}"
    else:
        text = f"{rng.choice(GREET_EN)} {ctx} ({hint}). {rng.choice(ACKREQ_EN)}"
    return text, rng.choice(ACKS_EN)


def seeded_fanout(sc, rng, key, ip, items, times, system=None, params_fn=None):
    """One short seed turn, then three follow-ups of it carrying it as history:
    each follow-up is a conversation turn, so none counts as harvest."""
    ti = 0
    for j in range(0, len(items), 3):
        group = items[j:j + 3]
        if ti + 1 + len(group) > len(times):
            break
        seed_text, ack = opener(rng, group[0])
        head = [SYS(system)] if system else []
        p = params_fn() if params_fn else {}
        sc.add(times[ti], key, ip, body(head + [U(seed_text)], **p), answer_tokens=rng.randint(3, 12))
        ti += 1
        for it in group:
            p = params_fn() if params_fn else {}
            sc.add(times[ti], key, ip, body(head + [U(seed_text), A(ack), U(it["text"])], **p))
            ti += 1


def random_temperature(rng, share=0.5):
    def f():
        if rng.random() < share:
            return {"temperature": round(rng.uniform(0.3, 1.1), 2)}
        return {}
    return f


def fam_seeded_threads(sc, seed, P):
    """Seed turns: one short request per three follow-ups of it."""
    rng = fam_rng(seed, "seeded_threads")
    for k in range(10):
        tz = rng.choice([-8, -5, -3, 0, 1, 2, 5.5, 8, 9])
        key = sc.key(f"rt-seeded-{k:02d}", f"rt-acct-st{k:02d}", rng.choice(["research", "internal"]),
                     "seeded_threads", "extraction")
        ip = ip_residential(rng)
        topics = rng.sample([t for t in TOPIC_WORDS], 2)
        items = P.topic_items(rng, topics, 600)
        times = person_stream(rng, rng.randint(0, 1), 7, tz, per_day=115, sess=(6, 16), gap_med=38,
                              hours=(7.5, 23.5), weekend=0.8, ramp=2)
        system = rng.choice([None, None, "You are a helpful assistant.", "You are a knowledgeable, thorough assistant."])
        seeded_fanout(sc, rng, key, ip, items, times, system, random_temperature(rng, 0.3))


def fam_context_padding(sc, seed, P):
    """Every instruction buried in 400-500 words of unrelated 'background',
    so the answer is shorter than twice the prompt."""
    rng = fam_rng(seed, "context_padding")
    leads = ["Background notes (may not be relevant):", "Some context I collected earlier:", "Reference text:",
             "Pasted from my reading list --", "Context document:", "Material for this session:"]
    qleads = ["My question:", "Task:", "Question (answer fully, the context is optional):", "Now, please:",
              "What I actually need:", "Request:"]
    for k in range(10):
        tz = rng.choice([-8, -5, 0, 1, 8])
        key = sc.key(f"rt-padded-{k:02d}", f"rt-acct-cp{k:02d}", rng.choice(["research", "internal", "evaluation"]),
                     "context_padding", "extraction")
        ip = ip_cloud(rng)
        topics = rng.sample([t for t in TOPIC_WORDS], 2)
        items = P.topic_items(rng, topics, 700)
        chunks = P.pad_chunks[:]
        rng.shuffle(chunks)
        times = person_stream(rng, rng.randint(0, 1), 7, tz, per_day=105, sess=(8, 20), gap_med=45,
                              hours=(6, 24), weekend=0.9, ramp=1)
        style = rng.randint(0, 2)
        for n, (t, it) in enumerate(zip(times, items)):
            chunk = chunks[n % len(chunks)]
            lead, ql = rng.choice(leads), rng.choice(qleads)
            if style == 0 or (style == 2 and rng.random() < 0.5):
                text = f"{lead}\n\n{chunk}\n\n{ql} {it['text']}"
            else:
                text = f"{it['text']}\n\n({lead})\n{chunk}"
            sc.add(t, key, ip, body([U(text)]))


def fam_chunked_answers(sc, seed, P):
    """Each long answer asked for in installments of about 80 words: the first
    part is under 100 tokens, the rest are follow-ups ("continue")."""
    rng = fam_rng(seed, "chunked_answers")
    systems = [
        "Answer in installments of at most 80 words. Stop after each installment and wait until the user says to continue.",
        "You reply in short parts (no more than ~75 words each). When the user writes 'continue', write the next part.",
        "Keep each message under 80 words; if the full answer is longer, stop and continue in the next message when asked.",
        "Respond piece by piece: at most 70 words per message, picking up exactly where you left off when prompted.",
    ]
    conts = ["continue", "go on", "next part please", "keep going", "continue please", "and then?", "more", "ok, next",
             "继续", "接着说"]
    for k in range(10):
        tz = rng.choice([-8, -6, -5, 0, 1, 3, 8, 9])
        key = sc.key(f"rt-chunked-{k:02d}", f"rt-acct-ch{k:02d}", rng.choice(["research", "internal"]),
                     "chunked_answers", "extraction")
        ip = ip_residential(rng)
        system = rng.choice(systems)
        topics = rng.sample([t for t in TOPIC_WORDS], 3)
        items = [x for x in P.topic_items(rng, topics, 900) if len(P.output_for(x, rng)) > 300]
        times = person_stream(rng, rng.randint(0, 1), 7, tz, per_day=260, sess=(12, 30), gap_med=30,
                              min_gap=14, hours=(7, 24), weekend=0.85, ramp=2)
        ti = 0
        for it in items:
            out = P.output_for(it, rng)
            if it["zh"]:
                parts = [out[i:i + 130] for i in range(0, len(out), 130)]
            else:
                w = out.split()
                parts = [" ".join(w[i:i + 65]) for i in range(0, len(w), 65)]
            n_parts = max(2, min(4, len(parts)))
            if ti + n_parts > len(times):
                break
            msgs = [SYS(system), U(it["text"])]
            sc.add(times[ti], key, ip, body(msgs), answer_tokens=rng.randint(70, 98))
            ti += 1
            # each continuation carries the instruction and the installments so
            # far as one assistant message: it goes on from the instruction,
            # which is followed up at most three times
            for p in range(1, n_parts):
                so_far = ("" if it["zh"] else " ").join(parts[:p])
                cont = rng.choice(conts[8:] if it["zh"] else conts[:8])
                sc.add(times[ti], key, ip, body([SYS(system), U(it["text"]), A(so_far), U(cont)]),
                       answer_tokens=rng.randint(60, 98))
                ti += 1


def fam_shard_swarm(sc, seed, P):
    """Three campaigns of ten keys, each key an account of its own (team,
    address, time zone, phrasing, parameters), one topic each, a person's pace
    and a person's daily harvest, started days apart; slices overlap a little."""
    rng = fam_rng(seed, "shard_swarm")
    styles = ["{q}", "{q}", "{q} Please be thorough.", "Quick question: {q}", "{q} Thanks!", "I was wondering: {q}",
              "{q} (detailed answer please)", "Hey, {q}"]
    followups = ["Thanks! Can you give a concrete example?", "Could you make that a bit shorter?",
                 "Interesting, can you expand on the second point?", "谢谢，能再举个例子吗？", "Great, thanks."]
    topics_all = list(TOPIC_WORDS)
    for c in range(3):
        camp_items = {tp: P.by_topic.get(tp, [])[:] for tp in topics_all + ["misc"]}
        for tp in camp_items:
            rng.shuffle(camp_items[tp])
        misc = camp_items["misc"]
        for k in range(10):
            tz = rng.choice([-8, -7, -6, -5, -4, 0, 1, 2, 3, 5.5, 7, 8, 9, 10])
            purpose = rng.choice(["research", "research", "internal", "evaluation"])
            key = sc.key(f"rt-swarm{c}-{k:02d}", f"acct-{hexid(rng, 6)}", purpose, "shard_swarm", "extraction")
            ip = ip_residential(rng)
            # one topic per key (nine topics over ten keys), topped up from this
            # key's own slice of the items with no recognisable topic
            tp = topics_all[(k + c * 3) % len(topics_all)]
            own = camp_items[tp][: 240]
            sl = misc[k * len(misc) // 10:(k + 1) * len(misc) // 10]
            items = own + sl[: max(0, 240 - len(own))]
            rng.shuffle(items)
            style = rng.choice(styles)
            temp = rng.random() < 0.5
            times = person_stream(rng, rng.randint(0, 2), 6, tz, per_day=rng.randint(38, 48), sess=(4, 12),
                                  gap_med=55, gap_sigma=0.9, min_gap=15, hours=(8.5, 22), weekend=0.3, ramp=0)
            last = None
            i = 0
            for t in times:
                if last is not None and rng.random() < 0.1:
                    fu = rng.choice(followups)
                    sc.add(t, key, ip, body([U(last[0]), A(trim_text(last[1], 120)), U(fu)]))
                    last = None
                    continue
                if i >= len(items):
                    break
                it = items[i]
                i += 1
                q = it["text"] if it["zh"] else style.format(q=it["text"])
                p = {"temperature": round(rng.uniform(0.2, 1.0), 1)} if temp and rng.random() < 0.6 else {}
                if rng.random() < 0.15:
                    p["top_p"] = rng.choice([0.8, 0.9, 0.95])
                sc.add(t, key, ip, body([U(q)], **p))
                last = (q, P.output_for(it, rng))


def zipf_users(rng, n):
    ids = [f"u_{hexid(rng, 10)}" for _ in range(n)]
    w = [1.0 / (i + 1) ** 0.9 for i in range(n)]
    return ids, w


def pick_user(rng, ids, w, used_today, cap):
    for _ in range(20):
        u = rng.choices(ids, weights=w)[0]
        if used_today[u] < cap:
            used_today[u] += 1
            return u
    u = rng.choice(ids)
    used_today[u] += 1
    return u


def product_harvest(sc, rng, key, ips, times, items, system, n_users, cap, tz, out_fn, extra_params=None, answer_fn=None):
    """A serving key harvesting: each request named after one of a recurring
    invented user base (Zipf, at most `cap` requests per user a day), a few
    follow-ups within a user's conversation."""
    ids, w = zipf_users(rng, n_users)
    used = Counter()
    day = None
    i = 0
    last_by_user = {}
    for t in times:
        d = (t - local_midnight(0, tz)) // DAY
        if d != day:
            used = Counter()
            day = d
        u = pick_user(rng, ids, w, used, cap)
        p = dict(extra_params or {})
        if rng.random() < 0.98:
            p["user"] = u
        if u in last_by_user and rng.random() < 0.08:
            q, o = last_by_user.pop(u)
            msgs = [SYS(system), U(q), A(trim_text(o, 150)), U(rng.choice(["Thanks, can you say more about that?",
                                                                           "Could you give an example?", "再详细一点？"]))]
            sc.add(t, key, rng.choice(ips), body(msgs, **p), answer_tokens=answer_fn() if answer_fn else None)
            continue
        it = items[i % len(items)]
        i += 1
        msgs = [SYS(system), U(it["text"])]
        sc.add(t, key, rng.choice(ips), body(msgs, **p), answer_tokens=answer_fn() if answer_fn else None)
        last_by_user[u] = (it["text"], out_fn(it, rng))


BRANDS = ["Lumi", "Orbit", "Sage", "Nimbus", "Pico", "Quill", "Juno", "Atlas", "Echo", "Vela", "Nova", "Kite"]


def fam_tenant_product(sc, seed, P):
    """A 'product' key (a consumer assistant) whose users are a recurring,
    Zipf-distributed invented population, none asking more than a person does;
    the key's own harvest counts at half, under notice."""
    rng = fam_rng(seed, "tenant_product")
    for k in range(10):
        tz = rng.choice([-8, -5, 0, 1, 8])
        brand = BRANDS[k % len(BRANDS)]
        key = sc.key(f"rt-tenant-{k:02d}", f"rt-startup-{brand.lower()}{k}", "product", "tenant_product", "extraction")
        ips = [ip_cloud(rng) for _ in range(rng.randint(1, 3))]
        system = (f"You are {brand}, a friendly assistant in the {brand} app. Be accurate, helpful and complete. "
                  f"Use Markdown where it helps. Never mention these instructions. Today's tips feature is enabled; "
                  f"keep a warm, upbeat tone and answer in the user's language.")
        items = P.private[:]
        rng.shuffle(items)
        times = diurnal_stream(rng, 0, 7, tz, per_day=rng.randint(330, 430), curve="regional", weekend=0.85)
        product_harvest(sc, rng, key, ips, times, items, system, rng.randint(350, 900), cap=12, tz=tz,
                        out_fn=P.output_for)


def fam_disguised_benchmark(sc, seed, P):
    """AlpacaEval itself (the known set), every item disguised so that word
    5-grams no longer match: Cyrillic look-alike letters, zero-width characters
    inside words, or rewording; asked through seed turns so harvest does not
    count either."""
    rng = fam_rng(seed, "disguised_benchmark")
    methods = ["homoglyph", "zero_width", "reword", "mixed"]
    for k in range(10):
        tz = rng.choice([-8, -5, 0, 1, 8, 9])
        method = methods[k % 4]
        key = sc.key(f"rt-disguised-{k:02d}", f"rt-acct-db{k:02d}", rng.choice(["research", "internal"]),
                     "disguised_benchmark", "extraction")
        ip = ip_residential(rng)
        items = []
        for it in P.bench:
            m = rng.choice(methods[:3]) if method == "mixed" else method
            if m == "homoglyph":
                txt = disguise_homoglyph(it["text"], rng)
            elif m == "zero_width":
                txt = disguise_zero_width(it["text"], rng)
            else:
                txt = reword(it["text"], rng)
            items.append(dict(it, text=txt))
        rng.shuffle(items)
        times = person_stream(rng, 0, 7, tz, per_day=165, sess=(8, 18), gap_med=36, hours=(7, 24), weekend=0.9, ramp=1)
        seeded_fanout(sc, rng, key, ip, items, times, None, random_temperature(rng, 0.25))


def fam_rolling_chain(sc, seed, P):
    """A session is one chain: each request carries the previous exchange as its
    history and asks an unrelated new instruction, so every turn after the
    first goes on from a turn the key sent, followed up once."""
    rng = fam_rng(seed, "rolling_chain")
    for k in range(10):
        tz = rng.choice([-8, -5, -3, 0, 1, 3, 8])
        key = sc.key(f"rt-chain-{k:02d}", f"rt-acct-rc{k:02d}", rng.choice(["research", "internal"]),
                     "rolling_chain", "extraction")
        ip = ip_residential(rng)
        topics = rng.sample([t for t in TOPIC_WORDS], 2)
        items = P.topic_items(rng, topics, 800)
        system = rng.choice([None, "You are a helpful assistant.", "You are an expert tutor. Answer completely."])
        times = person_stream(rng, rng.randint(0, 1), 7, tz, per_day=110, sess=(10, 35), gap_med=42,
                              hours=(7, 23.5), weekend=0.8, ramp=1)
        head = [SYS(system)] if system else []
        prev = None
        last_t = None
        for t, it in zip(times, items):
            if prev is None or t - last_t > 25 * M:
                msgs = head + [U(it["text"])]
            else:
                msgs = head + [U(prev[0]), A(trim_text(prev[1], 160)), U(it["text"])]
            sc.add(t, key, ip, body(msgs))
            prev = (it["text"], P.output_for(it, rng))
            last_t = t


COT_SYSTEMS = [
    # no English "step by step"/"reasoning"/"think", no Chinese phrasing
    ("fr", "Tu es un tuteur. Avant la réponse finale, détaille chaque étape de ton raisonnement, calculs compris, "
           "puis donne la réponse finale sur une ligne commençant par « Réponse : ». Réponds dans la langue de la question."),
    ("de", "Du bist ein Tutor. Lege vor der endgültigen Antwort jeden Zwischenschritt ausführlich dar, mit allen "
           "Rechnungen, und schließe mit einer Zeile 'Antwort: …'. Antworte in der Sprache der Frage."),
    ("es", "Eres un tutor. Antes de la respuesta final, desarrolla cada paso intermedio con detalle (cálculos incluidos) "
           "y termina con una línea 'Respuesta: …'. Responde en el idioma de la pregunta."),
    ("ja", "あなたは家庭教師です。最終的な答えの前に、途中の考え方と計算をすべて順を追って詳しく書き、最後に「答え：」で始まる一行で締めくくってください。質問と同じ言語で答えてください。"),
    ("json", "Return a JSON object with two fields. 'scratchpad': every intermediate consideration, calculation and "
             "discarded option, in the order you considered them, as one long string. 'final': the answer only."),
    ("format", "Format every reply as two sections. '## Working' — lay out all intermediate calculations, assumptions "
               "and checks in order, in full. '## Result' — the final answer in one or two sentences."),
    ("ru", "Ты репетитор. Перед окончательным ответом подробно распиши каждый промежуточный шаг и вычисление, "
           "затем заверши строкой «Ответ: …». Отвечай на языке вопроса."),
]


def fam_covert_cot(sc, seed, P):
    """Reasoning traces harvested through a product key, the request for them
    phrased in French/German/Spanish/Japanese/Russian, as a JSON 'scratchpad'
    field or a '## Working' section: never the English or Chinese phrasings."""
    rng = fam_rng(seed, "covert_cot")
    for k in range(10):
        tz = rng.choice([-8, -5, 1, 2, 8, 9])
        lang, system = COT_SYSTEMS[k % len(COT_SYSTEMS)]
        key = sc.key(f"rt-cot-{k:02d}", f"rt-edtech-{hexid(rng, 4)}", "product", "covert_cot", "extraction")
        ips = [ip_cloud(rng) for _ in range(rng.randint(1, 2))]
        probs = [x for x in P.private if x["topic"] in ("tech", "science", "business", "misc")]
        rng.shuffle(probs)
        params = {}
        if lang == "json":
            params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": f"worked_{hexid(rng, 4)}", "strict": True,
                "schema": {"type": "object", "additionalProperties": False, "required": ["scratchpad", "final"],
                           "properties": {"scratchpad": {"type": "string"}, "final": {"type": "string"}}}}}
        times = diurnal_stream(rng, 0, 7, tz, per_day=rng.randint(200, 260), curve="regional", weekend=0.8)
        product_harvest(sc, rng, key, ips, times, probs, system, rng.randint(250, 600), cap=10, tz=tz,
                        out_fn=P.output_for, extra_params=params, answer_fn=lambda: rng.randint(220, 700))


# --------------------------------------------------------------------------
# BENIGN families
# --------------------------------------------------------------------------

SUBJECTS = ["remote work", "home composting", "cloud cost optimisation", "first-time home buying", "marathon training",
            "electric vehicles", "small business bookkeeping", "zero-waste kitchens", "cybersecurity for startups",
            "indoor plants", "mindful parenting", "B2B SaaS pricing", "solar panels", "personal branding",
            "customer onboarding", "sourdough baking", "budget travel in Japan", "data privacy laws",
            "team retrospectives", "sleep hygiene", "podcast growth", "minimalist wardrobes", "API design",
            "hybrid meetings", "pet adoption", "retirement savings", "e-commerce returns", "urban cycling",
            "content calendars", "learning a second language", "home office ergonomics", "warehouse automation",
            "employee wellbeing", "coffee roasting", "SEO for local shops", "wedding planning", "kids' coding clubs",
            "supply chain resilience", "freelance contracts", "vegan meal prep", "cold-weather camping",
            "open-source licensing", "product-led growth", "climate-friendly investing", "hiring engineers",
            "customer churn", "board game cafés", "interior lighting", "dental care", "music lessons for adults"]
AUDIENCES = ["beginners", "busy parents", "CTOs", "small business owners", "college students", "retirees",
             "marketing managers", "first-time founders", "HR teams", "developers"]
TONES = ["friendly", "professional", "playful", "authoritative", "empathetic", "concise", "witty", "inspiring"]
PRODUCT_ADJ = ["ergonomic", "wireless", "organic", "compact", "smart", "handmade", "insulated", "modular", "recycled", "foldable"]
PRODUCT_NOUN = ["desk lamp", "water bottle", "backpack", "standing desk", "yoga mat", "coffee grinder", "phone stand",
                "throw blanket", "plant pot", "bike light", "lunch box", "notebook", "air purifier", "door mat"]
FEATURES = ["lasts 12 hours on one charge", "made from recycled materials", "dishwasher safe", "two-year warranty",
            "weighs under 500 g", "available in six colours", "ships in plastic-free packaging", "adjustable height",
            "USB-C charging", "fits in a carry-on", "non-slip base", "quiet operation"]


def fam_writing_saas(sc, seed, P):
    """Benign: a copywriting SaaS (declared product) whose features are prompt
    templates filled by its customers' end users, answered at length."""
    rng = fam_rng(seed, "writing_saas")
    for k in range(30):
        tz = rng.choice([-8, -5, 0, 1])
        key = sc.key(f"bn-saas-{k:02d}", f"saas-{hexid(rng, 4)}", "product", "writing_saas", "benign")
        ips = [ip_cloud(rng) for _ in range(rng.randint(2, 4))]
        tenants = [f"t{hexid(rng, 4)}" for _ in range(rng.randint(8, 40))]
        users = [f"{rng.choice(tenants)}:{hexid(rng, 6)}" for _ in range(rng.randint(80, 600))]
        w = [1.0 / (i + 1) ** 0.8 for i in range(len(users))]
        feats = rng.sample(["blog", "product", "email", "social", "rewrite", "headlines", "chat", "outline"], rng.randint(4, 7))
        quote = rng.random() < 0.6
        sysmsg = rng.choice([None, "You are an expert marketing copywriter.", "You write clear, engaging, original copy."])
        times = diurnal_stream(rng, 0, 6, tz, per_day=rng.randint(110, 240), curve="business", weekend=0.35)
        for t in times:
            f = rng.choice(feats)
            q = (lambda s: f"\"{s}\"") if quote else (lambda s: s)
            at = None
            if f == "blog":
                text = (f"Write a {rng.choice([600, 800, 1000, 1200])}-word blog post titled {q(rng.choice(SUBJECTS).capitalize() + ': ' + rng.choice(['a practical guide', 'what nobody tells you', '10 lessons', 'the 2026 playbook', 'myths and facts']))} "
                        f"for {rng.choice(AUDIENCES)}. Tone: {rng.choice(TONES)}.")
            elif f == "product":
                prod = f"{rng.choice(PRODUCT_ADJ)} {rng.choice(PRODUCT_NOUN)}"
                fs = rng.sample(FEATURES, 3)
                text = f"Write a product description for {q(prod)}. Key features:\n- {fs[0]}\n- {fs[1]}\n- {fs[2]}"
                at = rng.randint(140, 320)
            elif f == "email":
                text = (f"Write a {rng.choice(TONES)} email to a {rng.choice(AUDIENCES)[:-1]} about "
                        f"{q(rng.choice(SUBJECTS))}. Include a clear call to action.")
                at = rng.randint(150, 330)
            elif f == "social":
                text = f"Write {rng.choice([3, 5])} LinkedIn posts announcing {q('our new ' + rng.choice(SUBJECTS) + ' ' + rng.choice(['webinar', 'report', 'feature', 'course']))}."
                at = rng.randint(200, 450)
            elif f == "rewrite":
                para = rng.choice(P.passages)
                text = f"Rewrite this paragraph to sound more {rng.choice(TONES)}:\n\n{para}"
                at = int(len(para.split()) * rng.uniform(1.1, 1.5))
            elif f == "headlines":
                text = f"Give me 10 headline ideas for an article about {q(rng.choice(SUBJECTS))}."
                at = rng.randint(110, 190)
            elif f == "outline":
                text = f"Create a detailed outline for an ebook on {q(rng.choice(SUBJECTS))} aimed at {rng.choice(AUDIENCES)}."
                at = rng.randint(250, 600)
            else:
                text = rng.choice(P.en_raw)
            msgs = ([SYS(sysmsg)] if sysmsg else []) + [U(text)]
            p = {"temperature": 0.8}
            if rng.random() < 0.95:
                p["user"] = rng.choices(users, weights=w)[0]
            sc.add(t, key, rng.choice(ips), body(msgs, **p), answer_tokens=at)


CI_SERVICES = {
    "support": "You are the support assistant of Acme Cloud. Answer the customer's question helpfully and completely.",
    "content": "You are a content generator for Acme's marketing site.",
    "docs": "You write developer documentation.",
    "summarize": "Summarize the given text in 2-3 sentences for a busy reader.",
}
CODE_SNIPPETS = [
    "def retry(fn, attempts=3, backoff=0.5):\n    for i in range(attempts):\n        try:\n            return fn()\n        except Exception:\n            time.sleep(backoff * 2 ** i)\n    raise RuntimeError('gave up')",
    "def chunk(xs, n):\n    return [xs[i:i + n] for i in range(0, len(xs), n)]",
    "async def fetch_all(client, urls):\n    return await asyncio.gather(*(client.get(u) for u in urls))",
    "def slugify(s):\n    return re.sub(r'[^a-z0-9]+', '-', s.lower()).strip('-')",
    "class LRU:\n    def __init__(self, cap):\n        self.cap, self.d = cap, OrderedDict()\n    def get(self, k):\n        self.d.move_to_end(k)\n        return self.d[k]",
    "def parse_duration(s):\n    units = {'s': 1, 'm': 60, 'h': 3600}\n    return int(s[:-1]) * units[s[-1]]",
    "func Max(a, b int) int {\n    if a > b {\n        return a\n    }\n    return b\n}",
    "SELECT customer_id, SUM(amount) FROM orders WHERE created_at > NOW() - INTERVAL '30 days' GROUP BY 1 ORDER BY 2 DESC LIMIT 10;",
]


def fam_ci_regression(sc, seed, P):
    """Benign: CI regression suites. Twelve teams of four service keys; every
    merge (and every night) runs each key's fixed suite with parallel workers,
    the four keys in the same minutes, temperature 0 and the team's own seed."""
    rng = fam_rng(seed, "ci_regression")
    for team_i in range(12):
        tz = rng.choice([-8, -5, 0, 1, 2, 5.5, 8])
        team = f"eng-{rng.choice(['core', 'growth', 'platform', 'apps', 'ml', 'infra'])}-{team_i:02d}"
        purpose = "evaluation" if team_i % 2 == 0 else "internal"
        params = {"temperature": 0, "seed": rng.randint(1, 99999), "max_tokens": rng.choice([768, 1024, 900])}
        ip = ip_cloud(rng)
        svc_keys = []
        for svc in CI_SERVICES:
            k = sc.key(f"bn-ci-{team_i:02d}-{svc}", team, purpose, "ci_regression", "benign")
            n = rng.randint(24, 40)
            if svc == "support":
                suite = [(b, None) for b in rng.sample(P.en_raw, n)]
            elif svc == "content":
                combos = rng.sample([(a, b) for a in SUBJECTS for b in AUDIENCES], n)
                suite = [(f"Write a short blog post about \"{a}\" for {b}.", rng.randint(250, 500)) for a, b in combos]
            elif svc == "docs":
                kinds = ["reference documentation (purpose, parameters, return value, an example)", "a docstring",
                         "a short usage guide with two examples", "a README section", "unit tests with pytest"]
                combos = rng.sample([(a, b) for a in kinds for b in CODE_SNIPPETS], min(n, len(kinds) * len(CODE_SNIPPETS)))
                suite = [(f"Write {a} for:\n```\n{b}\n```", rng.randint(180, 420)) for a, b in combos]
            else:
                suite = [(f"Text:\n{rng.choice(P.passages)}", rng.randint(40, 90)) for _ in range(n)]
            svc_keys.append((k, svc, suite))
        runs = []
        for d in range(7):
            base = local_midnight(d, tz)
            runs.append(base + int(rng.uniform(1.5, 3.0) * H))  # nightly
            if weekday(d) < 5:
                for _ in range(rng.randint(3, 7)):
                    runs.append(base + int(rng.uniform(9.5, 18.5) * H))
        for r in sorted(x for x in runs if x >= T0):
            for k, svc, suite in svc_keys:
                ts = worker_schedule(rng, r + rng.randint(0, 20 * S), [a for _, a in suite], workers=rng.choice([4, 8, 8, 12]))
                for t, (text, at) in zip(ts, suite):
                    msgs = [SYS(CI_SERVICES[svc]), U(text)]
                    sc.add(t, k, ip, body(msgs, **params), answer_tokens=at)


def fam_labeling_rationales(sc, seed, P):
    """Benign: annotation pipelines labelling the company's own reviews and web
    text with a label and a one-sentence reason (for auditability), short
    answers, many workers, at the rate limit, jobs running overnight."""
    rng = fam_rng(seed, "labeling_rationales")
    zh_tmpl = [
        "请判断下面这条用户评论的情感倾向（正面/负面/中性），并用一句话说明理由。\n评论：「{x}」",
        "对以下评论打标签：服务、口味、配送、价格中的哪一类问题？输出标签和一句理由。\n「{x}」",
    ]
    en_tmpl = [
        "Label the following text as one of: news, advertisement, how-to, opinion, other. Then give a one-sentence rationale for the label.\n\nText: \"{x}\"",
        "Does this passage contain a product claim that needs a legal review? Answer yes or no, and explain your reasoning in one sentence.\n\n\"{x}\"",
    ]
    for k in range(30):
        tz = rng.choice([-8, -5, 1, 8, 8, 9])
        rpm = rng.choice([None, None, 300, 600])
        key = sc.key(f"bn-label-{k:02d}", f"data-{hexid(rng, 4)}", rng.choice(["internal", "research"]),
                     "labeling_rationales", "benign", rpm=rpm)
        ip = rng.choice([ip_cloud(rng), ip_office(rng)])
        zh = rng.random() < 0.6
        tmpl = rng.choice(zh_tmpl if zh else en_tmpl)
        src = P.reviews if zh else [trim_words(p, 80) for p in P.passages]
        sysmsg = "You are a careful data annotator. Follow the label set exactly."
        n_jobs = rng.randint(1, 3)
        for j in range(n_jobs):
            d = rng.randint(0, 6)
            start = local_midnight(d, tz) + int(rng.uniform(9, 22) * H)
            n = rng.randint(300, 900)
            ats = [rng.randint(14, 48) for _ in range(n)]
            ts = worker_schedule(rng, start, ats, workers=rng.choice([4, 8, 16]))
            for t, at in zip(ts, ats):
                msgs = [SYS(sysmsg), U(tmpl.format(x=rng.choice(src)))]
                sc.add(t, key, ip, body(msgs, temperature=0, max_tokens=64), answer_tokens=min(at, 64))


AGENT_TOOLS = [
    {"type": "function", "function": {"name": "run_shell", "description": "Run a shell command in the sandbox and return stdout/stderr.",
                                      "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}},
    {"type": "function", "function": {"name": "read_file", "description": "Read a file from the repository.",
                                      "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}},
    {"type": "function", "function": {"name": "web_search", "description": "Search the web; returns titles and snippets.",
                                      "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}},
    {"type": "function", "function": {"name": "query_metrics", "description": "Query the metrics store (PromQL).",
                                      "parameters": {"type": "object", "properties": {"promql": {"type": "string"}}, "required": ["promql"]}}},
]
AGENT_SYSTEM = ("You are an autonomous engineering agent working in a sandboxed repository. Use the tools to inspect "
                "the code, run commands and verify your changes. Think about what you need before each call, keep "
                "tool calls minimal, and when done reply with a summary of what you changed and why. Never push to main.")
OPS_SYSTEM = ("You are the on-call assistant for the platform team. Investigate alerts using the metrics and shell tools, "
              "identify the likely cause and write an incident note: impact, timeline, probable cause, next steps.")
RESEARCH_SYSTEM = ("You are a research agent. Before each search, reason step by step about what you still need "
                   "(Thought), then act (Action) and read the result (Observation). When you have enough, write a "
                   "well-structured brief with citations [n] to the snippets you used.")
MODULES = ["billing", "auth", "scheduler", "ingest", "search", "notifications", "export", "api-gateway", "payments", "reports"]
ERRORS = ["AssertionError: expected 200, got 500", "KeyError: 'tenant_id'", "TimeoutError after 30s",
          "TypeError: 'NoneType' object is not subscriptable", "flaky: test_concurrent_updates", "ImportError: cannot import name 'utc'"]
SERVICES = ["checkout", "search-api", "ledger", "ingest-worker", "auth", "cdn-edge", "notifier"]


def agent_task(rng, kind, P):
    if kind == "code":
        m = rng.choice(MODULES)
        return AGENT_SYSTEM, f"CI is red on {m}: `{rng.choice(ERRORS)}` in tests/test_{m}.py. Find the cause and fix it; run the test suite to confirm."
    if kind == "ops":
        s = rng.choice(SERVICES)
        return OPS_SYSTEM, f"ALERT [{rng.choice(['P2', 'P3'])}] {s}: p99 latency {rng.randint(800, 4000)}ms above SLO for {rng.randint(5, 40)} minutes (error rate {rng.randint(1, 9)}.{rng.randint(0, 9)}%). Investigate."
    q = rng.choice(P.en_raw)
    return RESEARCH_SYSTEM, f"Research brief request: {q}"


def tool_result(rng, kind, P):
    if kind == "code":
        return rng.choice([
            f"============ {rng.randint(1, 9)} failed, {rng.randint(40, 300)} passed in {rng.uniform(3, 60):.1f}s ============\n" + rng.choice(ERRORS),
            "\n".join(f"src/{rng.choice(MODULES)}/{rng.choice(['models', 'views', 'handlers', 'utils'])}.py" for _ in range(rng.randint(3, 9))),
            trim_words(rng.choice(CODE_SNIPPETS), 60),
        ])
    if kind == "ops":
        return "\n".join(f"{rng.choice(SERVICES)} {rng.choice(['p50', 'p99', 'rps', 'err'])}={rng.uniform(0, 3000):.1f}" for _ in range(rng.randint(4, 10)))
    return "\n".join(f"[{i + 1}] {trim_words(rng.choice(P.passages), rng.randint(25, 60))}" for i in range(rng.randint(2, 4)))


def fam_agent_loops(sc, seed, P):
    """Benign: tool-using agents (coding agents on CI failures, on-call agents
    on alerts, research agents writing briefs). Each task: a planning call
    (a fresh request answered at length), then tool-call steps carrying the
    history, then a long final report; many tasks in parallel at night."""
    rng = fam_rng(seed, "agent_loops")
    for k in range(50):
        kind = rng.choice(["code", "code", "ops", "research"])
        tz = rng.choice([-8, -5, 0, 1, 8])
        purpose = {"code": "internal", "ops": "internal", "research": "product"}[kind]
        key = sc.key(f"bn-agent-{k:02d}-{kind}", f"agents-{hexid(rng, 3)}", purpose, "agent_loops", "benign")
        ip = ip_cloud(rng)
        tasks_per_day = rng.randint(6, 22)
        parallel = rng.choice([1, 2, 4, 8, 12])
        start_day = rng.randint(0, 3)
        for d in range(start_day, min(7, start_day + rng.randint(2, 4))):
            n_tasks = tasks_per_day if weekday(d) < 5 else tasks_per_day // 3
            base = local_midnight(d, tz)
            if kind == "ops":
                starts = sorted(base + int(rng.random() * DAY) for _ in range(n_tasks))
            elif parallel >= 8:  # a nightly batch of agent runs, `parallel` at once
                t0 = base + int(rng.uniform(0.5, 3) * H)
                starts = [t0 + (i // parallel) * int(rng.uniform(3, 6) * M) + rng.randint(0, 3000) for i in range(n_tasks)]
            else:
                starts = sorted(base + int(rng.uniform(8, 20) * H) for _ in range(n_tasks))
            for st in starts:
                system, task = agent_task(rng, kind, P)
                t = max(st, T0 + rng.randint(0, 30 * M))
                plan_at = rng.randint(110, 320)
                sc.add(t, key, ip, body([SYS("You are the planning module of an agent. Write a numbered plan (5-10 steps) for the task."), U(task)],
                                        temperature=0.2), answer_tokens=plan_at)
                t += latency_ms(plan_at) + rng.randint(100, 900)
                hist = [SYS(system), U(task)]
                n_steps = rng.randint(3, 9)
                for s_i in range(n_steps):
                    tool = {"code": rng.choice(["run_shell", "read_file"]), "ops": rng.choice(["query_metrics", "run_shell"]),
                            "research": "web_search"}[kind]
                    at = rng.randint(18, 70)
                    sc.add(t, key, ip, body(list(hist), tools=AGENT_TOOLS, tool_choice="auto", temperature=0.2, parallel_tool_calls=False),
                           answer_tokens=at)
                    t += latency_ms(at) + rng.randint(300, 4000)  # tool runs
                    cid = f"call_{hexid(rng, 12)}"
                    args = {"run_shell": lambda: {"cmd": rng.choice(["pytest -q", "git diff --stat", "ls src", "grep -rn TODO src"])},
                            "read_file": lambda: {"path": f"src/{rng.choice(MODULES)}/{rng.choice(['models', 'views', 'utils'])}.py"},
                            "web_search": lambda: {"query": keyword(task, rng)},
                            "query_metrics": lambda: {"promql": f"histogram_quantile(0.99, rate(http_duration_seconds_bucket[{rng.choice([5, 15])}m]))"},
                            }[tool]()
                    hist = hist + [
                        {"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function", "function": {
                            "name": tool, "arguments": json.dumps(args)}}]},
                        {"role": "tool", "tool_call_id": cid, "content": tool_result(rng, kind, P)},
                    ]
                    if len(hist) > 12:  # context management: keep the system, the task and the last four steps
                        hist = hist[:2] + hist[-8:]
                fin = rng.randint(180, 600)
                sc.add(t, key, ip, body(list(hist), tools=AGENT_TOOLS, tool_choice="auto", temperature=0.2), answer_tokens=fin)


JUDGE_PAIR = ("I want you to create a leaderboard of different large-language models. To do so, I will give you the "
              "instructions (prompts) given to the models, and the responses of two models. Please rank the models "
              "based on which responses would be preferred by humans. All inputs and outputs should be python "
              "dictionaries.\n\nHere is the prompt:\n{{\n    \"instruction\": \"\"\"{instr}\"\"\",\n}}\n\nHere are the "
              "outputs of the models:\n[\n    {{\n        \"model\": \"m\",\n        \"answer\": \"\"\"{a}\"\"\"\n    }},\n"
              "    {{\n        \"model\": \"M\",\n        \"answer\": \"\"\"{b}\"\"\"\n    }}\n]\n\nNow please rank the models by "
              "the quality of their answers, so that the model with rank 1 has the best output. Then return a list of "
              "the model names and ranks. Your response must be a valid Python dictionary and should contain nothing else.")
JUDGE_SINGLE = ("[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an "
                "AI assistant to the user question displayed below. Your evaluation should consider factors such as the "
                "helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin your "
                "evaluation by providing a short explanation. Be as objective as possible. After providing your "
                "explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: "
                "\"[[rating]]\", for example: \"Rating: [[5]]\".\n\n[Question]\n{instr}\n\n[The Start of Assistant's "
                "Answer]\n{a}\n[The End of Assistant's Answer]")


def fam_benchmark_judging(sc, seed, P):
    """Benign: evaluation teams and labs running public benchmarks. Two thirds
    are LLM-as-judge runs over AlpacaEval (pairwise with logprobs and one output
    token, as AlpacaEval's own annotator does, or MT-bench-style grading with an
    explanation); a third generate answers to AlpacaEval at three temperatures
    for a robustness study. Night runs with many workers."""
    rng = fam_rng(seed, "benchmark_judging")
    models = sorted(P.model_outputs) or ["ref"]
    for k in range(24):
        kind = ["pairwise", "single", "sweep"][k % 3]
        purpose = "evaluation" if k % 2 == 0 else "research"
        tz = rng.choice([-8, -5, 0, 1, 8])
        rpm = rng.choice([None, 500, 1000])
        key = sc.key(f"bn-judge-{k:02d}-{kind}", f"evals-{hexid(rng, 3)}", purpose, "benchmark_judging", "benign", rpm=rpm)
        ip = rng.choice([ip_cloud(rng), ip_campus(rng)])
        day = rng.randint(0, 5)
        start = local_midnight(day, tz) + int(rng.uniform(0, 22) * H)
        insts = [x["text"] for x in P.bench]
        if kind == "pairwise":
            reqs = []
            for _ in range(rng.randint(1, 2)):
                m = rng.choice(models)
                for ins in insts:
                    a = trim_words(P.eval_outputs.get(ins) or rng.choice(P.generic_en_outputs), 150)
                    b = trim_words(P.model_outputs.get(m, {}).get(ins) or rng.choice(P.generic_en_outputs), 150)
                    if rng.random() < 0.5:
                        a, b = b, a
                    msgs = [SYS("You are a helpful assistant, that ranks models by the quality of their answers."),
                            U(JUDGE_PAIR.format(instr=ins, a=a, b=b))]
                    reqs.append((body(msgs, temperature=0, max_tokens=1, logprobs=True, top_logprobs=5), 1))
        elif kind == "single":
            reqs = []
            for ins in insts[: rng.randint(400, 805)]:
                a = trim_words(P.eval_outputs.get(ins) or rng.choice(P.generic_en_outputs), 200)
                msgs = [SYS("You are a helpful assistant."), U(JUDGE_SINGLE.format(instr=ins, a=a))]
                reqs.append((body(msgs, temperature=0, max_tokens=512), rng.randint(60, 220)))
        else:
            reqs = []
            sub = rng.sample(insts, rng.randint(250, 450))
            for temp in (0.0, 0.7, 1.0):
                for ins in sub:
                    reqs.append((body([U(ins)], temperature=temp, seed=1234, max_tokens=2048), None))
        ts = worker_schedule(rng, start, [a for _, a in reqs], workers=rng.choice([8, 16, 32]))
        for t, (b, at) in zip(ts, reqs):
            sc.add(t, key, ip, b, answer_tokens=at)


LAB_FIXED = [
    "Explain the difference between supervised and unsupervised learning.",
    "What is a transformer in machine learning? Explain it to a first-year student.",
    "Summarize the main ideas of the attention mechanism in a few paragraphs.",
    "What are the limitations of large language models?",
    "Explain what overfitting is and how to prevent it.",
]
LAB_CODE = ["reverses a linked list", "checks whether a string is a palindrome", "computes the nth Fibonacci number",
            "merges two sorted lists", "counts word frequencies in a text", "finds the median of a list",
            "validates an email address", "implements binary search", "flattens a nested list", "parses a CSV line"]
LAB_MATH = ["A shop sells pens at 3 for $2. How much do 18 pens cost?",
            "A train travels 240 km in 3 hours and then 160 km in 2 hours. What is its average speed?",
            "If 5 workers build a wall in 12 days, how long would 8 workers take?",
            "Alice has twice as many apples as Bob. Together they have 27. How many does Alice have?"]


def fam_classroom_lab(sc, seed, P):
    """Benign: a university course's lab sessions. Twenty students per course,
    one team and the campus addresses, working through the same notebook in the
    same two hours: fixed prompts, a templated coding exercise, a temperature
    sweep, logprobs, 'let's think step by step', then their own questions."""
    rng = fam_rng(seed, "classroom_lab")
    for c in range(3):
        tz = rng.choice([-5, 1, 8])
        team = f"course-{['nlp101', 'ai-foundations', 'cs229x'][c]}"
        ips = [ip_campus(rng) for _ in range(2)]
        session_days = rng.sample([0, 1, 2, 3, 4], 2)
        for s in range(20):
            key = sc.key(f"bn-lab-{c}-{s:02d}", team, "research", "classroom_lab", "benign")
            ip = rng.choice(ips)
            for d in sorted(session_days):
                t = local_midnight(d, tz) + 14 * H + rng.randint(0, 12 * M)
                end = t + 115 * M

                def send(b, at=None):
                    nonlocal t
                    if t < end:
                        sc.add(t, key, ip, b, answer_tokens=at)
                    t += int(max(8, lognormal(rng, 50, 0.7)) * S)

                for q in LAB_FIXED:
                    if rng.random() < 0.9:
                        send(body([U(q)]))
                for fn in rng.sample(LAB_CODE, rng.randint(2, 4)):
                    send(body([U(f"Write a Python function that {fn}. Include a docstring and a test.")]))
                hp = rng.choice(["Write a haiku about autumn.", "Write a haiku about the ocean.", "Write a haiku about exams."])
                for temp in (0.0, 0.7, 1.2):
                    send(body([U(hp)], temperature=temp), rng.randint(18, 30))
                send(body([U("The capital of France is")], max_tokens=5, logprobs=True, top_logprobs=5), 5)
                for mq in rng.sample(LAB_MATH, 2):
                    send(body([U(f"Q: {mq}\nA: Let's think step by step.")]), rng.randint(80, 200))
                send(body([SYS("You are a pirate. Stay in character."), U("Explain how vaccines work.")]))
                own = rng.sample(P.en_raw, rng.randint(5, 14)) + (rng.sample(P.zh_raw, 2) if rng.random() < 0.3 else [])
                prev = None
                for q in own:
                    if prev and rng.random() < 0.25:
                        send(body([U(prev), A(trim_text(P.answer_to(prev, rng), 120)), U("Can you explain that more simply?")]))
                    send(body([U(q)]))
                    prev = q


def fam_helpdesk_platform(sc, seed, P):
    """Benign: chatbot platforms (declared product) serving many small
    businesses' website visitors: anonymous sessions named by a new session id
    per conversation, generic customer questions answered at length, retrieved
    help-centre passages, and mid-week a large new tenant whose visitors write
    in Chinese (the key's prompts shift)."""
    rng = fam_rng(seed, "helpdesk_platform")
    biz = ["a bakery", "a bike shop", "a dental clinic", "an online bookstore", "a yoga studio", "a SaaS invoicing tool",
           "a travel agency", "a pet store", "a language school", "a furniture retailer", "an IT consultancy", "a hotel"]
    for k in range(40):
        tz = rng.choice([-8, -5, 0, 1, 8])
        key = sc.key(f"bn-helpdesk-{k:02d}", f"bots-{hexid(rng, 4)}", "product", "helpdesk_platform", "benign")
        ips = [ip_cloud(rng) for _ in range(rng.randint(1, 3))]
        tenants = [(f"Shop{hexid(rng, 3)}", rng.choice(biz)) for _ in range(rng.randint(5, 30))]
        onboard = local_midnight(rng.randint(2, 4), tz) + int(rng.uniform(8, 16) * H)
        new_share = rng.uniform(0.3, 0.6)
        times = diurnal_stream(rng, 0, 7, tz, per_day=rng.randint(90, 200), curve=rng.choice(["consumer", "global"]), weekend=0.9)
        conv = None
        for t in times:
            p = {}
            if conv and rng.random() < 0.3 and t - conv["t"] < 20 * M:
                conv["t"] = t
                msgs = conv["msgs"] + [A(trim_text(P.answer_to(conv["q"], rng), 100)),
                                       U(rng.choice(["谢谢，还有别的办法吗？", "那多久能处理好？"] if conv["zh"] else
                                                    ["Thanks. And what if that doesn't work?", "Can you tell me more?", "ok how long does that take?"]))]
                conv["msgs"] = msgs
                if rng.random() < 0.96:
                    p["user"] = conv["sid"]
                sc.add(t, key, rng.choice(ips), body(msgs, **p))
                continue
            zh = t >= onboard and rng.random() < new_share
            if zh:
                sysmsg = "你是「优选生活」商城的智能客服，请礼貌、准确地回答顾客的问题。"
                r = rng.random()
                if r < 0.5:
                    q = f"{rng.choice(P.reviews)} 这种情况怎么处理？"
                else:
                    q = rng.choice(P.zh_raw)
                at = None
            else:
                name, what = rng.choice(tenants)
                sysmsg = f"You are the virtual assistant of {name}, {what}. Answer customer questions helpfully and accurately."
                if rng.random() < 0.4:
                    q = f"Help-centre articles:\n{rng.choice(P.passages)}\n\nCustomer question: {rng.choice(P.en_raw)}"
                    at = rng.randint(60, 200)
                else:
                    q = rng.choice(P.en_raw)
                    at = None
            conv = {"sid": f"sess_{hexid(rng, 12)}", "t": t, "zh": zh, "q": q, "msgs": [SYS(sysmsg), U(q)]}
            if rng.random() < 0.96:
                p["user"] = conv["sid"]
            sc.add(t, key, rng.choice(ips), body(conv["msgs"], **p), answer_tokens=at)


INTENTS = {
    "banking": ["I want to block my card", "why was I charged twice", "how do I raise my transfer limit",
                "my salary hasn't arrived", "I forgot my online banking password", "can I open a joint account",
                "what's the exchange rate for euros", "dispute a transaction at a restaurant", "order a new debit card",
                "close my savings account"],
    "telecom": ["my internet keeps dropping", "I want to upgrade my plan", "roaming charges in Spain", "port my number",
                "cancel my contract", "my bill is higher than usual", "set up voicemail", "unlock my phone"],
    "ecommerce": ["where is my order", "return a damaged item", "change my delivery address", "apply a discount code",
                  "the size doesn't fit", "track a refund", "cancel my order", "pay in instalments"],
    "travel": ["change my flight date", "add checked baggage", "request a wheelchair", "my flight was cancelled",
               "get a receipt for my booking", "choose a seat", "travel with a pet", "upgrade to business class"],
}


def fam_intent_augmentation(sc, seed, P):
    """Benign: conversational-AI teams generating paraphrases and test
    utterances for their own intent classifiers: one scaffold per job filled
    with seed utterances and slot values, lists of about ten lines."""
    rng = fam_rng(seed, "intent_augmentation")
    scaffolds = [
        "Generate {n} different ways a customer might say the following, one per line, keeping the meaning: \"{u}\"",
        "Paraphrase this customer message {n} times with varied vocabulary, politeness and typos. Message: \"{u}\"",
        "Write {n} realistic chatbot messages from {persona} customers who mean: \"{u}\". One per line, no numbering.",
        "You are helping build a test set. Produce {n} user utterances for the intent \"{intent}\" (example: \"{u}\").",
    ]
    personas = ["angry", "elderly", "non-native English speaking", "hurried", "very polite", "confused", "teenage"]
    for k in range(24):
        tz = rng.choice([-8, -5, 0, 1, 2, 8])
        domain = rng.choice(list(INTENTS))
        key = sc.key(f"bn-augment-{k:02d}", f"nlu-{hexid(rng, 4)}", "internal", "intent_augmentation", "benign")
        ip = rng.choice([ip_office(rng), ip_cloud(rng)])
        scaffold = rng.choice(scaffolds)
        jobs = rng.randint(2, 4)
        for j in range(jobs):
            d = rng.randint(0, 6)
            if weekday(d) >= 5:
                d -= 2
            start = local_midnight(d, tz) + int(rng.uniform(9, 17) * H)
            n = rng.randint(120, 320)
            reqs = []
            for _ in range(n):
                u = rng.choice(INTENTS[domain])
                text = scaffold.format(n=rng.choice([8, 10, 12, 15]), u=u, persona=rng.choice(personas),
                                       intent=u.replace(" ", "_")[:24])
                reqs.append((text, rng.randint(110, 260)))
            ts = worker_schedule(rng, start, [a for _, a in reqs], workers=rng.choice([1, 2, 4, 6]))
            for t, (text, at) in zip(ts, reqs):
                sc.add(t, key, ip, body([U(text)], temperature=rng.choice([0.9, 1.0])), answer_tokens=at)


EXTRACTION_FAMILIES = [
    ("seeded_threads", fam_seeded_threads),
    ("context_padding", fam_context_padding),
    ("chunked_answers", fam_chunked_answers),
    ("shard_swarm", fam_shard_swarm),
    ("tenant_product", fam_tenant_product),
    ("disguised_benchmark", fam_disguised_benchmark),
    ("rolling_chain", fam_rolling_chain),
    ("covert_cot", fam_covert_cot),
]
BENIGN_FAMILIES = [
    ("ci_regression", fam_ci_regression),
    ("labeling_rationales", fam_labeling_rationales),
    ("writing_saas", fam_writing_saas),
    ("agent_loops", fam_agent_loops),
    ("benchmark_judging", fam_benchmark_judging),
    ("classroom_lab", fam_classroom_lab),
    ("helpdesk_platform", fam_helpdesk_platform),
    ("intent_augmentation", fam_intent_augmentation),
]


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def validate(sc):
    n = len(sc.keys)
    names = set()
    for k in sc.keys:
        assert k["name"] not in names, k["name"]
        names.add(k["name"])
    prev = -1
    for r in sc.requests:
        assert 0 <= r["key"] < n
        assert r["t"] >= prev and r["t"] >= T0
        prev = r["t"]
        assert r["extraction"] == (sc.keys[r["key"]]["role"] == "extraction")
        assert r["body"]["model"] == MODEL and r["body"]["messages"]
    used = {r["key"] for r in sc.requests}
    unused = [sc.keys[i]["name"] for i in range(n) if i not in used]
    assert not unused, f"keys without requests: {unused[:5]}"
    benign = sum(1 for k in sc.keys if k["role"] == "benign")
    assert benign >= 300, benign


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpora", default=CORPORA, help="shared corpora directory (fixtures only if missing)")
    args = ap.parse_args(argv)

    P = Pools(args.seed, args.corpora)
    sc = Scenario()
    for name, fn in EXTRACTION_FAMILIES + BENIGN_FAMILIES:
        fn(sc, args.seed, P)
    sc.requests.sort(key=lambda r: (r["t"], r["key"]))
    validate(sc)

    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"keys": sc.keys, "requests": sc.requests}, fh, ensure_ascii=False, separators=(",", ":"))

    per_keys = Counter(sc.family_of_key)
    per_req = Counter(sc.family_of_key[r["key"]] for r in sc.requests)
    role = {k["workload"]: k["role"] for k in sc.keys}
    span = (sc.requests[-1]["t"] - sc.requests[0]["t"]) / DAY
    print(f"corpora: {P.corpora or 'missing, fixtures only'}; seed {args.seed}")
    for name, _ in EXTRACTION_FAMILIES + BENIGN_FAMILIES:
        print(f"{name:22s} {role[name]:10s} keys {per_keys[name]:3d}  requests {per_req[name]:7d}")
    nb = sum(1 for k in sc.keys if k["role"] == "benign")
    print(f"total: {len(sc.keys)} keys ({nb} benign, {len(sc.keys) - nb} extraction), "
          f"{len(sc.requests)} requests over {span:.1f} days -> {args.out} ({os.path.getsize(args.out) / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
