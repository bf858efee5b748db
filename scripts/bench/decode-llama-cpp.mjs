// llama.cpp's decode speed on a GGUF file, measured like `lathe bench decode` (the peer of the speed target):
// prompt processing of a 512-token prompt in one batch (pp) and greedy generation of 128 tokens after it (tg), on CPU
// with N threads, median of R runs after one warm-up. Prints one JSON line last:
//   {"bench":"decode","peer":"llama.cpp","version":"node-llama-cpp 3.22.1",…,"pp_tokens_per_s":…,"tg_tokens_per_s":…}
//
//   node scripts/bench/decode-llama-cpp.mjs FILE.gguf [--threads 2] [--runs 5] [--prompt 512] [--generate 128]
//
// The prompt is the fixed token ids 3 + (7·i mod (vocab − 3)) — any valid ids serve for speed. pp time is from
// submitting the prompt to receiving the first sampled token; tg time covers the next 128 tokens (each one decode).
// llama.cpp's defaults otherwise (F16 KV cache, flash attention "auto"), as a llama.cpp user would run it.
// node-llama-cpp is found in LLAMA_PEER or <repo>/.llama-peer/node_modules.
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const peer = process.env.LLAMA_PEER || path.join(root, ".llama-peer", "node_modules");
const args = process.argv.slice(2);
const file = args.find((a, i) => !a.startsWith("--") && (i === 0 || !args[i - 1].startsWith("--")));
const option = (name, fallback) => { const i = args.indexOf("--" + name); return i >= 0 ? Number(args[i + 1]) : fallback; };
const threads = option("threads", 2), runs = option("runs", 5), promptLength = option("prompt", 512), generate = option("generate", 128);
if (!file || !(threads > 0) || !(runs > 0) || !(promptLength > 0) || !(generate > 0)) {
    console.error("usage: node scripts/bench/decode-llama-cpp.mjs FILE.gguf [--threads N] [--runs R] [--prompt 512] [--generate 128]");
    process.exit(2);
}
const { getLlama } = await import(path.join(peer, "node-llama-cpp", "dist", "index.js"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath: path.resolve(file) });
const vocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
const context = await model.createContext({ contextSize: promptLength + generate + 16, batchSize: promptLength, threads });
const sequence = context.getSequence();
const prompt = Array.from({ length: promptLength }, (_, i) => 3 + ((7 * i) % (vocab - 3)));

async function once() {
    await sequence.clearHistory();
    const start = process.hrtime.bigint();
    let first = 0n, count = 0;
    // Greedy; no stop on end-of-generation tokens, so every run generates exactly `generate` tokens.
    for await (const token of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
        void token;
        if (count === 0) first = process.hrtime.bigint();
        if (++count > generate) break;
    }
    const end = process.hrtime.bigint();
    // Decode alone: the same number of single-token llama_decode calls with no sampling in between (what the
    // sampler and the async iterator add is left out: llama.cpp at its best from JavaScript).
    await sequence.clearHistory();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < generate; i++) await sequence.evaluateWithoutGeneratingNewTokens([3 + ((11 * i) % (vocab - 3))]);
    const t1 = process.hrtime.bigint();
    return { pp: promptLength / (Number(first - start) / 1e9), tg: generate / (Number(end - first) / 1e9), tgDecode: generate / (Number(t1 - t0) / 1e9) };
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
await once();
const pp = [], tg = [], tgDecode = [];
for (let r = 0; r < runs; r++) { const m = await once(); pp.push(m.pp); tg.push(m.tg); tgDecode.push(m.tgDecode); }
const rssMb = process.memoryUsage().rss / 1048576;
console.log(JSON.stringify({
    bench: "decode", peer: "llama.cpp", version: "node-llama-cpp 3.22.1", model: path.basename(file), threads, runs,
    prompt_tokens: promptLength, generated_tokens: generate,
    pp_tokens_per_s: +median(pp).toFixed(1), tg_tokens_per_s: +median(tg).toFixed(2),
    tg_decode_only_tokens_per_s: +median(tgDecode).toFixed(2), rss_mb: +rssMb.toFixed(0),
}));
await context.dispose();
await model.dispose();
