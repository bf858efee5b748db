#!/usr/bin/env bash
# Regenerates the k-quant parity fixtures: one small random-weight llama GGUF in F32 (vocab 320, d 256 so every row is
# whole super-blocks, 1 layer, 4 heads, 1 kv head, ffn 256, tied head), quantized by llama.cpp's own
# llama_model_quantize to Q2_K, Q3_K_M, Q4_K_M, Q5_K_M and Q6_K, then llama.cpp's logits and greedy tokens on them.
# Only kq-q2_k.gguf (Q2_K, Q3_K, Q4_K, Q6_K tensors) and kq-q3_k_m.gguf (Q3_K, Q4_K, Q5_K, Q6_K) are kept (together
# they hold every k-quant block type; the five files are 1.5 MB); pass --all to keep all five for a local run of
# GgufKQuantParityTests (it tests every file present). Needs /usr/bin/python3 with numpy, .peers/ and .llama-peer/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
out="$root/tests/Lathe.Tests/Inference/fixtures/gguf"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$root/scripts/gen/random_llama_gguf.py" --out "$tmp/base.gguf" --type f32 --vocab gpt2 --vocab-size 320 \
  --embd 256 --layers 1 --heads 4 --kv-heads 1 --ffn 256 --tied --seed 19 >/dev/null
for t in q2_k q3_k_m q4_k_m q5_k_m q6_k; do
  /usr/bin/python3 "$root/scripts/gen/llama_cpp_quantize.py" "$tmp/base.gguf" "$out/kq-$t.gguf" "$t" 2>/dev/null
done
node "$root/tests/Lathe.Tests/Inference/make_llama_cpp_reference.mjs" --kquants
if [[ "${1:-}" != "--all" ]]; then rm -f "$out"/kq-q4_k_m.gguf "$out"/kq-q5_k_m.gguf "$out"/kq-q6_k.gguf; fi
