#!/usr/bin/env python3
"""Writes block.safetensors: inputs, parameters, output and every gradient of one pre-LN Transformer
block (GPT-2 style: LayerNorm → causal multi-head self-attention → residual → LayerNorm → GELU(tanh) MLP
→ residual), computed by PyTorch in float64 from float32 inputs, then stored as float32.

Regenerate:  /usr/bin/python3 tests/Lathe.Tensors.Tests/Fixtures/make_block_fixtures.py
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))
import safetensors_io  # noqa: E402

B, T, C, H = 2, 7, 16, 4
D = C // H
EPS = 1e-5

g = torch.Generator().manual_seed(1234)


def rand(*shape, scale=1.0):
    return (torch.randn(*shape, generator=g) * scale).float()


params = {
    "ln_1.weight": 1 + rand(C, scale=0.1), "ln_1.bias": rand(C, scale=0.1),
    "attn.c_attn.weight": rand(3 * C, C, scale=0.2), "attn.c_attn.bias": rand(3 * C, scale=0.1),
    "attn.c_proj.weight": rand(C, C, scale=0.2), "attn.c_proj.bias": rand(C, scale=0.1),
    "ln_2.weight": 1 + rand(C, scale=0.1), "ln_2.bias": rand(C, scale=0.1),
    "mlp.c_fc.weight": rand(4 * C, C, scale=0.2), "mlp.c_fc.bias": rand(4 * C, scale=0.1),
    "mlp.c_proj.weight": rand(C, 4 * C, scale=0.2), "mlp.c_proj.bias": rand(C, scale=0.1),
}
x = rand(B, T, C)
upstream = rand(B, T, C)  # the gradient flowing into the block's output

p64 = {k: v.double().requires_grad_(True) for k, v in params.items()}
x64 = x.double().requires_grad_(True)


def block(x, p):
    h = torch.nn.functional.layer_norm(x, (C,), p["ln_1.weight"], p["ln_1.bias"], EPS)
    qkv = h @ p["attn.c_attn.weight"].T + p["attn.c_attn.bias"]
    q, k, v = qkv.split(C, dim=-1)
    q, k, v = (t.reshape(B, T, H, D).transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(D)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    a = torch.softmax(scores, dim=-1) @ v
    a = a.transpose(1, 2).reshape(B, T, C)
    x = x + a @ p["attn.c_proj.weight"].T + p["attn.c_proj.bias"]
    h = torch.nn.functional.layer_norm(x, (C,), p["ln_2.weight"], p["ln_2.bias"], EPS)
    h = h @ p["mlp.c_fc.weight"].T + p["mlp.c_fc.bias"]
    h = torch.nn.functional.gelu(h, approximate="tanh")
    return x + h @ p["mlp.c_proj.weight"].T + p["mlp.c_proj.bias"]


y = block(x64, p64)
(y * upstream.double()).sum().backward()

out = {"x": x.numpy(), "upstream": upstream.numpy(), "y": y.detach().float().numpy(), "grad.x": x64.grad.float().numpy()}
for k, v in params.items():
    out["param." + k] = v.numpy()
    out["grad." + k] = p64[k].grad.float().numpy()
safetensors_io.save(os.path.join(os.path.dirname(__file__), "block.safetensors"), out,
                    {"B": B, "T": T, "C": C, "H": H, "eps": EPS, "torch": torch.__version__})
print("wrote block.safetensors", {k: list(v.shape) for k, v in out.items()})
