import { describe, expect, it } from "@effect/vitest"
import { Message, Part, Usage } from "@reins/core"
import * as ResponsesRequest from "../src/responses/Request.js"

const assistant = (content: Message.Assistant["content"], extra: Partial<Message.Assistant> = {}): Message.Assistant => ({
  _tag: "Assistant",
  content,
  stopReason: "stop",
  usage: Usage.empty,
  provider: "openai",
  model: "gpt-5",
  ...extra
})

const history: ReadonlyArray<Message.Message> = [
  Message.user([Part.text("Weather in Paris and Oslo?"), Part.imageData("iVBORw0=", "image/png")]),
  assistant([
    { _tag: "Reasoning", text: "**Two cities**\n\nCall the tool twice.", signature: "gAAAA-enc-1", metadata: { itemId: "rs_1" } },
    { _tag: "Text", text: "Checking both.", metadata: { phase: "commentary" } },
    { ...Part.toolCall("call_a", "weather", "{\"city\":\"Paris\"}"), metadata: { itemId: "fc_a" } },
    { ...Part.toolCall("call_b", "weather", "{\"city\":\"Oslo\"}"), metadata: { itemId: "fc_b" } }
  ], { stopReason: "tool-calls" }),
  Message.toolResult({ toolCallId: "call_a", toolName: "weather", content: "18C" }),
  Message.toolResult({ toolCallId: "call_b", toolName: "weather", content: "4C", isError: false }),
  assistant([{ _tag: "Text", text: "Paris 18C, Oslo 4C." }]),
  Message.user("Thanks")
]

