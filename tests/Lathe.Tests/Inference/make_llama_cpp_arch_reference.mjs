// Runs llama.cpp (npm node-llama-cpp 3.22.1, prebuilt CPU binaries) on the random-weight architecture fixtures of
// scripts/gen/random_arch_gguf.py (Llama 3 RoPE scaling, Qwen2, Mistral with a sliding-window key, Phi-3) and records
// what Lathe must reproduce: the greedy 64-token continuation of a fixed prompt and the raw next-token logits at three
// steps of it. Writes fixtures/gguf-archs/llama_cpp_reference.json.
//
//   tests/Lathe.Tests/Inference/make_gguf_arch_fixtures.sh      (writes the GGUFs, then runs this)
//
// Same settings as make_llama_cpp_reference.mjs: F32 KV cache, flash attention off, 2 threads.
// The F32 and BF16 files are not committed: their weights are exactly the F16 files' values (the generator rounds them
// so), so a test decoding the committed F16 file to float32 runs the F32 file's model, and one re-encoding it to BF16
// gets the BF16 file's weights. LLAMA_ARCH_GGUF_DIR names where the
// generated files are (default: the fixtures folder, then /tmp/lathe-arch-gguf).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..", "..");
const peer = process.env.LLAMA_PEER || path.join(root, ".llama-peer", "node_modules");
const { getLlama } = await import(path.join(peer, "node-llama-cpp", "dist", "index.js"));
const fixtures = path.join(here, "fixtures", "gguf-archs");
const generated = process.env.LLAMA_ARCH_GGUF_DIR || fixtures;

const archs = ["llama3", "qwen2", "mistral-swa", "phi3"];
const only = process.env.ARCH_ONLY;   // one architecture, for a quick look (the JSON is then not written)
const types = ["f32", "f16", "bf16"];   // bf16: recorded for the test that transcodes the F16 fixture once Lathe reads BF16
const promptText = "The whale surfaced near the ship, and every sailor watched in silence.";
const generateTokens = 64;
const logitSteps = [0, 16, 63];      // after the prompt (step 0) and after k generated tokens

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

for (const arch of archs.filter((a) => !only || a === only)) {
    for (const type of types) {
        const name = `${arch}-${type}`;
        const model = await llama.loadModel({ modelPath: path.join(generated, name + ".gguf") });
        const n = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
        const prompt = model.tokenize(promptText);
        const context = await model.createContext({
            contextSize: 256, batchSize: 256, threads: 2, flashAttention: false,
            experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
        });
        const sequence = context.getSequence();
        const want = { logits: true };
        const input = prompt.map((t, i) => (i === prompt.length - 1 ? [t, { generateNext: want }] : t));
        let out = await sequence.controlledEvaluate(input);
        let logits = dense(out[prompt.length - 1].next.logits, n);
        const greedy = [];
        const recorded = [];
        for (let step = 0; step < generateTokens; step++) {
            if (logitSteps.includes(step)) recorded.push({ step, logits: Array.from(logits, (v) => Number(v.toPrecision(7))) });
            const next = argmax(logits);
            greedy.push(next);
            out = await sequence.controlledEvaluate([[next, { generateNext: want }]]);
            logits = dense(out[0].next.logits, n);
        }
        result.models[name] = { vocab: n, prompt: Array.from(prompt), greedy, logits: recorded };
        await context.dispose();
        await model.dispose();
        console.error(`${name}: prompt ${prompt.length} tokens, greedy ${greedy.slice(0, 12).join(" ")} …`);
    }
}

if (only) process.exit(0);
fs.mkdirSync(fixtures, { recursive: true });
const target = path.join(fixtures, "llama_cpp_reference.json");
fs.writeFileSync(target + ".tmp", JSON.stringify(result, null, 0) + "\n");
fs.renameSync(target + ".tmp", target);
console.error(`wrote ${target}`);
