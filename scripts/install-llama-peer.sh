#!/usr/bin/env bash
# Installs llama.cpp for Node (node-llama-cpp 3.22.1 with its prebuilt linux-x64 CPU binaries, ~14 s, no compiler)
# into .llama-peer/ at the repo root: the peer the GGUF parity fixtures and the decode benchmark are measured against.
# The tests do not need it (they read committed reference outputs); regenerating those and running
# scripts/bench/decode-llama-cpp.mjs do. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peer="$here/.llama-peer"
stamp="$peer/.installed-v1"
[ -f "$stamp" ] && exit 0
mkdir -p "$peer"
cd "$peer"
[ -f package.json ] || echo '{"name":"lathe-llama-peer","private":true,"type":"module"}' > package.json
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --loglevel=error \
  node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1 >&2
touch "$stamp"
