import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Anthropic } from "@reins/anthropic"
import { Approval, type LanguageModel, LanguageModel as LanguageModelService, Message, Part, type StreamPart, Tool, Toolkit, Turn } from "@reins/core"
import { Kimi } from "@reins/kimi"
import { ChatCompletions, Messages, ProviderServer, Script } from "@reins/testing"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { chatModel, connectionClosed } from "./support.js"

const newConversation = SubscriptionRef.make<ReadonlyArray<Message.Message>>([])

const clock = Tool.make("clock", {
  description: "The time in a time zone",
  parameters: Schema.Struct({ tz: Schema.String }),
  success: Schema.String,
  handler: ({ tz }) => Effect.succeed(`12:00 in ${tz}`)
})

const add = Tool.make("add", {
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number,
  failure: Schema.Struct({ reason: Schema.String }),
  handler: ({ a, b }) => a + b > 100 ? Effect.fail({ reason: "too big" }) : Effect.succeed(a + b)
})

const slow = Tool.make("slow", {
  parameters: Schema.Struct({}),
  success: Schema.String,
  timeout: "50 millis",
  handler: () => Effect.as(Effect.sleep("10 seconds"), "never")
})

const call = (id: string, name: string, args: unknown) => ({ id, name, arguments: typeof args === "string" ? args : JSON.stringify(args) })

/** Every tool call in the conversation has exactly one result after it, and no result is orphaned. */
const expectPaired = (history: ReadonlyArray<Message.Message>) => {
  const open = new Set<string>()
  for (const message of history) {
    if (message._tag === "Assistant") {
      expect(open.size).toBe(0)
      for (const toolCall of Message.toolCalls(message)) open.add(toolCall.id)
    } else if (message._tag === "ToolResult") {
      expect(open.delete(message.toolCallId)).toBe(true)
    } else {
      expect(open.size).toBe(0)
    }
  }
  expect(open.size).toBe(0)
}

/** The Chat Completions request body is valid: every tool_call answered by a tool message, no empty assistant. */
const expectValidChatRequest = (body: any) => {
  const pending = new Set<string>()
  for (const message of body.messages) {
    if (message.role === "assistant") {
      expect(pending.size).toBe(0)
      expect(message.content !== "" || (message.tool_calls?.length ?? 0) > 0 || message.reasoning_content).toBeTruthy()
      for (const toolCall of message.tool_calls ?? []) pending.add(toolCall.id)
    } else if (message.role === "tool") {
      expect(pending.delete(message.tool_call_id)).toBe(true)
    } else {
      expect(pending.size).toBe(0)
    }
  }
  expect(pending.size).toBe(0)
}

const withServer = <A, E>(
  f: (server: ProviderServer.ProviderServer) => Effect.Effect<A, E, LanguageModel.LanguageModel>
) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    return yield* f(server).pipe(Effect.provide(chatModel(server)))
  })

describe("Turn.run", () => {
  it.scopedLive("runs the tools a step asks for, concurrently, and continues until the model answers", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(
          ChatCompletions.reply({
            reasoning: "Two lookups.",
            toolCalls: [call("c1", "clock", { tz: "Europe/Paris" }), call("c2", "add", { a: 2, b: 3 })],
            usage: { prompt_tokens: 10, completion_tokens: 5 }
          }),
          ChatCompletions.reply({ text: "It is noon; 2 + 3 = 5.", usage: { prompt_tokens: 30, completion_tokens: 8 } })
        )
        const conversation = yield* newConversation
        const result = yield* Turn.run({ conversation, input: "Time in Paris, and 2+3?", toolkit: Toolkit.make(clock, add) })
        expect(result.steps).toBe(2)
        expect(result.stopReason).toBe("stop")
        expect(result.usage.inputTokens).toBe(40)
        expect(result.usage.outputTokens).toBe(13)
        const history = yield* SubscriptionRef.get(conversation)
        expect(history.map((m) => m._tag)).toEqual(["User", "Assistant", "ToolResult", "ToolResult", "Assistant"])
        expect(history[2]).toEqual(Message.toolResult({ toolCallId: "c1", toolName: "clock", content: "12:00 in Europe/Paris" }))
        expect(history[3]).toEqual(Message.toolResult({ toolCallId: "c2", toolName: "add", content: "5" }))
        expect(result.messages).toEqual(history)
        // the second request carried the tools' results, and the tool definitions from the Schemas
        const second = server.requests[1].json as any
        expectValidChatRequest(second)
        expect(second.tools[0].function).toMatchObject({
          name: "clock",
          parameters: { type: "object", properties: { tz: { type: "string" } }, required: ["tz"] }
        })
      })))

  it.scopedLive("sends every kind of tool failure back to the model as an error result", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(
          ChatCompletions.reply({
            toolCalls: [
              call("u", "nope", {}),
              call("j", "add", "{\"a\": 1,"),
              call("s", "add", { a: "one", b: 2 }),
              call("f", "add", { a: 100, b: 1 }),
              call("t", "slow", {})
            ]
          }),
          ChatCompletions.reply({ text: "Sorry." })
        )
        const conversation = yield* newConversation
        yield* Turn.run({ conversation, input: "go", toolkit: Toolkit.make(add, slow) })
        const results = (yield* SubscriptionRef.get(conversation)).filter((m): m is Message.ToolResult => m._tag === "ToolResult")
        expect(results.every((r) => r.isError)).toBe(true)
        const byId = Object.fromEntries(results.map((r) => [r.toolCallId, r.content]))
        expect(byId.u).toMatch(/Unknown tool "nope"/)
        expect(byId.j).toMatch(/not valid JSON/)
        expect(byId.s).toMatch(/do not match[\s\S]*a[\s\S]*Expected number/)
        expect(JSON.parse(String(byId.f))).toEqual({ reason: "too big" })
        expect(byId.t).toMatch(/did not finish within 50ms/)
      })))

  it.scopedLive("stops at maxSteps with every call answered", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(ChatCompletions.reply({ toolCalls: [call("a", "clock", { tz: "UTC" })] }))
        const conversation = yield* newConversation
        const result = yield* Turn.run({ conversation, input: "loop", toolkit: Toolkit.make(clock), maxSteps: 1 })
        expect(result.stopReason).toBe("tool-calls")
        expectPaired(yield* SubscriptionRef.get(conversation))
      })))
})

