#!/usr/bin/env bash
# `lathe bench eval` (log-likelihood scoring, 8 requests of 192 + 64 tokens a pass) beside the same model's PyTorch
# forward under torch.no_grad() (scripts/bench/eval-torch.py), interleaved round by round. One JSON line per round, then
# the median ratio per preset. Usage: scripts/bench/eval-compare.sh [rounds=5] [threads=2] [presets…=S M]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-5}; threads=${2:-2}
shift $(( $# < 2 ? $# : 2 ))
presets=("$@"); [ ${#presets[@]} -eq 0 ] && presets=(S M)
source "$here/scripts/bench/peer-env.sh"
peer=("${torch_env[@]}" /usr/bin/python3 "$here/scripts/bench/eval-torch.py")
log=$(mktemp)
echo "# $(date -u +%FT%TZ) $(uptime)" >&2
for ((r = 1; r <= rounds; r++)); do
  for p in "${presets[@]}"; do
    ours=$("$here/lathe" bench eval --preset "$p" --threads "$threads" 2>/dev/null | tail -1)
    theirs=$("${peer[@]}" --preset "$p" --threads "$threads" | tail -1)
    python3 - "$ours" "$theirs" "$p" "$r" <<'PY' | tee -a "$log"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"bench": "eval-compare", "preset": sys.argv[3], "round": int(sys.argv[4]), "lathe_tokens_per_s": round(a["tokens_per_s"]),
    "pytorch_tokens_per_s": round(b["tokens_per_s"]), "ratio": round(a["tokens_per_s"] / b["tokens_per_s"], 3),
    "lathe_peak_rss_mb": round(a["peak_rss_mb"]), "pytorch_peak_rss_mb": round(b["peak_rss_mb"])}))
PY
  done
done
python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for p in sorted({r["preset"] for r in rows}):
    mine = [r for r in rows if r["preset"] == p]
    print(json.dumps({"bench": "eval-compare-summary", "preset": p, "rounds": len(mine),
        "lathe_tokens_per_s": statistics.median(r["lathe_tokens_per_s"] for r in mine),
        "pytorch_tokens_per_s": statistics.median(r["pytorch_tokens_per_s"] for r in mine),
        "median_ratio": statistics.median(r["ratio"] for r in mine)}))
PY
echo "# $(date -u +%FT%TZ) $(uptime)" >&2
