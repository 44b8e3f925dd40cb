#!/usr/bin/env python3
"""Fourth red team: held-out traffic for Proviso's extraction monitor.

Writes a scenario (keys and timed chat-completions requests) of extraction
campaigns written to evade the monitor as docs/monitor.md describes it, and
of legitimate workloads that look as suspicious as they can. Standard
library only; deterministic per seed. See bench/redteam4/README.md.

    python3 bench/redteam4/gen.py --out FILE [--seed N] [--stats]

Run from the repository root: corpora are read from ../shared/corpora/ and
tests/fixtures/.
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

CJK_RE = re.compile(
    "[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
)


def tok(s):
    """Tokens of a text: one per CJK character, four characters a token otherwise."""
    if not s:
        return 0
    c = len(CJK_RE.findall(s))
    return c + (len(s) - c + 3) // 4


def cjk_count(s):
    return len(CJK_RE.findall(s)) if s else 0


def ms(x):
    return int(round(x))


# ---------------------------------------------------------------------------
# Corpora (loaded once, without randomness)
# ---------------------------------------------------------------------------

WIKI_TITLES = [
    "Anarchism", "Autism", "Albedo", "the letter A", "Alabama", "Achilles",
    "Abraham Lincoln", "Aristotle", "An American in Paris",
    "the Academy Award for Best Production Design", "the Academy Awards",
    "Actrius", "Animalia (the picture book)", "International Atomic Time",
    "Altruism", "Ayn Rand", "Alain Connes", "Allan Dwan", "Algeria",
    "the characters of Atlas Shrugged", "Anthropology", "Agricultural science",
    "Alchemy", "the word alien", "astronomers", "ASCII", "Austin",
    "Animation", "Apollo", "Andre Agassi",
]

AE_MODELS = [
    "gpt-4-turbo-2024-04-09", "gpt4", "gpt-3.5-turbo-0613", "claude-3-opus-20240229",
    "Qwen1.5-72B-Chat", "Meta-Llama-3-70B-Instruct", "deepseek-llm-67b-chat",
    "Mixtral-8x7B-Instruct-v0.1", "gpt35_turbo_instruct", "text_davinci_003",
]
PROVIDER = "gpt-4-turbo-2024-04-09"  # whose answer lengths stand for the provider's

PARA_SPLIT = re.compile(r"(?<=[a-z0-9\)\]\"'”%])\.(?=[A-Z])")
SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])")
EMPTY_PAREN = re.compile(r"\s*\((?:[\s;,]|&nbsp;)*\)")
CODE_CHARS = re.compile(r"[{}<>=;`\\|#_\[\]]")


def clean_wiki(s):
    s = EMPTY_PAREN.sub("", s)
    s = s.replace("\xa0", " ")
    s = re.sub(r"\s{2,}", " ", s)
    return s.strip()


GLUE = re.compile(r"[a-z\)][A-Z]")
HEAD_VERBS = (" is ", " was ", " are ", " were ", " has ", " had ", " of the ")


def strip_heading(p):
    """Drop a section heading glued to the start of a paragraph ("MilestonesThe first…")."""
    last = None
    for m in GLUE.finditer(p, 0, 100):
        last = m
    if last is None:
        return p
    pre = p[: last.start() + 1]
    if len(pre) > 70 or len(pre.split()) > 8 or ". " in pre or any(v in pre for v in HEAD_VERBS):
        return p
    rest = p[last.start() + 1:]
    return rest if len(rest) >= 80 else p


def first_sentence(p, lo=40, hi=320):
    parts = SENT_SPLIT.split(p)
    s = parts[0]
    i = 1
    while len(s) < lo and i < len(parts):
        s = s + " " + parts[i]
        i += 1
    if len(s) > hi:
        cut = s.rfind(" ", 0, hi)
        s = s[: cut if cut > 40 else hi].rstrip(",;:") + "…"
    return s.strip()


class Corpora:
    def __init__(self, root, fix):
        tp = json.load(open(os.path.join(fix, "traffic_prompts.json"), encoding="utf-8"))
        self.n_en_sim = len(tp["alpaca_en"])  # the monitor simulator's English items
        self.n_zh_sim = len(tp["alpaca_zh"])  # and its Chinese items
        ae_dir = os.path.join(root, "alpaca_eval")
        self.ae_out = {}
        for m in AE_MODELS:
            arr = json.load(open(os.path.join(ae_dir, m + ".json"), encoding="utf-8"))
            self.ae_out[m] = [x["output"] or "" for x in arr]
            if m == PROVIDER:
                self.ae_instr = [x["instruction"] for x in arr]
        n = len(self.ae_instr)
        for m in AE_MODELS:
            if len(self.ae_out[m]) < n:  # one model answers 804
                self.ae_out[m] = self.ae_out[m] + [""] * (n - len(self.ae_out[m]))
        self.ae = [
            {"id": "ae:%d" % i, "kind": "ae", "text": self.ae_instr[i],
             "out": self.ae_out[PROVIDER][i], "ans": max(8, tok(self.ae_out[PROVIDER][i])),
             "lang": "en", "idx": i}
            for i in range(n)
        ]
        lf = os.path.join(root, "llama_factory")
        en = json.load(open(os.path.join(lf, "alpaca_en_demo.json"), encoding="utf-8"))
        zh = json.load(open(os.path.join(lf, "alpaca_zh_demo.json"), encoding="utf-8"))

        def alp(x, i, lang):
            instr, inp = x["instruction"].strip(), (x.get("input") or "").strip()
            if inp:
                text = instr + ("\n\n" + inp if lang == "en" else "\n" + inp)
            else:
                text = instr
            return {"id": "%s:%d" % (lang, i), "kind": "alpaca", "text": text, "instr": instr,
                    "inp": inp, "out": x["output"], "ans": max(4, tok(x["output"])), "lang": lang}

        en_items = [alp(x, i, "en") for i, x in enumerate(en)]
        zh_items = [alp(x, i, "zh") for i, x in enumerate(zh)]
        self.en_sim, self.en_rest = en_items[: self.n_en_sim], en_items[self.n_en_sim:]
        self.zh_sim, self.zh_rest = zh_items[: self.n_zh_sim], zh_items[self.n_zh_sim:]

        self.dpo = []
        for i, x in enumerate(json.load(open(os.path.join(lf, "dpo_zh_demo.json"), encoding="utf-8"))):
            conv = x["conversations"]
            hist = []
            for c in conv[:-1]:
                role = {"system": "system", "human": "user", "gpt": "assistant"}[c["from"]]
                hist.append((role, c["value"]))
            ch, rj = x["chosen"]["value"], x["rejected"]["value"]
            self.dpo.append({"id": "dpo:%d" % i, "kind": "dpo", "text": conv[-1]["value"].strip(),
                             "instr": conv[-1]["value"].strip(), "inp": "", "hist": hist,
                             "out": ch, "rej": rj, "ans": max(4, tok(ch)), "lang": "zh"})

        self.c4 = []
        for i, line in enumerate(open(os.path.join(lf, "c4_demo.jsonl"), encoding="utf-8")):
            line = line.strip()
            if line:
                t = json.loads(line)["text"].strip()
                self.c4.append({"id": "c4:%d" % i, "kind": "c4", "doc": t, "s1": first_sentence(t, 50, 260),
                                "ans": tok(t), "lang": "en"})

        self.wiki = []  # articles: list of paragraphs
        self.wpara = []
        arts = [l for l in open(os.path.join(lf, "wiki_demo.txt"), encoding="utf-8").read().split("\n") if l.strip()]
        for a, art in enumerate(arts):
            paras = []
            for p in PARA_SPLIT.split(art):
                p = strip_heading(clean_wiki(p))
                if not p.endswith((".", "!", "?", ")", "\"")):
                    p = p + "."
                if len(p) >= 120:
                    paras.append(p)
            self.wiki.append(paras)
            title = WIKI_TITLES[a] if a < len(WIKI_TITLES) else first_sentence(art, 5, 40)
            for j, p in enumerate(paras):
                if 300 <= len(p) <= 4000:
                    self.wpara.append({"id": "wk:%d:%d" % (a, j), "kind": "wiki", "title": title, "art": a,
                                       "pi": j, "para": p, "s1": first_sentence(p), "ans": tok(p), "lang": "en"})
        self.wiki_titles = [WIKI_TITLES[a] if a < len(WIKI_TITLES) else "" for a in range(len(arts))]

        rv = os.path.join(root, "chinese_reviews")
        self.hotel, self.waimai = [], []
        for fn, dst in (("ChnSentiCorp_htl_all.csv", self.hotel), ("waimai_10k.csv", self.waimai)):
            with open(os.path.join(rv, fn), encoding="utf-8", newline="") as f:
                for i, row in enumerate(csv.DictReader(f)):
                    r = (row.get("review") or "").strip()
                    if 8 <= len(r) <= 400:
                        dst.append({"id": "%s:%d" % (fn[:4], i), "label": row.get("label"), "text": r})

        # pools derived for harvesting (never the simulator's items)
        self.en_rest_long = [x for x in self.en_rest if x["ans"] >= 100]
        self.en_rest_short = [x for x in self.en_rest if 6 <= x["ans"] <= 70 and len(x["text"]) < 400]
        self.zh_rest_long = [x for x in self.zh_rest if x["ans"] >= 100]
        self.zh_rest_short = [x for x in self.zh_rest if 6 <= x["ans"] <= 70 and len(x["text"]) < 300]
        self.dpo_long = [x for x in self.dpo if x["ans"] >= 100]
        self.wq = [x for x in self.wpara if x["ans"] >= 110]
        self.c4_long = [x for x in self.c4 if 700 <= len(x["doc"]) <= 6000]
        self.ae_voice = [x for x in self.ae if len(x["text"].split()) <= 45 and "\n" not in x["text"].strip()
                         and not CODE_CHARS.search(x["text"]) and x["ans"] >= 60]


# ---------------------------------------------------------------------------
# Families: keys, requests, time helpers
# ---------------------------------------------------------------------------

class Fam:
    def __init__(self, name, role, seed, no):
        self.name, self.role, self.no = name, role, no
        h = hashlib.sha256(("redteam4|%d|%s" % (seed, name)).encode()).digest()
        self.rng = random.Random(int.from_bytes(h, "big"))
        self.keys = []
        self.reqs = []

    def key(self, team, purpose, rpm=60):
        i = len(self.keys)
        self.keys.append({"name": "%s-%02d" % (self.name, i), "team": team, "purpose": purpose,
                          "workload": self.name, "role": self.role, "requests_per_minute": rpm,
                          "split": "held_out"})
        return i

    def ip(self, i, j=0):
        n = i * 8 + j
        return "100.%d.%d.%d" % (64 + self.no, n // 250, n % 250 + 1)

    def ip6(self, i, j=0):
        return "2001:db8:%x:%x::%x" % (0x40 + self.no, i + 1, j + 1)

    def inspan(self, t):
        return T0 <= t < T0 + SPAN

    def add(self, k, t, client, body, ans, extraction=None, hid=None):
        t = ms(t)
        if not self.inspan(t):
            return False
        if extraction is None:
            extraction = self.role == "extraction"
        mt = body.get("max_tokens") or body.get("max_completion_tokens")
        ans = max(1, int(round(ans)))
        if mt:
            if mt < 2:
                raise ValueError("max_tokens below 2 leaves no room for an answer")
            ans = min(ans, int(mt) - 1)
        self.reqs.append((t, k, client, body, bool(extraction), ans, hid))
        return True

    def callid(self):
        return "call_" + "".join(self.rng.choice("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
                                 for _ in range(24))

    def uid(self, prefix, n=8):
        return prefix + "".join(self.rng.choice("0123456789abcdef") for _ in range(n))


def at(day, hour, tz=0.0):
    """Absolute ms of a local day (0 = Monday) and hour in a UTC offset."""
    return T0 + (day * 24.0 + hour - tz) * HOUR


def weekday(day):
    return day % 7 < 5


def human_gap(rng, prev_ans, fast=1.0):
    """Seconds from one request to the next in a person's session: reading and typing, bursty."""
    read = prev_ans * rng.uniform(0.04, 0.18)
    typing = rng.lognormvariate(math.log(14), 0.9)
    g = (read + typing) * fast
    r = rng.random()
    if r < 0.10:
        g += rng.uniform(120, 1200)
    elif r < 0.25:
        g += rng.uniform(30, 120)
    return max(4.0, g)


def session_starts(rng, n, h0, h1, sep=0.5):
    hs = sorted(rng.uniform(h0, h1) for _ in range(n))
    out, last = [], -99.0
    for h in hs:
        if h - last < sep:
            h = last + sep
        if h <= h1 + 0.5:
            out.append(h)
            last = h
    return out


def msg(role, content):
    return {"role": role, "content": content}


def body_of(messages, **kw):
    b = {"model": MODEL, "messages": messages}
    for k, v in kw.items():
        if v is not None:
            b[k] = v
    return b


def cycle(rng, pool):
    """Endless shuffled passes over a pool (each pass a new permutation)."""
    while True:
        p = list(pool)
        rng.shuffle(p)
        for x in p:
            yield x


TZ_WORLD = [-8, -7, -6, -5, -4, -3, 0, 1, 2, 3, 5.5, 7, 8, 9, 10]
TZ_ASIA = [5.5, 7, 8, 8, 9]
OFFICES = [  # NAT'd offices: address, UTC offset
    ("198.51.100.23", 0), ("198.51.100.87", 1), ("203.0.113.45", -5), ("203.0.113.200", 8),
]

TEAM_WORDS = [
    "aurora", "basalt", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
    "kestrel", "lumen", "maple", "nimbus", "onyx", "pylon", "quartz", "raven", "sierra", "tundra",
    "umber", "vertex", "willow", "xenon", "yarrow", "zephyr", "atlas", "beacon", "cobalt", "dune",
    "echo", "flint", "glacier", "heron", "iris", "jade", "kite", "lotus", "meridian", "nova",
]


def team_name(rng, code, i):
    return "%s-%s-%d" % (code, rng.choice(TEAM_WORDS), i)


