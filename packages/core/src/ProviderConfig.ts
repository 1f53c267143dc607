/**
 * What every provider layer is configured with, and how keys and base URLs are read from the
 * environment: through `Config`, so any ConfigProvider works, with keys `Redacted` from the start.
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as HttpStream from "./HttpStream.js"
import type * as Retry from "./Retry.js"

/** The options every provider layer takes. */
export interface Common {
  /** The model used unless a request names another. */
  readonly model: string
  /** Kept `Redacted` so it never reaches a log, an error or a span. */
  readonly apiKey?: Redacted.Redacted | string | undefined
  /** The API root, written as the provider's official SDK takes it. */
  readonly baseUrl?: string | undefined
  /** Extra headers on every request. */
  readonly headers?: Record<string, string> | undefined
  /** The name put on messages and errors; defaults to the provider's own. */
  readonly provider?: string | undefined
  /** Time-to-headers and idle limits; see `HttpStream.defaultTimeouts`. */
  readonly timeouts?: HttpStream.Timeouts | undefined
  /** Retries before any output; `Retry.defaultPolicy` unless given. */
  readonly retry?: Retry.Policy | undefined
}

/** Wraps a plain-string key so that only the request header ever sees it. */
export const redact = (key: Redacted.Redacted | string | undefined): Redacted.Redacted | undefined =>
  key === undefined ? undefined : Redacted.isRedacted(key) ? key : Redacted.make(key)

/** The variables a provider reads: key names in order of preference, and the base URL's. */
export interface EnvNames {
  readonly apiKey: ReadonlyArray<string>
  readonly baseUrl: string
}

/**
 * Fills `apiKey` and `baseUrl` from the environment (or any ConfigProvider) where `options` leave
 * them out.
 *
 * @example
 * ProviderConfig.fromEnv({ model: "gpt-5-mini" }, { apiKey: ["OPENAI_API_KEY"], baseUrl: "OPENAI_BASE_URL" })
 */
export const fromEnv = <O extends Pick<Common, "apiKey" | "baseUrl">>(
  options: O,
  names: EnvNames
): Effect.Effect<O, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    let apiKey = Option.fromNullable(redact(options.apiKey))
    for (const name of names.apiKey) {
      if (Option.isSome(apiKey)) break
      apiKey = yield* Config.option(Config.redacted(name))
    }
    const baseUrl = options.baseUrl !== undefined
      ? Option.some(options.baseUrl)
      : yield* Config.option(Config.string(names.baseUrl))
    return {
      ...options,
      ...(Option.isSome(apiKey) ? { apiKey: apiKey.value } : {}),
      ...(Option.isSome(baseUrl) ? { baseUrl: baseUrl.value } : {})
    }
  })
