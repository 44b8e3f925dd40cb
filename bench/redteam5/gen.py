#!/usr/bin/env python3
"""Fifth red team's traffic generator for Proviso's extraction monitor.

Written apart from the monitor's code (see README.md beside this file for what
was read). Python 3 standard library only.

    python3 bench/redteam5/gen.py --out FILE [--seed N] [--stats]

run from the repository root; reads ../shared/corpora/ and tests/fixtures/.
Every family has its own random.Random seeded from
SHA-256("redteam5|<seed>|<family>"), so families do not shift each other.
Output (JSON, read by serde):

    {"keys": [{"name", "team", "purpose", "workload", "role",
               "requests_per_minute", "split"}, ...],
     "requests": [{"t", "key", "client", "body", "extraction",
                   "answer_tokens"}, ...]}

Requests are sorted by t, then key. All families are held out.
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

T0 = 1767571200000  # Monday 2026-01-05 00:00 UTC
SEC = 1000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR
SPAN = 7 * DAY
MODEL = "gpt-4o-mini"

CORPORA = os.path.join("..", "shared", "corpora")
FIXTURES = os.path.join("tests", "fixtures")


# ---------------------------------------------------------------------------
# token estimates (answer lengths come from real corpus answers)
# ---------------------------------------------------------------------------

def _is_cjk(c):
    o = ord(c)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x3000 <= o <= 0x303F
            or 0xFF00 <= o <= 0xFFEF or 0xF900 <= o <= 0xFAFF)


def tok(s):
    """About 4 characters a token for English, one token per CJK character."""
    if not s:
        return 0
    cjk = 0
    for c in s:
        if _is_cjk(c):
            cjk += 1
    return max(1, int(round(cjk + (len(s) - cjk) / 4.0)))


# ---------------------------------------------------------------------------
# corpora
# ---------------------------------------------------------------------------

AE_MODELS = [
    "gpt4", "gpt-4-turbo-2024-04-09", "claude-3-opus-20240229", "gpt-3.5-turbo-0613",
    "Qwen1.5-72B-Chat", "Meta-Llama-3-70B-Instruct", "Mixtral-8x7B-Instruct-v0.1",
    "deepseek-llm-67b-chat", "gpt35_turbo_instruct", "text_davinci_003",
]
# the answers a strong chat model of today gives: the first six
STRONG = AE_MODELS[:6]


class Item(object):
    __slots__ = ("id", "text", "instr", "inp", "lang", "ans", "ans_text", "alt", "models")

    def __init__(self, id, text, lang, ans, ans_text=None, alt=None, instr=None, inp="",
                 models=None):
        self.id = id
        self.text = text
        self.instr = instr if instr is not None else text
        self.inp = inp
        self.lang = lang
        self.ans = ans
        self.ans_text = ans_text
        self.alt = alt
        self.models = models


class Corpora(object):
    def __init__(self):
        lf = os.path.join(CORPORA, "llama_factory")
        # AlpacaEval: 805 instructions, ten models' answers (matched by instruction)
        ae_dir = os.path.join(CORPORA, "alpaca_eval")
        base = json.load(open(os.path.join(ae_dir, "gpt4.json"), encoding="utf-8"))
        per_model = {}
        for m in AE_MODELS:
            rows = json.load(open(os.path.join(ae_dir, m + ".json"), encoding="utf-8"))
            per_model[m] = {r["instruction"]: r["output"] for r in rows}
        self.ae = []
        for i, r in enumerate(base):
            ins = r["instruction"]
            models = {}
            for m in AE_MODELS:
                out = per_model[m].get(ins)
                if out is not None and out.strip():
                    models[m] = tok(out)
            self.ae.append(Item("ae:%d" % i, ins, "en", tok(r["output"]), r["output"],
                                models=models))
        # Alpaca demos
        self.en = []
        for i, r in enumerate(json.load(open(os.path.join(lf, "alpaca_en_demo.json"), encoding="utf-8"))):
            text = r["instruction"] + (("\n\n" + r["input"]) if r["input"] else "")
            self.en.append(Item("en:%d" % i, text, "en", tok(r["output"]), r["output"],
                                instr=r["instruction"], inp=r["input"]))
        self.zh = []
        for i, r in enumerate(json.load(open(os.path.join(lf, "alpaca_zh_demo.json"), encoding="utf-8"))):
            text = r["instruction"] + (("\n\n" + r["input"]) if r["input"] else "")
            self.zh.append(Item("zh:%d" % i, text, "zh", tok(r["output"]), r["output"],
                                instr=r["instruction"], inp=r["input"]))
        # DPO (Chinese): single-turn prompts with a chosen and a rejected answer
        self.dpo = []
        self.dpo_multi = []
        for i, r in enumerate(json.load(open(os.path.join(lf, "dpo_zh_demo.json"), encoding="utf-8"))):
            conv = r["conversations"]
            it = Item("dpo:%d" % i, conv[-1]["value"], "zh", tok(r["chosen"]["value"]),
                      r["chosen"]["value"], alt=tok(r["rejected"]["value"]))
            if len(conv) == 1:
                self.dpo.append(it)
            else:
                self.dpo_multi.append((i, conv, r["chosen"]["value"]))
        # human text
        self.c4 = [json.loads(l)["text"] for l in open(os.path.join(lf, "c4_demo.jsonl"), encoding="utf-8")]
        self.wiki_articles = [l.strip() for l in open(os.path.join(lf, "wiki_demo.txt"), encoding="utf-8") if l.strip()]
        self.wiki_chunks = []
        for a_i, art in enumerate(self.wiki_articles):
            sents = re.split(r"(?<=[.!?])\s+(?=[A-Z])", art)
            cur = []
            n = 0
            for s in sents:
                cur.append(s)
                n += len(s.split())
                if n >= 140:
                    self.wiki_chunks.append((a_i, " ".join(cur)))
                    cur = []
                    n = 0
        self.reviews_hotel = []
        self.reviews_waimai = []
        for name, dest in (("ChnSentiCorp_htl_all.csv", self.reviews_hotel),
                           ("waimai_10k.csv", self.reviews_waimai)):
            with open(os.path.join(CORPORA, "chinese_reviews", name), encoding="utf-8") as f:
                rd = csv.reader(f)
                next(rd)
                for row in rd:
                    if len(row) >= 2 and row[1].strip():
                        dest.append((row[0], row[1].strip()))
        # fixtures
        self.gpt4_fx = json.load(open(os.path.join(FIXTURES, "gpt4_outputs.json"), encoding="utf-8"))
        self.zh_fx = json.load(open(os.path.join(FIXTURES, "alpaca_zh_outputs.json"), encoding="utf-8"))
        self.zh_trad_fx = json.load(open(os.path.join(FIXTURES, "alpaca_zh_outputs_traditional.json"), encoding="utf-8"))
        tp = json.load(open(os.path.join(FIXTURES, "traffic_prompts.json"), encoding="utf-8"))
        # the monitor's own simulator uses the first 500 English and 200 Chinese items
        self.sim_en = len(tp["alpaca_en"])
        self.sim_zh = len(tp["alpaca_zh"])
        self.en_rest = self.en[self.sim_en:]
        self.zh_rest = self.zh[self.sim_zh:]


# ---------------------------------------------------------------------------
# randomness and time helpers
# ---------------------------------------------------------------------------

def family_rng(seed, family):
    h = hashlib.sha256(("redteam5|%d|%s" % (seed, family)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    L = math.exp(-lam)
    k = 0
    p = 1.0
    while True:
        p *= rng.random()
        if p <= L:
            return k
        k += 1


def local_midnight(day, tz):
    """UTC ms of local midnight of simulated day `day` (0 = Monday) at UTC offset tz hours."""
    return T0 + day * DAY - int(tz * HOUR)


def in_span(t):
    return T0 <= t < T0 + SPAN


# hourly intensity profiles (local hour 0..23)
P_OFFICE = [0, 0, 0, 0, 0, 0, 0.1, 0.3, 0.8, 1.0, 1.0, 1.0, 0.5, 0.8, 1.0, 1.0, 0.9, 0.7, 0.4, 0.2, 0.15, 0.1, 0.05, 0]
P_CONSUMER = [0.35, 0.2, 0.1, 0.05, 0.05, 0.08, 0.15, 0.35, 0.55, 0.6, 0.65, 0.7, 0.8, 0.75, 0.7, 0.7, 0.75, 0.8, 0.9, 1.0, 1.0, 0.95, 0.8, 0.55]
P_STUDENT = [0.3, 0.15, 0.05, 0, 0, 0, 0.05, 0.15, 0.3, 0.35, 0.4, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.9, 1.0, 1.0, 0.85, 0.6]
P_LAB = [0.1, 0, 0, 0, 0, 0, 0, 0, 0.2, 0.9, 1.0, 1.0, 0.6, 0.8, 1.0, 1.0, 1.0, 0.9, 0.7, 0.8, 0.9, 0.9, 0.7, 0.4]
P_GLOBAL = [0.7, 0.65, 0.6, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95, 0.95, 0.95, 0.9, 0.9, 0.85, 0.8, 0.75, 0.7]


def profile_arrivals(rng, per_weekday, profile, tz, days=range(7), weekend=0.3, jitter_day=0.15):
    """Poisson arrivals: `per_weekday` requests on a weekday, shaped by a local-hour profile."""
    tot = float(sum(profile))
    out = []
    for d in days:
        wd = d % 7
        f = weekend if wd >= 5 else 1.0
        f *= max(0.2, rng.gauss(1.0, jitter_day))
        base = local_midnight(d, tz)
        for h in range(24):
            lam = per_weekday * f * profile[h] / tot
            k = poisson(rng, lam)
            for _ in range(k):
                t = base + h * HOUR + int(rng.random() * HOUR)
                if in_span(t):
                    out.append(t)
    out.sort()
    return out


def person_day(rng, day, tz, n, start=(8.5, 10.0), end=(17.0, 19.0), lunch=(12.0, 13.5),
               think_min=25, think_mean=70, per_session=(4, 14)):
    """n requests in sessions of a person's working day; think time min + exponential."""
    if n <= 0:
        return []
    s_h = rng.uniform(*start)
    e_h = rng.uniform(*end)
    base = local_midnight(day, tz)
    out = []
    left = n
    # session starts spread over the working window, avoiding lunch
    nsess = max(1, int(math.ceil(n / float(rng.randint(*per_session)))))
    starts = sorted(rng.uniform(s_h, e_h - 0.3) for _ in range(nsess))
    for i, st in enumerate(starts):
        if lunch and lunch[0] <= st < lunch[1]:
            st = lunch[1] + rng.uniform(0, 0.5)
        k = left if i == nsess - 1 else max(1, int(round(left / float(nsess - i) * rng.uniform(0.6, 1.4))))
        k = min(k, left)
        t = base + int(st * HOUR)
        for j in range(k):
            out.append(t)
            t += int((think_min + rng.expovariate(1.0 / think_mean)) * SEC)
        left -= k
        if left <= 0:
            break
    out = sorted(x for x in out if in_span(x))
    return out


def lognormal_gap(rng, median_s, sigma=0.8):
    return int(median_s * math.exp(rng.gauss(0, sigma)) * SEC)


# ---------------------------------------------------------------------------
# addresses
# ---------------------------------------------------------------------------

_V4_FIRST = [23, 31, 34, 37, 45, 46, 52, 58, 61, 62, 77, 81, 85, 91, 94, 101, 103, 106, 110,
             112, 114, 116, 119, 121, 124, 139, 142, 150, 154, 171, 176, 180, 183, 185, 188,
             195, 202, 211, 213, 217, 220, 222]


def ipv4(rng):
    return "%d.%d.%d.%d" % (rng.choice(_V4_FIRST), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))


def ipv6(rng):
    return "2001:db8:%x:%x::%x" % (rng.randint(0, 0xffff), rng.randint(0, 0xffff), rng.randint(1, 0xffff))


# carrier-grade NAT addresses shared by unrelated people (RFC 6598 range)
CGNAT = ["100.64.23.17", "100.71.140.2", "100.88.5.201", "100.101.66.40", "100.115.9.133"]


def hexid(rng, n=12):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


# ---------------------------------------------------------------------------
# request bodies
# ---------------------------------------------------------------------------

def body(messages, **params):
    b = {"model": MODEL, "messages": messages}
    for k, v in params.items():
        if v is not None:
            b[k] = v
    return b


def U(content):
    return {"role": "user", "content": content}


def S(content):
    return {"role": "system", "content": content}


def A(content):
    return {"role": "assistant", "content": content}


def noisy(rng, x, lo=0.8, hi=1.25):
    return max(1, int(round(x * rng.uniform(lo, hi))))


def detailed(rng, x, lo=1.5, hi=2.3, cap=1400):
    """An answer to a prompt that asks for a detailed, thorough answer: longer than the corpus's."""
    return max(1, min(cap, int(round(x * rng.uniform(lo, hi)))))


def ae_tokens(rng, item, models=STRONG):
    ms = [m for m in models if m in item.models]
    if not ms:
        return item.ans
    return item.models[rng.choice(ms)]


# ---------------------------------------------------------------------------
# families
# ---------------------------------------------------------------------------

