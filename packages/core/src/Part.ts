/**
 * The pieces of a message's content. Plain tagged objects: cheap to build on the hot path, and
 * JSON as they are.
 */
import * as Schema from "effect/Schema"

/** Plain text, with provider-specific data needed to replay it (a Gemini thought signature, say). */
export const Text = Schema.TaggedStruct("Text", {
  text: Schema.String,
  metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
export type Text = typeof Text.Type

/**
 * The model's reasoning. `signature` is the provider's opaque token that lets the reasoning be
 * replayed (Anthropic signature, OpenAI encrypted content, Gemini thought signature). `redacted`
 * reasoning has no readable text: its encrypted form is in `signature`.
 */
export const Reasoning = Schema.TaggedStruct("Reasoning", {
  text: Schema.String,
  signature: Schema.optional(Schema.String),
  redacted: Schema.optional(Schema.Boolean),
  /** Provider-specific data needed to replay this reasoning faithfully (an item id, say). */
  metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
export type Reasoning = typeof Reasoning.Type

/** An image, by URL (which may be a `data:` URL) or as base64 data with its media type. */
export const Image = Schema.TaggedStruct("Image", {
  url: Schema.optional(Schema.String),
  data: Schema.optional(Schema.String),
  mediaType: Schema.optional(Schema.String)
})
export type Image = typeof Image.Type

/** A call the model asked for. `arguments` is the raw JSON text exactly as the model wrote it. */
export const ToolCall = Schema.TaggedStruct("ToolCall", {
  id: Schema.String,
  name: Schema.String,
  arguments: Schema.String,
  /** Provider-specific data needed to replay this call (a Gemini thought signature, say). */
  metadata: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
export type ToolCall = typeof ToolCall.Type

/**
 * A document (a PDF, a text file...) given to the model, by base64 `data` or by `url`, with its
 * media type; `filename` is the name providers show the model (OpenAI requires one with data).
 */
export const File = Schema.TaggedStruct("File", {
  mediaType: Schema.String,
  data: Schema.optional(Schema.String),
  url: Schema.optional(Schema.String),
  filename: Schema.optional(Schema.String)
})
export type File = typeof File.Type

/** A JSON value a tool returned, sent to the model as structured data where the provider takes it. */
export const Json = Schema.TaggedStruct("Json", { value: Schema.Unknown })
export type Json = typeof Json.Type

/** What a user message can hold. */
export const UserPart = Schema.Union(Text, Image, File)
export type UserPart = typeof UserPart.Type

/** What a tool result can hold besides plain text. */
export const ToolResultPart = Schema.Union(Text, Image, Json)
export type ToolResultPart = typeof ToolResultPart.Type

/** What an assistant message can hold. */
export const AssistantPart = Schema.Union(Text, Reasoning, ToolCall)
export type AssistantPart = typeof AssistantPart.Type

/** Builds a text part. */
export const text = (text: string): Text => ({ _tag: "Text", text })

/** Builds an image part from a URL or a `data:` URL. */
export const imageUrl = (url: string): Image => ({ _tag: "Image", url })

/** Builds an image part from base64 data. */
export const imageData = (data: string, mediaType: string): Image => ({ _tag: "Image", data, mediaType })

/**
 * Builds a file part from base64 data.
 *
 * @example
 * ```ts
 * import { Message, Part } from "@reins/core"
 *
 * const pdf = "JVBERi0xLjQK" // the file's bytes, base64
 * const question = Message.user([
 *   Part.text("Summarise this report."),
 *   Part.fileData(pdf, "application/pdf", "report.pdf"),
 *   Part.fileUrl("https://example.com/appendix.pdf", "application/pdf")
 * ])
 * ```
 */
export const fileData = (data: string, mediaType: string, filename?: string): File =>
  filename === undefined ? { _tag: "File", mediaType, data } : { _tag: "File", mediaType, data, filename }

/** Builds a file part from a URL the provider fetches. */
export const fileUrl = (url: string, mediaType: string, filename?: string): File =>
  filename === undefined ? { _tag: "File", mediaType, url } : { _tag: "File", mediaType, url, filename }

/** Builds a JSON part. */
export const json = (value: unknown): Json => ({ _tag: "Json", value })

/** Builds a tool call part. */
export const toolCall = (id: string, name: string, args: string): ToolCall => ({
  _tag: "ToolCall",
  id,
  name,
  arguments: args
})
