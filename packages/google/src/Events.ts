/**
 * Gemini `streamGenerateContent?alt=sse` events decoded into stream parts. Every event is a whole
 * `GenerateContentResponse` (or an `{ error }` object): the new parts of candidate 0, perhaps its
 * `finishReason`, the usage so far and, for a refused prompt, `promptFeedback`. There is no terminal
 * event: the body ending after a finish reason (or a prompt block) is the normal end.
 *
 * Streamed function-call arguments (`partialArgs`) address values by JSON path rather than sending
 * JSON text, so a call's arguments are assembled into an object as its fragments arrive and sent as
 * one `ToolCallDelta` (valid JSON) when the call's last fragment (`willContinue` absent) arrives; its
 * `ToolCallStart` is sent with the first fragment, so the call shows at once.
 *
 * Gemini marks no text boundaries: consecutive text (or thought) pieces form one part, with an id
 * of the decoder's making, until the other kind, a call or the finish comes. A thought signature
 * belongs to the part it arrives on: on a part's first piece it goes on its start, on a later piece
 * (often an empty text that holds only the signature) it ends the part.
 */
import type { Sse, StopReason, StreamPart } from "@reins/core"
import { Decoder, ProviderError } from "@reins/core"
import * as WireValue from "@reins/core/internal/WireValue"

/** Maps a Gemini `finishReason` to the common stop reason (`STOP` after function calls is fixed by the decoder). */
export const stopReason = (raw: string): StopReason => {
  switch (raw) {
    case "STOP":
      return "stop"
    case "MAX_TOKENS":
      return "length"
    case "SAFETY":
    case "RECITATION":
    case "BLOCKLIST":
    case "PROHIBITED_CONTENT":
    case "SPII":
    case "IMAGE_SAFETY":
    case "IMAGE_PROHIBITED_CONTENT":
    case "IMAGE_RECITATION":
      return "content-filter"
    default:
      return "other"
  }
}

/** One step of a JSON path: an object member or an array index. */
export type PathSegment = string | number

const ESCAPES: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" }

/**
 * The steps of a JSON path (RFC 9535, the normalized forms Gemini sends: `$.a.b`, `$['a']`,
 * `$.a[0]`), or `undefined` when it is not one.
 */
