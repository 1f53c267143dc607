/**
 * Streaming HTTP on `@effect/platform`'s HttpClient: one request, its status mapped to a typed
 * error, its body decoded as Server-Sent Events and then as a provider's chunks. The response is
 * bound to the consuming stream's scope, so any end of the stream (completion, failure, `take`,
 * interruption) aborts the request and closes its connection if it is still open.
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as EffectChunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import type * as StreamPart from "./StreamPart.js"
import * as BodyReader from "./BodyReader.js"
import * as EventBody from "./EventBody.js"
import * as ProviderError from "./ProviderError.js"
import * as Pull from "./Pull.js"
import * as Retry from "./Retry.js"
import * as Secrets from "./Secrets.js"
import type * as Sse from "./Sse.js"

/** How long a call may wait, at each phase. */
export interface Timeouts {
  /** From sending the request to the response headers. Default 10 minutes: reasoning models think first. */
  readonly headers?: Duration.DurationInput | undefined
  /** The longest silence inside the body. Default 5 minutes. */
  readonly idle?: Duration.DurationInput | undefined
  /**
   * What ends a silence for `idle`: any bytes (`"bytes"`, the default, so keep-alive comments and
   * pings count), or only chunks the stream emits (`"chunks"`), for a server that keeps a dead
   * generation alive with pings.
   */
  readonly idleResetBy?: "bytes" | "chunks" | undefined
  /** The whole call, retries and backoff included; failing with `TotalTimeout`. No limit by default. */
  readonly total?: Duration.DurationInput | undefined
}

/** The defaults, generous enough for a reasoning model that thinks for minutes. */
export const defaultTimeouts = { headers: "10 minutes", idle: "5 minutes", idleResetBy: "bytes" } as const satisfies Timeouts

/** What a provider says about the request it streams. */
export interface Options {
  readonly provider: string
  /** The model asked for, recorded on the call's span. */
  readonly model?: string | undefined
  readonly sse?: Sse.SseOptions | undefined
  readonly timeouts?: Timeouts | undefined
  /** Retries before any output; `Retry.defaultPolicy` unless given. */
  readonly retry?: Retry.Policy | undefined
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

/** The parts of a successful response a decoder may need. */
export interface ResponseInfo {
  readonly status: number
  readonly headers: Headers.Headers
  readonly requestId: string | undefined
}

/**
 * Turns a provider's SSE events into chunks. One instance per response. `event` and `end` push
 * chunks onto `out`, and throw a `ProviderError` when the stream is bad or reports an error; `done`
 * turns true at the provider's terminal event.
 */
export type EventDecoder = EventBody.EventDecoder

const REQUEST_ID_HEADERS = ["x-request-id", "request-id", "x-goog-request-id"]

/** The provider's request id from the response headers, when it sent one. */
export const requestId = (headers: Headers.Headers): string | undefined => {
  for (const name of REQUEST_ID_HEADERS) {
    const value = headers[name]
    if (value !== undefined) return value
  }
  return undefined
}

/**
 * How long the server asks the client to wait: `retry-after-ms` (milliseconds), else `Retry-After`
 * in seconds or as an HTTP date.
 */
export const retryAfter = (headers: Headers.Headers, now: number = Date.now()): Duration.Duration | undefined => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined) {
    const value = Number(ms)
    if (Number.isFinite(value) && value >= 0) return Duration.millis(value)
  }
  const after = headers["retry-after"]
  if (after === undefined) return undefined
  const seconds = Number(after)
  if (after.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) return Duration.seconds(seconds)
  const date = Date.parse(after)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - now))
}

const CONTEXT_OVERFLOW =
  /context[_ ]length|context window|maximum context|prompt is too long|too many (input )?tokens|input token count|exceeds the (maximum|model)/i

const parseBody = (body: string): any => {
  try {
    return JSON.parse(body)
  } catch {
    return undefined // not JSON: the excerpt says enough
  }
}

const PROTO_DURATION = /^(\d+(?:\.\d+)?)s$/

/**
 * The wait a Google API error asks for in its body (`details[]` of type `google.rpc.RetryInfo`,
 * `retryDelay` as a protobuf duration such as `"39s"`), which Gemini sends instead of `Retry-After`.
 */
