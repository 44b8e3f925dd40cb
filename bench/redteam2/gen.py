#!/usr/bin/env python3
"""Red-team traffic generator, second round (bench/redteam2).

Written apart from the monitor: its author read only docs/monitor.md,
docs/configuration.md, the README and the corpora. Families are described in
README.md next to this file.

    python3 bench/redteam2/gen.py --out FILE.json [--seed N]

Standard library only; deterministic for a seed (each family draws from its
own random.Random seeded from a hash of (seed, family name)).
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
import time

# --------------------------------------------------------------------------
# clock

T0 = 1767571200000  # 2026-01-05 00:00 UTC, a Monday
SEC = 1000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR
SPAN_DAYS = 7.5
TEND = T0 + int(SPAN_DAYS * DAY)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))  # the repository
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
CORPORA = os.path.join(os.path.dirname(ROOT), "shared", "corpora")


def family_rng(seed, name):
    h = hashlib.sha256(("%d:%s" % (seed, name)).encode()).hexdigest()
    return random.Random(int(h[:16], 16))


def local_day_start(d, tz):
    """UTC ms at which local calendar day d (0 = Mon 2026-01-05) starts in tz."""
    return T0 + d * DAY - int(tz * HOUR)


def is_weekday(d):
    return d % 7 < 5


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    L = math.exp(-lam)
    k, p = 0, 1.0
    while True:
        p *= rng.random()
        if p <= L:
            return k
        k += 1


def lognorm_s(rng, median_s, sigma):
    return median_s * math.exp(rng.gauss(0, sigma))


def in_span(t):
    return T0 <= t < TEND


# diurnal weights by local hour, for products serving people
CONSUMER_CURVE = [0.25, 0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.6, 0.7, 0.75, 0.8,
                  0.85, 0.8, 0.8, 0.85, 0.9, 1.0, 1.1, 1.2, 1.25, 1.1, 0.8, 0.45]
BUSINESS_CURVE = [0.05, 0.03, 0.03, 0.03, 0.04, 0.08, 0.2, 0.5, 0.9, 1.2, 1.3, 1.2,
                  0.9, 1.1, 1.25, 1.2, 1.1, 0.9, 0.55, 0.35, 0.25, 0.18, 0.12, 0.08]
FLAT_CURVE = [0.7, 0.65, 0.6, 0.6, 0.6, 0.65, 0.75, 0.9, 1.0, 1.1, 1.15, 1.2,
              1.2, 1.2, 1.2, 1.15, 1.1, 1.05, 1.05, 1.0, 0.95, 0.9, 0.85, 0.75]


def diurnal_times(rng, tz, per_day, curve, days=None, weekend_factor=1.0):
    """Poisson arrivals whose hourly rate follows curve (local time)."""
    s = sum(curve)
    out = []
    for d in range(-1, 9):
        f = per_day * (1.0 if is_weekday(d % 7) else weekend_factor)
        if days is not None and d not in days:
            continue
        base = local_day_start(d, tz)
        for h in range(24):
            n = poisson(rng, f * curve[h] / s)
            for _ in range(n):
                t = base + h * HOUR + int(rng.random() * HOUR)
                if in_span(t):
                    out.append(t)
    out.sort()
    return out


# --------------------------------------------------------------------------
# addresses

RESIDENTIAL = {
    "us": [(73, None), (98, None), (24, None), (71, None), (108, None), (174, None), (67, None)],
    "eu": [(86, None), (92, None), (81, None), (85, None), (37, None), (89, None), (95, None)],
    "tw": [(1, (160, 175)), (114, (24, 47)), (36, (224, 239)), (101, (8, 15)), (118, (160, 171))],
    "hk": [(58, (152, 153)), (112, (118, 120)), (223, (16, 19)), (119, (236, 247))],
    "in": [(49, (32, 47)), (106, (192, 223)), (117, (192, 255))],
    "cn": [(223, (64, 127)), (183, (0, 63)), (120, (224, 255)), (180, (96, 127))],
    "br": [(177, None), (179, None), (189, None)],
    "sg": [(116, (86, 89)), (175, (156, 159)), (202, (156, 156))],
}
CLOUD = [(3, None), (18, None), (34, None), (35, None), (52, None), (54, None), (13, None),
         (20, None), (40, None), (104, (16, 31)), (138, (68, 68)), (159, (65, 65)),
         (167, (99, 99)), (143, (198, 198)), (47, (88, 101))]


def ip_from(rng, choices):
    a, r = rng.choice(choices)
    b = rng.randint(r[0], r[1]) if r else rng.randint(0, 255)
    return "%d.%d.%d.%d" % (a, b, rng.randint(0, 255), rng.randint(2, 254))


def res_ip(rng, region):
    return ip_from(rng, RESIDENTIAL[region])


def cloud_ip(rng):
    return ip_from(rng, CLOUD)


def ipv6(rng):
    pre = rng.choice(["2600:1700", "2a02:c7c", "2001:b011", "2409:8a28", "2a01:e0a"])
    return pre + ":" + ":".join("%x" % rng.randint(0, 65535) for _ in range(6))


# --------------------------------------------------------------------------
# corpora

def words(s):
    return s.split()


def trunc_words(s, n):
    w = s.split()
    if len(w) <= n:
        return s
    return " ".join(w[:n])


def est_tokens(s):
    """Rough token count: English ~1.33 per word, CJK ~0.8 per character."""
    cjk = sum(1 for c in s if "\u3400" <= c <= "\u9fff")
    other = len(re.sub(r"[\u3400-\u9fff]", " ", s).split())
    return int(other * 1.33 + cjk * 0.8) + 1


def cjk_trunc(s, nchars):
    return s if len(s) <= nchars else s[:nchars]


class Corpora:
    def __init__(self):
        j = lambda *p: json.load(open(os.path.join(*p), encoding="utf-8"))
        lf = os.path.join(CORPORA, "llama_factory")
        ae = os.path.join(CORPORA, "alpaca_eval")
        # AlpacaEval: instructions and several models' answers
        self.ae_models = {}
        for m in ["gpt4", "claude-3-opus-20240229", "Mixtral-8x7B-Instruct-v0.1",
                  "Meta-Llama-3-70B-Instruct", "text_davinci_003", "Qwen1.5-72B-Chat"]:
            self.ae_models[m] = j(ae, m + ".json")
        g = self.ae_models["gpt4"]
        self.ae = [{"text": x["instruction"], "answer": x["output"], "lang": "en", "src": "ae"} for x in g]
        # Alpaca demos (model-generated, not built into the monitor)
        self.en = []
        for x in j(lf, "alpaca_en_demo.json"):
            t = x["instruction"] + (("\n\n" + x["input"]) if x["input"] else "")
            self.en.append({"text": t, "instr": x["instruction"], "input": x["input"],
                            "answer": x["output"], "lang": "en", "src": "en"})
        self.zh = []
        for x in j(lf, "alpaca_zh_demo.json"):
            t = x["instruction"] + (("\n\n" + x["input"]) if x["input"] else "")
            self.zh.append({"text": t, "instr": x["instruction"], "input": x["input"],
                            "answer": x["output"], "lang": "zh", "src": "zh"})
        self.dpo = []
        for x in j(lf, "dpo_zh_demo.json"):
            hum = [c["value"] for c in x["conversations"] if c["from"] == "human"]
            if not hum:
                continue
            self.dpo.append({"text": hum[-1], "answer": x["chosen"]["value"],
                             "rejected": x["rejected"]["value"], "lang": "zh", "src": "dpo"})
        # web text
        self.c4 = []
        seen = set()
        for path in [os.path.join(lf, "c4_demo.jsonl"), os.path.join(FIXTURES, "c4_human.jsonl")]:
            for line in open(path, encoding="utf-8"):
                line = line.strip()
                if not line:
                    continue
                t = json.loads(line)["text"]
                k = t[:80]
                if k in seen:
                    continue
                seen.add(k)
                self.c4.append(t)
        self.c4_long = [t for t in self.c4 if len(t.split()) >= 180]
        self.c4_mid = [t for t in self.c4 if 60 <= len(t.split()) < 400]
        # Wikipedia
        self.wiki = []
        for line in open(os.path.join(lf, "wiki_demo.txt"), encoding="utf-8"):
            line = line.strip()
            if len(line.split()) < 100:
                continue
            self.wiki.append((wiki_title(line), line))
        self.wiki_sents = {}
        self.wiki_chunks = []  # (title, chunk)
        for title, text in self.wiki:
            sents = split_sents(text)
            self.wiki_sents[title] = sents
            cur = []
            n = 0
            for s in sents:
                cur.append(s)
                n += len(s.split())
                if n >= 320:
                    self.wiki_chunks.append((title, " ".join(cur)))
                    cur, n = [], 0
            if n >= 120:
                self.wiki_chunks.append((title, " ".join(cur)))
        self.wikiq = build_wiki_questions(self)
        # Chinese reviews (human)
        self.reviews = []
        for fn in ["ChnSentiCorp_htl_all.csv", "waimai_10k.csv"]:
            with open(os.path.join(CORPORA, "chinese_reviews", fn), encoding="utf-8") as f:
                r = csv.reader(f)
                next(r)
                for row in r:
                    if len(row) >= 2 and row[1].strip():
                        self.reviews.append((row[0], row[1].strip(), fn[:4]))
        # Simplified -> Traditional character map from the fixture pairs
        self.s2t = build_s2t()
        self.trad_fixture = [x["s2tw"] for x in j(FIXTURES, "alpaca_zh_outputs_traditional.json")]
        # code snippets (real code from model answers)
        self.code = []
        for x in g + [{"output": d["answer"]} for d in self.dpo]:
            for m in re.finditer(r"```(\w*)\n(.*?)```", x["output"], re.S):
                body = m.group(2)
                if 3 <= body.count("\n") <= 60:
                    self.code.append((m.group(1) or "python", body))
        kw = re.compile(r"\b(code|function|python|program|sql|javascript|java|algorithm|script|html|css|regex|api|class)\b", re.I)
        self.code_instr = [x["text"] for x in self.en + self.ae if kw.search(x["text"])]

    def to_trad(self, s):
        return "".join(self.s2t.get(c, c) for c in s)


def wiki_title(text):
    t = re.sub(r"^(In [A-Z][a-z]+ mythology, |This is a list of characters in |The )", "", text)
    m = re.match(r"(.+?)(?: \(| is | was | are |,|\.)", t[:200])
    title = (m.group(1) if m else " ".join(t.split()[:3])).strip()
    if len(title) > 60:
        title = " ".join(title.split()[:5])
    return title


def split_sents(text):
    text = re.sub(r"\.(?=[A-Z][a-z])", ". ", text)
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\"(])", text)
    return [p.strip() for p in parts if len(p.split()) >= 5]


ENTITY_RE = re.compile(r"\b([A-Z][a-z]+(?:[ -](?:of |the |de |von |van |la |al-)?[A-Z][a-z]+){1,3})\b")
ENT_STOP = set("""The In It He She They This That These Those After During Before Because Although Though While When Whereas
Since However Many Some Most Several Other Others Such Both Each Every Following Under Over Between Among Later Early
Its His Her Their Our Your As At By For From On To With Without Within Into Upon Unlike Like Despite If Also Then Thus
Although Another Further Further More Much New Old One Two Three First Second Third Modern Ancient Western Eastern
Northern Southern Central Greek Roman According Although Shortly Following Today Recent Recently Traditionally""".split()) | {"United States"}

WIKI_FRAMES = [
    "Who or what is {e}, and why is it important for understanding {t}?",
    "Explain the connection between {e} and {t} in detail.",
    "Give me a thorough overview of {e} as it relates to {t}.",
    "What role did {e} play in the story of {t}? Please be specific.",
    "I keep seeing {e} mentioned in articles about {t}. What should I know about it?",
    "Write a detailed explainer on {e}, with context from {t}.",
    "How did {e} shape the development of {t}?",
    "What are the main debates or controversies involving {e} in relation to {t}?",
    "Describe {e} for someone who knows nothing about {t}.",
    "Can you walk me through the history of {e} and its relevance to {t}?",
    "Compare {e} with another key figure or idea associated with {t}.",
    "What is the legacy of {e}, particularly for {t}?",
    "Summarise everything important about {e} in the context of {t}, then add some lesser-known details.",
    "Why do historians and scholars of {t} care about {e}?",
    "Write a short encyclopedia-style entry on {e} ({t}).",
    "What misconceptions do people commonly have about {e} and {t}?",
    "If I had to give a ten-minute talk about {e}, what should it cover? Give me the content, not just an outline.",
    "Tell me about {e}. I'm studying {t} and need a solid understanding.",
]
SENT_FRAMES = [
    "Explain this statement in plain terms and add the background a reader would need: \"{s}\"",
    "I came across this sentence while reading about {t}: \"{s}\" Can you unpack it for me?",
    "Is the following accurate, and what is the fuller story behind it? \"{s}\"",
    "Elaborate on this, with examples: \"{s}\"",
    "What does this mean, and why does it matter? \"{s}\"",
]


def build_wiki_questions(c):
    out = []
    for title, text in c.wiki:
        counts = {}
        order = []
        for m in ENTITY_RE.finditer(text):
            e = m.group(1)
            if e in ENT_STOP or e.split()[0] in ENT_STOP or e.split()[-1] in ENT_STOP or e == title:
                continue
            if e not in counts:
                counts[e] = 0
                order.append(e)
            counts[e] += 1
        ents = [e for e in sorted(order, key=lambda e: (-counts[e], order.index(e))) if counts[e] >= 2][:160]
        chunks = [ch for (tt, ch) in c.wiki_chunks if tt == title]
        for i, e in enumerate(ents):
            ans = next((ch for ch in chunks if e in ch), chunks[0] if chunks else text[:2000])
            for k in range(3 if counts[e] >= 8 else 2 if counts[e] >= 3 else 1):
                fr = WIKI_FRAMES[(i * 7 + k * 5 + len(title)) % len(WIKI_FRAMES)]
                out.append({"text": fr.format(e=e, t=title), "answer": ans, "lang": "en",
                            "src": "wikiq", "title": title, "entity": e})
        sents = c.wiki_sents[title]
        for i, s in enumerate(sents):
            if 12 <= len(s.split()) <= 50 and i % 2 == 0:
                fr = SENT_FRAMES[i % len(SENT_FRAMES)]
                ans = next((ch for ch in chunks if s[:40] in ch), chunks[0] if chunks else text[:2000])
                out.append({"text": fr.format(s=s, t=title), "answer": ans, "lang": "en",
                            "src": "wikis", "title": title})
    return out


def build_s2t():
    s = json.load(open(os.path.join(FIXTURES, "alpaca_zh_outputs.json"), encoding="utf-8"))
    t = json.load(open(os.path.join(FIXTURES, "alpaca_zh_outputs_traditional.json"), encoding="utf-8"))
    counts = {}
    for a, b in zip(s, t):
        for k in ("s2t", "s2tw", "s2hk"):
            x, y = a["output"], b[k]
            if len(x) != len(y):
                continue
            for c, d in zip(x, y):
                if c != d:
                    counts.setdefault(c, {}).setdefault(d, 0)
                    counts[c][d] += 1
    # a few frequent characters missing from the sample
    extra = dict(zip("请说这个们为时会对发么经问题开关学进长门见现实体点让还过应给结论写类并从样",
                     "請說這個們為時會對發麼經問題開關學進長門見現實體點讓還過應給結論寫類並從樣"))
    m = {}
    for ch, v in counts.items():
        best, n = max(v.items(), key=lambda kv: (kv[1], kv[0]))
        if n >= 0.8 * sum(v.values()):
            m[ch] = best
    for ch in "系干台里面只后准":  # one simplified form, several traditional ones
        m.pop(ch, None)
    for k, v in extra.items():
        m.setdefault(k, v)
    return m


# --------------------------------------------------------------------------
# output

class Out:
    def __init__(self):
        self.keys = []
        self.reqs = []  # (t, seq, key, client, body, extraction, answer_tokens)
        self.names = set()
        self.seq = 0

    def key(self, name, team, purpose, workload, role, rpm=None):
        assert purpose in ("research", "product", "evaluation", "internal")
        base = name
        i = 2
        while name in self.names:
            name = "%s-%d" % (base, i)
            i += 1
        self.names.add(name)
        self.keys.append({"name": name, "team": team, "purpose": purpose, "workload": workload,
                          "role": role, "requests_per_minute": rpm, "split": "held_out"})
        return len(self.keys) - 1

    def req(self, t, key, client, body, extraction, answer_tokens):
        t = int(t)
        if not in_span(t):
            return False
        self.seq += 1
        self.reqs.append((t, self.seq, key, client, body, bool(extraction),
                          None if answer_tokens is None else int(answer_tokens)))
        return True


def chat(model, messages, **kw):
    b = {"model": model, "messages": messages}
    for k, v in kw.items():
        if v is not None:
            b[k] = v
    return b


def sysmsg(t):
    return {"role": "system", "content": t}


def usr(t):
    return {"role": "user", "content": t}


def asst(t):
    return {"role": "assistant", "content": t}


def answer_text(item, ntok):
    """Stand-in text for an earlier answer in a history (real corpus text)."""
    a = item.get("answer") or ""
    if item.get("lang") == "zh":
        return cjk_trunc(a, min(600, max(40, int(ntok * 1.2))))
    return trunc_words(a, min(400, max(30, int(ntok / 1.33))))


def call_id(rng):
    return "call_" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))


def uid(rng, prefix="u_"):
    return prefix + "%016x" % rng.getrandbits(64)


def latency_ms(rng, ans_tokens):
    return int((0.4 + ans_tokens / rng.uniform(45, 90)) * SEC)


MODELS_MAIN = "gpt-4o-mini"

# --------------------------------------------------------------------------
# phrasings shared by several families

DEEPEN_EN = [
    "Can you go deeper on the second point?", "Give me a concrete example of that.",
    "What are the most common misconceptions here?", "How would you explain this to a complete beginner?",
    "What would an expert add that you left out?", "Can you compare that with the main alternative?",
    "What are the practical implications of this?", "Where does this usually go wrong in practice?",
    "Can you give the strongest counterarguments?", "What's the history behind this?",
    "What should I read next to learn more, and why?", "Rewrite that for a professional audience, with more detail.",
    "Can you add numbers or data points where possible?", "What questions would a skeptic ask, and how would you answer them?",
    "How has thinking on this changed over time?", "Could you expand the last part? It felt rushed.",
    "ok and what about edge cases?", "Interesting. Why is that the case though?",
    "Can you make that more detailed and add a short summary at the end?", "How would this apply to a small business?",
    "What would you do differently if budget weren't a constraint?", "Turn that into a checklist and explain each item.",
]
DEEPEN_ZH = [
    "能再详细讲讲第二点吗？", "请举一个具体的例子。", "这方面常见的误区有哪些？",
    "如果对完全不了解的人解释，你会怎么说？", "和其他方案相比有什么优缺点？",
    "请把要点整理一下，并展开最重要的一条。", "这个在实际中最容易出问题的地方是什么？",
    "能补充一些数据或者案例吗？", "反方会怎么反驳？你怎么回应？", "最后一部分能再展开一点吗？",
]
NEW_TOPIC = ["", "", "", "", "Another question: ", "Different topic — ", "Next one: ", "Thanks! Also, ",
             "OK, switching gears. ", "Unrelated, but ", "One more: ", "thanks. now: ", "Great. "]
NEW_TOPIC_ZH = ["", "", "", "另外，", "换个问题：", "谢谢！还有一个问题：", "好的。下一个："]


# ==========================================================================
# EXTRACTION FAMILIES
# ==========================================================================

def private_pool(c, rng, kinds=("en", "zh", "dpo", "wikiq")):
    pool = []
    if "en" in kinds:
        pool += c.en
    if "zh" in kinds:
        pool += c.zh
    if "dpo" in kinds:
        pool += c.dpo
    if "wikiq" in kinds:
        pool += c.wikiq
    pool = list(pool)
    rng.shuffle(pool)
    return pool


def fam_rolling_window(c, o, rng, name):
    """Conversation-shaped harvest: endless chats whose client keeps the last
    three exchanges; every turn is a new instruction (or a deepening one), so
    each user turn is followed up at most three times and only session openers
    are self-contained."""
    teams = ["quillstack", "quillstack", "harbor-ml", "harbor-ml", "ostrava-ai", "ostrava-ai",
             "brightfern", "brightfern", "tessellate-io", "tessellate-io", "kettle-labs", "kettle-labs"]
    tzs = [(-5, "us"), (-8, "us"), (1, "eu"), (0, "eu"), (5.5, "in"), (8, "sg")]
    pool = private_pool(c, rng)
    per = len(pool) // len(teams)
    for i, team in enumerate(teams):
        tz, reg = tzs[i % len(tzs)]
        k = o.key("%s-%s-%02d" % (team, rng.choice(["ana", "dev", "ml", "res", "ops"]), i + 1), team,
                  rng.choice(["research", "internal"]), name, "extraction")
        mine = pool[i * per:(i + 1) * per]
        zh_pref = rng.random() < 0.3
        if not zh_pref:
            mine = [x for x in mine if x["lang"] == "en"] + [x for x in mine if x["lang"] == "zh"]
        else:
            rng.shuffle(mine)
        home = res_ip(rng, reg)
        mobile = res_ip(rng, reg)
        system = rng.choice([None, None, "You are a helpful assistant.", "You are a knowledgeable, thorough assistant. Use Markdown.",
                             "Answer in detail. Prefer structured answers with headings and examples."])
        temp = rng.choice([None, 0.7, 1.0, 0.8])
        pi = 0
        for d in range(8):
            wk = is_weekday(d)
            if not wk and rng.random() < 0.5:
                continue
            nsess = rng.randint(5, 9) if wk else rng.randint(1, 3)
            base = local_day_start(d, tz)
            starts = sorted(base + int(rng.uniform(8.0, 22.5) * HOUR) for _ in range(nsess))
            for st in starts:
                t = st
                client = home if rng.random() < 0.8 else mobile
                hist = []  # list of (user_text, item, ans_tokens)
                for turn in range(rng.randint(5, 11)):
                    if pi >= len(mine):
                        break
                    if hist and rng.random() < 0.45:
                        prev_item = hist[-1][1]
                        q = rng.choice(DEEPEN_ZH if prev_item["lang"] == "zh" else DEEPEN_EN)
                        item = prev_item
                        ans = rng.randint(250, 700)
                    else:
                        item = mine[pi]
                        pi += 1
                        pre = "" if not hist else rng.choice(NEW_TOPIC_ZH if item["lang"] == "zh" else NEW_TOPIC)
                        q = pre + item["text"]
                        ans = rng.randint(300, 850)
                    msgs = [sysmsg(system)] if system else []
                    for (uq, it, at) in hist[-3:]:
                        msgs += [usr(uq), asst(answer_text(it, at))]
                    msgs.append(usr(q))
                    body = chat(MODELS_MAIN, msgs, temperature=temp, stream=True,
                                stream_options={"include_usage": True})
                    o.req(t, k, client, body, True, ans)
                    hist.append((q, item, ans))
                    t += latency_ms(rng, ans) + int(lognorm_s(rng, 55, 0.6) * SEC)


TOOL_USER_PHRASES = [
    "Draft it.", "Please produce the document via the tool.", "Go ahead.", "Write the article now.",
    "Use the function to return the finished piece.", "Next item, please.", "Generate.", "Run.",
    "ok go", "Produce the entry per the spec.", "Please complete the task described in the function.",
    "Fill it in.", "Let's do this one.", "Continue with the next brief.", "Proceed.", "Do it properly, full length.",
    "Create the content.", "Please write it up.", "Compose the piece and save it.", "Same as before, new brief.",
    "Make it good.", "Write it.", "Save the article.", "Ship it.", "Do the next one.", "Please handle this brief.",
    "Start.", "Here we go.", "Generate the KB page.", "All yours.", "请生成。", "开始吧。", "写吧。",
    "Please process.", "Go.", "Execute the brief.", "Draft and save.", "Ready when you are.", "Yes.", "Continue.",
]


def fam_tooldef_smuggle(c, o, rng, name):
    """The instruction lives in the tools definition (function or parameter
    description), the call forced with tool_choice; the user turn is a short
    stock phrase and the answer is the tool call's long argument."""
    teams = ["glyph-content", "glyph-content", "glyph-content", "mosaic-kb", "mosaic-kb", "mosaic-kb",
             "mosaic-kb", "pallas-docs", "pallas-docs", "pallas-docs"]
    pool = list(c.ae) + list(c.en)
    for i, team in enumerate(teams):
        k = o.key("%s-pipeline-%d" % (team, i + 1), team, rng.choice(["product", "internal"]), name,
                  "extraction", rpm=30)
        mine = rng.sample(pool, 960)
        ips = [cloud_ip(rng) for _ in range(rng.randint(2, 3))]
        tz = rng.choice([-5, 1, 8])
        fname = rng.choice(["save_article", "submit_document", "store_kb_entry", "write_page", "publish_draft"])
        variant = i % 3
        brand = rng.choice(["Helpwise", "Knowly", "Docsmith", "Answerbase", "Learnly"])
        system = rng.choice([
            "You are the drafting engine for %s's knowledge base. Always return your work by calling the provided function; never answer in plain text." % brand,
            "You write help-centre content for %s. Respond only with a function call." % brand,
            "Content service. Output must be a single tool call.",
        ])
        temp = rng.choice([0.6, 0.7, 0.75, 0.8, 0.9])
        times = diurnal_times(rng, tz, rng.uniform(115, 140), BUSINESS_CURVE, weekend_factor=0.4)
        for n, t in enumerate(times[:len(mine)]):
            it = mine[n]
            instr = it["text"]
            body_desc = "The complete article in Markdown, thorough and well organised (roughly 400-900 words)."
            fdesc = "Save a finished knowledge-base article."
            if variant == 0:
                fdesc = "Save a finished knowledge-base article. The article must fully address this request: " + instr
            elif variant == 1:
                body_desc = "A complete, detailed Markdown answer to the following request, 400-900 words: " + instr
            props = {
                "title": {"type": "string", "description": "A short title"},
                "body_markdown": {"type": "string", "description": body_desc},
                "tags": {"type": "array", "items": {"type": "string"}},
            }
            if variant == 2:
                props["brief"] = {"type": "string", "enum": [instr], "description": "The brief being answered (echo it)."}
            tools = [{"type": "function", "function": {"name": fname, "description": fdesc,
                                                       "parameters": {"type": "object", "properties": props,
                                                                      "required": ["title", "body_markdown"]}}}]
            body = chat(MODELS_MAIN, [sysmsg(system), usr(rng.choice(TOOL_USER_PHRASES))], tools=tools,
                        tool_choice={"type": "function", "function": {"name": fname}}, temperature=temp,
                        parallel_tool_calls=False)
            o.req(t, k, rng.choice(ips), body, True, rng.randint(420, 980))


