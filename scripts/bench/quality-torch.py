#!/usr/bin/env python3
"""The PyTorch half of the equal-wall-time quality comparison (`lathe bench quality`): the same pre-LN GPT-2 as
scripts/bench/train-torch.py, initialised the same way (normal 0.02, residual projections 0.02/sqrt(2L), biases 0,
LayerNorm 1/0), trained on the same llm.c shards with the same batches in the same order (sequential windows of
T+1 tokens, the next starting T later, wrapping), AdamW (betas 0.9/0.95, eps 1e-8, weight decay 0.1 on matrices
only), global-norm clip 1.0, linear warm-up then a constant rate — for a wall-clock budget; then the validation
stream is scored in non-overlapping windows of T (B rows at a time, the tail as one shorter row), as LossEvaluator does.

Run:  OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/quality-torch.py --data DIR --preset S --seconds 120
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from importlib import import_module

train_torch = import_module("train-torch")


def read_shard(path):
    header = np.fromfile(path, dtype="<i4", count=256)
    if header[0] != 20240520:
        raise SystemExit(f"{path}: not an llm.c token shard (magic {header[0]})")
    dtype = {1: "<u2", 2: "<u4"}[int(header[1])]
    return np.fromfile(path, dtype=dtype, offset=256 * 4, count=int(header[2])).astype(np.int64)


def load_folder(d):  # TokenShards.LoadFolder: *val* shards, else the last 5% of the training tokens
    files = sorted(glob.glob(os.path.join(d, "*.bin")))
    train = [f for f in files if "val" not in os.path.basename(f).lower()]
    val = [f for f in files if "val" in os.path.basename(f).lower()]
    tr = np.concatenate([read_shard(f) for f in train])
    if val:
        return tr, np.concatenate([read_shard(f) for f in val])
    held = max(1, len(tr) // 20)
    return tr[:-held], tr[-held:]


def init(model, L):
    std, resid = 0.02, 0.02 / math.sqrt(2 * L)
    for n, p in model.named_parameters():
        if p.dim() == 2:
            torch.nn.init.normal_(p, 0.0, resid if n.endswith("c_proj.weight") or n.endswith("mlp_proj.weight") else std)
        elif "ln" in n and n.endswith("weight"):
            torch.nn.init.ones_(p)
        else:
            torch.nn.init.zeros_(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--preset", default="S", choices=sorted(train_torch.PRESETS))
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--block-size", type=int, default=256)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    # Flush denormals to zero, as PyTorch's CPU tuning guide advises: on Intel cores, AdamW's tiny second moments and
    # small gradients turn denormal after a few steps and every op that touches them slows down several-fold (S ran at
    # 1,466 tok/s without this, 4,504 with it, on the 2026-12-04 Xeon).
    torch.set_flush_denormal(True)
    torch.manual_seed(1337)
    p = train_torch.PRESETS[a.preset]
    train, val = load_folder(a.data)
    if train.max() >= p["vocab"]:
        raise SystemExit(f"the data holds token id {train.max()}; preset {a.preset} has vocab {p['vocab']}")
    model = train_torch.GPT(p["vocab"], p["ctx"], p["C"], p["L"], p["H"])
    init(model, p["L"])
    decay = [q for n, q in model.named_parameters() if q.dim() == 2 and "wte" not in n and "wpe" not in n]
    rest = [q for n, q in model.named_parameters() if not (q.dim() == 2 and "wte" not in n and "wpe" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    B, T = a.batch_size, a.block_size
    pos, steps, last = 0, 0, float("nan")
    x = np.empty((B, T + 1), dtype=np.int64)
    start = time.perf_counter()
    while time.perf_counter() - start < a.seconds:
        for b in range(B):  # TokenStreamSource
            if pos + T + 1 > len(train):
                pos = 0
            x[b] = train[pos:pos + T + 1]
            pos += T
        steps += 1
        for g in opt.param_groups:
            g["lr"] = a.lr * steps / a.warmup if steps <= a.warmup else a.lr
        idx = torch.from_numpy(x)
        opt.zero_grad(set_to_none=False)
        loss = model(idx[:, :-1], idx[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        last = loss.item()
    trained = time.perf_counter() - start
    total, count = 0.0, 0
    with torch.no_grad():
        vt = torch.from_numpy(val)
        pos, predictable = 0, len(val) - 1
        while pos + T <= predictable:
            rows = min(B, (predictable - pos) // T)
            inp = torch.stack([vt[pos + r * T: pos + r * T + T] for r in range(rows)])
            tgt = torch.stack([vt[pos + r * T + 1: pos + r * T + T + 1] for r in range(rows)])
            total += model(inp, tgt).item() * rows * T
            count += rows * T
            pos += rows * T
        tail = predictable - pos
        if tail > 0:
            total += model(vt[pos:pos + tail][None], vt[pos + 1:pos + 1 + tail][None]).item() * tail
            count += tail
    print(f"quality-torch {a.preset}: {steps} steps in {trained:.1f} s, last train loss {last:.4f}, validation loss {total / count:.4f}", file=sys.stderr)
    print(json.dumps({"bench": "quality", "framework": "pytorch " + torch.__version__, "preset": a.preset, "threads": a.threads, "seconds": round(trained, 3),
                      "steps": steps, "tokens": steps * B * T, "train_loss": round(last, 5), "val_loss": round(total / count, 5), "val_tokens": count}))


if __name__ == "__main__":
    main()
