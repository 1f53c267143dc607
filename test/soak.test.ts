/**
 * A small soak (see test/soak/Soak.ts; `npm run soak` runs the full one): agent turns over real
 * HTTP, each stopped at a seeded moment or hit by a fault, leave valid conversations and nothing
 * behind them.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Soak from "./soak/Soak.js"

describe("the soak", () => {
  it.live("200 turns stopped at every phase leave valid conversations and nothing running or open", () =>
    Effect.gen(function*() {
      const report = yield* Soak.run({ turns: 200, seed: 7, concurrency: 16 })
      const failed = report.checks.filter((check) => !check.ok)
      expect(failed, Soak.summary(report)).toEqual([])
      // every kind of stop and some faults were exercised, and most turns were stopped
      expect(Object.keys(report.stops).sort()).toEqual(["backoff", "body", "connecting", "headers", "none", "random", "tool"])
      expect(Object.keys(report.faults).length).toBeGreaterThan(3)
      expect(report.outcomes.interrupted).toBeGreaterThan(100)
      expect(report.outcomes.completed).toBeGreaterThan(0)
      expect(report.closeMillis.count).toBeGreaterThan(0)
      expect(report.toolsStarted).toBeGreaterThan(0)
    }), 60_000)
})
