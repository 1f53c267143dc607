/**
 * Options of an Anthropic Messages layer, given directly or read from the environment through
 * `Config`.
 */
import { ProviderConfig } from "@reins/core"
import type * as ConfigError from "effect/ConfigError"
import type * as Effect from "effect/Effect"

/** Anthropic's own effort levels, sent as `output_config.effort`. */
export type Effort = "low" | "medium" | "high" | "xhigh" | "max"

/**
 * Extended thinking: a fixed token budget (`enabled`, for models up to Claude 4.6), or `adaptive`,
 * where the model decides how much to think, steered by `effort` (Claude 4.6 and later).
 */
export type Thinking =
  | { readonly type: "enabled"; readonly budgetTokens: number }
  | { readonly type: "adaptive"; readonly effort?: Effort | undefined }

/**
 * Where a prompt-cache breakpoint (`cache_control: { type: "ephemeral" }`) goes: after the system
 * prompt, after the last tool definition, or on the last block of the last user turn.
 */
export type CacheBreakpoint = "system" | "tools" | "last-user"

/**
 * What an Anthropic layer needs. The key is sent as `x-api-key`; `baseUrl` is the host root, as the
 * official SDK takes it (no `/v1`).
 */
export interface Options extends ProviderConfig.Common {
  /** `max_tokens` when a request sets no `maxOutputTokens`; the API requires one. 8192 by default. */
  readonly maxTokens?: number | undefined
  /** Thinking for every request; a request's `reasoning.effort` adjusts it. Off by default. */
  readonly thinking?: Thinking | undefined
  /** Prompt-cache breakpoints to add to every request. None by default. */
  readonly cache?: CacheBreakpoint | ReadonlyArray<CacheBreakpoint> | undefined
}

/** Where the Anthropic API lives. */
export const defaultBaseUrl = "https://api.anthropic.com"

/** The `max_tokens` sent when neither the request nor the layer sets one. */
export const defaultMaxTokens = 8192

/** The `anthropic-version` header value this package speaks. */
export const apiVersion = "2023-06-01"

/** The variables `layerConfig` reads, and where the API lives when they name no other place. */
export const endpoint: ProviderConfig.Endpoint = {
  apiKey: ["ANTHROPIC_API_KEY"],
  baseUrl: "ANTHROPIC_BASE_URL",
  defaultBaseUrl
}

/**
 * Reads the key and base URL from `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL`; `options` override
 * them. Fails with a `ConfigError` naming the variable when the base URL is not an http or https
 * URL, or when there is no key for a server that is not on this machine.
 */
export const fromEnv = (options: Options): Effect.Effect<Options, ConfigError.ConfigError> =>
  ProviderConfig.fromEnv(options, endpoint)
