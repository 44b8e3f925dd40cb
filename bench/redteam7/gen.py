#!/usr/bin/env python3
"""Seventh red team: a held-out traffic scenario for Proviso's extraction monitor.

Written from docs/monitor.md, the [monitor] part of docs/configuration.md,
the README and tests/fixtures/README.md only (never the monitor's code, its
tests, or any earlier red team's families or results). Never scored by its
author. See README.md beside this file.

    python3 gen.py --out scenario.json [--seed N] [--stats] [--corpora PATH]

Standard library only, deterministic: each family draws from its own
random.Random seeded from SHA-256("<seed>|<family>").
"""
import argparse
import csv
import hashlib
import json
import math
import os
import random
import sys

START = 1767571200000  # Monday 2026-01-05 00:00 UTC
SEC, MIN, HOUR, DAY = 1000, 60000, 3600000, 86400000
END = START + 7 * DAY
MODEL = "gpt-4o-mini"


# --------------------------------------------------------------------------
# text helpers


def is_cjk(ch):
    o = ord(ch)
    return (0x3000 <= o <= 0x9FFF) or (0xAC00 <= o <= 0xD7AF) or (0xF900 <= o <= 0xFAFF) or (0xFF00 <= o <= 0xFFEF)


def tok(s):
    """Rough tokens of a text: an ASCII character a quarter, a CJK one a token."""
    n = 0.0
    for ch in s:
        if ord(ch) < 128:
            n += 0.25
        elif is_cjk(ch):
            n += 1.0
        else:
            n += len(ch.encode("utf-8")) / 4.0
    return int(math.ceil(n))


def msgs_tok(messages):
    n = 0
    for m in messages:
        c = m.get("content")
        if isinstance(c, str):
            n += tok(c) + 4
        if m.get("tool_calls"):
            n += 12
    return n


def sha_seed(seed, family):
    return int.from_bytes(hashlib.sha256(("%s|%s" % (seed, family)).encode()).digest()[:8], "big")


def cut(s, n):
    """At most n characters, cut at a sentence or line end if one is near."""
    if len(s) <= n:
        return s
    s = s[:n]
    for sep in ("\n\n", "\n", "。", ". ", "！", "? "):
        i = s.rfind(sep)
        if i > n * 0.6:
            return s[: i + len(sep)].rstrip()
    return s.rstrip()


# --------------------------------------------------------------------------
# corpora


class Corpora:
    def __init__(self, root):
        j = lambda p: json.load(open(os.path.join(root, p), encoding="utf-8"))
        self.eval = j("alpaca_eval/gpt4.json")
        self.eval_turbo = j("alpaca_eval/gpt-4-turbo-2024-04-09.json")
        self.en = j("llama_factory/alpaca_en_demo.json")
        self.zh = j("llama_factory/alpaca_zh_demo.json")
        self.dpo = j("llama_factory/dpo_zh_demo.json")
        self.c4 = [json.loads(l)["text"] for l in open(os.path.join(root, "llama_factory/c4_demo.jsonl"), encoding="utf-8") if l.strip()]
        self.wiki = [l for l in open(os.path.join(root, "llama_factory/wiki_demo.txt"), encoding="utf-8").read().split("\n") if len(l) > 1000]
        self.reviews = []
        for f in ("chinese_reviews/ChnSentiCorp_htl_all.csv", "chinese_reviews/waimai_10k.csv"):
            with open(os.path.join(root, f), encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    r = (row.get("review") or "").strip()
                    if 8 <= len(r) <= 400:
                        self.reviews.append(r)
        # empirical answer lengths of GPT-4-class answers (tokens, estimated)
        self.ans_len = sorted(tok(x["output"]) for x in self.eval + self.eval_turbo if x.get("output"))
        self.ans_len = [x for x in self.ans_len if x >= 20]
        # wiki passages of 1,200-3,000 characters, cut at paragraph/sentence ends
        self.passages = []
        for art in self.wiki:
            i = 0
            while i < len(art) - 1200 and len(self.passages) < 4000:
                p = cut(art[i : i + 2600], 2600)
                if len(p) < 900:
                    break
                self.passages.append(p)
                i += len(p)
        self.c4_long = [cut(d, 3000) for d in self.c4 if len(d) >= 900]
        self.c4_short = [cut(d, 900) for d in self.c4 if 200 <= len(d)]
        dpo_items = []
        for d in self.dpo:
            h = d["conversations"][0]["value"]
            dpo_items.append((h, d["chosen"]["value"]))
        self.dpo_items = dpo_items
        self._filler = "\n\n".join(self.c4)
        self._filler_zh = "\n\n".join(x[1] for x in dpo_items) + "\n\n" + "\n".join(self.reviews[:4000])

    def answer_len(self, rng, lo=20, hi=2000, scale=1.0):
        return max(lo, min(hi, int(rng.choice(self.ans_len) * scale)))

    def filler(self, rng, nchars, zh=False):
        src = self._filler_zh if zh else self._filler
        i = rng.randrange(0, len(src) - nchars - 1)
        return src[i : i + nchars]

    EN_VARIANTS = [
        "",
        " Please give a concrete example.",
        " Write it for a complete beginner.",
        " Use a numbered list where it helps.",
        " Be thorough and cover the edge cases.",
        " Aim for about 400 words.",
        " Include the main advantages and drawbacks.",
        " Answer as a seasoned practitioner would.",
        " Add a short summary at the end.",
    ]
    ZH_VARIANTS = [
        "",
        "请举一个具体的例子。",
        "请用通俗易懂的语言回答。",
        "请分点作答。",
        "请写大约五百字。",
        "请尽量全面。",
        "请在最后加一段总结。",
        "请以专业人士的口吻回答。",
        "请说明优点和缺点。",
    ]

    def pool(self, rng, lang):
        """Distinct instructions from a private pool (never AlpacaEval): each
        base instruction under several wordings, level by level, so that a
        slice k::N rarely holds one base twice. Items: (id, text, reference answer)."""
        if lang == "en":
            bases = [((x["instruction"] + ("\n\n" + x["input"] if x.get("input") else "")).strip(), x["output"]) for x in self.en]
            variants = self.EN_VARIANTS
        else:
            bases = [((x["instruction"] + ("\n\n" + x["input"] if x.get("input") else "")).strip(), x["output"]) for x in self.zh]
            bases += [(h, a) for h, a in self.dpo_items if len(h) <= 1500]
            variants = self.ZH_VARIANTS
        out = []
        for v, suffix in enumerate(variants):
            order = list(range(len(bases)))
            rng.shuffle(order)
            for b in order:
                text, ref = bases[b]
                out.append(("%s:%d:%d" % (lang, b, v), text + suffix, ref))
        return out


# --------------------------------------------------------------------------
# scenario builder


class Scenario:
    def __init__(self):
        self.keys = []
        self.reqs = []  # (t, key, seq, client, body, extraction, answer_tokens)
        self.stats = {}
        self.seq = 0
        self.names = set()

    def key(self, family, name, team, purpose, role, rpm=None):
        assert name not in self.names, name
        self.names.add(name)
        self.keys.append({"name": name, "team": team, "purpose": purpose, "workload": family, "role": role,
                          "requests_per_minute": rpm, "split": "held_out"})
        st = self.stats.setdefault(family, {"role": role, "keys": 0, "requests": 0, "long": 0, "inst": set(), "assembled": 0})
        st["keys"] += 1
        return len(self.keys) - 1

    def add(self, family, t, k, client, body, extraction, answer_tokens, inst=None):
        t = int(t)
        if t < START or t >= END:
            return False
        self.seq += 1
        self.reqs.append((t, k, self.seq, client, body, bool(extraction), int(max(1, answer_tokens))))
        st = self.stats[family]
        st["requests"] += 1
        if answer_tokens >= 100:
            st["long"] += 1
        if inst is not None:
            st["inst"].add(inst)
        return True

    def write(self, path):
        self.reqs.sort(key=lambda r: (r[0], r[1], r[2]))
        with open(path, "w", encoding="utf-8") as f:
            f.write('{"keys": [\n')
            f.write(",\n".join(json.dumps(k, ensure_ascii=False, sort_keys=True) for k in self.keys))
            f.write('\n],\n"requests": [\n')
            first = True
            for t, k, _s, client, body, ex, at in self.reqs:
                if not first:
                    f.write(",\n")
                first = False
                f.write(json.dumps({"t": t, "key": k, "client": client, "body": body, "extraction": ex, "answer_tokens": at},
                                   ensure_ascii=False, separators=(",", ":")))
            f.write("\n]}\n")


def chat(messages, **kw):
    b = {"model": MODEL, "messages": messages}
    b.update(kw)
    return b


def ipv4(rng):
    a = rng.choice([23, 31, 45, 62, 73, 81, 91, 98, 104, 109, 117, 138, 146, 152, 171, 176, 185, 188, 193, 203, 212, 217])
    return "%d.%d.%d.%d" % (a, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))


