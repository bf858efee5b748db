// The JavaScript twin of src/Lathe/Knowledge/NameKey.cs: lower case, accents removed, letters and digits kept, runs of
// spaces, hyphens, underscores and slashes made one space, other punctuation dropped. The data script uses it to keep
// aliases distinct and to prove invented names are not real ones, so it must agree with the C# key word for word.
const letterOrDigit = /[\p{L}\p{Nd}]/u;
const breaking = /[\s\-_/]/u;
const nonSpacingMark = /\p{Mn}/u;

export function nameKey(name) {
  let key = '';
  let pendingSpace = false;
  // C# walks UTF-16 code units; for the letters and marks in these sources that is the same as walking code points.
  for (const c of name.normalize('NFD')) {
    if (nonSpacingMark.test(c)) continue;
    if (letterOrDigit.test(c)) {
      if (pendingSpace && key.length > 0) key += ' ';
      pendingSpace = false;
      key += c.toLowerCase();
    } else if (breaking.test(c)) pendingSpace = true;
  }
  return key;
}

// A slug for ids: the name key with spaces as hyphens, ASCII only ("Washington, D.C." → "washington-dc").
export const slug = (name) => nameKey(name).replace(/[^a-z0-9 ]/g, '').trim().replace(/ +/g, '-');
