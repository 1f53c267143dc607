/**
 * Stopping a Gemini stream over real HTTP closes its connection, and Gemini's HTTP and in-stream
 * errors arrive as the right typed errors.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import { Google } from "@reins/google"
import { Gemini, ProviderServer, Script } from "@reins/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { connectionClosed, forkStream, interruptStream, noRetry } from "./support.js"

const API_KEY = "gk-test-key-do-not-log"

const request = { messages: [Message.user("Think hard")] }

const googleModel = (server: ProviderServer.ProviderServer, options: Partial<Google.Options> = {}) =>
  Google.layer({ model: "gemini-2.5-pro", apiKey: Redacted.make(API_KEY), baseUrl: server.url, ...options }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** A thinking model that streams a little thought, then thinks silently for a minute. */
const silentAfterThought = (): Script.Script => Script.make([...Gemini.thought("Let me think about this."), Script.stall(60_000)])

const quickReply = () => Gemini.reply({ text: "Hello there", usage: { promptTokenCount: 3, candidatesTokenCount: 2 } })

const nextAnswerWorks = Effect.gen(function*() {
  const message = yield* LanguageModel.generate(request)
  expect(Message.text(message)).toBe("Hello there")
  expect(message.usage).toEqual({ inputTokens: 3, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })
})

/** Runs one request against `script`, without retries (each error is under test), and returns its failure. */
const failure = (script: Script.Script) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    server.enqueue(script)
    const error = yield* LanguageModel.generate(request).pipe(Effect.flip, Effect.provide(googleModel(server, { retry: noRetry })))
    // the key never reaches an error, whatever its shape
    expect(JSON.stringify(error)).not.toContain(API_KEY)
    expect(String(error)).not.toContain(API_KEY)
    return error
  })

describe("interrupting a Gemini stream closes its connection", () => {
  it.scopedLive("while the model is silent mid-body", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(silentAfterThought(), quickReply())
      yield* Effect.gen(function*() {
        const fiber = yield* forkStream(request)
        const record = server.requests[0]!
        yield* interruptStream(server, fiber, record)
        expect(record.clientClosedAt).toBeDefined()
        expect(record.finishedAt).toBeUndefined()
        yield* nextAnswerWorks
        expect(server.requests[1]!.path).toBe("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
      }).pipe(Effect.provide(googleModel(server)))
    }))

  it.scopedLive("before the response headers", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue({ ...silentAfterThought(), headersDelay: 60_000 }, quickReply())
      yield* Effect.gen(function*() {
        const fiber = yield* forkStream(request, { awaitFirst: false })
        const record = yield* Effect.promise(() => server.nextRequest())
        yield* interruptStream(server, fiber, record)
        yield* nextAnswerWorks
      }).pipe(Effect.provide(googleModel(server)))
    }))

  it.scopedLive("when the consumer takes only the first chunks", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(silentAfterThought(), quickReply())
      yield* Effect.gen(function*() {
        const chunks = yield* LanguageModel.stream(request).pipe(Stream.take(2), Stream.runCollect)
        expect(chunks.length).toBe(2)
        yield* connectionClosed(server, server.requests[0]!.id)
        yield* nextAnswerWorks
      }).pipe(Effect.provide(googleModel(server)))
    }))
})

describe("Gemini errors arrive typed", () => {
  it.scoped("429 RESOURCE_EXHAUSTED with retry-after: RateLimited, retryable, with the wait and Google's message", () =>
    Effect.gen(function*() {
      const error = yield* failure(
        Gemini.errorBody(429, "Resource has been exhausted (e.g. check quota).", { headers: { "retry-after": "7" } })
      )
      expect(error._tag).toBe("RateLimited")
      if (error._tag !== "RateLimited") return
      expect(error.retryable).toBe(true)
      expect(error.status).toBe(429)
      expect(error.retryAfter).toEqual(Duration.seconds(7))
      expect(error.providerMessage).toBe("Resource has been exhausted (e.g. check quota).")
      expect(JSON.parse(error.body)).toEqual({
        error: { code: 429, message: "Resource has been exhausted (e.g. check quota).", status: "RESOURCE_EXHAUSTED" }
      })
    }))

  it.scopedLive("503 UNAVAILABLE before any output is retried, and the next attempt answers", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Gemini.errorBody(503, "The model is overloaded. Please try again later."), quickReply())
      const retry = { maxRetries: 2, baseDelay: "5 millis", maxDelay: "20 millis", maxRetryAfter: "1 second" } as const
      yield* nextAnswerWorks.pipe(Effect.provide(googleModel(server, { retry })))
      expect(server.requests.length).toBe(2)
    }))

  it.scoped("503 UNAVAILABLE: a retryable StatusError", () =>
    Effect.gen(function*() {
      const error = yield* failure(Gemini.errorBody(503, "The model is overloaded. Please try again later."))
      expect(error._tag).toBe("StatusError")
      expect(error.retryable).toBe(true)
      expect(error.message).toMatch(/^google: HTTP 503: The model is overloaded\. Please try again later\./)
    }))

  it.scoped("400 with Gemini's token-count message: ContextOverflow; 403: AuthenticationError", () =>
    Effect.gen(function*() {
      const overflow = yield* failure(
        Gemini.errorBody(400, "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).")
      )
      expect(overflow._tag).toBe("ContextOverflow")
      expect(overflow.retryable).toBe(false)
      const denied = yield* failure(Gemini.errorBody(403, "Method doesn't allow unregistered callers."))
      expect(denied._tag).toBe("AuthenticationError")
    }))

  it.scoped("an error event mid-stream: ProviderStreamError with Google's status as code", () =>
    Effect.gen(function*() {
      const error = yield* failure(Script.make([...Gemini.text("Partial"), Gemini.errorEvent(503, "The model is overloaded.")]))
      expect(error).toMatchObject({ _tag: "ProviderStreamError", code: "UNAVAILABLE", retryable: true, message: "The model is overloaded." })
    }))

  it.scoped("a body that ends without a finish reason: ConnectionError; with no event: EmptyResponse", () =>
    Effect.gen(function*() {
      const cut = yield* failure(Script.make(Gemini.text("Partial")))
      expect(cut).toMatchObject({ _tag: "ConnectionError", message: "the stream ended before the response finished" })
      const empty = yield* failure(Script.make([]))
      expect(empty._tag).toBe("EmptyResponse")
    }))

  it.scoped("a blocked prompt is a finished message with stop reason content-filter", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Script.make([Gemini.blocked("PROHIBITED_CONTENT", { usage: { promptTokenCount: 12 } })]))
      const message = yield* LanguageModel.generate(request).pipe(Effect.provide(googleModel(server)))
      expect(message.content).toEqual([])
      expect(message.stopReason).toBe("content-filter")
      expect(message.rawStopReason).toBe("PROHIBITED_CONTENT")
      expect(message.usage.inputTokens).toBe(12)
    }))
})
