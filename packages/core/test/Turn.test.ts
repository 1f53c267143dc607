/**
 * The turn's own rules, on a `ScriptedModel` (no HTTP): steps until the model asks for no tool or
 * `maxSteps` is reached; what each request carries; the usage summed; a stop at any point leaving
 * exactly one result per call (the tool's, or a synthetic "interrupted" one) and the partial answer
 * kept; a model failure leaving the history paired; tools that ask first; and the events a UI reads.
 * (test/turn.test.ts has the turn over real HTTP.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Approval, LanguageModel, Message, ProviderError, type StreamPart, Tool, Toolkit, Turn } from "@reins/core"
import { ScriptedModel } from "@reins/testing"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as TestClock from "effect/TestClock"

/** The model service the turn reads. */
const Model = LanguageModel.LanguageModel

const clock = Tool.make("clock", {
  parameters: Schema.Struct({ tz: Schema.String }),
  success: Schema.String,
  handler: ({ tz }) => Effect.succeed(`12:00 in ${tz}`)
})

/** The parts of an answer calling each of `calls`, with `usage`. */
const calling = (
  calls: ReadonlyArray<{ readonly id: string; readonly name: string; readonly args: unknown }>,
  usage = { inputTokens: 10, outputTokens: 5 }
): ReadonlyArray<StreamPart.StreamPart> => [
  ...calls.flatMap((call): Array<StreamPart.StreamPart> => [
    { _tag: "ToolCallStart", id: call.id, name: call.name },
    { _tag: "ToolCallDelta", id: call.id, delta: JSON.stringify(call.args) },
    { _tag: "ToolCallEnd", id: call.id }
  ]),
  { _tag: "Usage", usage },
  { _tag: "Finish", reason: "tool-calls", raw: "tool_calls" }
]

const answer = (text: string, usage = { inputTokens: 20, outputTokens: 3 }): ReadonlyArray<StreamPart.StreamPart> => [
  ...ScriptedModel.text(text).slice(0, -1),
  { _tag: "Usage", usage },
  { _tag: "Finish", reason: "stop", raw: "stop" }
]

const newConversation = SubscriptionRef.make<ReadonlyArray<Message.Message>>([])

/** Each message's tag, and for tool results the call they answer. */
const shape = (history: ReadonlyArray<Message.Message>) =>
  history.map((message) => message._tag === "ToolResult" ? `ToolResult ${message.toolCallId}` : message._tag)

/** Every tool call in the history has exactly one result, after it; no result answers no call. */
const expectOneResultPerCall = (history: ReadonlyArray<Message.Message>) => {
  const calls = history.flatMap((message, at) => message._tag === "Assistant" ? Message.toolCalls(message).map((call) => ({ id: call.id, at })) : [])
  const results = history.flatMap((message, at) => message._tag === "ToolResult" ? [{ id: message.toolCallId, at }] : [])
  expect(results.map((result) => result.id).sort()).toEqual(calls.map((call) => call.id).sort())
  for (const call of calls) expect(results.find((result) => result.id === call.id)!.at).toBeGreaterThan(call.at)
}

