// Greedy continuation of a GGUF model with llama.cpp (npm node-llama-cpp 3.22.1), for checking that llama.cpp runs
// what Lathe wrote and continues it as Lathe does:
//
//   node scripts/llama-cpp-greedy.mjs FILE.gguf "1 300 301" 32
//   ./lathe generate --model FILE.gguf --prompt-ids "1 300 301" --max-tokens 32 --temperature 0 --json
//
// Prints one JSON line {"tokens":[…]}. F32 KV cache and flash attention off, so an F32 file is computed in float32
// throughout. node-llama-cpp is found in LLAMA_PEER or <repo>/.llama-peer/node_modules (see
// tests/Lathe.Tests/Inference/make_llama_cpp_reference.mjs).
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const peer = process.env.LLAMA_PEER || path.join(root, ".llama-peer", "node_modules");
const [file, idsText, countText] = process.argv.slice(2);
if (!file || !idsText) {
    console.error("usage: node scripts/llama-cpp-greedy.mjs FILE.gguf \"ID ID …\" [COUNT]");
    process.exit(2);
}
const { getLlama } = await import(path.join(peer, "node-llama-cpp", "dist", "index.js"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const model = await llama.loadModel({ modelPath: path.resolve(file) });
const context = await model.createContext({
    contextSize: Math.min(model.trainContextSize, 2048), threads: 2, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
});
const sequence = context.getSequence();
const prompt = idsText.trim().split(/[\s,]+/).map(Number);
const count = Number(countText ?? 32);
const want = { logits: true };
let out = await sequence.controlledEvaluate(prompt.map((t, i) => (i === prompt.length - 1 ? [t, { generateNext: want }] : t)));
let logits = out[prompt.length - 1].next.logits;
const tokens = [];
for (let i = 0; i < count; i++) {
    let best = -1, bestValue = -Infinity;
    for (const [token, value] of logits) if (value > bestValue || (value === bestValue && token < best)) { best = token; bestValue = value; }
    tokens.push(best);
    if (i + 1 === count) break;
    out = await sequence.controlledEvaluate([[best, { generateNext: want }]]);
    logits = out[0].next.logits;
}
console.log(JSON.stringify({ tokens }));
await context.dispose();
await model.dispose();
