// The JavaScript twin of src/Lathe/Knowledge/NameKey.cs: lower case, accents removed, letters and digits kept, runs of
// spaces, hyphens, underscores and slashes made one space, other punctuation dropped. The data script uses it to keep
// aliases distinct and to prove invented names are not real ones, so it must agree with the C# key character for
// character; tests/Lathe.Tests/Knowledge/Corpus/fixtures/namekey-cases.json (written by namekey-cases.mjs) checks that it does.
//
// Lathe runs with invariant globalization, where .NET's Normalize() leaves text as it is: accents are stripped by a
// table of precomposed Latin letters instead (LatinFold.cs), and a combining mark is dropped only when it is already a
// separate character. This file builds the same table from the same rule: every letter of Latin-1 Supplement, Latin
// Extended-A/B and Latin Extended Additional whose decomposition without marks is ASCII, plus the letters that do not
// decompose but have a conventional ASCII spelling.
const extraFolds = { 'ß': 'ss', 'Æ': 'AE', 'æ': 'ae', 'Œ': 'OE', 'œ': 'oe', 'Ø': 'O', 'ø': 'o', 'Đ': 'D', 'đ': 'd',
  'Ł': 'L', 'ł': 'l', 'Þ': 'TH', 'þ': 'th', 'Ð': 'D', 'ð': 'd', 'Ħ': 'H', 'ħ': 'h', 'ı': 'i', 'Ŀ': 'L', 'ŀ': 'l',
  'Ŧ': 'T', 'ŧ': 't', 'ƒ': 'f', 'ĸ': 'k', 'ŉ': 'n' };
const combining = /\p{M}/gu;
const latinFold = new Map();
for (const [from, to] of [[0xC0, 0x24F], [0x1E00, 0x1EFF]]) {
  for (let code = from; code <= to; code++) {
    const c = String.fromCharCode(code);
    const base = extraFolds[c] ?? c.normalize('NFD').replace(combining, '');
    if (base !== c && /^[A-Za-z]{1,2}$/.test(base)) latinFold.set(c, base);
  }
}

const letterOrDigit = /^[\p{L}\p{Nd}]$/u;
const nonSpacingMark = /^\p{Mn}$/u;
const breaking = /^[\s\-_/]$/u;

export function nameKey(name) {
  let key = '';
  let pendingSpace = false;
  // UTF-16 code units, as C# walks a string: a lone surrogate is no letter, so characters outside the BMP drop out.
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (nonSpacingMark.test(c)) continue;
    if (letterOrDigit.test(c)) {
      if (pendingSpace && key.length > 0) key += ' ';
      pendingSpace = false;
      key += (latinFold.get(c) ?? c).toLowerCase();
    } else if (breaking.test(c)) pendingSpace = true;
  }
  return key;
}

/** The fold table, for the check against LatinFold.cs. */
export const latinFoldTable = latinFold;

// A slug for ids: the name key with spaces as hyphens, ASCII only ("Washington, D.C." → "washington-dc").
export const slug = (name) => nameKey(name).replace(/[^a-z0-9 ]/g, '').trim().replace(/ +/g, '-');
