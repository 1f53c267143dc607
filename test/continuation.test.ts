/**
 * A conversation stays valid to continue on every provider: after a turn stopped at any phase,
 * after a move to another provider in any direction, and after its `Message.ConversationJson`
 * round trip. Each turn runs over real HTTP against a `ProviderServer`, and what is checked is the
 * request body as the server received it, against the documented rules of its format
 * (`validity.ts`).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { type LanguageModel, Message, Part, Tool, Toolkit, Turn, Usage } from "@reins/core"
import { Kimi } from "@reins/kimi"
import { ChatCompletions, Formats, Gemini, Messages, ProviderServer, Responses, Script } from "@reins/testing"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { conversationProblems, historyProblems, nextInput, requestProblems, type WireFormat, wireFormats } from "./validity.js"
import type * as ConfigError from "effect/ConfigError"

const args = { tz: "Asia/Tokyo" }

const clock = Tool.make("clock", {
  parameters: Schema.Struct({ tz: Schema.String }),
  success: Schema.String,
  handler: ({ tz }) => Effect.succeed(`12:00 in ${tz}`)
})

/** A tool that never finishes, for a stop while a tool runs. */
const wait = Tool.make("wait", {
  parameters: Schema.Struct({ tz: Schema.String }),
  success: Schema.String,
  handler: () => Effect.never
})

const toolkit = Toolkit.make(clock, wait)

/** The tool call a scripted step makes. */
interface Call {
  readonly id: string
  readonly name: string
}

type Model = Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>

/** One provider format: its real layer, and the replies (whole, or cut short) its server sends. */
interface Wire {
  readonly format: WireFormat
  readonly layer: (url: string) => Model
  /** The id this provider gives a call of `name` (Gemini gives none: ours are made up). */
  readonly callId: (name: string) => string | undefined
  /** A step that reasons (signed where the format signs), says a little and calls `call`. */
  readonly toolStep: (call: Call) => Script.Script
  /** A final answer. */
  readonly answer: Script.Script
  // The events of a reply cut short; silence follows each.
  /** Reasoning not yet signed. */
  readonly reasoning: ReadonlyArray<Script.Step>
  /** Signed reasoning (where the format signs), then a text delta of whitespace only. */
  readonly blank: ReadonlyArray<Script.Step>
  /** A tool call begun, its arguments unfinished. */
  readonly callBegun: (call: Call) => ReadonlyArray<Script.Step>
  /** A whole `toolStep` but for the events that end the reply. */
  readonly untilReplyEnd: (call: Call) => ReadonlyArray<Script.Step>
  /** Whether a call is marked ended before its reply ends (Chat Completions ends every call at the finish). */
  readonly endsCalls: boolean
  /** A text delta. */
  readonly text: ReadonlyArray<Script.Step>
}

const apiKey = "sk-continuation"
const partialArgs = "{\"tz\":\"Asia/To"

const chatStep = (call: Call) =>
  ChatCompletions.reply({ reasoning: "Need the time.", text: "Checking.", toolCalls: [{ id: call.id, name: call.name, arguments: args }] })

const chatReplies = {
  toolStep: chatStep,
  answer: ChatCompletions.reply({ reasoning: "Easy now.", text: "Noon." }),
  reasoning: [ChatCompletions.start(), ...ChatCompletions.reasoning("Let me think")],
  blank: [ChatCompletions.start(), ...ChatCompletions.reasoning("Hm."), ...ChatCompletions.text("\n\n")],
  callBegun: (call: Call) => [ChatCompletions.start(), ...ChatCompletions.toolCall({ id: call.id, name: call.name, arguments: partialArgs })],
  // all but the finish chunk and [DONE]
  untilReplyEnd: (call: Call) => chatStep(call).steps.slice(0, -2),
  endsCalls: false,
  text: [ChatCompletions.start(), ...ChatCompletions.text("It is")]
}

const responsesStep = (call: Call) =>
  Responses.reply({
    reasoning: { summary: ["Need the time."], encryptedContent: "enc-step" },
    text: "Checking.",
    toolCalls: [{ callId: call.id, name: call.name, arguments: args }]
  })

