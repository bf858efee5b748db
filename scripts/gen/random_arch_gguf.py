#!/usr/bin/env python3
"""Writes small random-weight GGUF files of the architectures beyond plain Llama, laid out the way llama.cpp's HF->GGUF
converter lays them out, for Lathe's architecture parity fixtures:

  llama3       general.architecture "llama" with Llama 3's RoPE frequency scaling: the converter's per-pair divisors
               in the F32 tensor rope_freqs.weight (factor 8, low/high frequency factors 1 and 4, original context 64,
               so that at head dim 16 two of the eight frequencies fall in the smoothed band); q/k rows permuted for
               ggml's adjacent-pair RoPE.
  qwen2        "qwen2": q/k/v biases (F32), NEOX RoPE (no q/k permutation), rope base 1e6.
  mistral-swa  "llama" with llama.attention.sliding_window = 8 — a key llama.cpp does not read for this architecture.
  phi3         "phi3": fused attn_qkv.weight (q|k|v rows) and fused ffn_up.weight (gate rows, then up rows), NEOX RoPE,
               phi3.attention.sliding_window = 8 (read, then disabled by llama.cpp).

Weights are rounded to values that float16 AND bfloat16 hold exactly, so the F32, F16 and BF16 files of one seed carry
the same numbers: only the F16 files are committed, and the F32 reference run by llama.cpp is of exactly the weights a
Lathe test decodes from the F16 file. Shapes: vocab 512 (GPT-2 bytes + merges), d 64, 2 layers, 4 heads / 2 kv heads,
ffn 96, context 256.

  /usr/bin/python3 scripts/gen/random_arch_gguf.py --arch phi3 --type f16 --out phi3-f16.gguf --seed 23
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from random_llama_gguf import (ALIGN, GGML_F16, GGML_F32, gpt2_vocab,  # noqa: E402
                               permute_for_ggml_rope, write_gguf)

GGML_BF16 = 30
ARCHS = ["llama3", "qwen2", "mistral-swa", "phi3"]


def bf16_bytes(x):
    """ggml's fp32 -> bf16: round to nearest even on the upper 16 bits (the values here are exact, so it only truncates)."""
    u = np.ascontiguousarray(x, dtype="<f4").view("<u4").astype(np.uint64)
    r = ((u + (0x7FFF + ((u >> 16) & 1))) >> 16).astype("<u2")
    return r.tobytes()


