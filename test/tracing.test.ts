import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message, Retry, Tool, Toolkit, Turn } from "@reins/core"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { chatModel, connectionClosed, forkStream, type RecordedSpan, recordingTracer, transports } from "./support.js"

const request = { messages: [Message.user("Hi")] }
const calls = (spans: ReadonlyArray<RecordedSpan>) => spans.filter((span) => span.name === "LanguageModel.stream")
const http = (spans: ReadonlyArray<RecordedSpan>) => spans.filter((span) => span.attributes.has("http.request.method"))

describe("a provider call's span", () => {
  it.scopedLive("is one span per call, named for the provider and model, the parent of every attempt's HTTP span", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        ChatCompletions.errorBody(503, "busy", { headers: { "retry-after-ms": "10" } }),
        ChatCompletions.reply({ text: "Hello" })
      )
      const spans: Array<RecordedSpan> = []
      const message = yield* LanguageModel.generate({ ...request, model: "asked-model", retry: { ...Retry.defaultPolicy, baseDelay: "1 millis" } }).pipe(
        Effect.provide(chatModel(server)),
        Effect.withTracer(recordingTracer(spans))
      )
      expect(Message.text(message)).toBe("Hello")
      const [call, ...others] = calls(spans)
      expect(others).toEqual([])
      expect(call.parent).toBe("LanguageModel.generate")
      expect(Object.fromEntries(call.attributes)).toMatchObject({ provider: "openai", model: "asked-model", "reins.body_path": "node" })
      expect(call.exit !== undefined && Exit.isSuccess(call.exit)).toBe(true)
      expect(http(spans).map((span) => span.parent)).toEqual(["LanguageModel.stream", "LanguageModel.stream"])
    }))

  it.scopedLive("records the body path that ran: node on @effect/platform-node's clients, portable on fetch", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const clients = [...transports.map((t) => ({ ...t, path: "node" })), { name: "fetch", layer: FetchHttpClient.layer, path: "portable" }]
      for (const client of clients) {
        server.enqueue(ChatCompletions.reply({ text: "Hello" }))
        const spans: Array<RecordedSpan> = []
        yield* LanguageModel.generate(request).pipe(
          Effect.provide(chatModel(server, {}, client.layer)),
          Effect.withTracer(recordingTracer(spans))
        )
        const [call] = calls(spans)
        expect([client.name, call.attributes.get("reins.body_path")]).toEqual([client.name, client.path])
      }
    }))

  it.scopedLive("ends with the failure of a failed call, and as interrupted when the call is stopped", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(ChatCompletions.errorBody(401, "bad key"), Script.make([Script.stall()]))
      const spans: Array<RecordedSpan> = []
      const error = yield* LanguageModel.generate(request).pipe(Effect.flip, Effect.provide(chatModel(server)), Effect.withTracer(recordingTracer(spans)))
      expect(error._tag).toBe("AuthenticationError")
      const fiber = yield* forkStream(request, { awaitFirst: false }).pipe(Effect.provide(chatModel(server)), Effect.withTracer(recordingTracer(spans)))
      yield* Effect.promise(() => server.nextRequest())
      yield* Fiber.interrupt(fiber)
      yield* connectionClosed(server, 1)
      const [failed, stopped] = calls(spans).map((span) => span.exit)
      expect(failed !== undefined && Exit.isFailure(failed) && !Exit.isInterrupted(failed)).toBe(true)
      expect(stopped !== undefined && Exit.isInterrupted(stopped)).toBe(true)
    }))

  it.scopedLive("is made for each model call of a turn, under the turn's span", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        ChatCompletions.reply({ toolCalls: [{ id: "call_1", name: "echo", arguments: JSON.stringify({ text: "a" }) }] }),
        ChatCompletions.reply({ text: "Done" })
      )
      const echo = Tool.make("echo", {
        description: "Echoes its text",
        parameters: Schema.Struct({ text: Schema.String }),
        success: Schema.String,
        handler: ({ text }) => Effect.succeed(text)
      })
      const spans: Array<RecordedSpan> = []
      const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
      yield* Turn.run({ conversation, input: "Echo a", toolkit: Toolkit.make(echo) }).pipe(
        Effect.provide(chatModel(server)),
        Effect.withTracer(recordingTracer(spans))
      )
      expect(calls(spans).map((span) => span.parent)).toEqual(["Turn.run", "Turn.run"])
      expect(http(spans).map((span) => span.parent)).toEqual(["LanguageModel.stream", "LanguageModel.stream"])
    }))
})