describe("interrupting a turn", () => {
  const thinkingSilently = (): Script.Script => ({
    steps: [
      ChatCompletions.start(),
      ...ChatCompletions.reasoning("Considering the question."),
      ...ChatCompletions.text("The answer is"),
      Script.stall(60_000)
    ]
  })

  it.scopedLive("while the model is silent keeps the partial answer and closes the connection", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(thinkingSilently())
        const conversation = yield* newConversation
        const streamed = yield* Deferred.make<void>()
        const fiber = yield* Turn.stream({ conversation, input: "Why?" }).pipe(
          Stream.tap((event) => event._tag === "StreamPart" && event.part._tag === "TextDelta" ? Deferred.succeed(streamed, undefined) : Effect.void),
          Stream.runDrain,
          Effect.fork
        )
        yield* Deferred.await(streamed)
        yield* Effect.sleep("20 millis")
        const exit = yield* Fiber.interrupt(fiber)
        expect(Exit.isInterrupted(exit)).toBe(true)
        yield* connectionClosed(server, server.requests[0].id)
        const history = yield* SubscriptionRef.get(conversation)
        expect(history.map((m) => m._tag)).toEqual(["User", "Assistant"])
        const partial = history[1] as Message.Assistant
        expect(partial.stopReason).toBe("interrupted")
        expect(Message.reasoning(partial)).toBe("Considering the question.")
        expect(Message.text(partial)).toBe("The answer is")
        expect(partial.usage.estimated).toBe(true)
        expect(partial.usage.outputTokens).toBeGreaterThan(0)

        // the next turn continues the conversation with a valid request
        server.enqueue(ChatCompletions.reply({ text: "Because." }))
        yield* Turn.run({ conversation, input: "Go on" })
        expectValidChatRequest(server.requests[1].json)
        expect((server.requests[1].json as any).messages.map((m: any) => m.role)).toEqual(["user", "assistant", "user"])
      })))

  it.scopedLive("while tools run interrupts them, runs their finalizers once, and answers every call", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const released = yield* Ref.make(0)
        const started = yield* Deferred.make<void>()
        const hold = Tool.make("hold", {
          parameters: Schema.Struct({}),
          success: Schema.String,
          handler: () =>
            Effect.acquireRelease(Deferred.succeed(started, undefined), () => Ref.update(released, (n) => n + 1)).pipe(
              Effect.zipRight(Effect.never),
              Effect.scoped
            )
        })
        server.enqueue(ChatCompletions.reply({
          toolCalls: [call("h1", "hold", {}), call("q", "clock", { tz: "UTC" }), call("h2", "hold", {})]
        }))
        const conversation = yield* newConversation
        const fiber = yield* Effect.fork(Turn.run({ conversation, input: "go", toolkit: Toolkit.make(clock, hold) }))
        yield* Deferred.await(started)
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(fiber)
        expect(yield* Ref.get(released)).toBe(2)
        const history = yield* SubscriptionRef.get(conversation)
        expectPaired(history)
        const results = history.filter((m): m is Message.ToolResult => m._tag === "ToolResult")
        expect(results.map((r) => [r.toolCallId, r.isError])).toEqual([["h1", true], ["q", false], ["h2", true]])
        expect(results[0].content).toMatch(/interrupted/)

        server.enqueue(ChatCompletions.reply({ text: "ok" }))
        yield* Turn.run({ conversation, input: "again", toolkit: Toolkit.make(clock, hold) })
        expectValidChatRequest(server.requests[1].json)
      })))

  it.scopedLive("after a tool's uninterruptible work has begun records the result that work produced", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const charged = yield* Ref.make(0)
        const started = yield* Deferred.make<void>()
        // The side effect and its receipt happen together: a stop waits for them, and the history
        // must say the card was charged, or the model would charge it again.
        const charge = Tool.make("charge", {
          parameters: Schema.Struct({}),
          success: Schema.String,
          handler: () =>
            Effect.uninterruptible(
              Deferred.succeed(started, undefined).pipe(
                Effect.zipRight(Effect.sleep("100 millis")),
                Effect.zipRight(Ref.updateAndGet(charged, (n) => n + 1)),
                Effect.map((n) => `receipt ${n}`)
              )
            )
        })
        server.enqueue(ChatCompletions.reply({ toolCalls: [call("pay", "charge", {}), call("h", "hold", {})] }))
        const hold = Tool.make("hold", { parameters: Schema.Struct({}), success: Schema.String, handler: () => Effect.never })
        const conversation = yield* newConversation
        const fiber = yield* Effect.fork(Turn.run({ conversation, input: "pay", toolkit: Toolkit.make(charge, hold) }))
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        expect(yield* Ref.get(charged)).toBe(1)
        const history = yield* SubscriptionRef.get(conversation)
        expectPaired(history)
        const results = history.filter((m): m is Message.ToolResult => m._tag === "ToolResult")
        expect(results.map((r) => [r.toolCallId, r.isError])).toEqual([["pay", false], ["h", true]])
        expect(results[0].content).toBe("receipt 1")
      })))

  it.scopedLive("between steps, while the next request awaits its headers", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(
          ChatCompletions.reply({ toolCalls: [call("c", "clock", { tz: "UTC" })] }),
          { ...ChatCompletions.reply({ text: "late" }), headersDelay: 60_000 }
        )
        const conversation = yield* newConversation
        const fiber = yield* Effect.fork(Turn.run({ conversation, input: "go", toolkit: Toolkit.make(clock) }))
        yield* Effect.promise(() => server.nextRequest())
        const second = yield* Effect.promise(() => server.nextRequest())
        yield* Fiber.interrupt(fiber)
        yield* connectionClosed(server, second.id)
        const history = yield* SubscriptionRef.get(conversation)
        expect(history.map((m) => m._tag)).toEqual(["User", "Assistant", "ToolResult", "Assistant"])
        expect((history[3] as Message.Assistant).stopReason).toBe("interrupted")
        expectPaired(history)
      })))

  it.scopedLive("during a retry backoff", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(ChatCompletions.errorBody(429, "Slow down", { headers: { "retry-after-ms": "60000" } }))
        const conversation = yield* newConversation
        const fiber = yield* Effect.fork(Turn.run({ conversation, input: "hello" }))
        yield* Effect.promise(() => server.nextRequest())
        yield* Effect.sleep("30 millis")
        const exit = yield* Fiber.interrupt(fiber)
        expect(Exit.isInterrupted(exit)).toBe(true)
        expect(server.requests.length).toBe(1)
        const history = yield* SubscriptionRef.get(conversation)
        expect(history.map((m) => m._tag)).toEqual(["User", "Assistant"])
        expect(history[1]).toMatchObject({ stopReason: "interrupted", content: [] })
        // an empty stopped answer is left out of the next request
        server.enqueue(ChatCompletions.reply({ text: "Hi" }))
        yield* Turn.run({ conversation, input: "again" })
        expect((server.requests[1].json as any).messages.map((m: any) => m.role)).toEqual(["user", "user"])
      })))

  it.scopedLive("with Effect.timeout, Effect.race, an AbortSignal and a Deferred", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const conversation = yield* newConversation
        const turn = (input: string) => Turn.run({ conversation, input })

        server.enqueue(thinkingSilently())
        const timedOut = yield* turn("a").pipe(Effect.timeout("100 millis"), Effect.either)
        expect(timedOut._tag).toBe("Left")

        server.enqueue(thinkingSilently(), ChatCompletions.reply({ text: "fast" }))
        const raced = yield* Effect.race(turn("b"), Effect.zipRight(Effect.sleep("30 millis"), turn("c")))
        expect(raced.stopReason).toBe("stop")

        server.enqueue(thinkingSilently())
        const controller = new AbortController()
        setTimeout(() => controller.abort(), 50)
        const aborted = yield* Effect.exit(Turn.abortable(turn("d"), controller.signal))
        expect(Exit.isInterrupted(aborted)).toBe(true)

        server.enqueue(thinkingSilently())
        const stop = yield* Deferred.make<void>()
        yield* Effect.fork(Effect.delay(Deferred.succeed(stop, undefined), "50 millis"))
        const stopped = yield* Effect.exit(Turn.stopWhen(turn("e"), stop))
        expect(Exit.isInterrupted(stopped)).toBe(true)

        for (const request of server.requests) yield* connectionClosed(server, request.id)
        const history = yield* SubscriptionRef.get(conversation)
        const stopReasons = history.filter((m): m is Message.Assistant => m._tag === "Assistant").map((m) => m.stopReason)
        expect(stopReasons.filter((r) => r === "interrupted").length).toBe(4)
      })))

  it.scopedLive("stopWhen and abortable in a pipe, on a turn and on its stream", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const conversation = yield* newConversation
        const stopSoon = Effect.gen(function*() {
          const stop = yield* Deferred.make<void>()
          yield* Effect.fork(Effect.delay(Deferred.succeed(stop, undefined), "50 millis"))
          return stop
        })

        server.enqueue(thinkingSilently())
        const piped = yield* Effect.exit(Turn.run({ conversation, input: "a" }).pipe(Turn.stopWhen(yield* stopSoon)))
        expect(Exit.isInterrupted(piped)).toBe(true)

        server.enqueue(thinkingSilently())
        const controller = new AbortController()
        setTimeout(() => controller.abort(), 50)
        const abortedExit = yield* Effect.exit(Turn.run({ conversation, input: "b" }).pipe(Turn.abortable(controller.signal)))
        expect(Exit.isInterrupted(abortedExit)).toBe(true)

        // A stream ends where it is stopped, after the events it had already sent.
        server.enqueue(thinkingSilently())
        const events = yield* Turn.stream({ conversation, input: "c" }).pipe(Turn.stopWhen(yield* stopSoon), Stream.runCollect)
        const tags = Chunk.toReadonlyArray(events).map((event) => event._tag)
        expect(tags).toContain("StepStart")
        expect(tags).toContain("StreamPart")
        expect(tags).not.toContain("TurnEnd")

        const already = new AbortController()
        already.abort()
        server.enqueue(thinkingSilently())
        const none = yield* Turn.stream({ conversation, input: "d" }).pipe(Turn.abortable(already.signal), Stream.runCollect)
        expect(none.length).toBe(0)

        for (const request of server.requests) yield* connectionClosed(server, request.id)
        const history = yield* SubscriptionRef.get(conversation)
        const stopReasons = history.filter((m): m is Message.Assistant => m._tag === "Assistant").map((m) => m.stopReason)
        expect(stopReasons.length).toBeGreaterThanOrEqual(3)
        expect(stopReasons.every((reason) => reason === "interrupted")).toBe(true)
      })))
})

