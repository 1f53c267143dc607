/**
 * The rules every event decoder shares through `Decoder`, as one table over the four formats: an
 * OpenAI-style `{ error }` event is the provider's error with its message, text that is not JSON is a
 * `ProtocolError` showing it, a JSON value that is not an object carries nothing, and a body that
 * ends early is an `EmptyResponse` before any event and a `ConnectionError` after one.
 */
import { describe, expect, it } from "@effect/vitest"
import { MessagesEventDecoder } from "@reins/anthropic/AnthropicEvents"
import { type Decoder, ProviderError, type Sse, type StreamPart } from "@reins/core"
import { GoogleEventDecoder } from "@reins/google/GoogleEvents"
import { ChatEventDecoder } from "@reins/openai/ChatEvents"
import { ResponsesEventDecoder } from "../packages/openai/src/responses/Events.js"

const info: Decoder.ResponseInfo = { status: 200, headers: {}, requestId: "req_1" }

const event = (data: unknown, name = "message"): Sse.SseEvent => ({
  event: name,
  data: typeof data === "string" ? data : JSON.stringify(data),
  id: undefined,
  retry: undefined
})

interface Format {
  readonly name: string
  readonly make: () => Decoder.EventDecoder
  /** Events that open a response and stream some text, short of its finish. */
  readonly begun: ReadonlyArray<Sse.SseEvent>
}

const formats: ReadonlyArray<Format> = [
  {
    name: "Chat Completions",
    make: () => new ChatEventDecoder("openai", info),
    begun: [
      event({ id: "c1", model: "m", choices: [{ index: 0, delta: { role: "assistant" }, finish_reason: null }] }),
      event({ id: "c1", model: "m", choices: [{ index: 0, delta: { content: "Hi" }, finish_reason: null }] })
    ]
  },
  {
    name: "Responses",
    make: () => new ResponsesEventDecoder("openai", info),
    begun: [
      event({ type: "response.created", response: { id: "resp_1", model: "m" } }, "response.created"),
      event({ type: "response.output_item.added", output_index: 0, item: { type: "message", id: "msg_1" } }, "response.output_item.added"),
      event(
        { type: "response.output_text.delta", item_id: "msg_1", output_index: 0, content_index: 0, delta: "Hi" },
        "response.output_text.delta"
      )
    ]
  },
  {
    name: "Anthropic Messages",
    make: () => new MessagesEventDecoder("anthropic", info),
    begun: [
      event({ type: "message_start", message: { id: "msg_1", model: "m", usage: { input_tokens: 3 } } }, "message_start"),
      event({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }, "content_block_start"),
      event({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } }, "content_block_delta")
    ]
  },
  {
    name: "Gemini",
    make: () => new GoogleEventDecoder("google", info),
    begun: [event({ responseId: "g1", modelVersion: "m", candidates: [{ content: { role: "model", parts: [{ text: "Hi" }] } }] })]
  }
]

/** What a decoder does with the events, then the end of the body when `end` is set. */
const run = (format: Format, events: ReadonlyArray<Sse.SseEvent>, end: boolean) => {
  const decoder = format.make()
  const out: Array<StreamPart.StreamPart> = []
  try {
    for (const e of events) decoder.event(e, out)
    if (end) decoder.end(out)
    return { out, error: undefined }
  } catch (error) {
    return { out, error }
  }
}

describe.each(formats)("the decoder rules on $name", (format) => {
  it("an OpenAI-style { error } event is the provider's error, with its message and retryability", () => {
    const gateway = event({ error: { message: "Upstream overloaded", type: "server_error" } })
    const { error } = run(format, [...format.begun, gateway], false)
    expect(ProviderError.isProviderError(error)).toBe(true)
    expect(error).toMatchObject({ _tag: "ProviderStreamError", message: "Upstream overloaded", code: "server_error", retryable: true })
  })

  it("text that is not JSON is a ProtocolError that shows it", () => {
    const { error } = run(format, [...format.begun, event('{"choices": [')], false)
    expect(error).toMatchObject({ _tag: "ProtocolError", excerpt: '{"choices": [' })
  })

  it.each(["42", "null", "[1, 2]", '"text"'])("the JSON value %s carries nothing and is skipped", (data) => {
    const before = run(format, format.begun, false)
    const after = run(format, [...format.begun, event(data)], false)
    expect(after.error).toBeUndefined()
    expect(after.out).toEqual(before.out)
  })

  it("a body that ends before any event is an EmptyResponse", () => {
    expect(run(format, [], true).error).toMatchObject({ _tag: "EmptyResponse" })
  })

  it("a body that ends after the response began, before its finish, is a ConnectionError", () => {
    const { error, out } = run(format, format.begun, true)
    expect(out.some((part) => part._tag === "TextDelta")).toBe(true)
    expect(error).toMatchObject({ _tag: "ConnectionError", message: expect.stringContaining("before the response finished") })
  })
})
