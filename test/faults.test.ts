/**
 * The fault matrix: every Chaos fault in every provider's wire format, served by a real HTTP server
 * on loopback and read by that provider's layer over undici. For each, the documented outcome: the
 * reply arrives whole (a harmless fault), or arrives after a retry (a retryable fault before any
 * output), or the call fails with its typed error. And in every case: no text, tool call or start
 * reaches the consumer twice, the call ends within its limits, and no connection is left open.
 * (test/faults.chat.test.ts goes into the Chat Completions faults in detail.)
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Accumulator, type HttpStream, LanguageModel, Message, type ProviderError, type Retry, type StreamPart } from "@reins/core"
import { Chaos, Formats, ProviderServer } from "@reins/testing"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as util from "node:util"
import type * as ConfigError from "effect/ConfigError"

/** What every layer under test is configured with besides its URL. */
interface Settings {
  readonly timeouts: HttpStream.Timeouts
  readonly retry: Retry.Policy
}

/** A provider: its wire format (`Formats`), named as its layer's module, and its layer pointed at a server's URL. */
interface Provider {
  readonly name: string
  readonly format: Chaos.Format
  readonly layer: (url: string, settings: Settings) => Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>
}

const apiKey = Redacted.make("sk-test-key")

const layerNames: Record<Formats.Id, string> = { chat: "OpenAiChat", responses: "OpenAiResponses", messages: "Anthropic", gemini: "Google" }

/** Kimi speaks Chat Completions through the same decoder as OpenAiChat, so it needs no row of its own. */
const providers: ReadonlyArray<Provider> = Formats.all.map((format) => ({
  name: layerNames[format.id],
  format: format.chaos,
  layer: (url, settings) => format.layer(url, { apiKey, ...settings })
}))

/** Two quick retries: a retried fault costs tens of milliseconds, not seconds. */
const retry: Retry.Policy = { maxRetries: 2, baseDelay: "10 millis", maxDelay: "40 millis", maxRetryAfter: "5 seconds" }
/** Small limits where a stall is under test; elsewhere generous ones that still catch a hang. */
const tight: HttpStream.Timeouts = { headers: "200 millis", idle: "200 millis" }
const loose: HttpStream.Timeouts = { headers: "5 seconds", idle: "5 seconds" }

const request = { messages: [Message.user("Hi")] }

type Tag = ProviderError.ProviderError["_tag"]

/** What a fault must lead to. */
type Outcome =
  /** The reply reaches the consumer whole after `attempts` requests. */
  | { readonly _tag: "Reply"; readonly attempts: number }
  /** The reply ends as a model out of tokens: stop reason "length", the tool call's arguments cut. */
  | { readonly _tag: "CutShort" }
  /** The call fails with `error` after `attempts` requests. */
  | { readonly _tag: "Fails"; readonly error: Tag; readonly attempts: number }

const harmless: Outcome = { _tag: "Reply", attempts: 1 }
const retried: Outcome = { _tag: "Reply", attempts: 2 }
const cutShort: Outcome = { _tag: "CutShort" }
const fails = (error: Tag, attempts = 1): Outcome => ({ _tag: "Fails", error, attempts })

/** One row of the matrix: a fault, where it hits, on how many attempts in a row, and what follows. */
interface Row {
  readonly fault: Chaos.Fault
  /** "start": before any event, so before any output; "mid": after some text reached the consumer. */
  readonly at?: "start" | "mid"
  /** The fault repeats on every attempt, so retries run out. */
  readonly always?: boolean
  /** For a fault that sends an error status of choice. */
  readonly status?: number
  readonly outcome: Outcome
}

const attempts = retry.maxRetries + 1

