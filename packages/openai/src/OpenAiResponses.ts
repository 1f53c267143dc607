/**
 * Streaming OpenAI Responses API (`POST {baseUrl}/responses`), stateless: every request carries
 * the whole conversation, with the model's encrypted reasoning, and `store: false`.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { LanguageModel, Message } from "@reins/core"
 * import { OpenAiResponses } from "@reins/openai"
 * import { Effect, Redacted } from "effect"
 *
 * // A reasoning model: its reasoning summaries stream as reasoning deltas.
 * const model = OpenAiResponses.layer({
 *   model: "gpt-5-mini",
 *   apiKey: Redacted.make(process.env.OPENAI_API_KEY ?? ""),
 *   reasoningSummary: "auto"
 * })
 *
 * const program = LanguageModel.generate({ messages: [Message.user("Hi")], reasoning: { effort: "low" } }).pipe(
 *   Effect.provide(model),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { HttpStream, Provider, ProviderConfig } from "@reins/core"
import * as ChatConfig from "./chat/Config.js"
import type * as ResponsesConfig from "./responses/Config.js"
import { ResponsesEventDecoder } from "./responses/Events.js"
import * as ResponsesRequest from "./responses/Request.js"

export type {
  /** What `make`, `layer` and `layerConfig` take. */
  Options,
  /** How much of its reasoning the model summarizes in the stream. */
  ReasoningSummary
} from "./responses/Config.js"

const responses = Provider.define<ResponsesConfig.Options>(ChatConfig.openAi, (options, client) => {
  const provider = options.provider ?? "openai"
  const apiKey = ProviderConfig.redact(options.apiKey)
  const base = HttpClientRequest.post(Provider.url(options.baseUrl ?? ChatConfig.defaultBaseUrl, "/responses")).pipe(
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

/** Builds the model service on the HttpClient in context; a ConfigError, before any request, for bad options. */
export const make = responses.make

/** The model as a layer; fails to build with a ConfigError as `make` does. */
export const layer = responses.layer

/**
 * The model as a layer, with the key and base URL read from `OPENAI_API_KEY` and `OPENAI_BASE_URL`;
 * its ConfigErrors name those variables.
 */
export const layerConfig = responses.layerConfig
