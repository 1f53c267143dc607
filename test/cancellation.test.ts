/**
 * The cancellation contract, over real HTTP, for every wire format (Chat Completions, OpenAI
 * Responses, Anthropic Messages, Gemini) on both of `@effect/platform-node`'s clients: interrupting
 * a model stream at any phase (connecting, awaiting headers, mid-body in silence, mid-body while
 * bytes flow, in a retry backoff) ends it and closes its connection as the ProviderServer records
 * it, and so does a stream that ends early for any other reason; the client's other connections
 * keep streaming and stay pooled, and the same layer answers the next request.
 *
 * Then the faults, one table: what each format's errors become (error bodies of each status, error
 * events mid-stream, bodies cut short), in the shapes every format shares and in the shapes that
 * are a format's own (Anthropic's 529, Gemini's RESOURCE_EXHAUSTED body, a blocked prompt), and
 * what is retried: a retryable failure before any content, never one after it.
 *
 * Every case is written once; the rows are the formats (`Formats.all`) and the faults.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message, type ProviderError, type Retry } from "@reins/core"
import { Formats, Gemini, Messages, ProviderServer, Responses, Script } from "@reins/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { connectionClosed, forkStream, interruptStream, modelOn, noRetry, transports } from "./support.js"

const API_KEY = "sk-cancellation-test-key"

const request = { messages: [Message.user("Think hard")] }

/** A model of `format` served by `server`, on `transport`, with the key under test and `retry`. */
const modelOf = (
  format: Formats.Format,
  server: ProviderServer.ProviderServer,
  options: { readonly transport?: Layer.Layer<HttpClient.HttpClient>; readonly retry?: Retry.Policy } = {}
): Layer.Layer<LanguageModel.LanguageModel> => modelOn(format, server, { apiKey: Redacted.make(API_KEY), retry: options.retry }, options.transport)

/** A reasoning model that streams a little reasoning, then thinks silently for a minute. */
const silentAfterReasoning = (format: Formats.Format): Script.Script =>
  Script.make([...format.start(), ...format.reasoning("Let me think about this."), Script.stall(60_000)])

/** A model streaming about 2,000 text deltas, 2 ms apart. */
const streaming = (format: Formats.Format): Script.Script => {
  const words = Array.from({ length: 2_000 }, (_, i) => `word${i} `).join("")
  return Script.make([...format.start(), ...Script.spaced(format.text(words, { chunkSize: 7 }), 2)])
}

const quickReply = (format: Formats.Format) => format.reply({ text: "Hello there", usage: { input: 3, output: 2 } })

/** The next request on the same layer is answered in full. */
const nextAnswerWorks = Effect.gen(function*() {
  const message = yield* LanguageModel.generate(request)
  expect(Message.text(message)).toBe("Hello there")
  expect(message.usage).toEqual({ inputTokens: 3, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })
})

const reasoningArrived = { firstChunk: (part: { readonly _tag: string }) => part._tag === "ReasoningDelta" }

