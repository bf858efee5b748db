#!/usr/bin/env python3
"""Writes quant_mix_reference.json: which ggml type llama.cpp's llama_model_quantize gives each tensor of three small
random llama GGUF files under every preset Lathe offers (and Q4_0 with an importance matrix, and --pure), read back
from the files it wrote. QuantizationMixTests checks Lathe's rules against it. Needs the llama.cpp peer
(scripts/install-llama-peer.sh) and the npm peers for the GPT-2 vocabulary:

  /usr/bin/python3 tests/Lathe.Tests/Compression/make_quant_mix_reference.py
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", "..", ".."))
sys.path.insert(0, os.path.join(root, "scripts", "gen"))
import llama_quantize  # noqa: E402

PRESETS = ["f32", "f16", "bf16", "q8_0", "q4_0", "q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m",
           "q5_k_s", "q5_k_m", "q6_k"]
# (name, embd, layers, heads, kv heads, ffn, tied): rows of 256 (every k-quant fits), 16 layers with grouped kv heads
# 4:1 and an ffn of 288 (ffn_down falls back), and rows of 96 (every k-quant falls back).
MODELS = [("a", 256, 8, 4, 4, 512, False), ("b", 256, 16, 8, 2, 288, True), ("c", 96, 3, 3, 1, 160, False)]


def main():
    out = {"source": "llama_model_quantize of node-llama-cpp's libllama.v0.5.0.so", "models": []}
    with tempfile.TemporaryDirectory() as tmp:
        for name, embd, layers, heads, kv, ffn, tied in MODELS:
            src = os.path.join(tmp, name + ".gguf")
            cmd = [sys.executable, os.path.join(root, "scripts", "gen", "random_llama_gguf.py"), "--out", src, "--type", "f32",
                   "--vocab", "gpt2", "--vocab-size", "512", "--embd", str(embd), "--layers", str(layers), "--heads", str(heads),
                   "--kv-heads", str(kv), "--ffn", str(ffn), "--ctx", "64", "--seed", "3"]
            if tied:
                cmd.append("--tied")
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            infos = llama_quantize.tensor_types(src)
            names = list(infos)
            model = {"name": name, "layers": layers, "heads": heads, "kv_heads": kv,
                     "tensors": [[n, infos[n][1]] for n in names], "presets": {}}
            runs = [(p, p, None, False) for p in PRESETS]
            # an importance matrix of ones for every block weight (its values do not change the types, only its presence)
            ones = {n: np.ones(infos[n][1][0], np.float32) for n in names if n.startswith("blk.") and len(infos[n][1]) == 2}
            runs += [("q4_0+imatrix", "q4_0", ones, False), ("q4_k_m+imatrix", "q4_k_m", ones, False), ("q4_k_m+pure", "q4_k_m", None, True)]
            for key, preset, imatrix, pure in runs:
                dst = os.path.join(tmp, f"{name}-{key}.gguf")
                llama_quantize.quantize(src, dst, preset, imatrix, pure, threads=2)
                types = llama_quantize.tensor_types(dst)
                model["presets"][key] = [types[n][0] for n in names]
                os.remove(dst)
            out["models"].append(model)
            print(f"{name}: {len(names)} tensors, {len(runs)} runs", file=sys.stderr)
    path = os.path.join(here, "fixtures", "quant_mix_reference.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, separators=(",", ":"))
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
