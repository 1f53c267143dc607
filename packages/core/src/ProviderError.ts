/**
 * The typed failures of a provider call. Every error names the provider, says whether retrying the
 * same request could succeed, and never carries an API key.
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"

/** Marks every provider error, so that `isProviderError` can tell one apart from any other value. */
export const TypeId: unique symbol = Symbol.for("@reins/core/ProviderError")

/** The type of `TypeId`. */
export type TypeId = typeof TypeId

/** The TCP connection could not be made, was reset, or broke while the response was read. */
export class ConnectionError extends Data.TaggedError("ConnectionError")<{
  readonly provider: string
  readonly message: string
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  get retryable(): boolean {
    return true
  }
}

/** No response headers arrived within the configured time. */
export class HeadersTimeout extends Data.TaggedError("HeadersTimeout")<{
  readonly provider: string
  readonly timeout: Duration.Duration
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `${this.provider}: no response headers within ${String(this.timeout)}`
  }
  get retryable(): boolean {
    return true
  }
}

/** The response body sent nothing for longer than the configured idle limit. */
export class IdleTimeout extends Data.TaggedError("IdleTimeout")<{
  readonly provider: string
  readonly timeout: Duration.Duration
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `${this.provider}: the stream sent nothing for ${String(this.timeout)}`
  }
  get retryable(): boolean {
    return true
  }
}

/** The transport could not open a TCP connection within its connect timeout. */
export class ConnectTimeout extends Data.TaggedError("ConnectTimeout")<{
  readonly provider: string
  readonly message: string
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  get retryable(): boolean {
    return true
  }
}

/**
 * The whole call, retries included, took longer than its total limit. Not retryable: the limit is
 * the caller's deadline, and a retry could only pass it.
 */
export class TotalTimeout extends Data.TaggedError("TotalTimeout")<{
  readonly provider: string
  readonly timeout: Duration.Duration
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `${this.provider}: the call took longer than ${String(this.timeout)}`
  }
  get retryable(): boolean {
    return false
  }
}

/** What every HTTP status error carries. */
interface StatusFields {
  readonly provider: string
  readonly status: number
  readonly requestId?: string | undefined
  /** How long the server asked us to wait, from `retry-after-ms` or `Retry-After`. */
  readonly retryAfter?: Duration.Duration | undefined
  /** The first bytes of the response body, for diagnosis. */
  readonly body: string
  /** The provider's own error message, when the body had one. */
  readonly providerMessage?: string | undefined
}

const statusMessage = (self: StatusFields & { readonly _tag: string }) =>
  `${self.provider}: HTTP ${self.status}${self.providerMessage ? `: ${self.providerMessage}` : ""}${
    self.requestId ? ` (request id ${self.requestId})` : ""
  }`

const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529])

/** An HTTP error status that has no more specific error. */
export class StatusError extends Data.TaggedError("StatusError")<StatusFields> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return statusMessage(this)
  }
  get retryable(): boolean {
    return RETRYABLE_STATUS.has(this.status)
  }
}

/** HTTP 429: the provider asks the client to slow down. */
export class RateLimited extends Data.TaggedError("RateLimited")<StatusFields> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return statusMessage(this)
  }
  get retryable(): boolean {
    return true
  }
}

/** HTTP 401 or 403: the key is missing, wrong or lacks permission. */
export class AuthenticationError extends Data.TaggedError("AuthenticationError")<StatusFields> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return statusMessage(this)
  }
  get retryable(): boolean {
    return false
  }
}

/** The request is longer than the model's context window. */
export class ContextOverflow extends Data.TaggedError("ContextOverflow")<StatusFields> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return statusMessage(this)
  }
  get retryable(): boolean {
    return false
  }
}

/** The stream broke its wire format: bad framing, invalid JSON, an event over the size limit. */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{
  readonly provider: string
  readonly message: string
  /** The offending bytes, shortened. */
  readonly excerpt: string
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  get retryable(): boolean {
    return false
  }
}

/** The provider sent an error event inside a stream that had started well. */
export class ProviderStreamError extends Data.TaggedError("ProviderStreamError")<{
  readonly provider: string
  readonly message: string
  /** The provider's error type or code, such as `server_error` or `overloaded_error`. */
  readonly code?: string | undefined
  /** Whether the provider's code says the service, not the request, was at fault. */
  readonly retryable: boolean
  readonly raw?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
}

/**
 * A 2xx response whose body is not an event stream: a gateway's JSON error, an HTML error page, a
 * completion sent whole because the request was not streamed. Retryable only when the body says so
 * (an error object with a retryable code, a page titled 502, 503, 504 or 429).
 */
export class UnexpectedBody extends Data.TaggedError("UnexpectedBody")<{
  readonly provider: string
  readonly status: number
  readonly contentType?: string | undefined
  readonly requestId?: string | undefined
  /** The first bytes of the body. */
  readonly body: string
  /** The error message the body held, when it had one. */
  readonly providerMessage?: string | undefined
  readonly retryable: boolean
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const what = this.providerMessage !== undefined ? `: ${this.providerMessage}` : `: ${excerpt(this.body, 200)}`
    return `${this.provider}: HTTP ${this.status} sent ${this.contentType ?? "a body"} that is not an event stream${what}${
      this.requestId ? ` (request id ${this.requestId})` : ""
    }`
  }
}

/** The stream ended without a single content chunk or terminal event. */
export class EmptyResponse extends Data.TaggedError("EmptyResponse")<{
  readonly provider: string
  readonly message: string
}> {
  readonly [TypeId]: TypeId = TypeId
  get retryable(): boolean {
    return true
  }
}

/**
 * What an encoder finds in a request that its provider's API cannot take: the part (`File`,
 * `Image`...), where it is (`messages[2]`, say) and why. Plain data, so that encoders stay free of
 * Effect; the provider layer fails the call with it as an `UnsupportedContent`.
 */
export interface Unsupported {
  readonly part: string
  readonly at: string
  readonly reason: string
}

/**
 * The request holds content the provider's API cannot take (a file where only images go, an image in
 * a tool result of a format whose results are text). Raised before any request is sent; not
 * retryable, since the same request would be rejected again.
 */
export class UnsupportedContent extends Data.TaggedError("UnsupportedContent")<{
  readonly provider: string
  /** The part's tag: `File`, `Image`... */
  readonly part: string
  /** Where the part is in the request, such as `messages[2]`. */
  readonly at: string
  readonly reason: string
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `${this.provider} cannot take the ${this.part} part at ${this.at}: ${this.reason}`
  }
  get retryable(): boolean {
    return false
  }
}

/** Any failure of a provider call. */
export type ProviderError =
  | ConnectionError
  | ConnectTimeout
  | HeadersTimeout
  | IdleTimeout
  | TotalTimeout
  | StatusError
  | RateLimited
  | AuthenticationError
  | ContextOverflow
  | ProtocolError
  | ProviderStreamError
  | UnexpectedBody
  | EmptyResponse
  | UnsupportedContent

/**
 * Whether a value is a provider error, of any provider and any copy of this module.
 *
 * @example
 * import { ProviderError } from "@reins/core"
 * import * as Effect from "effect/Effect"
 *
 * const orNull = <A>(self: Effect.Effect<A, unknown>) =>
 *   Effect.catchIf(self, ProviderError.isProviderError, (error) =>
 *     error.retryable ? Effect.succeed(null) : Effect.fail(error))
 */
export const isProviderError = (u: unknown): u is ProviderError => Predicate.hasProperty(u, TypeId)

/** Shortens text for an error excerpt, keeping the head where the cause usually is. */
export const excerpt = (text: string, max = 512): string =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`

/**
 * The error codes, types and statuses, of any provider, that say the service rather than the
 * request was at fault: OpenAI's and Kimi's `code` or `type`, Anthropic's `type`, Google's `status`.
 * A gateway may put one provider's error on another's route, so every route reads them all.
 */
const RETRYABLE_ERROR_CODES = new Set([
  "server_error",
  "internal_error",
  "api_error",
  "rate_limit_exceeded",
  "rate_limit_error",
  "overloaded",
  "overloaded_error",
  "service_unavailable",
  "timeout",
  "timeout_error",
  "engine_overloaded_error",
  "UNAVAILABLE",
  "RESOURCE_EXHAUSTED",
  "INTERNAL",
  "DEADLINE_EXCEEDED",
  "ABORTED"
])

/** Whether an error object of any provider's shape (`code`, `type`, `status`) says to retry. */
export const isRetryableErrorObject = (error: any): boolean => {
  if (typeof error !== "object" || error === null) return false
  for (const field of [error.code, error.type, error.status]) {
    if (typeof field === "string" && RETRYABLE_ERROR_CODES.has(field)) return true
    if (typeof field === "number" && RETRYABLE_STATUS.has(field)) return true
  }
  return false
}

/**
 * An error object sent inside a stream (`{ message, code | type | status }`), in any provider's
 * shape, as a `ProviderStreamError`; `raw` is what is kept for diagnosis (the event, say).
 */
export const fromErrorObject = (provider: string, error: any, raw: unknown = error): ProviderStreamError => {
  // A name (`server_error`, `UNAVAILABLE`) says more than a number (Google's `code: 503`).
  const code = [error?.code, error?.type, error?.status].find((field) => typeof field === "string" && field !== "" && field !== "error") ??
    (typeof error?.code === "number" ? error.code : undefined)
  const message = typeof error?.message === "string" && error.message !== ""
    ? error.message
    : typeof error === "string" && error !== ""
    ? error
    : JSON.stringify(error) ?? "the response failed"
  return new ProviderStreamError({
    provider,
    message,
    code: code === undefined ? undefined : String(code),
    retryable: isRetryableErrorObject(error),
    raw
  })
}
