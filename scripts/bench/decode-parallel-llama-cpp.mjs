// llama.cpp decoding N sequences at once, the peer of `lathe bench decode --sequences N` (issue #15's serving target):
// one context created with `sequences: N`, N sequences each with its own prompt, generating concurrently. node-llama-cpp
// groups the tokens its sequences queue in the same event-loop cycle into one llama_decode (its continuous batching), so
// after the prompts every step decodes one token of each of the N sequences in one batch. Greedy, no stop on
// end-of-generation tokens. Prints one JSON line per N last:
//   {"bench":"decode_parallel","peer":"llama.cpp",…,"sequences":N,"pp_tokens_per_s":…,"tg_tokens_per_s":…}
//
//   node scripts/bench/decode-parallel-llama-cpp.mjs FILE.gguf [--threads 2] [--sequences 1,4,16,64]
//        [--prompt-tokens 128] [--gen-tokens 128] [--runs 3]
//
// Figures (median of runs, after one warm-up run per N), summed over the N sequences:
// - pp_tokens_per_s: N·P prompt tokens over the time from submitting the N prompts to the last sequence's first
//   sampled token (the prompts share batches of up to batchSize tokens: batchSize = N·P, capped at 8192).
// - tg_tokens_per_s: N·G generated tokens over the time from that point to the last sequence's G-th token after its
//   first (sampling through node-llama-cpp's native greedy sampler, as a user of `sequence.evaluate` gets it).
// - tg_decode_only_tokens_per_s: the same N·G tokens as G batched decode steps with no sampling in between (each step
//   N concurrent `evaluateWithoutGeneratingNewTokens([token])`, one llama_decode): llama.cpp at its best from JavaScript.
// - tg_tokens_per_cpu_s, tg_decode_only_tokens_per_cpu_s: the same tokens over the process's CPU seconds (all threads)
//   in those phases — robust on a loaded machine at one thread; with more, it counts the threads' spinning too.
// Each prompt is token ids 3 + ((7·i + 13·s) mod (vocab − 3)) for sequence s — any valid ids serve for speed.
// Threads: the context is pinned to exactly --threads (`threads: {ideal, min}`). llama.cpp's defaults otherwise (F16
// KV cache, flash attention "auto"). node-llama-cpp is found in LLAMA_PEER or <repo>/.llama-peer/node_modules.
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const peer = process.env.LLAMA_PEER || path.join(root, ".llama-peer", "node_modules");
const args = process.argv.slice(2);
const file = args.find((a, i) => !a.startsWith("--") && (i === 0 || !args[i - 1].startsWith("--")));
const option = (name, fallback) => { const i = args.indexOf("--" + name); return i >= 0 ? args[i + 1] : fallback; };
const threads = Number(option("threads", "2")), runs = Number(option("runs", "3"));
const promptLength = Number(option("prompt-tokens", "128")), generate = Number(option("gen-tokens", "128"));
const sequenceCounts = String(option("sequences", "1,4,16,64")).split(",").map(Number);
if (!file || !(threads > 0) || !(runs > 0) || !(promptLength > 0) || !(generate > 0)
    || sequenceCounts.some(n => !Number.isInteger(n) || n <= 0)) {
    console.error("usage: node scripts/bench/decode-parallel-llama-cpp.mjs FILE.gguf [--threads T] [--sequences 1,4,16,64] " +
        "[--prompt-tokens 128] [--gen-tokens 128] [--runs 3]");
    process.exit(2);
}

const { getLlama } = await import(path.join(peer, "node-llama-cpp", "dist", "index.js"));
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error", maxThreads: threads });
const model = await llama.loadModel({ modelPath: path.resolve(file) });
const vocab = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const seconds = (from, to) => Number(to - from) / 1e9;

