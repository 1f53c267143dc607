/**
 * Scripts and events in the Gemini `streamGenerateContent?alt=sse` wire format: every SSE `data:` is
 * a whole `GenerateContentResponse` (the new parts of candidate 0, maybe its `finishReason`, the
 * cumulative `usageMetadata`), there is no terminator, and errors are Google's
 * `{ error: { code, message, status } }`, as bodies (`errorBody`) or mid-stream (`errorEvent`).
 */
import * as Script from "./Script.js"
import { split } from "./Script.js"

/** The fields every response repeats. */
export interface ResponseOptions {
  readonly responseId?: string
  readonly modelVersion?: string
}

/** Splitting of a text into parts: `chunkSize` characters (code points) per part. */
export interface SplitOptions extends ResponseOptions {
  readonly chunkSize?: number
}

const DEFAULT_RESPONSE_ID = "reins-gemini-test"
const DEFAULT_MODEL = "gemini-reins-test"

/** Token counts as `usageMetadata` reports them. */
export interface Usage {
  /** Includes `cachedContentTokenCount`. */
  readonly promptTokenCount: number
  /** Excludes `thoughtsTokenCount`. */
  readonly candidatesTokenCount?: number
  readonly thoughtsTokenCount?: number
  readonly cachedContentTokenCount?: number
}

/** The `usageMetadata` object, with its `totalTokenCount`. */
export const usageMetadata = (usage: Usage): Record<string, unknown> => ({
  promptTokenCount: usage.promptTokenCount,
  ...(usage.candidatesTokenCount !== undefined ? { candidatesTokenCount: usage.candidatesTokenCount } : {}),
  totalTokenCount: usage.promptTokenCount + (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0),
  ...(usage.cachedContentTokenCount !== undefined ? { cachedContentTokenCount: usage.cachedContentTokenCount } : {}),
  ...(usage.thoughtsTokenCount !== undefined ? { thoughtsTokenCount: usage.thoughtsTokenCount } : {})
})

/** A `GenerateContentResponse` whose candidate 0 holds `parts`. */
export const response = (
  parts: ReadonlyArray<Record<string, unknown>>,
  options?: ResponseOptions & { readonly finishReason?: string; readonly usage?: Usage }
): Record<string, unknown> => ({
  candidates: [{
    content: { role: "model", parts },
    ...(options?.finishReason !== undefined ? { finishReason: options.finishReason } : {}),
    index: 0
  }],
  ...(options?.usage !== undefined ? { usageMetadata: usageMetadata(options.usage) } : {}),
  modelVersion: options?.modelVersion ?? DEFAULT_MODEL,
  responseId: options?.responseId ?? DEFAULT_RESPONSE_ID
})

/** One event holding `parts`. */
export const event = (
  parts: ReadonlyArray<Record<string, unknown>>,
  options?: ResponseOptions & { readonly finishReason?: string; readonly usage?: Usage }
): Script.Step => Script.event(response(parts, options))

export {
  /** `Script.split`, here too for this module's users: `text` in pieces of `size` code points. */
  split
} from "./Script.js"

/**
 * Text parts spelling `content`, one event each. A `signature` comes as Gemini streams it: on a
 * last, empty text part.
 */
export const text = (content: string, options?: SplitOptions & { readonly signature?: string }): Array<Script.Step> => {
  const steps = content === "" ? [] : split(content, options?.chunkSize).map((piece) => event([{ text: piece }], options))
  if (options?.signature !== undefined) steps.push(event([{ text: "", thoughtSignature: options.signature }], options))
  return steps
}

/** Thought parts (`thought: true`) spelling `content`; a `signature` rides on the last one. */
export const thought = (content: string, options?: SplitOptions & { readonly signature?: string }): Array<Script.Step> => {
  const pieces = split(content, options?.chunkSize)
  return pieces.map((piece, i) =>
    event(
      [{
        text: piece,
        thought: true,
        ...(i === pieces.length - 1 && options?.signature !== undefined ? { thoughtSignature: options.signature } : {})
      }],
      options
    )
  )
}

