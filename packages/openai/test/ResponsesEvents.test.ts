import { describe, expect, it } from "@effect/vitest"
import { Accumulator, type Message, type StreamPart } from "@reins/core"
import { expectWellFormed } from "../../../test/streamParts.js"
import { ResponsesEventDecoder } from "../src/responses/Events.js"
import { input } from "../src/responses/Request.js"

const info = { status: 200, headers: {} as any, requestId: "req_1" }
const sse = (data: unknown) => {
  const text = typeof data === "string" ? data : JSON.stringify(data)
  const type = typeof data === "object" && data !== null && "type" in data ? String((data as any).type) : "message"
  return { event: type, data: text, id: undefined, retry: undefined }
}

const decode = (events: ReadonlyArray<unknown>, options: { end?: boolean; toolNames?: ReadonlyArray<string> } = {}) => {
  const decoder = new ResponsesEventDecoder("openai", info, options.toolNames ? { toolNames: new Set(options.toolNames) } : {})
  const out: Array<StreamPart.StreamPart> = []
  for (const event of events) decoder.event(sse(event), out)
  if (options.end ?? true) decoder.end(out)
  return out
}

const assemble = (out: ReadonlyArray<StreamPart.StreamPart>) => {
  const acc = new Accumulator({ provider: "openai", model: "m" })
  acc.addAll(out)
  return acc.message()
}

const response = (status: string, extra: Record<string, unknown> = {}) => ({ id: "resp_1", object: "response", status, model: "gpt-5", output: [], ...extra })
const created = { type: "response.created", response: response("in_progress") }
const usage = { input_tokens: 40, input_tokens_details: { cached_tokens: 8 }, output_tokens: 30, output_tokens_details: { reasoning_tokens: 12 }, total_tokens: 70 }
const completed = { type: "response.completed", response: response("completed", { usage }) }

const added = (output_index: number, item: Record<string, unknown>) => ({ type: "response.output_item.added", output_index, item })
const done = (output_index: number, item: Record<string, unknown>) => ({ type: "response.output_item.done", output_index, item })
const summaryDelta = (item_id: string, summary_index: number, delta: string) => ({ type: "response.reasoning_summary_text.delta", item_id, output_index: 0, summary_index, delta })
const textDelta = (item_id: string, delta: string, output_index = 0) => ({ type: "response.output_text.delta", item_id, output_index, content_index: 0, delta })
const argsDelta = (item_id: string, delta: string, output_index = 1) => ({ type: "response.function_call_arguments.delta", item_id, output_index, delta })
const call = (id: string, call_id: string, name: string, args: string, status = "in_progress") => ({ id, type: "function_call", status, arguments: args, call_id, name })