describe("Turn.run", () => {
  it.effect("ends when a step asks for no tool: the input and the answer, one step, its usage", () =>
    Effect.gen(function*() {
      const model = ScriptedModel.make([answer("Hello there")])
      const conversation = yield* newConversation
      const result = yield* Turn.run({ conversation, input: "Hi" }).pipe(Effect.provideService(Model, model.service))
      expect(shape(result.messages)).toEqual(["User", "Assistant"])
      expect(Message.text(result.messages[1] as Message.Assistant)).toBe("Hello there")
      expect(result).toMatchObject({ steps: 1, stopReason: "stop", usage: { inputTokens: 20, outputTokens: 3 } })
      expect(yield* SubscriptionRef.get(conversation)).toEqual(result.messages)
      expect(model.requests).toHaveLength(1)
    }))

  it.effect("runs the tools a step calls and asks again with their results, the tools offered each time; usage is summed", () =>
    Effect.gen(function*() {
      const model = ScriptedModel.make([calling([{ id: "call_1", name: "clock", args: { tz: "Asia/Tokyo" } }]), answer("Noon.")])
      const conversation = yield* newConversation
      const toolkit = Toolkit.make(clock)
      const result = yield* Turn.run({ conversation, input: "Time?", toolkit, request: { temperature: 0.5 } }).pipe(
        Effect.provideService(Model, model.service)
      )
      expect(shape(result.messages)).toEqual(["User", "Assistant", "ToolResult call_1", "Assistant"])
      expect(result).toMatchObject({ steps: 2, stopReason: "stop", usage: { inputTokens: 30, outputTokens: 8 } })
      expect(model.requests).toHaveLength(2)
      expect(model.requests.map((request) => request.tools)).toEqual([toolkit.definitions, toolkit.definitions])
      expect(model.requests[1]!.temperature).toBe(0.5)
      expect(shape(model.requests[1]!.messages)).toEqual(["User", "Assistant", "ToolResult call_1"])
      expect((model.requests[1]!.messages[2] as Message.ToolResult).content).toBe("12:00 in Asia/Tokyo")
    }))

  it.effect("continues a conversation: the history comes first in the request, and the result holds only what the turn added", () =>
    Effect.gen(function*() {
      const model = ScriptedModel.make([answer("First."), answer("Second.")])
      const conversation = yield* newConversation
      yield* Turn.run({ conversation, input: "One" }).pipe(Effect.provideService(Model, model.service))
      const second = yield* Turn.run({ conversation, input: Message.user("Two") }).pipe(Effect.provideService(Model, model.service))
      expect(shape(second.messages)).toEqual(["User", "Assistant"])
      expect(shape(model.requests[1]!.messages)).toEqual(["User", "Assistant", "User"])
    }))

  it.effect("stops at maxSteps with every call answered, and says so with the stop reason tool-calls", () =>
    Effect.gen(function*() {
      const again = (n: number) => calling([{ id: `call_${n}`, name: "clock", args: { tz: "UTC" } }])
      const model = ScriptedModel.make([again(1), again(2), again(3)])
      const conversation = yield* newConversation
      const result = yield* Turn.run({ conversation, input: "loop", toolkit: Toolkit.make(clock), maxSteps: 2 }).pipe(
        Effect.provideService(Model, model.service)
      )
      expect(result).toMatchObject({ steps: 2, stopReason: "tool-calls" })
      expect(model.requests).toHaveLength(2)
      expect(shape(result.messages)).toEqual(["User", "Assistant", "ToolResult call_1", "Assistant", "ToolResult call_2"])
      expectOneResultPerCall(result.messages)
    }))

  it.effect("takes 10 steps when maxSteps is not given", () =>
    Effect.gen(function*() {
      const model = ScriptedModel.make(Array.from({ length: 12 }, (_, n) => calling([{ id: `call_${n}`, name: "clock", args: { tz: "UTC" } }])))
      const result = yield* Turn.run({ conversation: yield* newConversation, input: "loop", toolkit: Toolkit.make(clock) }).pipe(
        Effect.provideService(Model, model.service)
      )
      expect(result.steps).toBe(10)
      expect(model.requests).toHaveLength(10)
    }))

  it.effect("answers a call for an unknown tool, or with arguments that do not decode, with an error result, and goes on", () =>
    Effect.gen(function*() {
      const model = ScriptedModel.make([
        calling([{ id: "call_1", name: "calendar", args: {} }, { id: "call_2", name: "clock", args: { tz: 7 } }]),
        answer("Sorry.")
      ])
      const result = yield* Turn.run({ conversation: yield* newConversation, input: "go", toolkit: Toolkit.make(clock) }).pipe(
        Effect.provideService(Model, model.service)
      )
      const results = result.messages.filter((m): m is Message.ToolResult => m._tag === "ToolResult")
      expect(results.map((r) => [r.toolCallId, r.isError])).toEqual([["call_1", true], ["call_2", true]])
      expect(results[0]!.content).toContain(`Unknown tool "calendar"`)
      expect(results[1]!.content).toMatch(/^The arguments do not match the parameters/)
      expect(result.stopReason).toBe("stop")
    }))

  it.effect("a tool over its timeout is an error result, on the TestClock, and the turn goes on", () =>
    Effect.gen(function*() {
      const slow = Tool.make("slow", {
        parameters: Schema.Struct({}),
        success: Schema.String,
        timeout: "2 seconds",
        handler: () => Effect.as(Effect.sleep("1 minute"), "late")
      })
      const model = ScriptedModel.make([calling([{ id: "call_1", name: "slow", args: {} }]), answer("It was slow.")])
      const fiber = yield* Turn.run({ conversation: yield* newConversation, input: "go", toolkit: Toolkit.make(slow) }).pipe(
        Effect.provideService(Model, model.service),
        Effect.fork
      )
      yield* TestClock.adjust("2 seconds")
      const result = yield* Fiber.join(fiber)
      expect(result.messages[2]).toMatchObject({ _tag: "ToolResult", isError: true, content: "The tool did not finish within 2s." })
      expect(result.steps).toBe(2)
    }))

  it.effect("a model that fails fails the turn, and leaves the input, the partial answer and a result for each of its calls", () =>
    Effect.gen(function*() {
      const failure = new ProviderError.StatusError({ provider: "scripted", status: 500, body: "" })
      const model = ScriptedModel.make([
        Stream.concat(
          Stream.fromIterable(calling([{ id: "call_1", name: "clock", args: { tz: "UTC" } }]).slice(0, 3)),
          Stream.fail(failure)
        )
      ])
      const conversation = yield* newConversation
      const error = yield* Turn.run({ conversation, input: "go", toolkit: Toolkit.make(clock) }).pipe(
        Effect.provideService(Model, model.service),
        Effect.flip
      )
      expect(error).toBe(failure)
      const history = yield* SubscriptionRef.get(conversation)
      expect(shape(history)).toEqual(["User", "Assistant", "ToolResult call_1"])
      expect((history[1] as Message.Assistant).stopReason).toBe("error")
      expectOneResultPerCall(history)
    }))
})