def exact_in_f16_and_bf16(x):
    """Rounds to bfloat16 (8 significant bits), then flushes magnitudes below float16's normal range to zero, so both
    16-bit types hold every value exactly."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + (0x7FFF + ((u >> 16) & 1))) >> 16) << 16
    y = u.astype(np.uint32).view(np.float32)
    y = np.where(np.abs(y) < 2.0 ** -14, np.float32(0), y).astype(np.float32)
    assert np.array_equal(y.astype(np.float16).astype(np.float32), y)
    return y


def encode(x, ggml_type):
    if ggml_type == GGML_F32:
        return x.astype("<f4").tobytes()
    if ggml_type == GGML_F16:
        return x.astype("<f2").tobytes()
    return bf16_bytes(x)


def llama3_rope_factors(head_dim, base, factor, low_freq_factor, high_freq_factor, original_context):
    """The divisor of each of the head_dim/2 rotary frequencies (Llama 3's "llama3" rope_type, as the HF->GGUF converter
    stores it in rope_freqs.weight): 1 above the high-frequency wavelength bound, `factor` below the low one, and a
    smooth blend between."""
    out = []
    for i in range(head_dim // 2):
        freq = 1.0 / base ** (2 * i / head_dim)
        wavelen = 2 * math.pi / freq
        if wavelen < original_context / high_freq_factor:
            out.append(1.0)
        elif wavelen > original_context / low_freq_factor:
            out.append(factor)
        else:
            smooth = (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def build(arch, wtype, seed):
    n_vocab, tok_meta = gpt2_vocab(512)
    rng = np.random.default_rng(seed)
    C, H, Hkv, D, F, L, ctx = 64, 4, 2, 16, 96, 2, 256
    gguf_arch = {"llama3": "llama", "mistral-swa": "llama"}.get(arch, arch)
    neox = gguf_arch != "llama"          # qwen2 and phi3 rotate (i, i + D/2) pairs: no converter permutation

    def normal(std, *shape):
        return exact_in_f16_and_bf16(rng.standard_normal(shape, dtype=np.float32) * np.float32(std))

    tensors = []

    def matrix(name, w):                 # w is (out, in) as in PyTorch; ggml dims are [in, out]
        tensors.append((name, [w.shape[1], w.shape[0]], wtype, encode(w, wtype)))

    def vector(name, v):
        tensors.append((name, [v.shape[0]], GGML_F32, v.astype("<f4").tobytes()))

    def rope_rows(w, heads):
        return w if neox else permute_for_ggml_rope(w, heads)

    matrix("token_embd.weight", normal(1.0, n_vocab, C))
    if arch == "llama3":
        vector("rope_freqs.weight", llama3_rope_factors(D, 10000.0, 8.0, 1.0, 4.0, 64))
    for l in range(L):
        p = "blk.%d." % l
        vector(p + "attn_norm.weight", 1 + normal(0.1, C))
        q, k, v = normal(0.125, H * D, C), normal(0.125, Hkv * D, C), normal(0.2, Hkv * D, C)
        if arch == "phi3":
            matrix(p + "attn_qkv.weight", np.concatenate([q, k, v]))
        else:
            matrix(p + "attn_q.weight", rope_rows(q, H))
            matrix(p + "attn_k.weight", rope_rows(k, Hkv))
            matrix(p + "attn_v.weight", v)
        if arch == "qwen2":
            vector(p + "attn_q.bias", normal(0.5, H * D))
            vector(p + "attn_k.bias", normal(0.5, Hkv * D))
            vector(p + "attn_v.bias", normal(0.5, Hkv * D))
        matrix(p + "attn_output.weight", normal(0.2, C, H * D))
        vector(p + "ffn_norm.weight", 1 + normal(0.1, C))
        gate, up = normal(0.2, F, C), normal(0.2, F, C)
        if arch == "phi3":
            matrix(p + "ffn_up.weight", np.concatenate([gate, up]))
        else:
            matrix(p + "ffn_gate.weight", gate)
            matrix(p + "ffn_up.weight", up)
        matrix(p + "ffn_down.weight", normal(0.15, C, F))
    vector("output_norm.weight", 1 + normal(0.1, C))
    # A separate head: a tied random head mostly repeats the last token (its own embedding dominates the logits).
    matrix("output.weight", normal(0.5, n_vocab, C))

    a = gguf_arch
    meta = [
        ("general.architecture", a),
        # Not the architecture's name: llama.cpp's vocabulary loader keys Phi-3 token attributes on "phi3" in the name
        # and looks up Phi-3's special tokens, which a GPT-2 vocabulary lacks.
        ("general.name", "lathe-random-arch-fixture"),
        ("general.file_type", {GGML_F32: 0, GGML_F16: 1, GGML_BF16: 32}[wtype]),
        ("general.alignment", ("u32", ALIGN)),
        (a + ".context_length", ctx),
        (a + ".embedding_length", C),
        (a + ".block_count", L),
        (a + ".feed_forward_length", F),
        (a + ".attention.head_count", H),
        (a + ".attention.head_count_kv", Hkv),
        (a + ".attention.layer_norm_rms_epsilon", 1e-5),
        (a + ".rope.freq_base", 1000000.0 if arch == "qwen2" else 10000.0),
        (a + ".rope.dimension_count", D),
    ]
    if a == "llama":
        meta.append(("llama.vocab_size", n_vocab))
    if arch == "mistral-swa":
        meta.append(("llama.attention.sliding_window", 8))
    if arch == "phi3":
        meta += [("phi3.attention.sliding_window", 8), ("phi3.rope.scaling.original_context_length", ctx)]
    return meta + tok_meta, tensors, n_vocab


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=ARCHS, required=True)
    ap.add_argument("--type", choices=["f32", "f16", "bf16"], default="f32")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    wtype = {"f32": GGML_F32, "f16": GGML_F16, "bf16": GGML_BF16}[a.type]
    meta, tensors, n_vocab = build(a.arch, wtype, a.seed)
    write_gguf(a.out, meta, tensors)
    print(json.dumps({"out": a.out, "arch": a.arch, "type": a.type, "vocab": n_vocab, "bytes": os.path.getsize(a.out)}))


if __name__ == "__main__":
    sys.exit(main())
