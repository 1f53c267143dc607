/**
 * Chat Completions stream events decoded into stream parts. Each event is one `chat.completion.chunk`
 * (or an error object); the stream ends with `data: [DONE]`. The format marks no part boundaries:
 * text and reasoning each form one part until the other kind, a tool call or the finish comes, and
 * a tool call is complete once the next call begins (with its arguments closed) or the finish does.
 *
 * OpenAI streams a tool call as a first delta with `index`, `id` and `function.name`, then deltas
 * with the same `index` and pieces of `function.arguments`. Compatible servers deviate from that in
 * many ways; `ToolCalls` below keeps every call of each of them apart, whole and once. The README's
 * table "OpenAI-compatible dialects covered" lists the deviations and the servers that send them.
 */
import type { Sse, StopReason, StreamPart } from "@reins/core"
import { Decoder, ProviderError } from "@reins/core"
import * as WireValue from "@reins/core/internal/WireValue"

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

const usage = (wire: any): StreamPart.Usage => {
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


const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/**
 * An id for a tool call the server sent without one: `call_` and 24 random base62 characters
 * (about 143 bits). A counter (`call_0`) would repeat in the next step of the same conversation,
 * and providers the conversation may move to reject repeated ids (Anthropic requires every
 * `tool_use` id to be unique).
 */
const generatedId = (): string => {
  let id = "call_"
  const bytes = new Uint8Array(32)
  while (id.length < 29) {
    crypto.getRandomValues(bytes)
    // Bytes of 248 (4 * 62) and above are skipped, so that every character is equally likely.
    for (let i = 0; i < bytes.length && id.length < 29; i++) if (bytes[i] < 248) id += BASE62[bytes[i] % 62]
  }
  return id
}

/**
 * Follows a tool call's argument text as it streams, in one pass over each piece, without parsing
 * it: whether it is a JSON object, whether that object has closed, and whether a value may come
 * next. A closed object can be followed by nothing but whitespace, so a later piece is not a
 * continuation: that is how a repeat of the whole arguments is told from the next piece.
 */
class ArgumentScan {
  /** The text is not the start of one JSON object (then no repeat is looked for). */
  invalid = false
  /** The object has closed. */
  closed = false
  private readonly open: Array<string> = []
  private inString = false
  private escaped = false
  /** The last character outside strings that is not whitespace. */
  private last = ""

  /** Reads the next piece. */
  feed(text: string): void {
    for (let i = 0; i < text.length && !this.invalid; i++) {
      const c = text[i]
      if (this.inString) {
        if (this.escaped) this.escaped = false
        else if (c === "\\") this.escaped = true
        else if (c === "\"") this.inString = false
        continue
      }
      if (c === " " || c === "\n" || c === "\r" || c === "\t") continue
      if (this.closed || (this.last === "" && c !== "{")) {
        this.invalid = true
        return
      }
      if (c === "\"") this.inString = true
      else if (c === "{" || c === "[") this.open.push(c)
      else if (c === "}" || c === "]") {
        if (this.open.pop() !== (c === "}" ? "{" : "[")) {
          this.invalid = true
          return
        }
        if (this.open.length === 0) this.closed = true
      }
      this.last = c
    }
  }

  /** Whether the text so far ends where a value may start (after `:`, `[`, or `,` in an array). */
  expectsValue(): boolean {
    return !this.inString && (this.last === ":" || this.last === "[" || (this.last === "," && this.open.at(-1) === "["))
  }

  /** Whether `text` is exactly one JSON object (whitespace around it aside). */
  static whole(text: string): boolean {
    const scan = new ArgumentScan()
    scan.feed(text)
    return scan.closed && !scan.invalid
  }
}

/** Whether two argument texts are the same JSON value, however each is spaced. */
const sameArguments = (a: string, b: string): boolean => {
  if (a.trim() === b.trim()) return true
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b))
  } catch {
    return false
  }
}

/** One tool call of the response, as assembled from its deltas. */
interface Call {
  /** Calls are numbered in the order they appear, whatever their wire `index`. */
  readonly index: number
  /** The first wire id the call came with; generated at its start when it came with none. */
  id: string | undefined
  name: string
  arguments: string
  /** Argument text that arrived before the call's name, sent when it starts. */
  pending: string
  started: boolean
  ended: boolean
  readonly scan: ArgumentScan
}