describe("a stopped turn leaves one result per call", () => {
  it.effect("stopped while the model is silent: the partial answer is kept as interrupted", () =>
    Effect.gen(function*() {
      const partial: ReadonlyArray<StreamPart.StreamPart> = [{ _tag: "TextStart", id: "t" }, { _tag: "TextDelta", id: "t", text: "Let me" }]
      const arrived = yield* Deferred.make<void>()
      const model = ScriptedModel.make([
        Stream.concat(Stream.fromIterable(partial), Stream.fromEffect(Deferred.succeed(arrived, undefined)).pipe(Stream.drain, Stream.concat(ScriptedModel.silent)))
      ])
      const conversation = yield* newConversation
      const fiber = yield* Turn.run({ conversation, input: "Think" }).pipe(Effect.provideService(Model, model.service), Effect.fork)
      yield* Deferred.await(arrived)
      expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
      const history = yield* SubscriptionRef.get(conversation)
      expect(shape(history)).toEqual(["User", "Assistant"])
      const assistant = history[1] as Message.Assistant
      expect(assistant.stopReason).toBe("interrupted")
      expect(Message.text(assistant)).toBe("Let me")
    }))

  it.effect("stopped while tools run: the finished tool's result, an interrupted one for the other, finalizers run, a call cut mid-arguments left out", () =>
    Effect.gen(function*() {
      const quickDone = yield* Deferred.make<void>()
      let finalized = 0
      const quick = Tool.make("quick", {
        parameters: Schema.Struct({}),
        success: Schema.String,
        handler: () => Effect.as(Deferred.succeed(quickDone, undefined), "done")
      })
      const hold = Tool.make("hold", {
        parameters: Schema.Struct({}),
        success: Schema.String,
        handler: () => Effect.never.pipe(Effect.ensuring(Effect.sync(() => void finalized++)))
      })
      const parts = calling([{ id: "call_1", name: "quick", args: {} }, { id: "call_2", name: "hold", args: {} }]).slice(0, 6)
      // a third call whose arguments never end, then the model falls silent
      const cut: ReadonlyArray<StreamPart.StreamPart> = [{ _tag: "ToolCallStart", id: "call_3", name: "quick" }, { _tag: "ToolCallDelta", id: "call_3", delta: "{" }]
      const model = ScriptedModel.make([Stream.concat(Stream.fromIterable([...parts, ...cut]), ScriptedModel.silent)])
      const conversation = yield* newConversation
      const fiber = yield* Turn.run({ conversation, input: "go", toolkit: Toolkit.make(quick, hold) }).pipe(
        Effect.provideService(Model, model.service),
        Effect.fork
      )
      yield* Deferred.await(quickDone)
      yield* Effect.yieldNow()
      expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
      expect(finalized).toBe(1)
      const history = yield* SubscriptionRef.get(conversation)
      expect(shape(history)).toEqual(["User", "Assistant", "ToolResult call_1", "ToolResult call_2"])
      expect((history[1] as Message.Assistant).stopReason).toBe("interrupted")
      expect(Message.toolCalls(history[1] as Message.Assistant).map((call) => call.id)).toEqual(["call_1", "call_2"])
      expect(history[2]).toMatchObject({ content: "done", isError: false })
      expect(history[3]).toMatchObject({ content: "The call was interrupted before it finished; it has no result.", isError: true })
      expectOneResultPerCall(history)
    }))

  it.effect("stopped after the answer, while its tools run: the tools' results, in call order", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const hold = Tool.make("hold", {
        parameters: Schema.Struct({}),
        success: Schema.String,
        handler: () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
      })
      const model = ScriptedModel.make([calling([{ id: "call_1", name: "clock", args: { tz: "UTC" } }, { id: "call_2", name: "hold", args: {} }])])
      const conversation = yield* newConversation
      const fiber = yield* Turn.run({ conversation, input: "go", toolkit: Toolkit.make(clock, hold) }).pipe(
        Effect.provideService(Model, model.service),
        Effect.fork
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      const history = yield* SubscriptionRef.get(conversation)
      expect(shape(history)).toEqual(["User", "Assistant", "ToolResult call_1", "ToolResult call_2"])
      expect((history[1] as Message.Assistant).stopReason).toBe("tool-calls")
      expect(history[2]).toMatchObject({ content: "12:00 in UTC", isError: false })
      expect(history[3]).toMatchObject({ isError: true })
      expectOneResultPerCall(history)
    }))
})

