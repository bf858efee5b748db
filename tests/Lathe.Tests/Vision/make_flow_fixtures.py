#!/usr/bin/env python3
"""Writes fixtures/realnvp.model.safetensors (a tiny RealNVP's weights, random so every path is exercised) and
fixtures/realnvp.expected.safetensors: the pre-processing (uniform dequantisation, logit with alpha) and its
log-determinant, the flow's z, its log|det J| by brute force (torch.autograd.functional.jacobian + slogdet of each
image's full D×D Jacobian), the log-density, the bits/dim loss and its gradient for every parameter — all in float64
from float32 inputs, written here from Dinh et al. 2017 (eq. 6-9, §4.1) as the oracle for RealNvpModel.

Regenerate:  /usr/bin/python3 tests/Lathe.Tests/Vision/make_flow_fixtures.py
The C# test is Vision/RealNvpTests."""
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "fixtures"))
import safetensors_io  # noqa: E402

torch.manual_seed(2207)
C, SIDE, K, H, ALPHA, B = 1, 4, 4, 6, 0.05, 3
D = C * SIDE * SIDE


def mask(k):
    """Coupling k: checkerboard, its complement, even rows, odd rows, and round (1 = conditioning)."""
    m = torch.zeros(C, SIDE, SIDE, dtype=torch.float64)
    checker, flip = (k // 2) % 2 == 0, k % 2 == 1
    for i in range(SIDE):
        for j in range(SIDE):
            on = (i + j) % 2 == 0 if checker else i % 2 == 0
            m[:, i, j] = 1.0 if on != flip else 0.0
    return m.reshape(D)


def u(*shape, lo=-0.5, hi=0.5):
    return (torch.rand(*shape) * (hi - lo) + lo).float()


params = {}
for k in range(K):
    n = f"couplings.{k}"
    params[n + ".net.0.weight"] = u(H, D)
    params[n + ".net.0.bias"] = u(H)
    params[n + ".net.1.weight"] = u(H, H)
    params[n + ".net.1.bias"] = u(H)
    params[n + ".scale.weight"] = u(D, H)
    params[n + ".scale.bias"] = u(D)
    params[n + ".shift.weight"] = u(D, H)
    params[n + ".shift.bias"] = u(D)
    params[n + ".scale_gain"] = u(D, lo=0.5, hi=1.5)
P = {name: v.double().requires_grad_(True) for name, v in params.items()}


def coupling_st(k, x):
    n, m = f"couplings.{k}", mask(k)
    h = torch.relu((x * m) @ P[n + ".net.0.weight"].T + P[n + ".net.0.bias"])
    h = torch.relu(h @ P[n + ".net.1.weight"].T + P[n + ".net.1.bias"])
    s = P[n + ".scale_gain"] * torch.tanh(h @ P[n + ".scale.weight"].T + P[n + ".scale.bias"]) * (1 - m)
    t = (h @ P[n + ".shift.weight"].T + P[n + ".shift.bias"]) * (1 - m)
    return s, t


def flow(y):
    x = y
    for k in range(K):
        s, t = coupling_st(k, x)
        x = x * torch.exp(s) + t
    return x


pixels = torch.randint(0, 256, (B, D)).float()
uniforms = torch.rand(B, D).float()
xt = (pixels.double() + uniforms.double()).requires_grad_(True)
p = ALPHA + (1 - 2 * ALPHA) * xt / 256.0
y = torch.log(p) - torch.log1p(-p)
dy = torch.autograd.grad(y.sum(), xt)[0]          # the map is elementwise: its Jacobian is this diagonal
pre_logdet = torch.log(dy).sum(1)
y = y.detach().float()

yd = y.double().requires_grad_(True)
z = flow(yd)
logdet = []
for b in range(B):
    jac = torch.autograd.functional.jacobian(lambda v: flow(v.unsqueeze(0)).squeeze(0), yd[b].detach())
    sign, ld = torch.linalg.slogdet(jac)
    assert sign > 0
    logdet.append(ld)
logdet = torch.stack(logdet)
log_density = -0.5 * (z * z).sum(1) - 0.5 * D * math.log(2 * math.pi) + logdet
# The loss's gradient needs log det as a function of the parameters: the triangular form, Σ s, which the brute-force
# determinant above must equal.
analytic = torch.zeros(B, dtype=torch.float64)
x = yd
for k in range(K):
    s, t = coupling_st(k, x)
    analytic = analytic + s.sum(1)
    x = x * torch.exp(s) + t
assert torch.allclose(analytic, logdet, atol=1e-9), (analytic, logdet)
ll = -0.5 * (z * z).sum(1) - 0.5 * D * math.log(2 * math.pi) + analytic
loss = -(ll.mean() + pre_logdet.mean()) / (D * math.log(2))
loss.backward()

out = {
    "pixels": pixels.numpy(), "uniforms": uniforms.numpy(), "y": y.numpy(),
    "pre_logdet": pre_logdet.detach().float().numpy(),
    "z": z.detach().float().numpy(), "logdet": logdet.detach().float().numpy(),
    "log_density": log_density.detach().float().numpy(), "loss": loss.detach().float().reshape(1).numpy(),
    "grad.y": yd.grad.float().numpy(),
}
for name, v in P.items():
    out["grad." + name] = v.grad.float().numpy()
os.makedirs(os.path.join(HERE, "fixtures"), exist_ok=True)
config = {"num_channels": C, "image_size": SIDE, "num_couplings": K, "hidden_size": H, "alpha": ALPHA}
safetensors_io.save(os.path.join(HERE, "fixtures", "realnvp.model.safetensors"), {k: v.numpy() for k, v in params.items()}, config)
safetensors_io.save(os.path.join(HERE, "fixtures", "realnvp.expected.safetensors"), out, config)
print("wrote", len(out), "expected tensors; loss", float(loss))
