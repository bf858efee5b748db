#!/usr/bin/env bash
# Regenerates the Gemma parity fixtures: small random-weight gemma (2 layers) and gemma2 (2 layers: one local, one
# global; sliding window 8, attention soft cap 3, final soft cap 15) GGUFs in F32 and F16 (vocab 512, d 64, 4 heads of
# 16, 2 kv heads, ffn 128), written by an independent numpy writer and committed gzipped; then llama.cpp's outputs.
# Needs /usr/bin/python3 with numpy, the npm peers (.peers/) and node-llama-cpp in .llama-peer/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
out="$root/tests/Lathe.Tests/Inference/fixtures/gguf/gemma"
gen="$root/scripts/gen/random_gemma_gguf.py"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
for t in f32 f16; do
  /usr/bin/python3 "$gen" --arch gemma --out "$work/gemma-$t.gguf" --type "$t" --layers 2 --seed 21
  /usr/bin/python3 "$gen" --arch gemma2 --out "$work/gemma2-$t.gguf" --type "$t" --layers 2 --window 8 --attn-softcap 3 --final-softcap 15 --seed 22
done
for f in "$work"/*.gguf; do
  # mtime 0: the same weights give the same bytes.
  /usr/bin/python3 -c 'import gzip, sys; open(sys.argv[2] + ".tmp", "wb").write(gzip.compress(open(sys.argv[1], "rb").read(), 9, mtime=0))' "$f" "$out/$(basename "$f").gz"
  mv "$out/$(basename "$f").gz.tmp" "$out/$(basename "$f").gz"
done
node "$root/tests/Lathe.Tests/Inference/make_gemma_reference.mjs" "$work"
