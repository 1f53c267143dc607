/**
 * OpenAI Responses stream events decoded into chunks. Each SSE event is one JSON object whose
 * `type` names it (`response.output_text.delta`, ...); the stream ends with `response.completed`,
 * `response.incomplete` or `response.failed`. Output items (reasoning, messages, function calls)
 * are announced by `response.output_item.added`, streamed by their own delta events, and closed
 * by `response.output_item.done`, which carries the finished item.
 */
import type { Chunk, HttpStream, Sse, StopReason } from "@reins/core"
import { HttpStream as Http, ProviderError } from "@reins/core"
import * as WireValue from "@reins/core/internal/WireValue"
import { customToolKey } from "./Request.js"

/** Maps an incomplete response's `incomplete_details.reason` to the common stop reason. */
export const incompleteReason = (raw: string | undefined): StopReason => {
  switch (raw) {
    case "max_output_tokens":
      return "length"
    case "content_filter":
      return "content-filter"
    default:
      return "other"
  }
}

/**
 * An error reported inside the stream (an `error` event, or the `error` of a failed response), as a
 * typed error. The error may be nested (`{ error: { code, message } }`) or spread on the event.
 */
export const streamError = (provider: string, error: any, raw: unknown = error): ProviderError.ProviderStreamError =>
  ProviderError.fromErrorObject(provider, error, raw)

const usage = (wire: any): Chunk.UsageChunk => {
  const cached = WireValue.count(wire.input_tokens_details?.cached_tokens)
  const reasoning = WireValue.count(wire.output_tokens_details?.reasoning_tokens)
  return {
    _tag: "Usage",
    usage: {
      inputTokens: WireValue.count(wire.input_tokens) ?? 0,
      outputTokens: WireValue.count(wire.output_tokens) ?? 0,
      ...(typeof cached === "number" ? { cacheReadTokens: cached } : {}),
      ...(typeof reasoning === "number" ? { reasoningTokens: reasoning } : {})
    }
  }
}

/** The part of `full` not yet sent, when what was sent is its beginning (deltas can be missing). */
const rest = (sent: string, full: unknown): string =>
  typeof full === "string" && full.length > sent.length && full.startsWith(sent) ? full.slice(sent.length) : ""

/** A JSON string's inside: pieces of it concatenate to the encoding of the whole. */
const jsonPiece = (text: string): string => JSON.stringify(text).slice(1, -1)

interface FunctionCall {
  readonly kind: "function"
  readonly itemId: string | undefined
  readonly callId: string
  readonly name: string
  /** Held back until done: a `multi_tool_use.parallel` wrapper is expanded into its calls. */
  readonly wrapper: boolean
  index: number
  args: string
  ended: boolean
}

interface CustomCall {
  readonly kind: "custom"
  readonly index: number
  input: string
  ended: boolean
}

interface Reasoning {
  readonly kind: "reasoning"
  /** Text sent per summary (or content) part. */
  readonly parts: Map<string, Sent>
}

interface OutputMessage {
  readonly kind: "message"
  readonly phase: string | undefined
  /** Text sent per content part. */
  readonly parts: Map<number, Sent>
  metadataSent: boolean
}

/** A message's content part that text was last sent for. */
interface TextPart {
  readonly key: string
  readonly index: number
  readonly state: OutputMessage
  readonly sent: Sent
}

/** The text sent for one part, kept in pieces until it is read: a part is read only when it is done. */
class Sent {
  private pieces: Array<string> = []
  add(piece: string) {
    this.pieces.push(piece)
  }
  get text(): string {
    if (this.pieces.length > 1) this.pieces = [this.pieces.join("")]
    return this.pieces[0] ?? ""
  }
}

type Item = FunctionCall | CustomCall | Reasoning | OutputMessage

/** What the decoder needs to know about the request. */
export interface DecoderOptions {
  /** The tools the request declared, so that a declared tool named `parallel` is never unwrapped. */
  readonly toolNames?: ReadonlySet<string> | undefined
}

const WRAPPER = "multi_tool_use.parallel"

