/**
 * Provider faults, reproducible from a seed. Three pieces:
 * - `script`: a `ProviderServer` script that exhibits one fault in one wire format (an error status,
 *   a reset, a stall, a cut-off or corrupt stream, an error event, an oversized event, a slow drip,
 *   a tool call cut mid-arguments), placed at a chosen event of an otherwise good reply; or what
 *   real servers, gateways and proxies send besides (a body that lingers after its last event, a
 *   compressed body, a gateway's JSON or HTML on a 200, a whole non-streamed answer, an error body
 *   that stalls or trickles, a key quoted back, an error right after the opening event, the tool
 *   call dialects of OpenAI-compatible servers);
 * - `seeded`: a small deterministic PRNG that picks faults and placements, so a failing run can be
 *   replayed from its seed;
 * - `transport` / `layer`: an `HttpClient` wrapper that injects transport faults into any client
 *   (a reset before the request is sent, a synthetic error status, a body that breaks off or ends
 *   early), at a seeded rate.
 *
 * @example
 * ```ts
 * import { Chaos, ProviderServer } from "@reins/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* ProviderServer.make()
 *   const chaos = Chaos.seeded(7)
 *   // One seeded fault in Anthropic's format, then a good reply for the retry, if there is one.
 *   server.enqueue(Chaos.script(chaos.plan("Messages")), Chaos.reply("Messages"))
 *   return server.url
 * })
 * ```
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as ChatCompletions from "./ChatCompletions.js"
import * as Completion from "./Completion.js"
import * as Gateway from "./Gateway.js"
import * as Gemini from "./Gemini.js"
import * as Messages from "./Messages.js"
import * as Responses from "./Responses.js"
import * as Script from "./Script.js"

/** A provider wire format a fault can be scripted in. */
export type Format = "ChatCompletions" | "Responses" | "Messages" | "Gemini"

/** Every format. */
export const formats: ReadonlyArray<Format> = ["ChatCompletions", "Responses", "Messages", "Gemini"]

