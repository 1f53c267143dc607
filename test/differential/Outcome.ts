/**
 * What one side (Reins, or an official SDK) made of a stream, in one shape for both, and the
 * comparison of two of them field by field. The stop-reason mapping from each provider's own
 * vocabulary to Reins's is written here once, with the page that defines the provider's values.
 */
import type { StopReason } from "@reins/core"

/** A run of text or reasoning (adjacent pieces of one kind merged), or a tool call's place. */
export interface Piece {
  readonly kind: "text" | "reasoning" | "tool"
  readonly text: string
}

/** A tool call: `arguments` is the parsed JSON, or `{ unparsed }` with the text when it is not JSON. */
export interface ToolCall {
  /** `undefined` when the wire gave the call no id (each side then makes up its own). */
  readonly id: string | undefined
  readonly name: string
  readonly arguments: unknown
}

/** Token counts; `undefined` where a side does not expose the count. */
export interface Usage {
  readonly input: number | undefined
  readonly output: number | undefined
  readonly cacheRead: number | undefined
  readonly cacheWrite: number | undefined
  readonly reasoning: number | undefined
}

/** A finished message. */
export interface Message {
  readonly _tag: "Message"
  readonly pieces: ReadonlyArray<Piece>
  /** Every signature (reasoning, and on Gemini text and calls too), in order. */
  readonly signatures: ReadonlyArray<string>
  readonly toolCalls: ReadonlyArray<ToolCall>
  readonly usage: Usage
  readonly stopReason: StopReason
}

/** A stream that failed; `reason` is for the report only, the two sides word errors differently. */
export interface Failure {
  readonly _tag: "Failure"
  readonly reason: string
}

export type Outcome = Message | Failure

/** One piece of content before merging. */
export interface Unit {
  readonly kind: Piece["kind"]
  readonly text: string
}

/**
 * Adjacent units of one kind merged into one piece, their texts joined; empty text
 * and reasoning are left out, since a part with nothing in it carries only a signature, which is
 * compared on its own.
 */
export const pieces = (units: ReadonlyArray<Unit>): Array<Piece> => {
  const out: Array<{ kind: Piece["kind"]; text: string }> = []
  for (const unit of units) {
    if (unit.kind !== "tool" && unit.text === "") continue
    const last = out[out.length - 1]
    if (unit.kind !== "tool" && last?.kind === unit.kind) last.text += unit.text
    else out.push({ kind: unit.kind, text: unit.text })
  }
  return out
}

/** Whether `text` is one JSON value. */
export const isJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** A tool call's arguments as JSON, or what arrived when it is not JSON. */
export const parseArguments = (text: string): unknown => (isJson(text) ? JSON.parse(text) : { unparsed: text })

/** A failure from anything thrown. */
export const failure = (error: unknown): Failure => ({
  _tag: "Failure",
  reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error)
})

/**
 * Each provider's stop reasons in Reins's vocabulary, as the provider's reference defines them. The
 * rules that look beyond the raw value (a tool call seen, a refusal seen) are beside each format's
 * SDK fold.
 */
export const stopReasons = {
  /** https://platform.openai.com/docs/api-reference/chat/object (`finish_reason`) */
  chat: {
    stop: "stop",
    length: "length",
    tool_calls: "tool-calls",
    function_call: "tool-calls",
    content_filter: "content-filter"
  },
  /** https://docs.anthropic.com/en/api/handling-stop-reasons */
  anthropic: {
    end_turn: "stop",
    stop_sequence: "stop",
    max_tokens: "length",
    model_context_window_exceeded: "length",
    tool_use: "tool-calls",
    refusal: "refusal",
    pause_turn: "other"
  },
  /** https://ai.google.dev/api/generate-content#FinishReason */
  gemini: {
    STOP: "stop",
    MAX_TOKENS: "length",
    SAFETY: "content-filter",
    RECITATION: "content-filter",
    BLOCKLIST: "content-filter",
    PROHIBITED_CONTENT: "content-filter",
    SPII: "content-filter",
    IMAGE_SAFETY: "content-filter"
  },
  /** https://platform.openai.com/docs/api-reference/responses/object (`incomplete_details.reason`) */
  responsesIncomplete: {
    max_output_tokens: "length",
    content_filter: "content-filter"
  }
} as const satisfies Record<string, Record<string, StopReason>>

/** A raw reason looked up in one of the tables; anything the table does not name is `other`. */
export const mapStopReason = (table: Record<string, StopReason>, raw: string | null | undefined): StopReason =>
  raw != null && Object.hasOwn(table, raw) ? table[raw]! : "other"

/** One field on which the two sides differ. */
export interface Difference {
  /** A dotted path: `outcome`, `pieces`, `text`, `toolCalls.0.arguments`, `usage.output`, ... */
  readonly field: string
  readonly reins: unknown
  readonly sdk: unknown
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const joined = (message: Message, kind: Piece["kind"]) =>
  message.pieces.filter((piece) => piece.kind === kind).map((piece) => piece.text).join("")

/**
 * Every field on which `reins` and `sdk` differ. Two failures agree (the sides word errors
 * differently); counts one side does not expose are not compared.
 */
export const compare = (reins: Outcome, sdk: Outcome): Array<Difference> => {
  if (reins._tag !== sdk._tag) {
    return [{ field: "outcome", reins: reins._tag === "Failure" ? reins.reason : "Message", sdk: sdk._tag === "Failure" ? sdk.reason : "Message" }]
  }
  if (reins._tag === "Failure" || sdk._tag === "Failure") return []
  const out: Array<Difference> = []
  const check = (field: string, a: unknown, b: unknown) => {
    if (!same(a, b)) out.push({ field, reins: a, sdk: b })
  }
  check("text", joined(reins, "text"), joined(sdk, "text"))
  check("reasoning", joined(reins, "reasoning"), joined(sdk, "reasoning"))
  check("pieces", reins.pieces.map((piece) => piece.kind), sdk.pieces.map((piece) => piece.kind))
  if (same(reins.pieces.map((piece) => piece.kind), sdk.pieces.map((piece) => piece.kind))) {
    reins.pieces.forEach((piece, i) => check(`pieces.${i}.text`, piece.text, sdk.pieces[i]!.text))
  }
  check("signatures", reins.signatures, sdk.signatures)
  check("toolCalls.length", reins.toolCalls.length, sdk.toolCalls.length)
  reins.toolCalls.forEach((call, i) => {
    const other = sdk.toolCalls[i]
    if (other === undefined) return
    if (call.id !== undefined && other.id !== undefined) check(`toolCalls.${i}.id`, call.id, other.id)
    check(`toolCalls.${i}.name`, call.name, other.name)
    check(`toolCalls.${i}.arguments`, call.arguments, other.arguments)
  })
  for (const key of ["input", "output", "cacheRead", "cacheWrite", "reasoning"] as const) {
    if (reins.usage[key] !== undefined && sdk.usage[key] !== undefined) check(`usage.${key}`, reins.usage[key], sdk.usage[key])
  }
  check("stopReason", reins.stopReason, sdk.stopReason)
  return out
}
