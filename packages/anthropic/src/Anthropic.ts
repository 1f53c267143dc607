/**
 * Streaming Anthropic Messages (`POST {baseUrl}/v1/messages`).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Anthropic } from "@reins/anthropic"
 * import { LanguageModel, Message } from "@reins/core"
 * import { Effect } from "effect"
 *
 * // The key and base URL from ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL.
 * const model = Anthropic.layerConfig({
 *   model: "claude-sonnet-4-5",
 *   maxTokens: 16_000,
 *   thinking: { type: "enabled", budgetTokens: 8_000 },
 *   cache: ["system", "tools"]
 * })
 *
 * const program = LanguageModel.generate({ system: "Be brief.", messages: [Message.user("Hi")] }).pipe(
 *   Effect.provide(model),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { HttpStream, Provider, ProviderConfig, ProviderError } from "@reins/core"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as AnthropicConfig from "./Config.js"
import { MessagesEventDecoder } from "./Events.js"
import * as AnthropicRequest from "./Request.js"

export type {
  /** Where a prompt-cache breakpoint goes. */
  CacheBreakpoint,
  /** Anthropic's own effort levels. */
  Effort,
  /** What `make`, `layer` and `layerConfig` take. */
  Options,
  /** Extended thinking: a fixed token budget, or adaptive. */
  Thinking
} from "./Config.js"

const anthropic = Provider.define<AnthropicConfig.Options>(AnthropicConfig.endpoint, (options, client) => {
  const provider = options.provider ?? "anthropic"
  const apiKey = ProviderConfig.redact(options.apiKey)
  const url = Provider.url(options.baseUrl ?? AnthropicConfig.defaultBaseUrl, "/v1/messages")
  const base = HttpClientRequest.post(url).pipe(
    HttpClientRequest.setHeaders({
      accept: "text/event-stream",
      "anthropic-version": AnthropicConfig.apiVersion,
      ...options.headers
    }),
    // The key is unwrapped only here, into the header the API reads.
    apiKey === undefined ? (request) => request : HttpClientRequest.setHeader("x-api-key", Redacted.value(apiKey))
  )
  const encode = {
    model: options.model,
    provider,
    maxTokens: options.maxTokens ?? AnthropicConfig.defaultMaxTokens,
    thinking: options.thinking,
    cache: options.cache
  }
  return {
    provider,
    model: options.model,
    stream: (request) => {
      const refused = AnthropicRequest.unsupported(request)
      if (refused !== undefined) return Stream.fail(new ProviderError.UnsupportedContent({ provider, ...refused }))
      return HttpStream.chunks(
        client,
        HttpClientRequest.bodyUnsafeJson(base, AnthropicRequest.body(request, encode)),
        HttpStream.callOptions(provider, options, request),
        (info) => new MessagesEventDecoder(provider, info)
      )
    }
  }
})

/** Builds the model service on the HttpClient in context; a ConfigError, before any request, for bad options. */
export const make = anthropic.make

/** The model as a layer; fails to build with a ConfigError as `make` does. */
export const layer = anthropic.layer

/**
 * The model as a layer, with the key and base URL read from `ANTHROPIC_API_KEY` and
 * `ANTHROPIC_BASE_URL`; its ConfigErrors name those variables.
 */
export const layerConfig = anthropic.layerConfig
