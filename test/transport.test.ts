import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import * as BodyReader from "@reins/core/internal/BodyReader"
import { OpenAiChat } from "@reins/openai"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { forkStream, interruptStream, noRetry } from "./support.js"

const transports = [
  { name: "undici", layer: NodeHttpClient.layerUndici, nodeBody: true },
  { name: "node:http", layer: NodeHttpClient.layer, nodeBody: true },
  { name: "fetch", layer: FetchHttpClient.layer, nodeBody: false }
] as const

describe.each(transports)("over the $name transport", ({ layer, nodeBody }) => {
  it.scopedLive(nodeBody ? "reads the Node body directly, so an interrupt destroys it first" : "falls back to the portable body stream", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(ChatCompletions.reply({ text: "hi" }))
      const client = yield* HttpClient.HttpClient
      const readable = yield* HttpClient.withScope(client).execute(HttpClientRequest.post(`${server.url}/v1/chat/completions`)).pipe(
        Effect.map(BodyReader.nodeReadable),
        Effect.scoped
      )
      expect(readable !== undefined).toBe(nodeBody)
    }).pipe(Effect.provide(layer)))

  it.scopedLive("streams, and closes the connection on interrupt", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        { steps: [ChatCompletions.start(), ...ChatCompletions.text("Thinking"), Script.stall()] },
        ChatCompletions.reply({ text: "Hello there" })
      )
      yield* Effect.gen(function*() {
        const limit = Error.stackTraceLimit
        const fiber = yield* forkStream({ messages: [Message.user("x")] })
        yield* interruptStream(server, fiber, server.requests[0])
        // the stop silences the transport's stack traces only while it destroys the body
        expect(Error.stackTraceLimit).toBe(limit)
        expect(new Error("after").stack).toContain("after\n    at ")
        const message = yield* LanguageModel.generate({ messages: [Message.user("x")] })
        expect(Message.text(message)).toBe("Hello there")
      }).pipe(Effect.provide(OpenAiChat.layer({ model: "m", apiKey: "sk-test-key", baseUrl: `${server.url}/v1` }).pipe(Layer.provide(layer))))
    }))

  it.scopedLive("delivers what arrived before an error in the same read, then the error", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue({
        steps: [ChatCompletions.start(), ...ChatCompletions.text("Partial"), Script.event({ error: { message: "boom", type: "server_error" } })]
      })
      const seen: Array<string> = []
      const error = yield* LanguageModel.stream({ messages: [Message.user("x")] }).pipe(
        Stream.runForEach((chunk) => Effect.sync(() => chunk._tag === "TextDelta" && seen.push(chunk.text))),
        Effect.flip,
        Effect.provide(OpenAiChat.layer({ model: "m", apiKey: "sk-test-key", baseUrl: `${server.url}/v1` }).pipe(Layer.provide(layer)))
      )
      expect(error._tag).toBe("ProviderStreamError")
      expect(seen.join("")).toBe("Partial")
      expect(server.requests.length).toBe(1)
    }))

  it.scopedLive("decodes compressed bodies, streamed and error bodies alike, and ends a lingering one at [DONE]", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const model = OpenAiChat.layer({ model: "m", apiKey: "sk-test-key", baseUrl: `${server.url}/v1`, retry: noRetry, timeouts: { idle: "2 seconds" } })
        .pipe(Layer.provide(layer))
      yield* Effect.gen(function*() {
        for (const encoding of Script.encodings) {
          server.enqueue({ ...ChatCompletions.reply({ text: `Grüße, ${encoding}`, deltaDelay: 1 }), encoding, linger: true })
          const message = yield* LanguageModel.generate({ messages: [Message.user("x")] })
          expect(Message.text(message)).toBe(`Grüße, ${encoding}`)
          server.enqueue({ ...ChatCompletions.errorBody(503, `Overloaded, ${encoding}`), encoding })
          const error = yield* Effect.flip(LanguageModel.generate({ messages: [Message.user("x")] }))
          expect(error).toMatchObject({ _tag: "StatusError", status: 503, providerMessage: `Overloaded, ${encoding}` })
        }
      }).pipe(Effect.provide(model))
    }))
})