const messagesStep = (call: Call) =>
  Messages.reply({ thinking: { text: "Need the time.", signature: "sig-step" }, text: "Checking.", toolCalls: [{ id: call.id, name: call.name, input: args }] })

// Gemini 3 signs the first call of a step, not its thought summary
const geminiStep = (call: Call) =>
  Gemini.reply({ thought: "Need the time.", text: "Checking.", functionCalls: [{ name: call.name, args, thoughtSignature: "sig-call" }] })

const wires: ReadonlyArray<Wire> = [
  {
    format: "Chat Completions",
    layer: (url) => Formats.chat.layer(url, { model: "gpt-test", apiKey }),
    callId: (name) => `call_${name}Xk3Jc`,
    ...chatReplies
  },
  {
    format: "OpenAI Responses",
    layer: (url) => Formats.responses.layer(url, { model: "gpt-test", apiKey, reasoningSummary: "auto" }),
    callId: (name) => `call_${name}R7xQ`,
    toolStep: responsesStep,
    answer: Responses.reply({ reasoning: { summary: ["Easy now."], encryptedContent: "enc-answer" }, text: "Noon." }),
    // the reasoning item added, its summary part added, a first delta
    reasoning: [Responses.created(), Responses.inProgress(), ...Responses.reasoning({ summary: ["Let me think"] }).slice(0, 3)],
    blank: [
      Responses.created(),
      Responses.inProgress(),
      ...Responses.reasoning({ summary: ["Hm."], encryptedContent: "enc-blank" }),
      ...Responses.message("\n\n", { outputIndex: 1 }).slice(0, 3)
    ],
    callBegun: (call) => [
      Responses.created(),
      Responses.inProgress(),
      ...Responses.functionCall({ callId: call.id, name: call.name, arguments: JSON.stringify(args), chunkSize: 8 }).slice(0, 2)
    ],
    // all but `response.completed`
    untilReplyEnd: (call) => responsesStep(call).steps.slice(0, -1),
    endsCalls: true,
    text: [Responses.created(), Responses.inProgress(), ...Responses.message("It is").slice(0, 3)]
  },
  {
    format: "Anthropic Messages",
    layer: (url) => Formats.messages.layer(url, { model: "claude-test", apiKey, thinking: { type: "enabled", budgetTokens: 1024 } }),
    callId: (name) => `toolu_01${name}Q8`,
    toolStep: messagesStep,
    answer: Messages.reply({ thinking: { text: "Easy now.", signature: "sig-answer" }, text: "Noon." }),
    reasoning: [
      Messages.messageStart(),
      Messages.blockStart(0, { type: "thinking", thinking: "", signature: "" }),
      Messages.blockDelta(0, { type: "thinking_delta", thinking: "Let me think" })
    ],
    blank: [
      Messages.messageStart(),
      ...Messages.thinking(0, "Hm.", "sig-blank"),
      Messages.blockStart(1, { type: "text", text: "" }),
      Messages.blockDelta(1, { type: "text_delta", text: "\n\n" })
    ],
    // the block started, the empty first delta, a first piece of JSON
    callBegun: (call) => [Messages.messageStart(), ...Messages.toolUse({ index: 0, id: call.id, name: call.name, input: args, chunkSize: 8 }).slice(0, 3)],
    // all but `message_delta` and `message_stop`
    untilReplyEnd: (call) => messagesStep(call).steps.slice(0, -2),
    endsCalls: true,
    text: [Messages.messageStart(), ...Messages.text(0, "It is").slice(0, 2)]
  },
  {
    format: "Gemini",
    layer: (url) => Formats.gemini.layer(url, { model: "gemini-3-flash-preview", apiKey }),
    callId: () => undefined,
    toolStep: geminiStep,
    answer: Gemini.reply({ thought: "Easy now.", text: "Noon.", textSignature: "sig-answer" }),
    reasoning: [Gemini.event([{ text: "Let me think", thought: true }])],
    blank: [...Gemini.thought("Hm.", { signature: "sig-blank" }), Gemini.event([{ text: "\n\n" }])],
    // the first fragment of a call whose arguments stream
    callBegun: (call) => [Gemini.event([{ functionCall: { name: call.name, willContinue: true }, thoughtSignature: "sig-call" }])],
    // all but the event with the finish reason
    untilReplyEnd: (call) => geminiStep(call).steps.slice(0, -1),
    endsCalls: true,
    text: [Gemini.event([{ text: "It is" }])]
  },
  {
    format: "Kimi",
    layer: (url) => Kimi.layer({ apiKey, baseUrl: `${url}/v1`, thinking: "enabled" }),
    // Kimi's own form, which Anthropic's id pattern does not allow
    callId: (name) => `functions.${name}:0`,
    ...chatReplies
  }
]

