/**
 * Moonshot Kimi: Chat Completions with Kimi's extensions and Moonshot's defaults.
 *
 * @example
 * const model = Kimi.layerConfig({ thinking: "enabled" }) // reads MOONSHOT_API_KEY, MOONSHOT_BASE_URL
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { LanguageModel, ProviderConfig } from "@reins/core"
import { ChatConfig, OpenAiChat } from "@reins/openai"
import * as Effect from "effect/Effect"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import * as KimiConfig from "./Config.js"
import * as KimiRequest from "./Request.js"

export type { Options } from "./Config.js"

type LayerOptions = Omit<KimiConfig.Options, "model"> & { readonly model?: string | undefined }

const chatOptions = (options: LayerOptions): OpenAiChat.Options => ({
  ...options,
  model: options.model ?? KimiConfig.defaultModel,
  baseUrl: options.baseUrl ?? KimiConfig.defaultBaseUrl,
  provider: "kimi",
  dialect: KimiRequest.dialect(options)
})

/**
 * Builds the model service on the HttpClient in context, once the options pass
 * `ProviderConfig.check` against Moonshot's endpoint (its errors name `MOONSHOT_API_KEY`).
 */
export const make = (
  options: LayerOptions = {}
): Effect.Effect<LanguageModel.Service, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Effect.flatMap(ProviderConfig.check(options, KimiConfig.endpoint), (checked) => OpenAiChat.make(chatOptions(checked)))

/** The model as a layer; fails to build with a ConfigError as `make` does. */
export const layer = (
  options: LayerOptions = {}
): Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(LanguageModel.LanguageModel, make(options))

/**
 * The model as a layer, with the key and base URL read from `MOONSHOT_API_KEY` and
 * `MOONSHOT_BASE_URL`; its ConfigErrors name those variables.
 */
export const layerConfig = (
  options: LayerOptions = {}
): Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(ChatConfig.fromEnv("MOONSHOT", options, KimiConfig.defaultBaseUrl), layer))
