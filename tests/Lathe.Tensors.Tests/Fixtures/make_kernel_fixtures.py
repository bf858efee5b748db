#!/usr/bin/env python3
"""Writes kernels.safetensors: for each op, float32 inputs, a random upstream gradient, and PyTorch's output and
input gradients (computed in float64, stored as float32). Shapes are odd on purpose (rows 3/17/63, cols 1/17/129).

Regenerate:  /usr/bin/python3 tests/Lathe.Tensors.Tests/Fixtures/make_kernel_fixtures.py
Each case is named "<case>.<tensor>"; the C# test (PyTorchKernelFixtureTests) knows the cases."""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))
import safetensors_io  # noqa: E402

g = torch.Generator().manual_seed(2024)
out = {}


def rand(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).float()


def case(name, fn, inputs, extra=None):
    """Runs fn on float64 copies of inputs (dict name -> float32 tensor), backprops a random upstream gradient."""
    xs = {k: v.double().requires_grad_(v.is_floating_point()) for k, v in inputs.items()}
    y = fn(**xs)
    up = rand(*y.shape) if y.dim() > 0 else torch.tensor(1.0)
    (y * up.double()).sum().backward()
    for k, v in inputs.items():
        out[f"{name}.{k}"] = v.numpy() if v.is_floating_point() else v.int().numpy()
        if v.is_floating_point():
            out[f"{name}.grad_{k}"] = xs[k].grad.float().numpy()
    out[f"{name}.upstream"] = up.float().reshape(y.shape).numpy() if y.dim() > 0 else up.float().reshape(1).numpy()
    out[f"{name}.y"] = y.detach().float().numpy() if y.dim() > 0 else y.detach().float().reshape(1).numpy()
    for k, v in (extra or {}).items():
        out[f"{name}.{k}"] = v


for rows, cols in [(3, 1), (17, 17), (63, 129)]:
    tag = f"{rows}x{cols}"
    case(f"softmax_{tag}", lambda x: torch.softmax(x, -1), {"x": rand(rows, cols, lo=-3, hi=3)})
    case(f"log_softmax_{tag}", lambda x: torch.log_softmax(x, -1), {"x": rand(rows, cols, lo=-3, hi=3)})
    case(f"layer_norm_{tag}", lambda x, w, b: F.layer_norm(x, (x.shape[-1],), w, b, 1e-5),
         {"x": rand(rows, cols, lo=-2, hi=3), "w": rand(cols, lo=0.5, hi=1.5), "b": rand(cols)})
    case(f"rms_norm_{tag}", lambda x, w: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w,
         {"x": rand(rows, cols, lo=-2, hi=3), "w": rand(cols, lo=0.5, hi=1.5)})
    case(f"gelu_tanh_{tag}", lambda x: F.gelu(x, approximate="tanh"), {"x": rand(rows, cols, lo=-4, hi=4)})
    case(f"gelu_erf_{tag}", lambda x: F.gelu(x), {"x": rand(rows, cols, lo=-4, hi=4)})
    case(f"silu_{tag}", lambda x: F.silu(x), {"x": rand(rows, cols, lo=-4, hi=4)})
    case(f"swiglu_{tag}", lambda g_, u: F.silu(g_) * u, {"g_": rand(rows, cols, lo=-4, hi=4), "u": rand(rows, cols)})
    case(f"exp_{tag}", torch.exp, {"x": rand(rows, cols, lo=-3, hi=3)})
    case(f"log_{tag}", torch.log, {"x": rand(rows, cols, lo=0.1, hi=3)})
    case(f"tanh_{tag}", torch.tanh, {"x": rand(rows, cols, lo=-3, hi=3)})
    case(f"sqrt_{tag}", torch.sqrt, {"x": rand(rows, cols, lo=0.1, hi=3)})

# Cross-entropy with ignored rows (mean over the rest).
for n, v in [(5, 17), (63, 129), (17, 1000)]:
    t = torch.randint(0, v, (n,), generator=g)
    t[::4] = -100
    case(f"cross_entropy_{n}x{v}", lambda x, t: F.cross_entropy(x, t.long(), ignore_index=-100),
         {"x": rand(n, v, lo=-3, hi=3), "t": t})

# Embedding with repeated ids.
ids = torch.tensor([3, 0, 3, 16, 7, 3, 1], dtype=torch.int64)
case("embedding", lambda table, ids: F.embedding(ids.long(), table), {"table": rand(17, 9), "ids": ids})

# RoPE in the Hugging Face Llama layout (rotate_half), positions offset by 3, linear scaling 2.
B, H, T, D = 2, 3, 5, 8
inv = 1.0 / (10000 ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
pos = (torch.arange(3, 3 + T, dtype=torch.float32) / 2.0)
ang = torch.outer(pos, inv)
cos, sin = torch.cat([ang.cos(), ang.cos()], -1).double(), torch.cat([ang.sin(), ang.sin()], -1).double()


def rope(x):
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


case("rope", rope, {"x": rand(B, H, T, D)})

# Attention: GQA (4 query heads over 2 kv heads), causal with a longer key sequence (cached keys),
# a shared additive bias, padding on the second batch element.
B, H, Hkv, T, S, D = 2, 4, 2, 5, 7, 8
lengths = torch.tensor([7, 5], dtype=torch.int64)


def attention(q, k, v, bias, lengths):
    k = k.repeat_interleave(H // Hkv, dim=1)
    v = v.repeat_interleave(H // Hkv, dim=1)
    s = q @ k.transpose(-1, -2) / math.sqrt(D) + bias
    t_idx = torch.arange(T)[:, None]
    s_idx = torch.arange(S)[None, :]
    visible = (s_idx <= t_idx + (S - T))[None, None] & (s_idx[None] < lengths[:, None, None])[:, None]
    s = s.masked_fill(~visible, float("-inf"))
    return torch.softmax(s, -1) @ v


case("attention", attention, {"q": rand(B, H, T, D), "k": rand(B, Hkv, S, D), "v": rand(B, Hkv, S, D),
                              "bias": rand(H, T, S), "lengths": lengths})

# Matrix products, all transposes.
for ta in (False, True):
    for tb in (False, True):
        m, k, n = 17, 63, 9
        a = rand(k, m) if ta else rand(m, k)
        b = rand(n, k) if tb else rand(k, n)
        case(f"matmul_{int(ta)}{int(tb)}", lambda a, b, ta=ta, tb=tb: (a.T if ta else a) @ (b.T if tb else b), {"a": a, "b": b})

# AdamW: three steps of torch.optim.AdamW from zero moments with a fixed gradient sequence.
p0 = rand(33)
grads = [rand(33) for _ in range(3)]
p = torch.nn.Parameter(p0.clone())
opt = torch.optim.AdamW([p], lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
for gr in grads:
    p.grad = gr.clone()
    opt.step()
out["adamw.p0"] = p0.numpy()
for i, gr in enumerate(grads):
    out[f"adamw.g{i}"] = gr.numpy()
out["adamw.p3"] = p.detach().numpy()

path = os.path.join(os.path.dirname(__file__), "kernels.safetensors")
safetensors_io.save(path, out, {"torch": torch.__version__})
print(f"wrote {len(out)} tensors to {path}")
