/**
 * Scripts and events in the OpenAI Chat Completions streaming wire format: `chat.completion.chunk`
 * objects sent as SSE `data:` events, closed by `data: [DONE]`, and OpenAI-style error bodies.
 */
import * as Script from "./Script.js"
import { split } from "./Script.js"

/** The fields every chunk repeats. */
export interface ChunkOptions {
  readonly id?: string
  readonly model?: string
  readonly created?: number
}

/** Splitting of a text into deltas: `chunkSize` characters (code points) per delta. */
export interface SplitOptions extends ChunkOptions {
  readonly chunkSize?: number
}

const DEFAULT_ID = "chatcmpl-reins-test"
const DEFAULT_MODEL = "reins-test-model"
const DEFAULT_CREATED = 1_700_000_000

/** A `chat.completion.chunk` object with one choice carrying `delta`. */
export const chunk = (
  delta: Record<string, unknown>,
  options?: ChunkOptions & { readonly finishReason?: string | null }
): Record<string, unknown> => ({
  id: options?.id ?? DEFAULT_ID,
  object: "chat.completion.chunk",
  created: options?.created ?? DEFAULT_CREATED,
  model: options?.model ?? DEFAULT_MODEL,
  choices: [{ index: 0, delta, finish_reason: options?.finishReason ?? null }]
})

/** `Script.split`, here too for this module's users: `text` in pieces of `size` code points. */
export { split } from "./Script.js"

/** The first event of a stream: the assistant role delta. */
export const start = (options?: ChunkOptions): Script.Step =>
  Script.event(chunk({ role: "assistant", content: "" }, options))

/** Content deltas spelling `text` (`chunkSize` code points each, 4 by default). */
export const text = (content: string, options?: SplitOptions): Array<Script.Step> =>
  content === "" ? [] : split(content, options?.chunkSize).map((piece) => Script.event(chunk({ content: piece }, options)))

/** Reasoning deltas spelling `text`, in `reasoning_content` (DeepSeek, Kimi) or `reasoning` (OpenRouter). */
export const reasoning = (
  content: string,
  options?: SplitOptions & { readonly field?: "reasoning_content" | "reasoning" }
): Array<Script.Step> => {
  const field = options?.field ?? "reasoning_content"
  return content === ""
    ? []
    : split(content, options?.chunkSize).map((piece) => Script.event(chunk({ [field]: piece }, options)))
}

/** A tool call to stream. */
export interface ToolCall extends ChunkOptions {
  readonly index?: number
  readonly id: string
  readonly name: string
  /** The arguments JSON text (objects are stringified). */
  readonly arguments: string | object
  /** Code points of arguments per delta, 16 by default. */
  readonly chunkSize?: number
}

/** Tool call deltas: the first carries id, type, name and empty arguments; later ones only argument pieces. */
export const toolCall = (call: ToolCall): Array<Script.Step> => {
  const index = call.index ?? 0
  const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments)
  const steps: Array<Script.Step> = [
    Script.event(
      chunk(
        { tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }] },
        call
      )
    )
  ]
  if (args !== "") {
    for (const piece of split(args, call.chunkSize ?? 16)) {
      steps.push(Script.event(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }, call)))
    }
  }
  return steps
}

/** The chunk carrying `choices[0].finish_reason` ("stop", "length", "tool_calls", "content_filter"). */
export const finish = (reason: string, options?: ChunkOptions): Script.Step =>
  Script.event(chunk({}, { ...options, finishReason: reason }))

/** Token counts for the usage chunk. */
export interface Usage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly cached_tokens?: number
  readonly reasoning_tokens?: number
}

/** The final usage chunk (`choices: []`), as sent with `stream_options.include_usage`. */
export const usage = (counts: Usage, options?: ChunkOptions): Script.Step =>
  Script.event({
    id: options?.id ?? DEFAULT_ID,
    object: "chat.completion.chunk",
    created: options?.created ?? DEFAULT_CREATED,
    model: options?.model ?? DEFAULT_MODEL,
    choices: [],
    usage: {
      prompt_tokens: counts.prompt_tokens,
      completion_tokens: counts.completion_tokens,
      total_tokens: counts.prompt_tokens + counts.completion_tokens,
      prompt_tokens_details: { cached_tokens: counts.cached_tokens ?? 0 },
      completion_tokens_details: { reasoning_tokens: counts.reasoning_tokens ?? 0 }
    }
  })

/** The `data: [DONE]` terminator. */
export const done: Script.Step = Script.event("[DONE]")

const defaultErrorType = (status: number): string =>
  status === 429 ? "requests" : status >= 500 ? "server_error" : status === 401 ? "authentication_error" : "invalid_request_error"

/** An error response with OpenAI's body `{ error: { message, type, param: null, code } }`. */
export const error = (
  status: number,
  message: string,
  options?: {
    readonly type?: string
    readonly code?: string | null
    readonly headers?: Readonly<Record<string, string>> | undefined
  }
): Script.Script =>
  Script.body(
    status,
    { error: { message, type: options?.type ?? defaultErrorType(status), param: null, code: options?.code ?? null } },
    options?.headers
  )

/** What `reply` streams. */
export interface Reply extends ChunkOptions, Script.ReplyOptions {
  readonly text?: string
  readonly reasoning?: string
  readonly reasoningField?: "reasoning_content" | "reasoning"
  readonly toolCalls?: ReadonlyArray<Omit<ToolCall, "index"> & { readonly index?: number }>
  readonly usage?: Usage
  /** Defaults to "tool_calls" when there are tool calls, else "stop". */
  readonly finishReason?: string
  /** Whether to close with `data: [DONE]` (default true). */
  readonly done?: boolean
}

/** A whole streamed reply: role, reasoning, text, tool calls, finish reason, usage and [DONE]. */
export const reply = (options: Reply = {}): Script.Script => {
  const base = Script.defined(options, ["id", "model", "created"])
  const splitOptions = Script.defined(options, ["id", "model", "created", "chunkSize"])
  const events: Array<Script.Step> = [start(base)]
  if (options.reasoning !== undefined) {
    events.push(...reasoning(options.reasoning, { ...splitOptions, field: options.reasoningField ?? "reasoning_content" }))
  }
  if (options.text !== undefined) events.push(...text(options.text, splitOptions))
  const calls = options.toolCalls ?? []
  calls.forEach((call, i) => {
    events.push(...toolCall({ ...base, ...call, index: call.index ?? i }))
  })
  events.push(finish(options.finishReason ?? (calls.length > 0 ? "tool_calls" : "stop"), base))
  if (options.usage !== undefined) events.push(usage(options.usage, base))
  if (options.done ?? true) events.push(done)
  return Script.make(Script.spaced(events, options.deltaDelay), options)
}

/** Event steps from recorded payload lines (one JSON per line; blank lines skipped), plus `[DONE]` unless `done: false`. */
export const replayLines = (
  lines: string | ReadonlyArray<string>,
  options?: { readonly done?: boolean }
): Array<Script.Step> => [...Script.replayLines(lines), ...(options?.done ?? true ? [done] : [])]

/** A script sending a recorded raw SSE body as is. */
export const replayRaw = Script.replayRaw
