#!/usr/bin/env python3
"""Writes small vocabulary-only GGUF files (llama architecture keys, no tensors) whose tokenizers are laid out the way
llama.cpp's converter writes those of the model families people download, so that llama.cpp (node-llama-cpp loaded
with vocabOnly) and Lathe tokenize the same bytes that neither of them wrote:

  llama-bpe  Llama 3.x: byte-level BPE, tokenizer.ggml.pre "llama-bpe", <|begin_of_text|> … <|eot_id|>, BOS added.
  qwen2      Qwen2.5: the same BPE with pre "qwen2", <|endoftext|> <|im_start|> <|im_end|>, the FIM tokens (which
             llama.cpp counts as end of generation) and <tool_call> as a user-defined token; no BOS.
  tekken     Mistral Nemo style: pre "tekken", <unk> <s> </s> [INST] [/INST] first, then the BPE tokens.
  llama4     Llama 4: pre "llama4" (GPT-4o's case-splitting pattern), <|header_start|> … <|eot|> (EOS), BOS added.
  gemma      SentencePiece ("llama") with byte fallback, add_space_prefix false, <pad> <eos> <bos> <unk>,
             <start_of_turn> <end_of_turn>, user-defined tokens (<mask>, "\\t\\t", <table>, "e<").
  phi3       SentencePiece, general.name "Phi-3 …" (llama.cpp strips spaces right of special tokens for it),
             <|endoftext|> <|assistant|> <|end|> <|user|> <|system|>, eot_token_id <|end|>, no BOS.
  mistral    SentencePiece as Mistral 7B v0.3: <unk> <s> </s> [INST] [/INST], BOS added, space prefix.

The byte-level BPE vocabulary is the first --bpe-ranks ranks of tiktoken's cl100k_base (npm package tiktoken in
.peers/node_modules) written in GPT-2's byte-to-unicode alphabet, with one merge per token derived from the ranks as
Hugging Face's tiktoken converter does (BPE of the token's bytes over lower ranks ends in two parts; those are its
merge), merges in rank order. The SentencePiece vocabulary is random_llama_gguf.spm_vocab's (Moby-Dick pieces).

  /usr/bin/python3 scripts/gen/tokenizer_gguf.py --out-dir tests/Lathe.Tests/Tokenizers/fixtures/gguf
"""
import argparse
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from random_llama_gguf import byte_level_alphabet, node_modules, spm_vocab, write_gguf  # noqa: E402


def cl100k_ranks(count):
    """The byte strings of cl100k_base's first `count` ranks, in rank order."""
    with open(os.path.join(node_modules(), "tiktoken", "encoders", "cl100k_base.json"), encoding="utf-8") as f:
        data = json.load(f)
    ranked = {}
    for line in data["bpe_ranks"].split("\n"):
        parts = line.split(" ")
        if len(parts) < 2:
            continue
        first = int(parts[1])
        for i, b64 in enumerate(parts[2:]):
            ranked[first + i] = base64.b64decode(b64)
    return [ranked[r] for r in range(count)]


def merge_of(token, rank_of, rank):
    """The two parts BPE over ranks below `rank` leaves of `token` (the converter's rule), or None."""
    parts = [token[i:i + 1] for i in range(len(token))]
    while len(parts) > 2:
        best, best_rank = -1, None
        for i in range(len(parts) - 1):
            r = rank_of.get(parts[i] + parts[i + 1])
            if r is not None and r < rank and (best_rank is None or r < best_rank):
                best, best_rank = i, r
        if best < 0:
            return None
        parts[best:best + 2] = [parts[best] + parts[best + 1]]
    return parts if len(parts) == 2 else None


def bpe_vocab(count):
    """(tokens, merges) of the first `count` cl100k ranks in the byte-level alphabet."""
    alphabet = byte_level_alphabet()
    ranks = cl100k_ranks(count)
    rank_of = {t: r for r, t in enumerate(ranks)}
    text = lambda b: "".join(alphabet[x] for x in b)   # noqa: E731
    tokens, merges = [], []
    for r, t in enumerate(ranks):
        tokens.append(text(t))
        if len(t) >= 2:
            pair = merge_of(t, rank_of, r)
            if pair is None:
                raise SystemExit("cl100k rank %d has no two-part merge below its rank" % r)
            merges.append(text(pair[0]) + " " + text(pair[1]))
    missing = set(alphabet) - set(tokens)
    if missing:
        raise SystemExit("the first %d ranks miss %d single bytes" % (count, len(missing)))
    return tokens, merges


