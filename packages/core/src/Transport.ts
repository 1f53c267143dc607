/**
 * One attempt of a streaming call on `@effect/platform`'s HttpClient: the request sent under a
 * scope of its own, whose closing aborts it wherever it is; a non-2xx status read into its typed
 * error; and the pull over a 2xx body's chunks, on the Node fast path when the client has one, else
 * on the portable byte stream.
 *
 * The limits on waiting (for the headers, between reads of a body) are plain timers rather than
 * fibers racing the request: a call sets up no fiber of its own, which in a burst of calls is most
 * of what each one costs before its request leaves (see bench/README.md).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import * as BodyReader from "./BodyReader.js"
import type * as Decoder from "./Decoder.js"
import type * as StreamPart from "./StreamPart.js"
import * as EventBody from "./EventBody.js"
import * as HttpStatus from "./HttpStatus.js"
import * as ProviderError from "./ProviderError.js"
import type * as Pull from "./Pull.js"
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

/** What one attempt needs to know of its call. */
export interface Call {
  readonly provider: string
  readonly sse?: Sse.SseOptions | undefined
  readonly timeouts?: Timeouts | undefined
  readonly hints?: HttpStatus.Hints | undefined
}

/**
 * Node runs a timer of more than 2^31 - 1 ms at once, and one of `Infinity` too: a limit beyond
 * that is no limit.
 */
export const timerMillis = (duration: Duration.Duration): number | undefined => {
  const ms = Duration.toMillis(duration)
  return Number.isFinite(ms) && ms <= 2_147_483_647 ? Math.max(0, ms) : undefined
}

type ScopedClient = HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>

const scopedClients = new WeakMap<HttpClient.HttpClient, ScopedClient>()

/** The client whose requests are aborted with the scope they are sent in; made once per client. */
const scopedClient = (client: HttpClient.HttpClient): ScopedClient => {
  let scoped = scopedClients.get(client)
  if (scoped === undefined) {
    scoped = HttpClient.withScope(client)
    scopedClients.set(client, scoped)
  }
  return scoped
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

const connectionError = (provider: string, error: HttpClientError.HttpClientError) =>
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
 * Sends the request in `scope`, which closing aborts wherever the request is: a non-2xx status
 * fails with its typed error, its body read for at most the idle limit. The headers limit is a timer
 * that closes the scope, and the request then fails as a `HeadersTimeout`.
 */
export const send = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  call: Call,
  scope: Scope.CloseableScope
): Effect.Effect<HttpClientResponse.HttpClientResponse, ProviderError.ProviderError> =>
  Effect.suspend(() => {
    const { provider, timeouts } = call
    const limit = Duration.decode(timeouts?.headers ?? defaultTimeouts.headers)
    const ms = timerMillis(limit)
    let timedOut = false
    const timer = ms === undefined ? undefined : setTimeout(() => {
      timedOut = true
      Effect.runFork(Scope.close(scope, Exit.void))
    }, ms)
    const clear = () => {
      if (timer !== undefined) clearTimeout(timer)
    }
    const timeout = () => new ProviderError.HeadersTimeout({ provider, timeout: limit })
    return Effect.zipRight(
      // An interrupt while the request waits leaves the timer to this.
      Scope.addFinalizer(scope, Effect.sync(clear)),
      Effect.matchEffect(Scope.extend(scopedClient(client).execute(request), scope), {
        onFailure: (error) => {
          clear()
          return Effect.fail(timedOut ? timeout() : connectionError(provider, error))
        },
        onSuccess: (response) => {
          clear()
          if (timedOut) return Effect.fail(timeout())
          if (response.status >= 200 && response.status < 300) return Effect.succeed(response)
          return Effect.flatMap(
            readErrorBody(response, Duration.decode(timeouts?.idle ?? defaultTimeouts.idle)),
            (body) => Effect.fail(HttpStatus.statusError(provider, response.status, response.headers, body, call.hints))
          )
        }
      })
    )
  })

/**
 * Sends the request in the current scope: a non-2xx status fails with its typed error, its body read
 * for at most the idle limit, and closing the scope aborts the request wherever it is.
 */
