import { describe, expect, it } from "@effect/vitest"
import { Accumulator, type StreamPart } from "@reins/core"
import { expectWellFormed } from "../../../test/streamParts.js"
import { MessagesEventDecoder, stopReason } from "../src/Events.js"

const info = { status: 200, headers: {} as any, requestId: "req_1" }
const sse = (data: any) => ({
  event: typeof data === "object" && typeof data.type === "string" ? data.type : "message",
  data: typeof data === "string" ? data : JSON.stringify(data),
  id: undefined,
  retry: undefined
})

const decode = (events: ReadonlyArray<unknown>, end = true) => {
  const decoder = new MessagesEventDecoder("anthropic", info)
  const out: Array<StreamPart.StreamPart> = []
  for (const event of events) decoder.event(sse(event), out)
  if (end) decoder.end(out)
  return out
}

const fold = (out: ReadonlyArray<StreamPart.StreamPart>) => {
  const acc = new Accumulator({ provider: "anthropic", model: "m" })
  acc.addAll(out)
  return acc
}

const start = (usage: Record<string, number> = { input_tokens: 10, output_tokens: 1 }, id = "msg_1") => ({
  type: "message_start",
  message: { id, type: "message", role: "assistant", model: "claude-x", content: [], stop_reason: null, usage }
})
const blockStart = (index: number, content_block: unknown) => ({ type: "content_block_start", index, content_block })
const delta = (index: number, d: unknown) => ({ type: "content_block_delta", index, delta: d })
const stop = (index: number) => ({ type: "content_block_stop", index })
const messageDelta = (stop_reason: string | null, usage: Record<string, unknown> = { output_tokens: 5 }) => ({
  type: "message_delta",
  delta: { stop_reason, stop_sequence: null },
  usage
})
const messageStop = { type: "message_stop" }
const ping = { type: "ping" }