/** The decoder for one Responses stream. */
export class ResponsesEventDecoder implements HttpStream.EventDecoder {
  private started = false
  /** The terminal event has been decoded. */
  done = false
  private sawToolCall = false
  private sawRefusal = false
  private nextIndex = 0
  private readonly items = new Map<string, Item>()
  /**
   * The text or reasoning stream the last delta extended (item and part). Deltas from another item
   * (or another summary part) start with a blank line, because the accumulator would otherwise glue
   * them to the open part.
   */
  private openKind: "text" | "reasoning" | undefined
  private openKey = ""
  private openPart = ""
  /** Nearly every text delta extends the same part as the one before: it is found without a lookup. */
  private lastText: TextPart | undefined

  constructor(
    private readonly provider: string,
    private readonly info: HttpStream.ResponseInfo,
    private readonly options: DecoderOptions = {}
  ) {}

  readonly event = (event: Sse.SseEvent, out: Array<Chunk.Chunk>): void => {
    if (this.done) return
    const data = event.data
    if (data === "" || data === "[DONE]") return
    const json = Http.parseJson(this.provider, event)
    if (json === null || typeof json !== "object") return
    const type: unknown = json.type ?? event.event
    // An `{ error }` object with no type, as gateways send, is an error event too.
    if (type === "message" && json.error != null) throw streamError(this.provider, json.error, json)
    switch (type) {
      case "response.created":
      case "response.in_progress":
      case "response.queued":
        return this.start(json.response, out)
      case "response.output_item.added":
        return this.itemAdded(json, out)
      case "response.output_item.done":
        return this.itemDone(json, out)
      case "response.output_text.delta":
        return this.text(json, json.delta, out)
      case "response.output_text.done":
        return this.text(json, rest(this.textSent(this.key(json), json.content_index ?? 0), json.text), out)
      case "response.refusal.delta":
        this.sawRefusal = true
        return this.text(json, json.delta, out)
      case "response.refusal.done":
        this.sawRefusal = true
        return this.text(json, rest(this.textSent(this.key(json), json.content_index ?? 0), json.refusal), out)
      case "response.reasoning_summary_text.delta":
        return this.reasoning(json, `s${json.summary_index ?? 0}`, json.delta, out)
      case "response.reasoning_summary_text.done": {
        const part = `s${json.summary_index ?? 0}`
        return this.reasoning(json, part, rest(this.reasoningSent(json, part), json.text), out)
      }
      case "response.reasoning_text.delta":
        // Raw reasoning, sent by open-weight models behind compatible servers.
        return this.reasoning(json, `c${json.content_index ?? 0}`, json.delta, out)
      case "response.reasoning_text.done": {
        const part = `c${json.content_index ?? 0}`
        return this.reasoning(json, part, rest(this.reasoningSent(json, part), json.text), out)
      }
      case "response.function_call_arguments.delta": {
        const call = this.items.get(this.key(json))
        if (call?.kind === "function" && typeof json.delta === "string") this.functionArgs(call, json.delta, out)
        return
      }
      case "response.function_call_arguments.done": {
        const call = this.items.get(this.key(json))
        if (call?.kind === "function") this.functionArgs(call, rest(call.args, json.arguments), out)
        return
      }
      case "response.custom_tool_call_input.delta": {
        const call = this.items.get(this.key(json))
        if (call?.kind === "custom" && typeof json.delta === "string") this.customInput(call, json.delta, out)
        return
      }
      case "response.custom_tool_call_input.done": {
        const call = this.items.get(this.key(json))
        if (call?.kind === "custom") this.customInput(call, rest(call.input, json.input), out)
        return
      }
      case "response.completed":
        return this.finish(json.response, out, false)
      case "response.incomplete":
        return this.finish(json.response, out, true)
      case "response.failed": {
        // The API sends `error` first when it has one; this is for a failure that comes alone.
        const error = json.response?.error
        throw streamError(this.provider, error ?? { message: "the response failed" }, json)
      }
      case "error":
        throw streamError(this.provider, json.error ?? json, json)
      default:
        // keep-alives, web search progress, annotations, content part boundaries and whatever is
        // added to the API later carry nothing a message holds
        return
    }
  }

