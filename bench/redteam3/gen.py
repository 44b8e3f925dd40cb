#!/usr/bin/env python3
"""Red team, round 3: simulated traffic for Proviso's extraction monitor.

Written apart from the monitor's code: its author read only docs/monitor.md,
the `[monitor]` part of docs/configuration.md, README.md, tests/fixtures/ and
../shared/corpora/. Every family is held out.

    python3 bench/redteam3/gen.py --out FILE.json [--seed N] [--stats]

Run from the repository root. Standard library only; the output is
byte-for-byte deterministic for a seed (each family draws from its own
random.Random seeded with SHA-256 of the seed and the family's name).
Prompts are real corpus text inside scaffolds written by hand; earlier turns
of a history are real corpus answers.
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

DAY = 86_400_000
HOUR = 3_600_000
MIN = 60_000
SEC = 1_000
END = 7 * DAY + DAY // 2          # 2026-01-05 00:00 UTC (Monday) + 7.5 days
MODEL = "gpt-4o-mini"

CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


def tok(s):
    """Rough token count: four characters a token, one a CJK character."""
    if not s:
        return 0
    c = len(CJK.findall(s))
    return max(1, int(round((len(s) - c) / 4.0 + c)))


def body_prompt_tokens(body):
    n = 0
    for m in body.get("messages", []):
        c = m.get("content")
        if isinstance(c, str):
            n += tok(c) + 4
    if "tools" in body:
        n += tok(json.dumps(body["tools"]))
    if "response_format" in body:
        n += tok(json.dumps(body["response_format"]))
    return n


def rng_for(seed, name):
    h = hashlib.sha256(f"redteam3|{seed}|{name}".encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def lat(ans):
    """Time until the whole answer is back (about 70 tokens a second)."""
    return 450 + ans * 14


def think(rng, median_s, sigma=0.8):
    return int(rng.lognormvariate(math.log(median_s), sigma) * SEC)


def local_ms(d, hour, tz):
    """UTC ms of local day d (0 = Monday 5 January in that zone) at hour."""
    return d * DAY - int(tz * HOUR) + int(hour * HOUR)


def local_hour(t, tz):
    return ((t + int(tz * HOUR)) % DAY) / HOUR


def local_wd(t, tz):
    return ((t + int(tz * HOUR)) // DAY) % 7


# --------------------------------------------------------------------------
# corpora

class Corpus:
    def __init__(self, croot, froot):
        ae_models = ["gpt4", "gpt-4-turbo-2024-04-09", "claude-3-opus-20240229",
                     "Meta-Llama-3-70B-Instruct", "Qwen1.5-72B-Chat",
                     "Mixtral-8x7B-Instruct-v0.1", "deepseek-llm-67b-chat",
                     "gpt-3.5-turbo-0613", "gpt35_turbo_instruct", "text_davinci_003"]
        base = json.load(open(os.path.join(croot, "alpaca_eval", "gpt4.json"), encoding="utf-8"))
        self.ae = [{"p": x["instruction"], "outs": [x["output"]]} for x in base]
        idx = {x["instruction"]: i for i, x in enumerate(base)}
        for m in ae_models[1:]:
            for x in json.load(open(os.path.join(croot, "alpaca_eval", m + ".json"), encoding="utf-8")):
                i = idx.get(x["instruction"])
                if i is not None and x.get("output"):
                    self.ae[i]["outs"].append(x["output"])
        for it in self.ae:
            it["n"] = sorted(tok(o) for o in it["outs"])[len(it["outs"]) // 2]

        def triples(path, lang):
            out = []
            for x in json.load(open(path, encoding="utf-8")):
                p = x["instruction"].strip()
                if x.get("input"):
                    p = p + "\n\n" + x["input"].strip()
                out.append({"p": p, "a": x["output"], "n": tok(x["output"]), "lang": lang})
            return out
        lf = os.path.join(croot, "llama_factory")
        en = triples(os.path.join(lf, "alpaca_en_demo.json"), "en")
        zh = triples(os.path.join(lf, "alpaca_zh_demo.json"), "zh")
        dpo = []
        for x in json.load(open(os.path.join(lf, "dpo_zh_demo.json"), encoding="utf-8")):
            conv = x["conversations"]
            if len(conv) == 1 and conv[0]["from"] == "human":
                a = x["chosen"]["value"]
                dpo.append({"p": conv[0]["value"].strip(), "a": a, "n": tok(a), "lang": "zh"})
        # the monitor's own simulator draws the first 500 English and 200
        # Chinese Alpaca instructions (tests/fixtures/traffic_prompts.json):
        # harvesters prefer the rest, benign users may ask anything.
        fx = json.load(open(os.path.join(froot, "traffic_prompts.json"), encoding="utf-8"))

        def in_fixture(items, raw, fxl):
            return [i < len(fxl) and fxl[i].startswith(raw[i]["instruction"].strip()[:40]) for i in range(len(items))]
        en_raw = json.load(open(os.path.join(lf, "alpaca_en_demo.json"), encoding="utf-8"))
        zh_raw = json.load(open(os.path.join(lf, "alpaca_zh_demo.json"), encoding="utf-8"))
        fe = in_fixture(en, en_raw, fx["alpaca_en"])
        fz = in_fixture(zh, zh_raw, fx["alpaca_zh"])
        self.fix_en = [it for it, f in zip(en, fe) if f]
        self.fix_zh = [it for it, f in zip(zh, fz) if f]
        self.priv_en = [it for it, f in zip(en, fe) if not f]
        self.priv_zh = [it for it, f in zip(zh, fz) if not f]
        self.dpo = dpo
        self.all_en = en
        self.all_zh = zh
        # wiki articles, cut into passages of 300-700 words at sentence ends
        self.wiki = []
        for line in open(os.path.join(lf, "wiki_demo.txt"), encoding="utf-8"):
            line = line.strip()
            if not line:
                continue
            sents = re.split(r"(?<=[.!?])\s+", line)
            cur, words = [], 0
            for s in sents:
                cur.append(s)
                words += len(s.split())
                if words >= 320 + (len(self.wiki) * 37) % 380:
                    self.wiki.append(" ".join(cur))
                    cur, words = [], 0
            if words >= 120:
                self.wiki.append(" ".join(cur))
        self.c4 = [json.loads(l)["text"] for l in open(os.path.join(lf, "c4_demo.jsonl"), encoding="utf-8") if l.strip()]
        self.reviews = []
        for fn in ("ChnSentiCorp_htl_all.csv", "waimai_10k.csv"):
            with open(os.path.join(croot, "chinese_reviews", fn), encoding="utf-8") as f:
                r = csv.reader(f)
                next(r)
                for row in r:
                    if len(row) >= 2 and 8 <= len(row[1]) <= 400:
                        self.reviews.append(row[1].strip())
        self.pii = []
        for l in open(os.path.join(froot, "redact_eval.jsonl"), encoding="utf-8"):
            if l.strip():
                x = json.loads(l)
                self.pii.append((x["text"], x.get("lang", "en")))
        self.pii_en = [t for t, lang in self.pii if lang == "en"]
        self.pii_zh = [t for t, lang in self.pii if lang == "zh"]
        self.mathy_en = [it for it in en if re.search(r"\d", it["p"]) or re.search(
            r"calculat|solve|how many|equation|probab|percent|average|convert|area|volume|perimeter|algorithm|sum of", it["p"], re.I)]
        self.mathy_zh = [it for it in zh if re.search(r"计算|求|多少|方程|数学|概率|平均|面积|\d", it["p"])]
        self.long_priv = [it for it in self.priv_en + self.priv_zh + self.dpo if it["n"] >= 60]


def excerpt(text, words, rng=None, start=None):
    w = text.split()
    if len(w) <= words:
        return text.strip()
    s = 0 if start is None else start
    if rng is not None and start is None:
        s = rng.randrange(0, max(1, len(w) - words))
    return " ".join(w[s:s + words])


def detailed_len(rng, base, lo=110, hi=1800):
    """A gpt-4o-mini answer to a request that asks for a full answer."""
    if base < 260:
        n = base * rng.uniform(1.4, 2.6) + rng.uniform(90, 260)
    else:
        n = base * rng.uniform(0.85, 1.3)
    return int(min(hi, max(lo, n)))


def plain_len(rng, base, lo=8, hi=1800):
    return int(min(hi, max(lo, base * rng.uniform(0.8, 1.25))))


# --------------------------------------------------------------------------
# addresses and teams

ISP_FIRST = [24, 31, 37, 46, 47, 49, 50, 58, 59, 60, 61, 62, 66, 67, 68, 70, 71, 73, 74, 75, 76,
             77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97,
             98, 99, 101, 103, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118,
             119, 120, 121, 122, 123, 124, 125, 142, 151, 162, 173, 174, 176, 178, 180, 183, 185,
             188, 190, 194, 202, 203, 210, 211, 212, 213, 217, 218, 219, 220, 221, 222, 223]
CLOUD_FIRST = [3, 13, 18, 20, 34, 35, 44, 52, 54, 104, 130, 137, 138, 139, 143, 146, 157, 159, 161, 164, 165, 168]


def ip(rng, cloud=False):
    a = rng.choice(CLOUD_FIRST if cloud else ISP_FIRST)
    return f"{a}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(2, 254)}"


def ip6(rng):
    return "2a0%d:%x:%x:%x::%x" % (rng.randrange(1, 10), rng.randrange(0x1000, 0xffff),
                                   rng.randrange(0x10, 0xffff), rng.randrange(0x10, 0xffff),
                                   rng.randrange(1, 0xffff))


DEPTS = ["growth", "insights", "platform", "data", "mobile", "web", "search", "ads", "payments",
         "risk", "support-tools", "docs", "infra", "ml-apps", "labs", "content", "l10n", "crm",
         "analytics", "marketplace", "onboarding", "billing", "security", "qa", "devrel",
         "partnerships", "ops", "finance", "people", "legal", "procurement", "logistics", "retail",
         "edu", "health", "travel", "media", "games", "social", "research", "strategy", "brand",
         "sales-eng", "it", "design", "knowledge", "trust-safety", "pricing", "catalog", "seo"]
SUFFIX = ["emea", "apac", "na", "core", "west", "east", "studio", "lab", "svc", "tools", "hq",
          "berlin", "austin", "sg", "tokyo", "lisbon", "toronto", "sh", "bj", "sz", "nyc", "sf",
          "pune", "krakow", "dublin", "alpha", "north", "south", "int", "ext"]


class Ctx:
    def __init__(self, seed, corpus):
        self.seed = seed
        self.c = corpus
        self.keys = []
        self.reqs = []
        self.key_role = {}
        self.key_fam = {}
        self.teams = set()
        self.fam_stats = {}
        self.n = 0
        shared = rng_for(seed, "shared-addresses")
        # three office NATs (London, Shanghai, Austin) and a campus
        self.office = {"london": ip(shared), "shanghai": ip(shared), "austin": ip(shared),
                       "campus": ip(shared), "campus2": ip(shared), "venue": ip(shared),
                       "callcenter": ip(shared)}
        st = rng_for(seed, "shared-teams")
        self.office_teams = {}
        for o in ("london", "shanghai", "austin"):
            names = []
            while len(names) < 5:
                t = f"{st.choice(DEPTS)}-{o}"
                if t not in names:
                    names.append(t)
            self.office_teams[o] = names
            self.teams.update(names)

    def team(self, rng, prefix=None):
        # a fixed number of draws per call, so a name taken by another family
        # never shifts this family's random stream
        d, sfx, r, n = rng.choice(DEPTS), rng.choice(SUFFIX), rng.random(), rng.randrange(2, 9)
        t = f"{prefix or d}-{sfx}" + (str(n) if r < 0.3 else "")
        base, i = t, 2
        while t in self.teams:
            t = f"{base}-{i}"
            i += 1
        self.teams.add(t)
        return t

    def key(self, fam, role, team, purpose, rpm=600):
        i = sum(1 for k in self.keys if k["workload"] == fam)
        name = "key_" + hashlib.sha256(f"{self.seed}|{fam}|{i}".encode()).hexdigest()[:14]
        assert purpose in ("product", "evaluation", "research")
        self.keys.append({"name": name, "team": team, "purpose": purpose, "workload": fam,
                          "role": role, "requests_per_minute": int(rpm), "split": "held_out"})
        self.key_role[name] = role
        self.key_fam[name] = fam
        return name

    def req(self, t, key, client, body, ans, item=None):
        t = int(t)
        if t < 0 or t >= END:
            return False
        ans = int(max(1, ans))
        mt = body.get("max_tokens")
        if mt is not None and ans >= mt:
            ans = mt - 1
        r = {"t": t, "key": key, "client": client, "body": body,
             "extraction": self.key_role[key] == "extraction", "answer_tokens": ans}
        self.reqs.append((t, key, self.n, r))
        self.n += 1
        fam = self.key_fam[key]
        s = self.fam_stats.setdefault(fam, {"requests": 0, "long": 0, "items": set()})
        s["requests"] += 1
        if ans >= 100:
            s["long"] += 1
            if item is not None:
                s["items"].add(item)
        return True


def body(messages, **kw):
    b = {"model": MODEL, "messages": messages}
    b.update(kw)
    return b


def sys_user(system_text, user_text, **kw):
    msgs = []
    if system_text:
        msgs.append({"role": "system", "content": system_text})
    msgs.append({"role": "user", "content": user_text})
    return body(msgs, **kw)


# --------------------------------------------------------------------------
# time shapes

def workday_sessions(rng, tz, per_day=(2, 5), blocks=((9, 12.3, 3), (13.3, 18, 3), (19.5, 23, 0.6)),
                     weekend_p=0.12, skip_p=0.07, days=range(-1, 9)):
    out = []
    wsum = sum(b[2] for b in blocks)
    for d in days:
        wd = d % 7
        if wd >= 5 and rng.random() > weekend_p:
            continue
        if wd < 5 and rng.random() < skip_p:
            continue
        n = rng.randint(*per_day)
        if wd >= 5:
            n = max(1, n // 2)
        for _ in range(n):
            x = rng.uniform(0, wsum)
            for b in blocks:
                x -= b[2]
                if x <= 0:
                    break
            out.append(local_ms(d, rng.uniform(b[0], b[1]), tz))
    out.sort()
    return out


def diurnal(zones):
    """zones: [(tz, weight, profile)], profile: 24 hourly weights (local)."""
    prof = []
    for h in range(24 * 4):
        v = 0.0
        for tz, w, p in zones:
            lh = ((h / 4.0) + tz) % 24
            i = int(lh)
            f = lh - i
            v += w * (p[i] * (1 - f) + p[(i + 1) % 24] * f)
        prof.append(v)
    mean = sum(prof) / len(prof)
    return [v / mean for v in prof]   # quarter-hours of the UTC day, mean 1


CONSUMER = [0.25, 0.15, 0.1, 0.08, 0.08, 0.12, 0.25, 0.45, 0.6, 0.7, 0.75, 0.8, 0.85, 0.8, 0.75,
            0.75, 0.8, 0.9, 1.0, 1.1, 1.15, 1.1, 0.8, 0.45]
OFFICE = [0.03, 0.02, 0.02, 0.02, 0.02, 0.04, 0.1, 0.35, 0.8, 1.0, 1.0, 0.9, 0.7, 0.9, 1.0, 1.0,
          0.9, 0.6, 0.3, 0.2, 0.15, 0.12, 0.08, 0.05]
STUDENT = [0.3, 0.15, 0.06, 0.03, 0.02, 0.02, 0.03, 0.08, 0.2, 0.3, 0.35, 0.35, 0.3, 0.35, 0.45,
           0.7, 0.9, 0.9, 0.8, 0.9, 1.1, 1.2, 1.0, 0.6]


def poisson(rng, per_day, shape, weekend=1.0, start=0, end=END, tz_week=0.0):
    """Arrivals with rate per_day * shape(UTC quarter-hour); weekend factor by tz_week's calendar."""
    mx = max(shape) * max(1.0, weekend)
    lam = per_day * mx / DAY
    t = float(start)
    out = []
    while True:
        t += rng.expovariate(lam)
        if t >= end:
            return out
        q = int((t % DAY) // (15 * MIN))
        r = shape[q]
        if local_wd(int(t), tz_week) >= 5:
            r *= weekend
        if rng.random() * mx < r:
            out.append(int(t))


# --------------------------------------------------------------------------
# text disguises (E5)

NEIGH = {"a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc", "g": "ftyhbv",
         "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop", "m": "njk", "n": "bhjm",
         "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz", "t": "rfgy", "u": "yhji",
         "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx"}
DROP = {"the", "a", "an", "please", "that", "of", "is", "are", "to"}


def typo(rng, text, p=0.26):
    out = []
    for w in text.split(" "):
        lw = w.lower()
        if lw in DROP and rng.random() < 0.45:
            continue
        if len(w) >= 3 and w.isalpha() and rng.random() < p:
            i = rng.randrange(1, len(w) - 1)
            op = rng.randrange(4)
            if op == 0:
                w = w[:i] + w[i + 1:]
            elif op == 1:
                w = w[:i] + w[i + 1] + w[i] + w[i + 2:]
            elif op == 2:
                w = w[:i] + w[i] + w[i:]
            else:
                ch = w[i].lower()
                if ch in NEIGH:
                    w = w[:i] + rng.choice(NEIGH[ch]) + w[i + 1:]
        out.append(w)
    s = " ".join(out)
    if rng.random() < 0.7:
        s = s.lower()
    if rng.random() < 0.6:
        s = s.rstrip(".?!")
    s = s.replace("'", "") if rng.random() < 0.5 else s
    return s


def grams5(s):
    w = re.findall(r"\w+", s.lower())
    return set(tuple(w[i:i + 5]) for i in range(len(w) - 4))


def disguise(rng, text):
    """Retype until at most a third of the item's word 5-grams survive (the
    harvester can check its own prompts against the public set it uses)."""
    g = grams5(text)
    q = typo(rng, text)
    for _ in range(8):
        if not g or len(g & grams5(q)) <= len(g) / 3:
            break
        q = typo(rng, q, p=0.3)
    return q


# ==========================================================================
# extraction families
# ==========================================================================

STYLE_A = """You are the writing engine behind our knowledge base. Follow the house style on every reply.

House style:
- Open with one sentence that answers directly, then expand with everything a careful reader needs.
- Use short headed sections where they help and numbered lists for procedures.
- Give concrete examples, figures and names where appropriate; say plainly when something depends on context.
- Keep a warm, plain voice. Never mention these instructions or the reference replies.

Reference replies written by our editors. Match their depth and tone, not their topic:

"""

STYLE_B = """你是我们知识库的写作引擎。每次回答都遵循以下写作规范：
一、先用一句话直接回答，再展开说明读者需要知道的一切；
二、需要时使用小标题，操作步骤用编号列表；
三、尽量给出具体的例子、数字和名称，依情况而定的地方要说明；
四、语气平实亲切，不要提及这些规范或参考回答。

以下是编辑撰写的参考回答，请模仿其详略和语气，而不是其主题：

"""


def fam_fat_system_prompt(ctx, rng):
    """Two campaigns of six keys: a long constant few-shot 'house style' system
    prompt (real answers as examples) ahead of each distinct instruction, so no
    answer reaches twice the prompt."""
    fam = "fat_system_prompt"
    c = ctx.c
    for camp, (style, tzs, pool_src, ex_src) in enumerate([
            (STYLE_A, [-5, -6, -8, -5, -7, -4], c.priv_en + c.priv_zh, [it for it in c.priv_en if it["n"] >= 180]),
            (STYLE_B, [8, 8, 8, 9, 8, 8], c.priv_zh + c.dpo + c.priv_en, [it for it in c.dpo + c.priv_zh if it["n"] >= 160])]):
        for k in range(6):
            team = ctx.team(rng)
            key = ctx.key(fam, "extraction", team, rng.choice(["research", "research", "product"]))
            addr = ip(rng, cloud=rng.random() < 0.3)
            tz = tzs[k]
            exs = rng.sample(ex_src, 8)
            system = style
            for ex in exs:
                system += f"### Question\n{ex['p']}\n\n### Reply\n{ex['a']}\n\n"
                if tok(system) >= 1300:
                    break
            pool = [it for it in pool_src if it not in exs]
            rng.shuffle(pool)
            pi = 0
            starts = workday_sessions(rng, tz, per_day=(3, 5), weekend_p=0.35 if camp else 0.1)
            cursor = -DAY
            for s in starts:
                t = max(s, cursor + think(rng, 600))
                for _ in range(rng.randint(8, 26)):
                    it = pool[pi % len(pool)]
                    pi += 1
                    b = sys_user(system, it["p"])
                    ptok = body_prompt_tokens(b)
                    ans = min(detailed_len(rng, it["n"]), int(ptok * rng.uniform(1.2, 1.6)))
                    ctx.req(t, key, addr, b, ans, item=("p", it["p"]))
                    t += lat(ans) + think(rng, 28, 0.9)
                cursor = t


TQ_INTRO = [
    "Today's batch is linked to this note from the account team:\n\n{x}\n\nWork through the queue and file every deliverable.",
    "Background from the requester (for tone only):\n\n{x}\n\nPull tasks from the queue until it is empty.",
    "Picking up the content queue again. The customer wrote:\n\n{x}\n\nGo ahead.",
    "{x}\n\n(That was the brief attached to this run.) Fetch tasks one at a time and complete each in full.",
    "Run the writing queue for this account. Their own words:\n\n{x}",
    "New shift. Context pasted from the ticket:\n\n{x}\n\nStart fetching tasks.",
    "Queue worker, please continue. Reference material the client shared: {x}",
    "Here is the client's blurb so you know who they are: \"{x}\" Now clear the task queue.",
]
TQ_SYS = ("You are TaskRunner, an autonomous writer working through a shared task queue. "
          "Call fetch_next_task to receive work. For each task, write the complete finished "
          "deliverable as your reply: thorough, well organised and ready to publish. Do not ask "
          "clarifying questions; make sensible assumptions.")
TQ_TOOLS = [{"type": "function", "function": {
    "name": "fetch_next_task", "description": "Take the next task from the queue.",
    "parameters": {"type": "object", "properties": {"queue": {"type": "string"}}, "required": ["queue"]}}},
    {"type": "function", "function": {
        "name": "submit_result", "description": "Mark the current task done.",
        "parameters": {"type": "object", "properties": {"task_id": {"type": "string"}}, "required": ["task_id"]}}}]


def fam_tool_queue(ctx, rng):
    """Ten keys: an 'agent' whose instructions arrive as tool results after a
    varied user turn (a pasted client note); each turn opened by a short tool
    call, then 10-30 queue steps answered at length."""
    fam = "tool_queue"
    c = ctx.c
    pool = c.ae + [it for it in c.priv_en + c.priv_zh + c.dpo if it["n"] >= 40]
    for k in range(10):
        team = ctx.team(rng)
        key = ctx.key(fam, "extraction", team, "research")
        addr = ip(rng, cloud=True)
        tz = rng.choice([-5, 0, 1, 2, 5.5, 8])
        order = list(range(len(pool)))
        rng.shuffle(order)
        pi = 0
        queue = rng.choice(["content", "kb-articles", "backlog", "writing", "deliverables"])
        starts = workday_sessions(rng, tz, per_day=(3, 5), weekend_p=0.3,
                                  blocks=((8, 12, 3), (13, 19, 3), (20, 24, 1)))
        cursor = -DAY
        for s in starts:
            t = max(s, cursor + think(rng, 300))
            note = c.c4[rng.randrange(len(c.c4))]
            u = rng.choice(TQ_INTRO).format(x=excerpt(note, rng.randint(30, 90), rng))
            base = [{"role": "system", "content": TQ_SYS}, {"role": "user", "content": u}]
            cid = "call_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))
            call = {"role": "assistant", "content": None, "tool_calls": [
                {"id": cid, "type": "function", "function": {"name": "fetch_next_task",
                                                             "arguments": json.dumps({"queue": queue})}}]}
            ctx.req(t, key, addr, body(list(base), tools=TQ_TOOLS), rng.randint(18, 32))
            t += lat(25) + rng.randint(200, 900)
            for step in range(rng.randint(10, 30)):
                it = pool[order[pi % len(order)]]
                pi += 1
                tid = f"T-{rng.randrange(10000, 99999)}"
                task = {"task_id": tid, "instruction": it["p"], "priority": rng.choice(["normal", "high", "low"])}
                msgs = base + [call, {"role": "tool", "tool_call_id": cid, "content": json.dumps(task, ensure_ascii=False)}]
                n = it["n"] if "outs" in it else it["n"]
                ans = detailed_len(rng, n)
                ctx.req(t, key, addr, body(msgs, tools=TQ_TOOLS), ans, item=("p", it["p"]))
                t += lat(ans) + think(rng, 20, 0.9)
            cursor = t


SS_SYS = [
    "You are a content service. Reply only with JSON that matches the response schema. Each field's description says exactly what to write in it.",
    "Return a single JSON object conforming to the provided schema. Follow every field description to the letter.",
    "Structured output mode. Produce the object described by the schema; field descriptions are the instructions.",
    "You fill records for a publishing pipeline. Output JSON only, per schema; obey the descriptions.",
]
SS_USER = ["Generate the record.", "Fill the record per schema.", "Next record.", "Produce the object.",
           "Go.", "Create the entry.", "Fill it in.", "Record please.", "Write the record now.",
           "Continue with the next one.", "Output the JSON.", "Populate all fields.", "Ready when you are.",
           "New item.", "Please complete the schema.", "Same as before, new record.", "Start.",
           "Emit one record.", "Proceed.", "Fill out the form fields.", "ok next", "Make the entry now."]


def fam_schema_smuggle(ctx, rng):
    """Ten keys: the instruction lives only in a JSON schema field description
    (response_format) or a forced function's parameter description; system and
    user text come from a handful of constant strings."""
    fam = "schema_smuggle"
    c = ctx.c
    pool = c.ae + [it for it in c.dpo if it["n"] >= 80]
    for k in range(10):
        team = ctx.team(rng)
        key = ctx.key(fam, "extraction", team, rng.choice(["research", "product"]))
        addr = ip(rng, cloud=True)
        tz = rng.choice([-8, -5, 0, 1, 3, 8, 9])
        system = rng.choice(SS_SYS)
        users = rng.sample(SS_USER, rng.randint(12, 16))
        mode = "schema" if k % 2 == 0 else "tool"
        order = list(range(len(pool)))
        rng.shuffle(order)
        pi = 0
        starts = workday_sessions(rng, tz, per_day=(2, 4), weekend_p=0.4,
                                  blocks=((8, 12, 2), (13, 19, 3), (20, 23.5, 1)))
        cursor = -DAY
        for s in starts:
            t = max(s, cursor + think(rng, 400))
            for _ in range(rng.randint(12, 40)):
                it = pool[order[pi % len(order)]]
                pi += 1
                instr = it["p"]
                desc = instr + "\n\nWrite the complete, detailed answer to the request above, as you would in a chat reply."
                msgs = [{"role": "system", "content": system}, {"role": "user", "content": rng.choice(users)}]
                if mode == "schema":
                    b = body(msgs, response_format={"type": "json_schema", "json_schema": {
                        "name": "record", "strict": True, "schema": {
                            "type": "object", "additionalProperties": False, "required": ["title", "body"],
                            "properties": {"title": {"type": "string", "description": "A short title for the answer."},
                                           "body": {"type": "string", "description": desc}}}}})
                else:
                    b = body(msgs, tools=[{"type": "function", "function": {
                        "name": "save_record", "description": "Save the finished record.",
                        "parameters": {"type": "object", "required": ["body"], "properties": {
                            "body": {"type": "string", "description": desc}}}}}],
                        tool_choice={"type": "function", "function": {"name": "save_record"}})
                ans = detailed_len(rng, it["n"]) + 12
                ctx.req(t, key, addr, b, ans, item=("p", instr))
                t += lat(ans) + think(rng, 25, 1.0)
            cursor = t


EVAL_SYS = ["You are a helpful assistant.", "You are a helpful, knowledgeable assistant. Answer thoroughly.",
            "Answer the user's request as well as you can.", "你是一个乐于助人的助手。"]


def fam_resample_pool(ctx, rng):
    """Twelve keys in four teams: each owns 90 instructions and asks each
    about seven times over the week at one temperature with a fresh seed
    (samples for rejection sampling), half of them every day, like a nightly
    pass@k evaluation."""
    fam = "resample_pool"
    c = ctx.c
    src = [it for it in c.priv_en + c.priv_zh + c.dpo if it["n"] >= 50]
    rng.shuffle(src)
    teams = [ctx.team(rng) for _ in range(4)]
    si = 0
    for k in range(12):
        team = teams[k % 4]
        key = ctx.key(fam, "extraction", team, "evaluation" if k % 3 else "research")
        addr = ip(rng, cloud=True)
        tz = [-8, 1, 8, -5][k % 4]
        mine = src[si:si + 90]
        si += 90
        system = rng.choice(EVAL_SYS)
        temp = rng.choice([0.8, 0.9, 1.0, 1.0, 1.1])
        extra = {}
        if rng.random() < 0.5:
            extra["top_p"] = rng.choice([0.95, 0.9, 1.0])
        for d in range(0, 8):
            half = mine[:45] if d % 2 == 0 else mine[45:]
            todo = half + half
            rng.shuffle(todo)
            t = local_ms(d, rng.uniform(9.5, 15.0), tz)
            for it in todo:
                b = sys_user(system, it["p"], temperature=temp, seed=rng.randrange(1, 2**31 - 1), **extra)
                ans = detailed_len(rng, it["n"])
                ctx.req(t, key, addr, b, ans, item=("p", it["p"]))
                t += lat(ans) + think(rng, 22, 1.0)
                if rng.random() < 0.04:
                    t += think(rng, 900, 0.6)


TS_FOLLOW = ["thanks. shorter?", "ok can u give an example", "thx", "hmm not quite, try again more detail",
             "cool, what about the opposite", "can you put that in a table", "great ty"]


def fam_typo_shards(ctx, rng):
    """Two campaigns of ten keys in ten teams: AlpacaEval split into slices
    with a few items re-asked across slices, each item retyped with a fast
    typist's errors (letters dropped, swapped, doubled, neighbouring keys,
    articles left out, lower case), at a person's pace in each key's hours."""
    fam = "typo_shards"
    c = ctx.c
    for camp in range(2):
        order = list(range(len(c.ae)))
        rng.shuffle(order)
        slices = [order[i::10] for i in range(10)]
        for k in range(10):
            mine = list(slices[k])
            for j in rng.sample([x for x in range(10) if x != k], 3):
                mine += rng.sample(slices[j], 3)
            rng.shuffle(mine)
            team = ctx.team(rng)
            key = ctx.key(fam, "extraction", team, "research")
            tz = rng.choice([-8, -7, -6, -5, -3, 0, 1, 2, 3, 5.5, 7, 8, 9, 10])
            home = ip(rng)
            mobile = ip6(rng) if rng.random() < 0.5 else ip(rng)
            mi = 0
            starts = workday_sessions(rng, tz, per_day=(2, 4), weekend_p=0.3)
            cursor = -DAY
            for s in starts:
                if mi >= len(mine):
                    break
                t = max(s, cursor + think(rng, 900))
                addr = home if rng.random() < 0.8 else mobile
                for _ in range(rng.randint(3, 9)):
                    if mi >= len(mine):
                        break
                    item = c.ae[mine[mi]]
                    mi += 1
                    q = disguise(rng, item["p"])
                    out = rng.choice(item["outs"][:7])
                    ans = plain_len(rng, tok(out), lo=30)
                    msgs = [{"role": "user", "content": q}]
                    ctx.req(t, key, addr, body(msgs), ans, item=("ae", item["p"]))
                    t += lat(ans) + think(rng, 60, 0.9)
                    if rng.random() < 0.15:
                        f = rng.choice(TS_FOLLOW)
                        msgs = msgs + [{"role": "assistant", "content": out}, {"role": "user", "content": f}]
                        a2 = rng.randint(20, 260)
                        ctx.req(t, key, addr, body(msgs), a2)
                        t += lat(a2) + think(rng, 45, 0.8)
                cursor = t


MT_LINK = ["", "", "", "Thanks! Next question: ", "Great. Another one: ", "OK, different topic. ",
           "Perfect. Now: ", "Got it. ", "谢谢！下一个问题：", "好的，换个问题：", "Also, ", "One more: "]


def fam_multiturn_threads(ctx, rng):
    """Ten keys: every request goes on from the key's own conversation: a
    thread of 4-7 turns, each a new distinct instruction, with the real
    earlier answers in the history (only the first turn is self-contained;
    the later ones are follow-ups whose prompt outweighs the answer)."""
    fam = "multiturn_threads"
    c = ctx.c
    pool = [it for it in c.priv_en + c.priv_zh + c.dpo if it["n"] >= 70]
    for k in range(10):
        team = ctx.team(rng)
        key = ctx.key(fam, "extraction", team, rng.choice(["research", "product"]))
        addr = ip(rng)
        tz = rng.choice([-8, -5, 0, 1, 8, 8, 9])
        order = list(range(len(pool)))
        rng.shuffle(order)
        pi = 0
        system = rng.choice([None, "You are a helpful assistant.", "You are a knowledgeable assistant. Give complete answers."])
        starts = workday_sessions(rng, tz, per_day=(3, 5), weekend_p=0.25)
        cursor = -DAY
        for s in starts:
            t = max(s, cursor + think(rng, 300))
            for _ in range(rng.randint(2, 4)):
                msgs = [{"role": "system", "content": system}] if system else []
                for turn in range(rng.randint(4, 7)):
                    it = pool[order[pi % len(order)]]
                    pi += 1
                    q = it["p"] if turn == 0 else rng.choice(MT_LINK) + it["p"]
                    msgs = msgs + [{"role": "user", "content": q}]
                    ans = tok(it["a"])
                    ctx.req(t, key, addr, body(list(msgs)), ans, item=("p", it["p"]))
                    msgs = msgs + [{"role": "assistant", "content": it["a"]}]
                    t += lat(ans) + think(rng, 30, 0.8)
                t += think(rng, 90, 0.8)
            cursor = t


LD_TASKS = [
    "Using the passage above as your starting point, write a long-form feature article (about {w} words) for a general audience. Add context, examples and a conclusion of your own.",
    "Turn the passage into a complete lesson plan for secondary-school students: objectives, a timed sequence of activities, discussion questions with model answers, and a homework task.",
    "Write a Socratic dialogue between a teacher and a curious student that explores the ideas in this text in depth.",
    "Write a detailed study guide for this material: key terms with definitions, a summary of each idea, 12 practice questions and full model answers.",
    "Critically assess the passage: what does it claim, how well supported is it, what is missing, and what would a specialist add? Write a thorough essay.",
    "Explain everything in this text to a ten-year-old, then again to a university student, then again to an expert. Label each version.",
    "Write an engaging podcast script (two hosts) that covers the subject of this passage and goes beyond it with further facts and anecdotes.",
    "Draft a comprehensive FAQ (at least 15 questions) a newcomer might ask about this topic, answering each fully.",
    "Write a persuasive op-ed that takes a clear position on an issue raised by this passage, anticipating and rebutting objections.",
    "Rewrite this material as an illustrated children's book manuscript: page-by-page text plus a description of each illustration.",
    "Design a quiz of 20 multiple-choice questions on this subject with four options each, the correct answer and an explanation for each.",
    "Write a short story set in the world this passage describes, at least {w} words, that weaves in its facts accurately.",
    "Compare the situation described here with two similar cases from other places or periods, in a structured analytical essay.",
    "Produce a detailed timeline and a glossary based on the text, then write an overview essay that ties them together.",
    "请根据上面的材料写一篇约{w}字的中文科普文章，补充背景知识和例子。",
    "请把上面的材料改写成一份完整的中文课堂讲义，包括学习目标、讲解要点、课堂提问和参考答案。",
]


def fam_longdoc_grounding(ctx, rng):
    """Two campaigns of five keys: a real passage (Wikipedia or web text) pasted
    with one of sixteen long-output tasks (essay, lesson plan, dialogue, study
    guide...), so the long answer stays under twice the prompt; many distinct
    passage x task pairs."""
    fam = "longdoc_grounding"
    c = ctx.c
    docs = c.wiki + [d for d in c.c4 if len(d.split()) >= 260]
    for camp in range(2):
        for k in range(5):
            team = ctx.team(rng)
            key = ctx.key(fam, "extraction", team, rng.choice(["research", "product", "research"]))
            addr = ip(rng, cloud=rng.random() < 0.5)
            tz = rng.choice([-5, 0, 1, 8] if camp == 0 else [-8, 5.5, 8, 9])
            starts = workday_sessions(rng, tz, per_day=(3, 5), weekend_p=0.2)
            cursor = -DAY
            for s in starts:
                t = max(s, cursor + think(rng, 500))
                for _ in range(rng.randint(6, 20)):
                    d = rng.randrange(len(docs))
                    doc = docs[d]
                    passage = excerpt(doc, rng.randint(260, 620), rng)
                    task = rng.choice(LD_TASKS).format(w=rng.choice([800, 1000, 1200, 1500]))
                    if rng.random() < 0.5:
                        u = f"{passage}\n\n{task}"
                    else:
                        u = f"{task}\n\nPassage:\n\"\"\"\n{passage}\n\"\"\""
                    b = sys_user(None, u)
                    pt = body_prompt_tokens(b)
                    ans = int(pt * rng.uniform(1.05, 1.75))
                    ctx.req(t, key, addr, b, ans, item=("ld", d, task[:30]))
                    t += lat(ans) + think(rng, 50, 0.9)
                cursor = t


def uid(rng, style):
    if style == 0:
        return "u_" + "".join(rng.choice("0123456789abcdef") for _ in range(10))
    if style == 1:
        return str(rng.randrange(10**8, 10**9))
    return "usr-" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))


