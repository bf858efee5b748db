#!/usr/bin/env python3
"""The kernel peer: PyTorch (Debian python3-torch) timing the same ops as `lathe bench kernels`, forward alone and
forward + backward of the mean, median of runs after warm-up, in-process. Run it tuned:
  OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/kernels-torch.py --threads 2
Prints one JSON line per kernel and a summary line last."""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--seconds", type=float, default=1.0)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.set_flush_denormal(True)   # as train-torch.py: denormals slow Intel cores several-fold
torch.manual_seed(1)


def timeit(fn, seconds):
    for _ in range(3):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


summary = {"bench": "kernels", "peer": "pytorch", "torch": torch.__version__, "threads": args.threads}


def kernel(name, shape, forward, inputs):
    def fwd():
        with torch.no_grad():
            forward(*inputs)

    def step():
        for t in inputs:
            t.grad = None
        forward(*inputs).mean().backward()

    f, s = timeit(fwd, args.seconds / 2), timeit(step, args.seconds)
    print(json.dumps({"bench": "kernels", "peer": "pytorch", "kernel": name, "shape": shape, "threads": args.threads,
                      "forward_ms": round(f, 4), "forward_backward_ms": round(s, 4)}))
    summary[f"{name}_fwd_ms"], summary[f"{name}_fwdbwd_ms"] = round(f, 4), round(s, 4)


def rand(*shape):
    return (torch.rand(*shape) * 2 - 1).requires_grad_(True)


kernel("softmax", "2048x4096", lambda x: torch.softmax(x, -1), [rand(2048, 4096)])
kernel("layernorm", "2048x768", lambda x, w, b: F.layer_norm(x, (768,), w, b), [rand(2048, 768), rand(768), rand(768)])
targets = torch.randint(0, 8192, (2048,))
kernel("cross_entropy", "2048x8192", lambda x: F.cross_entropy(x, targets), [rand(2048, 8192)])
kernel("gelu", "2048x3072", lambda x: F.gelu(x, approximate="tanh"), [rand(2048, 3072)])
mask = torch.ones(256, 256, dtype=torch.bool).tril()


def attention(q, k, v):
    s = (q @ k.transpose(-1, -2)) / math.sqrt(64)
    return torch.softmax(s.masked_fill(~mask, float("-inf")), -1) @ v


kernel("attention", "B8,H4,T256,D64,causal", attention, [rand(8, 4, 256, 64), rand(8, 4, 256, 64), rand(8, 4, 256, 64)])
p = torch.nn.Parameter(torch.rand(10_000_000))
p.grad = torch.rand(10_000_000)
opt = torch.optim.AdamW([p], lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1, foreach=True)
ms = timeit(opt.step, args.seconds)
print(json.dumps({"bench": "kernels", "peer": "pytorch", "kernel": "adamw", "params": 10_000_000, "threads": args.threads, "step_ms": round(ms, 4)}))
summary["adamw_10m_ms"] = round(ms, 4)
print(json.dumps(summary))