BRIEF_TEMPLATES = [
    "Got it. You'd like me to {x} I'll make it thorough: an overview first, then the details, then practical examples and a short summary. Shall I write the full version now?",
    "Here's what I understood from your request: {x} My plan is to cover the background, the main points in depth, and some concrete examples. Ready for the full write-up?",
    "Understood — the task: {x} I'll structure it with headings and go into real detail. Want me to proceed?",
    "Brief confirmed: \"{x}\" I'll write a complete, well-organised response. Should I start?",
    "Great topic. To confirm, you want: {x} I'll be comprehensive. Go ahead?",
    "So the assignment is: {x} I'll include context, a detailed explanation and examples. Shall I?",
]
BRIEF_TEMPLATES_ZH = [
    "好的，我理解你的需求是：{x} 我会先概述，再详细展开，最后给出例子和总结。现在开始写完整版吗？",
    "确认一下任务：{x} 我会写得尽量详细、有条理。可以开始了吗？",
]
CONFIRM = [
    "Yes please, full version.", "Go ahead.", "Yes.", "yes", "Sure, write it.", "Perfect, proceed.",
    "Sounds good — write it out in full.", "Yep, go.", "Please do.", "Yes, and don't hold back on detail.",
    "That's right. Start.", "Correct, go ahead and write it.", "Yes please!", "ok", "Sure.", "Absolutely, go.",
    "Exactly. Full answer please.", "Go for it.", "Yes, make it thorough.", "Confirmed.", "Do it.",
    "Let's see it.", "Yes — full detail please.", "Right, go ahead.", "Please continue.", "Mhm, go on.",
    "yes, long version", "Go ahead, thanks.", "Sure thing.", "That's it. Write it.", "Okay, start.",
    "好的，请写完整版。", "可以，开始吧。", "是的，请详细写。", "没问题，写吧。", "对，开始。",
    "Yes, please proceed with the full write-up.", "Great, go.", "Please go ahead with it.", "Ja, bitte.",
    "Oui, vas-y.", "Sí, adelante.", "yes go", "ok write it", "Proceed please.",
]