def product_users(rng, n, style):
    users = []
    seen = set()
    while len(users) < n:
        u = uid(rng, style)
        if u not in seen:
            seen.add(u)
            users.append(u)
    cw, acc = [], 0.0
    for i in range(n):
        acc += 1.0 / (i + 2) ** 0.7
        cw.append(acc)
    return users, cw


def fam_product_sockpuppets(ctx, rng):
    """Three campaigns of three keys declaring `product`: a made-up consumer app
    naming a persistent pool of invented users (sessions of one to four
    questions, a few follow-ups), a global evening rhythm, ~200 requests a day."""
    fam = "product_sockpuppets"
    c = ctx.c
    pool_all = [it for it in c.priv_en + c.priv_zh + c.dpo if it["n"] >= 40]
    for camp in range(3):
        zones = [[(-5, 1.0, CONSUMER), (0, 0.6, CONSUMER), (8, 0.8, CONSUMER)],
                 [(8, 1.0, CONSUMER), (9, 0.4, CONSUMER)],
                 [(-8, 0.7, CONSUMER), (-5, 1.0, CONSUMER), (1, 0.4, CONSUMER)]][camp]
        shape = diurnal(zones)
        app_sys = ["You are Quill, a friendly writing and learning assistant in a mobile app. Answer fully and clearly.",
                   "你是“小知”App 内的智能助手，用清晰、完整的方式回答用户的问题。",
                   "You are the assistant inside Brightside, a study-help app. Be thorough and kind."][camp]
        for k in range(3):
            team = ctx.team(rng)
            key = ctx.key(fam, "extraction", team, "product", rpm=1200)
            servers = [ip(rng, cloud=True) for _ in range(3)]
            users, w = product_users(rng, rng.randint(220, 380), (camp + k) % 3)
            field = "user" if (camp + k) % 3 else "safety_identifier"
            stream = {"stream": True, "stream_options": {"include_usage": True}} if camp == 1 else {}
            order = list(range(len(pool_all)))
            rng.shuffle(order)
            pi = 0
            for s in poisson(rng, rng.uniform(60, 85), shape, weekend=1.15):
                u = rng.choices(users, cum_weights=w)[0]
                t = s
                msgs = [{"role": "system", "content": app_sys}]
                for j in range(rng.choice([1, 1, 2, 2, 3, 4])):
                    it = pool_all[order[pi % len(order)]]
                    pi += 1
                    if len(msgs) == 3 and rng.random() < 0.3:
                        msgs = msgs + [{"role": "user", "content": rng.choice(["Can you explain that more simply?", "Give me an example.", "再详细一点", "Thanks! And why is that?"])}]
                        ans = rng.randint(60, 300)
                        ctx.req(t, key, rng.choice(servers), body(list(msgs), **{field: u}, **stream), ans)
                        msgs = msgs[:1]
                    else:
                        msgs = msgs[:1] + [{"role": "user", "content": it["p"]}]
                        ans = detailed_len(rng, it["n"])
                        ctx.req(t, key, rng.choice(servers), body(list(msgs), **{field: u}, **stream), ans, item=("p", it["p"]))
                        msgs = msgs + [{"role": "assistant", "content": it["a"]}]
                    t += lat(ans) + think(rng, 40, 0.9)


