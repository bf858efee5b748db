#!/usr/bin/env python3
"""The GEMM peer: OpenBLAS through numpy, timed like `lathe bench gemm` (median of runs after warm-up,
in-process). Run it tuned, as its users would:
  OPENBLAS_CORETYPE=Cooperlake OPENBLAS_NUM_THREADS=2 /usr/bin/python3 scripts/bench/gemm-numpy.py --m 1024 --n 1024 --k 1024
Prints one JSON line last."""
import argparse
import json
import os
import statistics
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--m", type=int, default=1024)
ap.add_argument("--n", type=int, default=1024)
ap.add_argument("--k", type=int, default=1024)
ap.add_argument("--trans-a", action="store_true")
ap.add_argument("--trans-b", action="store_true")
ap.add_argument("--seconds", type=float, default=2.0)
args = ap.parse_args()

rng = np.random.default_rng(1)
a = (rng.random((args.k, args.m) if args.trans_a else (args.m, args.k), dtype=np.float32) - 0.5)
b = (rng.random((args.n, args.k) if args.trans_b else (args.k, args.n), dtype=np.float32) - 0.5)
c = np.empty((args.m, args.n), dtype=np.float32)
opa = a.T if args.trans_a else a
opb = b.T if args.trans_b else b
for _ in range(5):
    np.matmul(opa, opb, out=c)
times = []
start = time.perf_counter()
while len(times) < 10 or time.perf_counter() - start < args.seconds:
    t0 = time.perf_counter()
    np.matmul(opa, opb, out=c)
    times.append((time.perf_counter() - t0) * 1e3)
median = statistics.median(times)
print(json.dumps({"bench": "gemm", "peer": "openblas-numpy", "m": args.m, "n": args.n, "k": args.k,
                  "threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")), "trans_a": args.trans_a,
                  "trans_b": args.trans_b, "runs": len(times), "median_ms": round(median, 4),
                  "gflops": round(2.0 * args.m * args.n * args.k / (median * 1e-3) / 1e9, 4),
                  "coretype": os.environ.get("OPENBLAS_CORETYPE", "")}))
