/**
 * Options of a Gemini layer, given directly or read from the environment through `Config`.
 */
import { ProviderConfig } from "@reins/core"
import type * as ConfigError from "effect/ConfigError"
import type * as Effect from "effect/Effect"

/**
 * What a Gemini layer needs. The key travels only in the `x-goog-api-key` header, never in the URL
 * (where proxies and access logs would keep it); `baseUrl` is the host root, as the official SDK
 * takes it (no `/v1beta`).
 */
export interface Options extends ProviderConfig.Common {}

/** Where the Gemini API lives. */
export const defaultBaseUrl = "https://generativelanguage.googleapis.com"

/** The header that carries the key. */
export const apiKeyHeader = "x-goog-api-key"

/** The variables `layerConfig` reads, and where the API lives when they name no other place. */
export const endpoint: ProviderConfig.Endpoint = {
  apiKey: ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
  baseUrl: "GEMINI_BASE_URL",
  defaultBaseUrl
}

/**
 * Reads the key from `GEMINI_API_KEY` (else `GOOGLE_API_KEY`, the name Google's SDKs also accept)
 * and the base URL from `GEMINI_BASE_URL`; `options` override them. Fails with a `ConfigError`
 * naming the variables when the base URL is not an http or https URL, or when there is no key for
 * a server that is not on this machine.
 */
export const fromEnv = (options: Options): Effect.Effect<Options, ConfigError.ConfigError> =>
  ProviderConfig.fromEnv(options, endpoint)
