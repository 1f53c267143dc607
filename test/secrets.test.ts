/**
 * The API key stays secret: for every provider layer, over real HTTP to a local server, the key is
 * sent where the provider reads it and appears nowhere else: not in an error (its message, String,
 * JSON or inspection, nor a Cause rendering it), not in a log line at any level, not in a span's
 * attributes, events or failure, and not when the options a layer was given, or read from the
 * environment, are printed. Gemini's key travels in the `x-goog-api-key` header, never in the URL.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Anthropic, AnthropicConfig } from "@reins/anthropic"
import { LanguageModel, Message, type ProviderConfig, Retry, Tool, Toolkit, Turn } from "@reins/core"
import { Google, GoogleConfig } from "@reins/google"
import { Kimi } from "@reins/kimi"
import { ChatConfig, OpenAiChat, OpenAiResponses } from "@reins/openai"
import { Chaos, ChatCompletions, Formats, Gemini, Messages, ProviderServer, Responses, Script } from "@reins/testing"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as http from "node:http"
import * as util from "node:util"
import { type RecordedSpan, recordingTracer } from "./support.js"
import type * as ConfigError from "effect/ConfigError"

const KEY = "sk-SECRET-abc123"
/** Any recognisable piece of the key counts as a leak, not only the whole of it. */
const PIECES = [KEY, "SECRET-abc123", "abc123"]

/** Every way a value might be shown: String, JSON, a deep inspection, and a Cause around it. */
const renderings = (value: unknown): Array<string> => {
  const out = [String(value), util.inspect(value, { depth: Infinity, showHidden: true, getters: true })]
  try {
    out.push(JSON.stringify(value) ?? "")
  } catch (error) {
    out.push(String(error))
  }
  if (value instanceof Error) out.push(value.message, value.stack ?? "", Cause.pretty(Cause.fail(value), { renderErrorCause: true }))
  return out
}

const expectNoKey = (label: string, texts: ReadonlyArray<string>) => {
  for (const text of texts) for (const piece of PIECES) expect(text.includes(piece), `${label} shows the key: ${text}`).toBe(false)
}

/** Captures every log line, at every level, as each built-in format would write it. */
const recordingLogger = (lines: Array<string>) =>
  Logger.make((options) => {
    lines.push(Logger.logfmtLogger.log(options), Logger.jsonLogger.log(options), util.inspect(options.message, { depth: Infinity }))
    if (!Cause.isEmpty(options.cause)) lines.push(Cause.pretty(options.cause, { renderErrorCause: true }))
  })

/** The text of a span as an exporter would write it: attributes, events, and the failure it ended with. */
const spanTexts = (span: RecordedSpan): Array<string> => [
  span.name,
  ...Array.from(span.attributes, ([key, value]) => `${key}=${String(value)} ${util.inspect(value, { depth: Infinity })}`),
  ...span.events.map((event) => `${event.name} ${util.inspect(event.attributes, { depth: Infinity })}`),
  ...(span.exit !== undefined && Exit.isFailure(span.exit) ? [Cause.pretty(span.exit.cause, { renderErrorCause: true })] : [])
]

/** Each call's own error is under test: nothing is retried unless a case asks for it. */
const noRetry: Retry.Policy = { ...Retry.defaultPolicy, maxRetries: 0 }
const oneQuickRetry: Retry.Policy = { maxRetries: 1, baseDelay: "1 millis", maxDelay: "5 millis", maxRetryAfter: "1 second" }

type Settings = Pick<ProviderConfig.Common, "retry" | "timeouts">

/** One provider layer and the wire format its server speaks. */
interface Provider {
  readonly name: string
  /** The wire format its server speaks, for the faults that `Chaos` scripts. */
  readonly format: Chaos.Format
  /** The layer on a server at `url` (the host root), with the key as given. */
  readonly layer: (url: string, apiKey: Redacted.Redacted | string, settings: Settings) => Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>
  /** The layer that reads its key and base URL from the environment. */
  readonly layerConfig: Layer.Layer<LanguageModel.LanguageModel, unknown, HttpClient.HttpClient>
  /** The variables `layerConfig` reads: the key's, and the base URL's with the value it needs for a root `url`. */
  readonly env: (url: string) => ReadonlyArray<readonly [string, string]>
  /** What `fromEnv` fills in from the environment. */
  readonly fromEnv: Effect.Effect<ProviderConfig.Common, unknown>
  /** The key as the server received it. */
  readonly sentKey: (request: ProviderServer.RequestRecord) => string | undefined
  /** The request header that carries the key, as span attributes name it. */
  readonly keyHeader: string
  readonly reply: (options?: { readonly toolCall?: boolean }) => Script.Script
  readonly error: (status: number, message: string, headers?: Record<string, string>) => Script.Script
  /** A stream that starts well, then reports an error event. */
  readonly streamError: Script.Script
}

