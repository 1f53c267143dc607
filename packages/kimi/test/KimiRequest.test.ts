import { describe, expect, it } from "@effect/vitest"
import { Message, Part, Usage } from "@reins/core"
import { ChatRequest } from "@reins/openai"
import * as KimiRequest from "../src/Request.js"

const assistant = (content: Message.Assistant["content"]): Message.Assistant => ({
  _tag: "Assistant",
  content,
  stopReason: "tool-calls",
  usage: Usage.empty,
  provider: "kimi",
  model: "kimi-k2.6"
})

const request = {
  messages: [
    Message.user("Search the news"),
    assistant([{ _tag: "Reasoning", text: "" }, Part.toolCall("t1", "$web_search", "{\"query\":\"news\"}")]),
    Message.toolResult({ toolCallId: "t1", toolName: "$web_search", content: "{\"query\":\"news\"}" }),
    assistant([Part.toolCall("t2", "clock", "{}")]),
    Message.toolResult({ toolCallId: "t2", toolName: "clock", content: "12:00" })
  ],
  tools: [
    { name: "$web_search", parameters: {} },
    { name: "clock", description: "Time", parameters: { type: "object", properties: {} } }
  ]
}

describe("Kimi request dialect", () => {
  it("sends reasoning_content on every assistant message (empty too), builtin tools and thinking", () => {
    const body = ChatRequest.body(request, { model: "kimi-k2.6", provider: "kimi", dialect: KimiRequest.dialect({ thinking: "enabled" }) })
    expect(body.thinking).toEqual({ type: "enabled" })
    const assistants = (body.messages as Array<any>).filter((m) => m.role === "assistant")
    expect(assistants.map((m) => m.reasoning_content)).toEqual(["", ""])
    expect(body.tools).toEqual([
      { type: "builtin_function", function: { name: "$web_search" } },
      { type: "function", function: { name: "clock", description: "Time", parameters: { type: "object", properties: {} } } }
    ])
  })

  it("sends reasoning_content on the tool-call messages of another provider's history too", () => {
    const foreign = (content: Message.Assistant["content"]): Message.Assistant => ({ ...assistant(content), provider: "anthropic", model: "claude" })
    const body = ChatRequest.body({
      messages: [
        Message.user("Time?"),
        foreign([{ _tag: "Reasoning", text: "Use the clock.", signature: "sig" }, Part.toolCall("toolu_1", "clock", "{}")]),
        Message.toolResult({ toolCallId: "toolu_1", toolName: "clock", content: "noon" }),
        foreign([Part.toolCall("toolu_2", "clock", "{}")]),
        Message.toolResult({ toolCallId: "toolu_2", toolName: "clock", content: "noon" })
      ]
    }, { model: "kimi-k2.6", provider: "kimi", dialect: KimiRequest.dialect({}) })
    const calls = (body.messages as Array<any>).filter((m) => m.role === "assistant")
    expect(calls.map((m) => [m.tool_calls.length, m.reasoning_content])).toEqual([[1, "Use the clock."], [1, ""]])
  })

  it("turns thinking off and leaves the switch out when unset", () => {
    const off = ChatRequest.body(request, { model: "m", provider: "kimi", dialect: KimiRequest.dialect({ thinking: "disabled" }) })
    expect(off.thinking).toEqual({ type: "disabled" })
    const unset = ChatRequest.body(request, { model: "m", provider: "kimi", dialect: KimiRequest.dialect({}) })
    expect(unset.thinking).toBeUndefined()
  })
})
