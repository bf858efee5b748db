#!/usr/bin/env bash
# Interleaved rounds of `lathe bench serve` (the HTTP server under N concurrent streaming clients) and llama.cpp
# decoding N parallel sequences in one context (node-llama-cpp, scripts/bench/decode-parallel-llama-cpp.mjs), same
# file, same threads, same prompt and generation lengths. Prints every JSON line, tagged with its round.
#
#   scripts/bench/serve-compare.sh ROUNDS THREADS FILE.gguf [CLIENTS=1,4,16,64] [PROMPT=128] [GEN=128]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:?rounds}; threads=${2:?threads}; file=${3:?file}; clients=${4:-1,4,16,64}; prompt=${5:-128}; gen=${6:-128}
dll="$here/src/Lathe.Cli/bin/Release/net10.0/Lathe.Cli.dll"
[ -f "$dll" ] || (cd "$here" && dotnet build src/Lathe.Cli -c Release -nologo -v q >&2)
echo "# $(date -u +%FT%TZ) $(uptime)" >&2
for r in $(seq 1 "$rounds"); do
  dotnet "$dll" bench serve --model "$file" --clients "$clients" --threads "$threads" --prompt-tokens "$prompt" --gen-tokens "$gen" 2>/dev/null \
    | grep '^{' | sed "s/^{/{\"round\":$r,\"who\":\"lathe\",/"
  node "$here/scripts/bench/decode-parallel-llama-cpp.mjs" "$file" --threads "$threads" --sequences "$clients" \
    --prompt-tokens "$prompt" --gen-tokens "$gen" --runs 1 2>/dev/null | grep '^{' | sed "s/^{/{\"round\":$r,\"who\":\"llama.cpp\",/"
done
echo "# $(date -u +%FT%TZ) $(uptime)" >&2
