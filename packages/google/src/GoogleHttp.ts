/**
 * The core's provider call with what Google's error bodies say beyond HTTP: a rate-limited Gemini
 * request names its wait in a `google.rpc.RetryInfo` detail rather than in `Retry-After`.
 */
import { HttpStream } from "@reins/core"
import * as Duration from "effect/Duration"

const PROTO_DURATION = /^(\d+(?:\.\d+)?)s$/

/**
 * The wait a Google API error asks for in its body (`details[]` of type `google.rpc.RetryInfo`,
 * `retryDelay` as a protobuf duration such as `"39s"`).
 */
export const retryDelay = (error: any): Duration.Duration | undefined => {
  if (!Array.isArray(error?.details)) return undefined
  for (const detail of error.details) {
    const match = typeof detail?.retryDelay === "string" ? PROTO_DURATION.exec(detail.retryDelay) : null
    if (match !== null) return Duration.millis(Math.round(Number(match[1]) * 1000))
  }
  return undefined
}

/** What Google's error bodies say that HTTP does not. */
export const hints = { retryAfter: retryDelay }

/** The options of one Gemini call, with Google's error hints. */
export const callOptions = (provider: string, layer: HttpStream.CallSettings, request: HttpStream.CallSettings): HttpStream.Options => ({
  ...HttpStream.callOptions(provider, layer, request),
  hints
})

/** A whole Gemini call, as `HttpStream.chunks`. */
export const chunks: typeof HttpStream.chunks = HttpStream.chunks