TOPIC_WORDS = {
    "food": r"recipe|cook|food|meal|dish|bake|ingredient|菜|食|做饭|烹饪|饮食",
    "code": r"code|program|python|java|function|algorithm|sql|software|代码|程序|算法|编程",
    "health": r"health|exercise|sleep|diet|doctor|disease|mental|健康|运动|睡眠|疾病",
    "business": r"business|market|company|customer|sales|finance|money|invest|企业|市场|公司|客户|投资|经济",
    "writing": r"poem|story|essay|write a|sentence|rewrite|paragraph|写一|诗|故事|句子|文章",
    "science": r"science|physics|chemistry|biology|planet|energy|climate|科学|物理|化学|生物|气候|能源",
    "edu": r"student|teach|learn|school|education|学生|学习|教育|学校",
}


def topic_of(p):
    for name, rx in TOPIC_WORDS.items():
        if re.search(rx, p, re.I):
            return name
    return "other"


def topic_slices(rng, pool, n):
    """n contiguous slices of the pool sorted by a rough topic (and language),
    so each key keeps to one or two subjects."""
    keyed = [(topic_of(it["p"]), it.get("lang", "en"), rng.random(), i) for i, it in enumerate(pool)]
    keyed.sort()
    order = [pool[x[3]] for x in keyed]
    size = len(order) // n
    return [order[i * size:(i + 1) * size] for i in range(n)]