/** What a delta that may belong to an existing call does to it. */
type Routing = "continues" | "repeats" | "starts-another"

/**
 * The tool calls of one response. Each delta goes to the call with its `id`, else to the latest
 * call at its `index`, else (with neither) to the latest call; a delta that names another call,
 * or whole arguments after a call's arguments have closed, starts a new call instead. Sources for
 * each rule are cited where it is applied.
 */
class ToolCalls {
  private readonly calls: Array<Call> = []
  private readonly byIndex = new Map<number, Call>()
  private readonly byId = new Map<string, Call>()
  private last: Call | undefined

  /** `beforeStart` closes the text or reasoning part before a call, so that parts keep their order. */
  constructor(private readonly beforeStart: (out: Array<StreamPart.StreamPart>) => void) {}

  /** Whether any call was started (a call with neither name nor arguments is not one). */
  get any(): boolean {
    return this.calls.some((call) => call.started)
  }

  /** Reads the `tool_calls` array of one delta. */
  read(deltas: ReadonlyArray<any>, out: Array<StreamPart.StreamPart>): void {
    for (const delta of deltas) {
      if (delta === null || typeof delta !== "object") continue
      // An empty id is no id: Gemini sends `id: ""` with `index: null` (meilisearch/meilisearch#5712).
      const id = nonEmpty(delta.id)
      const index = Number.isInteger(delta.index) ? (delta.index as number) : undefined
      const name = nonEmpty(delta.function?.name)
      const raw = delta.function?.arguments
      // LiteLLM's ollama_chat streamed arguments as an object, not JSON text (BerriAI/litellm#37792).
      const args = typeof raw === "string" ? raw : raw !== null && typeof raw === "object" ? JSON.stringify(raw) : ""

      let call = id === undefined ? undefined : this.byId.get(id)
      let routing: Routing = "continues"
      if (call !== undefined) {
        // The same id on every delta (LiteLLM, BerriAI/litellm#20480; Fireworks,
        // SillyTavern/SillyTavern#5948) is the same call; arguments after its object has closed are
        // LiteLLM's closing summary of the call, sent again.
        if (call.scan.closed) routing = "repeats"
      } else {
        // Without a known id: the latest call at this index; with no index either, the latest call
        // (Gemini's continuation deltas carry neither, open-webui/computer#224; a delta with a new
        // id and no index is a new call).
        const candidate = index !== undefined ? this.byIndex.get(index) : id === undefined ? this.last : undefined
        routing = candidate === undefined ? "starts-another" : route(candidate, id, name, args)
        if (routing !== "starts-another") call = candidate
      }

      if (routing === "starts-another" || call === undefined) {
        call = this.create(id, name, out)
        routing = "continues"
      } else if (routing === "continues") {
        this.update(call, id, name)
      }
      if (index !== undefined) this.byIndex.set(index, call)
      if (id !== undefined && !this.byId.has(id)) this.byId.set(id, call)
      this.last = call
      if (routing === "continues" && args !== "" && !call.ended) this.append(call, args, out)
      // A call starts once it has a name, so that calls keep the order they came in.
      if (!call.started && call.name !== "") this.start(call, out)
      this.settle(call, out)
    }
  }

  /** Ends every call, starting those still waiting for a name. */
  end(out: Array<StreamPart.StreamPart>): void {
    for (const call of this.calls) {
      if (call.ended) continue
      // An entry with neither name nor arguments (an `id: ""`, `type: "function"` stub) is not a
      // call: nothing could run, and its empty id would break the next request
      // (lmstudio-ai/lmstudio-bug-tracker#830).
      if (!call.started && call.name === "" && call.arguments === "") {
        call.ended = true
        continue
      }
      if (!call.started) this.start(call, out)
      this.close(call, out)
    }
  }

  /**
   * Ends a started call once another call has begun after it and its arguments have closed as one
   * JSON object: nothing more of them can follow, and its tool can run. A call whose arguments are
   * still open waits: OpenAI and others interleave the arguments of parallel calls.
   */
  private settle(call: Call, out: Array<StreamPart.StreamPart>): void {
    if (call.started && !call.ended && call.scan.closed && !call.scan.invalid && call.index < this.calls.length - 1) {
      this.close(call, out)
    }
  }

