/**
 * Scripts and events in the Anthropic Messages streaming wire format: named SSE events whose
 * `event:` name equals the JSON's `type` (`message_start`, `content_block_start`,
 * `content_block_delta`, `content_block_stop`, `message_delta`, `message_stop`, `ping`, `error`),
 * and Anthropic's error bodies and error events `{ type: "error", error: { type, message } }`.
 */
import * as Script from "./Script.js"
import { split } from "./Script.js"

const DEFAULT_ID = "msg_reins_test"
const DEFAULT_MODEL = "reins-test-claude"

export {
  /** `Script.split`, here too for this module's users: `text` in pieces of `size` code points. */
  split
} from "./Script.js"

/** An event named after its `type`, as the Messages API sends every event. */
export const event = (data: { readonly type: string } & Record<string, unknown>): Script.Step =>
  Script.event(data, { event: data.type })

/** Input token counts as `message_start` reports them. */
export interface InputUsage {
  readonly input_tokens: number
  readonly cache_read_input_tokens?: number
  readonly cache_creation_input_tokens?: number
  /** The output count so far (1 or so on a real stream). */
  readonly output_tokens?: number
}

/** `message_start`: the message id, model and input usage. */
export const messageStart = (
  options?: { readonly id?: string; readonly model?: string; readonly usage?: InputUsage }
): Script.Step =>
  event({
    type: "message_start",
    message: {
      id: options?.id ?? DEFAULT_ID,
      type: "message",
      role: "assistant",
      model: options?.model ?? DEFAULT_MODEL,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: options?.usage?.input_tokens ?? 0,
        cache_creation_input_tokens: options?.usage?.cache_creation_input_tokens ?? 0,
        cache_read_input_tokens: options?.usage?.cache_read_input_tokens ?? 0,
        output_tokens: options?.usage?.output_tokens ?? 1
      }
    }
  })

/** `content_block_start` for any block. */
export const blockStart = (index: number, block: Record<string, unknown>): Script.Step =>
  event({ type: "content_block_start", index, content_block: block })

/** `content_block_delta` for any delta. */
export const blockDelta = (index: number, delta: Record<string, unknown>): Script.Step =>
  event({ type: "content_block_delta", index, delta })

/** `content_block_stop`. */
export const blockStop = (index: number): Script.Step => event({ type: "content_block_stop", index })

/** A whole text block: start, `text_delta`s of `chunkSize` code points (4 by default), stop. */
export const text = (index: number, content: string, options?: { readonly chunkSize?: number }): Array<Script.Step> => [
  blockStart(index, { type: "text", text: "" }),
  ...(content === "" ? [] : split(content, options?.chunkSize).map((piece) => blockDelta(index, { type: "text_delta", text: piece }))),
  blockStop(index)
]

/** A whole thinking block: start, `thinking_delta`s, one `signature_delta` (unless empty), stop. */
export const thinking = (
  index: number,
  content: string,
  signature: string,
  options?: { readonly chunkSize?: number }
): Array<Script.Step> => [
  blockStart(index, { type: "thinking", thinking: "", signature: "" }),
  ...(content === "" ? [] : split(content, options?.chunkSize).map((piece) => blockDelta(index, { type: "thinking_delta", thinking: piece }))),
  ...(signature === "" ? [] : [blockDelta(index, { type: "signature_delta", signature })]),
  blockStop(index)
]

/** A redacted thinking block: its encrypted `data` arrives whole in the start event. */
export const redactedThinking = (index: number, data: string): Array<Script.Step> => [
  blockStart(index, { type: "redacted_thinking", data }),
  blockStop(index)
]

/** A tool call to stream. */
export interface ToolUse {
  readonly index: number
  readonly id: string
  readonly name: string
  /** The input JSON text (objects are stringified); "" streams no JSON, as a tool without parameters. */
  readonly input: string | object
  /** Code points of JSON per delta, 16 by default. */
  readonly chunkSize?: number
}

/** A whole tool_use block: start with `input: {}`, an empty `input_json_delta` (as the API sends), the JSON pieces, stop. */
export const toolUse = (call: ToolUse): Array<Script.Step> => {
  const json = typeof call.input === "string" ? call.input : JSON.stringify(call.input)
  return [
    blockStart(call.index, { type: "tool_use", id: call.id, name: call.name, input: {} }),
    blockDelta(call.index, { type: "input_json_delta", partial_json: "" }),
    ...(json === "" ? [] : split(json, call.chunkSize ?? 16).map((piece) => blockDelta(call.index, { type: "input_json_delta", partial_json: piece }))),
    blockStop(call.index)
  ]
}

