#!/usr/bin/env bash
# Regenerates the GGUF LoRA fixtures (tests/Lathe.Tests/Formats/fixtures/gguf-lora/): Lathe writes two seeded
# random-weight base models (llama, gpt2; F32 GGUF) and a seeded random LoRA adapter for each (GgufLoraAdapter.Write),
# then llama.cpp (node-llama-cpp in .llama-peer/) runs base + adapter and its outputs are recorded.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
# The test copies what Lathe writes into the fixture folder; its byte comparison may fail on this run, hence || true.
LATHE_REGENERATE_GGUF_LORA=1 dotnet test "$root/tests/Lathe.Tests" -c Release \
  --filter "FullyQualifiedName~GgufLoraParityTests.The_committed_fixtures_are_what_Lathe_writes" >/dev/null || true
node "$root/tests/Lathe.Tests/Formats/make_gguf_lora_reference.mjs"
