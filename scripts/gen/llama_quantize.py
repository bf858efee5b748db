#!/usr/bin/env python3
"""llama.cpp's own quantizer, called through ctypes on the peer's libllama (node-llama-cpp's build): quantizes a GGUF
file to one of llama.cpp's presets (LLAMA_FTYPE_MOSTLY_*), optionally with an importance matrix, and reads back the
type of every tensor of a GGUF file. Used by the quantization-mix reference and scripts/bench/quant-quality.sh.

  /usr/bin/python3 scripts/gen/llama_quantize.py --in f32.gguf --out q4_k_m.gguf --preset q4_k_m [--imatrix m.gguf]
"""
import argparse
import ctypes
import os
import struct
import sys

import numpy as np

FTYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7, "q2_k": 10, "q3_k_s": 11, "q3_k_m": 12, "q3_k_l": 13,
          "q4_k_s": 14, "q4_k_m": 15, "q5_k_s": 16, "q5_k_m": 17, "q6_k": 18, "bf16": 32,
          "q3_k": 12, "q4_k": 15, "q5_k": 17}
# ggml type ids → ggml_type_name
TYPE_NAMES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0", 10: "q2_K", 11: "q3_K",
              12: "q4_K", 13: "q5_K", 14: "q6_K", 30: "bf16"}


def peer_bins():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    return os.environ.get("LLAMA_PEER_BINS") or os.path.join(
        root, ".llama-peer", "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64")


class ImatrixData(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.POINTER(ctypes.c_float)), ("size", ctypes.c_size_t)]


class QuantizeParams(ctypes.Structure):
    # llama.h's llama_model_quantize_params, field for field
    _fields_ = [("nthread", ctypes.c_int32), ("ftype", ctypes.c_int32), ("output_tensor_type", ctypes.c_int32),
                ("token_embedding_type", ctypes.c_int32), ("allow_requantize", ctypes.c_bool),
                ("quantize_output_tensor", ctypes.c_bool), ("only_copy", ctypes.c_bool), ("pure", ctypes.c_bool),
                ("keep_split", ctypes.c_bool), ("dry_run", ctypes.c_bool), ("imatrix", ctypes.POINTER(ImatrixData)),
                ("kv_overrides", ctypes.c_void_p), ("tt_overrides", ctypes.c_void_p), ("prune_layers", ctypes.c_void_p),
                ("max_buf_size", ctypes.c_size_t)]


_lib = None


def libllama():
    global _lib
    if _lib is None:
        bins = peer_bins()
        for dep in ("libggml-base.so", "libggml.v0.5.0.so"):
            ctypes.CDLL(os.path.join(bins, dep), mode=ctypes.RTLD_GLOBAL)
        lib = ctypes.CDLL(os.path.join(bins, "libllama.v0.5.0.so"), mode=ctypes.RTLD_GLOBAL)
        lib.llama_model_quantize_default_params.restype = QuantizeParams
        lib.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(QuantizeParams)]
        lib.llama_model_quantize.restype = ctypes.c_uint32
        quiet = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)(lambda level, text, user: None)
        lib._quiet = quiet  # keep the callback alive
        if not os.environ.get("LLAMA_VERBOSE"):
            lib.llama_log_set(quiet, None)
        lib.llama_backend_init()
        _lib = lib
    return _lib


def quantize(src, dst, preset, imatrix=None, pure=False, threads=1):
    """imatrix: {tensor name: float array of per-column importance (already divided by the counts)}."""
    lib = libllama()
    params = lib.llama_model_quantize_default_params()
    params.ftype = FTYPES[preset]
    params.nthread = threads
    params.pure = pure
    keep = []
    if imatrix:
        entries = (ImatrixData * (len(imatrix) + 1))()
        for i, (name, values) in enumerate(sorted(imatrix.items())):
            arr = np.ascontiguousarray(values, dtype=np.float32)
            keep.append(arr)
            entries[i].name = name.encode()
            entries[i].data = arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            entries[i].size = arr.size
        entries[len(imatrix)].name = None
        params.imatrix = entries
        keep.append(entries)
    rc = lib.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} → {dst}, {preset}) returned {rc}")


