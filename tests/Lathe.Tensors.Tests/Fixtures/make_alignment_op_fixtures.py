#!/usr/bin/env python3
"""Writes alignment_ops.safetensors: the engine ops of the alignment losses (per-token log-probs, the sigmoid family,
clamp, minimum, maximum) on float32 inputs, with a random upstream gradient, and PyTorch's output and input gradients
(computed in float64, stored as float32). Same layout as make_kernel_fixtures.py: "<case>.<tensor>".

Regenerate:  /usr/bin/python3 tests/Lathe.Tensors.Tests/Fixtures/make_alignment_op_fixtures.py
The C# test is AlignmentOpTests."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))
import safetensors_io  # noqa: E402

g = torch.Generator().manual_seed(1414)
out = {}


def rand(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).float()


def case(name, fn, inputs):
    """Runs fn on float64 copies of inputs (dict name -> float32 tensor), backprops a random upstream gradient."""
    xs = {k: v.double().requires_grad_(v.is_floating_point()) for k, v in inputs.items()}
    y = fn(**xs)
    up = rand(*y.shape)
    (y * up.double()).sum().backward()
    for k, v in inputs.items():
        out[f"{name}.{k}"] = v.numpy() if v.is_floating_point() else v.int().numpy()
        if v.is_floating_point():
            out[f"{name}.grad_{k}"] = xs[k].grad.float().numpy()
    out[f"{name}.upstream"] = up.float().numpy()
    out[f"{name}.y"] = y.detach().float().numpy()


def token_log_probs(x, t):
    """log_softmax(x)[i, t_i], 0 where t_i = -100 (masked, so ignored rows get no gradient)."""
    keep = t != -100
    safe = torch.where(keep, t, torch.zeros_like(t)).long()
    lp = torch.log_softmax(x, -1).gather(1, safe.unsqueeze(1)).squeeze(1)
    return torch.where(keep, lp, torch.zeros_like(lp))


for n, v in [(5, 17), (63, 129), (17, 1000)]:
    t = torch.randint(0, v, (n,), generator=g)
    t[1::4] = -100
    case(f"token_log_probs_{n}x{v}", token_log_probs, {"x": rand(n, v, lo=-4, hi=4), "t": t})

# The sigmoid family over a wide range: the tails (|x| up to 40) are where a naive log(sigmoid(x)) fails.
wide = torch.cat([rand(61, lo=-8, hi=8), torch.tensor([-40.0, -20.0, -0.0, 0.0, 20.0, 40.0])])
case("sigmoid", torch.sigmoid, {"x": wide.clone()})
case("log_sigmoid", F.logsigmoid, {"x": wide.clone()})
case("softplus", F.softplus, {"x": wide.clone()})

# Clamp, minimum and maximum; no ties and no value on a bound (PyTorch splits a tie's gradient, Lathe gives it to a).
case("clamp", lambda x: torch.clamp(x, 0.8, 1.2), {"x": rand(7, 9, lo=0.5, hi=1.5)})
case("minimum", lambda a, b: torch.minimum(a, b), {"a": rand(7, 9), "b": rand(7, 9)})
case("maximum", lambda a, b: torch.maximum(a, b), {"a": rand(7, 9), "b": rand(7, 9)})

path = os.path.join(os.path.dirname(__file__), "alignment_ops.safetensors")
safetensors_io.save(path, out, {"torch": torch.__version__})
print(f"wrote {len(out)} tensors to {path}")
