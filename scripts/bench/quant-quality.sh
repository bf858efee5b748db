#!/usr/bin/env bash
# The quantization quality table (issue #19): one trained F32 llama model, every k-quant preset written twice — by
# `lathe quantize` and by llama.cpp's own llama_model_quantize (ctypes on the peer's libllama, scripts/gen/
# llama_quantize.py) — each without and with the same importance matrix (computed by `lathe quantize imatrix`); then
#   bytes: whether Lathe's file equals llama.cpp's tensor by tensor (scripts/bench/quant-compare.py),
#   llama.cpp's figures: PPL and KL(F32 ‖ quantized) of BOTH files run by node-llama-cpp (quant-quality.mjs),
#   Lathe's figures: `lathe quantize --eval` on its own file (weights as --eval-weights says).
# The model: a llama (d 256, 4 layers, 4 heads / 2 kv heads, ffn 768 — every row a multiple of 256) pretrained by
# Lathe on Moby-Dick (all but the last 5% of lines); evaluation on that last 5%. Cached in DIR between runs.
# Usage: scripts/bench/quant-quality.sh [DIR=/tmp/lathe-quant-quality] [STEPS=600] [THREADS=2] [EVAL_WEIGHTS=dequantized]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
dir=${1:-/tmp/lathe-quant-quality}; steps=${2:-600}; threads=${3:-2}; evalw=${4:-dequantized}
presets=(q2_k q3_k_m q4_k_m q5_k_m q6_k q8_0)
evaltok=4096; window=256
mkdir -p "$dir"
py=/usr/bin/python3

if [ ! -f "$dir/eval.txt" ]; then
  zcat data/corpus/moby-dick.txt.gz > "$dir/all.txt"
  n=$(wc -l < "$dir/all.txt"); keep=$((n * 95 / 100))
  head -n "$keep" "$dir/all.txt" > "$dir/train.txt"
  tail -n +"$((keep + 1))" "$dir/all.txt" > "$dir/eval.txt"
  head -c 200000 "$dir/train.txt" > "$dir/calib.txt"
fi
if [ ! -f "$dir/run/checkpoint/model.safetensors" ]; then
  ./lathe tokenizer train --vocab 2048 --input "$dir/train.txt" --output "$dir/tokenizer.json" >&2
  ./lathe data prepare --source "$dir/train.txt" --tokenizer "$dir/tokenizer.json" --out "$dir/data" >&2
  cat > "$dir/config.json" <<'JSON'
{"model_type":"llama","vocab_size":2048,"max_position_embeddings":256,"hidden_size":256,"num_hidden_layers":4,
 "num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":768,"rms_norm_eps":1e-5,"rope_theta":10000,
 "tie_word_embeddings":false}
JSON
  ./lathe pretrain --config "$dir/config.json" --data "$dir/data" --out "$dir/run" --steps "$steps" --batch-size 8 \
    --block-size 256 --lr 2e-3 --warmup 50 --eval-every 0 --checkpoint-every 0 --threads "$threads" >&2
fi
[ -f "$dir/f32.gguf" ] || ./lathe quantize --model "$dir/run" --type f32 --out "$dir/f32.gguf" --threads "$threads" >&2
[ -f "$dir/imatrix.gguf" ] || ./lathe quantize imatrix --model "$dir/f32.gguf" --text "$dir/calib.txt" --out "$dir/imatrix.gguf" \
  --window "$window" --threads "$threads" >&2
./lathe tokenizer encode --tokenizer "$dir/run/checkpoint/tokenizer.json" --input "$dir/eval.txt" --output "$dir/eval.ids" >&2

