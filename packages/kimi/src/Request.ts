/**
 * What Kimi's Chat Completions dialect adds: reasoning sent back on assistant messages (its
 * preserved-thinking models reject a tool-call history without it), `$`-named builtin functions,
 * the `thinking` switch, no file parts, and JSON mode in place of JSON Schema mode.
 */
import type { OpenAiChat } from "@reins/openai"
import type { Options } from "./Config.js"

/** The Chat Completions dialect for Kimi with the given options. */
export const dialect = (options: Pick<Options, "thinking">): OpenAiChat.Dialect => ({
  maxTokensField: "max_completion_tokens",
  // With thinking off the model produced no reasoning to send back, and sends nothing it lacks.
  replayReasoning: options.thinking === "disabled" ? "when-present" : "always",
  builtinTools: true,
  // Kimi reads files only through its own Files API, not as content parts.
  // Source: https://platform.moonshot.ai/docs/api/files
  files: false,
  // JSON mode (`json_object`) without a JSON Schema mode: the schema goes in a system message.
  // Source: https://platform.moonshot.ai/docs/guide/use-json-mode-feature-of-kimi-api
  jsonSchema: false,
  extraBody: options.thinking === undefined ? undefined : { thinking: { type: options.thinking } }
})
