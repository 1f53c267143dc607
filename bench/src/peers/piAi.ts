/**
 * `@mariozechner/pi-ai`: `stream(model, context, { signal })` iterated for `text_delta` events and
 * stopped through `signal` ("Aborting Requests" in its README), with custom models pointed at the
 * server ("Custom Models": `openai-completions`, `openai-responses` and `anthropic-messages` take
 * any `baseUrl`). The package has no agent loop; its turn is the tool loop its README shows:
 * stream, push the result, answer each tool call, stream again.
 */
import { type Api, type Context, type Model, stream, type Tool, type ToolCall, Type } from "@mariozechner/pi-ai"
import * as Wire from "../wire.js"
import { abortable, apiKey, type Client, memo, model, prompt, version } from "./client.js"

const tools: Array<Tool> = [{
  name: Wire.tool.name,
  description: Wire.tool.description,
  parameters: Type.Object({ key: Type.String() })
}]

const custom = <A extends Api>(api: A, baseUrl: string): Model<A> => ({
  id: model,
  name: model,
  api,
  provider: "bench",
  baseUrl,
  reasoning: false,
  input: ["text"],
  cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
  contextWindow: 128_000,
  maxTokens: 4096
})

const user = (): Context["messages"][number] => ({ role: "user", content: prompt, timestamp: Date.now() })

/** The model, the tools it asks for, the model again, until it asks for none. */
const turn = async (piModel: Model<Api>): Promise<string> => {
  const context: Context = { messages: [user()], tools }
  for (let step = 0; step < 10; step++) {
    const events = stream(piModel, context, { apiKey })
    let text = ""
    for await (const event of events) {
      if (event.type === "text_delta") text += event.delta
      else if (event.type === "error") throw new Error(event.error.errorMessage ?? "pi-ai stream error")
    }
    const message = await events.result()
    context.messages.push(message)
    const calls = message.content.filter((block): block is ToolCall => block.type === "toolCall")
    if (calls.length === 0) return text
    for (const call of calls) {
      context.messages.push({
        role: "toolResult",
        toolCallId: call.id,
        toolName: call.name,
        content: [{ type: "text", text: Wire.tool.result }],
        isError: false,
        timestamp: Date.now()
      })
    }
  }
  throw new Error("the turn did not end in 10 steps")
}

const client = (format: Wire.FormatId, piModel: (url: string) => Model<Api>): Client => ({
  name: `pi-ai ${version("@mariozechner/pi-ai")}`,
  kind: "peer",
  format,
  start: (url, onText) =>
    abortable(async (signal) => {
      for await (const event of stream(piModel(url), { messages: [user()] }, { apiKey, signal })) {
        if (event.type === "text_delta") onText(event.delta)
      }
    }),
  turn: (url) => turn(piModel(url))
})

/** pi-ai on each API that takes a custom base URL. */
export const clients: ReadonlyArray<Client> = [
  client("chat", memo((url) => custom("openai-completions", `${url}/v1`))),
  client("responses", memo((url) => custom("openai-responses", `${url}/v1`))),
  client("messages", memo((url) => custom("anthropic-messages", url)))
]
