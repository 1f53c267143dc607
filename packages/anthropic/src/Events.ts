/**
 * Anthropic Messages stream events decoded into stream parts. A response is `message_start`, then
 * content blocks (`content_block_start`, `content_block_delta`..., `content_block_stop`), then
 * `message_delta` (stop reason, output usage) and the terminal `message_stop`; `ping` and `error`
 * may come at any point. Each block is a part; its id is the block's index (a tool call's is its
 * `tool_use` id), and `content_block_stop` ends it.
 */
import type { Sse, StopReason, StreamPart, Usage } from "@reins/core"
import { Decoder, ProviderError } from "@reins/core"
import * as WireValue from "@reins/core/internal/WireValue"

/** Maps an Anthropic `stop_reason` to the common stop reason. */
export const stopReason = (raw: string): StopReason => {
  switch (raw) {
    case "end_turn":
    case "stop_sequence":
      return "stop"
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length"
    case "tool_use":
      return "tool-calls"
    case "refusal":
      return "refusal"
    default:
      // pause_turn (a server tool loop paused; send the turn back to continue) and anything newer
      return "other"
  }
}

/** What a content block is, by its wire index. */
type Block =
  | { readonly kind: "text" | "thinking" | "redacted"; readonly id: string; ended: boolean }
  | { readonly kind: "skip" }
  | { readonly kind: "tool"; readonly id: string; readonly input: unknown; streamed: boolean; ended: boolean }

/**
 * The decoder for one Messages response.
 *
 * A tool call whose input streams no JSON at all (a tool without parameters) gets the arguments
 * `"{}"`, so its arguments always parse. A second `message_start` for another message while the first
 * is still open (an intermediary that lost its upstream and spliced a retried response into the
 * same body) fails the stream with a `ProtocolError`: merging the two would mix two responses'
 * signed thinking into one message that the API then refuses to take back. A repeated
 * `message_start` for the same message is ignored.
 */
export class MessagesEventDecoder implements Decoder.EventDecoder {
  private messageId: string | undefined
  private started = false
  /** The terminal event has been decoded. */
  done = false
  private rawStopReason: string | undefined
  private readonly blocks = new Map<number, Block>()
  /** The latest raw input counts; `message_delta` may repeat some of them, cumulatively. */
  private inputTokens = 0
  private cacheReadTokens = 0
  private cacheWriteTokens = 0

  constructor(
    private readonly provider: string,
    private readonly info: Decoder.ResponseInfo
  ) {}

  readonly event = (event: Sse.SseEvent, out: Array<StreamPart.StreamPart>): void => {
    if (this.done) return
    const json = Decoder.parseObject(this.provider, event)
    if (json === undefined) return
    const error = Decoder.errorIn(this.provider, json)
    if (error !== undefined) throw error
    const type = typeof json.type === "string" ? json.type : event.event
    switch (type) {
      case "content_block_delta":
        return this.delta(json, out)
      case "content_block_start":
        return this.blockStart(json, out)
      case "content_block_stop":
        return this.blockStop(json, out)
      case "message_start":
        return this.messageStart(json, event, out)
      case "message_delta":
        return this.messageDelta(json, out)
      case "message_stop":
        this.done = true
        this.endBlocks(out)
        out.push({ _tag: "Finish", reason: this.rawStopReason === undefined ? "other" : stopReason(this.rawStopReason), raw: this.rawStopReason })
        return
      case "error":
        throw Decoder.streamError(this.provider, json)
      default:
        // ping, and event types newer than this decoder
        return
    }
  }

  readonly end = (out: Array<StreamPart.StreamPart>): void => {
    if (this.done) return
    // A server that closes cleanly after its stop reason without `message_stop` has said all it had.
    if (this.rawStopReason !== undefined) {
      this.done = true
      this.endBlocks(out)
      out.push({ _tag: "Finish", reason: stopReason(this.rawStopReason), raw: this.rawStopReason })
      return
    }
    throw Decoder.cutShort(this.provider, this.started)
  }

  private messageStart(json: any, event: Sse.SseEvent, out: Array<StreamPart.StreamPart>) {
    const message = json.message ?? {}
    const id = WireValue.string(message.id)
    if (this.started) {
      if (id === this.messageId) return
      throw new ProviderError.ProtocolError({
        provider: this.provider,
        message: `a second message_start (${id ?? "no id"}) arrived while ${this.messageId ?? "the first message"} was still open`,
        excerpt: ProviderError.excerpt(event.data, 256)
      })
    }
    this.started = true
    this.messageId = id
    out.push({ _tag: "Start", responseId: id, model: WireValue.string(message.model), requestId: this.info.requestId })
    // Input usage is known now: reported at once, it survives an interruption later on. Output
    // usage is not: a stopped stream's output is estimated from what arrived instead.
    if (message.usage != null) out.push({ _tag: "Usage", usage: this.input(message.usage) })
  }

  private input(usage: any): Partial<Usage.Usage> {
    this.inputTokens = WireValue.count(usage.input_tokens) ?? this.inputTokens
    this.cacheReadTokens = WireValue.count(usage.cache_read_input_tokens) ?? this.cacheReadTokens
    this.cacheWriteTokens = WireValue.count(usage.cache_creation_input_tokens) ?? this.cacheWriteTokens
    return {
      inputTokens: this.inputTokens + this.cacheReadTokens + this.cacheWriteTokens,
      cacheReadTokens: this.cacheReadTokens,
      cacheWriteTokens: this.cacheWriteTokens
    }
  }