const bearer = (request: ProviderServer.RequestRecord) => request.headers.authorization?.toString().replace(/^Bearer /, "")
const header = (name: string) => (request: ProviderServer.RequestRecord) => request.headers[name]?.toString()
const clockArgs = { tz: "UTC" }

const chatFormat = {
  reply: (options?: { readonly toolCall?: boolean }) =>
    options?.toolCall === true
      ? ChatCompletions.reply({ toolCalls: [{ id: "c1", name: "clock", arguments: clockArgs }] })
      : ChatCompletions.reply({ text: "Hello", usage: { prompt_tokens: 2, completion_tokens: 1 } }),
  error: (status: number, message: string, headers?: Record<string, string>) =>
    ChatCompletions.errorBody(status, message, { headers }),
  streamError: Script.make([ChatCompletions.start(), Script.event({ error: { message: "The server had an error", type: "server_error" } })])
}

const providers: ReadonlyArray<Provider> = [
  {
    name: "OpenAiChat",
    format: "ChatCompletions",
    layer: (url, apiKey, settings) => Formats.chat.layer(url, { model: "m", apiKey, ...settings }),
    layerConfig: OpenAiChat.layerConfig({ model: "m", retry: noRetry }),
    env: (url) => [["OPENAI_API_KEY", KEY], ["OPENAI_BASE_URL", `${url}/v1`]],
    fromEnv: ChatConfig.fromEnv<ProviderConfig.Common>("OPENAI", { model: "m" }),
    sentKey: bearer,
    keyHeader: "authorization",
    ...chatFormat
  },
  {
    name: "OpenAiResponses",
    format: "Responses",
    layer: (url, apiKey, settings) => Formats.responses.layer(url, { model: "m", apiKey, ...settings }),
    layerConfig: OpenAiResponses.layerConfig({ model: "m", retry: noRetry }),
    env: (url) => [["OPENAI_API_KEY", KEY], ["OPENAI_BASE_URL", `${url}/v1`]],
    fromEnv: ChatConfig.fromEnv<ProviderConfig.Common>("OPENAI", { model: "m" }),
    sentKey: bearer,
    keyHeader: "authorization",
    reply: (options) =>
      options?.toolCall === true
        ? Responses.reply({ toolCalls: [{ callId: "c1", name: "clock", arguments: clockArgs }] })
        : Responses.reply({ text: "Hello", usage: { input_tokens: 2, output_tokens: 1 } }),
    error: (status, message, headers) => Responses.errorBody(status, message, { headers }),
    streamError: Script.make([Responses.created(), Responses.errorEvent(500, "The server had an error")])
  },
  {
    name: "Anthropic",
    format: "Messages",
    layer: (url, apiKey, settings) => Formats.messages.layer(url, { model: "m", apiKey, ...settings }),
    layerConfig: Anthropic.layerConfig({ model: "m", retry: noRetry }),
    env: (url) => [["ANTHROPIC_API_KEY", KEY], ["ANTHROPIC_BASE_URL", url]],
    fromEnv: AnthropicConfig.fromEnv({ model: "m" }),
    sentKey: header("x-api-key"),
    keyHeader: "x-api-key",
    reply: (options) =>
      options?.toolCall === true
        ? Messages.reply({ toolCalls: [{ id: "c1", name: "clock", input: clockArgs }] })
        : Messages.reply({ text: "Hello", usage: { input_tokens: 2, output_tokens: 1 } }),
    error: (status, message, headers) => Messages.errorBody(status, message, { headers }),
    streamError: Script.make([Messages.messageStart(), Messages.errorEvent(500, "Internal server error")])
  },
  {
    name: "Google",
    format: "Gemini",
    layer: (url, apiKey, settings) => Formats.gemini.layer(url, { model: "gemini-test", apiKey, ...settings }),
    layerConfig: Google.layerConfig({ model: "gemini-test", retry: noRetry }),
    // the fallback name: GEMINI_API_KEY is covered by the fromEnv check
    env: (url) => [["GOOGLE_API_KEY", KEY], ["GEMINI_BASE_URL", url]],
    fromEnv: GoogleConfig.fromEnv({ model: "gemini-test" }),
    sentKey: header("x-goog-api-key"),
    keyHeader: "x-goog-api-key",
    reply: (options) =>
      options?.toolCall === true
        ? Gemini.reply({ functionCalls: [{ name: "clock", args: clockArgs }] })
        : Gemini.reply({ text: "Hello", usage: { promptTokenCount: 2, candidatesTokenCount: 1 } }),
    error: (status, message, headers) => Gemini.errorBody(status, message, { headers }),
    streamError: Script.make([...Gemini.text("Hel"), Gemini.errorEvent(500, "Internal error")])
  },
  {
    name: "Kimi",
    format: "ChatCompletions",
    layer: (url, apiKey, settings) => Kimi.layer({ apiKey, baseUrl: `${url}/v1`, ...settings }),
    layerConfig: Kimi.layerConfig({ retry: noRetry }),
    env: (url) => [["MOONSHOT_API_KEY", KEY], ["MOONSHOT_BASE_URL", `${url}/v1`]],
    fromEnv: ChatConfig.fromEnv<ProviderConfig.Common>("MOONSHOT", { model: "kimi-k2.6" }),
    sentKey: bearer,
    keyHeader: "authorization",
    ...chatFormat
  }
]

