#!/usr/bin/env python3
"""Writes fixtures/attention_reference.json: the attention-map matching term and its gradients with respect to the
student's queries and keys, computed by PyTorch in float64 from float32 inputs.

For each layer (token-major q (B,T,H·D), k (B,T,Hkv·D); query head h reads kv head h // (H/Hkv)):
    Ā = mean over h of softmax(q_h·k_hᵀ/√D with keys after the query masked out)      (B,T,T)
    term = weight · mean over pairs (i, map[i]) of  mean over the B·T query rows of  Σⱼ Āₜ·(log Āₜ − log Āₛ)
Written head by head with a Python loop, not the grouped batched product the C# code uses.

Regenerate:  /usr/bin/python3 tests/Lathe.Tests/Compression/Distillation/make_attention_fixtures.py
The C# test is AttentionMapMatchingTests."""
import json
import math
import os

import torch

g = torch.Generator().manual_seed(2021)


def rand(*shape, scale=1.5):
    return ((torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * scale).float()


def head_averaged_map(q, k, H, Hkv, D):
    B, T, _ = q.shape
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    maps = []
    for h in range(H):
        kv = h // (H // Hkv)
        qh = q[:, :, h * D:(h + 1) * D]
        kh = k[:, :, kv * D:(kv + 1) * D]
        scores = (qh @ kh.transpose(1, 2)) / math.sqrt(D)
        maps.append(torch.softmax(scores.masked_fill(~allowed, float("-inf")), -1))
    return torch.stack(maps).mean(0), allowed


def row_kl(pt, ps, allowed):
    one = torch.ones_like(ps)
    lt = torch.log(torch.where(allowed, pt, one))
    ls = torch.log(torch.where(allowed, ps, one))
    return (pt * (lt - ls)).sum(-1).mean()


cases = []
for name, B, T, student, teacher, layer_map, weight in [
    # student heads (H, Hkv, D) per layer; teacher the same; student layer i ↔ teacher layer layer_map[i]
    ("heads_differ", 2, 5, (2, 2, 4), (4, 4, 3), [1, 2], 0.7),
    ("grouped_query", 2, 6, (4, 2, 3), (2, 1, 5), [0, 2], 1.3),
]:
    hs, hkvs, ds = student
    ht, hkvt, dt = teacher
    sq = [rand(B, T, hs * ds) for _ in layer_map]
    sk = [rand(B, T, hkvs * ds) for _ in layer_map]
    tq = [rand(B, T, ht * dt, scale=2.0) for _ in range(3)]
    tk = [rand(B, T, hkvt * dt, scale=2.0) for _ in range(3)]
    sqd = [x.double().requires_grad_(True) for x in sq]
    skd = [x.double().requires_grad_(True) for x in sk]
    terms = []
    for i, t in enumerate(layer_map):
        pt, allowed = head_averaged_map(tq[t].double(), tk[t].double(), ht, hkvt, dt)
        ps, _ = head_averaged_map(sqd[i], skd[i], hs, hkvs, ds)
        terms.append(row_kl(pt, ps, allowed))
    loss = weight * sum(terms) / len(terms)
    loss.backward()
    cases.append({
        "name": name, "b": B, "t": T, "student_heads": list(student), "teacher_heads": list(teacher), "layer_map": layer_map,
        "weight": weight,
        "student_q": [x.flatten().tolist() for x in sq], "student_k": [x.flatten().tolist() for x in sk],
        "teacher_q": [x.flatten().tolist() for x in tq], "teacher_k": [x.flatten().tolist() for x in tk],
        "loss": loss.item(),
        "grad_q": [x.grad.flatten().tolist() for x in sqd], "grad_k": [x.grad.flatten().tolist() for x in skd],
    })

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "attention_reference.json")
with open(out, "w") as f:
    json.dump({"generator": "make_attention_fixtures.py", "torch": torch.__version__, "cases": cases}, f)
print(f"wrote {out} ({len(cases)} cases)")
