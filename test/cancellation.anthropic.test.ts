/**
 * The cancellation contract for the Anthropic provider over real HTTP: interrupting a consumer
 * while the model is silent mid-body closes the connection and the layer keeps working; HTTP
 * errors in Anthropic's body shape become the right typed errors.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Anthropic } from "@reins/anthropic"
import { LanguageModel, Message } from "@reins/core"
import { Messages, ProviderServer, Script } from "@reins/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { forkStream, interruptStream, noRetry } from "./support.js"

const request = { messages: [Message.user("Think hard")] }

const model = (server: ProviderServer.ProviderServer) =>
  Anthropic.layer({ model: "claude-test", apiKey: Redacted.make("sk-ant-secret"), baseUrl: server.url, retry: noRetry }).pipe(
    Layer.orDie,
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** A thinking model that streams a little thinking, then thinks silently for a minute. */
const silentWhileThinking = (): Script.Script =>
  Script.make([
    Messages.messageStart({ usage: { input_tokens: 12 } }),
    Messages.blockStart(0, { type: "thinking", thinking: "", signature: "" }),
    Messages.blockDelta(0, { type: "thinking_delta", thinking: "Let me think about this." }),
    Script.stall(60_000)
  ])

const quickReply = () => Messages.reply({ text: "Hello there", usage: { input_tokens: 3, output_tokens: 2 } })

describe("Anthropic cancellation over real HTTP", () => {
  it.scopedLive("interrupting a consumer while the model is silent mid-body closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(silentWhileThinking(), quickReply())
      yield* Effect.gen(function*() {
        const fiber = yield* forkStream(request, { firstChunk: (chunk) => chunk._tag === "ReasoningDelta" })
        const record = server.requests[0]!
        const started = performance.now()
        yield* interruptStream(server, fiber, record)
        expect(record.clientClosedAt).toBeDefined()
        expect(record.finishedAt).toBeUndefined()
        expect(performance.now() - started).toBeLessThan(1_000)
        // the same layer answers the next request
        const message = yield* LanguageModel.generate(request)
        expect(Message.text(message)).toBe("Hello there")
        expect(message.usage).toMatchObject({ inputTokens: 3, outputTokens: 2 })
        expect(server.requests).toHaveLength(2)
      }).pipe(Effect.provide(model(server)))
    }))

  it.scopedLive("529 overloaded in Anthropic's error body is a retryable StatusError", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Messages.errorBody(529, "Overloaded"))
      const error = yield* LanguageModel.generate(request).pipe(Effect.provide(model(server)), Effect.flip)
      expect(error).toMatchObject({ _tag: "StatusError", provider: "anthropic", status: 529, providerMessage: "Overloaded", requestId: "req_1" })
      expect(error.retryable).toBe(true)
      expect(String(error.message)).not.toContain("sk-ant-secret")
    }))

  it.scopedLive("429 with retry-after is RateLimited with its delay", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Messages.errorBody(429, "Number of request tokens has exceeded your per-minute rate limit", { headers: { "retry-after": "7" } }))
      const error = yield* LanguageModel.generate(request).pipe(Effect.provide(model(server)), Effect.flip)
      expect(error._tag).toBe("RateLimited")
      expect(error.retryable).toBe(true)
      if (error._tag === "RateLimited") {
        expect(error.retryAfter && Duration.toMillis(error.retryAfter)).toBe(7_000)
        expect(error.providerMessage).toBe("Number of request tokens has exceeded your per-minute rate limit")
      }
    }))

  it.scopedLive("400 prompt too long is ContextOverflow, 401 is AuthenticationError", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        Messages.errorBody(400, "prompt is too long: 210000 tokens > 200000 maximum"),
        Messages.errorBody(401, "invalid x-api-key")
      )
      yield* Effect.gen(function*() {
        const overflow = yield* LanguageModel.generate(request).pipe(Effect.flip)
        expect(overflow._tag).toBe("ContextOverflow")
        expect(overflow.retryable).toBe(false)
        const auth = yield* LanguageModel.generate(request).pipe(Effect.flip)
        expect(auth._tag).toBe("AuthenticationError")
      }).pipe(Effect.provide(model(server)))
    }))

  it.scopedLive("an overloaded_error event mid-stream is a retryable ProviderStreamError", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Script.make([
        Messages.messageStart(),
        ...Messages.text(0, "Hel").slice(0, 2),
        Script.delay(20),
        Messages.errorEvent(529, "Overloaded")
      ]))
      const error = yield* LanguageModel.generate(request).pipe(Effect.provide(model(server)), Effect.flip)
      expect(error).toMatchObject({ _tag: "ProviderStreamError", code: "overloaded_error", message: "Overloaded", retryable: true })
    }))
})