def arch_keys(name, vocab):
    """The llama hyper-parameters llama.cpp reads even when it loads only the vocabulary."""
    return [
        ("general.architecture", "llama"),
        ("general.name", name),
        ("general.alignment", ("u32", 32)),
        ("llama.vocab_size", vocab),
        ("llama.context_length", 256),
        ("llama.embedding_length", 64),
        ("llama.block_count", 1),
        ("llama.feed_forward_length", 160),
        ("llama.attention.head_count", 4),
        ("llama.attention.head_count_kv", 2),
        ("llama.attention.layer_norm_rms_epsilon", 1e-5),
        ("llama.rope.freq_base", 10000.0),
        ("llama.rope.dimension_count", 16),
    ]


def i32s(values):
    return [("i32", v) for v in values]


def bpe_file(family, bpe_tokens, merges):
    """(general.name, metadata) of a byte-level BPE family."""
    if family == "llama-bpe":
        specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
                    "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>",
                    "<|eot_id|>", "<|python_tag|>"]
        tokens = bpe_tokens + specials
        types = [1] * len(bpe_tokens) + [3] * len(specials)
        ids = {s: len(bpe_tokens) + i for i, s in enumerate(specials)}
        extra = [("tokenizer.ggml.bos_token_id", ("u32", ids["<|begin_of_text|>"])),
                 ("tokenizer.ggml.eos_token_id", ("u32", ids["<|eot_id|>"])),
                 ("tokenizer.ggml.add_bos_token", True)]
        return "Llama 3.1 tiny vocab", tokens, types, merges, "llama-bpe", extra
    if family == "qwen2":
        control = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                   "<|vision_pad|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
                   "<|repo_name|>", "<|file_sep|>"]
        user = ["<tool_call>", "</tool_call>"]
        tokens = bpe_tokens + control + user
        types = [1] * len(bpe_tokens) + [3] * len(control) + [4] * len(user)
        ids = {s: len(bpe_tokens) + i for i, s in enumerate(control)}
        extra = [("tokenizer.ggml.bos_token_id", ("u32", ids["<|endoftext|>"])),
                 ("tokenizer.ggml.eos_token_id", ("u32", ids["<|im_end|>"])),
                 ("tokenizer.ggml.padding_token_id", ("u32", ids["<|endoftext|>"])),
                 ("tokenizer.ggml.add_bos_token", False)]
        return "Qwen2.5 tiny vocab", tokens, types, merges, "qwen2", extra
    if family == "tekken":
        specials = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
                    "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[TOOL_CALLS]"]
        tokens = specials + bpe_tokens
        types = [2] + [3] * (len(specials) - 1) + [1] * len(bpe_tokens)
        extra = [("tokenizer.ggml.unknown_token_id", ("u32", 0)),
                 ("tokenizer.ggml.bos_token_id", ("u32", 1)),
                 ("tokenizer.ggml.eos_token_id", ("u32", 2)),
                 ("tokenizer.ggml.add_bos_token", True),
                 ("tokenizer.ggml.add_eos_token", False)]
        return "Mistral Nemo tiny vocab", tokens, types, merges, "tekken", extra
    if family == "llama4":
        specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                    "<|header_start|>", "<|header_end|>", "<|eom|>", "<|eot|>", "<|step|>", "<|python_start|>"]
        tokens = bpe_tokens + specials
        types = [1] * len(bpe_tokens) + [3] * len(specials)
        ids = {s: len(bpe_tokens) + i for i, s in enumerate(specials)}
        extra = [("tokenizer.ggml.bos_token_id", ("u32", ids["<|begin_of_text|>"])),
                 ("tokenizer.ggml.eos_token_id", ("u32", ids["<|eot|>"])),
                 ("tokenizer.ggml.add_bos_token", True)]
        return "Llama 4 Scout tiny vocab", tokens, types, merges, "llama4", extra
    raise ValueError(family)


def spm_pieces(size):
    """The byte tokens and learned pieces (with scores) of random_llama_gguf's SentencePiece vocabulary."""
    _, meta = spm_vocab(size)
    m = dict(meta)
    tokens, scores, types = m["tokenizer.ggml.tokens"], m["tokenizer.ggml.scores"], [t[1] for t in m["tokenizer.ggml.token_type"]]
    return tokens[3:], scores[3:], types[3:]   # without <unk> <s> </s>