/** A fault a provider server can exhibit. */
export type Fault =
  /** The format's overloaded status (503; Anthropic 529) with its error body, no `Retry-After`. */
  | "Status"
  /** 429 with `Retry-After: 1` (seconds). */
  | "RetryAfter"
  /** 429 with `retry-after-ms: 100`. */
  | "RetryAfterMs"
  /** The socket is destroyed before any response header. */
  | "ResetBeforeHeaders"
  /** No response header, until the client goes away. */
  | "StallBeforeHeaders"
  /** The socket is destroyed after the events before the placement. */
  | "ResetMidBody"
  /** The response ends cleanly after the events before the placement: no terminal event. */
  | "CutOff"
  /** Silence after the events before the placement, until the client goes away. */
  | "StallMidBody"
  /** The event at the placement is sent one byte at a time; the reply is otherwise whole. */
  | "SlowDrip"
  /** The event at the placement has its JSON cut in half; then silence. */
  | "CorruptJson"
  /** The format's own error event at the placement (all retryable kinds); then silence. */
  | "ErrorEvent"
  /** A text delta event larger than the 16 MiB SSE limit at the placement; then silence. */
  | "Oversized"
  /** The tool call's arguments are cut in half and the reply ends as a model out of tokens does. */
  | "TruncatedToolCall"
  /** The reply whole, then the body stays open and silent until the client goes away. */
  | "Linger"
  /** The reply whole, then the body stays open with an SSE comment every `lingerPingMs`. */
  | "LingerWithPings"
  /** The reply gzip-compressed, with a pause after each event, at which the compressor is flushed. */
  | "Gzip"
  /** The reply brotli-compressed (`br`), flushed at a pause after each event. */
  | "Brotli"
  /** The reply deflate-compressed, flushed at a pause after each event. */
  | "Deflate"
  /** An error status (`plan.status`) with the format's error body, gzip-compressed. */
  | "CompressedErrorBody"
  /** Status 200 with a gateway's JSON error object that gives no reason to retry (`model_not_found`). */
  | "GatewayJsonError"
  /** Status 200 with a gateway's JSON error object that says to retry (`type: "overloaded"`, `code: 503`). */
  | "GatewayOverloaded"
  /** Status 200 with a proxy's HTML "502 Bad Gateway" page. */
  | "GatewayHtml"
  /** Status 200 with an HTML sign-in page. */
  | "LoginPage"
  /** Status 200 with the format's non-streamed answer (`text` and `toolCall`) as one JSON object. */
  | "Unstreamed"
  /** An error status (`plan.status`) whose JSON body stops half-way; then silence. */
  | "StalledErrorBody"
  /** An error status (`plan.status`) whose JSON body comes one byte every `trickleMs`. */
  | "TricklingErrorBody"
  /** A 401 that quotes the request's key in its JSON message and its `www-authenticate` header. */
  | "KeyEcho"
  /** An error event at the placement that quotes the request's key; then silence. */
  | "KeyEchoEvent"
  /** The format's opening event, no content, then its retryable error event; then silence. */
  | "ErrorBeforeContentStall"
  /** The format's opening event, no content, then its retryable error event; then the body ends. */
  | "ErrorBeforeContentEnd"
  /** Chat Completions: the reply with `parallelToolCalls`, every delta at index 0, the calls told apart by id. */
  | "SameIndexToolCalls"
  /** Chat Completions: the reply with `parallelToolCalls`, no delta with an index. */
  | "NoIndexToolCalls"
  /** Chat Completions: the reply with `parallelToolCalls`, id and name repeated on every delta. */
  | "RepeatedToolCallHeaders"
  /** Chat Completions: the reply with `parallelToolCalls`, each call's arguments whole in one delta. */
  | "WholeToolCallArguments"
  /** Chat Completions: the reply with `parallelToolCalls`, ended with `finish_reason: "stop"`. */
  | "StopAfterToolCalls"
  /** Chat Completions: the reply with `parallelToolCalls`, no id on any delta. */
  | "ToolCallsWithoutId"

/** Every fault. */
export const faults: ReadonlyArray<Fault> = [
  "Status",
  "RetryAfter",
  "RetryAfterMs",
  "ResetBeforeHeaders",
  "StallBeforeHeaders",
  "ResetMidBody",
  "CutOff",
  "StallMidBody",
  "SlowDrip",
  "CorruptJson",
  "ErrorEvent",
  "Oversized",
  "TruncatedToolCall",
  "Linger",
  "LingerWithPings",
  "Gzip",
  "Brotli",
  "Deflate",
  "CompressedErrorBody",
  "GatewayJsonError",
  "GatewayOverloaded",
  "GatewayHtml",
  "LoginPage",
  "Unstreamed",
  "StalledErrorBody",
  "TricklingErrorBody",
  "KeyEcho",
  "KeyEchoEvent",
  "ErrorBeforeContentStall",
  "ErrorBeforeContentEnd",
  "SameIndexToolCalls",
  "NoIndexToolCalls",
  "RepeatedToolCallHeaders",
  "WholeToolCallArguments",
  "StopAfterToolCalls",
  "ToolCallsWithoutId"
]

/** The faults that only OpenAI-compatible Chat Completions servers show: their tool call dialects. */
export const dialectFaults: ReadonlyArray<Fault> = [
  "SameIndexToolCalls",
  "NoIndexToolCalls",
  "RepeatedToolCallHeaders",
  "WholeToolCallArguments",
  "StopAfterToolCalls",
  "ToolCallsWithoutId"
]

/** The faults that exist in a format: all of them in Chat Completions, all but its dialects elsewhere. */
export const faultsOf = (format: Format): ReadonlyArray<Fault> =>
  format === "ChatCompletions" ? faults : faults.filter((fault) => !dialectFaults.includes(fault))

