#!/usr/bin/env python3
"""The PyTorch peer of `lathe bench finetune`: the GPT-2 of scripts/bench/train-torch.py (same presets and shapes) and a
fine-tuning step (forward, backward, global-norm clip, AdamW over the trainable set) on random tokens; prints the same
JSON line last.

Methods: full (every parameter) and lora — a hand-written LoRA module as PEFT defines it (Hu et al. 2021; PEFT's
LoraLayer): the frozen base Linear plus lora_B(lora_A(dropout(x))) · alpha / r, A Kaiming-uniform (a = √5), B zero,
dropout 0 (PEFT's default: an identity), on c_attn or on all-linear (c_attn, c_proj, c_fc, mlp c_proj; not the tied
head). Only A and B get gradients and AdamW state. bitsandbytes' 4/8-bit CPU path is not available for torch 1.13, so
QLoRA has no peer here.

Run:  OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/finetune-torch.py --preset S --method lora --targets c_attn
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time
import os

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
train_torch = __import__("train-torch")


class LoraLinear(nn.Module):
    """y = base(x) + B(A(x)) · alpha / r; the base frozen."""

    def __init__(self, base: nn.Linear, r: int, alpha: float):
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


def attach_lora(model, targets, r, alpha):
    for p in model.parameters():
        p.requires_grad_(False)
    names = ["c_attn"] if targets == "c_attn" else ["c_attn", "c_proj", "c_fc", "mlp_proj"]
    for block in model.h:
        for n in names:
            setattr(block, n, LoraLinear(getattr(block, n), r, alpha))
    return [p for p in model.parameters() if p.requires_grad]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="S", choices=sorted(train_torch.PRESETS))
    ap.add_argument("--method", default="lora", choices=["full", "lora"])
    ap.add_argument("--targets", default="c_attn", choices=["c_attn", "all-linear"])
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)   # see train-torch.py: several-fold slower on Intel without it
    torch.manual_seed(1)
    p = train_torch.PRESETS[a.preset]
    model = train_torch.GPT(p["vocab"], p["ctx"], p["C"], p["L"], p["H"])
    trainable = list(model.parameters()) if a.method == "full" else attach_lora(model, a.targets, a.rank, a.alpha)
    opt = torch.optim.AdamW(trainable, lr=2e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
    B, T = p["B"], p["T"]
    times = []
    for i in range(a.warmup + a.steps):
        idx = torch.randint(0, p["vocab"], (B, T + 1))
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss = model(idx[:, :-1], idx[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"bench": "finetune", "peer": "pytorch " + torch.__version__, "preset": a.preset, "method": a.method,
                      "targets": a.targets if a.method == "lora" else None, "rank": a.rank, "threads": a.threads, "batch": B,
                      "block": T, "steps": a.steps, "trainable_params": sum(q.numel() for q in trainable),
                      "step_ms": round(step * 1e3, 4), "tokens_per_s": round(B * T / step, 4), "peak_rss_mb": round(rss, 4)}))


if __name__ == "__main__":
    main()