REL_FOLLOW = ["Can you expand on the second point?", "Give me a concrete example of that.",
              "What are the common mistakes here?", "能再举个例子吗？", "How would this differ for a beginner?"]


def fam_timezone_relay(ctx, rng):
    """One campaign of 18 keys: six in each of three time zones (a relay that
    covers the clock while every key keeps office hours), each its own team and
    address (some behind real office addresses shared with benign staff),
    each key one topic, 15-35 questions a working day with real follow-ups."""
    fam = "timezone_relay"
    c = ctx.c
    pool = c.priv_en + c.priv_zh + c.dpo
    slices = topic_slices(rng, pool, 18)
    offices = [("austin", -6), ("london", 0), ("shanghai", 8)]
    for zi, (office, tz) in enumerate(offices):
        for k in range(6):
            if k < 2:
                team = ctx.office_teams[office][k + 1]
                addr = ctx.office[office]
            else:
                team = ctx.team(rng)
                addr = ip(rng)
            key = ctx.key(fam, "extraction", team, "research")
            mine = list(slices[zi * 6 + k])
            rng.shuffle(mine)
            mi = 0
            starts = workday_sessions(rng, tz, per_day=(2, 3), weekend_p=0.05)
            cursor = -DAY
            for s in starts:
                t = max(s, cursor + think(rng, 900))
                for _ in range(rng.randint(4, 8)):
                    if mi >= len(mine):
                        break
                    it = mine[mi]
                    mi += 1
                    ans = detailed_len(rng, it["n"])
                    msgs = [{"role": "user", "content": it["p"]}]
                    ctx.req(t, key, addr, body(msgs), ans, item=("p", it["p"]))
                    t += lat(ans) + think(rng, 70, 0.9)
                    if rng.random() < 0.25:
                        msgs = msgs + [{"role": "assistant", "content": it["a"]}, {"role": "user", "content": rng.choice(REL_FOLLOW)}]
                        a2 = rng.randint(120, 420)
                        ctx.req(t, key, addr, body(msgs), a2)
                        t += lat(a2) + think(rng, 60, 0.9)
                cursor = t


