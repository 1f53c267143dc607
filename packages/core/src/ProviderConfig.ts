/**
 * What every provider layer is configured with, how keys and base URLs are read from the
 * environment (through `Config`, so any ConfigProvider works, with keys `Redacted` from the start),
 * and how they are checked before any request: a base URL that is not an http or https URL, or a
 * missing key for a server that is not on this machine, is a `ConfigError` when the layer is built.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as HttpStream from "./HttpStream.js"
import type * as Retry from "./Retry.js"
import * as Secrets from "./Secrets.js"

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

/** What a provider's options are checked against: where it lives, and the variables `layerConfig` reads. */
export interface Endpoint extends EnvNames {
  /** The base URL used when none is given. */
  readonly defaultBaseUrl: string
}

/**
 * Whether `hostname` (as `URL` writes it) names this machine: `localhost` and `*.localhost`,
 * `127.0.0.0/8`, and `[::1]` (also written as an IPv4-mapped `127.x` address).
 */
export const isLoopback = (hostname: string): boolean => {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "")
  return host === "localhost" || host.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::1"
    || /^::ffff:(127\.\d+\.\d+\.\d+|7f[0-9a-f]{2}:[0-9a-f]{1,4})$/.test(host)
}

/** Empty and blank values count as not given, so `OPENAI_BASE_URL=` in an env file means the default. */
const present = (value: string | undefined): string | undefined => {
  const trimmed = value?.trim()
  return trimmed === undefined || trimmed === "" ? undefined : trimmed
}

const presentKey = (key: Redacted.Redacted | string | undefined): Redacted.Redacted | undefined => {
  const redacted = redact(key)
  if (redacted === undefined) return undefined
  const value = Redacted.value(redacted)
  const trimmed = present(value)
  return trimmed === undefined ? undefined : trimmed === value ? redacted : Redacted.make(trimmed)
}

const quoteList = (names: ReadonlyArray<string>) => names.join(" or ")

/** Where each checked value came from, for the path and wording of the error. */
interface Origin {
  /** The environment was read (`layerConfig`), so the key could have come from it. */
  readonly environment: boolean
  /** The base URL was read from the environment. */
  readonly baseUrlFromEnv: boolean
}

const checkWith = <O extends Pick<Common, "apiKey" | "baseUrl">>(
  options: O,
  endpoint: Endpoint,
  origin: Origin
): Effect.Effect<O, ConfigError.ConfigError> =>
  Effect.suspend(() => {
    const apiKey = presentKey(options.apiKey)
    const given = present(options.baseUrl)
    const baseUrl = given ?? endpoint.defaultBaseUrl
    const baseUrlPath = origin.baseUrlFromEnv ? [endpoint.baseUrl] : ["baseUrl"]
    let url: URL | undefined
    try {
      url = new URL(baseUrl)
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
      // A base URL is not a secret, but a key pasted into the wrong variable would be: keep none of it.
      const shown = apiKey === undefined ? baseUrl : Secrets.scrubText(baseUrl, [Redacted.value(apiKey)])
      const hint = !/^[a-z][a-z0-9+.-]*:\/\//i.test(baseUrl) && URL.canParse(`http://${baseUrl}`)
        ? ` (did you mean "http://${shown}"?)`
        : ""
      return Effect.fail(ConfigError.InvalidData(
        baseUrlPath,
        `"${shown}" is not a base URL: it must start with http:// or https:// and name a host, like ${endpoint.defaultBaseUrl}${hint}`
      ))
    }
    if (url.search !== "" || url.hash !== "") {
      return Effect.fail(ConfigError.InvalidData(
        baseUrlPath,
        `${url.origin}${url.pathname} is followed by a query or fragment; a base URL has neither, since the API path is appended to it`
      ))
    }
    if (apiKey === undefined && !isLoopback(url.hostname)) {
      const where = given === undefined ? `${baseUrl} (the default)` : `${url.origin}${url.pathname}`
      const onlyLocal = "only a server on this machine (localhost, 127.0.0.1, [::1]) is called without one"
      return Effect.fail(
        origin.environment
          ? ConfigError.MissingData(
            [endpoint.apiKey[0]],
            `no API key for ${where}: set ${quoteList(endpoint.apiKey)} or pass apiKey; ${onlyLocal}`
          )
          : ConfigError.MissingData(
            ["apiKey"],
            `no API key for ${where}: pass apiKey (layerConfig reads ${quoteList(endpoint.apiKey)}); ${onlyLocal}`
          )
      )
    }
    const { apiKey: _apiKey, baseUrl: _baseUrl, ...rest } = options
    return Effect.succeed({
      ...rest,
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(given !== undefined ? { baseUrl: given } : {})
    } as unknown as O)
  })

