// The graph while it is built: entities, facts checked against their relation's object kind, codes that may become
// aliases, and every name any source knows (for the invented-name check). `finish` settles the aliases and checks that
// every fact names known entities; `rows` gives the lines of graph.jsonl.gz in their fixed order.
import { nameKey } from './namekey.mjs';

const byKey = (f) => (a, b) => (f(a) < f(b) ? -1 : f(a) > f(b) ? 1 : 0);
export const sorted = (xs, f = (x) => x) => [...xs].sort(byKey(f));

// Source text can carry stray or doubled spaces ("Rs  රු"); names, aliases and strings are stored with single spaces.
const tidy = (text) => (typeof text === 'string' ? text.replace(/\s+/g, ' ').trim() : text);
const isoDate = /^-?\d{4}(-\d{2}(-\d{2})?)?$/;

// When two entities answer to one code, the one people most likely mean keeps it ("FR" France over "Fr" francium,
// "FRA" France over "fra" French).
const codePriority = { country: 0, currency: 1, element: 2, language: 3 };

export class GraphBuilder {
  #relations;
  #entities = new Map();   // id → { id, name, aliases: [], type }
  #facts = new Map();      // "s\tp\tJSON(o)" → { s, p, o, source }
  #codes = new Set();
  #stopWords;
  realNames = new Set();   // every name any source knows

  /** `stopWordKeys`: name keys of English stop words, which no code becomes an alias for ("IN", "AND", "BE"). */
  constructor(relations, stopWordKeys) {
    this.#relations = new Map(relations.map((r) => [r.relation, r]));
    this.#stopWords = stopWordKeys;
  }

  get entities() { return this.#entities; }
  get factCount() { return this.#facts.size; }

  /** Adds an entity (or more aliases to one); returns its id. */
  entity(id, name, type, aliases = []) {
    let e = this.#entities.get(id);
    if (!e) this.#entities.set(id, (e = { id, name: tidy(name), aliases: [], type }));
    else if (e.type !== type) throw new Error(`${id}: type ${type} after ${e.type}`);
    for (const a of aliases.map(tidy)) if (a) e.aliases.push(a);
    return id;
  }

  /** Adds a fact unless its object is missing; an object of the wrong kind is an error. Duplicates are ignored. */
  fact(s, p, o, source) {
    const relation = this.#relations.get(p);
    if (!relation) throw new Error(`unknown relation '${p}'`);
    if (relation.object === 'string') o = tidy(o);
    if (o === undefined || o === null || o === '') return;
    const ok = { entity: typeof o === 'string' && o.includes('/'), string: typeof o === 'string',
      number: typeof o === 'number' && Number.isFinite(o), date: typeof o === 'string' && isoDate.test(o) }[relation.object];
    if (!ok) throw new Error(`${s} ${p}: object ${JSON.stringify(o)} is not a ${relation.object}`);
    const key = `${s}\t${p}\t${JSON.stringify(o)}`;
    if (!this.#facts.has(key)) this.#facts.set(key, { s, p, o, source });
  }

  /** A code (ISO code, element symbol) to use as an alias: null for a stop word; remembered, so `finish` can settle
   *  codes two entities share — a code is a shorthand, not a name, and ambiguity should come from names. */
  code(code) {
    if (!code || this.#stopWords.has(nameKey(code))) return null;
    this.#codes.add(code);
    return code;
  }

  /** Records names a source knows without putting them in the graph. */
  known(...names) {
    for (const n of names) if (typeof n === 'string' && n) this.realNames.add(n);
  }

  /** Settles aliases — shared codes to the likeliest entity, none equal to another entity's name; aliases distinct by
   *  name key from the name and each other — and checks every fact's entities exist. Returns how many codes it dropped. */
  finish() {
    const owners = new Map();   // name key → [{ id, type, code }] of the entities answering to it
    for (const e of this.#entities.values()) {
      for (const n of [e.name, ...e.aliases]) {
        const key = nameKey(n);
        if (!owners.has(key)) owners.set(key, []);
        owners.get(key).push({ id: e.id, type: e.type, code: n !== e.name && this.#codes.has(n) });
      }
    }
    const rank = (type) => codePriority[type] ?? 9;
    const codeIsMine = (e, code) => {
      const others = owners.get(nameKey(code)).filter((o) => o.id !== e.id);
      if (others.some((o) => !o.code)) return false;
      return others.every((o) => rank(o.type) > rank(e.type));
    };
    let codesDropped = 0;
    for (const e of this.#entities.values()) {
      const before = e.aliases.length;
      e.aliases = e.aliases.filter((a) => !(this.#codes.has(a) && !codeIsMine(e, a)));
      codesDropped += before - e.aliases.length;
    }
    for (const e of this.#entities.values()) {
      const seen = new Set([nameKey(e.name)]);
      e.aliases = e.aliases.filter((a) => {
        const key = nameKey(a);
        if (key === '' || seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      this.known(e.name, ...e.aliases);
    }
    for (const f of this.#facts.values()) {
      if (!this.#entities.has(f.s)) throw new Error(`fact about unknown entity ${f.s} (${f.p})`);
      if (this.#relations.get(f.p).object === 'entity' && !this.#entities.has(f.o)) throw new Error(`${f.s} ${f.p}: unknown entity ${f.o}`);
    }
    return codesDropped;
  }

  /** Facts sorted by subject, relation, object. */
  facts() { return sorted(this.#facts.values(), (f) => `${f.s}\t${f.p}\t${JSON.stringify(f.o)}`); }

  /** The lines of graph.jsonl.gz: relations, entities by id, facts. */
  rows() {
    return [
      ...sorted(this.#relations.values(), (r) => r.relation),
      ...sorted(this.#entities.values(), (e) => e.id).map((e) => ({ entity: e.id, name: e.name, aliases: e.aliases, type: e.type })),
      ...this.facts(),
    ];
  }
}
