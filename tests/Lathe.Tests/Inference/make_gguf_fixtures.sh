#!/usr/bin/env bash
# Regenerates the GGUF parity fixtures: four small random-weight llama GGUFs written by an independent numpy writer
# (vocab 512, d 64, 2 layers, 4 heads, 2 kv heads, ffn 160), then llama.cpp's outputs on them.
# Needs /usr/bin/python3 with numpy, the npm peers (.peers/) and node-llama-cpp in .llama-peer/ (see the .mjs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
out="$root/tests/Lathe.Tests/Inference/fixtures/gguf"
gen="$root/scripts/gen/random_llama_gguf.py"
mkdir -p "$out"
for t in f32 q8_0 q4_0; do
  /usr/bin/python3 "$gen" --out "$out/gpt2vocab-$t.gguf" --type "$t" --vocab gpt2 --seed 11
done
# SentencePiece vocabulary, F16 weights, tied output head (no output.weight).
/usr/bin/python3 "$gen" --out "$out/spm-f16.gguf" --type f16 --vocab spm --tied --seed 12
# Lathe's own exports of two seeded models (the test copies what it writes into the fixtures; its checks against the
# old reference may fail on this run, hence || true).
LATHE_REGENERATE_GGUF_EXPORTS=1 dotnet test "$root/tests/Lathe.Tests" -c Release --filter "FullyQualifiedName~GgufExportParityTests" >/dev/null || true
node "$root/tests/Lathe.Tests/Inference/make_llama_cpp_reference.mjs"