def spm_file(family, size):
    pieces, scores, types = spm_pieces(size)
    if family == "gemma":
        head = [("<pad>", 3), ("<eos>", 3), ("<bos>", 3), ("<unk>", 2), ("<mask>", 4), ("[multimodal]", 4)]
        # "e<" overlaps "<table>" in "the<table>": llama.cpp cuts the longest special token out first.
        tail = [("<start_of_turn>", 3), ("<end_of_turn>", 3), ("\t\t", 4), ("<table>", 4), ("<unused0>", 3), ("e<", 4)]
        keys = [("tokenizer.ggml.bos_token_id", ("u32", 2)), ("tokenizer.ggml.eos_token_id", ("u32", 1)),
                ("tokenizer.ggml.unknown_token_id", ("u32", 3)), ("tokenizer.ggml.padding_token_id", ("u32", 0)),
                ("tokenizer.ggml.add_bos_token", True), ("tokenizer.ggml.add_eos_token", False),
                ("tokenizer.ggml.add_space_prefix", False)]
        name = "gemma-2 tiny vocab"
    elif family == "phi3":
        head = [("<unk>", 2), ("<s>", 3), ("</s>", 3)]
        tail = [("<|endoftext|>", 3), ("<|assistant|>", 3), ("<|placeholder1|>", 4), ("<|system|>", 3), ("<|end|>", 3),
                ("<|user|>", 3)]
        n = len(head) + len(pieces)
        keys = [("tokenizer.ggml.bos_token_id", ("u32", 1)), ("tokenizer.ggml.eos_token_id", ("u32", n)),
                ("tokenizer.ggml.unknown_token_id", ("u32", 0)), ("tokenizer.ggml.eot_token_id", ("u32", n + 4)),
                ("tokenizer.ggml.padding_token_id", ("u32", n)),
                ("tokenizer.ggml.add_bos_token", False), ("tokenizer.ggml.add_eos_token", False)]
        name = "Phi-3 mini tiny vocab"
    elif family == "mistral":
        head = [("<unk>", 2), ("<s>", 3), ("</s>", 3), ("[INST]", 3), ("[/INST]", 3)]
        tail = []
        keys = [("tokenizer.ggml.bos_token_id", ("u32", 1)), ("tokenizer.ggml.eos_token_id", ("u32", 2)),
                ("tokenizer.ggml.unknown_token_id", ("u32", 0)),
                ("tokenizer.ggml.add_bos_token", True), ("tokenizer.ggml.add_eos_token", False)]
        name = "Mistral 7B v0.3 tiny vocab"
    else:
        raise ValueError(family)
    tokens = [t for t, _ in head] + pieces + [t for t, _ in tail]
    all_types = [k for _, k in head] + types + [k for _, k in tail]
    all_scores = [0.0] * len(head) + scores + [0.0] * len(tail)
    meta = [("tokenizer.ggml.model", "llama"), ("tokenizer.ggml.pre", "default"),
            ("tokenizer.ggml.tokens", tokens), ("tokenizer.ggml.scores", all_scores),
            ("tokenizer.ggml.token_type", i32s(all_types))] + keys
    return name, tokens, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--bpe-ranks", type=int, default=2100, help="cl100k_base ranks in the BPE vocabularies")
    ap.add_argument("--spm-size", type=int, default=1200, help="SentencePiece vocabulary size before special tokens")
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    bpe_tokens, merges = bpe_vocab(a.bpe_ranks)
    written = {}
    for family in ["llama-bpe", "qwen2", "tekken", "llama4"]:
        name, tokens, types, m, pre, extra = bpe_file(family, bpe_tokens, merges)
        meta = arch_keys(name, len(tokens)) + [
            ("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.pre", pre),
            ("tokenizer.ggml.tokens", tokens), ("tokenizer.ggml.token_type", i32s(types)),
            ("tokenizer.ggml.merges", m)] + extra
        path = os.path.join(a.out_dir, family + ".gguf")
        write_gguf(path, meta, [])
        written[family] = os.path.getsize(path)
    for family in ["gemma", "phi3", "mistral"]:
        name, tokens, meta = spm_file(family, a.spm_size)
        path = os.path.join(a.out_dir, family + ".gguf")
        write_gguf(path, arch_keys(name, len(tokens)) + meta, [])
        written[family] = os.path.getsize(path)
    print(json.dumps(written))


if __name__ == "__main__":
    sys.exit(main())