/** Whether a fault hits at a placement inside the body (the others ignore it). */
export const isPlaced = (fault: Fault): boolean =>
  fault === "ResetMidBody" || fault === "CutOff" || fault === "StallMidBody" || fault === "SlowDrip" ||
  fault === "CorruptJson" || fault === "ErrorEvent" || fault === "Oversized" || fault === "KeyEchoEvent"

/** The error statuses a fault with a status of choice is drawn with: one of each error the library tells apart. */
export const errorBodyStatuses: ReadonlyArray<number> = [500, 429, 401]

/** Whether a fault sends an error status of choice (`Plan.status`, one of `errorBodyStatuses`). */
export const takesStatus = (fault: Fault): boolean =>
  fault === "StalledErrorBody" || fault === "TricklingErrorBody" || fault === "CompressedErrorBody"

/** The text every scripted reply streams; not ASCII, so that a drip splits UTF-8 characters. */
export const text = "Grüße aus Köln ☀, bis bald!"

/** The tool call every scripted reply makes after its text. */
export const toolCall = { id: "call_chaos_1", name: "lookup", arguments: { city: "Zürich", unit: "celsius" } } as const

/** The tool call's arguments as JSON text. */
export const toolArguments = JSON.stringify(toolCall.arguments)

/** The two tool calls, made side by side, of the replies in the Chat Completions dialects. */
export const parallelToolCalls = [
  toolCall,
  { id: "call_chaos_2", name: "lookup", arguments: { city: "Köln", unit: "fahrenheit" } }
] as const

/** The tool calls a fault's reply makes, in order, when it is whole. */
export const toolCallsOf = (fault: Fault): ReadonlyArray<{ readonly id: string; readonly name: string; readonly arguments: object }> =>
  dialectFaults.includes(fault) ? parallelToolCalls : [toolCall]

/** How often `LingerWithPings` sends its keep-alive comment, in milliseconds. */
export const lingerPingMs = 20

/** How long `TricklingErrorBody` waits between the bytes of its body, in milliseconds. */
export const trickleMs = 20

/** What `RetryAfter` asks for, in seconds, and `RetryAfterMs`, in milliseconds. */
export const retryAfter = { seconds: 1, millis: 100 } as const

/** Characters of text in an `Oversized` event: over the SSE decoder's default limit of 16 MiB. */
export const oversizedChars = 17 * 1024 * 1024

/** A fault, and where it hits in a reply of its format. */
export interface Plan {
  readonly format: Format
  readonly fault: Fault
  /**
   * For placed faults: how many events of the reply go out before the fault, from 0 (none: nothing
   * has reached the consumer yet) to `placements(format) - 1` (all but the terminal events).
   * `midText(format)` when absent.
   */
  readonly at?: number | undefined
  /** For faults that `takesStatus`: the error status, the first of `errorBodyStatuses` when absent. */
  readonly status?: number | undefined
}

/** One format's reply, cut into the parts faults are built from. */
interface Shape {
  /** The events before the terminal ones; placements cut in here. */
  readonly body: ReadonlyArray<Script.Step>
  /** The terminal events, without which the reply is cut off. */
  readonly tail: ReadonlyArray<Script.Step>
  /** Where in `body` the first text delta is. */
  readonly firstText: number
  /** The reply with its tool call's arguments cut in half, ended as the model running out of tokens. */
  readonly truncated: () => ReadonlyArray<Script.Step>
  readonly errorEvent: Script.Step
  readonly textDelta: (text: string) => Script.Step
  readonly errorBody: (status: number, message: string, headers?: Record<string, string>) => Script.Script
  /** The status the provider answers when overloaded. */
  readonly overloaded: number
  /** The first event of a reply, before any content: what a server sends as soon as it accepts the request. */
  readonly opening: ReadonlyArray<Script.Step>
  /** The format's error event for a key it turned down, with `message`. */
  readonly keyEvent: (message: string) => Script.Step
  /** The reply as the format's non-streamed answer. */
  readonly completion: Record<string, unknown>
}

const whole: Completion.Content = { text, toolCalls: [toolCall] }

const truncatedArguments = toolArguments.slice(0, Math.floor(toolArguments.length / 2))

