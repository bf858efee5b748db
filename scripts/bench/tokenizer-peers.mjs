// The tokenizer peers, measured like `lathe bench tokenizer` (single thread, in-process, median of runs):
//  - GPT-2 encode of Moby-Dick with tiktoken (npm, WASM) and Hugging Face tokenizers (node binding, Rust core)
//    — HF loads GPT-2 from a tokenizer.json that `lathe bench tokenizer` writes (--write-gpt2-json);
//  - byte-level BPE training on the State of the Union text with HF tokenizers (its node binding trains only
//    with the default trainer: 30,000 tokens).
// Usage: node scripts/bench/tokenizer-peers.mjs <moby.txt> <sotu.txt> <gpt2-tokenizer.json>
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.resolve(here, "../../.peers/node_modules/x.js"));
const { get_encoding } = require("tiktoken");
const hf = require("tokenizers");
const [mobyPath, sotuPath, gpt2Json] = process.argv.slice(2);
const moby = readFileSync(mobyPath, "utf8");
const mb = Buffer.byteLength(moby) / 1e6;
const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
async function time(fn, runs) { await fn(); const t = []; for (let i = 0; i < runs; i++) { const s = process.hrtime.bigint(); await fn(); t.push(Number(process.hrtime.bigint() - s) / 1e6); } return median(t); }

const enc = get_encoding("gpt2");
let count = 0;
const tiktokenMs = await time(() => { count = enc.encode(moby).length; }, 5);
console.log(JSON.stringify({ bench: "tokenizer", peer: "tiktoken", version: "1.0.22", task: "gpt2-encode", tokens: count, ms: +tiktokenMs.toFixed(1), mb_per_s: +(mb / (tiktokenMs / 1e3)).toFixed(2) }));

for (const name of ["cl100k", "o200k"]) {
  const e = get_encoding(`${name}_base`);
  let n = 0;
  const ms = await time(() => { n = e.encode(moby).length; }, 5);
  console.log(JSON.stringify({ bench: "tokenizer", peer: "tiktoken", version: "1.0.22", task: `${name}-encode`, tokens: n, ms: +ms.toFixed(1), mb_per_s: +(mb / (ms / 1e3)).toFixed(2) }));
}

const tok = hf.Tokenizer.fromFile(gpt2Json);
let hfCount = 0;
const hfMs = await time(async () => { hfCount = (await tok.encode(moby)).getIds().length; }, 5);
console.log(JSON.stringify({ bench: "tokenizer", peer: "hf-tokenizers", version: "0.23.2", task: "gpt2-encode", tokens: hfCount, ms: +hfMs.toFixed(1), mb_per_s: +(mb / (hfMs / 1e3)).toFixed(2) }));

const trainer = new hf.Tokenizer(hf.BPE.empty());
trainer.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
const t0 = process.hrtime.bigint();
trainer.train([sotuPath]);
const trainMs = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(JSON.stringify({ bench: "tokenizer", peer: "hf-tokenizers", version: "0.23.2", task: "bpe-train", vocab: trainer.getVocabSize(true), ms: +trainMs.toFixed(1) }));
