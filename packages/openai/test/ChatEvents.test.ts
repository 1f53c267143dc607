import { describe, expect, it } from "@effect/vitest"
import { Accumulator, Message, type StreamPart } from "@reins/core"
import { expectWellFormed } from "../../../test/streamParts.js"
import { ChatEventDecoder } from "../src/chat/Events.js"
import { dialects, type ExpectedCall } from "./dialects.js"

const info = { status: 200, headers: {} as any, requestId: "req_1" }
const message = (data: unknown) => ({ event: "message", data: typeof data === "string" ? data : JSON.stringify(data), id: undefined, retry: undefined })
const chunk = (delta: unknown, finish: string | null = null) => ({ id: "c1", model: "m", choices: [{ index: 0, delta, finish_reason: finish }] })

const GENERATED = /^call_[0-9A-Za-z]{24}$/

/** The calls of a decoded message against a row's calls; a row's call without id must have a generated one. */
const expectCalls = (message: Message.Assistant, expected: ReadonlyArray<ExpectedCall>) => {
  const calls = Message.toolCalls(message)
  expect(calls.map(({ arguments: args, name }) => ({ name, arguments: args })))
    .toEqual(expected.map(({ arguments: args, name }) => ({ name, arguments: args })))
  calls.forEach((call, i) => {
    if (expected[i].id === undefined) expect(call.id).toMatch(GENERATED)
    else expect(call.id).toBe(expected[i].id)
  })
  expect(new Set(calls.map((call) => call.id)).size).toBe(calls.length)
}

const assemble = (out: ReadonlyArray<StreamPart.StreamPart>) => {
  const acc = new Accumulator({ provider: "openai", model: "m" })
  acc.addAll(out)
  return acc.message()
}

const decode = (events: ReadonlyArray<unknown>, end = true) => {
  const decoder = new ChatEventDecoder("openai", info)
  const out: Array<StreamPart.StreamPart> = []
  for (const event of events) decoder.event(message(event), out)
  if (end) decoder.end(out)
  return out
}

