/**
 * What every provider's event decoder is built from: the decoder's interface, an event's JSON, the
 * error an event carries, and the one rule for a body that ends before its response does. Plain
 * TypeScript, as the decoders are, so that any runtime can drive them.
 */
import * as ProviderError from "./ProviderError.js"
import type * as Sse from "./Sse.js"
import type * as StreamPart from "./StreamPart.js"

/** The parts of a successful response a decoder may need. */
export interface ResponseInfo {
  readonly status: number
  /** Lower-cased names, as HTTP clients give them. */
  readonly headers: Readonly<Record<string, string>>
  readonly requestId: string | undefined
}

/**
 * Turns a provider's SSE events into stream parts. One instance per response. `event` and `end`
 * push parts onto `out`, and throw a `ProviderError` when the stream is bad or reports an error.
 */
export interface EventDecoder {
  readonly event: (event: Sse.SseEvent, out: Array<StreamPart.StreamPart>) => void
  /** Called when the body ends; throws if the stream was cut off before its terminal event. */
  readonly end: (out: Array<StreamPart.StreamPart>) => void
  /**
   * True once the provider's terminal event has been decoded (`[DONE]`, `response.completed`,
   * `message_stop`, Gemini's finishing candidate): the response is then over, whether or not the
   * server closes the body, and nothing after it is read.
   */
  readonly done: boolean
}

/**
 * An event's JSON when it is an object, `undefined` when it is another JSON value (which carries
 * nothing a response holds); text that is not JSON throws a `ProtocolError` showing it.
 */
export const parseObject = (provider: string, event: Sse.SseEvent): Record<string, any> | undefined => {
  let json: unknown
  try {
    json = JSON.parse(event.data)
  } catch (cause) {
    throw new ProviderError.ProtocolError({
      provider,
      message: `invalid JSON in a${event.event === "message" ? "n" : ` "${event.event}"`} event`,
      excerpt: ProviderError.excerpt(event.data, 256),
      cause
    })
  }
  return typeof json === "object" && json !== null && !Array.isArray(json) ? json as Record<string, any> : undefined
}

/** An error a stream reported (nested as `{ error }` or spread on its event), as a `ProviderStreamError`. */
export const streamError = (provider: string, error: unknown, raw: unknown = error): ProviderError.ProviderStreamError =>
  ProviderError.fromErrorObject(provider, error, raw)

/**
 * The error of an event that carries an OpenAI-style `{ error }` object, which gateways send on
 * every provider's route; `undefined` for any other event.
 */
export const errorIn = (provider: string, json: Record<string, any>): ProviderError.ProviderStreamError | undefined =>
  json.error == null ? undefined : streamError(provider, json.error, json)

/**
 * Why a body that ended before its response finished was cut short: an `EmptyResponse` when no
 * event had started the response, a `ConnectionError` otherwise. Each decoder's `end` finishes
 * the response itself when it already has its finish reason (a server that closes after it
 * without the terminal event has said all it had), and throws this otherwise.
 */
export const cutShort = (provider: string, started: boolean): ProviderError.EmptyResponse | ProviderError.ConnectionError =>
  started
    ? new ProviderError.ConnectionError({ provider, message: "the stream ended before the response finished" })
    : new ProviderError.EmptyResponse({ provider, message: "the stream ended before any event" })
