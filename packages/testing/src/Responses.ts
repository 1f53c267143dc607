/**
 * Scripts and events in the OpenAI Responses streaming wire format: SSE events whose `event:` name
 * equals the JSON's `type` (`response.created`, `response.output_item.added`,
 * `response.output_text.delta`, ..., `response.completed`), output items for messages, reasoning
 * (summaries and encrypted content) and function calls, `error` events (`errorEvent`), and OpenAI's error bodies (`errorBody`).
 */
import * as Script from "./Script.js"
import { split } from "./Script.js"

export {
  /** `Script.split`, here too for this module's users: `text` in pieces of `size` code points. */
  split
} from "./Script.js"

export {
  /** A non-2xx error response with OpenAI's body `{ error: { message, type, param: null, code } }`, as for Chat Completions. */
  errorBody
} from "./ChatCompletions.js"

const DEFAULT_ID = "resp_reins_test"
const DEFAULT_MODEL = "reins-test-model"
const DEFAULT_CREATED = 1_700_000_000

/** An event named after its `type`, as the Responses API sends every event. */
export const event = (data: { readonly type: string } & Record<string, unknown>): Script.Step =>
  Script.event(data, { event: data.type })

/** The fields of the response object the lifecycle events carry. */
export interface ResponseOptions {
  readonly id?: string
  readonly model?: string
  readonly createdAt?: number
}

const response = (status: string, options: ResponseOptions | undefined, extra?: Record<string, unknown>) => ({
  id: options?.id ?? DEFAULT_ID,
  object: "response",
  created_at: options?.createdAt ?? DEFAULT_CREATED,
  status,
  error: null,
  incomplete_details: null,
  model: options?.model ?? DEFAULT_MODEL,
  output: [],
  usage: null,
  ...extra
})

/** `response.created`: the first event, with the response id and model. */
export const created = (options?: ResponseOptions): Script.Step =>
  event({ type: "response.created", response: response("in_progress", options) })

/** `response.in_progress`, sent right after `response.created`. */
export const inProgress = (options?: ResponseOptions): Script.Step =>
  event({ type: "response.in_progress", response: response("in_progress", options) })

/** Token counts of a finished response; `input_tokens` includes the cached ones, `output_tokens` the reasoning ones. */
export interface Usage {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cached_tokens?: number
  readonly reasoning_tokens?: number
}

/** The `usage` object as the API writes it. */
export const usage = (counts: Usage): Record<string, unknown> => ({
  input_tokens: counts.input_tokens,
  input_tokens_details: { cached_tokens: counts.cached_tokens ?? 0 },
  output_tokens: counts.output_tokens,
  output_tokens_details: { reasoning_tokens: counts.reasoning_tokens ?? 0 },
  total_tokens: counts.input_tokens + counts.output_tokens
})

/** `response.completed`, the normal end of a stream. */
export const completed = (options?: ResponseOptions & { readonly usage?: Usage }): Script.Step =>
  event({
    type: "response.completed",
    response: response("completed", options, options?.usage !== undefined ? { usage: usage(options.usage) } : {})
  })

/** `response.incomplete`: the end of a cut-short response (`max_output_tokens`, `content_filter`). */
export const incomplete = (reason: string, options?: ResponseOptions & { readonly usage?: Usage }): Script.Step =>
  event({
    type: "response.incomplete",
    response: response("incomplete", options, {
      incomplete_details: { reason },
      ...(options?.usage !== undefined ? { usage: usage(options.usage) } : {})
    })
  })

/** `response.failed`, with the response's `error` object. */
export const failed = (error: { readonly code: string; readonly message: string }, options?: ResponseOptions): Script.Step =>
  event({ type: "response.failed", response: response("failed", options, { error }) })

/** The `code` the Responses API gives an error of `status`. */
const defaultErrorCode = (status: number): string =>
  status === 429 ? "rate_limit_exceeded" : status === 401 ? "invalid_api_key" : status >= 500 ? "server_error" : "invalid_request_error"

