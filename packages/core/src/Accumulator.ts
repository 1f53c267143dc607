/**
 * Folds a stream of chunks into an assistant message, and hands out the partial message at any
 * point: the message so far, or the message as it stands after an interruption.
 */
import type * as Chunk from "./Chunk.js"
import type * as Message from "./Message.js"
import type * as Part from "./Part.js"
import type { StopReason } from "./StopReason.js"
import * as Usage from "./Usage.js"

interface OpenToolCall {
  id: string
  name: string
  arguments: string
  metadata: Record<string, unknown> | undefined
  ended: boolean
}

type OpenPart =
  | { readonly _tag: "Text"; text: string; metadata: Record<string, unknown> | undefined }
  | {
    readonly _tag: "Reasoning"
    text: string
    signature: string | undefined
    redacted: boolean
    metadata: Record<string, unknown> | undefined
  }
  | { readonly _tag: "ToolCall"; readonly call: OpenToolCall }

/** Whether `next` gives a key of `current` another value: then the text belongs to another part. */
const conflicts = (current: Record<string, unknown> | undefined, next: Record<string, unknown> | undefined) => {
  if (current === undefined || next === undefined) return false
  for (const key in next) if (key in current && current[key] !== next[key]) return true
  return false
}

/**
 * A mutable fold of chunks into an assistant message. One per response; not shared across fibers.
 */
export class Accumulator {
  private readonly parts: Array<OpenPart> = []
  private readonly toolCalls = new Map<number, OpenToolCall>()
  private usage: Partial<Usage.Usage> = {}
  private stopReason: StopReason | undefined
  private rawStopReason: string | undefined
  private responseId: string | undefined
  private model: string
  private readonly provider: string

  constructor(options: { readonly provider: string; readonly model: string }) {
    this.provider = options.provider
    this.model = options.model
  }

  /** True once a `Finish` chunk arrived. */
  get finished(): boolean {
    return this.stopReason !== undefined
  }

  /** True once any content (text, reasoning or a tool call) arrived. */
  get hasContent(): boolean {
    return this.parts.length > 0
  }

  /** Adds one chunk. */
  add(chunk: Chunk.Chunk): void {
    switch (chunk._tag) {
      case "TextDelta": {
        const last = this.parts[this.parts.length - 1]
        const text = last?._tag === "Text" && !conflicts(last.metadata, chunk.metadata) ? last : this.pushText()
        text.text += chunk.text
        if (chunk.metadata !== undefined) text.metadata = { ...text.metadata, ...chunk.metadata }
        return
      }
      case "ReasoningDelta": {
        const last = this.parts[this.parts.length - 1]
        if (last?._tag === "Reasoning" && last.signature === undefined) last.text += chunk.text
        else this.parts.push({ _tag: "Reasoning", text: chunk.text, signature: undefined, redacted: false, metadata: undefined })
        return
      }
      case "ReasoningSignature": {
        const last = this.parts[this.parts.length - 1]
        const open = last?._tag === "Reasoning" && last.signature === undefined
          ? last
          : this.pushReasoning()
        open.signature = chunk.signature
        open.redacted = chunk.redacted === true
        open.metadata = chunk.metadata
        return
      }
      case "ToolCallStart": {
        const call: OpenToolCall = {
          id: chunk.id,
          name: chunk.name,
          arguments: "",
          metadata: chunk.metadata,
          ended: false
        }
        this.toolCalls.set(chunk.index, call)
        this.parts.push({ _tag: "ToolCall", call })
        return
      }
      case "ToolCallDelta": {
        const call = this.toolCalls.get(chunk.index)
        if (call !== undefined) call.arguments += chunk.delta
        return
      }
      case "ToolCallEnd": {
        const call = this.toolCalls.get(chunk.index)
        if (call !== undefined) {
          call.ended = true
          if (chunk.metadata !== undefined) call.metadata = { ...call.metadata, ...chunk.metadata }
        }
        return
      }
      case "Usage": {
        this.usage = { ...this.usage, ...chunk.usage }
        return
      }
      case "Start": {
        if (chunk.responseId !== undefined) this.responseId = chunk.responseId
        if (chunk.model !== undefined) this.model = chunk.model
        return
      }
      case "Finish": {
        this.stopReason = chunk.reason
        this.rawStopReason = chunk.raw
        for (const call of this.toolCalls.values()) call.ended = true
        return
      }
    }
  }

  /** Adds many chunks. */
  addAll(chunks: Iterable<Chunk.Chunk>): void {
    for (const chunk of chunks) this.add(chunk)
  }

  /**
   * The message as it stands. Before a `Finish` chunk its stop reason is `other`; use
   * `interrupted()` for a message cut short.
   *
   * @example
   * ```ts
   * import { Accumulator, Message } from "@reins/core"
   *
   * const acc = new Accumulator({ provider: "openai", model: "gpt-5-mini" })
   * acc.addAll([{ _tag: "TextDelta", text: "Hel" }, { _tag: "TextDelta", text: "lo" }, { _tag: "Finish", reason: "stop" }])
   * assert.strictEqual(Message.text(acc.message()), "Hello")
   * ```
   */
  message(): Message.Assistant {
    return this.build(this.stopReason ?? "other", false)
  }

  /**
   * The message as it stands after an interruption: `stopReason: "interrupted"`, tool calls whose
   * arguments never completed left out (they could not run), and output tokens estimated from what
   * arrived when the provider had not reported them.
   */
  interrupted(): Message.Assistant {
    return this.build("interrupted", true)
  }

  /** The message as it stands when the provider failed mid-stream: like `interrupted()`, with `stopReason: "error"`. */
  failed(): Message.Assistant {
    return this.build("error", true)
  }

  private pushText() {
    const part = { _tag: "Text" as const, text: "", metadata: undefined as Record<string, unknown> | undefined }
    this.parts.push(part)
    return part
  }

  private pushReasoning() {
    const part = { _tag: "Reasoning" as const, text: "", signature: undefined, redacted: false, metadata: undefined }
    this.parts.push(part)
    return part
  }

  private build(stopReason: StopReason, cut: boolean): Message.Assistant {
    const content: Array<Part.AssistantPart> = []
    let produced = ""
    for (const part of this.parts) {
      switch (part._tag) {
        case "Text":
          produced += part.text
          content.push({ _tag: "Text", text: part.text, ...(part.metadata !== undefined ? { metadata: part.metadata } : {}) })
          break
        case "Reasoning":
          produced += part.text
          content.push({
            _tag: "Reasoning",
            text: part.text,
            ...(part.signature !== undefined ? { signature: part.signature } : {}),
            ...(part.redacted ? { redacted: true } : {}),
            ...(part.metadata !== undefined ? { metadata: part.metadata } : {})
          })
          break
        case "ToolCall":
          produced += part.call.arguments
          if (cut && !part.call.ended) break
          content.push({
            _tag: "ToolCall",
            id: part.call.id,
            name: part.call.name,
            arguments: part.call.arguments,
            ...(part.call.metadata !== undefined ? { metadata: part.call.metadata } : {})
          })
      }
    }
    let usage = Usage.make(this.usage)
    if (cut && this.usage.outputTokens === undefined) {
      usage = { ...usage, outputTokens: Usage.estimateTokens(produced), estimated: true }
    }
    return {
      _tag: "Assistant",
      content,
      stopReason,
      ...(this.rawStopReason !== undefined && !cut ? { rawStopReason: this.rawStopReason } : {}),
      usage,
      provider: this.provider,
      model: this.model,
      ...(this.responseId !== undefined ? { responseId: this.responseId } : {})
    }
  }
}
