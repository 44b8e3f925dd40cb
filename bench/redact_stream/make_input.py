"""Input for bench/redact_stream.sh: mixed English and Chinese text of a
given size, one paragraph a line, from ../shared/corpora (GPT-4 and Claude 3
answers, hotel and food reviews, Chinese instruction answers), with a
document of the independent evaluation set (bench/redact_eval/gen.py: one
faker or libphonenumber item, valid or a look-alike, in real text) every
fourth line. Usage: make_input.py EVAL.jsonl MB OUT"""

import csv
import itertools
import json
import sys

CORPORA = "../shared/corpora"


def english():
    for name in ("gpt4.json", "claude-3-opus-20240229.json"):
        for d in json.load(open(f"{CORPORA}/alpaca_eval/{name}")):
            yield d["output"].replace("\n", " ")


def chinese():
    for name in ("ChnSentiCorp_htl_all.csv", "waimai_10k.csv"):
        with open(f"{CORPORA}/chinese_reviews/{name}", encoding="utf-8") as f:
            rows = csv.reader(f)
            next(rows)
            for row in rows:
                if len(row) > 1 and row[1].strip():
                    yield row[1].replace("\n", " ")
    for d in json.load(open(f"{CORPORA}/llama_factory/alpaca_zh_demo.json")):
        yield d["output"].replace("\n", " ")


def main(eval_path, mb, out):
    planted = [json.loads(l)["text"].replace("\n", " ") for l in open(eval_path)]
    want = int(float(mb) * 1_000_000)
    size = items = 0
    en, zh, ev = itertools.cycle(list(english())), itertools.cycle(list(chinese())), itertools.cycle(planted)
    with open(out, "w", encoding="utf-8") as f:
        for i in itertools.count():
            if size >= want:
                break
            line = next(ev) if i % 4 == 3 else next(en) if i % 2 == 0 else next(zh)
            items += i % 4 == 3
            line += "\n"
            f.write(line)
            size += len(line.encode())
    print(json.dumps({"bytes": size, "items": items}))


if __name__ == "__main__":
    main(*sys.argv[1:])