const wireOf = (format: WireFormat): Wire => wires.find((wire) => wire.format === format)!

/** `steps`, then silence until the client goes away. */
const cut = (steps: ReadonlyArray<Script.Step>): Script.Script => Script.make([...steps, Script.stall()])

const call = (wire: Wire, name: string): Call => ({ id: wire.callId(name) ?? "unused", name })

/** Where a turn is stopped: the replies it gets (the last one cut short), and how to tell it got there. */
interface Phase {
  readonly name: string
  readonly replies: (wire: Wire) => ReadonlyArray<Script.Script>
  /** Whether the turn has got to where it is stopped; `undefined`: once the server has the request. */
  readonly reached: (wire: Wire) => ((event: Turn.TurnEvent) => boolean) | undefined
  /** The messages the stopped conversation holds. */
  readonly shape: (wire: Wire) => ReadonlyArray<Message.Message["_tag"]>
}

const part = (test: (part: any) => boolean, step = 1) => (event: Turn.TurnEvent) => event._tag === "StreamPart" && event.step === step && test(event.part)

const phases: ReadonlyArray<Phase> = [
  {
    name: "while waiting for the response headers",
    replies: () => [{ headersDelay: Infinity, steps: [] }],
    reached: () => undefined,
    shape: () => ["User", "Assistant"]
  },
  {
    name: "mid-reasoning, before its signature",
    replies: (wire) => [cut(wire.reasoning)],
    reached: () => part((c) => c._tag === "ReasoningDelta"),
    shape: () => ["User", "Assistant"]
  },
  {
    name: "right after a whitespace-only text delta",
    replies: (wire) => [cut(wire.blank)],
    reached: () => part((c) => c._tag === "TextDelta" && c.text !== "" && c.text.trim() === ""),
    shape: () => ["User", "Assistant"]
  },
  {
    name: "mid tool-call arguments",
    replies: (wire) => [cut(wire.callBegun(call(wire, "clock")))],
    reached: () => part((c) => c._tag === "ToolCallStart"),
    shape: () => ["User", "Assistant"]
  },
  {
    name: "after a whole tool call, before the reply ends",
    replies: (wire) => [cut(wire.untilReplyEnd(call(wire, "clock")))],
    // where calls end only with the reply, the last piece of the arguments is the last event
    reached: (wire) => part((c) => wire.endsCalls ? c._tag === "ToolCallEnd" : c._tag === "ToolCallDelta" && c.delta.endsWith("}")),
    // a call marked ended is answered by an "interrupted" result; one never marked ended is left out
    shape: (wire) => (wire.endsCalls ? ["User", "Assistant", "ToolResult"] : ["User", "Assistant"])
  },
  {
    name: "while a tool runs",
    replies: (wire) => [wire.toolStep(call(wire, "wait"))],
    reached: () => (event) => event._tag === "ToolCallStarted",
    shape: () => ["User", "Assistant", "ToolResult"]
  },
  {
    name: "mid-answer after a tool step",
    replies: (wire) => [wire.toolStep(call(wire, "clock")), cut(wire.text)],
    reached: () => part((c) => c._tag === "TextDelta", 2),
    shape: () => ["User", "Assistant", "ToolResult", "Assistant"]
  }
]

const onHttp = (model: Model) => Layer.provide(model, NodeHttpClient.layerUndici)

