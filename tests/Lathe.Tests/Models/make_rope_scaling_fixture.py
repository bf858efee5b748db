#!/usr/bin/env python3
"""Llama 3 RoPE frequency scaling as Hugging Face transformers computes it (its "llama3" rope_type: inv_freq divided by
`factor` for long wavelengths, kept for short ones, blended between), written here in torch float32 from that
formula, and the cos/sin tables it gives. An oracle for Lathe's ModelConfig.Llama3RopeDivisors + RopeTables, which
store the same scaling the way llama.cpp's converter does (a divisor per frequency), so the arithmetic differs.

  /usr/bin/python3 tests/Lathe.Tests/Models/make_rope_scaling_fixture.py
"""
import json
import math
import os

import torch

CASES = [
    # The random GGUF fixture's: head dim 16, so two of the eight frequencies fall in the blended band.
    {"head_dim": 16, "theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
    # Llama 3.1 8B's.
    {"head_dim": 128, "theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
]
POSITIONS = [0, 1, 5, 17, 63, 200]


def llama3_inv_freq(c):
    d = c["head_dim"]
    inv_freq = 1.0 / (c["theta"] ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    factor, low, high, old = c["factor"], c["low_freq_factor"], c["high_freq_factor"], c["original_max_position_embeddings"]
    low_freq_wavelen, high_freq_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


def main():
    out = []
    for c in CASES:
        inv = llama3_inv_freq(c)
        pos = torch.tensor(POSITIONS, dtype=torch.float32)
        angles = pos[:, None] * inv[None, :]
        out.append(dict(c, positions=POSITIONS, inv_freq=inv.tolist(), cos=torch.cos(angles).tolist(), sin=torch.sin(angles).tolist()))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "rope_llama3.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"generator": "torch " + torch.__version__, "cases": out}, f)
    os.replace(path + ".tmp", path)
    print(path)


if __name__ == "__main__":
    main()
