#!/usr/bin/env bash
# Lathe's logit-distillation step (`lathe bench distill`) beside the same step in PyTorch 1.13
# (scripts/bench/distill-torch.py, tuned as PEERS.md says), interleaved round by round so both see the same machine
# noise: one JSON line per round, then a summary with the median, min and max of Lathe's speed over the peer's.
# Usage: scripts/bench/distill-compare.sh [rounds] [threads] [teacher] [student]   (default: 5 2 M S)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-5}
threads=${2:-2}
teacher=${3:-M}
student=${4:-S}
shape=(--teacher-preset "$teacher" --student-preset "$student" --threads "$threads" --batch 8 --block 256)
source "$here/scripts/bench/peer-env.sh"
peer=("${torch_env[@]}" /usr/bin/python3 "$here/scripts/bench/distill-torch.py")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for ((r = 1; r <= rounds; r++)); do
  ours=$("$here/lathe" bench distill "${shape[@]}" --steps 10 2>/dev/null | tail -1)
  theirs=$("${peer[@]}" "${shape[@]}" --steps 10 2>/dev/null | tail -1)
  python3 - "$ours" "$theirs" "$r" <<'PY' | tee -a "$log"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for key in ("vocab", "batch", "block", "teacher_params_m", "student_params_m", "alpha", "temperature"):
    if a[key] != b[key]:
        sys.exit(f"distill-compare: the two runs differ in {key}: lathe {a[key]}, pytorch {b[key]}")
print(json.dumps({"bench": "distill-compare", "teacher_preset": a["teacher_preset"], "student_preset": a["student_preset"], "round": int(sys.argv[3]),
    "lathe_tokens_per_s": round(a["tokens_per_s"]), "pytorch_tokens_per_s": round(b["tokens_per_s"]),
    "ratio": round(a["tokens_per_s"] / b["tokens_per_s"], 3),
    "lathe_step_ms": round(a["step_ms"], 1), "pytorch_step_ms": round(b["step_ms"], 1),
    "lathe_teacher_forward_ms": round(a["teacher_forward_ms"], 1), "pytorch_teacher_forward_ms": round(b["teacher_forward_ms"], 1),
    "lathe_peak_rss_mb": round(a["peak_rss_mb"]), "pytorch_peak_rss_mb": round(b["peak_rss_mb"])}))
PY
done
python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ratios = [r["ratio"] for r in rows]
print(json.dumps({"bench": "distill-compare-summary", "teacher_preset": rows[0]["teacher_preset"], "student_preset": rows[0]["student_preset"],
    "rounds": len(rows), "median_ratio": statistics.median(ratios), "min_ratio": min(ratios), "max_ratio": max(ratios),
    "median_lathe_tokens_per_s": statistics.median(r["lathe_tokens_per_s"] for r in rows),
    "median_pytorch_tokens_per_s": statistics.median(r["pytorch_tokens_per_s"] for r in rows),
    "median_lathe_peak_rss_mb": statistics.median(r["lathe_peak_rss_mb"] for r in rows),
    "median_pytorch_peak_rss_mb": statistics.median(r["pytorch_peak_rss_mb"] for r in rows)}))
PY