// One measurement over N sequences of `context`: prompts, then G greedy tokens each; then the decode-only steps.
async function once(context, sequences) {
    const n = sequences.length;
    await Promise.all(sequences.map(s => s.clearHistory()));
    const prompts = sequences.map((_, s) => Array.from({ length: promptLength }, (_, i) => 3 + ((7 * i + 13 * s) % (vocab - 3))));
    const start = process.hrtime.bigint();
    const firsts = new Array(n), ends = new Array(n);
    let cpuAtPromptsDone = null;
    await Promise.all(sequences.map(async (sequence, s) => {
        let count = 0;
        for await (const token of sequence.evaluate(prompts[s], { temperature: 0, yieldEogToken: true })) {
            void token;
            if (count === 0) {
                firsts[s] = process.hrtime.bigint();
                if (firsts.filter(f => f !== undefined).length === n) cpuAtPromptsDone = process.cpuUsage();
            }
            if (++count > generate) break;
        }
        ends[s] = process.hrtime.bigint();
    }));
    const promptsDone = firsts.reduce((a, b) => (a > b ? a : b));
    const generated = ends.reduce((a, b) => (a > b ? a : b));
    const tgCpu = process.cpuUsage(cpuAtPromptsDone);

    // Decode only: G steps, each one batched llama_decode of one token per sequence, no sampling.
    await Promise.all(sequences.map(s => s.clearHistory()));
    await Promise.all(sequences.map((sequence, s) => sequence.evaluateWithoutGeneratingNewTokens(prompts[s])));
    const t0 = process.hrtime.bigint(), cpu0 = process.cpuUsage();
    for (let i = 0; i < generate; i++)
        await Promise.all(sequences.map((sequence, s) => sequence.evaluateWithoutGeneratingNewTokens([3 + ((11 * i + 5 * s) % (vocab - 3))])));
    const t1 = process.hrtime.bigint(), decodeCpu = process.cpuUsage(cpu0);
    const cpuSeconds = (u) => (u.user + u.system) / 1e6;
    return {
        pp: n * promptLength / seconds(start, promptsDone),
        tg: n * generate / seconds(promptsDone, generated),
        tgDecode: n * generate / seconds(t0, t1),
        tgCpu: n * generate / cpuSeconds(tgCpu),
        tgDecodeCpu: n * generate / cpuSeconds(decodeCpu),
    };
}

const results = [];
for (const n of sequenceCounts) {
    const context = await model.createContext({
        sequences: n,
        contextSize: promptLength + generate + 16,                      // per sequence
        batchSize: Math.min(8192, Math.max(512, n * promptLength)),      // all prompts in as few batches as possible
        threads,
    });
    const sequences = Array.from({ length: n }, () => context.getSequence());
    await once(context, sequences);
    const pp = [], tg = [], tgDecode = [], tgCpu = [], tgDecodeCpu = [];
    for (let r = 0; r < runs; r++) {
        const m = await once(context, sequences);
        pp.push(m.pp); tg.push(m.tg); tgDecode.push(m.tgDecode); tgCpu.push(m.tgCpu); tgDecodeCpu.push(m.tgDecodeCpu);
    }
    const result = {
        bench: "decode_parallel", peer: "llama.cpp", version: "node-llama-cpp 3.22.1", model: path.basename(file), threads, runs,
        sequences: n, prompt_tokens: promptLength, gen_tokens: generate,
        pp_tokens_per_s: +median(pp).toFixed(1), tg_tokens_per_s: +median(tg).toFixed(1),
        tg_decode_only_tokens_per_s: +median(tgDecode).toFixed(1),
        tg_tokens_per_cpu_s: +median(tgCpu).toFixed(1), tg_decode_only_tokens_per_cpu_s: +median(tgDecodeCpu).toFixed(1), rss_mb: +(process.memoryUsage().rss / 1048576).toFixed(0),
    };
    results.push(result);
    console.error(`llama.cpp ${path.basename(file)}, ${threads} threads, ${n} sequences: pp ${result.pp_tokens_per_s} tok/s, ` +
        `tg ${result.tg_tokens_per_s} tok/s (decode only ${result.tg_decode_only_tokens_per_s})`);
    for (const s of sequences) s.dispose();
    await context.dispose();
}
for (const r of results) console.log(JSON.stringify(r));
await model.dispose();