const rows: ReadonlyArray<Row> = [
  { fault: "Status",                                     outcome: retried },
  { fault: "Status",                       always: true, outcome: fails("StatusError", attempts) },
  { fault: "RetryAfter",                                 outcome: retried },
  { fault: "RetryAfterMs",                               outcome: retried },
  { fault: "RetryAfterMs",                 always: true, outcome: fails("RateLimited", attempts) },
  { fault: "ResetBeforeHeaders",                         outcome: retried },
  { fault: "ResetBeforeHeaders",           always: true, outcome: fails("ConnectionError", attempts) },
  { fault: "StallBeforeHeaders",                         outcome: retried },
  { fault: "StallBeforeHeaders",           always: true, outcome: fails("HeadersTimeout", attempts) },
  { fault: "ResetMidBody",   at: "start",                outcome: retried },
  { fault: "ResetMidBody",   at: "mid",                  outcome: fails("ConnectionError") },
  { fault: "CutOff",         at: "start",                outcome: retried },
  { fault: "CutOff",         at: "start",  always: true, outcome: fails("EmptyResponse", attempts) },
  { fault: "CutOff",         at: "mid",                  outcome: fails("ConnectionError") },
  { fault: "StallMidBody",   at: "start",                outcome: retried },
  { fault: "StallMidBody",   at: "mid",                  outcome: fails("IdleTimeout") },
  { fault: "ErrorEvent",     at: "start",                outcome: retried },
  { fault: "ErrorEvent",     at: "start",  always: true, outcome: fails("ProviderStreamError", attempts) },
  { fault: "ErrorEvent",     at: "mid",                  outcome: fails("ProviderStreamError") },
  { fault: "CorruptJson",    at: "start",                outcome: fails("ProtocolError") },
  { fault: "CorruptJson",    at: "mid",                  outcome: fails("ProtocolError") },
  { fault: "Oversized",      at: "mid",                  outcome: fails("ProtocolError") },
  { fault: "SlowDrip",       at: "mid",                  outcome: harmless },
  { fault: "TruncatedToolCall",                          outcome: cutShort },
  // what real servers, gateways and proxies send
  { fault: "Linger",                                     outcome: harmless },
  { fault: "LingerWithPings",                            outcome: harmless },
  { fault: "Gzip",                                       outcome: harmless },
  { fault: "Brotli",                                     outcome: harmless },
  { fault: "Deflate",                                    outcome: harmless },
  { fault: "CompressedErrorBody", status: 500,           outcome: retried },
  { fault: "CompressedErrorBody", status: 401,           outcome: fails("AuthenticationError") },
  { fault: "GatewayJsonError",                           outcome: fails("UnexpectedBody") },
  { fault: "GatewayOverloaded",                          outcome: retried },
  { fault: "GatewayOverloaded",            always: true, outcome: fails("UnexpectedBody", attempts) },
  { fault: "GatewayHtml",                                outcome: retried },
  { fault: "LoginPage",                                  outcome: fails("UnexpectedBody") },
  { fault: "Unstreamed",                                 outcome: fails("UnexpectedBody") },
  { fault: "StalledErrorBody",    status: 500,           outcome: retried },
  { fault: "StalledErrorBody",    status: 429, always: true, outcome: fails("RateLimited", attempts) },
  { fault: "StalledErrorBody",    status: 401,           outcome: fails("AuthenticationError") },
  { fault: "TricklingErrorBody",  status: 500, always: true, outcome: fails("StatusError", attempts) },
  { fault: "KeyEcho",                                    outcome: fails("AuthenticationError") },
  { fault: "KeyEchoEvent",   at: "mid",                  outcome: fails("ProviderStreamError") },
  { fault: "ErrorBeforeContentStall",                    outcome: retried },
  { fault: "ErrorBeforeContentEnd",                      outcome: retried },
  { fault: "ErrorBeforeContentEnd",        always: true, outcome: fails("ProviderStreamError", attempts) },
  ...Chaos.dialectFaults.map((fault): Row => ({ fault, outcome: harmless }))
]

/** Faults that wait for a limit to pass: they run under the small limits. */
const stalls = new Set<Chaos.Fault>(["StallBeforeHeaders", "StallMidBody", "SlowDrip", "StalledErrorBody", "TricklingErrorBody", "ErrorBeforeContentStall"])

const outcomeName = (outcome: Outcome): string =>
  outcome._tag === "Reply"
    ? outcome.attempts === 1 ? "the reply, whole" : `the reply after ${outcome.attempts - 1} retry`
    : outcome._tag === "CutShort"
    ? "a reply cut short (length), its tool call's arguments cut"
    : `${outcome.error}${outcome.attempts > 1 ? ` after ${outcome.attempts} attempts` : ""}`

const rowName = (row: Row): string =>
  `${row.fault}${row.status === undefined ? "" : ` ${row.status}`}${row.at === undefined ? "" : ` at ${row.at}`}${
    row.always === true ? " on every attempt" : ""
  }: ${outcomeName(row.outcome)}`

/** Drains the model's stream, keeping every chunk the consumer saw, and its exit. */
const consume = Effect.gen(function*() {
  const seen: Array<StreamPart.StreamPart> = []
  const exit = yield* LanguageModel.stream(request).pipe(
    Stream.runForEach((chunk) => Effect.sync(() => seen.push(chunk))),
    Effect.exit
  )
  return { seen, exit }
})

/** The call failed with a typed error, not a defect or an interruption; returns it. */
const typedError = (exit: Exit.Exit<void, ProviderError.ProviderError>): ProviderError.ProviderError | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = Cause.failureOption(exit.cause)
  expect(Option.isSome(error) && Cause.isFailType(exit.cause), `not a single typed failure:\n${Cause.pretty(exit.cause)}`).toBe(true)
  return Option.getOrThrow(error)
}

