import { describe, expect, it } from "@effect/vitest"
import { Accumulator } from "../src/Accumulator.js"
import type * as Chunk from "../src/Chunk.js"

const model = { provider: "test", model: "m1" }

const fold = (chunks: ReadonlyArray<Chunk.Chunk>) => {
  const acc = new Accumulator(model)
  acc.addAll(chunks)
  return acc
}

describe("Accumulator", () => {
  it("joins deltas into ordered parts and keeps the finish reason", () => {
    const message = fold([
      { _tag: "Start", responseId: "r1", model: "m2" },
      { _tag: "ReasoningDelta", text: "Think" },
      { _tag: "ReasoningDelta", text: "ing" },
      { _tag: "ReasoningSignature", signature: "sig1" },
      { _tag: "TextDelta", text: "Hel" },
      { _tag: "TextDelta", text: "lo" },
      { _tag: "ToolCallStart", index: 0, id: "c1", name: "clock" },
      { _tag: "ToolCallStart", index: 1, id: "c2", name: "echo" },
      { _tag: "ToolCallDelta", index: 1, delta: "{\"x\":" },
      { _tag: "ToolCallDelta", index: 0, delta: "{}" },
      { _tag: "ToolCallDelta", index: 1, delta: "1}" },
      { _tag: "Usage", usage: { inputTokens: 10 } },
      { _tag: "Usage", usage: { outputTokens: 7, reasoningTokens: 3 } },
      { _tag: "Finish", reason: "tool-calls", raw: "tool_calls" }
    ]).message()
    expect(message).toEqual({
      _tag: "Assistant",
      content: [
        { _tag: "Reasoning", text: "Thinking", signature: "sig1" },
        { _tag: "Text", text: "Hello" },
        { _tag: "ToolCall", id: "c1", name: "clock", arguments: "{}" },
        { _tag: "ToolCall", id: "c2", name: "echo", arguments: "{\"x\":1}" }
      ],
      stopReason: "tool-calls",
      rawStopReason: "tool_calls",
      usage: { inputTokens: 10, outputTokens: 7, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 3 },
      provider: "test",
      model: "m2",
      responseId: "r1"
    })
  })

  it("starts a new reasoning part after a signature, and keeps redacted reasoning", () => {
    const message = fold([
      { _tag: "ReasoningDelta", text: "a" },
      { _tag: "ReasoningSignature", signature: "s1" },
      { _tag: "ReasoningDelta", text: "b" },
      { _tag: "ReasoningSignature", signature: "s2" },
      { _tag: "ReasoningSignature", signature: "opaque", redacted: true }
    ]).message()
    expect(message.content).toEqual([
      { _tag: "Reasoning", text: "a", signature: "s1" },
      { _tag: "Reasoning", text: "b", signature: "s2" },
      { _tag: "Reasoning", text: "", signature: "opaque", redacted: true }
    ])
  })

  it("hands out an interrupted message: unfinished tool calls dropped, output estimated", () => {
    const acc = fold([
      { _tag: "Usage", usage: { inputTokens: 100 } },
      { _tag: "ReasoningDelta", text: "x".repeat(40) },
      { _tag: "TextDelta", text: "partial" },
      { _tag: "ToolCallStart", index: 0, id: "done", name: "a" },
      { _tag: "ToolCallDelta", index: 0, delta: "{}" },
      { _tag: "ToolCallEnd", index: 0 },
      { _tag: "ToolCallStart", index: 1, id: "cut", name: "b" },
      { _tag: "ToolCallDelta", index: 1, delta: "{\"pa" }
    ])
    const message = acc.interrupted()
    expect(message.stopReason).toBe("interrupted")
    expect(message.content.map((part) => part._tag === "ToolCall" ? part.id : part._tag)).toEqual(["Reasoning", "Text", "done"])
    expect(message.usage.inputTokens).toBe(100)
    expect(message.usage.estimated).toBe(true)
    // 40 + 7 + 2 + 4 characters of Latin text: about 14 tokens
    expect(message.usage.outputTokens).toBe(14)
    // the accumulator keeps going after a snapshot
    acc.add({ _tag: "TextDelta", text: "!" })
    expect(acc.message().content.at(-1)).toEqual({ _tag: "Text", text: "!" })
  })

  it("keeps reported output tokens over an estimate", () => {
    const message = fold([
      { _tag: "TextDelta", text: "some text here" },
      { _tag: "Usage", usage: { inputTokens: 5, outputTokens: 2 } }
    ]).interrupted()
    expect(message.usage).toEqual({ inputTokens: 5, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })
  })

  it("reports whether anything arrived", () => {
    const acc = new Accumulator(model)
    expect(acc.hasContent).toBe(false)
    expect(acc.finished).toBe(false)
    acc.add({ _tag: "Finish", reason: "stop" })
    expect(acc.finished).toBe(true)
  })

  it("starts a new text part when its metadata says it is another item", () => {
    const message = fold([
      { _tag: "TextDelta", text: "Let me check.", metadata: { phase: "commentary" } },
      { _tag: "TextDelta", text: " More." },
      { _tag: "TextDelta", text: "The answer.", metadata: { phase: "final_answer" } },
      { _tag: "TextDelta", text: "", metadata: { thoughtSignature: "sig" } }
    ]).message()
    expect(message.content).toEqual([
      { _tag: "Text", text: "Let me check. More.", metadata: { phase: "commentary" } },
      { _tag: "Text", text: "The answer.", metadata: { phase: "final_answer", thoughtSignature: "sig" } }
    ])
  })
})
