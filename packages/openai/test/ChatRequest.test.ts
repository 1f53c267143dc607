import { describe, expect, it } from "@effect/vitest"
import { Message, Part, Usage } from "@reins/core"
import * as ChatRequest from "../src/chat/Request.js"

const history: ReadonlyArray<Message.Message> = [
  Message.user([Part.text("Weather in Paris and Oslo?"), Part.imageData("iVBORw0=", "image/png")]),
  {
    _tag: "Assistant",
    content: [
      { _tag: "Reasoning", text: "Two cities: call the tool twice." },
      Part.toolCall("call_a", "weather", "{\"city\":\"Paris\"}"),
      Part.toolCall("call_b", "weather", "{\"city\":\"Oslo\"}")
    ],
    stopReason: "tool-calls",
    usage: Usage.empty,
    provider: "openai",
    model: "gpt-5"
  },
  Message.toolResult({ toolCallId: "call_a", toolName: "weather", content: "18C" }),
  Message.toolResult({ toolCallId: "call_b", toolName: "weather", content: "4C" }),
  {
    _tag: "Assistant",
    content: [{ _tag: "Text", text: "Paris 18C, Oslo 4C." }],
    stopReason: "stop",
    usage: Usage.empty,
    provider: "openai",
    model: "gpt-5"
  },
  // stopped before its first token: carries nothing, so it is not sent
  { _tag: "Assistant", content: [], stopReason: "interrupted", usage: Usage.empty, provider: "openai", model: "gpt-5" },
  Message.user("Thanks")
]

const tools = [{ name: "weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }]

describe("ChatRequest.body", () => {
  it("encodes a whole conversation as the Chat Completions documentation describes", () => {
    const body = ChatRequest.body(
      { system: "Be brief.", messages: history, tools, toolChoice: "auto", maxOutputTokens: 500, temperature: 0.2, reasoning: { effort: "low" } },
      { model: "gpt-5", provider: "openai", dialect: ChatRequest.openAiDialect }
    )
    expect(body).toEqual({
      model: "gpt-5",
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: "system", content: "Be brief." },
        {
          role: "user",
          content: [
            { type: "text", text: "Weather in Paris and Oslo?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0=" } }
          ]
        },
        {
          role: "assistant",
          content: null,
          reasoning_content: "Two cities: call the tool twice.",
          tool_calls: [
            { id: "call_a", type: "function", function: { name: "weather", arguments: "{\"city\":\"Paris\"}" } },
            { id: "call_b", type: "function", function: { name: "weather", arguments: "{\"city\":\"Oslo\"}" } }
          ]
        },
        { role: "tool", tool_call_id: "call_a", content: "18C" },
        { role: "tool", tool_call_id: "call_b", content: "4C" },
        { role: "assistant", content: "Paris 18C, Oslo 4C." },
        { role: "user", content: "Thanks" }
      ],
      tools: [{ type: "function", function: tools[0] }],
      tool_choice: "auto",
      max_completion_tokens: 500,
      temperature: 0.2,
      reasoning_effort: "low"
    })
  })

  it("names a forced tool, honours the dialect and merges provider options last", () => {
    const body = ChatRequest.body(
      { messages: [Message.user("hi")], tools, toolChoice: { tool: "weather" }, maxOutputTokens: 9, model: "other", providerOptions: { local: { top_k: 3 }, openai: { ignored: true } } },
      { model: "m", provider: "local", dialect: { ...ChatRequest.openAiDialect, maxTokensField: "max_tokens", replayReasoning: "never" } }
    )
    expect(body.model).toBe("other")
    expect(body.tool_choice).toEqual({ type: "function", function: { name: "weather" } })
    expect(body.max_tokens).toBe(9)
    expect(body.max_completion_tokens).toBeUndefined()
    expect(body.top_k).toBe(3)
    expect(body.ignored).toBeUndefined()
  })

  it("sends reasoning back only where the dialect says", () => {
    const messages = ChatRequest.messages(undefined, history.slice(1, 2), { ...ChatRequest.openAiDialect, replayReasoning: "never" })
    expect(messages[0].reasoning_content).toBeUndefined()
  })
})
