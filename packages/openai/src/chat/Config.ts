/**
 * Options of an OpenAI-compatible Chat Completions layer, given directly or read from the
 * environment through `Config`.
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { HttpStream, Retry } from "@reins/core"
import type { Dialect } from "./Request.js"

/** What a Chat Completions layer needs. */
export interface Options {
  /** The model used unless a request names another. */
  readonly model: string
  /** Sent as a bearer token; kept `Redacted` so it never reaches a log, an error or a span. */
  readonly apiKey?: Redacted.Redacted | string | undefined
  /** The API root including the version, as the official SDK takes it: `https://api.openai.com/v1`. */
  readonly baseUrl?: string | undefined
  /** Extra headers on every request (an organization or project id, say). */
  readonly headers?: Record<string, string> | undefined
  /** The name put on messages and errors; defaults to `openai`. */
  readonly provider?: string | undefined
  /** How this endpoint differs from the OpenAI API; defaults to the OpenAI dialect. */
  readonly dialect?: Partial<Dialect> | undefined
  /** Connect-to-headers and idle limits; see `HttpStream.defaultTimeouts`. */
  readonly timeouts?: HttpStream.Timeouts | undefined
  /** Retries before any output; `Retry.defaultPolicy` unless given. */
  readonly retry?: Retry.Policy | undefined
}

/** Where the OpenAI API lives. */
export const defaultBaseUrl = "https://api.openai.com/v1"

/** Wraps a plain-string key so that only the request header ever sees it. */
export const redact = (key: Redacted.Redacted | string | undefined): Redacted.Redacted | undefined =>
  key === undefined ? undefined : Redacted.isRedacted(key) ? key : Redacted.make(key)

/**
 * Reads the key and base URL from the environment (or any ConfigProvider), letting `options`
 * override them.
 *
 * @example
 * fromEnv("OPENAI", { model: "gpt-5-mini" }) // reads OPENAI_API_KEY and OPENAI_BASE_URL
 */
export const fromEnv = <O extends { readonly apiKey?: Redacted.Redacted | string | undefined; readonly baseUrl?: string | undefined }>(
  prefix: string,
  options: O
): Effect.Effect<O, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const apiKey = options.apiKey !== undefined
      ? Option.some(redact(options.apiKey)!)
      : yield* Config.option(Config.redacted(`${prefix}_API_KEY`))
    const baseUrl = options.baseUrl !== undefined
      ? Option.some(options.baseUrl)
      : yield* Config.option(Config.string(`${prefix}_BASE_URL`))
    return {
      ...options,
      ...(Option.isSome(apiKey) ? { apiKey: apiKey.value } : {}),
      ...(Option.isSome(baseUrl) ? { baseUrl: baseUrl.value } : {})
    }
  })
