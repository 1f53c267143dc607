/**
 * A conversation encoded as a Chat Completions request body. The `Dialect` carries what
 * OpenAI-compatible providers do differently, so Kimi and others reuse this encoder.
 */
import type { LanguageModel, Part, ProviderError } from "@reins/core"
import { Message, StructuredOutput } from "@reins/core"

/** How one OpenAI-compatible provider differs from the OpenAI API. */
export interface Dialect {
  /** Sent as `max_completion_tokens` (OpenAI, Kimi) or `max_tokens` (older compatible servers). */
  readonly maxTokensField: "max_completion_tokens" | "max_tokens"
  /**
   * Whether assistant reasoning goes back as `reasoning_content`: `never`; `when-present` (non-empty
   * reasoning only); `always` (on every assistant message, empty when there was none, as
   * preserved-thinking models require).
   */
  readonly replayReasoning: "never" | "when-present" | "always"
  /** Whether tools named with a leading `$` are the provider's builtin functions. */
  readonly builtinTools: boolean
  /** Fields added to every request body. */
  readonly extraBody?: Record<string, unknown> | undefined
  /** Whether user messages take PDF `file` parts (OpenAI does); `true` unless set. */
  readonly files?: boolean | undefined
  /**
   * Whether `response_format` takes `json_schema`; without it a JSON reply is asked in JSON mode
   * (`json_object`) with the schema in a system message. `true` unless set.
   */
  readonly jsonSchema?: boolean | undefined
}

/** The dialect of the OpenAI API itself and of most compatible servers. */
export const openAiDialect: Dialect = {
  maxTokensField: "max_completion_tokens",
  replayReasoning: "when-present",
  builtinTools: false
}

type WireContent = string | Array<Record<string, unknown>>

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s

const imageUrl = (image: Part.Image): string =>
  image.url ?? `data:${image.mediaType ?? "image/png"};base64,${image.data ?? ""}`

/** A file's bytes as the `data:` URL that `file_data` takes, if the part has them. */
const fileDataUrl = (file: Part.File): string | undefined => {
  if (file.data !== undefined) return `data:${file.mediaType};base64,${file.data}`
  const data = file.url === undefined ? null : DATA_URL.exec(file.url)
  return data !== null && data[2].split(";").includes("base64") ? file.url : undefined
}

/**
 * Why Chat Completions cannot take a file, if it cannot: the `file` content part takes only PDFs,
 * and only as base64 data or an uploaded file's id, not a URL.
 * Source: https://platform.openai.com/docs/guides/pdf-files?api-mode=chat
 */
const fileProblem = (file: Part.File, dialect: Dialect): string | undefined => {
  if (dialect.files === false) return "this endpoint takes no file parts"
  if (file.mediaType !== "application/pdf") return `Chat Completions takes only PDF files, not ${file.mediaType}`
  if (fileDataUrl(file) === undefined) return "Chat Completions takes files as base64 data, not by URL"
  return undefined
}

const userContent = (parts: ReadonlyArray<Part.UserPart>, dialect: Dialect): WireContent => {
  if (parts.length === 1 && parts[0]._tag === "Text") return parts[0].text
  const out: Array<Record<string, unknown>> = []
  for (const part of parts) {
    switch (part._tag) {
      case "Text":
        out.push({ type: "text", text: part.text })
        break
      case "Image":
        out.push({ type: "image_url", image_url: { url: imageUrl(part) } })
        break
      case "File":
        if (fileProblem(part, dialect) !== undefined) break
        out.push({ type: "file", file: { filename: part.filename ?? "file.pdf", file_data: fileDataUrl(part) } })
    }
  }
  return out
}

/**
 * What of a request Chat Completions cannot take: a file other than base64 PDF data, and an image
 * in a tool result (a `tool` message's content is text only).
 * Source: https://platform.openai.com/docs/api-reference/chat/create
 */
export const unsupported = (request: LanguageModel.Request, dialect: Dialect): ProviderError.Unsupported | undefined => {
  for (let i = 0; i < request.messages.length; i++) {
    const message = request.messages[i]
    if (message._tag === "User") {
      for (let j = 0; j < message.content.length; j++) {
        const part = message.content[j]
        const reason = part._tag === "File" ? fileProblem(part, dialect) : undefined
        if (reason !== undefined) return { part: "File", at: `messages[${i}].content[${j}]`, reason }
      }
    } else if (message._tag === "ToolResult" && Message.toolResultText(message.content) === undefined) {
      return { part: "Image", at: `messages[${i}].content`, reason: "a tool message's content is text only" }
    }
  }
  return undefined
}

