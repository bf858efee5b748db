#!/usr/bin/env bash
# Pruning trade-off curves (issue #20): a small GPT-2 pre-trained on the bundled corpus by `lathe demo`, then every
# pruning method at several fractions, each without and with a short recovery fine-tune, scored by validation
# perplexity (`lathe eval loss` on the corpus's last ~40 kB, the demo's validation end), a task (`lathe eval tasks
# bpb_moby`: bits per byte on passages of Moby-Dick's last 10%, lower is better; lambada_moby's last-word accuracy is 0
# for a model this small at every fraction, so it would draw flat lines), and measured speed: generation tokens/s (`lathe bench
# decode` on an F32 GGUF export) and training tokens/s (`lathe bench train` on the pruned config.json). Speed is
# measured once per pruned shape (a recovered model has the same shapes and the same kernels). Results go to
# OUT/results.json, the plots to OUT/*.svg (drawn by `lathe prune --plot`).
# Usage: scripts/bench/prune-curves.sh [OUT] (default runs/prune-curves). Environment: THREADS (2), BASE_STEPS (300),
#   RECOVER_STEPS (30), TASK_LIMIT (40 passages), BASE (an existing checkpoint folder with data/ beside it: skip pre-training).
# Budget: ≤ 15 min on two cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$(mkdir -p "${1:-runs/prune-curves}" && cd "${1:-runs/prune-curves}" && pwd)"
threads=${THREADS:-2}
base_steps=${BASE_STEPS:-300}
recover=${RECOVER_STEPS:-30}
limit=${TASK_LIMIT:-40}
lathe="$here/lathe"
py=/usr/bin/python3
runs="$out/runs.jsonl"
: >"$runs"

base=${BASE:-$out/base}
if [ -z "${BASE:-}" ] && [ ! -d "$base/checkpoint" ]; then
  echo "prune-curves: pre-training the base model ($base_steps steps)…" >&2
  "$lathe" demo --out "$base" --config gpt2-tiny --steps "$base_steps" --threads "$threads" --sample-tokens 8 >/dev/null
fi
data="$base/data"
[ -d "$base/checkpoint" ] && base_ckpt="$base/checkpoint" || base_ckpt="$base"
val="$out/val.txt"
zcat "$here/data/corpus/moby-dick.txt.gz" | tail -c 40000 >"$val"

# score NAME DIR METHOD FRACTION RECOVERED [SPEED_FROM_NAME]: one JSON line of figures into runs.jsonl.
score() {
  local name=$1 dir=$2 method=$3 fraction=$4 recovered=$5 speed_from=${6:-}
  local loss tasks decode train
  loss=$("$lathe" eval loss --model "$dir" --input "$val" --threads "$threads" --json | tail -1)
  "$lathe" eval tasks --model "$dir" --tasks bpb_moby --limit "$limit" --bootstrap 100 --threads "$threads" \
    --output "$out/tasks-$name.json" >/dev/null
  if [ -z "$speed_from" ]; then
    "$lathe" quantize --model "$dir" --type f32 --out "$out/$name.gguf" --threads "$threads" >/dev/null
    decode=$("$lathe" bench decode --model "$out/$name.gguf" --threads "$threads" --prompt-tokens 64 --gen-tokens 48 --repetitions 2 2>/dev/null | tail -1)
    rm -f "$out/$name.gguf"
    train=$("$lathe" bench train --preset "$dir/config.json" --threads "$threads" --steps 4 --warmup 1 --batch-size 4 --block-size 128 2>/dev/null | tail -1)
  else
    decode=$(cat "$out/decode-$speed_from.json"); train=$(cat "$out/train-$speed_from.json")
  fi
  echo "$decode" >"$out/decode-$name.json"; echo "$train" >"$out/train-$name.json"
  "$py" - "$name" "$method" "$fraction" "$recovered" "$loss" "$out/tasks-$name.json" "$decode" "$train" "$dir/config.json" >>"$runs" <<'PY'
import json, sys
name, method, fraction, recovered, loss, tasks, decode, train, config = sys.argv[1:]
loss, decode, train = json.loads(loss), json.loads(decode), json.loads(train)
doc = json.load(open(tasks))
row = {"name": name, "method": method, "fraction": float(fraction), "recovered": recovered == "1",
       "ppl": loss["perplexity"], "task": "bpb_moby bits_per_byte", "task_score": doc["tasks"]["bpb_moby"]["metrics"]["bits_per_byte"]["value"],
       "decode_tokens_per_s": decode["tg_tokens_per_s"], "prefill_tokens_per_s": decode["pp_tokens_per_s"],
       "train_tokens_per_s": train["tokens_per_s"], "params": train.get("params_m"),
       "config": json.load(open(config))}
print(json.dumps(row))
PY
  tail -1 "$runs" | "$py" -c 'import json, sys; r = json.loads(sys.stdin.read()); print("prune-curves: %(name)22s: ppl %(ppl).2f, task %(task_score)s, decode %(decode_tokens_per_s).0f tok/s, train %(train_tokens_per_s).0f tok/s" % r, file=sys.stderr)'
}

score base "$base_ckpt" none 0 0
# method  --target values  fraction removed for each (layers: of the 4 blocks)
plan=(
  "heads 0.25:0.25 0.5:0.5 0.75:0.75"
  "channels 0.25:0.25 0.5:0.5 0.75:0.75"
  "layers 1:0.25 2:0.5 3:0.75"
  "magnitude 0.5:0.5 0.9:0.9"
  "wanda 0.5:0.5 0.9:0.9"
  "2:4 0.5:0.5"
)
for line in "${plan[@]}"; do
  read -r method targets <<<"$line"
  for pair in $targets; do
    target=${pair%%:*}; fraction=${pair##*:}
    name="${method/:/-}-$target"
    # Calibration: 4096 tokens of the training shards (activation-aware scores, layer scores, Wanda, 2:4).
    common=(--model "$base_ckpt" --method "$method" --calibration "$data" --calib-tokens 4096 --threads "$threads")
    [ "$method" = 2:4 ] || common+=(--target "$target")
    [[ "$method" = heads || "$method" = channels ]] && common+=(--score activation)
    "$lathe" prune "${common[@]}" --out "$out/$name" >&2
    score "$name" "$out/$name" "$method" "$fraction" 0
    "$lathe" prune "${common[@]}" --recover-steps "$recover" --data "$data" --batch-size 4 --block-size 128 --lr 3e-4 --out "$out/$name-rec" >&2
    score "$name-rec" "$out/$name-rec" "$method" "$fraction" 1 "$name"
    rm -rf "$out/$name-rec/model.safetensors"
  done
done

"$py" - "$runs" "$out/results.json" "$(uptime)" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump({"uptime": sys.argv[3], "runs": rows}, open(sys.argv[2], "w"), indent=1)
PY
"$lathe" prune --plot "$out/results.json" --out "$out"
echo "prune-curves: results in $out/results.json; plots in $out/*.svg" >&2
