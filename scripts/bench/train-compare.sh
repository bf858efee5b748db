#!/usr/bin/env bash
# Lathe's training step beside the equivalent PyTorch step (scripts/bench/train-torch.py, tuned as PEERS.md says),
# interleaved round by round so both see the same machine noise. One JSON line per round, then one per preset with
# the median ratio. Usage: scripts/bench/train-compare.sh [rounds] [threads] [presets...]   (default: 6 2 M S)
# With LATHE_BASELINE=path/to/an/older/Lathe.Cli.dll, that build runs in each round too (before/after a change), and
# the summary adds the median of this build's speed over the baseline's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-6}
threads=${2:-2}
shift $(( $# < 2 ? $# : 2 ))
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(M S)
source "$here/scripts/bench/peer-env.sh"
peer=("${torch_env[@]}" /usr/bin/python3 "$here/scripts/bench/train-torch.py")
log=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
  for p in "${presets[@]}"; do
    ours=$("$here/lathe" bench train --preset "$p" --threads "$threads" --steps 12 2>/dev/null | tail -1)
    theirs=$("${peer[@]}" --preset "$p" --threads "$threads" --steps 10 2>/dev/null | tail -1)
    base='null'
    [ -n "${LATHE_BASELINE:-}" ] && base=$(dotnet "$LATHE_BASELINE" bench train --preset "$p" --threads "$threads" --steps 12 2>/dev/null | tail -1)
    python3 - "$ours" "$theirs" "$p" "$r" "$base" <<'PY' | tee -a "$log"
import json, sys
a, b, base = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[5])
row = {"bench": "train-compare", "preset": sys.argv[3], "round": int(sys.argv[4]),
    "lathe_tokens_per_s": round(a["tokens_per_s"]), "pytorch_tokens_per_s": round(b["tokens_per_s"]),
    "ratio": round(a["tokens_per_s"] / b["tokens_per_s"], 3), "lathe_peak_rss_mb": round(a["peak_rss_mb"]),
    "pytorch_peak_rss_mb": round(b["peak_rss_mb"]), "lathe_mfu": round(a["mfu"], 3), "pytorch_mfu": round(b["mfu"], 3)}
if base is not None:
    row["baseline_tokens_per_s"] = round(base["tokens_per_s"])
    row["vs_baseline"] = round(a["tokens_per_s"] / base["tokens_per_s"], 3)
print(json.dumps(row))
PY
  done
done
python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for p in dict.fromkeys(r["preset"] for r in rows):
    ratios = [r["ratio"] for r in rows if r["preset"] == p]
    summary = {"bench": "train-compare-summary", "preset": p, "rounds": len(ratios),
        "median_ratio": statistics.median(ratios), "min_ratio": min(ratios), "max_ratio": max(ratios)}
    vs = [r["vs_baseline"] for r in rows if r["preset"] == p and "vs_baseline" in r]
    if vs: summary.update(median_vs_baseline=statistics.median(vs), min_vs_baseline=min(vs), max_vs_baseline=max(vs))
    print(json.dumps(summary))
PY
rm -f "$log"
