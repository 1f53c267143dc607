/**
 * Options of the Kimi layer: the Chat Completions options with Moonshot's defaults and thinking.
 */
import type { ProviderConfig } from "@reins/core"
import { ChatConfig, type OpenAiChat } from "@reins/openai"

/** What the Kimi layer needs. */
export interface Options extends Omit<OpenAiChat.Options, "provider" | "dialect"> {
  /**
   * Thinking on the K2 models: `enabled` (their default) or `disabled` for faster, cheaper answers.
   * Left out of the request when not set, for models that always think.
   */
  readonly thinking?: "enabled" | "disabled" | undefined
}

/** Where Moonshot's international API lives. */
export const defaultBaseUrl = "https://api.moonshot.ai/v1"

/** The model used when none is given. */
export const defaultModel = "kimi-k2.6"

/** The variables `layerConfig` reads, and where the API lives when they name no other place. */
export const endpoint: ProviderConfig.Endpoint = ChatConfig.endpoint("MOONSHOT", defaultBaseUrl)