  readonly end = (_out: Array<Chunk.Chunk>): void => {
    if (this.done) return
    if (!this.started) throw new ProviderError.EmptyResponse({ provider: this.provider, message: "the stream ended before any event" })
    throw new ProviderError.ConnectionError({ provider: this.provider, message: "the stream ended before the response finished" })
  }

  private key(json: any): string {
    return typeof json.item_id === "string" ? json.item_id : `#${json.output_index ?? 0}`
  }

  private start(response: any, out: Array<Chunk.Chunk>) {
    if (this.started) return
    this.started = true
    out.push({ _tag: "Start", responseId: WireValue.string(response?.id), model: WireValue.string(response?.model), requestId: this.info.requestId })
  }

  private itemAdded(json: any, out: Array<Chunk.Chunk>) {
    const item = json.item
    if (item == null) return
    const key = typeof item.id === "string" ? item.id : `#${json.output_index ?? 0}`
    switch (item.type) {
      case "message":
        this.setItem(key, {
          kind: "message",
          phase: WireValue.string(item.phase),
          parts: new Map(),
          metadataSent: false
        })
        return
      case "reasoning":
        this.setItem(key, { kind: "reasoning", parts: new Map() })
        return
      case "function_call":
        this.startFunction(key, item, out)
        return
      case "custom_tool_call":
        this.startCustom(key, item, out)
        return
    }
  }

  private itemDone(json: any, out: Array<Chunk.Chunk>) {
    const item = json.item
    if (item == null) return
    const key = typeof item.id === "string" ? item.id : `#${json.output_index ?? 0}`
    switch (item.type) {
      case "message": {
        // The finished item holds the whole text: anything the deltas left out is sent now.
        if (!Array.isArray(item.content)) return
        for (let i = 0; i < item.content.length; i++) {
          const part = item.content[i]
          const full = part?.type === "refusal" ? part.refusal : part?.text
          if (part?.type === "refusal") this.sawRefusal = true
          this.text({ item_id: key, content_index: i }, rest(this.textSent(key, i), full), out, item.phase)
        }
        return
      }
      case "reasoning": {
        if (Array.isArray(item.summary)) {
          for (let i = 0; i < item.summary.length; i++) {
            const part = `s${i}`
            this.reasoning({ item_id: key }, part, rest(this.reasoningSent({ item_id: key }, part), item.summary[i]?.text), out)
          }
        }
        if (typeof item.encrypted_content === "string" && item.encrypted_content !== "") {
          out.push({
            _tag: "ReasoningSignature",
            signature: item.encrypted_content,
            metadata: typeof item.id === "string" ? { itemId: item.id } : undefined
          })
          this.openKind = undefined
        }
        return
      }
      case "function_call": {
        let call = this.items.get(key)
        if (call?.kind !== "function") call = this.startFunction(key, item, out)
        this.functionArgs(call, rest(call.args, item.arguments), out)
        this.endFunction(call, out)
        return
      }
      case "custom_tool_call": {
        let call = this.items.get(key)
        if (call?.kind !== "custom") call = this.startCustom(key, item, out)
        this.customInput(call, rest(call.input, item.input), out)
        this.endCustom(call, out)
        return
      }
    }
  }

  /** Every item is stored here, so that the remembered text part never outlives its item. */
  private setItem(key: string, item: Item) {
    this.items.set(key, item)
    if (this.lastText?.key === key) this.lastText = undefined
  }

  private textSent(key: string, index: number): string {
    const state = this.items.get(key)
    return state?.kind === "message" ? state.parts.get(index)?.text ?? "" : ""
  }

  private textPart(key: string, index: number, phase: unknown): TextPart {
    let state = this.items.get(key)
    if (state?.kind !== "message") {
      state = { kind: "message", phase: WireValue.string(phase), parts: new Map(), metadataSent: false }
      this.setItem(key, state)
    }
    let sent = state.parts.get(index)
    if (sent === undefined) state.parts.set(index, sent = new Sent())
    return { key, index, state, sent }
  }

