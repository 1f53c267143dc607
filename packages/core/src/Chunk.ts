/**
 * The one stream vocabulary that every provider emits. Plain tagged objects: a stream of thousands
 * of deltas allocates nothing more than the deltas themselves.
 */
import type { StopReason } from "./StopReason.js"
import type { Usage } from "./Usage.js"

/** The response began. */
export interface Start {
  readonly _tag: "Start"
  readonly responseId?: string | undefined
  readonly model?: string | undefined
  /** The provider's request id from the response headers, for support tickets. */
  readonly requestId?: string | undefined
}

/** More answer text. `metadata` is merged onto the text part it extends. */
export interface TextDelta {
  readonly _tag: "TextDelta"
  readonly text: string
  readonly metadata?: Record<string, unknown> | undefined
}

/** More reasoning text. */
export interface ReasoningDelta {
  readonly _tag: "ReasoningDelta"
  readonly text: string
}

/**
 * Closes the current reasoning block with the provider's opaque signature; `redacted` marks a block
 * whose content is only the encrypted signature.
 */
export interface ReasoningSignature {
  readonly _tag: "ReasoningSignature"
  readonly signature: string
  readonly redacted?: boolean | undefined
  readonly metadata?: Record<string, unknown> | undefined
}

/** A tool call began; later deltas for it carry the same `index`. */
export interface ToolCallStart {
  readonly _tag: "ToolCallStart"
  readonly index: number
  readonly id: string
  readonly name: string
  readonly metadata?: Record<string, unknown> | undefined
}

/** More of a tool call's JSON arguments. */
export interface ToolCallDelta {
  readonly _tag: "ToolCallDelta"
  readonly index: number
  readonly delta: string
}

/** A tool call's arguments are complete. */
export interface ToolCallEnd {
  readonly _tag: "ToolCallEnd"
  readonly index: number
  readonly metadata?: Record<string, unknown> | undefined
}

/** Token usage so far; later reports replace earlier ones field by field. */
export interface UsageChunk {
  readonly _tag: "Usage"
  readonly usage: Partial<Usage>
}

/** The response ended. */
export interface Finish {
  readonly _tag: "Finish"
  readonly reason: StopReason
  /** The provider's finish reason as sent. */
  readonly raw?: string | undefined
}

/** Any chunk. */
export type Chunk =
  | Start
  | TextDelta
  | ReasoningDelta
  | ReasoningSignature
  | ToolCallStart
  | ToolCallDelta
  | ToolCallEnd
  | UsageChunk
  | Finish