/** Output usage as `message_delta` reports it (cumulative); input counts are optional there. */
export interface OutputUsage {
  readonly output_tokens: number
  readonly input_tokens?: number
  readonly cache_read_input_tokens?: number
  readonly cache_creation_input_tokens?: number
  readonly thinking_tokens?: number
}

/** `message_delta` with the stop reason (`end_turn`, `max_tokens`, `tool_use`, `refusal`, ...) and usage. */
export const messageDelta = (stopReason: string | null, usage: OutputUsage = { output_tokens: 1 }): Script.Step => {
  const { thinking_tokens, ...counts } = usage
  return event({
    type: "message_delta",
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: thinking_tokens === undefined ? counts : { ...counts, output_tokens_details: { thinking_tokens } }
  })
}

/** The terminal `message_stop`. */
export const messageStop: Script.Step = event({ type: "message_stop" })

/** A `ping` keep-alive. */
export const ping: Script.Step = event({ type: "ping" })

const defaultErrorType = (status: number): string => {
  switch (status) {
    case 400:
      return "invalid_request_error"
    case 401:
      return "authentication_error"
    case 403:
      return "permission_error"
    case 404:
      return "not_found_error"
    case 413:
      return "request_too_large"
    case 429:
      return "rate_limit_error"
    case 504:
      return "timeout_error"
    case 529:
      return "overloaded_error"
    default:
      return status >= 500 ? "api_error" : "invalid_request_error"
  }
}

/**
 * A non-2xx error response of `status` with Anthropic's body `{ type: "error", error: { type, message } }`,
 * its `type` taken from the status when not given (529: `overloaded_error`, 429: `rate_limit_error`).
 */
export const errorBody = (
  status: number,
  message: string,
  options?: { readonly type?: string; readonly headers?: Readonly<Record<string, string>> | undefined }
): Script.Script =>
  Script.body(status, { type: "error", error: { type: options?.type ?? defaultErrorType(status), message } }, options?.headers)

/**
 * An `event: error` sent mid-stream, its `type` taken from `status` as for `errorBody` when not
 * given: `errorEvent(529, "Overloaded")` is the `overloaded_error` the API sends when busy.
 */
export const errorEvent = (status: number, message: string, options?: { readonly type?: string }): Script.Step =>
  event({ type: "error", error: { type: options?.type ?? defaultErrorType(status), message } })

/** What `reply` streams, block by block in this order: thinking, text, tool calls. */
export interface Reply extends Script.ReplyOptions {
  readonly id?: string
  readonly model?: string
  readonly thinking?: { readonly text: string; readonly signature: string }
  readonly text?: string
  readonly toolCalls?: ReadonlyArray<Omit<ToolUse, "index">>
  readonly usage?: InputUsage & { readonly output_tokens: number }
  /** Defaults to `tool_use` when there are tool calls, else `end_turn`. */
  readonly stopReason?: string
}

/** A whole streamed reply: message_start, ping, the blocks, message_delta and message_stop. */
export const reply = (options: Reply = {}): Script.Script => {
  const pieces = Script.defined(options, ["chunkSize"])
  const start = Script.defined(options, ["id", "model"])
  const usage = options.usage !== undefined ? { usage: { ...options.usage, output_tokens: 1 } } : {}
  const events: Array<Script.Step> = [messageStart({ ...start, ...usage }), ping]
  let index = 0
  if (options.thinking !== undefined) events.push(...thinking(index++, options.thinking.text, options.thinking.signature, pieces))
  if (options.text !== undefined) events.push(...text(index++, options.text, pieces))
  const calls = options.toolCalls ?? []
  for (const call of calls) events.push(...toolUse({ ...call, index: index++ }))
  events.push(
    messageDelta(options.stopReason ?? (calls.length > 0 ? "tool_use" : "end_turn"), { output_tokens: options.usage?.output_tokens ?? 1 }),
    messageStop
  )
  return Script.make(Script.spaced(events, options.deltaDelay), options)
}

/**
 * Event steps from recorded `*.chunks.txt` payload lines (one JSON per line; blank lines skipped),
 * each sent under the event name of its `type`, as the API does.
 */
export const replayLines = (lines: string | ReadonlyArray<string>): Array<Script.Step> =>
  Script.replayLines(lines, (line) => {
    const type = (JSON.parse(line) as { type?: unknown }).type
    return typeof type === "string" ? type : undefined
  })

/** A script sending a recorded raw SSE body (`sdk-*.txt`, `*.sse`) as is. */
export const replayRaw = Script.replayRaw
