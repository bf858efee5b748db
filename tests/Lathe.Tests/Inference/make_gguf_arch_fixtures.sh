#!/usr/bin/env bash
# Regenerates the architecture parity fixtures: small random-weight GGUFs of Llama 3 (RoPE frequency scaling), Qwen2,
# Mistral (a sliding-window key) and Phi-3 written by an independent numpy writer (scripts/gen/random_arch_gguf.py),
# then llama.cpp's outputs on them (make_llama_cpp_arch_reference.mjs). Only the F16 files are committed; the F32 and
# BF16 files of the same seed hold the same values and are written to a scratch folder.
# Needs /usr/bin/python3 with numpy, the npm peers (.peers/) and node-llama-cpp in .llama-peer/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
out="$root/tests/Lathe.Tests/Inference/fixtures/gguf-archs"
scratch="${LLAMA_ARCH_GGUF_DIR:-/tmp/lathe-arch-gguf}"
gen="$root/scripts/gen/random_arch_gguf.py"
mkdir -p "$out" "$scratch"
seed=21
for arch in llama3 qwen2 mistral-swa phi3; do
  for t in f32 f16 bf16; do
    /usr/bin/python3 "$gen" --arch "$arch" --type "$t" --out "$scratch/$arch-$t.gguf" --seed "$seed"
  done
  cp "$scratch/$arch-f16.gguf" "$out/$arch-f16.gguf.tmp" && mv "$out/$arch-f16.gguf.tmp" "$out/$arch-f16.gguf"
  seed=$((seed + 1))
done
LLAMA_ARCH_GGUF_DIR="$scratch" node "$root/tests/Lathe.Tests/Inference/make_llama_cpp_arch_reference.mjs"
