// Prose helpers for the Moby-Dick tasks (lambada_moby, bpb_moby): where the held-out tail of the book starts, its
// paragraphs, and a paragraph's sentences. The corpus file has one paragraph per line and a blank line between
// paragraphs (data/corpus/make-moby-dick.sh), so paragraphs are exact; sentences are found by punctuation.

/** The held-out tail: it starts at the first paragraph that begins at or after 90% of the book's characters
 *  (code points), so no passage straddles the boundary. Returns offsets in code points, UTF-16 units and UTF-8 bytes. */
export function heldOutStart(text, fraction = 0.9) {
  const codePoints = [...text];
  const target = codePoints.slice(0, Math.ceil(codePoints.length * fraction)).join('').length;   // UTF-16 index
  const paragraphBreak = text.indexOf('\n\n', target);
  if (paragraphBreak < 0) throw new Error('no paragraph break in the last 10% of the book');
  let start = paragraphBreak;
  while (text[start] === '\n') start++;
  const before = text.slice(0, start);
  return { index: start, chars: [...before].length, bytes: Buffer.byteLength(before, 'utf8'), totalChars: codePoints.length, totalBytes: Buffer.byteLength(text, 'utf8') };
}

/** The paragraphs of text from `index` on, as { start, text } with start an index into text (chapter headings
 *  such as "CHAPTER 135. The Chase.—Third Day." are not paragraphs of prose and are dropped). */
export function paragraphs(text, index) {
  const out = [];
  for (const m of text.slice(index).matchAll(/[^\n]+/g)) {
    if (!/^CHAPTER \d+\./.test(m[0]) && m[0].trim().length > 0) out.push({ start: index + m.index, text: m[0] });
  }
  return out;
}

// Titles that end in a full stop without ending a sentence.
const ABBREVIATIONS = new Set(['Mr', 'Mrs', 'Dr', 'St', 'Capt', 'Messrs', 'Mt', 'No']);

/** A paragraph's sentences as { start, end, text } (offsets into the paragraph; text = paragraph.slice(start, end),
 *  punctuation and closing quotes kept, surrounding spaces not). A sentence ends after . ! ? and any closing quotes
 *  where the next one starts with a capital (perhaps after an opening quote), except after a title such as "Mr.". */
export function sentences(paragraph) {
  const out = [];
  let from = 0;
  const push = (start, end) => {
    while (start < end && /\s/.test(paragraph[start])) start++;
    while (end > start && /\s/.test(paragraph[end - 1])) end--;
    if (end > start) out.push({ start, end, text: paragraph.slice(start, end) });
  };
  for (const m of paragraph.matchAll(/[.!?]["'’”)\]]*\s+(?=["'‘“(\[]*[A-Z])/g)) {
    const word = /([A-Za-z]+)\.\s+$/.exec(paragraph.slice(from, m.index + m[0].length));
    if (word && ABBREVIATIONS.has(word[1])) continue;
    push(from, m.index + m[0].length);
    from = m.index + m[0].length;
  }
  push(from, paragraph.length);
  return out;
}