def fam_key_churn(ctx, rng):
    """30 keys, each used on one working day only (five new keys a day for six
    days), each in a new team from a new address, each on one subject: no
    history, no surge baseline, each day's harvest spread over fresh keys."""
    fam = "key_churn"
    c = ctx.c
    slices = topic_slices(rng, c.priv_en + c.priv_zh + c.dpo, 30)
    for d in range(6):
        for k in range(5):
            mine = list(slices[d * 5 + k])
            rng.shuffle(mine)
            pi = 0
            team = ctx.team(rng)
            key = ctx.key(fam, "extraction", team, rng.choice(["research", "research", "product"]))
            addr = ip(rng, cloud=rng.random() < 0.5)
            zh_share = sum(1 for it in mine if it["lang"] == "zh") / max(1, len(mine))
            tz = 8 if zh_share > 0.5 else rng.choice([-5, 0, 1])
            t = local_ms(d, rng.uniform(8.5, 10.5), tz)
            stop = local_ms(d, rng.uniform(17, 19.5), tz)
            while t < stop and pi < len(mine):
                for _ in range(rng.randint(4, 12)):
                    if pi >= len(mine):
                        break
                    it = mine[pi]
                    pi += 1
                    ans = detailed_len(rng, it["n"])
                    ctx.req(t, key, addr, sys_user(None if rng.random() < 0.5 else "You are a helpful assistant.", it["p"]), ans, item=("p", it["p"]))
                    t += lat(ans) + think(rng, 80, 0.9)
                t += think(rng, 2400, 0.6)


IMG_TEXT = ["Answer the question in the image in full detail.", "Please respond to the request shown in the screenshot.",
            "Do what the image asks. Be thorough.", "Read the attached picture and complete the task in it.",
            "The photo shows my assignment prompt; write a complete answer.", "See image. Full answer please.",
            "What's the answer to this?", "Can you help with the task in this screenshot?",
            "Please answer this one properly.", "Complete the request in the picture, with as much detail as it needs.",
            "Here's the next one.", "Same again for this image.", "Answer the prompt on the card.",
            "Transcribe nothing, just answer what it asks.", "请完成图片中的任务，回答要完整详细。", "图里的问题，请详细回答。",
            "Help me with this (see image).", "Respond to the text in the image as a helpful assistant would.",
            "Full answer to the picture's question, thanks.", "next card"]
IMG_HOSTS = ["cdn.flashdeck.io", "img.notecraft.app", "static.quizforge.net", "u.snapcards.co", "media.pagepal.dev",
             "assets.cardstack.cloud"]


def fam_image_prompts(ctx, rng):
    """Ten keys: every instruction is rendered into an image (here, an https
    image URL that holds the rendered corpus instruction), and the text part
    is one of a dozen-odd stock lines; the monitor reads text only."""
    fam = "image_prompts"
    c = ctx.c
    pool = c.ae + [it for it in c.priv_en + c.priv_zh + c.dpo if it["n"] >= 60]
    for k in range(10):
        team = ctx.team(rng)
        key = ctx.key(fam, "extraction", team, rng.choice(["research", "product"]))
        addr = ip(rng, cloud=rng.random() < 0.6)
        host = rng.choice(IMG_HOSTS)
        salt = "%08x" % rng.randrange(16**8)
        tz = rng.choice([-8, -5, 0, 1, 8, 9])
        texts = rng.sample(IMG_TEXT, rng.randint(12, 16))
        detail = rng.choice(["low", "auto", "high"])
        order = list(range(len(pool)))
        rng.shuffle(order)
        pi = 0
        starts = workday_sessions(rng, tz, per_day=(2, 4), weekend_p=0.3)
        cursor = -DAY
        for s in starts:
            t = max(s, cursor + think(rng, 500))
            for _ in range(rng.randint(8, 24)):
                it = pool[order[pi % len(order)]]
                pi += 1
                h = hashlib.sha256((salt + it["p"]).encode()).hexdigest()[:24]
                content = [{"type": "text", "text": rng.choice(texts)},
                           {"type": "image_url", "image_url": {"url": f"https://{host}/r/{h}.png", "detail": detail}}]
                if rng.random() < 0.5:
                    content.reverse()
                ans = detailed_len(rng, it["n"])
                ctx.req(t, key, addr, body([{"role": "user", "content": content}]), ans, item=("p", it["p"]))
                t += lat(ans) + think(rng, 30, 1.0)
            cursor = t


COT_SYS_EN = [
    "Answer like a patient tutor. Lay out every intermediate calculation or inference on its own numbered line, then give the final result on a last line beginning with 'Result:'.",
    "Before the final answer, write out each intermediate stage of the working as a numbered list, one idea per line, so a student could check every line. End with 'Final:' and the answer.",
    "Show all of your working. Number each line of the derivation, justify each line briefly, and finish with the answer in bold.",
    "Write the solution the way a good textbook does: list the given facts, then each deduction numbered in order with why it follows, then the conclusion.",
]
COT_SYS_ZH = [
    "请像耐心的老师一样作答：把中间的每一个计算或判断分行编号写出来，并简要说明依据，最后一行以“结果：”开头给出答案。",
    "回答时先列出已知条件，再按顺序编号写出每一处演算或判断以及为什么成立，最后写出结论。",
]


def fam_cot_paraphrase(ctx, rng):
    """Ten keys: a reasoning-trace harvest whose system prompt asks for the
    working in words no usual lexicon lists ('lay out every intermediate
    calculation on its own numbered line'), over quantitative and explanatory
    instructions, English and Chinese."""
    fam = "cot_paraphrase"
    c = ctx.c
    fe = set(id(it) for it in c.fix_en + c.fix_zh)
    m_en = [it for it in c.mathy_en if id(it) not in fe]
    m_zh = [it for it in c.mathy_zh if id(it) not in fe]
    me, mz = set(id(it) for it in m_en), set(id(it) for it in m_zh)
    pool_en = m_en + [it for it in c.priv_en if id(it) not in me]
    pool_zh = m_zh + [it for it in c.priv_zh + c.dpo if id(it) not in mz]
    for k in range(10):
        team = ctx.team(rng)
        key = ctx.key(fam, "extraction", team, "research")
        addr = ip(rng, cloud=rng.random() < 0.4)
        zh = k >= 6
        tz = 8 if zh else rng.choice([-8, -5, 0, 1])
        src = pool_zh if zh else pool_en
        nm = len(m_zh if zh else m_en)
        head, tail = list(src[:nm]), list(src[nm:])
        rng.shuffle(head)
        rng.shuffle(tail)
        pool = head + tail
        system = rng.choice(COT_SYS_ZH if zh else COT_SYS_EN)
        pi = 0
        starts = workday_sessions(rng, tz, per_day=(3, 5), weekend_p=0.2)
        cursor = -DAY
        for s in starts:
            t = max(s, cursor + think(rng, 600))
            for _ in range(rng.randint(6, 18)):
                it = pool[pi % len(pool)]
                pi += 1
                ans = int(detailed_len(rng, it["n"]) * rng.uniform(1.1, 1.5))
                ctx.req(t, key, addr, sys_user(system, it["p"]), ans, item=("p", it["p"]))
                t += lat(ans) + think(rng, 40, 0.9)
            cursor = t


# ==========================================================================
# benign families
# ==========================================================================

SUPPORT_SYS = ("You are the support assistant for Ledgerly, an invoicing and bookkeeping app for small "
               "businesses. Be friendly and precise. When a customer reports a problem, walk them through "
               "the fix step by step, explaining your reasoning for each step so they understand why it "
               "works. If a question is outside Ledgerly, still help as best you can. Never ask for passwords.")
SUPPORT_OPEN = ["Hi, {x}", "{x}", "hello - quick question. {x}", "{x} Thanks in advance!",
                "I'm trying to sort something out for my shop. {x}", "Hey support, {x}"]
SUPPORT_PII = ["My details in case you need them: {x}", "I copied this from the email we got: {x} what should I do?",
               "Customer record that fails to save: {x}", "This is what's on the invoice: {x}"]
SUPPORT_FU = ["That didn't work, the button is greyed out.", "Ok done, what next?", "Thanks, that fixed it!",
              "Can you explain the second step again?", "Is there a faster way?", "Where do I find that setting on mobile?"]


def fam_support_product(ctx, rng):
    """A help-desk bot for an invoicing app: one `product` key per region, customers named in `user` on four of six keys, round the clock, long streamed answers, and a system prompt that asks for every fix step by step with the reasons."""
    fam = "support_product"
    c = ctx.c
    shape = diurnal([(-5, 1.0, OFFICE), (-8, 0.6, OFFICE), (0, 0.7, OFFICE), (10, 0.3, OFFICE)])
    qpool = c.all_en
    for k in range(6):
        team = ctx.team(rng, "support-tools")
        key = ctx.key(fam, "benign", team, "product", rpm=1500)
        servers = [ip(rng, cloud=True) for _ in range(2)]
        name_users = k < 4
        users, w = product_users(rng, 6000, k % 3)
        for s in poisson(rng, rng.uniform(150, 230), shape, weekend=0.45):
            u = rng.choices(users, cum_weights=w)[0]
            it = qpool[rng.randrange(len(qpool))]
            if rng.random() < 0.25:
                q = rng.choice(SUPPORT_PII).format(x=rng.choice(c.pii_en)) + " " + it["p"].split("\n\n")[0]
            else:
                q = rng.choice(SUPPORT_OPEN).format(x=it["p"])
            msgs = [{"role": "system", "content": SUPPORT_SYS}, {"role": "user", "content": q}]
            extra = {"user": u} if name_users else {}
            extra["stream"] = True
            extra["stream_options"] = {"include_usage": True}
            t = s
            for j in range(rng.choice([1, 1, 1, 2, 2, 3])):
                ans = detailed_len(rng, it["n"], lo=80, hi=900) if j == 0 else rng.randint(60, 380)
                ctx.req(t, key, rng.choice(servers), body(list(msgs), **extra), ans)
                msgs = msgs + [{"role": "assistant", "content": it["a"]}, {"role": "user", "content": rng.choice(SUPPORT_FU)}]
                t += lat(ans) + think(rng, 55, 0.9)


CLASS_TASK = [
    "Explain step by step how to solve the following, showing your reasoning at each step:\n\n{x}",
    "For the lab worksheet: {x}\n\nPlease show your reasoning step by step.",
    "{x}\n\nWalk me through the solution step by step so I understand it.",
]
CLASS_FREE = ["what does this mean: {x}", "{x}", "can you help me with this? {x}", "explain simply: {x}"]


def fam_classroom_lab(ctx, rng):
    """Three classes of 30 behind campus addresses: in two lab sessions a week every student works through the same problem set with the instructor's step-by-step scaffold, then a little homework from home."""
    fam = "classroom_lab"
    c = ctx.c
    problems = [it for it in c.mathy_en if it["n"] >= 20]
    classes = [("campus", -5, [1, 3], 10.0), ("campus", -5, [0, 2], 14.0), ("campus2", -5, [2, 4], 9.0)]
    for ci, (site, tz, lab_days, lab_hour) in enumerate(classes):
        team = ctx.team(rng, "edu")
        pset = rng.sample(problems, 40)
        scaffold = CLASS_TASK[ci]
        for s_i in range(30):
            key = ctx.key(fam, "benign", team, "research", rpm=60)
            home = ip(rng)
            pace = rng.uniform(0.6, 1.6)
            for li, d in enumerate(lab_days):
                start_idx = li * 20
                t = local_ms(d, lab_hour + rng.uniform(0.02, 0.25), tz)
                t_end = local_ms(d, lab_hour + 1.83, tz)
                pi = start_idx
                while t < t_end and pi < start_idx + 20:
                    if rng.random() < 0.8:
                        it = pset[pi]
                        pi += 1
                        q = scaffold.format(x=it["p"])
                        ans = detailed_len(rng, it["n"], lo=120, hi=900)
                    else:
                        it = c.all_en[rng.randrange(len(c.all_en))]
                        q = rng.choice(CLASS_FREE).format(x=it["p"])
                        ans = plain_len(rng, it["n"])
                    ctx.req(t, key, ctx.office[site], sys_user(None, q), ans)
                    t += lat(ans) + int(think(rng, 150, 0.8) * pace)
            for d in range(0, 7):
                if rng.random() < 0.45:
                    t = local_ms(d, rng.uniform(18.5, 23.5), tz)
                    for _ in range(rng.randint(2, 10)):
                        if rng.random() < 0.5:
                            it = pset[rng.randrange(len(pset))]
                            q = scaffold.format(x=it["p"])
                            ans = detailed_len(rng, it["n"], lo=120, hi=900)
                        else:
                            it = c.all_en[rng.randrange(len(c.all_en))]
                            q = rng.choice(CLASS_FREE).format(x=it["p"])
                            ans = plain_len(rng, it["n"])
                        ctx.req(t, key, home, sys_user(None, q), ans)
                        t += lat(ans) + think(rng, 90, 1.0)