  private close(call: Call, out: Array<StreamPart.StreamPart>): void {
    call.ended = true
    out.push({ _tag: "ToolCallEnd", id: call.id! })
  }

  private create(id: string | undefined, name: string | undefined, out: Array<StreamPart.StreamPart>): Call {
    const call: Call = {
      index: this.calls.length,
      id,
      name: name ?? "",
      arguments: "",
      pending: "",
      started: false,
      ended: false,
      scan: new ArgumentScan()
    }
    this.calls.push(call)
    for (let i = 0; i < this.calls.length - 1; i++) this.settle(this.calls[i], out)
    return call
  }

  private update(call: Call, id: string | undefined, name: string | undefined): void {
    if (call.id === undefined && id !== undefined && !call.started) call.id = id
    // A name that comes after the arguments began (vercel/ai#14722) starts the call. A call's name
    // is set once: the same name on every delta (MiniMax through NVIDIA NIM,
    // NousResearch/hermes-agent#11984; llama.cpp before ggml-org/llama.cpp#13800) changes nothing.
    if (name !== undefined && call.name === "") call.name = name
  }

  private append(call: Call, text: string, out: Array<StreamPart.StreamPart>): void {
    let piece = text
    // The whole arguments, starting with what streamed so far, as vLLM's end-of-stream flush sends
    // them (vllm-project/vllm#42167, #51697): only the rest is new. It is taken as a continuation
    // instead where an object could start (`{"a":` then `{"a":1}` is a nested value).
    if (
      call.arguments !== "" && piece.length > call.arguments.length && !call.scan.invalid &&
      piece.startsWith(call.arguments) && !call.scan.expectsValue() && ArgumentScan.whole(piece)
    ) {
      piece = piece.slice(call.arguments.length)
    }
    call.arguments += piece
    call.scan.feed(piece)
    if (call.started) out.push({ _tag: "ToolCallDelta", id: call.id!, delta: piece })
    else call.pending += piece
  }

  private start(call: Call, out: Array<StreamPart.StreamPart>): void {
    this.beforeStart(out)
    call.started = true
    call.id ??= generatedId()
    out.push({ _tag: "ToolCallStart", id: call.id, name: call.name })
    if (call.pending !== "") out.push({ _tag: "ToolCallDelta", id: call.id, delta: call.pending })
    call.pending = ""
  }
}

const nonEmpty = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined)

/** Whether a delta with an unknown (or no) id, reaching `call` by its index or as the latest call, belongs to it. */
const route = (call: Call, id: string | undefined, name: string | undefined, args: string): Routing => {
  const renamed = name !== undefined && call.name !== "" && name !== call.name
  if (!call.scan.closed) {
    // Another name is another call. Another id alone is the same call: some servers change the id
    // on every delta (LiteLLM's OCI route, BerriAI/litellm#40040; Poolside, poolsideai/pool#9).
    return renamed ? "starts-another" : "continues"
  }
  // The call's arguments have closed, so nothing more of them can follow: this is a repeat or
  // another call. The same arguments again are a repeat: vLLM's end-of-stream flush sends them
  // whole once more (vllm-project/vllm#42167, #51697).
  const text = args.trim() !== ""
  const repeated = text && !renamed && sameArguments(call.arguments, args)
  // Another id is another call: Ollama sends parallel calls all at index 0 (ollama/ollama#15457),
  // and so does LiteLLM's Responses bridge (BerriAI/litellm#21331). Only a nameless repeat under a
  // new id is not, as from a server that changes the id on every delta.
  if (id !== undefined) return repeated && name === undefined ? "repeats" : "starts-another"
  if (repeated) return "repeats"
  if (renamed) return "starts-another"
  // A named or whole new object is the next call: Gemini's parallel calls come with `id: ""` and no
  // index, and through some proxies with the same index and no id (dyedd/lens#49).
  if (text && (name !== undefined || ArgumentScan.whole(args))) return "starts-another"
  return "repeats"
}

/** The decoder for one Chat Completions response. */
export class ChatEventDecoder implements Decoder.EventDecoder {
  private started = false
  /** The terminal event has been decoded. */
  done = false
  private finishReason: string | undefined
  private refused = false
  /** The text or reasoning part that deltas extend, if one is open. */
  private open: { readonly kind: "text" | "reasoning"; readonly id: string } | undefined
  private parts = 0
  private readonly toolCalls = new ToolCalls((out) => this.closePart(out))