const retryInfoDelay = (error: any): Duration.Duration | undefined => {
  if (!Array.isArray(error?.details)) return undefined
  for (const detail of error.details) {
    const match = typeof detail?.retryDelay === "string" ? PROTO_DURATION.exec(detail.retryDelay) : null
    if (match !== null) return Duration.millis(Math.round(Number(match[1]) * 1000))
  }
  return undefined
}

/** Maps an HTTP error status and its body to the matching typed error. */
export const statusError = (
  provider: string,
  status: number,
  headers: Headers.Headers,
  body: string
): ProviderError.ProviderError => {
  const error = EventBody.errorObject(parseBody(body))
  const fields = {
    provider,
    status,
    requestId: requestId(headers),
    retryAfter: retryAfter(headers) ?? retryInfoDelay(error),
    body: ProviderError.excerpt(body, 2048),
    providerMessage: EventBody.providerMessage(error)
  }
  if (status === 401 || status === 403) return new ProviderError.AuthenticationError(fields)
  if (status === 429) return new ProviderError.RateLimited(fields)
  if ((status === 400 || status === 413) && CONTEXT_OVERFLOW.test(body)) return new ProviderError.ContextOverflow(fields)
  return new ProviderError.StatusError(fields)
}

const ERROR_BODY_LIMIT = 64 * 1024

/**
 * The text of an error response's body, read for at most `deadline` and up to a size cap: a body
 * that stalls or trickles ends with what arrived by then, so the status error is never held up.
 */
const readErrorBody = (response: HttpClientResponse.HttpClientResponse, deadline: Duration.Duration): Effect.Effect<string> =>
  Effect.suspend(() => {
    let text = ""
    const text$ = new TextDecoder()
    const add = (bytes: Uint8Array) => {
      text += text$.decode(bytes, { stream: true })
    }
    const full = () => text.length >= ERROR_BODY_LIMIT
    const body = nodeBody(response)
    const read: Effect.Effect<unknown, unknown, Scope.Scope> = body !== undefined && !("unsupported" in body)
      ? Effect.flatMap(
        BodyReader.pull<never, unknown>(body, { decode: add, end: () => {}, complete: full, onBodyError: identity, onDecodeError: identity }),
        (pull) => pull
      )
      : Stream.runForEachWhile(response.stream, (bytes) => Effect.sync(() => (add(bytes), !full())))
    return read.pipe(Effect.scoped, Effect.timeout(deadline), Effect.ignore, Effect.map(() => text))
  })

const identity = <A>(a: A): A => a

/** The body of a response of `@effect/platform-node`'s clients, decoded as its `content-encoding` says. */
const nodeBody = (response: HttpClientResponse.HttpClientResponse) => {
  const readable = BodyReader.nodeReadable(response)
  return readable === undefined ? undefined : BodyReader.decoded(readable, response.headers["content-encoding"])
}

const brokenBody = (provider: string, cause: unknown) =>
  new ProviderError.ConnectionError({ provider, message: `the response body broke off: ${errorMessage(cause)}`, cause })

/** The error codes undici and node:http give when a TCP connection is not made in time. */
const CONNECT_TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"])

const errorCode = (cause: unknown): unknown => (cause as { code?: unknown } | undefined)?.code ?? (cause as { cause?: { code?: unknown } } | undefined)?.cause?.code

const connectionError = (provider: string) => (error: HttpClientError.HttpClientError) =>
  error.reason === "Transport" && CONNECT_TIMEOUT_CODES.has(errorCode(error.cause) as string)
    ? new ProviderError.ConnectTimeout({
      provider,
      message: `could not connect to ${error.request.url} in time: ${errorMessage(error.cause)}`,
      cause: error.cause
    })
    : error.reason === "Transport"
    ? new ProviderError.ConnectionError({
      provider,
      message: `could not reach ${error.request.url}: ${errorMessage(error.cause)}`,
      cause: error.cause
    })
    : brokenBody(provider, error.cause)

const errorMessage = (cause: unknown): string =>
  cause instanceof Error ? (cause.cause instanceof Error ? `${cause.message} (${cause.cause.message})` : cause.message) : String(cause)

/**
 * Sends the request in the current scope: a non-2xx status fails with its typed error, its body read
 * for at most the idle limit, and closing the scope aborts the request wherever it is.
 */
