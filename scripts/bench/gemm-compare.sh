#!/usr/bin/env bash
# Lathe's GEMM beside OpenBLAS (numpy, tuned: OPENBLAS_CORETYPE=Cooperlake), interleaved round by round
# so both see the same machine noise. Prints the medians of the per-round GFLOP/s and the ratio.
# Usage: scripts/bench/gemm-compare.sh [rounds] [threads]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-5}
threads=${2:-2}
"$here/lathe" bench gemm --m 64 --n 64 --k 64 --seconds 0.1 >/dev/null 2>&1
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for shape in "1024 1024 1024" "512 3072 768" "512 768 3072 --trans-b" "768 3072 512 --trans-a" "2048 1152 384 --trans-b" "2048 384 1536 --trans-b"; do
  set -- $shape
  ours=(); peer=()
  for ((r = 0; r < rounds; r++)); do
    ours+=("$("$here/lathe" bench gemm --m $1 --n $2 --k $3 ${4:-} --threads "$threads" --seconds 1 2>/dev/null | tail -1 | grep -oE '"gflops":[0-9.]+' | cut -d: -f2)")
    peer+=("$(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=Cooperlake OPENBLAS_NUM_THREADS="$threads" /usr/bin/python3 "$here/scripts/bench/gemm-numpy.py" --m $1 --n $2 --k $3 ${4:-} --seconds 1 | grep -oE '"gflops": [0-9.]+' | cut -d' ' -f2)")
  done
  o=$(printf '%s\n' "${ours[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median)
  printf '{"bench":"gemm-compare","m":%s,"n":%s,"k":%s,"op":"%s","threads":%s,"rounds":%s,"lathe_gflops":%s,"openblas_gflops":%s,"ratio":%.3f}\n' \
    "$1" "$2" "$3" "${4:-nn}" "$threads" "$rounds" "$o" "$p" "$(echo "$o / $p" | bc -l)"
done