/** A function call to send. */
export interface FunctionCall {
  readonly name: string
  readonly args?: Record<string, unknown>
  /** `functionCall.id`, which newer models send and older ones do not. */
  readonly id?: string
  /** Sent beside the `functionCall` (Gemini signs the first call of a step). */
  readonly thoughtSignature?: string
}

/** The part of a whole function call. */
export const functionCallPart = (call: FunctionCall): Record<string, unknown> => ({
  functionCall: {
    ...(call.id !== undefined ? { id: call.id } : {}),
    name: call.name,
    ...(call.args !== undefined ? { args: call.args } : {})
  },
  ...(call.thoughtSignature !== undefined ? { thoughtSignature: call.thoughtSignature } : {})
})

/** A whole function call in one event. */
export const functionCall = (call: FunctionCall, options?: ResponseOptions): Script.Step => event([functionCallPart(call)], options)

/** The `$.a.b[0]`-style path of a member under `parent`, quoting names that are not plain identifiers. */
const childPath = (parent: string, key: string | number): string =>
  typeof key === "number" ? `${parent}[${key}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${parent}.${key}` : `${parent}['${key.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}']`

/** The `partialArgs` that spell `value`, in order: strings in pieces, ended by an empty piece. */
const partialArgs = (path: string, value: unknown, size: number, out: Array<Record<string, unknown>>): void => {
  if (typeof value === "string") {
    for (const piece of value === "" ? [] : split(value, size)) out.push({ jsonPath: path, stringValue: piece, willContinue: true })
    out.push({ jsonPath: path, stringValue: "" })
  } else if (typeof value === "number") out.push({ jsonPath: path, numberValue: value })
  else if (typeof value === "boolean") out.push({ jsonPath: path, boolValue: value })
  else if (value === null) out.push({ jsonPath: path, nullValue: "NULL_VALUE" })
  else if (Array.isArray(value)) value.forEach((item, i) => partialArgs(childPath(path, i), item, size, out))
  else if (typeof value === "object") {
    for (const [key, item] of Object.entries(value)) partialArgs(childPath(path, key), item, size, out)
  }
}

/**
 * A function call with streamed arguments, as Gemini sends it when asked to stream them: a first
 * fragment with the name (`willContinue: true`), one fragment per `partialArgs` entry (a string in
 * pieces of `chunkSize`, closed by an empty piece), and an empty closing fragment.
 */
export const streamedFunctionCall = (call: FunctionCall & SplitOptions): Array<Script.Step> => {
  const first = {
    functionCall: { ...(call.id !== undefined ? { id: call.id } : {}), name: call.name, willContinue: true },
    ...(call.thoughtSignature !== undefined ? { thoughtSignature: call.thoughtSignature } : {})
  }
  const steps: Array<Script.Step> = [event([first], call)]
  const partial: Array<Record<string, unknown>> = []
  partialArgs("$", call.args ?? {}, call.chunkSize ?? 8, partial)
  for (const arg of partial) steps.push(event([{ functionCall: { partialArgs: [arg], willContinue: true } }], call))
  steps.push(event([{ functionCall: {} }], call))
  return steps
}

/** The last event: an empty text part with `finishReason` ("STOP", "MAX_TOKENS", "SAFETY", ...) and the usage. */
export const finish = (reason: string, options?: ResponseOptions & { readonly usage?: Usage }): Script.Step =>
  event([{ text: "" }], { ...options, finishReason: reason })

/** A usage-only event (no candidate content). */
export const usage = (counts: Usage, options?: ResponseOptions): Script.Step =>
  Script.event({
    usageMetadata: usageMetadata(counts),
    modelVersion: options?.modelVersion ?? DEFAULT_MODEL,
    responseId: options?.responseId ?? DEFAULT_RESPONSE_ID
  })

