/**
 * Google Gemini over `streamGenerateContent?alt=sse`.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { LanguageModel, Message } from "@reins/core"
 * import { Google } from "@reins/google"
 * import { Effect } from "effect"
 *
 * // The key from GEMINI_API_KEY (else GOOGLE_API_KEY), the base URL from GEMINI_BASE_URL.
 * const program = LanguageModel.generate({ messages: [Message.user("Hi")], reasoning: { effort: "low" } }).pipe(
 *   Effect.provide(Google.layerConfig({ model: "gemini-2.5-flash" })),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Provider, ProviderConfig, ProviderError } from "@reins/core"
import * as HttpStream from "./GoogleHttp.js"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as GoogleConfig from "./Config.js"
import { GoogleEventDecoder } from "./Events.js"
import * as GoogleRequest from "./Request.js"

export type {
  /** What `make`, `layer` and `layerConfig` take. */
  Options
} from "./Config.js"

const google = Provider.define<GoogleConfig.Options>(GoogleConfig.endpoint, (options, httpClient) => {
  const provider = options.provider ?? "google"
  const apiKey = ProviderConfig.redact(options.apiKey)
  const baseUrl = options.baseUrl ?? GoogleConfig.defaultBaseUrl
  // The platform redacts `authorization` and `x-api-key` in spans, but not Google's header.
  const client = HttpClient.transform(httpClient, (effect) =>
    Effect.locallyWith(effect, Headers.currentRedactedNames, (names) => [...names, GoogleConfig.apiKeyHeader]))
  const headers: Record<string, string> = { accept: "text/event-stream", ...options.headers }
  return {
    provider,
    model: options.model,
    stream: (request) => {
      const refused = GoogleRequest.unsupported(request, { model: options.model, provider })
      if (refused !== undefined) return Stream.fail(new ProviderError.UnsupportedContent({ provider, ...refused }))
      const model = request.model ?? options.model
      const http = HttpClientRequest.post(GoogleRequest.url(baseUrl, model)).pipe(
        HttpClientRequest.setHeaders(headers),
        apiKey === undefined ? (r) => r : HttpClientRequest.setHeader(GoogleConfig.apiKeyHeader, Redacted.value(apiKey)),
        HttpClientRequest.bodyUnsafeJson(GoogleRequest.body(request, { model: options.model, provider }))
      )
      return HttpStream.chunks(
        client,
        http,
        HttpStream.callOptions(provider, options, request),
        (info) => new GoogleEventDecoder(provider, info)
      )
    }
  }
})

/** Builds the model service on the HttpClient in context; a ConfigError, before any request, for bad options. */
export const make = google.make

/** The model as a layer; fails to build with a ConfigError as `make` does. */
export const layer = google.layer

/**
 * The model as a layer, with the key read from `GEMINI_API_KEY` (else `GOOGLE_API_KEY`) and the base
 * URL from `GEMINI_BASE_URL`; its ConfigErrors name those variables.
 */
export const layerConfig = google.layerConfig
