#!/usr/bin/env bash
# Writes the decode benchmark's random-weight llama GGUF files (issue #6: "~40M-parameter llama-shaped"):
# vocab 32000 (SentencePiece), d 512, 8 layers, 8 heads, 2 kv heads, ffn 1408, context 2048, output tied to
# token_embd: 16.4M embedding + 8 × 2.82M block parameters = 38.9M parameters. One file per type in DIR:
#   decode-40m-f32.gguf (~156 MB), decode-40m-q8_0.gguf (~41 MB), decode-40m-q4_0.gguf (~22 MB)
# k-quant types (q4_k_m q5_k_m q6_k …, issue #19) use a variant whose rows are all whole 256-value super-blocks —
# ffn 1536 instead of 1408, otherwise the same shape (41.3M parameters) — written in F32 (decode-40m-kq-f32.gguf) and
# quantized by llama.cpp's own llama_model_quantize (scripts/gen/llama_cpp_quantize.py), as downloads are:
#   decode-40m-q4_k_m.gguf (~25 MB), decode-40m-q5_k_m.gguf (~29 MB), decode-40m-q6_k.gguf (~34 MB)
# Usage: scripts/bench/make-decode-model.sh [DIR] [TYPES…]      (default DIR /tmp/lathe-bench, types f32 q8_0 q4_0)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${1:-/tmp/lathe-bench}"
shift || true
types=("${@:-f32 q8_0 q4_0}")
mkdir -p "$dir"
for t in ${types[@]}; do
  out="$dir/decode-40m-$t.gguf"
  [ -f "$out" ] && { echo "{\"out\":\"$out\",\"cached\":true}"; continue; }
  if [[ "$t" == *_k* ]]; then
    base="$dir/decode-40m-kq-f32.gguf"
    [ -f "$base" ] || /usr/bin/python3 "$root/scripts/gen/random_llama_gguf.py" --out "$base" --type f32 --vocab spm \
      --vocab-size 32000 --embd 512 --layers 8 --heads 8 --kv-heads 2 --ffn 1536 --ctx 2048 --tied --seed 40
    /usr/bin/python3 "$root/scripts/gen/llama_cpp_quantize.py" "$base" "$out" "$t" 2>/dev/null
    echo "{\"out\":\"$out\"}"
    continue
  fi
  /usr/bin/python3 "$root/scripts/gen/random_llama_gguf.py" --out "$out" --type "$t" --vocab spm --vocab-size 32000 \
    --embd 512 --layers 8 --heads 8 --kv-heads 2 --ffn 1408 --ctx 2048 --tied --seed 40
done
