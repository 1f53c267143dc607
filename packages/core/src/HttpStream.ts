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
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Chunk from "./Chunk.js"
import * as BodyReader from "./BodyReader.js"
import * as ProviderError from "./ProviderError.js"
import * as Pull from "./Pull.js"
import * as Retry from "./Retry.js"
import * as Sse from "./Sse.js"

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
 * chunks onto `out`, and throw a `ProviderError` when the stream is bad or reports an error.
 */
export interface EventDecoder {
  readonly event: (event: Sse.SseEvent, out: Array<Chunk.Chunk>) => void
  /**
   * True once the provider's terminal event has been decoded (`[DONE]`, `response.completed`,
   * `message_stop`, Gemini's finishing candidate): the response is then over, whether or not the
   * server closes the body, and nothing after it is read.
   */
  readonly done: boolean
  /** Called when the body ends; throws if the stream was cut off before its terminal event. */
  readonly end: (out: Array<Chunk.Chunk>) => void
}

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

/** The error object of the common JSON error bodies: `{ error: ... }`, `[{ error: ... }]` or the body itself. */
const errorObject = (json: any): any => Array.isArray(json) ? json[0]?.error : json?.error ?? json

/** The `message` of the common JSON error bodies: `{ error: { message } }`, `{ message }`, `{ error: "..." }`. */
const providerMessage = (error: any): string | undefined =>
  typeof error === "string" ? error : typeof error?.message === "string" ? error.message : undefined

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
  const error = errorObject(parseBody(body))
  const fields = {
    provider,
    status,
    requestId: requestId(headers),
    retryAfter: retryAfter(headers) ?? retryInfoDelay(error),
    body: ProviderError.excerpt(body, 2048),
    providerMessage: providerMessage(error)
  }
  if (status === 401 || status === 403) return new ProviderError.AuthenticationError(fields)
  if (status === 429) return new ProviderError.RateLimited(fields)
  if ((status === 400 || status === 413) && CONTEXT_OVERFLOW.test(body)) return new ProviderError.ContextOverflow(fields)
  return new ProviderError.StatusError(fields)
}

const ERROR_BODY_LIMIT = 64 * 1024

const readErrorBody = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<string> =>
  response.stream.pipe(
    Stream.decodeText(),
    Stream.scan("", (acc, piece) => acc + piece),
    Stream.takeUntil((text) => text.length >= ERROR_BODY_LIMIT),
    Stream.runLast,
    Effect.map(Option.getOrElse(() => "")),
    Effect.orElseSucceed(() => "")
  )

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
 * Sends the request in the current scope: a non-2xx status fails with its typed error, and closing
 * the scope aborts the request wherever it is.
 */
export const execute = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  provider: string,
  headersTimeout: Duration.DurationInput = defaultTimeouts.headers
): Effect.Effect<HttpClientResponse.HttpClientResponse, ProviderError.ProviderError, Scope.Scope> =>
  HttpClient.withScope(client).execute(request).pipe(
    Effect.mapError(connectionError(provider)),
    Effect.timeoutFail({
      duration: headersTimeout,
      onTimeout: () => new ProviderError.HeadersTimeout({ provider, timeout: Duration.decode(headersTimeout) })
    }),
    Effect.flatMap((response) =>
      response.status >= 200 && response.status < 300
        ? Effect.succeed(response)
        : Effect.flatMap(
          readErrorBody(response),
          (body) => Effect.fail(statusError(provider, response.status, response.headers, body))
        )
    )
  )

const isProviderError = (u: unknown): u is ProviderError.ProviderError =>
  typeof u === "object" && u !== null && "provider" in u && "retryable" in u && "_tag" in u

/** A value thrown while decoding, as the stream's typed error. */
const decodeFailure = (provider: string, error: unknown): ProviderError.ProviderError =>
  isProviderError(error)
    ? error
    : new ProviderError.ProtocolError({ provider, message: `could not decode the stream: ${errorMessage(error)}`, excerpt: "", cause: error })

/**
 * A whole provider call: sends the request, decodes the SSE body with a fresh decoder, and emits
 * its chunks, retrying before any output as `options.retry` says. The stream owns the connection;
 * ending it in any way releases it. The call is traced as a `LanguageModel.stream` span, the parent
 * of each attempt's HTTP span.
 *
 * @example
 * HttpStream.chunks(client, request, { provider: "openai" }, (info) => new ChatDecoder(info))
 */
