/**
 * Streaming OpenAI Responses API (`POST {baseUrl}/responses`), stateless: every request carries
 * the whole conversation, with the model's encrypted reasoning, and `store: false`.
 *
 * @example
 * const program = LanguageModel.generate({ messages: [Message.user("Hi")], reasoning: { effort: "low" } }).pipe(
 *   Effect.provide(OpenAiResponses.layer({ model: "gpt-5-mini", apiKey: Redacted.make(key) })),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { HttpStream, LanguageModel, ProviderConfig } from "@reins/core"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChatConfig from "./chat/Config.js"
import type * as ResponsesConfig from "./responses/Config.js"
import { ResponsesEventDecoder } from "./responses/Events.js"
import * as ResponsesRequest from "./responses/Request.js"

export type { Options, ReasoningSummary } from "./responses/Config.js"

const build = (options: ResponsesConfig.Options): Effect.Effect<LanguageModel.Service, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => {
    const provider = options.provider ?? "openai"
    const apiKey = ProviderConfig.redact(options.apiKey)
    const url = `${(options.baseUrl ?? ChatConfig.defaultBaseUrl).replace(/\/+$/, "")}/responses`
    const base = HttpClientRequest.post(url).pipe(
      HttpClientRequest.setHeaders({ accept: "text/event-stream", ...options.headers }),
      apiKey === undefined ? (request) => request : HttpClientRequest.bearerToken(apiKey)
    )
    const encode = { model: options.model, provider, reasoningSummary: options.reasoningSummary }
    return {
      provider,
      model: options.model,
      stream: (request) => {
        const toolNames = new Set(request.tools?.map((tool) => tool.name))
        return HttpStream.chunks(
          client,
          HttpClientRequest.bodyUnsafeJson(base, ResponsesRequest.body(request, encode)),
          HttpStream.callOptions(provider, options, request),
          (info) => new ResponsesEventDecoder(provider, info, { toolNames })
        )
      }
    }
  })

/**
 * Builds the model service on the HttpClient in context, once the options pass
 * `ProviderConfig.check`: a ConfigError, before any request, for a base URL that is not an http or
 * https URL or for a missing key when the server is not on this machine.
 */
export const make = (
  options: ResponsesConfig.Options
): Effect.Effect<LanguageModel.Service, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Effect.flatMap(ProviderConfig.check(options, ChatConfig.openAi), build)

/** The model as a layer; fails to build with a ConfigError as `make` does. */
export const layer = (
  options: ResponsesConfig.Options
): Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(LanguageModel.LanguageModel, make(options))

/**
 * The model as a layer, with the key and base URL read from `OPENAI_API_KEY` and `OPENAI_BASE_URL`;
 * its ConfigErrors name those variables.
 */
export const layerConfig = (
  options: ResponsesConfig.Options
): Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(LanguageModel.LanguageModel, Effect.flatMap(ChatConfig.fromEnv("OPENAI", options), build))