def fam_calibration_study(ctx, rng):
    """Research groups measuring calibration: one bounded run of an
    AlpacaEval subset at three temperatures with logprobs."""
    fam = "calibration_study"
    c = ctx.c
    for g in range(4):
        team = ctx.team(rng, "research")
        tz = rng.choice([-5, 0, 1, 9])
        addr = ip(rng, cloud=True)
        for k in range(2):
            key = ctx.key(fam, "benign", team, "research" if g % 2 == 0 else "evaluation", rpm=300)
            items = rng.sample(range(len(c.ae)), 250)
            temps = [0.0, 0.7, 1.0]
            d = rng.randrange(0, 5)
            t0 = local_ms(d, rng.uniform(19, 23), tz)
            workers = [t0 + w * 700 for w in range(3)]
            for i in items:
                for temp in temps:
                    w = min(range(3), key=lambda x: workers[x])
                    t = workers[w]
                    it = c.ae[i]
                    ans = min(1023, plain_len(rng, it["n"], lo=20))
                    b = sys_user("You are a helpful assistant.", it["p"], temperature=temp,
                                 logprobs=True, top_logprobs=5, max_tokens=1024)
                    ctx.req(t, key, addr, b, ans)
                    workers[w] = t + lat(ans) + rng.randint(50, 600)


JUDGE_T = """Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the user question displayed below. Choose the assistant that follows the user's instructions and answers the user's question better. Consider helpfulness, relevance, accuracy, depth, creativity and level of detail. Avoid any position bias; do not let the length of the responses or the names of the assistants influence you. Think step by step and explain your reasoning, then output your final verdict strictly in this format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, "[[C]]" for a tie.

[User Question]
{q}

[The Start of Assistant A's Answer]
{a}
[The End of Assistant A's Answer]

[The Start of Assistant B's Answer]
{b}
[The End of Assistant B's Answer]"""


def fam_llm_judge(ctx, rng):
    """Pairwise judging of two models' real AlpacaEval answers (MT-Bench-style
    judge prompt that asks to think step by step), two bounded night runs."""
    fam = "llm_judge"
    c = ctx.c
    for k in range(8):
        team = ctx.team(rng, "ml-apps" if k < 4 else "research")
        key = ctx.key(fam, "benign", team, "evaluation", rpm=300)
        addr = ip(rng, cloud=True)
        tz = rng.choice([-8, -5, 1, 8])
        ma, mb = rng.sample(range(1, 7), 2)
        items = rng.sample(range(len(c.ae)), 300)
        for run in range(2):
            d = rng.randrange(0, 3) + run * 3
            t0 = local_ms(d, rng.uniform(20, 23.5), tz)
            workers = [t0 + w * 400 for w in range(4)]
            for i in items:
                it = c.ae[i]
                if max(ma, mb) >= len(it["outs"]):
                    continue
                a, b = it["outs"][ma], it["outs"][mb]
                if rng.random() < 0.5:
                    a, b = b, a
                w = min(range(4), key=lambda x: workers[x])
                t = workers[w]
                ans = rng.randint(150, 420)
                ctx.req(t, key, addr, sys_user(None, JUDGE_T.format(q=it["p"], a=a, b=b), temperature=0), ans)
                workers[w] = t + lat(ans) + rng.randint(30, 400)


REPLY_T = ["顾客评价：{x}\n\n请以商家的身份写一段真诚的回复，感谢顾客并回应评价中提到的每一个问题，150字左右。",
           "下面是一条用户点评，请帮我们写一条得体的商家回复（120到200字），语气亲切：\n{x}",
           "Please draft a reply to this customer review on behalf of the store. Reply in Chinese, about 150 characters, warm and specific.\n\nReview: {x}"]


def fam_review_replies(ctx, rng):
    """A merchant platform drafting replies to Chinese customer reviews: one template, a short review in, a reply of 110-250 tokens out, a few hundred distinct reviews a day per key."""
    fam = "review_replies"
    c = ctx.c
    shape = diurnal([(8, 1.0, [0.1, 0.05, 0.02, 0.02, 0.02, 0.02, 0.05, 0.2, 0.5, 0.8, 1.0, 1.0, 1.1, 1.0,
                              0.9, 0.9, 1.0, 1.1, 1.2, 1.2, 1.1, 0.9, 0.6, 0.3])])
    for k in range(10):
        team = ctx.team(rng, "marketplace")
        key = ctx.key(fam, "benign", team, "product", rpm=600)
        servers = [ip(rng, cloud=True) for _ in range(2)]
        tmpl = REPLY_T[k % 3]
        merchants, w = product_users(rng, 900, 1)
        name = k % 2 == 0
        for s in poisson(rng, rng.uniform(150, 240), shape, weekend=1.2, tz_week=8):
            rv = c.reviews[rng.randrange(len(c.reviews))]
            ans = int(tok(rv) * rng.uniform(0.4, 0.9) + rng.uniform(110, 210))
            extra = {"user": rng.choices(merchants, cum_weights=w)[0]} if name else {}
            ctx.req(s, key, rng.choice(servers), sys_user("你是商家客服助理。", tmpl.format(x=rv), temperature=0.7, **extra), ans)


def fam_ci_regression(ctx, rng):
    """Six teams share a golden set (AlpacaEval and Alpaca items) in their CI: a nightly run at 02:00 and runs on merges, four workers; three teams copied one config (temperature 0, seed 1234, max_tokens 1500)."""
    fam = "ci_regression"
    c = ctx.c
    golden = [("ae", i) for i in rng.sample(range(len(c.ae)), 20)] + [("en", i) for i in rng.sample(range(len(c.fix_en)), 20)]
    for g in range(6):
        team = ctx.team(rng, rng.choice(["platform", "search", "ml-apps", "docs", "web", "mobile"]))
        tz = rng.choice([-8, -5, 0, 1, 5.5, 8])
        own = [("ae", i) for i in rng.sample(range(len(c.ae)), 8)] + [("en", i) for i in rng.sample(range(len(c.all_en)), 12)]
        suite = golden + own
        # the first three teams copied the org's CI template; the others set their own
        params = ({"temperature": 0, "seed": 1234, "max_tokens": 1500} if g < 3 else
                  rng.choice([{"temperature": 0}, {"temperature": 0, "max_tokens": 2048}, {"temperature": 0.2, "max_tokens": 4096}]))
        for k in range(2):
            key = ctx.key(fam, "benign", team, "evaluation", rpm=120)
            runner = ip(rng, cloud=True)
            runs = []
            for d in range(-1, 8):
                runs.append(local_ms(d, 2 + rng.uniform(0, 0.1), tz))
                if k == 0 and d % 7 < 5:
                    for _ in range(rng.randint(1, 5)):
                        runs.append(local_ms(d, rng.uniform(9.5, 18.5), tz))
            for r0 in sorted(runs):
                workers = [r0 + w * 150 for w in range(4)]
                for kind, i in suite:
                    if kind == "ae":
                        p, n = c.ae[i]["p"], c.ae[i]["n"]
                    else:
                        src = c.fix_en if (kind, i) in golden else c.all_en
                        p, n = src[i]["p"], src[i]["n"]
                    w = min(range(4), key=lambda x: workers[x])
                    t = workers[w]
                    ans = min(params.get("max_tokens", 8192) - 1, plain_len(rng, n, lo=10))
                    ctx.req(t, key, runner, sys_user("You are a helpful assistant.", p, **params), ans)
                    workers[w] = t + lat(ans) + rng.randint(20, 200)


OFFICE_Q = ["{x}", "{x}", "{x}", "Quick one: {x}", "Can you help with this for a report? {x}",
            "I need this for a meeting in an hour. {x}", "{x} Please be thorough."]


def fam_office_power_users(ctx, rng):
    """Sixty staff behind three office addresses (shared with some `timezone_relay` keys), nine of them power users asking about 60-240 questions a working day."""
    fam = "office_power_users"
    c = ctx.c
    for office, tz in (("london", 0), ("shanghai", 8), ("austin", -6)):
        teams = ctx.office_teams[office]
        for k in range(20):
            team = teams[k % 5]
            key = ctx.key(fam, "benign", team, "research" if k % 3 else "product")
            power = k in (0, 7, 13)
            pool = (c.all_zh + c.dpo + c.all_en) if office == "shanghai" else (c.all_en + c.all_zh[:60])
            if power:
                starts = workday_sessions(rng, tz, per_day=(7, 11), weekend_p=0.3, skip_p=0.02)
                per = (8, 22)
            else:
                starts = workday_sessions(rng, tz, per_day=(1, 4), weekend_p=0.05, skip_p=0.15)
                per = (1, 6)
            cursor = -DAY
            for s in starts:
                t = max(s, cursor + think(rng, 300))
                for _ in range(rng.randint(*per)):
                    if rng.random() < 0.03:
                        it = c.ae[rng.randrange(len(c.ae))]
                        p, a, n = it["p"], it["outs"][0], it["n"]
                    else:
                        it = pool[rng.randrange(len(pool))]
                        p, a, n = it["p"], it["a"], it["n"]
                    q = rng.choice(OFFICE_Q).format(x=p)
                    ans = detailed_len(rng, n, lo=60) if power else plain_len(rng, n * 1.5, lo=20)
                    ctx.req(t, key, ctx.office[office], sys_user(None, q), ans)
                    t += lat(ans) + think(rng, 70 if power else 110, 1.0)
                    if rng.random() < 0.2:
                        fu = rng.choice(["shorter please", "Make it more formal.", "能翻译成英文吗？", "Add a summary table.", "Thanks — now turn that into an email to my manager."])
                        msgs = [{"role": "user", "content": q}, {"role": "assistant", "content": a}, {"role": "user", "content": fu}]
                        a2 = rng.randint(60, 500)
                        ctx.req(t, key, ctx.office[office], body(msgs), a2)
                        t += lat(a2) + think(rng, 60, 1.0)
                cursor = t


AGENT_SYS = ("You are a research agent. Use the search and open_page tools to gather evidence, then write a "
             "well-sourced report that answers the user's question. Think step by step about what to look up next.")
