/**
 * Chat Completions stream events decoded into chunks. Each event is one `chat.completion.chunk`
 * (or an error object); the stream ends with `data: [DONE]`.
 */
import type { Chunk, HttpStream, Sse, StopReason } from "@reins/core"
import { HttpStream as Http, ProviderError, WireValue } from "@reins/core"

/** Maps a Chat Completions `finish_reason` to the common stop reason. */
export const stopReason = (raw: string): StopReason => {
  switch (raw) {
    case "stop":
    case "end_turn":
      return "stop"
    case "length":
      return "length"
    case "tool_calls":
    case "function_call":
      return "tool-calls"
    case "content_filter":
      return "content-filter"
    default:
      return "other"
  }
}

/** An error object sent inside the stream, as a typed error. */
export const streamError = (provider: string, error: any): ProviderError.ProviderStreamError =>
  ProviderError.fromErrorObject(provider, error)

const usage = (wire: any): Chunk.UsageChunk => {
  const cached = WireValue.count(wire.prompt_tokens_details?.cached_tokens ?? wire.cached_tokens)
  const reasoning = WireValue.count(wire.completion_tokens_details?.reasoning_tokens)
  const input = WireValue.count(wire.prompt_tokens) ?? 0
  let output = WireValue.count(wire.completion_tokens) ?? 0
  // OpenAI counts reasoning inside completion_tokens; some compatible servers (xAI) count it
  // beside, which their total_tokens shows. Output always includes reasoning here.
  if (typeof reasoning === "number" && wire.total_tokens === input + output + reasoning && reasoning > 0) output += reasoning
  return {
    _tag: "Usage",
    usage: {
      inputTokens: input,
      outputTokens: output,
      ...(typeof cached === "number" ? { cacheReadTokens: cached } : {}),
      ...(typeof reasoning === "number" ? { reasoningTokens: reasoning } : {})
    }
  }
}

/** The decoder for one Chat Completions response. */
export class ChatEventDecoder implements HttpStream.EventDecoder {
  private started = false
  /** The terminal event has been decoded. */
  done = false
  private finishReason: string | undefined
  private refused = false
  /** Tool calls by their wire `index`, with whether they have ended. */
  private readonly toolCalls = new Map<number, boolean>()

  constructor(
    private readonly provider: string,
    private readonly info: HttpStream.ResponseInfo
  ) {}

  readonly event = (event: Sse.SseEvent, out: Array<Chunk.Chunk>): void => {
    if (this.done) return
    const data = event.data
    if (data === "[DONE]") {
      this.done = true
      this.finish(out)
      return
    }
    // Chat Completions sends unnamed events; named ones (a proxy's `ping`, say) are not chunks.
    if (event.event !== "message" && event.event !== "error") return
    const json = Http.parseJson(this.provider, event)
    if (json === null || typeof json !== "object") return
    if (json.error !== undefined || event.event === "error") throw streamError(this.provider, json.error ?? json)
    if (!this.started) {
      this.started = true
      out.push({ _tag: "Start", responseId: WireValue.string(json.id), model: WireValue.string(json.model), requestId: this.info.requestId })
    }
    const choice = json.choices?.[0]
    if (choice !== undefined) {
      const delta = choice.delta
      if (delta != null) {
        const reasoning = delta.reasoning_content ?? delta.reasoning
        if (typeof reasoning === "string" && reasoning !== "") out.push({ _tag: "ReasoningDelta", text: reasoning })
        if (typeof delta.content === "string" && delta.content !== "") out.push({ _tag: "TextDelta", text: delta.content })
        // A refusal streams in its own field; it is the answer the user sees.
        if (typeof delta.refusal === "string" && delta.refusal !== "") {
          this.refused = true
          out.push({ _tag: "TextDelta", text: delta.refusal })
        }
        if (Array.isArray(delta.tool_calls)) this.toolCallDeltas(delta.tool_calls, out)
      }
      if (choice.usage != null) out.push(usage(choice.usage))
      if (typeof choice.finish_reason === "string") {
        this.finishReason = choice.finish_reason
        this.endToolCalls(out)
      }
    }
    if (json.usage != null) out.push(usage(json.usage))
  }

  readonly end = (out: Array<Chunk.Chunk>): void => {
    if (this.done) return
    // A server that closes cleanly after its finish reason without `[DONE]` has still said all it had.
    if (this.finishReason !== undefined) return this.finish(out)
    if (!this.started) throw new ProviderError.EmptyResponse({ provider: this.provider, message: "the stream ended before any event" })
    throw new ProviderError.ConnectionError({ provider: this.provider, message: "the stream ended before the response finished" })
  }

  private toolCallDeltas(calls: ReadonlyArray<any>, out: Array<Chunk.Chunk>) {
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]
      const index: number = typeof call.index === "number" ? call.index : i
      const args = call.function?.arguments
      if (!this.toolCalls.has(index)) {
        this.toolCalls.set(index, false)
        out.push({
          _tag: "ToolCallStart",
          index,
          id: typeof call.id === "string" && call.id !== "" ? call.id : `call_${index}`,
          name: WireValue.string(call.function?.name) ?? ""
        })
      }
      if (typeof args === "string" && args !== "") out.push({ _tag: "ToolCallDelta", index, delta: args })
    }
  }

  private endToolCalls(out: Array<Chunk.Chunk>) {
    for (const [index, ended] of this.toolCalls) {
      if (!ended) {
        this.toolCalls.set(index, true)
        out.push({ _tag: "ToolCallEnd", index })
      }
    }
  }

  private finish(out: Array<Chunk.Chunk>) {
    this.endToolCalls(out)
    const raw = this.finishReason
    if (raw === undefined && !this.started) {
      throw new ProviderError.EmptyResponse({ provider: this.provider, message: "the stream sent [DONE] and nothing else" })
    }
    let reason = raw === undefined ? "other" : stopReason(raw)
    // Some compatible servers say "stop" after tool calls; the caller must still run them.
    if (reason === "stop" && this.toolCalls.size > 0) reason = "tool-calls"
    if (reason === "stop" && this.refused) reason = "refusal"
    out.push({ _tag: "Finish", reason, raw })
  }
}
