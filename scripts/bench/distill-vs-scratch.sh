#!/usr/bin/env bash
# Issue #20's main claim as one run: at equal steps and equal data, a student distilled from a bigger teacher beats the
# same student trained from scratch. On the bundled corpus (data/corpus/moby-dick.txt.gz):
#   1. split the book where the built-in tasks' held-out tail starts (scripts/data/tasks/prose.mjs: the first
#      paragraph at or after 90% of the characters), so lambada_moby and bpb_moby stay unseen;
#   2. learn a byte-level BPE tokenizer and token shards from the first 90%, as `lathe demo` does (1024 tokens; the
#      shards hold 5% of the documents out for the runs' own validation);
#   3. pre-train the teacher (preset $TEACHER) for $TEACHER_STEPS steps;
#   4. train the student (preset $STUDENT) twice with `lathe distill`, same seed (same init), same batches in the same
#      order, same steps: (a) --alpha 0, the hard-label loss alone — training from scratch; (b) --alpha $ALPHA
#      --temperature $TEMPERATURE against the teacher;
#   5. score the three: the run's own validation loss (last val_loss of metrics.jsonl), `lathe eval loss` on the
#      held-out tail (nats/token and bits per byte) and `lathe eval tasks` on lambada_moby (last-word accuracy and the
#      last word's perplexity — models this small rarely get a word right, the perplexity still moves) and bpb_moby
#      (bits per byte).
# Prints the Markdown table on stdout; progress on stderr; every command's output in WORK/logs/.
# Usage: scripts/bench/distill-vs-scratch.sh [WORK]   (default runs/distill-vs-scratch; must not exist yet)
# Settings by environment: TEACHER (S) STUDENT (gpt2-tiny) TEACHER_STEPS (300) STUDENT_STEPS (200) BATCH (16)
#   BLOCK (128) ALPHA (0.5) TEMPERATURE (2) THREADS (2) SEED (1337). The defaults took 31 minutes on the 2 cores at a
#   load average of ~35 (other jobs' builds and tests; training ran 15-20x slower than on idle cores), so a few minutes idle.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
lathe="$here/lathe"
work=${1:-runs/distill-vs-scratch}
TEACHER=${TEACHER:-S} STUDENT=${STUDENT:-gpt2-tiny} TEACHER_STEPS=${TEACHER_STEPS:-300} STUDENT_STEPS=${STUDENT_STEPS:-200}
BATCH=${BATCH:-16} BLOCK=${BLOCK:-128} ALPHA=${ALPHA:-0.5} TEMPERATURE=${TEMPERATURE:-2} THREADS=${THREADS:-2} SEED=${SEED:-1337}
if [ -e "$work" ]; then echo "distill-vs-scratch: $work already exists; remove it or pass another folder" >&2; exit 2; fi
mkdir -p "$work/logs"
log() { echo "distill-vs-scratch: $*" >&2; }
# Runs a lathe command with its output in logs/NAME.log; on failure shows the log's tail and stops.
run() {
  local name=$1; shift
  if ! "$lathe" "$@" >"$work/logs/$name.log" 2>&1; then
    echo "distill-vs-scratch: \`lathe $*\` failed; the end of $work/logs/$name.log:" >&2
    tail -5 "$work/logs/$name.log" >&2
    exit 1
  fi
}
start=$SECONDS

log "splitting the corpus at the tasks' held-out tail"
node --input-type=module - "$here" "$work" <<'JS'
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
const [repo, work] = process.argv.slice(2);
const { heldOutStart } = await import(join(repo, 'scripts/data/tasks/prose.mjs'));
const text = gunzipSync(readFileSync(join(repo, 'data/corpus/moby-dick.txt.gz'))).toString('utf8');
const held = heldOutStart(text);
writeFileSync(join(work, 'train.txt'), text.slice(0, held.index));
writeFileSync(join(work, 'heldout.txt'), text.slice(held.index));
JS

log "tokenizer and shards (first 90% of the book)"
mkdir -p "$work/data"
run tokenizer tokenizer train --type bpe --vocab 1024 --input "$work/train.txt" --output "$work/data/tokenizer.json"
run shards data shard --source "$work/train.txt" --tokenizer "$work/data/tokenizer.json" --out "$work/data" --name moby

