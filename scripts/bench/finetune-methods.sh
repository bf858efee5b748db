#!/usr/bin/env bash
# Every fine-tuning method from one pre-trained base on the shipped instruction set (data/instructions): trainable
# parameters, tokens/s, peak RSS, validation loss and held-out exact match before and after. One JSON line per method
# (the finetune verb's last line), then nothing else. The README's and docs/BENCHMARKS.md's fine-tuning table.
#   scripts/bench/finetune-methods.sh BASE_CHECKPOINT [EPOCHS] [OUT_DIR]
# BASE_CHECKPOINT: e.g. a `pretrain --config S` run over Moby-Dick + State of the Union (docs/FINETUNING.md says how).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
base=${1:?base checkpoint}
epochs=${2:-10}
out=${3:-$(mktemp -d)}
mkdir -p "$out"
data="$here/data/instructions"
common=(--model "$base" --data "$data/train.jsonl.gz" --heldout "$data/heldout.jsonl.gz" --epochs "$epochs" --threads 2)
run() { local name=$1; shift; "$here/lathe" finetune "${common[@]}" --out "$out/$name" "$@" 2>"$out/$name.log" | tail -1; }
run full    --method full    --lr 5e-4
run lora    --method lora    --targets all-linear --rank 16 --alpha 32 --lr 2e-3
run qlora   --method qlora   --targets all-linear --rank 16 --alpha 32 --lr 2e-3 --quant q4_0
run prefix  --method prefix  --virtual-tokens 16 --prefix-projection 256 --lr 3e-3
run prompt  --method prompt  --virtual-tokens 16 --lr 3e-2
run adapter --method adapter --bottleneck 64 --lr 2e-3
