/**
 * Streaming Chat Completions for the OpenAI API and any OpenAI-compatible endpoint.
 *
 * @example
 * const program = LanguageModel.generate({ messages: [Message.user("Hi")] }).pipe(
 *   Effect.provide(OpenAiChat.layer({ model: "gpt-5-mini", apiKey: Redacted.make(key) })),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { HttpStream, LanguageModel, ProviderConfig } from "@reins/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ConfigError from "effect/ConfigError"
import * as ChatConfig from "./chat/Config.js"
import { ChatEventDecoder } from "./chat/Events.js"
import * as ChatRequest from "./chat/Request.js"

export type { Options } from "./chat/Config.js"
export type { Dialect } from "./chat/Request.js"

const build = (options: ChatConfig.Options): Effect.Effect<LanguageModel.Service, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => {
    const provider = options.provider ?? "openai"
    const dialect = { ...ChatRequest.openAiDialect, ...options.dialect }
    const apiKey = ProviderConfig.redact(options.apiKey)
    const url = `${(options.baseUrl ?? ChatConfig.defaultBaseUrl).replace(/\/+$/, "")}/chat/completions`
    const base = HttpClientRequest.post(url).pipe(
      HttpClientRequest.setHeaders({ accept: "text/event-stream", ...options.headers }),
      apiKey === undefined ? (request) => request : HttpClientRequest.bearerToken(apiKey)
    )
    return {
      provider,
      model: options.model,
      stream: (request) =>
        HttpStream.chunks(
          client,
          HttpClientRequest.bodyUnsafeJson(base, ChatRequest.body(request, { model: options.model, provider, dialect })),
          HttpStream.callOptions(provider, options, request),
          (info) => new ChatEventDecoder(provider, info)
        )
    }
  })

/**
 * Builds the model service on the HttpClient in context, once the options pass
 * `ProviderConfig.check`: a ConfigError, before any request, for a base URL that is not an http or
 * https URL or for a missing key when the server is not on this machine.
 */
export const make = (
  options: ChatConfig.Options
): Effect.Effect<LanguageModel.Service, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Effect.flatMap(ProviderConfig.check(options, ChatConfig.openAi), build)

/** The model as a layer; fails to build with a ConfigError as `make` does. */
export const layer = (
  options: ChatConfig.Options
): Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(LanguageModel.LanguageModel, make(options))

/**
 * The model as a layer, with the key and base URL read from `OPENAI_API_KEY` and `OPENAI_BASE_URL`;
 * its ConfigErrors name those variables.
 */
export const layerConfig = (
  options: ChatConfig.Options
): Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(LanguageModel.LanguageModel, Effect.flatMap(ChatConfig.fromEnv("OPENAI", options), build))
