import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Pull from "../src/Pull.js"

/** A source of `count` one-number chunks, then `end`; it records how its scope closed. */
const source = (count: number, end: Option.Option<string> = Option.none()) => {
  const closed: Array<Exit.Exit<unknown, unknown>> = []
  let next = 0
  const stream = Pull.stream(
    Effect.as(
      Effect.addFinalizer((exit) => Effect.sync(() => void closed.push(exit))),
      Effect.suspend(() => next < count ? Effect.succeed(Chunk.of(next++)) : Effect.fail(end))
    )
  )
  return { stream, closed }
}

describe("Pull.stream", () => {
  it.effect("emits every chunk until the pull ends, then closes its scope with success", () =>
    Effect.gen(function*() {
      const { closed, stream } = source(3)
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(stream))).toEqual([0, 1, 2])
      expect(closed.length).toBe(1)
      expect(Exit.isSuccess(closed[0])).toBe(true)
    }))

  it.effect("fails with the pull's error after the chunks before it, and closes its scope with that failure", () =>
    Effect.gen(function*() {
      const { closed, stream } = source(2, Option.some("broken"))
      const seen: Array<number> = []
      const error = yield* stream.pipe(Stream.runForEach((n) => Effect.sync(() => seen.push(n))), Effect.flip)
      expect(error).toBe("broken")
      expect(seen).toEqual([0, 1])
      expect(closed.length === 1 && Exit.isFailure(closed[0])).toBe(true)
    }))

  it.effect("fails when opening fails, and pulls nothing", () =>
    Effect.gen(function*() {
      let pulls = 0
      const stream = Pull.stream(Effect.fail("no connection").pipe(Effect.as(Effect.sync(() => Chunk.of(pulls++)))))
      expect(yield* Effect.flip(Stream.runDrain(stream))).toBe("no connection")
      expect(pulls).toBe(0)
    }))

  it.effect("closes its scope when the consumer stops early", () =>
    Effect.gen(function*() {
      const { closed, stream } = source(1_000)
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(stream, 2)))).toEqual([0, 1])
      expect(closed.length).toBe(1)
    }))

  it.effect("closes its scope as interrupted when its consumer is interrupted mid-pull", () =>
    Effect.gen(function*() {
      const waiting = yield* Deferred.make<void>()
      const closed: Array<Exit.Exit<unknown, unknown>> = []
      const stream = Pull.stream(
        Effect.as(
          Effect.addFinalizer((exit) => Effect.sync(() => void closed.push(exit))),
          Effect.zipRight(Deferred.succeed(waiting, undefined), Effect.never)
        )
      )
      const fiber = yield* Effect.fork(Stream.runDrain(stream))
      yield* Deferred.await(waiting)
      yield* Fiber.interrupt(fiber)
      expect(closed.length === 1 && Exit.isInterrupted(closed[0])).toBe(true)
    }))

  it.effect("runs a stream of 200,000 pulls to its end", () =>
    Effect.gen(function*() {
      const { stream } = source(200_000)
      expect(yield* Stream.runCount(stream)).toBe(200_000)
    }))
})