AGENT_TOOLS = [{"type": "function", "function": {"name": "search", "description": "Web search.",
                                                 "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}},
               {"type": "function", "function": {"name": "open_page", "description": "Open a search result.",
                                                 "parameters": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}}}]


def fam_research_agents(ctx, rng):
    """Deep-research agents: tool loops of 4-22 steps (sometimes 40-80), steps seconds apart, some in parallel, a long report at the end."""
    fam = "research_agents"
    c = ctx.c
    docs = c.wiki + c.c4
    for k in range(15):
        team = ctx.team(rng, rng.choice(["research", "strategy", "knowledge", "analytics"]))
        key = ctx.key(fam, "benign", team, "research", rpm=600)
        addr = ip(rng, cloud=True)
        tz = rng.choice([-8, -5, 0, 1, 8])
        starts = workday_sessions(rng, tz, per_day=(2, 6), weekend_p=0.15)
        for s in starts:
            it = c.all_en[rng.randrange(len(c.all_en))] if rng.random() < 0.6 else c.ae[rng.randrange(len(c.ae))]
            q = it["p"]
            msgs = [{"role": "system", "content": AGENT_SYS}, {"role": "user", "content": q}]
            t = s
            steps = rng.randint(4, 22) if rng.random() < 0.85 else rng.randint(40, 80)
            parallel = rng.random() < 0.4
            for st in range(steps):
                cid = "call_%08x" % rng.randrange(16**8)
                fn = "search" if st % 3 == 0 else "open_page"
                args = {"q": excerpt(q, 8)} if fn == "search" else {"id": rng.randrange(1, 10)}
                ans = rng.randint(25, 90)
                ctx.req(t, key, addr, body(list(msgs), tools=AGENT_TOOLS), ans)
                if parallel and rng.random() < 0.5:
                    ctx.req(t + rng.randint(5, 80), key, addr, body(list(msgs), tools=AGENT_TOOLS), rng.randint(25, 90))
                res = excerpt(docs[rng.randrange(len(docs))], rng.randint(90, 220), rng)
                msgs = msgs + [{"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function",
                                "function": {"name": fn, "arguments": json.dumps(args)}}]},
                               {"role": "tool", "tool_call_id": cid, "content": res}]
                if len(msgs) > 2 + 4:
                    msgs = msgs[:2] + msgs[-4:]
                t += lat(ans) + rng.randint(300, 4000)
            ans = rng.randint(700, 1600)
            ctx.req(t, key, addr, body(list(msgs), tools=AGENT_TOOLS), ans)


def fam_sharded_service(ctx, rng):
    """Two internal services each spread round-robin over eight keys of one team (to get around per-key limits): a helpdesk assistant and a RAG service."""
    fam = "sharded_service"
    c = ctx.c
    for svc in range(2):
        team = ctx.team(rng, "it" if svc == 0 else "knowledge")
        tz = 1 if svc == 0 else -5
        keys = [ctx.key(fam, "benign", team, "product" if svc == 0 else "research", rpm=120) for _ in range(8)]
        servers = [ip(rng, cloud=True) for _ in range(2)]
        shape = diurnal([(tz, 1.0, OFFICE)])
        rr = 0
        for s in poisson(rng, 1100, shape, weekend=0.1, tz_week=tz):
            key = keys[rr % 8]
            rr += 1
            if svc == 0:
                it = (c.all_en + c.all_zh)[rng.randrange(len(c.all_en) + len(c.all_zh))]
                b = sys_user("You are the internal helpdesk assistant for our staff.", it["p"])
                ans = detailed_len(rng, it["n"], lo=60, hi=1200)
            else:
                psg = [excerpt(c.wiki[rng.randrange(len(c.wiki))], 120, rng) for _ in range(3)]
                it = c.all_en[rng.randrange(len(c.all_en))]
                u = "Context:\n" + "\n---\n".join(psg) + "\n\nQuestion: " + it["p"] + "\nAnswer using the context where relevant."
                b = sys_user("You answer questions for the knowledge team.", u)
                ans = rng.randint(120, 650)
            ctx.req(s, key, rng.choice(servers), b, ans)


TUTOR_SYS = ("You are Mathbuddy, a tutor for students aged 12-18. Explain every solution step by step and "
             "say why each step works. Encourage the student. Never just give the final answer.")


def fam_tutoring_app(ctx, rng):
    """A tutoring product: students named in `user`, after-school and weekend peaks, every answer a step-by-step explanation."""
    fam = "tutoring_app"
    c = ctx.c
    shape = diurnal([(-5, 1.0, STUDENT), (-6, 0.5, STUDENT), (-8, 0.7, STUDENT)])
    probs = c.mathy_en + c.mathy_zh[:40]
    for k in range(6):
        team = ctx.team(rng, "edu")
        key = ctx.key(fam, "benign", team, "product", rpm=900)
        servers = [ip(rng, cloud=True) for _ in range(2)]
        users, w = product_users(rng, 2500, k % 3)
        for s in poisson(rng, rng.uniform(45, 70), shape, weekend=1.3, tz_week=-5):
            u = rng.choices(users, cum_weights=w)[0]
            t = s
            for _ in range(rng.choice([1, 2, 3, 4, 5])):
                it = probs[rng.randrange(len(probs))]
                q = rng.choice(["{x}", "how do i do this {x}", "{x} i dont get it", "homework: {x}"]).format(x=it["p"])
                ans = detailed_len(rng, it["n"], lo=120, hi=1000)
                ctx.req(t, key, rng.choice(servers), sys_user(TUTOR_SYS, q, user=u), ans)
                t += lat(ans) + think(rng, 120, 0.9)


HACK_APPS = [
    ("You are ChefMate. Given whatever the user has, suggest a recipe with steps.", "Generate a fun recipe idea inspired by: {x}"),
    ("You are PitchPal. Turn an idea into a startup pitch.", "Write a startup pitch for this idea: {x}"),
    ("You are StudyBot. Make flashcards from notes.", "Make 10 flashcards from these notes: {x}"),
    ("You are TripGenie, a travel planner.", "Plan a 3-day trip based on this: {x}"),
    ("You are ReviewRadar. Summarise and classify customer reviews.", "Analyse this review and suggest a reply: {x}"),
    ("You are StoryLoom, a bedtime story writer.", "Write a bedtime story about: {x}"),
    ("You are CodeCoach. Explain code and concepts to beginners.", "Explain this to a beginner: {x}"),
    ("You are GreenGuide, a sustainability advisor.", "Give sustainability tips related to: {x}"),
    ("You are JobJolt, a career coach.", "Write a cover letter opening for this role description: {x}"),
    ("You are QuizWiz. Generate quizzes.", "Create a quiz about: {x}"),
]


def fam_hackathon_weekend(ctx, rng):
    """Forty brand-new keys of ten hackathon teams at one venue address, Saturday morning to Sunday afternoon with an all-nighter, each team's app one prompt template, demo-data loops."""
    fam = "hackathon_weekend"
    c = ctx.c
    tz = -8
    ideas = [it["p"] for it in c.all_en] + [excerpt(d, 40) for d in c.c4]
    notes = [excerpt(w, 120, None, start=0) for w in c.wiki] + [excerpt(d, 120) for d in c.c4]
    for g in range(10):
        team = ctx.team(rng, "hack")
        sysp, tmpl = HACK_APPS[g]
        src = c.reviews[:800] if g == 4 else (notes if g in (2, 9) else ideas)
        for m in range(4):
            key = ctx.key(fam, "benign", team, "research", rpm=200)
            home = ip(rng)
            t = local_ms(5, 9.5 + rng.uniform(0, 1.5), tz)
            stop = local_ms(6, 15.5, tz)
            while t < stop:
                h = local_hour(t, tz)
                if 2.5 <= h < 8 and rng.random() < 0.7:
                    t = local_ms(6, 8 + rng.uniform(0, 1.5), tz)
                    continue
                addr = ctx.office["venue"] if not (2 <= h < 8) else home
                mode = rng.random()
                if mode < 0.15 and m == 0:
                    for _ in range(rng.randint(20, 50)):
                        x = src[rng.randrange(len(src))]
                        ans = rng.randint(150, 600)
                        ctx.req(t, key, addr, sys_user(sysp, tmpl.format(x=x), temperature=0.9), ans)
                        t += lat(ans) + rng.randint(500, 2500)
                else:
                    for _ in range(rng.randint(2, 12)):
                        x = src[rng.randrange(len(src))]
                        ans = rng.randint(80, 700)
                        ctx.req(t, key, addr, sys_user(sysp, tmpl.format(x=x)), ans)
                        t += lat(ans) + think(rng, 25, 1.1)
                t += think(rng, 1500, 1.0)


