/**
 * Moonshot Kimi: Chat Completions with Kimi's extensions and Moonshot's defaults.
 *
 * @example
 * const model = Kimi.layerConfig({ thinking: "enabled" }) // reads MOONSHOT_API_KEY, MOONSHOT_BASE_URL
 */
import { Provider } from "@reins/core"
import { OpenAiChat } from "@reins/openai"
import * as KimiConfig from "./Config.js"
import * as KimiRequest from "./Request.js"

export type { Options } from "./Config.js"

type LayerOptions = Omit<KimiConfig.Options, "model"> & { readonly model?: string | undefined }

const kimi = Provider.define<LayerOptions>(KimiConfig.endpoint, (options, client) =>
  OpenAiChat.service({
    ...options,
    model: options.model ?? KimiConfig.defaultModel,
    baseUrl: options.baseUrl ?? KimiConfig.defaultBaseUrl,
    provider: "kimi",
    dialect: KimiRequest.dialect(options)
  }, client))

/**
 * Builds the model service on the HttpClient in context; a ConfigError naming `MOONSHOT_API_KEY`,
 * before any request, for bad options.
 */
export const make = kimi.make

/** The model as a layer; fails to build with a ConfigError as `make` does. */
export const layer = kimi.layer

/**
 * The model as a layer, with the key and base URL read from `MOONSHOT_API_KEY` and
 * `MOONSHOT_BASE_URL`; its ConfigErrors name those variables.
 */
export const layerConfig = kimi.layerConfig
