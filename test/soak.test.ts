/**
 * A small soak (see test/soak/Soak.ts; `npm run soak` runs the full one): agent turns over real
 * HTTP, each stopped at a seeded moment or hit by a fault (the classic ones and those of real
 * servers, gateways and proxies), leave valid conversations, end each fault as documented, never
 * send content twice or show the key, and leave nothing behind them.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Soak from "./soak/Soak.js"

describe("the soak", () => {
  it.live("200 turns stopped at every phase or hit by faults leave valid conversations and nothing running or open", () =>
    Effect.gen(function*() {
      const report = yield* Soak.run({ turns: 200, seed: 7, concurrency: 16 })
      const failed = report.checks.filter((check) => !check.ok)
      expect(failed, Soak.summary(report)).toEqual([])
      expect(report.checks.map((check) => check.name)).toEqual(expect.arrayContaining(["faults handled", "content once", "keys never leak"]))
      // every kind of stop and a spread of faults were exercised, and most turns were stopped
      expect(Object.keys(report.stops).sort()).toEqual(["backoff", "body", "connecting", "headers", "none", "random", "tool"])
      expect(Object.keys(report.faults).length).toBeGreaterThan(10)
      expect(report.outcomes.interrupted).toBeGreaterThan(100)
      expect(report.outcomes.completed).toBeGreaterThan(0)
      expect(report.closeMillis.count).toBeGreaterThan(0)
      expect(report.toolsStarted).toBeGreaterThan(0)
    }), 60_000)
})