# ---------------------------------------------------------------------------
# Hand-written phrasing shared by several families
# ---------------------------------------------------------------------------

WQ_FORMS = [
    "In the context of {title}, explain this in detail: {s}",
    "Tell me more about this, with background and context: {s}",
    "Can you expand on the following point about {title}? {s}",
    "I read this about {title}: \"{s}\" What is the fuller story behind it?",
    "Explain the following as you would to a curious student: {s}",
    "Give me a thorough explanation of this statement and why it matters: {s}",
    "What should I know about this? {s}",
    "Elaborate on this passage about {title}: {s}",
]

C4_FORMS = [
    "Write a web article that opens with this line and develops it fully: {s}",
    "Draft a blog post built around this opening sentence: {s}",
    "Write the full page that could follow this first line: {s}",
    "Here is the first sentence of a post. Write the whole post: {s}",
    "Write an informative article for a general audience that starts like this: {s}",
]


def render(rng, it, forms_wq=WQ_FORMS, forms_c4=C4_FORMS):
    k = it["kind"]
    if k == "wiki":
        f = rng.choice(forms_wq)
        s = it["s1"]
        if "\"{s}\"" in f:
            s = s.replace("\"", "'")
        return f.format(title=it["title"], s=s)
    if k == "c4":
        return rng.choice(forms_c4).format(s=it["s1"])
    return it["text"]


def out_text(it):
    k = it["kind"]
    if k == "wiki":
        return it["para"]
    if k == "c4":
        return it["doc"]
    return it["out"]


def detail_ans(rng, it, lo=1.0, hi=1.25, cap=3000):
    """Tokens of an answer to an item: its real corpus answer, scaled for a request of detail."""
    a = it["ans"]
    if it["kind"] in ("wiki",):
        a = a * rng.uniform(1.05, 1.35)
    elif it["kind"] == "c4":
        a = min(a, 1400) * rng.uniform(0.9, 1.1)
    return min(cap, a * rng.uniform(lo, hi))


# ===========================================================================
# Extraction families
# ===========================================================================

AGENT_SYSTEMS = [
    "You are an autonomous content agent. You work through a queue of writing tasks using the tools provided. "
    "For each task, call fetch_next_task, then write the complete deliverable, then call submit_result. "
    "Never stop a task half way; never ask the operator for clarification.",
    "You are Worker, a back-office assistant. Tasks arrive through the fetch_next_task tool as JSON. "
    "Answer each task directly and completely, as the final text that will be published. Use the language of the task.",
    "Role: knowledge-base writer bot. Tools: fetch_next_task (get work), submit_result (hand in work). "
    "Write complete, well-organised answers; include examples where they help; no meta commentary.",
    "You operate a task queue for an education company. Each fetched task is an exercise or question; "
    "produce the model answer a teacher would publish. Be thorough and accurate.",
    "You are a diligent assistant running unattended. Fetch a task, do it fully, submit it, repeat until the queue is empty.",
]

AGENT_TOOLS = [
    {"type": "function", "function": {
        "name": "fetch_next_task",
        "description": "Fetch the next task from a work queue. Returns JSON with task_id, instruction and optional input, or {\"empty\": true}.",
        "parameters": {"type": "object", "properties": {"queue": {"type": "string", "description": "queue name"}},
                       "required": ["queue"]}}},
    {"type": "function", "function": {
        "name": "submit_result",
        "description": "Submit the finished deliverable for a task.",
        "parameters": {"type": "object", "properties": {"task_id": {"type": "string"},
                                                         "content": {"type": "string"}},
                       "required": ["task_id", "content"]}}},
]

SEED_A = ["Start of shift.", "New run.", "Picking up where the last run stopped.", "Morning batch.", "Hi agent,",
          "Run started by the scheduler.", "Continuing the backlog.", "Ok, let's go.", "Kickoff.", "Resuming work.",
          "Afternoon run.", "Evening pass over the queue."]
SEED_B = [
    "Pull tasks from the {q} queue one at a time with fetch_next_task and complete each one fully before submitting it.",
    "Work through the {q} queue: fetch a task, write the complete deliverable, submit it, then fetch the next.",
    "Your job right now is the {q} backlog. For every task you fetch, produce a thorough, publication-ready answer.",
    "Keep calling fetch_next_task on {q} until it reports empty; answer every task in full.",
    "Process items from {q}. Each item is an instruction with optional input; respond to it completely and submit.",
    "Clear as much of {q} as you can. Quality matters more than speed: full, well-structured answers.",
    "Handle the pending {q} items. Fetch, answer in depth, submit, repeat.",
    "Go through {q} and resolve each entry with a complete response.",
    "Drain the {q} queue. For each fetched task write the best complete answer you can.",
    "Tasks are waiting in {q}. Take them one by one and write full answers.",
    "There is new work in {q} for the {p} project. Fetch it and complete every item.",
    "The {p} team filled {q} overnight; go through it and answer each task properly.",
]
SEED_C = ["", "Do not ask me questions; make reasonable assumptions.", "Use markdown where it helps.",
          "Write in the language of the task.", "No summary at the end of the run.", "Skip any task that is empty.",
          "Be complete rather than brief.", "Keep a neutral, informative tone.", "Cite nothing; just answer."]
QUEUES = ["kb-drafts", "faq-refresh", "help-center", "course-notes", "onboarding-docs", "content-backlog",
          "explainers", "support-macros", "lesson-bank", "wiki-gaps", "article-queue", "qa-answers",
          "tutor-content", "longform", "product-guides", "training-wiki", "editorial", "study-guides"]
PROJECTS = ["Atlas", "Bluebird", "Cinder", "Driftwood", "Evergreen", "Foxglove", "Granite", "Hollow Pine",
            "Ivory", "Jasper", "Kelp", "Lighthouse", "Moss", "Nettle", "Orchard", "Pebble"]


def fam_tool_queue_agent(F, C):
    """Instructions delivered as tool results in an agent loop that the key opened itself."""
    rng = F.rng
    en_pool = C.en_rest_long + C.wq
    zh_pool = C.zh_rest_long + C.dpo_long
    for i in range(12):
        zh_lean = i >= 8
        team = team_name(rng, "tqa", i)
        k = F.key(team, "automation" if i % 2 == 0 else "product", rpm=60)
        tz = rng.choice(TZ_ASIA if zh_lean else TZ_WORLD)
        system = AGENT_SYSTEMS[i % len(AGENT_SYSTEMS)]
        A = rng.sample(SEED_A, 4)
        B = rng.sample(SEED_B, 5)
        Cc = rng.sample(SEED_C, 3)
        qs = rng.sample(QUEUES, 6)
        temp = rng.choice([None, 0.7, 0.5, 1.0, 0.3])
        clients = [F.ip(i, 0), F.ip(i, 1)]
        en_it, zh_it = cycle(rng, en_pool), cycle(rng, zh_pool)
        days = [d for d in range(7) if weekday(d) or rng.random() < 0.35]
        for d in days:
            nloops = rng.randint(6, 10) if weekday(d) else rng.randint(2, 4)
            t = at(d, rng.uniform(6.5, 9.5), tz)
            tend = at(d, 21.5, tz)
            for _ in range(nloops):
                if t > tend:
                    break
                q = rng.choice(qs)
                seed = " ".join(x for x in (rng.choice(A),
                                            rng.choice(B).format(q=q, p=rng.choice(PROJECTS)),
                                            rng.choice(Cc)) if x)
                if rng.random() < 0.5:
                    seed += " (run %d, %s)" % (rng.randint(100, 9999), "2026-01-%02d" % (5 + d))
                client = rng.choice(clients)
                base = [msg("system", system), msg("user", seed)]
                F.add(k, t, client, body_of(base, tools=AGENT_TOOLS, temperature=temp), rng.randint(18, 34))
                t += rng.uniform(1.5, 4) * SEC
                nsteps = rng.randint(8, 16)
                for s in range(nsteps):
                    it = next(zh_it) if (rng.random() < (0.75 if zh_lean else 0.1)) else next(en_it)
                    if it["kind"] == "wiki":
                        instr = rng.choice([
                            "Write a detailed explainer that expands on this point about {title}: {s}",
                            "Write a knowledge-base article on {title} starting from this fact: {s}",
                            "Explain for a general reader, with background: {s}"]).format(title=it["title"], s=it["s1"])
                        inp = ""
                    else:
                        instr, inp = it["instr"], it.get("inp", "")
                    cid = F.callid()
                    task = {"task_id": "T%06d" % rng.randint(0, 999999), "instruction": instr}
                    if inp:
                        task["input"] = inp
                    msgs = base + [
                        {"role": "assistant", "content": None, "tool_calls": [
                            {"id": cid, "type": "function",
                             "function": {"name": "fetch_next_task", "arguments": json.dumps({"queue": q})}}]},
                        {"role": "tool", "tool_call_id": cid, "content": json.dumps(task, ensure_ascii=False)},
                    ]
                    a = detail_ans(rng, it, 1.0, 1.25)
                    F.add(k, t, client, body_of(msgs, tools=AGENT_TOOLS, temperature=temp), a, hid=it["id"])
                    t += (a / rng.uniform(45, 90) + rng.uniform(2, 18)) * SEC
                    if rng.random() < 0.07:
                        t += rng.uniform(60, 400) * SEC
                t += rng.uniform(12, 80) * MIN


THREAD_CONNECT_EN = ["", "", "Thanks! Next question: ", "Ok, another one. ", "Got it. Now: ",
                     "Great, thanks. Different topic: ", "Cool. ", "Also: ", "One more: ",
                     "Helpful, thanks. Next: ", "Perfect. Switching gears: "]
THREAD_CONNECT_ZH = ["", "", "谢谢！下一个问题：", "好的，再问一个：", "明白了。另外，", "收到。接着问：",
                     "还有一个问题：", "换个话题：", "好的。"]


