// WordNet synsets: the most used nouns, verbs and adjectives, closed under hypernyms.
import { nameKey } from './namekey.mjs';
import { synsetId } from './wordnet.mjs';
import { sorted } from './graph-builder.mjs';

// How many synsets of each data file, by usage score (sum of the senses' tag counts).
const take = { n: 3000, v: 700, a: 700 };
const pointerRelation = { '%p': 'has_part', '%m': 'has_member', '!': 'antonym' };
const pointerId = (p) => synsetId(p.pos, p.offset);

/** Adds the synsets to `g`, which already holds the other parts: a synset named like one of their entities would make
 *  questions about it ambiguous for reasons that have nothing to do with word senses, so such synsets and aliases are
 *  left out, as are proper nouns ("France", "Paris"). */
export function addWords(g, wordnet, source) {
  for (const lemma of wordnet.lemmas) g.known(lemma);
  const placeKeys = new Set();
  for (const e of g.entities.values()) for (const n of [e.name, ...e.aliases]) placeKeys.add(nameKey(n));
  const usable = (s) => s && !/^[A-Z]/.test(s.lemmas[0]) && !placeKeys.has(nameKey(s.lemmas[0]));
  const chosen = new Set();
  for (const file of Object.keys(take)) {
    const ranked = [...wordnet.synsets.values()].filter((s) => s.file === file && s.score > 0 && usable(s))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
    for (const s of ranked.slice(0, take[file])) chosen.add(s.id);
  }
  // Close under hypernyms, so "dog is a kind of canine" has its object in the graph and paths reach the top.
  for (const id of [...chosen]) {
    const stack = [id];
    while (stack.length) {
      for (const p of wordnet.synsets.get(stack.pop()).pointers) {
        const target = pointerId(p);
        if (p.symbol === '@' && !chosen.has(target) && usable(wordnet.synsets.get(target))) { chosen.add(target); stack.push(target); }
      }
    }
  }
  for (const id of sorted(chosen)) {
    const s = wordnet.synsets.get(id);
    const others = s.lemmas.slice(1).filter((l) => !placeKeys.has(nameKey(l)));
    g.entity(id, s.lemmas[0], 'synset', others);
    g.fact(id, 'definition', s.definition, source);
    for (const example of s.examples.slice(0, 2)) g.fact(id, 'usage_example', example.replace(/"/g, ''), source);
    for (const lemma of others.filter((l) => nameKey(l) !== nameKey(s.lemmas[0])).slice(0, 4)) g.fact(id, 'synonym', lemma, source);
    if (s.file !== 'a') g.fact(id, 'lexical_category', s.lexFile, source);
    for (const p of s.pointers) {
      const target = pointerId(p);
      if (!chosen.has(target) || target === id) continue;
      const relation = p.symbol === '@' ? (s.file === 'v' ? 'verb_hypernym' : 'hypernym') : pointerRelation[p.symbol];
      if (relation) g.fact(id, relation, target, source);
    }
  }
}