describe.each(Formats.all)("$name", (format) => {
  describe.each(transports)("over $name", ({ layer: transport }) => {
    const model = (server: ProviderServer.ProviderServer, retry?: Retry.Policy) =>
      modelOf(format, server, { transport, ...(retry !== undefined ? { retry } : {}) })

    describe("interrupting a model stream closes its connection", () => {
      it.scopedLive("while connecting", () =>
        Effect.gen(function*() {
          // Answered by what was asked, since the interrupted request may never reach the server.
          const server = yield* ProviderServer.make({
            handler: (record) => record.body.includes("Think hard") ? silentAfterReasoning(format) : quickReply(format)
          })
          yield* Effect.gen(function*() {
            const fiber = yield* forkStream(request, { awaitFirst: false })
            yield* Effect.yieldNow()
            const exit = yield* Fiber.interrupt(fiber)
            expect(Exit.isInterrupted(exit)).toBe(true)
            // whether or not the request got out, no connection is left open for it
            yield* Effect.promise(() => server.waitForOpenConnections(0, 2_000))
            const message = yield* LanguageModel.generate({ messages: [Message.user("Go on")] })
            expect(Message.text(message)).toBe("Hello there")
          }).pipe(Effect.provide(model(server)))
        }))

      it.scopedLive("before the response headers", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          server.enqueue({ ...silentAfterReasoning(format), headersDelay: 60_000 }, quickReply(format))
          yield* Effect.gen(function*() {
            const fiber = yield* forkStream(request, { awaitFirst: false })
            const record = yield* Effect.promise(() => server.nextRequest())
            yield* interruptStream(server, fiber, record)
            expect(record.finishedAt).toBeUndefined()
            yield* nextAnswerWorks
          }).pipe(Effect.provide(model(server)))
        }))

      it.scopedLive("while the model is silent mid-body, within a second", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          server.enqueue(silentAfterReasoning(format), quickReply(format))
          yield* Effect.gen(function*() {
            const fiber = yield* forkStream(request, reasoningArrived)
            const record = server.requests[0]!
            expect(record.path).toBe(format.route(format.model))
            const started = performance.now()
            yield* interruptStream(server, fiber, record)
            expect(performance.now() - started).toBeLessThan(1_000)
            expect(record.clientClosedAt).toBeDefined()
            expect(record.finishedAt).toBeUndefined()
            yield* nextAnswerWorks
            expect(server.requests).toHaveLength(2)
          }).pipe(Effect.provide(model(server)))
        }))

      it.scopedLive("while bytes flow", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          server.enqueue(streaming(format), quickReply(format))
          yield* Effect.gen(function*() {
            const fiber = yield* forkStream(request, { firstChunk: (part) => part._tag === "TextDelta" })
            yield* Effect.sleep("30 millis")
            yield* interruptStream(server, fiber, server.requests[0]!)
            expect(server.requests[0]!.finishedAt).toBeUndefined()
            yield* nextAnswerWorks
          }).pipe(Effect.provide(model(server)))
        }))

      it.scopedLive("in a retry backoff, at once, with no retry sent", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          server.enqueue(format.errorBody(429, "Slow down", { headers: { "retry-after-ms": "60000" } }), quickReply(format))
          const patient: Retry.Policy = { maxRetries: 2, baseDelay: "10 millis", maxDelay: "1 second", maxRetryAfter: "2 minutes" }
          yield* Effect.gen(function*() {
            const fiber = yield* forkStream(request, { awaitFirst: false })
            yield* Effect.promise(() => server.nextRequest())
            yield* Effect.sleep("30 millis")
            const started = performance.now()
            const exit = yield* Fiber.interrupt(fiber)
            expect(Exit.isInterrupted(exit)).toBe(true)
            expect(performance.now() - started).toBeLessThan(1_000)
            // the error body was read whole: its connection is idle in the pool, or closed
            yield* Effect.promise(() => server.waitForOpenConnections(1, 2_000))
            expect(server.requests).toHaveLength(1)
            yield* nextAnswerWorks
            expect(server.requests).toHaveLength(2)
          }).pipe(Effect.provide(model(server, patient)))
        }))

      it.scopedLive("keeps the client's other connections streaming and pooled", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          const slowReply = format.reply({ text: "Hello there", usage: { input: 3, output: 2 }, chunkSize: 1, deltaDelay: 10 })
          server.enqueue(slowReply, silentAfterReasoning(format), quickReply(format))
          yield* Effect.gen(function*() {
            const other = yield* Effect.fork(LanguageModel.generate(request))
            yield* Effect.promise(() => server.nextRequest())
            const stopped = yield* forkStream(request, reasoningArrived)
            const stoppedRecord = yield* Effect.promise(() => server.nextRequest())
            yield* interruptStream(server, stopped, stoppedRecord)
            // the other stream, on its own connection, finishes untouched
            expect(Message.text(yield* Fiber.join(other))).toBe("Hello there")
            const pooled = server.requests[0]!.connectionId
            expect(stoppedRecord.connectionId).not.toBe(pooled)
            // and its connection went back to the pool (undici frees it a tick after the body
            // ends, hence the pause): the next request reuses it
            yield* Effect.sleep("20 millis")
            yield* nextAnswerWorks
            expect(server.requests[2]!.connectionId).toBe(pooled)
          }).pipe(Effect.provide(model(server)))
        }))

      it.scopedLive("1,000 interrupted streams in a row leave no connection open beyond the idle pool", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make({ handler: () => silentAfterReasoning(format) })
          yield* Effect.gen(function*() {
            for (let i = 0; i < 1_000; i++) {
              const fiber = yield* forkStream(request)
              yield* Fiber.interrupt(fiber)
            }
            yield* Effect.promise(() => server.waitForOpenConnections(0, 5_000))
            expect(server.requests.length).toBe(1_000)
            expect(server.openConnections()).toBe(0)
            server.enqueue(quickReply(format))
            yield* nextAnswerWorks
          }).pipe(Effect.provide(model(server)))
        }), 60_000)
    })

    describe("a stream that ends early for any reason releases its connection", () => {
      it.scopedLive("Stream.take", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          server.enqueue(silentAfterReasoning(format), quickReply(format))
          yield* Effect.gen(function*() {
            const parts = yield* LanguageModel.stream(request).pipe(Stream.take(2), Stream.runCollect)
            expect(parts.length).toBe(2)
            yield* connectionClosed(server, server.requests[0]!.id)
            yield* nextAnswerWorks
          }).pipe(Effect.provide(model(server)))
        }))

      it.scopedLive("Effect.timeout", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          server.enqueue(silentAfterReasoning(format), quickReply(format))
          yield* Effect.gen(function*() {
            const result = yield* LanguageModel.generate(request).pipe(Effect.timeout("100 millis"), Effect.either)
            expect(result._tag === "Left" && result.left._tag).toBe("TimeoutException")
            yield* connectionClosed(server, server.requests[0]!.id)
            yield* nextAnswerWorks
          }).pipe(Effect.provide(model(server)))
        }))

      it.scopedLive("the loser of Effect.race", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          server.enqueue(silentAfterReasoning(format), quickReply(format))
          yield* Effect.gen(function*() {
            const slow = LanguageModel.generate(request)
            const fast = Effect.zipRight(Effect.sleep("50 millis"), LanguageModel.generate(request))
            const winner = yield* Effect.race(slow, fast)
            expect(Message.text(winner)).toBe("Hello there")
            const loser = server.requests.find((r) => r.finishedAt === undefined)!
            expect(loser.id).toBe(server.requests[0]!.id)
            yield* connectionClosed(server, loser.id)
          }).pipe(Effect.provide(model(server)))
        }))
    })
  })

})

