import { describe, expect, it } from "@effect/vitest"
import { Accumulator, type StreamPart } from "@reins/core"
import { expectWellFormed } from "../../../test/streamParts.js"
import { GoogleEventDecoder, parseJsonPath, PartialArguments, stopReason } from "../src/Events.js"

const info = { status: 200, headers: {} as any, requestId: "req_1" }
const message = (data: unknown) => ({ event: "message", data: typeof data === "string" ? data : JSON.stringify(data), id: undefined, retry: undefined })

/** A `GenerateContentResponse` with `parts` in candidate 0. */
const response = (parts: ReadonlyArray<unknown>, extra: { finishReason?: string; usageMetadata?: unknown } = {}) => ({
  candidates: [{ content: { role: "model", parts }, ...(extra.finishReason !== undefined ? { finishReason: extra.finishReason } : {}), index: 0 }],
  ...(extra.usageMetadata !== undefined ? { usageMetadata: extra.usageMetadata } : {}),
  modelVersion: "gemini-3-pro-preview",
  responseId: "resp_1"
})

const decode = (events: ReadonlyArray<unknown>, end = true) => {
  const decoder = new GoogleEventDecoder("google", info)
  const out: Array<StreamPart.StreamPart> = []
  for (const event of events) decoder.event(message(event), out)
  if (end) decoder.end(out)
  return out
}

/** An id made for a call Gemini sent without one. */
const ourId = expect.stringMatching(/^call_[0-9A-Za-z]{24}$/)

const fold = (chunks: ReadonlyArray<StreamPart.StreamPart>) => {
  const acc = new Accumulator({ provider: "google", model: "m" })
  acc.addAll(chunks)
  return acc
}

