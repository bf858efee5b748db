#!/usr/bin/env python3
"""The peer figure for `lathe bench kquantize`: seconds for ggml's own quantize_qX_K (libggml-base.so of
node-llama-cpp, one thread — llama.cpp's quantizer splits rows over threads itself, so scale by the thread count when
comparing) on Gaussian rows of 2048, without and with importance weights, and ggml_fp32_to_bf16_row_ref.

Run:  /usr/bin/python3 scripts/bench/kquantize-ggml.py [params]   (default 4,000,000 weights; JSON last)"""
import ctypes
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, ".llama-peer", "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64", "libggml-base.so")
COLUMNS = 2048
SIZES = {"q2_k": 84, "q3_k": 110, "q4_k": 144, "q5_k": 176, "q6_k": 210}

ggml = ctypes.CDLL(LIB)
fp = ctypes.POINTER(ctypes.c_float)
params = int(sys.argv[1]) if len(sys.argv) > 1 else 4_000_000
rows = params // COLUMNS
r = np.random.default_rng(19)
w = (r.standard_normal((rows, COLUMNS)) * 0.02).astype(np.float32)
imp = (0.1 + r.random(COLUMNS)).astype(np.float32)
out = {"bench": "kquantize-ggml", "threads": 1, "params": rows * COLUMNS}
for t, size in SIZES.items():
    f = getattr(ggml, f"quantize_{t[:2]}_K")
    f.argtypes, f.restype = [fp, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, fp], ctypes.c_size_t
    dst = np.zeros(rows * COLUMNS // 256 * size, np.uint8)
    for name, weights in [(t, None), (t + "_imatrix", imp.ctypes.data_as(fp))]:
        start = time.perf_counter()
        f(w.ctypes.data_as(fp), dst.ctypes.data, rows, COLUMNS, weights)
        s = time.perf_counter() - start
        print(f"ggml {name:<12} {rows}×{COLUMNS}, 1 thread: {s:.2f} s, {rows * COLUMNS / s / 1e6:.1f} M weights/s", file=sys.stderr)
        out[name + "_s"] = round(s, 4)
bf = np.zeros(rows * COLUMNS, np.uint16)
ggml.ggml_fp32_to_bf16_row_ref.argtypes = [fp, ctypes.c_void_p, ctypes.c_int64]
start = time.perf_counter()
ggml.ggml_fp32_to_bf16_row_ref(w.ctypes.data_as(fp), bf.ctypes.data, rows * COLUMNS)
out["bf16_s"] = round(time.perf_counter() - start, 4)
print(json.dumps(out))
