/**
 * OpenAI Responses stream events decoded into stream parts. Each SSE event is one JSON object whose
 * `type` names it (`response.output_text.delta`, ...); the stream ends with `response.completed`,
 * `response.incomplete` or `response.failed`. Output items (reasoning, messages, function calls)
 * are announced by `response.output_item.added`, streamed by their own delta events, and closed
 * by `response.output_item.done`, which carries the finished item. Each content part of a message
 * and each summary (or content) part of a reasoning item is a part of its own, with the item id and
 * the part's index as its id; a reasoning item's parts end together when the item is done, the
 * last one with the item's encrypted content as its signature.
 */
import type { Sse, StopReason, StreamPart } from "@reins/core"
import { Decoder } from "@reins/core"
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

const usage = (wire: any): StreamPart.Usage => {
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
  args: string
  ended: boolean
}

interface CustomCall {
  readonly kind: "custom"
  readonly callId: string
  input: string
  ended: boolean
}

/** One text, summary or reasoning-content part, and the text sent for it. */
interface PartState {
  readonly id: string
  readonly sent: Sent
  ended: boolean
}

interface Reasoning {
  readonly kind: "reasoning"
  readonly key: string
  readonly itemId: string | undefined
  /** Per summary (`s0`) or content (`c0`) part, in the order they started. */
  readonly parts: Map<string, PartState>
  ended: boolean
}

interface OutputMessage {
  readonly kind: "message"
  readonly phase: string | undefined
  /** Per content part. */
  readonly parts: Map<number, PartState>
}

/** A message's content part that text was last sent for. */
interface TextPart {
  readonly key: string
  readonly index: number
  readonly part: PartState
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

/** The item kind of each output item type. */
const KINDS: Record<string, Item["kind"] | undefined> = {
  message: "message",
  reasoning: "reasoning",
  function_call: "function",
  custom_tool_call: "custom"
}

/** The decoder for one Responses stream. */
export class ResponsesEventDecoder implements Decoder.EventDecoder {
  private started = false
  /** The terminal event has been decoded. */
  done = false
  private sawToolCall = false
  private sawRefusal = false
  private nextIndex = 0
  private readonly items = new Map<string, Item>()
  /** Nearly every text delta extends the same part as the one before: it is found without a lookup. */
  private lastText: TextPart | undefined

  constructor(
    private readonly provider: string,
    private readonly info: Decoder.ResponseInfo,
    private readonly options: DecoderOptions = {}
  ) {}

