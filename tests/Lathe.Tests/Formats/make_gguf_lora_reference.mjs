// Runs llama.cpp (npm node-llama-cpp 3.22.1, prebuilt CPU binaries) on Lathe-written base GGUFs with Lathe-written
// GGUF LoRA adapters and records what Lathe must reproduce: the greedy 32-token continuation of a fixed token prompt
// and the raw next-token logits at five steps of it. Writes fixtures/gguf-lora/llama_cpp_lora_reference.json.
//
//   tests/Lathe.Tests/Formats/make_gguf_lora_fixtures.sh      (writes the GGUFs, then runs this)
//
// node-llama-cpp lives in .llama-peer/ (scripts/install-llama-peer.sh), or LLAMA_PEER=<its node_modules>.
// As make_llama_cpp_reference.mjs: F32 KV cache and flash attention off, so the comparison is of the models (llama.cpp's
// F16 cache and flash-attention kernel round through F16). The adapter goes in through createContext's `lora` option
// with the given user scale; llama.cpp applies it unmerged: y = W·x + scale·(alpha/r)·B·(A·x) per projection.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..", "..");
const peer = process.env.LLAMA_PEER || path.join(root, ".llama-peer", "node_modules");
const { getLlama } = await import(path.join(peer, "node-llama-cpp", "dist", "index.js"));
const fixtures = path.join(here, "fixtures", "gguf-lora");

// name → base model, adapter, user scale (GgufLoraParityTests.Cases).
const cases = [
    { name: "llama", base: "llama-base-f32", adapter: "llama-lora-f32", scale: 1 },
    { name: "llama-scale0.5", base: "llama-base-f32", adapter: "llama-lora-f32", scale: 0.5 },
    { name: "gpt2", base: "gpt2-base-f32", adapter: "gpt2-lora-f32", scale: 1 },
    // The bases alone: how far the two engines are apart before any adapter (gpt2's GELU differs, see the test).
    { name: "llama-base", base: "llama-base-f32", adapter: null, scale: 0 },
    { name: "gpt2-base", base: "gpt2-base-f32", adapter: null, scale: 0 },
];
// Fixed ids (all below the vocabulary of 300): no tokenizer in the comparison, no BOS added.
const prompt = [1, 5, 9, 200, 17, 3, 250, 42, 77, 120];
const generateTokens = 32;
const logitSteps = [0, 1, 8, 16, 31];

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const result = { generator: "node-llama-cpp@3.22.1 (llama.cpp prebuilt, CPU)", models: {} };

function argmax(logits) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
}

function dense(map, n) {
    const a = new Float64Array(n);
    for (const [token, value] of map) a[token] = value;
    return a;
}

for (const c of cases) {
    const model = await llama.loadModel({ modelPath: path.join(fixtures, c.base + ".gguf") });
    const n = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
    const context = await model.createContext({
        contextSize: 128, batchSize: 128, threads: 2, flashAttention: false,
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
        ...(c.adapter ? { lora: { adapters: [{ filePath: path.join(fixtures, c.adapter + ".gguf"), scale: c.scale }] } } : {}),
    });
    const sequence = context.getSequence();
    const want = { logits: true };
    const input = prompt.map((t, i) => (i === prompt.length - 1 ? [t, { generateNext: want }] : t));
    let out = await sequence.controlledEvaluate(input);
    let logits = dense(out[prompt.length - 1].next.logits, n);
    const greedy = [];
    const recorded = [];
    for (let step = 0; step < generateTokens; step++) {
        if (logitSteps.includes(step)) recorded.push({ step, logits: Array.from(logits, (v) => Number(v.toPrecision(9))) });
        const next = argmax(logits);
        greedy.push(next);
        out = await sequence.controlledEvaluate([[next, { generateNext: want }]]);
        logits = dense(out[0].next.logits, n);
    }
    result.models[c.name] = { base: c.base, adapter: c.adapter, scale: c.scale, vocab: n, prompt, greedy, logits: recorded };
    await context.dispose();
    await model.dispose();
    console.error(`${c.name}: greedy ${greedy.slice(0, 12).join(" ")} …`);
}

const target = path.join(fixtures, "llama_cpp_lora_reference.json");
fs.writeFileSync(target + ".tmp", JSON.stringify(result, null, 0) + "\n");
fs.renameSync(target + ".tmp", target);
console.error(`wrote ${target}`);
