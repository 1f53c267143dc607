import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message, ProviderError, Retry } from "@reins/core"
import * as Pull from "@reins/core/internal/Pull"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { chatModel, connectionClosed, noRetry } from "./support.js"

const request = { messages: [Message.user("Hi")] }
const rateLimited = (retryAfter: string) =>
  ChatCompletions.errorBody(429, "Slow down", { type: "rate_limit_error", headers: { "retry-after-ms": retryAfter } })

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

describe("retries and timeouts over HTTP", () => {
  it.scopedLive("a 429 is retried after its retry-after-ms, with no text repeated", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(rateLimited("50"), ChatCompletions.reply({ text: "Hello" }))
      const message = yield* LanguageModel.generate(request).pipe(Effect.provide(chatModel(server)))
      expect(Message.text(message)).toBe("Hello")
      expect(server.requests.length).toBe(2)
      expect(server.requests[1].receivedAt - server.requests[0].receivedAt).toBeGreaterThanOrEqual(45)
    }))

  it.scopedLive("an error after output surfaces, with the partial output already delivered and no retry", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        { steps: [ChatCompletions.start(), ...ChatCompletions.text("Partial"), Script.event({ error: { message: "boom", type: "server_error" } })] },
        ChatCompletions.reply({ text: "never asked for" })
      )
      const seen: Array<string> = []
      const error = yield* LanguageModel.stream(request).pipe(
        Stream.runForEach((chunk) => Effect.sync(() => chunk._tag === "TextDelta" && seen.push(chunk.text))),
        Effect.flip,
        Effect.provide(chatModel(server))
      )
      expect(error._tag).toBe("ProviderStreamError")
      expect(seen.join("")).toBe("Partial")
      expect(server.requests.length).toBe(1)
    }))

  it.scopedLive("an interrupt during the backoff ends the call at once, with no connection open", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(rateLimited("60000"))
      const fiber = yield* LanguageModel.generate(request).pipe(Effect.provide(chatModel(server)), Effect.fork)
      yield* Effect.promise(() => server.nextRequest())
      yield* Effect.sleep("30 millis")
      const start = Date.now()
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(Date.now() - start).toBeLessThan(1_000)
      yield* Effect.promise(() => server.waitForOpenConnections(1))
      expect(server.requests.length).toBe(1)
    }))

  it.scopedLive("no headers within the limit is a HeadersTimeout, and the connection closes", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue({ ...ChatCompletions.reply({ text: "late" }), headersDelay: 10_000 })
      const error = yield* LanguageModel.generate({ ...request, timeouts: { headers: "100 millis" }, retry: noRetry }).pipe(
        Effect.flip,
        Effect.provide(chatModel(server))
      )
      expect(error._tag).toBe("HeadersTimeout")
      expect(error.retryable).toBe(true)
      yield* connectionClosed(server, server.requests[0].id)
    }))

  it.scopedLive("a body silent past the idle limit is an IdleTimeout, and the connection closes", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue({ steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("Hmm"), Script.stall()] })
      const error = yield* LanguageModel.generate(request).pipe(
        Effect.flip,
        Effect.provide(chatModel(server, { timeouts: { idle: "100 millis" } }))
      )
      expect(error._tag).toBe("IdleTimeout")
      yield* connectionClosed(server, server.requests[0].id)
    }))
})
