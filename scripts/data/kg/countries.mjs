// Countries from world-countries (names, capital, regions, borders, languages, currencies, area, domains, demonym,
// landlocked, ISO codes), with calling codes and continents from countries-list and alias names from iso-codes.
import { slug } from './namekey.mjs';
import { sorted } from './graph-builder.mjs';

export const cityId = (name, country) => {
  if (slug(name) === '') throw new Error(`city '${name}' (${country}): no ASCII letters for its id`);
  return `city/${slug(name)}-${country.toLowerCase()}`;
};
// Regions, subregions and continents share one id space: the region Europe and the continent Europe are one entity.
const regionId = (name) => `region/${slug(name)}`;

/** `worldCountries` sorted by cca3; `listed` countries-list's countries by cca2 and `continents` its continent names;
 *  `iso` the iso-codes tables (3166-1 by alpha-3, 639-3 and 4217 by code). `src` names each fact's source. */
export function addCountries(g, { worldCountries, listed, continents, iso }, src) {
  const W = src.worldCountries;
  for (const c of worldCountries) {
    const id = `country/${c.cca3}`;
    const isoRow = iso.countries.get(c.cca3);
    const natives = Object.values(c.name.native ?? {}).flatMap((n) => [n.common, n.official]);
    g.entity(id, c.name.common, 'country', [c.name.official, ...c.altSpellings.map((a) => g.code(a)), g.code(c.cca2),
      g.code(c.cca3), ...natives, isoRow?.name, isoRow?.official_name, isoRow?.common_name]);
    for (const t of Object.values(c.translations ?? {})) g.known(t.common, t.official);
    for (const d of Object.values(c.demonyms ?? {})) g.known(d.m, d.f);
    g.fact(id, 'official_name', c.name.official, W);
    g.fact(id, 'iso_alpha2', c.cca2, W);
    g.fact(id, 'iso_alpha3', c.cca3, W);
    for (const capital of c.capital) {
      const city = g.entity(cityId(capital, c.cca3), capital, 'city');
      g.fact(id, 'capital', city, W);
      g.fact(city, 'capital_of', id, W);
      g.fact(city, 'country', id, W);
    }
    if (c.region) {
      g.fact(id, 'region', g.entity(regionId(c.region), c.region, 'region'), W);
      if (c.subregion) {
        const sub = g.entity(regionId(c.subregion), c.subregion, 'region');
        g.fact(id, 'subregion', sub, W);
        g.fact(sub, 'part_of', regionId(c.region), W);
      }
    }
    for (const b of c.borders) g.fact(id, 'borders', `country/${b}`, W);
    for (const [code, name] of sorted(Object.entries(c.languages ?? {}), (x) => x[0])) {
      g.fact(id, 'official_language', g.entity(`language/${code}`, name, 'language', [g.code(code)]), W);
      g.fact(`language/${code}`, 'language_code', code, W);
    }
    for (const [code, money] of sorted(Object.entries(c.currencies ?? {}), (x) => x[0])) {
      g.fact(id, 'currency', g.entity(`currency/${code}`, money.name, 'currency', [g.code(code)]), W);
      g.fact(`currency/${code}`, 'currency_code', code, W);
      g.fact(`currency/${code}`, 'currency_symbol', money.symbol, W);
    }
    if (c.area > 0) g.fact(id, 'area_km2', c.area, W);
    for (const tld of c.tld) g.fact(id, 'tld', tld, W);
    if (c.demonyms?.eng?.m) g.fact(id, 'demonym', c.demonyms.eng.m, W);
    g.fact(id, 'landlocked', c.landlocked ? 'Yes' : 'No', W);
    const row = listed[c.cca2];
    if (row) {
      for (const phone of row.phone) g.fact(id, 'calling_code', `+${phone}`, src.countriesList);
      const continent = continents[row.continent];
      if (continent) g.fact(id, 'continent', g.entity(regionId(continent), continent, 'region'), src.countriesList);
    }
  }
  // iso-codes' names for the languages and currencies the countries use, as aliases ("UAE Dirham", "Modern Greek (1453-)").
  for (const e of [...g.entities.values()]) {
    if (e.type === 'language') g.entity(e.id, e.name, e.type, [iso.languages.get(e.id.slice('language/'.length))?.name]);
    if (e.type === 'currency') g.entity(e.id, e.name, e.type, [iso.currencies.get(e.id.slice('currency/'.length))?.name]);
  }
}