describe("ResponsesEventDecoder", () => {
  it("gives each summary part a part of its own, signs the item's last part when it is done, and streams a function call", () => {
    const out = decode([
      created,
      { type: "response.in_progress", response: response("in_progress") },
      added(0, { id: "rs_1", type: "reasoning", summary: [], encrypted_content: "early" }),
      { type: "response.reasoning_summary_part.added", item_id: "rs_1", output_index: 0, summary_index: 0, part: { type: "summary_text", text: "" } },
      summaryDelta("rs_1", 0, "**Plan**"),
      summaryDelta("rs_1", 0, " first"),
      { type: "response.reasoning_summary_text.done", item_id: "rs_1", output_index: 0, summary_index: 0, text: "**Plan** first" },
      summaryDelta("rs_1", 1, "then this"),
      done(0, { id: "rs_1", type: "reasoning", summary: [{ type: "summary_text", text: "**Plan** first" }, { type: "summary_text", text: "then this" }], encrypted_content: "gAAA-final" }),
      added(1, call("fc_1", "call_1", "weather", "")),
      argsDelta("fc_1", "{\"city\":"),
      argsDelta("fc_1", "\"Oslo\"}"),
      { type: "response.function_call_arguments.done", item_id: "fc_1", output_index: 1, arguments: "{\"city\":\"Oslo\"}" },
      done(1, call("fc_1", "call_1", "weather", "{\"city\":\"Oslo\"}", "completed")),
      completed
    ])
    expect(out[0]).toEqual({ _tag: "Start", responseId: "resp_1", model: "gpt-5", requestId: "req_1" })
    expect(out.filter((c) => c._tag.startsWith("Reasoning"))).toEqual([
      { _tag: "ReasoningStart", id: "rs_1:s0", metadata: { itemId: "rs_1" } },
      { _tag: "ReasoningDelta", id: "rs_1:s0", text: "**Plan**" },
      { _tag: "ReasoningDelta", id: "rs_1:s0", text: " first" },
      { _tag: "ReasoningStart", id: "rs_1:s1", metadata: { itemId: "rs_1" } },
      { _tag: "ReasoningDelta", id: "rs_1:s1", text: "then this" },
      { _tag: "ReasoningEnd", id: "rs_1:s0" },
      { _tag: "ReasoningEnd", id: "rs_1:s1", signature: "gAAA-final" }
    ])
    expect(out).toContainEqual({ _tag: "ToolCallStart", id: "call_1", name: "weather", metadata: { itemId: "fc_1" } })
    expectWellFormed(out)
    expect(out.slice(-2)).toEqual([
      { _tag: "Usage", usage: { inputTokens: 40, outputTokens: 30, cacheReadTokens: 8, reasoningTokens: 12 } },
      { _tag: "Finish", reason: "tool-calls", raw: "completed" }
    ])
    const message = assemble(out)
    expect(message.content).toEqual([
      { _tag: "Reasoning", text: "**Plan** first", metadata: { itemId: "rs_1" } },
      { _tag: "Reasoning", text: "then this", signature: "gAAA-final", metadata: { itemId: "rs_1" } },
      { _tag: "ToolCall", id: "call_1", name: "weather", arguments: "{\"city\":\"Oslo\"}", metadata: { itemId: "fc_1" } }
    ])
    // The item goes back as it came: both summary parts and the encrypted content, in one item.
    const history: ReadonlyArray<Message.Message> = [{ _tag: "User", content: [{ _tag: "Text", text: "go" }] }, message]
    expect(input(history, "openai")[1]).toEqual({
      type: "reasoning",
      summary: [{ type: "summary_text", text: "**Plan** first" }, { type: "summary_text", text: "then this" }],
      encrypted_content: "gAAA-final"
    })
    expect(message.usage).toEqual({ inputTokens: 40, outputTokens: 30, cacheReadTokens: 8, cacheWriteTokens: 0, reasoningTokens: 12 })
    expect(message.stopReason).toBe("tool-calls")
    expect(message.responseId).toBe("resp_1")
  })

  it("gives a reasoning item without summary text a reasoning part that carries only its signature", () => {
    const out = decode([
      created,
      added(0, { id: "rs_1", type: "reasoning", summary: [] }),
      done(0, { id: "rs_1", type: "reasoning", summary: [], encrypted_content: "enc" }),
      added(1, { id: "msg_1", type: "message", role: "assistant", content: [] }),
      textDelta("msg_1", "Hi", 1),
      completed
    ])
    expect(assemble(out).content).toEqual([
      { _tag: "Reasoning", text: "", signature: "enc", metadata: { itemId: "rs_1" } },
      { _tag: "Text", text: "Hi" }
    ])
    expect(out.at(-1)).toEqual({ _tag: "Finish", reason: "stop", raw: "completed" })
  })

  it("emits nothing for reasoning items with neither summary nor encrypted content", () => {
    const out = decode([
      created,
      added(0, { id: "rs_1", type: "reasoning", summary: [] }),
      done(0, { id: "rs_1", type: "reasoning", summary: [] }),
      added(1, { id: "ws_1", type: "web_search_call", status: "in_progress" }),
      { type: "response.web_search_call.searching", item_id: "ws_1", output_index: 1 },
      done(1, { id: "ws_1", type: "web_search_call", status: "completed", action: { type: "search", query: "q" } }),
      added(2, { id: "msg_1", type: "message", role: "assistant", content: [] }),
      textDelta("msg_1", "Found", 2),
      { type: "response.output_text.annotation.added", item_id: "msg_1", output_index: 2, annotation: { type: "url_citation" } },
      completed
    ])
    expect(assemble(out).content).toEqual([{ _tag: "Text", text: "Found" }])
  })

  it("keeps each message's phase and gives each message a part of its own", () => {
    const out = decode([
      created,
      added(0, { id: "msg_a", type: "message", role: "assistant", content: [], phase: "commentary" }),
      textDelta("msg_a", "Checking."),
      done(0, { id: "msg_a", type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking." }], phase: "commentary" }),
      added(1, { id: "msg_b", type: "message", role: "assistant", content: [], phase: "final_answer" }),
      textDelta("msg_b", "Done", 1),
      textDelta("msg_b", ".", 1),
      completed
    ])
    expect(out.filter((c) => c._tag.startsWith("Text"))).toEqual([
      { _tag: "TextStart", id: "msg_a:0", metadata: { phase: "commentary" } },
      { _tag: "TextDelta", id: "msg_a:0", text: "Checking." },
      { _tag: "TextEnd", id: "msg_a:0" },
      { _tag: "TextStart", id: "msg_b:0", metadata: { phase: "final_answer" } },
      { _tag: "TextDelta", id: "msg_b:0", text: "Done" },
      { _tag: "TextDelta", id: "msg_b:0", text: "." },
      { _tag: "TextEnd", id: "msg_b:0" }
    ])
    expectWellFormed(out)
    expect(assemble(out).content).toEqual([
      { _tag: "Text", text: "Checking.", metadata: { phase: "commentary" } },
      { _tag: "Text", text: "Done.", metadata: { phase: "final_answer" } }
    ])
  })

  it("completes text and arguments from the done events when deltas fell short", () => {
    const out = decode([
      created,
      added(0, { id: "msg_1", type: "message", role: "assistant", content: [] }),
      textDelta("msg_1", "Hel"),
      { type: "response.output_text.done", item_id: "msg_1", output_index: 0, content_index: 0, text: "Hello" },
      done(0, { id: "msg_1", type: "message", role: "assistant", content: [{ type: "output_text", text: "Hello" }] }),
      added(1, call("fc_1", "call_1", "f", "")),
      argsDelta("fc_1", "{\"a\""),
      done(1, call("fc_1", "call_1", "f", "{\"a\":1}", "completed")),
      // a call that arrives whole, with no added event
      done(2, call("fc_2", "call_2", "g", "{}", "completed")),
      completed
    ])
    expect(assemble(out).content).toEqual([
      { _tag: "Text", text: "Hello" },
      { _tag: "ToolCall", id: "call_1", name: "f", arguments: "{\"a\":1}", metadata: { itemId: "fc_1" } },
      { _tag: "ToolCall", id: "call_2", name: "g", arguments: "{}", metadata: { itemId: "fc_2" } }
    ])
  })

  it("sends no text twice when an item is announced again mid-stream", () => {
    const out = decode([
      created,
      added(0, { id: "msg_1", type: "message", role: "assistant", content: [] }),
      textDelta("msg_1", "Hel"),
      added(0, { id: "msg_1", type: "message", role: "assistant", content: [] }),
      textDelta("msg_1", "lo"),
      { type: "response.output_text.done", item_id: "msg_1", output_index: 0, content_index: 0, text: "Hello" },
      done(0, { id: "msg_1", type: "message", role: "assistant", content: [{ type: "output_text", text: "Hello" }] }),
      completed
    ])
    expect(assemble(out).content).toEqual([{ _tag: "Text", text: "Hello" }])
  })

  it("carries a custom tool's free-text input as {\"input\": text}, escaped piece by piece", () => {
    const input = "SELECT \"name\"\nFROM t -- \u00e9"
    const out = decode([
      created,
      added(0, { id: "ct_1", type: "custom_tool_call", call_id: "call_c", name: "sql", input: "" }),
      { type: "response.custom_tool_call_input.delta", item_id: "ct_1", output_index: 0, delta: input.slice(0, 9) },
      { type: "response.custom_tool_call_input.delta", item_id: "ct_1", output_index: 0, delta: input.slice(9) },
      done(0, { id: "ct_1", type: "custom_tool_call", call_id: "call_c", name: "sql", input, status: "completed" }),
      completed
    ])
    const [toolCall] = assemble(out).content
    expect(toolCall).toMatchObject({ _tag: "ToolCall", id: "call_c", name: "sql", metadata: { itemId: "ct_1", customTool: true } })
    expect(JSON.parse((toolCall as any).arguments)).toEqual({ input })
    expect(out.at(-1)).toEqual({ _tag: "Finish", reason: "tool-calls", raw: "completed" })
  })

  it("expands an undeclared parallel wrapper into its calls", () => {
    const args = JSON.stringify({
      tool_uses: [
        { recipient_name: "functions.weather", parameters: { city: "Rome" } },
        { recipient_name: "functions.time", parameters: { tz: "CET" } }
      ]
    })
    const events = (name: string) => [
      created,
      added(0, call("fc_p", "call_p", name, "")),
      argsDelta("fc_p", args.slice(0, 20), 0),
      argsDelta("fc_p", args.slice(20), 0),
      done(0, call("fc_p", "call_p", name, args, "completed")),
      completed
    ]
    for (const name of ["multi_tool_use.parallel", "parallel"]) {
      expect(assemble(decode(events(name), { toolNames: ["weather", "time"] })).content).toEqual([
        { _tag: "ToolCall", id: "call_p_0", name: "weather", arguments: "{\"city\":\"Rome\"}" },
        { _tag: "ToolCall", id: "call_p_1", name: "time", arguments: "{\"tz\":\"CET\"}" }
      ])
    }
    // a tool the request declared under that name is a tool like any other
    expect(assemble(decode(events("parallel"), { toolNames: ["parallel"] })).content).toEqual([
      { _tag: "ToolCall", id: "call_p", name: "parallel", arguments: args, metadata: { itemId: "fc_p" } }
    ])
    // and a wrapper of another shape is passed on whole
    const odd = [created, added(0, call("fc_p", "call_p", "parallel", "")), done(0, call("fc_p", "call_p", "parallel", "{\"x\":1}", "completed")), completed]
    expect(assemble(decode(odd)).content).toEqual([
      { _tag: "ToolCall", id: "call_p", name: "parallel", arguments: "{\"x\":1}", metadata: { itemId: "fc_p" } }
    ])
  })

  it.each([
    ["max_output_tokens", "length"],
    ["content_filter", "content-filter"],
    ["something_new", "other"]
  ])("maps response.incomplete with reason %s to %s and keeps the raw reason", (reason, stop) => {
    const out = decode([
      created,
      added(0, { id: "msg_1", type: "message", role: "assistant", content: [] }),
      textDelta("msg_1", "cut"),
      { type: "response.incomplete", response: response("incomplete", { incomplete_details: { reason }, usage }) }
    ])
    expect(out.at(-1)).toEqual({ _tag: "Finish", reason: stop, raw: reason })
    expect(out.at(-2)).toEqual({ _tag: "Usage", usage: { inputTokens: 40, outputTokens: 30, cacheReadTokens: 8, reasoningTokens: 12 } })
  })

  it("keeps a refusal as text and says the model refused", () => {
    const out = decode([
      created,
      added(0, { id: "msg_1", type: "message", role: "assistant", content: [] }),
      { type: "response.refusal.delta", item_id: "msg_1", output_index: 0, content_index: 0, delta: "I can't help" },
      { type: "response.refusal.done", item_id: "msg_1", output_index: 0, content_index: 0, refusal: "I can't help with that." },
      completed
    ])
    const message = assemble(out)
    expect(message.content).toEqual([{ _tag: "Text", text: "I can't help with that." }])
    expect(message.stopReason).toBe("refusal")
  })

  it("turns an error event into one ProviderStreamError, whichever way its fields are laid out", () => {
    const nested = { type: "error", sequence_number: 2, error: { type: "insufficient_quota", code: "insufficient_quota", message: "You exceeded your current quota.", param: null } }
    const failed = { type: "response.failed", response: response("failed", { error: { code: "insufficient_quota", message: "You exceeded your current quota." } }) }
    expect(() => decode([created, nested, failed])).toThrow(
      expect.objectContaining({ _tag: "ProviderStreamError", code: "insufficient_quota", message: "You exceeded your current quota.", retryable: false })
    )
    const flat = { type: "error", code: "server_error", message: "The server had an error.", param: null }
    expect(() => decode([created, flat])).toThrow(expect.objectContaining({ _tag: "ProviderStreamError", code: "server_error", retryable: true }))
    const untyped = { type: "error", code: null, message: "Something broke.", param: null }
    expect(() => decode([created, untyped])).toThrow(expect.objectContaining({ code: undefined, message: "Something broke.", retryable: false }))
  })

  it("turns response.failed alone into a ProviderStreamError", () => {
    const failed = { type: "response.failed", response: response("failed", { error: { code: "server_error", message: "Try again." } }) }
    expect(() => decode([created, failed])).toThrow(expect.objectContaining({ _tag: "ProviderStreamError", code: "server_error", message: "Try again.", retryable: true }))
    expect(() => decode([created, { type: "response.failed", response: response("failed", { error: null }) }]))
      .toThrow(expect.objectContaining({ _tag: "ProviderStreamError", message: "the response failed" }))
  })

  it("skips keep-alives, unknown events and empty data, and ignores what follows the terminal event", () => {
    const out = decode([
      created,
      { type: "keepalive", sequence_number: 3 },
      "",
      { type: "response.some_future_event", item_id: "x" },
      added(0, { id: "msg_1", type: "message", role: "assistant", content: [] }),
      textDelta("msg_1", "ok"),
      completed,
      { type: "response.created", response: { ...response("in_progress"), id: "resp_2" } },
      textDelta("msg_2", "ignored"),
      "[DONE]"
    ])
    expect(out.filter((c) => c._tag === "Start")).toHaveLength(1)
    expect(assemble(out).content).toEqual([{ _tag: "Text", text: "ok" }])
  })

  it("fails a stream cut off before its terminal event, an empty stream, and malformed JSON", () => {
    expect(() => decode([created, added(0, { id: "msg_1", type: "message", content: [] }), textDelta("msg_1", "x")]))
      .toThrow(expect.objectContaining({ _tag: "ConnectionError", message: "the stream ended before the response finished" }))
    expect(() => decode([])).toThrow(expect.objectContaining({ _tag: "EmptyResponse" }))
    expect(() => decode(["{\"type\":\"response.created\",\"response\":{"], { end: false }))
      .toThrow(expect.objectContaining({ _tag: "ProtocolError", excerpt: "{\"type\":\"response.created\",\"response\":{" }))
  })

  it("closes a call the stream never closed when the response completes", () => {
    const out = decode([
      created,
      added(0, call("fc_1", "call_1", "f", "")),
      argsDelta("fc_1", "{}", 0),
      added(1, { id: "ct_1", type: "custom_tool_call", call_id: "call_c", name: "c", input: "" }),
      { type: "response.custom_tool_call_input.delta", item_id: "ct_1", output_index: 1, delta: "x" },
      completed
    ])
    expect(out.filter((c) => c._tag === "ToolCallEnd")).toEqual([{ _tag: "ToolCallEnd", id: "call_1" }, { _tag: "ToolCallEnd", id: "call_c" }])
    expectWellFormed(out)
    expect(assemble(out).content.map((part) => (part as any).arguments)).toEqual(["{}", "{\"input\":\"x\"}"])
  })

  describe("part boundaries", () => {
    it("gives each content part of a message its own id, and ends each at its done event", () => {
      const out = decode([
        created,
        added(0, { id: "msg_1", type: "message", role: "assistant", content: [] }),
        textDelta("msg_1", "First."),
        { type: "response.output_text.done", item_id: "msg_1", output_index: 0, content_index: 0, text: "First." },
        { type: "response.output_text.delta", item_id: "msg_1", output_index: 0, content_index: 1, delta: "Second." },
        done(0, { id: "msg_1", type: "message", role: "assistant", content: [{ type: "output_text", text: "First." }, { type: "output_text", text: "Second." }] }),
        completed
      ])
      expect(expectWellFormed(out).Text).toEqual(["msg_1:0", "msg_1:1"])
      expect(out.findIndex((c) => c._tag === "TextEnd" && c.id === "msg_1:0"))
        .toBeLessThan(out.findIndex((c) => c._tag === "TextStart" && c.id === "msg_1:1"))
      // No blank line is made up between them: each is its own part.
      expect(assemble(out).content).toEqual([{ _tag: "Text", text: "First." }, { _tag: "Text", text: "Second." }])
    })

    it("ends a function call at its arguments' done event, before the item is done", () => {
      const out = decode([
        created,
        added(0, call("fc_1", "call_1", "f", "")),
        argsDelta("fc_1", "{\"a\":1}", 0),
        { type: "response.function_call_arguments.done", item_id: "fc_1", output_index: 0, arguments: "{\"a\":1}" }
      ], { end: false })
      expect(out.at(-1)).toEqual({ _tag: "ToolCallEnd", id: "call_1" })
    })

    it("leaves a part open when the stream stops in the middle of it, and the partial part is kept", () => {
      const out = decode([
        created,
        added(0, { id: "rs_1", type: "reasoning", summary: [] }),
        summaryDelta("rs_1", 0, "Thinking"),
        added(1, { id: "msg_1", type: "message", role: "assistant", content: [] }),
        textDelta("msg_1", "Half an ans", 1)
      ], { end: false })
      expectWellFormed(out, { finished: false })
      expect(out.some((c) => c._tag === "TextEnd" || c._tag === "ReasoningEnd")).toBe(false)
      const acc = new Accumulator({ provider: "openai", model: "m" })
      acc.addAll(out)
      expect(acc.interrupted().content).toEqual([
        { _tag: "Reasoning", text: "Thinking", metadata: { itemId: "rs_1" } },
        { _tag: "Text", text: "Half an ans" }
      ])
    })
  })
})