  private text(json: any, delta: unknown, out: Array<Chunk.Chunk>, phase?: unknown) {
    if (typeof delta !== "string" || delta === "") return
    const key = this.key(json)
    const index: number = json.content_index ?? 0
    let part = this.lastText
    if (part === undefined || part.key !== key || part.index !== index) this.lastText = part = this.textPart(key, index, phase)
    part.sent.add(delta)
    const state = part.state
    const text = this.openKind === "text" && this.openKey !== key ? `\n\n${delta}` : delta
    this.openKind = "text"
    this.openKey = key
    if (!state.metadataSent && state.phase !== undefined) {
      state.metadataSent = true
      out.push({ _tag: "TextDelta", text, metadata: { phase: state.phase } })
    } else {
      out.push({ _tag: "TextDelta", text })
    }
  }

  private reasoningSent(json: any, part: string): string {
    const state = this.items.get(this.key(json))
    return state?.kind === "reasoning" ? state.parts.get(part)?.text ?? "" : ""
  }

  private reasoning(json: any, part: string, delta: unknown, out: Array<Chunk.Chunk>) {
    if (typeof delta !== "string" || delta === "") return
    const key = this.key(json)
    let state = this.items.get(key)
    if (state?.kind !== "reasoning") {
      state = { kind: "reasoning", parts: new Map() }
      this.setItem(key, state)
    }
    let sent = state.parts.get(part)
    if (sent === undefined) state.parts.set(part, sent = new Sent())
    sent.add(delta)
    // Summary parts are separate paragraphs; so are the texts of two unsigned reasoning items.
    const text = this.openKind === "reasoning" && (this.openKey !== key || this.openPart !== part) ? `\n\n${delta}` : delta
    this.openKind = "reasoning"
    this.openKey = key
    this.openPart = part
    out.push({ _tag: "ReasoningDelta", text })
  }

  private isWrapper(name: string): boolean {
    return name === WRAPPER || (name === "parallel" && !(this.options.toolNames?.has(name) ?? false))
  }

  private startFunction(key: string, item: any, out: Array<Chunk.Chunk>): FunctionCall {
    const name = typeof item.name === "string" ? item.name : ""
    const call: FunctionCall = {
      kind: "function",
      itemId: WireValue.string(item.id),
      callId: typeof item.call_id === "string" && item.call_id !== "" ? item.call_id : `call_${this.nextIndex}`,
      name,
      wrapper: this.isWrapper(name),
      index: -1,
      args: "",
      ended: false
    }
    this.setItem(key, call)
    if (!call.wrapper) {
      call.index = this.nextIndex++
      this.toolCallStart(call.index, call.callId, name, call.itemId !== undefined ? { itemId: call.itemId } : undefined, out)
    }
    if (typeof item.arguments === "string") this.functionArgs(call, item.arguments, out)
    return call
  }

  private functionArgs(call: FunctionCall, delta: string, out: Array<Chunk.Chunk>) {
    if (delta === "" || call.ended) return
    call.args += delta
    if (!call.wrapper) out.push({ _tag: "ToolCallDelta", index: call.index, delta })
  }

  private endFunction(call: FunctionCall, out: Array<Chunk.Chunk>) {
    if (call.ended) return
    call.ended = true
    if (!call.wrapper) {
      out.push({ _tag: "ToolCallEnd", index: call.index })
      return
    }
    // Models sometimes call a `multi_tool_use.parallel` tool that nobody declared, with the real
    // calls inside (`{ tool_uses: [{ recipient_name: "functions.x", parameters }] }`). Those calls
    // are what the model meant, so they become calls of their own, with ids derived from the
    // wrapper's. Anything else under that name is passed on as it came.
    const uses = parseWrapper(call.args)
    if (uses === undefined) {
      const index = this.nextIndex++
      this.toolCallStart(index, call.callId, call.name, call.itemId !== undefined ? { itemId: call.itemId } : undefined, out)
      if (call.args !== "") out.push({ _tag: "ToolCallDelta", index, delta: call.args })
      out.push({ _tag: "ToolCallEnd", index })
      return
    }
    for (let i = 0; i < uses.length; i++) {
      const index = this.nextIndex++
      this.toolCallStart(index, `${call.callId}_${i}`, uses[i].name, undefined, out)
      out.push({ _tag: "ToolCallDelta", index, delta: uses[i].arguments })
      out.push({ _tag: "ToolCallEnd", index })
    }
  }