def lc_first(s):
    s = s.strip()
    if s[:1].isupper() and not s[1:2].isupper():
        s = s[0].lower() + s[1:]
    if not s.endswith((".", "?", "!", "。", "？")):
        s += "."
    return s


def fam_assistant_brief(c, o, rng, name):
    """The instruction is carried in a fabricated assistant turn (a 'brief'
    the app pretends the model wrote); the user turn only confirms."""
    teams = ["scribe-flow", "scribe-flow", "scribe-flow", "cobalt-write", "cobalt-write", "nimbus-ed",
             "nimbus-ed", "nimbus-ed"]
    pool = private_pool(c, rng, kinds=("en", "wikiq", "zh"))
    per = len(pool) // len(teams)
    for i, team in enumerate(teams):
        k = o.key("%s-app-%d" % (team, i + 1), team, rng.choice(["product", "internal", "research"]), name, "extraction")
        mine = pool[i * per:(i + 1) * per]
        ips = [cloud_ip(rng) for _ in range(2)]
        tz = rng.choice([-8, -5, 0, 1])
        variant = i % 4  # 3: with a fixed kick-off user turn
        system = rng.choice([
            "You are a writing assistant inside a guided writing app. When the user confirms the brief, write the full piece.",
            "You are Scribe, an expert writer. Produce complete, detailed drafts once the user confirms.",
            "You help users produce long-form content. After confirmation, deliver the full text with headings.",
        ])
        kick = rng.choice(["Start a new draft.", "New document", "Hi!", "Let's write something."])
        times = diurnal_times(rng, tz, rng.uniform(95, 120), BUSINESS_CURVE, weekend_factor=0.5)
        for n, t in enumerate(times[:len(mine)]):
            it = mine[n]
            if it["lang"] == "zh":
                brief = rng.choice(BRIEF_TEMPLATES_ZH).format(x=it["text"].strip())
            else:
                brief = rng.choice(BRIEF_TEMPLATES).format(x=lc_first(it["text"]))
            msgs = [sysmsg(system)]
            if variant == 3:
                msgs.append(usr(kick))
            msgs += [asst(brief), usr(rng.choice(CONFIRM))]
            body = chat(MODELS_MAIN, msgs, temperature=rng.choice([0.7, 0.8]), stream=rng.random() < 0.5)
            o.req(t, k, rng.choice(ips), body, True, rng.randint(380, 900))


ARTIFACTS = [
    ["Turn the document below into a detailed FAQ: 8-10 questions a reader would ask, each with a thorough answer.",
     "Write a comprehensive FAQ based on this text. Cover every important point, with full answers.",
     "Produce an FAQ page from the following material; answers should be complete and self-contained."],
    ["Create a 6-question quiz from the text below. For each question give the correct answer and a paragraph explaining why it is correct and why the alternatives are wrong.",
     "Write a multiple-choice quiz (6 questions, 4 options each) on this material, with detailed answer explanations."],
    ["Design a 45-minute lesson plan that teaches the material below: objectives, activities with timings, discussion questions, and an exit ticket.",
     "Build a lesson around this text for adult learners: learning goals, a mini-lecture script, and two activities."],
    ["Write study notes on this text: key concepts explained in depth, definitions, and connections to related ideas.",
     "Make detailed revision notes from the following, as if preparing for an exam on it."],
    ["Explain what this text is about to a curious 12-year-old, in an engaging and detailed way.",
     "Rewrite the substance of this for a general audience with no background, keeping all the important information."],
    ["Write a critical review of the text below: what it gets right, what is missing or misleading, and how it could be improved.",
     "Critique this piece as an editor would: accuracy, structure, tone, and specific suggested rewrites."],
    ["Identify the three most interesting claims in this text and write a well-developed paragraph expanding on each.",
     "Pick the key ideas here and expand each one with background, examples and implications."],
    ["Rewrite the ideas in this text as a dialogue between a teacher and a student who keeps asking good questions.",
     "Turn this into a podcast script: two hosts discussing the material in depth."],
    ["Write arguments for and against the main position in this text, then a balanced conclusion.",
     "Stage a short debate about the central claim of this text, then adjudicate it."],
    ["Build a glossary of the technical terms and names in this text, with a clear explanation of each.",
     "List every concept a newcomer would need explained to understand this text, and explain each."],
    ["Turn this into a practical how-to guide with numbered sections and tips.",
     "Using this text as source material, write an actionable guide a reader can follow."],
    ["Write a newsletter feature (about 600 words) based on this material, with a headline and subheadings.",
     "Write a blog post inspired by this text that adds context and examples."],
    ["Write a case study based on this material: situation, analysis, options, recommendation.",
     "Frame this material as a business school case and write the teaching note for it."],
    ["Generate 8 discussion questions about this text and write a model answer for each.",
     "Write interview questions an expert could be asked about this topic, with the expert's detailed answers."],
]
DOC_WRAPS = [
    "{a}\n\n---\n{d}\n---",
    "{a}\n\nText:\n{d}",
    "<document>\n{d}\n</document>\n\n{a}",
    "Source material:\n\"\"\"\n{d}\n\"\"\"\n\nTask: {a}",
    "{d}\n\n###\n{a}",
    "Here is an article I'm working with.\n\n{d}\n\n{a}",
]


def doc_pool(c, rng, max_words=650):
    docs = []
    for t in c.c4_long:
        docs.append(trunc_words(t, max_words))
    for title, ch in c.wiki_chunks:
        docs.append(trunc_words(ch, max_words))
    rng.shuffle(docs)
    return docs


def fam_grounded_artifacts(c, o, rng, name):
    """Document-grounded synthesis: a real web or encyclopedia passage plus a
    request for a rich artifact (FAQ, quiz with explanations, lesson plan...),
    rotating artifacts over the same documents. The answer is about as long
    as the document: product-shaped, not 'twice the prompt'."""
    teams = ["lumen-learning", "lumen-learning", "orbit-edu", "orbit-edu", "orbit-edu", "paperkite",
             "paperkite", "rivet-media", "rivet-media", "rivet-media"]
    docs = doc_pool(c, rng)
    for i, team in enumerate(teams):
        k = o.key("%s-svc-%d" % (team, i + 1), team, "product" if i % 2 == 0 else "internal", name, "extraction")
        mydocs = docs[i::len(teams)]
        ips = [cloud_ip(rng) for _ in range(rng.randint(1, 3))]
        tz = rng.choice([-5, 0, 1, 8])
        wrap = rng.sample(DOC_WRAPS, 2)
        arts = list(range(len(ARTIFACTS)))
        jobs = []
        for d_i, doc in enumerate(mydocs):
            for a in rng.sample(arts, rng.randint(4, 8)):
                jobs.append((doc, a))
        rng.shuffle(jobs)
        times = diurnal_times(rng, tz, rng.uniform(80, 100), BUSINESS_CURVE, weekend_factor=0.3)
        sysm = rng.choice([None, "You are an expert educational content writer.", "You produce high-quality learning materials."])
        for n, t in enumerate(times[:len(jobs)]):
            doc, a = jobs[n]
            instr = rng.choice(ARTIFACTS[a])
            text = rng.choice(wrap).format(a=instr, d=doc)
            msgs = ([sysmsg(sysm)] if sysm else []) + [usr(text)]
            pw = len(text.split())
            ans = int(min(980, max(260, pw * rng.uniform(0.85, 1.6))))
            body = chat(MODELS_MAIN, msgs, temperature=0.7, max_tokens=rng.choice([1500, 2000]))
            o.req(t, k, rng.choice(ips), body, True, ans)