/** Runs a turn on `wire` and stops it where `phase` says; the conversation it leaves. */
const stoppedTurn = (server: ProviderServer.ProviderServer, wire: Wire, phase: Phase) =>
  Effect.gen(function*() {
    server.enqueue(...phase.replies(wire))
    const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
    const reached = yield* Deferred.make<void>()
    const there = phase.reached(wire)
    const fiber = yield* Turn.stream({ conversation, input: "Time in Tokyo?", toolkit }).pipe(
      Stream.runForEach((event) => (there?.(event) === true ? Deferred.succeed(reached, undefined) : Effect.void)),
      Effect.fork
    )
    if (there === undefined) yield* Effect.promise(() => server.nextRequest())
    else yield* Deferred.await(reached)
    yield* Fiber.interrupt(fiber)
    return yield* SubscriptionRef.get(conversation)
  }).pipe(Effect.provide(onHttp(wire.layer(server.url))))

/** The conversation as stored and read back. */
const roundTrip = (history: ReadonlyArray<Message.Message>): ReadonlyArray<Message.Message> =>
  Schema.decodeSync(Message.ConversationJson)(Schema.encodeSync(Message.ConversationJson)(history))

/**
 * Continues `history` with the user's next message on `wire`, which answers; the problems of the
 * request its server received, and the conversation after it.
 */
const continueOn = (server: ProviderServer.ProviderServer, wire: Wire, history: ReadonlyArray<Message.Message>) =>
  Effect.gen(function*() {
    server.enqueue(wire.answer)
    const first = server.requests.length
    const conversation = yield* SubscriptionRef.make(history)
    const result = yield* Turn.run({ conversation, input: nextInput, toolkit })
    expect(result.stopReason).toBe("stop")
    expect(server.requests.length).toBe(first + 1)
    return {
      problems: requestProblems[wire.format](server.requests[first].json, [...history, nextInput]),
      after: yield* SubscriptionRef.get(conversation)
    }
  }).pipe(Effect.provide(onHttp(wire.layer(server.url))))

/** Continues `history` (after its JSON round trip) on every format; the problems of each one's request and conversation. */
const continueEverywhere = (server: ProviderServer.ProviderServer, history: ReadonlyArray<Message.Message>) =>
  Effect.gen(function*() {
    expect(historyProblems(history)).toEqual([])
    const stored = roundTrip(history)
    const found: Partial<Record<WireFormat, ReadonlyArray<string>>> = {}
    for (const format of wireFormats) {
      const { after, problems } = yield* continueOn(server, wireOf(format), stored)
      found[format] = [...problems, ...conversationProblems(after)]
    }
    return found
  })

/** No problems for any format. */
const none = Object.fromEntries(wireFormats.map((format) => [format, []]))

describe.each(wires)("a turn on $format", (source) => {
  it.scopedLive.each(phases)("stopped $name continues on every provider, after its JSON round trip", (phase) =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const history = yield* stoppedTurn(server, source, phase)
      expect(history.map((message) => message._tag)).toEqual(phase.shape(source))
      const stopped = history.filter((message): message is Message.Assistant => message._tag === "Assistant").at(-1)!
      expect(stopped.stopReason).toBe(phase.name === "while a tool runs" ? "tool-calls" : "interrupted")
      // what the stopped turn sent was valid too
      for (const request of server.requests) expect(requestProblems[source.format](request.json, history)).toEqual([])
      expect(conversationProblems(history)).toEqual([])
      expect(yield* continueEverywhere(server, history)).toEqual(none)
    }))
})