/**
 * No content reached the consumer twice: the text is a beginning of the reply's text (all of it
 * when `whole`), and no tool call came more than once. A retry may repeat a start (it is not
 * content), never more often than there were attempts.
 */
const expectNoDuplicates = (seen: ReadonlyArray<StreamPart.StreamPart>, whole: boolean, fault?: Chaos.Fault, attempts = 1) => {
  const text = seen.flatMap((chunk) => (chunk._tag === "TextDelta" ? [chunk.text] : [])).join("")
  const starts = seen.filter((chunk) => chunk._tag === "Start").length
  const calls = seen.filter((chunk) => chunk._tag === "ToolCallStart").length
  const expectedCalls = fault === undefined ? 1 : Chaos.toolCallsOf(fault).length
  expect(starts).toBeLessThanOrEqual(attempts)
  if (whole) {
    expect(text).toBe(Chaos.text)
    expect(starts).toBeGreaterThanOrEqual(1)
    expect(calls).toBe(expectedCalls)
  } else {
    expect(Chaos.text.startsWith(text), `not a beginning of the reply: ${JSON.stringify(text)}`).toBe(true)
    expect(calls).toBeLessThanOrEqual(expectedCalls)
  }
}

const messageOf = (provider: Provider, seen: ReadonlyArray<StreamPart.StreamPart>): Message.Assistant => {
  const accumulator = new Accumulator({ provider: provider.name, model: "test-model" })
  accumulator.addAll(seen)
  return accumulator.message()
}

/** Requests whose response is still going on: neither finished nor ended by a closed connection. */
const inFlight = (server: ProviderServer.ProviderServer): Array<number> =>
  server.requests.flatMap((record) => {
    const connection = server.connections.find((c) => c.id === record.connectionId)
    return record.finishedAt === undefined && connection?.closedAt === undefined ? [record.id] : []
  })

/**
 * A following request on the same layer gets its reply, and no response is left going on: each one
 * either finished (its connection may wait in the pool) or had its connection closed.
 */
const followUp = (server: ProviderServer.ProviderServer) =>
  Effect.gen(function*() {
    const message = yield* LanguageModel.generate(request)
    expect(Message.text(message)).toBe(Chaos.text)
    // a connection the client gave up on closes a moment later on the server's side
    const deadline = performance.now() + 2_000
    while (inFlight(server).length > 0 && performance.now() < deadline) yield* Effect.sleep("10 millis")
    expect(inFlight(server), "responses still going on").toEqual([])
  })

const runRow = (provider: Provider, row: Row) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    const at = row.at === "start" ? 0 : row.at === "mid" ? Chaos.midText(provider.format) : undefined
    const faulty = Chaos.script({ format: provider.format, fault: row.fault, at, status: row.status })
    for (let i = 0; i < (row.always === true ? attempts : 1); i++) server.enqueue(faulty)
    // the answer to a retry, and to the follow-up
    server.enqueue(Chaos.reply(provider.format), Chaos.reply(provider.format))
    const settings = { timeouts: stalls.has(row.fault) ? tight : loose, retry }
    const model = provider.layer(server.url, settings).pipe(Layer.provide(NodeHttpClient.layerUndici))

    yield* Effect.gen(function*() {
      const started = performance.now()
      const { exit, seen } = yield* consume
      const elapsed = performance.now() - started
      const error = typedError(exit)
      const outcome = row.outcome
      const requests = server.requests.length

      switch (outcome._tag) {
        case "Reply": {
          expect(error, util.inspect(error)).toBeUndefined()
          expect(requests).toBe(outcome.attempts)
          expectNoDuplicates(seen, true, row.fault, requests)
          const message = messageOf(provider, seen)
          expect(message.stopReason).toBe("tool-calls")
          expect(Message.toolCalls(message).map((call) => [call.name, JSON.parse(call.arguments)])).toEqual(
            Chaos.toolCallsOf(row.fault).map((call) => [call.name, call.arguments])
          )
          break
        }
        case "CutShort": {
          expect(error, util.inspect(error)).toBeUndefined()
          expect(requests).toBe(1)
          expectNoDuplicates(seen, true)
          const message = messageOf(provider, seen)
          expect(message.stopReason).toBe("length")
          const calls = Message.toolCalls(message)
          expect(calls).toHaveLength(1)
          expect(calls[0].name).toBe(Chaos.toolCall.name)
          expect(calls[0].arguments).not.toBe(Chaos.toolArguments)
          break
        }
        case "Fails": {
          expect(error?._tag, util.inspect(error)).toBe(outcome.error)
          expect(requests).toBe(outcome.attempts)
          expectNoDuplicates(seen, false, row.fault, requests)
          // a fault placed after some text fails with that text delivered, once
          if (row.at === "mid") expect(seen.some((chunk) => chunk._tag === "TextDelta")).toBe(true)
          // an error body that stalled or trickled still says what arrived of it
          if (row.fault === "StalledErrorBody" || row.fault === "TricklingErrorBody") {
            expect(error !== undefined && "body" in error && error.body.length > 0, util.inspect(error)).toBe(true)
          }
          // a body that is not a stream is quoted
          if (outcome.error === "UnexpectedBody") expect((error as ProviderError.UnexpectedBody).body.length).toBeGreaterThan(0)
          // a key the server sent back is nowhere in the error
          expect(util.inspect(error, { depth: Infinity }) + String(error)).not.toContain(Redacted.value(apiKey).slice(3))
          break
        }
      }

      // the wait a retry honours
      if (row.fault === "RetryAfter" || row.fault === "RetryAfterMs") {
        const asked = row.fault === "RetryAfter" ? Chaos.retryAfter.seconds * 1000 : Chaos.retryAfter.millis
        const gap = server.requests[1]!.receivedAt - server.requests[0]!.receivedAt
        expect(gap).toBeGreaterThanOrEqual(asked - 5)
      }
      // No hang: each attempt ends within its limits (a stall's at 200 ms), plus the retries' waits,
      // with room for a loaded machine. Reading 17 MiB is work, not a wait, and is given its time.
      const limit = row.fault === "Oversized" ? 15_000 : row.fault === "RetryAfter" ? 4_000 : 3_000
      expect(elapsed).toBeLessThan(limit)

      yield* followUp(server)
    }).pipe(Effect.provide(model))
    // releasing the layer closes the connections its pool kept
    yield* Effect.promise(() => server.waitForOpenConnections(0, 2_000))
  })

