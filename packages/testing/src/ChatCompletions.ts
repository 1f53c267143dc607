/**
 * Scripts and events in the OpenAI Chat Completions streaming wire format: `chat.completion.chunk`
 * objects sent as SSE `data:` events, closed by `data: [DONE]`, and OpenAI-style error bodies (`errorBody`) and error events (`errorEvent`).
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

export {
  /** `Script.split`, here too for this module's users: `text` in pieces of `size` code points. */
  split
} from "./Script.js"

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

/**
 * How an OpenAI-compatible server spells the deltas of its tool calls. OpenAI's own is one way;
 * compatible servers (local runtimes, gateways, other vendors) send the others.
 */
export type ToolCallDialect =
  /** OpenAI's: each call at its own `index`; `id`, `type` and `function.name` on its first delta only. */
  | "openai"
  /** Every call at `index` 0, told apart only by the distinct `id` on each call's first delta. */
  | "sameIndex"
  /** No `index` on any delta: a delta with an `id` starts the next call. */
  | "noIndex"
  /** `id`, `type` and `function.name` repeated on every delta of a call, not only the first. */
  | "repeatedHeader"
  /** A call's whole arguments in its one and only delta. */
  | "wholeArguments"
  /** No `id` on any delta, as a server that never sends one: the client has to make one up. */
  | "noId"

/** Every tool call dialect. */
export const toolCallDialects: ReadonlyArray<ToolCallDialect> = ["openai", "sameIndex", "noIndex", "repeatedHeader", "wholeArguments", "noId"]

/** A tool call to stream. */
export interface ToolCall extends ChunkOptions {
  readonly index?: number
  /** The call's id; not sent in the `noId` dialect. */
  readonly id: string
  readonly name: string
  /** The arguments JSON text (objects are stringified). */
  readonly arguments: string | object
  /** Code points of arguments per delta, 16 by default. */
  readonly chunkSize?: number
  /** How the deltas are spelled; `"openai"` by default. */
  readonly dialect?: ToolCallDialect
}

/**
 * Tool call deltas. In OpenAI's dialect the first carries index, id, type, name and empty
 * arguments, and later ones only the index and argument pieces; the other dialects change that as
 * `ToolCallDialect` says.
 */
export const toolCall = (call: ToolCall): Array<Script.Step> => {
  const dialect = call.dialect ?? "openai"
  const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments)
  const position = dialect === "noIndex" ? {} : { index: dialect === "sameIndex" ? 0 : call.index ?? 0 }
  const header = { ...(dialect === "noId" ? {} : { id: call.id }), type: "function" }
  const delta = (fields: Record<string, unknown>): Script.Step => Script.event(chunk({ tool_calls: [{ ...position, ...fields }] }, call))
  if (dialect === "wholeArguments") return [delta({ ...header, function: { name: call.name, arguments: args } })]
  const steps: Array<Script.Step> = [delta({ ...header, function: { name: call.name, arguments: "" } })]
  if (args !== "") {
    for (const piece of split(args, call.chunkSize ?? 16)) {
      steps.push(
        dialect === "repeatedHeader"
          ? delta({ ...header, function: { name: call.name, arguments: piece } })
          : delta({ function: { arguments: piece } })
      )
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

/** The options of `errorBody` and `errorEvent`: OpenAI's error `type` (from the status when absent) and `code`. */
export interface ErrorOptions {
  readonly type?: string
  readonly code?: string | null
}

const errorObject = (status: number, message: string, options: ErrorOptions | undefined) => ({
  message,
  type: options?.type ?? defaultErrorType(status),
  param: null,
  code: options?.code ?? null
})

/**
 * A non-2xx error response of `status` with OpenAI's body `{ error: { message, type, param: null, code } }`.
 *
 * @example
 * ```ts
 * import { ChatCompletions } from "@reins/testing"
 *
 * // A 429 asking for two seconds, and an error event for a stream that had started.
 * const limited = ChatCompletions.errorBody(429, "Rate limit reached", { code: "rate_limit_exceeded", headers: { "retry-after": "2" } })
 * const failed = ChatCompletions.errorEvent(500, "The server had an error while processing your request.")
 * console.log(limited.status, failed._tag) // 429 Event
 * ```
 */
export const errorBody = (
  status: number,
  message: string,
  options?: ErrorOptions & { readonly headers?: Readonly<Record<string, string>> | undefined }
): Script.Script => Script.body(status, { error: errorObject(status, message, options) }, options?.headers)

/**
 * An error sent mid-stream, as OpenAI-compatible servers do: `data: {"error": {message, type, param, code}}`,
 * its `type` taken from `status` when not given (500: `server_error`, 429: `requests`).
 */
export const errorEvent = (status: number, message: string, options?: ErrorOptions): Script.Step =>
  Script.event({ error: errorObject(status, message, options) })

/** What `reply` streams. */
export interface Reply extends ChunkOptions, Script.ReplyOptions {
  readonly text?: string
  readonly reasoning?: string
  readonly reasoningField?: "reasoning_content" | "reasoning"
  readonly toolCalls?: ReadonlyArray<Omit<ToolCall, "index"> & { readonly index?: number }>
  /** How every tool call's deltas are spelled (a call's own `dialect` wins); `"openai"` by default. */
  readonly toolCallDialect?: ToolCallDialect
  readonly usage?: Usage
  /**
   * Defaults to "tool_calls" when there are tool calls, else "stop" (which some compatible servers
   * send after tool calls too).
   */
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
  const dialect = Script.defined(options, ["toolCallDialect"])
  calls.forEach((call, i) => {
    events.push(...toolCall({ ...base, ...(dialect.toolCallDialect !== undefined ? { dialect: dialect.toolCallDialect } : {}), ...call, index: call.index ?? i }))
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
