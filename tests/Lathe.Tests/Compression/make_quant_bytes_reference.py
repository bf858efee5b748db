#!/usr/bin/env python3
"""Writes fixtures/quant_bytes_reference.json: the type and SHA-256 of every tensor llama.cpp's llama_model_quantize
writes for a small llama file whose weights (and importance matrix) come from an integer hash, exactly representable
in float32, so QuantizeBytesTests rebuilds the same F32 tensors in C# without committing them. Presets q2_k, q3_k_m,
q4_k_m, q5_k_m, q6_k, q8_0, q4_0, each without and with the importance matrix. Needs the llama.cpp peer and the npm
peers (GPT-2 vocabulary):

  /usr/bin/python3 tests/Lathe.Tests/Compression/make_quant_bytes_reference.py
"""
import hashlib
import json
import os
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", "..", ".."))
sys.path.insert(0, os.path.join(root, "scripts", "gen"))
import llama_quantize  # noqa: E402
import random_llama_gguf as g  # noqa: E402

PRESETS = ["q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k", "q8_0", "q4_0"]
C, LAYERS, H, KV, F, VOCAB = 256, 2, 2, 1, 512, 300


def hashed(seed, n, cols):
    """((h >> 8) / 2^24 − 0.5) · 2^−(column % 4): a murmur-style mix of (index, seed), exact in float32."""
    i = np.arange(n, dtype=np.uint64)
    m = np.uint64(0xFFFFFFFF)
    h = (i * np.uint64(2654435761) + np.uint64(seed) * np.uint64(40503) + np.uint64(12345)) & m
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0x5BD1E995)) & m
    h ^= h >> np.uint64(15)
    v = (h >> np.uint64(8)).astype(np.float64) / 2.0 ** 24 - 0.5
    return (v * 2.0 ** -(i % np.uint64(cols) % np.uint64(4)).astype(np.float64)).astype(np.float32)


def importance(cols):
    return (1 + np.arange(cols) % 7).astype(np.float32)


def main():
    n_vocab, tok_meta = g.gpt2_vocab(VOCAB)
    D = C // H
    shapes = [("token_embd.weight", [C, n_vocab])]
    for l in range(LAYERS):
        p = f"blk.{l}."
        shapes += [(p + "attn_norm.weight", [C]), (p + "attn_q.weight", [C, H * D]), (p + "attn_k.weight", [C, KV * D]),
                   (p + "attn_v.weight", [C, KV * D]), (p + "attn_output.weight", [H * D, C]), (p + "ffn_norm.weight", [C]),
                   (p + "ffn_gate.weight", [C, F]), (p + "ffn_up.weight", [C, F]), (p + "ffn_down.weight", [F, C])]
    shapes += [("output_norm.weight", [C]), ("output.weight", [C, n_vocab])]
    tensors = []
    for k, (name, dims) in enumerate(shapes):
        n = int(np.prod(dims))
        tensors.append((name, dims, 0, hashed(k + 1, n, dims[0]).astype("<f4").tobytes()))
    meta = [("general.architecture", "llama"), ("general.name", "hashed"), ("general.file_type", 0),
            ("llama.vocab_size", n_vocab), ("llama.context_length", 64), ("llama.embedding_length", C),
            ("llama.block_count", LAYERS), ("llama.feed_forward_length", F), ("llama.attention.head_count", H),
            ("llama.attention.head_count_kv", KV), ("llama.attention.layer_norm_rms_epsilon", 1e-5),
            ("llama.rope.freq_base", 10000.0), ("llama.rope.dimension_count", D)] + tok_meta
    imatrix = {name: importance(dims[0]) for name, dims in shapes if name.startswith("blk.") and len(dims) == 2}
    out = {"source": "llama_model_quantize of node-llama-cpp's libllama.v0.5.0.so",
           "layers": LAYERS, "heads": H, "kv_heads": KV, "tensors": [[n, d] for n, d in shapes], "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "f32.gguf")
        g.write_gguf(src, meta, tensors)
        for preset in PRESETS:
            for key, im in ((preset, None), (preset + "+imatrix", imatrix)):
                dst = os.path.join(tmp, key + ".gguf")
                llama_quantize.quantize(src, dst, preset, im, threads=2)
                data = open(dst, "rb").read()
                infos, start = llama_quantize.gguf_tensor_table(data)
                run = {}
                for name, dims in shapes:
                    d, t, off = infos[name]
                    vals, size = {0: (1, 4), 2: (32, 18), 8: (32, 34), 10: (256, 84), 11: (256, 110), 12: (256, 144),
                                  13: (256, 176), 14: (256, 210)}[t]
                    nbytes = int(np.prod(d)) // vals * size
                    run[name] = [llama_quantize.TYPE_NAMES[t], hashlib.sha256(data[start + off:start + off + nbytes]).hexdigest()]
                out["runs"][key] = run
    path = os.path.join(here, "fixtures", "quant_bytes_reference.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=0)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
