// Seeded randomness shared by the data generators, so their files are the same bytes on every run:
// mulberry32 (a small 32-bit generator) and the helpers built on it.
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6D2B79F5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// A 32-bit FNV-1a hash of a name: a per-task seed, so changing one task's draws leaves the others' alone.
export function fnv1a(name) {
  let h = 0x811C9DC5;
  for (const ch of Buffer.from(name, 'utf8')) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return h;
}

// Fisher–Yates in place from `random`.
export function shuffle(random, xs) {
  for (let i = xs.length - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [xs[i], xs[j]] = [xs[j], xs[i]]; }
  return xs;
}

export const pick = (random, xs) => xs[Math.floor(random() * xs.length)];
