/**
 * Shared wiring for the cross-package tests: a model of any format (`Formats`) pointed at a
 * ProviderServer on loopback over real HTTP, Chat Completions the most used, and a stream consumer
 * to fork and interrupt.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { expect } from "@effect/vitest"
import { LanguageModel, Retry, type StreamPart } from "@reins/core"
import type { OpenAiChat } from "@reins/openai"
import { Formats, ProviderServer } from "@reins/testing"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"

/** node:http with a keep-alive pool (the default `NodeHttpClient.layer` agent opens a connection per request). */
export const nodeHttpKeepAlive: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerWithoutAgent.pipe(
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true }))
)

/** Both of `@effect/platform-node`'s HTTP clients, for tests that must hold on each. */
export const transports = [
  { name: "undici", layer: NodeHttpClient.layerUndici },
  { name: "node:http", layer: nodeHttpKeepAlive }
] as const

/** A model of `format` served by `server` (`Formats.all` has them), on a real HTTP client (undici unless given). */
export const modelOn = (
  format: Formats.Format,
  server: ProviderServer.ProviderServer,
  options: Formats.ModelOptions = {},
  transport: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici
): Layer.Layer<LanguageModel.LanguageModel> =>
  format.layer(server.url, { apiKey: Redacted.make(Formats.apiKey), ...options }).pipe(Layer.orDie, Layer.provide(transport))

/** A Chat Completions model served by `server`, on a real HTTP client (undici unless given). */
export const chatModel = (
  server: ProviderServer.ProviderServer,
  options: Partial<OpenAiChat.Options> = {},
  transport: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici
): Layer.Layer<LanguageModel.LanguageModel> => modelOn(Formats.chat, server, { ...options }, transport)

/** A retry policy that never retries. */
export const noRetry = { ...Retry.defaultPolicy, maxRetries: 0 }

/** Waits for the server to see the connection of `requestId` close, failing after `millis`. */
export const connectionClosed = (server: ProviderServer.ProviderServer, requestId: number, millis = 2_000) =>
  Effect.promise(() => server.connectionClosed(requestId)).pipe(
    Effect.timeoutFail({ duration: millis, onTimeout: () => new Error(`connection of request ${requestId} still open after ${millis} ms`) })
  )

/**
 * Forks a consumer that drains the model stream for `request`, and returns its fiber once the first
 * chunk has arrived (the first `firstChunk` accepts, when given), or at once with `awaitFirst: false`.
 */
export const forkStream = Effect.fn("forkStream")(function*(
  request: LanguageModel.Request,
  options: { readonly awaitFirst?: boolean; readonly firstChunk?: (chunk: StreamPart.StreamPart) => boolean } = {}
) {
  const first = yield* Deferred.make<void>()
  const fiber = yield* LanguageModel.stream(request).pipe(
    Stream.tap((chunk) => (options.firstChunk?.(chunk) ?? true) ? Deferred.succeed(first, undefined) : Effect.void),
    Stream.runDrain,
    Effect.fork
  )
  if (options.awaitFirst ?? true) yield* Deferred.await(first)
  return fiber
})

/**
 * Interrupts `fiber`, a consumer of the stream whose request the server recorded as `record`,
 * checks that it ended interrupted, and waits for the server to see that connection close.
 */
export const interruptStream = (
  server: ProviderServer.ProviderServer,
  fiber: Fiber.Fiber<unknown, unknown>,
  record: ProviderServer.RequestRecord
) =>
  Effect.gen(function*() {
    const exit = yield* Fiber.interrupt(fiber)
    expect(Exit.isInterrupted(exit)).toBe(true)
    yield* connectionClosed(server, record.id)
  })

/** A span as recorded: what a tracing exporter would ship. */
export interface RecordedSpan {
  readonly name: string
  /** The name of the span it was made under, if that one was recorded too. */
  readonly parent: string | undefined
  readonly attributes: Map<string, unknown>
  readonly events: Array<{ readonly name: string; readonly attributes: Record<string, unknown> | undefined }>
  exit: Exit.Exit<unknown, unknown> | undefined
}

/** A tracer that keeps every span with its attributes, events and how it ended. */
export const recordingTracer = (spans: Array<RecordedSpan>): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const record: RecordedSpan = {
        name,
        parent: Option.isSome(parent) && parent.value._tag === "Span" ? parent.value.name : undefined,
        attributes: new Map(),
        events: [],
        exit: undefined
      }
      spans.push(record)
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: `span-${spans.length}`,
        traceId: "trace",
        parent,
        context,
        get status(): Tracer.SpanStatus {
          return record.exit === undefined ? { _tag: "Started", startTime } : { _tag: "Ended", startTime, endTime: startTime, exit: record.exit }
        },
        attributes: record.attributes,
        links: [...links],
        sampled: true,
        kind,
        end: (_endTime, exit) => {
          record.exit = exit
        },
        attribute: (key, value) => {
          record.attributes.set(key, value)
        },
        event: (eventName, _startTime, attributes) => {
          record.events.push({ name: eventName, attributes })
        },
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })
