/**
 * A response that is not a success, as the typed error it stands for: its status, the provider's
 * request id, how long the server asks the client to wait, and the provider's own message. What a
 * provider says in its error bodies beyond HTTP (Gemini's `RetryInfo`, say) is read by the hints
 * that provider gives.
 */
import type * as Headers from "@effect/platform/Headers"
import * as Duration from "effect/Duration"
import * as EventBody from "./EventBody.js"
import * as ProviderError from "./ProviderError.js"

/** What a provider reads in its error bodies that HTTP does not say. */
export interface Hints {
  /** The wait the body's error object asks for, where the response has no `Retry-After`. */
  readonly retryAfter?: ((error: any) => Duration.Duration | undefined) | undefined
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

/** Maps an HTTP error status and its body to the matching typed error. */
export const statusError = (
  provider: string,
  status: number,
  headers: Headers.Headers,
  body: string,
  hints?: Hints | undefined
): ProviderError.ProviderError => {
  const error = EventBody.errorObject(parseBody(body))
  const fields = {
    provider,
    status,
    requestId: requestId(headers),
    retryAfter: retryAfter(headers) ?? hints?.retryAfter?.(error),
    body: ProviderError.excerpt(body, 2048),
    providerMessage: EventBody.providerMessage(error)
  }
  if (status === 401 || status === 403) return new ProviderError.AuthenticationError(fields)
  if (status === 429) return new ProviderError.RateLimited(fields)
  if ((status === 400 || status === 413) && CONTEXT_OVERFLOW.test(body)) return new ProviderError.ContextOverflow(fields)
  return new ProviderError.StatusError(fields)
}
