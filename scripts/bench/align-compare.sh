#!/usr/bin/env bash
# Lathe's alignment training step beside the equivalent PyTorch 1.13 step (scripts/bench/align-torch.py: the same GPT-2,
# shapes, losses and token count), interleaved round by round so both see the same machine noise. One JSON line per
# round and preset, then one per preset with the median ratio of tokens/s (and, for DPO, of the reference pass).
# Usage: scripts/bench/align-compare.sh [rounds] [threads] [method] [preset...]   (default: 5 2 dpo S)
#   method: dpo, reward or ppo (PPO: one optimisation phase over 8 rollouts; generation compared on its own line fields).
#   ALIGN_BENCH_ARGS="--pairs 1 --prompt-tokens 8 --response-tokens 8 --warmup 0 --steps 1" passes the same extra
#   arguments to both sides (a smoke test of the script; the issue's figures use the defaults).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-5}
threads=${2:-2}
method=${3:-dpo}
shift $(($# < 3 ? $# : 3))
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(S)
source "$here/scripts/bench/peer-env.sh"
peer=("${torch_env[@]}" /usr/bin/python3 "$here/scripts/bench/align-torch.py")
# A PPO phase is 4 epochs of updates, so fewer of them are timed.
default_args="--steps 8"; [ "$method" = ppo ] && default_args="--steps 4 --warmup 2"
read -r -a extra <<<"${ALIGN_BENCH_ARGS:-$default_args}"
log=$(mktemp)
err=$(mktemp)
trap 'rm -f "$log" "$err"' EXIT
for ((r = 1; r <= rounds; r++)); do
  for preset in "${presets[@]}"; do
    ours=$("$here/lathe" bench align --method "$method" --preset "$preset" --threads "$threads" "${extra[@]}" 2>"$err" | tail -1) ||
      { echo "align-compare: lathe bench align failed: $(tail -1 "$err")" >&2; exit 1; }
    theirs=$("${peer[@]}" --method "$method" --preset "$preset" --threads "$threads" "${extra[@]}" 2>"$err" | tail -1) ||
      { echo "align-compare: align-torch.py failed: $(tail -1 "$err")" >&2; exit 1; }
    /usr/bin/python3 - "$ours" "$theirs" "$method" "$preset" "$r" <<'PY' | tee -a "$log"
import json, math, sys
for side, line in (("lathe bench align", sys.argv[1]), ("align-torch.py", sys.argv[2])):
    if not line.startswith("{"):
        sys.exit(f"align-compare: {side} printed no JSON line (run it by hand to see its error)")
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if a["tokens_per_step"] != b["tokens_per_step"] or a["trainable_params"] != b["trainable_params"]:
    sys.exit(f"align-compare: the two sides differ: tokens/step {a['tokens_per_step']} vs {b['tokens_per_step']}, "
             f"trainable {a['trainable_params']} vs {b['trainable_params']}")
# Both sides must compute the same method: at the first step the policy is its own reference and the score head is
# zero, so DPO's and the reward model's loss is ln 2, and PPO's KL to the reference is 0.
for side, j in (("lathe", a), ("pytorch", b)):
    key, want = ("first_kl", 0.0) if sys.argv[3] == "ppo" else ("first_loss", math.log(2))
    if j.get(key) is None or abs(j[key] - want) > 1e-4:
        sys.exit(f"align-compare: {side}'s {key} is {j.get(key)}, expected {want:.6f}")
row = {"bench": "align-compare", "method": sys.argv[3], "preset": sys.argv[4], "round": int(sys.argv[5]),
       "lathe_tokens_per_s": round(a["tokens_per_s"]), "pytorch_tokens_per_s": round(b["tokens_per_s"]),
       "ratio": round(a["tokens_per_s"] / b["tokens_per_s"], 3), "lathe_peak_rss_mb": round(a["peak_rss_mb"]),
       "pytorch_peak_rss_mb": round(b["peak_rss_mb"])}
for key in ("reference_tokens_per_s", "generation_tokens_per_s"):
    if a.get(key) and b.get(key):
        row["lathe_" + key], row["pytorch_" + key] = round(a[key]), round(b[key])
        row[key.replace("tokens_per_s", "ratio")] = round(a[key] / b[key], 3)
print(json.dumps(row))
PY
  done
done
/usr/bin/python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for key in dict.fromkeys((r["method"], r["preset"]) for r in rows):
    mine = [r for r in rows if (r["method"], r["preset"]) == key]
    ratios = [r["ratio"] for r in mine]
    out = {"bench": "align-compare-summary", "method": key[0], "preset": key[1], "rounds": len(mine), "median_ratio": statistics.median(ratios),
           "min_ratio": min(ratios), "max_ratio": max(ratios),
           "lathe_tokens_per_s": statistics.median(r["lathe_tokens_per_s"] for r in mine),
           "pytorch_tokens_per_s": statistics.median(r["pytorch_tokens_per_s"] for r in mine),
           "lathe_peak_rss_mb": statistics.median(r["lathe_peak_rss_mb"] for r in mine),
           "pytorch_peak_rss_mb": statistics.median(r["pytorch_peak_rss_mb"] for r in mine)}
    for extra in ("reference_ratio", "generation_ratio"):
        if all(extra in r for r in mine):
            out["median_" + extra] = statistics.median(r[extra] for r in mine)
    print(json.dumps(out))
PY
