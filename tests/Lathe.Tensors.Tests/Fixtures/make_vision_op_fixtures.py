#!/usr/bin/env python3
"""Writes vision_ops.safetensors: the vision engine ops (conv2d, conv_transpose2d, group_norm, adaLN, cumsum,
leaky_relu) on float32 inputs, with a random upstream gradient, and PyTorch's output and input gradients (computed in
float64, stored as float32). Layout as make_kernel_fixtures.py: "<case>.<tensor>"; "<case>.params" (int32) holds the
op's integer arguments so the C# test reads each configuration from the file.

Regenerate:  /usr/bin/python3 tests/Lathe.Tensors.Tests/Fixtures/make_vision_op_fixtures.py
The C# test is Vision/VisionOpFixtureTests."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))
import safetensors_io  # noqa: E402

g = torch.Generator().manual_seed(2222)
out = {}


def rand(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).float()


def case(name, fn, inputs, params):
    """Runs fn on float64 copies of inputs (dict name -> float32 tensor), backprops a random upstream gradient."""
    xs = {k: v.double().requires_grad_(True) for k, v in inputs.items()}
    y = fn(**xs)
    up = rand(*y.shape)
    (y * up.double()).sum().backward()
    for k, v in inputs.items():
        out[f"{name}.{k}"] = v.numpy()
        out[f"{name}.grad_{k}"] = xs[k].grad.float().numpy()
    out[f"{name}.upstream"] = up.float().numpy()
    out[f"{name}.y"] = y.detach().float().numpy()
    out[f"{name}.params"] = torch.tensor(params, dtype=torch.int32).numpy()


# conv2d: (N, C, H, W, O, K, stride, padding, groups, bias)
conv = [(2, 3, 5, 6, 4, 3, 1, 1, 1, 1), (1, 2, 7, 5, 3, 3, 2, 0, 1, 1), (2, 4, 6, 6, 6, 4, 2, 1, 2, 0),
        (2, 2, 4, 3, 2, 1, 1, 0, 1, 1), (1, 4, 5, 4, 2, 3, 1, 1, 2, 1), (2, 8, 9, 7, 8, 3, 1, 1, 1, 1)]
for i, (n, c, h, w, o, k, s, p, grp, b) in enumerate(conv):
    inputs = {"x": rand(n, c, h, w), "w": rand(o, c // grp, k, k, lo=-0.5, hi=0.5)}
    if b:
        inputs["b"] = rand(o)
        fn = lambda x, w, b, s=s, p=p, grp=grp: F.conv2d(x, w, b, stride=s, padding=p, groups=grp)
    else:
        fn = lambda x, w, s=s, p=p, grp=grp: F.conv2d(x, w, None, stride=s, padding=p, groups=grp)
    case(f"conv2d_{i}", fn, inputs, [s, p, grp])

# conv_transpose2d: (N, C, H, W, O, K, stride, padding, output_padding, bias); weight (C, O, K, K)
convt = [(2, 3, 3, 4, 2, 4, 2, 1, 0, 1), (1, 2, 4, 3, 3, 3, 2, 1, 1, 1), (2, 3, 3, 3, 2, 3, 1, 1, 0, 0),
         (1, 2, 2, 5, 3, 1, 1, 0, 0, 1), (1, 2, 3, 2, 2, 3, 2, 0, 1, 1), (2, 6, 4, 3, 4, 4, 2, 1, 0, 1)]
for i, (n, c, h, w, o, k, s, p, op, b) in enumerate(convt):
    inputs = {"x": rand(n, c, h, w), "w": rand(c, o, k, k, lo=-0.5, hi=0.5)}
    if b:
        inputs["b"] = rand(o)
        fn = lambda x, w, b, s=s, p=p, op=op: F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op)
    else:
        fn = lambda x, w, s=s, p=p, op=op: F.conv_transpose2d(x, w, None, stride=s, padding=p, output_padding=op)
    case(f"conv_transpose2d_{i}", fn, inputs, [s, p, op])

# group_norm: (x shape, groups, affine); eps 1e-5
gn = [((2, 6, 3, 2), 3, 1), ((1, 4, 5, 1), 1, 1), ((3, 4, 2, 3), 4, 0), ((2, 8, 5, 5), 4, 1), ((2, 6, 7), 2, 1)]
for i, (shape, grp, affine) in enumerate(gn):
    c = shape[1]
    inputs = {"x": rand(*shape, lo=-2, hi=3)}
    if affine:
        inputs["w"] = rand(c, lo=0.5, hi=1.5)
        inputs["b"] = rand(c)
        fn = lambda x, w, b, grp=grp: F.group_norm(x, grp, w, b, 1e-5)
    else:
        fn = lambda x, grp=grp: F.group_norm(x, grp, None, None, 1e-5)
    case(f"group_norm_{i}", fn, inputs, [grp, affine])


def ada_layer_norm(x, shift, scale):
    n = F.layer_norm(x, (x.shape[-1],), None, None, 1e-6)
    return n * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


for i, (b, t, c) in enumerate([(2, 3, 5), (3, 4, 16)]):
    case(f"ada_layer_norm_{i}", ada_layer_norm,
         {"x": rand(b, t, c, lo=-2, hi=3), "shift": rand(b, c), "scale": rand(b, c, lo=-0.5, hi=0.5)}, [])


for i, shape in enumerate([(3, 2, 7), (4, 64)]):
    case(f"cumsum_{i}", lambda x: torch.cumsum(x, -1), {"x": rand(*shape)}, [0])
    # exclusive: the inclusive sum shifted right by one with a leading 0 (computed in float64, so no cancellation)
    case(f"cumsum_exclusive_{i}", lambda x: F.pad(torch.cumsum(x, -1)[..., :-1], (1, 0)), {"x": rand(*shape)}, [1])

# leaky_relu with slope 0.2; exact zeros included (PyTorch passes slope·grad there: grad·(x > 0 ? 1 : slope)).
lx = rand(5, 9, lo=-2, hi=2)
lx[0, :3] = 0.0
case("leaky_relu", lambda x: F.leaky_relu(x, 0.2), {"x": lx}, [])

path = os.path.join(os.path.dirname(__file__), "vision_ops.safetensors")
safetensors_io.save(path, out, {"torch": torch.__version__})
print(f"wrote {len(out)} tensors to {path} ({os.path.getsize(path)} bytes)")