/** How one request against a fault must end. */
type Outcome =
  | {
    readonly _tag: "Fails"
    /** What the error must match (`toMatchObject`). */
    readonly error: Record<string, unknown>
    /** The wait it asks for, in milliseconds. */
    readonly retryAfter?: number
    readonly check?: (error: ProviderError.ProviderError) => void
  }
  | { readonly _tag: "Answers"; readonly check: (message: Message.Assistant) => void }

/** A fault: what the server answers one request with, and how the call must end, without retries. */
interface Fault {
  readonly name: string
  readonly script: () => Script.Script
  readonly outcome: Outcome
}

const fails = (error: Record<string, unknown>, more: Omit<Extract<Outcome, { _tag: "Fails" }>, "_tag" | "error"> = {}): Outcome => ({
  _tag: "Fails",
  error,
  ...more
})

/** The faults every format has, each in the format's own shape. */
const common = (format: Formats.Format): ReadonlyArray<Fault> => {
  const opening = () => [...format.start(), ...format.text("Partial answer")]
  const provider = format.provider
  return [
    {
      name: "429 with retry-after: RateLimited, retryable, with the wait, the request id and the provider's message",
      script: () => format.errorBody(429, "Rate limit reached for requests", { headers: { "retry-after": "7" } }),
      outcome: fails(
        { _tag: "RateLimited", provider, status: 429, requestId: "req_1", providerMessage: "Rate limit reached for requests", retryable: true },
        { retryAfter: 7_000 }
      )
    },
    {
      name: "503: a retryable StatusError with the provider's message",
      script: () => format.errorBody(503, "The model is overloaded. Please try again later."),
      outcome: fails({ _tag: "StatusError", provider, status: 503, providerMessage: "The model is overloaded. Please try again later.", retryable: true })
    },
    {
      name: "401: AuthenticationError, not retryable",
      script: () => format.errorBody(401, "Invalid API key"),
      outcome: fails({ _tag: "AuthenticationError", provider, status: 401, retryable: false })
    },
    {
      name: "an error event mid-stream: a retryable ProviderStreamError with the provider's message",
      script: () => Script.make([...opening(), Script.delay(20), format.errorEvent(500, "The server had an error while processing your request.")]),
      outcome: fails({ _tag: "ProviderStreamError", provider, message: "The server had an error while processing your request.", retryable: true })
    },
    {
      name: "a connection dropped mid-body: ConnectionError",
      script: () => Script.make([...opening(), Script.delay(20), Script.drop()]),
      outcome: fails({ _tag: "ConnectionError", provider })
    },
    {
      name: "a body that ends before its terminal event: ConnectionError",
      script: () => Script.make(opening()),
      outcome: fails({ _tag: "ConnectionError", provider, message: "the stream ended before the response finished" })
    }
  ]
}

