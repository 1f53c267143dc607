/**
 * Retry's own rules, on the TestClock: which errors are retried, the backoff schedule (exponential
 * from \`baseDelay\`, jittered, capped at \`maxDelay\`, \`maxRetries\` of them), a \`Retry-After\` honoured
 * up to \`maxRetryAfter\`, each failed attempt closed before its backoff, an interrupt in a backoff
 * ending the call at once, and nothing retried once content has gone downstream.
 * (test/retry.test.ts has the same over HTTP.)
 */
import { describe, expect, it } from "@effect/vitest"
import { ProviderError, Retry } from "@reins/core"
import * as Pull from "@reins/core/internal/Pull"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"

describe("Retry.stream with the TestClock", () => {
  const overloaded = (retryAfter?: Duration.DurationInput) =>
    new ProviderError.RateLimited({
      provider: "p",
      status: 429,
      body: "",
      retryAfter: retryAfter === undefined ? undefined : Duration.decode(retryAfter)
    })

  it.effect("waits at least Retry-After, then tries again", () =>
    Effect.gen(function*() {
      let attempts = 0
      const fiber = yield* Retry.stream(Retry.defaultPolicy, () => {
        attempts++
        return attempts === 1 ? Stream.fail(overloaded("20 seconds")) : Stream.make("ok")
      }).pipe(Stream.runCollect, Effect.fork)
      yield* TestClock.adjust("19 seconds")
      expect(attempts).toBe(1)
      yield* TestClock.adjust("2 seconds")
      expect(Chunk.toReadonlyArray(yield* Fiber.join(fiber))).toEqual(["ok"])
      expect(attempts).toBe(2)
    }))

  it.effect("gives up after maxRetries, and never retries a Retry-After beyond the cap", () =>
    Effect.gen(function*() {
      let attempts = 0
      const fiber = yield* Retry.stream(Retry.defaultPolicy, () => {
        attempts++
        return Stream.fail(overloaded())
      }).pipe(Stream.runDrain, Effect.flip, Effect.fork)
      yield* TestClock.adjust("5 minutes")
      expect((yield* Fiber.join(fiber))._tag).toBe("RateLimited")
      expect(attempts).toBe(3)

      let capped = 0
      const error = yield* Retry.stream(Retry.defaultPolicy, () => {
        capped++
        return Stream.fail(overloaded("10 minutes"))
      }).pipe(Stream.runDrain, Effect.flip)
      expect(error._tag).toBe("RateLimited")
      expect(capped).toBe(1)
    }))

  it.effect("closes a failed attempt before its backoff, and the last attempt with the stream", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      let attempts = 0
      const open = Effect.suspend(() => {
        const n = ++attempts
        events.push(`open ${n}`)
        return Effect.as(
          Effect.addFinalizer(() => Effect.sync(() => void events.push(`close ${n}`))),
          n === 1 ? Effect.fail(Option.some(overloaded())) : Effect.succeed(Chunk.of(`from ${n}`))
        )
      })
      const fiber = yield* Stream.take(Pull.stream(Retry.pull(Retry.defaultPolicy, open)), 1).pipe(Stream.runCollect, Effect.fork)
      // The first backoff is at least 400 ms (half a second, jittered).
      yield* TestClock.adjust("100 millis")
      expect(events).toEqual(["open 1", "close 1"])
      yield* TestClock.adjust("1 minute")
      expect(Chunk.toReadonlyArray(yield* Fiber.join(fiber))).toEqual(["from 2"])
      expect(events).toEqual(["open 1", "close 1", "open 2", "close 2"])
    }))

  it.effect("never retries once something was emitted, nor a non-retryable error", () =>
    Effect.gen(function*() {
      let attempts = 0
      const emitted = yield* Retry.stream(Retry.defaultPolicy, () => {
        attempts++
        return Stream.concat(Stream.make("text"), Stream.fail(overloaded()))
      }).pipe(Stream.runCollect, Effect.flip)
      expect(emitted._tag).toBe("RateLimited")
      expect(attempts).toBe(1)

      let auth = 0
      yield* Retry.stream(Retry.defaultPolicy, () => {
        auth++
        return Stream.fail(new ProviderError.AuthenticationError({ provider: "p", status: 401, body: "" }))
      }).pipe(Stream.runDrain, Effect.flip)
      expect(auth).toBe(1)
    }))
})