describe("Turn.stream", () => {
  it.scopedLive("emits everything a UI needs to render the turn", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(
          ChatCompletions.reply({ toolCalls: [call("c", "clock", { tz: "UTC" })] }),
          ChatCompletions.reply({ text: "Noon.", usage: { prompt_tokens: 4, completion_tokens: 2 } })
        )
        const conversation = yield* newConversation
        const events = Chunk.toReadonlyArray(yield* Stream.runCollect(Turn.stream({ conversation, input: "time?", toolkit: Toolkit.make(clock) })))
        const tags = events.filter((e) => e._tag !== "StreamPart").map((e) => e._tag)
        // The tool starts at its call's end, which may come before or after the step's end.
        expect(tags.filter((tag) => tag !== "ToolCallStarted" && tag !== "ToolResult")).toEqual(["StepStart", "StepEnd", "StepStart", "StepEnd", "TurnEnd"])
        const at = (f: (e: Turn.TurnEvent) => boolean) => events.findIndex(f)
        const callEnd = at((e) => e._tag === "StreamPart" && e.part._tag === "ToolCallEnd")
        expect(callEnd).toBeGreaterThan(0)
        expect(at((e) => e._tag === "ToolCallStarted")).toBeGreaterThan(callEnd)
        expect(at((e) => e._tag === "ToolResult")).toBeGreaterThan(at((e) => e._tag === "ToolCallStarted"))
        expect(at((e) => e._tag === "ToolResult")).toBeLessThan(events.map((e) => e._tag).lastIndexOf("StepStart"))
        const text = events.flatMap((e) => e._tag === "StreamPart" && e.part._tag === "TextDelta" ? [e.part.text] : []).join("")
        expect(text).toBe("Noon.")
        const end = events.at(-1)!
        expect(end._tag === "TurnEnd" && end.result.usage.outputTokens).toBe(2)
      })))
})