const chatCompletions = (): Shape => {
  const head = [ChatCompletions.start(), ...ChatCompletions.text(text)]
  const call = { id: toolCall.id, name: toolCall.name, chunkSize: 8 }
  const usage = ChatCompletions.usage({ prompt_tokens: 5, completion_tokens: 12 })
  return {
    body: [...head, ...ChatCompletions.toolCall({ ...call, arguments: toolArguments })],
    tail: [ChatCompletions.finish("tool_calls"), usage, ChatCompletions.done],
    firstText: 1,
    truncated: () => [
      ...head,
      ...ChatCompletions.toolCall({ ...call, arguments: truncatedArguments }),
      ChatCompletions.finish("length"),
      usage,
      ChatCompletions.done
    ],
    errorEvent: ChatCompletions.errorEvent(500, "The server had an error while processing your request."),
    textDelta: (content) => Script.event(ChatCompletions.chunk({ content })),
    errorBody: (status, message, headers) => ChatCompletions.errorBody(status, message, { headers }),
    overloaded: 503,
    opening: [Script.event(ChatCompletions.chunk({ role: "assistant" }))],
    keyEvent: (message) => ChatCompletions.errorEvent(401, message, { type: "invalid_request_error", code: "invalid_api_key" }),
    completion: Completion.chatCompletion(whole)
  }
}

const responses = (): Shape => {
  const head = [Responses.created(), Responses.inProgress(), ...Responses.message(text, { outputIndex: 0 })]
  const call = { callId: toolCall.id, name: toolCall.name, outputIndex: 1, chunkSize: 8 }
  const usage = { input_tokens: 5, output_tokens: 12 }
  return {
    body: [...head, ...Responses.functionCall({ ...call, arguments: toolArguments })],
    tail: [Responses.completed({ usage })],
    firstText: 4,
    // a response cut short never sends the call's `done` events
    truncated: () => [
      ...head,
      ...Responses.functionCall({ ...call, arguments: truncatedArguments }).slice(0, -2),
      Responses.incomplete("max_output_tokens", { usage })
    ],
    errorEvent: Responses.errorEvent(500, "The server had an error while processing your request."),
    textDelta: (delta) =>
      Responses.event({ type: "response.output_text.delta", item_id: "msg_reins_test", output_index: 0, content_index: 0, delta }),
    errorBody: (status, message, headers) => Responses.errorBody(status, message, { headers }),
    overloaded: 503,
    opening: [Responses.created()],
    keyEvent: (message) => Responses.errorEvent(401, message, { type: "invalid_request_error" }),
    completion: Completion.response(whole)
  }
}

const messages = (): Shape => {
  const head = [Messages.messageStart({ usage: { input_tokens: 5 } }), Messages.ping, ...Messages.text(0, text)]
  const call = { index: 1, id: toolCall.id, name: toolCall.name, chunkSize: 8 }
  return {
    body: [...head, ...Messages.toolUse({ ...call, input: toolArguments })],
    tail: [Messages.messageDelta("tool_use", { output_tokens: 12 }), Messages.messageStop],
    firstText: 3,
    truncated: () => [
      ...head,
      ...Messages.toolUse({ ...call, input: truncatedArguments }),
      Messages.messageDelta("max_tokens", { output_tokens: 12 }),
      Messages.messageStop
    ],
    errorEvent: Messages.errorEvent(529, "Overloaded"),
    textDelta: (delta) => Messages.blockDelta(0, { type: "text_delta", text: delta }),
    errorBody: (status, message, headers) => Messages.errorBody(status, message, { headers }),
    overloaded: 529,
    opening: [Messages.messageStart({ usage: { input_tokens: 5 } })],
    keyEvent: (message) => Messages.errorEvent(401, message),
    completion: Completion.message(whole)
  }
}