describe("GoogleEventDecoder", () => {
  it("streams text pieces as one part, and ends it with a signature sent on a last empty text part", () => {
    const out = decode([
      response([{ text: "There are " }]),
      response([{ text: "3." }]),
      response([{ text: "", thoughtSignature: "sig_text" }], { finishReason: "STOP" })
    ])
    expect(out).toEqual([
      { _tag: "Start", responseId: "resp_1", model: "gemini-3-pro-preview", requestId: "req_1" },
      { _tag: "TextStart", id: "text_0" },
      { _tag: "TextDelta", id: "text_0", text: "There are " },
      { _tag: "TextDelta", id: "text_0", text: "3." },
      { _tag: "TextEnd", id: "text_0", metadata: { thoughtSignature: "sig_text" } },
      { _tag: "Finish", reason: "stop", raw: "STOP" }
    ])
    expect(fold(out).message().content).toEqual([{ _tag: "Text", text: "There are 3.", metadata: { thoughtSignature: "sig_text" } }])
  })

  it("reads thought parts as reasoning, a signed thought part closing its reasoning, and a bare signature part", () => {
    const out = decode([
      response([{ text: "Plan A. ", thought: true }]),
      response([{ text: "Plan B.", thought: true, thoughtSignature: "sig_1" }]),
      response([{ text: "Then more.", thought: true }]),
      response([{ thoughtSignature: "sig_2" }]),
      response([{ text: "Answer" }], { finishReason: "STOP" })
    ])
    expect(out.slice(1, 9)).toEqual([
      { _tag: "ReasoningStart", id: "reasoning_0" },
      { _tag: "ReasoningDelta", id: "reasoning_0", text: "Plan A. " },
      { _tag: "ReasoningDelta", id: "reasoning_0", text: "Plan B." },
      { _tag: "ReasoningEnd", id: "reasoning_0", signature: "sig_1" },
      { _tag: "ReasoningStart", id: "reasoning_1" },
      { _tag: "ReasoningDelta", id: "reasoning_1", text: "Then more." },
      { _tag: "ReasoningEnd", id: "reasoning_1", signature: "sig_2" },
      { _tag: "TextStart", id: "text_2" }
    ])
    expectWellFormed(out)
    expect(fold(out).message().content).toEqual([
      { _tag: "Reasoning", text: "Plan A. Plan B.", signature: "sig_1" },
      { _tag: "Reasoning", text: "Then more.", signature: "sig_2" },
      { _tag: "Text", text: "Answer" }
    ])
  })

  it("turns whole function calls into start, one delta and end; STOP after calls is tool-calls", () => {
    const out = decode([
      response([
        { functionCall: { name: "weather", args: { city: "Paris" } }, thoughtSignature: "sig_call" },
        { functionCall: { name: "weather", args: { city: "Oslo" } } }
      ]),
      response([{ functionCall: { name: "clock" } }]),
      response([{ functionCall: { id: "fc_9", name: "clock", args: {} } }]),
      response([{ text: "" }], { finishReason: "STOP" })
    ])
    expect(out.slice(1)).toEqual([
      { _tag: "ToolCallStart", id: ourId, name: "weather", metadata: { thoughtSignature: "sig_call" } },
      { _tag: "ToolCallDelta", id: ourId, delta: "{\"city\":\"Paris\"}" },
      { _tag: "ToolCallEnd", id: ourId },
      { _tag: "ToolCallStart", id: ourId, name: "weather" },
      { _tag: "ToolCallDelta", id: ourId, delta: "{\"city\":\"Oslo\"}" },
      { _tag: "ToolCallEnd", id: ourId },
      { _tag: "ToolCallStart", id: ourId, name: "clock" },
      { _tag: "ToolCallDelta", id: ourId, delta: "{}" },
      { _tag: "ToolCallEnd", id: ourId },
      { _tag: "ToolCallStart", id: "fc_9", name: "clock", metadata: { functionCallId: "fc_9" } },
      { _tag: "ToolCallDelta", id: "fc_9", delta: "{}" },
      { _tag: "ToolCallEnd", id: "fc_9" },
      { _tag: "Finish", reason: "tool-calls", raw: "STOP" }
    ])
    expect(new Set(expectWellFormed(out).ToolCall).size).toBe(4)
  })

  it("gives calls without an id of Gemini's an id of their own, never the same twice", () => {
    const step = () =>
      decode([
        response([{ functionCall: { name: "clock", args: {} } }, { functionCall: { name: "clock", args: {} } }]),
        response([{ text: "" }], { finishReason: "STOP" })
      ]).flatMap((chunk) => (chunk._tag === "ToolCallStart" ? [chunk] : []))
    // two steps of a conversation, each with two calls, from a fresh decoder each
    const starts = [...step(), ...step()]
    expect(starts.every((start) => start.metadata === undefined)).toBe(true)
    const ids = starts.map((start) => start.id)
    expect(ids).toEqual([ourId, ourId, ourId, ourId])
    expect(new Set(ids).size).toBe(4)
  })

  it("assembles streamed arguments (partialArgs, willContinue) into one valid JSON delta", () => {
    const fragment = (functionCall: unknown, thoughtSignature?: string) =>
      response([{ functionCall, ...(thoughtSignature !== undefined ? { thoughtSignature } : {}) }])
    const out = decode([
      fragment({ name: "book", willContinue: true }, "sig_first"),
      fragment({ partialArgs: [{ jsonPath: "$.city", stringValue: "San ", willContinue: true }], willContinue: true }),
      fragment({ partialArgs: [{ jsonPath: "$.city", stringValue: "Francisco", willContinue: true }], willContinue: true }),
      fragment({ partialArgs: [{ jsonPath: "$.city", stringValue: "" }], willContinue: true }),
      fragment({
        partialArgs: [
          { jsonPath: "$.guests", numberValue: 2 },
          { jsonPath: "$.options.late", boolValue: true },
          { jsonPath: "$.options.note", nullValue: "NULL_VALUE" },
          { jsonPath: "$.rooms[1].beds", numberValue: 2 },
          { jsonPath: "$['odd key']", stringValue: "x" }
        ],
        willContinue: true
      }),
      fragment({}),
      fragment({ name: "book", willContinue: true }),
      fragment({ partialArgs: [{ jsonPath: "$.city", stringValue: "Oslo" }], willContinue: true }, "sig_late"),
      fragment({}),
      response([{ text: "" }], { finishReason: "STOP" })
    ])
    const calls = out.filter((c) => c._tag.startsWith("ToolCall"))
    expect(calls).toEqual([
      { _tag: "ToolCallStart", id: ourId, name: "book", metadata: { thoughtSignature: "sig_first" } },
      { _tag: "ToolCallDelta", id: ourId, delta: expect.any(String) },
      { _tag: "ToolCallEnd", id: ourId },
      { _tag: "ToolCallStart", id: ourId, name: "book" },
      { _tag: "ToolCallDelta", id: ourId, delta: "{\"city\":\"Oslo\"}" },
      { _tag: "ToolCallEnd", id: ourId, metadata: { thoughtSignature: "sig_late" } }
    ])
    expect(JSON.parse((calls[1] as StreamPart.ToolCallDelta).delta)).toEqual({
      city: "San Francisco",
      guests: 2,
      options: { late: true, note: null },
      rooms: [null, { beds: 2 }],
      "odd key": "x"
    })
    expect(out.at(-1)).toEqual({ _tag: "Finish", reason: "tool-calls", raw: "STOP" })
  })

  it("ends a streamed call still open when the finish reason arrives", () => {
    const out = decode([
      response([{ functionCall: { name: "f", willContinue: true } }]),
      response([{ functionCall: { partialArgs: [{ jsonPath: "$.a", numberValue: 1 }], willContinue: true } }], { finishReason: "MAX_TOKENS" })
    ])
    expect(out.slice(2)).toEqual([
      { _tag: "ToolCallDelta", id: ourId, delta: "{\"a\":1}" },
      { _tag: "ToolCallEnd", id: ourId },
      { _tag: "Finish", reason: "length", raw: "MAX_TOKENS" }
    ])
  })

  it("reads cumulative usage, sending it only when it changed; output includes thoughts, input includes cache", () => {
    const usage = (candidates: number) => ({
      promptTokenCount: 100,
      cachedContentTokenCount: 60,
      candidatesTokenCount: candidates,
      thoughtsTokenCount: 40,
      totalTokenCount: 140 + candidates
    })
    const out = decode([
      response([{ text: "a" }], { usageMetadata: { trafficType: "ON_DEMAND" } }),
      response([{ text: "b" }], { usageMetadata: usage(1) }),
      response([{ text: "c" }], { usageMetadata: usage(1) }),
      response([{ text: "" }], { finishReason: "STOP", usageMetadata: usage(3) })
    ])
    expect(out.filter((c) => c._tag === "Usage")).toEqual([
      { _tag: "Usage", usage: { inputTokens: 100, outputTokens: 41, reasoningTokens: 40, cacheReadTokens: 60 } },
      { _tag: "Usage", usage: { inputTokens: 100, outputTokens: 43, reasoningTokens: 40, cacheReadTokens: 60 } }
    ])
    expect(fold(out).message().usage).toEqual({ inputTokens: 100, outputTokens: 43, cacheReadTokens: 60, cacheWriteTokens: 0, reasoningTokens: 40 })
  })

  it.each([
    ["STOP", "stop"],
    ["MAX_TOKENS", "length"],
    ["SAFETY", "content-filter"],
    ["RECITATION", "content-filter"],
    ["BLOCKLIST", "content-filter"],
    ["PROHIBITED_CONTENT", "content-filter"],
    ["SPII", "content-filter"],
    ["MALFORMED_FUNCTION_CALL", "other"],
    ["LANGUAGE", "other"],
    ["OTHER", "other"]
  ])("maps finishReason %s to %s and keeps the raw value", (raw, reason) => {
    expect(stopReason(raw)).toBe(reason)
    expect(decode([response([{ text: "x" }], { finishReason: raw })]).at(-1)).toEqual({ _tag: "Finish", reason, raw })
  })

  it("finishes a blocked prompt (promptFeedback.blockReason, no candidates) as content-filter", () => {
    const out = decode([
      { promptFeedback: { blockReason: "PROHIBITED_CONTENT" }, usageMetadata: { promptTokenCount: 7, totalTokenCount: 7 }, modelVersion: "m", responseId: "r" }
    ])
    expect(out).toEqual([
      { _tag: "Start", responseId: "r", model: "m", requestId: "req_1" },
      { _tag: "Usage", usage: { inputTokens: 7 } },
      { _tag: "Finish", reason: "content-filter", raw: "PROHIBITED_CONTENT" }
    ])
  })

  it("turns an error object inside the stream into a ProviderStreamError", () => {
    expect(() => decode([response([{ text: "x" }]), { error: { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" } }]))
      .toThrow(expect.objectContaining({ _tag: "ProviderStreamError", code: "UNAVAILABLE", retryable: true, message: "The model is overloaded." }))
    expect(() => decode([{ error: { code: 400, message: "Bad", status: "INVALID_ARGUMENT" } }]))
      .toThrow(expect.objectContaining({ _tag: "ProviderStreamError", code: "INVALID_ARGUMENT", retryable: false }))
    expect(() => decode([{ error: { code: 500, message: "Internal" } }]))
      .toThrow(expect.objectContaining({ _tag: "ProviderStreamError", code: "500", retryable: true }))
  })

  it("fails a stream cut off before a finish reason, and an empty one", () => {
    expect(() => decode([response([{ text: "x" }])])).toThrow(
      expect.objectContaining({ _tag: "ConnectionError", message: "the stream ended before the response finished" })
    )
    expect(() => decode([])).toThrow(expect.objectContaining({ _tag: "EmptyResponse" }))
  })

  it("leaves a streamed call cut off mid-arguments unended, so an interrupted message drops it", () => {
    const decoder = new GoogleEventDecoder("google", info)
    const out: Array<StreamPart.StreamPart> = []
    decoder.event(message(response([{ text: "Calling." }])), out)
    decoder.event(message(response([{ functionCall: { name: "f", willContinue: true } }])), out)
    decoder.event(message(response([{ functionCall: { partialArgs: [{ jsonPath: "$.a", stringValue: "x", willContinue: true }], willContinue: true } }])), out)
    expect(() => decoder.end(out)).toThrow(expect.objectContaining({ _tag: "ConnectionError" }))
    expect(fold(out).interrupted().content).toEqual([{ _tag: "Text", text: "Calling." }])
  })

  it("fails malformed JSON and unusable JSON paths with an excerpt; ignores unknown parts and fields", () => {
    expect(() => decode(["{\"candidates\": [oops"], false)).toThrow(expect.objectContaining({ _tag: "ProtocolError", excerpt: "{\"candidates\": [oops" }))
    expect(() =>
      decode([
        response([{ functionCall: { name: "f", willContinue: true } }]),
        response([{ functionCall: { partialArgs: [{ jsonPath: "city", stringValue: "x" }], willContinue: true } }])
      ], false)
    ).toThrow(expect.objectContaining({ _tag: "ProtocolError", excerpt: "{\"jsonPath\":\"city\",\"stringValue\":\"x\"}" }))
    const out = decode([
      { ...response([{ inlineData: { mimeType: "image/png", data: "AA==" } }, { executableCode: { code: "1" } }, { text: "ok" }]), createTime: "t", extra: 1 },
      "[]",
      response([{ text: "" }], { finishReason: "STOP" })
    ])
    expect(out.filter((c) => c._tag === "TextDelta")).toEqual([{ _tag: "TextDelta", id: "text_0", text: "ok" }])
  })

  describe("part boundaries", () => {
    it("puts a signature on a part's first piece on its start, and one on a later piece on its end", () => {
      const out = decode([
        response([{ text: "Signed ", thoughtSignature: "sig_a" }]),
        response([{ text: "first." }]),
        // another signature is another part
        response([{ text: "Then ", thoughtSignature: "sig_b" }]),
        response([{ thought: true, text: "aside" }]),
        response([{ text: "unsigned, " }]),
        response([{ text: "signed at its end.", thoughtSignature: "sig_c" }]),
        response([{ text: "After." }], { finishReason: "STOP" })
      ])
      expect(expectWellFormed(out).Text).toEqual(["text_0", "text_1", "text_3", "text_4"])
      expect(fold(out).message().content).toEqual([
        { _tag: "Text", text: "Signed first.", metadata: { thoughtSignature: "sig_a" } },
        { _tag: "Text", text: "Then ", metadata: { thoughtSignature: "sig_b" } },
        { _tag: "Reasoning", text: "aside" },
        { _tag: "Text", text: "unsigned, signed at its end.", metadata: { thoughtSignature: "sig_c" } },
        { _tag: "Text", text: "After." }
      ])
      expect(out.find((c) => c._tag === "TextEnd" && c.id === "text_3")).toEqual({ _tag: "TextEnd", id: "text_3", metadata: { thoughtSignature: "sig_c" } })
    })

    it("ends the text or thought before a call, and a call's signature stays on the call", () => {
      const out = decode([
        response([{ text: "Thinking", thought: true }]),
        response([{ text: "Let me check." }]),
        response([{ functionCall: { name: "clock", args: {} }, thoughtSignature: "sig_call" }]),
        response([{ text: "Done." }], { finishReason: "STOP" })
      ])
      const ids = expectWellFormed(out)
      expect(ids.Text).toEqual(["text_1", "text_2"])
      expect(out.map((c) => c._tag)).toEqual([
        "Start",
        "ReasoningStart", "ReasoningDelta", "ReasoningEnd",
        "TextStart", "TextDelta", "TextEnd",
        "ToolCallStart", "ToolCallDelta", "ToolCallEnd",
        "TextStart", "TextDelta", "TextEnd",
        "Finish"
      ])
      expect(fold(out).message().content.map((part) => part._tag)).toEqual(["Reasoning", "Text", "ToolCall", "Text"])
      expect(out.find((c) => c._tag === "ToolCallStart")).toMatchObject({ metadata: { thoughtSignature: "sig_call" } })
    })

    it("leaves a part open when the stream stops in the middle of it, and the partial text is kept", () => {
      const decoder = new GoogleEventDecoder("google", info)
      const out: Array<StreamPart.StreamPart> = []
      decoder.event(message(response([{ text: "Half" }])), out)
      expectWellFormed(out, { finished: false })
      expect(out.at(-1)).toEqual({ _tag: "TextDelta", id: "text_0", text: "Half" })
      expect(fold(out).interrupted().content).toEqual([{ _tag: "Text", text: "Half" }])
    })
  })
})

describe("parseJsonPath", () => {
  it.each([
    ["$", []],
    ["$.a", ["a"]],
    ["$.a.b", ["a", "b"]],
    ["$.a[0].b", ["a", 0, "b"]],
    ["$['a b']", ["a b"]],
    ["$[\"q\\\"x\"]", ["q\"x"]],
    ["$['\\u0041\\n']", ["A\n"]]
  ])("%s", (path, segments) => {
    expect(parseJsonPath(path)).toEqual(segments)
  })

  it.each(["a", "$.", "$[x]", "$['open", "$.a[", "$..a"])("rejects %s", (path) => {
    expect(parseJsonPath(path)).toBeUndefined()
  })

  it("never writes through __proto__", () => {
    const args = new PartialArguments()
    expect(args.add({ jsonPath: "$.__proto__.polluted", boolValue: true })).toBe(true)
    expect(({} as any).polluted).toBeUndefined()
    expect(JSON.parse(args.json())).toEqual(JSON.parse("{\"__proto__\":{\"polluted\":true}}"))
  })
})