describe("ChatEventDecoder", () => {
  it("routes interleaved parallel tool calls by index, skipping empty argument deltas", () => {
    const out = decode([
      chunk({ role: "assistant", content: null }),
      chunk({ tool_calls: [{ index: 0, id: "a", type: "function", function: { name: "f", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 1, id: "b", type: "function", function: { name: "g", arguments: "{\"y\"" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"x\":1}" } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: ":2}" } }] }),
      chunk({}, "tool_calls"),
      { id: "c1", choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 2 }, completion_tokens_details: { reasoning_tokens: 1 } } },
      "[DONE]"
    ])
    const acc = new Accumulator({ provider: "openai", model: "m" })
    acc.addAll(out)
    const result = acc.message()
    expect(result.content).toEqual([
      { _tag: "ToolCall", id: "a", name: "f", arguments: "{\"x\":1}" },
      { _tag: "ToolCall", id: "b", name: "g", arguments: "{\"y\":2}" }
    ])
    expect(result.stopReason).toBe("tool-calls")
    expect(result.rawStopReason).toBe("tool_calls")
    expect(result.usage).toEqual({ inputTokens: 9, outputTokens: 4, cacheReadTokens: 2, cacheWriteTokens: 0, reasoningTokens: 1 })
    expect(out[0]).toEqual({ _tag: "Start", responseId: "c1", model: "m", requestId: "req_1" })
    expect(out.at(-1)).toEqual({ _tag: "Finish", reason: "tool-calls", raw: "tool_calls" })
  })

  it("reads reasoning from reasoning_content and from reasoning, and usage from choices[0].usage", () => {
    const out = decode([
      chunk({ reasoning_content: "a" }),
      chunk({ reasoning: "b" }),
      chunk({ content: "c" }),
      { id: "c1", choices: [{ index: 0, delta: {}, finish_reason: "stop", usage: { prompt_tokens: 3, completion_tokens: 5, cached_tokens: 1 } }] },
      "[DONE]"
    ])
    expect(out.filter((c) => c._tag !== "Usage")).toEqual([
      { _tag: "Start", responseId: "c1", model: "m", requestId: "req_1" },
      { _tag: "ReasoningStart", id: "reasoning_0" },
      { _tag: "ReasoningDelta", id: "reasoning_0", text: "a" },
      { _tag: "ReasoningDelta", id: "reasoning_0", text: "b" },
      { _tag: "ReasoningEnd", id: "reasoning_0" },
      { _tag: "TextStart", id: "text_1" },
      { _tag: "TextDelta", id: "text_1", text: "c" },
      { _tag: "TextEnd", id: "text_1" },
      { _tag: "Finish", reason: "stop", raw: "stop" }
    ])
    expect(out).toContainEqual({ _tag: "Usage", usage: { inputTokens: 3, outputTokens: 5, cacheReadTokens: 1 } })
  })

  it.each([
    ["length", "length"],
    ["content_filter", "content-filter"],
    ["function_call", "tool-calls"],
    ["insufficient_system_resource", "other"]
  ])("maps finish_reason %s to %s and keeps the raw value", (raw, reason) => {
    expect(decode([chunk({ content: "x" }, raw), "[DONE]"]).at(-1)).toEqual({ _tag: "Finish", reason, raw })
  })

  it("turns an error object inside the stream into a ProviderStreamError", () => {
    expect(() => decode([chunk({ content: "x" }), { error: { message: "The server had an error", type: "server_error" } }]))
      .toThrow(expect.objectContaining({ _tag: "ProviderStreamError", code: "server_error", retryable: true }))
  })

  it("fails a stream cut off before its finish, and accepts a finish without [DONE]", () => {
    expect(() => decode([chunk({ content: "x" })])).toThrow(expect.objectContaining({ _tag: "ConnectionError" }))
    expect(() => decode([])).toThrow(expect.objectContaining({ _tag: "EmptyResponse" }))
    expect(decode([chunk({ content: "x" }, "stop")]).at(-1)).toEqual({ _tag: "Finish", reason: "stop", raw: "stop" })
  })

  describe("OpenAI-compatible tool-call dialects: every call kept, none merged, none lost", () => {
    it.each(dialects.map((row) => [row.name, row] as const))("%s", (_name, row) => {
      const out = decode(row.events)
      expectWellFormed(out)
      const message = assemble(out)
      expectCalls(message, row.calls)
      expect(message.stopReason).toBe("tool-calls")
      expect(message.rawStopReason).toBe(row.raw)
    })
  })

  it("generates a different id for a call without one in every response, not call_0 again", () => {
    const row = dialects.find((row) => row.name === "no id at all")!
    const first = Message.toolCalls(assemble(decode(row.events)))
    const second = Message.toolCalls(assemble(decode(row.events)))
    const ids = [...first, ...second].map((call) => call.id)
    for (const id of ids) expect(id).toMatch(GENERATED)
    expect(new Set(ids).size).toBe(4)
  })

  it("takes an object that starts like the arguments so far as a nested value where a value may start", () => {
    const head = { index: 0, id: "n", type: "function", function: { name: "f", arguments: "{\"a\":" } }
    const out = decode([
      chunk({ tool_calls: [head] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"a\":1}" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "}" } }] }),
      chunk({}, "tool_calls"),
      "[DONE]"
    ])
    expect(Message.toolCalls(assemble(out))).toEqual([{ _tag: "ToolCall", id: "n", name: "f", arguments: "{\"a\":{\"a\":1}}" }])
  })

  it("keeps arguments that are not a JSON object as they streamed", () => {
    const out = decode([
      chunk({ tool_calls: [{ index: 0, id: "s", type: "function", function: { name: "f", arguments: "\"{}" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "\"" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: "\"{}\"" } }] }),
      chunk({}, "tool_calls"),
      "[DONE]"
    ])
    expect(Message.toolCalls(assemble(out))[0].arguments).toBe("\"{}\"\"{}\"")
  })

  it("keeps length as the stop reason of tool calls cut off by the token limit", () => {
    const out = decode([
      chunk({ tool_calls: [{ index: 0, id: "c", type: "function", function: { name: "f", arguments: "{\"a\":" } }] }),
      chunk({}, "length"),
      "[DONE]"
    ])
    expect(out.at(-1)).toEqual({ _tag: "Finish", reason: "length", raw: "length" })
  })

  it("fails malformed JSON with an excerpt, and ignores unknown fields", () => {
    expect(() => decode(["{\"choices\": [oops"], false)).toThrow(expect.objectContaining({ _tag: "ProtocolError", excerpt: "{\"choices\": [oops" }))
    const out = decode([{ ...chunk({ content: "x", audio: { id: "z" } }, "stop"), system_fingerprint: "fp", obfuscation: "abc" }, "[DONE]"])
    expect(out.filter((c) => c._tag === "TextDelta")).toEqual([{ _tag: "TextDelta", id: "text_0", text: "x" }])
  })

  describe("part boundaries", () => {
    it("ends text and reasoning where the other kind or a tool call begins, each under its own id", () => {
      const out = decode([
        chunk({ reasoning_content: "think" }),
        chunk({ content: "Checking." }),
        chunk({ reasoning_content: "more" }),
        chunk({ tool_calls: [{ index: 0, id: "a", type: "function", function: { name: "f", arguments: "{}" } }] }),
        chunk({ content: "after" }),
        chunk({}, "tool_calls"),
        "[DONE]"
      ])
      const ids = expectWellFormed(out)
      expect(ids).toEqual({ Text: ["text_1", "text_3"], Reasoning: ["reasoning_0", "reasoning_2"], ToolCall: ["a"] })
      expect(assemble(out).content.map((part) => part._tag)).toEqual(["Reasoning", "Text", "Reasoning", "ToolCall", "Text"])
    })

    it("ends a call once the next call begins after its arguments closed, before the finish", () => {
      const out = decode([
        chunk({ tool_calls: [{ index: 0, id: "a", type: "function", function: { name: "f", arguments: "{\"x\":" } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] }),
        chunk({ tool_calls: [{ index: 1, id: "b", type: "function", function: { name: "g", arguments: "{}" } }] })
      ], false)
      const tags = out.map((part) => `${part._tag}${"id" in part ? ` ${part.id}` : ""}`)
      expect(tags).toEqual(["Start", "ToolCallStart a", "ToolCallDelta a", "ToolCallDelta a", "ToolCallEnd a", "ToolCallStart b", "ToolCallDelta b"])
    })

    it("keeps an interleaved call open until its arguments close, so that no piece of it is lost", () => {
      const out = decode([
        chunk({ tool_calls: [{ index: 0, id: "a", type: "function", function: { name: "f", arguments: "{\"x\":" } }] }),
        chunk({ tool_calls: [{ index: 1, id: "b", type: "function", function: { name: "g", arguments: "{\"y\":" } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: "1}" } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: "2}" } }] })
      ], false)
      const ends = out.flatMap((part, i) => part._tag === "ToolCallEnd" ? [[part.id, i]] : [])
      // `a` ends with its closing piece, `b` waits for the finish.
      expect(ends).toEqual([["a", out.findIndex((part) => part._tag === "ToolCallDelta" && part.delta === "1}") + 1]])
      expectWellFormed(out, { finished: false })
    })
  })
})