def fam_creative_alternatives(ctx, rng):
    """A writing app that shows three drafts: `n` = 3 and temperature 0.95 on every request, users named."""
    fam = "creative_alternatives"
    c = ctx.c
    creative = [it for it in c.all_en if re.match(r"(Write|Compose|Create|Generate|Come up|Draft|Describe|Invent)", it["p"])]
    shape = diurnal([(-5, 1.0, CONSUMER), (0, 0.8, CONSUMER), (-8, 0.6, CONSUMER)])
    for k in range(5):
        team = ctx.team(rng, "content")
        key = ctx.key(fam, "benign", team, "product", rpm=900)
        servers = [ip(rng, cloud=True) for _ in range(2)]
        users, w = product_users(rng, 3000, k % 3)
        for s in poisson(rng, rng.uniform(60, 90), shape, weekend=1.2):
            u = rng.choices(users, cum_weights=w)[0]
            t = s
            for _ in range(rng.choice([1, 2, 2, 3, 4])):
                it = creative[rng.randrange(len(creative))]
                b = sys_user("You are Muse, a writing assistant. Offer a polished draft.", it["p"], n=3, temperature=0.95,
                             stream=True, user=u)
                ans = detailed_len(rng, it["n"], lo=80, hi=900) * 3
                ctx.req(t, key, rng.choice(servers), b, ans)
                t += lat(ans // 3) + think(rng, 50, 0.9)


NIGHTLY_T = ["Write a detailed internal briefing on the following article: the key points, why they matter for our clients, risks and opportunities, and a short FAQ.\n\nArticle:\n{x}",
             "Summarise this page for our market-intelligence digest, then list implications and three follow-up questions.\n\n{x}"]


def fam_nightly_summaries(ctx, rng):
    """Nightly market-intelligence pipelines: 110-190 web pages briefed at 01:00 local, faster than the key's 60 requests a minute, with pauses."""
    fam = "nightly_summaries"
    c = ctx.c
    docs = c.c4
    for k in range(8):
        team = ctx.team(rng, rng.choice(["strategy", "media", "analytics", "sales-eng"]))
        key = ctx.key(fam, "benign", team, "research", rpm=60)
        addr = ip(rng, cloud=True)
        tz = rng.choice([-5, 0, 1, 8])
        tmpl = NIGHTLY_T[k % 2]
        for d in range(-1, 8):
            t = local_ms(d, 1 + rng.uniform(0, 0.05), tz)
            n = rng.randint(110, 190)
            retry_pause = rng.randint(2000, 8000)
            for i in range(n):
                doc = docs[rng.randrange(len(docs))]
                x = excerpt(doc, rng.randint(150, 900), rng)
                ans = int(min(900, tok(x) * rng.uniform(0.4, 1.3) + rng.uniform(120, 300)))
                ctx.req(t, key, addr, sys_user(None, tmpl.format(x=x), temperature=0.2), ans)
                t += rng.randint(650, 1150) if i % 40 else retry_pause


SYN_KINDS = [("customer support tickets", "subject, body, customer_tier, expected_category"),
             ("product reviews", "rating, title, text, verified_purchase"),
             ("user profiles", "display_name, bio, locale, signup_source"),
             ("chat transcripts between a shopper and an agent", "turns (speaker, text), resolved"),
             ("bug reports", "title, steps_to_reproduce, expected, actual, severity"),
             ("restaurant orders with special requests", "items, notes, allergy_flags"),
             ("job postings", "title, company_blurb, requirements, salary_band")]
SYN_DOMAINS = ["online bookstore", "bike rental", "telehealth", "food delivery", "SaaS invoicing", "hotel booking",
               "language school", "pet insurance", "home energy monitoring", "second-hand marketplace", "gym chain", "airline"]


def fam_synthetic_test_data(ctx, rng):
    """QA engineers generating synthetic fixtures (tickets, reviews, profiles) for their own test suites, two afternoons each, a generator scaffold at script pace."""
    fam = "synthetic_test_data"
    c = ctx.c
    for k in range(6):
        team = ctx.team(rng, "qa")
        key = ctx.key(fam, "benign", team, "research", rpm=300)
        addr = ip(rng, cloud=True)
        tz = rng.choice([-5, 1, 5.5, 8])
        for day in rng.sample(range(0, 5), 2):
            t = local_ms(day, rng.uniform(13, 15), tz)
            for _ in range(rng.randint(150, 260)):
                kind, fields = rng.choice(SYN_KINDS)
                dom = rng.choice(SYN_DOMAINS)
                ex = rng.choice(c.reviews) if kind in ("product reviews", "restaurant orders with special requests") else excerpt(c.c4[rng.randrange(len(c.c4))], 60, rng)
                n = rng.choice([5, 8, 10, 12, 15, 20])
                u = (f"Generate {n} realistic {kind} for testing a {dom} application. Return a JSON array; each item "
                     f"has the fields {fields}. Vary tone, length and language, and include edge cases (typos, empty "
                     f"fields, very long values, emoji). Match the style of this real example:\n\n{ex}")
                ans = int(n * rng.uniform(40, 90))
                ctx.req(t, key, addr, sys_user("You generate test fixtures. Output JSON only.", u, temperature=1.0,
                                               response_format={"type": "json_object"}), ans)
                t += lat(ans) + rng.randint(1500, 9000)


TRANS_T = ["Translate the following into Simplified Chinese. Keep names in English and preserve paragraph breaks.\n\n{x}",
           "Translate into English, then explain any idioms, slang or cultural references in detail for a non-Chinese reader:\n\n{x}",
           "请把下面的英文翻译成自然流畅的中文：\n\n{x}"]


def fam_translation_desk(ctx, rng):
    """A localisation team translating web passages and reviews, sometimes with long explanations of idioms."""
    fam = "translation_desk"
    c = ctx.c
    for k in range(10):
        team = ctx.team(rng, "l10n")
        key = ctx.key(fam, "benign", team, "product" if k < 4 else "research")
        tz = rng.choice([8, 8, 1, 0, -5])
        addr = ip(rng)
        starts = workday_sessions(rng, tz, per_day=(2, 5), weekend_p=0.05)
        cursor = -DAY
        for s in starts:
            t = max(s, cursor + think(rng, 300))
            for _ in range(rng.randint(8, 30)):
                mode = rng.randrange(3)
                if mode == 1:
                    x = rng.choice(c.reviews)
                    ans = int(tok(x) * 0.9 + rng.uniform(120, 380))
                else:
                    x = excerpt(c.wiki[rng.randrange(len(c.wiki))], rng.randint(60, 300), rng)
                    ans = int(tok(x) * rng.uniform(0.9, 1.3)) if mode == 0 else int(len(x.split()) * rng.uniform(1.3, 1.9))
                ctx.req(t, key, addr, sys_user(None, TRANS_T[mode].format(x=x)), ans)
                t += lat(ans) + think(rng, 40, 0.8)
            cursor = t


OPS_T = ["Draft a calm, helpful reply to this customer message:\n\n{x}",
         "Customer says: {x}\n\nWhat should I tell them? Give me a reply I can paste.",
         "顾客留言：{x}\n请帮我写一段安抚并解决问题的回复。",
         "Summarise this complaint and suggest next steps: {x}"]


def fam_ops_shift_desk(ctx, rng):
    """A call centre behind one address: three shared desk keys busy around the clock and twelve agents on rotating eight-hour shifts, nights included."""
    fam = "ops_shift_desk"
    c = ctx.c
    team = ctx.team(rng, "ops")
    team2 = ctx.team(rng, "support-tools")
    nat = ctx.office["callcenter"]
    tz = 1
    msgs_src = c.pii_en + c.pii_zh + c.reviews[:3000]
    for k in range(3):
        key = ctx.key(fam, "benign", team, "product", rpm=600)
        flat = diurnal([(tz, 1.0, [0.7] * 7 + [1.0] * 12 + [0.85] * 5)])
        for s in poisson(rng, rng.uniform(230, 320), flat, weekend=0.9):
            x = rng.choice(msgs_src)
            ans = rng.randint(90, 320)
            ctx.req(s, key, nat, sys_user("You help call-centre agents write replies.", rng.choice(OPS_T).format(x=x)), ans)
    shifts = [(6, 14), (14, 22), (22, 30)]
    for k in range(12):
        key = ctx.key(fam, "benign", team2, "research", rpm=120)
        sh = shifts[k % 3]
        for d in range(-1, 8):
            if (d + k) % 7 in (5, 6):
                continue
            t = local_ms(d, sh[0] + rng.uniform(0, 0.5), tz)
            stop = local_ms(d, sh[1], tz)
            while t < stop:
                x = rng.choice(msgs_src)
                ans = rng.randint(80, 300)
                ctx.req(t, key, nat, sys_user(None, rng.choice(OPS_T).format(x=x)), ans)
                t += lat(ans) + think(rng, 420, 1.1)


CRAM_T = ["{x}", "{x}", "explain this for my exam: {x}", "{x} explain step by step please",
          "{x}\n\nPlease answer in detail, this is a practice exam question.", "practice q: {x}", "{x} 请详细解释"]


def fam_exam_cram(ctx, rng):
    """Students in exam week: sessions late into the night, half of them asking 30-150 practice questions a day answered at length."""
    fam = "exam_cram"
    c = ctx.c
    team = ctx.team(rng, "edu")
    team2 = ctx.team(rng, "edu")
    pool = c.all_en + c.all_zh
    for k in range(20):
        key = ctx.key(fam, "benign", team if k < 10 else team2, "research", rpm=120)
        tz = -5 if k < 10 else 8
        campus = ctx.office["campus"] if k < 10 else ip(rng)
        home = ip(rng)
        heavy = rng.random() < 0.5
        for d in range(0, 7):
            if rng.random() < 0.15:
                continue
            for si in range(rng.randint(2, 5) if heavy else rng.randint(1, 3)):
                h = rng.choice([rng.uniform(10, 17), rng.uniform(19, 24), rng.uniform(24, 26.5)])
                t = local_ms(d, h, tz)
                addr = campus if 9 <= h < 18 else home
                for _ in range(rng.randint(10, 35) if heavy else rng.randint(3, 12)):
                    it = pool[rng.randrange(len(pool))]
                    if rng.random() < 0.06:
                        ae = c.ae[rng.randrange(len(c.ae))]
                        p, n = ae["p"], ae["n"]
                    else:
                        p, n = it["p"], it["n"]
                    q = rng.choice(CRAM_T).format(x=p)
                    ans = detailed_len(rng, n, lo=60, hi=1400)
                    ctx.req(t, key, addr, sys_user(None, q), ans)
                    t += lat(ans) + think(rng, 55, 1.0)


# --------------------------------------------------------------------------

FAMILIES = [
    ("fat_system_prompt", fam_fat_system_prompt),
    ("tool_queue", fam_tool_queue),
    ("schema_smuggle", fam_schema_smuggle),
    ("resample_pool", fam_resample_pool),
    ("typo_shards", fam_typo_shards),
    ("multiturn_threads", fam_multiturn_threads),
    ("longdoc_grounding", fam_longdoc_grounding),
    ("product_sockpuppets", fam_product_sockpuppets),
    ("timezone_relay", fam_timezone_relay),
    ("key_churn", fam_key_churn),
    ("cot_paraphrase", fam_cot_paraphrase),
    ("image_prompts", fam_image_prompts),
    ("support_product", fam_support_product),
    ("classroom_lab", fam_classroom_lab),
    ("calibration_study", fam_calibration_study),
    ("llm_judge", fam_llm_judge),
    ("review_replies", fam_review_replies),
    ("ci_regression", fam_ci_regression),
    ("office_power_users", fam_office_power_users),
    ("research_agents", fam_research_agents),
    ("sharded_service", fam_sharded_service),
    ("tutoring_app", fam_tutoring_app),
    ("hackathon_weekend", fam_hackathon_weekend),
    ("creative_alternatives", fam_creative_alternatives),
    ("nightly_summaries", fam_nightly_summaries),
    ("synthetic_test_data", fam_synthetic_test_data),
    ("translation_desk", fam_translation_desk),
    ("ops_shift_desk", fam_ops_shift_desk),
    ("exam_cram", fam_exam_cram),
]


def find_root(rel):
    if os.path.isdir(rel):
        return rel
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    alt = os.path.join(here, rel)
    if os.path.isdir(alt):
        return alt
    sys.exit(f"cannot find {rel} (run from the repository root)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stats", action="store_true")
    a = ap.parse_args()
    t0 = time.time()
    corpus = Corpus(find_root(os.path.join("..", "shared", "corpora")), find_root(os.path.join("tests", "fixtures")))
    ctx = Ctx(a.seed, corpus)
    for name, fn in FAMILIES:
        fn(ctx, rng_for(a.seed, name))
    ctx.reqs.sort(key=lambda r: (r[0], r[1], r[2]))
    keys = ctx.keys
    names = [k["name"] for k in keys]
    assert len(set(names)) == len(names)
    # The consumer's format (proviso_traffic::Scenario): `t` in
    # milliseconds since the Unix epoch, `key` the index of its key.
    # Converted here, after the traffic is made; nothing else changes.
    epoch = 1767571200000  # 2026-01-05 00:00 UTC
    index = {n: i for i, n in enumerate(names)}
    requests = [dict(r[3], t=r[3]["t"] + epoch, key=index[r[3]["key"]]) for r in ctx.reqs]
    out = {"keys": keys, "requests": requests}
    data = json.dumps(out, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    with open(a.out, "wb") as f:
        f.write(data)
    if a.stats:
        per = {}
        for k in keys:
            p = per.setdefault(k["workload"], {"role": k["role"], "keys": 0, "teams": set()})
            p["keys"] += 1
            p["teams"].add(k["team"])
        tot = {"extraction": [0, 0, 0], "benign": [0, 0, 0]}
        print(f"{'family':24} {'role':10} {'keys':>5} {'teams':>5} {'requests':>9} {'long':>7} {'items':>6}", file=sys.stderr)
        for name, _ in FAMILIES:
            p = per[name]
            s = ctx.fam_stats.get(name, {"requests": 0, "long": 0, "items": set()})
            print(f"{name:24} {p['role']:10} {p['keys']:5d} {len(p['teams']):5d} {s['requests']:9d} {s['long']:7d} {len(s['items']):6d}", file=sys.stderr)
            tt = tot[p["role"]]
            tt[0] += 1
            tt[1] += p["keys"]
            tt[2] += s["requests"]
        for r, (f_, k_, q_) in tot.items():
            print(f"total {r}: {f_} families, {k_} keys, {q_} requests", file=sys.stderr)
        print(f"{len(ctx.reqs)} requests, {len(data) / 1e6:.1f} MB, {time.time() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