/**
 * Checks options given directly, before any request: the base URL (the given one, else
 * `endpoint.defaultBaseUrl`) must be an http or https URL, and a key is required unless that URL
 * names this machine (see `isLoopback`). Blank values count as not given. Fails with a
 * `ConfigError` on `apiKey` or `baseUrl`.
 */
export const check = <O extends Pick<Common, "apiKey" | "baseUrl">>(
  options: O,
  endpoint: Endpoint
): Effect.Effect<O, ConfigError.ConfigError> => checkWith(options, endpoint, { environment: false, baseUrlFromEnv: false })

/**
 * Fills `apiKey` and `baseUrl` from the environment (or any ConfigProvider) where `options` leave
 * them out, then checks them as `check` does; the errors name the variables (`OPENAI_API_KEY`,
 * `OPENAI_BASE_URL`).
 *
 * @example
 * ```ts
 * import { ProviderConfig } from "@reins/core"
 * import { ConfigProvider, Effect, Redacted } from "effect"
 *
 * const endpoint: ProviderConfig.Endpoint = {
 *   apiKey: ["ACME_API_KEY"],
 *   baseUrl: "ACME_BASE_URL",
 *   defaultBaseUrl: "https://api.acme.example/v1"
 * }
 * const given: ProviderConfig.Common = { model: "acme-1" }
 * const environment = ConfigProvider.fromMap(new Map([["ACME_API_KEY", "sk-test"]]))
 * const options = Effect.runSync(ProviderConfig.fromEnv(given, endpoint).pipe(Effect.withConfigProvider(environment)))
 * assert.strictEqual(Redacted.value(options.apiKey as Redacted.Redacted), "sk-test")
 *
 * // With no key anywhere, a ConfigError names ACME_API_KEY before any request is made.
 * const nowhere = ConfigProvider.fromMap(new Map())
 * const missing = Effect.runSyncExit(ProviderConfig.fromEnv(given, endpoint).pipe(Effect.withConfigProvider(nowhere)))
 * assert.strictEqual(missing._tag, "Failure")
 * ```
 */
export const fromEnv = <O extends Pick<Common, "apiKey" | "baseUrl">>(
  options: O,
  endpoint: Endpoint
): Effect.Effect<O, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    let apiKey = Option.fromNullable(presentKey(options.apiKey))
    for (const name of endpoint.apiKey) {
      if (Option.isSome(apiKey)) break
      apiKey = Option.flatMap(yield* Config.option(Config.redacted(name)), (key) => Option.fromNullable(presentKey(key)))
    }
    const given = present(options.baseUrl)
    const baseUrl = given !== undefined
      ? Option.some(given)
      : Option.flatMap(yield* Config.option(Config.string(endpoint.baseUrl)), (url) => Option.fromNullable(present(url)))
    const filled = {
      ...options,
      ...(Option.isSome(apiKey) ? { apiKey: apiKey.value } : {}),
      ...(Option.isSome(baseUrl) ? { baseUrl: baseUrl.value } : {})
    }
    return yield* checkWith(filled, endpoint, { environment: true, baseUrlFromEnv: given === undefined && Option.isSome(baseUrl) })
  })
