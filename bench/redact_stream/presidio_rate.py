"""Presidio's side of bench/redact_stream.sh: the same file, analysed a line
at a time (as a streaming redactor would feed it) with presidio-analyzer's
regex and checksum recognisers on one thread; prints MB/s as JSON."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import redact_presidio as rp  # noqa: E402  (its offline setup and engine)



def main(path):
    analyzer = rp.analyzer()
    ents = list(rp.TYPES) + ["URL"]
    lines = open(path, encoding="utf-8").read().splitlines()
    analyzer.analyze(text=lines[0], language="en", entities=ents)  # warm up
    t = time.perf_counter()
    found = sum(len(analyzer.analyze(text=l, language="en", entities=ents)) for l in lines)
    secs = time.perf_counter() - t
    size = os.path.getsize(path)
    print(json.dumps({"bytes": size, "seconds": secs, "mb_per_s": size / 1e6 / secs, "findings": found}))


if __name__ == "__main__":
    main(sys.argv[1])
