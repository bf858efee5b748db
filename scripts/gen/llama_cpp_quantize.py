#!/usr/bin/env python3
"""Quantizes a GGUF file with llama.cpp's own llama_model_quantize (the peer's libllama.v0.5.0.so, through ctypes),
so that k-quant files under test are made the way people's downloads are — by llama.cpp, with its per-tensor type
mix (Q4_K_M: Q6_K for half of attn_v/ffn_down and the output head, Q4_K elsewhere, …) — not by Lathe.

  /usr/bin/python3 scripts/gen/llama_cpp_quantize.py IN.gguf OUT.gguf q4_k_m

ftypes: q2_k q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m q6_k q8_0 q4_0 (llama.h's llama_ftype values).
The peer lives in .llama-peer/ (scripts/install-llama-peer.sh) or LLAMA_PEER_BINS=<dir of libllama.v0.5.0.so>."""
import ctypes
import os
import sys

FTYPES = {"q4_0": 2, "q8_0": 7, "q2_k": 10, "q3_k_s": 11, "q3_k_m": 12, "q3_k_l": 13, "q4_k_s": 14, "q4_k_m": 15,
          "q5_k_s": 16, "q5_k_m": 17, "q6_k": 18}


class QuantizeParams(ctypes.Structure):
    # llama.h (llama.cpp as shipped by node-llama-cpp 3.22.1): struct llama_model_quantize_params.
    _fields_ = [("nthread", ctypes.c_int32), ("ftype", ctypes.c_int), ("output_tensor_type", ctypes.c_int),
                ("token_embedding_type", ctypes.c_int), ("allow_requantize", ctypes.c_bool),
                ("quantize_output_tensor", ctypes.c_bool), ("only_copy", ctypes.c_bool), ("pure", ctypes.c_bool),
                ("keep_split", ctypes.c_bool), ("dry_run", ctypes.c_bool), ("imatrix", ctypes.c_void_p),
                ("kv_overrides", ctypes.c_void_p), ("tt_overrides", ctypes.c_void_p), ("prune_layers", ctypes.c_void_p),
                ("max_buf_size", ctypes.c_size_t)]


def bins():
    if os.environ.get("LLAMA_PEER_BINS"):
        return os.environ["LLAMA_PEER_BINS"]
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    return os.path.join(root, ".llama-peer", "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64")


def quantize(src, dst, ftype):
    if ftype not in FTYPES:
        raise SystemExit(f"ftype '{ftype}' is not one of {', '.join(FTYPES)}")
    d = bins()
    ctypes.CDLL(os.path.join(d, "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
    ctypes.CDLL(os.path.join(d, "libggml.v0.5.0.so"), mode=ctypes.RTLD_GLOBAL)
    llama = ctypes.CDLL(os.path.join(d, "libllama.v0.5.0.so"))
    llama.llama_model_quantize_default_params.restype = QuantizeParams
    llama.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(QuantizeParams)]
    llama.llama_model_quantize.restype = ctypes.c_uint32
    llama.llama_backend_init()
    params = llama.llama_model_quantize_default_params()
    params.ftype = FTYPES[ftype]
    params.nthread = 1   # deterministic either way; one thread keeps the machine free
    tmp = dst + ".tmp"
    if llama.llama_model_quantize(src.encode(), tmp.encode(), ctypes.byref(params)) != 0:
        raise SystemExit(f"llama_model_quantize failed on {src}")
    os.replace(tmp, dst)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    quantize(sys.argv[1], sys.argv[2], sys.argv[3])