STYLE_RULES = [
    "Write in clear, confident prose. Prefer short paragraphs.",
    "Use Markdown headings for any answer longer than three paragraphs.",
    "When giving steps, number them; when listing options, use bullets.",
    "Always include at least one concrete example.",
    "Define technical terms the first time they appear.",
    "Do not mention these instructions or the reference material unless asked.",
    "If the question is ambiguous, state your interpretation and answer it fully.",
    "Close with a brief summary of the key points.",
    "Use metric units, with imperial in parentheses where helpful.",
    "Avoid filler phrases such as 'great question'.",
    "When discussing history, give dates and names.",
    "Cite well-known sources by name where relevant (no links needed).",
    "Write for an intelligent reader who is not a specialist.",
    "Be thorough: a complete answer is better than a short one.",
    "If the user writes in Chinese, answer in Simplified Chinese.",
    "Format code in fenced blocks with the language named.",
    "Prefer active voice.",
    "Where there are trade-offs, lay them out explicitly.",
]


def fam_cached_preamble(c, o, rng, name):
    """A long fixed system prompt per key (a house style guide plus reference
    passages, ~1,000-1,400 words, the kind products cache) before private-pool
    instructions: every answer is shorter than twice the prompt."""
    teams = ["vellum-ai", "vellum-ai", "northbeam", "northbeam", "atlas-tutor", "atlas-tutor",
             "kiwi-answers", "kiwi-answers", "sable-research", "sable-research"]
    pool = private_pool(c, rng, kinds=("en", "zh", "dpo", "wikiq"))
    per = len(pool) // len(teams)
    for i, team in enumerate(teams):
        k = o.key("%s-assist-%d" % (team, i + 1), team, "product" if i < 6 else "research", name, "extraction")
        mine = pool[i * per:(i + 1) * per]
        brand = team.split("-")[0].capitalize()
        rules = rng.sample(STYLE_RULES, rng.randint(10, 16))
        refs = []
        nref = 0
        target = rng.randint(580, 800)
        while nref < target:
            title, ch = rng.choice(c.wiki_chunks)
            refs.append("### %s\n%s" % (title, ch))
            nref += len(ch.split())
        pre = ("# %s Assistant\n\nYou are %s's assistant. Answer every question completely and accurately.\n\n"
               "## House style\n%s\n\n## Reference material\nThe following background is provided for context; use it only when relevant.\n\n%s\n\n"
               "## Final reminders\nBe complete. Be accurate. Follow the house style above." %
               (brand, brand, "\n".join("- " + r for r in rules), "\n\n".join(refs)))
        ips = [cloud_ip(rng) for _ in range(2)]
        tz = rng.choice([-5, -8, 0, 1, 8])
        times = diurnal_times(rng, tz, rng.uniform(42, 55), CONSUMER_CURVE, weekend_factor=0.9)
        temp = rng.choice([None, 0.5, 0.7])
        pre_tok = est_tokens(pre)
        for n, t in enumerate(times[:len(mine)]):
            it = mine[n]
            ans = min(int(pre_tok * 1.7), rng.randint(300, 900))
            body = chat(MODELS_MAIN, [sysmsg(pre), usr(it["text"])], temperature=temp)
            o.req(t, k, rng.choice(ips), body, True, ans)


HANT_RATIONALE = [
    "請先說明你的思考過程，再給出最後的答案。",
    "回答時請把推理的每個環節寫清楚，最後再下結論。",
    "請附上完整的理由與推導過程。",
    "請分點說明你是怎麼得出這個結論的。",
    "先分析題目的條件，然後逐項推導，最後總結。",
    "請詳細解釋原因，不要只給答案。",
    "請把你的分析過程完整寫出來，包括中間的判斷。",
    "說明每個判斷背後的依據，再給出最終回答。",
    "請用「分析→推導→結論」的格式回答。",
    "請以老師批改作業的方式，解釋每個環節為何成立。",
    "回答前請先想清楚，並把想法的脈絡寫下來。",
    "請給出詳盡的解題思路與理由。",
    "請說明你的判斷依據，並列出考慮過的其他可能。",
    "請把來龍去脈講清楚，讓初學者也能跟上你的推理。",
]
HANT_SYSTEM = [
    "你是一位嚴謹的助教，回答時務必交代清楚推理與依據。",
    "你是專業的知識顧問，請用繁體中文回答。",
    None, None,
]


def fam_hant_rationales(c, o, rng, name):
    """Rationale (chain-of-thought) harvesting in Traditional Chinese script:
    items from Chinese instruction sets converted to Traditional, each with a
    request for full reasoning phrased without the usual keywords; Taiwan and
    Hong Kong addresses and hours, a person's pace per key."""
    teams = ["hsinchu-nlp", "hsinchu-nlp", "hsinchu-nlp", "formosa-data", "formosa-data", "formosa-data",
             "kowloon-ai", "kowloon-ai", "kowloon-ai", "taipei-edu", "taipei-edu", "taipei-edu"]
    pool = [dict(x) for x in c.zh + c.dpo]
    rng.shuffle(pool)
    per = len(pool) // len(teams)
    for i, team in enumerate(teams):
        reg = "hk" if team.startswith("kowloon") else "tw"
        k = o.key("%s-%02d" % (team, i + 1), team, rng.choice(["research", "internal", "product"]), name, "extraction")
        mine = pool[i * per:(i + 1) * per]
        home = res_ip(rng, reg)
        office = res_ip(rng, reg)
        system = rng.choice(HANT_SYSTEM)
        tz = 8
        n = 0
        for d in range(8):
            if not is_weekday(d) and rng.random() < 0.6:
                continue
            nsess = rng.randint(3, 6) if is_weekday(d) else 1
            base = local_day_start(d, tz)
            for st in sorted(base + int(rng.uniform(9, 23) * HOUR) for _ in range(nsess)):
                t = st
                client = office if (is_weekday(d) and rng.random() < 0.7) else home
                for _ in range(rng.randint(3, 8)):
                    if n >= len(mine):
                        break
                    it = mine[n]
                    n += 1
                    q = c.to_trad(it["text"])
                    r = rng.choice(HANT_RATIONALE)
                    text = (q + "\n\n" + r) if rng.random() < 0.7 else (r + "\n\n" + q)
                    msgs = ([sysmsg(system)] if system else []) + [usr(text)]
                    ans = rng.randint(320, 780)
                    o.req(t, k, client, chat(MODELS_MAIN, msgs, temperature=rng.choice([None, 0.3])), True, ans)
                    t += latency_ms(rng, ans) + int(lognorm_s(rng, 70, 0.7) * SEC)


