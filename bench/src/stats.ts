/** Order statistics of latency samples, in milliseconds. */
export interface Summary {
  readonly n: number
  readonly median: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

/** Summarises samples (nearest-rank percentiles). */
export const summarize = (samples: ReadonlyArray<number>): Summary => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
  return { n: sorted.length, median: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1] }
}

/** A fixed-width number. */
export const fmt = (value: number, digits = 2) => value.toFixed(digits)
