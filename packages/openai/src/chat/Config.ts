/**
 * Options of an OpenAI-compatible Chat Completions layer, given directly or read from the
 * environment through `Config`.
 */
import { ProviderConfig } from "@reins/core"
import type * as ConfigError from "effect/ConfigError"
import type * as Effect from "effect/Effect"
import type { Dialect } from "./Request.js"

/**
 * What a Chat Completions layer needs. The key is sent as a bearer token; `baseUrl` includes the
 * version, as the official SDK takes it: `https://api.openai.com/v1`.
 */
export interface Options extends ProviderConfig.Common {
  /** How this endpoint differs from the OpenAI API; defaults to the OpenAI dialect. */
  readonly dialect?: Partial<Dialect> | undefined
}

/** Where the OpenAI API lives. */
export const defaultBaseUrl = "https://api.openai.com/v1"

/** The endpoint whose variables are `<PREFIX>_API_KEY` and `<PREFIX>_BASE_URL`. */
export const endpoint = (prefix: string, baseUrl: string = defaultBaseUrl): ProviderConfig.Endpoint => ({
  apiKey: [`${prefix}_API_KEY`],
  baseUrl: `${prefix}_BASE_URL`,
  defaultBaseUrl: baseUrl
})

/** The OpenAI API's endpoint: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `https://api.openai.com/v1`. */
export const openAi: ProviderConfig.Endpoint = endpoint("OPENAI")

/**
 * Reads the key and base URL from `<PREFIX>_API_KEY` and `<PREFIX>_BASE_URL`; `options` override
 * them. Fails with a `ConfigError` naming the variable when the base URL (else `defaultBase`) is
 * not an http or https URL, or when there is no key for a server that is not on this machine.
 *
 * @example
 * ```ts
 * import { ChatConfig, OpenAiChat } from "@reins/openai"
 * import { Effect, Layer } from "effect"
 *
 * // An OpenAI-compatible provider configured by its own variables, ACME_API_KEY and ACME_BASE_URL.
 * const options: OpenAiChat.Options = { model: "acme-1", provider: "acme" }
 * const acme = Layer.unwrapEffect(
 *   Effect.map(ChatConfig.fromEnv("ACME", options, "https://api.acme.example/v1"), OpenAiChat.layer)
 * )
 * ```
 */
export const fromEnv = <O extends Pick<ProviderConfig.Common, "apiKey" | "baseUrl">>(
  prefix: string,
  options: O,
  defaultBase: string = defaultBaseUrl
): Effect.Effect<O, ConfigError.ConfigError> => ProviderConfig.fromEnv(options, endpoint(prefix, defaultBase))
