/**
 * Moonshot Kimi: Chat Completions with Kimi's extensions and Moonshot's defaults.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { LanguageModel, Message } from "@reins/core"
 * import { Kimi } from "@reins/kimi"
 * import { Effect } from "effect"
 *
 * // Moonshot's default model, with the key and base URL from MOONSHOT_API_KEY and MOONSHOT_BASE_URL;
 * // thinking off for faster, cheaper answers.
 * const program = LanguageModel.generate({ messages: [Message.user("Hi")] }).pipe(
 *   Effect.provide(Kimi.layerConfig({ thinking: "disabled" })),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 */
import { Provider } from "@reins/core"
import { OpenAiChat } from "@reins/openai"
import * as KimiConfig from "./Config.js"
import * as KimiRequest from "./Request.js"

export type {
  /** What `make`, `layer` and `layerConfig` take. */
  Options
} from "./Config.js"

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
