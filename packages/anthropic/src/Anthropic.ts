/**
 * Streaming Anthropic Messages (`POST {baseUrl}/v1/messages`).
 *
 * @example
 * const program = LanguageModel.generate({ messages: [Message.user("Hi")] }).pipe(
 *   Effect.provide(Anthropic.layer({ model: "claude-sonnet-4-5", apiKey: Redacted.make(key) })),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { HttpStream, Provider, ProviderConfig } from "@reins/core"
import * as Redacted from "effect/Redacted"
import * as AnthropicConfig from "./Config.js"
import { MessagesEventDecoder } from "./Events.js"
import * as AnthropicRequest from "./Request.js"

export type { CacheBreakpoint, Effort, Options, Thinking } from "./Config.js"

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
    stream: (request) =>
      HttpStream.chunks(
        client,
        HttpClientRequest.bodyUnsafeJson(base, AnthropicRequest.body(request, encode)),
        HttpStream.callOptions(provider, options, request),
        (info) => new MessagesEventDecoder(provider, info)
      )
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