/**
 * An `error` event sent mid-stream, its `code` taken from `status` when not given (500:
 * `server_error`, 429: `rate_limit_exceeded`, 401: `invalid_api_key`) and its `type` the code
 * unless given. The API documents the fields on the event itself; recorded streams also show them
 * nested in `error` (`nested: true`).
 */
export const errorEvent = (
  status: number,
  message: string,
  options?: { readonly code?: string; readonly type?: string; readonly nested?: boolean }
): Script.Step => {
  const code = options?.code ?? defaultErrorCode(status)
  const error = { type: options?.type ?? code, code, message, param: null }
  return options?.nested === true ? event({ type: "error", error }) : event({ ...error, type: "error" })
}

/** A keep-alive event, which carries nothing. */
export const keepAlive = (): Script.Step => event({ type: "keepalive" })

/** Where an output item sits in the response. */
export interface ItemOptions {
  readonly id?: string
  readonly outputIndex?: number
  /** Code points per delta (4 for text, 16 for arguments by default). */
  readonly chunkSize?: number
}

/** An assistant message item: added, its text in deltas, the text done, and the item done. */
export const message = (text: string, options?: ItemOptions & { readonly phase?: string }): Array<Script.Step> => {
  const id = options?.id ?? "msg_reins_test"
  const output_index = options?.outputIndex ?? 0
  const phase = options?.phase !== undefined ? { phase: options.phase } : {}
  const part = (content: string) => ({ type: "output_text", annotations: [], text: content })
  const steps: Array<Script.Step> = [
    event({
      type: "response.output_item.added",
      output_index,
      item: { id, type: "message", status: "in_progress", content: [], role: "assistant", ...phase }
    }),
    event({ type: "response.content_part.added", item_id: id, output_index, content_index: 0, part: part("") })
  ]
  if (text !== "") {
    for (const delta of split(text, options?.chunkSize ?? 4)) {
      steps.push(event({ type: "response.output_text.delta", item_id: id, output_index, content_index: 0, delta }))
    }
  }
  steps.push(
    event({ type: "response.output_text.done", item_id: id, output_index, content_index: 0, text }),
    event({ type: "response.content_part.done", item_id: id, output_index, content_index: 0, part: part(text) }),
    event({
      type: "response.output_item.done",
      output_index,
      item: { id, type: "message", status: "completed", content: [part(text)], role: "assistant", ...phase }
    })
  )
  return steps
}

/**
 * A reasoning item: added, each summary part streamed (part added, text deltas, text done, part
 * done), then the item done with its summary and, when given, its `encrypted_content`.
 */
export const reasoning = (
  options?: ItemOptions & { readonly summary?: ReadonlyArray<string>; readonly encryptedContent?: string }
): Array<Script.Step> => {
  const id = options?.id ?? "rs_reins_test"
  const output_index = options?.outputIndex ?? 0
  const summary = options?.summary ?? []
  const encrypted = options?.encryptedContent !== undefined ? { encrypted_content: options.encryptedContent } : {}
  const steps: Array<Script.Step> = [
    event({ type: "response.output_item.added", output_index, item: { id, type: "reasoning", summary: [] } })
  ]
  summary.forEach((text, summary_index) => {
    const base = { item_id: id, output_index, summary_index }
    steps.push(event({ type: "response.reasoning_summary_part.added", ...base, part: { type: "summary_text", text: "" } }))
    if (text !== "") {
      for (const delta of split(text, options?.chunkSize ?? 4)) {
        steps.push(event({ type: "response.reasoning_summary_text.delta", ...base, delta }))
      }
    }
    steps.push(
      event({ type: "response.reasoning_summary_text.done", ...base, text }),
      event({ type: "response.reasoning_summary_part.done", ...base, part: { type: "summary_text", text } })
    )
  })
  steps.push(event({
    type: "response.output_item.done",
    output_index,
    item: { id, type: "reasoning", summary: summary.map((text) => ({ type: "summary_text", text })), ...encrypted }
  }))
  return steps
}

