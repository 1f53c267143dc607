/**
 * Options of an Anthropic Messages layer, given directly or read from the environment through
 * `Config`.
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

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

/** What an Anthropic layer needs. */
export interface Options {
  /** The model used unless a request names another. */
  readonly model: string
  /** Sent as `x-api-key`; kept `Redacted` so it never reaches a log, an error or a span. */
  readonly apiKey?: Redacted.Redacted | string | undefined
  /** The host root, as the official SDK takes it: `https://api.anthropic.com` (no `/v1`). */
  readonly baseUrl?: string | undefined
  /** Extra headers on every request (`anthropic-beta`, say). */
  readonly headers?: Record<string, string> | undefined
  /** `max_tokens` when a request sets no `maxOutputTokens`; the API requires one. 8192 by default. */
  readonly maxTokens?: number | undefined
  /** Thinking for every request; a request's `reasoning.effort` adjusts it. Off by default. */
  readonly thinking?: Thinking | undefined
  /** Prompt-cache breakpoints to add to every request. None by default. */
  readonly cache?: CacheBreakpoint | ReadonlyArray<CacheBreakpoint> | undefined
  /** The name put on messages and errors; defaults to `anthropic`. */
  readonly provider?: string | undefined
}

/** Where the Anthropic API lives. */
export const defaultBaseUrl = "https://api.anthropic.com"

/** The `max_tokens` sent when neither the request nor the layer sets one. */
export const defaultMaxTokens = 8192

/** The `anthropic-version` header value this package speaks. */
export const apiVersion = "2023-06-01"

/** Wraps a plain-string key so that only the request header ever sees it. */
export const redact = (key: Redacted.Redacted | string | undefined): Redacted.Redacted | undefined =>
  key === undefined ? undefined : Redacted.isRedacted(key) ? key : Redacted.make(key)

/**
 * Reads the key and base URL from `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` (or any
 * ConfigProvider), letting `options` override them.
 *
 * @example
 * fromEnv({ model: "claude-sonnet-4-5" })
 */
export const fromEnv = (options: Options): Effect.Effect<Options, ConfigError.ConfigError> =>
  Effect.gen(function*() {
    const apiKey = options.apiKey !== undefined
      ? Option.some(redact(options.apiKey)!)
      : yield* Config.option(Config.redacted("ANTHROPIC_API_KEY"))
    const baseUrl = options.baseUrl !== undefined
      ? Option.some(options.baseUrl)
      : yield* Config.option(Config.string("ANTHROPIC_BASE_URL"))
    return {
      ...options,
      ...(Option.isSome(apiKey) ? { apiKey: apiKey.value } : {}),
      ...(Option.isSome(baseUrl) ? { baseUrl: baseUrl.value } : {})
    }
  })
