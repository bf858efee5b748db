// Records llama.cpp's log-likelihoods of continuations on the GGUF parity fixtures (tests/Lathe.Tests/Inference/
// fixtures/gguf/), for LlamaCppLogLikelihoodTests: log p(continuation | context) summed over the continuation's tokens,
// and whether each token is llama.cpp's argmax, from the raw next-token logits (log-softmax taken here in double).
// Same context settings as make_llama_cpp_reference.mjs: F32 KV cache, flash attention off.
//
//   node tests/Lathe.Tests/Evaluation/Tasks/make_llama_cpp_loglik_reference.mjs
//
// Needs node-llama-cpp 3.22.1 in .llama-peer/ (scripts/install-llama-peer.sh) or LLAMA_PEER=<its node_modules>.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..", "..", "..");
const peer = process.env.LLAMA_PEER || path.join(root, ".llama-peer", "node_modules");
const { getLlama } = await import(path.join(peer, "node-llama-cpp", "dist", "index.js"));
const fixtures = path.join(root, "tests", "Lathe.Tests", "Inference", "fixtures", "gguf");

const models = ["gpt2vocab-f32", "gpt2vocab-q8_0", "spm-f16"];
const pairs = [
    ["The whale surfaced near the ship,", " and every sailor watched in silence."],
    ["Call me Ishmael.", " Some years ago"],
    ["Q: What is the capital of France?\nA:", " Paris"],
    ["Q: What is the capital of France?\nA:", " Rome"],
    ["x", " y"],
];
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const result = { generator: "node-llama-cpp@3.22.1 (llama.cpp prebuilt, CPU)", models: {} };

for (const name of models) {
    const model = await llama.loadModel({ modelPath: path.join(fixtures, name + ".gguf") });
    const requests = [];
    for (const [ctxText, contText] of pairs) {
        const context = Array.from(model.tokenize(ctxText)), continuation = Array.from(model.tokenize(contText));
        const ctx = await model.createContext({
            contextSize: 256, batchSize: 256, threads: 2, flashAttention: false,
            experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
        });
        const sequence = ctx.getSequence();
        const input = [...context, ...continuation.slice(0, -1)];
        const want = { logits: true };
        const items = input.map((t, i) => (i >= context.length - 1 ? [t, { generateNext: want }] : t));
        const out = await sequence.controlledEvaluate(items);
        let sum = 0, greedy = true;
        for (let k = 0; k < continuation.length; k++) {
            const logits = out[context.length - 1 + k].next.logits;   // Map token → logit
            let max = -Infinity, arg = -1;
            for (const [t, v] of logits) if (v > max || (v === max && t < arg)) { max = v; arg = t; }
            let z = 0;
            for (const [, v] of logits) z += Math.exp(v - max);
            sum += logits.get(continuation[k]) - max - Math.log(z);
            greedy &&= arg === continuation[k];
        }
        requests.push({ context, continuation, loglikelihood: sum, is_greedy: greedy });
        await ctx.dispose();
    }
    result.models[name] = requests;
    await model.dispose();
    console.error(`${name}: ${requests.map((r) => r.loglikelihood.toFixed(4)).join(" ")}`);
}
const target = path.join(here, "fixtures", "llama_cpp_loglik_reference.json");
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.writeFileSync(target + ".tmp", JSON.stringify(result, null, 0) + "\n");
fs.renameSync(target + ".tmp", target);
console.error(`wrote ${target}`);
