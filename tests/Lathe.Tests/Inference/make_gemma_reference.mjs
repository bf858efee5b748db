// Runs llama.cpp (npm node-llama-cpp 3.22.1, prebuilt CPU binaries) on the random-weight gemma / gemma2 GGUF files and
// records what Lathe must reproduce: the prompt's ids, the greedy 64-token continuation, and the raw next-token logits
// at several steps of it. Writes fixtures/gguf/gemma/llama_cpp_gemma_reference.json.
//
//   tests/Lathe.Tests/Inference/make_gemma_fixtures.sh      (writes the GGUFs, then runs this on them)
//   node make_gemma_reference.mjs <directory of the uncompressed .gguf files>
//
// As in make_llama_cpp_reference.mjs: the KV cache is F32 and flash attention is off (its CPU kernel rounds through F16),
// so the F32 comparison is of the models. llama.cpp's GELU (the Gemma MLP's gate) is a lookup table over F16 inputs
// (ggml-cpu/vec.h, GGML_GELU_FP16), which Lathe does not imitate: that alone moves logits by ~1e-3.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..", "..");
const peer = process.env.LLAMA_PEER || path.join(root, ".llama-peer", "node_modules");
const { getLlama } = await import(path.join(peer, "node-llama-cpp", "dist", "index.js"));
const source = process.argv[2] ?? path.join(here, "fixtures", "gguf", "gemma");
const target = path.join(here, "fixtures", "gguf", "gemma", "llama_cpp_gemma_reference.json");

const models = ["gemma-f32", "gemma-f16", "gemma2-f32", "gemma2-f16"];
const promptText = "The whale surfaced near the ship, and every sailor watched in silence.";
const generateTokens = 64;
const logitSteps = [0, 1, 16, 40, 63];      // after the prompt (step 0) and after k generated tokens

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const result = { generator: "node-llama-cpp@3.22.1 (llama.cpp prebuilt, CPU)", prompt_text: promptText, models: {} };

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

for (const name of models) {
    const model = await llama.loadModel({ modelPath: path.join(source, name + ".gguf") });
    const n = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
    const prompt = Array.from(model.tokenize(promptText));
    const context = await model.createContext({
        contextSize: 256, batchSize: 256, threads: 2, flashAttention: false,
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    const sequence = context.getSequence();
    const want = { logits: true };
    const input = prompt.map((t, i) => (i === prompt.length - 1 ? [t, { generateNext: want }] : t));
    let out = await sequence.controlledEvaluate(input);
    let logits = dense(out[prompt.length - 1].next.logits, n);
    const generated = [];
    const recorded = [];
    for (let step = 0; step < generateTokens; step++) {
        if (logitSteps.includes(step)) recorded.push({ step, logits: Array.from(logits, (v) => Number(v.toPrecision(7))) });
        const next = argmax(logits);
        generated.push(next);
        out = await sequence.controlledEvaluate([[next, { generateNext: want }]]);
        logits = dense(out[0].next.logits, n);
    }
    result.models[name] = { vocab: n, prompt, greedy: generated, logits: recorded };
    await context.dispose();
    await model.dispose();
    console.error(`${name}: prompt ${prompt.length} tokens, greedy ${generated.slice(0, 12).join(" ")} …`);
}

fs.writeFileSync(target + ".tmp", JSON.stringify(result, null, 0) + "\n");
fs.renameSync(target + ".tmp", target);
console.error(`wrote ${target}`);
