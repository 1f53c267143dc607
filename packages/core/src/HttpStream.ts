/**
 * A provider call as a stream of chunks: the request, retried before any content as its policy
 * says, each attempt's body decoded as Server-Sent Events and then by the provider's decoder, under
 * one span and, when given, one deadline. The stream owns the connection: any end of it
 * (completion, failure, `take`, interruption) aborts the request and closes its connection if it is
 * still open. The transport itself is in `Transport`, the status errors in `HttpStatus`.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import type * as StreamPart from "./StreamPart.js"
import type * as Decoder from "./Decoder.js"
import type * as HttpStatus from "./HttpStatus.js"
import * as ProviderError from "./ProviderError.js"
import * as Pull from "./Pull.js"
import * as Retry from "./Retry.js"
import * as Secrets from "./Secrets.js"
import type * as Sse from "./Sse.js"
import * as Transport from "./Transport.js"

export {
  /** The provider's request id from the response headers, when it sent one. */
  requestId,
  /** How long the server asks the client to wait. */
  retryAfter,
  /** Maps an HTTP error status and its body to the matching typed error. */
  statusError
} from "./HttpStatus.js"

export {
  /** The defaults, generous enough for a reasoning model that thinks for minutes. */
  defaultTimeouts,
  /** Sends the request in the current scope, a non-2xx status failing with its typed error. */
  execute
} from "./Transport.js"

/** How long a call may wait, at each phase. */
export type Timeouts = Transport.Timeouts

/** What a provider says about the request it streams. */
export interface Options {
  readonly provider: string
  /** The model asked for, recorded on the call's span. */
  readonly model?: string | undefined
  readonly sse?: Sse.SseOptions | undefined
  readonly timeouts?: Timeouts | undefined
  /** Retries before any output; `Retry.defaultPolicy` unless given. */
  readonly retry?: Retry.Policy | undefined
  /** What the provider's error bodies say that HTTP does not. */
  readonly hints?: HttpStatus.Hints | undefined
}

/** Per-call settings a layer and a request may both give; the request's win. */
export interface CallSettings {
  readonly model?: string | undefined
  readonly timeouts?: Timeouts | undefined
  readonly retry?: Retry.Policy | undefined
}

/** The options of one call: the provider's name, the layer's settings, the request's overrides. */
export const callOptions = (provider: string, layer: CallSettings, request: CallSettings): Options => ({
  provider,
  model: request.model ?? layer.model,
  timeouts: { ...layer.timeouts, ...request.timeouts },
  retry: request.retry ?? layer.retry
})

/** Whether a chunk is content: what a retry must never repeat. A response's opening and usage are not. */
const isContent = (chunk: StreamPart.StreamPart): boolean => chunk._tag !== "Start" && chunk._tag !== "Usage"

/**
 * A whole provider call: sends the request, decodes the SSE body with a fresh decoder, and emits
 * its chunks, retrying before any content as `options.retry` says. The stream owns the connection;
 * ending it in any way releases it, and so does the provider's terminal event. The call is traced
 * as a `LanguageModel.stream` span, the parent of each attempt's HTTP span. Whatever the call
 * reports (its errors, its spans) is cleaned of the credentials its request carries, should the
 * server send them back.
 *
 * @example
 * ```ts
 * import { HttpClient, HttpClientRequest } from "@effect/platform"
 * import { HttpStream } from "@reins/core"
 * import { ChatEvents } from "@reins/openai"
 * import { Effect } from "effect"
 *
 * // A provider's call, as a layer's `stream` makes it: the request, and a decoder per response.
 * const chunks = Effect.map(HttpClient.HttpClient, (client) =>
 *   HttpStream.chunks(
 *     client,
 *     HttpClientRequest.post("http://127.0.0.1:8080/v1/chat/completions").pipe(
 *       HttpClientRequest.bodyUnsafeJson({ model: "local", stream: true, messages: [{ role: "user", content: "Hi" }] })
 *     ),
 *     { provider: "local", model: "local", timeouts: { idle: "30 seconds" } },
 *     (info) => new ChatEvents.ChatEventDecoder("local", info)
 *   ))
 * ```
 */
export const chunks = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  options: Options,
  decoder: (info: Decoder.ResponseInfo) => Decoder.EventDecoder
): Stream.Stream<StreamPart.StreamPart, ProviderError.ProviderError> => {
  const secrets = Secrets.fromHeaders(request.headers)
  const open = (span: Tracer.Span, scope: Scope.Scope) => {
    const once = Transport.attempt(client, request, options, decoder, span, scope)
    if (secrets.length === 0) return once
    return Effect.mapError(
      Effect.tracerWith((tracer) => Effect.withTracer(Effect.map(once, (pull) => scrubbed(secrets, pull)), Secrets.scrubbingTracer(tracer, secrets))),
      (error) => Secrets.scrubError(error, secrets)
    )
  }
  const attributes = { provider: options.provider, ...(options.model !== undefined ? { model: options.model } : {}) }
  return withTotalTimeout(
    // One pull under one scope: retries and decoding add no stream layer that every read would
    // pass through (see Pull).
    Pull.stream(Effect.flatMap(
      Effect.makeSpanScoped("LanguageModel.stream", { attributes, captureStackTrace: false }),
      (span) =>
        Effect.map(
          Effect.scope,
          (scope) => Retry.pullIn(options.retry ?? Retry.defaultPolicy, scope, (attemptScope) => open(span, attemptScope), isContent)
        )
    )),
    options
  )
}

/** Fails the stream with `TotalTimeout` once `timeouts.total` has passed, wherever it is. */
const withTotalTimeout = (stream: Stream.Stream<StreamPart.StreamPart, ProviderError.ProviderError>, options: Options) => {
  const total = options.timeouts?.total
  if (total === undefined) return stream
  const timeout = Duration.decode(total)
  return Stream.interruptWhen(stream, Effect.zipRight(Effect.sleep(timeout), Effect.fail(new ProviderError.TotalTimeout({ provider: options.provider, timeout }))))
}

/** The attempt's errors cleaned of the request's credentials. */
const scrubbed = <A>(
  secrets: ReadonlyArray<string>,
  pull: Pull.Pull<A, ProviderError.ProviderError>
): Pull.Pull<A, ProviderError.ProviderError> => Effect.mapError(pull, Option.map((error) => Secrets.scrubError(error, secrets)))
