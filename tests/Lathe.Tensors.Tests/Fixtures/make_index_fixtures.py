#!/usr/bin/env python3
"""Writes index.safetensors: PyTorch references for the row-indexing ops of sparse layers — GatherRows
(index_select on dim 0), ScatterAddRows (index_add of weighted rows) and TopK (torch.topk indices) — with float32
inputs, a random upstream gradient, outputs and input gradients computed in float64. Indices repeat on purpose.

Regenerate:  /usr/bin/python3 tests/Lathe.Tensors.Tests/Fixtures/make_index_fixtures.py
Read by Autograd/IndexOpFixtureTests.cs."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))
import safetensors_io  # noqa: E402

g = torch.Generator().manual_seed(7)
out = {}


def rand(*shape):
    return (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1).float()


def save_case(name, y, up, tensors, grads, ints):
    out[f"{name}.y"] = y.detach().float().numpy()
    out[f"{name}.upstream"] = up.numpy()
    for k, v in tensors.items():
        out[f"{name}.{k}"] = v.numpy()
    for k, v in grads.items():
        out[f"{name}.grad_{k}"] = v.grad.float().numpy()
    for k, v in ints.items():
        out[f"{name}.{k}"] = v.int().numpy()


for rows_n, cols, m in [(5, 3, 9), (17, 129, 40)]:
    # GatherRows: x (N, C)[rows] → (M, C)
    x = rand(rows_n, cols)
    rows = torch.randint(0, rows_n, (m,), generator=g)
    x64 = x.double().requires_grad_(True)
    y = x64.index_select(0, rows)
    up = rand(*y.shape)
    (y * up.double()).sum().backward()
    save_case(f"gather_{rows_n}x{cols}", y, up, {"x": x}, {"x": x64}, {"rows": rows})

    # ScatterAddRows: zeros (N, C).index_add(0, rows, w[:, None] * src)
    src, w = rand(m, cols), rand(m)
    s64, w64 = src.double().requires_grad_(True), w.double().requires_grad_(True)
    y = torch.zeros(rows_n, cols, dtype=torch.float64).index_add(0, rows, w64[:, None] * s64)
    up = rand(*y.shape)
    (y * up.double()).sum().backward()
    save_case(f"scatter_{rows_n}x{cols}", y, up, {"src": src, "w": w}, {"src": s64, "w": w64}, {"rows": rows})

# TopK: distinct values (torch.topk leaves the order of ties unspecified), k = 1, 2, 8 of 8 columns.
scores = torch.randperm(64 * 8, generator=g).float().reshape(64, 8) / 7.0
out["topk.x"] = scores.numpy()
for k in (1, 2, 8):
    out[f"topk.k{k}"] = torch.topk(scores.double(), k, dim=-1).indices.int().numpy()

safetensors_io.save(os.path.join(os.path.dirname(os.path.abspath(__file__)), "index.safetensors"), out)
print(f"{len(out)} tensors")
