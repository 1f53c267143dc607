import { describe, expect, it } from "@effect/vitest"
import { Accumulator } from "../src/Accumulator.js"
import type * as StreamPart from "../src/StreamPart.js"

const model = { provider: "test", model: "m1" }

const fold = (parts: ReadonlyArray<StreamPart.StreamPart>) => {
  const acc = new Accumulator(model)
  acc.addAll(parts)
  return acc
}

describe("Accumulator", () => {
  it("folds parts by id into ordered parts and keeps the finish reason", () => {
    const message = fold([
      { _tag: "Start", responseId: "r1", model: "m2" },
      { _tag: "ReasoningStart", id: "r" },
      { _tag: "ReasoningDelta", id: "r", text: "Think" },
      { _tag: "ReasoningDelta", id: "r", text: "ing" },
      { _tag: "ReasoningEnd", id: "r", signature: "sig1" },
      { _tag: "TextStart", id: "t" },
      { _tag: "TextDelta", id: "t", text: "Hel" },
      { _tag: "TextDelta", id: "t", text: "lo" },
      { _tag: "TextEnd", id: "t" },
      { _tag: "ToolCallStart", id: "c1", name: "clock" },
      { _tag: "ToolCallStart", id: "c2", name: "echo" },
      { _tag: "ToolCallDelta", id: "c2", delta: "{\"x\":" },
      { _tag: "ToolCallDelta", id: "c1", delta: "{}" },
      { _tag: "ToolCallDelta", id: "c2", delta: "1}" },
      { _tag: "ToolCallEnd", id: "c1" },
      { _tag: "ToolCallEnd", id: "c2" },
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

  it("folds interleaved text and reasoning parts by id, in the order they started", () => {
    const message = fold([
      { _tag: "TextStart", id: "a", metadata: { phase: "commentary" } },
      { _tag: "ReasoningStart", id: "a" },
      { _tag: "TextStart", id: "b" },
      { _tag: "TextDelta", id: "b", text: "B1 " },
      { _tag: "TextDelta", id: "a", text: "A1 " },
      { _tag: "ReasoningDelta", id: "a", text: "R1 " },
      { _tag: "TextDelta", id: "b", text: "B2" },
      { _tag: "TextEnd", id: "b", metadata: { thoughtSignature: "sig_b" } },
      { _tag: "TextDelta", id: "a", text: "A2" },
      { _tag: "ReasoningDelta", id: "a", text: "R2" },
      { _tag: "ReasoningEnd", id: "a", signature: "sig_r" },
      { _tag: "TextEnd", id: "a" },
      { _tag: "Finish", reason: "stop" }
    ]).message()
    // A text part and a reasoning part may share an id: they are apart.
    expect(message.content).toEqual([
      { _tag: "Text", text: "A1 A2", metadata: { phase: "commentary" } },
      { _tag: "Reasoning", text: "R1 R2", signature: "sig_r" },
      { _tag: "Text", text: "B1 B2", metadata: { thoughtSignature: "sig_b" } }
    ])
  })

  it("opens a part on a delta or an end for an id it never saw, as a hand-written stream may send", () => {
    const message = fold([
      { _tag: "TextDelta", id: "t", text: "no start" },
      { _tag: "ReasoningEnd", id: "x", signature: "opaque", redacted: true },
      { _tag: "ToolCallDelta", id: "c", delta: "{}" },
      { _tag: "ToolCallEnd", id: "c" },
      { _tag: "Finish", reason: "tool-calls" }
    ]).message()
    expect(message.content).toEqual([
      { _tag: "Text", text: "no start" },
      { _tag: "Reasoning", text: "", signature: "opaque", redacted: true },
      { _tag: "ToolCall", id: "c", name: "", arguments: "{}" }
    ])
  })

  it("hands out an interrupted message: parts cut mid-way kept, unfinished tool calls dropped, output estimated", () => {
    const acc = fold([
      { _tag: "Usage", usage: { inputTokens: 100 } },
      { _tag: "ReasoningStart", id: "r" },
      { _tag: "ReasoningDelta", id: "r", text: "x".repeat(40) },
      { _tag: "TextStart", id: "t" },
      { _tag: "TextDelta", id: "t", text: "partial" },
      { _tag: "ToolCallStart", id: "done", name: "a" },
      { _tag: "ToolCallDelta", id: "done", delta: "{}" },
      { _tag: "ToolCallEnd", id: "done" },
      { _tag: "ToolCallStart", id: "cut", name: "b" },
      { _tag: "ToolCallDelta", id: "cut", delta: "{\"pa" }
    ])
    const message = acc.interrupted()
    expect(message.stopReason).toBe("interrupted")
    expect(message.content).toEqual([
      { _tag: "Reasoning", text: "x".repeat(40) },
      { _tag: "Text", text: "partial" },
      { _tag: "ToolCall", id: "done", name: "a", arguments: "{}" }
    ])
    expect(message.usage.inputTokens).toBe(100)
    expect(message.usage.estimated).toBe(true)
    // 40 + 7 + 2 + 4 characters of Latin text: about 14 tokens
    expect(message.usage.outputTokens).toBe(14)
    // the accumulator keeps going after a snapshot
    acc.add({ _tag: "TextDelta", id: "t", text: "!" })
    expect(acc.message().content[1]).toEqual({ _tag: "Text", text: "partial!" })
  })

  it("fixes a tool call's arguments at its end, and hands out a call by id", () => {
    const acc = fold([
      { _tag: "ToolCallStart", id: "c", name: "f", metadata: { itemId: "fc" } },
      { _tag: "ToolCallDelta", id: "c", delta: "{\"a\":1}" },
      { _tag: "ToolCallEnd", id: "c", metadata: { thoughtSignature: "s" } },
      { _tag: "ToolCallDelta", id: "c", delta: "junk" }
    ])
    expect(acc.toolCall("c")).toEqual({ _tag: "ToolCall", id: "c", name: "f", arguments: "{\"a\":1}", metadata: { itemId: "fc", thoughtSignature: "s" } })
    expect(acc.toolCall("other")).toBeUndefined()
  })

  it("keeps reported output tokens over an estimate", () => {
    const message = fold([
      { _tag: "TextDelta", id: "t", text: "some text here" },
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

  it("keeps two parts under two ids apart, whatever their metadata", () => {
    const message = fold([
      { _tag: "TextStart", id: "1", metadata: { phase: "commentary" } },
      { _tag: "TextDelta", id: "1", text: "Let me check." },
      { _tag: "TextEnd", id: "1" },
      { _tag: "TextStart", id: "2", metadata: { phase: "commentary" } },
      { _tag: "TextDelta", id: "2", text: "More." },
      { _tag: "TextEnd", id: "2" }
    ]).message()
    expect(message.content).toEqual([
      { _tag: "Text", text: "Let me check.", metadata: { phase: "commentary" } },
      { _tag: "Text", text: "More.", metadata: { phase: "commentary" } }
    ])
  })
})