/** The only event for a blocked prompt: `promptFeedback.blockReason` ("SAFETY", "PROHIBITED_CONTENT", ...), no candidates. */
export const blocked = (blockReason: string, options?: ResponseOptions & { readonly usage?: Usage }): Script.Step =>
  Script.event({
    promptFeedback: { blockReason, safetyRatings: [] },
    ...(options?.usage !== undefined ? { usageMetadata: usageMetadata(options.usage) } : {}),
    modelVersion: options?.modelVersion ?? DEFAULT_MODEL,
    responseId: options?.responseId ?? DEFAULT_RESPONSE_ID
  })

/** Google's status name for an HTTP status code. */
export const statusName = (code: number): string => {
  switch (code) {
    case 400:
      return "INVALID_ARGUMENT"
    case 401:
      return "UNAUTHENTICATED"
    case 403:
      return "PERMISSION_DENIED"
    case 404:
      return "NOT_FOUND"
    case 429:
      return "RESOURCE_EXHAUSTED"
    case 499:
      return "CANCELLED"
    case 503:
      return "UNAVAILABLE"
    case 504:
      return "DEADLINE_EXCEEDED"
    default:
      return code >= 500 ? "INTERNAL" : "FAILED_PRECONDITION"
  }
}

/** Google's error object `{ code, message, status }`. */
const errorObject = (code: number, message: string, status: string | undefined): Record<string, unknown> => ({
  code,
  message,
  status: status ?? statusName(code)
})

/**
 * A non-2xx error response with Google's body `{ error: { code, message, status } }`: 429
 * RESOURCE_EXHAUSTED, 503 UNAVAILABLE, 400 INVALID_ARGUMENT, ... (`status` from `statusName` when not given).
 */
export const errorBody = (
  code: number,
  message: string,
  options?: { readonly status?: string; readonly headers?: Readonly<Record<string, string>> | undefined }
): Script.Script => Script.body(code, { error: errorObject(code, message, options?.status) }, options?.headers)

/** An error sent mid-stream, in a stream that had started: `data: {"error": {code, message, status}}`. */
export const errorEvent = (code: number, message: string, options?: { readonly status?: string }): Script.Step =>
  Script.event({ error: errorObject(code, message, options?.status) })

/** What `reply` streams. */
export interface Reply extends ResponseOptions, Script.ReplyOptions {
  readonly thought?: string
  readonly thoughtSignature?: string
  readonly text?: string
  /** Sent as Gemini streams it: on a last, empty text part. */
  readonly textSignature?: string
  readonly functionCalls?: ReadonlyArray<FunctionCall>
  /** Send the function calls' arguments as `partialArgs` fragments instead of whole `args`. */
  readonly streamArguments?: boolean
  readonly usage?: Usage
  /** "STOP" by default (Gemini says STOP after function calls too). */
  readonly finishReason?: string
}

/** A whole streamed reply: thoughts, text, function calls, and the finish event with the usage. */
export const reply = (options: Reply = {}): Script.Script => {
  const base = Script.defined(options, ["responseId", "modelVersion", "chunkSize"])
  const events: Array<Script.Step> = []
  if (options.thought !== undefined) {
    events.push(...thought(options.thought, options.thoughtSignature !== undefined ? { ...base, signature: options.thoughtSignature } : base))
  }
  if (options.text !== undefined) {
    events.push(...text(options.text, options.textSignature !== undefined ? { ...base, signature: options.textSignature } : base))
  }
  for (const call of options.functionCalls ?? []) {
    if (options.streamArguments === true) events.push(...streamedFunctionCall({ ...base, ...call }))
    else events.push(functionCall(call, base))
  }
  events.push(finish(options.finishReason ?? "STOP", options.usage !== undefined ? { ...base, usage: options.usage } : base))
  return Script.make(Script.spaced(events, options.deltaDelay), options)
}

/** Event steps from recorded `*.chunks.txt` lines (one JSON response per line; blank lines skipped). */
export const replayLines = (lines: string | ReadonlyArray<string>): Array<Script.Step> => Script.replayLines(lines)

/** A script sending a recorded raw SSE body as is. */
export const replayRaw = Script.replayRaw
