#!/usr/bin/env python3
"""The PyTorch peer of `lathe bench eval`: the same GPT-2 preset (the model class of train-torch.py), 8 log-likelihood
requests of 256 tokens (192 context + 64 continuation) per pass under torch.no_grad(): one forward over the batch, the
LM head only on the positions that predict the continuation, log-softmax, gather, sum per request. Prints the same JSON
line last.

Run:  OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/eval-torch.py --preset S --threads 2
"""
import argparse
import importlib.util
import json
import os
import resource
import statistics
import time

import torch

spec = importlib.util.spec_from_file_location("train_torch", os.path.join(os.path.dirname(__file__), "train-torch.py"))
train_torch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_torch)

BATCH, CONTEXT, CONTINUATION = 8, 192, 64


def score(model, idx):
    """Σ log p(continuation | context) per row of idx (B, CONTEXT + CONTINUATION)."""
    x = model.wte(idx[:, :-1]) + model.wpe(torch.arange(idx.shape[1] - 1))
    for b in model.h:
        x = b(x)
    h = model.ln_f(x[:, CONTEXT - 1:])                       # the positions that predict the continuation
    logp = torch.log_softmax(h @ model.wte.weight.T, dim=-1)
    return logp.gather(-1, idx[:, CONTEXT:].unsqueeze(-1)).squeeze(-1).sum(-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="S", choices=sorted(train_torch.PRESETS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--passes", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    p = train_torch.PRESETS[a.preset]
    model = train_torch.GPT(p["vocab"], p["ctx"], p["C"], p["L"], p["H"]).eval()
    times = []
    with torch.no_grad():
        for i in range(2 + a.passes):
            idx = torch.randint(0, p["vocab"], (BATCH, CONTEXT + CONTINUATION))
            t0 = time.perf_counter()
            score(model, idx)
            if i >= 2:
                times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"bench": "eval", "peer": "pytorch " + torch.__version__, "preset": a.preset, "threads": a.threads, "batch": BATCH,
                      "context": CONTEXT, "continuation": CONTINUATION, "passes": a.passes, "pass_ms": round(step * 1e3, 4),
                      "tokens_per_s": round(BATCH * (CONTEXT + CONTINUATION) / step, 4), "peak_rss_mb": round(rss, 4)}))


if __name__ == "__main__":
    main()
