/**
 * Property tests of every provider's stream decoding, driven through the real provider layers with
 * an in-memory HttpClient whose response body is a list of reads. Both body paths the library has
 * are exercised: a Node readable (what undici and node:http give, read by `BodyReader`) and a web
 * `ReadableStream` (fetch and browsers, read through `response.stream`).
 *
 * (a) Whatever bytes arrive, the call ends in a valid assistant message or a typed `ProviderError`:
 *     never a defect, never a hang.
 * (b) However a valid stream is split into reads, and whichever line ends it uses, it decodes to the
 *     same stream parts, and those keep the part contract (test/streamParts.ts).
 *
 * Kimi has no decoder of its own (it is Chat Completions with a dialect), so the Chat Completions
 * properties cover it.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import { Anthropic } from "@reins/anthropic"
import { LanguageModel, Message, type ProviderError, Retry, type StreamPart } from "@reins/core"
import { Google } from "@reins/google"
import { OpenAiChat, OpenAiResponses } from "@reins/openai"
import { ChatCompletions, Gemini, Messages, Responses, Script } from "@reins/testing"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Readable } from "node:stream"
import type * as ConfigError from "effect/ConfigError"
import { expectWellFormed } from "./streamParts.js"

/** How the body reaches the decoder. */
type BodyPath = "node" | "web"

/** What the in-memory client answers next: a body as a list of reads, and the path it takes. */
interface Feed {
  reads: ReadonlyArray<Uint8Array>
  path: BodyPath
}

/**
 * A client that answers every request with the feed's reads as its body. On the node path the
 * response's source is shaped like undici's (`source.body` a Node readable handing out one read per
 * `read()`), which is what sends the library down its `BodyReader` path.
 */
const feedClient = (feed: Feed): HttpClient.HttpClient =>
  HttpClient.make((request) =>
    Effect.sync(() => {
      const { path, reads } = feed
      const headers = new Headers({ "content-type": "text/event-stream", "x-request-id": "req_prop" })
      if (path === "node") {
        const body = Readable.from(reads.map((read) => Buffer.from(read)), { objectMode: true })
        return HttpClientResponse.fromWeb(request, { status: 200, headers, body } as unknown as Response)
      }
      let next = 0
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (next < reads.length) controller.enqueue(reads[next++])
          else controller.close()
        }
      })
      return HttpClientResponse.fromWeb(request, new Response(body, { status: 200, headers }))
    })
  )

/** Each fault surfaces as it is: a retry would replay the same body. */
const noRetry: Retry.Policy = { ...Retry.defaultPolicy, maxRetries: 0 }

interface Format {
  readonly name: string
  /** The provider's real model service, on whatever client is in context. */
  readonly make: Effect.Effect<LanguageModel.Service, ConfigError.ConfigError, HttpClient.HttpClient>
  /** Valid replies with reasoning, text and tool calls, as the provider streams them. */
  readonly replies: ReadonlyArray<Script.Script>
}

const common = { model: "prop-model", apiKey: "sk-prop", retry: noRetry }
const args = { tz: "Asia/Tokyo", when: { day: 3, exact: true }, tags: ["a", "é"] }

const formats: ReadonlyArray<Format> = [
  {
    name: "Chat Completions",
    make: OpenAiChat.make({ ...common, baseUrl: "http://prop.test/v1" }),
    replies: [
      ChatCompletions.reply({
        reasoning: "Thinking about é and 😀.",
        text: "Voilà: 東京 😀",
        toolCalls: [{ id: "c1", name: "clock", arguments: args }, { id: "c2", name: "clock", arguments: { tz: "UTC" } }],
        usage: { prompt_tokens: 5, completion_tokens: 9, reasoning_tokens: 2 },
        chunkSize: 3
      })
    ]
  },
  {
    name: "OpenAI Responses",
    make: OpenAiResponses.make({ ...common, baseUrl: "http://prop.test/v1" }),
    replies: [
      Responses.reply({
        reasoning: { summary: ["Thinking about é", "and 😀."], encryptedContent: "enc-1" },
        text: "Voilà: 東京 😀",
        toolCalls: [{ callId: "c1", name: "clock", arguments: args }, { callId: "c2", name: "clock", arguments: { tz: "UTC" } }],
        usage: { input_tokens: 5, output_tokens: 9, reasoning_tokens: 2 },
        chunkSize: 3
      })
    ]
  },
  {
    name: "Anthropic Messages",
    make: Anthropic.make({ ...common, baseUrl: "http://prop.test" }),
    replies: [
      Messages.reply({
        thinking: { text: "Thinking about é and 😀.", signature: "sig-1" },
        text: "Voilà: 東京 😀",
        toolCalls: [{ id: "c1", name: "clock", input: args }, { id: "c2", name: "clock", input: "" }],
        usage: { input_tokens: 5, output_tokens: 9 },
        chunkSize: 3
      })
    ]
  },
  {
    name: "Gemini",
    make: Google.make({ ...common, baseUrl: "http://prop.test" }),
    replies: [
      Gemini.reply({
        thought: "Thinking about é and 😀.",
        thoughtSignature: "sig-1",
        text: "Voilà: 東京 😀",
        functionCalls: [{ name: "clock", args, id: "f1" }, { name: "clock", args: { tz: "UTC" } }],
        usage: { promptTokenCount: 5, candidatesTokenCount: 9, thoughtsTokenCount: 2 },
        chunkSize: 3
      }),
      Gemini.reply({
        text: "Streamed arguments",
        functionCalls: [{ name: "clock", args, thoughtSignature: "sig-2" }],
        streamArguments: true,
        chunkSize: 3
      })
    ]
  }
]