describe("what is retried", () => {
  const status = (tag: "StatusError" | "RateLimited" | "AuthenticationError" | "ContextOverflow", code: number) => {
    const fields = { provider: "p", status: code, body: "" }
    switch (tag) {
      case "StatusError":
        return new ProviderError.StatusError(fields)
      case "RateLimited":
        return new ProviderError.RateLimited(fields)
      case "AuthenticationError":
        return new ProviderError.AuthenticationError(fields)
      case "ContextOverflow":
        return new ProviderError.ContextOverflow(fields)
    }
  }
  const errors: ReadonlyArray<{ readonly name: string; readonly error: ProviderError.ProviderError; readonly attempts: number }> = [
    { name: "a 503", error: status("StatusError", 503), attempts: 3 },
    { name: "a 500", error: status("StatusError", 500), attempts: 3 },
    { name: "a 429", error: status("RateLimited", 429), attempts: 3 },
    { name: "a connection error", error: new ProviderError.ConnectionError({ provider: "p", message: "socket hang up" }), attempts: 3 },
    { name: "a headers timeout", error: new ProviderError.HeadersTimeout({ provider: "p", timeout: Duration.seconds(30) }), attempts: 3 },
    { name: "an idle timeout", error: new ProviderError.IdleTimeout({ provider: "p", timeout: Duration.seconds(30) }), attempts: 3 },
    { name: "an empty response", error: new ProviderError.EmptyResponse({ provider: "p", message: "no event" }), attempts: 3 },
    { name: "a retryable error event", error: new ProviderError.ProviderStreamError({ provider: "p", message: "Overloaded", retryable: true }), attempts: 3 },
    { name: "a 400", error: status("StatusError", 400), attempts: 1 },
    { name: "a 401", error: status("AuthenticationError", 401), attempts: 1 },
    { name: "a context overflow", error: status("ContextOverflow", 400), attempts: 1 },
    { name: "an error event that is not retryable", error: new ProviderError.ProviderStreamError({ provider: "p", message: "Invalid", retryable: false }), attempts: 1 },
    { name: "a total timeout", error: new ProviderError.TotalTimeout({ provider: "p", timeout: Duration.seconds(30) }), attempts: 1 },
  ]

  it.effect.each(errors)("$name: $attempts attempts with the default policy", ({ attempts, error }) =>
    Effect.gen(function*() {
      let made = 0
      const fiber = yield* Retry.stream(Retry.defaultPolicy, () => {
        made++
        return Stream.fail(error)
      }).pipe(Stream.runDrain, Effect.flip, Effect.fork)
      yield* TestClock.adjust("5 minutes")
      expect(yield* Fiber.join(fiber)).toBe(error)
      expect(made).toBe(attempts)
      expect(error.retryable).toBe(attempts > 1)
    }))

  it.effect("nothing with maxRetries 0", () =>
    Effect.gen(function*() {
      let made = 0
      const error = yield* Retry.stream({ ...Retry.defaultPolicy, maxRetries: 0 }, () => {
        made++
        return Stream.fail(status("StatusError", 503))
      }).pipe(Stream.runDrain, Effect.flip)
      expect(error._tag).toBe("StatusError")
      expect(made).toBe(1)
    }))
})

/** `ms` is from `low` to `high`, give or take the rounding of the jitter's arithmetic. */
const between = (ms: number, low: number, high: number) => {
  expect(ms).toBeGreaterThanOrEqual(low - 0.5)
  expect(ms).toBeLessThanOrEqual(high + 0.5)
}

