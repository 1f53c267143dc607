/**
 * The registry of formats: each format's helpers make streams its own Reins layer reads as meant,
 * over real HTTP, at the route and base URL the registry names.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message, Retry } from "@reins/core"
import { Formats, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const request = { messages: [Message.user("Hi")] }
const noRetry = { ...Retry.defaultPolicy, maxRetries: 0 }

const model = (format: Formats.Format, server: ProviderServer.ProviderServer) =>
  format.layer(server.url, { retry: noRetry }).pipe(Layer.orDie, Layer.provide(NodeHttpClient.layerUndici))

describe("Formats", () => {
  it("lists the four formats once each, found by id and by the path their clients call", () => {
    expect(Formats.all.map((format) => format.id)).toEqual(["chat", "responses", "messages", "gemini"])
    for (const format of Formats.all) {
      expect(Formats.byId(format.id)).toBe(format)
      expect(Formats.byPath(format.route(format.model))).toBe(format)
      expect(Formats.byPath(format.route("another-model"))).toBe(format)
    }
    expect(Formats.byPath("/v1/embeddings")).toBeUndefined()
  })

  describe.each(Formats.all)("$name", (format) => {
    it.scopedLive("reply: the layer calls the route and reads reasoning, text, a tool call and the usage", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(format.reply({
          reasoning: "Thinking.",
          text: "Hello there",
          toolCalls: [{ id: "call_1", name: "clock", arguments: { tz: "Asia/Tokyo" } }],
          usage: { input: 3, output: 2 }
        }))
        const message = yield* LanguageModel.generate(request).pipe(Effect.provide(model(format, server)))
        expect(server.requests[0]!.path).toBe(format.route(format.model))
        expect(message.provider).toBe(format.provider)
        expect(Message.reasoning(message)).toBe("Thinking.")
        expect(Message.text(message)).toBe("Hello there")
        expect(Message.toolCalls(message).map((call) => [call.name, JSON.parse(call.arguments)])).toEqual([["clock", { tz: "Asia/Tokyo" }]])
        expect(message.usage).toMatchObject({ inputTokens: 3, outputTokens: 2 })
      }))

    it.scopedLive("start, reasoning, text, toolCall and finish compose into the same message", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(Script.make([
          ...format.start(),
          ...format.reasoning("Thinking.", { index: 0, signature: "sig_1" }),
          ...format.text("Hello there", { index: 1, chunkSize: 3 }),
          ...format.toolCall({ id: "call_1", name: "clock", arguments: { tz: "UTC" } }, { index: 2 }),
          ...format.finish(format.id === "chat" ? { reason: "tool_calls", usage: { input: 3, output: 2 } } : { usage: { input: 3, output: 2 } })
        ]))
        const message = yield* LanguageModel.generate(request).pipe(Effect.provide(model(format, server)))
        expect(message.content.map((part) => part._tag)).toEqual(["Reasoning", "Text", "ToolCall"])
        expect(Message.text(message)).toBe("Hello there")
        expect(message.usage).toMatchObject({ inputTokens: 3, outputTokens: 2 })
        expect(server.requests[0]!.finishedAt).toBeDefined()
      }))

    it.scopedLive("errorBody and errorEvent are the provider's errors", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(
          format.errorBody(429, "Slow down", { headers: { "retry-after": "3" } }),
          Script.make([...format.start(), ...format.text("Partial"), format.errorEvent(500, "Internal failure")])
        )
        yield* Effect.gen(function*() {
          const limited = yield* Effect.flip(LanguageModel.generate(request))
          expect(limited).toMatchObject({ _tag: "RateLimited", status: 429, provider: format.provider, providerMessage: "Slow down" })
          const failed = yield* Effect.flip(LanguageModel.generate(request))
          expect(failed).toMatchObject({ _tag: "ProviderStreamError", provider: format.provider, message: "Internal failure" })
        }).pipe(Effect.provide(model(format, server)))
      }))
  })
})