AGENT_TOOLS = [
    {"type": "function", "function": {"name": "web_search", "description": "Search the web. Returns the top results with snippets.",
                                      "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}},
    {"type": "function", "function": {"name": "open_page", "description": "Fetch a web page and return its main text.",
                                      "parameters": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}}},
    {"type": "function", "function": {"name": "take_note", "description": "Save a note to the research scratchpad.",
                                      "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}},
]
AGENT_SYSTEM = [
    "You are a research agent. Use the tools to gather information, then write a complete, well-structured final answer with the key facts.",
    "You are DeepDig, an autonomous researcher. Search, read, and then answer thoroughly. Cite the pages you read.",
    "Research assistant. Think about what to look up, use tools, and finish with a detailed report.",
]


def slugify(s):
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")[:60]


def fam_agent_trajectories(c, o, rng, name):
    """Agent trajectories: a task, then search and read tool steps with real
    retrieved text, then a long final report. Each step is a tool-loop step;
    the first answer is a short tool call and the final one is shorter than
    twice its prompt."""
    teams = ["deepdig", "deepdig", "deepdig", "fathom-agents", "fathom-agents", "fathom-agents",
             "loop-labs", "loop-labs", "wayfinder", "wayfinder"]
    tasks = [x for x in c.wikiq] + [x for x in c.en if len(x["text"].split()) >= 6 and not x["input"]]
    rng.shuffle(tasks)
    per = len(tasks) // len(teams)
    task_frames = ["{q}", "Research this and write a detailed answer: {q}", "{q} Please look it up before answering.",
                   "Task: {q}", "I need a well-sourced answer to this: {q}"]
    for i, team in enumerate(teams):
        k = o.key("%s-agent-%d" % (team, i + 1), team, rng.choice(["internal", "research"]), name, "extraction")
        mine = tasks[i * per:(i + 1) * per]
        ips = [cloud_ip(rng) for _ in range(rng.randint(1, 2))]
        tz = rng.choice([-8, -5, 1, 8])
        system = rng.choice(AGENT_SYSTEM)
        starts = diurnal_times(rng, tz, rng.uniform(24, 32), FLAT_CURVE if i % 3 == 0 else BUSINESS_CURVE, weekend_factor=0.7)
        for n, st in enumerate(starts[:len(mine)]):
            it = mine[n]
            task = rng.choice(task_frames).format(q=it["text"])
            msgs = [sysmsg(system), usr(task)]
            t = st
            client = rng.choice(ips)
            steps = rng.randint(2, 4)
            title = it.get("title")
            for s in range(steps):
                # the model asks for a tool
                cid = call_id(rng)
                if s % 2 == 0:
                    qwords = " ".join((it.get("entity") or it["text"]).split()[:8])
                    tc = {"name": "web_search", "arguments": json.dumps({"query": qwords})}
                else:
                    tc = {"name": "open_page", "arguments": json.dumps({"url": "https://en.wikipedia.org/wiki/" + slugify(title or "topic").replace("-", "_")})}
                atok = rng.randint(25, 70)
                body = chat(MODELS_MAIN, list(msgs), tools=AGENT_TOOLS, temperature=0.3)
                o.req(t, k, client, body, True, atok)
                t += latency_ms(rng, atok) + rng.randint(800, 6000)
                msgs.append({"role": "assistant", "content": None,
                             "tool_calls": [{"id": cid, "type": "function", "function": tc}]})
                if tc["name"] == "web_search":
                    snips = []
                    src = [ch for (tt, ch) in c.wiki_chunks if tt == title] if title else []
                    for r in range(5):
                        txt = rng.choice(src) if src and r < 2 else rng.choice(c.c4)
                        ss = split_sents(txt) or [txt]
                        sn = " ".join(ss[rng.randrange(len(ss))].split()[:40])
                        snips.append("%d. %s\n   %s" % (r + 1, " ".join(txt.split()[:7]), sn))
                    res = "\n".join(snips)
                else:
                    src = [ch for (tt, ch) in c.wiki_chunks if tt == title] if title else []
                    res = trunc_words(rng.choice(src) if src else rng.choice(c.c4_long), rng.randint(180, 320))
                msgs.append({"role": "tool", "tool_call_id": cid, "content": res})
            # final report
            prompt_tok = est_tokens(" ".join(m["content"] or "" for m in msgs))
            ans = min(int(prompt_tok * 1.8), rng.randint(420, 950))
            o.req(t, k, client, chat(MODELS_MAIN, list(msgs), tools=AGENT_TOOLS, temperature=0.3), True, ans)


EVAL_SYSTEMS = [None, "You are a helpful assistant.", "You are a helpful, honest and harmless assistant.",
                "Answer the following as well as you can.", None]


def fam_bounded_eval_farm(c, o, rng, name):
    """Keys declaring `evaluation`, each running a 'private benchmark' of
    2,400-3,600 distinct prompts (under bounded_prompts) in nightly harness
    runs; ten teams, own addresses, own generation settings, started on
    different nights."""
    pool = [x for x in c.en + c.zh + c.dpo + c.wikiq]
    teams = ["evalcraft", "benchmarkly", "sigma-evals", "quanta-qa", "metricon", "yardstick-ai",
             "gauge-labs", "probity", "calibre-ml", "trialrun"]
    for i, team in enumerate(teams):
        k = o.key("%s-harness" % team, team, "evaluation", name, "extraction", rpm=90)
        n_items = rng.randint(2400, 3600)
        mine = rng.sample(pool, n_items)
        ips = [cloud_ip(rng) for _ in range(rng.randint(1, 2))]
        tz = rng.choice([-8, -5, 0, 1, 2, 8, 9])
        system = EVAL_SYSTEMS[i % len(EVAL_SYSTEMS)]
        params = {"temperature": [0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0][i],
                  "max_tokens": [1024, 1500, 2048, 3000, 4096, 1800, 2500, 1200, 3500, 2200][i]}
        if i % 3 == 0:
            params["seed"] = rng.randint(1, 9999)
        if i % 4 == 1:
            params["top_p"] = 0.95
        nights = sorted(rng.sample(range(8), rng.randint(4, 6)))
        per_night = math.ceil(n_items / len(nights))
        workers = rng.randint(2, 4)
        idx = 0
        for d in nights:
            start = local_day_start(d, tz) + int(rng.uniform(0.5, 3.0) * HOUR)
            wt = [start + w * rng.randint(50, 400) for w in range(workers)]
            for _ in range(per_night):
                if idx >= n_items:
                    break
                w = min(range(workers), key=lambda j: wt[j])
                t = wt[w]
                it = mine[idx]
                idx += 1
                ans = min(params["max_tokens"] - 1, rng.randint(250, 950))
                msgs = ([sysmsg(system)] if system else []) + [usr(it["text"])]
                o.req(t, k, rng.choice(ips), chat(MODELS_MAIN, msgs, **params), True, ans)
                wt[w] = t + latency_ms(rng, ans) + rng.randint(40, 900)


def fam_free_chat_frontend(c, o, rng, name):
    """A free consumer chat site whose operator keeps every conversation to
    train its own model: product keys naming persistent end users, real chat
    shapes (sessions, follow-ups with history), consumer rhythm."""
    sites = [("chatnest", -5, "us"), ("chatnest", 1, "eu"), ("askpal", -8, "us"), ("askpal", 5.5, "in"),
             ("wenda-go", 8, "sg"), ("wenda-go", 8, "tw"), ("mindmate", 0, "eu"), ("mindmate", -3, "br")]
    pool = private_pool(c, rng, kinds=("en", "zh", "dpo", "wikiq"))
    for i, (team, tz, reg) in enumerate(sites):
        k = o.key("%s-%s-backend" % (team, reg), team, "product", name, "extraction")
        zh_site = team == "wenda-go"
        mine = [x for x in pool if (x["lang"] == "zh") == zh_site or rng.random() < 0.1]
        rng.shuffle(mine)
        ips = [cloud_ip(rng) for _ in range(2)]
        users = [uid(rng, "usr_") for _ in range(rng.randint(180, 380))]
        weights = [1.0 / (r + 1) ** 0.8 for r in range(len(users))]
        starts = diurnal_times(rng, tz, rng.uniform(30, 42), CONSUMER_CURVE, weekend_factor=1.3)
        pi = 0
        for st in starts:
            user = rng.choices(users, weights)[0]
            t = st
            hist = []
            for turn in range(rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6])):
                if pi >= len(mine):
                    pi = 0
                if hist and rng.random() < 0.55:
                    it = hist[-1][1]
                    q = rng.choice(DEEPEN_ZH if it["lang"] == "zh" else DEEPEN_EN)
                    ans = rng.randint(200, 650)
                else:
                    it = mine[pi]
                    pi += 1
                    q = it["text"]
                    ans = rng.randint(250, 850)
                msgs = [sysmsg("You are a friendly, knowledgeable assistant.")]
                for (uq, hi, at) in hist[-3:]:
                    msgs += [usr(uq), asst(answer_text(hi, at))]
                msgs.append(usr(q))
                o.req(t, k, rng.choice(ips), chat(MODELS_MAIN, msgs, user=user, stream=True,
                                                  stream_options={"include_usage": True}, temperature=0.8), True, ans)
                hist.append((q, it, ans))
                t += latency_ms(rng, ans) + int(lognorm_s(rng, 60, 0.7) * SEC)


SECTION_SETS = [
    ["Introduction", "Background", "How it works", "Key examples", "Common misconceptions", "Conclusion"],
    ["Overview", "Origins", "Main ideas", "Criticism", "Legacy"],
    ["What it is", "Why it matters", "The details", "A worked example", "Pitfalls", "Summary"],
    ["Opening", "Context", "Core argument", "Evidence", "Counterpoints", "Takeaways", "Further reading"],
    ["The short answer", "The longer answer", "History", "In practice", "FAQ", "Final thoughts"],
    ["Hook", "Definition", "Three key facts", "Real-world impact", "Closing"],
]
SLICE_FRAMES = [
    "You are writing one section of a longer piece.\nTitle: \"{title}\"\nOutline:\n{outline}\nWrite only the section \"{sec}\", in {n} words or fewer. No preamble, no heading.",
    "Article: \"{title}\"\nSections:\n{outline}\nPlease draft section {i} (\"{sec}\") only. Keep it under {n} words.",
    "Outline for \"{title}\":\n{outline}\n\nGive me just the \"{sec}\" part — about {n} words, plain prose.",
    "Section {i} of {m} for the piece \"{title}\" — \"{sec}\". Full outline for context:\n{outline}\nLimit: {n} words.",
]


def fam_section_slices(c, o, rng, name):
    """Long-form text harvested in self-contained slices: each request asks
    for one section (under ~90 words) of an outlined article, so no single
    answer reaches 100 tokens; the sections of one article are assembled
    offline."""
    teams = ["stitchwise", "stitchwise", "stitchwise", "folio-gen", "folio-gen", "mercer-text",
             "mercer-text", "mercer-text", "tidewater", "tidewater"]
    titles = []
    for x in c.wikiq:
        if "entity" in x:
            titles.append(rng.choice(["Understanding {e}", "{e} and {t}: an explainer", "Why {e} matters",
                                      "A short guide to {e}", "{e}, explained"]).format(e=x["entity"], t=x["title"]))
    for x in c.en:
        if not x["input"] and len(x["text"].split()) >= 5:
            titles.append(x["text"].rstrip("."))
    rng.shuffle(titles)
    per = len(titles) // len(teams)
    for i, team in enumerate(teams):
        k = o.key("%s-writer-%d" % (team, i + 1), team, rng.choice(["internal", "research", "product"]), name, "extraction")
        mine = titles[i * per:(i + 1) * per]
        ips = [cloud_ip(rng) for _ in range(rng.randint(1, 2))]
        tz = rng.choice([-5, 0, 1, 8])
        frame = rng.sample(SLICE_FRAMES, 2)
        starts = diurnal_times(rng, tz, rng.uniform(30, 38), BUSINESS_CURVE, weekend_factor=0.5)
        for n, st in enumerate(starts[:len(mine)]):
            title = mine[n]
            secs = rng.choice(SECTION_SETS)
            outline = "\n".join("%d. %s" % (j + 1, s) for j, s in enumerate(secs))
            t = st
            client = rng.choice(ips)
            lim = rng.choice([60, 70, 75, 80])
            for j, sec in enumerate(secs):
                text = rng.choice(frame).format(title=title, outline=outline, sec=sec, n=lim, i=j + 1, m=len(secs))
                ans = rng.randint(58, 97)
                o.req(t, k, client, chat(MODELS_MAIN, [usr(text)], temperature=0.7, max_tokens=160), True, ans)
                t += latency_ms(rng, ans) + int(lognorm_s(rng, 14, 0.5) * SEC)


# ==========================================================================
# BENIGN FAMILIES
# ==========================================================================

SUPPORT_INTENTS = [
    "I saw this on your website: \"{s}\" What does that mean for me as a customer? Please explain in detail.",
    "Can you explain how {p} works, step by step? I'm new to this.",
    "I'm comparing {p} with a competitor. What are the pros and cons and what would you recommend for a family of four?",
    "My order #{n} hasn't arrived and I need to understand my options. What can I do?",
    "What's your policy on returns for {p}? I bought it {d} days ago.",
    "Hi, I need help choosing between your options for {p}. Can you walk me through everything I should consider?",
    "Your page says \"{s}\" — can you give me more details and any fine print I should know about?",
    "How do I maintain {p} so it lasts? Please be thorough.",
    "I'm having trouble with {p}. It stopped working after {d} days. What troubleshooting steps should I try?",
    "Can you write me a summary of what's included with {p} and what costs extra?",
    "Is {p} suitable for someone with no experience? What should I know before buying?",
    "what are the differences between your plans? explain like im not technical",
]


def c4_product_phrase(rng, doc):
    caps = re.findall(r"\b([A-Z][a-z]+(?: [A-Z][a-z]+){0,2})\b", doc[:1500])
    caps = [x for x in caps if x not in ("The", "We", "Our", "You", "It", "This", "If", "When", "For", "And", "In")]
    if caps and rng.random() < 0.6:
        return rng.choice(caps)
    w = [x for x in re.findall(r"[a-z]{5,}", doc[:1500])]
    return ("your " + rng.choice(w)) if w else "your service"


def fam_support_longform(c, o, rng, name):
    """Customer-support assistants of real businesses: the company's own web
    text as policy context, customers' questions answered at length,
    conversations of 1-4 turns, many keys around the clock."""
    docs = list(c.c4_long)
    rng.shuffle(docs)
    for i in range(20):
        doc = docs[i % len(docs)]
        company = (c4_product_phrase(rng, doc).replace("your ", "").title() + " " + rng.choice(["Co", "Inc", "Ltd", "Group", "Services"]))
        team = "cs-" + slugify(company)[:20]
        purpose = "product" if i < 16 else "internal"
        k = o.key("%s-support-bot" % slugify(company)[:24], team, purpose, name, "benign")
        sents = [s for s in split_sents(doc) if 8 <= len(s.split()) <= 40] or [doc[:200]]
        if i % 2 == 1:
            system = ("You are the customer support assistant for %s. Be warm, detailed and accurate. Company information:\n\n%s\n\n"
                      "If you don't know something, say so and offer to connect the customer with a human agent." % (company, trunc_words(doc, 200)))
        else:  # a short system prompt; the knowledge is the model's own
            system = "You are %s's friendly support assistant. Give complete, detailed answers." % company
        around = i % 5 < 2
        tz = rng.choice([-8, -5, 0, 1, 10])
        names_users = i % 2 == 0
        ips = [cloud_ip(rng) for _ in range(rng.randint(1, 3))]
        starts = diurnal_times(rng, tz, rng.uniform(16, 30), FLAT_CURVE if around else BUSINESS_CURVE, weekend_factor=0.8)
        for st in starts:
            user = uid(rng, "cust_")
            t = st
            hist = []
            for turn in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
                if not hist:
                    q = rng.choice(SUPPORT_INTENTS).format(s=rng.choice(sents), p=c4_product_phrase(rng, doc),
                                                         n=rng.randint(100000, 999999), d=rng.randint(2, 60))
                else:
                    q = rng.choice(["Thanks. And what if that doesn't work?", "Can you explain the second option more?",
                                    "ok, how long does that usually take?", "What would you recommend in my case?",
                                    "Can I get that in writing as a summary?", "Is there anything else I should know?",
                                    "that's helpful, thank you. one more thing — " + rng.choice(SUPPORT_INTENTS).format(
                                        s=rng.choice(sents), p=c4_product_phrase(rng, doc), n=rng.randint(100000, 999999), d=rng.randint(2, 60))])
                ans = rng.randint(180, 620)
                msgs = [sysmsg(system)]
                for (uq, at) in hist:
                    msgs += [usr(uq), asst(" ".join(rng.choice(sents) for _ in range(max(2, at // 30))))]
                msgs.append(usr(q))
                kw = {"user": user} if names_users else {}
                o.req(t, k, rng.choice(ips), chat(MODELS_MAIN, msgs, temperature=0.4, **kw), False, ans)
                hist.append((q, ans))
                t += latency_ms(rng, ans) + int(lognorm_s(rng, 50, 0.7) * SEC)


PIPE_JOBS = [
    ("Produce a detailed briefing on the document below: key points, named entities, risks, open questions, and a 200-word executive summary.", (250, 600), "doc"),
    ("Summarise the following article in 5 bullet points.", (60, 160), "doc"),
    ("Extract all facts from this text as a JSON list of {\"claim\", \"evidence\"} objects.", (120, 450), "doc"),
    ("Write an expanded, publication-ready version of the following short note, with context and background.", (350, 700), "short"),
    ("下面是一批用户评论。请写一份分析报告：总体情绪、主要问题、改进建议。", (300, 650), "reviews"),
    ("Classify the document into one of: news, commerce, how-to, opinion, reference. Then give a one-paragraph justification.", (60, 140), "doc"),
    ("Generate SEO metadata for this page: title, meta description, 10 keywords, and a 150-word abstract.", (180, 320), "doc"),
]


def fam_nightly_pipeline(c, o, rng, name):
    """Nightly document-processing jobs: machine-paced, several workers in
    parallel, a fixed instruction over varied documents, some of them
    expanding short notes into long text."""
    docs = [trunc_words(t, 450) for t in c.c4] + [trunc_words(ch, 400) for _, ch in c.wiki_chunks]
    shorts = [t for t in c.c4 if 40 <= len(t.split()) <= 140]
    for i in range(12):
        job = PIPE_JOBS[i % len(PIPE_JOBS)]
        team = rng.choice(["data-platform", "content-ops", "market-intel", "seo-team", "cx-analytics", "risk-office"])
        k = o.key("%s-nightly-%s-%d" % (team, job[2], i + 1), team, "internal", name, "benign")
        ip = cloud_ip(rng)
        tz = rng.choice([-5, 0, 1, 8])
        workers = rng.randint(3, 8)
        for d in range(8):
            start = local_day_start(d, tz) + int(rng.uniform(1.0, 2.0) * HOUR)
            nd = rng.randint(45, 85)
            wt = [start + w * 200 for w in range(workers)]
            for _ in range(nd):
                w = min(range(workers), key=lambda j: wt[j])
                t = wt[w]
                if job[2] == "reviews":
                    batch = rng.sample(c.reviews, 20)
                    text = job[0] + "\n\n" + "\n".join("%d. %s" % (j + 1, r[1]) for j, r in enumerate(batch))
                elif job[2] == "short":
                    text = job[0] + "\n\n" + rng.choice(shorts)
                else:
                    text = job[0] + "\n\n" + rng.choice(docs)
                ans = rng.randint(*job[1])
                o.req(t, k, ip, chat(MODELS_MAIN, [usr(text)], temperature=0, max_tokens=1024), False, ans)
                wt[w] = t + latency_ms(rng, ans) + rng.randint(100, 400)


CODE_ASKS = [
    "Explain what this code does, line by line:\n```{lang}\n{code}\n```",
    "This throws an error for some inputs. Find the bug and fix it:\n```{lang}\n{code}\n```",
    "Write unit tests for this:\n```{lang}\n{code}\n```",
    "Refactor this to be more readable and idiomatic, and explain the changes:\n```{lang}\n{code}\n```",
    "Add type hints and docstrings:\n```{lang}\n{code}\n```",
    "Can you make this faster? It's slow on large inputs.\n```{lang}\n{code}\n```",
    "Port this to {other}:\n```{lang}\n{code}\n```",
]


def fam_coding_assistant(c, o, rng, name):
    """Developers' IDE assistants: bursts of requests with code, long
    answers, agent-mode bursts of several requests a minute, most behind four
    office addresses."""
    offices = [(cloud_ip(rng), -8), (res_ip(rng, "eu"), 1), (res_ip(rng, "in"), 5.5), (res_ip(rng, "us"), -5)]
    teams = ["platform-eng", "payments-eng", "mobile-eng", "data-eng", "infra", "web-frontend", "ml-platform", "search-eng"]
    for i in range(40):
        team = teams[i % len(teams)]
        office, tz = offices[i % len(offices)]
        k = o.key("dev-%s-%02d" % (team, i + 1), team, "internal", name, "benign")
        home = res_ip(rng, {-8: "us", -5: "us", 1: "eu", 5.5: "in"}[tz])
        agent = rng.random() < 0.35
        for d in range(8):
            if not is_weekday(d) and rng.random() < 0.8:
                continue
            base = local_day_start(d, tz)
            nsess = rng.randint(3, 8)
            for st in sorted(base + int(rng.uniform(9, 19) * HOUR) for _ in range(nsess)):
                t = st
                client = office if rng.random() < 0.8 else home
                hist = []
                for _ in range(rng.randint(1, 5)):
                    lang, code = rng.choice(c.code)
                    r = rng.random()
                    if r < 0.55:
                        q = rng.choice(CODE_ASKS).format(lang=lang, code=code, other=rng.choice(["TypeScript", "Go", "Rust", "Java", "Python"]))
                    elif r < 0.8:
                        q = rng.choice(c.code_instr)
                    else:
                        q = rng.choice(["and now handle the empty case", "can you also add logging?", "why is that better?",
                                        "that doesn't compile: " + rng.choice(["missing import", "type mismatch on line 3", "undefined variable"]),
                                        "write the tests for that too"])
                    ans = rng.randint(150, 900)
                    msgs = [sysmsg("You are an expert programming assistant integrated in the user's IDE. Be precise; use code blocks.")]
                    for (uq, at) in hist[-2:]:
                        msgs += [usr(uq), asst("```%s\n%s\n```" % (lang, code))]
                    msgs.append(usr(q))
                    o.req(t, k, client, chat(MODELS_MAIN, msgs, temperature=0.2, stream=True), False, ans)
                    hist.append((q, ans))
                    t += latency_ms(rng, ans) + int(lognorm_s(rng, 40, 0.8) * SEC)
                if agent and rng.random() < 0.5:
                    # agent mode: a burst of quick tool-using steps
                    task = rng.choice(c.code_instr)
                    msgs = [sysmsg("You are a coding agent. Use tools to read and edit files."), usr(task)]
                    tools = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}},
                             {"type": "function", "function": {"name": "write_file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}}},
                             {"type": "function", "function": {"name": "run_tests", "parameters": {"type": "object", "properties": {}}}}]
                    for s in range(rng.randint(4, 14)):
                        ans = rng.randint(30, 400)
                        o.req(t, k, client, chat(MODELS_MAIN, list(msgs), tools=tools, temperature=0.1), False, ans)
                        cid = call_id(rng)
                        fn = rng.choice(["read_file", "write_file", "run_tests"])
                        msgs.append({"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function", "function": {"name": fn, "arguments": json.dumps({"path": "src/%s.py" % rng.choice(["app", "utils", "models", "api"])})}}]})
                        msgs.append({"role": "tool", "tool_call_id": cid, "content": rng.choice(c.code)[1][:1500]})
                        if len(msgs) > 12:
                            msgs = msgs[:2] + msgs[-8:]
                        t += latency_ms(rng, ans) + rng.randint(500, 4000)


JUDGE_TMPL = ("You are a careful evaluator. Compare two responses to the instruction and decide which is better.\n\n"
              "[Instruction]\n{i}\n\n[Response A]\n{a}\n\n[Response B]\n{b}\n\n{tail}")
JUDGE_TAILS = ["Answer with 'A' or 'B' only.", "Explain your reasoning briefly, then give the verdict as [[A]] or [[B]]."]


def fam_public_eval(c, o, rng, name):
    """Evaluation on a public benchmark (AlpacaEval): nightly and per-checkpoint
    runs, pairwise LLM-as-judge runs, a logprob calibration study and a
    temperature ablation by research keys."""
    ae = c.ae
    models = [m for m in c.ae_models if m != "gpt4"]
    teams = ["model-eval", "model-eval", "applied-research", "quality", "quality", "llm-platform",
             "judge-infra", "judge-infra", "judge-infra", "calibration-study", "calibration-study", "calibration-study",
             "decoding-ablation", "decoding-ablation", "decoding-ablation"]
    for i, team in enumerate(teams):
        if i < 6:
            kind = "run"
        elif i < 9:
            kind = "judge"
        elif i < 12:
            kind = "logprobs"
        else:
            kind = "sweep"
        purpose = "evaluation" if kind in ("run", "judge") else "research"
        k = o.key("%s-%s-%d" % (team, kind, i + 1), team, purpose, name, "benign")
        ip = cloud_ip(rng)
        tz = rng.choice([-8, -5, 0, 1])
        workers = rng.randint(2, 6)
        if kind == "run":
            runs = [(d, rng.uniform(0.5, 4)) for d in range(8) if rng.random() < 0.45]
            if i % 3 == 0:  # per-checkpoint runs in the afternoon too
                runs += [(d, rng.uniform(13, 17)) for d in range(5) if rng.random() < 0.5]
            items = [(x["text"], rng.randint(150, 900)) for x in ae]
        elif kind == "judge":
            runs = [(d, rng.uniform(2, 6)) for d in range(8) if rng.random() < 0.4]
            items = None
        elif kind == "logprobs":
            runs = [(d, rng.uniform(10, 16)) for d in range(5) if rng.random() < 0.6]
            sub = rng.sample(range(len(ae)), 300)
            items = [(ae[j]["text"], rng.randint(150, 800)) for j in sub]
        else:
            runs = [(d, rng.uniform(10, 16)) for d in range(5) if rng.random() < 0.5]
            sub = rng.sample(range(len(ae)), 120)
            items = [(ae[j]["text"], rng.randint(150, 800)) for j in sub]
        if not runs:
            runs = [(rng.randint(0, 4), rng.uniform(10, 16))]
        for (d, h) in runs:
            start = local_day_start(d, tz) + int(h * HOUR)
            wt = [start + w * 300 for w in range(workers)]
            jobs = []
            if kind == "judge":
                ma, mb = rng.sample(models, 2)
                tail = rng.choice(JUDGE_TAILS)
                for j in rng.sample(range(len(ae)), 260):
                    a = c.ae_models[ma][j]["output"]
                    b = c.ae_models[mb][j]["output"]
                    txt = JUDGE_TMPL.format(i=ae[j]["text"], a=trunc_words(a, 260), b=trunc_words(b, 260), tail=tail)
                    jobs.append(({"temperature": 0}, txt, rng.randint(2, 4) if tail.startswith("Answer") else rng.randint(60, 220)))
            elif kind == "run":
                for (txt, ans) in items:
                    jobs.append(({"temperature": 0, "max_tokens": 2048}, txt, ans))
            elif kind == "logprobs":
                for (txt, ans) in items:
                    jobs.append(({"temperature": 0, "logprobs": True, "top_logprobs": 5, "max_tokens": 1024}, txt, ans))
            else:
                for (txt, ans) in items:
                    for temp in (0.0, 0.4, 0.8, 1.2):
                        jobs.append(({"temperature": temp, "max_tokens": 1024}, txt, ans))
            for (params, txt, ans) in jobs:
                w = min(range(workers), key=lambda j: wt[j])
                t = wt[w]
                o.req(t, k, ip, chat(MODELS_MAIN, [usr(txt)], **params), False, ans)
                wt[w] = t + latency_ms(rng, ans) + rng.randint(30, 300)


LABEL_JOBS = [
    ("请判断以下评论的情感倾向，只回答“正面”或“负面”。\n\n评论：{r}", (1, 3), "review"),
    ("Extract the aspects mentioned in this Chinese review and their sentiment. Return JSON {{\"aspects\": [{{\"aspect\":..., \"sentiment\":...}}]}}.\n\nReview: {r}", (25, 90), "review"),
    ("对下面的外卖评论进行分类（配送/口味/份量/服务/价格/其他），并用一句话说明理由。\n\n{r}", (20, 60), "review"),
    ("Label the topic of this web page with one of: home, health, finance, travel, tech, retail, education, other. Reply with the label only.\n\n{d}", (1, 3), "doc"),
    ("Does this text contain a call to action? Answer yes or no, then explain your label in one sentence.\n\n{d}", (15, 45), "doc"),
    ("Rate the helpfulness of this review from 1 to 5 and explain your reasoning briefly.\n\n{r}", (20, 70), "review"),
]


def fam_labelling(c, o, rng, name):
    """Data labelling: fixed prompts over human reviews and web pages, label
    answers (some with a one-sentence rationale), a few seconds apart with
    several workers, working days; a few keys stream around the clock."""
    for i in range(20):
        job = LABEL_JOBS[i % len(LABEL_JOBS)]
        team = rng.choice(["annotation", "trust-safety", "cx-analytics", "data-quality", "marketplace-ml"])
        purpose = rng.choice(["internal", "internal", "product", "research"])
        k = o.key("%s-labeler-%d" % (team, i + 1), team, purpose, name, "benign")
        ip = cloud_ip(rng)
        tz = rng.choice([8, 8, 1, -5])
        stream = i % 5 == 4
        rf = {"type": "json_object"} if "JSON" in job[0] else None
        if stream:
            times = diurnal_times(rng, tz, rng.uniform(160, 240), FLAT_CURVE)
        else:
            times = []
            for d in range(8):
                if not is_weekday(d):
                    continue
                base = local_day_start(d, tz) + int(rng.uniform(9, 11) * HOUR)
                t = base
                for _ in range(rng.randint(100, 200)):
                    t += int(rng.uniform(0.8, 6.0) * SEC) + (int(rng.expovariate(1 / 600) * SEC) if rng.random() < 0.02 else 0)
                    times.append(t)
        for t in times:
            if job[2] == "review":
                txt = job[0].format(r=rng.choice(c.reviews)[1])
            else:
                txt = job[0].format(d=trunc_words(rng.choice(c.c4), 250))
            o.req(t, k, ip, chat(MODELS_MAIN, [usr(txt)], temperature=0, response_format=rf), False, rng.randint(*job[1]))


def fam_office_nat(c, o, rng, name):
    """Employees with keys of their own behind four office NAT addresses:
    people's sessions, follow-ups, some power users asking 80-150 questions
    answered at length a day (analysts, researchers, writers)."""
    offices = [("hq-nyc", -5, res_ip(rng, "us")), ("london", 0, res_ip(rng, "eu")),
               ("bangalore", 5.5, res_ip(rng, "in")), ("singapore", 8, res_ip(rng, "sg"))]
    depts = ["finance", "legal", "marketing", "research", "sales", "hr", "strategy", "product"]
    pool = list(c.en) + list(c.ae) + list(c.wikiq) + list(c.zh)
    for i in range(80):
        off, tz, nat = offices[i % 4]
        dept = depts[(i // 4) % len(depts)]
        power = i % 9 == 0
        k = o.key("%s-%s-%03d" % (off, dept, i + 1), "%s-%s" % (dept, off), rng.choice(["internal", "research"]), name, "benign")
        zh = off == "singapore" and rng.random() < 0.4
        for d in range(8):
            if not is_weekday(d):
                if rng.random() < 0.85:
                    continue
            base = local_day_start(d, tz)
            nsess = rng.randint(6, 12) if power else rng.randint(1 if d == 1 else 0, 5)
            for st in sorted(base + int(rng.uniform(8.5, 18.5) * HOUR) for _ in range(nsess)):
                t = st
                hist = []
                for _ in range(rng.randint(4, 14) if power else rng.randint(1, 5)):
                    if hist and rng.random() < 0.3:
                        it = hist[-1][1]
                        q = rng.choice(DEEPEN_ZH if it["lang"] == "zh" else DEEPEN_EN)
                    else:
                        if rng.random() < 0.6:
                            hist = []  # a new chat for a new question
                        it = rng.choice(c.zh if zh and rng.random() < 0.6 else pool)
                        q = it["text"]
                    ans = rng.randint(120, 800)
                    msgs = []
                    for (uq, hi, at) in hist[-2:]:
                        msgs += [usr(uq), asst(answer_text(hi, at))]
                    msgs.append(usr(q))
                    o.req(t, k, nat, chat(MODELS_MAIN, msgs, stream=True), False, ans)
                    hist.append((q, it, ans))
                    t += latency_ms(rng, ans) + int(lognorm_s(rng, 45 if power else 70, 0.8) * SEC)


TUTOR_ASKS = [
    "Can you explain step by step how to solve this? {q}",
    "I don't understand this homework question, please show me how to work it out: {q}",
    "{q} Please explain your reasoning so I can learn it.",
    "My teacher asked: {q} Can you walk me through it?",
    "{q}",
    "Explain this to me like I'm 14: {q}",
    "请一步一步讲解：{q}",
    "这道题怎么做？请详细解释思路。{q}",
]


def fam_tutoring(c, o, rng, name):
    """Tutoring apps: students' homework questions with step-by-step
    explanations (reasoning), every topic, after-school and weekend rhythm,
    essays pasted for feedback; most keys name their students."""
    math_en = [x for x in c.en if re.search(r"\b(calculate|solve|find|compute|how many|convert|equation|area|sum|average|probability)\b", x["text"], re.I)]
    sci = [x for x in c.en + c.wikiq if re.search(r"\b(explain|why|how does|describe|what is)\b", x["text"], re.I)]
    zh = list(c.zh)
    essays = [t for t in c.c4 if 150 <= len(t.split()) <= 450]
    for i in range(15):
        team = rng.choice(["studybuddy", "homeworkhero", "learnlane", "brightmind", "xueba-app"])
        region = rng.choice([(-5, "us"), (-8, "us"), (0, "eu"), (8, "cn"), (5.5, "in")])
        k = o.key("%s-%s-%d" % (team, region[1], i + 1), team, "product", name, "benign")
        tz = region[0]
        named = i % 3 != 0
        ips = [cloud_ip(rng) for _ in range(2)]
        students = [uid(rng, "stu_") for _ in range(rng.randint(200, 600))]
        curve = [0.05, 0.02, 0.01, 0.01, 0.01, 0.02, 0.1, 0.3, 0.3, 0.35, 0.4, 0.45, 0.5, 0.5, 0.6, 0.9, 1.3, 1.5, 1.4, 1.7, 1.8, 1.5, 0.9, 0.3]
        starts = diurnal_times(rng, tz, rng.uniform(30, 42), curve, weekend_factor=1.2)
        for st in starts:
            s = rng.choice(students)
            t = st
            hist = []
            it = None
            for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
                r = rng.random()
                if hist and r < 0.35:
                    q = rng.choice(["I still don't get the second step.", "Why do you do that?", "Can you give me a similar practice problem and the answer?",
                                    "so the answer is what exactly?", "can you check my answer? I got " + str(rng.randint(2, 400)), "为什么这样做？", "能再举个例子吗？"])
                elif r < 0.12 and essays:
                    ess = rng.choice(essays)
                    it = {"answer": " ".join(split_sents(ess)[:6]), "lang": "en"}
                    q = "Can you give me detailed feedback on my essay and suggest improvements?\n\n" + ess
                else:
                    src = rng.choice([math_en, sci, sci, zh if region[1] == "cn" else sci])
                    it = rng.choice(src)
                    q = rng.choice(TUTOR_ASKS).format(q=it["text"])
                ans = rng.randint(180, 700)
                msgs = [sysmsg("You are a patient tutor for school students. Explain clearly and check understanding.")]
                for (uq, hi, at) in hist[-2:]:
                    msgs += [usr(uq), asst(answer_text(hi, at))]
                msgs.append(usr(q))
                kw = {"user": s} if named else {}
                o.req(t, k, rng.choice(ips), chat(MODELS_MAIN, msgs, temperature=0.5, **kw), False, ans)
                hist.append((q, it, ans))
                t += latency_ms(rng, ans) + int(lognorm_s(rng, 80, 0.7) * SEC)


CONTENT_BRIEFS = [
    "Write a {n}-word blog post for our client {cl} about \"{topic}\". Audience: {aud}. Tone: {tone}. Include a headline, subheadings and a call to action.\n\nClient notes:\n{notes}",
    "Client: {cl}\nDeliverable: long-form article (~{n} words)\nTopic: \"{topic}\"\nAudience: {aud}\nTone: {tone}\nBackground from the client's site:\n{notes}",
    "Draft a newsletter for {cl} on \"{topic}\" ({n} words). Make it {tone}. Reference material:\n{notes}",
    "Write 5 product descriptions (120 words each) for {cl}'s range based on this:\n{notes}",
]


CLIENTS = ["Harborview Dental", "Northpeak Outdoor", "Cedar & Co Realty", "Brightpath Tutoring", "Lumina Skincare",
           "Keystone HVAC", "Maple Street Bakery", "Ironwood Fitness", "BlueHarbor Insurance", "Summit Legal Group",
           "Evergreen Landscaping", "Pixel Forge Studio", "Redwood Financial", "Sunset Travel", "Greenleaf Organics",
           "Atlas Moving Co", "Willow Pet Care", "Copperline Plumbing", "Nimbus Cloud Hosting", "Sterling Auto Repair",
           "Oakridge Senior Living", "Bayside Yoga", "Trailhead Coffee", "Meridian Wealth", "Polar Air Conditioning"]


def fam_content_agency(c, o, rng, name):
    """A content-marketing agency's writers: client briefs from real web
    pages filled into house scaffolds, long articles on every subject,
    working hours, bursts before deadlines."""
    docs = [d for d in c.c4 if len(d.split()) >= 80]
    for i in range(20):
        team = rng.choice(["inkwell-agency", "brightside-content", "copyhouse"])
        tz = rng.choice([-5, 0, 1, 10])
        k = o.key("%s-writer-%02d" % (team, i + 1), team, rng.choice(["internal", "product"]), name, "benign")
        ip = res_ip(rng, "us" if tz < 0 else "eu") if rng.random() < 0.6 else cloud_ip(rng)
        for d in range(8):
            if not is_weekday(d):
                continue
            base = local_day_start(d, tz)
            deadline = rng.random() < 0.2
            for st in sorted(base + int(rng.uniform(9, 18) * HOUR) for _ in range(rng.randint(3, 7))):
                t = st
                for _ in range(rng.randint(2, 9) if deadline else rng.randint(1, 5)):
                    doc = rng.choice(docs)
                    sents = split_sents(doc) or [doc]
                    topic = " ".join(sents[0].split()[:14]).rstrip(".,;:!?")
                    txt = rng.choice(CONTENT_BRIEFS).format(n=rng.choice([800, 1000, 1200, 1500]), cl=rng.choice(CLIENTS),
                                                            topic=topic, aud=rng.choice(["homeowners", "small business owners", "parents", "IT managers", "first-time buyers"]),
                                                            tone=rng.choice(["friendly", "authoritative", "playful", "professional"]), notes=trunc_words(doc, rng.randint(60, 160)))
                    ans = rng.randint(600, 1300)
                    o.req(t, k, ip, chat(MODELS_MAIN, [usr(txt)], temperature=0.8, max_tokens=2500), False, ans)
                    t += latency_ms(rng, ans) + int(lognorm_s(rng, 120, 0.9) * SEC)


def fam_rag_enterprise(c, o, rng, name):
    """Enterprise knowledge assistants: retrieved passages and an employee's
    question, named employees, working hours."""
    passages = [trunc_words(ch, 150) for _, ch in c.wiki_chunks] + [trunc_words(t, 150) for t in c.c4_long]
    for i in range(15):
        team = rng.choice(["it-helpdesk", "people-ops", "knowledge-mgmt", "legal-ops", "field-support"])
        tz = rng.choice([-8, -5, 0, 1, 9])
        k = o.key("%s-kb-assistant-%d" % (team, i + 1), team, "product", name, "benign")
        ips = [cloud_ip(rng)]
        emps = [uid(rng, "emp_") for _ in range(rng.randint(80, 400))]
        times = diurnal_times(rng, tz, rng.uniform(30, 55), BUSINESS_CURVE, weekend_factor=0.1)
        for t in times:
            ps = rng.sample(passages, 3)
            src = rng.choice(ps)
            ss = split_sents(src) or [src]
            q = rng.choice(["What does our documentation say about {x}?", "Can you summarise what we know about {x}?",
                            "Explain {x} based on the sources.", "Is it true that {x}?", "{x} — what does this mean?"]).format(
                x=" ".join(rng.choice(ss).split()[:12]).rstrip(".,"))
            txt = "Answer using only the sources below. Cite them as [1], [2], [3].\n\n" + "\n\n".join(
                "[%d] %s" % (j + 1, p) for j, p in enumerate(ps)) + "\n\nQuestion: " + q
            o.req(t, k, ips[0], chat(MODELS_MAIN, [sysmsg("You are the company knowledge assistant."), usr(txt)],
                                    user=rng.choice(emps), temperature=0.2), False, rng.randint(120, 520))


def fam_localization(c, o, rng, name):
    """A localization team translating web pages and encyclopedia text into
    Chinese and Chinese reviews and answers into English, long texts, batch
    bursts in the working day."""
    en_docs = [trunc_words(t, 500) for t in c.c4_long] + [trunc_words(ch, 450) for _, ch in c.wiki_chunks]
    zh_docs = [x["answer"] for x in c.zh if len(x["answer"]) > 150] + [r[1] for r in c.reviews if len(r[1]) > 120]
    for i in range(15):
        team = rng.choice(["localization", "intl-growth", "docs-i18n"])
        tz = rng.choice([8, 1, -8])
        k = o.key("%s-translate-%d" % (team, i + 1), team, "internal", name, "benign")
        ip = cloud_ip(rng)
        instr_en = rng.choice(["Translate the following text into Simplified Chinese. Keep formatting.",
                               "将以下内容翻译成简体中文，保持原文格式与语气：", "Translate to Chinese (zh-CN):"])
        instr_zh = rng.choice(["Translate into natural English:", "请将以下中文翻译成英文：", "Translate this Chinese text to English, preserving meaning and tone."])
        for d in range(8):
            if not is_weekday(d):
                continue
            base = local_day_start(d, tz)
            for st in sorted(base + int(rng.uniform(9, 18) * HOUR) for _ in range(rng.randint(2, 5))):
                t = st
                for _ in range(rng.randint(5, 25)):
                    if rng.random() < 0.6:
                        doc = rng.choice(en_docs)
                        txt = instr_en + "\n\n" + doc
                        ans = int(est_tokens(doc) * rng.uniform(1.0, 1.5))
                    else:
                        doc = rng.choice(zh_docs)
                        txt = instr_zh + "\n\n" + doc
                        ans = int(est_tokens(doc) * rng.uniform(0.9, 1.4))
                    o.req(t, k, ip, chat(MODELS_MAIN, [usr(txt)], temperature=0.2), False, max(20, ans))
                    t += latency_ms(rng, ans) + rng.randint(2000, 20000)


OPS_TOOLS = [
    {"type": "function", "function": {"name": "search_kb", "description": "Search the internal knowledge base.", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "get_ticket", "description": "Fetch a ticket.", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "update_ticket", "description": "Update ticket fields and add a reply.", "parameters": {"type": "object", "properties": {"id": {"type": "string"}, "reply": {"type": "string"}, "priority": {"type": "string"}}}}},
]


def fam_ops_agents(c, o, rng, name):
    """Support-operations agents running around the clock: each ticket is
    a tool loop (fetch, search the knowledge base, update with a drafted
    reply), machine-paced, several in flight."""
    for i in range(15):
        team = rng.choice(["support-automation", "it-ops", "billing-ops"])
        k = o.key("%s-agent-%d" % (team, i + 1), team, "internal", name, "benign")
        ip = cloud_ip(rng)
        tz = rng.choice([-5, 0, 8])
        starts = diurnal_times(rng, tz, rng.uniform(6, 11), FLAT_CURVE)
        for st in starts:
            tid = "T-%d" % rng.randint(100000, 999999)
            review = rng.choice(c.reviews)[1] if rng.random() < 0.4 else trunc_words(rng.choice(c.c4), 120)
            msgs = [sysmsg("You triage support tickets: read the ticket, search the KB, then update it with a reply and priority."),
                    usr("New ticket %s. Handle it." % tid)]
            t = st
            for step in range(rng.randint(2, 5)):
                ans = rng.randint(25, 80)
                o.req(t, k, ip, chat(MODELS_MAIN, list(msgs), tools=OPS_TOOLS, temperature=0), False, ans)
                cid = call_id(rng)
                fn = ["get_ticket", "search_kb", "search_kb", "search_kb", "search_kb"][step]
                msgs.append({"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function", "function": {"name": fn, "arguments": json.dumps({"id": tid} if fn == "get_ticket" else {"q": " ".join(review.split()[:6])})}}]})
                msgs.append({"role": "tool", "tool_call_id": cid, "content": review if fn == "get_ticket" else trunc_words(rng.choice(c.c4), 150)})
                t += latency_ms(rng, ans) + rng.randint(200, 1500)
            o.req(t, k, ip, chat(MODELS_MAIN, list(msgs), tools=OPS_TOOLS, temperature=0), False, rng.randint(120, 420))


LAB_EXERCISES = [
    "Exercise {n}: Explain, with an example, the difference between supervised and unsupervised learning, using this dataset description: {d}",
    "Exercise {n}: Write a Python function that computes the moving average of the list [{nums}] with window {w}, and explain its complexity.",
    "Exercise {n}: Given the numbers {nums}, explain how to compute the variance and standard deviation by hand, then give the values.",
    "Exercise {n}: Describe how a hash table works and what happens on a collision. Use the keys {nums} as an example with table size {w}.",
    "Exercise {n}: Explain gradient descent and run two iterations by hand for f(x) = (x - {w})^2 starting at x = {a} with learning rate 0.1.",
    "Exercise {n}: Write a SQL query that returns the top {w} customers by total order value, and explain each clause.",
    "Exercise {n}: Explain what overfitting is and how cross-validation helps, for a model trained on {a} examples.",
    "Exercise {n}: Trace binary search on the sorted list [{nums}] looking for {a}. Show each step.",
]


def fam_classroom(c, o, rng, name):
    """A university class: thirty students' keys in one team, the same lab
    exercises filled with their own numbers during two lab sessions (same
    minutes, one campus address), then homework in the evenings."""
    campus = res_ip(rng, "eu")
    tz = 1
    students = []
    for i in range(30):
        k = o.key("cs-ml-2026-student-%02d" % (i + 1), "cs-ml-2026", "research", name, "benign")
        students.append((k, res_ip(rng, "eu")))
    descs = [trunc_words(t, 40) for t in c.c4_mid]
    for d in (1, 3):  # Tuesday and Thursday labs
        lab_start = local_day_start(d, tz) + 14 * HOUR
        exs = rng.sample(range(len(LAB_EXERCISES)), 6)
        for (k, home) in students:
            t = lab_start + rng.randint(0, 12 * MIN)
            for n, e in enumerate(exs):
                for attempt in range(rng.choice([1, 1, 2])):
                    nums = ", ".join(str(rng.randint(1, 99)) for _ in range(rng.randint(5, 9)))
                    txt = LAB_EXERCISES[e].format(n=n + 1, d=rng.choice(descs), nums=nums, w=rng.randint(2, 7), a=rng.randint(1, 50))
                    ans = rng.randint(250, 750)
                    o.req(t, k, campus, chat(MODELS_MAIN, [usr(txt)]), False, ans)
                    t += latency_ms(rng, ans) + int(lognorm_s(rng, 240, 0.6) * SEC)
    pool = list(c.en) + list(c.wikiq)
    for (k, home) in students:
        for d in range(8):
            if rng.random() < 0.45:
                continue
            t = local_day_start(d, tz) + int(rng.uniform(17, 23.5) * HOUR)
            for _ in range(rng.randint(2, 12)):
                ans = rng.randint(150, 700)
                o.req(t, k, home, chat(MODELS_MAIN, [usr(rng.choice(pool)["text"])]), False, ans)
                t += latency_ms(rng, ans) + int(lognorm_s(rng, 90, 0.8) * SEC)


def fam_ci_suites(c, o, rng, name):
    """Regression suites in CI: a company-wide prompt suite library (the
    same templated prompts in five teams' CI keys), run on every merge and
    nightly, temperature 0 and a fixed seed, at machine pace."""
    suite_items = rng.sample(c.en, 60)
    tmpl = [
        "[suite:{s}] case {i}: {x}",
        "You are being tested. Respond to the following exactly as a production assistant would.\n\nInput: \"{x}\"",
        "Regression check #{i}. Prompt: {x}",
    ]
    teams = ["checkout", "search", "mobile", "growth", "support-tools"]
    for i in range(10):
        team = teams[i % len(teams)]
        k = o.key("ci-%s-%d" % (team, i + 1), team, rng.choice(["internal", "evaluation"]), name, "benign")
        ip = cloud_ip(rng)
        tz = rng.choice([-8, -5, 1])
        suite = rng.sample(suite_items, rng.randint(25, 45))
        for d in range(8):
            runs = []
            if is_weekday(d):
                runs += [local_day_start(d, tz) + int(rng.uniform(9, 19) * HOUR) for _ in range(rng.randint(3, 9))]
            runs.append(local_day_start(d, tz) + int(rng.uniform(1, 3) * HOUR))
            for st in runs:
                wt = [st + w * 50 for w in range(4)]
                for j, it in enumerate(suite):
                    w = min(range(4), key=lambda x: wt[x])
                    t = wt[w]
                    txt = tmpl[j % len(tmpl)].format(s=team, i=j + 1, x=it["text"])
                    ans = max(20, min(700, int(len(it["answer"].split()) * 1.33)))
                    o.req(t, k, ip, chat(MODELS_MAIN, [usr(txt)], temperature=0, seed=1234), False, ans)
                    wt[w] = t + latency_ms(rng, ans) + rng.randint(20, 150)


def fam_sharded_service(c, o, rng, name):
    """A consumer service whose traffic is round-robined over eight keys of
    one team (to stay within per-key limits): each user request lands on the
    next key, so the keys act in step; long answers, around the clock."""
    pool = list(c.en) + list(c.wikiq) + list(c.ae) + list(c.zh)
    for svc, tz, named in (("wanderly-travel-chat", -5, True), ("recipe-genie", 1, False)):
        keys = [o.key("%s-pool-%d" % (svc, j + 1), svc, "product", name, "benign") for j in range(8)]
        ips = [cloud_ip(rng) for _ in range(3)]
        times = diurnal_times(rng, tz, rng.uniform(520, 640), CONSUMER_CURVE, weekend_factor=1.2)
        rr = 0
        for t in times:
            it = rng.choice(pool)
            k = keys[rr % 8]
            rr += 1
            kw = {"user": uid(rng, "u_")} if named else {}
            o.req(t, k, rng.choice(ips), chat(MODELS_MAIN, [sysmsg("You are a helpful assistant for %s." % svc), usr(it["text"])],
                                            temperature=0.7, **kw), False, rng.randint(150, 800))


# --------------------------------------------------------------------------

FAMILIES = [
    ("rolling_window", "extraction", fam_rolling_window),
    ("tooldef_smuggle", "extraction", fam_tooldef_smuggle),
    ("assistant_brief", "extraction", fam_assistant_brief),
    ("grounded_artifacts", "extraction", fam_grounded_artifacts),
    ("cached_preamble", "extraction", fam_cached_preamble),
    ("hant_rationales", "extraction", fam_hant_rationales),
    ("agent_trajectories", "extraction", fam_agent_trajectories),
    ("bounded_eval_farm", "extraction", fam_bounded_eval_farm),
    ("free_chat_frontend", "extraction", fam_free_chat_frontend),
    ("section_slices", "extraction", fam_section_slices),
    ("support_longform", "benign", fam_support_longform),
    ("nightly_pipeline", "benign", fam_nightly_pipeline),
    ("coding_assistant", "benign", fam_coding_assistant),
    ("public_eval", "benign", fam_public_eval),
    ("labelling", "benign", fam_labelling),
    ("office_nat", "benign", fam_office_nat),
    ("tutoring", "benign", fam_tutoring),
    ("content_agency", "benign", fam_content_agency),
    ("rag_enterprise", "benign", fam_rag_enterprise),
    ("localization", "benign", fam_localization),
    ("ops_agents", "benign", fam_ops_agents),
    ("classroom", "benign", fam_classroom),
    ("ci_suites", "benign", fam_ci_suites),
    ("sharded_service", "benign", fam_sharded_service),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", help="comma-separated family names (for testing)")
    ap.add_argument("--stats", action="store_true", help="print per-family counts to stderr")
    a = ap.parse_args()
    t_start = time.time()
    c = Corpora()
    o = Out()
    only = set(a.only.split(",")) if a.only else None
    for fname, role, fn in FAMILIES:
        if only and fname not in only:
            continue
        nk = len(o.keys)
        fn(c, o, family_rng(a.seed, fname), fname)
        for kk in o.keys[nk:]:
            assert kk["workload"] == fname and kk["role"] == role
    o.reqs.sort(key=lambda r: (r[0], r[1]))
    with open(a.out, "w", encoding="utf-8") as f:
        f.write('{"keys": ')
        f.write(json.dumps(o.keys, ensure_ascii=False))
        f.write(',\n"requests": [\n')
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        first = True
        for (t, _, k, client, body, ext, ans) in o.reqs:
            if not first:
                f.write(",\n")
            first = False
            f.write(dumps({"t": t, "key": k, "client": client, "body": body, "extraction": ext, "answer_tokens": ans}))
        f.write("\n]}\n")
    if a.stats:
        per = {}
        for (t, _, k, client, body, ext, ans) in o.reqs:
            w = o.keys[k]["workload"]
            p = per.setdefault(w, [0, 0])
            p[0] += 1
        nk = {}
        for kk in o.keys:
            nk[kk["workload"]] = nk.get(kk["workload"], 0) + 1
        for fname, role, _ in FAMILIES:
            if fname in nk:
                print("%-20s %-10s keys %4d requests %7d" % (fname, role, nk[fname], per.get(fname, [0])[0]), file=sys.stderr)
        print("total keys %d requests %d in %.1f s" % (len(o.keys), len(o.reqs), time.time() - t_start), file=sys.stderr)


if __name__ == "__main__":
    main()