describe("tool-call ids that repeat", () => {
  it.scopedLive("a compatible server's ids repeated across steps are sent unique where a provider needs them", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const chat = wireOf("Chat Completions")
      server.enqueue(chat.toolStep({ id: "call_1", name: "clock" }), chat.toolStep({ id: "call_1", name: "clock" }), chat.answer)
      const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
      const result = yield* Turn.run({ conversation, input: "Time in Tokyo, twice?", toolkit }).pipe(Effect.provide(onHttp(chat.layer(server.url))))
      expect(result.steps).toBe(3)
      const history = yield* SubscriptionRef.get(conversation)
      for (const request of server.requests) expect(requestProblems["Chat Completions"](request.json, history)).toEqual([])
      expect(yield* continueEverywhere(server, history)).toEqual(none)
      // the last continuation went to Kimi; the one before to Gemini, the one before that to Anthropic
      const anthropic = server.requests.at(-3)!.json as any
      const uses = anthropic.messages.flatMap((m: any) => m.content).filter((b: any) => b.type === "tool_use").map((b: any) => b.id)
      expect(new Set(uses).size).toBe(2)
    }))

  it.scopedLive("a Gemini history stored when each response numbered its calls from call_0 continues everywhere", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const step = (signature: string, tz: string): ReadonlyArray<Message.Message> => [
        {
          _tag: "Assistant",
          content: [{ ...Part.toolCall("call_0", "clock", JSON.stringify({ tz })), metadata: { thoughtSignature: signature } }],
          stopReason: "tool-calls",
          usage: Usage.empty,
          provider: "google",
          model: "gemini-2.5-flash"
        },
        Message.toolResult({ toolCallId: "call_0", toolName: "clock", content: `12:00 in ${tz}` })
      ]
      const history = [Message.user("Tokyo, then Oslo?"), ...step("sig-a", "Asia/Tokyo"), ...step("sig-b", "Europe/Oslo")]
      expect(yield* continueEverywhere(server, history)).toEqual(none)
    }))

  it.scopedLive("Gemini calls without ids get ids unique across the conversation, which are never sent to Gemini", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const gemini = wireOf("Gemini")
      server.enqueue(gemini.toolStep({ id: "unused", name: "clock" }), gemini.toolStep({ id: "unused", name: "clock" }), gemini.answer)
      const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
      yield* Turn.run({ conversation, input: "Time in Tokyo, twice?", toolkit }).pipe(Effect.provide(onHttp(gemini.layer(server.url))))
      const history = yield* SubscriptionRef.get(conversation)
      const ids = history.flatMap((message) => (message._tag === "Assistant" ? Message.toolCalls(message).map((c) => c.id) : []))
      expect(ids).toEqual([expect.stringMatching(/^call_[0-9A-Za-z]{24}$/), expect.stringMatching(/^call_[0-9A-Za-z]{24}$/)])
      expect(ids[0]).not.toBe(ids[1])
      // the third request holds both steps: each signed call, each answered, and no id of ours
      const third = server.requests[2].json as any
      expect(requestProblems.Gemini(third, history)).toEqual([])
      const parts = third.contents.flatMap((content: any) => content.parts)
      expect(parts.filter((part: any) => part.functionCall !== undefined).map((part: any) => part.functionCall.id)).toEqual([undefined, undefined])
      expect(parts.filter((part: any) => part.functionResponse !== undefined)).toHaveLength(2)
    }))
})

/** A request body that breaks one documented rule, the same body with it kept, and the problem it gives. */
interface Case {
  readonly format: WireFormat
  readonly rule: string
  readonly bad: unknown
  readonly good: unknown
  /** A fragment of the problem `bad` must give. */
  readonly problem: string
  readonly history?: ReadonlyArray<Message.Message>
}

const user = (text: string) => ({ role: "user", content: [{ type: "text", text }] })
const claude = (...content: ReadonlyArray<unknown>) => ({ role: "assistant", content })
const toolUse = (id: string) => ({ type: "tool_use", id, name: "clock", input: {} })
const toolResult = (id: string) => ({ type: "tool_result", tool_use_id: id, content: "noon" })
const chatCall = (id: string) => ({ role: "assistant", content: null, tool_calls: [{ id, type: "function", function: { name: "clock", arguments: "{}" } }] })
const anthropicThinking: Message.Assistant = {
  _tag: "Assistant",
  content: [{ _tag: "Reasoning", text: "Think.", signature: "sig-real" }],
  stopReason: "stop",
  usage: Usage.empty,
  provider: "anthropic",
  model: "claude"
}
const geminiCall: Message.Assistant = {
  ...anthropicThinking,
  content: [{ ...Part.toolCall("call_x", "clock", "{}"), metadata: { functionCallId: "fc_real", thoughtSignature: "sig-real" } }],
  provider: "google"
}

