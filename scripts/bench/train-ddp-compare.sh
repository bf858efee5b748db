#!/usr/bin/env bash
# Lathe's data-parallel training step (issue #18) beside PyTorch DistributedDataParallel (scripts/bench/train-ddp-torch.py,
# gloo, tuned as PEERS.md says), interleaved round by round so all see the same machine noise. Per round and preset:
#   (a) mpirun -np 2 --bind-to core ./lathe bench train --threads 1   (Lathe, 2 ranks × 1 thread)
#   (b) ./lathe bench train --threads 2                               (Lathe, 1 process × 2 threads)
#   (c) mpirun -np 2 --bind-to core train-ddp-torch.py --threads 1    (PyTorch DDP, 2 ranks × 1 thread)
#   (d) the same with --zero                                          (PyTorch DDP + ZeroRedundancyOptimizer)
# One JSON line per round (tokens/s of each, counting all ranks; Lathe-2-ranks over PyTorch DDP and over PyTorch ZeRO;
# each side's comm_wait_ms_per_step, the 1-minute load average), then one per preset with the median/min/max ratios.
# A run that fails, hangs or prints no JSON counts as null and the rounds go on; so does an (a) whose line lacks
# "ranks": 2 (a Lathe without MPI support runs two single-process benches); LATHE_RANKS=0 skips (a).
# Usage: scripts/bench/train-ddp-compare.sh [rounds] [presets...]   (default: 5 S M)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-5}
shift $(( $# < 1 ? $# : 1 ))
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(S M)
mpi=(mpirun --allow-run-as-root -np 2 --bind-to core)
source "$here/scripts/bench/peer-env.sh"
peer=("${torch_env[@]}" /usr/bin/python3 "$here/scripts/bench/train-ddp-torch.py")
"$here/lathe" --help >/dev/null 2>&1 || true  # build once here, not in two ranks at the same time
last() { { timeout -k 10 900 "$@" 2>/dev/null || true; } | tail -1; }  # a hung run counts as failed
log=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
  for p in "${presets[@]}"; do
    ranks=''
    [ "${LATHE_RANKS:-1}" != 0 ] && ranks=$(last "${mpi[@]}" "$here/lathe" bench train --preset "$p" --threads 1 --steps 12)
    single=$(last "$here/lathe" bench train --preset "$p" --threads 2 --steps 12)
    ddp=$(last "${mpi[@]}" "${peer[@]}" --preset "$p" --threads 1 --steps 10)
    zero=$(last "${mpi[@]}" "${peer[@]}" --preset "$p" --threads 1 --steps 10 --zero)
    load=$(cut -d' ' -f1 /proc/loadavg)
    python3 - "$p" "$r" "$ranks" "$single" "$ddp" "$zero" "$load" <<'PY' | tee -a "$log"
import json, sys
def parse(s):
    try:
        j = json.loads(s)
        return j if isinstance(j, dict) and j.get("tokens_per_s") else None
    except ValueError:
        return None
a, b, c, d = (parse(s) for s in sys.argv[3:7])
if a is not None and a.get("ranks") != 2:
    a = None  # a Lathe without MPI support runs two independent single-process benches: not a 2-rank figure
tps = lambda j: None if j is None else round(j["tokens_per_s"])
wait = lambda j: None if j is None or j.get("comm_wait_ms_per_step") is None else round(j["comm_wait_ms_per_step"], 1)
ratio = lambda x, y: None if x is None or y is None else round(x["tokens_per_s"] / y["tokens_per_s"], 3)
print(json.dumps({"bench": "train-ddp-compare", "preset": sys.argv[1], "round": int(sys.argv[2]),
    "lathe_ranks_tokens_per_s": tps(a),
    "lathe_single_tokens_per_s": tps(b), "pytorch_ddp_tokens_per_s": tps(c), "pytorch_zero_tokens_per_s": tps(d),
    "ratio_vs_ddp": ratio(a, c), "ratio_vs_zero": ratio(a, d), "lathe_ranks_vs_single": ratio(a, b),
    "lathe_comm_wait_ms_per_step": wait(a), "pytorch_ddp_comm_wait_ms_per_step": wait(c),
    "pytorch_zero_comm_wait_ms_per_step": wait(d), "load_1m": float(sys.argv[7])}))
PY
  done
done
python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def stats(xs, name):
    xs = [x for x in xs if x is not None]
    return {f"median_{name}": statistics.median(xs) if xs else None, f"min_{name}": min(xs, default=None), f"max_{name}": max(xs, default=None)}
for p in dict.fromkeys(r["preset"] for r in rows):
    rs = [r for r in rows if r["preset"] == p]
    summary = {"bench": "train-ddp-compare-summary", "preset": p, "rounds": len(rs)}
    for k in ("ratio_vs_ddp", "ratio_vs_zero", "lathe_ranks_vs_single"):
        summary.update(stats([r[k] for r in rs], k))
    for k in ("lathe_ranks_tokens_per_s", "lathe_single_tokens_per_s", "pytorch_ddp_tokens_per_s", "pytorch_zero_tokens_per_s",
              "lathe_comm_wait_ms_per_step", "pytorch_ddp_comm_wait_ms_per_step", "pytorch_zero_comm_wait_ms_per_step"):
        xs = [r[k] for r in rs if r[k] is not None]
        summary["median_" + k] = statistics.median(xs) if xs else None
    print(json.dumps(summary))
PY
rm -f "$log"