describe("a tool with a timeout", () => {
  it.scopedLive("is stopped at once by the turn's stop, not when its timeout fires", () =>
    withServer((server) =>
      Effect.gen(function*() {
        const started = yield* Deferred.make<void>()
        const released = yield* Deferred.make<void>()
        const patient = Tool.make("patient", {
          parameters: Schema.Struct({}),
          success: Schema.String,
          timeout: "1 hour",
          handler: () =>
            Effect.acquireRelease(Deferred.succeed(started, undefined), () => Deferred.succeed(released, undefined)).pipe(
              Effect.zipRight(Effect.never),
              Effect.scoped
            )
        })
        server.enqueue(ChatCompletions.reply({ toolCalls: [call("w1", "patient", {})] }))
        const conversation = yield* newConversation
        const fiber = yield* Effect.fork(Turn.run({ conversation, input: "wait", toolkit: Toolkit.make(patient) }))
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        expect(yield* Deferred.isDone(released)).toBe(true)
        expectPaired(yield* SubscriptionRef.get(conversation))
      })))
})

describe("tool progress", () => {
  const steps = Tool.make("steps", {
    parameters: Schema.Struct({ n: Schema.Number }),
    success: Schema.String,
    handler: ({ n }) =>
      Effect.gen(function*() {
        for (let i = 1; i <= n; i++) yield* Tool.progress({ progress: i, total: n, message: `step ${i}` })
        return "done"
      })
  })

  it.scopedLive("reaches Turn.stream as ToolProgress events of the call, between its start and its result", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(
          ChatCompletions.reply({ toolCalls: [call("p1", "steps", { n: 3 }), call("p2", "clock", { tz: "UTC" })] }),
          ChatCompletions.reply({ text: "Done." })
        )
        const conversation = yield* newConversation
        const events = Chunk.toReadonlyArray(yield* Stream.runCollect(Turn.stream({ conversation, input: "go", toolkit: Toolkit.make(steps, clock) })))
        const progress = events.filter((e) => e._tag === "ToolProgress")
        expect(progress).toEqual([1, 2, 3].map((i) => ({ _tag: "ToolProgress", step: 1, callId: "p1", progress: i, total: 3, message: `step ${i}` })))
        const started = events.findIndex((e) => e._tag === "ToolCallStarted" && e.call.id === "p1")
        const result = events.findIndex((e) => e._tag === "ToolResult" && e.result.toolCallId === "p1")
        expect(started).toBeGreaterThan(-1)
        expect(events.indexOf(progress[0])).toBeGreaterThan(started)
        expect(events.indexOf(progress[2])).toBeLessThan(result)
      })))

  it.effect("is a no-op outside a turn", () =>
    Effect.gen(function*() {
      const result = yield* steps.run(Part.toolCall("c", "steps", `{"n":2}`))
      expect(result.content).toBe("done")
    }))
})

