/**
 * The official `openai` SDK: `stream: true` requests iterated with `for await`, stopped through
 * the request's `signal` option (its README's "Cancellation"), on Chat Completions and on the
 * Responses API. Its turn is the hand-written loop of OpenAI's function-calling guide, over the
 * SDK's `chat.completions.stream` helper.
 */
import OpenAI from "openai"
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions"
import * as Wire from "../wire.js"
import { abortable, apiKey, type Client, memo, model, prompt, version } from "./client.js"

const name = `openai ${version("openai")}`
const sdk = memo((url) => new OpenAI({ apiKey, baseURL: `${url}/v1` }))

const tools = [{
  type: "function" as const,
  function: { name: Wire.tool.name, description: Wire.tool.description, parameters: Wire.tool.parameters }
}]

/** The model, the tools it asks for, the model again, until it asks for none. */
const turn = async (url: string): Promise<string> => {
  const messages: Array<ChatCompletionMessageParam> = [{ role: "user", content: prompt }]
  for (let step = 0; step < 10; step++) {
    const completion = await sdk(url).chat.completions.stream({ model, messages, tools }).finalChatCompletion()
    const message = completion.choices[0].message
    messages.push(message)
    const calls = message.tool_calls ?? []
    if (calls.length === 0) return message.content ?? ""
    for (const call of calls) messages.push({ role: "tool", tool_call_id: call.id, content: Wire.tool.result })
  }
  throw new Error("the turn did not end in 10 steps")
}

/** The SDK on Chat Completions and on Responses. */
export const clients: ReadonlyArray<Client> = [
  {
    name,
    kind: "peer",
    format: "chat",
    start: (url, onText) =>
      abortable(async (signal) => {
        const stream = await sdk(url).chat.completions.create({ model, messages: [{ role: "user", content: prompt }], stream: true }, { signal })
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta?.content
          if (text) onText(text)
        }
      }),
    turn
  },
  {
    name,
    kind: "peer",
    format: "responses",
    start: (url, onText) =>
      abortable(async (signal) => {
        const stream = await sdk(url).responses.create({ model, input: prompt, stream: true }, { signal })
        for await (const event of stream) if (event.type === "response.output_text.delta") onText(event.delta)
      })
  }
]
