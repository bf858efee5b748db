#!/usr/bin/env bash
# `lathe bench vision --model MODEL` beside its PyTorch peer (scripts/bench/vision_peer_MODEL.py, tuned as
# ../shared/PEERS.md says), interleaved round by round so both see the same machine noise. One JSON line per round, then
# a summary with the median of the per-round ratios (Lathe's images/s ÷ PyTorch's).
#   scripts/bench/vision-compare.sh MODEL [ROUNDS] [THREADS]     (MODEL: vit or dit; default 5 rounds, 2 threads)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
model=${1:?model (vit or dit)}
rounds=${2:-5}
threads=${3:-2}
script="$here/scripts/bench/vision_peer_$model.py"
[ -f "$script" ] || { echo "vision-compare: no peer $script" >&2; exit 2; }
source "$here/scripts/bench/peer-env.sh"
peer=("${torch_env[@]}" /usr/bin/python3 "$script")
dll="$here/src/Lathe.Cli/bin/Release/net10.0/Lathe.Cli.dll"
[ -f "$dll" ] || (cd "$here" && dotnet build src/Lathe.Cli -c Release -nologo -v q >&2)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "# $(date -u +%FT%TZ) $(uptime)" >&2
for ((r = 1; r <= rounds; r++)); do
  ours=$(dotnet "$dll" bench vision --model "$model" --threads "$threads" 2>/dev/null | grep '^{' | tail -1)
  theirs=$("${peer[@]}" --threads "$threads" 2>/dev/null | grep '^{' | tail -1)
  python3 - "$ours" "$theirs" "$model" "$r" <<'PY' | tee -a "$log"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"bench": "vision-compare", "model": sys.argv[3], "round": int(sys.argv[4]), "threads": a["threads"],
    "lathe_images_per_s": round(a["images_per_s"], 1), "pytorch_images_per_s": round(b["images_per_s"], 1),
    "ratio": round(a["images_per_s"] / b["images_per_s"], 3),
    "lathe_peak_rss_mb": round(a["peak_rss_mb"]), "pytorch_peak_rss_mb": round(b["peak_rss_mb"])}))
PY
done
echo "# $(date -u +%FT%TZ) $(uptime)" >&2
python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ratios = [r["ratio"] for r in rows]
print(json.dumps({"bench": "vision-compare-summary", "model": rows[0]["model"], "rounds": len(ratios),
    "median_ratio": statistics.median(ratios), "min_ratio": min(ratios), "max_ratio": max(ratios),
    "lathe_images_per_s": statistics.median(r["lathe_images_per_s"] for r in rows),
    "pytorch_images_per_s": statistics.median(r["pytorch_images_per_s"] for r in rows)}))
PY
