#!/usr/bin/env python3
"""Writes kquants.safetensors: ggml's own k-quant blocks and their decoded floats, made by calling llama.cpp's
libggml-base.so (the peer's build) through ctypes — quantize_row_qX_K_ref for the blocks, dequantize_row_qX_K for the
floats, quantize_row_q8_K_ref for activation blocks (d, qs, bsums). Block bytes are stored four to an I32 element
(little-endian; every row is a multiple of 4 bytes), since the fixture helper has no U8.

Regenerate:  /usr/bin/python3 tests/Lathe.Tensors.Tests/Fixtures/make_kquant_fixtures.py
Read by Quantized/KBlocksTests.cs."""
import ctypes
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))
import safetensors_io  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BINS = os.path.join(HERE, "..", "..", "..", ".llama-peer", "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64")
ggml = ctypes.CDLL(os.path.join(BINS, "libggml-base.so"))

QK_K = 256
BLOCK_BYTES = {"q2_k": 84, "q3_k": 110, "q4_k": 144, "q5_k": 176, "q6_k": 210}
Q8K_BYTES = 4 + QK_K + 2 * (QK_K // 16)

for name in BLOCK_BYTES:
    for fn in (f"quantize_row_{name[:-1]}K_ref", f"dequantize_row_{name[:-1]}K"):
        getattr(ggml, fn).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        getattr(ggml, fn).restype = None
ggml.quantize_row_q8_K_ref.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
ggml.quantize_row_q8_K_ref.restype = None

rng = np.random.default_rng(19)


def row(k):
    """A row with the shapes real weights show: a normal bulk, a few outliers, one all-zero super-block, one
    super-block of one sign (min offsets matter), one whose largest magnitude is negative."""
    x = rng.standard_normal(k).astype(np.float32) * 0.05
    x[rng.integers(0, k, 6)] *= 40
    x[QK_K:2 * QK_K] = 0
    if k >= 3 * QK_K:
        x[2 * QK_K:3 * QK_K] = np.abs(x[2 * QK_K:3 * QK_K]) + 0.3
    if k >= 4 * QK_K:
        x[3 * QK_K + 7] = -5.0
    return x


out = {}
k = 4 * QK_K
for name, bb in BLOCK_BYTES.items():
    short = name[:-1] + "K"
    x = np.stack([row(k) for _ in range(3)])
    blocks = np.zeros((3, k // QK_K * bb), dtype=np.uint8)
    decoded = np.zeros((3, k), dtype=np.float32)
    for r in range(3):
        xr = np.ascontiguousarray(x[r])
        getattr(ggml, f"quantize_row_{short}_ref")(xr.ctypes.data, blocks[r].ctypes.data, k)
        getattr(ggml, f"dequantize_row_{short}")(blocks[r].ctypes.data, decoded[r].ctypes.data, k)
    # Random bytes are valid blocks too (every bit pattern decodes), except for non-finite fp16 scales: reach the
    # scale and quant values the reference quantizer never writes (e.g. Q6_K scale −128, Q3_K scale −32).
    raw = rng.integers(0, 256, (2, k // QK_K * bb), dtype=np.uint8)
    for r in range(2):
        for b in range(k // QK_K):
            blk = raw[r, b * bb:(b + 1) * bb]
            scale_offsets = {"q2_k": [80, 82], "q3_k": [108], "q4_k": [0, 2], "q5_k": [0, 2], "q6_k": [208]}[name]
            for o in scale_offsets:
                blk[o:o + 2] = np.frombuffer(np.float16(rng.uniform(-0.02, 0.02)).tobytes(), dtype=np.uint8)
    raw_decoded = np.zeros((2, k), dtype=np.float32)
    for r in range(2):
        rr = np.ascontiguousarray(raw[r])
        getattr(ggml, f"dequantize_row_{short}")(rr.ctypes.data, raw_decoded[r].ctypes.data, k)
    out[f"{name}.blocks"] = np.ascontiguousarray(np.concatenate([blocks, raw])).view(np.int32)
    out[f"{name}.decoded"] = np.concatenate([decoded, raw_decoded])

# Q8_K activations: rows with ties at ±0.5 steps, an all-zero block, a block whose largest magnitude is negative.
k = 3 * QK_K
x = np.stack([rng.standard_normal(k).astype(np.float32) * s for s in (1.0, 0.01, 30.0)])
x[0, QK_K:2 * QK_K] = 0
x[1, 2 * QK_K + 3] = -0.5
x[2, :16] = np.float32(127.0) * np.arange(16, dtype=np.float32) / 254.0   # exact half steps when max = 127
x[2, 20] = 127.0
q8 = np.zeros((3, k // QK_K * Q8K_BYTES), dtype=np.uint8)
for r in range(3):
    xr = np.ascontiguousarray(x[r])
    ggml.quantize_row_q8_K_ref(xr.ctypes.data, q8[r].ctypes.data, k)
out["q8_k.x"] = x
out["q8_k.blocks"] = q8.view(np.int32)

safetensors_io.save(os.path.join(HERE, "kquants.safetensors"), out,
                    metadata={"source": "libggml-base.so of node-llama-cpp 3.22.1 via ctypes"})
print("wrote", os.path.join(HERE, "kquants.safetensors"))
