// llama.cpp's quality figures for quantized GGUF files (node-llama-cpp, CPU): the same token ids, in the same windows
// as `lathe quantize --eval` (WINDOW tokens, stride WINDOW, each position predicting the next token, the tail one
// shorter window), run through the F32 reference file and each quantized file; prints one JSON line with the reference
// perplexity and, per file, perplexity, KL(reference ‖ file) per token (mean, median, 99th percentile, max) and the
// share of positions whose top token agrees — the figures llama.cpp's perplexity --kl-divergence prints.
//   node scripts/bench/quant-quality.mjs --dir D --reference f32.gguf --ids eval.ids --tokens 4096 --window 256 a.gguf b.gguf …
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const peer = process.env.LLAMA_PEER || path.join(root, ".llama-peer", "node_modules");
const { getLlama } = await import(path.join(peer, "node-llama-cpp", "dist", "index.js"));

const args = process.argv.slice(2);
const opt = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : fallback; };
const dir = opt("--dir", "."), reference = opt("--reference"), idsPath = opt("--ids");
const maxTokens = Number(opt("--tokens", "4096")), window = Number(opt("--window", "256")), threads = Number(opt("--threads", "2"));
const files = args;
let ids = fs.readFileSync(idsPath, "utf8").split(/\s+/).filter((s) => s.length).map(Number);
if (ids.length > maxTokens) ids = ids.slice(0, maxTokens);

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });

async function open(file) {
    const model = await llama.loadModel({ modelPath: path.join(dir, file) });
    const context = await model.createContext({
        contextSize: window, batchSize: window, threads, flashAttention: false,
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    return { model, context, sequence: context.getSequence(), vocab: model.fileInfo.metadata.tokenizer.ggml.tokens.length };
}

// log-softmax of every position of one window (t rows of V)
async function logProbs(m, tokens) {
    await m.sequence.clearHistory();
    const want = { logits: true };
    const out = await m.sequence.controlledEvaluate(tokens.map((t) => [t, { generateNext: want }]));
    const V = m.vocab, rows = new Float64Array(tokens.length * V);
    for (let i = 0; i < tokens.length; i++) {
        const row = rows.subarray(i * V, (i + 1) * V);
        row.fill(-Infinity);
        for (const [token, value] of out[i].next.logits) row[token] = value;
        let max = -Infinity;
        for (const v of row) if (v > max) max = v;
        let sum = 0;
        for (const v of row) sum += Math.exp(v - max);
        const lse = max + Math.log(sum);
        for (let j = 0; j < V; j++) row[j] -= lse;
    }
    return rows;
}

const argmax = (row) => { let b = 0; for (let i = 1; i < row.length; i++) if (row[i] > row[b]) b = i; return b; };
const ref = await open(reference);
const models = [];
for (const f of files) models.push({ file: f, m: await open(f), nll: 0, kl: [], same: 0 });
let refNll = 0, n = 0;
const V = ref.vocab;
for (let pos = 0; pos < ids.length - 1; pos += window) {
    const t = Math.min(window, ids.length - 1 - pos);
    const tokens = ids.slice(pos, pos + t);
    const p = await logProbs(ref, tokens);
    for (let i = 0; i < t; i++) refNll -= p[i * V + ids[pos + i + 1]];
    for (const q of models) {
        const lq = await logProbs(q.m, tokens);
        for (let i = 0; i < t; i++) {
            const a = p.subarray(i * V, (i + 1) * V), b = lq.subarray(i * V, (i + 1) * V);
            q.nll -= b[ids[pos + i + 1]];
            let d = 0;
            for (let j = 0; j < V; j++) if (a[j] > -Infinity) d += Math.exp(a[j]) * (a[j] - b[j]);
            q.kl.push(Math.max(d, 0));
            if (argmax(a) === argmax(b)) q.same++;
        }
    }
    n += t;
}
const pct = (s, f) => { const at = f * (s.length - 1), lo = Math.floor(at), hi = Math.min(lo + 1, s.length - 1); return s[lo] + (at - lo) * (s[hi] - s[lo]); };
const result = { generator: "node-llama-cpp@3.22.1 (llama.cpp prebuilt, CPU)", tokens: n, window, reference_ppl: Math.exp(refNll / n), files: {} };
for (const q of models) {
    const s = q.kl.slice().sort((x, y) => x - y);
    result.files[q.file] = {
        ppl: Math.exp(q.nll / n), kl_mean: s.reduce((x, y) => x + y, 0) / s.length, kl_median: pct(s, 0.5),
        kl_p99: pct(s, 0.99), kl_max: s[s.length - 1], same_top_token: q.same / n,
    };
}
console.log(JSON.stringify(result));
process.exit(0);
