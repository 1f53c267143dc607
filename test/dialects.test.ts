/**
 * The tool-call dialects of OpenAI-compatible servers (packages/openai/test/dialects.ts) over real
 * HTTP: each row's stream is served by a ProviderServer on 127.0.0.1 and consumed by `OpenAiChat`
 * on undici, once with `LanguageModel.generate` and once as a step of `Turn.run` that runs the
 * tools. Every call must come out with its name, id and arguments, and the request that follows
 * must carry each call and its result exactly once, so that the conversation stays valid.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message, Tool, Toolkit, Turn } from "@reins/core"
import { OpenAiChat } from "@reins/openai"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { dialects, type ExpectedCall } from "../packages/openai/test/dialects.js"

const weather = Tool.make("weather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.String,
  handler: ({ city }) => Effect.succeed(`Sunny in ${city}`)
})

const add = Tool.make("add", {
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number,
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const toolkit = Toolkit.make(weather, add)

const GENERATED = /^call_[0-9A-Za-z]{24}$/

/** The result each row's call gets from the toolkit. */
const resultOf = (call: ExpectedCall): string | RegExp => {
  const args = JSON.parse(call.arguments)
  switch (call.name) {
    case "weather":
      return `Sunny in ${args.city}`
    case "add":
      return String(args.a + args.b)
    default:
      return /^Unknown tool ""/
  }
}

/** The calls of `message` match the row's: names, arguments, and ids (sent ones kept, missing ones generated). */
const expectCalls = (message: Message.Assistant, expected: ReadonlyArray<ExpectedCall>) => {
  const calls = Message.toolCalls(message)
  expect(calls.map(({ arguments: args, name }) => ({ name, arguments: args })))
    .toEqual(expected.map(({ arguments: args, name }) => ({ name, arguments: args })))
  calls.forEach((call, i) => {
    const id = expected[i].id
    if (id === undefined) expect(call.id).toMatch(GENERATED)
    else expect(call.id).toBe(id)
  })
  expect(new Set(calls.map((call) => call.id)).size).toBe(calls.length)
  return calls
}

const serve = (events: ReadonlyArray<object | string>) => Script.make(events.map((event) => Script.event(event)))

describe("OpenAI-compatible tool-call dialects over HTTP", () => {
  for (const row of dialects) {
    it.scopedLive(`${row.name} (${row.servers})`, () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        const model = OpenAiChat.layer({ model: "test-model", apiKey: Redacted.make("sk-test-key"), baseUrl: `${server.url}/v1` }).pipe(
          Layer.provide(NodeHttpClient.layerUndici)
        )
        server.enqueue(serve(row.events), serve(row.events), ChatCompletions.reply({ text: "Done." }))

        const generated = yield* LanguageModel.generate({ messages: [Message.user("go")], tools: toolkit.definitions }).pipe(
          Effect.provide(model)
        )
        const first = expectCalls(generated, row.calls)
        expect(generated.stopReason).toBe("tool-calls")

        const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
        const result = yield* Turn.run({ conversation, input: "go", toolkit }).pipe(Effect.provide(model))
        expect(result.steps).toBe(2)
        expect(result.stopReason).toBe("stop")
        const step = result.messages.find((message): message is Message.Assistant => message._tag === "Assistant")!
        const calls = expectCalls(step, row.calls)
        // An id the server did not send is new in every response, never the previous one's again.
        calls.forEach((call, i) => {
          if (row.calls[i].id === undefined) expect(call.id).not.toBe(first[i].id)
        })

        // The next request carries each call once, and each call's result once, right after it.
        expect(server.requests).toHaveLength(3)
        const next = (server.requests[2].json as any).messages as ReadonlyArray<any>
        expect(next.map((message) => message.role)).toEqual(["user", "assistant", ...calls.map(() => "tool")])
        expect(next[1].tool_calls).toEqual(
          calls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }))
        )
        const results = next.slice(2)
        expect(results.map((message) => message.tool_call_id)).toEqual(calls.map((call) => call.id))
        results.forEach((message, i) => {
          const expected = resultOf(row.calls[i])
          if (typeof expected === "string") expect(message.content).toBe(expected)
          else expect(message.content).toMatch(expected)
        })
      }))
  }
})
