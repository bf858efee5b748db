// Chemical elements from periodic-table.

// Masses come as "55.845(2)" (uncertainty in brackets), "[98]" or [98] (mass number of the most stable isotope).
const leadingNumber = (v) => {
  const x = Array.isArray(v) ? v[0] : v;
  if (typeof x === 'number') return x;
  const m = /-?\d+(\.\d+)?/.exec(String(x ?? ''));
  return m ? Number(m[0]) : undefined;
};
// Empty source fields give no fact.
const numberOrNone = (v) => (typeof v === 'number' ? v : v === '' || v == null ? undefined : leadingNumber(v));

/** `elements` sorted by atomic number. */
export function addElements(g, elements, source) {
  for (const el of elements) {
    // Single letters and stop words ("In", "As", "Be") stay out of aliases; the symbol is a fact either way.
    const id = g.entity(`element/${el.symbol}`, el.name, 'element', [el.symbol.length > 1 ? g.code(el.symbol) : null]);
    g.known(el.name);
    g.fact(id, 'symbol', el.symbol, source);
    g.fact(id, 'atomic_number', el.atomicNumber, source);
    g.fact(id, 'atomic_mass', leadingNumber(el.atomicMass), source);
    g.fact(id, 'group_block', el.groupBlock, source);
    g.fact(id, 'standard_state', el.standardState, source);
    // "Ancient" (known since antiquity) is no year.
    if (/^\d{4}$/.test(String(el.yearDiscovered))) g.fact(id, 'year_discovered', String(el.yearDiscovered), source);
    g.fact(id, 'electron_configuration', el.electronicConfiguration, source);
    g.fact(id, 'electronegativity', numberOrNone(el.electronegativity), source);
    g.fact(id, 'melting_point_k', numberOrNone(el.meltingPoint), source);
    g.fact(id, 'boiling_point_k', numberOrNone(el.boilingPoint), source);
    g.fact(id, 'density', numberOrNone(el.density), source);
    g.fact(id, 'atomic_radius_pm', numberOrNone(el.atomicRadius), source);
    g.fact(id, 'ionization_energy', numberOrNone(el.ionizationEnergy), source);
    g.fact(id, 'bonding_type', el.bondingType, source);
    g.fact(id, 'oxidation_states', el.oxidationStates ? String(el.oxidationStates) : undefined, source);
  }
}