export const execute = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  provider: string,
  timeouts?: Timeouts | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, ProviderError.ProviderError, Scope.Scope> => {
  const headersTimeout = timeouts?.headers ?? defaultTimeouts.headers
  return HttpClient.withScope(client).execute(request).pipe(
    Effect.mapError(connectionError(provider)),
    Effect.timeoutFail({
      duration: headersTimeout,
      onTimeout: () => new ProviderError.HeadersTimeout({ provider, timeout: Duration.decode(headersTimeout) })
    }),
    Effect.flatMap((response) =>
      response.status >= 200 && response.status < 300
        ? Effect.succeed(response)
        : Effect.flatMap(
          readErrorBody(response, Duration.decode(timeouts?.idle ?? defaultTimeouts.idle)),
          (body) => Effect.fail(statusError(provider, response.status, response.headers, body))
        )
    )
  )
}

/** A value thrown while decoding, as the stream's typed error. */
const decodeFailure = (provider: string, error: unknown): ProviderError.ProviderError =>
  ProviderError.isProviderError(error)
    ? error
    : new ProviderError.ProtocolError({ provider, message: `could not decode the stream: ${errorMessage(error)}`, excerpt: "", cause: error })

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
  decoder: (info: ResponseInfo) => EventDecoder
): Stream.Stream<StreamPart.StreamPart, ProviderError.ProviderError> => {
  const secrets = Secrets.fromHeaders(request.headers)
  const open = (span: Tracer.Span) => {
    const once = Effect.withParentSpan(attempt(client, request, options, decoder, secrets, span), span)
    if (secrets.length === 0) return once
    return Effect.tracerWith((tracer) => Effect.withTracer(once, Secrets.scrubbingTracer(tracer, secrets))).pipe(
      Effect.mapError((error) => Secrets.scrubError(error, secrets))
    )
  }
  return withTotalTimeout(
    // One pull under one scope: retries and decoding add no stream layer that every read would
    // pass through (see Pull).
    Pull.stream(Effect.flatMap(
      Effect.makeSpanScoped("LanguageModel.stream", {
        attributes: { provider: options.provider, ...(options.model !== undefined ? { model: options.model } : {}) },
        captureStackTrace: false
      }),
      (span) => Retry.pull(options.retry ?? Retry.defaultPolicy, open(span), isContent)
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

/** The attempt's errors cleaned of the request's credentials; the same pull when it sent none. */
const scrubbed = <A>(
  secrets: ReadonlyArray<string>,
  pull: Pull.Pull<A, ProviderError.ProviderError>
): Pull.Pull<A, ProviderError.ProviderError> =>
  secrets.length === 0 ? pull : Effect.mapError(pull, Option.map((error) => Secrets.scrubError(error, secrets)))

/** One attempt: the request sent in the current scope, and the pull over its decoded body. */
const attempt = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  options: Options,
  decoder: (info: ResponseInfo) => EventDecoder,
  secrets: ReadonlyArray<string>,
  span: Tracer.Span
): Effect.Effect<Pull.Pull<StreamPart.StreamPart, ProviderError.ProviderError>, ProviderError.ProviderError, Scope.Scope> =>
  Effect.flatMap(Scope.make(), (requestScope) => {
    // The request has a scope of its own, closed (aborting it) with the attempt's, unless the
    // response was whole before its body ended: the body then drains into the pool on its own.
    let released = false
    const sent = Effect.zipRight(
      Effect.addFinalizer((exit) => released ? Effect.void : Scope.close(requestScope, exit)),
      Scope.extend(execute(client, request, options.provider, options.timeouts), requestScope)
    )
    return Effect.flatMap(sent, (response) => decodedBody(response, options, decoder, secrets, span, () => (released = true)))
  })

/**
 * The pull over a 2xx response's decoded body, on the Node fast path when the client has one (an
 * `@effect/platform-node` client), else on the portable path; the call's span records which ran as
 * `reins.body_path`.
 */
const decodedBody = (
  response: HttpClientResponse.HttpClientResponse,
  options: Options,
  decoder: (info: ResponseInfo) => EventDecoder,
  secrets: ReadonlyArray<string>,
  span: Tracer.Span,
  onRelease: () => void
): Effect.Effect<Pull.Pull<StreamPart.StreamPart, ProviderError.ProviderError>, ProviderError.ProviderError, Scope.Scope> => {
    const { provider } = options
    const idleTimeout = Duration.decode(options.timeouts?.idle ?? defaultTimeouts.idle)
    const resetBy = options.timeouts?.idleResetBy ?? defaultTimeouts.idleResetBy
    const info = { status: response.status, headers: response.headers, requestId: requestId(response.headers) }
    const body = new EventBody.EventBody(
      provider,
      { status: response.status, contentType: response.headers["content-type"], requestId: info.requestId },
      decoder(info),
      options.sse
    )
    // Silence in a body already known not to be a stream ends it as what it is.
    const onIdle = () => body.isOther ? body.unexpected() : new ProviderError.IdleTimeout({ provider, timeout: idleTimeout })
    const feed = (bytes: Uint8Array, out: Array<StreamPart.StreamPart>) => body.feed(bytes, out)
    const end = (out: Array<StreamPart.StreamPart>) => body.end(out)
    const readable = nodeBody(response)
    if (readable !== undefined && "unsupported" in readable) {
      return Effect.fail(
        new ProviderError.ProtocolError({
          provider,
          message: `the response is encoded as "${readable.unsupported}", which this runtime cannot decode`,
          excerpt: ""
        })
      )
    }
    if (readable !== undefined) {
      span.attribute("reins.body_path", "node")
      return Effect.map(
        BodyReader.pull(readable, {
          decode: feed,
          end,
          complete: () => body.done,
          onRelease,
          onBodyError: (cause) => brokenBody(provider, cause),
          onDecodeError: (thrown) => decodeFailure(provider, thrown),
          idleTimeout,
          idleResetBy: resetBy === "chunks" ? "values" : "bytes",
          onIdle
        }),
        (pull) => scrubbed(secrets, pull)
      )
    }
    // The portable path (fetch, browsers): the client has decoded the body already.
    span.attribute("reins.body_path", "portable")
    const bytes = Stream.mapError(response.stream, connectionError(provider))
    return Effect.map(
      Stream.toPull(resetBy === "chunks" ? bytes : Stream.timeoutFail(bytes, onIdle, idleTimeout)),
      (read) => {
        const pull = portablePull(read, feed, end, () => body.done, (thrown) => decodeFailure(provider, thrown))
        return scrubbed(secrets, resetBy === "chunks" ? Effect.timeoutFail(pull, { duration: idleTimeout, onTimeout: () => Option.some(onIdle()) }) : pull)
      }
    )
}

/**
 * A pull of chunks over a pull of byte reads, each read decoded whole: values decoded before an
 * error in the same read go downstream first, then the error; the terminal event ends it.
 */
const portablePull = (
  read: Pull.Pull<Uint8Array, ProviderError.ProviderError>,
  feed: (bytes: Uint8Array, out: Array<StreamPart.StreamPart>) => void,
  end: (out: Array<StreamPart.StreamPart>) => void,
  done: () => boolean,
  onDecodeError: (thrown: unknown) => ProviderError.ProviderError
): Pull.Pull<StreamPart.StreamPart, ProviderError.ProviderError> => {
  let over = false
  let deferred: Option.Option<ProviderError.ProviderError> | undefined
  const emit = (f: (out: Array<StreamPart.StreamPart>) => void): Pull.Pull<StreamPart.StreamPart, ProviderError.ProviderError> | undefined => {
    const out: Array<StreamPart.StreamPart> = []
    try {
      f(out)
      if (!over && done()) {
        over = true
        end(out)
      }
    } catch (error) {
      over = true
      deferred = Option.some(onDecodeError(error))
    }
    return out.length > 0 ? Effect.succeed(EffectChunk.unsafeFromArray(out)) : over ? next : undefined
  }
  const next: Pull.Pull<StreamPart.StreamPart, ProviderError.ProviderError> = Effect.suspend(() => {
    if (deferred !== undefined) return Effect.fail(deferred)
    if (over) return Effect.fail(Option.none())
    return Effect.matchEffect(read, {
      onFailure: (error) => {
        if (Option.isSome(error)) return Effect.fail(error)
        over = true
        return emit(end) ?? next
      },
      onSuccess: (pieces) => emit((out) => { for (const piece of pieces) if (!done()) feed(piece, out) }) ?? next
    })
  })
  return next
}

/** Parses one event's JSON, failing with a `ProtocolError` that shows the bad text. */
export const parseJson = (provider: string, event: Sse.SseEvent): any => {
  try {
    return JSON.parse(event.data)
  } catch (cause) {
    throw new ProviderError.ProtocolError({
      provider,
      message: `invalid JSON in a${event.event === "message" ? "n" : ` "${event.event}"`} event`,
      excerpt: ProviderError.excerpt(event.data, 256),
      cause
    })
  }
}