  constructor(
    private readonly provider: string,
    private readonly info: Decoder.ResponseInfo
  ) {}

  readonly event = (event: Sse.SseEvent, out: Array<StreamPart.StreamPart>): void => {
    if (this.done) return
    const data = event.data
    if (data === "[DONE]") {
      this.done = true
      this.finish(out)
      return
    }
    // Chat Completions sends unnamed events; named ones (a proxy's `ping`, say) are not parts.
    if (event.event !== "message" && event.event !== "error") return
    const json = Decoder.parseObject(this.provider, event)
    if (json === undefined) return
    const error = Decoder.errorIn(this.provider, json)
    if (error !== undefined) throw error
    if (event.event === "error") throw Decoder.streamError(this.provider, json)
    if (!this.started) {
      this.started = true
      out.push({ _tag: "Start", responseId: WireValue.string(json.id), model: WireValue.string(json.model), requestId: this.info.requestId })
    }
    const choice = json.choices?.[0]
    if (choice !== undefined) {
      const delta = choice.delta
      if (delta != null) {
        const reasoning = delta.reasoning_content ?? delta.reasoning
        if (typeof reasoning === "string" && reasoning !== "") this.delta("reasoning", reasoning, out)
        if (typeof delta.content === "string" && delta.content !== "") this.delta("text", delta.content, out)
        // A refusal streams in its own field; it is the answer the user sees.
        if (typeof delta.refusal === "string" && delta.refusal !== "") {
          this.refused = true
          this.delta("text", delta.refusal, out)
        }
        if (Array.isArray(delta.tool_calls)) this.toolCalls.read(delta.tool_calls, out)
      }
      if (choice.usage != null) out.push(usage(choice.usage))
      // An empty finish reason is none: Ollama (ollama/ollama#4357) and SGLang
      // (sgl-project/sglang#3912) have sent `""` on every chunk before the last.
      if (typeof choice.finish_reason === "string" && choice.finish_reason !== "") {
        this.finishReason = choice.finish_reason
        this.toolCalls.end(out)
      }
    }
    if (json.usage != null) out.push(usage(json.usage))
  }

  readonly end = (out: Array<StreamPart.StreamPart>): void => {
    if (this.done) return
    // A server that closes cleanly after its finish reason without `[DONE]` has still said all it had.
    if (this.finishReason !== undefined) return this.finish(out)
    throw Decoder.cutShort(this.provider, this.started)
  }

  private delta(kind: "text" | "reasoning", text: string, out: Array<StreamPart.StreamPart>) {
    let open = this.open
    if (open?.kind !== kind) {
      this.closePart(out)
      this.open = open = { kind, id: `${kind}_${this.parts++}` }
      out.push({ _tag: kind === "text" ? "TextStart" : "ReasoningStart", id: open.id })
    }
    out.push({ _tag: kind === "text" ? "TextDelta" : "ReasoningDelta", id: open.id, text })
  }

  private closePart(out: Array<StreamPart.StreamPart>) {
    const open = this.open
    if (open === undefined) return
    this.open = undefined
    out.push({ _tag: open.kind === "text" ? "TextEnd" : "ReasoningEnd", id: open.id })
  }

  private finish(out: Array<StreamPart.StreamPart>) {
    this.toolCalls.end(out)
    this.closePart(out)
    const raw = this.finishReason
    if (raw === undefined && !this.started) {
      throw new ProviderError.EmptyResponse({ provider: this.provider, message: "the stream sent [DONE] and nothing else" })
    }
    let reason = raw === undefined ? "other" : stopReason(raw)
    // Tool calls with "stop" (Ollama, ollama/ollama#5796; Gemini, open-webui/computer#224) or with
    // no finish reason before `[DONE]` (GLM-5.1 on NVIDIA NIM, earendil-works/pi#6225; vllm-mlx,
    // waybarrios/vllm-mlx#672): the caller must still run them.
    if ((reason === "stop" || raw === undefined) && this.toolCalls.any) reason = "tool-calls"
    if (reason === "stop" && this.refused) reason = "refusal"
    out.push({ _tag: "Finish", reason, raw })
  }
}
