/**
 * A small seeded pseudo-random generator (mulberry32), so that every mutation of a recording is
 * reproducible from the one number printed beside a failure.
 */

/** A source of numbers determined by its seed. */
export interface Prng {
  readonly seed: number
  /** A float in [0, 1). */
  next(): number
  /** An integer in [min, max]. */
  int(min: number, max: number): number
  /** True with probability `p`. */
  chance(p: number): boolean
  /** One element of a non-empty array. */
  pick<A>(items: ReadonlyArray<A>): A
}

/** A generator whose numbers are fixed by `seed` (any 32-bit integer). */
export const make = (seed: number): Prng => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    seed: seed >>> 0,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!
  }
}

/** A 32-bit seed derived from text (FNV-1a), so that each case and round has a seed of its own. */
export const seedOf = (...parts: ReadonlyArray<string | number>): number => {
  let hash = 0x811c9dc5
  for (const char of parts.join("/")) {
    hash ^= char.charCodeAt(0)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
