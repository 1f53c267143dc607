/**
 * The OpenAI Responses layer over real HTTP against a ProviderServer: stopping a stream closes its
 * connection (and the layer keeps working), HTTP error statuses and in-stream failures come out as
 * their typed errors, and `layerConfig` reads the key and base URL from the environment.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import { OpenAiResponses } from "@reins/openai"
import { ProviderServer, Responses, Script } from "@reins/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { forkStream, interruptStream, noRetry, transports } from "./support.js"

const request = { messages: [Message.user("Think hard")], reasoning: { effort: "high" as const } }

const responsesModel = (
  server: ProviderServer.ProviderServer,
  transport: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici,
  options: Partial<OpenAiResponses.Options> = {}
) =>
  OpenAiResponses.layer({ model: "test-model", apiKey: Redacted.make("sk-test-key"), baseUrl: `${server.url}/v1`, ...options }).pipe(
    Layer.provide(transport)
  )

/** The same model, with retries off, so that each error status reaches the test. */
const noRetryModel = (server: ProviderServer.ProviderServer) => responsesModel(server, NodeHttpClient.layerUndici, { retry: noRetry })

/** A reasoning model that streams a line of its summary, then thinks silently for a minute. */
const silentAfterReasoning = (): Script.Script => ({
  steps: [
    Responses.created(),
    Responses.inProgress(),
    Responses.event({ type: "response.output_item.added", output_index: 0, item: { id: "rs_1", type: "reasoning", summary: [] } }),
    Responses.event({ type: "response.reasoning_summary_text.delta", item_id: "rs_1", output_index: 0, summary_index: 0, delta: "Let me think." }),
    Script.stall(60_000)
  ]
})

const quickReply = () => Responses.reply({ text: "Hello there", usage: { input_tokens: 3, output_tokens: 2 } })

const nextAnswerWorks = Effect.gen(function*() {
  const message = yield* LanguageModel.generate(request)
  expect(Message.text(message)).toBe("Hello there")
  expect(message.usage).toEqual({ inputTokens: 3, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })
})

describe.each(transports)("OpenAI Responses over $name: interrupting a stream closes its connection", ({ layer }) => {
  it.scopedLive("while the model is silent mid-body", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(silentAfterReasoning(), quickReply())
      yield* Effect.gen(function*() {
        const fiber = yield* forkStream(request)
        const record = server.requests[0]!
        expect(record.path).toBe("/v1/responses")
        yield* interruptStream(server, fiber, record)
        expect(server.requests[0]!.clientClosedAt).toBeDefined()
        expect(server.requests[0]!.finishedAt).toBeUndefined()
        yield* nextAnswerWorks
      }).pipe(Effect.provide(responsesModel(server, layer)))
    }))

  it.scopedLive("before the response headers", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue({ ...silentAfterReasoning(), headersDelay: 60_000 }, quickReply())
      yield* Effect.gen(function*() {
        const fiber = yield* forkStream(request, { awaitFirst: false })
        const record = yield* Effect.promise(() => server.nextRequest())
        yield* interruptStream(server, fiber, record)
        yield* nextAnswerWorks
      }).pipe(Effect.provide(responsesModel(server, layer)))
    }))
})

