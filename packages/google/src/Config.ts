/**
 * Options of a Gemini layer, given directly or read from the environment through `Config`.
 */
import type { HttpStream, Retry } from "@reins/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/** What a Gemini layer needs. */
export interface Options {
  /** The model used unless a request names another: `gemini-2.5-flash`, `gemini-3-pro-preview`. */
  readonly model: string
  /**
   * Sent only in the `x-goog-api-key` header, never in the URL (where proxies and access logs would
   * keep it); kept `Redacted` so it never reaches a log, an error or a span.
   */
  readonly apiKey?: Redacted.Redacted | string | undefined
  /** The host root, as the official SDK takes it: `https://generativelanguage.googleapis.com` (no `/v1beta`). */
  readonly baseUrl?: string | undefined
  /** Extra headers on every request. */
  readonly headers?: Record<string, string> | undefined
  /** The name put on messages and errors; defaults to `google`. */
  readonly provider?: string | undefined
  /** Connect-to-headers and idle limits; see `HttpStream.defaultTimeouts`. */
  readonly timeouts?: HttpStream.Timeouts | undefined
  /** Retries before any output; `Retry.defaultPolicy` unless given. */
  readonly retry?: Retry.Policy | undefined
}

/** Where the Gemini API lives. */
export const defaultBaseUrl = "https://generativelanguage.googleapis.com"

/** The header that carries the key. */
export const apiKeyHeader = "x-goog-api-key"

/** Wraps a plain-string key so that only the request header ever sees it. */
export const redact = (key: Redacted.Redacted | string | undefined): Redacted.Redacted | undefined =>
  key === undefined ? undefined : Redacted.isRedacted(key) ? key : Redacted.make(key)

/**
 * Reads the key from `GEMINI_API_KEY` (else `GOOGLE_API_KEY`, the name Google's SDKs also accept)
 * and the base URL from `GEMINI_BASE_URL`, through any ConfigProvider; `options` override them.
 *
 * @example
 * fromEnv({ model: "gemini-2.5-flash" })
 */
export const fromEnv = (options: Options): Effect.Effect<Options, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    let apiKey: Option.Option<Redacted.Redacted> = options.apiKey !== undefined
      ? Option.some(redact(options.apiKey)!)
      : yield* Config.option(Config.redacted("GEMINI_API_KEY"))
    if (Option.isNone(apiKey)) apiKey = yield* Config.option(Config.redacted("GOOGLE_API_KEY"))
    const baseUrl = options.baseUrl !== undefined
      ? Option.some(options.baseUrl)
      : yield* Config.option(Config.string("GEMINI_BASE_URL"))
    return {
      ...options,
      ...(Option.isSome(apiKey) ? { apiKey: apiKey.value } : {}),
      ...(Option.isSome(baseUrl) ? { baseUrl: baseUrl.value } : {})
    }
  })
