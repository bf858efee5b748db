#!/usr/bin/env bash
# The hallucination experiment of issue #17, from a fresh clone, no hand steps: "scaling vs knowledge graph".
#   scripts/kg/experiment.sh [--quick] [OUT_DIR]
# 1. kg import        the shipped graph (data/kg/graph.jsonl.gz) into an SQLite store
# 2. kg questions     held-out and training questions (every phrasing, unanswerables about invented names), the QA
#                     tuning data, and the held-out facts to leave out of the no-injection corpus
# 3. kg verbalise     two corpora of the experiment's relations: WITH the held-out facts (knowledge injection) and
#                     WITHOUT them (and their inverses)
# 4. tokenizer train, data prepare (each corpus), pretrain 4 sizes × {inject, plain}, finetune (QA, full) each
# 5. eval hallucination on all eight models × {alone, retrieval, constrained, checked} → OUT_DIR
#    (hallucination.json / .md / .html, plots as SVG + PNG, the answers)
# OUT_DIR defaults to docs/kg-experiment (with --quick: WORK/report). Work files go to $KG_WORK (default
# runs/kg-experiment[-quick]); each run starts them afresh. $LATHE overrides the command (default: ./lathe).
# --quick: tiny sizes and few steps, ≤ 2 min — a smoke test of the chain (HallucinationCliTests runs it in process); its numbers
# mean nothing. The full run is sized for ≤ 40 min on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
quick=0
out=""
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "experiment.sh: unknown option $arg" >&2; exit 2 ;;
    *) out="$arg" ;;
  esac
done
read -r -a lathe <<< "${LATHE:-$root/lathe}"
[ -n "$out" ] && out=$(realpath -m "$out")   # as the caller meant it, before the cd below
[ -n "${KG_WORK:-}" ] && KG_WORK=$(realpath -m "$KG_WORK")
cd "$root"   # relative work paths, so the report names runs/kg-experiment/…, not this clone's location
threads=${KG_THREADS:-2}

# Short-answer relations about countries and elements. capital_of is left out: it states capital facts the other way
# round (the question set also excludes inverses of held-out facts from the no-injection corpus).
relations="capital,continent,region,subregion,currency,official_language,demonym,symbol,atomic_number,year_discovered,group_block,standard_state"

if [ "$quick" = 1 ]; then
  work=${KG_WORK:-runs/kg-experiment-quick}
  out=${out:-$work/report}
  relations="capital,continent,symbol"
  per_relation=6; repeat=1; vocab=400; budget=48
  sizes=("xs:32:1:2" "s:48:1:2")          # name:n_embd:n_layer:n_head
  pretrain=(--steps 4 --batch-size 4 --block-size 64 --warmup 1 --eval-every 0)
  finetune=(--steps 3 --batch-size 4 --block-size 128)
  limit=(--limit 12)
  bootstrap=50
else
  work=${KG_WORK:-runs/kg-experiment}
  out=${out:-docs/kg-experiment}
  per_relation=${KG_PER_RELATION:-40}; repeat=${KG_REPEAT:-4}; vocab=${KG_VOCAB:-2048}
  read -r -a sizes <<< "${KG_SIZES:-xs:64:2:2 s:128:3:4 m:192:4:4 l:256:6:8}"
  # 600 steps × 16 × 128 tokens ≈ 12 passes over the 4× corpus (~98k tokens): every fact is read ~50 times.
  pretrain=(--steps "${KG_PRETRAIN_STEPS:-600}" --batch-size 16 --block-size 128 --warmup 60 --lr 3e-3 --eval-every 0)
  finetune=(--epochs "${KG_FINETUNE_EPOCHS:-3}" --batch-size 16 --block-size 256 --lr 1e-3)
  limit=()
  [ -n "${KG_LIMIT:-}" ] && limit=(--limit "$KG_LIMIT")
  bootstrap=1000
  # A few facts (≈ 4) per retrieval prompt: tiny models copy from a short context more reliably than from a long one.
  budget=${KG_FACT_BUDGET:-48}
fi

say() { echo "experiment: $(date -u +%H:%M:%S) $*" >&2; }
run() { "${lathe[@]}" "$@"; }

rm -rf "$work"
mkdir -p "$work" "$out"
started=$(date +%s)

say "1. import the shipped graph"
run kg import --db "$work/graph.db" >/dev/null

say "2. questions"
run kg questions --db "$work/graph.db" --out "$work/questions" --relations "$relations" --per-relation "$per_relation" \
  --fact-budget "$budget" --seed 1 >/dev/null

say "3. corpora: with (inject) and without (plain) the held-out facts"
run kg verbalise --db "$work/graph.db" --out "$work/corpus/inject.txt" --relations "$relations" --repeat "$repeat" --seed 1 >/dev/null
run kg verbalise --db "$work/graph.db" --out "$work/corpus/plain.txt" --relations "$relations" --repeat "$repeat" --seed 1 \
  --exclude "$work/questions/exclude.jsonl" >/dev/null

say "4. tokenizer (one for every model: trained on the injection corpus and the QA prompts)"
run tokenizer train --vocab "$vocab" --input "$work/corpus/inject.txt" "$work/questions/qa-train.jsonl" --output "$work/tok.json" \
  --special "<|endoftext|>" "<|im_start|>" "<|im_end|>" >/dev/null
for corpus in inject plain; do
  # Facts are short and repeated on purpose: no deduplication, no quality filter, no validation split (a held-out
  # document would take facts out of the corpus).
  run data prepare --source "$work/corpus/$corpus.txt" --out "$work/data-$corpus" --tokenizer "$work/tok.json" --min-words 1 \
    --no-exact-dedup --no-near-dedup --no-quality-filter --val-fraction 0 --threads "$threads" >/dev/null 2>"$work/data-$corpus.log"
done

models=()
for size in "${sizes[@]}"; do
  IFS=: read -r name embd layers heads <<< "$size"
  for corpus in inject plain; do
    say "5. pretrain $corpus/$name (n_embd $embd, $layers layers) and QA-tune it"
    run pretrain --config gpt2-tiny --n-embd "$embd" --n-layer "$layers" --n-head "$heads" --n-positions 256 \
      --data "$work/data-$corpus" --out "$work/pre-$corpus-$name" --threads "$threads" --seed 1 "${pretrain[@]}" >/dev/null 2>"$work/pre-$corpus-$name.log"
    run finetune --model "$work/pre-$corpus-$name" --data "$work/questions/qa-train.jsonl" --method full --val-fraction 0.05 \
      --out "$work/qa-$corpus-$name" --threads "$threads" --seed 1 "${finetune[@]}" >"$work/qa-$corpus-$name.json" 2>"$work/qa-$corpus-$name.log"
    models+=("$corpus/$name=$work/qa-$corpus-$name")
  done
done

say "6. eval hallucination: ${#models[@]} models × 4 arms"
list=$(IFS=,; echo "${models[*]}")
run eval hallucination --model "$list" --kg "$work/graph.db" --questions "$work/questions" --out "$out" \
  --threads "$threads" --bootstrap "$bootstrap" "${limit[@]}" 2>"$work/eval.log"
cp "$work/questions/questions.json" "$out/questions.json"
say "done in $(( $(date +%s) - started )) s: $out/hallucination.html"
