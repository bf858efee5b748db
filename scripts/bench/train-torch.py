#!/usr/bin/env python3
"""The PyTorch peer of `lathe bench train`: the same pre-LN GPT-2 (tied lm_head, GELU-tanh MLP 4×, learned
positions), the same shapes and a full training step (forward, backward, global-norm clip, AdamW) on random
tokens; prints the same JSON line last.

Run:  OPENBLAS_CORETYPE=Cooperlake OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/train-torch.py --preset S --threads 2
"""
import argparse
import ctypes
import json
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {  # src/Lathe/Models/Presets/{S,M}.json and the shapes of BenchTrain.cs
    "S": dict(vocab=4096, ctx=256, C=256, L=4, H=4, B=8, T=256),
    "M": dict(vocab=8192, ctx=256, C=384, L=6, H=6, B=8, T=256),
}
PEAK_GFLOPS = 430


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.H)
        att = att.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, ctx, C, L, H):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, C), nn.Embedding(ctx, C)
        self.h = nn.ModuleList(Block(C, H) for _ in range(L))
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.h:
            x = b(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def flops_per_token(p, T):  # same count as CausalLM.ForwardFlopsPerToken, ×3 for training
    C = p["C"]
    layer = 2 * C * 3 * C + 2 * C * C + 2 * C * 4 * C * 2 + 2 * 2 * T * C / 2
    return 3 * (p["L"] * layer + 2 * C * p["vocab"])


def set_openblas_threads(n):
    """torch.set_num_threads does not reach Debian's OpenBLAS (pthread build), which starts one thread per core: with
    --threads 1 its second thread would still run (and, under mpirun --bind-to core, spin on the rank's one core)."""
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
    except (OSError, AttributeError):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="S", choices=sorted(PRESETS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    set_openblas_threads(a.threads)
    # Flush denormals to zero, as PyTorch's CPU tuning guide advises: on Intel cores, AdamW's tiny second moments and
    # small gradients turn denormal after a few steps and every op that touches them slows down several-fold (S ran at
    # 1,466 tok/s without this, 4,504 with it, on the 2026-12-04 Xeon).
    torch.set_flush_denormal(True)
    torch.manual_seed(1)
    p = PRESETS[a.preset]
    model = GPT(p["vocab"], p["ctx"], p["C"], p["L"], p["H"])
    decay = [q for n, q in model.named_parameters() if q.dim() == 2 and "wte" not in n and "wpe" not in n]
    rest = [q for n, q in model.named_parameters() if not (q.dim() == 2 and "wte" not in n and "wpe" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    B, T = p["B"], p["T"]
    times = []
    for i in range(a.warmup + a.steps):
        idx = torch.randint(0, p["vocab"], (B, T + 1))
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss = model(idx[:, :-1], idx[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    tps = B * T / step
    mfu = tps * flops_per_token(p, T) / (PEAK_GFLOPS * 1e9)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"bench": "train", "peer": "pytorch " + torch.__version__, "preset": a.preset, "threads": a.threads, "batch": B, "block": T,
                      "steps": a.steps, "step_ms": round(step * 1e3, 4), "tokens_per_s": round(tps, 4), "peak_rss_mb": round(rss, 4), "mfu": round(mfu, 4)}))


if __name__ == "__main__":
    main()