def ipv6(rng):
    return "2a0%d:%x:%x:%x::%x" % (rng.randrange(1, 10), rng.randrange(0x1000, 0xffff), rng.randrange(0xffff), rng.randrange(0xffff), rng.randrange(1, 0xffff))


def client_addr(rng, v6_share=0.25):
    return ipv6(rng) if rng.random() < v6_share else ipv4(rng)


def team_name(rng, prefix):
    return "%s-%s" % (prefix, "".join(rng.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(6)))


def hexid(rng, n=8):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


TZS = [-8, -7, -6, -5, -4, -3, 0, 1, 2, 3, 5.5, 7, 8, 9, 10]


def session_starts(rng, tz, per_day, hours=(8, 19), weekend_p=0.15, day_off_p=0.0, peaks=None):
    """Start times (ms) of sessions over the week, in local hours [a, b)."""
    out = []
    for d in range(7):
        weekend = d >= 5
        if weekend and rng.random() > weekend_p:
            continue
        if rng.random() < day_off_p:
            continue
        n = per_day(rng) if callable(per_day) else per_day
        if weekend:
            n = max(1, n // 2)
        for _ in range(n):
            if peaks:
                h = rng.choice(peaks) + rng.gauss(0, 1.0)
                h = min(hours[1] - 0.05, max(hours[0], h))
            else:
                h = rng.uniform(hours[0], hours[1])
            t = START + d * DAY + int((h - tz) * HOUR) + rng.randrange(60000)
            out.append(t)
    out.sort()
    return out


def think(rng, mean_s, tail=0.08, tail_s=900):
    """A bursty gap in ms: lognormal around mean_s, now and then a long pause."""
    if rng.random() < tail:
        return int(rng.expovariate(1.0 / tail_s) * SEC) + 30 * SEC
    return int(rng.lognormvariate(math.log(mean_s), 0.8) * SEC)


def gen_time(answer_tokens, rng):
    """Time to generate an answer (ms), as a client waiting on it sees."""
    return int((0.4 + answer_tokens / rng.uniform(55, 110)) * SEC)


# ==========================================================================
# EXTRACTION FAMILIES
# ==========================================================================


def fam_toolcall_replay(S, C, rng, fam="toolcall_replay", n_keys=16):
    """The model really calls get_task once per seed turn (forced, no
    arguments, so its call is always get_task({})); that real call is then
    replayed, each time with a different task in the tool's result. Every
    harvest request is a tool loop's step off a turn the key sent, holding
    an assistant turn the model really said."""
    pool = C.pool(rng, "en") + C.pool(rng, "zh")
    rng.shuffle(pool)
    tools = [{"type": "function", "function": {"name": "get_task", "description": "Fetch the next task from the user's work queue.",
                                               "parameters": {"type": "object", "properties": {}}}}]
    systems = [
        "You are Taskhand, an assistant that works through the user's queue. Call get_task to fetch the next item, then carry it out completely in your reply.",
        "You help the user clear their backlog. Use get_task to pull an item and then do the item properly and in full.",
        "Work assistant. Fetch work with the get_task tool; when a task comes back, complete it thoroughly and reply with the finished result only.",
    ]
    openers = ["Let's keep going.", "Next one, please.", "Picking up where I left off.", "Back at it.", "Ok, more of these.",
               "Continuing today's list.", "Let's do a few more.", "Morning!", "Carry on with the queue.", "One more round."]
    for k in range(n_keys):
        key = S.key(fam, "tcr-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "ws"), rng.choice(["research", "internal-tools", "development"]), "extraction")
        items = pool[k::n_keys]
        it = iter(items)
        tz = rng.choice(TZS)
        client = client_addr(rng)
        system = {"role": "system", "content": rng.choice(systems)}
        try:
            for s in session_starts(rng, tz, lambda r: r.randint(3, 5), hours=(8, 21), weekend_p=0.4):
                t = s
                for _ in range(rng.randint(4, 9)):
                    # a seed turn: an opener plus a line of the day's own notes, so seeds share no scaffold
                    note = C.filler(rng, rng.randint(140, 280))
                    note = note[note.find(" ") + 1 :].strip()
                    seed = "%s Notes: %s" % (rng.choice(openers), note)
                    seed_msgs = [system, {"role": "user", "content": seed}]
                    S.add(fam, t, key, client, chat(seed_msgs, tools=tools, tool_choice={"type": "function", "function": {"name": "get_task"}}),
                          True, rng.randint(9, 14))
                    t += int(rng.uniform(0.6, 1.6) * SEC) + think(rng, 6)
                    call_id = "call_" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))
                    asst = {"role": "assistant", "content": None,
                            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": "get_task", "arguments": "{}"}}]}
                    for _b in range(rng.randint(3, 4)):
                        iid, text, _ref = next(it)
                        res = json.dumps({"task_id": rng.randrange(10 ** 5, 10 ** 6), "task": text}, ensure_ascii=False)
                        ans = C.answer_len(rng, lo=120, hi=1400, scale=rng.uniform(0.9, 1.3))
                        S.add(fam, t, key, client, chat(seed_msgs + [asst, {"role": "tool", "tool_call_id": call_id, "content": res}], tools=tools),
                              True, ans, inst=iid)
                        t += gen_time(ans, rng) + think(rng, 25)
                    t += think(rng, 60, tail=0.2)
        except StopIteration:
            pass


def fam_branch_tree(S, C, rng, fam="branch_tree", n_keys=14):
    """Conversation trees: one self-contained root a session, then every
    other request a follow-up of a turn the key sent, carrying its real
    history, each sent turn followed up at most three times (a ternary
    tree, so a few hundred nodes are four or five levels deep). Each
    follow-up is a new, unrelated instruction."""
    pools = {"en": C.pool(rng, "en"), "zh": C.pool(rng, "zh")}
    per_lang = {"en": [], "zh": []}
    for k in range(n_keys):
        per_lang["zh" if k % 3 == 2 else "en"].append(k)
    slices = {}
    for lang, ks in per_lang.items():
        for j, k in enumerate(ks):
            slices[k] = pools[lang][j :: len(ks)]
    for k in range(n_keys):
        lang = "zh" if k % 3 == 2 else "en"
        key = S.key(fam, "tree-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "lab"), rng.choice(["research", "analytics", "internal"]), "extraction")
        it = iter(slices[k])
        tz = rng.choice(TZS)
        client = client_addr(rng)
        system = [{"role": "system", "content": "You are a helpful assistant." if lang == "en" else "你是一个乐于助人的助手。"}] if rng.random() < 0.5 else []
        try:
            for s in session_starts(rng, tz, lambda r: r.randint(2, 3), hours=(8, 20), weekend_p=0.3):
                t = s
                n = rng.randint(35, 90)
                nodes = []  # (messages up to and including the node's user turn, reference answer text)
                for i in range(n):
                    iid, text, ref = next(it)
                    user = {"role": "user", "content": text}
                    if i == 0:
                        msgs = system + [user]
                    else:
                        pm, pref = nodes[(i - 1) // 3]
                        msgs = pm + [{"role": "assistant", "content": pref}, user]
                    ans = C.answer_len(rng, lo=110, hi=1200, scale=rng.uniform(0.9, 1.2))
                    # the answer as it would come back (stand-in: the pool's reference answer, cut to the answer's size)
                    nodes.append((msgs, cut(ref, min(len(ref), ans * 4)) or ref))
                    S.add(fam, t, key, client, chat(msgs), True, ans, inst=iid)
                    t += gen_time(ans, rng) + think(rng, 30)
        except StopIteration:
            pass


def _relay(S, C, rng, fam, n_keys, lang, prefix):
    """Each instruction's answer in pieces under 100 tokens, each piece on a
    different key of the campaign (keys of different teams, addresses and
    hours): piece k is asked as the instruction plus the answer so far,
    written as the assistant's opening, cut at the key's max_tokens."""
    pool = C.pool(rng, lang)
    keys = []
    for k in range(n_keys):
        key = S.key(fam, "%s-%02d-%s" % (prefix, k, hexid(rng, 4)), team_name(rng, "t"), rng.choice(["research", "development", "content", "analytics"]), "extraction")
        keys.append({"key": key, "client": client_addr(rng), "mt": rng.randint(82, 97), "temp": rng.choice([None, 0.7, 1.0, 0.8])})
    st = S.stats[fam]
    # instructions start over the week at a daytime-weighted rhythm (UTC 05:00-23:00, lighter weekends)
    target = n_keys * 1150
    sent = 0
    idx = 0
    while sent < target and idx < len(pool):
        iid, text, ref = pool[idx]
        idx += 1
        d = rng.randrange(7)
        if d >= 5 and rng.random() < 0.6:
            d = rng.randrange(5)
        h = rng.choice([6, 8, 9, 10, 11, 13, 14, 15, 16, 17, 19, 21]) + rng.random() * 2
        t = START + d * DAY + int(h * HOUR) + rng.randrange(HOUR)
        full = C.answer_len(rng, lo=150, hi=1100, scale=rng.uniform(1.0, 1.4))
        standin = ref + "\n\n" + C.filler(rng, full * (1 if lang == "zh" else 4) + 200, zh=(lang == "zh"))
        order = list(range(n_keys))
        rng.shuffle(order)
        got = 0
        p = 0
        while got < full:
            kk = keys[order[p % n_keys]]
            part = min(kk["mt"], full - got)
            msgs = [{"role": "user", "content": text}]
            if got:
                so_far = standin[: got * (1 if lang == "zh" else 4)]
                msgs.append({"role": "assistant", "content": so_far})
            kw = {"max_tokens": kk["mt"]}
            if kk["temp"] is not None:
                kw["temperature"] = kk["temp"]
            if not S.add(fam, t, kk["key"], kk["client"], chat(msgs, **kw), True, part, inst=iid):
                break
            sent += 1
            got += part
            p += 1
            t += gen_time(part, rng) + think(rng, 90, tail=0.1, tail_s=1200)
        if got >= full and full >= 100:
            st["assembled"] += 1


def fam_paragraph_relay(S, C, rng):
    _relay(S, C, rng, "paragraph_relay", 14, "en", "relay")


def fam_relay_zh(S, C, rng):
    _relay(S, C, rng, "relay_zh", 10, "zh", "jieli")


def fam_fewshot_ballast(S, C, rng, fam="fewshot_ballast", n_keys=14):
    """Chinese instruction data, each request with two to four worked
    examples written as user and assistant turns before the question
    (other models' answers from the pool), so what the request asks is
    always more than half its answer."""
    pool = C.pool(rng, "zh")
    bank = [(h, a) for h, a in C.dpo_items if 60 <= len(a) <= 1100 and len(h) <= 600]
    bank += [(x["instruction"] + ("\n" + x["input"] if x.get("input") else ""), x["output"]) for x in C.zh if len(x["output"]) >= 120]
    systems = ["你是一个乐于助人的助手。", "你是一名知识渊博的中文助手，回答要准确、完整。", "请参照示例的风格回答用户的问题。", ""]
    for k in range(n_keys):
        key = S.key(fam, "fs-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "zh"), rng.choice(["research", "development", "localization"]), "extraction")
        it = iter(pool[k::n_keys])
        tz = rng.choice([8, 8, 8, 9, 7])
        client = client_addr(rng, 0.1)
        sysmsg = rng.choice(systems)
        try:
            for s in session_starts(rng, tz, lambda r: r.randint(3, 6), hours=(9, 23), weekend_p=0.5):
                t = s
                for _ in range(rng.randint(12, 30)):
                    iid, text, ref = next(it)
                    ans = C.answer_len(rng, lo=120, hi=1200, scale=rng.uniform(0.8, 1.2))
                    msgs = [{"role": "system", "content": sysmsg}] if sysmsg else []
                    ex_tok = 0
                    while True:
                        h, a = rng.choice(bank)
                        msgs += [{"role": "user", "content": h}, {"role": "assistant", "content": a}]
                        ex_tok += tok(h) + tok(a)
                        if len(msgs) >= 5 and ex_tok + tok(text) >= ans * 0.6:
                            break
                        if len(msgs) >= 9:
                            break
                    msgs.append({"role": "user", "content": text})
                    asked = ex_tok + tok(text)
                    ans = max(100, min(ans, int(asked * 1.7)))
                    S.add(fam, t, key, client, chat(msgs, temperature=rng.choice([0.7, 0.8, 1.0])), True, ans, inst=iid)
                    t += gen_time(ans, rng) + think(rng, 20)
        except StopIteration:
            pass


GROUNDED_TASKS = [
    "Using the text above, write a detailed study guide with headings, key terms and explanations.",
    "Turn the text above into a long-form explainer for a general audience, expanding on every idea it mentions.",
    "Write an essay that builds on the text above: its background, its main claims and why they matter.",
    "Rewrite the material above as a dialogue between a curious student and an expert who explains it in depth.",
    "Write a set of ten exam questions on the text above, each with a full model answer.",
    "Write a FAQ of eight questions a reader might ask after reading the text above, with thorough answers.",
    "Write a critical analysis of the text above: what it gets right, what it leaves out, and what a specialist would add.",
    "Based on the text above, write a lecture script of the kind a professor would deliver in a first-year course.",
    "Explain the text above to a high-school student, with analogies and worked examples.",
    "Write a blog post inspired by the text above, with an introduction, several sections and a conclusion.",
    "Summarise the text above, then write a detailed commentary on each of its main points.",
    "Write a timeline and a narrative account of the events and ideas in the text above.",
    "Create a lesson plan with objectives, activities and discussion questions from the text above.",
    "Write a persuasive piece arguing for the most important idea in the text above, and a reply arguing against it.",
]


def fam_grounded_rewrite(S, C, rng, fam="grounded_rewrite", n_keys=14):
    """A human passage pasted with a task asking for a long derived text; the
    answer is up to just under twice the passage, so it is never 'at
    length' against what the turn asked. Long-form grounded writing is what
    the harvest is after."""
    docs = C.passages + C.c4_long
    combos = [(d, tt) for d in range(len(docs)) for tt in range(len(GROUNDED_TASKS))]
    rng.shuffle(combos)
    for k in range(n_keys):
        key = S.key(fam, "grd-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "ed"), rng.choice(["content", "research", "education"]), "extraction")
        it = iter(combos[k::n_keys])
        tz = rng.choice(TZS)
        client = client_addr(rng)
        try:
            for s in session_starts(rng, tz, lambda r: r.randint(2, 4), hours=(8, 22), weekend_p=0.4):
                t = s
                for _ in range(rng.randint(10, 35)):
                    d, tt = next(it)
                    doc = docs[d]
                    if rng.random() < 0.5:
                        text = "%s\n\n%s" % (doc, GROUNDED_TASKS[tt])
                    else:
                        text = "%s\n\n---\n\n%s" % (GROUNDED_TASKS[tt].replace("the text above", "the text below").replace("the material above", "the material below"), doc)
                    asked = tok(text)
                    ans = max(120, min(int(asked * rng.uniform(0.8, 1.7)), 1500))
                    S.add(fam, t, key, client, chat([{"role": "user", "content": text}]), True, ans, inst="%d:%d" % (d, tt))
                    t += gen_time(ans, rng) + think(rng, 25)
        except StopIteration:
            pass


def fam_threaded_personas(S, C, rng, fam="threaded_personas", n_keys=42):
    """Thirty-six keys, each its own team, address and time zone, each at a
    person's pace and days: sessions that are one long chat (each turn a new
    unrelated instruction, the real history sent back), so only a session's
    first turn is self-contained."""
    pools = {"en": C.pool(rng, "en"), "zh": C.pool(rng, "zh")}
    langs = ["zh" if rng.random() < 0.25 else "en" for _ in range(n_keys)]
    by = {"en": [k for k in range(n_keys) if langs[k] == "en"], "zh": [k for k in range(n_keys) if langs[k] == "zh"]}
    for k in range(n_keys):
        lang = langs[k]
        ks = by[lang]
        it = iter(pools[lang][ks.index(k) :: len(ks)])
        key = S.key(fam, "%s.%s" % (rng.choice(["alex", "sam", "kim", "lee", "mo", "jo", "ri", "wen", "li", "ana", "max", "eva"]), hexid(rng, 5)),
                    team_name(rng, "p"), rng.choice(["personal", "internal", "research", "writing"]), "extraction")
        tz = rng.choice(TZS)
        client = client_addr(rng)
        hours = rng.choice([(8, 18), (9, 19), (10, 23), (7, 16), (13, 23)])
        try:
            for s in session_starts(rng, tz, lambda r: r.randint(2, 4), hours=hours, weekend_p=0.45, day_off_p=0.15):
                t = s
                msgs = [{"role": "system", "content": "You are a helpful assistant."}] if rng.random() < 0.3 else []
                for _ in range(rng.randint(5, 14)):
                    iid, text, ref = next(it)
                    msgs = msgs + [{"role": "user", "content": text}]
                    ans = C.answer_len(rng, lo=110, hi=1200)
                    S.add(fam, t, key, client, chat(list(msgs)), True, ans, inst=iid)
                    msgs = msgs + [{"role": "assistant", "content": cut(ref, min(len(ref), 900))}]
                    t += gen_time(ans, rng) + think(rng, 70, tail=0.1)
        except StopIteration:
            pass


def fam_product_shadow(S, C, rng, fam="product_shadow", n_keys=10):
    """A real writing-assistant product (declared `product`, approved) whose
    operator also harvests through its own key, under invented end-user ids
    that look like its real ones, each invented user asking a few questions
    in a session at a plausible hour."""
    pool = C.pool(rng, "en")
    rng.shuffle(pool)
    tasks = ["Make this more concise:", "Fix the grammar and tone of this paragraph:", "Rewrite this to sound more professional:",
             "Turn this into three bullet points:", "Suggest a better title for this text:", "Rewrite this paragraph for a younger audience:"]
    for k in range(n_keys):
        key = S.key(fam, "app-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "app"), "product", "extraction")
        it = iter(pool[k::n_keys])
        clients = [client_addr(rng, 0.3) for _ in range(3)]
        real_users = ["u_" + hexid(rng, 10) for _ in range(rng.randint(120, 300))]
        # genuine traffic: users across time zones, short rewrites of their own text
        for u in real_users:
            tz = rng.choice(TZS)
            for s in session_starts(rng, tz, lambda r: 1 if r.random() < 0.35 else 0, hours=(7, 23), weekend_p=0.5):
                t = s
                for _ in range(rng.randint(1, 4)):
                    para = cut(rng.choice(C.c4_short), rng.randint(200, 900))
                    text = "%s\n\n%s" % (rng.choice(tasks), para)
                    ans = max(8, int(tok(para) * rng.uniform(0.3, 1.1)))
                    S.add(fam, t, key, rng.choice(clients), chat([{"role": "system", "content": "You are Quillmate, a writing assistant."}, {"role": "user", "content": text}], user=u),
                          False, ans, inst=None)
                    t += gen_time(ans, rng) + think(rng, 50)
        # the harvest: invented users, 3-12 questions each, about 80 a day
        for d in range(7):
            n_inv = rng.randint(8, 14) if d < 5 else rng.randint(3, 7)
            for _ in range(n_inv):
                u = "u_" + hexid(rng, 10)
                tz = rng.choice(TZS)
                t = START + d * DAY + int((rng.uniform(8, 22) - tz) * HOUR)
                for _q in range(rng.randint(3, 10)):
                    iid, text, _ref = next(it)
                    ans = C.answer_len(rng, lo=110, hi=1200)
                    S.add(fam, t, key, rng.choice(clients), chat([{"role": "system", "content": "You are Quillmate, a writing assistant."}, {"role": "user", "content": text}], user=u),
                          True, ans, inst=iid)
                    t += gen_time(ans, rng) + think(rng, 45)


DRAFT_FRAMES = [
    "Here is a draft answer to the question below. Rewrite it into a complete, accurate and well-organised answer, fixing anything wrong and expanding where it is thin.\n\nQuestion: {q}\n\nDraft:\n{d}",
    "Question: {q}\n\nMy colleague wrote this answer:\n{d}\n\nCan you improve it? Keep what is right, correct what is not, and make it fuller.",
    "{q}\n\nI already have this, but it is not good enough:\n\n{d}\n\nPlease produce a better version.",
    "Improve the following answer.\n\nQ: {q}\nA: {d}",
    "问题：{q}\n\n草稿：\n{d}\n\n请在草稿的基础上改写出一个更完整、更准确的回答。",
]


def fam_draft_upgrade(S, C, rng, fam="draft_upgrade", n_keys=14):
    """A weaker model's answer pasted with its question and a request to
    rewrite it better: the rewrite is the harvest (the draft is discarded),
    and it is under twice what the turn asked."""
    items = [("en:%d" % i, (x["instruction"] + ("\n" + x["input"] if x.get("input") else "")), x["output"]) for i, x in enumerate(C.en) if len(x["output"]) >= 120]
    items += [("zh:%d" % i, (x["instruction"] + ("\n" + x["input"] if x.get("input") else "")), x["output"]) for i, x in enumerate(C.zh) if len(x["output"]) >= 60]
    items += [("dpo:%d" % i, h, d["rejected"]["value"]) for i, (h, d) in enumerate(zip([x[0] for x in C.dpo_items], C.dpo)) if len(h) <= 1500]
    combos = [(i, 4 if items[i][0][:2] in ("zh", "dp") else rng.randrange(4)) for i in range(len(items))]
    rng.shuffle(combos)
    for k in range(n_keys):
        key = S.key(fam, "drf-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "q"), rng.choice(["quality", "research", "content"]), "extraction")
        it = iter(combos[k::n_keys])
        tz = rng.choice(TZS)
        client = client_addr(rng)
        try:
            for s in session_starts(rng, tz, lambda r: r.randint(2, 4), hours=(8, 21), weekend_p=0.3):
                t = s
                for _ in range(rng.randint(12, 30)):
                    while True:
                        i, f = next(it)
                        iid, q, d = items[i]
                        zh = iid.startswith("zh")
                        if (f == 4) == zh:
                            break
                    text = DRAFT_FRAMES[f].format(q=q, d=d)
                    asked = tok(text)
                    ans = max(100, min(int(asked * rng.uniform(1.1, 1.7)), 1200))
                    S.add(fam, t, key, client, chat([{"role": "user", "content": text}]), True, ans, inst=iid)
                    t += gen_time(ans, rng) + think(rng, 20)
        except StopIteration:
            pass


EXTRACTION = [
    ("toolcall_replay", fam_toolcall_replay),
    ("branch_tree", fam_branch_tree),
    ("paragraph_relay", fam_paragraph_relay),
    ("relay_zh", fam_relay_zh),
    ("fewshot_ballast", fam_fewshot_ballast),
    ("grounded_rewrite", fam_grounded_rewrite),
    ("threaded_personas", fam_threaded_personas),
    ("product_shadow", fam_product_shadow),
    ("draft_upgrade", fam_draft_upgrade),
]


# ==========================================================================
# BENIGN FAMILIES
# ==========================================================================

FIRST_NAMES = ["Mia", "Leo", "Ava", "Noah", "Zoe", "Omar", "Ines", "Kai", "Lena", "Ravi", "Yuki", "Chen", "Sofia", "Theo", "Amara", "Jonas",
               "Priya", "Mateo", "Hana", "Elif", "Luca", "Nora", "Sami", "Ivy", "Felix", "Aria", "Tomás", "Wei", "Maya", "Ezra"]


def support_system(rng, company):
    lines = [
        "You draft replies for %s's customer support agents." % company,
        "Be warm, concise and specific; never promise refunds beyond the policy: full refund within 30 days, store credit after.",
        "Shipping: standard 3-5 business days, express 1-2. Lost parcels are re-sent after a carrier trace (48 hours).",
        "Escalate to a supervisor when the customer mentions legal action, a chargeback, or a safety issue.",
        "Sign off with the agent's first name. Do not invent order numbers. If information is missing, ask for it in one sentence.",
        "Tone: plain language, no exclamation marks, no emojis. Reply in the customer's language.",
    ]
    return " ".join(lines)


def fam_support_copilot(S, C, rng, fam="support_copilot", n_keys=20):
    """Help desks drafting replies to tickets; agents named in `user`; a long
    fixed policy preamble; the ticket pasted; replies often longer than
    short tickets."""
    for k in range(n_keys):
        company = rng.choice(["Brightcart", "Nordlamp", "Kettlecraft", "Parcelwise", "Lumio", "Homely", "Tidewear", "Velocity Bikes"]) + " " + str(k)
        key = S.key(fam, "support-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "cx"), "product", "benign", rpm=120)
        tz = rng.choice(TZS)
        clients = [ipv4(rng)]
        zh = rng.random() < 0.3
        system = support_system(rng, company)
        agents = ["agent-" + hexid(rng, 6) for _ in range(rng.randint(4, 20))]
        for a in agents:
            for s in session_starts(rng, tz, lambda r: r.randint(1, 3), hours=(8, 18), weekend_p=0.3, day_off_p=0.2):
                t = s
                for _ in range(rng.randint(2, 10)):
                    body_text = rng.choice(C.reviews) if zh else cut(rng.choice(C.c4_short), rng.randint(120, 700))
                    text = "Ticket #%d from %s\n\n%s\n\nDraft a reply." % (rng.randrange(10000, 99999), rng.choice(FIRST_NAMES), body_text)
                    ans = rng.randint(90, 260)
                    S.add(fam, t, key, clients[0], chat([{"role": "system", "content": system}, {"role": "user", "content": text}], user=a, temperature=0.4),
                          False, ans, inst=text)
                    t += gen_time(ans, rng) + think(rng, 150)


def fam_homework_helper(S, C, rng, fam="homework_helper", n_keys=15):
    """A tutoring app for secondary-school students: a fixed tutor prompt that
    asks for step-by-step explanations, students named in `user`, after-school
    hours, some follow-ups ('I don't get step 2')."""
    followups = ["I don't get the second part, can you explain it differently?", "Can you give me another example like this?",
                 "Is there a shorter way to do this?", "Why is that the answer?", "我还是不太明白，能再解释一下吗？"]
    for k in range(n_keys):
        key = S.key(fam, "tutor-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "edu"), "product", "benign", rpm=300)
        zh = rng.random() < 0.3
        tz = rng.choice([8, 8, 9]) if zh else rng.choice(TZS)
        clients = [client_addr(rng, 0.3) for _ in range(2)]
        system = "你是一位耐心的中学辅导老师。请一步一步地讲解解题思路，然后给出答案。" if zh else \
            "You are a patient tutor for secondary-school students. Explain how to solve the problem step by step, then give the final answer."
        qs_en = [x["instruction"] + ("\n" + x["input"] if x.get("input") else "") for x in C.en] + [x["instruction"] for x in C.eval]
        qs_zh = [x["instruction"] + ("\n" + x["input"] if x.get("input") else "") for x in C.zh]
        for _u in range(rng.randint(60, 220)):
            u = "stu_" + hexid(rng, 8)
            for s in session_starts(rng, tz, lambda r: 1 if r.random() < 0.4 else 0, hours=(15, 22), weekend_p=0.6):
                t = s
                msgs = [{"role": "system", "content": system}]
                for q in range(rng.randint(1, 5)):
                    if q and rng.random() < 0.3 and len(msgs) > 1:
                        msgs = msgs + [{"role": "user", "content": rng.choice(followups)}]
                    else:
                        msgs = [{"role": "system", "content": system}, {"role": "user", "content": rng.choice(qs_zh if zh else qs_en)}]
                    ans = C.answer_len(rng, lo=80, hi=900)
                    S.add(fam, t, key, rng.choice(clients), chat(list(msgs), user=u), False, ans, inst=msgs[-1]["content"])
                    msgs = msgs + [{"role": "assistant", "content": C.filler(rng, min(2400, ans * (1 if zh else 4)), zh=zh)}]
                    t += gen_time(ans, rng) + think(rng, 120)


ADJ = ["Compact", "Ergonomic", "Waterproof", "Cordless", "Organic", "Foldable", "Stainless", "Vintage", "Smart", "Lightweight", "Heavy-duty", "Recycled"]
NOUN = ["desk lamp", "water bottle", "backpack", "blender", "yoga mat", "rain jacket", "kettle", "office chair", "bike light", "plant pot",
        "headphones", "cutting board", "tent", "sneakers", "coffee grinder", "wall clock", "phone stand", "duvet cover", "toolbox", "baby monitor"]
FEATURES = ["USB-C charging", "10-year warranty", "BPA-free", "machine washable", "dishwasher safe", "weighs 320 g", "three colour options",
            "made in Portugal", "2-hour battery", "adjustable height", "non-slip base", "recyclable packaging", "1.7 L capacity", "IPX6 rated",
            "memory foam", "solid oak", "magnetic mount", "quiet motor", "fits 15-inch laptops", "UV-resistant"]


def fam_catalog_copy(S, C, rng, fam="catalog_copy", n_keys=15):
    """E-commerce shops writing descriptions for the day's new products in a
    nightly job: one template, every product new, long answers, machine pace."""
    for k in range(n_keys):
        key = S.key(fam, "catalog-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "shop"), rng.choice(["content", "product"]), "benign", rpm=60)
        tz = rng.choice(TZS)
        client = ipv4(rng)
        brand = rng.choice(["Oakfield", "Lumen & Co", "Northpeak", "Casa Verde", "Urbanist", "Kiko", "Fjell"])
        style = rng.choice(["playful", "premium", "practical", "eco-conscious"])
        for d in range(7):
            n = rng.randint(40, 260) if d < 5 else rng.randint(0, 60)
            t = START + d * DAY + int((rng.uniform(1, 3) - tz) * HOUR)
            for _ in range(n):
                feats = rng.sample(FEATURES, rng.randint(3, 6))
                name = "%s %s %s" % (brand, rng.choice(ADJ), rng.choice(NOUN))
                text = ("Write a %s product description for our online shop.\nProduct: %s\nSKU: %s-%d\nFeatures:\n%s\n"
                        "Length: about 150 words, then a bullet list of the features.") % (style, name, brand[:3].upper(), rng.randrange(10000, 99999),
                                                                                           "\n".join("- " + f for f in feats))
                ans = rng.randint(170, 330)
                S.add(fam, t, key, client, chat([{"role": "user", "content": text}], temperature=0.7, max_tokens=600), False, ans, inst=text)
                t += gen_time(ans, rng) + int(rng.uniform(0.5, 2.5) * SEC)


def fam_eval_harness(S, C, rng, fam="eval_harness", n_keys=10):
    """Teams evaluating candidate system prompts on AlpacaEval (declared
    `evaluation`): a few nightly runs, four parallel workers, and a judge
    pass reading logprobs of a one-letter verdict."""
    for k in range(n_keys):
        key = S.key(fam, "eval-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "ml"), "evaluation", "benign", rpm=600)
        client = ipv4(rng)
        tz = rng.choice(TZS)
        variants = ["You are a helpful assistant.", "You are a concise, friendly assistant for %s." % rng.choice(["a bank", "an airline", "a school", "a retailer"]),
                    "You are a helpful assistant. Answer accurately; say when you are unsure.", ""]
        nruns = rng.randint(2, 3)
        days = sorted(rng.sample(range(6), nruns))
        for r, d in enumerate(days):
            size = rng.choice([805, 400, 250])
            items = C.eval[:size]
            sysp = variants[r % len(variants)]
            t0 = START + d * DAY + int((rng.uniform(0, 3) - tz) * HOUR) + HOUR * 24 * 0
            workers = [t0 + rng.randrange(2000) for _ in range(4)]
            for i, x in enumerate(items):
                w = i % 4
                ans = max(20, tok(x["output"]) + rng.randint(-30, 30))
                msgs = ([{"role": "system", "content": sysp}] if sysp else []) + [{"role": "user", "content": x["instruction"]}]
                S.add(fam, workers[w], key, client, chat(msgs, temperature=0, max_tokens=2048), False, ans, inst=sysp + x["instruction"])
                workers[w] += gen_time(ans, rng) + rng.randrange(50, 400)
            if rng.random() < 0.6:
                tj = max(workers) + 5 * MIN
                for i, x in enumerate(items):
                    other = C.eval_turbo[i]["output"]
                    jp = ("Which response better follows the instruction? Answer with A or B only.\n\nInstruction: %s\n\n[A]\n%s\n\n[B]\n%s"
                          % (x["instruction"], cut(x["output"], 1800), cut(other, 1800)))
                    S.add(fam, tj, key, client, chat([{"role": "user", "content": jp}], temperature=0, max_tokens=1, logprobs=True, top_logprobs=5),
                          False, 1, inst=jp)
                    tj += rng.randrange(300, 1500)


def fam_sampling_study(S, C, rng, fam="sampling_study", n_keys=8):
    """An NLP lab measuring output diversity and calibration: the same 100-200
    prompts sampled at four temperatures, several seeds, with logprobs on
    some keys; two or three working days."""
    for k in range(n_keys):
        key = S.key(fam, "diversity-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "uni"), "research", "benign", rpm=60)
        client = ipv4(rng)
        tz = rng.choice(TZS)
        prompts = rng.sample([x["instruction"] for x in C.en if not x.get("input")], rng.randint(100, 200))
        lp = k % 2 == 0
        temps = [0.2, 0.7, 1.0, 1.3]
        days = sorted(rng.sample(range(5), 2))
        jobs = [(p, tt, sd) for p in prompts for tt in temps for sd in range(2)]
        per_day = (len(jobs) + 1) // 2
        for di, d in enumerate(days):
            t = START + d * DAY + int((rng.uniform(9, 11) - tz) * HOUR)
            for p, tt, sd in jobs[di * per_day : (di + 1) * per_day]:
                ans = C.answer_len(rng, lo=40, hi=900)
                kw = {"temperature": tt, "seed": sd}
                if lp:
                    kw.update(logprobs=True, top_logprobs=5)
                S.add(fam, t, key, client, chat([{"role": "user", "content": p}], **kw), False, ans, inst=p)
                t += gen_time(ans, rng) + rng.randrange(200, 3000)


def _people(S, C, rng, fam, n_keys, offices=None, power_share=0.15):
    """People at work asking a model: sessions of questions, pasted text to
    summarise or rewrite, follow-ups; power users ask many more."""
    qs_en = [x["instruction"] + ("\n\n" + x["input"] if x.get("input") else "") for x in C.en] + [x["instruction"] for x in C.eval]
    qs_zh = [x["instruction"] + ("\n" + x["input"] if x.get("input") else "") for x in C.zh]
    follow = ["Can you make it shorter?", "Thanks. And what about the opposite case?", "Give me two more options.", "Can you explain the last point?",
              "Make it more formal.", "换一种说法？", "OK, and how would I do that in practice?"]
    companies = [(team_name(rng, "co"), rng.choice(TZS)) for _ in range(10)]
    for k in range(n_keys):
        team, tz = rng.choice(companies)
        key = S.key(fam, "%s-%s" % (fam, hexid(rng, 6)), team, rng.choice(["internal", "personal", "productivity"]), "benign", rpm=60)
        client = rng.choice(offices) if offices else client_addr(rng)
        zh = rng.random() < 0.2
        power = rng.random() < power_share
        per_day = (lambda r: r.randint(3, 7)) if power else (lambda r: r.randint(1, 4))
        for s in session_starts(rng, tz + rng.choice([0, 0, 0, 1, -1]), per_day, hours=(8, 19), weekend_p=0.1, day_off_p=0.1):
            t = s
            msgs = []
            for q in range(rng.randint(1, 12 if power else 6)):
                r = rng.random()
                if q and r < 0.25 and msgs:
                    msgs = msgs + [{"role": "user", "content": rng.choice(follow)}]
                    ans = rng.randint(40, 400)
                elif r < 0.45:
                    doc = cut(rng.choice(C.c4_long + C.passages), rng.randint(800, 2600))
                    msgs = [{"role": "user", "content": rng.choice(["Summarise this:\n\n", "What are the key points here?\n\n", "TL;DR please:\n\n"]) + doc}]
                    ans = max(40, int(tok(doc) * rng.uniform(0.15, 0.5)))
                else:
                    msgs = [{"role": "user", "content": rng.choice(qs_zh if zh else qs_en)}]
                    ans = C.answer_len(rng, lo=30, hi=1200)
                S.add(fam, t, key, client, chat(list(msgs)), False, ans, inst=msgs[-1]["content"])
                msgs = msgs + [{"role": "assistant", "content": C.filler(rng, min(2000, ans * 4))}]
                t += gen_time(ans, rng) + think(rng, 90, tail=0.15)


def fam_knowledge_workers(S, C, rng):
    _people(S, C, rng, "knowledge_workers", 70)


def fam_office_nat(S, C, rng):
    offices = [ipv4(rng), ipv4(rng), ipv6(rng)]
    _people(S, C, rng, "office_nat", 36, offices=offices, power_share=0.1)


RAG_Q = ["What does this say about {w}?", "How does {w} work, according to the docs?", "Summarise what we know about {w}.",
         "Is there anything in here about {w}?", "Explain {w} using these sources.", "{w}：资料里是怎么说的？"]


def fam_rag_docs(S, C, rng, fam="rag_docs", n_keys=20):
    """An internal knowledge-base assistant: a fixed system prompt, three
    retrieved passages and an employee's question; employees named in
    `user`; offices in several time zones."""
    for k in range(n_keys):
        key = S.key(fam, "kb-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "kb"), "product", "benign", rpm=200)
        clients = [ipv4(rng) for _ in range(2)]
        system = "Answer the employee's question using only the sources provided. Cite sources as [1], [2], [3]. If the sources do not answer it, say so."
        users = ["emp" + hexid(rng, 6) for _ in range(rng.randint(60, 250))]
        tzs = [rng.choice(TZS) for _ in range(3)]
        for u in users:
            tz = rng.choice(tzs)
            for s in session_starts(rng, tz, lambda r: 1 if r.random() < 0.45 else 0, hours=(8, 18), weekend_p=0.05):
                t = s
                for _ in range(rng.randint(1, 3)):
                    ps = [cut(rng.choice(C.passages), rng.randint(350, 700)) for _ in range(3)]
                    words = [w for w in ps[0].split() if len(w) > 6 and w.isalpha()]
                    w = rng.choice(words).lower() if words else "this"
                    q = rng.choice(RAG_Q).format(w=w)
                    text = "Sources:\n" + "\n\n".join("[%d] %s" % (i + 1, p) for i, p in enumerate(ps)) + "\n\nQuestion: " + q
                    ans = rng.randint(60, 320)
                    S.add(fam, t, key, rng.choice(clients), chat([{"role": "system", "content": system}, {"role": "user", "content": text}], user=u, temperature=0.2),
                          False, ans, inst=text)
                    t += gen_time(ans, rng) + think(rng, 60)


def fam_localization(S, C, rng, fam="localization", n_keys=15):
    """Localisation teams translating help-centre pages and UI strings, and
    Chinese reviews into English, in batches during the working day."""
    langs = ["Simplified Chinese", "German", "Spanish", "Japanese", "French", "Brazilian Portuguese"]
    for k in range(n_keys):
        key = S.key(fam, "l10n-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "loc"), "localization", "benign", rpm=120)
        client = ipv4(rng)
        tz = rng.choice(TZS)
        target = rng.choice(langs)
        for s in session_starts(rng, tz, lambda r: r.randint(1, 3), hours=(9, 18), weekend_p=0.0):
            t = s
            for _ in range(rng.randint(20, 90)):
                r = rng.random()
                if r < 0.25:
                    src = rng.choice(C.reviews)
                    text = "Translate this customer review into English. Keep the tone.\n\n" + src
                    ans = max(5, int(tok(src) * rng.uniform(0.7, 1.2)))
                else:
                    src = cut(rng.choice(C.c4_short + C.passages), rng.randint(60, 1500))
                    text = "Translate into %s. Keep formatting and product names unchanged.\n\n%s" % (target, src)
                    f = (1.1, 1.7) if target in ("Simplified Chinese", "Japanese") else (1.0, 1.35)
                    ans = max(5, int(tok(src) * rng.uniform(*f)))
                S.add(fam, t, key, client, chat([{"role": "user", "content": text}], temperature=0), False, ans, inst=text)
                t += gen_time(ans, rng) + think(rng, 6, tail=0.03)


AGENT_TASKS = ["Fix the failing test in the billing module.", "Add pagination to the orders endpoint.", "Why does the nightly export job time out?",
               "Refactor the config loader so it reads environment variables.", "Write a migration that adds an index on users.email.",
               "Update the README with the new deployment steps.", "Find where we parse dates and make it timezone-aware.",
               "The search page is slow; find the cause.", "Add retries with backoff to the webhook sender.", "Remove the deprecated v1 client."]
AGENT_TOOLS = [{"type": "function", "function": {"name": n, "description": d, "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}
               for n, d in [("read_file", "Read a file of the repository."), ("search_code", "Search the repository."), ("run_tests", "Run the test suite or one test file."),
                            ("write_file", "Write a file.")]]


def fam_coding_agent(S, C, rng, fam="coding_agent", n_keys=15):
    """A coding agent in developers' editors: real tool loops (the model's own
    calls sent back with their results), several steps a task, a long final
    report."""
    for k in range(n_keys):
        key = S.key(fam, "agent-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "eng"), "development", "benign", rpm=120)
        client = client_addr(rng)
        tz = rng.choice(TZS)
        system = "You are a coding agent working in the user's repository. Use the tools; make minimal, safe changes; finish with a short report."
        for s in session_starts(rng, tz, lambda r: r.randint(2, 6), hours=(9, 19), weekend_p=0.1):
            t = s
            msgs = [{"role": "system", "content": system}, {"role": "user", "content": rng.choice(AGENT_TASKS) + " " + cut(C.filler(rng, 300), 200)}]
            steps = rng.randint(3, 9)
            for st in range(steps):
                last = st == steps - 1
                ans = rng.randint(150, 600) if last else rng.randint(18, 70)
                S.add(fam, t, key, client, chat(list(msgs), tools=AGENT_TOOLS), False, ans, inst=msgs[1]["content"] if st == 0 else None)
                t += gen_time(ans, rng) + rng.randrange(300, 4000)
                if not last:
                    cid = "call_" + hexid(rng, 20)
                    name = rng.choice(["read_file", "search_code", "run_tests"])
                    msgs = msgs + [{"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps({"path": "src/%s.py" % rng.choice(["billing", "orders", "export", "config", "search"])})}}]},
                                   {"role": "tool", "tool_call_id": cid, "content": C.filler(rng, rng.randint(200, 900))}]
                    t += rng.randrange(200, 3000)


STORY_ANIMALS = ["a shy dragon", "a lost penguin", "a clever fox", "a tiny robot", "a sleepy bear", "a brave snail", "an owl who can't fly", "a unicorn", "a kitten"]
STORY_PLACES = ["under the sea", "on the moon", "in a snowy forest", "in grandma's garden", "in a castle made of books", "at the seaside", "in a busy city"]
STORY_PLOTS = ["learns to share", "finds their way home", "makes a new friend", "is scared of the dark", "plans a surprise party", "loses a tooth", "goes to school for the first time"]


def fam_story_app(S, C, rng, fam="story_app", n_keys=12):
    """A bedtime-story app: parents (named in `user`) fill a form, the app
    fills one template, long stories in the evening; sometimes 'what happens
    next?' with the story sent back."""
    for k in range(n_keys):
        key = S.key(fam, "stories-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "kids"), "product", "benign", rpm=300)
        clients = [client_addr(rng, 0.4) for _ in range(2)]
        region_tz = rng.choice([[-5, -6, -8], [0, 1, 2], [8, 9, 10]])
        for _u in range(rng.randint(120, 380)):
            u = "acct_" + hexid(rng, 9)
            tz = rng.choice(region_tz)
            child = rng.choice(FIRST_NAMES)
            age = rng.randint(3, 9)
            for s in session_starts(rng, tz, lambda r: 1 if r.random() < 0.45 else 0, hours=(18.5, 21), weekend_p=0.8):
                t = s
                text = "Write a bedtime story for %s, age %d, about %s who %s %s. Keep it gentle and about %d words." % (
                    child, age, rng.choice(STORY_ANIMALS), rng.choice(STORY_PLOTS), rng.choice(STORY_PLACES), rng.choice([300, 400, 500, 600]))
                msgs = [{"role": "system", "content": "You write calm, kind bedtime stories for young children. No scary content."}, {"role": "user", "content": text}]
                ans = rng.randint(350, 850)
                S.add(fam, t, key, rng.choice(clients), chat(list(msgs), user=u, temperature=0.9), False, ans, inst=text)
                if rng.random() < 0.2:
                    t += gen_time(ans, rng) + think(rng, 240)
                    msgs = msgs + [{"role": "assistant", "content": C.filler(rng, ans * 4)}, {"role": "user", "content": "What happens next?"}]
                    ans = rng.randint(300, 700)
                    S.add(fam, t, key, rng.choice(clients), chat(msgs, user=u, temperature=0.9), False, ans, inst=None)


LESSON_TOPICS = ["photosynthesis", "fractions", "the water cycle", "the French Revolution", "plate tectonics", "persuasive writing", "probability",
                 "the human heart", "climate and weather", "Shakespeare's sonnets", "the Cold War", "simple machines", "ecosystems", "linear equations",
                 "poetry and metaphor", "the solar system", "ancient Rome", "electric circuits", "supply and demand", "the periodic table"]


def fam_lms_quizzes(S, C, rng, fam="lms_quizzes", n_keys=15):
    """A school learning platform: teachers (named) make quizzes from a pasted
    reading, and lesson plans from a short form."""
    for k in range(n_keys):
        key = S.key(fam, "lms-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "school"), "product", "benign", rpm=120)
        client = ipv4(rng)
        tz = rng.choice(TZS)
        teachers = ["t_" + hexid(rng, 6) for _ in range(rng.randint(15, 70))]
        for u in teachers:
            for s in session_starts(rng, tz, lambda r: 1 if r.random() < 0.35 else 0, hours=(7, 17), weekend_p=0.2):
                t = s
                for _ in range(rng.randint(1, 4)):
                    if rng.random() < 0.6:
                        p = rng.choice(C.passages)
                        text = "Create %d multiple-choice questions with four options each and mark the correct answer, based on this reading:\n\n%s" % (rng.choice([5, 8, 10]), p)
                        ans = max(150, int(tok(p) * rng.uniform(0.4, 0.9)))
                    else:
                        text = "Write a %d-minute lesson plan for grade %d on %s, with learning objectives, activities, and an assessment." % (
                            rng.choice([40, 45, 50, 60]), rng.randint(4, 12), rng.choice(LESSON_TOPICS))
                        ans = rng.randint(450, 950)
                    S.add(fam, t, key, client, chat([{"role": "user", "content": text}], user=u), False, ans, inst=text)
                    t += gen_time(ans, rng) + think(rng, 200)


ENTITIES = [("customer", "id, name, email, country, signup_date, plan"), ("order", "id, customer_id, items, total, currency, status, created_at"),
            ("invoice", "number, issue_date, due_date, lines, tax, total"), ("support ticket", "id, subject, body, priority, tags"),
            ("address", "street, city, postcode, country, is_billing"), ("product", "sku, name, price, stock, category"),
            ("employee", "id, name, department, manager_id, start_date, salary_band"), ("flight booking", "pnr, passengers, segments, fare_class")]


def fam_fixture_data(S, C, rng, fam="fixture_data", n_keys=10):
    """QA teams generating fake records for test fixtures: JSON arrays of
    varied entities, in CI at night and by developers by day."""
    for k in range(n_keys):
        key = S.key(fam, "fixtures-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "qa"), "development", "benign", rpm=60)
        client = ipv4(rng)
        tz = rng.choice(TZS)
        for d in range(7):
            runs = []
            if d < 5:
                runs.append((START + d * DAY + int((2 - tz) * HOUR), rng.randint(15, 40), True))
                for _ in range(rng.randint(0, 3)):
                    runs.append((START + d * DAY + int((rng.uniform(10, 17) - tz) * HOUR), rng.randint(2, 8), False))
            for t, n, ci in runs:
                for _ in range(n):
                    ent, fields = rng.choice(ENTITIES)
                    cnt = rng.choice([10, 20, 25, 30, 40])
                    text = "Generate %d realistic %s records as a JSON object with a \"records\" array. Fields: %s. Vary %s; include a few edge cases (%s)." % (
                        cnt, ent, fields, rng.choice(["countries and currencies", "lengths of names", "dates across years", "statuses"]),
                        rng.choice(["empty optional fields", "non-ASCII names", "very long values", "leap-day dates"]))
                    ans = min(4000, cnt * rng.randint(25, 45))
                    S.add(fam, t, key, client, chat([{"role": "user", "content": text}], response_format={"type": "json_object"}, temperature=0.9),
                          False, ans, inst=text)
                    t += gen_time(ans, rng) + (rng.randrange(200, 1500) if ci else think(rng, 60))


def fam_review_moderation(S, C, rng, fam="review_moderation", n_keys=10):
    """A delivery and hotel platform labelling Chinese reviews as they arrive:
    a one-word label with its probabilities, around the clock."""
    system = "你是评论审核助手。只输出一个标签：正面、负面 或 需人工。"
    for k in range(n_keys):
        key = S.key(fam, "moder-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "trust"), "product", "benign", rpm=600)
        client = ipv4(rng)
        for d in range(7):
            for h in range(24):
                lh = (h + 8) % 24
                rate = [2, 1, 1, 1, 1, 2, 4, 8, 10, 10, 12, 16, 18, 12, 10, 10, 12, 16, 20, 22, 18, 12, 8, 4][lh] * rng.uniform(0.5, 1.0)
                t = START + d * DAY + h * HOUR
                t_end = t + HOUR
                while True:
                    t += int(rng.expovariate(rate / 3600.0) * SEC)
                    if t >= t_end:
                        break
                    r = rng.choice(C.reviews)
                    S.add(fam, t, key, client, chat([{"role": "system", "content": system}, {"role": "user", "content": "评论：" + r}], max_tokens=3, temperature=0, logprobs=True, top_logprobs=3),
                          False, rng.randint(1, 3), inst=r)


def fam_seo_agency(S, C, rng, fam="seo_agency", n_keys=12):
    """Marketing agencies writing long blog posts for small-business clients
    from a brief template, during office hours."""
    biz = ["dentist", "bakery", "plumber", "yoga studio", "law firm", "bike shop", "accountant", "wedding photographer", "dog groomer", "roofing company"]
    cities = ["Leeds", "Austin", "Lyon", "Porto", "Denver", "Cork", "Graz", "Adelaide", "Utrecht", "Tampa"]
    kws = ["near me", "prices", "best", "how to choose", "cost guide", "emergency", "for beginners", "reviews"]
    for k in range(n_keys):
        key = S.key(fam, "seo-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "agency"), "content", "benign", rpm=30)
        client = ipv4(rng)
        tz = rng.choice(TZS)
        for s in session_starts(rng, tz, lambda r: r.randint(1, 3), hours=(9, 18), weekend_p=0.0):
            t = s
            for _ in range(rng.randint(3, 15)):
                b, c = rng.choice(biz), rng.choice(cities)
                text = ("Write a %d-word SEO blog post for %s, a %s in %s, targeting the keyword \"%s %s\". Include an H1, H2 sections, an FAQ and a meta description."
                        % (rng.choice([1000, 1200, 1500]), rng.choice(["Smith & Co", "Bright Smile", "Green Leaf", "Northside", "Peak"]) + " " + hexid(rng, 2), b, c, b, rng.choice(kws)))
                ans = rng.randint(900, 1800)
                S.add(fam, t, key, client, chat([{"role": "user", "content": text}], temperature=0.8), False, ans, inst=text)
                t += gen_time(ans, rng) + think(rng, 240)


def fam_annotation_rationales(S, C, rng, fam="annotation_rationales", n_keys=10):
    """A data-labelling team pre-labelling Chinese reviews with a short reason
    for the human annotator to check (a rationale, asked for explicitly)."""
    for k in range(n_keys):
        key = S.key(fam, "prelabel-%02d-%s" % (k, hexid(rng, 4)), team_name(rng, "label"), "research", "benign", rpm=120)
        client = ipv4(rng)
        for s in session_starts(rng, 8, lambda r: r.randint(1, 2), hours=(9, 17), weekend_p=0.0):
            t = s
            for _ in range(rng.randint(60, 200)):
                r = rng.choice(C.reviews)
                text = "请判断下面这条评论的情感倾向（正面/负面），并简要说明理由，不超过50字。\n\n评论：" + r
                ans = rng.randint(25, 90)
                S.add(fam, t, key, client, chat([{"role": "user", "content": text}], temperature=0), False, ans, inst=text)
                t += gen_time(ans, rng) + rng.randrange(300, 2500)


def fam_sharded_summarizer(S, C, rng, fam="sharded_summarizer", n_keys=12):
    """Two services, each spreading its summarisation calls round-robin over
    six keys of its own team (to stay under per-key limits), around the clock."""
    per = n_keys // 2
    for svc in range(2):
        team = team_name(rng, "svc")
        ks = [S.key(fam, "summ-%d-%d-%s" % (svc, i, hexid(rng, 4)), team, "product", "benign", rpm=60) for i in range(per)]
        client = ipv4(rng)
        t = START + rng.randrange(HOUR)
        i = 0
        while t < END:
            hour = ((t - START) // HOUR) % 24
            rate = 30 + 30 * math.sin((hour - 8) / 24.0 * 2 * math.pi) + 15
            t += int(rng.expovariate(rate / 3600.0) * SEC)
            doc = cut(rng.choice(C.c4_long + C.c4_short), rng.randint(600, 3000))
            text = "Summarise the following article in 3-5 sentences for a news digest.\n\n" + doc
            ans = max(40, min(220, int(tok(doc) * rng.uniform(0.1, 0.3))))
            S.add(fam, t, ks[i % per], client, chat([{"role": "user", "content": text}], temperature=0.3, max_tokens=300), False, ans, inst=text)
            i += 1


BENIGN = [
    ("support_copilot", fam_support_copilot),
    ("homework_helper", fam_homework_helper),
    ("catalog_copy", fam_catalog_copy),
    ("eval_harness", fam_eval_harness),
    ("sampling_study", fam_sampling_study),
    ("knowledge_workers", fam_knowledge_workers),
    ("office_nat", fam_office_nat),
    ("rag_docs", fam_rag_docs),
    ("localization", fam_localization),
    ("coding_agent", fam_coding_agent),
    ("story_app", fam_story_app),
    ("lms_quizzes", fam_lms_quizzes),
    ("fixture_data", fam_fixture_data),
    ("review_moderation", fam_review_moderation),
    ("seo_agency", fam_seo_agency),
    ("annotation_rationales", fam_annotation_rationales),
    ("sharded_summarizer", fam_sharded_summarizer),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--corpora", default=os.path.normpath(os.path.join(here, "../../../shared/corpora")))
    a = ap.parse_args()
    C = Corpora(a.corpora)
    S = Scenario()
    for name, fn in EXTRACTION + BENIGN:
        fn(S, C, random.Random(sha_seed(a.seed, name)))
    S.write(a.out)
    if a.stats:
        w = sys.stderr.write
        w("%-22s %-10s %5s %8s %8s %8s %9s\n" % ("family", "role", "keys", "requests", "ans>=100", "distinct", "assembled"))
        tot = {}
        for name, _ in EXTRACTION + BENIGN:
            st = S.stats[name]
            w("%-22s %-10s %5d %8d %8d %8d %9s\n" % (name, st["role"], st["keys"], st["requests"], st["long"], len(st["inst"]),
                                                     st["assembled"] if st["assembled"] else "-"))
            r = tot.setdefault(st["role"], [0, 0])
            r[0] += st["keys"]
            r[1] += st["requests"]
        for role, (k, n) in sorted(tot.items()):
            w("total %-10s keys %d requests %d\n" % (role, k, n))
        w("all: keys %d requests %d\n" % (len(S.keys), len(S.reqs)))


if __name__ == "__main__":
    main()