export const parseJsonPath = (path: string): Array<PathSegment> | undefined => {
  if (path.charCodeAt(0) !== 36 /* $ */) return undefined
  const out: Array<PathSegment> = []
  let i = 1
  while (i < path.length) {
    const c = path[i]
    if (c === ".") {
      let j = i + 1
      while (j < path.length && path[j] !== "." && path[j] !== "[") j++
      if (j === i + 1) return undefined
      out.push(path.slice(i + 1, j))
      i = j
    } else if (c === "[") {
      const quote = path[i + 1]
      if (quote === "'" || quote === "\"") {
        let j = i + 2
        let name = ""
        while (j < path.length && path[j] !== quote) {
          if (path[j] === "\\" && j + 1 < path.length) {
            const e = path[j + 1]
            if (e === "u" && /^[0-9a-fA-F]{4}$/.test(path.slice(j + 2, j + 6))) {
              name += String.fromCharCode(parseInt(path.slice(j + 2, j + 6), 16))
              j += 6
              continue
            }
            name += ESCAPES[e] ?? e
            j += 2
            continue
          }
          name += path[j]
          j++
        }
        if (j >= path.length || path[j + 1] !== "]") return undefined
        out.push(name)
        i = j + 2
      } else {
        const close = path.indexOf("]", i)
        const index = close < 0 ? "" : path.slice(i + 1, close)
        if (!/^\d+$/.test(index)) return undefined
        out.push(Number(index))
        i = close + 1
      }
    } else {
      return undefined
    }
  }
  return out
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Sets an own property, even one named `__proto__`. */
const put = (target: any, key: PathSegment, value: unknown): void => {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

/**
 * A function call's arguments assembled from `partialArgs`: each fragment sets the value at its
 * JSON path, and string fragments of a path marked `willContinue` are appended to one another.
 */
export class PartialArguments {
  private readonly root: Record<string, unknown> = {}
  /** The paths whose string value is still being streamed. */
  private readonly continuing = new Set<string>()

  constructor(args?: Record<string, unknown>) {
    if (args !== undefined) this.merge(args)
  }

  /** Adds whole arguments (a fragment's `args`). */
  merge(args: Record<string, unknown>): void {
    for (const key in args) put(this.root, key, args[key])
  }

  /** Adds one `PartialArg`; false when its path is not one this object can hold. */
  add(arg: any): boolean {
    const jsonPath = arg?.jsonPath
    const path = typeof jsonPath === "string" ? parseJsonPath(jsonPath) : undefined
    if (path === undefined || path.length === 0 || typeof path[0] !== "string") return false
    let value: unknown
    if (typeof arg.stringValue === "string") {
      value = arg.stringValue
      if (this.continuing.has(jsonPath)) {
        const current = this.get(path)
        value = (typeof current === "string" ? current : "") + value
      }
    } else if (typeof arg.numberValue === "number") value = arg.numberValue
    else if (typeof arg.boolValue === "boolean") value = arg.boolValue
    else if ("nullValue" in arg) value = null
    if (value !== undefined) this.set(path, value)
    if (arg.willContinue === true) this.continuing.add(jsonPath)
    else this.continuing.delete(jsonPath)
    return true
  }

  /** The arguments as JSON text. */
  json(): string {
    return JSON.stringify(this.root)
  }

  private get(path: ReadonlyArray<PathSegment>): unknown {
    let node: any = this.root
    for (let i = 0; i < path.length; i++) {
      if (typeof node !== "object" || node === null || !Object.hasOwn(node, path[i])) return undefined
      node = node[path[i]]
    }
    return node
  }

  private set(path: ReadonlyArray<PathSegment>, value: unknown): void {
    let node: any = this.root
    for (let i = 0; i < path.length - 1; i++) {
      const index = typeof path[i + 1] === "number"
      let child = Object.hasOwn(node, path[i]) ? node[path[i]] : undefined
      if (typeof child !== "object" || child === null || Array.isArray(child) !== index) {
        child = index ? [] : {}
        put(node, path[i], child)
      }
      node = child
    }
    put(node, path[path.length - 1], value)
  }
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/**
 * An id for a function call Gemini sent without one: `call_` and 24 random base62 characters.
 * Numbering the calls of a response would give every step the same `call_0`, and a provider the
 * conversation moves to may reject two tool calls with one id.
 */
export const callId = (): string => {
  let id = "call_"
  const bytes = new Uint8Array(32)
  while (id.length < 29) {
    globalThis.crypto.getRandomValues(bytes)
    // 248 is the largest multiple of 62 a byte can hold: higher bytes are skipped, so that every
    // character is equally likely.
    for (let i = 0; i < bytes.length && id.length < 29; i++) if (bytes[i] < 248) id += BASE62[bytes[i] % 62]
  }
  return id
}

/** A function call whose fragments are still arriving. */
interface OpenCall {
  readonly id: string
  readonly args: PartialArguments
  /** A signature that came on a later fragment than the first, sent on `ToolCallEnd`. */
  signature: string | undefined
}

/** The decoder for one Gemini streamed response. */
export class GoogleEventDecoder implements Decoder.EventDecoder {
  /** The terminal event has been decoded. */
  done = false
  private started = false
  private finishReason: string | undefined
  private blockReason: string | undefined
  private toolCalls = 0
  private open: OpenCall | undefined
  /** The text or thought part that pieces extend, if one is open. */
  private part: { readonly kind: "text" | "reasoning"; readonly id: string; readonly signature: string | undefined } | undefined
  private parts = 0
  private usageKey = ""

  constructor(
    private readonly provider: string,
    private readonly info: Decoder.ResponseInfo
  ) {}

  readonly event = (event: Sse.SseEvent, out: Array<StreamPart.StreamPart>): void => {
    if (this.done) return
    const json = Decoder.parseObject(this.provider, event)
    if (json === undefined) return
    // Gemini's own error event is an `{ error: { code, message, status } }` object.
    const error = Decoder.errorIn(this.provider, json)
    if (error !== undefined) throw error
    if (!this.started) {
      this.started = true
      out.push({
        _tag: "Start",
        responseId: typeof json.responseId === "string" ? json.responseId : undefined,
        model: typeof json.modelVersion === "string" ? json.modelVersion : undefined,
        requestId: this.info.requestId
      })
    }
    const candidates = json.candidates
    // Only candidate 0: requests never ask for more than one.
    const candidate: any = Array.isArray(candidates) ? candidates[0] : undefined
    if (isObject(candidate)) {
      const parts = (candidate.content as any)?.parts
      if (Array.isArray(parts)) {
        for (let i = 0; i < parts.length; i++) this.piece(parts[i], out)
      }
      if (typeof candidate.finishReason === "string") {
        this.finishReason = candidate.finishReason
        this.closeCall(out)
      }
    }
    const blockReason = (json.promptFeedback as any)?.blockReason
    if (typeof blockReason === "string") this.blockReason = blockReason
    if (isObject(json.usageMetadata)) this.usage(json.usageMetadata, out)
    // The candidate that carries a finish reason is the last one, its usage beside it: the response
    // is over there, whether or not the server closes the body.
    if (this.finishReason !== undefined || (this.blockReason !== undefined && candidate === undefined)) this.finish(out)
  }

  readonly end = (out: Array<StreamPart.StreamPart>): void => {
    if (this.done) return
    if (this.finishReason !== undefined || this.blockReason !== undefined) return this.finish(out)
    throw Decoder.cutShort(this.provider, this.started)
  }

  private finish(out: Array<StreamPart.StreamPart>): void {
    this.done = true
    this.closeCall(out)
    this.closePart(undefined, out)
    const raw = this.finishReason
    if (raw === undefined) {
      // A blocked prompt gets no candidate at all: a complete answer that says why, not a failure.
      out.push({ _tag: "Finish", reason: "content-filter", raw: this.blockReason })
      return
    }
    const reason = stopReason(raw)
    // Gemini says STOP after function calls; the caller must still run them.
    out.push({ _tag: "Finish", reason: reason === "stop" && this.toolCalls > 0 ? "tool-calls" : reason, raw })
  }

  private piece(part: any, out: Array<StreamPart.StreamPart>): void {
    if (!isObject(part)) return
    const signature = typeof part.thoughtSignature === "string" && part.thoughtSignature !== "" ? part.thoughtSignature : undefined
    if (isObject(part.functionCall)) return this.functionCall(part.functionCall, signature, out)
    // A streamed call stays open until its own fragment without `willContinue` ("another partial
    // message for the current FunctionCall is expected to follow"), whatever parts come between;
    // the finish reason closes it at the latest.
    const text = typeof part.text === "string" ? part.text : undefined
    if (part.thought === true) {
      if (text !== undefined && text !== "") this.extend("reasoning", text, undefined, out)
      if (signature !== undefined) {
        if (this.part?.kind !== "reasoning") this.extend("reasoning", "", undefined, out)
        this.closePart(signature, out)
      }
      return
    }
    if (text === undefined && signature === undefined) {
      // Other parts (inline data, executable code, ...) hold nothing the vocabulary carries.
      return
    }
    if (text === undefined || text === "") {
      if (signature === undefined) return
      // A piece that holds only a signature: it ends the thought or text before it, else it is an
      // empty text part of its own, signed.
      if (this.part !== undefined && this.part.signature === undefined) return this.closePart(signature, out)
      this.extend("text", "", signature, out)
      return this.closePart(undefined, out)
    }
    this.extend("text", text, signature, out)
  }

  /** Adds a piece to the open part of `kind`, opening one when another kind, or another signature, is open. */
  private extend(kind: "text" | "reasoning", text: string, signature: string | undefined, out: Array<StreamPart.StreamPart>): void {
    let open = this.part
    if (open !== undefined && open.kind === kind && signature !== undefined && signature !== open.signature) {
      // A signature on a later piece signs what came before it and ends the part.
      if (open.signature === undefined) {
        if (text !== "") out.push({ _tag: "TextDelta", id: open.id, text })
        return this.closePart(signature, out)
      }
      this.closePart(undefined, out)
      open = undefined
    }
    if (open === undefined || open.kind !== kind) {
      this.closePart(undefined, out)
      this.part = open = { kind, id: `${kind}_${this.parts++}`, signature }
      const metadata = signature !== undefined ? { thoughtSignature: signature } : undefined
      out.push(
        kind === "text"
          ? metadata !== undefined ? { _tag: "TextStart", id: open.id, metadata } : { _tag: "TextStart", id: open.id }
          : { _tag: "ReasoningStart", id: open.id }
      )
    }
    if (text !== "") out.push({ _tag: kind === "text" ? "TextDelta" : "ReasoningDelta", id: open.id, text })
  }

  /** Ends the open text or thought part, with `signature` when it arrived at its end. */
  private closePart(signature: string | undefined, out: Array<StreamPart.StreamPart>): void {
    const open = this.part
    if (open === undefined) return
    this.part = undefined
    if (open.kind === "reasoning") {
      out.push(signature !== undefined ? { _tag: "ReasoningEnd", id: open.id, signature } : { _tag: "ReasoningEnd", id: open.id })
    } else {
      out.push(signature !== undefined ? { _tag: "TextEnd", id: open.id, metadata: { thoughtSignature: signature } } : { _tag: "TextEnd", id: open.id })
    }
  }

  private functionCall(call: Record<string, unknown>, signature: string | undefined, out: Array<StreamPart.StreamPart>): void {
    const open = this.open
    if (open !== undefined) {
      // A later fragment of the streamed call: `name` is only on the first one.
      if (isObject(call.args)) open.args.merge(call.args)
      if (Array.isArray(call.partialArgs)) this.partialArgs(open.args, call.partialArgs)
      if (signature !== undefined) open.signature ??= signature
      if (call.willContinue !== true) this.closeCall(out)
      return
    }
    const name = typeof call.name === "string" ? call.name : ""
    // A fragment that belongs to no call has nothing to attach to.
    if (name === "") return
    this.toolCalls++
    this.closePart(undefined, out)
    const wireId = typeof call.id === "string" && call.id !== "" ? call.id : undefined
    const metadata: Record<string, unknown> | undefined = signature === undefined && wireId === undefined ? undefined : {
      ...(signature !== undefined ? { thoughtSignature: signature } : {}),
      // Marks an id that Gemini gave, so that it is sent back (an id of our own would be rejected).
      ...(wireId !== undefined ? { functionCallId: wireId } : {})
    }
    const id = wireId ?? callId()
    out.push(metadata === undefined ? { _tag: "ToolCallStart", id, name } : { _tag: "ToolCallStart", id, name, metadata })
    if (call.willContinue !== true && !Array.isArray(call.partialArgs)) {
      out.push({ _tag: "ToolCallDelta", id, delta: JSON.stringify(isObject(call.args) ? call.args : {}) })
      out.push({ _tag: "ToolCallEnd", id })
      return
    }
    const args = new PartialArguments(isObject(call.args) ? call.args : undefined)
    if (Array.isArray(call.partialArgs)) this.partialArgs(args, call.partialArgs)
    this.open = { id, args, signature: undefined }
    if (call.willContinue !== true) this.closeCall(out)
  }

  private partialArgs(args: PartialArguments, partial: ReadonlyArray<unknown>): void {
    for (let i = 0; i < partial.length; i++) {
      if (!args.add(partial[i])) {
        throw new ProviderError.ProtocolError({
          provider: this.provider,
          message: "a function call argument with an unusable JSON path",
          excerpt: ProviderError.excerpt(JSON.stringify(partial[i]) ?? "", 256)
        })
      }
    }
  }

  private closeCall(out: Array<StreamPart.StreamPart>): void {
    const open = this.open
    if (open === undefined) return
    this.open = undefined
    out.push({ _tag: "ToolCallDelta", id: open.id, delta: open.args.json() })
    out.push(
      open.signature === undefined
        ? { _tag: "ToolCallEnd", id: open.id }
        : { _tag: "ToolCallEnd", id: open.id, metadata: { thoughtSignature: open.signature } }
    )
  }

  /**
   * Usage is cumulative in every event, so each report replaces the last; it is sent only when it
   * changed. `promptTokenCount` already includes `cachedContentTokenCount`, and
   * `candidatesTokenCount` excludes `thoughtsTokenCount`, which output tokens include.
   */
  private usage(meta: Record<string, unknown>, out: Array<StreamPart.StreamPart>): void {
    const prompt = WireValue.count(meta.promptTokenCount)
    const toolPrompt = WireValue.count(meta.toolUsePromptTokenCount)
    const candidates = WireValue.count(meta.candidatesTokenCount)
    const thoughts = WireValue.count(meta.thoughtsTokenCount)
    const cached = WireValue.count(meta.cachedContentTokenCount)
    const key = `${prompt},${toolPrompt},${candidates},${thoughts},${cached}`
    if (key === this.usageKey) return
    this.usageKey = key
    const usage: { -readonly [K in keyof StreamPart.Usage["usage"]]: StreamPart.Usage["usage"][K] } = {}
    // Tool-use prompt tokens (search results read by the model) are billed as input, like the prompt.
    if (prompt !== undefined || toolPrompt !== undefined) usage.inputTokens = (prompt ?? 0) + (toolPrompt ?? 0)
    if (candidates !== undefined || thoughts !== undefined) usage.outputTokens = (candidates ?? 0) + (thoughts ?? 0)
    if (thoughts !== undefined) usage.reasoningTokens = thoughts
    if (cached !== undefined) usage.cacheReadTokens = cached
    if (Object.keys(usage).length > 0) out.push({ _tag: "Usage", usage })
  }
}