describe("Tool.fromJsonSchema", () => {
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "object",
    properties: { query: { type: "string", minLength: 1 } },
    required: ["query"],
    additionalProperties: false
  }
  const search = Tool.fromJsonSchema("search", {
    description: "Searches",
    parameters: schema,
    success: Schema.Unknown,
    needsApproval: (args) => (args as { query?: string }).query === "secret",
    handler: (args) => Effect.succeed({ got: args })
  })

  it.scopedLive("tells the model the schema as it is, less $schema, and hands the parsed arguments to the handler", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(ChatCompletions.reply({ toolCalls: [call("s1", "search", { query: "cats", extra: [1] })] }), ChatCompletions.reply({ text: "ok" }))
        const conversation = yield* newConversation
        const result = yield* Turn.run({ conversation, input: "find", toolkit: Toolkit.make(search) })
        const { $schema: _, ...sent } = schema
        expect((server.requests[0].json as any).tools[0].function.parameters).toEqual(sent)
        const toolResult = result.messages.find((m) => m._tag === "ToolResult")!
        expect(toolResult._tag === "ToolResult" && toolResult.content).toEqual([Part.json({ got: { query: "cats", extra: [1] } })])
      })))

  it.effect("gives arguments that are not JSON an error result, and asks approval by the parsed arguments", () =>
    Effect.gen(function*() {
      const bad = yield* search.run(Part.toolCall("s", "search", "{nope"))
      expect(bad.isError).toBe(true)
      expect(search.needsApproval(Part.toolCall("s", "search", `{"query":"secret"}`))).toBe(true)
      expect(search.needsApproval(Part.toolCall("s", "search", `{"query":"cats"}`))).toBe(false)
      expect((yield* search.run(Part.toolCall("s", "search", ""))).content).toEqual([Part.json({ got: {} })])
    }))
})

describe("tool-call ids", () => {
  it.scopedLive("that a server repeats in every step are made unique, in the events, the history and the next request", () =>
    withServer((server) =>
      Effect.gen(function*() {
        server.enqueue(
          ChatCompletions.reply({ toolCalls: [call("call_0", "clock", { tz: "UTC" })] }),
          ChatCompletions.reply({ toolCalls: [call("call_0", "clock", { tz: "Asia/Tokyo" }), call("call_0_2", "clock", { tz: "Europe/Paris" })] }),
          ChatCompletions.reply({ text: "Done." })
        )
        const conversation = yield* newConversation
        const events = Chunk.toReadonlyArray(yield* Stream.runCollect(Turn.stream({ conversation, input: "times?", toolkit: Toolkit.make(clock) })))
        const history = yield* SubscriptionRef.get(conversation)
        expectPaired(history)
        const ids = history.flatMap((m) => m._tag === "Assistant" ? Message.toolCalls(m).map((c) => c.id) : [])
        expect(ids).toHaveLength(3)
        expect(new Set(ids).size).toBe(3)
        expect(ids[0]).toBe("call_0")
        // what a UI saw is what the history holds
        const streamed = events.flatMap((e) => e._tag === "StreamPart" && e.part._tag === "ToolCallStart" ? [e.part.id] : [])
        expect(streamed).toEqual(ids)
        // the deltas and ends of a renamed call go by its new id too
        const ended = events.flatMap((e) => e._tag === "StreamPart" && e.part._tag === "ToolCallEnd" ? [e.part.id] : [])
        expect(ended).toEqual(ids)
        const answered = events.flatMap((e) => e._tag === "ToolResult" ? [e.result.toolCallId] : [])
        expect(answered).toEqual(ids)
        const sent = (server.requests[2].json as any).messages.flatMap((m: any) => m.tool_calls?.map((c: any) => c.id) ?? [])
        expect(sent).toEqual(ids)
      })))
})

