// Invented names for unanswerable questions: entities of each type that do not exist. Built from seeded syllables;
// a candidate is kept only when its name key (nameKey) differs from every name and alias in the graph and in the
// source packages, and from the names already invented, so no invented name is a real one the data knows.
import { mulberry32, fnv1a, pick } from '../seeded.mjs';
import { nameKey } from './namekey.mjs';

const onsets = ['b', 'br', 'c', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'tr', 'v', 'z', 'th', 'sh'];
const vowels = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'o'];
const codas = ['', '', '', '', 'n', 'r', 'l', 's'];

// Per type: how many syllables before the ending, the endings, and whether the name is capitalised.
const shapes = {
  country: { syllables: [1, 2], endings: ['ia', 'ania', 'ovia', 'land', 'stan', 'ora', 'eria', 'ana'], capital: true },
  city: { syllables: [1, 2], endings: ['burg', 'ville', 'port', 'polis', 'grad', 'ford', 'haven', 'mouth', 'a', 'o'], capital: true },
  element: { syllables: [1, 2], endings: ['ium', 'on', 'ine', 'gen', 'ium'], capital: true },
  synset: { syllables: [1, 2], endings: ['ment', 'ness', 'er', 'ery', 'ance', 'ule', 'ock', 'ist'], capital: false },
};

function invent(random, shape) {
  const count = shape.syllables[0] + Math.floor(random() * (shape.syllables[1] - shape.syllables[0] + 1));
  let word = '';
  for (let i = 0; i < count; i++) {
    word += pick(random, onsets) + pick(random, vowels) + (i < count - 1 ? pick(random, codas) : '');
  }
  // Drop the last syllable's vowel when the ending starts with one, so joins read naturally ("Veloria", not "Veloaia").
  const ending = pick(random, shape.endings);
  if (/^[aeiou]/.test(ending)) word = word.replace(/[aeiou]+$/, '');
  word += ending;
  return shape.capital ? word[0].toUpperCase() + word.slice(1) : word;
}

/** `perType` invented names of each type, as {name, type} rows, in a fixed order (type, then draw order). */
export function unknownEntities(realNames, perType) {
  const taken = new Set([...realNames].map(nameKey));
  const rows = [];
  for (const type of Object.keys(shapes).sort()) {
    const random = mulberry32(fnv1a(`unknown-${type}`));
    let made = 0;
    for (let tries = 0; made < perType; tries++) {
      if (tries > perType * 1000) throw new Error(`could not invent ${perType} ${type} names`);
      const name = invent(random, shapes[type]);
      const key = nameKey(name);
      if (name.length < 5 || name.length > 12 || taken.has(key)) continue;
      taken.add(key);
      rows.push({ name, type });
      made++;
    }
  }
  return rows;
}
