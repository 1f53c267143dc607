import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import type { Message } from "@reins/core"
import * as Effect from "effect/Effect"
import * as Race from "./race.js"
import * as Timeout from "./timeout.js"

describe("examples", () => {
  it.live("race: the quick model wins and the thinker's connection closes at once", () =>
    Effect.gen(function*() {
      const result = yield* Race.race.pipe(Effect.provide(NodeHttpClient.layerUndici))
      expect(result.winner).toBe("quick-model")
      expect(result.text).toBe("Canberra.")
      // `race` itself waits for the thinker's server to see the close: had it stayed open, this would hang
      expect(result.loserClosedAfter).toBeGreaterThanOrEqual(0)
    }))

  it("timeout: Effect.timeout and an AbortSignal each stop the turn and keep the partial answer", async () => {
    const { aborted, timedOut } = await Timeout.main()
    expect(timedOut.timedOut).toBe(true)
    for (const history of [timedOut.history, aborted.history]) {
      expect(history.map((m) => m._tag)).toEqual(["User", "Assistant"])
      expect((history[1] as Message.Assistant).stopReason).toBe("interrupted")
    }
    expect(aborted.interrupted).toBe(true)
  })
})
