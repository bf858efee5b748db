#!/usr/bin/env python3
"""Writes a gemma- or gemma2-architecture GGUF file with random weights, laid out as llama.cpp's HF->GGUF converter
(conversion/gemma.py) lays one out: q/k rows in Hugging Face's order (Gemma uses NeoX rope, so nothing is permuted),
norm weights stored as 1 + Hugging Face's weight (the converter adds the 1), no output.weight (the head is token_embd),
key_length/value_length written, gemma2's soft caps and sliding window as metadata.

Independent of Lathe (numpy, and the GGUF writer and SentencePiece vocabulary of random_llama_gguf.py), so Lathe's
reader and llama.cpp read the same bytes neither of them wrote. Used for the Gemma parity fixtures
(tests/Lathe.Tests/Inference/make_gemma_fixtures.sh).

  /usr/bin/python3 scripts/gen/random_gemma_gguf.py --arch gemma2 --out m.gguf --type f32 --layers 3 \
      --window 8 --attn-softcap 3 --final-softcap 6 --seed 21

Weights are drawn normal, then rounded to multiples of a power of two times the tensor's standard deviation (itself a
power of two), so F32 and F16 files hold exactly the same values and the files compress well (the fixtures are
committed gzipped); llama.cpp and Lathe compute on them like on any other weights.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from random_llama_gguf import ALIGN, GGML_F16, GGML_F32, encode_tensor, spm_vocab, write_gguf  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=["gemma", "gemma2"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", choices=["f32", "f16"], default="f32")
    ap.add_argument("--vocab-size", type=int, default=512)
    ap.add_argument("--embd", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=16)
    ap.add_argument("--ffn", type=int, default=128)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--window", type=int, default=8, help="gemma2.attention.sliding_window")
    ap.add_argument("--attn-softcap", type=float, default=3.0, help="gemma2.attn_logit_softcapping")
    ap.add_argument("--final-softcap", type=float, default=6.0, help="gemma2.final_logit_softcapping")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    n_vocab, tok_meta = spm_vocab(a.vocab_size)
    rng = np.random.default_rng(a.seed)
    C, H, Hkv, D, F = a.embd, a.heads, a.kv_heads, a.head_dim, a.ffn
    wtype = GGML_F32 if a.type == "f32" else GGML_F16

    def normal(std, *shape):
        """N(0, std²) rounded to multiples of std/4 (std a power of two: exact in F16 within ±4·std)."""
        x = np.clip(rng.standard_normal(shape), -4, 4)
        return (np.round(x * 4) / 4 * std).astype(np.float32)

    def norm_weight():
        """1 + N(0, 0.1²) to 1/64: what the converter stores for Hugging Face's zero-centred weight."""
        return (1 + np.round(rng.standard_normal(C) * 0.1 * 64) / 64).astype(np.float32)

    tensors = []

    def matrix(name, w):           # w is (out, in) as in PyTorch; ggml dims are [in, out]
        tensors.append((name, [w.shape[1], w.shape[0]], wtype, encode_tensor(w, wtype)))

    def vector(name, v):
        tensors.append((name, [v.shape[0]], GGML_F32, v.astype("<f4").tobytes()))

    # Embeddings are scaled by √C = 8 in the model: std 1/8 gives unit-scale inputs. The blocks' outputs are made larger
    # than that (gemma: o/down std 1/4; gemma2: post norms of weight ~4), or the tied head would mostly see the input
    # token's own embedding and repeat it. q/k of std 1/4 give raw attention scores of a few units, so a cap of 3 bites;
    # the final norm's larger weights give logits of ~10, so the next-token choice is clear and a final cap of 15 bites.
    matrix("token_embd.weight", normal(0.125, n_vocab, C))
    for l in range(a.layers):
        p = "blk.%d." % l
        vector(p + "attn_norm.weight", norm_weight())
        matrix(p + "attn_q.weight", normal(0.25, H * D, C))
        matrix(p + "attn_k.weight", normal(0.25, Hkv * D, C))
        matrix(p + "attn_v.weight", normal(0.25, Hkv * D, C))
        matrix(p + "attn_output.weight", normal(0.25, C, H * D))
        if a.arch == "gemma2":
            vector(p + "post_attention_norm.weight", 4 * norm_weight())
        vector(p + "ffn_norm.weight", norm_weight())
        matrix(p + "ffn_gate.weight", normal(0.25, F, C))
        matrix(p + "ffn_up.weight", normal(0.25, F, C))
        matrix(p + "ffn_down.weight", normal(0.25, C, F))
        if a.arch == "gemma2":
            vector(p + "post_ffw_norm.weight", 4 * norm_weight())
    vector("output_norm.weight", 4 * norm_weight())

    arch = a.arch
    meta = [
        ("general.architecture", arch),
        ("general.name", "lathe-random-" + arch),
        ("general.file_type", 0 if a.type == "f32" else 1),
        ("general.alignment", ("u32", ALIGN)),
        (arch + ".context_length", a.ctx),
        (arch + ".embedding_length", C),
        (arch + ".block_count", a.layers),
        (arch + ".feed_forward_length", F),
        (arch + ".attention.head_count", H),
        (arch + ".attention.head_count_kv", Hkv),
        (arch + ".attention.layer_norm_rms_epsilon", 1e-6),
        (arch + ".attention.key_length", D),
        (arch + ".attention.value_length", D),
    ]
    if arch == "gemma2":
        meta += [
            (arch + ".attn_logit_softcapping", float(a.attn_softcap)),
            (arch + ".final_logit_softcapping", float(a.final_softcap)),
            (arch + ".attention.sliding_window", a.window),
        ]
    # The converter writes add_space_prefix false for Gemma's SentencePiece vocabulary.
    meta += tok_meta + [("tokenizer.ggml.add_space_prefix", False)]
    write_gguf(a.out, meta, tensors)
    print(json.dumps({"out": a.out, "vocab": n_vocab, "bytes": os.path.getsize(a.out)}))


if __name__ == "__main__":
    sys.exit(main())