  private messageDelta(json: any, out: Array<StreamPart.StreamPart>) {
    const raw = json.delta?.stop_reason
    if (typeof raw === "string") this.rawStopReason = raw
    const usage = json.usage
    if (usage == null) return
    // message_delta counts are cumulative; with server tools the input grows past message_start's.
    const hasInput = usage.input_tokens != null || usage.cache_read_input_tokens != null || usage.cache_creation_input_tokens != null
    const output = WireValue.count(usage.output_tokens)
    const reasoning = WireValue.count(usage.output_tokens_details?.thinking_tokens)
    out.push({
      _tag: "Usage",
      usage: {
        ...(hasInput ? this.input(usage) : {}),
        ...(output !== undefined ? { outputTokens: output } : {}),
        ...(reasoning !== undefined ? { reasoningTokens: reasoning } : {})
      }
    })
  }

  private blockStart(json: any, out: Array<StreamPart.StreamPart>) {
    const index: number = json.index
    const block = json.content_block ?? {}
    const id = String(index)
    switch (block.type) {
      case "text":
        this.blocks.set(index, { kind: "text", id, ended: false })
        out.push({ _tag: "TextStart", id })
        if (typeof block.text === "string" && block.text !== "") out.push({ _tag: "TextDelta", id, text: block.text })
        return
      case "thinking": {
        const part: Block = { kind: "thinking", id, ended: false }
        this.blocks.set(index, part)
        out.push({ _tag: "ReasoningStart", id })
        if (typeof block.thinking === "string" && block.thinking !== "") out.push({ _tag: "ReasoningDelta", id, text: block.thinking })
        if (typeof block.signature === "string" && block.signature !== "") this.sign(part, block.signature, out)
        return
      }
      case "redacted_thinking":
        this.blocks.set(index, { kind: "redacted", id, ended: true })
        out.push({ _tag: "ReasoningStart", id })
        out.push({ _tag: "ReasoningEnd", id, signature: String(block.data ?? ""), redacted: true })
        return
      case "tool_use": {
        const callId = String(block.id ?? `toolu_${index}`)
        this.blocks.set(index, { kind: "tool", id: callId, input: block.input, streamed: false, ended: false })
        out.push({ _tag: "ToolCallStart", id: callId, name: String(block.name ?? "") })
        return
      }
      default:
        // server_tool_use, web_search_tool_result and other blocks the provider runs or shows itself
        this.blocks.set(index, { kind: "skip" })
    }
  }

  private delta(json: any, out: Array<StreamPart.StreamPart>) {
    const block = this.blocks.get(json.index)
    const delta = json.delta
    if (block === undefined || block.kind === "skip" || block.ended || delta == null) return
    switch (delta.type) {
      case "text_delta":
        if (block.kind === "text" && typeof delta.text === "string" && delta.text !== "") out.push({ _tag: "TextDelta", id: block.id, text: delta.text })
        return
      case "thinking_delta":
        if (block.kind === "thinking" && typeof delta.thinking === "string" && delta.thinking !== "") {
          out.push({ _tag: "ReasoningDelta", id: block.id, text: delta.thinking })
        }
        return
      case "signature_delta":
        if (block.kind === "thinking" && typeof delta.signature === "string" && delta.signature !== "") this.sign(block, delta.signature, out)
        return
      case "input_json_delta":
        if (block.kind === "tool" && typeof delta.partial_json === "string" && delta.partial_json !== "") {
          block.streamed = true
          out.push({ _tag: "ToolCallDelta", id: block.id, delta: delta.partial_json })
        }
        return
      default:
        // citations_delta and newer delta types
        return
    }
  }

  /**
   * The signature is a thinking block's last delta, so it ends the part at once: a stop before
   * `content_block_stop` still keeps the signed thinking.
   */
  private sign(block: { readonly id: string; ended: boolean }, signature: string, out: Array<StreamPart.StreamPart>) {
    block.ended = true
    out.push({ _tag: "ReasoningEnd", id: block.id, signature })
  }

  private blockStop(json: any, out: Array<StreamPart.StreamPart>) {
    const block = this.blocks.get(json.index)
    if (block !== undefined) this.endBlock(block, out)
  }

  private endBlock(block: Block, out: Array<StreamPart.StreamPart>) {
    if (block.kind === "skip" || block.ended) return
    block.ended = true
    switch (block.kind) {
      case "text":
        out.push({ _tag: "TextEnd", id: block.id })
        return
      case "thinking":
      case "redacted":
        out.push({ _tag: "ReasoningEnd", id: block.id })
        return
      case "tool": {
        if (!block.streamed) {
          const input = block.input
          const whole = input !== null && typeof input === "object" && Object.keys(input).length > 0
          out.push({ _tag: "ToolCallDelta", id: block.id, delta: whole ? JSON.stringify(input) : "{}" })
        }
        out.push({ _tag: "ToolCallEnd", id: block.id })
      }
    }
  }

  /** Ends the blocks a stream left open, so that every part is ended before the finish. */
  private endBlocks(out: Array<StreamPart.StreamPart>) {
    for (const block of this.blocks.values()) this.endBlock(block, out)
  }
}
