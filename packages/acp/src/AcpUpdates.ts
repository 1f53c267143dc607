/**
 * What a turn shows an ACP client: its events as `session/update` notifications (text as
 * `agent_message_chunk`, reasoning as `agent_thought_chunk`, tool calls as `tool_call` and
 * `tool_call_update`, usage as `usage_update`), the prompt's `stopReason` from the turn's result,
 * and a stored conversation replayed as the updates that would have shown it. Plain functions and
 * one small fold over a turn's events; no Effect runtime.
 */
import type * as Acp from "@agentclientprotocol/sdk"
import type { Message, Part, StopReason, StreamPart, Turn } from "@reins/core"

/** How a client shows a tool call: its title, its kind (the icon) and the files it touches. */
export interface ToolInfo {
  readonly title?: string | undefined
  readonly kind?: Acp.ToolKind | undefined
  readonly locations?: ReadonlyArray<Acp.ToolCallLocation> | undefined
}

/** Tells how a call is shown; `input` is its arguments parsed (`undefined` until they are complete). */
export type DescribeTool = (name: string, input: unknown) => ToolInfo

/** The options of the fold over a turn's events. */
export interface Options {
  /** The message id of step `step`'s answer, shared by its chunks. */
  readonly messageId?: ((step: number) => string) | undefined
  /** How each call is shown; `describeTool` by default. */
  readonly describeTool?: DescribeTool | undefined
  /** The model's context window in tokens, for `usage_update`; without it no usage is sent. */
  readonly contextWindow?: number | undefined
}

const kindsByVerb: ReadonlyArray<readonly [RegExp, Acp.ToolKind]> = [
  [/^(read|get|list|ls|cat|open|view)/, "read"],
  [/^(write|edit|update|patch|create|replace|insert)/, "edit"],
  [/^(delete|remove|rm)/, "delete"],
  [/^(move|rename|mv)/, "move"],
  [/^(search|find|grep|glob|query)/, "search"],
  [/^(exec|run|shell|bash|command|terminal)/, "execute"],
  [/^(fetch|http|download|browse|web)/, "fetch"],
  [/^(think|plan)/, "think"]
]

const MAX_TITLE = 80

/** A call's arguments as a short text for its title: the values, not the JSON. */
const argumentsText = (input: unknown): string => {
  if (input === undefined || input === null) return ""
  if (typeof input !== "object") return String(input)
  const values = Object.values(input as Record<string, unknown>).map((v) => (typeof v === "string" ? v : JSON.stringify(v)))
  return values.join(", ")
}

/**
 * The default way a call is shown: its kind guessed from the verb its name starts with
 * (`read_file` is `read`, `run_tests` is `execute`, anything else `other`), its title the name
 * followed by the argument values, and a `path` argument as its location.
 */
export const describeTool: DescribeTool = (name, input) => {
  const verb = name.toLowerCase()
  const kind = kindsByVerb.find(([re]) => re.test(verb))?.[1] ?? "other"
  const args = argumentsText(input)
  const title = args === "" ? name : `${name}: ${args}`
  const path = input !== null && typeof input === "object" ? (input as Record<string, unknown>).path : undefined
  return {
    title: title.length > MAX_TITLE ? `${title.slice(0, MAX_TITLE - 1)}…` : title,
    kind,
    locations: typeof path === "string" ? [{ path }] : undefined
  }
}

/** A call's JSON arguments parsed; the text itself when it is not JSON, `{}` when empty. */
export const rawInput = (args: string): unknown => {
  if (args.trim() === "") return {}
  try {
    return JSON.parse(args)
  } catch {
    return args
  }
}

/** A content block for an image part: its data where it has some, else a link to its URL. */
const imageBlock = (image: Part.Image): Acp.ContentBlock =>
  image.data !== undefined
    ? { type: "image", data: image.data, mimeType: image.mediaType ?? "image/png" }
    : { type: "resource_link", uri: image.url ?? "", name: image.url ?? "image", mimeType: image.mediaType ?? null }

