/**
 * `npm run soak`: runs the soak and prints its report; exits non-zero when a check fails.
 *
 *   npm run soak -- --turns 10000 --seed 1 --concurrency 32
 *
 * The same settings can come from SOAK_TURNS, SOAK_SEED and SOAK_CONCURRENCY. Run node with
 * --expose-gc (the npm script does) for the heap check.
 */
import * as Effect from "effect/Effect"
import * as Soak from "./Soak.js"

const setting = (name: string, env: string, fallback: number): number => {
  const flag = process.argv.indexOf(`--${name}`)
  const raw = flag >= 0 ? process.argv[flag + 1] : process.env[env]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name} (${env}) must be a whole number, not ${JSON.stringify(raw)}`)
    process.exit(2)
  }
  return value
}

const turns = setting("turns", "SOAK_TURNS", 10_000)
const options: Soak.Options = {
  turns,
  seed: setting("seed", "SOAK_SEED", 1),
  concurrency: setting("concurrency", "SOAK_CONCURRENCY", 32),
  warmup: Math.min(500, Math.ceil(turns / 10)),
  onProgress: (done, total) => console.log(`  ${done} of ${total} turns`)
}

console.log(`soak: ${options.turns} turns (after ${options.warmup} to warm up), seed ${options.seed}, ${options.concurrency} at a time`)
const report = await Effect.runPromise(Soak.run(options))
console.log(Soak.summary(report))
// Exit without waiting on anything a failed check may have left running.
process.exit(report.checks.every((check) => check.ok) ? 0 : 1)
