import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { chatModel, connectionClosed, noRetry } from "./support.js"

const request = { messages: [Message.user("Hi")] }
const rateLimited = (retryAfter: string) =>
  ChatCompletions.errorBody(429, "Slow down", { type: "rate_limit_error", headers: { "retry-after-ms": retryAfter } })

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
