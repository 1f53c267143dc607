/**
 * Folds a stream of parts into an assistant message, and hands out the partial message at any
 * point: the message so far, or the message as it stands after an interruption.
 */
import type * as Message from "./Message.js"
import type * as Part from "./Part.js"
import type { StopReason } from "./StopReason.js"
import type * as StreamPart from "./StreamPart.js"
import * as Usage from "./Usage.js"

type Metadata = Record<string, unknown> | undefined

interface OpenText {
  readonly _tag: "Text"
  text: string
  metadata: Metadata
}

interface OpenReasoning {
  readonly _tag: "Reasoning"
  text: string
  signature: string | undefined
  redacted: boolean
  metadata: Metadata
}

interface OpenToolCall {
  readonly _tag: "ToolCall"
  readonly id: string
  name: string
  arguments: string
  metadata: Metadata
  ended: boolean
}

type OpenPart = OpenText | OpenReasoning | OpenToolCall

const merge = (current: Metadata, next: Metadata): Metadata =>
  next === undefined ? current : current === undefined ? next : { ...current, ...next }

/**
 * A mutable fold of stream parts into an assistant message, by part id. One per response; not
 * shared across fibers. Parts take their place in the message in the order they started. A delta
 * for an id that was never started opens its part, so that hand-written streams need no starts;
 * a part that never ended is kept as it stands, except a tool call, which could not run.
 */
export class Accumulator {
  private readonly parts: Array<OpenPart> = []
  // Text, reasoning and tool-call ids are apart: a provider may number its blocks and name its calls alike.
  private readonly texts = new Map<string, OpenText>()
  private readonly reasonings = new Map<string, OpenReasoning>()
  private readonly toolCalls = new Map<string, OpenToolCall>()
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

  /** True once a `Finish` part arrived. */
  get finished(): boolean {
    return this.stopReason !== undefined
  }

  /** True once any content (text, reasoning or a tool call) arrived. */
  get hasContent(): boolean {
    return this.parts.length > 0
  }

  /** Adds one part. */
  add(part: StreamPart.StreamPart): void {
    switch (part._tag) {
      case "TextDelta": {
        const text = this.texts.get(part.id) ?? this.openText(part.id, undefined)
        text.text += part.text
        return
      }
      case "ReasoningDelta": {
        const reasoning = this.reasonings.get(part.id) ?? this.openReasoning(part.id, undefined)
        reasoning.text += part.text
        return
      }
      case "ToolCallDelta": {
        const call = this.toolCalls.get(part.id) ?? this.openToolCall(part.id, "", undefined)
        // Arguments are fixed once the call ended: it may already be running.
        if (!call.ended) call.arguments += part.delta
        return
      }
      case "TextStart": {
        this.openText(part.id, part.metadata)
        return
      }
      case "TextEnd": {
        const text = this.texts.get(part.id) ?? this.openText(part.id, undefined)
        text.metadata = merge(text.metadata, part.metadata)
        return
      }
      case "ReasoningStart": {
        this.openReasoning(part.id, part.metadata)
        return
      }
      case "ReasoningEnd": {
        const reasoning = this.reasonings.get(part.id) ?? this.openReasoning(part.id, undefined)
        if (part.signature !== undefined) reasoning.signature = part.signature
        if (part.redacted === true) reasoning.redacted = true
        reasoning.metadata = merge(reasoning.metadata, part.metadata)
        return
      }
      case "ToolCallStart": {
        this.openToolCall(part.id, part.name, part.metadata)
        return
      }
      case "ToolCallEnd": {
        const call = this.toolCalls.get(part.id) ?? this.openToolCall(part.id, "", undefined)
        call.ended = true
        call.metadata = merge(call.metadata, part.metadata)
        return
      }
      case "Usage": {
        this.usage = { ...this.usage, ...part.usage }
        return
      }
      case "Start": {
        if (part.responseId !== undefined) this.responseId = part.responseId
        if (part.model !== undefined) this.model = part.model
        return
      }
      case "Finish": {
        this.stopReason = part.reason
        this.rawStopReason = part.raw
        for (const call of this.toolCalls.values()) call.ended = true
        return
      }
    }
  }

  /** Adds many parts. */
  addAll(parts: Iterable<StreamPart.StreamPart>): void {
    for (const part of parts) this.add(part)
  }

  /** The tool call `id` as it stands, or `undefined` when no part has that id. */
  toolCall(id: string): Part.ToolCall | undefined {
    const call = this.toolCalls.get(id)
    return call === undefined ? undefined : toolCallPart(call)
  }

  /**
   * The message as it stands. Before a `Finish` part its stop reason is `other`; use
   * `interrupted()` for a message cut short.
   *
   * @example
   * ```ts
   * import { Accumulator, Message } from "@reins/core"
   *
   * const acc = new Accumulator({ provider: "openai", model: "gpt-5-mini" })
   * acc.addAll([
   *   { _tag: "TextStart", id: "t" },
   *   { _tag: "TextDelta", id: "t", text: "Hel" },
   *   { _tag: "TextDelta", id: "t", text: "lo" },
   *   { _tag: "TextEnd", id: "t" },
   *   { _tag: "Finish", reason: "stop" }
   * ])
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

  private openText(id: string, metadata: Metadata): OpenText {
    const part: OpenText = { _tag: "Text", text: "", metadata }
    this.texts.set(id, part)
    this.parts.push(part)
    return part
  }

  private openReasoning(id: string, metadata: Metadata): OpenReasoning {
    const part: OpenReasoning = { _tag: "Reasoning", text: "", signature: undefined, redacted: false, metadata }
    this.reasonings.set(id, part)
    this.parts.push(part)
    return part
  }

  private openToolCall(id: string, name: string, metadata: Metadata): OpenToolCall {
    const part: OpenToolCall = { _tag: "ToolCall", id, name, arguments: "", metadata, ended: false }
    this.toolCalls.set(id, part)
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
          produced += part.arguments
          if (cut && !part.ended) break
          content.push(toolCallPart(part))
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

const toolCallPart = (call: OpenToolCall): Part.ToolCall => ({
  _tag: "ToolCall",
  id: call.id,
  name: call.name,
  arguments: call.arguments,
  ...(call.metadata !== undefined ? { metadata: call.metadata } : {})
})