  private startCustom(key: string, item: any, out: Array<Chunk.Chunk>): CustomCall {
    const call: CustomCall = { kind: "custom", index: this.nextIndex++, input: "", ended: false }
    this.setItem(key, call)
    const metadata: Record<string, unknown> = { [customToolKey]: true }
    if (typeof item.id === "string") metadata.itemId = item.id
    const callId = typeof item.call_id === "string" && item.call_id !== "" ? item.call_id : `call_${call.index}`
    this.toolCallStart(call.index, callId, typeof item.name === "string" ? item.name : "", metadata, out)
    // A custom tool's input is free text; it is carried as the JSON `{"input": "<text>"}` so that
    // tool calls keep one shape (JSON arguments), streamed piece by piece.
    out.push({ _tag: "ToolCallDelta", index: call.index, delta: "{\"input\":\"" })
    if (typeof item.input === "string") this.customInput(call, item.input, out)
    return call
  }

  private customInput(call: CustomCall, delta: string, out: Array<Chunk.Chunk>) {
    if (delta === "" || call.ended) return
    call.input += delta
    out.push({ _tag: "ToolCallDelta", index: call.index, delta: jsonPiece(delta) })
  }

  private endCustom(call: CustomCall, out: Array<Chunk.Chunk>) {
    if (call.ended) return
    call.ended = true
    out.push({ _tag: "ToolCallDelta", index: call.index, delta: "\"}" })
    out.push({ _tag: "ToolCallEnd", index: call.index })
  }

  private toolCallStart(
    index: number,
    id: string,
    name: string,
    metadata: Record<string, unknown> | undefined,
    out: Array<Chunk.Chunk>
  ) {
    this.sawToolCall = true
    this.openKind = undefined
    out.push(metadata !== undefined ? { _tag: "ToolCallStart", index, id, name, metadata } : { _tag: "ToolCallStart", index, id, name })
  }

  private finish(response: any, out: Array<Chunk.Chunk>, incomplete: boolean) {
    this.start(response, out)
    this.done = true
    // A call the stream never closed is closed here, so that its arguments are whole JSON.
    for (const item of this.items.values()) {
      if (item.kind === "function") this.endFunction(item, out)
      else if (item.kind === "custom") this.endCustom(item, out)
    }
    if (response?.usage != null) out.push(usage(response.usage))
    if (incomplete) {
      const raw = response?.incomplete_details?.reason
      out.push({ _tag: "Finish", reason: incompleteReason(raw), raw: typeof raw === "string" ? raw : "incomplete" })
      return
    }
    const reason: StopReason = this.sawToolCall ? "tool-calls" : this.sawRefusal ? "refusal" : "stop"
    out.push({ _tag: "Finish", reason, raw: typeof response?.status === "string" ? response.status : "completed" })
  }
}

/** The calls inside a parallel wrapper's arguments, or `undefined` when they are not that shape. */
const parseWrapper = (args: string): Array<{ name: string; arguments: string }> | undefined => {
  let json: any
  try {
    json = JSON.parse(args)
  } catch {
    return undefined
  }
  const uses = json?.tool_uses
  if (!Array.isArray(uses) || uses.length === 0) return undefined
  const calls: Array<{ name: string; arguments: string }> = []
  for (const use of uses) {
    if (typeof use?.recipient_name !== "string") return undefined
    const parameters = use.parameters ?? {}
    if (typeof parameters !== "object" || Array.isArray(parameters)) return undefined
    calls.push({ name: use.recipient_name.replace(/^functions\./, ""), arguments: JSON.stringify(parameters) })
  }
  return calls
}
