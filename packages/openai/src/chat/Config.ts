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

/**
 * Reads the key and base URL from `<PREFIX>_API_KEY` and `<PREFIX>_BASE_URL`; `options` override them.
 *
 * @example
 * fromEnv("OPENAI", { model: "gpt-5-mini" }) // reads OPENAI_API_KEY and OPENAI_BASE_URL
 */
export const fromEnv = <O extends Pick<ProviderConfig.Common, "apiKey" | "baseUrl">>(
  prefix: string,
  options: O
): Effect.Effect<O, ConfigError.ConfigError> =>
  ProviderConfig.fromEnv(options, { apiKey: [`${prefix}_API_KEY`], baseUrl: `${prefix}_BASE_URL` })
