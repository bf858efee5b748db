// Writes tests/Lathe.Tests/Knowledge/Corpus/fixtures/namekey-cases.json: every distinct name and alias of the shipped graph
// that is not plain ASCII, with its key by namekey.mjs, plus hand-made edge cases. The C# test
// checks NameKey.Of gives the same key for each, so the data script and the store agree on which names are equal.
//
//   node scripts/data/kg/namekey-cases.mjs [graph.jsonl.gz, default data/kg/graph.jsonl.gz]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { nameKey } from './namekey.mjs';

const repo = join(import.meta.dirname, '..', '..', '..');
const graph = process.argv[2] ?? join(repo, 'data', 'kg', 'graph.jsonl.gz');
const names = new Set();
for (const line of gunzipSync(readFileSync(graph)).toString('utf8').split('\n')) {
  if (!line) continue;
  const row = JSON.parse(line);
  if (row.entity) for (const n of [row.name, ...row.aliases]) if (/[^\x00-\x7F]/.test(n)) names.add(n);
}
// Edge cases: a separate combining accent, a character outside the BMP, dotted capital I, Greek and Cyrillic,
// ligatures, digits from another script, runs of breaking characters, punctuation inside a word.
for (const n of ['Cafe\u0301', 'x\u{1D538}y', 'İstanbul', 'Ελλάδα', 'Россия', 'Ærø', 'Œuvre', '١٢٣ street', ' a -_/ b ',
  "Côte d'Ivoire", 'St. John\'s', 'Ŀlívia', 'ŉ']) names.add(n);
const cases = [...names].sort().map((n) => [n, nameKey(n)]);
writeFileSync(join(repo, 'tests', 'Lathe.Tests', 'Knowledge', 'Corpus', 'fixtures', 'namekey-cases.json'),
  '[\n' + cases.map((c) => JSON.stringify(c)).join(',\n') + '\n]\n');
console.log(`${cases.length} cases`);