const gemini = (): Shape => {
  const head = Gemini.text(text)
  const usage = { promptTokenCount: 5, candidatesTokenCount: 12 }
  return {
    body: [...head, Gemini.functionCall({ id: toolCall.id, name: toolCall.name, args: toolCall.arguments })],
    tail: [Gemini.finish("STOP", { usage })],
    firstText: 0,
    // Gemini's arguments are JSON values, not text: only streamed ones (`partialArgs`) can be cut,
    // here after half of the fragments, without the closing one
    truncated: () => {
      const streamed = Gemini.streamedFunctionCall({ id: toolCall.id, name: toolCall.name, args: toolCall.arguments, chunkSize: 3 })
      return [...head, ...streamed.slice(0, 1 + Math.ceil((streamed.length - 2) / 2)), Gemini.finish("MAX_TOKENS", { usage })]
    },
    errorEvent: Gemini.errorEvent(503, "The model is overloaded. Please try again later."),
    textDelta: (delta) => Gemini.event([{ text: delta }]),
    errorBody: (status, message, headers) => Gemini.errorBody(status, message, { headers }),
    overloaded: 503,
    // a first response with a candidate but no parts yet
    opening: [Gemini.event([])],
    keyEvent: (message) => Gemini.errorEvent(401, message),
    completion: Completion.generateContent(whole)
  }
}

const makers: Record<Format, () => Shape> = {
  ChatCompletions: chatCompletions,
  Responses: responses,
  Messages: messages,
  Gemini: gemini
}
const shapes: Partial<Record<Format, Shape>> = {}

/** A format's shape, built once: scripts are plain data that nothing changes. */
const shapeOf = (format: Format): Shape => (shapes[format] ??= makers[format]())

/** Right after the second text delta of a shape. */
const middle = (shape: Shape): number => shape.firstText + 2

/** The good reply faults are cut from: `text`, then `toolCall`, then the terminal events. */
export const reply = (format: Format): Script.Script => {
  const shape = shapeOf(format)
  return Script.make([...shape.body, ...shape.tail])
}

/** How many placements a format's reply has: `at` runs from 0 to this minus one. */
export const placements = (format: Format): number => shapeOf(format).body.length + 1

/** The placement right after the second text delta: some text has reached the consumer. */
export const midText = (format: Format): number => middle(shapeOf(format))

/** The event with its JSON cut in half (a cut JSON object or `[DONE]` never parses). */
const corrupt = (step: Script.Step | undefined): Script.Step =>
  step?._tag === "Event" ? { ...step, data: step.data.slice(0, Math.ceil(step.data.length / 2)) } : Script.raw("data: {\"trunc\n\n")

/**
 * A text delta of `oversizedChars` letters, as bytes: filled in place, since building and
 * stringifying a 17 MiB string costs the best part of a second.
 */
const oversized = (shape: Shape): Script.Step => {
  const marker = "\u0001"
  const [before, after] = Script.encode(shape.textDelta(marker))!.toString().split(JSON.stringify(marker).slice(1, -1))
  const head = Buffer.byteLength(before)
  const bytes = Buffer.allocUnsafe(head + oversizedChars + Buffer.byteLength(after))
  bytes.write(before, 0)
  bytes.fill("x", head, head + oversizedChars)
  bytes.write(after, head + oversizedChars)
  return Script.raw(bytes)
}

/** The message of an error body of each status the faults send. */
const statusMessage = (status: number): string =>
  status === 429
    ? "Rate limit reached."
    : status === 401
    ? "Invalid authentication credentials."
    : "The server had an error while processing your request."

/** What a proxy that quotes the key says, in the body and in a header. */
const keyMessage = `Incorrect API key provided: ${Script.requestKey}. You can find your API key in your account settings.`
const keyHeader = `Bearer realm="api", error="invalid_token", error_description="the key ${Script.requestKey} is not valid"`

/** The Chat Completions reply with `parallelToolCalls` in a dialect. */
const dialectReply = (dialect: ChatCompletions.ToolCallDialect, finishReason: string = "tool_calls"): Script.Script =>
  ChatCompletions.reply({
    text,
    toolCalls: parallelToolCalls.map((call) => ({ ...call, chunkSize: 8 })),
    toolCallDialect: dialect,
    finishReason,
    usage: { prompt_tokens: 5, completion_tokens: 12 }
  })

