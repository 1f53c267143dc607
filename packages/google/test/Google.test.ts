import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import { Gemini, ProviderServer, Script } from "@reins/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Tracer from "effect/Tracer"
import * as Google from "../src/Google.js"

const API_KEY = "gk-test-key-do-not-log"

const withEnv = (env: Record<string, string>) => Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("Google layer", () => {
  it.scoped("layerConfig reads GEMINI_API_KEY and GEMINI_BASE_URL; the key goes only in x-goog-api-key", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Gemini.reply({ text: "Hi!" }))
      const model = Google.layerConfig({ model: "gemini-2.5-flash" }).pipe(
        Layer.provide(NodeHttpClient.layerUndici),
        Layer.provide(withEnv({ GEMINI_API_KEY: API_KEY, GOOGLE_API_KEY: "other", GEMINI_BASE_URL: `${server.url}/` }))
      )
      const message = yield* LanguageModel.generate({ messages: [Message.user("Hello")] }).pipe(Effect.provide(model))
      expect(Message.text(message)).toBe("Hi!")
      const request = server.requests[0]!
      expect(request.path).toBe("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
      expect(request.headers["x-goog-api-key"]).toBe(API_KEY)
      expect(request.headers["authorization"]).toBeUndefined()
      expect(request.headers["content-type"]).toBe("application/json")
      expect(request.headers["accept"]).toBe("text/event-stream")
      expect(request.path).not.toContain(API_KEY)
      expect(request.json).toEqual({ contents: [{ role: "user", parts: [{ text: "Hello" }] }] })
    }))

  it.scoped("layerConfig falls back to GOOGLE_API_KEY, and a request may name another model", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Gemini.reply({ text: "Hi!" }))
      const model = Google.layerConfig({ model: "gemini-2.5-flash", baseUrl: server.url }).pipe(
        Layer.provide(NodeHttpClient.layerUndici),
        Layer.provide(withEnv({ GOOGLE_API_KEY: "fallback-key" }))
      )
      yield* LanguageModel.generate({ messages: [Message.user("Hello")], model: "gemini-3-flash-preview" }).pipe(Effect.provide(model))
      expect(server.requests[0]!.headers["x-goog-api-key"]).toBe("fallback-key")
      expect(server.requests[0]!.path).toBe("/v1beta/models/gemini-3-flash-preview:streamGenerateContent?alt=sse")
    }))

  it.scoped("the key is redacted in the HTTP client's span", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Gemini.reply({ text: "Hi!" }))
      const spans: Array<Tracer.Span> = []
      const base = yield* Effect.tracer
      const tracer = Tracer.make({
        span: (...args) => {
          const span = base.span(...args)
          spans.push(span)
          return span
        },
        context: base.context
      })
      const model = Google.layer({ model: "gemini-2.5-flash", apiKey: API_KEY, baseUrl: server.url }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      yield* LanguageModel.generate({ messages: [Message.user("Hello")] }).pipe(Effect.provide(model), Effect.withTracer(tracer))
      const attributes = spans.flatMap((span) => [...span.attributes.entries()])
      const header = attributes.find(([name]) => name === "http.request.header.x-goog-api-key")
      expect(header).toBeDefined()
      expect(String(header![1])).not.toContain(API_KEY)
      for (const [, value] of attributes) expect(String(value)).not.toContain(API_KEY)
      expect(server.requests[0]!.headers["x-goog-api-key"]).toBe(API_KEY)
    }))

  it.scoped("reads CRLF-framed events, as Google's servers send them, split across writes", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const events = [
        Gemini.response([{ text: "Hé" }]),
        Gemini.response([{ text: "llo" }], { finishReason: "STOP", usage: { promptTokenCount: 2, candidatesTokenCount: 2 } })
      ]
      const bytes = Buffer.from(events.map((event) => `data: ${JSON.stringify(event)}\r\n\r\n`).join(""))
      // split inside the two-byte "é" and inside a CRLF pair
      const cut1 = bytes.indexOf(Buffer.from("é")) + 1
      const cut2 = bytes.indexOf("\r\n") + 1
      server.enqueue(Script.make([
        Script.raw(bytes.subarray(0, cut1)),
        Script.delay(5),
        Script.raw(bytes.subarray(cut1, cut2)),
        Script.delay(5),
        Script.raw(bytes.subarray(cut2))
      ]))
      const model = Google.layer({ model: "gemini-2.5-flash", apiKey: API_KEY, baseUrl: server.url }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const message = yield* LanguageModel.generate({ messages: [Message.user("Hello")] }).pipe(Effect.provide(model))
      expect(Message.text(message)).toBe("Héllo")
      expect(message.stopReason).toBe("stop")
    }))

  it.scoped("decodes the testing helper's streamed arguments and signatures, and replays them", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        Gemini.reply({
          thought: "Look it up.",
          thoughtSignature: "sig_thought",
          functionCalls: [
            { name: "lookup", args: { query: "the \"best\" café", filters: { year: 2024, open: true, tags: ["a", "b"] } }, thoughtSignature: "sig_call" },
            { id: "fc_2", name: "lookup", args: { query: "second" } }
          ],
          streamArguments: true,
          chunkSize: 3,
          usage: { promptTokenCount: 20, candidatesTokenCount: 10, thoughtsTokenCount: 5, cachedContentTokenCount: 8 }
        }),
        Gemini.reply({ text: "Found it.", textSignature: "sig_text" })
      )
      const model = Google.layer({ model: "gemini-3-flash-preview", apiKey: Redacted.make(API_KEY), baseUrl: server.url }).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      )
      yield* Effect.gen(function*() {
        const first = yield* LanguageModel.generate({ messages: [Message.user("Find")] })
        expect(first.content).toEqual([
          { _tag: "Reasoning", text: "Look it up.", signature: "sig_thought" },
          {
            _tag: "ToolCall",
            id: expect.stringMatching(/^call_[0-9A-Za-z]{24}$/),
            name: "lookup",
            arguments: JSON.stringify({ query: "the \"best\" café", filters: { year: 2024, open: true, tags: ["a", "b"] } }),
            metadata: { thoughtSignature: "sig_call" }
          },
          { _tag: "ToolCall", id: "fc_2", name: "lookup", arguments: "{\"query\":\"second\"}", metadata: { functionCallId: "fc_2" } }
        ])
        expect(first.stopReason).toBe("tool-calls")
        expect(first.usage).toEqual({ inputTokens: 20, outputTokens: 15, cacheReadTokens: 8, cacheWriteTokens: 0, reasoningTokens: 5 })
        const second = yield* LanguageModel.generate({
          messages: [
            Message.user("Find"),
            first,
            Message.toolResult({ toolCallId: Message.toolCalls(first)[0].id, toolName: "lookup", content: "one" }),
            Message.toolResult({ toolCallId: "fc_2", toolName: "lookup", content: "two" })
          ]
        })
        expect(second.content).toEqual([{ _tag: "Text", text: "Found it.", metadata: { thoughtSignature: "sig_text" } }])
        expect((server.requests[1]!.json as any).contents.slice(1)).toEqual([
          {
            role: "model",
            parts: [
              { text: "Look it up.", thought: true, thoughtSignature: "sig_thought" },
              {
                functionCall: { name: "lookup", args: { query: "the \"best\" café", filters: { year: 2024, open: true, tags: ["a", "b"] } } },
                thoughtSignature: "sig_call"
              },
              { functionCall: { name: "lookup", args: { query: "second" }, id: "fc_2" } }
            ]
          },
          {
            role: "user",
            parts: [
              { functionResponse: { name: "lookup", response: { result: "one" } } },
              { functionResponse: { name: "lookup", id: "fc_2", response: { result: "two" } } }
            ]
          }
        ])
      }).pipe(Effect.provide(model))
    }))
})