describe("the backoff", () => {
  /** When each attempt of a stream that always fails with `error` starts, in ms from the first. */
  const attemptTimes = (policy: Retry.Policy, error: ProviderError.ProviderError, run: Duration.DurationInput) =>
    Effect.gen(function*() {
      const times: Array<number> = []
      const fiber = yield* Retry.stream(policy, () =>
        Stream.unwrap(Effect.map(Clock.currentTimeMillis, (now) => {
          times.push(now)
          return Stream.fail(error)
        }))).pipe(Stream.runDrain, Effect.flip, Effect.fork)
      // the TestClock wakes each sleep at its own time, so each attempt sees the time it started at
      yield* TestClock.adjust(run)
      yield* Fiber.join(fiber)
      return times.map((time) => time - times[0])
    })

  it.effect("doubles from baseDelay, jittered by a fifth either way, capped at maxDelay, maxRetries times", () =>
    Effect.gen(function*() {
      const policy: Retry.Policy = { maxRetries: 4, baseDelay: "1 second", maxDelay: "3 seconds", maxRetryAfter: "1 minute" }
      const times = yield* attemptTimes(policy, new ProviderError.StatusError({ provider: "p", status: 503, body: "" }), "20 seconds")
      expect(times).toHaveLength(5)
      const gaps = times.slice(1).map((time, i) => time - times[i])
      between(gaps[0], 800, 1_200)
      between(gaps[1], 1_600, 2_400)
      // 4 s and 8 s, jittered, are over the cap
      between(gaps[2], 3_000, 3_000)
      between(gaps[3], 3_000, 3_000)
    }))

  it.effect("is at least a Retry-After longer than it, and the schedule's own where that is longer", () =>
    Effect.gen(function*() {
      const policy: Retry.Policy = { maxRetries: 2, baseDelay: "1 second", maxDelay: "10 seconds", maxRetryAfter: "1 minute" }
      const longer = yield* attemptTimes(
        policy,
        new ProviderError.RateLimited({ provider: "p", status: 429, body: "", retryAfter: Duration.seconds(5) }),
        "30 seconds"
      )
      between(longer[1], 5_000, 5_000)
      expect(longer[2] - longer[1]).toBeGreaterThanOrEqual(5_000 - 0.5)
      const shorter = yield* attemptTimes(
        policy,
        new ProviderError.RateLimited({ provider: "p", status: 429, body: "", retryAfter: Duration.millis(10) }),
        "30 seconds"
      )
      expect(shorter[1]).toBeGreaterThanOrEqual(800 - 0.5)
    }))

  it.effect("is not waited for a Retry-After beyond maxRetryAfter: the error surfaces at once", () =>
    Effect.gen(function*() {
      const policy: Retry.Policy = { ...Retry.defaultPolicy, maxRetryAfter: "10 seconds" }
      const at = yield* attemptTimes(
        policy,
        new ProviderError.RateLimited({ provider: "p", status: 429, body: "", retryAfter: Duration.seconds(11) }),
        "1 minute"
      )
      expect(at).toEqual([0])
    }))

  it.effect("ends at once when interrupted, and no attempt follows", () =>
    Effect.gen(function*() {
      let made = 0
      const fiber = yield* Retry.stream(Retry.defaultPolicy, () => {
        made++
        return Stream.fail(new ProviderError.StatusError({ provider: "p", status: 503, body: "" }))
      }).pipe(Stream.runDrain, Effect.fork)
      yield* TestClock.adjust("100 millis")
      expect(made).toBe(1)
      expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
      yield* TestClock.adjust("5 minutes")
      expect(made).toBe(1)
    }))
})

describe("nothing is retried after content", () => {
  const overloaded = new ProviderError.StatusError({ provider: "p", status: 503, body: "" })

  it.effect("what is not content (an opening, a usage report) may come before a retried failure, and again after it", () =>
    Effect.gen(function*() {
      let attempts = 0
      const open = Effect.suspend(() => {
        attempts++
        return Stream.toPull(
          attempts === 1
            ? Stream.concat(Stream.make("start"), Stream.fail(overloaded))
            : Stream.make("start", "text")
        )
      })
      const fiber = yield* Pull.stream(Retry.pull(Retry.defaultPolicy, open, (value) => value !== "start")).pipe(
        Stream.runCollect,
        Effect.fork
      )
      yield* TestClock.adjust("1 minute")
      expect(Chunk.toReadonlyArray(yield* Fiber.join(fiber))).toEqual(["start", "start", "text"])
      expect(attempts).toBe(2)
    }))

  it.effect("content, then a retryable failure: the failure surfaces, after the content, with no second attempt", () =>
    Effect.gen(function*() {
      let attempts = 0
      const seen: Array<string> = []
      const open = Effect.suspend(() => {
        attempts++
        return Stream.toPull(Stream.concat(Stream.make("start", "text"), Stream.fail(overloaded)))
      })
      const fiber = yield* Pull.stream(Retry.pull(Retry.defaultPolicy, open, (value) => value !== "start")).pipe(
        Stream.runForEach((value) => Effect.sync(() => seen.push(value))),
        Effect.flip,
        Effect.fork
      )
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toBe(overloaded)
      expect(seen).toEqual(["start", "text"])
      expect(attempts).toBe(1)
    }))
})
