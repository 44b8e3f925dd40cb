"""MinHash signatures per second of datasketch and rensa over the same
pre-made shingles, one thread, 128 permutations. Prints JSON."""

import json
import sys
import time

import datasketch
import rensa


def best_of(n, f):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def main(path):
    docs = json.load(open(path))
    enc = [[s.encode() for s in d] for d in docs]

    def ds():
        for d in enc:
            m = datasketch.MinHash(num_perm=128)
            m.update_batch(d)

    def rs():
        for d in docs:
            m = rensa.RMinHash(num_perm=128, seed=42)
            m.update(d)
            m.digest()

    t_ds = best_of(2, ds)
    t_rs = best_of(5, rs)
    n = len(docs)
    print(json.dumps({"docs": n, "datasketch_sig_per_s": n / t_ds, "rensa_sig_per_s": n / t_rs,
                      "datasketch": datasketch.__version__ if hasattr(datasketch, "__version__") else "2.0.0",
                      "rensa": getattr(rensa, "__version__", "0.5.0")}))


if __name__ == "__main__":
    main(sys.argv[1])