export const execute = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  provider: string,
  timeouts?: Timeouts | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, ProviderError.ProviderError, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (outer) =>
    Effect.flatMap(Scope.fork(outer, ExecutionStrategy.sequential), (scope) => send(client, request, { provider, timeouts }, scope)))

/** A value thrown while decoding, as the stream's typed error. */
const decodeFailure = (provider: string, error: unknown): ProviderError.ProviderError =>
  ProviderError.isProviderError(error)
    ? error
    : new ProviderError.ProtocolError({ provider, message: `could not decode the stream: ${errorMessage(error)}`, excerpt: "", cause: error })

/**
 * One attempt in `scope`: the request sent, and the pull over its decoded body. The request has a
 * scope of its own, closed (aborting it) with the attempt's, unless the response was whole before
 * its body ended: the body then drains into the pool on its own. `span` is the call's: the parent of
 * the request's span, and where the body path taken is recorded.
 */
export const attempt = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  call: Call,
  decoder: (info: Decoder.ResponseInfo) => Decoder.EventDecoder,
  span: Tracer.Span,
  scope: Scope.Scope
): Effect.Effect<Pull.Pull<StreamPart.StreamPart, ProviderError.ProviderError>, ProviderError.ProviderError> =>
  Effect.flatMap(Scope.make(), (requestScope) => {
    let released = false
    return Effect.zipRight(
      Scope.addFinalizerExit(scope, (exit) => released ? Effect.void : Scope.close(requestScope, exit)),
      Effect.flatMap(
        Effect.withParentSpan(send(client, request, call, requestScope), span),
        (response) => decodedBody(response, call, decoder, span, scope, () => (released = true))
      )
    )
  })

/**
 * The pull over a 2xx response's decoded body, on the Node fast path when the client has one (an
 * `@effect/platform-node` client), else on the portable path; the call's span records which ran as
 * `reins.body_path`.
 */
const decodedBody = (
  response: HttpClientResponse.HttpClientResponse,
  call: Call,
  decoder: (info: Decoder.ResponseInfo) => Decoder.EventDecoder,
  span: Tracer.Span,
  scope: Scope.Scope,
  onRelease: () => void
): Effect.Effect<Pull.Pull<StreamPart.StreamPart, ProviderError.ProviderError>, ProviderError.ProviderError> => {
  const { provider } = call
  const idleTimeout = Duration.decode(call.timeouts?.idle ?? defaultTimeouts.idle)
  const resetBy = call.timeouts?.idleResetBy ?? defaultTimeouts.idleResetBy
  const info = { status: response.status, headers: response.headers, requestId: HttpStatus.requestId(response.headers) }
  const body = new EventBody.EventBody(
    provider,
    { status: response.status, contentType: response.headers["content-type"], requestId: info.requestId },
    decoder(info),
    call.sse
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
    return BodyReader.pullIn(readable, {
      decode: feed,
      end,
      complete: () => body.done,
      onRelease,
      onBodyError: (cause) => brokenBody(provider, cause),
      onDecodeError: (thrown) => decodeFailure(provider, thrown),
      idleTimeout,
      idleResetBy: resetBy === "chunks" ? "values" : "bytes",
      onIdle
    }, scope)
  }
  // The portable path (fetch, browsers): the client has decoded the body already.
  span.attribute("reins.body_path", "portable")
  const bytes = Stream.mapError(response.stream, (error) => connectionError(provider, error))
  return Effect.map(
    Scope.extend(Stream.toPull(resetBy === "chunks" ? bytes : Stream.timeoutFail(bytes, onIdle, idleTimeout)), scope),
    (read) => {
      const pull = portablePull(read, feed, end, () => body.done, (thrown) => decodeFailure(provider, thrown))
      return resetBy === "chunks" ? Effect.timeoutFail(pull, { duration: idleTimeout, onTimeout: () => Option.some(onIdle()) }) : pull
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
    return out.length > 0 ? Effect.succeed(Chunk.unsafeFromArray(out)) : over ? next : undefined
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