const tools = [{ name: "weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }]

describe("ResponsesRequest.body", () => {
  it("encodes a whole conversation as the Responses API documentation describes", () => {
    const body = ResponsesRequest.body(
      { system: "Be brief.", messages: history, tools, toolChoice: "auto", maxOutputTokens: 500, reasoning: { effort: "low" } },
      { model: "gpt-5", provider: "openai", reasoningSummary: "detailed" }
    )
    expect(body).toEqual({
      model: "gpt-5",
      instructions: "Be brief.",
      input: [
        {
          role: "user",
          content: [
            { type: "input_text", text: "Weather in Paris and Oslo?" },
            { type: "input_image", image_url: "data:image/png;base64,iVBORw0=", detail: "auto" }
          ]
        },
        {
          type: "reasoning",
          summary: [{ type: "summary_text", text: "**Two cities**\n\nCall the tool twice." }],
          encrypted_content: "gAAAA-enc-1"
        },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking both." }], phase: "commentary" },
        { type: "function_call", call_id: "call_a", name: "weather", arguments: "{\"city\":\"Paris\"}" },
        { type: "function_call", call_id: "call_b", name: "weather", arguments: "{\"city\":\"Oslo\"}" },
        { type: "function_call_output", call_id: "call_a", output: "18C" },
        { type: "function_call_output", call_id: "call_b", output: "4C" },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Paris 18C, Oslo 4C." }] },
        { role: "user", content: [{ type: "input_text", text: "Thanks" }] }
      ],
      tools: [{
        type: "function",
        name: "weather",
        description: "Current weather",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        strict: false
      }],
      tool_choice: "auto",
      max_output_tokens: 500,
      reasoning: { effort: "low", summary: "detailed" },
      include: ["reasoning.encrypted_content"],
      stream: true,
      store: false
    })
  })

  it("drops another provider's reasoning but keeps its text and tool calls", () => {
    const foreign = assistant([
      { _tag: "Reasoning", text: "thinking", signature: "anthropic-signature" },
      { _tag: "Text", text: "Let me look.", metadata: { phase: "commentary" } },
      Part.toolCall("toolu_1", "weather", "{}")
    ], { provider: "anthropic", model: "claude" })
    expect(ResponsesRequest.input([Message.user("hi"), foreign], "openai")).toEqual([
      { role: "user", content: [{ type: "input_text", text: "hi" }] },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Let me look." }] },
      { type: "function_call", call_id: "toolu_1", name: "weather", arguments: "{}" }
    ])
  })

  it("skips an interrupted assistant message with nothing replayable in it", () => {
    const empty = assistant([], { stopReason: "interrupted" })
    const unsigned = assistant([{ _tag: "Reasoning", text: "half a thought" }], { stopReason: "interrupted" })
    expect(ResponsesRequest.input([Message.user("a"), empty, unsigned, Message.user("b")], "openai")).toEqual([
      { role: "user", content: [{ type: "input_text", text: "a" }] },
      { role: "user", content: [{ type: "input_text", text: "b" }] }
    ])
  })

  it("replays a signed reasoning item without summary text with an empty summary", () => {
    const signedOnly = assistant([{ _tag: "Reasoning", text: "", signature: "enc" }, { _tag: "Text", text: "ok" }])
    expect(ResponsesRequest.input([signedOnly], "openai")[0]).toEqual({ type: "reasoning", summary: [], encrypted_content: "enc" })
  })

  it("sends a custom tool call and its output back as custom items", () => {
    const custom = assistant([
      { ...Part.toolCall("call_c", "write_sql", "{\"input\":\"SELECT 1\"}"), metadata: { itemId: "ct_1", customTool: true } }
    ], { stopReason: "tool-calls" })
    expect(ResponsesRequest.input([custom, Message.toolResult({ toolCallId: "call_c", toolName: "write_sql", content: "1" })], "openai")).toEqual([
      { type: "custom_tool_call", call_id: "call_c", name: "write_sql", input: "SELECT 1" },
      { type: "custom_tool_call_output", call_id: "call_c", output: "1" }
    ])
  })

  it("sends a repeated call_id renamed, on the call and on the output that answers it", () => {
    const step = (calls: ReadonlyArray<Part.ToolCall>, provider: string) => [
      assistant(calls, { stopReason: "tool-calls", provider }),
      ...calls.map((call) => Message.toolResult({ toolCallId: call.id, toolName: call.name, content: `${call.name} ${call.arguments}` }))
    ]
    const custom = (id: string, input: string): Part.ToolCall => ({ ...Part.toolCall(id, "sql", JSON.stringify({ input })), metadata: { customTool: true } })
    // a compatible server that numbers each response's calls, then the same ids in one response
    const items = ResponsesRequest.input([
      Message.user("Go"),
      ...step([Part.toolCall("call_0", "clock", "1")], "openai"),
      ...step([custom("call_0", "SELECT 2")], "openai"),
      ...step([Part.toolCall("c", "clock", "3"), Part.toolCall("c", "clock", "4")], "kimi")
    ], "openai")
    expect(items.slice(1).map((item) => [item.type, item.call_id, item.arguments ?? item.input ?? item.output])).toEqual([
      ["function_call", "call_0", "1"],
      ["function_call_output", "call_0", "clock 1"],
      ["custom_tool_call", "call_0_2", "SELECT 2"],
      ["custom_tool_call_output", "call_0_2", "sql {\"input\":\"SELECT 2\"}"],
      ["function_call", "c", "3"],
      ["function_call", "c_2", "4"],
      ["function_call_output", "c", "clock 3"],
      ["function_call_output", "c_2", "clock 4"]
    ])
  })

  it("asks for reasoning only when the request or the layer does, names a forced tool, and merges provider options last", () => {
    const plain = ResponsesRequest.body({ messages: [Message.user("hi")] }, { model: "gpt-4.1", provider: "openai" })
    expect(plain).toEqual({ model: "gpt-4.1", input: [{ role: "user", content: [{ type: "input_text", text: "hi" }] }], stream: true, store: false })
    const declared = ResponsesRequest.body({ messages: [] }, { model: "o3", provider: "openai", reasoningSummary: "concise" })
    expect(declared.reasoning).toEqual({ summary: "concise" })
    expect(declared.include).toEqual(["reasoning.encrypted_content"])
    const requested = ResponsesRequest.body({ messages: [], reasoning: { effort: "high" } }, { model: "o3", provider: "openai" })
    expect(requested.reasoning).toEqual({ effort: "high", summary: "auto" })
    const forced = ResponsesRequest.body(
      { messages: [], tools, toolChoice: { tool: "weather" }, temperature: 0.2, model: "other", providerOptions: { openai: { store: true, service_tier: "flex" }, kimi: { ignored: true } } },
      { model: "m", provider: "openai" }
    )
    expect(forced.tool_choice).toEqual({ type: "function", name: "weather" })
    expect(forced.model).toBe("other")
    expect(forced.temperature).toBe(0.2)
    expect(forced.store).toBe(true)
    expect(forced.service_tier).toBe("flex")
    expect(forced.ignored).toBeUndefined()
  })
})
