// The readable part of one raw e-mail (RFC 822 headers, MIME parts): its decoded Subject and the text of its first
// text/plain part (or, failing that, its first text/html part with the markup removed). Used by make-tasks.mjs to
// turn SpamAssassin messages into short prompts. Returns null for a message it cannot decode (an unknown charset,
// bytes invalid in the declared one, no text part) so a task never shows a model mojibake.

// Charsets TextDecoder reads exactly; anything else (gb2312, ks_c_5601, koi8-r, …) drops the message.
const CHARSETS = new Map([
  ['us-ascii', 'windows-1252'], ['ascii', 'windows-1252'], ['iso-8859-1', 'windows-1252'], ['latin1', 'windows-1252'],
  ['windows-1252', 'windows-1252'], ['cp1252', 'windows-1252'], ['iso-8859-15', 'iso-8859-15'], ['utf-8', 'utf-8'], ['utf8', 'utf-8'],
]);

function decodeBytes(bytes, charset) {
  const name = CHARSETS.get((charset || 'us-ascii').toLowerCase());
  if (!name) return null;
  try { return new TextDecoder(name, { fatal: true }).decode(bytes); } catch { return null; }
}

// Headers: unfold continuation lines, then name → value of the first occurrence (lower-cased name).
function parseHeaders(block) {
  const headers = new Map();
  for (const line of block.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}

// "text/plain; charset=iso-8859-1; boundary=..." → { type, params }
function parseContentType(value) {
  const [type, ...rest] = (value || 'text/plain').split(';');
  const params = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return { type: type.trim().toLowerCase(), params };
}

function quotedPrintableBytes(text) {
  const s = text.replace(/=\r?\n/g, '');
  const out = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) { out.push(parseInt(s.slice(i + 1, i + 3), 16)); i += 2; }
    else out.push(...Buffer.from(s[i], 'latin1'));
  }
  return Buffer.from(out);
}

// The body of one part as text, or null when its encoding or charset cannot be read.
function partText(body, headers) {
  const encoding = (headers.get('content-transfer-encoding') || '7bit').toLowerCase();
  const { params } = parseContentType(headers.get('content-type'));
  if (encoding === 'base64') return decodeBytes(Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'), params.charset);
  if (encoding === 'quoted-printable') return decodeBytes(quotedPrintableBytes(body), params.charset);
  // 7bit/8bit: the corpus file is already text; accept it only under a charset we would have decoded anyway.
  return CHARSETS.has((params.charset || 'us-ascii').toLowerCase()) ? body : null;
}

// RFC 2047 encoded words in a header: =?charset?B|Q?data?=
function decodeHeader(value) {
  let ok = true;
  const text = value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, charset, kind, data) => {
    const bytes = kind.toUpperCase() === 'B' ? Buffer.from(data, 'base64') : quotedPrintableBytes(data.replace(/_/g, ' '));
    const decoded = decodeBytes(bytes, charset);
    if (decoded === null) ok = false;
    return decoded ?? '';
  });
  return ok ? text : null;
}

const ENTITIES = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '©', reg: '®' };
function htmlToText(html) {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(style|script|head|title)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Math.min(+n, 0x10FFFF)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n) => String.fromCodePoint(Math.min(parseInt(n, 16), 0x10FFFF)))
    .replace(/&([a-z]+);/gi, (m, name) => ENTITIES[name.toLowerCase()] ?? m);
}

// Depth-first: the first text/plain leaf, else the first text/html leaf (as text).
function findText(raw, depth) {
  const split = raw.search(/\n\n/);
  const headers = parseHeaders(split < 0 ? raw : raw.slice(0, split));
  const body = split < 0 ? '' : raw.slice(split + 2);
  const { type, params } = parseContentType(headers.get('content-type'));
  if (type.startsWith('multipart/')) {
    if (!params.boundary || depth > 4) return null;
    const marker = `--${params.boundary}`;
    const parts = body.split('\n').reduce((acc, line) => {
      if (line.startsWith(marker)) acc.push([]);
      else if (acc.length) acc.at(-1).push(line);
      return acc;
    }, []).map((lines) => lines.join('\n'));
    const found = parts.map((p) => findText(p, depth + 1)).filter((t) => t !== null);
    return found.find((t) => t.kind === 'plain') ?? found.find((t) => t.kind === 'html') ?? null;
  }
  if (type !== 'text/plain' && type !== 'text/html') return null;   // no Content-Type header reads as text/plain
  const text = partText(body, headers);
  if (text === null) return null;
  if (type === 'text/html') return { kind: 'html', text: htmlToText(text) };
  // Some spam sends an HTML page labelled text/plain; show its text, not its markup, like a mail reader would.
  return { kind: 'plain', text: /<(html|body)\b/i.test(text) ? htmlToText(text) : text };
}

const oneLine = (s) => s.replace(/\s+/g, ' ').trim();

/** { subject, body } with whitespace runs collapsed to one space, or null when the message cannot be read. */
export function mailText(raw) {
  const text = raw.replace(/\r\n?/g, '\n');
  const split = text.search(/\n\n/);
  const headers = parseHeaders(split < 0 ? text : text.slice(0, split));
  const subject = decodeHeader(headers.get('subject') ?? '');
  const found = findText(text, 0);
  if (subject === null || found === null) return null;
  return { subject: oneLine(subject), body: oneLine(found.text) };
}

/** True when text holds U+FFFD (the corpus stores bytes it could not decode as U+FFFD) or a control character: a
 *  prompt with one would show a model noise rather than the message. */
export function hasNoise(text) {
  return /[\uFFFD\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/.test(text);
}