  readonly event = (event: Sse.SseEvent, out: Array<StreamPart.StreamPart>): void => {
    if (this.done) return
    const data = event.data
    if (data === "" || data === "[DONE]") return
    const json = Decoder.parseObject(this.provider, event)
    if (json === undefined) return
    const error = Decoder.errorIn(this.provider, json)
    if (error !== undefined) throw error
    const type: unknown = json.type ?? event.event
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
        this.text(json, rest(this.textSent(this.key(json), json.content_index ?? 0), json.text), out)
        return this.endText(this.key(json), json.content_index ?? 0, out)
      case "response.refusal.delta":
        this.sawRefusal = true
        return this.text(json, json.delta, out)
      case "response.refusal.done":
        this.sawRefusal = true
        this.text(json, rest(this.textSent(this.key(json), json.content_index ?? 0), json.refusal), out)
        return this.endText(this.key(json), json.content_index ?? 0, out)
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
        if (call?.kind === "function") {
          this.functionArgs(call, rest(call.args, json.arguments), out)
          this.endFunction(call, out)
        }
        return
      }
      case "response.custom_tool_call_input.delta": {
        const call = this.items.get(this.key(json))
        if (call?.kind === "custom" && typeof json.delta === "string") this.customInput(call, json.delta, out)
        return
      }
      case "response.custom_tool_call_input.done": {
        const call = this.items.get(this.key(json))
        if (call?.kind === "custom") {
          this.customInput(call, rest(call.input, json.input), out)
          this.endCustom(call, out)
        }
        return
      }
      case "response.completed":
        return this.finish(json.response, out, false)
      case "response.incomplete":
        return this.finish(json.response, out, true)
      case "response.failed": {
        // The API sends `error` first when it has one; this is for a failure that comes alone.
        const error = json.response?.error
        throw Decoder.streamError(this.provider, error ?? { message: "the response failed" }, json)
      }
      case "error":
        throw Decoder.streamError(this.provider, json)
      default:
        // keep-alives, web search progress, annotations, content part boundaries and whatever is
        // added to the API later carry nothing a message holds
        return
    }
  }

  readonly end = (_out: Array<StreamPart.StreamPart>): void => {
    if (this.done) return
    throw Decoder.cutShort(this.provider, this.started)
  }

  private key(json: any): string {
    return typeof json.item_id === "string" ? json.item_id : `#${json.output_index ?? 0}`
  }

  private start(response: any, out: Array<StreamPart.StreamPart>) {
    if (this.started) return
    this.started = true
    out.push({ _tag: "Start", responseId: WireValue.string(response?.id), model: WireValue.string(response?.model), requestId: this.info.requestId })
  }

  private itemAdded(json: any, out: Array<StreamPart.StreamPart>) {
    const item = json.item
    if (item == null) return
    const key = typeof item.id === "string" ? item.id : `#${json.output_index ?? 0}`
    // An item announced again keeps its parts: their ids are taken.
    const known = this.items.get(key)?.kind
    if (known !== undefined && known === KINDS[item.type]) return
    switch (item.type) {
      case "message":
        this.setItem(key, { kind: "message", phase: WireValue.string(item.phase), parts: new Map() })
        return
      case "reasoning":
        this.setItem(key, { kind: "reasoning", key, itemId: WireValue.string(item.id), parts: new Map(), ended: false })
        return
      case "function_call":
        this.startFunction(key, item, out)
        return
      case "custom_tool_call":
        this.startCustom(key, item, out)
        return
    }
  }

  private itemDone(json: any, out: Array<StreamPart.StreamPart>) {
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
        const state = this.items.get(key)
        if (state?.kind === "message") for (const part of state.parts.values()) this.endPart("TextEnd", part, out)
        return
      }
      case "reasoning": {
        if (Array.isArray(item.summary)) {
          for (let i = 0; i < item.summary.length; i++) {
            const part = `s${i}`
            this.reasoning({ item_id: key }, part, rest(this.reasoningSent({ item_id: key }, part), item.summary[i]?.text), out)
          }
        }
        const encrypted = typeof item.encrypted_content === "string" && item.encrypted_content !== "" ? item.encrypted_content : undefined
        let state = this.items.get(key)
        if (state?.kind !== "reasoning") {
          if (encrypted === undefined) return
          state = this.reasoningItem(key, WireValue.string(item.id))
        }
        // Reasoning with no summary is its encrypted content alone: a part with no text.
        if (state.parts.size === 0 && encrypted !== undefined) this.reasoningPart(state, "s0", out)
        this.endReasoning(state, encrypted, out)
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
    return state?.kind === "message" ? state.parts.get(index)?.sent.text ?? "" : ""
  }

  private textPart(key: string, index: number, phase: unknown, out: Array<StreamPart.StreamPart>): TextPart {
    let state = this.items.get(key)
    if (state?.kind !== "message") {
      state = { kind: "message", phase: WireValue.string(phase), parts: new Map() }
      this.setItem(key, state)
    }
    let part = state.parts.get(index)
    if (part === undefined) {
      state.parts.set(index, part = { id: `${key}:${index}`, sent: new Sent(), ended: false })
      out.push(
        state.phase !== undefined
          ? { _tag: "TextStart", id: part.id, metadata: { phase: state.phase } }
          : { _tag: "TextStart", id: part.id }
      )
    }
    return { key, index, part }
  }

  private text(json: any, delta: unknown, out: Array<StreamPart.StreamPart>, phase?: unknown) {
    if (typeof delta !== "string" || delta === "") return
    const key = this.key(json)
    const index: number = json.content_index ?? 0
    let text = this.lastText
    if (text === undefined || text.key !== key || text.index !== index) this.lastText = text = this.textPart(key, index, phase, out)
    if (text.part.ended) return
    text.part.sent.add(delta)
    out.push({ _tag: "TextDelta", id: text.part.id, text: delta })
  }

  private endText(key: string, index: number, out: Array<StreamPart.StreamPart>) {
    const state = this.items.get(key)
    const part = state?.kind === "message" ? state.parts.get(index) : undefined
    if (part !== undefined) this.endPart("TextEnd", part, out)
  }

  private endPart(tag: "TextEnd" | "ReasoningEnd", part: PartState, out: Array<StreamPart.StreamPart>) {
    if (part.ended) return
    part.ended = true
    out.push({ _tag: tag, id: part.id })
  }

  private reasoningSent(json: any, part: string): string {
    const state = this.items.get(this.key(json))
    return state?.kind === "reasoning" ? state.parts.get(part)?.sent.text ?? "" : ""
  }

  private reasoningItem(key: string, itemId: string | undefined): Reasoning {
    const state: Reasoning = { kind: "reasoning", key, itemId, parts: new Map(), ended: false }
    this.setItem(key, state)
    return state
  }

  private reasoningPart(state: Reasoning, part: string, out: Array<StreamPart.StreamPart>): PartState {
    const open: PartState = { id: `${state.key}:${part}`, sent: new Sent(), ended: false }
    state.parts.set(part, open)
    // The item id on every part of the item lets the request send them back as one item.
    out.push(
      state.itemId !== undefined
        ? { _tag: "ReasoningStart", id: open.id, metadata: { itemId: state.itemId } }
        : { _tag: "ReasoningStart", id: open.id }
    )
    return open
  }

  private reasoning(json: any, part: string, delta: unknown, out: Array<StreamPart.StreamPart>) {
    if (typeof delta !== "string" || delta === "") return
    const key = this.key(json)
    let state = this.items.get(key)
    if (state?.kind !== "reasoning") state = this.reasoningItem(key, WireValue.string(json.item_id))
    if (state.ended) return
    const open = state.parts.get(part) ?? this.reasoningPart(state, part, out)
    open.sent.add(delta)
    out.push({ _tag: "ReasoningDelta", id: open.id, text: delta })
  }

  /** Ends a reasoning item's parts in order; the encrypted content signs the item, so it goes on the last. */
  private endReasoning(state: Reasoning, signature: string | undefined, out: Array<StreamPart.StreamPart>) {
    if (state.ended) return
    state.ended = true
    let left = state.parts.size
    for (const part of state.parts.values()) {
      left--
      if (part.ended) continue
      part.ended = true
      out.push(left === 0 && signature !== undefined ? { _tag: "ReasoningEnd", id: part.id, signature } : { _tag: "ReasoningEnd", id: part.id })
    }
  }

  private isWrapper(name: string): boolean {
    return name === WRAPPER || (name === "parallel" && !(this.options.toolNames?.has(name) ?? false))
  }

  private startFunction(key: string, item: any, out: Array<StreamPart.StreamPart>): FunctionCall {
    const name = typeof item.name === "string" ? item.name : ""
    const call: FunctionCall = {
      kind: "function",
      itemId: WireValue.string(item.id),
      callId: typeof item.call_id === "string" && item.call_id !== "" ? item.call_id : `call_${this.nextIndex}`,
      name,
      wrapper: this.isWrapper(name),
      args: "",
      ended: false
    }
    this.setItem(key, call)
    if (!call.wrapper) {
      this.nextIndex++
      this.toolCallStart(call.callId, name, call.itemId !== undefined ? { itemId: call.itemId } : undefined, out)
    }
    if (typeof item.arguments === "string") this.functionArgs(call, item.arguments, out)
    return call
  }

  private functionArgs(call: FunctionCall, delta: string, out: Array<StreamPart.StreamPart>) {
    if (delta === "" || call.ended) return
    call.args += delta
    if (!call.wrapper) out.push({ _tag: "ToolCallDelta", id: call.callId, delta })
  }

  private endFunction(call: FunctionCall, out: Array<StreamPart.StreamPart>) {
    if (call.ended) return
    call.ended = true
    if (!call.wrapper) {
      out.push({ _tag: "ToolCallEnd", id: call.callId })
      return
    }
    // Models sometimes call a `multi_tool_use.parallel` tool that nobody declared, with the real
    // calls inside (`{ tool_uses: [{ recipient_name: "functions.x", parameters }] }`). Those calls
    // are what the model meant, so they become calls of their own, with ids derived from the
    // wrapper's. Anything else under that name is passed on as it came.
    const uses = parseWrapper(call.args)
    if (uses === undefined) {
      this.nextIndex++
      this.toolCallStart(call.callId, call.name, call.itemId !== undefined ? { itemId: call.itemId } : undefined, out)
      if (call.args !== "") out.push({ _tag: "ToolCallDelta", id: call.callId, delta: call.args })
      out.push({ _tag: "ToolCallEnd", id: call.callId })
      return
    }
    for (let i = 0; i < uses.length; i++) {
      this.nextIndex++
      const id = `${call.callId}_${i}`
      this.toolCallStart(id, uses[i].name, undefined, out)
      out.push({ _tag: "ToolCallDelta", id, delta: uses[i].arguments })
      out.push({ _tag: "ToolCallEnd", id })
    }
  }

  private startCustom(key: string, item: any, out: Array<StreamPart.StreamPart>): CustomCall {
    const index = this.nextIndex++
    const callId = typeof item.call_id === "string" && item.call_id !== "" ? item.call_id : `call_${index}`
    const call: CustomCall = { kind: "custom", callId, input: "", ended: false }
    this.setItem(key, call)
    const metadata: Record<string, unknown> = { [customToolKey]: true }
    if (typeof item.id === "string") metadata.itemId = item.id
    this.toolCallStart(callId, typeof item.name === "string" ? item.name : "", metadata, out)
    // A custom tool's input is free text; it is carried as the JSON `{"input": "<text>"}` so that
    // tool calls keep one shape (JSON arguments), streamed piece by piece.
    out.push({ _tag: "ToolCallDelta", id: callId, delta: "{\"input\":\"" })
    if (typeof item.input === "string") this.customInput(call, item.input, out)
    return call
  }

  private customInput(call: CustomCall, delta: string, out: Array<StreamPart.StreamPart>) {
    if (delta === "" || call.ended) return
    call.input += delta
    out.push({ _tag: "ToolCallDelta", id: call.callId, delta: jsonPiece(delta) })
  }

  private endCustom(call: CustomCall, out: Array<StreamPart.StreamPart>) {
    if (call.ended) return
    call.ended = true
    out.push({ _tag: "ToolCallDelta", id: call.callId, delta: "\"}" })
    out.push({ _tag: "ToolCallEnd", id: call.callId })
  }

  private toolCallStart(id: string, name: string, metadata: Record<string, unknown> | undefined, out: Array<StreamPart.StreamPart>) {
    this.sawToolCall = true
    out.push(metadata !== undefined ? { _tag: "ToolCallStart", id, name, metadata } : { _tag: "ToolCallStart", id, name })
  }

  private finish(response: any, out: Array<StreamPart.StreamPart>, incomplete: boolean) {
    this.start(response, out)
    this.done = true
    // A part the stream never closed is closed here, so that a call's arguments are whole JSON.
    for (const item of this.items.values()) {
      if (item.kind === "function") this.endFunction(item, out)
      else if (item.kind === "custom") this.endCustom(item, out)
      else if (item.kind === "reasoning") this.endReasoning(item, undefined, out)
      else for (const part of item.parts.values()) this.endPart("TextEnd", part, out)
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