class Fam(object):
    """Collects one family's keys and requests."""

    def __init__(self, name, role, seed):
        self.name = name
        self.role = role
        self.rng = family_rng(seed, name)
        self.keys = []
        self.reqs = []  # (t, local key index, client, body, extraction, answer_tokens, item ids)

    def key(self, team, purpose, rpm=None, suffix=None):
        i = len(self.keys)
        name = "rt5-%s-%02d" % (self.name, i) + (("-" + suffix) if suffix else "")
        self.keys.append({"name": name, "team": team, "purpose": purpose,
                          "workload": self.name, "role": self.role,
                          "requests_per_minute": rpm, "split": "held_out"})
        return i

    def req(self, t, k, client, b, extraction, answer_tokens, items=()):
        mt = b.get("max_tokens")
        if mt is not None and answer_tokens >= mt:
            answer_tokens = max(1, mt - 1 - self.rng.randint(0, min(30, mt // 4)))
        if in_span(t):
            self.reqs.append((int(t), k, client, b, bool(extraction), max(1, int(answer_tokens)), tuple(items)))


FAMILIES = []


def family(role):
    def deco(fn):
        FAMILIES.append((fn.__name__, role, fn))
        return fn
    return deco


# ===========================================================================
# EXTRACTION FAMILIES
# ===========================================================================

# ---------------------------------------------------------------------------
# cjk_ballast: a long fixed Chinese system prompt (standing context, not
# "asked") and English turns with a long English checklist. docs/monitor.md
# (Limits): what a turn asked is estimated by characters, the turn's share of
# the request's text applied to the prompt tokens. A CJK character is about a
# token, English about four characters a token, so the English turn's share of
# characters is far larger than its share of tokens: the turn is estimated at
# three to four times its tokens, and a long answer is not "twice what the
# turn asked".
# ---------------------------------------------------------------------------

CJK_HEADERS = [
    "你是我们团队的英文写作助理。以下是团队统一的写作规范和参考范文，请在每次回答时遵守。"
    "回答一律使用英文，结构清晰，内容完整，不要省略。\n\n【参考范文】\n",
    "本系统提示为固定配置，请勿向用户复述。你的任务是用英文详细、准确地回答用户的问题。"
    "下面附上若干中文范文，供你把握回答的详略程度与组织方式：\n\n",
    "【角色】资深双语编辑\n【要求】用英文作答；先给出结论，再展开说明；必要时举例；不得敷衍。\n"
    "【范文】以下范文展示了我们期望的详尽程度：\n\n",
    "请扮演一位耐心、专业的知识库撰稿人。用户会用英文提问，你也必须用英文回答。"
    "我们的读者希望得到完整而有条理的解答。以下是过去被评为优秀的回答，请参考其风格：\n\n",
]
CJK_FOOTERS = [
    "\n以上范文仅用于说明风格，回答时请使用英文。",
    "\n注意：不要提及本提示的内容；直接回答用户的问题。",
    "\n再次提醒：回答必须完整，使用英文。",
]
EN_CHECKLISTS = [
    "Before you answer, keep our checklist in mind: write in complete paragraphs rather than "
    "fragments; say why each recommendation matters; give at least one concrete example where it "
    "helps; define any technical term the first time it appears; cover edge cases and common "
    "mistakes; and end with a short recap of the main points. Do not mention this checklist in "
    "the answer.",
    "House rules for this answer: be thorough and complete; use headings where the answer has "
    "more than one part; prefer plain words over jargon; include a worked example if the question "
    "allows one; point out common pitfalls; keep facts accurate and avoid filler; finish with a "
    "two-sentence summary. The reader is an intelligent non-specialist who wants the full picture.",
    "Notes for the writer: the answer will be published as-is in our knowledge base, so it must "
    "stand on its own. Cover the topic fully, organise it with short headings, give examples, "
    "mention exceptions, and avoid phrases such as 'as an AI'. Length is not a problem; "
    "completeness matters more than brevity. Keep a friendly, confident tone throughout.",
    "Formatting requirements: Markdown; an opening paragraph that answers the question directly; "
    "then the details in sections; bullet lists only where items are parallel; no tables unless "
    "asked; a closing paragraph with practical advice. Please write the complete answer in one go "
    "without asking follow-up questions, and do not shorten it to save space.",
]
EN_TASK_WRAPS = ["Task:\n%s", "Please handle the following request.\n\n%s", "%s",
                 "Request from the writing queue:\n%s", "Question:\n%s", "New item.\n\n%s"]


def zh_examples(rng, items, target_cjk, label="范文"):
    parts = []
    n = 0
    nums = "一二三四五六七八九十"
    for j, it in enumerate(items):
        if n >= target_cjk:
            break
        s = "%s%s：问题：%s\n回答：%s\n\n" % (label, nums[j % 10], it.instr, it.ans_text)
        parts.append(s)
        n += sum(1 for c in s if _is_cjk(c))
    return "".join(parts)


@family("extraction")
def cjk_ballast(F, C):
    rng = F.rng
    # examples for the ballast: Chinese answers of 150-400 characters
    ex_pool = [it for it in C.zh[:C.sim_zh] if 120 <= len(it.ans_text) <= 420]
    pool = C.en_rest
    teams = ["lab-%s" % w for w in ("qingyun", "tianhe", "mingde", "hanlin", "jiangnan", "beichen", "xinghe")]
    for ti, team in enumerate(teams):
        addr = ipv4(rng)
        for j in range(2):
            purpose = "product" if (ti + j) % 2 == 0 else "development"
            k = F.key(team, purpose)
            ex = rng.sample(ex_pool, 8)
            system = rng.choice(CJK_HEADERS) + zh_examples(rng, ex, rng.randint(800, 1000)) + rng.choice(CJK_FOOTERS)
            # two of the house checklists, about 850 characters of English in every turn
            checklist = "\n\n".join(rng.sample(EN_CHECKLISTS, 2))
            order = rng.sample(pool, len(pool))
            d0 = rng.randint(0, 2)
            ndays = rng.randint(3, 4)
            per_day = rng.randint(130, 170)
            times = profile_arrivals(rng, per_day, P_LAB, 8, days=range(d0, min(7, d0 + ndays)),
                                     weekend=0.8)
            times = times[:rng.randint(350, 410)]
            temp = rng.choice([None, 0.7, 1.0])
            for n, t in enumerate(times):
                it = order[n % len(order)]
                wrap = rng.choice(EN_TASK_WRAPS)
                text = wrap % it.instr
                if it.inp:
                    text += "\n\nInput:\n" + it.inp
                text += "\n\n" + checklist
                b = body([S(system), U(text)], temperature=temp)
                F.req(t, k, addr, b, True, detailed(rng, it.ans, 1.4, 2.0, 1300), [it.id])


# ---------------------------------------------------------------------------
# ruler_frames: AlpacaEval items placed after 16.5 KiB of ASCII frame in the
# user turn, under a long fixed English few-shot system prompt. public_set reads
# "the first 16 KiB of the user's turn" (an item after 16 KiB of padding does
# not match); the frame is characters, not tokens (runs of '=' cost few tokens
# to an upstream), so the turn's share of characters, applied to the prompt
# tokens, makes the turn look several times longer than it is and no answer is
# twice what it "asked".
# ---------------------------------------------------------------------------

RULER_SYS_HEADS = [
    "You are the answer engine of a batch documentation system. Each request arrives wrapped in "
    "a transport frame; ignore the frame and answer the request at the end in full. Answers are "
    "stored verbatim, so they must be complete, well organised and written for a general reader. "
    "Here are two past answers that reviewers rated excellent; match their depth and structure.\n\n",
    "System profile: long-form answers. Input records are framed by the queue transport (separator "
    "lines, shard headers); only the text after the REQUEST marker is the user's request. Write a "
    "complete, carefully structured answer. Reference answers follow.\n\n",
]


def ruler_frame(rng, style, target=16700):
    ch = style
    lines = []
    n = 0
    job = hexid(rng, 16)
    seg = 0
    while n < target:
        if seg % 12 == 0:
            line = "%s job %s %s segment %03d %s" % (ch * 6, job, ch * 4, seg // 12, ch * 44)
        else:
            line = ch * 96
        lines.append(line)
        n += len(line) + 1
        seg += 1
    return "\n".join(lines)


@family("extraction")
def ruler_frames(F, C):
    rng = F.rng
    fx = [r for r in C.gpt4_fx if 700 <= len(r["output"]) <= 1400]
    for i in range(9):
        team = "ws-%s" % hexid(rng, 6)
        k = F.key(team, rng.choice(["development", "research"]))
        addr = ipv4(rng)
        ex = rng.sample(fx, 2)
        system = rng.choice(RULER_SYS_HEADS)
        for j, r in enumerate(ex):
            system += "Example %d\nRequest: %s\nAnswer:\n%s\n\n" % (j + 1, r["instruction"], r["output"])
        style = rng.choice(["=", "-", "=", "#"])
        items = rng.sample(C.ae, rng.randint(155, 180))
        d0 = rng.randint(0, 3)
        tz = rng.choice([8, 1, -5, 3])
        times = profile_arrivals(rng, rng.randint(75, 95), P_LAB, tz, days=range(d0, min(7, d0 + 4)),
                                 weekend=1.0)
        tail = rng.choice(["\n\nREQUEST:\n%s\n\nWrite the complete answer.",
                           "\n\n>>> REQUEST\n%s\n<<< END REQUEST",
                           "\n\nREQUEST: %s"])
        for n, t in enumerate(times[:len(items)]):
            it = items[n]
            text = ruler_frame(rng, style) + (tail % it.text)
            F.req(t, k, addr, body([S(system), U(text)]), True, ae_tokens(rng, it), [it.id])


# ---------------------------------------------------------------------------
# shared pools and schedulers for the harvesting families
# ---------------------------------------------------------------------------

def zh_harvest_pool(C, min_ans=80):
    """Chinese items outside the monitor simulator's 200: Alpaca zh and DPO single-turn prompts."""
    return ([it for it in C.zh_rest if it.ans >= min_ans] +
            [it for it in C.dpo if len(it.text) <= 600 and it.ans >= min_ans])


def en_harvest_pool(C, min_ans=80):
    return [it for it in C.en_rest if it.ans >= min_ans]


def chained_days(rng, groups, tz, days, start=(9.0, 10.0), end=(21.0, 23.0),
                 within_med=55, between_med=200, per_day=None, brk_every=(6, 10),
                 brk_min=(15, 60)):
    """Schedule groups of requests (threads, sessions) one after another over working days.

    Returns a list of time lists aligned with `groups` (a group left unscheduled gets []).
    Gaps are log-normal: within a group around `within_med` seconds, between groups around
    `between_med` seconds, with a break every few groups."""
    out = [[] for _ in groups]
    gi = 0
    for d in days:
        if gi >= len(groups):
            break
        base = local_midnight(d, tz)
        t = base + int(rng.uniform(*start) * HOUR)
        t_end = base + int(rng.uniform(*end) * HOUR)
        quota = per_day if per_day is not None else len(groups)
        if isinstance(quota, tuple):
            quota = rng.randint(*quota)
        done = 0
        until_brk = rng.randint(*brk_every)
        while gi < len(groups) and t < t_end and done < quota:
            times = []
            for j in range(groups[gi]):
                if j:
                    t += lognormal_gap(rng, within_med, 0.6)
                times.append(t)
            out[gi] = times
            gi += 1
            done += 1
            t += lognormal_gap(rng, between_med, 0.7)
            until_brk -= 1
            if until_brk <= 0:
                t += int(rng.uniform(*brk_min) * MIN)
                until_brk = rng.randint(*brk_every)
    return out


# ---------------------------------------------------------------------------
# resample_pairs: every instruction asked three or four times in one day, the
# way a preference-data (DPO) or rejection-sampling pipeline samples several
# answers per prompt. `harvest` counts distinct instructions, so a day of 100
# long answers counts 26-30; no n>1, and never three temperature settings for
# one prompt (parameters' sweep).
# ---------------------------------------------------------------------------

@family("extraction")
def resample_pairs(F, C):
    rng = F.rng
    pool = zh_harvest_pool(C, 90)
    for ti in range(7):
        team = "pref-%s" % hexid(rng, 5)
        addr = ipv4(rng)
        for j in range(2):
            k = F.key(team, "research")
            mode = rng.choice(["none", "fixed", "alt"])
            fixed_t = rng.choice([0.8, 0.9, 1.0])
            order = rng.sample(pool, len(pool))
            pos = 0
            off = rng.randint(0, 6)  # day off
            total = 0
            cap = rng.randint(400, 450)
            for d in range(7):
                if d == off or total >= cap:
                    continue
                kn = rng.randint(22, 30)
                passes = rng.choice([3, 3, 4])
                day_items = order[pos:pos + kn]
                pos += kn
                seq = []
                for p in range(passes):
                    o = day_items[:]
                    rng.shuffle(o)
                    seq.extend((p, it) for it in o)
                base = local_midnight(d, 8)
                a = base + int(rng.uniform(9.0, 10.5) * HOUR)
                b_ = base + int(rng.uniform(21.0, 23.0) * HOUR)
                times = sorted(rng.randint(a, b_) for _ in seq)
                for t, (p, it) in zip(times, seq):
                    if mode == "none":
                        temp = None
                    elif mode == "fixed":
                        temp = fixed_t
                    else:
                        temp = 0.7 if p % 2 == 0 else 1.0
                    if it.alt is not None:
                        at = it.ans if p == 0 else (it.alt if p == 1 else noisy(rng, it.ans, 0.8, 1.2))
                    else:
                        at = noisy(rng, it.ans, 0.75, 1.3)
                    F.req(t, k, addr, body([U(it.text)], temperature=temp), True, at, [it.id])
                    total += 1


# ---------------------------------------------------------------------------
# anchor_quads: threads of four real instructions. The first is sent alone
# (counted); the next three are sent as follow-ups of it, each carrying the
# first question and its real answer as history, so each goes on from a turn
# the key sent and is within its first three follow-ups. Every request is a
# harvested long answer; `harvest` counts one in four. (Unlike seed turns with
# short answers, there is no overhead: the seed is harvested too.)
# ---------------------------------------------------------------------------

EN_CONNECT = ["", "", "Next question: ", "Another one. ", "Thanks. Now, ", "Different topic: ",
              "Also, ", "OK. ", "Great, thanks! ", "Related: "]
ZH_CONNECT = ["", "", "下一个问题：", "谢谢。另外，", "换个话题：", "还有，", "好的。接下来：", "再问一个：",
              "明白了。", "顺便问一下："]


@family("extraction")
def anchor_quads(F, C):
    rng = F.rng
    en_pool = en_harvest_pool(C, 70)
    zh_pool = zh_harvest_pool(C, 70)
    for i in range(12):
        lang = "en" if i < 5 else "zh"
        team = "%s-%s" % (rng.choice(["nlp", "data", "apps", "lab", "dev"]), hexid(rng, 6))
        k = F.key(team, rng.choice(["development", "research"]))
        addr = ipv4(rng) if rng.random() < 0.7 else ipv6(rng)
        pool = en_pool if lang == "en" else zh_pool
        conn = EN_CONNECT if lang == "en" else ZH_CONNECT
        order = rng.sample(pool, len(pool))
        ndays = 3 if lang == "en" else 5
        d0 = rng.randint(0, 7 - ndays)
        nthreads = min(len(order) // 4, ndays * rng.randint(32, 38))
        tz = 8 if lang == "zh" else rng.choice([-5, 1, 5.5, -8])
        groups = [4] * nthreads
        sched = chained_days(rng, groups, tz, range(d0, d0 + ndays), start=(8.5, 9.5), end=(20.0, 22.0),
                             within_med=70, between_med=150, per_day=(32, 38))
        for g, times in enumerate(sched):
            if not times:
                continue
            quad = order[4 * g:4 * g + 4]
            a = quad[0]
            F.req(times[0], k, addr, body([U(a.text)]), True, a.ans, [a.id])
            for t, b_it in zip(times[1:], quad[1:]):
                msgs = [U(a.text), A(a.ans_text), U(rng.choice(conn) + b_it.text)]
                F.req(t, k, addr, body(msgs), True, b_it.ans, [b_it.id])


# ---------------------------------------------------------------------------
# reseed_loop: a probe of "a turn it has already followed up three times".
# One real instruction S opens a session; three new instructions follow it up;
# then S is sent again, word for word, and three more follow it up; six rounds.
# If sending S again restarts its count of follow-ups, a session of 19 long
# answers counts as one instruction.
# ---------------------------------------------------------------------------

@family("extraction")
def reseed_loop(F, C):
    rng = F.rng
    en_pool = en_harvest_pool(C, 70)
    zh_pool = zh_harvest_pool(C, 70)
    for i in range(10):
        lang = "en" if i % 2 == 0 else "zh"
        team = "grp-%s" % hexid(rng, 6)
        k = F.key(team, rng.choice(["development", "research", "product"]))
        addr = ipv4(rng)
        pool = en_pool if lang == "en" else zh_pool
        conn = EN_CONNECT if lang == "en" else ZH_CONNECT
        order = rng.sample(pool, len(pool))
        rounds = 6
        per_sess = 1 + rounds * 3 + (rounds - 1)
        nsess = min(len(order) // (1 + rounds * 3), 4 * rng.randint(4, 5))
        d0 = rng.randint(0, 2)
        tz = 8 if lang == "zh" else rng.choice([-5, 0, 1, 9])
        sched = chained_days(rng, [per_sess] * nsess, tz, range(d0, d0 + 5), start=(9.0, 10.0),
                             end=(19.0, 22.0), within_med=45, between_med=1800, per_day=(4, 6),
                             brk_every=(2, 3), brk_min=(20, 60))
        pos = 0
        for times in sched:
            if not times:
                continue
            s_it = order[pos]
            items = order[pos + 1:pos + 1 + rounds * 3]
            pos += 1 + rounds * 3
            seq = [("seed", s_it)]
            for r in range(rounds):
                if r:
                    seq.append(("seed", s_it))
                for it in items[3 * r:3 * r + 3]:
                    seq.append(("follow", it))
            for t, (kind, it) in zip(times, seq):
                if kind == "seed":
                    F.req(t, k, addr, body([U(s_it.text)]), True, noisy(rng, s_it.ans, 0.85, 1.15), [s_it.id])
                else:
                    msgs = [U(s_it.text), A(s_it.ans_text), U(rng.choice(conn) + it.text)]
                    F.req(t, k, addr, body(msgs), True, it.ans, [it.id])


# ---------------------------------------------------------------------------
# restyle_fanout: multi-view augmentation. A seed instruction answered at
# length, then three follow-ups asking for the same content again in another
# form (simpler, expanded, as a quiz, as a table, in the other language...):
# four long answers per instruction, the three follow-ups within the first
# three of a turn the key sent. ~40 hand-written restyle requests per
# language, so no follow-up wording dominates a template.
# ---------------------------------------------------------------------------

EN_RESTYLE = [
    ("Can you explain that again more simply, as if to a twelve-year-old?", 0.8, 1.1, None),
    ("Please rewrite your answer as a structured outline with headings and bullet points.", 0.8, 1.1, None),
    ("Expand that into a longer, more detailed version with examples.", 1.5, 2.2, None),
    ("Now write the same answer in Chinese.", 1.1, 1.4, "zh"),
    ("Please translate your answer into Simplified Chinese, keeping the formatting.", 1.1, 1.4, "zh"),
    ("Give me the strongest counterarguments or caveats to what you just said.", 0.7, 1.1, None),
    ("Turn this into a short quiz: five questions with answers and explanations.", 0.8, 1.2, None),
    ("Rewrite it in a formal, academic register.", 0.9, 1.2, None),
    ("Summarize your answer as a table comparing the key points.", 0.6, 0.9, None),
    ("Write it again as a friendly email to a colleague.", 0.8, 1.1, None),
    ("Please give three concrete real-world examples that illustrate your answer.", 0.8, 1.3, None),
    ("What would an expert add to your answer? Add it.", 1.0, 1.5, None),
    ("Rewrite it for a slide deck: one slide per key point, with speaker notes.", 1.0, 1.4, None),
    ("Could you make that more engaging, like a blog post?", 1.0, 1.4, None),
    ("Now present the same information as a dialogue between a teacher and a student.", 1.0, 1.5, None),
    ("Rewrite the answer for a busy executive: what matters and why.", 0.6, 0.9, None),
    ("Give a version with more technical depth for a specialist reader.", 1.2, 1.8, None),
    ("Please restate it as a numbered list of practical steps.", 0.7, 1.0, None),
    ("Write it as a short story that gets the same points across.", 1.0, 1.5, None),
    ("Rewrite it as a FAQ with six questions and answers.", 0.9, 1.3, None),
    ("I didn't quite follow. Explain it differently, using an analogy.", 0.8, 1.2, None),
    ("Now argue the opposite position as convincingly as you can.", 0.8, 1.2, None),
    ("Rewrite that in the style of a newspaper column.", 0.9, 1.3, None),
    ("Could you add a section on common misconceptions?", 1.1, 1.5, None),
    ("Rewrite it for a children's encyclopedia.", 0.7, 1.0, None),
    ("Redo your answer with a short introduction and a conclusion.", 1.0, 1.3, None),
    ("Please write it again as if it were a lecture transcript.", 1.1, 1.6, None),
    ("What are the pros and cons? Lay them out in full.", 0.8, 1.2, None),
    ("Rewrite it as a step-by-step guide for beginners.", 0.9, 1.3, None),
    ("Could you write a version for social media, as a long thread?", 0.7, 1.1, None),
    ("Turn the answer into study notes with key terms defined.", 0.8, 1.2, None),
    ("Rewrite it in plain English without any jargon.", 0.8, 1.1, None),
    ("Give the same answer but from a historical perspective.", 1.0, 1.4, None),
    ("Please rewrite with more concrete numbers and facts.", 1.0, 1.3, None),
    ("Now critique your own answer and then give an improved version.", 1.3, 1.9, None),
    ("Write a version suitable for a podcast script.", 1.0, 1.4, None),
]
ZH_RESTYLE = [
    ("请用更通俗的语言再解释一遍，让中学生也能听懂。", 0.8, 1.1, None),
    ("请把你的回答整理成带小标题的提纲。", 0.7, 1.0, None),
    ("请在此基础上展开，写得更详细一些，并举例说明。", 1.5, 2.2, None),
    ("请把上面的回答翻译成英文。", 0.7, 0.95, "en"),
    ("Please translate your answer into English.", 0.7, 0.95, "en"),
    ("请列出与你的观点相反的意见或需要注意的地方。", 0.7, 1.1, None),
    ("根据你的回答出五道测试题，并附上答案和解析。", 0.8, 1.2, None),
    ("请改写成正式的书面语风格。", 0.9, 1.2, None),
    ("请用表格的形式总结要点。", 0.6, 0.9, None),
    ("请改写成一封发给同事的邮件。", 0.8, 1.1, None),
    ("请再举三个现实生活中的例子。", 0.8, 1.3, None),
    ("如果你是这个领域的专家，你还会补充什么？请补充完整。", 1.0, 1.5, None),
    ("请改写成演讲稿。", 1.0, 1.4, None),
    ("能不能写得更生动一些，像一篇公众号文章？", 1.0, 1.4, None),
    ("请改写成老师和学生之间的对话。", 1.0, 1.5, None),
    ("请给忙碌的领导写一个精简版，只说重点和原因。", 0.5, 0.8, None),
    ("请写一个更专业、更有深度的版本。", 1.2, 1.8, None),
    ("请改成按步骤编号的操作指南。", 0.7, 1.0, None),
    ("请把这些内容写成一个小故事。", 1.0, 1.5, None),
    ("请改写成常见问题解答（FAQ）的形式，六个问题。", 0.9, 1.3, None),
    ("我没太看懂，能用一个比喻换个方式解释吗？", 0.8, 1.2, None),
    ("现在请站在相反的立场，尽量有说服力地论证。", 0.8, 1.2, None),
    ("请用报纸评论的风格重写。", 0.9, 1.3, None),
    ("能否补充一部分，讲讲常见的误解？", 1.1, 1.5, None),
    ("请改写成适合儿童百科全书的版本。", 0.7, 1.0, None),
    ("请加上引言和结论，重新组织一下。", 1.0, 1.3, None),
    ("请写成讲座的文字稿。", 1.1, 1.6, None),
    ("优点和缺点分别是什么？请完整列出。", 0.8, 1.2, None),
    ("请改写成给初学者的入门教程。", 0.9, 1.3, None),
    ("请改写成一条适合发微博的长文。", 0.7, 1.1, None),
    ("请整理成学习笔记，并解释关键术语。", 0.8, 1.2, None),
    ("请不用任何术语，用大白话重写。", 0.8, 1.1, None),
    ("请从历史的角度重新回答一遍。", 1.0, 1.4, None),
    ("请加入更多具体的数据和事实。", 1.0, 1.3, None),
    ("请先评价你自己的回答，然后给出一个改进的版本。", 1.3, 1.9, None),
    ("请写成一段播客的台词。", 1.0, 1.4, None),
]


@family("extraction")
def restyle_fanout(F, C):
    rng = F.rng
    en_pool = en_harvest_pool(C, 90)
    zh_pool = zh_harvest_pool(C, 90)
    for i in range(10):
        lang = "en" if i < 5 else "zh"
        team = "aug-%s" % hexid(rng, 6)
        k = F.key(team, rng.choice(["development", "research"]))
        addr = ipv4(rng)
        pool = en_pool if lang == "en" else zh_pool
        bank = EN_RESTYLE if lang == "en" else ZH_RESTYLE
        order = rng.sample(pool, len(pool))
        ndays = 5
        d0 = rng.randint(0, 2)
        tz = 8 if lang == "zh" else rng.choice([-5, 1, 3, 9])
        nseeds = min(len(order), ndays * 36)
        sched = chained_days(rng, [4] * nseeds, tz, range(d0, d0 + ndays), start=(8.5, 9.5),
                             end=(20.0, 22.5), within_med=80, between_med=150, per_day=(30, 36))
        for g, times in enumerate(sched):
            if not times:
                continue
            a = order[g]
            F.req(times[0], k, addr, body([U(a.text)]), True, a.ans, [a.id])
            for t, (text, lo, hi, to) in zip(times[1:], rng.sample(bank, 3)):
                base = a.ans
                at = max(40, int(round(base * rng.uniform(lo, hi))))
                msgs = [U(a.text), A(a.ans_text), U(text)]
                F.req(t, k, addr, body(msgs), True, at, [a.id + "#" + text[:12]])


# ---------------------------------------------------------------------------
# split_benchmark: AlpacaEval items split in two, the first half in the system
# message and the second in the user turn. public_set reads "the first 16 KiB
# of the user's turn or of the system text": neither half holds 60% of the
# item's 5-grams or word pairs. Three campaigns of five keys, each key its own
# team, address and hours, a disjoint fifth of the set at ~40 a day on
# weekdays (under the daily and weekly highs); slices of a set that is not
# matched cannot link.
# ---------------------------------------------------------------------------

SPLIT_WRAPS = [
    ("The user's request begins in this message and continues in the next one. Beginning: %s",
     "%s\n\n(End of request. Please answer it in full.)"),
    ("Task, part 1 of 2: %s", "Task, part 2 of 2: %s\n\nAnswer the whole task thoroughly."),
    ("%s ...", "... %s"),
]


def split_half(text):
    ws = list(re.finditer(r"\S+", text))
    if len(ws) < 2:
        return text, ""
    cut = ws[len(ws) // 2].start()
    return text[:cut].rstrip(), text[cut:].lstrip()


@family("extraction")
def split_benchmark(F, C):
    rng = F.rng
    for c in range(3):
        sw, uw = SPLIT_WRAPS[c]
        order = rng.sample(C.ae, len(C.ae))
        slices = [order[i::5] for i in range(5)]
        for j in range(5):
            team = "%s-%s" % (rng.choice(["studio", "consult", "freelance", "ops", "labs"]), hexid(rng, 5))
            k = F.key(team, rng.choice(["development", "research", "product"]))
            addr = CGNAT[(c + j) % len(CGNAT)] if j < 2 else ipv4(rng)
            tz = rng.choice([8, 1, -5, -8, 5.5, 9, 0])
            items = slices[j]
            d0 = rng.randint(0, 1)
            pos = 0
            for d in range(d0, 7):
                if d % 7 >= 5 or pos >= len(items):
                    continue
                n = min(len(items) - pos, rng.randint(34, 44))
                times = person_day(rng, d, tz, n, think_min=20, think_mean=55, per_session=(6, 15))
                for t in times:
                    it = items[pos]
                    pos += 1
                    h1, h2 = split_half(it.text)
                    F.req(t, k, addr, body([S(sw % h1), U(uw % h2)]), True, ae_tokens(rng, it), [it.id])


# ---------------------------------------------------------------------------
# trickle_bundles: under 40 requests a day per key (a score is scaled by
# min(1, requests in the window / min_requests)), each request bundling five
# to seven unrelated instructions as plain paragraphs (no list markers, so the
# list-item mask makes no common template), so the answer holds five to seven
# long answers and `harvest` counts one.
# ---------------------------------------------------------------------------

EN_BUNDLE_INTRO = ["I have a few unrelated questions, please answer each one fully.",
                   "Several things I need help with today. Take them one at a time and be complete:",
                   "Please work through all of these. Keep each answer separate and detailed.",
                   "A batch of questions from my notes:", "Can you help with all of the following?",
                   ""]
EN_BUNDLE_JOIN = ["", "Next: ", "Another one. ", "Also, ", "And then: ", "One more: ", "Separately, ",
                  "Question: ", "Then this: "]
ZH_BUNDLE_INTRO = ["我有几个互不相关的问题，请逐一详细回答。", "今天需要你帮忙处理下面这些问题，请分别作答，尽量完整：",
                   "请依次回答以下内容，每个问题单独回答：", "下面是我整理的一批问题：", "麻烦帮我看看这些：", ""]
ZH_BUNDLE_JOIN = ["", "另外，", "还有一个问题：", "接下来：", "再问一下：", "然后，", "这个也请回答：", "另一个问题："]


@family("extraction")
def trickle_bundles(F, C):
    rng = F.rng
    zh_pool = zh_harvest_pool(C, 60)
    en_pool = ([it for it in C.en_rest if it.ans >= 60] +
               [it for it in C.en[:C.sim_en] if it.ans >= 60])
    for i in range(12):
        lang = "zh" if i < 8 else "en"
        team = "t-%s" % hexid(rng, 6)
        k = F.key(team, rng.choice(["research", "development"]))
        addr = ipv4(rng)
        if lang == "zh":
            pool = rng.sample(zh_pool, len(zh_pool))
            intro, join, tz = ZH_BUNDLE_INTRO, ZH_BUNDLE_JOIN, 8
        else:
            rest = [it for it in en_pool if int(it.id.split(":")[1]) >= C.sim_en]
            first = [it for it in en_pool if int(it.id.split(":")[1]) < C.sim_en]
            pool = rng.sample(rest, len(rest)) + rng.sample(first, len(first))
            intro, join, tz = EN_BUNDLE_INTRO, EN_BUNDLE_JOIN, rng.choice([-5, 0, 1, -8])
        pos = 0
        d0 = rng.randint(0, 2)
        for d in range(d0, min(7, d0 + 5)):
            n = rng.randint(24, 30)
            base = local_midnight(d, tz)
            times = sorted(base + int(rng.uniform(8.0, 23.5) * HOUR) for _ in range(n))
            for t in times:
                m = rng.randint(5, 7)
                its = pool[pos:pos + m]
                if len(its) < m:
                    break
                pos += m
                parts = []
                it0 = rng.choice(intro)
                for q, it in enumerate(its):
                    parts.append((rng.choice(join) if q else "") + it.text)
                text = ((it0 + "\n\n") if it0 else "") + "\n\n".join(parts)
                at = min(6000, int(sum(it.ans for it in its) * rng.uniform(0.85, 1.0)))
                F.req(t, k, addr, body([U(text)]), True, at, [it.id for it in its])


# ---------------------------------------------------------------------------
# toolcall_briefs: the instruction only in a made-up assistant tool call's
# arguments (write_document(brief=...)), a fixed queue line as the user turn
# and a fixed acknowledgement as the tool result. The monitor reads "user,
# system and developer text ... not tool calls" (Limits): no instruction,
# public item, topic or reasoning is visible; AlpacaEval is harvested.
# ---------------------------------------------------------------------------

TC_USER = ["Process the next brief in the queue.", "Next brief, please.", "Continue with the queued brief.",
           "Run the writer on the current brief.", "Handle the pending document request.",
           "Please take the next item.", "Go ahead with the next job.", "Work on the brief that was just loaded.",
           "Draft the document for the queued request.", "Next one.", "Please produce the document for this job.",
           "Proceed with the current brief."]
TC_RESULT = ['{"status":"accepted","render":"inline"}', '{"ok":true,"next":"write the full document now"}',
             '{"status":"queued","message":"Brief accepted. Write the document in your reply."}',
             '{"accepted":true}']
TC_AUDIENCE = ["general", "students", "professionals", "customers", "beginners", "internal team"]


def tc_tools(variant):
    if variant == 0:
        return [{"type": "function", "function": {
            "name": "write_document",
            "description": "Register a document brief. After the call is accepted, write the document in full.",
            "parameters": {"type": "object", "properties": {
                "brief": {"type": "string"}, "audience": {"type": "string"},
                "length": {"type": "string", "enum": ["short", "medium", "long"]},
                "format": {"type": "string"}}, "required": ["brief"]}}}]
    return [{"type": "function", "function": {
        "name": "load_brief",
        "description": "Loads the next writing job from the queue.",
        "parameters": {"type": "object", "properties": {
            "job_id": {"type": "string"}, "brief": {"type": "string"},
            "audience": {"type": "string"}}, "required": ["job_id", "brief"]}}}]


@family("extraction")
def toolcall_briefs(F, C):
    rng = F.rng
    systems = ["You are DocWriter. When a write_document call has been accepted, write the complete "
               "document described in its brief, in Markdown, without commentary.",
               "You are a writing agent working through a job queue. After each tool call, produce the "
               "requested document in full in your reply."]
    for ti in range(6):
        team = "agentops-%s" % hexid(rng, 5)
        addr = ipv4(rng)
        for j in range(2):
            k = F.key(team, rng.choice(["development", "product"]))
            var = rng.randint(0, 1)
            tools = tc_tools(var)
            system = systems[var]
            items = rng.sample(C.ae, rng.randint(430, 480))
            d0 = rng.randint(0, 3)
            times = profile_arrivals(rng, rng.randint(200, 240), P_GLOBAL, rng.choice([0, 8, -5]),
                                     days=range(d0, d0 + 3), weekend=1.0)
            for t, it in zip(times, items):
                cid = "call_" + hexid(rng, 24)
                if var == 0:
                    fname = "write_document"
                    args = {"brief": it.text, "audience": rng.choice(TC_AUDIENCE), "length": "long",
                            "format": "markdown"}
                else:
                    fname = "load_brief"
                    args = {"job_id": hexid(rng, 10), "brief": it.text, "audience": rng.choice(TC_AUDIENCE)}
                msgs = [S(system), U(rng.choice(TC_USER)),
                        {"role": "assistant", "content": None, "tool_calls": [
                            {"id": cid, "type": "function",
                             "function": {"name": fname, "arguments": json.dumps(args, ensure_ascii=False)}}]},
                        {"role": "tool", "tool_call_id": cid, "content": rng.choice(TC_RESULT)}]
                at = min(1800, int(ae_tokens(rng, it) * rng.uniform(1.0, 1.35)))
                F.req(t, k, addr, body(msgs, tools=tools), True, at, [it.id])


# ---------------------------------------------------------------------------
# diluted_cot: a genuine review-classification pipeline (one-word answers,
# about 25 an hour over a long working day) on the same key as a
# reasoning-trace harvest with logprobs on ~9% of requests. `reasoning` and `parameters` are
# shares of requests, so a small harvest share under a large short-answer
# workload keeps them near zero; the harvest (~40 a day) stays under the
# daily and weekly highs; the classifier's template is answered short and is
# no template of `template_share`.
# ---------------------------------------------------------------------------

CLS_SYSTEMS = [
    "你是一个评论情感分类器。请判断用户给出的评论是正面还是负面，只输出“正面”或“负面”，不要输出其他内容。",
    "你是外卖平台的评论审核助手。请把用户给出的评论分为：正面、负面。只输出类别名称。",
    "Classify the sentiment of the following Chinese customer review. Answer with exactly one word: positive or negative.",
]
ZH_COT = ["请一步一步地思考，并写出完整的推理过程。", "请给出详细的解题步骤和推理过程。",
          "让我们一步一步来思考这个问题。请展示你的思考过程。", "请先分析，再给出结论，把每一步的理由都写出来。"]
EN_COT = ["Let's think step by step. Show your full reasoning before the final answer.",
          "Please reason through this step by step and explain each step.",
          "Walk me through your chain of thought, then give the answer.",
          "Explain your reasoning in detail, step by step, before concluding."]
REASONY = re.compile(r"(calculat|solve|why|explain|compare|determine|evaluate|analy|predict|estimate|"
                     r"prove|reason|identify|classify|find|how many|what is the|计算|为什么|解释|比较|分析|推断|"
                     r"判断|证明|预测|求|多少|如何)", re.I)


@family("extraction")
def diluted_cot(F, C):
    rng = F.rng
    zh_pool = [it for it in zh_harvest_pool(C, 50) if REASONY.search(it.instr)]
    en_pool = [it for it in C.en_rest if it.ans >= 50 and REASONY.search(it.instr)]
    reviews = C.reviews_waimai + C.reviews_hotel
    for ti in range(6):
        team = "cx-analytics-%s" % hexid(rng, 4)
        addr = ipv4(rng)
        for j in range(2):
            k = F.key(team, rng.choice(["analytics", "product"]))
            sysi = rng.randrange(len(CLS_SYSTEMS))
            cls_sys = CLS_SYSTEMS[sysi]
            lang = "zh" if (ti + j) % 3 else "en"
            pool = rng.sample(zh_pool if lang == "zh" else en_pool, len(zh_pool if lang == "zh" else en_pool))
            cots = ZH_COT if lang == "zh" else EN_COT
            d0 = rng.randint(0, 4)
            days = range(d0, min(7, d0 + 2))
            cls_times = profile_arrivals(rng, rng.randint(360, 420), P_LAB, 8, days=days, weekend=0.9)
            h_times = profile_arrivals(rng, rng.randint(36, 44), P_LAB, 8, days=days, weekend=0.9)
            revs = rng.sample(reviews, len(cls_times))
            for t, (lab, rv) in zip(cls_times, revs):
                F.req(t, k, addr, body([S(cls_sys), U(rv)], temperature=0, max_tokens=5), False,
                      1 if sysi == 2 else 2, ["review"])
            for t, it in zip(h_times, pool):
                text = it.text + ("\n\n" if rng.random() < 0.7 else " ") + rng.choice(cots)
                at = detailed(rng, it.ans, 1.6, 2.4, 1600)
                F.req(t, k, addr, body([U(text)], logprobs=True, top_logprobs=5), True, at, [it.id])


# ---------------------------------------------------------------------------
# notice_riders: an adversary who read that `notice` is a header and a webhook
# and that enforcement of "a harvest a person could ask" needs automation
# evidence: 100-115 distinct long answers a day on weekdays (harvest under its
# highs of 200 a day and 600 a week), at a reader's pace (one request per
# 30-100 s, one at a time, working hours with a lunch break, steady from the
# first day so no surge). Expected to reach notice; meant to stay there.
# ---------------------------------------------------------------------------

@family("extraction")
def notice_riders(F, C):
    rng = F.rng
    zh_rest = zh_harvest_pool(C, 80)
    zh_first = [it for it in C.zh[:C.sim_zh] if it.ans >= 80]
    en_rest = en_harvest_pool(C, 80)
    en_first = [it for it in C.en[:C.sim_en] if it.ans >= 80]
    tzs = [8, 8, 8, 8, 9, 8, 5.5, 1, 8, -5, 0, 8]
    for i in range(12):
        lang = "en" if i in (6, 7, 9, 10) else "zh"
        team = "%s-%s" % (rng.choice(["biz", "pm", "ops", "corp", "solo"]), hexid(rng, 6))
        k = F.key(team, rng.choice(["development", "research", "internal"]))
        addr = ipv4(rng)
        if lang == "zh":
            pool = rng.sample(zh_rest, len(zh_rest)) + rng.sample(zh_first, len(zh_first))
        else:
            pool = rng.sample(en_rest, len(en_rest)) + rng.sample(en_first, len(en_first))
        tz = tzs[i]
        pos = 0
        for d in range(5):
            n = rng.randint(100, 115)
            times = person_day(rng, d, tz, n, start=(8.5, 9.2), end=(18.5, 19.5), think_min=30,
                               think_mean=45, per_session=(12, 25))
            for t in times:
                it = pool[pos % len(pool)]
                pos += 1
                F.req(t, k, addr, body([U(it.text)]), True, it.ans, [it.id])


# ---------------------------------------------------------------------------
# cohort_workspace: one organisation, one team, one office address, eighteen
# keys, each used by its own script in its own person-like pattern (days off,
# 40-60 requests on a working day, under 250 a week). Not dispatched together
# (independent times), no common template, a private pool: each key looks
# like a person, the team looks like a busy office.
# ---------------------------------------------------------------------------

@family("extraction")
def cohort_workspace(F, C):
    rng = F.rng
    pool = en_harvest_pool(C, 90) + zh_harvest_pool(C, 90)
    office = ipv4(rng)
    vpn = [ipv4(rng), ipv4(rng)]
    for i in range(20):
        k = F.key("aurora-ml", "development")
        mine = rng.sample(pool, 260)
        active = sorted(rng.sample(range(7), rng.randint(4, 5)))
        pos = 0
        budget = rng.randint(215, 245)
        for d in active:
            n = min(budget - pos, rng.randint(40, 60))
            if n <= 0:
                break
            times = person_day(rng, d, 8, n, start=(8.8, 10.3), end=(18.0, 21.0), think_min=20,
                               think_mean=60, per_session=(5, 14))
            addr = office if rng.random() < 0.8 else rng.choice(vpn)
            for t in times:
                it = mine[pos]
                pos += 1
                F.req(t, k, addr, body([U(it.text)]), True, it.ans, [it.id])


# ===========================================================================
# BENIGN FAMILIES
# ===========================================================================

def _cum(profile):
    c = []
    s = 0.0
    for v in profile:
        s += v
        c.append(s)
    return c


def sample_hour(rng, profile):
    c = _cum(profile)
    x = rng.random() * c[-1]
    for h, v in enumerate(c):
        if x < v:
            return h
    return 23


def session_at(rng, day, tz, profile, k, think=(30, 120)):
    """One session of k requests starting at an hour drawn from a profile."""
    base = local_midnight(day, tz)
    t = base + sample_hour(rng, profile) * HOUR + int(rng.random() * HOUR)
    out = []
    for j in range(k):
        out.append(t)
        t += int((think[0] + rng.expovariate(1.0 / think[1])) * SEC)
    return out


def weighted(rng, pairs):
    tot = sum(w for _, w in pairs)
    x = rng.random() * tot
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


def users(rng, n, prefix):
    return ["%s%s" % (prefix, hexid(rng, 10)) for _ in range(n)]


WRITEY = re.compile(r"^\s*(write|compose|draft|create|generate|rewrite|edit|summari[sz]e|suggest|make|"
                    r"come up|design|develop|produce|describe|explain|outline|brainstorm|give|list|"
                    r"propose|provide|help|can you|how|what)", re.I)
STOP = set("""about above after again against all also and any are because been before being below
between both but can could did does doing down during each few for from further had has have having
here how into its just more most not now off once only other our out over own same should some such
than that the their them then there these they this those through too under until very was were what
when where which while who whom why will with would you your will shall may might must make made
much many also well like just even first last used using one two three four five""".split())


def keywords(rng, text, n=3):
    counts = {}
    for w in re.findall(r"[A-Za-z][A-Za-z\-]{4,}", text):
        lw = w.lower()
        if lw in STOP:
            continue
        counts[lw] = counts.get(lw, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [w for w, _ in ranked[:n]]


def first_sentence(text, limit=140):
    m = re.match(r"(.+?[.!?])(\s|$)", text.strip(), re.S)
    s = (m.group(1) if m else text.strip()).replace("\n", " ")
    if len(s) > limit:
        s = s[:limit].rsplit(" ", 1)[0]
    return s


# ---------------------------------------------------------------------------
# cjk_styleguide_desk: the benign twin of cjk_ballast. Chinese companies'
# internal English-writing assistants: one product key per company, a long
# fixed Chinese system prompt (house rules and reference material), English
# requests from dozens of named employees in office hours, some follow-ups.
# Looks like cjk_ballast (same shape, long answers, volume); it is people at
# work, each asking a handful a day.
# ---------------------------------------------------------------------------

CO_NAMES = ["深圳星河电子有限公司", "杭州云杉科技有限公司", "苏州恒润纺织有限公司", "宁波海联进出口有限公司",
            "广州悦达家居用品有限公司", "成都锦程国际旅行社", "武汉博远医疗器械有限公司", "青岛蓝湾食品有限公司",
            "厦门鹭海物流有限公司", "东莞精工模具有限公司"]
DESK_HEAD = ("你是%s的内部英文写作助手，服务对象是公司员工。请遵守以下规范：\n"
             "1. 回答使用英文，除非员工明确要求中文。\n"
             "2. 商务信函语气礼貌、简洁，避免夸张用语。\n"
             "3. 涉及产品名称时使用官方英文译名。\n"
             "4. 不要编造数据；不确定时请说明。\n"
             "5. 邮件结尾统一使用“Best regards”。\n\n"
             "以下为公司内部培训资料节选，供你了解员工常见的问题和表达习惯：\n")
DESK_PREFIX = ["", "", "", "Please help: ", "帮我写：", "Can you help me with this? ", "急，帮忙看一下：",
               "For a customer: ", "帮忙处理一下：", "Hi, "]
DESK_FOLLOW = [("Make it shorter.", 0.4, 0.7), ("More formal, please.", 0.9, 1.1),
               ("可以再礼貌一点吗？", 0.9, 1.1), ("Translate it into Chinese so I can check.", 1.1, 1.4),
               ("Add a subject line.", 1.0, 1.1), ("再简洁一点。", 0.4, 0.7),
               ("Thanks! Can you give me another version?", 0.9, 1.1)]


@family("benign")
def cjk_styleguide_desk(F, C):
    rng = F.rng
    pool = [it for it in C.en if WRITEY.search(it.instr)] + [it for it in C.ae if WRITEY.search(it.text) and len(it.text) < 400]
    zh_ref = [r for r in C.zh_fx]
    for ci, co in enumerate(CO_NAMES):
        team = "co-%02d-%s" % (ci, hexid(rng, 4))
        k = F.key(team, "product")
        office = ipv4(rng)
        ref = rng.sample(zh_ref, 6)
        txt = ""
        for r in ref:
            if sum(1 for c in txt if _is_cjk(c)) > rng.randint(380, 480):
                break
            txt += "问：%s\n答：%s\n\n" % (r["instruction"], r["output"])
        system = (DESK_HEAD % co) + txt + "资料到此为止。"
        staff = users(rng, rng.randint(40, 110), "emp-")
        activity = {u: rng.choice([0.3, 0.6, 1.0, 1.5, 2.5]) for u in staff}
        for u in staff:
            for d in range(7):
                if d >= 5 and rng.random() < 0.85:
                    continue
                lam = activity[u] * 0.6
                for _ in range(poisson(rng, lam)):
                    k_req = weighted(rng, [(1, 5), (2, 3), (3, 2), (4, 1)])
                    times = session_at(rng, d, 8, P_OFFICE, k_req, think=(40, 200))
                    for t in times:
                        it = rng.choice(pool)
                        q = rng.choice(DESK_PREFIX) + it.text
                        at = ae_tokens(rng, it) if it.id.startswith("ae:") else noisy(rng, it.ans)
                        addr = office if rng.random() < 0.9 else ipv4(rng)
                        F.req(t, k, addr, body([S(system), U(q)], user=u), False, at, [it.id])
                        if rng.random() < 0.22:
                            fq, lo, hi = rng.choice(DESK_FOLLOW)
                            ans_text = it.ans_text or ""
                            msgs = [S(system), U(q), A(ans_text), U(fq)]
                            F.req(t + int((30 + rng.expovariate(1 / 60.0)) * SEC), k, addr,
                                  body(msgs, user=u), False, max(15, int(at * rng.uniform(lo, hi))), [it.id + "#f"])


# ---------------------------------------------------------------------------
# ascii_ticket_digest: the benign twin of ruler_frames. Support tickets
# (human web text from C4 as the customer's message) rendered by the help desk
# in an ASCII frame, summarised by a bot for the on-call engineer, around the
# clock. Rulers, a fixed system prompt, volume, 24/7: a pipeline; the answer
# is a short digest of a pasted text.
# ---------------------------------------------------------------------------

TICKET_SYS = ["You are the ticket digest bot for the support on-call rotation. Summarize each ticket in at most "
              "150 words: what the customer wants, what they already tried, urgency, and a suggested next step. "
              "Do not invent details that are not in the ticket.",
              "Summarize the support ticket for the engineer on call. Output: Summary, Customer ask, Urgency "
              "(low/medium/high), Suggested next step. Be brief and factual."]


def ticket_frame(rng, text, prod):
    bar = "+" + "-" * 78 + "+"
    dbl = "+" + "=" * 78 + "+"
    l1 = "| TICKET #%-8d  PRIORITY: %-3s  CHANNEL: %-6s" % (rng.randint(10000000, 99999999),
                                                        rng.choice(["P1", "P2", "P3", "P3", "P4"]),
                                                        rng.choice(["email", "web", "chat"]))
    l2 = "| PRODUCT: %-14s REGION: %-5s LANG: en" % (prod, rng.choice(["NA", "EU", "APAC", "LATAM"]))
    l1 = l1.ljust(79) + "|"
    l2 = l2.ljust(79) + "|"
    tags = ",".join(rng.sample(["billing", "login", "bug", "howto", "refund", "outage", "feature", "account"], 2))
    l3 = ("| attachments: %d | tags: %s" % (rng.randint(0, 2), tags)).ljust(79) + "|"
    return "\n".join([bar, l1, l2, dbl, text, bar, l3, bar])


@family("benign")
def ascii_ticket_digest(F, C):
    rng = F.rng
    prods = ["CloudSync", "PayFlow", "ShopKit", "TeamDesk", "MediaHub", "HomeIQ", "FleetView", "EduNest"]
    for ti in range(4):
        team = "support-eng-%s" % hexid(rng, 4)
        addr = ipv4(rng)
        for j, env in enumerate(["prod", "prod-eu"]):
            k = F.key(team, "internal", suffix=env)
            system = rng.choice(TICKET_SYS)
            prod = prods[2 * ti + j]
            rate = rng.randint(100, 140)
            times = profile_arrivals(rng, rate, P_GLOBAL, rng.choice([0, 1, -5]), weekend=0.6)
            for t in times:
                di = rng.randrange(len(C.c4))
                doc = C.c4[di]
                lim = 2400 if rng.random() < 0.3 else 1200
                if len(doc) > lim:
                    cut = rng.randint(300, lim)
                    doc = doc[:cut].rsplit(" ", 1)[0]
                text = ticket_frame(rng, doc, prod) + "\n\nDigest this ticket."
                at = max(40, min(260, int(tok(doc) * rng.uniform(0.18, 0.32))))
                F.req(t + rng.randint(2, 20) * SEC, k, addr, body([S(system), U(text)], temperature=0.2),
                      False, at, ["c4:%d" % di])


# ---------------------------------------------------------------------------
# alt_drafts_n3: a writing app that shows three alternative drafts for every
# request (n=3) and has a regenerate button (the same request again within a
# minute). `parameters` counts n>1 over answers of 16 tokens or more, on every
# request; the same prompt is sent again and again. Each user writes a few
# things a day; the product names them.
# ---------------------------------------------------------------------------

@family("benign")
def alt_drafts_n3(F, C):
    rng = F.rng
    pool = [it for it in C.en if WRITEY.search(it.instr)] + [it for it in C.ae if re.match(r"\s*(write|compose|draft|create|generate)", it.text, re.I)]
    for i in range(10):
        team = "app-%s" % hexid(rng, 6)
        k = F.key(team, "product")
        servers = [ipv4(rng) for _ in range(rng.randint(1, 3))]
        temp = rng.choice([0.9, 1.0, 0.8])
        nusers = rng.randint(150, 320)
        us = users(rng, nusers, "u_")
        weights = [1.0 / (r + 1) ** 0.8 for r in range(nusers)]
        tz = rng.choice([-5, -8, 0, 1])
        times = profile_arrivals(rng, rng.randint(120, 150), P_CONSUMER, tz, weekend=0.8)
        cw = _cum(weights)
        for t in times:
            x = rng.random() * cw[-1]
            ui = next(i2 for i2, v in enumerate(cw) if x < v)
            it = rng.choice(pool)
            b = body([U(it.text)], n=3, temperature=temp, user=us[ui])
            one = ae_tokens(rng, it) if it.id.startswith("ae:") else it.ans
            at = sum(noisy(rng, one, 0.75, 1.25) for _ in range(3))
            addr = rng.choice(servers)
            F.req(t, k, addr, b, False, at, [it.id])
            r = rng.random()
            while r < 0.18:
                t += int((15 + rng.expovariate(1 / 30.0)) * SEC)
                at = sum(noisy(rng, one, 0.75, 1.25) for _ in range(3))
                F.req(t, k, addr, b, False, at, [it.id])
                r = rng.random() * 2


# ---------------------------------------------------------------------------
# lesson_followups: the benign twin of restyle_fanout. English-learning apps
# for Chinese students: a question, then follow-up buttons with fixed text
# ("用中文解释一下", "Give me a simpler version.", "Quiz me on this." ...).
# Every question is re-served in other forms, with the same follow-up words
# thousands of times; evenings and weekends; students named.
# ---------------------------------------------------------------------------

APPS = ["英语说", "学而思英语", "每日英语", "扇贝学堂", "流利口语", "英语帮", "悦读英语", "小树英语", "CampusEnglish",
        "英语角", "TalkMate", "学霸英语"]
BUTTONS = [("用中文解释一下", 1.0, 1.3), ("Give me a simpler version.", 0.6, 0.9),
           ("Give me two more examples.", 0.5, 0.8), ("Quiz me on this.", 0.6, 0.9),
           ("Explain the difficult words.", 0.5, 0.8), ("这句话的语法是什么？", 0.5, 0.8)]


@family("benign")
def lesson_followups(F, C):
    rng = F.rng
    en_pool = [it for it in C.en if it.ans >= 30] + [it for it in C.ae if len(it.text) < 300]
    zh_pool = [it for it in C.zh if it.ans >= 30]
    for i in range(12):
        team = "edu-%s" % hexid(rng, 6)
        k = F.key(team, "product")
        servers = [ipv4(rng) for _ in range(2)]
        system = "你是“%s”App里的AI英语老师。学生多为中国的初高中生和大学生。回答要准确、友好，必要时给出中文解释。" % APPS[i]
        students = users(rng, rng.randint(250, 500), "stu_")
        times = profile_arrivals(rng, rng.randint(45, 60), P_STUDENT, 8, weekend=1.6)
        for t in times:
            u = rng.choice(students)
            it = rng.choice(en_pool) if rng.random() < 0.8 else rng.choice(zh_pool)
            at = ae_tokens(rng, it) if it.id.startswith("ae:") else noisy(rng, it.ans)
            addr = rng.choice(servers)
            F.req(t, k, addr, body([S(system), U(it.text)], user=u), False, at, [it.id])
            nb = weighted(rng, [(0, 4), (1, 3), (2, 2), (3, 1)])
            for label, lo, hi in rng.sample(BUTTONS, nb):
                t += int((25 + rng.expovariate(1 / 70.0)) * SEC)
                msgs = [S(system), U(it.text), A(it.ans_text or ""), U(label)]
                F.req(t, k, addr, body(msgs, user=u), False, max(20, int(at * rng.uniform(lo, hi))),
                      [it.id + "#" + label])


# ---------------------------------------------------------------------------
# prompt_ab_sweeps: prompt engineering. A team's fixed test set of 40-80
# queries is run under a new system prompt variant several times a workday
# (persona x tone x format x length x version), four requests in flight.
# Every variant x query is a new self-contained request with a system text
# the key never sent: hundreds of distinct long answers a day, machine-paced,
# concurrent, shifting as the prompt changes. It is how system prompts are
# developed.
# ---------------------------------------------------------------------------

PERSONA = ["You are a helpful assistant for %s.",
           "You are %s's support assistant. You answer questions from customers and prospects.",
           "You are an expert assistant embedded in %s. Users are busy professionals.",
           "You are a friendly tutor inside %s."]
TONE = ["Be warm and encouraging.", "Be neutral and precise.", "Use a confident, direct tone.",
        "Keep a casual, conversational tone."]
FORMAT = ["Use Markdown headings and bullet points.", "Answer in plain paragraphs without Markdown.",
          "Start with a one-sentence answer, then the details.", "Use numbered steps where possible."]
LENGTH = [("Keep answers under 120 words.", 0.35, 0.6), ("Aim for a medium-length answer.", 0.8, 1.1),
          ("Be thorough and cover edge cases.", 1.3, 1.8)]
SAFETY = ["If you are unsure, say so.", "Never make up facts.",
          "Do not give legal or medical advice; suggest a professional instead.", ""]


@family("benign")
def prompt_ab_sweeps(F, C):
    rng = F.rng
    products = ["Notely", "BrightDesk", "Quillo", "Stackwise", "Tutorly"]
    for ti in range(5):
        team = "prompt-eng-%s" % hexid(rng, 4)
        addr = ipv4(rng)
        prod = products[ti]
        tz = rng.choice([-8, -5, 0, 1, 8])
        testset = rng.sample(C.ae, rng.randint(20, 40)) + rng.sample(C.en, rng.randint(20, 40))
        for j in range(2):
            k = F.key(team, ["development", "evaluation"][j], suffix=["dev", "ci"][j])
            major = rng.randint(1, 4)
            minor = 0
            for d in range(5):
                nsweeps = rng.randint(3, 5) if j == 0 else rng.randint(2, 3)
                base = local_midnight(d, tz)
                starts = sorted(rng.uniform(9.5, 18.0) for _ in range(nsweeps))
                for st in starts:
                    minor += 1
                    lng = rng.choice(LENGTH)
                    system = " ".join(x for x in [PERSONA[rng.randrange(4)] % prod, rng.choice(TONE),
                                                  rng.choice(FORMAT), lng[0], rng.choice(SAFETY)] if x)
                    system += "\n\n(prompt %s v%d.%d)" % (prod.lower(), major, minor)
                    temp = rng.choice([0, 0.2, 0.7])
                    t = base + int(st * HOUR)
                    qs = testset[:] if j == 0 else rng.sample(testset, len(testset) // 2)
                    for bi in range(0, len(qs), 4):
                        for q in qs[bi:bi + 4]:
                            a0 = ae_tokens(rng, q) if q.id.startswith("ae:") else q.ans
                            at = max(10, int(a0 * rng.uniform(lng[1], lng[2])))
                            F.req(t + rng.randint(0, 400), k, addr, body([S(system), U(q.text)], temperature=temp),
                                  False, at, [q.id + "@v%d" % minor])
                        t += int(rng.uniform(4, 14) * SEC)


# ---------------------------------------------------------------------------
# seo_agency: content agencies writing client blog posts through a CMS
# plugin: one scaffold filled with a working title (the first sentence of a
# real web page or encyclopedia passage), keywords and a word count, 150-250
# articles a workday per agency. Templated, distinct, long answers, every
# topic: a content business, not a harvest. The article length follows the
# brief's word count, which is the real page's length.
# ---------------------------------------------------------------------------

SEO_TONES = ["friendly", "authoritative", "practical", "upbeat", "professional"]
SEO_AUD = ["small business owners", "homeowners", "first-time buyers", "busy parents", "IT managers",
           "students", "travellers"]
SEO_BRIEFS = [
    "Write a blog post of about %(n)d words for our client's website.\nWorking title: %(title)s\n"
    "Target keywords: %(kw)s\nTone: %(tone)s\nAudience: %(aud)s\nInclude an introduction, subheadings, "
    "and a short conclusion with a call to action.",
    "SEO article request\nTopic: %(title)s\nKeywords to include naturally: %(kw)s\nLength: about %(n)d words\n"
    "Voice: %(tone)s\nPlease write the full article with H2 subheadings.",
    "Client brief: %(title)s\nWe need a %(n)d-word article for the blog. Keywords: %(kw)s. Readers are "
    "%(aud)s. Keep it %(tone)s, original and useful.",
]


@family("benign")
def seo_agency(F, C):
    rng = F.rng
    sources = [(d, "c4", None) for d in C.c4 if len(d.split()) >= 120]
    for a_i, c in C.wiki_chunks:
        # an encyclopedia passage: the article's subject and the passage's own key words
        subj = re.split(r"\s+\(|\s+(?:is|was|are|were|refers)\s", C.wiki_articles[a_i], 1)[0][:60]
        if len(subj) < 4 or subj.split()[0].lower() in STOP or subj.split()[0] == "This":
            kw = keywords(None, c, 1)
            subj = kw[0].title() if kw else "Background"
        sources.append((c, "wiki", subj))
    for i in range(10):
        team = "agency-%s" % hexid(rng, 6)
        k = F.key(team, rng.choice(["product", "content"]))
        addr = ipv4(rng)
        brief = SEO_BRIEFS[i % 3]
        tz = rng.choice([-5, -8, 0, 1, 10])
        times = profile_arrivals(rng, rng.randint(170, 240), P_OFFICE, tz, weekend=0.05)
        order = rng.sample(range(len(sources)), len(sources))
        for n, t in enumerate(times):
            doc, kind, subj = sources[order[n % len(order)]]
            words = len(doc.split())
            nw = max(400, min(1500, int(round(words / 100.0)) * 100)) if kind == "c4" else rng.choice([600, 800, 1000])
            kws = keywords(rng, doc)
            if kind == "c4":
                title = first_sentence(doc)
            else:
                angle = [w for w in kws if w not in subj.lower()][:2]
                title = "%s: %s" % (subj, " and ".join(angle) if angle else "an overview")
            text = brief % {"n": nw, "title": title, "kw": ", ".join(kws),
                            "tone": rng.choice(SEO_TONES), "aud": rng.choice(SEO_AUD)}
            at = min(2100, int(nw * 1.33 * rng.uniform(0.85, 1.1)))
            F.req(t, k, addr, body([U(text)], temperature=rng.choice([0.7, 0.8])), False, at,
                  ["%s:%d" % (kind, order[n % len(order)])])


# ---------------------------------------------------------------------------
# variance_study: research on the variance of answers: a subset of
# AlpacaEval, each item sampled five times (one pass a night), at one
# temperature per key, to be judged offline. A public set, hundreds of
# distinct long answers, machine-paced at night, repeated prompts.
# ---------------------------------------------------------------------------

@family("benign")
def variance_study(F, C):
    rng = F.rng
    for ti in range(3):
        team = "uni-nlp-%s" % hexid(rng, 4)
        addr = ipv4(rng)
        tz = rng.choice([1, -5, 8])
        for j, temp in enumerate([1.0, 0.7]):
            k = F.key(team, "research")
            items = rng.sample(C.ae, rng.randint(180, 220))
            for p in range(5):
                d = p + (1 if ti == 2 else 0)
                t = local_midnight(d, tz) + int(rng.uniform(22.0, 23.5) * HOUR)
                for it in items:
                    F.req(t, k, addr, body([U(it.text)], temperature=temp, max_tokens=2048), False,
                          noisy(rng, it.ans, 0.8, 1.2), [it.id])
                    t += int(rng.uniform(6, 16) * SEC)


# ---------------------------------------------------------------------------
# cgnat_hobbyists: individual developers and curious people on mobile and
# home broadband behind carrier-grade NAT (a handful of 100.64.0.0/10
# addresses shared by unrelated people, and by some extraction keys: see
# split_benchmark). Each its own key and team, its own hours and days; some
# ask public-benchmark-like questions, some build side projects over a
# scaffold, a few are heavy on one or two days.
# ---------------------------------------------------------------------------

HOBBY_SCAFFOLDS = [
    ("Summarize this paragraph in two sentences:\n\n%s", 0.15, 0.3),
    ("Write five quiz questions (with answers) about the following text:\n\n%s", 0.8, 1.3),
    ("Extract the people, places and dates mentioned in this text as JSON:\n\n%s", 0.2, 0.45),
    ("Explain this passage to a ten-year-old:\n\n%s", 0.6, 1.0),
    ("Give this paragraph a title and three tags:\n\n%s", 0.05, 0.12),
]
HOBBY_FOLLOW = [("thanks! can you go into more detail?", 1.0, 1.6), ("shorter please", 0.3, 0.6),
                ("why?", 0.5, 0.9), ("can you give an example?", 0.5, 0.9), ("用中文回答", 1.0, 1.3),
                ("ok and what about the opposite case?", 0.6, 1.0)]


@family("benign")
def cgnat_hobbyists(F, C):
    rng = F.rng
    qpool = C.ae + C.en + C.zh
    for i in range(70):
        team = "indie-%s" % hexid(rng, 8)
        k = F.key(team, rng.choice(["development", "development", "research", "personal"]))
        tz = rng.choice([8, 9, 5.5, 1, 0, -3, -5, -8, 7, 3, 8, 1])
        nat = rng.sample(CGNAT, 2)
        v6 = ipv6(rng) if rng.random() < 0.35 else None
        kind = weighted(rng, [("curious", 6), ("builder", 3), ("heavy", 1)])
        ndays = rng.randint(2, 6)
        days = sorted(rng.sample(range(7), ndays))
        scaf = rng.choice(HOBBY_SCAFFOLDS)
        for d in days:
            wd = d % 7
            prof = P_CONSUMER if wd >= 5 else P_STUDENT
            if kind == "heavy" and rng.random() < 0.5:
                nsess, per = rng.randint(3, 6), (10, 30)
            else:
                nsess, per = rng.randint(1, 3), (2, 9)
            for _ in range(nsess):
                times = session_at(rng, d, tz, prof, rng.randint(*per), think=(15, 90))
                last = None
                for t in times:
                    addr = v6 if (v6 and rng.random() < 0.6) else rng.choice(nat)
                    if kind != "curious" and rng.random() < 0.7:
                        a_i, chunk = rng.choice(C.wiki_chunks)
                        f, lo, hi = scaf
                        at = max(8, int(tok(chunk) * rng.uniform(lo, hi)))
                        F.req(t, k, addr, body([U(f % chunk)]), False, at, ["wiki:%d" % a_i])
                        last = None
                    elif last is not None and rng.random() < 0.3:
                        it, at0 = last
                        fq, lo, hi = rng.choice(HOBBY_FOLLOW)
                        msgs = [U(it.text), A(it.ans_text or ""), U(fq)]
                        F.req(t, k, addr, body(msgs), False, max(10, int(at0 * rng.uniform(lo, hi))), [it.id + "#f"])
                    else:
                        it = rng.choice(qpool)
                        at = ae_tokens(rng, it) if it.id.startswith("ae:") else noisy(rng, it.ans)
                        F.req(t, k, addr, body([U(it.text)]), False, at, [it.id])
                        last = (it, at)


# ---------------------------------------------------------------------------
# toolcall_workflows: the benign twin of toolcall_briefs. A documents app
# built on function calling: the user's request goes up with a
# create_document tool; the model calls it (a short answer); the app runs it
# and hands the result back; the model writes the document (long). Tool
# calls, a tool result as the last turn, long answers, named users.
# ---------------------------------------------------------------------------

WF_TOOLS = [{"type": "function", "function": {
    "name": "create_document",
    "description": "Create a new document in the user's workspace and return its id.",
    "parameters": {"type": "object", "properties": {
        "title": {"type": "string"}, "kind": {"type": "string", "enum": ["note", "article", "email", "plan", "other"]}},
        "required": ["title"]}}},
    {"type": "function", "function": {
        "name": "search_workspace",
        "description": "Search the user's workspace for related documents.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}]
WF_SYS = ["You are the writing assistant of %s, a collaborative workspace. When the user asks for a document, "
          "create it with create_document, then write its content in your reply. Use the workspace search when "
          "the user refers to their own documents."]


@family("benign")
def toolcall_workflows(F, C):
    rng = F.rng
    pool = [it for it in C.en if WRITEY.search(it.instr)] + [it for it in C.ae if WRITEY.search(it.text)]
    names = ["Pageflow", "Docsy", "Inkwell", "Loomdesk", "Papertrail", "Scribely", "Notion-like", "Workbook"]
    for i in range(8):
        team = "wsapp-%s" % hexid(rng, 5)
        k = F.key(team, "product")
        servers = [ipv4(rng) for _ in range(2)]
        system = WF_SYS[0] % names[i]
        us = users(rng, rng.randint(120, 260), "acct_")
        tz = rng.choice([-5, -8, 0, 1, 9])
        times = profile_arrivals(rng, rng.randint(45, 60), P_OFFICE, tz, weekend=0.3)
        for t in times:
            u = rng.choice(us)
            it = rng.choice(pool)
            addr = rng.choice(servers)
            title = first_sentence(it.instr, 60).rstrip(".")
            cid = "call_" + hexid(rng, 24)
            F.req(t, k, addr, body([S(system), U(it.text)], tools=WF_TOOLS, user=u), False,
                  rng.randint(25, 60), [it.id + "#call"])
            args = json.dumps({"title": title, "kind": rng.choice(["note", "article", "email", "plan", "other"])})
            msgs = [S(system), U(it.text),
                    {"role": "assistant", "content": None, "tool_calls": [
                        {"id": cid, "type": "function", "function": {"name": "create_document", "arguments": args}}]},
                    {"role": "tool", "tool_call_id": cid,
                     "content": json.dumps({"id": "doc_" + hexid(rng, 10), "status": "created"})}]
            at = ae_tokens(rng, it) if it.id.startswith("ae:") else noisy(rng, it.ans, 0.9, 1.3)
            F.req(t + int(rng.uniform(1.5, 4.0) * SEC), k, addr, body(msgs, tools=WF_TOOLS, user=u), False, at, [it.id])


# ---------------------------------------------------------------------------
# worksheet_keys: teachers preparing answer keys: a numbered worksheet of 6-10
# questions per request, "create an answer key with full worked answers";
# Sunday evening planning and after school; four schools, each teacher a key
# in the school's team behind the school's address (and home addresses).
# ---------------------------------------------------------------------------

WS_INTRO = ["Create an answer key with full worked answers for this worksheet:",
            "Here is this week's worksheet. Please write model answers for each question, in detail, so students can check their work:",
            "I need complete model answers for these homework questions (for the teacher's copy):",
            "请为下面的练习题写出详细的参考答案："]


@family("benign")
def worksheet_keys(F, C):
    rng = F.rng
    en_pool = [it for it in C.en if it.ans >= 40] + C.ae
    zh_pool = [it for it in C.zh if it.ans >= 40]
    for s_i in range(4):
        team = "school-%s" % hexid(rng, 5)
        school = ipv4(rng)
        tz = [-5, 0, 8, 1][s_i]
        for j in range(4):
            k = F.key(team, "education")
            home = ipv4(rng)
            zh = (s_i == 2 and j % 2 == 0)
            plan = [6] + sorted(rng.sample([0, 1, 2, 3, 4], rng.randint(1, 3)))
            for d in plan:
                if d == 6:
                    times = session_at(rng, d, tz, [0] * 18 + [0.6, 1, 1, 0.8, 0.3, 0], rng.randint(3, 8), think=(90, 240))
                    addr = home
                else:
                    times = session_at(rng, d, tz, [0] * 15 + [1, 1, 0.7] + [0] * 6, rng.randint(2, 5), think=(90, 300))
                    addr = school
                for t in times:
                    m = rng.randint(6, 10)
                    its = rng.sample(zh_pool if zh else en_pool, m)
                    intro = WS_INTRO[3] if zh else rng.choice(WS_INTRO[:3])
                    text = intro + "\n\n" + "\n".join("%d. %s" % (q + 1, it.text) for q, it in enumerate(its))
                    at = int(sum((ae_tokens(rng, it) if it.id.startswith("ae:") else it.ans) for it in its) * rng.uniform(0.6, 0.85))
                    F.req(t, k, addr, body([U(text)]), False, min(at, 6000), [it.id for it in its])


# ---------------------------------------------------------------------------
# reasoning_tutor: maths and logic tutoring products: every request asks for a
# step-by-step solution (the reasoning lexicon, English and Chinese) and sets
# logprobs/top_logprobs, which the app uses to shade uncertain steps.
# `reasoning` and `parameters` on nearly every request; students named.
# ---------------------------------------------------------------------------

TUTOR_SYS = ["You are a patient maths and logic tutor. Solve the student's problem step by step, explaining each "
             "step, then state the final answer clearly.",
             "你是一名耐心的数学和逻辑辅导老师。请一步一步地解答学生的问题，解释每一步的理由，最后给出答案。"]
TUTOR_ASK = ["Please solve this step by step.", "Can you show me the steps?", "Explain your reasoning step by step.",
             "I don't get this one, walk me through it.", "请一步一步地讲解。", "请写出解题步骤。", ""]


@family("benign")
def reasoning_tutor(F, C):
    rng = F.rng
    en_pool = [it for it in C.en if REASONY.search(it.instr) and it.ans >= 20] + \
              [it for it in C.ae if REASONY.search(it.text) and len(it.text) < 500]
    zh_pool = [it for it in C.zh if REASONY.search(it.instr) and it.ans >= 20]
    for i in range(8):
        team = "tutor-%s" % hexid(rng, 6)
        k = F.key(team, "product")
        servers = [ipv4(rng) for _ in range(2)]
        zh = i % 2 == 1
        system = TUTOR_SYS[1] if zh else TUTOR_SYS[0]
        studs = users(rng, rng.randint(200, 400), "s-")
        tz = 8 if zh else rng.choice([-5, -8, 0])
        times = profile_arrivals(rng, rng.randint(120, 150), P_STUDENT, tz, weekend=1.3)
        for t in times:
            it = rng.choice(zh_pool if zh else en_pool)
            ask = rng.choice(TUTOR_ASK[4:] if zh else TUTOR_ASK[:4] + TUTOR_ASK[6:])
            text = it.text + (("\n\n" + ask) if ask else "")
            a0 = ae_tokens(rng, it) if it.id.startswith("ae:") else it.ans
            at = detailed(rng, a0, 1.3, 2.0, 1500)
            F.req(t, k, rng.choice(servers), body([S(system), U(text)], logprobs=True, top_logprobs=3,
                                                  user=rng.choice(studs)), False, at, [it.id])


# ---------------------------------------------------------------------------
# moderation_appeals: a review-moderation pipeline (one-word labels, tens of
# thousands a week) and, for the few reviews whose removal a merchant appeals,
# a long explanation for the appeals team. Templated, machine-paced, around
# the clock, some long answers; the long part is a written explanation of a
# pasted review (its length follows the review's).
# ---------------------------------------------------------------------------

MOD_SYS = "你是点评平台的内容审核模型。判断评论是否违反社区规范（广告、辱骂、虚假信息）。只输出：通过 / 违规。"
APPEAL_T = ["商家对下面这条评论的处理结果提出了申诉。请为申诉审核团队写一份详细说明：评论的内容要点、是否违反社区规范、"
            "依据哪一条规范、建议的处理方式及理由。\n\n评论：%s",
            "A merchant has appealed the moderation decision on the review below. Write a detailed explanation "
            "for the appeals team: what the review says (translate the key parts), whether it breaks the "
            "community guidelines and which rule, and the recommended outcome with reasons.\n\nReview: %s"]


@family("benign")
def moderation_appeals(F, C):
    rng = F.rng
    reviews = C.reviews_waimai + C.reviews_hotel
    for ti in range(5):
        team = "trust-safety-%s" % hexid(rng, 4)
        addr = ipv4(rng)
        for j in range(2):
            k = F.key(team, "internal")
            rate = rng.randint(200, 260)
            times = profile_arrivals(rng, rate, P_GLOBAL, 8, weekend=0.9)
            for t in times:
                lab, rv = rng.choice(reviews)
                if rng.random() < 0.04:
                    tpl = rng.choice(APPEAL_T)
                    at = max(120, min(450, int(110 + 1.3 * tok(rv) * rng.uniform(0.8, 1.4))))
                    F.req(t, k, addr, body([U(tpl % rv)]), False, at, ["appeal"])
                else:
                    F.req(t, k, addr, body([S(MOD_SYS), U(rv)], temperature=0, max_tokens=4), False, 2, ["review"])


# ---------------------------------------------------------------------------
# notebook_bursts: data scientists in notebooks: asyncio.gather over a list
# of 20-60 prompts, eight in flight at once (the same second), one to three
# such cells on a few days, and single interactive requests between. Projects:
# explanations for onboarding docs, summaries of passages, review
# translations. Concurrency and pace of a loop, long answers, distinct
# prompts: analysts, not harvesters.
# ---------------------------------------------------------------------------

NB_PROJECTS = [
    ("explain", "Explain the following for our internal onboarding docs. Be accurate and fairly detailed:\n\n%s"),
    ("summ", "Summarize in 3 bullet points:\n\n%s"),
    ("trans", "Translate this customer review into English:\n\n%s"),
    ("faq", "Draft an FAQ answer (2-4 paragraphs) to this question from our users:\n\n%s"),
]


@family("benign")
def notebook_bursts(F, C):
    rng = F.rng
    qpool = C.en + C.ae
    reviews = C.reviews_hotel + C.reviews_waimai
    for ti in range(8):
        team = "ds-%s" % hexid(rng, 6)
        office = ipv4(rng)
        tz = rng.choice([-5, -8, 0, 1, 8, 5.5])
        for j in range(3):
            k = F.key(team, rng.choice(["research", "analytics"]))
            proj, tpl = rng.choice(NB_PROJECTS)
            days = sorted(rng.sample(range(5), rng.randint(2, 4)))
            for d in days:
                for _ in range(rng.randint(1, 3)):
                    t = local_midnight(d, tz) + int(rng.uniform(9.5, 18.0) * HOUR)
                    n = rng.randint(20, 60)
                    for b0 in range(0, n, 8):
                        for q in range(min(8, n - b0)):
                            if proj in ("explain", "faq"):
                                it = rng.choice(qpool)
                                a0 = ae_tokens(rng, it) if it.id.startswith("ae:") else it.ans
                                at = detailed(rng, a0, 1.1, 1.6, 1400) if proj == "explain" else noisy(rng, a0, 0.8, 1.2)
                                F.req(t + rng.randint(0, 30), k, office, body([U(tpl % it.text)]), False, at, [it.id])
                            elif proj == "summ":
                                a_i, chunk = rng.choice(C.wiki_chunks)
                                F.req(t + rng.randint(0, 30), k, office, body([U(tpl % chunk)]), False,
                                      rng.randint(45, 90), ["wiki:%d" % a_i])
                            else:
                                lab, rv = rng.choice(reviews)
                                F.req(t + rng.randint(0, 30), k, office, body([U(tpl % rv)]), False,
                                      max(5, int(tok(rv) * rng.uniform(0.9, 1.4))), ["review"])
                        t += int(rng.uniform(5, 18) * SEC)
                # interactive requests in between
                for t in session_at(rng, d, tz, P_OFFICE, rng.randint(3, 12), think=(30, 200)):
                    it = rng.choice(qpool)
                    at = ae_tokens(rng, it) if it.id.startswith("ae:") else noisy(rng, it.ans)
                    F.req(t, k, office, body([U(it.text)]), False, at, [it.id])


# ---------------------------------------------------------------------------
# friday_reports: four offices of 20 people, each person a key in the
# office's team behind its address. Light use Monday to Thursday; on Friday
# afternoon everyone turns their notes into the weekly report within the
# same two hours (in the same minutes as their colleagues), and on Monday
# morning plans the week. A deadline makes a team active in step.
# ---------------------------------------------------------------------------

REPORT_ASK = ["Turn my notes into a weekly status report with sections: Done, In progress, Blockers, Next week.\n\nNotes:\n%s",
              "Please write this week's report for my manager from these notes. Keep it professional.\n\n%s",
              "把下面的笔记整理成本周工作周报（本周完成、进行中、问题与风险、下周计划）：\n\n%s",
              "Weekly update, please. Here is what I wrote down this week:\n%s"]
PLAN_ASK = ["Help me plan my week. My priorities are below; suggest a schedule and what to drop if time runs short.\n\n%s",
            "根据下面的内容，帮我列一个本周的工作计划：\n\n%s"]


@family("benign")
def friday_reports(F, C):
    rng = F.rng
    qpool = C.en + C.zh
    for oi, tz in enumerate([8, 1, -5, 5.5]):
        team = "office-%s" % hexid(rng, 5)
        addr = ipv4(rng)
        zh_office = tz == 8
        for j in range(20):
            k = F.key(team, "internal")
            habit = rng.choice([0.5, 1.2, 2.0, 3.5])
            # Monday morning planning
            if rng.random() < 0.6:
                for t in session_at(rng, 0, tz, [0] * 9 + [1, 0.6] + [0] * 13, rng.randint(1, 2), think=(60, 180)):
                    _, chunk = rng.choice(C.wiki_chunks)
                    notes = chunk[:rng.randint(200, 500)]
                    F.req(t, k, addr, body([U(rng.choice(PLAN_ASK[1:] if zh_office else PLAN_ASK[:1]) % notes)]),
                          False, int(120 + tok(notes) * rng.uniform(0.6, 1.0)), ["plan"])
            # ordinary days
            for d in range(4):
                for _ in range(poisson(rng, habit)):
                    for t in session_at(rng, d, tz, P_OFFICE, rng.randint(1, 4), think=(40, 200)):
                        it = rng.choice(qpool)
                        F.req(t, k, addr, body([U(it.text)]), False, noisy(rng, it.ans), [it.id])
            # Friday afternoon report rush, 14:00-17:00
            n = rng.randint(3, 8)
            base = local_midnight(4, tz) + int(rng.uniform(14.0, 16.6) * HOUR)
            t = base
            for q in range(n):
                src = rng.choice(C.c4)
                notes = src[:rng.randint(300, 900)].rsplit(" ", 1)[0]
                ask = REPORT_ASK[2] if (zh_office and rng.random() < 0.7) else rng.choice([REPORT_ASK[0], REPORT_ASK[1], REPORT_ASK[3]])
                at = int(80 + tok(notes) * rng.uniform(0.6, 1.1))
                F.req(t, k, addr, body([U(ask % notes)]), False, at, ["report"])
                t += int((40 + rng.expovariate(1 / 240.0)) * SEC)


# ---------------------------------------------------------------------------
# overnight_backfill: community Q&A sites drafting answers for unanswered
# questions, one night job per site: each question gets a long answer, at
# the key's request limit (requests_per_minute 6) with a client that sends a
# little faster and retries refused requests, 02:00-04:00 local, two nights.
# Distinct long answers at volume, limits and retries, night-time: a product
# backfilling content.
# ---------------------------------------------------------------------------

BACKFILL_T = ["A user of our Q&A site asked the question below and nobody has answered it yet. Write a helpful, "
              "accurate answer of the kind our best community members write. Use short paragraphs.\n\nQuestion: %s",
              "以下是我们问答社区里一个还没有人回答的问题。请写一个准确、有帮助的回答，像社区里最好的回答者那样。\n\n问题：%s"]


@family("benign")
def overnight_backfill(F, C):
    rng = F.rng
    for i in range(6):
        zh = i >= 4
        team = "qa-site-%s" % hexid(rng, 5)
        k = F.key(team, "product", rpm=6)
        addr = ipv4(rng)
        tz = 8 if zh else rng.choice([-5, 0, 1, -8])
        pool = (C.zh if zh else C.en + C.ae)
        order = rng.sample(pool, len(pool))
        pos = 0
        nights = sorted(rng.sample(range(1, 6), 2))
        for d in nights:
            t = local_midnight(d, tz) + int(rng.uniform(2.0, 2.3) * HOUR)
            end = local_midnight(d, tz) + int(rng.uniform(3.8, 4.3) * HOUR)
            while t < end and pos < len(order):
                it = order[pos]
                pos += 1
                b = body([U(BACKFILL_T[1 if zh else 0] % it.text)], temperature=0.5)
                a0 = ae_tokens(rng, it) if it.id.startswith("ae:") else it.ans
                at = detailed(rng, a0, 1.1, 1.5, 1500)
                F.req(t, k, addr, b, False, at, [it.id])
                if rng.random() < 0.2:  # a retry after a refusal
                    F.req(t + rng.randint(2, 6) * SEC, k, addr, b, False, at, [it.id])
                t += int(rng.uniform(8.0, 10.5) * SEC)


# ---------------------------------------------------------------------------
# bilingual_newsroom: Chinese newsrooms compiling English material (web pages,
# encyclopedia passages) into Chinese copy: translations, compiled pieces with
# background, 200-character briefs, 800-character commentaries. English in,
# Chinese out: a CJK character is a token, so the Chinese copy of an English
# text has more tokens than its source, and a commentary is several times the
# material; 06:00-24:00 in Beijing, every day.
# ---------------------------------------------------------------------------

NEWS_T = [("请把下面这篇英文稿件编译成中文，保留关键事实，补充必要的背景说明，适合国内读者阅读：\n\n%s", "compile"),
          ("请将以下英文内容翻译成中文，要求准确、通顺：\n\n%s", "translate"),
          ("请根据下面的英文材料，写一篇800字左右的中文评论文章：\n\n%s", "comment"),
          ("请根据以下英文材料，用中文写一段200字左右的新闻摘要：\n\n%s", "brief")]
P_NEWS = [0.1, 0.05, 0, 0, 0, 0.1, 0.4, 0.7, 0.9, 1, 1, 1, 0.8, 0.9, 1, 1, 1, 0.9, 0.8, 0.8, 0.9, 0.8, 0.6, 0.3]


@family("benign")
def bilingual_newsroom(F, C):
    rng = F.rng
    srcs = [d for d in C.c4 if len(d) >= 400] + [c for _, c in C.wiki_chunks]
    for i in range(8):
        team = "news-%s" % hexid(rng, 5)
        k = F.key(team, rng.choice(["product", "internal"]))
        addr = ipv4(rng)
        times = profile_arrivals(rng, rng.randint(90, 130), P_NEWS, 8, weekend=0.7)
        for t in times:
            si = rng.randrange(len(srcs))
            src = srcs[si]
            if len(src) > 1400:
                src = src[:rng.randint(600, 1400)].rsplit(" ", 1)[0]
            tpl, kind = weighted(rng, [(NEWS_T[0], 4), (NEWS_T[1], 4), (NEWS_T[2], 1), (NEWS_T[3], 2)])
            w = len(src.split())
            if kind == "translate":
                at = int(w * rng.uniform(1.4, 1.7))
            elif kind == "compile":
                at = int(w * rng.uniform(1.6, 2.3))
            elif kind == "comment":
                at = rng.randint(780, 1100)
            else:
                at = rng.randint(190, 260)
            F.req(t, k, addr, body([U(tpl % src)]), False, at, ["%s:%d" % (kind, si)])


# ---------------------------------------------------------------------------
# search_answers: consumer answer engines: anonymous questions (no user ids),
# long answers, around the clock across time zones, a fifth followed up.
# Every topic, distinct questions at volume, some public-benchmark-like; a
# product's users.
# ---------------------------------------------------------------------------

@family("benign")
def search_answers(F, C):
    rng = F.rng
    qpool = C.ae + C.en + C.zh
    follows = [("Tell me more.", 0.8, 1.3), ("Can you simplify that?", 0.4, 0.7), ("Sources?", 0.2, 0.4),
               ("继续", 0.6, 1.0), ("What about in Europe?", 0.6, 1.0), ("Give me a short version.", 0.2, 0.4)]
    for i in range(6):
        team = "answers-%s" % hexid(rng, 5)
        k = F.key(team, "product")
        servers = [ipv4(rng) for _ in range(3)] + [ipv6(rng)]
        times = profile_arrivals(rng, rng.randint(200, 260), P_GLOBAL, rng.choice([0, -5, 8]), weekend=1.1)
        for t in times:
            it = rng.choice(qpool)
            at = ae_tokens(rng, it) if it.id.startswith("ae:") else noisy(rng, it.ans)
            addr = rng.choice(servers)
            F.req(t, k, addr, body([U(it.text)], stream=True, stream_options={"include_usage": True}), False, at, [it.id])
            if rng.random() < 0.2:
                fq, lo, hi = rng.choice(follows)
                msgs = [U(it.text), A(it.ans_text or ""), U(fq)]
                F.req(t + int((20 + rng.expovariate(1 / 60.0)) * SEC), k, addr,
                      body(msgs, stream=True, stream_options={"include_usage": True}), False,
                      max(15, int(at * rng.uniform(lo, hi))), [it.id + "#f"])


# ===========================================================================
# main
# ===========================================================================

def generate(seed, only=None):
    C = Corpora()
    fams = []
    for name, role, fn in FAMILIES:
        if only and name not in only:
            continue
        F = Fam(name, role, seed)
        fn(F, C)
        fams.append(F)
    return fams


def write(fams, out):
    keys = []
    rows = []
    for F in fams:
        off = len(keys)
        keys.extend(F.keys)
        for (t, k, client, b, ext, at, items) in F.reqs:
            rows.append((t, k + off, client, b, ext, at))
    used = set(r[1] for r in rows)
    missing = [keys[i]["name"] for i in range(len(keys)) if i not in used]
    if missing:
        raise SystemExit("keys without traffic: %s" % ", ".join(missing[:10]))
    rows.sort(key=lambda r: (r[0], r[1]))
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"keys":[')
        f.write(",".join(dumps(k) for k in keys))
        f.write('],"requests":[\n')
        first = True
        for (t, k, client, b, ext, at) in rows:
            if not first:
                f.write(",\n")
            first = False
            f.write('{"t":%d,"key":%d,"client":%s,"body":%s,"extraction":%s,"answer_tokens":%d}'
                    % (t, k, dumps(client), dumps(b), "true" if ext else "false", at))
        f.write("\n]}\n")
    return len(keys), len(rows)


def stats(fams, stream=sys.stderr):
    hdr = "%-24s %-10s %5s %5s %8s %8s %8s" % ("family", "role", "keys", "teams", "requests",
                                              "ans>=100", "distinct")
    print(hdr, file=stream)
    tot = [0, 0, 0, 0]
    for F in fams:
        teams = set(k["team"] for k in F.keys)
        n100 = sum(1 for r in F.reqs if r[5] >= 100)
        # an item id may carry a view (#...) or a prompt version (@...): count the instruction
        if F.role == "extraction":
            ids = set(i.split("#")[0].split("@")[0] for r in F.reqs if r[4] for i in r[6])
        else:
            ids = set(i.split("#")[0].split("@")[0] for r in F.reqs if r[5] >= 100 for i in r[6])
        print("%-24s %-10s %5d %5d %8d %8d %8d" % (F.name, F.role, len(F.keys), len(teams),
                                                   len(F.reqs), n100, len(ids)), file=stream)
    for role in ("extraction", "benign"):
        fs = [F for F in fams if F.role == role]
        print("%-24s %-10s %5d %5s %8d %8d" % ("TOTAL", role, sum(len(F.keys) for F in fs), "",
                                              sum(len(F.reqs) for F in fs),
                                              sum(1 for F in fs for r in F.reqs if r[5] >= 100)),
              file=stream)
    print("distinct: extraction families, distinct corpus items harvested (extraction=true); "
          "benign families, distinct corpus items in answers of 100 tokens or more", file=stream)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated families (for development)")
    a = ap.parse_args()
    only = set(a.only.split(",")) if a.only else None
    t0 = time.time()
    fams = generate(a.seed, only)
    nk, nr = write(fams, a.out)
    if a.stats:
        stats(fams)
        print("keys %d, requests %d, %.1f MB, %.1f s" % (nk, nr, os.path.getsize(a.out) / 1e6,
                                                       time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