describe("MessagesEventDecoder", () => {
  it("decodes thinking with its signature, text and two tool calls, with usage", () => {
    const out = decode([
      start({ input_tokens: 100, cache_read_input_tokens: 40, cache_creation_input_tokens: 7, output_tokens: 1 }),
      blockStart(0, { type: "thinking", thinking: "", signature: "" }),
      ping,
      delta(0, { type: "thinking_delta", thinking: "Two " }),
      delta(0, { type: "thinking_delta", thinking: "cities." }),
      delta(0, { type: "thinking_delta", thinking: "" }),
      delta(0, { type: "signature_delta", signature: "sig==" }),
      stop(0),
      blockStart(1, { type: "text", text: "" }),
      delta(1, { type: "text_delta", text: "Checking" }),
      stop(1),
      blockStart(2, { type: "tool_use", id: "toolu_a", name: "weather", input: {} }),
      delta(2, { type: "input_json_delta", partial_json: "" }),
      delta(2, { type: "input_json_delta", partial_json: "{\"city\":" }),
      delta(2, { type: "input_json_delta", partial_json: "\"Paris\"}" }),
      stop(2),
      blockStart(3, { type: "tool_use", id: "toolu_b", name: "weather", input: {} }),
      delta(3, { type: "input_json_delta", partial_json: "{\"city\":\"Oslo\"}" }),
      stop(3),
      messageDelta("tool_use", { output_tokens: 80, output_tokens_details: { thinking_tokens: 30 } }),
      messageStop
    ])
    expect(out.slice(0, 2)).toEqual([
      { _tag: "Start", responseId: "msg_1", model: "claude-x", requestId: "req_1" },
      // input usage at once: the uncached input plus both cached parts
      { _tag: "Usage", usage: { inputTokens: 147, cacheReadTokens: 40, cacheWriteTokens: 7 } }
    ])
    expect(out).toContainEqual({ _tag: "ReasoningEnd", id: "0", signature: "sig==" })
    expect(out).toContainEqual({ _tag: "ToolCallEnd", id: "toolu_a" })
    // a part per block, under the block's index (a call under its id), each ended at its block's stop
    expect(expectWellFormed(out)).toEqual({ Text: ["1"], Reasoning: ["0"], ToolCall: ["toolu_a", "toolu_b"] })
    expect(out.findIndex((c) => c._tag === "ToolCallEnd" && c.id === "toolu_a"))
      .toBeLessThan(out.findIndex((c) => c._tag === "ToolCallStart" && c.id === "toolu_b"))
    expect(out.at(-1)).toEqual({ _tag: "Finish", reason: "tool-calls", raw: "tool_use" })
    const message = fold(out).message()
    expect(message.content).toEqual([
      { _tag: "Reasoning", text: "Two cities.", signature: "sig==" },
      { _tag: "Text", text: "Checking" },
      { _tag: "ToolCall", id: "toolu_a", name: "weather", arguments: "{\"city\":\"Paris\"}" },
      { _tag: "ToolCall", id: "toolu_b", name: "weather", arguments: "{\"city\":\"Oslo\"}" }
    ])
    expect(message.usage).toEqual({ inputTokens: 147, outputTokens: 80, cacheReadTokens: 40, cacheWriteTokens: 7, reasoningTokens: 30 })
    expect(message.responseId).toBe("msg_1")
    expect(message.model).toBe("claude-x")
  })

  it("ends a thinking part at its signature, so a stream stopped before content_block_stop keeps it", () => {
    const out = decode([
      start(),
      blockStart(0, { type: "thinking", thinking: "", signature: "" }),
      delta(0, { type: "thinking_delta", thinking: "hmm" }),
      delta(0, { type: "signature_delta", signature: "sig" })
    ], false)
    expect(out.at(-1)).toEqual({ _tag: "ReasoningEnd", id: "0", signature: "sig" })
    const message = fold(out).interrupted()
    expect(message.content).toEqual([{ _tag: "Reasoning", text: "hmm", signature: "sig" }])
    // only input usage was reported: output is estimated locally
    expect(message.usage.inputTokens).toBe(10)
    expect(message.usage.estimated).toBe(true)
  })

  it("decodes redacted thinking as a redacted reasoning part holding its data", () => {
    const out = decode([
      start(),
      blockStart(0, { type: "redacted_thinking", data: "EncryptedBlob" }),
      stop(0),
      blockStart(1, { type: "text", text: "" }),
      delta(1, { type: "text_delta", text: "Hi" }),
      stop(1),
      messageDelta("end_turn"),
      messageStop
    ])
    expect(fold(out).message().content).toEqual([
      { _tag: "Reasoning", text: "", signature: "EncryptedBlob", redacted: true },
      { _tag: "Text", text: "Hi" }
    ])
  })

  it("gives a tool with no arguments the arguments {}", () => {
    const out = decode([
      start(),
      blockStart(0, { type: "tool_use", id: "toolu_1", name: "now", input: {} }),
      delta(0, { type: "input_json_delta", partial_json: "" }),
      stop(0),
      messageDelta("tool_use"),
      messageStop
    ])
    expect(out.filter((c) => c._tag === "ToolCallDelta")).toEqual([{ _tag: "ToolCallDelta", id: "toolu_1", delta: "{}" }])
    expect(fold(out).message().content).toEqual([{ _tag: "ToolCall", id: "toolu_1", name: "now", arguments: "{}" }])
  })

  it("takes a tool input sent whole in content_block_start when no JSON is streamed", () => {
    const out = decode([
      start(),
      blockStart(0, { type: "tool_use", id: "toolu_1", name: "f", input: { x: 1 } }),
      stop(0),
      messageDelta("tool_use"),
      messageStop
    ])
    expect(fold(out).message().content).toEqual([{ _tag: "ToolCall", id: "toolu_1", name: "f", arguments: "{\"x\":1}" }])
  })

  it("skips server tool blocks, their results and citations, keeping the text around them", () => {
    const out = decode([
      start(),
      blockStart(0, { type: "text", text: "" }),
      delta(0, { type: "text_delta", text: "Let me search. " }),
      stop(0),
      blockStart(1, { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: {} }),
      delta(1, { type: "input_json_delta", partial_json: "{\"query\":\"x\"}" }),
      stop(1),
      blockStart(2, { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [{ type: "web_search_result", url: "u" }] }),
      stop(2),
      blockStart(3, { type: "text", text: "", citations: [] }),
      delta(3, { type: "citations_delta", citation: { type: "web_search_result_location", cited_text: "c" } }),
      delta(3, { type: "text_delta", text: "Found it." }),
      stop(3),
      { type: "some_future_event", payload: 1 },
      delta(3, { type: "some_future_delta" }),
      messageDelta("end_turn", { input_tokens: 500, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens: 9 }),
      messageStop
    ])
    expect(out.some((c) => c._tag === "ToolCallStart" || c._tag === "ToolCallDelta")).toBe(false)
    const message = fold(out).message()
    expect(message.content).toEqual([{ _tag: "Text", text: "Let me search. " }, { _tag: "Text", text: "Found it." }])
    // message_delta's input count is cumulative (server tools add input): it replaces message_start's
    expect(message.usage).toEqual({ inputTokens: 500, outputTokens: 9, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })
  })

  it.each([
    ["end_turn", "stop"],
    ["stop_sequence", "stop"],
    ["max_tokens", "length"],
    ["tool_use", "tool-calls"],
    ["refusal", "refusal"],
    ["pause_turn", "other"],
    ["model_context_window_exceeded", "length"],
    ["something_new", "other"]
  ])("maps stop_reason %s to %s and keeps the raw value", (raw, reason) => {
    expect(stopReason(raw)).toBe(reason)
    expect(decode([start(), messageDelta(raw), messageStop]).at(-1)).toEqual({ _tag: "Finish", reason, raw })
  })

  it("turns an error event mid-stream into a retryable ProviderStreamError", () => {
    const events = [start(), blockStart(0, { type: "text", text: "" }), delta(0, { type: "text_delta", text: "Hel" })]
    expect(() => decode([...events, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }])).toThrow(
      expect.objectContaining({ _tag: "ProviderStreamError", code: "overloaded_error", message: "Overloaded", retryable: true })
    )
    expect(() => decode([...events, { type: "error", error: { type: "api_error", message: "Internal" } }])).toThrow(
      expect.objectContaining({ code: "api_error", retryable: true })
    )
    expect(() => decode([...events, { type: "error", error: { type: "invalid_request_error", message: "bad" } }])).toThrow(
      expect.objectContaining({ code: "invalid_request_error", retryable: false })
    )
  })

  it("fails a truncated stream, an empty one, and malformed JSON", () => {
    const partial = [start(), blockStart(0, { type: "text", text: "" }), delta(0, { type: "text_delta", text: "x" })]
    expect(() => decode(partial)).toThrow(expect.objectContaining({ _tag: "ConnectionError", message: "the stream ended before the response finished" }))
    expect(() => decode([])).toThrow(expect.objectContaining({ _tag: "EmptyResponse" }))
    expect(() => decode(["{\"type\":\"content_block_delta\",oops"], false)).toThrow(
      expect.objectContaining({ _tag: "ProtocolError", excerpt: "{\"type\":\"content_block_delta\",oops" })
    )
    // a stop reason without message_stop: everything was said
    expect(decode([...partial, stop(0), messageDelta("end_turn")]).at(-1)).toEqual({ _tag: "Finish", reason: "stop", raw: "end_turn" })
  })

  it("keeps a tool call cut off by max_tokens mid-JSON, ended at the finish, with stop reason length", () => {
    const out = decode([
      start(),
      blockStart(0, { type: "tool_use", id: "toolu_1", name: "write", input: {} }),
      delta(0, { type: "input_json_delta", partial_json: "{\"text\": \"abc" }),
      messageDelta("max_tokens"),
      messageStop
    ])
    expect(out.slice(-2)).toEqual([{ _tag: "ToolCallEnd", id: "toolu_1" }, { _tag: "Finish", reason: "length", raw: "max_tokens" }])
    expectWellFormed(out)
    const message = fold(out).message()
    expect(message.stopReason).toBe("length")
    expect(message.content).toEqual([{ _tag: "ToolCall", id: "toolu_1", name: "write", arguments: "{\"text\": \"abc" }])
  })

  it("ignores a repeated message_start for the same message, and fails on one for another message", () => {
    const again = decode([start(), start(), blockStart(0, { type: "text", text: "" }), delta(0, { type: "text_delta", text: "a" }), messageDelta("end_turn"), messageStop])
    expect(again.filter((c) => c._tag === "Start")).toHaveLength(1)
    expect(fold(again).message().content).toEqual([{ _tag: "Text", text: "a" }])
    expect(() => decode([start(), blockStart(0, { type: "text", text: "" }), start(undefined, "msg_2")])).toThrow(
      expect.objectContaining({ _tag: "ProtocolError", message: "a second message_start (msg_2) arrived while msg_1 was still open" })
    )
  })

  it("ignores anything after message_stop", () => {
    const out = decode([start(), messageDelta("end_turn"), messageStop, start(undefined, "msg_2"), { type: "error", error: { type: "api_error" } }])
    expect(out.at(-1)).toEqual({ _tag: "Finish", reason: "stop", raw: "end_turn" })
  })

  it("leaves a block open when the stream stops in the middle of it, and the partial text is kept", () => {
    const out = decode([
      start(),
      blockStart(0, { type: "thinking", thinking: "", signature: "" }),
      delta(0, { type: "thinking_delta", thinking: "Let me see" }),
      blockStart(1, { type: "text", text: "" }),
      delta(1, { type: "text_delta", text: "The ans" })
    ], false)
    expectWellFormed(out, { finished: false })
    expect(out.some((c) => c._tag === "TextEnd" || c._tag === "ReasoningEnd")).toBe(false)
    expect(fold(out).interrupted().content).toEqual([{ _tag: "Reasoning", text: "Let me see" }, { _tag: "Text", text: "The ans" }])
  })
})