/** An address where nothing listens: a port taken, then released. */
const deadUrl = Effect.promise(() =>
  new Promise<string>((resolve) => {
    const server = http.createServer().listen(0, "127.0.0.1", () => {
      const address = server.address() as { readonly port: number }
      server.close(() => resolve(`http://127.0.0.1:${address.port}`))
    })
  })
)

const clock = Tool.make("clock", {
  parameters: Schema.Struct({ tz: Schema.String }),
  success: Schema.String,
  handler: ({ tz }) => Effect.succeed(`12:00 in ${tz}`)
})

const request = { messages: [Message.user("Hi")] }

describe.each(providers)("$name keeps its key secret", (provider) => {
  it.scopedLive("in errors, log lines and spans, over calls that fail in every way and calls that succeed", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const spans: Array<RecordedSpan> = []
      const errors: Array<unknown> = []
      const server = yield* ProviderServer.make()
      const model = (apiKey: Redacted.Redacted | string, settings: Settings = {}, url = server.url) =>
        provider.layer(url, apiKey, { retry: noRetry, ...settings }).pipe(Layer.orDie, Layer.provide(NodeHttpClient.layerUndici))
      /** Runs one call, logging its failure as an application would, and keeps the error. */
      const call = (layer: Layer.Layer<LanguageModel.LanguageModel>, expected: string | undefined) =>
        LanguageModel.generate(request).pipe(
          Effect.tapErrorCause((cause) => Effect.logError("the model call failed", cause)),
          Effect.tap((message) => Effect.logDebug("answer", message)),
          Effect.exit,
          Effect.map((exit) => {
            if (Exit.isFailure(exit)) errors.push(Cause.squash(exit.cause))
            const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
            expect(Exit.isSuccess(exit) ? undefined : (error as { readonly _tag?: string } | undefined)?._tag ?? Cause.pretty(exit.cause))
              .toBe(expected)
          }),
          Effect.provide(layer)
        )

      yield* Effect.gen(function*() {
        const redacted = model(Redacted.make(KEY))
        // a plain-string key is redacted by the layer itself
        const plain = model(KEY)
        const [first, second] = provider.reply().steps.filter((step) => step._tag === "Event")

        server.enqueue(provider.reply())
        yield* call(redacted, undefined)
        server.enqueue(provider.reply())
        yield* call(plain, undefined)
        server.enqueue(provider.error(401, "Invalid API key"))
        yield* call(redacted, "AuthenticationError")
        server.enqueue(provider.error(500, "Internal error"))
        yield* call(plain, "StatusError")
        server.enqueue(provider.error(429, "Slow down", { "retry-after-ms": "5" }), provider.reply())
        yield* call(model(KEY, { retry: oneQuickRetry }), undefined)
        server.enqueue(Script.make([first, Script.event("{\"broken\": ")]))
        yield* call(redacted, "ProtocolError")
        server.enqueue(Script.make([first, second, Script.drop()]))
        yield* call(redacted, "ConnectionError")
        server.enqueue(provider.streamError)
        yield* call(redacted, "ProviderStreamError")
        // a server or proxy that sends the key back, in an error body and a header, or in a stream's error event
        server.enqueue(Chaos.script({ format: provider.format, fault: "KeyEcho" }))
        yield* call(redacted, "AuthenticationError")
        server.enqueue(Chaos.script({ format: provider.format, fault: "KeyEchoEvent", at: 1 }))
        yield* call(redacted, "ProviderStreamError")
        server.enqueue({ ...provider.reply(), headersDelay: 5_000 })
        yield* call(model(KEY, { timeouts: { headers: "50 millis" } }), "HeadersTimeout")
        server.enqueue(Script.make([first, Script.stall()]))
        yield* call(model(KEY, { timeouts: { idle: "50 millis" } }), "IdleTimeout")
        server.enqueue(Script.make([first, Script.stall()]))
        yield* call(model(KEY, { timeouts: { total: "50 millis" } }), "TotalTimeout")
        yield* call(model(KEY, {}, yield* deadUrl), "ConnectionError")

        // a whole turn with a tool, whose spans and events cover the turn machinery too
        server.enqueue(provider.reply({ toolCall: true }), provider.reply())
        const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
        yield* Turn.run({ conversation, input: "What time is it?", toolkit: Toolkit.make(clock) }).pipe(Effect.provide(redacted))
      }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, recordingLogger(lines))),
        Logger.withMinimumLogLevel(LogLevel.All),
        Effect.withTracer(recordingTracer(spans))
      )

      // the key went where the provider reads it, on every request that reached the server
      expect(server.requests.length).toBeGreaterThan(10)
      for (const record of server.requests) expect(provider.sentKey(record)).toBe(KEY)

      expect(errors.length).toBe(11)
      for (const error of errors) expectNoKey(`the error ${(error as { readonly _tag?: string })._tag}`, renderings(error))
      expect(lines.length).toBeGreaterThan(0)
      expectNoKey("a log line", lines)
      const http = spans.filter((span) => span.attributes.has("http.request.method"))
      expect(http.length).toBeGreaterThan(10)
      // the header was there, and shown redacted
      for (const span of http) expect(span.attributes.get(`http.request.header.${provider.keyHeader}`)).toBe("<redacted>")
      expect(spans.some((span) => span.name === "Turn.run")).toBe(true)
      for (const span of spans) expectNoKey(`the span ${span.name}`, spanTexts(span))
    }))

  it.scopedLive("in the options it is given or reads from the environment, and through layerConfig", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const env = ConfigProvider.fromMap(new Map(provider.env(server.url)))
      const given = { model: "m", apiKey: Redacted.make(KEY), baseUrl: server.url }
      expectNoKey("the options given", renderings(given))

      const read = yield* provider.fromEnv.pipe(Effect.withConfigProvider(env))
      expect(read.apiKey !== undefined && Redacted.isRedacted(read.apiKey) ? Redacted.value(read.apiKey) : read.apiKey).toBe(KEY)
      expectNoKey("the options read from the environment", renderings(read))

      const lines: Array<string> = []
      const spans: Array<RecordedSpan> = []
      server.enqueue(provider.reply(), provider.error(401, "Invalid API key"))
      const exits = yield* Effect.gen(function*() {
        yield* Effect.logDebug("configured", read)
        const ok = yield* Effect.exit(LanguageModel.generate(request))
        const denied = yield* Effect.exit(LanguageModel.generate(request).pipe(Effect.tapErrorCause((cause) => Effect.logError(cause))))
        return [ok, denied] as const
      }).pipe(
        Effect.provide(provider.layerConfig.pipe(Layer.provide(NodeHttpClient.layerUndici), Layer.provide(Layer.setConfigProvider(env)))),
        Effect.provide(Logger.replace(Logger.defaultLogger, recordingLogger(lines))),
        Logger.withMinimumLogLevel(LogLevel.All),
        Effect.withTracer(recordingTracer(spans))
      )
      expect(Exit.isSuccess(exits[0])).toBe(true)
      expect(Exit.isFailure(exits[1])).toBe(true)
      expect(server.requests.map(provider.sentKey)).toEqual([KEY, KEY])
      expectNoKey("the failure", renderings(Exit.isFailure(exits[1]) ? Cause.squash(exits[1].cause) : undefined))
      expect(lines.length).toBeGreaterThan(0)
      expectNoKey("a log line", lines)
      expect(spans.length).toBeGreaterThan(0)
      for (const span of spans) expectNoKey(`the span ${span.name}`, spanTexts(span))
    }))
})

describe("Gemini's key", () => {
  it.scopedLive("travels in the x-goog-api-key header, never in the URL", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Gemini.reply({ text: "Hello" }), Gemini.reply({ text: "Hello" }))
      const layer = Formats.gemini.layer(server.url, { model: "gemini-test", apiKey: Redacted.make(KEY) }).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      )
      yield* LanguageModel.generate(request).pipe(Effect.provide(layer))
      // the same through the environment, with the preferred variable this time
      const env = ConfigProvider.fromMap(new Map([["GEMINI_API_KEY", KEY], ["GEMINI_BASE_URL", server.url]]))
      yield* LanguageModel.generate(request).pipe(
        Effect.provide(Google.layerConfig({ model: "gemini-test" }).pipe(Layer.provide(NodeHttpClient.layerUndici), Layer.provide(Layer.setConfigProvider(env))))
      )
      for (const record of server.requests) {
        expect(record.headers["x-goog-api-key"]).toBe(KEY)
        expect(record.path).toBe("/v1beta/models/gemini-test:streamGenerateContent?alt=sse")
        expectNoKey("the URL", [record.path, decodeURIComponent(record.path)])
        expect(record.path).not.toMatch(/[?&]key=/)
      }
    }))
})
