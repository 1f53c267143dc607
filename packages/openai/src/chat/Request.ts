/**
 * A conversation encoded as a Chat Completions request body. The `Dialect` carries what
 * OpenAI-compatible providers do differently, so Kimi and others reuse this encoder.
 */
import type { LanguageModel, Message, Part } from "@reins/core"

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
}

/** The dialect of the OpenAI API itself and of most compatible servers. */
export const openAiDialect: Dialect = {
  maxTokensField: "max_completion_tokens",
  replayReasoning: "when-present",
  builtinTools: false
}

type WireContent = string | Array<{ type: "text"; text: string } | { type: "image_url"; image_url: { url: string } }>

const imageUrl = (image: Part.Image): string =>
  image.url ?? `data:${image.mediaType ?? "image/png"};base64,${image.data ?? ""}`

const userContent = (parts: ReadonlyArray<Part.UserPart>): WireContent => {
  if (parts.length === 1 && parts[0]._tag === "Text") return parts[0].text
  return parts.map((part) =>
    part._tag === "Text"
      ? { type: "text" as const, text: part.text }
      : { type: "image_url" as const, image_url: { url: imageUrl(part) } }
  )
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
  dialect: Dialect
): Array<Record<string, unknown>> => {
  const out: Array<Record<string, unknown>> = []
  if (system !== undefined && system !== "") out.push({ role: "system", content: system })
  for (const message of history) {
    switch (message._tag) {
      case "System":
        out.push({ role: "system", content: message.content })
        break
      case "User":
        out.push({ role: "user", content: userContent(message.content) })
        break
      case "Assistant": {
        const wire = assistantMessage(message, dialect)
        if (wire !== undefined) out.push(wire)
        break
      }
      case "ToolResult":
        out.push({ role: "tool", tool_call_id: message.toolCallId, content: message.content })
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

/** The whole streaming request body. `providerOptions[provider]` is merged in last. */
export const body = (
  request: LanguageModel.Request,
  options: { readonly model: string; readonly provider: string; readonly dialect: Dialect }
): Record<string, unknown> => {
  const { dialect } = options
  const wire: Record<string, unknown> = {
    model: request.model ?? options.model,
    messages: messages(request.system, request.messages, dialect),
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
  return { ...wire, ...request.providerOptions?.[options.provider] }
}
