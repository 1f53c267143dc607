/**
 * The AI SDK (`ai`): `streamText` with its `textStream` iterated, stopped through `abortSignal`,
 * over `@ai-sdk/openai` (Chat Completions with `.chat(...)`, the Responses API with
 * `.responses(...)`) and `@ai-sdk/anthropic`. Its turn is `streamText` with `tools` and
 * `stopWhen: isStepCount(10)`, the SDK's own agent loop.
 */
import { createAnthropic } from "@ai-sdk/anthropic"
import { createOpenAI } from "@ai-sdk/openai"
import { isStepCount, type LanguageModel, streamText, tool } from "ai"
import { z } from "zod"
import * as Wire from "../wire.js"
import { abortable, apiKey, type Client, memo, model, prompt, version } from "./client.js"

const ai = `ai ${version("ai")}`

const tools = {
  [Wire.tool.name]: tool({
    description: Wire.tool.description,
    inputSchema: z.object({ key: z.string() }),
    execute: async () => Wire.tool.result
  })
}

/** Anthropic requires `max_tokens`; the provider warns when it has to pick one for an unknown model. */
const settings = (format: Wire.FormatId) => format === "messages" ? { maxOutputTokens: 4096 } : {}

const client = (name: string, format: Wire.FormatId, languageModel: (url: string) => LanguageModel): Client => ({
  name,
  kind: "peer",
  format,
  start: (url, onText) =>
    abortable(async (abortSignal) => {
      const result = streamText({ model: languageModel(url), prompt, abortSignal, ...settings(format) })
      for await (const text of result.textStream) onText(text)
    }),
  turn: async (url) => {
    const result = streamText({ model: languageModel(url), prompt, tools, stopWhen: isStepCount(10), ...settings(format) })
    let text = ""
    for await (const delta of result.textStream) text += delta
    return text
  }
})

const openai = memo((url) => createOpenAI({ apiKey, baseURL: `${url}/v1` }))
const anthropic = memo((url) => createAnthropic({ apiKey, baseURL: `${url}/v1` }))

/** The SDK over each provider package and API. */
export const clients: ReadonlyArray<Client> = [
  client(`${ai} + @ai-sdk/openai ${version("@ai-sdk/openai")}`, "chat", memo((url) => openai(url).chat(model))),
  client(`${ai} + @ai-sdk/openai ${version("@ai-sdk/openai")}`, "responses", memo((url) => openai(url).responses(model))),
  client(`${ai} + @ai-sdk/anthropic ${version("@ai-sdk/anthropic")}`, "messages", memo((url) => anthropic(url)(model)))
]