describe("tools that ask first", () => {
  const runs: Array<number> = []
  const transfer = Tool.make("transfer", {
    parameters: Schema.Struct({ amount: Schema.Number }),
    success: Schema.String,
    needsApproval: ({ amount }) => amount >= 100,
    handler: ({ amount }) => Effect.sync(() => (runs.push(amount), `sent ${amount}`))
  })
  const toolkit = Toolkit.make(transfer)
  const asks = (...amounts: Array<number>) => calling(amounts.map((amount, i) => ({ id: `call_${i}`, name: "transfer", args: { amount } })))
  const resultsOf = (messages: ReadonlyArray<Message.Message>) =>
    messages.flatMap((m) => m._tag === "ToolResult" ? [[m.toolCallId, m.content, m.isError ?? false]] : [])

  it.effect("are announced and wait; the approved run, the denied are told to the model, the rest run at once", () =>
    Effect.gen(function*() {
      runs.length = 0
      const model = ScriptedModel.make([asks(500, 5, 200), answer("Done.")])
      const approvals = yield* Approval.make
      const events = yield* Turn.stream({ conversation: yield* newConversation, input: "pay", toolkit, approvals }).pipe(
        Stream.tap((event) =>
          event._tag === "ApprovalRequested"
            ? approvals.decide(event.call.id, JSON.parse(event.call.arguments).amount === 500 ? Approval.approved : Approval.denied("too much"))
            : Effect.void
        ),
        Stream.runCollect,
        Effect.provideService(Model, model.service)
      )
      const all = Chunk.toReadonlyArray(events)
      expect(all.flatMap((e) => e._tag === "ApprovalRequested" ? [e.call.id] : [])).toEqual(["call_0", "call_2"])
      expect(all.flatMap((e) => e._tag === "ToolCallStarted" ? [e.call.id] : []).sort()).toEqual(["call_0", "call_1"])
      expect(runs.sort((a, b) => a - b)).toEqual([5, 500])
      const end = all.at(-1)!
      expect(end._tag).toBe("TurnEnd")
      expect(resultsOf(end._tag === "TurnEnd" ? end.result.messages : [])).toEqual([
        ["call_0", "sent 500", false],
        ["call_1", "sent 5", false],
        ["call_2", "The user denied this call: too much. It did not run.", true]
      ])
      expect(approvals.pending).toEqual([])
    }))

  it.effect("are denied when the turn has no approvals, and never run", () =>
    Effect.gen(function*() {
      runs.length = 0
      const model = ScriptedModel.make([asks(100), answer("ok")])
      const result = yield* Turn.run({ conversation: yield* newConversation, input: "pay", toolkit }).pipe(Effect.provideService(Model, model.service))
      expect(runs).toEqual([])
      expect(resultsOf(result.messages)).toEqual([["call_0", "The user denied this call: no one could be asked to approve it. It did not run.", true]])
    }))

  it.effect("a stop while a call waits leaves it an interrupted result, and a later decision finds nothing", () =>
    Effect.gen(function*() {
      runs.length = 0
      const model = ScriptedModel.make([asks(300)])
      const approvals = yield* Approval.make
      const conversation = yield* newConversation
      const requested = yield* Deferred.make<string>()
      const fiber = yield* Turn.stream({ conversation, input: "pay", toolkit, approvals }).pipe(
        Stream.runForEach((event) => event._tag === "ApprovalRequested" ? Deferred.succeed(requested, event.call.id) : Effect.void),
        Effect.provideService(Model, model.service),
        Effect.fork
      )
      const id = yield* Deferred.await(requested)
      expect(approvals.pending).toEqual([id])
      yield* Fiber.interrupt(fiber)
      expect(approvals.pending).toEqual([])
      expect(yield* approvals.decide(id, Approval.approved)).toBe(false)
      expect(runs).toEqual([])
      const history = yield* SubscriptionRef.get(conversation)
      expect(resultsOf(history)).toEqual([["call_0", "The call was interrupted before it finished; it has no result.", true]])
      expectOneResultPerCall(history)
    }))
})