/** The faults in the shapes that are a format's own. */
const own: Record<Formats.Id, ReadonlyArray<Fault>> = {
  chat: [
    {
      name: "400 context_length_exceeded: ContextOverflow, not retryable",
      script: () => Formats.chat.errorBody(400, "This model's maximum context length is 128000 tokens."),
      outcome: fails({ _tag: "ContextOverflow", status: 400, retryable: false })
    }
  ],
  responses: [
    {
      name: "429 with its own x-request-id and rate_limit_exceeded: RateLimited with that id",
      script: () =>
        Responses.errorBody(429, "Rate limit reached for requests", {
          code: "rate_limit_exceeded",
          headers: { "retry-after": "2", "x-request-id": "req_limited" }
        }),
      outcome: fails({ _tag: "RateLimited", status: 429, requestId: "req_limited", providerMessage: "Rate limit reached for requests", retryable: true }, {
        retryAfter: 2_000
      })
    },
    {
      name: "401 quoting a masked key: AuthenticationError",
      script: () => Responses.errorBody(401, "Incorrect API key provided: sk-test-***"),
      outcome: fails({ _tag: "AuthenticationError", status: 401, retryable: false })
    },
    {
      name: "400 context_length_exceeded: ContextOverflow",
      script: () => Responses.errorBody(400, "Your input exceeds the context window of this model.", { code: "context_length_exceeded" }),
      outcome: fails({ _tag: "ContextOverflow", status: 400, retryable: false })
    },
    {
      name: "an error event with the code server_error: ProviderStreamError with that code",
      script: () => Script.make([Responses.created(), Responses.inProgress(), ...Responses.message("Partial"), Responses.errorEvent(500, "Boom")]),
      outcome: fails({ _tag: "ProviderStreamError", code: "server_error", retryable: true })
    }
  ],
  messages: [
    {
      name: "529 overloaded: a retryable StatusError",
      script: () => Messages.errorBody(529, "Overloaded"),
      outcome: fails({ _tag: "StatusError", provider: "anthropic", status: 529, providerMessage: "Overloaded", requestId: "req_1", retryable: true })
    },
    {
      name: "429 with retry-after and Anthropic's rate limit message: RateLimited with its delay",
      script: () =>
        Messages.errorBody(429, "Number of request tokens has exceeded your per-minute rate limit", { headers: { "retry-after": "7" } }),
      outcome: fails({ _tag: "RateLimited", providerMessage: "Number of request tokens has exceeded your per-minute rate limit", retryable: true }, {
        retryAfter: 7_000
      })
    },
    {
      name: "400 prompt is too long: ContextOverflow, not retryable",
      script: () => Messages.errorBody(400, "prompt is too long: 210000 tokens > 200000 maximum"),
      outcome: fails({ _tag: "ContextOverflow", retryable: false })
    },
    {
      name: "401 invalid x-api-key: AuthenticationError",
      script: () => Messages.errorBody(401, "invalid x-api-key"),
      outcome: fails({ _tag: "AuthenticationError" })
    },
    {
      name: "an overloaded_error event mid-stream: a retryable ProviderStreamError",
      script: () => Script.make([Messages.messageStart(), ...Messages.text(0, "Hel").slice(0, 2), Script.delay(20), Messages.errorEvent(529, "Overloaded")]),
      outcome: fails({ _tag: "ProviderStreamError", code: "overloaded_error", message: "Overloaded", retryable: true })
    }
  ],
  gemini: [
    {
      name: "429 RESOURCE_EXHAUSTED: RateLimited, with Google's body kept as sent",
      script: () => Gemini.errorBody(429, "Resource has been exhausted (e.g. check quota).", { headers: { "retry-after": "7" } }),
      outcome: fails({ _tag: "RateLimited", status: 429, providerMessage: "Resource has been exhausted (e.g. check quota).", retryable: true }, {
        retryAfter: 7_000,
        check: (error) => {
          expect(JSON.parse((error as ProviderError.RateLimited).body)).toEqual({
            error: { code: 429, message: "Resource has been exhausted (e.g. check quota).", status: "RESOURCE_EXHAUSTED" }
          })
        }
      })
    },
    {
      name: "503 UNAVAILABLE: a retryable StatusError whose message names the provider and the status",
      script: () => Gemini.errorBody(503, "The model is overloaded. Please try again later."),
      outcome: fails({ _tag: "StatusError", retryable: true }, {
        check: (error) => expect(error.message).toMatch(/^google: HTTP 503: The model is overloaded\. Please try again later\./)
      })
    },
    {
      name: "400 with Gemini's token-count message: ContextOverflow, not retryable",
      script: () => Gemini.errorBody(400, "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."),
      outcome: fails({ _tag: "ContextOverflow", retryable: false })
    },
    {
      name: "403 PERMISSION_DENIED: AuthenticationError",
      script: () => Gemini.errorBody(403, "Method doesn't allow unregistered callers."),
      outcome: fails({ _tag: "AuthenticationError" })
    },
    {
      name: "an error event mid-stream: ProviderStreamError with Google's status as its code",
      script: () => Script.make([...Gemini.text("Partial"), Gemini.errorEvent(503, "The model is overloaded.")]),
      outcome: fails({ _tag: "ProviderStreamError", code: "UNAVAILABLE", retryable: true, message: "The model is overloaded." })
    },
    {
      name: "a body with no event at all: EmptyResponse",
      script: () => Script.make([]),
      outcome: fails({ _tag: "EmptyResponse" })
    },
    {
      name: "a blocked prompt: a finished message with stop reason content-filter",
      script: () => Script.make([Gemini.blocked("PROHIBITED_CONTENT", { usage: { promptTokenCount: 12 } })]),
      outcome: {
        _tag: "Answers",
        check: (message) => {
          expect(message.content).toEqual([])
          expect(message.stopReason).toBe("content-filter")
          expect(message.rawStopReason).toBe("PROHIBITED_CONTENT")
          expect(message.usage.inputTokens).toBe(12)
        }
      }
    }
  ]
}