/** A tool result's content as tool-call content: text, images, and JSON as its text. */
export const toolResultContent = (content: Message.ToolResultContent): Array<Acp.ToolCallContent> => {
  const parts = typeof content === "string" ? [{ _tag: "Text", text: content } as const] : content
  return parts.map((part): Acp.ToolCallContent => ({
    type: "content",
    content: part._tag === "Text"
      ? { type: "text", text: part.text }
      : part._tag === "Image"
      ? imageBlock(part)
      : { type: "text", text: JSON.stringify(part.value) ?? "null" }
  }))
}

/** What a tool returned, as data: text as text, one JSON value as that value, parts as they are. */
export const rawOutput = (content: Message.ToolResultContent): unknown =>
  typeof content === "string" ? content : content.length === 1 && content[0]._tag === "Json" ? content[0].value : content

/** The prompt's answer for a turn's last stop reason. */
export const stopReason = (reason: StopReason): Acp.StopReason => {
  switch (reason) {
    case "length":
      return "max_tokens"
    case "refusal":
    case "content-filter":
      return "refusal"
    case "tool-calls":
      // The turn ran out of steps with calls still answered: the model wanted to go on.
      return "max_turn_requests"
    case "interrupted":
      return "cancelled"
    case "stop":
    case "error":
    case "other":
      return "end_turn"
  }
}

/** Where a call is, as the fold has seen it. */
interface CallState {
  readonly name: string
  args: string
  status: Acp.ToolCallStatus
}

const failedWhenInterrupted: Acp.ToolCallContent = {
  type: "content",
  content: { type: "text", text: "Cancelled before it finished." }
}

/**
 * The updates of one prompt's turn, folded from its events in order. It remembers the calls it
 * has shown, so that a stop can close those still open (`interrupted`). Made with `make`.
 */
export class TurnUpdates {
  private readonly calls = new Map<string, CallState>()
  private readonly messageId: (step: number) => string
  private readonly describe: DescribeTool

  constructor(private readonly options: Options = {}) {
    this.messageId = options.messageId ?? ((step) => `step-${step}`)
    this.describe = options.describeTool ?? describeTool
  }

  /** The updates an event shows; none for events a client has no use for. */
  fromEvent(event: Turn.TurnEvent): ReadonlyArray<Acp.SessionUpdate> {
    switch (event._tag) {
      case "StreamPart":
        return this.fromPart(event.step, event.part)
      case "ApprovalRequested":
        return [this.callUpdate(event.call, "pending")]
      case "ToolCallStarted":
        return [this.callUpdate(event.call, "in_progress")]
      case "ToolResult":
        return [this.resultUpdate(event.result)]
      case "StepEnd":
        return this.usage(event.message)
      case "StepStart":
      case "TurnEnd":
        return []
      default:
        // Events added to the turn later show nothing until they are mapped.
        return []
    }
  }

  /** Every update of a batch of events, in order. */
  fromEvents(events: Iterable<Turn.TurnEvent>): Array<Acp.SessionUpdate> {
    const out: Array<Acp.SessionUpdate> = []
    for (const event of events) for (const update of this.fromEvent(event)) out.push(update)
    return out
  }

  /** The calls shown and not finished, marked failed: what a stop leaves of them. */
  interrupted(): Array<Acp.SessionUpdate> {
    const out: Array<Acp.SessionUpdate> = []
    for (const [toolCallId, call] of this.calls) {
      if (call.status === "completed" || call.status === "failed") continue
      call.status = "failed"
      out.push({ sessionUpdate: "tool_call_update", toolCallId, status: "failed", content: [failedWhenInterrupted] })
    }
    return out
  }

  /** The permission request's view of a call waiting for a decision. */
  permissionToolCall(call: Part.ToolCall): Acp.ToolCallUpdate {
    const input = rawInput(call.arguments)
    const info = this.describe(call.name, input)
    return {
      toolCallId: call.id,
      status: "pending",
      rawInput: input,
      ...(info.title === undefined ? { title: call.name } : { title: info.title }),
      ...(info.kind === undefined ? {} : { kind: info.kind }),
      ...(info.locations === undefined ? {} : { locations: [...info.locations] })
    }
  }

