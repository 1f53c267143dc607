/**
 * Streaming Chat Completions for the OpenAI API and any OpenAI-compatible endpoint.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { LanguageModel, Message } from "@reins/core"
 * import { OpenAiChat } from "@reins/openai"
 * import { Effect } from "effect"
 *
 * // The key and base URL from OPENAI_API_KEY and OPENAI_BASE_URL.
 * const program = LanguageModel.generate({ messages: [Message.user("Hi")] }).pipe(
 *   Effect.provide(OpenAiChat.layerConfig({ model: "gpt-5-mini" })),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @example
 * ```ts
 * import { OpenAiChat } from "@reins/openai"
 *
 * // An OpenAI-compatible server on this machine: no key needed, and its own name for max tokens.
 * const local = OpenAiChat.layer({
 *   model: "qwen3-8b",
 *   baseUrl: "http://127.0.0.1:8000/v1",
 *   provider: "local",
 *   dialect: { maxTokensField: "max_tokens" },
 *   timeouts: { headers: "30 seconds" }
 * })
 * ```
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { HttpStream, type LanguageModel, Provider, ProviderConfig, ProviderError } from "@reins/core"
import * as Stream from "effect/Stream"
import * as ChatConfig from "./chat/Config.js"
import { ChatEventDecoder } from "./chat/Events.js"
import * as ChatRequest from "./chat/Request.js"

export type {
  /** What `make`, `layer` and `layerConfig` take: `ChatConfig.Options`. */
  Options
} from "./chat/Config.js"
export type {
  /** How an OpenAI-compatible endpoint departs from OpenAI's own request format: `ChatRequest.Dialect`. */
  Dialect
} from "./chat/Request.js"

/** The model service of checked options on `client`; the Kimi layer builds on it. */
export const service = (options: ChatConfig.Options, client: HttpClient.HttpClient): LanguageModel.Service => {
  const provider = options.provider ?? "openai"
  const dialect = { ...ChatRequest.openAiDialect, ...options.dialect }
  const apiKey = ProviderConfig.redact(options.apiKey)
  const base = HttpClientRequest.post(Provider.url(options.baseUrl ?? ChatConfig.defaultBaseUrl, "/chat/completions")).pipe(
    HttpClientRequest.setHeaders({ accept: "text/event-stream", ...options.headers }),
    apiKey === undefined ? (request) => request : HttpClientRequest.bearerToken(apiKey)
  )
  return {
    provider,
    model: options.model,
    stream: (request) => {
      const refused = ChatRequest.unsupported(request, dialect)
      if (refused !== undefined) return Stream.fail(new ProviderError.UnsupportedContent({ provider, ...refused }))
      return HttpStream.chunks(
        client,
        HttpClientRequest.bodyUnsafeJson(base, ChatRequest.body(request, { model: options.model, provider, dialect })),
        HttpStream.callOptions(provider, options, request),
        (info) => new ChatEventDecoder(provider, info)
      )
    }
  }
}

const chat = Provider.define(ChatConfig.openAi, service)

/** Builds the model service on the HttpClient in context; a ConfigError, before any request, for bad options. */
export const make = chat.make

/** The model as a layer; fails to build with a ConfigError as `make` does. */
export const layer = chat.layer

/**
 * The model as a layer, with the key and base URL read from `OPENAI_API_KEY` and `OPENAI_BASE_URL`;
 * its ConfigErrors name those variables.
 */
export const layerConfig = chat.layerConfig
