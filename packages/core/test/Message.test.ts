import { describe, expect, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as Message from "../src/Message.js"
import * as Part from "../src/Part.js"
import * as Usage from "../src/Usage.js"

const conversation: Message.Conversation = [
  Message.system("Be brief."),
  Message.user([Part.text("What is this?"), Part.imageData("aGVsbG8=", "image/png"), Part.imageUrl("https://example.com/a.png")]),
  {
    _tag: "Assistant",
    content: [
      { _tag: "Reasoning", text: "Look at it", signature: "sig", metadata: { itemId: "rs_1" } },
      { _tag: "Reasoning", text: "", signature: "enc", redacted: true },
      { _tag: "Text", text: "A picture." },
      Part.toolCall("call_1", "zoom", "{\"level\":2}")
    ],
    stopReason: "tool-calls",
    rawStopReason: "tool_calls",
    usage: Usage.make({ inputTokens: 12, outputTokens: 30, reasoningTokens: 10 }),
    provider: "openai",
    model: "gpt-5",
    responseId: "resp_1"
  },
  Message.toolResult({ toolCallId: "call_1", toolName: "zoom", content: "zoomed", isError: false }),
  {
    _tag: "Assistant",
    content: [{ _tag: "Text", text: "A c" }],
    stopReason: "interrupted",
    usage: { ...Usage.make({ inputTokens: 50, outputTokens: 1 }), estimated: true },
    provider: "kimi",
    model: "kimi-k2.6"
  }
]

describe("Message", () => {
  it("round-trips a conversation through JSON text", () => {
    const json = Schema.encodeSync(Message.ConversationJson)(conversation)
    expect(typeof json).toBe("string")
    expect(Schema.decodeUnknownSync(Message.ConversationJson)(json)).toEqual(conversation)
  })

  it("rejects a stored conversation with an unknown stop reason", () => {
    const bad = JSON.stringify([{ ...conversation[4], stopReason: "bored" }])
    expect(() => Schema.decodeUnknownSync(Message.ConversationJson)(bad)).toThrow(/stopReason/)
  })

  it("reads text, reasoning and tool calls off an assistant message", () => {
    const assistant = conversation[2] as Message.Assistant
    expect(Message.text(assistant)).toBe("A picture.")
    expect(Message.reasoning(assistant)).toBe("Look at it")
    expect(Message.toolCalls(assistant).map((call) => call.name)).toEqual(["zoom"])
  })

  it("builds user messages from text", () => {
    expect(Message.user("hi")).toEqual({ _tag: "User", content: [{ _tag: "Text", text: "hi" }] })
  })
})

describe("Usage", () => {
  it("adds usages and keeps the estimate mark", () => {
    const sum = Usage.add(Usage.make({ inputTokens: 1, outputTokens: 2 }), { ...Usage.make({ outputTokens: 3 }), estimated: true })
    expect(sum).toEqual({ ...Usage.make({ inputTokens: 1, outputTokens: 5 }), estimated: true })
  })

  it("estimates about four Latin characters or one CJK character a token", () => {
    expect(Usage.estimateTokens("abcdefgh")).toBe(2)
    expect(Usage.estimateTokens("你好")).toBe(2)
  })
})