describe("tools that start as soon as their call is complete", () => {
  const anthropicModel = (server: ProviderServer.ProviderServer) =>
    Anthropic.layer({ model: "claude-test", apiKey: Redacted.make("sk-ant-test"), baseUrl: server.url }).pipe(
      Layer.orDie,
      Layer.provide(NodeHttpClient.layerUndici)
    )

  /** A response that completes `calls`, then streams `after` in a text block: more text, pauses, a stall. */
  const callsThenText = (calls: ReadonlyArray<Messages.ToolUse>, after: (index: number) => ReadonlyArray<Script.Step>): Script.Script =>
    Script.make([
      Messages.messageStart(),
      ...calls.flatMap((use) => Messages.toolUse(use)),
      Messages.blockStart(calls.length, { type: "text", text: "" }),
      ...after(calls.length),
      Messages.blockStop(calls.length),
      Messages.messageDelta("tool_use"),
      Messages.messageStop
    ])

  /** `pieces` text deltas, each after `ms` milliseconds. */
  const more = (pieces: number, ms: number) => (index: number) =>
    Array.from({ length: pieces }, (_, i) => [Script.delay(ms), Messages.blockDelta(index, { type: "text_delta", text: `more ${i} ` })]).flat()

  const withAnthropic = <A, E>(f: (server: ProviderServer.ProviderServer) => Effect.Effect<A, E, LanguageModel.LanguageModel>) =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      return yield* f(server).pipe(Effect.provide(anthropicModel(server)))
    })

  it.scopedLive("start while the model still streams the rest of the response, and record results in call order", () =>
    withAnthropic((server) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const probe = (name: string, ms: number) =>
          Tool.make(name, {
            parameters: Schema.Struct({}),
            success: Schema.String,
            handler: () => Effect.sync(() => log.push(`${name} started`)).pipe(Effect.zipRight(Effect.sleep(ms)), Effect.as(`${name} done`))
          })
        server.enqueue(
          callsThenText([{ index: 0, id: "t1", name: "first", input: {} }, { index: 1, id: "t2", name: "second", input: {} }], more(5, 60)),
          Messages.reply({ text: "Done." })
        )
        const conversation = yield* newConversation
        const events: Array<Turn.TurnEvent> = []
        yield* Turn.stream({ conversation, input: "go", toolkit: Toolkit.make(probe("first", 80), probe("second", 0)) }).pipe(
          Stream.runForEach((event) =>
            Effect.sync(() => {
              events.push(event)
              if (event._tag === "StreamPart" && event.step === 1 && event.part._tag === "Finish") log.push("response finished")
            })
          )
        )
        // Both tools started before the response finished.
        expect(log).toEqual(["first started", "second started", "response finished"])
        const at = (f: (e: Turn.TurnEvent) => boolean) => events.findIndex(f)
        const finish = at((e) => e._tag === "StreamPart" && e.part._tag === "Finish")
        for (const id of ["t1", "t2"]) {
          const end = at((e) => e._tag === "StreamPart" && e.part._tag === "ToolCallEnd" && e.part.id === id)
          const started = at((e) => e._tag === "ToolCallStarted" && e.call.id === id)
          expect(end).toBeGreaterThan(0)
          expect(end).toBeLessThan(started)
          expect(started).toBeLessThan(finish)
        }
        // the quick one finished first; the history has them in call order, after the step that asked
        expect(events.flatMap((e) => e._tag === "ToolResult" ? [e.result.toolCallId] : [])).toEqual(["t2", "t1"])
        const history = yield* SubscriptionRef.get(conversation)
        expect(history.map((m) => m._tag === "ToolResult" ? m.toolCallId : m._tag)).toEqual(["User", "Assistant", "t1", "t2", "Assistant"])
        expect(Message.text(history[1] as Message.Assistant)).toBe("more 0 more 1 more 2 more 3 more 4 ")
        const sent = (server.requests[1].json as any).messages.at(-1).content.map((block: any) => block.tool_use_id)
        expect(sent).toEqual(["t1", "t2"])
      })))

  it.scopedLive("keep to the concurrency limit", () =>
    withAnthropic((server) =>
      Effect.gen(function*() {
        let running = 0
        let most = 0
        const step = Tool.make("step", {
          parameters: Schema.Struct({}),
          success: Schema.String,
          handler: () =>
            Effect.acquireUseRelease(
              Effect.sync(() => (most = Math.max(most, ++running))),
              () => Effect.as(Effect.sleep("30 millis"), "ok"),
              () => Effect.sync(() => running--)
            )
        })
        const calls = ["a", "b", "c"].map((id, index) => ({ index, id, name: "step", input: {} }))
        server.enqueue(callsThenText(calls, more(3, 20)), Messages.reply({ text: "Done." }))
        const conversation = yield* newConversation
        yield* Turn.run({ conversation, input: "go", toolkit: Toolkit.make(step), concurrency: 1 })
        expect(most).toBe(1)
        const history = yield* SubscriptionRef.get(conversation)
        expect(history.flatMap((m) => m._tag === "ToolResult" ? [[m.toolCallId, m.content]] : [])).toEqual([["a", "ok"], ["b", "ok"], ["c", "ok"]])
      })))

  it.scopedLive("stopped while an early tool runs and the model still streams: tools stopped, finalizers run, every call answered", () =>
    withAnthropic((server) =>
      Effect.gen(function*() {
        const released = yield* Ref.make(0)
        const holding = yield* Deferred.make<void>()
        const paying = yield* Deferred.make<void>()
        const hold = Tool.make("hold", {
          parameters: Schema.Struct({}),
          success: Schema.String,
          handler: () =>
            Effect.acquireRelease(Deferred.succeed(holding, undefined), () => Ref.update(released, (n) => n + 1)).pipe(
              Effect.zipRight(Effect.never),
              Effect.scoped
            )
        })
        // Its work is uninterruptible: it finishes after the stop, and its result is kept.
        const charge = Tool.make("charge", {
          parameters: Schema.Struct({}),
          success: Schema.String,
          handler: () =>
            Effect.uninterruptible(Deferred.succeed(paying, undefined).pipe(Effect.zipRight(Effect.sleep("80 millis")), Effect.as("receipt")))
        })
        server.enqueue(
          callsThenText(
            [{ index: 0, id: "pay", name: "charge", input: {} }, { index: 1, id: "h", name: "hold", input: {} }],
            (index) => [Messages.blockDelta(index, { type: "text_delta", text: "Still talking" }), Script.stall()]
          )
        )
        const conversation = yield* newConversation
        const fiber = yield* Effect.fork(Turn.run({ conversation, input: "go", toolkit: Toolkit.make(charge, hold) }))
        yield* Deferred.await(holding)
        yield* Deferred.await(paying)
        yield* Fiber.interrupt(fiber)
        yield* connectionClosed(server, server.requests[0].id)
        expect(yield* Ref.get(released)).toBe(1)
        const history = yield* SubscriptionRef.get(conversation)
        expectPaired(history)
        expect(history.map((m) => m._tag)).toEqual(["User", "Assistant", "ToolResult", "ToolResult"])
        const step = history[1] as Message.Assistant
        expect(step.stopReason).toBe("interrupted")
        expect(Message.toolCalls(step).map((c) => c.id)).toEqual(["pay", "h"])
        const results = history.slice(2) as ReadonlyArray<Message.ToolResult>
        expect(results.map((r) => [r.toolCallId, r.isError, r.content])).toEqual([
          ["pay", false, "receipt"],
          ["h", true, expect.stringMatching(/interrupted/)]
        ])
      })))

  it.scopedLive("a stream that fails after an early tool finished keeps the tool's real result", () =>
    withAnthropic((server) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<void>()
        const quick = Tool.make("quick", {
          parameters: Schema.Struct({}),
          success: Schema.String,
          handler: () => Effect.as(Deferred.succeed(done, undefined), "real result")
        })
        server.enqueue(
          callsThenText([{ index: 0, id: "q", name: "quick", input: {} }], (index) => [
            Messages.blockDelta(index, { type: "text_delta", text: "Working" }),
            Script.delay(100),
            Messages.errorEvent(500, "Internal")
          ])
        )
        const conversation = yield* newConversation
        const failure = yield* Turn.run({ conversation, input: "go", toolkit: Toolkit.make(quick) }).pipe(Effect.flip)
        expect(failure._tag).toBe("ProviderStreamError")
        expect(yield* Deferred.isDone(done)).toBe(true)
        const history = yield* SubscriptionRef.get(conversation)
        expectPaired(history)
        expect((history[1] as Message.Assistant).stopReason).toBe("error")
        expect(history[2]).toMatchObject({ _tag: "ToolResult", toolCallId: "q", content: "real result", isError: false })
      })))

  it.scopedLive("a call whose arguments do not decode gets an error result, early like any other", () =>
    withAnthropic((server) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        server.enqueue(
          callsThenText([{ index: 0, id: "bad", name: "add", input: "{\"a\": 1," }, { index: 1, id: "ok", name: "add", input: { a: 1, b: 2 } }], more(3, 30)),
          Messages.reply({ text: "Done." })
        )
        const conversation = yield* newConversation
        yield* Turn.stream({ conversation, input: "go", toolkit: Toolkit.make(add) }).pipe(
          Stream.runForEach((event) =>
            Effect.sync(() => {
              if (event._tag === "ToolResult") log.push(`result ${event.result.toolCallId}`)
              if (event._tag === "StreamPart" && event.step === 1 && event.part._tag === "Finish") log.push("response finished")
            })
          )
        )
        expect(log).toEqual(["result bad", "result ok", "response finished"])
        const results = (yield* SubscriptionRef.get(conversation)).filter((m): m is Message.ToolResult => m._tag === "ToolResult")
        expect(results.map((r) => [r.toolCallId, r.isError])).toEqual([["bad", true], ["ok", false]])
        expect(results[0].content).toMatch(/not valid JSON/)
      })))
})

