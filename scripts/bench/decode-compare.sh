#!/usr/bin/env bash
# Interleaved rounds of `lathe bench decode` and llama.cpp (scripts/bench/decode-llama-cpp.mjs) on the same GGUF files:
# for each round and file, Lathe and llama.cpp at each thread count, one after the other. Prints every JSON line tagged
# with round, who and file; a summary of medians and ratios (Lathe at T threads ÷ llama.cpp at its best) goes to stderr.
#
#   scripts/bench/decode-compare.sh ROUNDS "1 2" /tmp/lathe-bench/decode-40m-q4_k_m.gguf …
# Files: scripts/bench/make-decode-model.sh /tmp/lathe-bench q4_k_m q5_k_m q6_k (k-quant files made by llama.cpp).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:?rounds}; threads=${2:?thread counts}; shift 2
dll="$here/src/Lathe.Cli/bin/Release/net10.0/Lathe.Cli.dll"
[ -f "$dll" ] || (cd "$here" && dotnet build src/Lathe.Cli -c Release -nologo -v q >&2)
out=$(mktemp)
echo "# $(date -u +%FT%TZ) $(uptime)" >&2
for r in $(seq 1 "$rounds"); do
  for file in "$@"; do
    name=$(basename "$file" .gguf)
    for t in $threads; do
      dotnet "$dll" bench decode --model "$file" --threads "$t" --repetitions 3 2>/dev/null | grep '^{' | tail -1 \
        | sed "s/^{/{\"round\":$r,\"who\":\"lathe\",\"file\":\"$name\",/" | tee -a "$out"
      node "$here/scripts/bench/decode-llama-cpp.mjs" "$file" --threads "$t" --runs 3 2>/dev/null | grep '^{' | tail -1 \
        | sed "s/^{/{\"round\":$r,\"who\":\"llama.cpp\",\"file\":\"$name\",/" | tee -a "$out"
    done
  done
done
echo "# $(date -u +%FT%TZ) $(uptime)" >&2
python3 - "$out" >&2 <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
files = sorted({r["file"] for r in rows})
for f in files:
    def med(who, t, key):
        v = [r[key] for r in rows if r["file"] == f and r["who"] == who and r["threads"] == t]
        return statistics.median(v) if v else float("nan")
    ts = sorted({r["threads"] for r in rows if r["file"] == f})
    for key in ("pp_tokens_per_s", "tg_tokens_per_s"):
        best = max(med("llama.cpp", t, key) for t in ts)
        cells = ", ".join(f"lathe@{t} {med('lathe', t, key):.0f} llama.cpp@{t} {med('llama.cpp', t, key):.0f}" for t in ts)
        ratios = ", ".join(f"lathe@{t}/best {med('lathe', t, key) / best:.2f}" for t in ts)
        print(f"{f} {key}: {cells}; {ratios}")
PY
rm -f "$out"
