/**
 * What Kimi's Chat Completions dialect adds: reasoning sent back on assistant messages (its
 * preserved-thinking models reject a tool-call history without it), `$`-named builtin functions,
 * and the `thinking` switch.
 */
import type { OpenAiChat } from "@reins/openai"
import type { Options } from "./Config.js"

/** The Chat Completions dialect for Kimi with the given options. */
export const dialect = (options: Pick<Options, "thinking">): OpenAiChat.Dialect => ({
  maxTokensField: "max_completion_tokens",
  // With thinking off the model produced no reasoning to send back, and sends nothing it lacks.
  replayReasoning: options.thinking === "disabled" ? "when-present" : "always",
  builtinTools: true,
  extraBody: options.thinking === undefined ? undefined : { thinking: { type: options.thinking } }
})
