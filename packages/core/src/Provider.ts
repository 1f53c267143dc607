/**
 * The one shape of every provider package's constructors: `make`, `layer` and `layerConfig`, built
 * from where the provider lives and how it turns checked options and an HttpClient into the model
 * service. Each provider writes only what differs (its URL, headers and codec).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LanguageModel from "./LanguageModel.js"
import * as ProviderConfig from "./ProviderConfig.js"

/** Options may be left out where every field is optional (Kimi's layer, say). */
type Args<O> = {} extends O ? [options?: O] : [options: O]

/** A provider's constructors. */
export interface Constructors<O> {
  /**
   * Builds the model service on the HttpClient in context, once the options pass
   * `ProviderConfig.check`: a ConfigError, before any request, for a base URL that is not an http
   * or https URL, or for a missing key when the server is not on this machine.
   */
  readonly make: (...args: Args<O>) => Effect.Effect<LanguageModel.Service, ConfigError.ConfigError, HttpClient.HttpClient>
  /** The model as a layer; fails to build with a ConfigError as `make` does. */
  readonly layer: (...args: Args<O>) => Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>
  /**
   * The model as a layer, with the key and base URL read from the endpoint's variables where the
   * options leave them out; its ConfigErrors name those variables.
   */
  readonly layerConfig: (
    ...args: Args<O>
  ) => Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>
}

/**
 * The constructors of a provider that lives at `endpoint` and serves checked options with `build`.
 *
 * @example
 * import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
 * import { type Decoder, HttpStream, type LanguageModel, Provider, type ProviderConfig } from "@reins/core"
 * import * as Stream from "effect/Stream"
 *
 * declare const codec: (request: LanguageModel.Request) => unknown
 * declare const decoder: Decoder.EventDecoder
 *
 * export const { layer, layerConfig, make } = Provider.define<ProviderConfig.Common>(
 *   { apiKey: ["ACME_API_KEY"], baseUrl: "ACME_BASE_URL", defaultBaseUrl: "https://api.acme.test/v1" },
 *   (options, client) => ({
 *     provider: "acme",
 *     model: options.model,
 *     stream: (request) =>
 *       HttpStream.chunks(
 *         client,
 *         HttpClientRequest.bodyUnsafeJson(HttpClientRequest.post(`${options.baseUrl}/generate`), codec(request)),
 *         HttpStream.callOptions("acme", options, request),
 *         () => decoder
 *       )
 *   })
 * )
 */
export const define = <O extends Pick<ProviderConfig.Common, "apiKey" | "baseUrl">>(
  endpoint: ProviderConfig.Endpoint,
  build: (options: O, client: HttpClient.HttpClient) => LanguageModel.Service
): Constructors<O> => {
  const serve = (checked: Effect.Effect<O, ConfigError.ConfigError>) =>
    Effect.flatMap(checked, (options) => Effect.map(HttpClient.HttpClient, (client) => build(options, client)))
  const given = (args: ReadonlyArray<O | undefined>): O => args[0] ?? ({} as O)
  const make = (...args: Args<O>) => serve(ProviderConfig.check(given(args), endpoint))
  return {
    make,
    layer: (...args) => Layer.effect(LanguageModel.LanguageModel, make(...args)),
    layerConfig: (...args) => Layer.effect(LanguageModel.LanguageModel, serve(ProviderConfig.fromEnv(given(args), endpoint)))
  }
}

/** `path` under a base URL, however many slashes the base URL ends with. */
export const url = (baseUrl: string, path: string): string => `${baseUrl.replace(/\/+$/, "")}${path}`