/**
 * A script that exhibits `plan.fault` in `plan.format`, placed at `plan.at` (see `Plan`).
 *
 * @example
 * ```ts
 * import { Chaos, ProviderServer } from "@reins/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* ProviderServer.make()
 *   // Gemini's stream stalls before its first event, then a good reply.
 *   server.enqueue(Chaos.script({ format: "Gemini", fault: "StallMidBody", at: 0 }), Chaos.reply("Gemini"))
 *   return server.url
 * })
 * ```
 */
export const script = (plan: Plan): Script.Script => {
  const shape = shapeOf(plan.format)
  const events = [...shape.body, ...shape.tail]
  const at = Math.max(0, Math.min(plan.at ?? middle(shape), shape.body.length))
  const before = events.slice(0, at)
  const rest = events.slice(at)
  const status = plan.status ?? errorBodyStatuses[0]
  const errorBody = () => shape.errorBody(status, statusMessage(status))
  // a pause after each event, at which a compressed body is flushed
  const compressed = (encoding: Script.Encoding) => Script.make(Script.spaced(events, 1), { encoding })
  switch (plan.fault) {
    case "Status":
      return shape.errorBody(shape.overloaded, "The service is overloaded, try again later.")
    case "RetryAfter":
      return shape.errorBody(429, "Rate limit reached.", { "retry-after": String(retryAfter.seconds) })
    case "RetryAfterMs":
      return shape.errorBody(429, "Rate limit reached.", { "retry-after-ms": String(retryAfter.millis) })
    case "ResetBeforeHeaders":
      return Script.hangUp()
    case "StallBeforeHeaders":
      return Script.make(events, { headersDelay: Infinity })
    case "ResetMidBody":
      return Script.make([...before, Script.drop()])
    case "CutOff":
      return Script.make(before)
    case "StallMidBody":
      return Script.make([...before, Script.stall()])
    case "SlowDrip":
      return Script.make([...before, ...Script.drip(rest.slice(0, 1)), ...rest.slice(1)])
    case "CorruptJson":
      return Script.make([...before, corrupt(rest[0]), Script.stall()])
    case "ErrorEvent":
      return Script.make([...before, shape.errorEvent, Script.stall()])
    case "Oversized":
      return Script.make([...before, oversized(shape), Script.stall()])
    case "TruncatedToolCall":
      return Script.make(shape.truncated())
    case "Linger":
      return Script.make(events, { linger: true })
    case "LingerWithPings":
      return Script.make(events, { linger: { pingEvery: lingerPingMs } })
    case "Gzip":
      return compressed("gzip")
    case "Brotli":
      return compressed("br")
    case "Deflate":
      return compressed("deflate")
    case "CompressedErrorBody":
      return { ...errorBody(), encoding: "gzip" }
    case "GatewayJsonError":
      return Gateway.jsonError()
    case "GatewayOverloaded":
      return Gateway.overloaded()
    case "GatewayHtml":
      return Gateway.badGateway()
    case "LoginPage":
      return Gateway.loginPage()
    case "Unstreamed":
      return Completion.script(shape.completion)
    case "StalledErrorBody":
      return Script.stallMidway(errorBody())
    case "TricklingErrorBody":
      return Script.trickle(errorBody(), trickleMs)
    case "KeyEcho":
      return { ...shape.errorBody(401, keyMessage, { "www-authenticate": keyHeader }), echoKey: true }
    case "KeyEchoEvent":
      return Script.make([...before, shape.keyEvent(keyMessage), Script.stall()], { echoKey: true })
    case "ErrorBeforeContentStall":
      return Script.make([...shape.opening, shape.errorEvent, Script.stall()])
    case "ErrorBeforeContentEnd":
      return Script.make([...shape.opening, shape.errorEvent])
    case "SameIndexToolCalls":
      return dialectReply("sameIndex")
    case "NoIndexToolCalls":
      return dialectReply("noIndex")
    case "RepeatedToolCallHeaders":
      return dialectReply("repeatedHeader")
    case "WholeToolCallArguments":
      return dialectReply("wholeArguments")
    case "StopAfterToolCalls":
      return dialectReply("openai", "stop")
    case "ToolCallsWithoutId":
      return dialectReply("noId")
  }
}

