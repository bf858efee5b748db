#!/usr/bin/env bash
# Writes the decode benchmark's random-weight llama GGUF files (issue #6: "~40M-parameter llama-shaped"):
# vocab 32000 (SentencePiece), d 512, 8 layers, 8 heads, 2 kv heads, ffn 1408, context 2048, output tied to
# token_embd: 16.4M embedding + 8 × 2.82M block parameters = 38.9M parameters. One file per type in DIR:
#   decode-40m-f32.gguf (~156 MB), decode-40m-q8_0.gguf (~41 MB), decode-40m-q4_0.gguf (~22 MB)
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
  /usr/bin/python3 "$root/scripts/gen/random_llama_gguf.py" --out "$out" --type "$t" --vocab spm --vocab-size 32000 \
    --embd 512 --layers 8 --heads 8 --kv-heads 2 --ffn 1408 --ctx 2048 --tied --seed 40
done