const encoder = new TextEncoder()

/** The SSE text a script writes. */
const bodyText = (script: Script.Script): string => script.steps.map((step) => Script.encode(step) ?? "").join("")

/** `bytes` cut at the given positions (any order, repeats allowed): the reads a client might see. */
const cut = (bytes: Uint8Array, positions: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(positions.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b)
  const reads: Array<Uint8Array> = []
  let start = 0
  for (const point of [...points, bytes.length]) {
    if (point > start) reads.push(bytes.subarray(start, point))
    start = Math.max(start, point)
  }
  return reads
}

const request: LanguageModel.Request = { messages: [Message.user("Time in Tokyo?")] }

/** A call that outlives this has hung: every body here is in memory. */
const HANG_MILLIS = 2_000

/** A provider's model on an in-memory client, and a way to run one call over given reads. */
const harness = (format: Format) => {
  const feed: Feed = { reads: [], path: "node" }
  const model = Effect.runSync(Effect.provideService(format.make, HttpClient.HttpClient, feedClient(feed)))
  const run = <A, E>(effect: Effect.Effect<A, E, LanguageModel.LanguageModel>, reads: ReadonlyArray<Uint8Array>, path: BodyPath) =>
    Effect.suspend(() => {
      feed.reads = reads
      feed.path = path
      return effect
    }).pipe(
      Effect.timeoutFail({ duration: HANG_MILLIS, onTimeout: () => new Error(`${format.name}: the call hung on ${path} reads`) }),
      Effect.provideService(LanguageModel.LanguageModel, model),
      Effect.exit
    )
  return {
    /** The stream parts of one call, or how it failed. */
    parts: (reads: ReadonlyArray<Uint8Array>, path: BodyPath) =>
      run(
        Effect.map(Stream.runCollect(LanguageModel.stream(request)), (all) =>
          Chunk.toReadonlyArray(all).map((part) => part._tag.startsWith("ToolCall") ? { ...part, id: madeId((part as { readonly id: string }).id) } : part)),
        reads,
        path
      ),
    /** The message of one call, or how it failed. */
    generate: (reads: ReadonlyArray<Uint8Array>, path: BodyPath) =>
      run(
        Effect.map(LanguageModel.generate(request), (message): Message.Assistant => ({
          ...message,
          content: message.content.map((part) => part._tag === "ToolCall" ? { ...part, id: madeId(part.id) } : part)
        })),
        reads,
        path
      )
  }
}

/** A call id the decoder made up (the server sent none) is new in every response: calls compare without it. */
const madeId = (id: string): string => /^call_[0-9A-Za-z]{24}$/.test(id) ? "call_(made)" : id

/** Every ProviderError tag; typed so that a new kind of error must be added here. */
const PROVIDER_ERRORS: Record<ProviderError.ProviderError["_tag"], true> = {
  ConnectionError: true,
  ConnectTimeout: true,
  HeadersTimeout: true,
  IdleTimeout: true,
  TotalTimeout: true,
  StatusError: true,
  RateLimited: true,
  AuthenticationError: true,
  ContextOverflow: true,
  ProtocolError: true,
  ProviderStreamError: true,
  UnexpectedBody: true,
  EmptyResponse: true,
  UnsupportedContent: true
}