describe("a slow consumer of Turn.stream", () => {
  it.scopedLive("holds the model's stream back: no more than the turn's buffer is read ahead of it", () =>
    Effect.gen(function*() {
      const batch = 64
      const batches = 2_000
      let produced = 0
      const delta: Chunk.Chunk<StreamPart.StreamPart> = Chunk.makeBy(batch, () => ({ _tag: "TextDelta", id: "t", text: "abcd" }))
      const model = Layer.succeed(LanguageModelService.LanguageModel, {
        provider: "test",
        model: "m",
        stream: () =>
          Stream.concat(
            Stream.repeatEffectChunk(Effect.sync(() => (produced += batch, delta))).pipe(Stream.take(batch * batches)),
            Stream.make<Array<StreamPart.StreamPart>>({ _tag: "Finish", reason: "stop" })
          )
      })
      const conversation = yield* newConversation
      const events = yield* Stream.toPull(Turn.stream({ conversation, input: "long" }).pipe(Stream.provideLayer(model)))
      const first = yield* events
      yield* Effect.sleep("200 millis")
      // what the first read took, what refills the buffer, and a batch or two in flight: not the answer
      expect(produced).toBeLessThanOrEqual(2 * Turn.streamBuffer + 2 * batch)
      let text = 0
      for (let chunk = Option.some(first); Option.isSome(chunk); chunk = yield* Effect.option(events)) {
        for (const event of chunk.value) if (event._tag === "StreamPart" && event.part._tag === "TextDelta") text += event.part.text.length
      }
      expect(text).toBe(4 * batch * batches)
    }))
})

describe("a stopped turn on Kimi", () => {
  it.scopedLive("continues with reasoning_content on every assistant message and every call answered", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const kimi = Kimi.layer({ apiKey: "sk-test-key", baseUrl: `${server.url}/v1`, thinking: "enabled" }).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      )
      yield* Effect.gen(function*() {
        const conversation = yield* newConversation
        // step 1 asks for a tool; step 2 is stopped while it reasons in silence
        server.enqueue(
          ChatCompletions.reply({ reasoning: "Need the time.", toolCalls: [call("k1", "clock", { tz: "Asia/Tokyo" })] }),
          { steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("Now I can answer"), Script.stall()] }
        )
        const fiber = yield* Effect.fork(Turn.run({ conversation, input: "Time in Tokyo?", toolkit: Toolkit.make(clock) }))
        yield* Effect.promise(() => server.nextRequest())
        const second = yield* Effect.promise(() => server.nextRequest())
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(fiber)
        yield* connectionClosed(server, second.id)
        server.enqueue(ChatCompletions.reply({ text: "It is noon." }))
        yield* Turn.run({ conversation, input: "Go on", toolkit: Toolkit.make(clock) })
        const body = server.requests[2].json as any
        expectValidChatRequest(body)
        expect(body.thinking).toEqual({ type: "enabled" })
        const assistants = body.messages.filter((m: any) => m.role === "assistant")
        expect(assistants.map((m: any) => m.reasoning_content)).toEqual(["Need the time.", "Now I can answer"])
      }).pipe(Effect.provide(kimi))
    }))
})