files=()
for p in "${presets[@]}"; do
  for im in plain imatrix; do
    extra=(); pyextra=()
    [ "$im" = imatrix ] && { extra=(--imatrix "$dir/imatrix.gguf"); pyextra=(--imatrix "$dir/imatrix.gguf"); }
    # Lathe's own figures need its kernels (or, dequantized, its decoders) for the type; where they are missing the
    # file is still written and the row says why Lathe's column is empty.
    if ! ./lathe quantize --model "$dir/f32.gguf" --type "$p" "${extra[@]}" --out "$dir/lathe-$p-$im.gguf" --threads "$threads" \
        --eval "$dir/eval.txt" --eval-tokens "$evaltok" --block-size "$window" --eval-weights "$evalw" > "$dir/lathe-$p-$im.out" 2> "$dir/lathe-$p-$im.err"; then
      ./lathe quantize --model "$dir/f32.gguf" --type "$p" "${extra[@]}" --out "$dir/lathe-$p-$im.gguf" --threads "$threads" > "$dir/lathe-$p-$im.out"
      $py -c 'import json,sys; j=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); j["eval_error"]=open(sys.argv[2]).read().strip().splitlines()[-1]; print(json.dumps(j))' \
        "$dir/lathe-$p-$im.out" "$dir/lathe-$p-$im.err" > "$dir/lathe-$p-$im.json"
    else
      tail -1 "$dir/lathe-$p-$im.out" > "$dir/lathe-$p-$im.json"
    fi
    $py scripts/gen/llama_quantize.py --in "$dir/f32.gguf" --out "$dir/llama-$p-$im.gguf" --preset "$p" "${pyextra[@]}" --threads "$threads"
    $py scripts/bench/quant-compare.py "$dir/lathe-$p-$im.gguf" "$dir/llama-$p-$im.gguf" > "$dir/compare-$p-$im.json"
    files+=("lathe-$p-$im.gguf" "llama-$p-$im.gguf")
  done
done
node scripts/bench/quant-quality.mjs --dir "$dir" --reference f32.gguf --ids "$dir/eval.ids" --tokens "$evaltok" --window "$window" \
  --threads "$threads" "${files[@]}" > "$dir/llama-cpp.json"
$py - "$dir" "$evalw" "${presets[@]}" <<'PY'
import json, sys
d, evalw, presets = sys.argv[1], sys.argv[2], sys.argv[3:]
peer = json.load(open(f"{d}/llama-cpp.json"))
rows = []
print(f"reference F32: llama.cpp PPL {peer['reference_ppl']:.4f} over {peer['tokens']} tokens; Lathe's PPL of it in each row's ppl_before")
print(f"{'preset':8} {'imatrix':7} | {'bytes = llama.cpp':18} | {'llama.cpp runs Lathe file':28} | {'llama.cpp runs its file':28} | Lathe runs Lathe file ({evalw})")
print(f"{'':8} {'':7} | {'':18} | {'PPL':>8} {'KL mean':>9} {'KL p99':>9} | {'PPL':>8} {'KL mean':>9} {'KL p99':>9} | {'PPL':>8} {'KL mean':>9} {'KL p99':>9} top1")
for p in presets:
    for im in ("plain", "imatrix"):
        c = json.load(open(f"{d}/compare-{p}-{im}.json"))
        la, ll = peer["files"][f"lathe-{p}-{im}.gguf"], peer["files"][f"llama-{p}-{im}.gguf"]
        lj = json.load(open(f"{d}/lathe-{p}-{im}.json"))
        same = f"{c['same_bytes']}/{c['tensors']} tensors"
        mine = (f"{lj['ppl_after']:8.4f} {lj['kl_mean']:9.5f} {lj['kl_p99']:9.5f} {lj['same_top_token']:.3f}" if "kl_mean" in lj
                else f"n/a: {lj.get('eval_error', '?')}")
        print(f"{p:8} {im:7} | {same:18} | {la['ppl']:8.4f} {la['kl_mean']:9.5f} {la['kl_p99']:9.5f} | {ll['ppl']:8.4f} {ll['kl_mean']:9.5f} {ll['kl_p99']:9.5f} | {mine}")
        rows.append({"preset": p, "imatrix": im == "imatrix", "compare": c, "llama_cpp_on_lathe_file": la, "llama_cpp_on_llama_file": ll, "lathe": lj})
json.dump({"reference": {"ppl": peer["reference_ppl"], "tokens": peer["tokens"]}, "rows": rows}, open(f"{d}/table.json", "w"))
print(json.dumps({"table": f"{d}/table.json", "rows": len(rows)}))
PY