/** Why an outcome is not "a valid message or one typed ProviderError", or undefined when it is. */
const badOutcome = (exit: Exit.Exit<Message.Assistant, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) {
    // The message must be what the Schema promises, so that it can be stored and sent back.
    const valid = Schema.validateEither(Message.Assistant)(exit.value)
    if (valid._tag === "Right") return undefined
    const issues = ParseResult.ArrayFormatter.formatErrorSync(valid.left)
    return `not a valid Assistant message: ${issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`
  }
  const failures = Chunk.toReadonlyArray(Cause.failures(exit.cause))
  const error = failures[0] as { readonly _tag?: unknown; readonly retryable?: unknown; readonly provider?: unknown } | undefined
  if (failures.length !== 1 || Cause.isDie(exit.cause) || Cause.isInterrupted(exit.cause)) return Cause.pretty(exit.cause)
  if (typeof error?._tag !== "string" || !Object.hasOwn(PROVIDER_ERRORS, error._tag)) return `not a ProviderError: ${Cause.pretty(exit.cause)}`
  if (typeof error.retryable !== "boolean" || typeof error.provider !== "string") return `an incomplete ProviderError: ${String(error)}`
  return undefined
}

/** Fails the property unless the call ended in a valid message or one typed ProviderError. */
const expectTyped = (call: Effect.Effect<Exit.Exit<Message.Assistant, unknown>>): Effect.Effect<void> =>
  Effect.map(call, (exit) => {
    expect(badOutcome(exit)).toBeUndefined()
  })

const paths = fc.constantFrom<BodyPath>("node", "web")

/** Cut positions: none, a few, or many. */
const cuts = fc.array(fc.nat(), { maxLength: 40 })

/** A JSON value of any shape, for replacing a field of a valid event. */
const anyJson = fc.jsonValue({ maxDepth: 2 })

/** Replaces one value somewhere in `json` (an object or array) with `value`; `pick` chooses where. */
const replaceAt = (json: unknown, pick: number, value: unknown): unknown => {
  const slots: Array<{ readonly parent: any; readonly key: string | number }> = []
  const walk = (node: unknown) => {
    if (node === null || typeof node !== "object") return
    for (const key of Object.keys(node)) {
      slots.push({ parent: node, key: Array.isArray(node) ? Number(key) : key })
      walk((node as any)[key])
    }
  }
  const copy = JSON.parse(JSON.stringify(json))
  walk(copy)
  if (slots.length === 0) return value
  const slot = slots[pick % slots.length]
  slot.parent[slot.key] = value
  return copy
}

/** Text that looks like SSE: framing pieces, this format's own lines and events, mutated events, noise. */
const sseish = (format: Format): fc.Arbitrary<string> => {
  const events = format.replies.flatMap((reply) => reply.steps.filter((step): step is Script.Event => step._tag === "Event"))
  const whole = events.map(Script.encodeEvent)
  const lines = whole.flatMap((text) => text.split("\n").filter((line) => line !== "").map((line) => `${line}\n`))
  const mutated = fc.tuple(fc.constantFrom(...events), fc.nat(), anyJson).map(([event, pick, value]) => {
    let json: unknown
    try {
      json = JSON.parse(event.data)
    } catch {
      return Script.encodeEvent(event)
    }
    return Script.encodeEvent({ ...event, data: JSON.stringify(replaceAt(json, pick, value)) })
  })
  const framing = fc.constantFrom(
    "data: ",
    "data:",
    "data",
    "event: ",
    "event: error\n",
    "event: ping\n",
    "id: 7\n",
    "retry: 10\n",
    ": keep-alive\n",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "\uFEFF",
    "[DONE]",
    "data: [DONE]\n\n",
    "{",
    "}",
    "[",
    "\"",
    "null",
    "data: {}\n\n",
    "data: null\n\n",
    "data: []\n\n",
    "data: [null]\n\n",
    "data: 42\n\n",
    "data: \"text\"\n\n",
    "data: {\"error\":{}}\n\n",
    "data: {\"error\":null}\n\n",
    "data: {\"type\":\"error\"}\n\n",
    "data: {\"choices\":[null]}\n\n",
    "data: {\"candidates\":[{\"content\":{\"parts\":[null,{\"functionCall\":null}]}}]}\n\n",
    "data: {\"type\":\"content_block_delta\",\"index\":null,\"delta\":null}\n\n",
    "data: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"function_call\"}}\n\n"
  )
  return fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...whole) },
      { weight: 3, arbitrary: fc.constantFrom(...lines) },
      { weight: 3, arbitrary: mutated },
      { weight: 3, arbitrary: framing },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }
    ),
    { maxLength: 40 }
  ).map((pieces) => pieces.join(""))
}

/** A valid body damaged once: cut short, a byte changed, or something spliced in. */
const damaged = (format: Format): fc.Arbitrary<Uint8Array> =>
  fc.tuple(fc.constantFrom(...format.replies.map((reply) => encoder.encode(bodyText(reply)))), fc.nat(), fc.nat(255), fc.string({ maxLength: 8 }), fc.nat(2))
    .map(([bytes, at, byte, text, kind]) => {
      const i = at % (bytes.length + 1)
      if (kind === 0) return bytes.subarray(0, i)
      if (kind === 1) {
        const copy = Uint8Array.from(bytes)
        if (i < copy.length) copy[i] = byte
        return copy
      }
      const inserted = encoder.encode(text)
      const out = new Uint8Array(bytes.length + inserted.length)
      out.set(bytes.subarray(0, i))
      out.set(inserted, i)
      out.set(bytes.subarray(i), i + inserted.length)
      return out
    })

