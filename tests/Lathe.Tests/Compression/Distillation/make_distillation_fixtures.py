#!/usr/bin/env python3
"""Writes fixtures/distillation_reference.json: logit-distillation losses and student-logit gradients computed by
PyTorch in float64 from float32 inputs.

Dense:  loss = Σᵣ wᵣ·(α·T²·KLᵣ + (1−α)·CEᵣ) / Σᵣ wᵣ over rows whose target is not −100, with
        KLᵣ = F.kl_div(log_softmax(s/T), log_softmax(t/T), log_target=True, reduction="none").sum(-1)
        and CEᵣ = F.cross_entropy(s, target, reduction="none").
Sparse: the teacher's top-k ids and the rest mass, KL over K + 1 buckets
        Σₖ pₜₖ·(log pₜₖ − log pₛₖ) + Rₜ·(log Rₜ − log Rₛ), Rₛ = student mass off the ids.

Regenerate:  /usr/bin/python3 tests/Lathe.Tests/Compression/Distillation/make_distillation_fixtures.py
The C# test is DistillationLossTests."""
import json
import os

import torch
import torch.nn.functional as F

g = torch.Generator().manual_seed(2020)


def rand(*shape, scale=3.0):
    return ((torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1) * scale).float()


def dense_loss(s, t, targets, weights, alpha, T):
    keep = targets != -100
    kl = F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1), log_target=True, reduction="none").sum(-1)
    ce = F.cross_entropy(s, torch.where(keep, targets, torch.zeros_like(targets)), reduction="none")
    w = weights * keep
    return ((alpha * T * T * kl + (1 - alpha) * ce) * w).sum() / w.sum()


def sparse_teacher(t, k, T):
    lp = F.log_softmax(t.double() / T, -1)
    top = lp.topk(k, -1)
    ids = top.indices
    mask = torch.zeros_like(lp, dtype=torch.bool).scatter(1, ids, True)
    rest = torch.where(mask, torch.zeros_like(lp), lp.exp()).sum(-1)
    return ids, top.values.float(), rest.float()


def sparse_loss(s, ids, lp_t, rest_t, targets, weights, alpha, T):
    keep = targets != -100
    ls = F.log_softmax(s / T, -1)
    ls_k = ls.gather(1, ids)
    mask = torch.zeros_like(ls, dtype=torch.bool).scatter(1, ids, True)
    rest_s = torch.where(mask, torch.zeros_like(ls), ls.exp()).sum(-1)
    lp_t = lp_t.double()
    rest_t = rest_t.double()
    kl = (lp_t.exp() * (lp_t - ls_k)).sum(-1)
    rest_term = torch.where(rest_t > 0, rest_t * (torch.log(rest_t.clamp_min(1e-300)) - torch.log(rest_s)), torch.zeros_like(rest_t))
    kl = kl + rest_term
    ce = F.cross_entropy(s, torch.where(keep, targets, torch.zeros_like(targets)), reduction="none")
    w = weights * keep
    return ((alpha * T * T * kl + (1 - alpha) * ce) * w).sum() / w.sum()


cases = []
for name, n, v, alpha, T, k, weighted in [
    ("t1_alpha_half", 6, 11, 0.5, 1.0, 4, False),
    ("t2_alpha_0.9_weighted", 9, 37, 0.9, 2.0, 5, True),
    ("t4_alpha_1", 5, 64, 1.0, 4.0, 1, False),
    ("t0.5_alpha_0.3_weighted", 7, 130, 0.3, 0.5, 17, True),
]:
    s = rand(n, v)
    t = rand(n, v, scale=5.0)
    targets = torch.randint(0, v, (n,), generator=g)
    targets[2] = -100
    weights = (torch.rand(n, generator=g, dtype=torch.float64) * 2).float() if weighted else torch.ones(n)
    if weighted:
        weights[0] = 0.0
    sd = s.double().requires_grad_(True)
    loss = dense_loss(sd, t.double(), targets, weights.double(), alpha, T)
    loss.backward()
    ids, lp_t, rest_t = sparse_teacher(t, k, T)
    ss = s.double().requires_grad_(True)
    sparse = sparse_loss(ss, ids, lp_t, rest_t, targets, weights.double(), alpha, T)
    sparse.backward()
    cases.append({
        "name": name, "n": n, "v": v, "alpha": alpha, "temperature": T, "k": k,
        "student": s.flatten().tolist(), "teacher": t.flatten().tolist(), "targets": targets.tolist(),
        "weights": weights.tolist() if weighted else None,
        "loss": loss.item(), "grad": sd.grad.flatten().tolist(),
        "top_ids": ids.flatten().tolist(), "top_log_probs": lp_t.flatten().tolist(), "rest_mass": rest_t.tolist(),
        "sparse_loss": sparse.item(), "sparse_grad": ss.grad.flatten().tolist(),
    })

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "distillation_reference.json")
with open(out, "w") as f:
    json.dump({"generator": "make_distillation_fixtures.py", "torch": torch.__version__, "cases": cases}, f)
print(f"wrote {out} ({len(cases)} cases)")

# Hidden-state matching (fixtures/hidden_reference.json): for student block outputs S (N, Cs) of two layers and teacher
# outputs T (N, Ct) of the layers the map pairs them with, the mean over pairs, times the weight, of
#   cosine (Cs = Ct):  mean over rows of 1 − F.cosine_similarity(S, T, dim=-1)          (DistilBERT)
#   mse:               F.mse_loss(S @ W, T) with W (Cs, Ct)                            (TinyBERT)
hidden = []
for name, n, cs, ct, kind, weight in [("cosine", 7, 12, 12, "cosine", 0.8), ("mse_projection", 6, 8, 12, "mse", 1.5)]:
    s = [rand(n, cs) for _ in range(2)]
    t = [rand(n, ct) for _ in range(2)]
    w = rand(cs, ct, scale=0.3)
    sd = [x.double().requires_grad_(True) for x in s]
    wd = w.double().requires_grad_(True)
    terms = []
    for a, b in zip(sd, t):
        if kind == "cosine":
            terms.append((1 - F.cosine_similarity(a, b.double(), dim=-1, eps=0)).mean())
        else:
            terms.append(F.mse_loss(a @ wd, b.double()))
    loss = weight * sum(terms) / len(terms)
    loss.backward()
    hidden.append({
        "name": name, "n": n, "cs": cs, "ct": ct, "kind": kind, "weight": weight,
        "student": [x.flatten().tolist() for x in s], "teacher": [x.flatten().tolist() for x in t], "projection": w.flatten().tolist(),
        "loss": loss.item(), "grad_student": [x.grad.flatten().tolist() for x in sd], "grad_projection": wd.grad.flatten().tolist() if wd.grad is not None else None,
    })
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "hidden_reference.json")
with open(out, "w") as f:
    json.dump({"generator": "make_distillation_fixtures.py", "torch": torch.__version__, "cases": hidden}, f)
print(f"wrote {out} ({len(hidden)} cases)")