describe("Turn.stream", () => {
  it.effect("emits each step's start, its parts, the tools' start and results, its end, and the turn's end", () =>
    Effect.gen(function*() {
      const model = ScriptedModel.make([calling([{ id: "call_1", name: "clock", args: { tz: "UTC" } }]), answer("Noon.")])
      const events = yield* Turn.stream({ conversation: yield* newConversation, input: "Time?", toolkit: Toolkit.make(clock) }).pipe(
        Stream.runCollect,
        Effect.provideService(Model, model.service)
      )
      const tags = Chunk.toReadonlyArray(events).map((event) =>
        event._tag === "StreamPart" ? `${event.step}:${event.part._tag}` : "step" in event ? `${event.step}:${event._tag}` : event._tag
      )
      // the parts of each step in the order the model sent them
      const partsOf = (step: number) =>
        Chunk.toReadonlyArray(events).flatMap((event) => event._tag === "StreamPart" && event.step === step ? [event.part._tag] : [])
      expect(partsOf(1)).toEqual(["ToolCallStart", "ToolCallDelta", "ToolCallEnd", "Usage", "Finish"])
      expect(tags.filter((tag) => tag.startsWith("2:"))).toEqual(["2:StepStart", "2:TextStart", "2:TextDelta", "2:TextEnd", "2:Usage", "2:Finish", "2:StepEnd"])
      const at = (tag: string) => {
        expect(tags.filter((t) => t === tag), tag).toHaveLength(1)
        return tags.indexOf(tag)
      }
      expect(at("1:StepStart")).toBe(0)
      // a tool starts after its call's end, may come before the step's end, and its result before the next step
      expect(at("1:ToolCallStarted")).toBeGreaterThan(at("1:ToolCallEnd"))
      expect(at("1:ToolResult")).toBeGreaterThan(at("1:ToolCallStarted"))
      expect(at("1:StepEnd")).toBeGreaterThan(at("1:Finish"))
      expect(at("2:StepStart")).toBeGreaterThan(Math.max(at("1:ToolResult"), at("1:StepEnd")))
      expect(at("TurnEnd")).toBe(tags.length - 1)
    }))
})