export const chunks = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  options: Options,
  decoder: (info: ResponseInfo) => EventDecoder
): Stream.Stream<Chunk.Chunk, ProviderError.ProviderError> =>
  withTotalTimeout(
    // One pull under one scope: retries and decoding add no stream layer that every read would
    // pass through (see Pull).
    Pull.stream(Effect.flatMap(
      Effect.makeSpanScoped("LanguageModel.stream", {
        attributes: { provider: options.provider, ...(options.model !== undefined ? { model: options.model } : {}) },
        captureStackTrace: false
      }),
      (span) => Retry.pull(options.retry ?? Retry.defaultPolicy, Effect.withParentSpan(attempt(client, request, options, decoder), span))
    )),
    options
  )

/** Fails the stream with `TotalTimeout` once `timeouts.total` has passed, wherever it is. */
const withTotalTimeout = (stream: Stream.Stream<Chunk.Chunk, ProviderError.ProviderError>, options: Options) => {
  const total = options.timeouts?.total
  if (total === undefined) return stream
  const timeout = Duration.decode(total)
  return Stream.interruptWhen(stream, Effect.zipRight(Effect.sleep(timeout), Effect.fail(new ProviderError.TotalTimeout({ provider: options.provider, timeout }))))
}

/** One attempt: the request sent in the current scope, and the pull over its decoded body. */
const attempt = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  options: Options,
  decoder: (info: ResponseInfo) => EventDecoder
): Effect.Effect<Pull.Pull<Chunk.Chunk, ProviderError.ProviderError>, ProviderError.ProviderError, Scope.Scope> =>
  Effect.flatMap(execute(client, request, options.provider, options.timeouts?.headers), (response) => {
    const { provider } = options
    const idleTimeout = Duration.decode(options.timeouts?.idle ?? defaultTimeouts.idle)
    const onIdle = () => new ProviderError.IdleTimeout({ provider, timeout: idleTimeout })
    const resetBy = options.timeouts?.idleResetBy ?? defaultTimeouts.idleResetBy
    const decode = decoder({ status: response.status, headers: response.headers, requestId: requestId(response.headers) })
    const sse = new Sse.SseDecoder({ provider, ...options.sse })
    // SSE framing and event decoding run inside one pull, in plain loops over whole reads.
    const feed = (bytes: Uint8Array, out: Array<Chunk.Chunk>) => {
      const events = sse.feed(bytes)
      for (let i = 0; i < events.length; i++) decode.event(events[i], out)
    }
    const end = (out: Array<Chunk.Chunk>) => {
      for (const event of sse.end()) decode.event(event, out)
      decode.end(out)
    }
    const readable = BodyReader.nodeReadable(response)
    if (readable !== undefined) {
      return BodyReader.pull(readable, {
        decode: feed,
        end,
        onBodyError: (cause) => brokenBody(provider, cause),
        onDecodeError: (thrown) => decodeFailure(provider, thrown),
        idleTimeout,
        idleResetBy: resetBy === "chunks" ? "values" : "bytes",
        onIdle
      })
    }
    // The portable path (fetch, browsers): values decoded before an error in the same read go
    // downstream first, then the error.
    const run = (f: (out: Array<Chunk.Chunk>) => void): Stream.Stream<Chunk.Chunk, ProviderError.ProviderError> => {
      const out: Array<Chunk.Chunk> = []
      try {
        f(out)
        return Stream.fromChunk(EffectChunk.unsafeFromArray(out))
      } catch (error) {
        return Stream.concat(Stream.fromChunk(EffectChunk.unsafeFromArray(out)), Stream.fail(decodeFailure(provider, error)))
      }
    }
    const decoded = (bytes: Stream.Stream<Uint8Array, ProviderError.ProviderError>) =>
      bytes.pipe(
        Stream.chunks,
        Stream.flatMap((batch) => run((out) => { for (const piece of batch) feed(piece, out) })),
        Stream.concat(Stream.suspend(() => run(end)))
      )
    const body = Stream.mapError(response.stream, connectionError(provider))
    return Stream.toPull(
      resetBy === "chunks"
        ? Stream.timeoutFail(decoded(body), onIdle, idleTimeout)
        : decoded(Stream.timeoutFail(body, onIdle, idleTimeout))
    )
  })

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
