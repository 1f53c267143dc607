/**
 * The messages of a conversation. Plain tagged data described by Schemas, so a conversation can be
 * stored as JSON and resumed with any provider.
 */
import * as Schema from "effect/Schema"
import * as Part from "./Part.js"
import { StopReason } from "./StopReason.js"
import { Usage } from "./Usage.js"

/** Instructions for the model. */
export const System = Schema.TaggedStruct("System", { content: Schema.String })
export type System = typeof System.Type

/** What the user said: text, images and files. */
export const User = Schema.TaggedStruct("User", { content: Schema.Array(Part.UserPart) })
export type User = typeof User.Type

/** One model response: its parts in order, why it ended, what it cost and who produced it. */
export const Assistant = Schema.TaggedStruct("Assistant", {
  content: Schema.Array(Part.AssistantPart),
  stopReason: StopReason,
  /** The provider's own finish reason, kept as sent. */
  rawStopReason: Schema.optional(Schema.String),
  usage: Usage,
  provider: Schema.String,
  model: Schema.String,
  responseId: Schema.optional(Schema.String)
})
export type Assistant = typeof Assistant.Type

/**
 * What a tool result carries: text, or parts (text, images, JSON). Stored conversations from before
 * parts existed hold strings, which still decode.
 */
export const ToolResultContent = Schema.Union(Schema.String, Schema.Array(Part.ToolResultPart))
export type ToolResultContent = typeof ToolResultContent.Type

/** The outcome of one tool call, sent back to the model. */
export const ToolResult = Schema.TaggedStruct("ToolResult", {
  toolCallId: Schema.String,
  toolName: Schema.String,
  content: ToolResultContent,
  isError: Schema.Boolean
})
export type ToolResult = typeof ToolResult.Type

/** Any message. */
export const Message = Schema.Union(System, User, Assistant, ToolResult)
export type Message = typeof Message.Type

/** A whole conversation, as stored. */
export const Conversation = Schema.Array(Message)
export type Conversation = typeof Conversation.Type

/** A conversation to and from its JSON text. */
export const ConversationJson = Schema.parseJson(Conversation)

/** A system message. */
export const system = (content: string): System => ({ _tag: "System", content })

/**
 * A user message from text, or from parts.
 *
 * @example
 * ```ts
 * import { Message, Part } from "@reins/core"
 *
 * const conversation: Message.Conversation = [
 *   Message.system("Describe pictures in one sentence."),
 *   Message.user([Part.text("What is in this picture?"), Part.imageUrl("https://example.com/cat.png")]),
 *   Message.user("And in one word?")
 * ]
 * ```
 */
export const user = (content: string | ReadonlyArray<Part.UserPart>): User => ({
  _tag: "User",
  content: typeof content === "string" ? [Part.text(content)] : content
})

/**
 * A tool result message, its content text or parts.
 *
 * @example
 * ```ts
 * import { Message, Part } from "@reins/core"
 *
 * // A result as structured JSON, which each provider gets as data or as its JSON text once.
 * const result = Message.toolResult({ toolCallId: "call_1", toolName: "weather", content: [Part.json({ celsius: 21 })] })
 * ```
 */
export const toolResult = (
  options: {
    readonly toolCallId: string
    readonly toolName: string
    readonly content: ToolResultContent
    readonly isError?: boolean
  }
): ToolResult => ({
  _tag: "ToolResult",
  toolCallId: options.toolCallId,
  toolName: options.toolName,
  content: options.content,
  isError: options.isError ?? false
})

/** The text of an assistant message, its text parts joined. */
export const text = (message: Assistant): string => {
  let out = ""
  for (const part of message.content) if (part._tag === "Text") out += part.text
  return out
}

/** The reasoning text of an assistant message, its reasoning parts joined. */
export const reasoning = (message: Assistant): string => {
  let out = ""
  for (const part of message.content) if (part._tag === "Reasoning") out += part.text
  return out
}

/** The tool calls of an assistant message. */
export const toolCalls = (message: Assistant): ReadonlyArray<Part.ToolCall> =>
  message.content.filter((part): part is Part.ToolCall => part._tag === "ToolCall")

/**
 * A tool result's content as one text, for formats that take only text: parts joined by a line
 * break, JSON as its JSON text (once, not quoted again), and `undefined` when there is an image,
 * which text cannot hold.
 */
export const toolResultText = (content: ToolResultContent): string | undefined => {
  if (typeof content === "string") return content
  const texts: Array<string> = []
  for (const part of content) {
    if (part._tag === "Image") return undefined
    texts.push(part._tag === "Text" ? part.text : jsonText(part.value))
  }
  return texts.join("\n")
}

/** A JSON value's text; a value JSON has no text for (`undefined`) is `null`. */
export const jsonText = (value: unknown): string => JSON.stringify(value) ?? "null"