/** A function call to stream. */
export interface FunctionCall extends ItemOptions {
  readonly callId: string
  readonly name: string
  /** The arguments JSON text (objects are stringified). */
  readonly arguments: string | object
}

/** A function call item: added (empty arguments), argument deltas, arguments done, item done. */
export const functionCall = (call: FunctionCall): Array<Script.Step> => {
  const id = call.id ?? `fc_${call.callId}`
  const output_index = call.outputIndex ?? 0
  const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments)
  const item = (status: string, text: string) => ({ id, type: "function_call", status, arguments: text, call_id: call.callId, name: call.name })
  const steps: Array<Script.Step> = [event({ type: "response.output_item.added", output_index, item: item("in_progress", "") })]
  if (args !== "") {
    for (const delta of split(args, call.chunkSize ?? 16)) {
      steps.push(event({ type: "response.function_call_arguments.delta", item_id: id, output_index, delta }))
    }
  }
  steps.push(
    event({ type: "response.function_call_arguments.done", item_id: id, output_index, arguments: args }),
    event({ type: "response.output_item.done", output_index, item: item("completed", args) })
  )
  return steps
}

/** What `reply` streams, in this order: reasoning, text, function calls. */
export interface Reply extends ResponseOptions, Script.ReplyOptions {
  readonly reasoning?: { readonly summary?: ReadonlyArray<string>; readonly encryptedContent?: string; readonly id?: string }
  readonly text?: string
  readonly phase?: string
  readonly toolCalls?: ReadonlyArray<Omit<FunctionCall, "outputIndex">>
  readonly usage?: Usage
  /** End with `response.incomplete` and this reason instead of `response.completed`. */
  readonly incomplete?: string
}

/** A whole streamed response: created, in progress, its output items, and its terminal event. */
export const reply = (options: Reply = {}): Script.Script => {
  const base = Script.defined(options, ["id", "model", "createdAt"])
  const events: Array<Script.Step> = [created(base), inProgress(base)]
  let outputIndex = 0
  const size = Script.defined(options, ["chunkSize"])
  if (options.reasoning !== undefined) {
    events.push(...reasoning({ ...options.reasoning, ...size, outputIndex: outputIndex++ }))
  }
  if (options.text !== undefined) {
    events.push(...message(options.text, { ...size, outputIndex: outputIndex++, ...(options.phase !== undefined ? { phase: options.phase } : {}) }))
  }
  for (const call of options.toolCalls ?? []) events.push(...functionCall({ ...call, outputIndex: outputIndex++ }))
  const end = options.usage !== undefined ? { ...base, usage: options.usage } : base
  events.push(options.incomplete !== undefined ? incomplete(options.incomplete, end) : completed(end))
  return Script.make(Script.spaced(events, options.deltaDelay), options)
}

const lineType = (line: string): string | undefined => {
  try {
    const type = JSON.parse(line)?.type
    return typeof type === "string" ? type : undefined
  } catch {
    // a malformed recorded line is still replayed, named from its text when it can be
    return /"type"\s*:\s*"([^"]+)"/.exec(line)?.[1]
  }
}

/** Event steps from recorded payload lines (one JSON per line, blank lines skipped), each named after its `type`. */
export const replayLines = (lines: string | ReadonlyArray<string>): Array<Script.Step> => Script.replayLines(lines, lineType)

/** Recorded lines cut into one list per response, at each `response.created` (recordings of a tool loop hold several). */
export const splitResponses = (lines: string | ReadonlyArray<string>): Array<Array<string>> => {
  const responses: Array<Array<string>> = []
  for (const line of Script.recordedLines(lines)) {
    if (lineType(line) === "response.created" || responses.length === 0) responses.push([])
    responses[responses.length - 1].push(line)
  }
  return responses
}

/** A script sending a recorded raw SSE body as is. */
export const replayRaw = Script.replayRaw