/**
 * A valid reply with a few of its events given a field of another shape (a number for a string, an
 * object for an array, `null`, a missing-looking `{}`): the type confusions a buggy server or
 * proxy produces while the stream as a whole still completes.
 */
const retyped = (format: Format): fc.Arbitrary<string> =>
  fc.tuple(
    fc.constantFrom(...format.replies),
    fc.array(fc.tuple(fc.nat(), fc.nat(), anyJson), { minLength: 1, maxLength: 3 })
  ).map(([reply, edits]) => {
    const steps = [...reply.steps]
    for (const [at, pick, value] of edits) {
      const events = steps.flatMap((step, i) => (step._tag === "Event" && step.data.startsWith("{") ? [i] : []))
      const i = events[at % events.length]
      const event = steps[i] as Script.Event
      steps[i] = { ...event, data: JSON.stringify(replaceAt(JSON.parse(event.data), pick, value)) }
    }
    return bodyText({ ...reply, steps })
  })

/** Re-frames SSE text with another line end, which the decoder must treat alike. */
const withLineEnds = (text: string, end: "\n" | "\r\n" | "\r") => (end === "\n" ? text : text.replace(/\n/g, end))


describe.each(formats)("$name decoding", (format) => {
  const { generate, parts } = harness(format)
  /** Each reply's parts when it arrives in one read, the reference the splits are held to. */
  const baselines = new Map<number, Exit.Exit<ReadonlyArray<unknown>, unknown>>()

  it.live.prop(
    "of arbitrary bytes ends in a valid message or a typed ProviderError",
    [fc.uint8Array({ maxLength: 1024 }), cuts, paths],
    ([bytes, positions, path]) =>
      expectTyped(generate(cut(bytes, positions), path)),
    { fastCheck: { numRuns: 25 } }
  )

  it.live.prop(
    "of SSE-like text built from this format's events ends in a valid message or a typed ProviderError",
    [sseish(format), cuts, paths],
    ([text, positions, path]) =>
      expectTyped(generate(cut(encoder.encode(text), positions), path)),
    { fastCheck: { numRuns: 70 } }
  )

  it.live.prop(
    "of a damaged valid stream ends in a valid message or a typed ProviderError",
    [damaged(format), cuts, paths],
    ([bytes, positions, path]) =>
      expectTyped(generate(cut(bytes, positions), path)),
    { fastCheck: { numRuns: 40 } }
  )

  it.live.prop(
    "of a valid stream with fields of the wrong type ends in a valid message or a typed ProviderError",
    [retyped(format), cuts, paths],
    ([text, positions, path]) => expectTyped(generate(cut(encoder.encode(text), positions), path)),
    { fastCheck: { numRuns: 100 } }
  )

  it.live.prop(
    "of a valid stream gives the same well-formed parts however it is split into reads",
    [fc.nat(format.replies.length - 1), cuts, paths, fc.constantFrom<"\n" | "\r\n" | "\r">("\n", "\r\n", "\r")],
    ([which, positions, path, end]) =>
      Effect.gen(function*() {
        const text = bodyText(format.replies[which])
        const whole = baselines.get(which) ?? (yield* parts([encoder.encode(text)], "node"))
        baselines.set(which, whole)
        const split = yield* parts(cut(encoder.encode(withLineEnds(text, end)), positions), path)
        expect(Exit.isSuccess(whole)).toBe(true)
        if (Exit.isSuccess(whole)) expectWellFormed(whole.value as ReadonlyArray<StreamPart.StreamPart>)
        expect(split).toEqual(whole)
      }).pipe(Effect.asVoid),
    { fastCheck: { numRuns: 40 } }
  )

  it.live("of a valid stream read one byte at a time gives the same message on both body paths", () =>
    Effect.gen(function*() {
      const bytes = encoder.encode(bodyText(format.replies[0]))
      const bytewise = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))
      const whole = yield* generate([bytes], "node")
      expect(badOutcome(whole)).toBeUndefined()
      const message = (whole as Exit.Success<Message.Assistant, never>).value
      expect(Message.text(message)).not.toBe("")
      expect(Message.toolCalls(message).length).toBeGreaterThan(0)
      for (const path of ["node", "web"] as const) expect(yield* generate(bytewise, path)).toEqual(whole)
    }))
})