// One row per fault, one column per provider. A row's providers run side by side, since their
// waits (stalls, Retry-After) overlap and their work is light; not the oversized row's, whose
// 17 MiB each would only compete for the CPU.
describe.each(rows.map((row) => ({ row, name: rowName(row) })))("$name", ({ row }) => {
  const columns = row.fault === "Oversized" ? describe : describe.concurrent
  columns("by provider", () => {
    for (const provider of providers) {
      if (Chaos.faultsOf(provider.format).includes(row.fault)) it.scopedLive(provider.name, () => runRow(provider, row))
    }
  })
})

describe("seeded chaos", () => {
  const seed = 20_250_601
  const calls = 50

  it.scopedLive(`${calls} calls with server and transport faults from seed ${seed}: each a reply or a typed error, nothing twice, nothing left open`, () =>
    Effect.gen(function*() {
      // the slow faults (a 17 MiB event, a one-second Retry-After) have their rows above
      const serverFaults = Chaos.faults.filter((fault) => fault !== "Oversized" && fault !== "RetryAfter")
      const chooser = Chaos.seeded(seed)
      const server = yield* ProviderServer.make({
        handler: (record) => {
          const format = Chaos.formatOf(record.path)!
          return chooser.next() < 0.35 ? Chaos.script(chooser.plan(format, serverFaults)) : Chaos.reply(format)
        }
      })
      const injected = new Set<Chaos.TransportFault>()
      const errors = new Set<Tag>()
      let replies = 0

      yield* Effect.gen(function*() {
        const http = yield* Layer.build(
          Chaos.layer({ seed, rate: 0.35, onFault: (fault) => injected.add(fault) }).pipe(Layer.provide(NodeHttpClient.layerUndici))
        )
        for (let i = 0; i < calls; i++) {
          const provider = providers[i % providers.length]
          const started = performance.now()
          const { exit, seen } = yield* consume.pipe(
            Effect.provide(provider.layer(server.url, { timeouts: tight, retry })),
            Effect.provide(http)
          )
          // three attempts at most, each stalled for 200 ms at worst, and the waits between them
          expect(performance.now() - started).toBeLessThan(3_000)
          const error = typedError(exit)
          if (error === undefined) replies++
          else errors.add(error._tag)
          expectNoDuplicates(seen, error === undefined)
          const deadline = performance.now() + 2_000
          while (inFlight(server).length > 0 && performance.now() < deadline) yield* Effect.sleep("10 millis")
          expect(inFlight(server), `call ${i}: responses still going on`).toEqual([])
        }
      }).pipe(Effect.scoped)

      yield* Effect.promise(() => server.waitForOpenConnections(0, 2_000))
      // the seed reaches a spread of faults and outcomes
      expect(replies).toBeGreaterThan(calls / 2)
      expect(errors.size).toBeGreaterThanOrEqual(2)
      expect(injected.size).toBeGreaterThanOrEqual(3)
    }))
})