  private fromPart(step: number, part: StreamPart.StreamPart): ReadonlyArray<Acp.SessionUpdate> {
    switch (part._tag) {
      case "TextDelta":
        return part.text === "" ? [] : [this.chunk("agent_message_chunk", step, part.text)]
      case "ReasoningDelta":
        return part.text === "" ? [] : [this.chunk("agent_thought_chunk", step, part.text)]
      case "ToolCallStart": {
        this.calls.set(part.id, { name: part.name, args: "", status: "pending" })
        const info = this.describe(part.name, undefined)
        return [toolCall(part.id, part.name, info, "pending", undefined)]
      }
      case "ToolCallDelta": {
        const call = this.calls.get(part.id)
        if (call !== undefined) call.args += part.delta
        return []
      }
      case "ToolCallEnd": {
        const call = this.calls.get(part.id)
        if (call === undefined) return []
        const input = rawInput(call.args)
        return [{ sessionUpdate: "tool_call_update", toolCallId: part.id, rawInput: input, ...infoFields(this.describe(call.name, input)) }]
      }
      default:
        return []
    }
  }

  private chunk(kind: "agent_message_chunk" | "agent_thought_chunk", step: number, text: string): Acp.SessionUpdate {
    return { sessionUpdate: kind, content: { type: "text", text }, messageId: this.messageId(step) }
  }

  /** A call's status changes; a call the fold has not seen (its start came in another form) is announced whole. */
  private callUpdate(call: Part.ToolCall, status: Acp.ToolCallStatus): Acp.SessionUpdate {
    const input = rawInput(call.arguments)
    const known = this.calls.get(call.id)
    if (known === undefined) {
      this.calls.set(call.id, { name: call.name, args: call.arguments, status })
      return toolCall(call.id, call.name, this.describe(call.name, input), status, input)
    }
    known.status = status
    return { sessionUpdate: "tool_call_update", toolCallId: call.id, status, rawInput: input }
  }

  private resultUpdate(result: Message.ToolResult): Acp.SessionUpdate {
    const status: Acp.ToolCallStatus = result.isError ? "failed" : "completed"
    const content = toolResultContent(result.content)
    const known = this.calls.get(result.toolCallId)
    if (known === undefined) {
      this.calls.set(result.toolCallId, { name: result.toolName, args: "", status })
      return { ...toolCall(result.toolCallId, result.toolName, this.describe(result.toolName, undefined), status, undefined), content, rawOutput: rawOutput(result.content) }
    }
    known.status = status
    return { sessionUpdate: "tool_call_update", toolCallId: result.toolCallId, status, content, rawOutput: rawOutput(result.content) }
  }

  private usage(message: Message.Assistant): Array<Acp.SessionUpdate> {
    const size = this.options.contextWindow
    if (size === undefined) return []
    // What the next request starts from: this answer's input and output.
    return [usageUpdate(message, size)]
  }
}

/**
 * A fold for one prompt's turn: feed it the turn's events with `fromEvent`, send what it returns.
 *
 * @example
 * ```ts
 * import { AcpUpdates } from "@reins/acp"
 *
 * const updates = AcpUpdates.make()
 * const shown = updates.fromEvent({ _tag: "StreamPart", step: 1, part: { _tag: "TextDelta", id: "t", text: "Hello" } })
 * assert.deepStrictEqual(shown, [
 *   { sessionUpdate: "agent_message_chunk", content: { type: "text", text: "Hello" }, messageId: "step-1" }
 * ])
 * ```
 */
export const make = (options: Options = {}): TurnUpdates => new TurnUpdates(options)

