#!/usr/bin/env bash
# Lathe's fine-tuning step beside the equivalent PyTorch step (scripts/bench/finetune-torch.py: the same GPT-2, a
# hand-written LoRA module as PEFT defines it), interleaved round by round so both see the same machine noise. One JSON
# line per round and case, then one per case with the median ratio of tokens/s.
# Usage: scripts/bench/finetune-compare.sh [rounds] [threads] [preset]   (default: 5 2 S)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-5}
threads=${2:-2}
preset=${3:-S}
source "$here/scripts/bench/peer-env.sh"
peer=("${torch_env[@]}" /usr/bin/python3 "$here/scripts/bench/finetune-torch.py")
cases=("lora c_attn" "lora all-linear" "full -")
log=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
  for c in "${cases[@]}"; do
    read -r method targets <<<"$c"
    extra=(); [ "$method" = lora ] && extra=(--targets "$targets" --rank 8 --alpha 16)
    ours=$("$here/lathe" bench finetune --method "$method" --preset "$preset" --threads "$threads" --steps 8 "${extra[@]}" 2>/dev/null | tail -1)
    theirs=$("${peer[@]}" --method "$method" --preset "$preset" --threads "$threads" --steps 8 "${extra[@]}" 2>/dev/null | tail -1)
    /usr/bin/python3 - "$ours" "$theirs" "$c" "$r" <<'PY' | tee -a "$log"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"bench": "finetune-compare", "case": sys.argv[3], "round": int(sys.argv[4]),
    "lathe_tokens_per_s": round(a["tokens_per_s"]), "pytorch_tokens_per_s": round(b["tokens_per_s"]),
    "ratio": round(a["tokens_per_s"] / b["tokens_per_s"], 3), "lathe_peak_rss_mb": round(a["peak_rss_mb"]),
    "pytorch_peak_rss_mb": round(b["peak_rss_mb"]), "trainable": [a["trainable_params"], b["trainable_params"]]}))
PY
  done
done
/usr/bin/python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for c in dict.fromkeys(r["case"] for r in rows):
    ratios = [r["ratio"] for r in rows if r["case"] == c]
    print(json.dumps({"bench": "finetune-compare-summary", "case": c, "rounds": len(ratios), "median_ratio": statistics.median(ratios),
        "min_ratio": min(ratios), "max_ratio": max(ratios),
        "lathe_tokens_per_s": statistics.median(r["lathe_tokens_per_s"] for r in rows if r["case"] == c),
        "pytorch_tokens_per_s": statistics.median(r["pytorch_tokens_per_s"] for r in rows if r["case"] == c)}))
PY
rm -f "$log"