describe("tools that ask first", () => {
  const runs: Array<string> = []
  const transfer = Tool.make("transfer", {
    description: "Moves money",
    parameters: Schema.Struct({ amount: Schema.Number }),
    success: Schema.String,
    // Small amounts need no one's approval.
    needsApproval: ({ amount }) => amount >= 100,
    handler: ({ amount }) => Effect.sync(() => (runs.push(`transfer ${amount}`), `sent ${amount}`))
  })
  const toolkit = Toolkit.make(transfer, clock)
  const asks = (...amounts: Array<number>) =>
    ChatCompletions.reply({ toolCalls: amounts.map((amount, i) => ({ id: `call_${i}`, name: "transfer", arguments: { amount } })) })
  const results = (history: ReadonlyArray<Message.Message>) =>
    history.filter((m): m is Message.ToolResult => m._tag === "ToolResult").map((m) => [m.toolCallId, m.content, m.isError ?? false])

  /** Runs a turn's stream, answering each approval request with `answer`. */
  const answering = (
    options: Omit<Turn.Options<typeof toolkit.tools>, "approvals">,
    answer: (call: { readonly id: string; readonly arguments: string }) => Approval.Decision
  ) =>
    Effect.gen(function*() {
      const approvals = yield* Approval.make
      const events: Array<Turn.TurnEvent> = []
      yield* Turn.stream({ ...options, approvals }).pipe(
        Stream.runForEach((event) => {
          events.push(event)
          return event._tag === "ApprovalRequested"
            ? Effect.flatMap(approvals.decide(event.call.id, answer(event.call)), (taken) => Effect.sync(() => expect(taken).toBe(true)))
            : Effect.void
        })
      )
      expect(approvals.pending).toEqual([])
      return events
    })

  it.scopedLive("announce the calls that need a decision, run the approved and tell the model of the denied", () =>
    withServer((server) =>
      Effect.gen(function*() {
        runs.length = 0
        const conversation = yield* newConversation
        server.enqueue(asks(500, 5, 200), ChatCompletions.reply({ text: "Done." }))
        const events = yield* answering(
          { conversation, input: "pay", toolkit },
          (call) => JSON.parse(call.arguments).amount === 500 ? Approval.approved : Approval.denied("too much today")
        )
        expect(events.filter((e) => e._tag === "ApprovalRequested").map((e: any) => e.call.id)).toEqual(["call_0", "call_2"])
        expect(events.filter((e) => e._tag === "ToolCallStarted").map((e: any) => e.call.id).sort()).toEqual(["call_0", "call_1"])
        expect(runs.sort()).toEqual(["transfer 5", "transfer 500"])
        const history = yield* SubscriptionRef.get(conversation)
        expectPaired(history)
        expect(results(history)).toEqual([
          ["call_0", "sent 500", false],
          ["call_1", "sent 5", false],
          ["call_2", "The user denied this call: too much today. It did not run.", true]
        ])
        const next = server.requests[1].json as any
        expectValidChatRequest(next)
        expect(next.messages.filter((m: any) => m.role === "tool").map((m: any) => m.content)).toEqual([
          "sent 500",
          "sent 5",
          "The user denied this call: too much today. It did not run."
        ])
      })))

  it.scopedLive("a stop while a call waits leaves it an interrupted result, and later decisions find nothing", () =>
    withServer((server) =>
      Effect.gen(function*() {
        runs.length = 0
        const conversation = yield* newConversation
        const approvals = yield* Approval.make
        server.enqueue(asks(300, 1))
        const requested = yield* Deferred.make<string>()
        const fiber = yield* Turn.stream({ conversation, input: "pay", toolkit, approvals }).pipe(
          Stream.runForEach((event) => event._tag === "ApprovalRequested" ? Deferred.succeed(requested, event.call.id) : Effect.void),
          Effect.fork
        )
        const id = yield* Deferred.await(requested)
        expect(approvals.pending).toEqual([id])
        yield* Fiber.interrupt(fiber)
        expect(approvals.pending).toEqual([])
        expect(yield* approvals.decide(id, Approval.approved)).toBe(false)
        expect(runs).toEqual(["transfer 1"])
        const history = yield* SubscriptionRef.get(conversation)
        expectPaired(history)
        expect(results(history)).toEqual([
          ["call_0", "The call was interrupted before it finished; it has no result.", true],
          ["call_1", "sent 1", false]
        ])
        server.enqueue(ChatCompletions.reply({ text: "ok" }))
        yield* Turn.run({ conversation, input: "go on" })
        expectValidChatRequest(server.requests[1].json)
      })))

  it.scopedLive("without a place for decisions a call that needs one is denied, and a waiting call holds no permit", () =>
    withServer((server) =>
      Effect.gen(function*() {
        runs.length = 0
        const conversation = yield* newConversation
        server.enqueue(asks(100), ChatCompletions.reply({ text: "ok" }))
        yield* Turn.run({ conversation, input: "pay", toolkit })
        expect(runs).toEqual([])
        expect(results(yield* SubscriptionRef.get(conversation))).toEqual([
          ["call_0", "The user denied this call: no one could be asked to approve it. It did not run.", true]
        ])

        // One permit: the small transfer behind a call that waits runs, and only then is the wait decided.
        const later = yield* newConversation
        const approvals = yield* Approval.make
        server.enqueue(asks(1000, 2), ChatCompletions.reply({ text: "ok" }))
        yield* Turn.stream({ conversation: later, input: "pay", toolkit, concurrency: 1, approvals }).pipe(
          Stream.runForEach((event) =>
            event._tag === "ToolResult" && event.result.toolCallId === "call_1"
              ? Effect.asVoid(approvals.decide("call_0", Approval.approved))
              : Effect.void
          )
        )
        expect(runs).toEqual(["transfer 2", "transfer 1000"])
      })))
})