/** A `usage_update` for the context a model response leaves, with Reins' counts in `_meta`. */
export const usageUpdate = (message: Message.Assistant, contextWindow: number): Acp.SessionUpdate => ({
  sessionUpdate: "usage_update",
  used: message.usage.inputTokens + message.usage.outputTokens,
  size: contextWindow,
  _meta: { reins: { usage: message.usage } }
})

const infoFields = (info: ToolInfo) => ({
  ...(info.title === undefined ? {} : { title: info.title }),
  ...(info.kind === undefined ? {} : { kind: info.kind }),
  ...(info.locations === undefined ? {} : { locations: [...info.locations] })
})

const toolCall = (
  toolCallId: string,
  name: string,
  info: ToolInfo,
  status: Acp.ToolCallStatus,
  input: unknown
): Acp.ToolCall & { sessionUpdate: "tool_call" } => ({
  sessionUpdate: "tool_call",
  toolCallId,
  title: info.title ?? name,
  kind: info.kind ?? "other",
  status,
  ...(input === undefined ? {} : { rawInput: input }),
  ...(info.locations === undefined ? {} : { locations: [...info.locations] })
})

/** A user part as the content block the client sent or would have sent for it. */
export const userBlock = (part: Part.UserPart): Acp.ContentBlock => {
  switch (part._tag) {
    case "Text":
      return { type: "text", text: part.text }
    case "Image":
      return imageBlock(part)
    case "File":
      return part.data !== undefined
        ? { type: "resource", resource: { uri: part.url ?? `file:///${part.filename ?? "file"}`, blob: part.data, mimeType: part.mediaType } }
        : { type: "resource_link", uri: part.url ?? "", name: part.filename ?? part.url ?? "file", mimeType: part.mediaType }
  }
}

/**
 * A stored conversation as the `session/update` notifications that show it, for `session/load`:
 * user messages as `user_message_chunk`, answers as message and thought chunks, each tool call as
 * one `tool_call` with its result, status and output. Each message's chunks share a message id
 * made from its place in the conversation. System messages are not shown.
 *
 * @example
 * ```ts
 * import { AcpUpdates } from "@reins/acp"
 * import { Message } from "@reins/core"
 *
 * const updates = AcpUpdates.replay([Message.user("Hi")])
 * assert.deepStrictEqual(updates, [
 *   { sessionUpdate: "user_message_chunk", content: { type: "text", text: "Hi" }, messageId: "msg-0" }
 * ])
 * ```
 */
export const replay = (
  history: ReadonlyArray<Message.Message>,
  options: { readonly describeTool?: DescribeTool | undefined } = {}
): Array<Acp.SessionUpdate> => {
  const describe = options.describeTool ?? describeTool
  const results = new Map<string, Message.ToolResult>()
  for (const message of history) if (message._tag === "ToolResult") results.set(message.toolCallId, message)
  const out: Array<Acp.SessionUpdate> = []
  history.forEach((message, index) => {
    const messageId = `msg-${index}`
    switch (message._tag) {
      case "User":
        for (const part of message.content) out.push({ sessionUpdate: "user_message_chunk", content: userBlock(part), messageId })
        return
      case "Assistant":
        for (const part of message.content) {
          if (part._tag === "Text" && part.text !== "") {
            out.push({ sessionUpdate: "agent_message_chunk", content: { type: "text", text: part.text }, messageId })
          } else if (part._tag === "Reasoning" && !part.redacted && part.text !== "") {
            out.push({ sessionUpdate: "agent_thought_chunk", content: { type: "text", text: part.text }, messageId })
          } else if (part._tag === "ToolCall") {
            const input = rawInput(part.arguments)
            const result = results.get(part.id)
            const status: Acp.ToolCallStatus = result === undefined ? "failed" : result.isError ? "failed" : "completed"
            out.push({
              ...toolCall(part.id, part.name, describe(part.name, input), status, input),
              ...(result === undefined ? {} : { content: toolResultContent(result.content), rawOutput: rawOutput(result.content) })
            })
          }
        }
        return
      case "System":
      case "ToolResult":
        return
    }
  })
  return out
}
