/**
 * The official `@anthropic-ai/sdk`: `messages.create({ stream: true })` iterated with `for await`,
 * stopped through the request's `signal` option. Its turn is the hand-written tool-use loop of
 * Anthropic's documentation, over the SDK's `messages.stream` helper and its `finalMessage()`.
 */
import Anthropic from "@anthropic-ai/sdk"
import type { MessageParam, ToolUseBlock } from "@anthropic-ai/sdk/resources/messages"
import * as Wire from "../wire.js"
import { abortable, apiKey, type Client, memo, model, prompt, version } from "./client.js"

const sdk = memo((url) => new Anthropic({ apiKey, baseURL: url }))
const max_tokens = 4096

const tools = [{ name: Wire.tool.name, description: Wire.tool.description, input_schema: Wire.tool.parameters }]

/** The model, the tools it asks for, the model again, until it asks for none. */
const turn = async (url: string): Promise<string> => {
  const messages: Array<MessageParam> = [{ role: "user", content: prompt }]
  for (let step = 0; step < 10; step++) {
    const message = await sdk(url).messages.stream({ model, max_tokens, messages, tools }).finalMessage()
    messages.push({ role: message.role, content: message.content })
    const calls = message.content.filter((block): block is ToolUseBlock => block.type === "tool_use")
    if (calls.length === 0) return message.content.map((block) => block.type === "text" ? block.text : "").join("")
    messages.push({
      role: "user",
      content: calls.map((call) => ({ type: "tool_result" as const, tool_use_id: call.id, content: Wire.tool.result }))
    })
  }
  throw new Error("the turn did not end in 10 steps")
}

/** The SDK on the Messages API. */
export const clients: ReadonlyArray<Client> = [{
  name: `@anthropic-ai/sdk ${version("@anthropic-ai/sdk")}`,
  kind: "peer",
  format: "messages",
  start: (url, onText) =>
    abortable(async (signal) => {
      const stream = await sdk(url).messages.create({ model, max_tokens, messages: [{ role: "user", content: prompt }], stream: true }, { signal })
      for await (const event of stream) {
        if (event.type === "content_block_delta" && event.delta.type === "text_delta") onText(event.delta.text)
      }
    }),
  turn
}]