describe.each(Formats.all)("$name: faults", (format) => {
  describe.each([...common(format), ...own[format.id]])("$name", (fault) => {
    it.scopedLive("ends as documented, and the key shows nowhere", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(fault.script(), quickReply(format))
        yield* Effect.gen(function*() {
          const exit = yield* Effect.exit(LanguageModel.generate(request))
          const outcome = fault.outcome
          if (outcome._tag === "Answers") {
            expect(Exit.isSuccess(exit)).toBe(true)
            if (Exit.isSuccess(exit)) outcome.check(exit.value)
          } else {
            expect(Exit.isFailure(exit)).toBe(true)
            const error = yield* Effect.flip(exit)
            expect(error).toMatchObject(outcome.error)
            expect(error.retryable).toBe(outcome.error.retryable ?? error.retryable)
            if (outcome.retryAfter !== undefined) {
              expect(error._tag).toBe("RateLimited")
              const wait = error._tag === "RateLimited" ? error.retryAfter : undefined
              expect(wait && Duration.toMillis(wait)).toBe(outcome.retryAfter)
            }
            outcome.check?.(error)
            // the key never reaches an error, whatever its shape
            expect(JSON.stringify(error)).not.toContain(API_KEY)
            expect(String(error)).not.toContain(API_KEY)
            expect(error.message).not.toContain(API_KEY)
          }
          expect(server.requests).toHaveLength(1)
          // the failed request left the layer usable
          yield* nextAnswerWorks
        }).pipe(Effect.provide(modelOf(format, server, { retry: noRetry })))
      }))
  })

  it.scopedLive("with the default policy, a retryable status and an error event before any content are retried; an error after content is not", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        format.errorBody(503, "The model is overloaded. Please try again later.", { headers: { "retry-after-ms": "10" } }),
        quickReply(format),
        // the response had started, but nothing the caller keeps had arrived: retried
        Script.make([...format.start(), Script.delay(20), format.errorEvent(500, "The server had an error.")]),
        quickReply(format),
        Script.make([...format.start(), ...format.text("Partial"), Script.delay(20), format.errorEvent(500, "The server had an error.")])
      )
      yield* Effect.gen(function*() {
        yield* nextAnswerWorks
        expect(server.requests).toHaveLength(2)
        yield* nextAnswerWorks
        expect(server.requests).toHaveLength(4)
        const seen: Array<string> = []
        const failed = yield* LanguageModel.stream(request).pipe(
          Stream.runForEach((part) => Effect.sync(() => part._tag === "TextDelta" && seen.push(part.text))),
          Effect.flip
        )
        expect(failed).toMatchObject({ _tag: "ProviderStreamError", retryable: true })
        // text had gone downstream, so the retryable error was not retried, and no text came twice
        expect(seen.join("")).toBe("Partial")
        expect(server.requests).toHaveLength(5)
      }).pipe(Effect.provide(modelOf(format, server)))
    }))
})
