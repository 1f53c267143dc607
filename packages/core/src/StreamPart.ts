/**
 * The one stream vocabulary that every provider emits. Text, reasoning and tool calls each come as
 * a start, deltas and an end that share an id unique within the response, so that a consumer (the
 * Accumulator, a UI protocol) folds them by id and never has to guess where one part stops and the
 * next begins. Plain tagged objects: a stream of thousands of deltas allocates nothing more than the
 * deltas themselves.
 */
import type { StopReason } from "./StopReason.js"
import type { Usage as UsageCounts } from "./Usage.js"

/** The response began. */
export interface Start {
  readonly _tag: "Start"
  readonly responseId?: string | undefined
  readonly model?: string | undefined
  /** The provider's request id from the response headers, for support tickets. */
  readonly requestId?: string | undefined
}

/** A text part began. `metadata` is kept on the part (a phase, a signature that came first). */
export interface TextStart {
  readonly _tag: "TextStart"
  readonly id: string
  readonly metadata?: Record<string, unknown> | undefined
}

/** More text of the part `id`. */
export interface TextDelta {
  readonly _tag: "TextDelta"
  readonly id: string
  readonly text: string
}

/** The text part `id` is complete; `metadata` is merged onto it. */
export interface TextEnd {
  readonly _tag: "TextEnd"
  readonly id: string
  readonly metadata?: Record<string, unknown> | undefined
}

/** A reasoning part began. */
export interface ReasoningStart {
  readonly _tag: "ReasoningStart"
  readonly id: string
  readonly metadata?: Record<string, unknown> | undefined
}

/** More reasoning text of the part `id`. */
export interface ReasoningDelta {
  readonly _tag: "ReasoningDelta"
  readonly id: string
  readonly text: string
}

/**
 * The reasoning part `id` is complete, with the provider's opaque `signature` that lets it go back
 * in the next request; `redacted` marks a part whose content is only that encrypted signature.
 */
export interface ReasoningEnd {
  readonly _tag: "ReasoningEnd"
  readonly id: string
  readonly signature?: string | undefined
  readonly redacted?: boolean | undefined
  readonly metadata?: Record<string, unknown> | undefined
}

/** A tool call began; `id` is its call id. */
export interface ToolCallStart {
  readonly _tag: "ToolCallStart"
  readonly id: string
  readonly name: string
  readonly metadata?: Record<string, unknown> | undefined
}

/** More of a tool call's JSON arguments. */
export interface ToolCallDelta {
  readonly _tag: "ToolCallDelta"
  readonly id: string
  readonly delta: string
}

/** A tool call's arguments are complete: the call can run. */
export interface ToolCallEnd {
  readonly _tag: "ToolCallEnd"
  readonly id: string
  readonly metadata?: Record<string, unknown> | undefined
}

/** Token usage so far; later reports replace earlier ones field by field. */
export interface Usage {
  readonly _tag: "Usage"
  readonly usage: Partial<UsageCounts>
}

/** The response ended. Every part a provider started has been ended before it. */
export interface Finish {
  readonly _tag: "Finish"
  readonly reason: StopReason
  /** The provider's finish reason as sent. */
  readonly raw?: string | undefined
}

/** Any part of a response stream. */
export type StreamPart =
  | Start
  | TextStart
  | TextDelta
  | TextEnd
  | ReasoningStart
  | ReasoningDelta
  | ReasoningEnd
  | ToolCallStart
  | ToolCallDelta
  | ToolCallEnd
  | Usage
  | Finish