common=(--data "$work/data" --batch-size "$BATCH" --block-size "$BLOCK" --lr 2e-3 --eval-every 100 --checkpoint-every 0 --seed "$SEED" --threads "$THREADS")
log "teacher: $TEACHER, $TEACHER_STEPS steps"
run teacher pretrain --config "$TEACHER" --out "$work/teacher" --steps "$TEACHER_STEPS" --warmup 60 "${common[@]}"
log "student $STUDENT from scratch (--alpha 0), $STUDENT_STEPS steps"
run scratch distill --teacher "$work/teacher" --student "$STUDENT" --out "$work/scratch" --alpha 0 --temperature "$TEMPERATURE" \
  --steps "$STUDENT_STEPS" --warmup 60 "${common[@]}"
log "student $STUDENT distilled (--alpha $ALPHA --temperature $TEMPERATURE), $STUDENT_STEPS steps"
run distilled distill --teacher "$work/teacher" --student "$STUDENT" --out "$work/distilled" --alpha "$ALPHA" --temperature "$TEMPERATURE" \
  --steps "$STUDENT_STEPS" --warmup 60 "${common[@]}"

for m in teacher scratch distilled; do
  log "scoring $m"
  run "eval-loss-$m" eval loss --model "$work/$m" --input "$work/heldout.txt" --block-size "$BLOCK" --threads "$THREADS" --json
  run "eval-tasks-$m" eval tasks --model "$work/$m" --tasks lambada_moby,bpb_moby --threads "$THREADS" --output "$work/tasks-$m.json"
done

log "done in $((SECONDS - start)) s"
python3 - "$work" "$TEACHER" "$STUDENT" "$TEACHER_STEPS" "$STUDENT_STEPS" "$ALPHA" "$TEMPERATURE" "$BATCH" "$BLOCK" <<'PY'
import json, os, sys
work, teacher, student, tsteps, ssteps, alpha, temperature, batch, block = sys.argv[1:]

def last_val(run):
    vals = [json.loads(l).get("val_loss") for l in open(os.path.join(work, run, "metrics.jsonl")) if l.strip()]
    vals = [v for v in vals if v is not None]
    return vals[-1] if vals else float("nan")

def eval_loss(run):
    lines = [l for l in open(os.path.join(work, "logs", f"eval-loss-{run}.log")) if l.startswith("{")]
    return json.loads(lines[-1])

def task(run, name, metric):
    m = json.load(open(os.path.join(work, f"tasks-{run}.json")))["tasks"][name]["metrics"][metric]
    return m["value"], m["stderr"]

rows = [("teacher", f"{teacher} (pretrain)", tsteps), ("scratch", f"{student}, from scratch (α = 0)", ssteps),
        ("distilled", f"{student}, distilled (α = {alpha}, T = {temperature})", ssteps)]
print(f"Teacher {teacher} and student {student} on Moby-Dick's first 90% (byte-level BPE, 1024 tokens), batch {batch} × {block} tokens; "
      "the student runs share init, data order and step count. Held-out: the book's last 10%, which no run trained on.\n")
print("| model | params | steps | val loss (run's shards) | held-out loss (nats/token) | held-out bits/byte | lambada_moby acc | lambada_moby word ppl | bpb_moby bits/byte |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for run, label, steps in rows:
    e = eval_loss(run)
    acc, acc_se = task(run, "lambada_moby", "acc")
    ppl, ppl_se = task(run, "lambada_moby", "perplexity")
    bpb, bpb_se = task(run, "bpb_moby", "bits_per_byte")
    params = json.load(open(os.path.join(work, f"tasks-{run}.json")))["model"]["parameters"]
    print(f"| {label} | {params / 1e6:.2f}M | {steps} | {last_val(run):.4f} | {e['loss']:.4f} | {e['bits_per_byte']:.4f} | "
          f"{acc:.4f} ± {acc_se:.4f} | {ppl:.0f} ± {ppl_se:.0f} | {bpb:.4f} ± {bpb_se:.4f} |")
PY