/** The format a request path belongs to, as each provider layer builds its URL. */
export const formatOf = (path: string): Format | undefined =>
  path.includes(":streamGenerateContent")
    ? "Gemini"
    : path.includes("/chat/completions")
    ? "ChatCompletions"
    : path.includes("/responses")
    ? "Responses"
    : path.includes("/messages")
    ? "Messages"
    : undefined

/** A deterministic source of choices: the same seed gives the same sequence. */
export interface Chooser {
  /** A number in [0, 1). */
  readonly next: () => number
  /** An integer in [0, n). */
  readonly int: (n: number) => number
  /** One of `items` (which must not be empty). */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  /**
   * A fault among those of `among` (all by default) that exist in `format`, with, for a placed one,
   * where it hits, and for one that takes a status, its status.
   */
  readonly plan: (format: Format, among?: ReadonlyArray<Fault>) => Plan
}

/**
 * A chooser seeded with `seed` (mulberry32: 32 bits of state, good enough to spread faults, tiny
 * and the same on every platform).
 *
 * @example
 * ```ts
 * import { Chaos } from "@reins/testing"
 *
 * const plans = (seed: number) => {
 *   const chaos = Chaos.seeded(seed)
 *   return Chaos.formats.map((format) => chaos.plan(format))
 * }
 * assert.deepStrictEqual(plans(42), plans(42)) // a failing seed replays
 * ```
 */
export const seeded = (seed: number): Chooser => {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(items.length)]
  const plan = (format: Format, among: ReadonlyArray<Fault> = faults): Plan => {
    const here = faultsOf(format)
    const within = among.filter((fault) => here.includes(fault))
    if (within.length === 0) throw new Error(`Chaos: none of the faults ${among.join(", ")} exists in ${format}`)
    const fault = pick(within)
    const placed: Plan = isPlaced(fault) ? { format, fault, at: int(placements(format)) } : { format, fault }
    return takesStatus(fault) ? { ...placed, status: pick(errorBodyStatuses) } : placed
  }
  return { next, int, pick, plan }
}

/** A fault the `HttpClient` wrapper injects. */
export type TransportFault =
  /** The request fails before it is sent, with the `RequestError` a reset connection gives. */
  | "Reset"
  /** A synthetic 503 response without `Retry-After`; the request is never sent. */
  | "Status"
  /** A synthetic 429 response with `retry-after-ms`; the request is never sent. */
  | "RetryAfter"
  /** The real response, whose body fails as a reset connection does after some bytes. */
  | "BodyFailure"
  /** The real response, whose body ends cleanly after some bytes. */
  | "Truncate"

/** Every transport fault. */
export const transportFaults: ReadonlyArray<TransportFault> = ["Reset", "Status", "RetryAfter", "BodyFailure", "Truncate"]

/** How the `HttpClient` wrapper injects faults. */
export interface TransportOptions {
  readonly seed: number
  /** The share of requests that get a fault, from 0 to 1. */
  readonly rate: number
  /** The faults to choose from; all by default. */
  readonly faults?: ReadonlyArray<TransportFault> | undefined
  /** Body faults hit after a number of bytes below this; 2048 by default. */
  readonly maxBytes?: number | undefined
  /** What the synthetic `RetryAfter` response asks for, in milliseconds; 20 by default. */
  readonly retryAfterMs?: number | undefined
  /** Told of each fault as it is injected, for logs and assertions. */
  readonly onFault?: ((fault: TransportFault, request: HttpClientRequest.HttpClientRequest) => void) | undefined
}

const connectionReset = (): Error =>
  Object.assign(new Error("read ECONNRESET (injected by Chaos)"), { code: "ECONNRESET" })