def tensor_types(path):
    """{name: (ggml type name, dims)} from a GGUF file's header."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip_value(t):
        nonlocal pos
        if t == 8:
            string()
        elif t == 9:
            et, n = take("I"), take("Q")
            for _ in range(n):
                skip_value(et)
        else:
            pos += sizes[t]

    assert data[:4] == b"GGUF"
    pos = 8
    n_tensors, n_kv = take("Q"), take("Q")
    for _ in range(n_kv):
        string()
        skip_value(take("I"))
    result = {}
    for _ in range(n_tensors):
        name = string()
        n_dims = take("I")
        dims = [take("Q") for _ in range(n_dims)]
        t = take("I")
        take("Q")
        result[name] = (TYPE_NAMES.get(t, str(t)), dims)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--in", dest="src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", required=True, choices=sorted(FTYPES))
    ap.add_argument("--imatrix", help="a GGUF imatrix file (name.in_sum2 / name.counts tensors)")
    ap.add_argument("--pure", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    imatrix = read_imatrix_gguf(a.imatrix) if a.imatrix else None
    quantize(a.src, a.out, a.preset, imatrix, a.pure, a.threads)


def read_imatrix_gguf(path):
    """sums / counts per entry, as llama.cpp's quantize tool normalises a GGUF imatrix (a count of 0 gives ones)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__)))
    with open(path, "rb") as f:
        data = f.read()
    infos, offset = gguf_tensor_table(data)
    tensors = {}
    for name, (dims, t, off) in infos.items():
        assert t == 0, f"{path}: {name} is not F32"
        n = int(np.prod(dims))
        tensors[name] = np.frombuffer(data, dtype="<f4", count=n, offset=offset + off).reshape(-1)
    result = {}
    for name in tensors:
        if name.endswith(".in_sum2"):
            base = name[:-len(".in_sum2")]
            sums, counts = tensors[name], tensors[base + ".counts"]
            per = sums.size // counts.size
            out = np.ones_like(sums)
            for j, c in enumerate(counts):
                if c > 0:
                    out[j * per:(j + 1) * per] = sums[j * per:(j + 1) * per] / c
            result[base] = out
    return result


def gguf_tensor_table(data, alignment=32):
    """({name: (dims, type, offset)}, data section start) of a GGUF file held in memory."""
    pos = 8
    n_tensors, n_kv = struct.unpack_from("<QQ", data, pos)
    pos += 16
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def string(p):
        n = struct.unpack_from("<Q", data, p)[0]
        return data[p + 8:p + 8 + n].decode("utf-8"), p + 8 + n

    def skip(t, p):
        if t == 8:
            return string(p)[1]
        if t == 9:
            et, n = struct.unpack_from("<IQ", data, p)
            p += 12
            for _ in range(n):
                p = skip(et, p)
            return p
        return p + sizes[t]

    for _ in range(n_kv):
        key, pos = string(pos)
        t = struct.unpack_from("<I", data, pos)[0]
        if key == "general.alignment":
            alignment = struct.unpack_from("<I", data, pos + 4)[0]
        pos = skip(t, pos + 4)
    infos = {}
    for _ in range(n_tensors):
        name, pos = string(pos)
        nd = struct.unpack_from("<I", data, pos)[0]
        dims = struct.unpack_from("<" + "Q" * nd, data, pos + 4)
        pos += 4 + 8 * nd
        t, off = struct.unpack_from("<IQ", data, pos)
        pos += 12
        infos[name] = (dims, t, off)
    start = (pos + alignment - 1) // alignment * alignment
    return infos, start


if __name__ == "__main__":
    main()