describe("OpenAI Responses: failures are typed", () => {
  it.scopedLive("429 with retry-after is RateLimited, with the wait, the request id and OpenAI's message", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        Responses.errorBody(429, "Rate limit reached for requests", { code: "rate_limit_exceeded", headers: { "retry-after": "2", "x-request-id": "req_limited" } }),
        quickReply()
      )
      yield* Effect.gen(function*() {
        const error = yield* Effect.flip(LanguageModel.generate(request))
        expect(error._tag).toBe("RateLimited")
        if (error._tag !== "RateLimited") return
        expect(error.status).toBe(429)
        expect(error.retryable).toBe(true)
        expect(error.requestId).toBe("req_limited")
        expect(error.providerMessage).toBe("Rate limit reached for requests")
        expect(Duration.toMillis(error.retryAfter!)).toBe(2_000)
        expect(error.message).not.toContain("sk-test-key")
        // the failed request left the layer usable
        yield* nextAnswerWorks
      }).pipe(Effect.provide(noRetryModel(server)))
    }))

  it.scopedLive("503 is a retryable StatusError, 401 an AuthenticationError, a long prompt a ContextOverflow", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        Responses.errorBody(503, "The engine is currently overloaded, please try again later"),
        Responses.errorBody(401, "Incorrect API key provided: sk-test-***"),
        Responses.errorBody(400, "Your input exceeds the context window of this model.", { code: "context_length_exceeded" })
      )
      yield* Effect.gen(function*() {
        const unavailable = yield* Effect.flip(LanguageModel.generate(request))
        expect(unavailable).toMatchObject({ _tag: "StatusError", status: 503, providerMessage: "The engine is currently overloaded, please try again later" })
        expect(unavailable.retryable).toBe(true)
        const unauthorized = yield* Effect.flip(LanguageModel.generate(request))
        expect(unauthorized).toMatchObject({ _tag: "AuthenticationError", status: 401 })
        expect(unauthorized.retryable).toBe(false)
        const overflow = yield* Effect.flip(LanguageModel.generate(request))
        expect(overflow).toMatchObject({ _tag: "ContextOverflow", status: 400 })
      }).pipe(Effect.provide(noRetryModel(server)))
    }))

  it.scopedLive("an error event mid-stream is a ProviderStreamError; a stream cut short is a ConnectionError", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const opening = [Responses.created(), Responses.inProgress(), ...Responses.message("Partial answer")]
      server.enqueue(
        Script.make([...opening, Script.delay(20), Responses.errorEvent(500, "The server had an error while processing your request.")]),
        Script.make([...opening, Script.delay(20), Script.drop()]),
        Script.make(opening)
      )
      yield* Effect.gen(function*() {
        const failed = yield* Effect.flip(LanguageModel.generate(request))
        expect(failed).toMatchObject({ _tag: "ProviderStreamError", code: "server_error", retryable: true })
        const dropped = yield* Effect.flip(LanguageModel.generate(request))
        expect(dropped._tag).toBe("ConnectionError")
        const truncated = yield* Effect.flip(LanguageModel.generate(request))
        expect(truncated).toMatchObject({ _tag: "ConnectionError", message: "the stream ended before the response finished" })
      }).pipe(Effect.provide(noRetryModel(server)))
    }))

  it.scopedLive("with the default policy, a 503 or an error event before any content is retried, and an error after content is not", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        Responses.errorBody(503, "The engine is currently overloaded", { headers: { "retry-after-ms": "10" } }),
        quickReply(),
        // the response had started, but nothing the caller keeps had arrived: retried
        Script.make([Responses.created(), Script.delay(20), Responses.errorEvent(500, "The server had an error.")]),
        quickReply(),
        Script.make([Responses.created(), ...Responses.message("Partial"), Script.delay(20), Responses.errorEvent(500, "The server had an error.")])
      )
      yield* Effect.gen(function*() {
        yield* nextAnswerWorks
        expect(server.requests).toHaveLength(2)
        yield* nextAnswerWorks
        expect(server.requests).toHaveLength(4)
        const failed = yield* Effect.flip(LanguageModel.generate(request))
        expect(failed).toMatchObject({ _tag: "ProviderStreamError", code: "server_error", retryable: true })
        // text had gone downstream, so the retryable error was not retried
        expect(server.requests).toHaveLength(5)
      }).pipe(Effect.provide(responsesModel(server)))
    }))

  it.scopedLive("layerConfig reads OPENAI_API_KEY and OPENAI_BASE_URL", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(quickReply())
      const env = ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", "sk-from-env"], ["OPENAI_BASE_URL", `${server.url}/v1/`]]))
      const model = OpenAiResponses.layerConfig({ model: "gpt-5-mini", reasoningSummary: "concise" }).pipe(
        Layer.provide(NodeHttpClient.layerUndici),
        Layer.provide(Layer.setConfigProvider(env))
      )
      yield* nextAnswerWorks.pipe(Effect.provide(model))
      const record = server.requests[0]!
      expect(record.path).toBe("/v1/responses")
      expect(record.headers.authorization).toBe("Bearer sk-from-env")
      expect(record.json).toMatchObject({
        model: "gpt-5-mini",
        stream: true,
        store: false,
        reasoning: { effort: "high", summary: "concise" },
        include: ["reasoning.encrypted_content"]
      })
    }))
})