const assistantMessage = (message: Message.Assistant, dialect: Dialect): Record<string, unknown> | undefined => {
  let text = ""
  let reasoning: string | undefined
  const toolCalls: Array<unknown> = []
  for (const part of message.content) {
    switch (part._tag) {
      case "Text":
        text += part.text
        break
      case "Reasoning":
        reasoning = (reasoning ?? "") + part.text
        break
      case "ToolCall":
        toolCalls.push({ id: part.id, type: "function", function: { name: part.name, arguments: part.arguments } })
    }
  }
  // An assistant turn that produced nothing (stopped before its first token) is left out: an empty
  // assistant message is rejected by several providers and carries no information.
  if (text === "" && toolCalls.length === 0 && !reasoning) return undefined
  const wire: Record<string, unknown> = { role: "assistant", content: text === "" && toolCalls.length > 0 ? null : text }
  if (dialect.replayReasoning === "always") wire.reasoning_content = reasoning ?? ""
  else if (dialect.replayReasoning === "when-present" && reasoning) wire.reasoning_content = reasoning
  if (toolCalls.length > 0) wire.tool_calls = toolCalls
  return wire
}

/** The `messages` array for a conversation. */
export const messages = (
  system: string | undefined,
  history: ReadonlyArray<Message.Message>,
  dialect: Dialect,
  instruction?: string
): Array<Record<string, unknown>> => {
  const out: Array<Record<string, unknown>> = []
  if (system !== undefined && system !== "") out.push({ role: "system", content: system })
  if (instruction !== undefined) out.push({ role: "system", content: instruction })
  for (const message of history) {
    switch (message._tag) {
      case "System":
        out.push({ role: "system", content: message.content })
        break
      case "User":
        out.push({ role: "user", content: userContent(message.content, dialect) })
        break
      case "Assistant": {
        const wire = assistantMessage(message, dialect)
        if (wire !== undefined) out.push(wire)
        break
      }
      case "ToolResult":
        // Text, or JSON as its text once; an image was refused before the request (`unsupported`).
        out.push({ role: "tool", tool_call_id: message.toolCallId, content: Message.toolResultText(message.content) ?? "" })
    }
  }
  return out
}

const tool = (definition: LanguageModel.ToolDefinition, dialect: Dialect) =>
  dialect.builtinTools && definition.name.startsWith("$")
    ? { type: "builtin_function", function: { name: definition.name } }
    : {
      type: "function",
      function: {
        name: definition.name,
        ...(definition.description !== undefined ? { description: definition.description } : {}),
        parameters: definition.parameters
      }
    }

const toolChoice = (choice: LanguageModel.ToolChoice) =>
  typeof choice === "string" ? choice : { type: "function", function: { name: choice.tool } }

/**
 * `response_format` for a JSON reply: `json_schema` with the schema (strict where the schema meets
 * strict mode's rules, else not), or `json_object` for JSON without a schema or a dialect without
 * JSON Schema mode, which then needs the schema told in a system message.
 * Source: https://platform.openai.com/docs/guides/structured-outputs?api-mode=chat
 * Source: https://platform.moonshot.ai/docs/guide/use-json-mode-feature-of-kimi-api
 */
export const responseFormat = (
  format: StructuredOutput.JsonFormat,
  dialect: Dialect
): { readonly wire: Record<string, unknown>; readonly instruction?: string } => {
  if (format.schema === undefined || dialect.jsonSchema === false) {
    // JSON mode requires the word "JSON" in the messages; the instruction carries it and the shape.
    return { wire: { type: "json_object" }, instruction: StructuredOutput.instruction(format) }
  }
  return {
    wire: {
      type: "json_schema",
      json_schema: {
        name: StructuredOutput.formatName(format.name),
        ...(format.description !== undefined ? { description: format.description } : {}),
        schema: format.schema,
        strict: StructuredOutput.isStrict(format)
      }
    }
  }
}

/** The whole streaming request body. `providerOptions[provider]` is merged in last. */
export const body = (
  request: LanguageModel.Request,
  options: { readonly model: string; readonly provider: string; readonly dialect: Dialect }
): Record<string, unknown> => {
  const { dialect } = options
  const format = request.responseFormat?.type === "json" ? responseFormat(request.responseFormat, dialect) : undefined
  const wire: Record<string, unknown> = {
    model: request.model ?? options.model,
    messages: messages(request.system, request.messages, dialect, format?.instruction),
    stream: true,
    stream_options: { include_usage: true },
    ...dialect.extraBody
  }
  if (request.tools !== undefined && request.tools.length > 0) {
    wire.tools = request.tools.map((definition) => tool(definition, dialect))
  }
  if (request.toolChoice !== undefined) wire.tool_choice = toolChoice(request.toolChoice)
  if (request.maxOutputTokens !== undefined) wire[dialect.maxTokensField] = request.maxOutputTokens
  if (request.temperature !== undefined) wire.temperature = request.temperature
  if (request.reasoning !== undefined) wire.reasoning_effort = request.reasoning.effort
  if (format !== undefined) wire.response_format = format.wire
  return { ...wire, ...request.providerOptions?.[options.provider] }
}