const cases: ReadonlyArray<Case> = [
  {
    format: "Anthropic Messages",
    rule: "text blocks hold non-whitespace text",
    bad: { messages: [user("Hi"), claude({ type: "text", text: " \n" }), user("Go on")] },
    good: { messages: [user("Hi"), claude({ type: "text", text: "Hello" }), user("Go on")] },
    problem: "empty or only whitespace"
  },
  {
    format: "Anthropic Messages",
    rule: "tool_use ids are unique in a request",
    bad: { messages: [user("Hi"), claude(toolUse("a")), { role: "user", content: [toolResult("a")] }, claude(toolUse("a")), { role: "user", content: [toolResult("a")] }] },
    good: { messages: [user("Hi"), claude(toolUse("a")), { role: "user", content: [toolResult("a")] }, claude(toolUse("b")), { role: "user", content: [toolResult("b")] }] },
    problem: "a second tool_use"
  },
  {
    format: "Anthropic Messages",
    rule: "tool_use ids match ^[a-zA-Z0-9_-]+$",
    bad: { messages: [user("Hi"), claude(toolUse("functions.clock:0")), { role: "user", content: [toolResult("functions.clock:0")] }] },
    good: { messages: [user("Hi"), claude(toolUse("functions_clock_0")), { role: "user", content: [toolResult("functions_clock_0")] }] },
    problem: "outside ^[a-zA-Z0-9_-]+$"
  },
  {
    format: "Anthropic Messages",
    rule: "tool results come first in their user turn",
    bad: { messages: [user("Hi"), claude(toolUse("a")), { role: "user", content: [{ type: "text", text: "Here:" }, toolResult("a")] }] },
    good: { messages: [user("Hi"), claude(toolUse("a")), { role: "user", content: [toolResult("a"), { type: "text", text: "Here:" }] }] },
    problem: "a tool_result after other content"
  },
  {
    format: "Anthropic Messages",
    rule: "each tool_use is answered in the next turn, across consecutive user messages",
    bad: { messages: [user("Hi"), claude(toolUse("a")), user("Wait"), claude({ type: "text", text: "Ok" }), user("Go")] },
    good: { messages: [user("Hi"), claude(toolUse("a")), { role: "user", content: [toolResult("a")] }, user("Wait")] },
    problem: "have no result in the turn after them"
  },
  {
    format: "Anthropic Messages",
    rule: "thinking goes back unmodified, only Claude's",
    bad: { messages: [user("Hi"), claude({ type: "thinking", thinking: "Think!", signature: "sig-real" }, { type: "text", text: "Yes" }), user("Go")] },
    good: { messages: [user("Hi"), claude({ type: "thinking", thinking: "Think.", signature: "sig-real" }, { type: "text", text: "Yes" }), user("Go")] },
    problem: "did not send as it is",
    history: [anthropicThinking]
  },
  {
    format: "Anthropic Messages",
    rule: "a prefill ends without whitespace, and none with thinking",
    bad: { messages: [user("Hi"), claude({ type: "text", text: "It is " })] },
    good: { messages: [user("Hi"), claude({ type: "text", text: "It is" })] },
    problem: "a prefill that ends with whitespace"
  },
  {
    format: "Chat Completions",
    rule: "every tool call is answered before the next message",
    bad: { messages: [user("Hi"), chatCall("c1"), { role: "user", content: "Go" }] },
    good: { messages: [user("Hi"), chatCall("c1"), { role: "tool", tool_call_id: "c1", content: "noon" }, { role: "user", content: "Go" }] },
    problem: "have no result"
  },
  {
    format: "Chat Completions",
    rule: "a tool message answers a call of the assistant message before it",
    bad: { messages: [user("Hi"), { role: "tool", tool_call_id: "c1", content: "noon" }] },
    good: { messages: [user("Hi"), chatCall("c1"), { role: "tool", tool_call_id: "c1", content: "noon" }] },
    problem: "which no open call has"
  },
  {
    format: "Kimi",
    rule: "with thinking on, tool-call messages carry reasoning_content",
    bad: { thinking: { type: "enabled" }, messages: [user("Hi"), chatCall("c1"), { role: "tool", tool_call_id: "c1", content: "noon" }] },
    good: { thinking: { type: "disabled" }, messages: [user("Hi"), chatCall("c1"), { role: "tool", tool_call_id: "c1", content: "noon" }] },
    problem: "without reasoning_content"
  },
  {
    format: "OpenAI Responses",
    rule: "reasoning goes back as its encrypted content",
    bad: { input: [{ role: "user", content: "Hi" }, { type: "reasoning", summary: [] }] },
    good: { input: [{ role: "user", content: "Hi" }, { type: "reasoning", summary: [], encrypted_content: "enc" }] },
    problem: "without encrypted content"
  },
  {
    format: "OpenAI Responses",
    rule: "call_ids are unique, and each output follows its call",
    bad: {
      input: [
        { type: "function_call_output", call_id: "c", output: "x" },
        { type: "function_call", call_id: "c", name: "clock", arguments: "{}" },
        { type: "function_call", call_id: "c", name: "clock", arguments: "{}" }
      ]
    },
    good: {
      input: [
        { type: "function_call", call_id: "c", name: "clock", arguments: "{}" },
        { type: "function_call_output", call_id: "c", output: "x" },
        { type: "function_call", call_id: "c_2", name: "clock", arguments: "{}" },
        { type: "function_call_output", call_id: "c_2", output: "x" }
      ]
    },
    problem: "a second call with the call_id c"
  },
  {
    format: "Gemini",
    rule: "roles are user and model only",
    bad: { contents: [{ role: "user", parts: [{ text: "Hi" }] }, { role: "assistant", parts: [{ text: "Hello" }] }] },
    good: { contents: [{ role: "user", parts: [{ text: "Hi" }] }, { role: "model", parts: [{ text: "Hello" }] }] },
    problem: "the role assistant"
  },
  {
    format: "Gemini",
    rule: "the next user content answers each function call",
    bad: {
      contents: [
        { role: "user", parts: [{ text: "Hi" }] },
        { role: "model", parts: [{ functionCall: { name: "clock", args: {} }, thoughtSignature: "s" }, { functionCall: { name: "clock", args: {} } }] },
        { role: "user", parts: [{ functionResponse: { name: "clock", response: {} } }] }
      ]
    },
    good: {
      contents: [
        { role: "user", parts: [{ text: "Hi" }] },
        { role: "model", parts: [{ functionCall: { name: "clock", args: {} }, thoughtSignature: "s" }, { functionCall: { name: "clock", args: {} } }] },
        { role: "user", parts: [{ functionResponse: { name: "clock", response: {} } }, { functionResponse: { name: "clock", response: {} } }] }
      ]
    },
    problem: "2 function calls answered by 1 responses"
  },
  {
    format: "Gemini",
    rule: "the first call of each step of the current turn is signed",
    bad: {
      contents: [
        { role: "user", parts: [{ text: "Hi" }] },
        { role: "model", parts: [{ functionCall: { name: "clock", args: {} } }] },
        { role: "user", parts: [{ functionResponse: { name: "clock", response: {} } }] }
      ]
    },
    good: {
      contents: [
        { role: "user", parts: [{ text: "Hi" }] },
        { role: "model", parts: [{ functionCall: { name: "clock", args: {} }, thoughtSignature: "skip_thought_signature_validator" }] },
        { role: "user", parts: [{ functionResponse: { name: "clock", response: {} } }] }
      ]
    },
    problem: "has no signature"
  },
  {
    format: "Gemini",
    rule: "a functionCall id is one Gemini gave",
    bad: {
      contents: [
        { role: "user", parts: [{ text: "Hi" }] },
        { role: "model", parts: [{ functionCall: { id: "call_x", name: "clock", args: {} }, thoughtSignature: "sig-real" }] },
        { role: "user", parts: [{ functionResponse: { id: "call_x", name: "clock", response: {} } }] }
      ]
    },
    good: {
      contents: [
        { role: "user", parts: [{ text: "Hi" }] },
        { role: "model", parts: [{ functionCall: { id: "fc_real", name: "clock", args: {} }, thoughtSignature: "sig-real" }] },
        { role: "user", parts: [{ functionResponse: { id: "fc_real", name: "clock", response: {} } }] }
      ]
    },
    problem: "that Gemini did not give",
    history: [geminiCall]
  }
]

describe("the rules", () => {
  it.each(cases)("$format: $rule", ({ bad, format, good, history, problem }) => {
    expect(requestProblems[format](bad, history).join("\n")).toContain(problem)
    expect(requestProblems[format](good, history)).toEqual([])
  })
})