def fam_thread_stacking(F, C):
    """Each conversation opens with a short-answer question, then three follow-ups that are new instructions."""
    rng = F.rng
    en_long = [x for x in C.en_rest_long if len(x["out"]) <= 1800] + \
              [x for x in C.wq if len(x["para"]) <= 1600]
    zh_long = [x for x in C.zh_rest_long if len(x["out"]) <= 900] + \
              [x for x in C.dpo_long if len(x["out"]) <= 900 and len(x["text"]) <= 600 and not x["hist"]]
    for i in range(14):
        zh = i >= 10
        k = F.key(team_name(rng, "tst", i), rng.choice(["research", "general", "internal-tools"]), rpm=30)
        tz = rng.choice(TZ_ASIA if zh else TZ_WORLD)
        clients = [F.ip(i, 0), F.ip6(i, 0)]
        shorts = cycle(rng, C.zh_rest_short if zh else C.en_rest_short)
        longs = cycle(rng, zh_long if zh else en_long)
        conn = THREAD_CONNECT_ZH if zh else THREAD_CONNECT_EN
        for d in range(7):
            if not weekday(d) and rng.random() < 0.7:
                continue
            nthreads = rng.randint(10, 16) if weekday(d) else rng.randint(2, 5)
            nsess = rng.randint(2, 4)
            per = [nthreads // nsess + (1 if j < nthreads % nsess else 0) for j in range(nsess)]
            for sh, cnt in zip(session_starts(rng, nsess, 8.5, 21, 1.5), per):
                t = at(d, sh, tz)
                client = rng.choice(clients)
                for _ in range(cnt):
                    op = next(shorts)
                    convo = [msg("user", op["text"])]
                    plan = [(list(convo), op["ans"], op["id"])]
                    prev_out = op["out"]
                    for f in range(3):
                        it = next(longs)
                        convo = convo + [msg("assistant", prev_out)]
                        convo = convo + [msg("user", rng.choice(conn) + render(rng, it))]
                        a = detail_ans(rng, it, 0.95, 1.15, cap=1500)
                        plan.append((list(convo), a, it["id"]))
                        prev_out = out_text(it)
                    times = []
                    tt = t
                    for j, p in enumerate(plan):
                        times.append(tt)
                        tt += human_gap(rng, p[1]) * SEC
                    if not (F.inspan(times[0]) and F.inspan(times[-1])):
                        t = tt
                        continue
                    for tt2, p in zip(times, plan):
                        F.add(k, tt2, client, body_of(p[0]), p[1], hid=p[2])
                    t = tt + rng.uniform(40, 500) * SEC


BUNDLE_HEAD_EN = [
    "I'm putting together study notes. Please answer each of the questions below separately and thoroughly, in the same order, each under its own heading.",
    "Several unrelated things I need help with today. Take them one at a time and give a complete answer to each.",
    "Could you work through all of these for me? Full answers please, one after another.",
    "Answer every item below in full. Keep them separate and keep the order.",
    "A few requests from my list. Please handle each of them completely.",
    "Please respond to each of the following paragraphs as its own task, giving a complete answer for each.",
    "Batch of questions from our team's shared doc. Give each its own thorough answer.",
    "Here's my backlog for today, each paragraph is a separate request. Do them all properly.",
]
BUNDLE_HEAD_ZH = [
    "下面有几个互不相关的问题，请逐一详细回答，按顺序作答，每个问题单独成段。",
    "请帮我把下面这些任务都完成，每一项都要完整回答。",
    "以下每一段是一个独立的请求，请分别认真处理。",
    "我整理了一些问题，请按顺序一个一个地完整回答。",
    "请依次回答下列各项，每项都给出完整的答案。",
]


def bundle_item(rng, it):
    """An item as one paragraph (its input run into the instruction)."""
    if it["kind"] == "alpaca" and it["inp"]:
        inp = re.sub(r"\s*\n\s*", " ", it["inp"])
        return it["instr"] + ("：" + inp if it["lang"] == "zh" else " — " + inp)
    return re.sub(r"\s*\n\s*", " ", render(rng, it))


def fam_bundled_questions(F, C):
    """Four to eight unrelated instructions in one request: one self-contained instruction to the monitor."""
    rng = F.rng
    en_pool = [x for x in C.en_rest_long if len(x["text"]) <= 700] + [x for x in C.wq]
    zh_pool = [x for x in C.zh_rest_long if len(x["text"]) <= 400] + \
              [x for x in C.dpo_long if len(x["text"]) <= 400 and not x["hist"]]
    for i in range(12):
        zh = i >= 9
        k = F.key(team_name(rng, "bdl", i), rng.choice(["research", "general", "education"]), rpm=20)
        tz = rng.choice(TZ_ASIA if zh else TZ_WORLD)
        heads = rng.sample(BUNDLE_HEAD_ZH if zh else BUNDLE_HEAD_EN, 3)
        jsonish = i % 3 == 1
        pool = cycle(rng, zh_pool if zh else en_pool)
        clients = [F.ip(i, 0)]
        for d in range(7):
            if rng.random() < (0.15 if weekday(d) else 0.5):
                continue
            nsess = rng.randint(2, 4)
            for sh in session_starts(rng, nsess, 8, 22, 1.5):
                t = at(d, sh, tz)
                for _ in range(rng.randint(3, 6)):
                    n = rng.randint(4, 8)
                    its = [next(pool) for _ in range(n)]
                    head = rng.choice(heads)
                    if jsonish:
                        head += (" 请以JSON对象返回，键为a1、a2……，值为对应的完整回答。" if zh else
                                 " Return a JSON object whose keys are a1, a2, … and whose values are the full answers.")
                    sep = "\n\n"
                    text = head + sep + sep.join(bundle_item(rng, x) for x in its)
                    a = sum(detail_ans(rng, x, 0.9, 1.1, cap=1200) for x in its) + 12 * n
                    b = body_of([msg("user", text)],
                                response_format={"type": "json_object"} if jsonish else None)
                    F.add(k, t, clients[0], b, a, hid=tuple(x["id"] for x in its))
                    t += human_gap(rng, a * 0.3) * SEC


POLISH_EN = [
    "Here is a question and a draft answer written by a junior writer. Point out briefly what is weak or missing, then write an improved, complete answer.\n\nQuestion: {q}\n\nDraft answer:\n{d}",
    "Please review this answer for accuracy and completeness, list the problems in a few bullets, and then give a corrected full version.\n\nTask: {q}\n\nAnswer to review:\n{d}",
    "Can you polish this? Keep what's right, fix what's wrong, and expand anything that's thin.\n\n{q}\n\n---\n{d}",
    "Our editor flagged this response as mediocre. Critique it, then rewrite it so it would pass review.\n\nPrompt:\n{q}\n\nResponse:\n{d}",
    "Improve the answer below. First a short critique, then the rewritten answer.\n\n### Prompt\n{q}\n\n### Current answer\n{d}",
    "I wrote this answer but I'm not happy with it. What would you change? Then show me your version.\n\nQ: {q}\nMy answer: {d}",
]
POLISH_WIKI_EN = [
    "Rewrite this encyclopedia paragraph about {title} into a clearer, more complete explanation for a general reader. First note what a reader would find confusing.\n\n{d}",
    "This paragraph about {title} is dense. Say briefly what makes it hard to read, then rewrite and expand it so a teenager could follow it.\n\n{d}",
]
POLISH_ZH = [
    "下面是一个问题和一份初稿答案。请先简要指出初稿的不足，然后给出一份完整、改进后的答案。\n\n问题：{q}\n\n初稿：\n{d}",
    "请审阅下面的回答，列出存在的问题，再给出修改后的完整版本。\n\n任务：{q}\n\n待审回答：\n{d}",
    "帮我润色一下这个回答：保留正确的部分，改正错误，把单薄的地方补充完整。\n\n{q}\n\n---\n{d}",
    "编辑认为这个回答质量一般。请先点评，再重写一个能通过审核的版本。\n\n题目：{q}\n\n回答：{d}",
]
COMPARE_ZH = [
    "下面是同一个问题的两个回答。请比较它们的优缺点，判断哪个更好，并在此基础上写出一个最理想的完整回答。\n\n问题：{q}\n\n回答A：\n{a}\n\n回答B：\n{b}",
    "请评审以下两个候选回答，说明各自的问题，然后给出你认为最好的最终回答。\n\n【问题】{q}\n\n【候选一】\n{a}\n\n【候选二】\n{b}",
]


def fam_draft_polish(F, C):
    """Critique-and-rewrite: the draft is pasted into the turn, so the improved answer is under twice the turn."""
    rng = F.rng
    en_pool = [x for x in C.en_rest if x["ans"] >= 45] + [x for x in C.wpara if 500 <= len(x["para"]) <= 2200]
    zh_pool = [x for x in C.zh_rest if x["ans"] >= 45] + [x for x in C.dpo if len(x["text"]) <= 1500 and len(x["out"]) <= 2500 and len(x["rej"]) <= 2500]
    for i in range(12):
        zh = i >= 8
        k = F.key(team_name(rng, "dpl", i), rng.choice(["product", "research", "documentation"]), rpm=40)
        tz = rng.choice(TZ_ASIA if zh else TZ_WORLD)
        pool = cycle(rng, zh_pool if zh else en_pool)
        forms = rng.sample(POLISH_ZH if zh else POLISH_EN, 3)
        clients = [F.ip(i, 0), F.ip(i, 1), F.ip(i, 2)]
        sysm = rng.choice([None, "You are a meticulous senior editor.", "You are a helpful assistant.",
                           "你是一名严谨的资深编辑。" if zh else "You review and improve answers written by others."])
        for d in range(7):
            if not weekday(d) and rng.random() < 0.6:
                continue
            nsess = rng.randint(4, 6) if weekday(d) else 1
            for sh in session_starts(rng, nsess, 8, 20, 1.2):
                t = at(d, sh, tz)
                for _ in range(rng.randint(8, 26)):
                    it = next(pool)
                    if it["kind"] == "wiki":
                        text = rng.choice(POLISH_WIKI_EN).format(title=it["title"], d=it["para"])
                        a = rng.uniform(40, 90) + it["ans"] * rng.uniform(1.15, 1.5)
                    elif it["kind"] == "dpo" and rng.random() < 0.5:
                        pair = [it["out"], it["rej"]]
                        if rng.random() < 0.5:
                            pair.reverse()
                        text = rng.choice(COMPARE_ZH).format(q=it["text"], a=pair[0], b=pair[1])
                        a = rng.uniform(60, 140) + it["ans"] * rng.uniform(1.0, 1.15)
                    elif it["kind"] == "dpo":
                        text = rng.choice(forms).format(q=it["text"], d=it["rej"])
                        a = rng.uniform(40, 100) + it["ans"]
                    else:
                        text = rng.choice(forms).format(q=it["text"], d=it["out"])
                        a = rng.uniform(40, 90) + it["ans"] * rng.uniform(1.1, 1.5)
                    msgs = ([msg("system", sysm)] if sysm else []) + [msg("user", text)]
                    a = min(a, 1.6 * tok(text))
                    F.add(k, t, rng.choice(clients), body_of(msgs), a, hid=it["id"])
                    t += human_gap(rng, a * 0.25, fast=0.6) * SEC


LOC_ZH2EN = [
    "请把下面这组指令数据翻译成地道的英文，保持原有格式、代码和数字不变，不要添加任何解释。\n\n指令：{i}\n输入：{n}\n输出：{o}",
    "Translate the following instruction/response pair from Chinese into natural English. Keep formatting, code and numbers unchanged. Reply as:\nInstruction: …\nInput: …\nResponse: …\n\n指令：{i}\n输入：{n}\n回答：{o}",
    "将以下内容译为英文（美式拼写），逐段对应，格式不变：\n\n【问题】{i}\n【补充】{n}\n【回答】{o}",
    "Localise this Q&A pair into English for our knowledge base. Do not summarise; translate everything.\n\nQ: {i} {n}\nA: {o}",
]
LOC_EN2ZH = [
    "Translate this instruction and its answer into Simplified Chinese. Keep markdown, code and numbers as they are; translate everything else faithfully.\n\nInstruction: {i}\nInput: {n}\nResponse: {o}",
    "请将下面的英文问答完整翻译成简体中文，保留格式：\n\nInstruction: {i}\nInput: {n}\nResponse: {o}",
]


def fam_dataset_localization(F, C):
    """Translation as harvest: a Chinese instruction set rendered into English (and back) by the provider."""
    rng = F.rng
    zh_pool = [x for x in C.zh_rest if x["ans"] >= 30] + [x for x in C.dpo if len(x["text"]) + len(x["out"]) <= 2600 and not x["hist"]]
    en_pool = [x for x in C.en_rest if x["ans"] >= 30]
    for i in range(10):
        en2zh = i >= 7
        k = F.key(team_name(rng, "loc", i), "translation", rpm=60)
        tz = rng.choice([8, 8, 1, 2, 9])
        pool = cycle(rng, en_pool if en2zh else zh_pool)
        forms = LOC_EN2ZH if en2zh else rng.sample(LOC_ZH2EN, 2)
        jsonish = i % 4 == 2
        clients = [F.ip(i, j) for j in range(3)]
        for d in range(7):
            if not weekday(d):
                continue
            nsess = rng.randint(3, 4)
            for sh in session_starts(rng, nsess, 9, 18, 1.5):
                t = at(d, sh, tz)
                for _ in range(rng.randint(22, 38)):
                    it = next(pool)
                    f = rng.choice(forms)
                    text = f.format(i=it["instr"], n=it.get("inp") or ("无" if not en2zh else "(none)"), o=it["out"])
                    src = it["instr"] + (it.get("inp") or "") + it["out"]
                    if en2zh:
                        a = len(src) / rng.uniform(2.6, 3.2) + 12
                    else:
                        c = cjk_count(src)
                        a = c * rng.uniform(0.6, 0.8) + (len(src) - c) / 4 + 12
                    b = body_of([msg("user", text)], temperature=rng.choice([0.2, 0.3]) if i % 2 else None,
                                response_format={"type": "json_object"} if jsonish else None)
                    F.add(k, t, rng.choice(clients), b, a, hid=it["id"])
                    t += (a / rng.uniform(50, 90) + rng.uniform(4, 30)) * SEC
                    if rng.random() < 0.05:
                        t += rng.uniform(120, 900) * SEC


TOPIC_KW = {
    "food": ["recipe", "cook", "food", "dish", "meal", "bake", "ingredient", "restaurant", "diet", "菜", "食", "做法"],
    "health": ["health", "exercise", "sleep", "disease", "symptom", "medical", "stress", "fitness", "autism", "健康", "运动", "疾病"],
    "tech": ["computer", "software", "code", "program", "python", "data", "algorithm", "internet", "app", "ascii", "网络", "程序", "代码", "数据"],
    "business": ["business", "company", "market", "customer", "product", "sales", "brand", "startup", "公司", "市场", "客户"],
    "writing": ["write", "poem", "story", "essay", "sentence", "paragraph", "article", "letter", "写", "诗", "文章"],
    "science": ["science", "energy", "climate", "physics", "chemistry", "biology", "planet", "solar", "albedo", "科学", "能源", "气候"],
    "history": ["history", "war", "century", "ancient", "empire", "president", "lincoln", "aristotle", "历史", "战争", "古代"],
    "money": ["money", "invest", "budget", "finance", "tax", "bank", "economy", "price", "经济", "投资", "理财"],
    "learning": ["student", "learn", "school", "teach", "education", "study", "language", "学生", "学习", "教育"],
}
PERSONA_PRE = ["", "", "", "hey, ", "quick q: ", "question: ", "pls help: ", "Hi! ", "So ", "ok so ",
               "Random question, ", "Help me out here: "]
PERSONA_SUF = ["", "", "", " thanks", " thx!", " (be thorough)", " Please be detailed.", " — as complete as you can",
               " Thank you!", " cheers"]
PERSONA_CTX = ["I'm preparing a talk. ", "My kid asked me this and I want to get it right. ",
               "For a newsletter I'm writing: ", "Need this for work tomorrow. ", "I've always wondered: ",
               "Settling a debate with a friend. ", "For my book club: ", "I'm studying for an exam. "]
PERSONA_PRE_ZH = ["", "", "请问，", "你好，", "麻烦帮我看下：", "问个问题：", "求助："]
PERSONA_SUF_ZH = ["", "", "谢谢！", "越详细越好。", "麻烦了。", "请详细说明。"]
PERSONA_FU_EN = ["Can you give a concrete example of that?", "Could you make that shorter?",
                 "What's the most important part of that?", "Can you put that in a table?",
                 "Thanks. Could you rephrase the second part more simply?", "Any sources I could read?"]
PERSONA_FU_ZH = ["能举个具体的例子吗？", "能简短一点吗？", "最重要的是哪一点？", "能整理成表格吗？", "第二部分能说得更通俗些吗？"]


def topic_of(text):
    t = text.lower()
    for name, kws in TOPIC_KW.items():
        for w in kws:
            if w in t:
                return name
    return "misc"


def fam_persona_swarm(F, C):
    """Thirty keys, each a person: own team, address, habits, a few interests, days off; under a person's harvest."""
    rng = F.rng
    en_pool = C.en_rest_long + C.wq + C.c4_long
    zh_pool = C.zh_rest_long + [x for x in C.dpo_long if not x["hist"] and len(x["text"]) <= 800]

    def bucket(pool):
        b = {}
        for x in pool:
            txt = x.get("text") or x.get("para") or x.get("doc")
            b.setdefault(topic_of(txt[:400]), []).append(x)
        return b

    en_b, zh_b = bucket(en_pool), bucket(zh_pool)
    office_slots = [0, 1, 2, 3, 0, 2]
    for i in range(30):
        zh = i >= 24
        behind_office = i < 6
        k = F.key(team_name(rng, "prs", i), rng.choice(["general", "research", "personal", "internal-tools"]), rpm=20)
        if behind_office:
            oip, tz = OFFICES[office_slots[i]]
            clients = [oip]
        else:
            tz = rng.choice(TZ_ASIA if zh else TZ_WORLD)
            clients = [F.ip(i, 0), F.ip6(i, 0)]
        bk = zh_b if zh else en_b
        names = sorted(n for n in bk if n != "misc" and len(bk[n]) >= 20)
        interests = rng.sample(names, min(len(names), rng.randint(2, 3)))
        fav = cycle(rng, [x for n in interests for x in bk[n]])
        anyp = cycle(rng, zh_pool if zh else en_pool)
        pre = rng.sample(PERSONA_PRE_ZH if zh else PERSONA_PRE, 3)
        suf = rng.sample(PERSONA_SUF_ZH if zh else PERSONA_SUF, 3)
        lower = rng.random() < 0.3
        streamer = {"stream": True, "stream_options": {"include_usage": True}} if rng.random() < 0.4 else {}
        off = rng.randrange(5)
        seen = set()
        for d in range(7):
            if (weekday(d) and d == off) or (not weekday(d) and rng.random() < 0.75):
                continue
            quota = rng.randint(15, 32) if weekday(d) else rng.randint(3, 10)
            nsess = rng.randint(2, 4)
            per = [quota // nsess + (1 if j < quota % nsess else 0) for j in range(nsess)]
            h0, h1 = (8, 18.5) if behind_office else (7.5, 22.5)
            for sh, cnt in zip(session_starts(rng, nsess, h0, h1, 1.0), per):
                t = at(d, sh, tz)
                client = rng.choice(clients)
                for _ in range(cnt):
                    it = next(fav) if rng.random() < 0.7 else next(anyp)
                    tries = 0
                    while it["id"] in seen and tries < 5:
                        it = next(anyp)
                        tries += 1
                    seen.add(it["id"])
                    q = render(rng, it)
                    if not zh and rng.random() < 0.25:
                        q = rng.choice(PERSONA_CTX) + q
                    pfx = rng.choice(pre)
                    if pfx.endswith((", ", "so ")) and q[:1].isupper() and q[1:2].islower():
                        q = q[:1].lower() + q[1:]
                    q = pfx + q + rng.choice(suf)
                    if lower:
                        q = q[:1].lower() + q[1:]
                    a = detail_ans(rng, it, 0.9, 1.2, cap=1500)
                    m1 = [msg("user", q)]
                    F.add(k, t, client, body_of(m1, **streamer), a, hid=it["id"])
                    t += human_gap(rng, a) * SEC
                    if rng.random() < 0.15:
                        fu = rng.choice(PERSONA_FU_ZH if zh else PERSONA_FU_EN)
                        out = out_text(it)
                        if len(out) > 2400:
                            out = out[:2400]
                        a2 = a * rng.uniform(0.3, 0.8)
                        F.add(k, t, client, body_of(m1 + [msg("assistant", out), msg("user", fu)], **streamer), a2, hid=None)
                        t += human_gap(rng, a2) * SEC


REASON_KW_EN = ["calculate", "solve", "how many", "why", "explain", "compare", "determine", "find the", "estimate",
                "evaluate", "prove", "analy", "identify", "what would happen", "predict", "classify", "which of"]
REASON_KW_ZH = ["计算", "为什么", "解释", "比较", "分析", "判断", "求", "多少", "推理", "证明", "预测", "哪"]
RATIONALE_EN = [
    "Think it through step by step before giving the final answer.",  # lexicon-like, used rarely
    "Walk me through how you'd get there, one move at a time, then state the answer.",
    "Lay out the chain of logic first and only then the conclusion.",
    "Justify each stage of your answer as you go.",
    "Show your working in full; I care more about the path than the result.",
    "Before answering, list what you know, what follows from it, and why.",
    "Explain the why behind every part of the answer.",
    "Narrate your thought process as you solve it, then summarise.",
    "Reason it out loud in numbered stages, then give a one-line verdict.",
    "Start from first principles and build up to the answer, explaining each inference.",
]
RATIONALE_ZH = [
    "请一步一步地思考后再给出答案。",
    "把每一步的依据都写出来，最后再给结论。",
    "先列出已知条件，再逐条推导，最后回答。",
    "请完整展示你的分析过程，而不仅仅是结果。",
    "说明你是怎么一步步得出这个答案的。",
    "请按顺序写出推理链条，每一环都要解释原因。",
]
CLASSIFY_SYS = [
    "You label customer reviews for a food-delivery platform. Reply with exactly one word: positive or negative.",
    "Classify the sentiment of the hotel review. Output only: pos, neg, or mixed.",
    "你是评论分类器。只输出一个标签：正面 / 负面。",
    "Tag the review with its main topic: delivery, taste, price, service, room, location, other. One word only.",
]


def is_reasoning(it):
    t = it["text"][:300].lower()
    kws = REASON_KW_ZH if it["lang"] == "zh" else REASON_KW_EN
    return any(w in t for w in kws)


def fam_reasoning_diluted(F, C):
    """A real review-labelling pipeline carrying a small stream of rationale harvest, so few requests ask for reasoning."""
    rng = F.rng
    en_r = [x for x in C.en_rest if x["ans"] >= 40 and is_reasoning(x)]
    zh_r = [x for x in C.zh_rest if x["ans"] >= 40 and is_reasoning(x)] + \
           [x for x in C.dpo if is_reasoning(x) and not x["hist"] and len(x["text"]) <= 700]
    reviews = C.waimai + C.hotel
    for i in range(8):
        zh = i >= 5
        k = F.key(team_name(rng, "rsd", i), "analytics", rpm=60)
        tz = rng.choice(TZ_ASIA if zh else TZ_WORLD)
        csys = rng.choice(CLASSIFY_SYS)
        rat = rng.sample(RATIONALE_ZH if zh else RATIONALE_EN[1:], 4)
        if not zh and rng.random() < 0.5:
            rat.append(RATIONALE_EN[0])
        pool = cycle(rng, zh_r if zh else en_r)
        rv = cycle(rng, reviews)
        workers = [F.ip(i, j) for j in range(2)]
        analyst = [F.ip(i, 5)]
        # the pipeline: Poisson, busier by day, around the clock
        t = T0 + rng.uniform(0, 20) * MIN
        while t < T0 + SPAN:
            h = ((t - T0) / HOUR + tz) % 24
            rate = 3.0 + 8.0 * max(0.0, math.sin(math.pi * (h - 6) / 16)) if 6 <= h <= 22 else 3.0
            t += rng.expovariate(rate / 3600.0) * SEC
            r = next(rv)
            b = body_of([msg("system", csys), msg("user", r["text"])], temperature=0, max_tokens=5)
            F.add(k, t, rng.choice(workers), b, rng.randint(1, 3), extraction=False, hid=None)
        # the harvest: an "analyst" asking worked reasoning in working hours
        for d in range(7):
            if not weekday(d):
                continue
            quota = rng.randint(24, 34)
            nsess = rng.randint(2, 4)
            per = [quota // nsess + (1 if j < quota % nsess else 0) for j in range(nsess)]
            for sh, cnt in zip(session_starts(rng, nsess, 9, 18.5, 1.0), per):
                t = at(d, sh, tz)
                for _ in range(cnt):
                    it = next(pool)
                    ph = rng.choice(rat)
                    q = (it["text"] + "\n\n" + ph) if rng.random() < 0.7 else (ph + "\n\n" + it["text"])
                    a = it["ans"] * rng.uniform(1.5, 2.1) + rng.uniform(30, 80)
                    F.add(k, t, analyst[0], body_of([msg("user", q)]), min(a, 2500), extraction=True, hid=it["id"])
                    t += human_gap(rng, a) * SEC


FILLERS = ["um", "uh", "like", "you know", "i mean", "so", "okay so", "hmm", "er", "well", "right",
           "basically", "kind of", "sort of", "actually", "yeah"]
WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")


def transcribe(rng, text):
    """ASR-style transcript: lower case, no punctuation, a filler or a stutter at least every three words."""
    words = [w.lower().replace("’", "'") for w in WORD_RE.findall(text)]
    out = []
    gap = rng.randint(1, 3)
    since = 0
    for j, w in enumerate(words):
        out.append(w)
        since += 1
        if since >= gap and j < len(words) - 1:
            if rng.random() < 0.18:
                out.append(words[j + 1])  # stutter: next word said twice
            else:
                out.append(rng.choice(FILLERS))
            since = 0
            gap = rng.randint(1, 3)
    s = " ".join(out)
    if text.strip().endswith("?"):
        s += "?"
    return s


VOICE_SYS = [
    "You are a voice assistant. The user's speech was transcribed automatically and may contain filler words and recognition errors. Answer fully; the answer is shown on screen.",
    "Voice mode. Input is an automatic speech transcript (disfluencies included). Respond with a complete, well-formatted answer.",
    "You are the in-car assistant. Transcripts may be messy; infer the question and answer it thoroughly for later reading.",
]


def fam_voice_transcripts(F, C):
    """A public benchmark asked as speech transcripts: fillers break every word 5-gram of each item."""
    rng = F.rng
    pool = C.ae_voice
    for i in range(12):
        k = F.key(team_name(rng, "vox", i), "product", rpm=30)
        tz = rng.choice(TZ_WORLD)
        items = rng.sample(pool, min(len(pool), rng.randint(210, 260)))
        it_iter = iter(items)
        split = i % 2 == 1
        named = i % 4 in (2, 3)
        users = [F.uid("dev_", 10) for _ in range(rng.randint(3, 6))]
        sysm = rng.choice(VOICE_SYS)
        clients = [F.ip(i, j) for j in range(2)] + [F.ip6(i, 0)]
        done = False
        for d in range(7):
            if done:
                break
            quota = rng.randint(26, 40)
            windows = [(7, 9.2), (12, 13.5), (18, 23)]
            weights = [0.25, 0.15, 0.6]
            for (h0, h1), w in zip(windows, weights):
                n = int(round(quota * w))
                if n <= 0:
                    continue
                t = at(d, rng.uniform(h0, h0 + (h1 - h0) * 0.3), tz)
                tend = at(d, h1, tz)
                for _ in range(n):
                    it = next(it_iter, None)
                    if it is None:
                        done = True
                        break
                    tr = transcribe(rng, it["text"])
                    if split:
                        ws = tr.split(" ")
                        cut = rng.randint(max(1, len(ws) // 3), max(1, 2 * len(ws) // 3))
                        segs = [" ".join(ws[:cut]), " ".join(ws[cut:])]
                        if i % 4 == 3:  # one message, one text part per ASR segment
                            um = [msg("user", [{"type": "text", "text": x} for x in segs])]
                        else:  # one message per ASR segment
                            um = [msg("user", x) for x in segs]
                    else:
                        um = [msg("user", tr)]
                    b = body_of([msg("system", sysm)] + um, user=rng.choice(users) if named else None)
                    a = it["ans"] * rng.uniform(0.95, 1.1)
                    F.add(k, t, rng.choice(clients), b, a, hid=it["id"])
                    t += human_gap(rng, a, fast=0.8) * SEC
                    if t > tend:
                        break


RAG_QS = [
    "What does this page say about pricing?", "Summarize the key steps described here.",
    "Is there anything here about warranties or guarantees?", "What are the main benefits mentioned?",
    "Who is this offer for, according to the text?", "List the contact options mentioned, if any.",
    "What problem does this describe, in one or two sentences?", "Does this mention any deadlines or dates?",
    "What would you tell a customer who asks about this, based only on the text?",
    "Give me the three most important facts from this document.", "What's the difference between the options described?",
    "Can you rewrite the main point in plain language?",
]
PRODUCT_SYS = [
    "You are {p} Assist, the help assistant inside {p}. Answer the user's question. When a document is provided, ground your answer in it. Be friendly and accurate.",
    "You are the AI helper of {p}, a workspace app. Users ask about documents they open and anything else they need for work. Answer helpfully.",
    "{p} Copilot: you answer questions for {p} customers. Prefer the attached context when there is one; otherwise answer from general knowledge.",
]
PRODUCT_NAMES = ["Papertrail", "Nestly", "Brightdesk", "Kanbo", "Quillr", "Ledgerly", "Tidepool", "Harbor HQ",
                 "Sprout CRM", "Glimmer", "Notewise", "Fieldbook"]


def fam_trojan_product(F, C):
    """A genuine RAG product key (named users) that also harvests under its own users' ids."""
    rng = F.rng
    en_pool = C.en_rest_long + C.wq + C.c4_long
    docs = [x for x in C.c4 if 500 <= len(x["doc"])]
    for i in range(10):
        pname = PRODUCT_NAMES[i % len(PRODUCT_NAMES)]
        k = F.key(team_name(rng, "trj", i), "product", rpm=120)
        tz = rng.choice([-5, -8, 0, 1, -6])
        sysm = rng.choice(PRODUCT_SYS).format(p=pname)
        users = [F.uid("usr_", 12) for _ in range(rng.randint(80, 200))]
        act = {u: rng.uniform(0.08, 0.35) for u in users}
        harvest_it = cycle(rng, en_pool)
        dit = cycle(rng, docs)
        servers = [F.ip(i, j) for j in range(3)]
        for d in range(7):
            wd = weekday(d)
            active = [u for u in users if rng.random() < act[u] * (1.0 if wd else 0.25)]
            if not active:
                continue
            events = []
            for u in active:
                for _ in range(rng.randint(1, 3)):
                    events.append((rng.uniform(8, 19) if wd else rng.uniform(10, 21), u, "rag"))
            quota = rng.randint(48, 64) if wd else rng.randint(10, 20)
            per_user = {}
            for _ in range(quota):
                u = rng.choice(active)
                if per_user.get(u, 0) >= 5:
                    continue
                per_user[u] = per_user.get(u, 0) + 1
                events.append((rng.uniform(8.5, 18.5) if wd else rng.uniform(10, 20), u, "harvest"))
            events.sort()
            for h, u, kind in events:
                t = at(d, h, tz)
                if kind == "rag":
                    doc = next(dit)
                    passage = doc["doc"][: rng.randint(600, 1500)]
                    q = rng.choice(RAG_QS)
                    b = body_of([msg("system", sysm), msg("user", "Context:\n" + passage + "\n\nQuestion: " + q)], user=u)
                    a = min(260, tok(passage) * rng.uniform(0.15, 0.5) + 15)
                    F.add(k, t, rng.choice(servers), b, a, extraction=False)
                else:
                    it = next(harvest_it)
                    b = body_of([msg("system", sysm), msg("user", render(rng, it))], user=u)
                    F.add(k, t, rng.choice(servers), b, detail_ans(rng, it, 0.95, 1.2, cap=1500), extraction=True, hid=it["id"])


CONT_FORMS = [
    "Continue this text:", "Keep going from where this leaves off, in the same style and at about the same length again:",
    "Continue the document below seamlessly. Do not repeat what is already there.",
    "Write the rest of this:", "Pick up exactly where this stops and carry on:",
    "Carry this on for several more paragraphs in the same voice:",
]
CONT_SYS = ["You continue documents seamlessly.", "You are a writing assistant.", None, None,
            "You are a ghostwriter. Match the author's voice exactly."]


def wiki_window(rng, C, lo, hi):
    """A run of consecutive Wikipedia paragraphs of lo..hi characters."""
    for _ in range(50):
        a = rng.randrange(len(C.wiki))
        paras = C.wiki[a]
        if len(paras) < 2:
            continue
        j = rng.randrange(len(paras))
        s = paras[j]
        j += 1
        while len(s) < lo and j < len(paras):
            s += "\n\n" + paras[j]
            j += 1
        if lo <= len(s) <= hi * 1.3:
            return a, s[: int(hi * 1.3)]
    return 0, C.wiki[0][0]


def split_at_sentence(rng, s, f0, f1):
    target = int(len(s) * rng.uniform(f0, f1))
    m = SENT_SPLIT.search(s, target)
    cut = m.start() if m else target
    return s[:cut].rstrip(), s[cut:].lstrip()


def fam_continuation_mining(F, C):
    """Harvest continuations: the prefix is pasted, so the answer is about as long as the turn."""
    rng = F.rng
    c4 = [x for x in C.c4 if len(x["doc"]) >= 1500]
    for i in range(10):
        k = F.key(team_name(rng, "cnt", i), rng.choice(["research", "writing", "product"]), rpm=30)
        tz = rng.choice(TZ_WORLD)
        forms = rng.sample(CONT_FORMS, 3)
        sysm = rng.choice(CONT_SYS)
        clients = [F.ip(i, 0), F.ip(i, 1)]
        seen = set()
        for d in range(7):
            if not weekday(d) and rng.random() < 0.5:
                continue
            nsess = rng.randint(4, 6) if weekday(d) else 2
            for sh in session_starts(rng, nsess, 8, 22, 1.0):
                t = at(d, sh, tz)
                for _ in range(rng.randint(12, 26)):
                    if rng.random() < 0.3 and c4:
                        doc = rng.choice(c4)
                        src, hid = doc["doc"][:6000], doc["id"]
                    else:
                        a_i, src = wiki_window(rng, C, 1600, 5000)
                        hid = "wkw:%d:%d" % (a_i, hash_str(src[:80]))
                    pre, rest = split_at_sentence(rng, src, 0.42, 0.58)
                    if len(pre) < 300 or len(rest) < 300:
                        continue
                    key_id = (hid, len(pre))
                    if key_id in seen:
                        continue
                    seen.add(key_id)
                    text = rng.choice(forms) + "\n\n" + pre
                    msgs = ([msg("system", sysm)] if sysm else []) + [msg("user", text)]
                    a = min(1400, tok(rest) * rng.uniform(0.9, 1.1))
                    F.add(k, t, rng.choice(clients), body_of(msgs, temperature=rng.choice([None, 0.8, 0.9])), a, hid=hid + "@%d" % len(pre))
                    t += human_gap(rng, a * 0.3, fast=0.7) * SEC


def hash_str(s):
    return int(hashlib.sha256(s.encode("utf-8")).hexdigest()[:8], 16)


CHAPTER_EN = [
    "Write a comprehensive, textbook-style chapter on {title}, starting from this: {s} Use headings, explain every concept fully, and don't stop early.",
    "I need a long-form reference chapter about {title}. Cover it exhaustively, with sections and subsections. Starting point: {s}",
    "Produce a complete study guide chapter on {title} (aim for several thousand words). Begin with: {s}",
    "Write everything a graduate student should know about {title}, organised as a chapter with numbered sections. Context: {s}",
    "Give me an in-depth long essay on {title}. Do not summarise; go deep on each aspect. Opening fact: {s}",
]
CHAPTER_ZH = [
    "请尽可能详细、完整地回答，写成一篇结构清晰的长文（不少于三千字），分章节展开：\n\n{q}",
    "请就下面的问题写一份详尽的长篇讲解，包括背景、原理、步骤、例子和常见误区：\n\n{q}",
]


def fam_chapter_mill(F, C):
    """A few very long answers a day: under twenty a day, so the topic walk never starts; tokens, not instructions."""
    rng = F.rng
    zh_pool = [x for x in C.dpo_long if not x["hist"] and len(x["text"]) <= 1200]
    for i in range(14):
        zh = i >= 11
        k = F.key(team_name(rng, "chp", i), rng.choice(["research", "education", "writing"]), rpm=10)
        tz = rng.choice(TZ_ASIA if zh else TZ_WORLD)
        forms = rng.sample(CHAPTER_ZH if zh else CHAPTER_EN, 2 if zh else 3)
        clients = [F.ip(i, 0)]
        mt = rng.choice([None, None, 8000, 12000, 16000, 6000])
        sleep = set(rng.sample(range(7), rng.randint(1, 3)))
        zit = cycle(rng, zh_pool)
        for d in range(7):
            if d in sleep:
                continue
            n = rng.randint(10, 19)
            t = at(d, rng.uniform(7, 11), tz)
            for _ in range(n):
                if zh:
                    it = next(zit)
                    text = rng.choice(forms).format(q=it["text"])
                    a = min(4000, max(it["ans"] * rng.uniform(2.5, 3.5), 1200))
                    hid = it["id"]
                else:
                    a_i, span = wiki_window(rng, C, 9000, 15000)
                    s = first_sentence(span.split("\n\n")[0])
                    text = rng.choice(forms).format(title=C.wiki_titles[a_i], s=s)
                    a = min(4000, tok(span) * rng.uniform(0.9, 1.1))
                    hid = "wks:%d:%d" % (a_i, hash_str(s))
                F.add(k, t, clients[0], body_of([msg("user", text)], max_tokens=mt), a, hid=hid)
                t += (a / rng.uniform(50, 80) + rng.uniform(120, 1500)) * SEC


CARD_SCHEMAS = [
    {"name": "study_card", "schema": {"type": "object", "additionalProperties": False,
     "required": ["title", "overview", "key_points", "explanation", "examples"],
     "properties": {
        "title": {"type": "string"},
        "overview": {"type": "string", "description": "Two or three paragraphs introducing the subject."},
        "key_points": {"type": "array", "items": {"type": "string"}, "description": "Six to ten key points, each one or two full sentences."},
        "explanation": {"type": "string", "description": "A detailed explanation of several paragraphs covering causes, mechanisms and consequences."},
        "examples": {"type": "array", "items": {"type": "string"}, "description": "Three worked examples or illustrations, each a paragraph."}}}},
    {"name": "kb_entry", "schema": {"type": "object", "additionalProperties": False,
     "required": ["summary", "background", "details", "faq"],
     "properties": {
        "summary": {"type": "string", "description": "One paragraph."},
        "background": {"type": "string", "description": "Historical and conceptual background, several paragraphs."},
        "details": {"type": "string", "description": "Everything important, thoroughly, in prose."},
        "faq": {"type": "array", "items": {"type": "object", "properties": {"q": {"type": "string"}, "a": {"type": "string"}},
                "required": ["q", "a"], "additionalProperties": False}, "description": "Five questions a reader would ask, with full answers."}}}},
    {"name": "lesson", "schema": {"type": "object", "additionalProperties": False,
     "required": ["objective", "lecture", "misconceptions", "exercise"],
     "properties": {
        "objective": {"type": "string"},
        "lecture": {"type": "string", "description": "The full lecture text a teacher would read, at least six paragraphs."},
        "misconceptions": {"type": "array", "items": {"type": "string"}, "description": "Common misconceptions with corrections."},
        "exercise": {"type": "string", "description": "An exercise with its complete model answer."}}}},
]
CARD_TAGS = ["", "", "Topic: ", "Card: ", "Entry: ", "Subject: ", "Next: ", "Item: "]


def fam_schema_cards(F, C):
    """Structured output: a bare subject statement in the turn, the length and shape asked for in a JSON schema or tool."""
    rng = F.rng
    pool = C.wq + [x for x in C.en_rest_long if len(x["text"]) <= 300]
    for i in range(12):
        k = F.key(team_name(rng, "sch", i), rng.choice(["education", "product", "documentation"]), rpm=30)
        tz = rng.choice(TZ_WORLD)
        sch = CARD_SCHEMAS[i % len(CARD_SCHEMAS)]
        use_tool = i % 2 == 1
        sysm = rng.choice(["Fill the schema completely and at length.", "You write reference material as structured JSON.",
                           None, "Return only JSON conforming to the schema. Be exhaustive in every field."])
        tags = rng.sample(CARD_TAGS, 3)
        pit = cycle(rng, pool)
        clients = [F.ip(i, 0), F.ip6(i, 0)]
        for d in range(7):
            quota = rng.randint(30, 46) if weekday(d) else rng.randint(0, 15)
            if quota == 0:
                continue
            nsess = rng.randint(2, 3)
            per = [quota // nsess + (1 if j < quota % nsess else 0) for j in range(nsess)]
            for sh, cnt in zip(session_starts(rng, nsess, 8, 21, 1.5), per):
                t = at(d, sh, tz)
                for _ in range(cnt):
                    it = next(pit)
                    subj = it["s1"] if it["kind"] == "wiki" else it["text"]
                    text = rng.choice(tags) + subj
                    msgs = ([msg("system", sysm)] if sysm else []) + [msg("user", text)]
                    base = it["ans"] * (rng.uniform(1.2, 1.6) if it["kind"] == "wiki" else rng.uniform(1.3, 1.8))
                    a = min(2500, base + rng.uniform(40, 90))
                    if use_tool:
                        tools = [{"type": "function", "function": {"name": "save_" + sch["name"],
                                                                    "description": "Save the finished entry.",
                                                                    "parameters": sch["schema"]}}]
                        b = body_of(msgs, tools=tools,
                                    tool_choice={"type": "function", "function": {"name": "save_" + sch["name"]}})
                    else:
                        b = body_of(msgs, response_format={"type": "json_schema",
                                                           "json_schema": {"name": sch["name"], "strict": True,
                                                                           "schema": sch["schema"]}})
                    F.add(k, t, rng.choice(clients), b, a, hid=it["id"])
                    t += human_gap(rng, a * 0.3, fast=0.8) * SEC


# ===========================================================================
# Benign families
# ===========================================================================

FU_EN = [("Can you shorten that to a few bullet points?", 0.35), ("Could you give me an example?", 0.6),
         ("Thanks. How would this apply to a small team?", 0.7), ("Can you explain the second part more simply?", 0.5),
         ("What are the risks or downsides?", 0.6), ("Can you turn that into an email I can send?", 0.6),
         ("Great, and what would you do first?", 0.4), ("Can you make it more formal?", 0.9)]
FU_ZH = [("能简短总结成几条要点吗？", 0.35), ("能举个例子吗？", 0.6), ("第二部分能再解释得通俗一点吗？", 0.5),
         ("这样做有什么风险？", 0.6), ("帮我改写成一封可以直接发出的邮件。", 0.6)]


def chat_session(F, k, t, client, items, n, rng, sysm=None, user=None, fu_p=0.25, step_p=0.0,
                 step_phr=None, ans_scale=(0.95, 1.15), prefix=None, gapfast=1.0, max_fu=2, extra=None,
                 summarize_p=0.0, docs=None):
    """A person's session of n questions with follow-ups; returns the end time."""
    for _ in range(n):
        if summarize_p and docs and rng.random() < summarize_p:
            doc = rng.choice(docs)
            txt = doc["doc"][:3000]
            q = rng.choice(["Summarize this for me:", "Can you give me the gist of this?", "TL;DR please:",
                            "What are the key points here?", "Summarise this article in a few bullets:"]) + "\n\n" + txt
            a = min(250, tok(txt) * rng.uniform(0.1, 0.3) + 20)
            m = ([msg("system", sysm)] if sysm else []) + [msg("user", q)]
            F.add(k, t, client, body_of(m, user=user, **(extra or {})), a, hid=None)
            t += human_gap(rng, a, gapfast) * SEC
            continue
        it = next(items)
        q = render(rng, it)
        if prefix and rng.random() < 0.5:
            q = rng.choice(prefix) + q
        lang = it.get("lang", "en")
        a = detail_ans(rng, it, *ans_scale)
        if step_p and rng.random() < step_p:
            q = q + ("\n" if lang == "zh" else " ") + rng.choice(step_phr[lang])
            a = a * rng.uniform(1.25, 1.6) + 30
        m = ([msg("system", sysm)] if sysm else []) + [msg("user", q)]
        F.add(k, t, client, body_of(m, user=user, **(extra or {})), a, hid=it["id"])
        t += human_gap(rng, a, gapfast) * SEC
        prev_out, prev_a = out_text(it), a
        nf = 0
        while nf < max_fu and rng.random() < fu_p:
            fu, f = rng.choice(FU_ZH if lang == "zh" else FU_EN)
            po = prev_out if len(prev_out) <= 3000 else prev_out[:3000]
            m = m + [msg("assistant", po), msg("user", fu)]
            a2 = max(20, prev_a * f * rng.uniform(0.8, 1.2))
            F.add(k, t, client, body_of(m, user=user, **(extra or {})), a2, hid=None)
            t += human_gap(rng, a2, gapfast) * SEC
            prev_out, prev_a = out_text(it)[: int(a2 * 4)], a2  # stand-in text of the follow-up's answer
            nf += 1
    return t


HELPDESK_SYS = (
    "You are the internal helpdesk assistant of {c}. Employees ask you about policies, tools and anything else "
    "they need for work. When the excerpt below is relevant, follow it; otherwise answer from general knowledge, "
    "thoroughly and clearly.\n\nPolicy excerpt:\n{doc}"
)
COMPANIES = ["Halvorsen Logistics", "Meridian Health Partners", "Oakline Foods", "Brightwater Energy", "Sato & Klein",
             "Northgate Insurance", "Pinecrest Schools", "Lumen Retail Group", "Vantage Freight", "Corvid Analytics",
             "Greymoor Legal", "Kiteline Travel"]


def fam_helpdesk_longform(F, C):
    """Internal helpdesk products serving named employees in several offices; long answers, public questions."""
    rng = F.rng
    docs = [x for x in C.c4 if 800 <= len(x["doc"]) <= 2200]
    pool_en = C.en_sim + C.ae
    for i in range(10):
        comp = COMPANIES[i]
        k = F.key(team_name(rng, "hlp", i), "product", rpm=300)
        sysm = HELPDESK_SYS.format(c=comp, doc=rng.choice(docs)["doc"])
        offices = rng.sample([-8, -5, 0, 1, 8, 9], rng.randint(1, 3))
        staff = [(F.uid("emp-", 6), rng.choice(offices), rng.uniform(0.12, 0.5)) for _ in range(rng.randint(60, 180))]
        en_it = cycle(rng, pool_en)
        zh_it = cycle(rng, C.zh_sim)
        servers = [F.ip(i, j) for j in range(2)]
        for d in range(7):
            if not weekday(d):
                if rng.random() < 0.5:
                    continue
            for uid, tz, p in staff:
                if rng.random() > (p if weekday(d) else p * 0.1):
                    continue
                for sh in session_starts(rng, rng.randint(1, 2), 8.5, 18, 1.0):
                    items = zh_it if (tz >= 8 and rng.random() < 0.5) else en_it
                    chat_session(F, k, at(d, sh, tz), rng.choice(servers), items, rng.randint(1, 3), rng,
                                 sysm=sysm, user=uid, fu_p=0.28, summarize_p=0.1, docs=docs)


DOCGEN_FORMS = [
    "Rewrite the following reference material as a help-center article with a title, a short introduction, headings and a summary. Keep every fact; do not add new ones.\n\n{d}",
    "Convert this source text into a documentation page in Markdown (H2/H3 headings, short paragraphs, a 'Key facts' list). Preserve all facts.\n\n{d}",
    "Turn the text below into a clean knowledge-base article for our internal wiki. Same facts, clearer structure.\n\n{d}",
]
OUTLINE_FORMS = [
    "Expand this outline into a full documentation page. Each bullet becomes a section of one or two paragraphs.\n\n{o}",
    "Write the complete article for the outline below (our docs style: headings, short paragraphs).\n\n{o}",
]


def fam_docgen_nightly(F, C):
    """Nightly documentation rebuilds: reference text rewritten as pages, some outlines expanded to full pages."""
    rng = F.rng
    docs = [x for x in C.c4 if 900 <= len(x["doc"]) <= 3000]
    for i in range(10):
        k = F.key(team_name(rng, "doc", i), "documentation", rpm=120)
        tz = rng.choice(TZ_WORLD)
        sysm = rng.choice(["You are a technical writer. Output Markdown only.",
                           "You write documentation pages in a neutral, precise style.",
                           "Docs pipeline. Markdown output, no preamble."])
        forms = rng.sample(DOCGEN_FORMS, 2)
        clients = [F.ip(i, 0)]
        for d in range(7):
            n = rng.randint(60, 130) if weekday(d) else rng.randint(15, 40)
            t = at(d, rng.uniform(1.0, 1.5), tz)
            for _ in range(n):
                r = rng.random()
                if r < 0.2:
                    a_i, span = wiki_window(rng, C, 1500, 3500)
                    paras = span.split("\n\n")
                    outline = "\n".join("- " + first_sentence(p, 30, 160) for p in paras)
                    text = rng.choice(OUTLINE_FORMS).format(o=outline)
                    a = tok(span) * rng.uniform(1.0, 1.2)
                elif r < 0.75:
                    a_i, span = wiki_window(rng, C, 1000, 2500)
                    text = rng.choice(forms).format(d=span)
                    a = tok(span) * rng.uniform(1.05, 1.3)
                else:
                    doc = rng.choice(docs)
                    text = rng.choice(forms).format(d=doc["doc"])
                    a = doc["ans"] * rng.uniform(1.05, 1.3)
                b = body_of([msg("system", sysm), msg("user", text)], temperature=0.2, max_tokens=3000)
                F.add(k, t, clients[0], b, a, hid=None)
                t += (a / rng.uniform(60, 110) + rng.uniform(0.5, 3.0)) * SEC


EVAL_SYS = ["", "You are a helpful assistant.", "You are a helpful, honest and harmless assistant.",
            "Answer the user's request as well as you can."]


def fam_benchmark_eval(F, C):
    """Honest evaluation harnesses: AlpacaEval runs at night, declared `evaluation`, one to three runs a week."""
    rng = F.rng
    teams = [team_name(rng, "evl", j) for j in range(6)]
    for i in range(12):
        k = F.key(teams[i // 2], "evaluation", rpm=600)
        tz = rng.choice(TZ_WORLD)
        lanes = rng.choice([1, 2, 4])
        nruns = rng.randint(1, 3)
        nights = sorted(rng.sample(range(7), nruns))
        temp = rng.choice([0, 0, 0.7])
        mt = rng.choice([2048, 4096, None])
        clients = [F.ip(i, 0)]
        for d in nights:
            sysm = rng.choice(EVAL_SYS)
            start = at(d, rng.uniform(0.5, 2.0), tz)
            order = list(range(len(C.ae)))
            if rng.random() < 0.3:
                rng.shuffle(order)
            lane_t = [start + j * rng.uniform(50, 400) for j in range(lanes)]
            for n, idx in enumerate(order):
                j = n % lanes
                it = C.ae[idx]
                m = ([msg("system", sysm)] if sysm else []) + [msg("user", it["text"])]
                a = it["ans"] * (rng.uniform(0.9, 1.1) if temp else 1.0)
                F.add(k, lane_t[j], clients[0], body_of(m, temperature=temp, max_tokens=mt, seed=1234 if temp == 0 else None), a, hid=it["id"])
                lane_t[j] += (a / rng.uniform(70, 130) + rng.uniform(0.2, 0.8)) * SEC


JUDGE_FORMS = [
    "You are comparing two AI assistants' answers to the same instruction.\n\n# Instruction\n{q}\n\n# Output (a)\n{a}\n\n# Output (b)\n{b}\n\nWhich output is better? Answer with exactly \"a\" or \"b\".",
    "[Instruction]\n{q}\n\n[Response A]\n{a}\n\n[Response B]\n{b}\n\nDecide which response follows the instruction better. Reply with a single letter: A or B.",
    "Evaluate the two responses below for helpfulness and accuracy.\nInstruction: {q}\n---\nResponse 1:\n{a}\n---\nResponse 2:\n{b}\n---\nVerdict (1 or 2):",
]


def fam_judge_logprobs(F, C):
    """Model-as-judge research: pairwise verdicts over AlpacaEval answers, logprobs on every request, one-token answers."""
    rng = F.rng
    models = AE_MODELS[1:]
    teams = [team_name(rng, "jdg", j) for j in range(5)]
    for i in range(10):
        k = F.key(teams[i // 2], "research", rpm=300)
        tz = rng.choice(TZ_WORLD)
        form = JUDGE_FORMS[i % len(JUDGE_FORMS)]
        clients = [F.ip(i, 0), F.ip(i, 1)]
        nbatches = rng.randint(3, 5)
        days = sorted(rng.sample(range(7), nbatches))
        for d in days:
            t = at(d, rng.choice([rng.uniform(9, 16), rng.uniform(0, 5)]), tz)
            for _ in range(rng.randint(100, 220)):
                idx = rng.randrange(len(C.ae))
                ma, mb = rng.sample(models, 2)
                oa, ob = C.ae_out[ma][idx], C.ae_out[mb][idx]
                if len(oa) + len(ob) > 3600 or not oa or not ob:
                    continue
                text = form.format(q=C.ae_instr[idx], a=oa, b=ob)
                b = body_of([msg("user", text)], temperature=0, max_tokens=3, logprobs=True, top_logprobs=5)
                F.add(k, t, rng.choice(clients), b, 1, hid=None)
                t += rng.uniform(0.6, 2.5) * SEC


STEP_PHR = {"en": ["Explain step by step.", "Show your working.", "Please explain your reasoning.",
                   "Can you walk me through it step by step?", "Explain each step so I can follow."],
            "zh": ["请一步一步地讲解。", "请写出解题步骤。", "请说明理由。", "能一步步讲给我听吗？"]}
TUTOR_SYS = [
    "You are a patient tutor on {p}. Help the student understand, explain steps clearly, and check understanding.",
    "You are {p}'s homework helper for secondary-school students. Explain concepts step by step in simple language.",
]
TUTOR_NAMES = ["StudyNest", "Brainbridge", "MathMate", "LearnLoop", "学霸通", "Tutorly", "EduPal", "ClassBuddy", "知识岛", "Quizzy"]


def fam_tutoring_platform(F, C):
    """Homework-help products: named students, step-by-step explanations, after school and weekends."""
    rng = F.rng
    en_hw = [x for x in C.en_sim + C.en_rest if is_reasoning(x) or topic_of(x["text"][:200]) in ("science", "learning", "writing")]
    zh_hw = [x for x in C.zh_sim + C.zh_rest if is_reasoning(x)]
    for i in range(10):
        zh = i in (4, 8)
        name = TUTOR_NAMES[i]
        k = F.key(team_name(rng, "tut", i), "product", rpm=300)
        tz = 8 if zh else rng.choice([-8, -5, 0, 1, 10])
        sysm = rng.choice(TUTOR_SYS).format(p=name)
        students = [(F.uid("stu_", 8), rng.uniform(0.1, 0.45)) for _ in range(rng.randint(40, 130))]
        items = cycle(rng, zh_hw if zh else en_hw)
        servers = [F.ip(i, 0), F.ip(i, 1)]
        for d in range(7):
            h0, h1 = (15.5, 22) if weekday(d) else (10, 20)
            for uid, p in students:
                if rng.random() > p:
                    continue
                sh = rng.uniform(h0, h1)
                chat_session(F, k, at(d, sh, tz), rng.choice(servers), items, rng.randint(1, 4), rng,
                             sysm=sysm, user=uid, fu_p=0.3, step_p=0.7, step_phr=STEP_PHR,
                             ans_scale=(1.0, 1.2), gapfast=1.2)


TRANS_SYS = [
    "You are a professional translator for {c}. Follow the glossary: 'account' = 账户, 'checkout' = 结账, 'subscription' = 订阅. Keep formatting.",
    "Translate faithfully and fluently. Preserve paragraph breaks, names and numbers. House style: no added commentary.",
    "You are a certified translator. Output only the translation.",
]


def chunk_text(text, limit=1100):
    """Split a document into chunks of about `limit` characters at paragraph, then sentence, boundaries."""
    units = []
    for para in re.split(r"\n+", text):
        para = para.strip()
        if not para:
            continue
        if len(para) <= limit:
            units.append(para)
        else:
            units.extend(x for x in SENT_SPLIT.split(para) if x)
    chunks, cur = [], ""
    for u in units:
        if cur and len(cur) + len(u) > limit:
            chunks.append(cur)
            cur = ""
        cur = (cur + "\n\n" + u) if cur else u
    if cur:
        chunks.append(cur)
    return chunks


def fam_translation_agency(F, C):
    """Translation agencies: documents chunked and translated in order, en→zh, en→de/fr, zh→en."""
    rng = F.rng
    docs = [x for x in C.c4 if len(x["doc"]) >= 600]
    reviews = C.hotel + C.waimai
    for i in range(14):
        k = F.key(team_name(rng, "trn", i), "translation", rpm=120)
        tz = rng.choice([8, 1, -5, 2, 9])
        sysm = rng.choice(TRANS_SYS).format(c=rng.choice(COMPANIES))
        mode = ["en-zh", "en-zh", "en-de", "en-fr", "zh-en"][i % 5]
        target = {"en-zh": "Simplified Chinese", "en-de": "German", "en-fr": "French", "zh-en": "English"}[mode]
        clients = [F.ip(i, j) for j in range(3)]

        def document():
            if mode == "zh-en":
                revs = [rng.choice(reviews)["text"] for _ in range(rng.randint(30, 70))]
                return ["\n".join("%d. %s" % (j + 1, r) for j, r in enumerate(revs[s0:s0 + 8]))
                        for s0 in range(0, len(revs), 8)]
            if rng.random() < 0.5:
                return chunk_text(wiki_window(rng, C, 3000, 9000)[1])
            return chunk_text(rng.choice(docs)["doc"])

        for d in range(7):
            if not weekday(d):
                continue
            for sh in session_starts(rng, rng.randint(3, 5), 9, 17, 1.2):
                t = at(d, sh, tz)
                for _ in range(rng.randint(2, 5)):
                    for ch in document():
                        text = "Translate into %s:\n\n%s" % (target, ch)
                        if mode == "en-zh":
                            a = len(ch) / rng.uniform(2.6, 3.1)
                        elif mode == "zh-en":
                            c = cjk_count(ch)
                            a = c * rng.uniform(0.6, 0.8) + (len(ch) - c) / 4
                        else:
                            a = tok(ch) * rng.uniform(1.15, 1.35)
                        b = body_of([msg("system", sysm), msg("user", text)], temperature=0.3)
                        F.add(k, t, rng.choice(clients), b, a, hid=None)
                        t += (a / rng.uniform(50, 90) + rng.uniform(20, 120)) * SEC
                    t += rng.uniform(2, 15) * MIN


PU_PREFIX = ["", "Quick one: ", "Help me think about this: ", "For a client deck: ", "I need a solid answer: ",
             "Context: I'm researching this. "]


def fam_power_users(F, C):
    """Heavy individuals: consultants, researchers, writers asking dozens of long questions a working day."""
    rng = F.rng
    en_pool = C.en_sim + C.ae + C.wq
    zh_pool = C.zh_sim + C.zh_rest
    docs = [x for x in C.c4 if len(x["doc"]) >= 600]
    for i in range(44):
        zh = i % 7 == 6
        k = F.key(team_name(rng, "pwr", i), rng.choice(["research", "general", "consulting", "writing"]), rpm=60)
        tz = rng.choice(TZ_ASIA if zh else TZ_WORLD)
        level = rng.lognormvariate(math.log(30), 0.35)
        stepper = rng.random() < 0.3
        items = cycle(rng, zh_pool if zh else en_pool)
        clients = [F.ip(i, 0), F.ip6(i, 0), F.ip(i, 1)]
        weekend = rng.random() < 0.4
        for d in range(7):
            if not weekday(d) and not weekend:
                continue
            n = int(min(55, rng.uniform(0.6, 1.3) * level)) if weekday(d) else rng.randint(0, 12)
            if n <= 0:
                continue
            nsess = max(1, min(6, n // 8 + rng.randint(0, 2)))
            per = [n // nsess + (1 if j < n % nsess else 0) for j in range(nsess)]
            for sh, cnt in zip(session_starts(rng, nsess, 8, 22, 0.8), per):
                chat_session(F, k, at(d, sh, tz), rng.choice(clients), items, cnt, rng, fu_p=0.3,
                             step_p=0.4 if stepper else 0.03, step_phr=STEP_PHR, prefix=PU_PREFIX if not zh else None,
                             summarize_p=0.1, docs=docs, extra={"temperature": 0.7} if i % 5 == 0 else None)


def fam_office_nat(F, C):
    """Quiet staff behind four office addresses (the same addresses a few extraction personas use)."""
    rng = F.rng
    en_pool = C.en_sim + C.ae
    zh_pool = C.zh_sim
    docs = [x for x in C.c4 if len(x["doc"]) >= 600]
    for i in range(64):
        o = i % 4
        oip, tz = OFFICES[o]
        team = "off-%d-%s" % (o, ["ops", "sales", "finance", "eng"][(i // 4) % 4])
        k = F.key(team, rng.choice(["general", "internal-tools", "research"]), rpm=30)
        zh = tz == 8 and rng.random() < 0.6
        items = cycle(rng, zh_pool if zh else en_pool)
        act = rng.uniform(0.3, 0.9)
        forced = rng.randrange(5)
        for d in range(5):
            if rng.random() > act and d != forced:
                continue
            for sh in session_starts(rng, rng.randint(1, 3), 8.5, 18, 1.0):
                chat_session(F, k, at(d, sh, tz), oip, items, rng.randint(1, 4), rng, fu_p=0.2,
                             summarize_p=0.15, docs=docs)


AGENT_B_SYS = [
    "You are {p}, a research agent. Use the tools to gather information before answering. When you have enough, write a complete, well-structured report for the user.",
    "You are an engineering assistant with tools (web_search, open_url, run_python). Plan, call tools, and finish with a thorough answer.",
]
AGENT_B_TOOLS = [
    {"type": "function", "function": {"name": "web_search", "description": "Search the web; returns result snippets.",
                                      "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}},
    {"type": "function", "function": {"name": "open_url", "description": "Fetch the text of a page.",
                                      "parameters": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}}},
    {"type": "function", "function": {"name": "run_python", "description": "Run Python code and return stdout.",
                                      "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}}},
]
STOP = set("the a an of to and in on for with is are be what how why which who can you your my me i it this that "
           "please give write list some any do does from as at by about".split())


def fam_agent_tool_loops(F, C):
    """Agent products: a user's task, several tool calls with retrieved text, then a long report."""
    rng = F.rng
    tasks = C.ae + C.en_sim
    snippets = [x["doc"] for x in C.c4] + [p["para"] for p in C.wpara]
    for i in range(12):
        pname = ["Scout", "Fathom", "Relay", "Pathfinder", "Sherpa", "Compass"][i % 6]
        k = F.key(team_name(rng, "agt", i), "product", rpm=600)
        tz = rng.choice([-8, -5, 0, 1, 5.5])
        sysm = rng.choice(AGENT_B_SYS).format(p=pname)
        named = i % 2 == 0
        users = [F.uid("u-", 8) for _ in range(rng.randint(30, 90))]
        tit = cycle(rng, tasks)
        servers = [F.ip(i, j) for j in range(4)]
        for d in range(7):
            ntasks = rng.randint(10, 18) if weekday(d) else rng.randint(2, 6)
            for _ in range(ntasks):
                task = next(tit)
                t = at(d, rng.uniform(8, 20), tz)
                u = rng.choice(users) if named else None
                client = rng.choice(servers)
                base = [msg("system", sysm), msg("user", task["text"])]
                words = [w for w in re.findall(r"[A-Za-z]+", task["text"].lower()) if w not in STOP]
                pairs = []
                for s in range(rng.randint(3, 14)):
                    body = body_of(base + [x for p in pairs[-2:] for x in p], tools=AGENT_B_TOOLS,
                                   parallel_tool_calls=False, user=u)
                    F.add(k, t, client, body, rng.randint(18, 70), hid=None)
                    t += rng.uniform(1.0, 4.0) * SEC
                    tool = rng.choice(["web_search", "web_search", "open_url", "run_python"])
                    if tool == "web_search":
                        args = {"query": " ".join(rng.sample(words, min(len(words), rng.randint(2, 5)))) or "overview"}
                    elif tool == "open_url":
                        args = {"url": "https://example.org/%s/%d" % ((words or ["page"])[0], rng.randint(1, 999))}
                    else:
                        args = {"code": "print(sum(range(%d)))" % rng.randint(10, 10000)}
                    cid = F.callid()
                    sn = rng.choice(snippets)
                    st = rng.randrange(0, max(1, len(sn) - 500))
                    st = sn.find(" ", st) + 1 if st else 0
                    end = sn.rfind(" ", st, st + rng.randint(200, 500))
                    result = sn[st: end if end > st else st + 400] if tool != "run_python" else str(rng.randint(0, 10 ** 7))
                    pairs.append([{"role": "assistant", "content": None, "tool_calls": [
                        {"id": cid, "type": "function", "function": {"name": tool, "arguments": json.dumps(args)}}]},
                        {"role": "tool", "tool_call_id": cid, "content": result}])
                    t += rng.uniform(0.5, 6.0) * SEC
                body = body_of(base + [x for p in pairs[-2:] for x in p], tools=AGENT_B_TOOLS,
                               parallel_tool_calls=False, user=u)
                F.add(k, t, client, body, detail_ans(rng, task, 1.2, 1.6), hid=task["id"])


SUM_FORMS_EN = ["Summarize this document in 3 bullet points:\n\n{d}", "Write a two-sentence summary:\n\n{d}",
                "Extract the main claim and one supporting detail:\n\n{d}", "Summarise for a busy reader (max 60 words):\n\n{d}"]
SUM_FORMS_ZH = ["用一句话概括这条评论反映的主要问题：\n{d}", "请提炼这条评论中的优点和缺点（各一句）：\n{d}",
                "总结以下顾客反馈的要点：\n{d}"]


def fam_summaries_pipeline(F, C):
    """Around-the-clock summarisation services with bursts of parallel workers; short answers."""
    rng = F.rng
    docs = [x for x in C.c4 if 300 <= len(x["doc"]) <= 3500]
    for i in range(10):
        k = F.key(team_name(rng, "sum", i), "analytics", rpm=600)
        tz = rng.choice(TZ_WORLD)
        zh = i % 3 == 2
        workers = [F.ip(i, j) for j in range(6)]
        t = T0 + rng.uniform(0, 30) * MIN
        while t < T0 + SPAN:
            h = ((t - T0) / HOUR + tz) % 24
            day = int((t - T0 + tz * HOUR) // DAY)
            wk = 1.0 if weekday(day) else 0.5
            rate = (0.8 + 2.8 * max(0.0, math.sin(math.pi * (h - 6) / 16))) * wk  # bursts per hour
            t += rng.expovariate(rate / 3600.0) * SEC
            burst = rng.randint(1, 10)
            for j in range(burst):
                tt = t + j * rng.uniform(0.05, 0.4) * SEC
                if zh or rng.random() < 0.2:
                    r = rng.choice(C.waimai + C.hotel)
                    text = rng.choice(SUM_FORMS_ZH).format(d=r["text"])
                    a = min(80, len(r["text"]) * rng.uniform(0.3, 0.6) + 10)
                elif rng.random() < 0.7:
                    doc = rng.choice(docs)
                    text = rng.choice(SUM_FORMS_EN).format(d=doc["doc"])
                    a = min(120, doc["ans"] * rng.uniform(0.08, 0.2) + 20)
                else:
                    p = rng.choice(C.wpara)
                    text = rng.choice(SUM_FORMS_EN).format(d=p["para"])
                    a = min(120, p["ans"] * rng.uniform(0.1, 0.25) + 20)
                F.add(k, tt, workers[j % len(workers)], body_of([msg("user", text)], temperature=0, max_tokens=200), a, hid=None)


FIXTURE_FORMS = [
    "Generate {n} fictional {kind} for our staging environment, similar in tone and length to the example. Return one JSON object per line with fields \"rating\" and \"text\". Example:\n{ex}",
    "For UI tests we need {n} realistic but fake {kind}. Vary length and sentiment. JSON lines, fields rating, text. Here is a real-looking example:\n{ex}",
    "Make {n} synthetic {kind} (fake data for a demo account). Output JSON lines: {{\"stars\": 1-5, \"body\": \"...\"}}. Style reference:\n{ex}",
]


def fam_fixture_factory(F, C):
    """QA teams generating fake reviews for staging and demo accounts: templated, long, unbounded data generation."""
    rng = F.rng
    for i in range(8):
        k = F.key(team_name(rng, "fix", i), "testing", rpm=60)
        tz = rng.choice([8, 1, -5, 0])
        forms = rng.sample(FIXTURE_FORMS, 2)
        clients = [F.ip(i, 0)]
        for d in range(7):
            if not weekday(d):
                continue
            for sh in session_starts(rng, rng.randint(1, 3), 9.5, 18, 2):
                t = at(d, sh, tz)
                for _ in range(rng.randint(15, 50)):
                    src = C.hotel if rng.random() < 0.5 else C.waimai
                    kind = "hotel reviews in Chinese" if src is C.hotel else "food-delivery reviews in Chinese"
                    ex = rng.choice(src)["text"]
                    n = rng.randint(5, 15)
                    sample = [rng.choice(src)["text"] for _ in range(n)]
                    a = sum(tok(x) for x in sample) + 14 * n
                    text = rng.choice(forms).format(n=n, kind=kind, ex=ex)
                    F.add(k, t, clients[0], body_of([msg("user", text)], temperature=1.0), a, hid=None)
                    t += (a / rng.uniform(60, 100) + rng.uniform(1, 6)) * SEC


EXAM_PREFIX = ["", "", "Explain: ", "Can you help me understand this: ", "Practice question: ", "Exam prep - ",
               "I don't get this one: "]


def fam_exam_cohort(F, C):
    """Four classes of students with their own keys, sharing a question bank; labs together, cramming before the exam."""
    rng = F.rng
    for c in range(4):
        zh = c == 3
        bank = rng.sample(C.zh_sim if zh else C.en_sim, 150 if not zh else 120)
        tz = 8 if zh else rng.choice([-5, 0, 1])
        team = "course-%s-%d" % (rng.choice(["bio101", "econ110", "cs120", "hist205", "chem150"]), c)
        lab_days = [1, 3]
        for s in range(12):
            k = F.key(team, "education", rpm=30)
            items = cycle(rng, bank)
            client = F.ip(c * 12 + s, 0)
            lab_ip = F.ip(200 + c, 0)  # the lab's address
            for d in range(5):
                if d in lab_days:
                    chat_session(F, k, at(d, 14 + rng.uniform(0, 0.4), tz), lab_ip, items, rng.randint(4, 12), rng,
                                 fu_p=0.2, prefix=EXAM_PREFIX if not zh else None, gapfast=0.8)
                if rng.random() < 0.45 or d == 3:
                    n = rng.randint(10, 30) if d == 3 else rng.randint(3, 10)
                    chat_session(F, k, at(d, rng.uniform(19, 22.5), tz), client, items, n, rng,
                                 fu_p=0.2, prefix=EXAM_PREFIX if not zh else None)


def fam_eval_ci_shards(F, C):
    """Regression suites sharded i % 4 over four worker keys per team: three teams, the same public subset."""
    rng = F.rng
    for g in range(3):
        team = team_name(rng, "eci", g)
        tz = rng.choice([-8, 0, 1, 9])
        private = rng.sample(C.en_sim, 100)
        suite = C.ae[:300] + private
        keys = [F.key(team, "evaluation", rpm=300) for _ in range(4)]
        ips = [F.ip(g * 4 + w, 0) for w in range(4)]
        sysm = rng.choice(["You are a helpful assistant.", "You are the assistant of our product. Be concise but complete."])
        for d in range(7):
            runs = [(at(d, 2 + rng.uniform(0, 0.3), tz), suite)]
            if weekday(d):
                runs.append((at(d, 13 + rng.uniform(0, 1), tz), suite[:24] + private[:8]))
            for start, items in runs:
                lane = [start + rng.uniform(0, 800) for _ in range(4)]
                for n, it in enumerate(items):
                    w = n % 4
                    m = [msg("system", sysm), msg("user", it["text"])]
                    F.add(keys[w], lane[w], ips[w], body_of(m, temperature=0, max_tokens=2048), it["ans"], hid=it["id"])
                    lane[w] += (it["ans"] / rng.uniform(90, 140) + rng.uniform(0.1, 0.5)) * SEC


ETL_SCHEMAS = [
    {"name": "org_facts", "schema": {"type": "object", "properties": {
        "organisations": {"type": "array", "items": {"type": "string"}}, "products": {"type": "array", "items": {"type": "string"}},
        "prices": {"type": "array", "items": {"type": "string"}}, "locations": {"type": "array", "items": {"type": "string"}},
        "contact": {"type": ["string", "null"]}}, "required": ["organisations", "products", "prices", "locations", "contact"],
        "additionalProperties": False}},
    {"name": "entities", "schema": {"type": "object", "properties": {
        "people": {"type": "array", "items": {"type": "string"}}, "dates": {"type": "array", "items": {"type": "string"}},
        "places": {"type": "array", "items": {"type": "string"}}, "topic": {"type": "string"}},
        "required": ["people", "dates", "places", "topic"], "additionalProperties": False}},
    {"name": "review_aspects", "schema": {"type": "object", "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "negative", "mixed"]},
        "aspects": {"type": "array", "items": {"type": "object", "properties": {"aspect": {"type": "string"}, "polarity": {"type": "string"}},
                                               "required": ["aspect", "polarity"], "additionalProperties": False}}},
        "required": ["sentiment", "aspects"], "additionalProperties": False}},
]


def fam_etl_json_extraction(F, C):
    """Structured extraction batches around the clock with eight parallel workers; JSON answers."""
    rng = F.rng
    docs = [x for x in C.c4 if 300 <= len(x["doc"]) <= 3000]
    for i in range(10):
        k = F.key(team_name(rng, "etl", i), "analytics", rpm=900)
        sch = ETL_SCHEMAS[i % 3]
        workers = [F.ip(i, j) for j in range(8)]
        sysm = "Extract the requested fields from the input. Use null or empty arrays when absent."
        t = T0 + rng.uniform(0, 90) * MIN
        while t < T0 + SPAN:
            n = rng.randint(20, 70)
            lanes = [t + j * rng.uniform(0, 0.5) * SEC for j in range(8)]
            for j in range(n):
                w = j % 8
                if sch["name"] == "review_aspects":
                    r = rng.choice(C.waimai + C.hotel)
                    text, a = r["text"], rng.uniform(25, 70)
                elif sch["name"] == "entities":
                    p = rng.choice(C.wpara)
                    text, a = p["para"], rng.uniform(50, 160)
                else:
                    dd = rng.choice(docs)
                    text, a = dd["doc"], rng.uniform(40, 150)
                b = body_of([msg("system", sysm), msg("user", text)], temperature=0,
                            response_format={"type": "json_schema", "json_schema": {"name": sch["name"], "strict": True, "schema": sch["schema"]}})
                F.add(k, lanes[w], workers[w], b, a, hid=None)
                lanes[w] += (a / rng.uniform(80, 150) + rng.uniform(0.3, 1.5)) * SEC
            t = max(lanes) + rng.uniform(2.0, 6.0) * HOUR


WRITE_FORMS = [
    ("Turn this opening line into a {n}-word blog post: {s}", 1.0),
    ("Write a newsletter article based on this note: {s}", 1.0),
    ("Expand my notes into a full post for our website. Notes: {s}", 1.0),
    ("Draft a long-form article starting with: {s}", 1.1),
    ("Write a persuasive landing-page text around this: {s}", 0.8),
]
WRITE_FU = [("Make it more casual.", 1.0), ("Shorten the intro.", 0.9), ("Add a call to action at the end.", 1.05),
            ("Can you give me five alternative titles?", 0.1), ("Make it about 30% shorter.", 0.7)]


def fam_longform_writing(F, C):
    """Writing products: named users paste a line or notes and get full posts back; revisions follow."""
    rng = F.rng
    docs = C.c4_long
    for i in range(10):
        k = F.key(team_name(rng, "wrt", i), "product", rpm=300)
        tz = rng.choice([-8, -5, 0, 1, 10])
        users = [(F.uid("w_", 10), rng.uniform(0.05, 0.3)) for _ in range(rng.randint(50, 200))]
        sysm = rng.choice(["You are a writing assistant for marketers and bloggers.", "You help people write clear, engaging long-form content.",
                           "Write in a warm, human tone. Avoid clichés."])
        servers = [F.ip(i, 0), F.ip(i, 1)]
        stream = {"stream": True, "stream_options": {"include_usage": True}} if i % 2 == 0 else {}
        for d in range(7):
            for uid, p in users:
                if rng.random() > (p if weekday(d) else p * 0.6):
                    continue
                t = at(d, rng.uniform(9, 23) if weekday(d) else rng.uniform(10, 22), tz)
                client = rng.choice(servers)
                for _ in range(rng.randint(1, 3)):
                    doc = rng.choice(docs)
                    f, sc = rng.choice(WRITE_FORMS)
                    notes = doc["s1"]
                    text = f.format(s=notes, n=rng.choice([500, 600, 800, 1000]))
                    a = min(1500, doc["ans"] * sc * rng.uniform(0.9, 1.2))
                    m = [msg("system", sysm), msg("user", text)]
                    F.add(k, t, client, body_of(m, user=uid, **stream), a, hid=doc["id"])
                    t += human_gap(rng, a) * SEC
                    if rng.random() < 0.35:
                        fu, fs = rng.choice(WRITE_FU)
                        m2 = m + [msg("assistant", doc["doc"][:3000]), msg("user", fu)]
                        a2 = max(20, a * fs)
                        F.add(k, t, client, body_of(m2, user=uid, **stream), a2, hid=None)
                        t += human_gap(rng, a2) * SEC


REPLY_SYS = [
    "你是{b}的客户关系助手。请以门店的口吻回复顾客评价：先感谢，再针对评价中的具体问题致歉或回应，说明改进措施，最后欢迎再次光临。语气真诚，避免套话，150到250字。",
    "你代表{b}回复线上评价。好评要具体感谢，差评要诚恳道歉并给出解决办法。不要承诺赔偿金额。",
]
BRANDS = ["锦江之星", "如家精选", "老街面馆", "小龙坎", "悦来客栈", "海底捞", "汉庭", "喜茶", "麦田餐厅", "云上酒店"]
REPLY_FORMS = ["请为下面这条顾客评价写一条得体的商家回复：\n{r}", "顾客评价：{r}\n\n请写回复。", "帮我回复这条评价：{r}"]


def fam_review_reply_studio(F, C):
    """Chinese merchants' review-reply product: a template over short reviews, answered at length by design."""
    rng = F.rng
    for i in range(10):
        brand = BRANDS[i]
        src = C.hotel if i % 2 == 0 else C.waimai
        k = F.key(team_name(rng, "rpl", i), "product", rpm=120)
        sysm = rng.choice(REPLY_SYS).format(b=brand)
        staff = [F.uid("mgr_", 6) for _ in range(rng.randint(5, 30))]
        servers = [F.ip(i, 0)]
        for d in range(7):
            n = rng.randint(60, 130) if weekday(d) else rng.randint(30, 80)
            for _ in range(n):
                t = at(d, rng.uniform(9, 22), 8)
                r = rng.choice(src)
                text = rng.choice(REPLY_FORMS).format(r=r["text"])
                a = min(260, max(90, len(r["text"]) * rng.uniform(0.8, 1.4) + rng.uniform(70, 130)))
                F.add(k, t, servers[0], body_of([msg("system", sysm), msg("user", text)], user=rng.choice(staff)), a, hid=None)


def fam_calibration_sweeps(F, C):
    """Decoding research: fixed prompts swept over temperature and top_p with seeds, some with logprobs."""
    rng = F.rng
    teams = [team_name(rng, "cal", j) for j in range(4)]
    for i in range(8):
        k = F.key(teams[i // 2], "research", rpm=120)
        tz = rng.choice([-5, 0, 1, 9])
        prompts = rng.sample(C.ae, 20) + rng.sample(C.en_sim, 20)
        temps = [0.0, 0.4, 0.8, 1.2]
        tops = [1.0, 0.9]
        clients = [F.ip(i, 0)]
        days = sorted(rng.sample(range(5), 3))
        todo = [(p, te, tp, s) for p in prompts for te in temps for tp in tops for s in (1, 2)]
        rng.shuffle(todo)
        per = len(todo) // len(days) + 1
        for di, d in enumerate(days):
            t = at(d, rng.uniform(10, 15), tz)
            for p, te, tp, s in todo[di * per:(di + 1) * per]:
                lp = rng.random() < 0.3
                b = body_of([msg("user", p["text"])], temperature=te, top_p=tp, seed=s, max_tokens=1024,
                            logprobs=True if lp else None, top_logprobs=3 if lp else None)
                a = p["ans"] * rng.uniform(0.8, 1.2)
                F.add(k, t, clients[0], b, a, hid=p["id"])
                t += (min(a, 1023) / rng.uniform(60, 100) + rng.uniform(0.5, 2)) * SEC
            # labels with logprobs (short answers)
            t += 10 * MIN
            for _ in range(rng.randint(40, 80)):
                r = rng.choice(C.hotel)
                b = body_of([msg("system", "Sentiment of the review: answer positive or negative."), msg("user", r["text"])],
                            temperature=0, max_tokens=3, logprobs=True, top_logprobs=5)
                F.add(k, t, clients[0], b, 1, hid=None)
                t += rng.uniform(0.5, 1.5) * SEC


# ===========================================================================
# Assembly
# ===========================================================================

FAMILIES = [
    # name, role, generator
    ("tool_queue_agent", "extraction", fam_tool_queue_agent),
    ("thread_stacking", "extraction", fam_thread_stacking),
    ("bundled_questions", "extraction", fam_bundled_questions),
    ("draft_polish", "extraction", fam_draft_polish),
    ("dataset_localization", "extraction", fam_dataset_localization),
    ("persona_swarm", "extraction", fam_persona_swarm),
    ("reasoning_diluted", "extraction", fam_reasoning_diluted),
    ("voice_transcripts", "extraction", fam_voice_transcripts),
    ("trojan_product", "extraction", fam_trojan_product),
    ("continuation_mining", "extraction", fam_continuation_mining),
    ("chapter_mill", "extraction", fam_chapter_mill),
    ("schema_cards", "extraction", fam_schema_cards),
    ("helpdesk_longform", "benign", fam_helpdesk_longform),
    ("docgen_nightly", "benign", fam_docgen_nightly),
    ("benchmark_eval", "benign", fam_benchmark_eval),
    ("judge_logprobs", "benign", fam_judge_logprobs),
    ("tutoring_platform", "benign", fam_tutoring_platform),
    ("translation_agency", "benign", fam_translation_agency),
    ("power_users", "benign", fam_power_users),
    ("office_nat", "benign", fam_office_nat),
    ("agent_tool_loops", "benign", fam_agent_tool_loops),
    ("summaries_pipeline", "benign", fam_summaries_pipeline),
    ("fixture_factory", "benign", fam_fixture_factory),
    ("exam_cohort", "benign", fam_exam_cohort),
    ("eval_ci_shards", "benign", fam_eval_ci_shards),
    ("etl_json_extraction", "benign", fam_etl_json_extraction),
    ("longform_writing", "benign", fam_longform_writing),
    ("review_reply_studio", "benign", fam_review_reply_studio),
    ("calibration_sweeps", "benign", fam_calibration_sweeps),
]


def peak_per_minute(times):
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - MIN:
            j += 1
        best = max(best, i - j + 1)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--corpora", default=os.path.join("..", "shared", "corpora"))
    ap.add_argument("--fixtures", default=os.path.join("tests", "fixtures"))
    args = ap.parse_args()
    t_start = time.time()
    C = Corpora(args.corpora, args.fixtures)

    keys, reqs, stats = [], [], []
    for no, (name, role, gen) in enumerate(FAMILIES):
        F = Fam(name, role, args.seed, no)
        gen(F, C)
        off = len(keys)
        by_key = {}
        for r in F.reqs:
            by_key.setdefault(r[1], []).append(r[0])
        for ki, kd in enumerate(F.keys):
            if ki not in by_key:
                raise SystemExit("%s: key %s has no traffic" % (name, kd["name"]))
            if kd["requests_per_minute"] is not None:
                peak = peak_per_minute(by_key[ki])
                kd["requests_per_minute"] = max(kd["requests_per_minute"], int(math.ceil(peak * 1.25 / 10.0)) * 10)
        keys.extend(F.keys)
        hids = set()
        long_n = 0
        for (t, k, client, body, ex, ans, hid) in F.reqs:
            reqs.append((t, k + off, client, body, ex, ans))
            if ans >= 100:
                long_n += 1
            want = ex if role == "extraction" else ans >= 100
            if want and hid is not None:
                if isinstance(hid, tuple):
                    hids.update(hid)
                else:
                    hids.add(hid)
        stats.append((name, role, len(F.keys), len(set(k["team"] for k in F.keys)), len(F.reqs), long_n, len(hids),
                      sum(1 for r in F.reqs if r[4])))
    reqs.sort(key=lambda r: (r[0], r[1]))

    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write('{"keys":[\n')
        f.write(",\n".join(json.dumps(k, ensure_ascii=False, separators=(",", ":")) for k in keys))
        f.write('\n],"requests":[\n')
        first = True
        for (t, k, client, body, ex, ans) in reqs:
            if not first:
                f.write(",\n")
            first = False
            f.write('{"t":%d,"key":%d,"client":%s,"body":%s,"extraction":%s,"answer_tokens":%d}' % (
                t, k, json.dumps(client), json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                "true" if ex else "false", ans))
        f.write("\n]}\n")
    os.replace(tmp, args.out)

    if args.stats:
        size = os.path.getsize(args.out)
        w = sys.stderr
        w.write("%-22s %-10s %5s %5s %8s %8s %8s %8s\n" % ("family", "role", "keys", "teams", "requests", "ans>=100",
                                                          "distinct", "extract"))
        tot = {}
        for (name, role, nk, nt, nr, nl, nd, ne) in stats:
            w.write("%-22s %-10s %5d %5d %8d %8d %8d %8d\n" % (name, role, nk, nt, nr, nl, nd, ne))
            a = tot.setdefault(role, [0, 0, 0, 0, 0])
            for j, v in enumerate((nk, nt, nr, nl, ne)):
                a[j] += v
        for role, a in tot.items():
            w.write("%-22s %-10s %5d %5d %8d %8d %8s %8d\n" % ("TOTAL", role, a[0], a[1], a[2], a[3], "", a[4]))
        w.write("keys %d, requests %d, %.1f MB, %.1f s\n" % (len(keys), len(reqs), size / 1e6, time.time() - t_start))


if __name__ == "__main__":
    main()