/** A response made up on the spot, as a proxy or load balancer in front of the provider sends. */
const synthetic = (
  request: HttpClientRequest.HttpClientRequest,
  status: number,
  headers: Record<string, string>
): HttpClientResponse.HttpClientResponse =>
  HttpClientResponse.fromWeb(
    request,
    new Response(JSON.stringify({ error: { message: `HTTP ${status} (injected by Chaos)`, type: "chaos" } }), {
      status,
      headers: { "content-type": "application/json", ...headers }
    })
  )

/** The first `n` bytes of a body, then its end or a failure. */
const cut = (
  response: HttpClientResponse.HttpClientResponse,
  n: number,
  fail: boolean
): Effect.Effect<HttpClientResponse.HttpClientResponse> => {
  const head = Stream.suspend(() => {
    let left = n
    return response.stream.pipe(
      Stream.map((bytes) => {
        const piece = bytes.subarray(0, left)
        left -= piece.length
        return piece
      }),
      Stream.takeUntil(() => left === 0)
    )
  })
  const body = fail ? Stream.concat(head, Stream.fail(connectionReset())) : head
  // A web Response over the cut body: its stream fails with a `ResponseError`, as a broken body
  // does, and cancelling it stops reading the real one, whose request the scope aborts.
  return Effect.map(Stream.toReadableStreamEffect(body), (readable) =>
    HttpClientResponse.fromWeb(
      response.request,
      new Response(readable, { status: response.status, headers: response.headers as Record<string, string> })
    ))
}

/**
 * Wraps a client so that, with probability `rate` per request, drawn from `seed`, it injects one
 * of `faults`. Requests are faulted in the order they are made, so a sequential run replays.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { Chaos } from "@reins/testing"
 * import { Effect } from "effect"
 *
 * // The client in context, with a reset or a 429 on about a third of the requests.
 * const flaky = Effect.map(HttpClient.HttpClient, Chaos.transport({ seed: 1, rate: 0.3, faults: ["Reset", "RetryAfter"] }))
 * ```
 */
export const transport = (options: TransportOptions) => (client: HttpClient.HttpClient): HttpClient.HttpClient => {
  const chooser = seeded(options.seed)
  const among = options.faults ?? transportFaults
  const maxBytes = options.maxBytes ?? 2048
  return HttpClient.transform(client, (response, request) =>
    Effect.suspend(() => {
      if (among.length === 0 || chooser.next() >= options.rate) return response
      const fault = chooser.pick(among)
      const bytes = chooser.int(maxBytes)
      options.onFault?.(fault, request)
      switch (fault) {
        case "Reset":
          return Effect.fail(
            new HttpClientError.RequestError({ request, reason: "Transport", cause: connectionReset(), description: "connection reset" })
          )
        case "Status":
          return Effect.succeed(synthetic(request, 503, {}))
        case "RetryAfter":
          return Effect.succeed(synthetic(request, 429, { "retry-after-ms": String(options.retryAfterMs ?? 20) }))
        case "BodyFailure":
          return Effect.flatMap(response, (real) => cut(real, bytes, true))
        case "Truncate":
          return Effect.flatMap(response, (real) => cut(real, bytes, false))
      }
    }))
}

/**
 * A layer that wraps the `HttpClient` in context with `transport(options)`; each build starts
 * from the seed.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { OpenAiChat } from "@reins/openai"
 * import { Chaos } from "@reins/testing"
 * import { Layer } from "effect"
 *
 * const injected: Array<Chaos.TransportFault> = []
 * const model = OpenAiChat.layer({ model: "test", baseUrl: "http://127.0.0.1:8080/v1" }).pipe(
 *   Layer.provide(Chaos.layer({ seed: 7, rate: 0.2, onFault: (fault) => injected.push(fault) })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 */
export const layer = (options: TransportOptions): Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> =>
  Layer.effect(HttpClient.HttpClient, Effect.map(HttpClient.HttpClient, transport(options)))
