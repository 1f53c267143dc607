/**
 * A conversation encoded as an Anthropic Messages request body: the system prompt in `system`,
 * alternating user and assistant turns of content blocks, tool results as `tool_result` blocks of a
 * user turn, and the thinking, caching and tool options.
 *
 * Any stored history encodes to a request the API accepts: text blocks that are empty or only
 * whitespace are left out, tool-call ids are made unique and fit the API's id pattern, tool results
 * lead the user turn that carries them, and a final assistant turn ends without whitespace.
 */
import type { LanguageModel, Part, ProviderError } from "@reins/core"
import { Message, RequestIds, StructuredOutput } from "@reins/core"
import type { CacheBreakpoint, Effort, Thinking } from "./Config.js"

/** What the encoder needs from the layer. */
export interface Options {
  readonly model: string
  /** Only reasoning produced by this provider is replayed; its signatures mean nothing elsewhere. */
  readonly provider: string
  readonly maxTokens: number
  readonly thinking?: Thinking | undefined
  readonly cache?: CacheBreakpoint | ReadonlyArray<CacheBreakpoint> | undefined
}

/** One content block, as the wire takes it. */
export type Block = Record<string, unknown>

/** One turn of the `messages` array. */
export interface Turn {
  readonly role: "user" | "assistant"
  readonly content: Array<Block>
}

/** The thinking budget a request's effort asks for when the model thinks with a fixed budget. */
export const effortBudget: Record<LanguageModel.ReasoningEffort, number> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384
}

/** A request's effort in Anthropic's levels (which have no `minimal`). */
export const effortLevel: Record<LanguageModel.ReasoningEffort, Effort> = {
  minimal: "low",
  low: "low",
  medium: "medium",
  high: "high"
}

const EPHEMERAL = { type: "ephemeral" } as const

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s

const image = (part: Part.Image): Block | undefined => {
  if (part.data !== undefined) {
    return { type: "image", source: { type: "base64", media_type: part.mediaType ?? "image/png", data: part.data } }
  }
  if (part.url === undefined) return undefined
  const data = DATA_URL.exec(part.url)
  // The API takes inline images only as base64 sources, so a base64 `data:` URL is unpacked.
  if (data !== null && data[2].split(";").includes("base64")) {
    return { type: "image", source: { type: "base64", media_type: data[1] || part.mediaType || "image/png", data: data[3] } }
  }
  return { type: "image", source: { type: "url", url: part.url } }
}

/** Base64 data as the UTF-8 text it holds. */
const decodeBase64Text = (data: string): string => new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)))

/**
 * Why a document block cannot hold a file, if it cannot: its sources are base64 PDF data, plain
 * text, and a PDF by URL.
 * Source: https://platform.claude.com/docs/en/build-with-claude/pdf-support
 * Source: https://platform.claude.com/docs/en/api/messages
 */
const fileProblem = (file: Part.File): string | undefined =>
  file.mediaType === "application/pdf" || (file.mediaType === "text/plain" && file.data !== undefined)
    ? undefined
    : file.mediaType === "text/plain"
    ? "a plain-text document goes as its text, not by URL"
    : `document blocks take PDF and plain text, not ${file.mediaType}`

const document = (file: Part.File): Block => {
  const title = file.filename !== undefined ? { title: file.filename } : {}
  if (file.mediaType === "text/plain") {
    return { type: "document", source: { type: "text", media_type: "text/plain", data: decodeBase64Text(file.data ?? "") }, ...title }
  }
  const source = file.data !== undefined
    ? { type: "base64", media_type: "application/pdf", data: file.data }
    : unpackedPdf(file.url ?? "")
  return { type: "document", source, ...title }
}

/** A PDF URL as a document source: a base64 `data:` URL unpacked (the API takes inline data only so). */
const unpackedPdf = (url: string): Block => {
  const data = DATA_URL.exec(url)
  return data !== null && data[2].split(";").includes("base64")
    ? { type: "base64", media_type: "application/pdf", data: data[3] }
    : { type: "url", url }
}

/**
 * What of a request the Messages API cannot take: a file other than a PDF or plain text data.
 * Tool results take text and images as they are, and JSON as its text.
 */
export const unsupported = (request: LanguageModel.Request): ProviderError.Unsupported | undefined => {
  for (let i = 0; i < request.messages.length; i++) {
    const message = request.messages[i]
    if (message._tag !== "User") continue
    for (let j = 0; j < message.content.length; j++) {
      const part = message.content[j]
      const reason = part._tag === "File" ? fileProblem(part) : undefined
      if (reason !== undefined) return { part: "File", at: `messages[${i}].content[${j}]`, reason }
    }
  }
  return undefined
}

/**
 * A tool result's `content`: text as it is, or text and image blocks (JSON as its text once), which
 * `tool_result` takes; blank texts are left out as everywhere else.
 * Source: https://platform.claude.com/docs/en/agents-and-tools/tool-use/handle-tool-calls
 */
const toolResultContent = (content: Message.ToolResultContent): string | Array<Block> => {
  if (typeof content === "string") return content
  const text = Message.toolResultText(content)
  if (text !== undefined) return text
  const blocks: Array<Block> = []
  for (const part of content) {
    if (part._tag === "Image") {
      const block = image(part)
      if (block !== undefined) blocks.push(block)
    } else {
      const text = part._tag === "Text" ? part.text : Message.jsonText(part.value)
      if (sendable(text)) blocks.push({ type: "text", text })
    }
  }
  return blocks
}

/** Keywords structured outputs do not support, left out of the schema as Anthropic's SDKs do. */
const UNSUPPORTED_KEYWORDS = new Set([
  "$schema",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minLength",
  "maxLength",
  "maxItems",
  "minProperties",
  "maxProperties"
])

/**
 * A JSON Schema as structured outputs take it: numeric, length and count limits removed (the
 * decoding Schema still checks them), `minItems` only as 0 or 1.
 * Source: https://platform.claude.com/docs/en/build-with-claude/structured-outputs
 */
export const outputSchema = (schema: unknown): unknown => {
  if (Array.isArray(schema)) return schema.map(outputSchema)
  if (typeof schema !== "object" || schema === null) return schema
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(schema)) {
    if (UNSUPPORTED_KEYWORDS.has(key)) continue
    if (key === "minItems" && typeof value === "number" && value > 1) continue
    out[key] = key === "enum" || key === "const" || key === "default" || key === "examples"
      ? value
      : SCHEMA_MAPS.has(key) && typeof value === "object" && value !== null && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).map(([name, child]) => [name, outputSchema(child)]))
      : outputSchema(value)
  }
  return out
}

/** Keywords whose value maps names (which may be any word) to schemas. */
const SCHEMA_MAPS = new Set(["properties", "$defs", "definitions", "patternProperties"])

/**
 * `output_config.format` for a JSON reply with a schema, the structured outputs of the API (generally
 * available, no beta header). JSON without a schema has no mode of its own: it is asked in the system
 * prompt instead.
 * Source: https://platform.claude.com/docs/en/build-with-claude/structured-outputs
 */
export const outputFormat = (format: StructuredOutput.JsonFormat): Block | undefined =>
  format.schema === undefined ? undefined : { type: "json_schema", schema: outputSchema(format.schema) }

/**
 * A tool call's arguments as the object `tool_use.input` must be. Text that is not a JSON object (a
 * call cut off mid-arguments, or one with no arguments at all) becomes `{}` so the turn stays valid.
 */
export const toolInput = (args: string): Record<string, unknown> => {
  if (args.trim() === "") return {}
  try {
    const value = JSON.parse(args)
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : {}
  } catch {
    return {}
  }
}

/**
 * Whether `text` can be a text block: the API rejects empty ones ("text content blocks must be
 * non-empty") and whitespace-only ones ("text content blocks must contain non-whitespace text"),
 * which a stream stopped right after a blank delta leaves behind.
 */
const sendable = (text: string): boolean => text.trim() !== ""

/** Characters outside the `^[a-zA-Z0-9_-]+$` pattern the API gives `tool_use.id`. */
const NOT_ID = /[^a-zA-Z0-9_-]/g

/** An id in the pattern the API gives `tool_use.id` (Kimi's `functions.clock:0` is not). */
const fitId = (id: string): string => id.replace(NOT_ID, "_") || "call"

const assistantBlocks = (message: Message.Assistant, provider: string, ids: RequestIds): Array<Block> => {
  // Signatures are only valid where they were made; another provider's reasoning (or reasoning
  // stopped before its signature) would be rejected, so it is left out.
  const replayReasoning = message.provider === provider
  const blocks: Array<Block> = []
  for (const part of message.content) {
    switch (part._tag) {
      case "Text":
        if (sendable(part.text)) blocks.push({ type: "text", text: part.text })
        break
      case "Reasoning":
        if (!replayReasoning || part.signature === undefined || part.signature === "") break
        blocks.push(
          part.redacted === true
            ? { type: "redacted_thinking", data: part.signature }
            : { type: "thinking", thinking: part.text, signature: part.signature }
        )
        break
      case "ToolCall":
        blocks.push({ type: "tool_use", id: ids.call(part.id), name: part.name, input: toolInput(part.arguments) })
    }
  }
  return blocks
}

const isThinking = (block: Block): boolean => block.type === "thinking" || block.type === "redacted_thinking"

/**
 * Moves the `tool_result` blocks of a user turn before its other blocks: the API wants them first
 * ("Any text must come AFTER all tool results"), and a user message merged into the turn of the
 * results before it would otherwise lead.
 */
const resultsFirst = (content: Array<Block>): void => {
  const results = content.filter((block) => block.type === "tool_result")
  if (results.length === 0 || results.length === content.length) return
  const others = content.filter((block) => block.type !== "tool_result")
  content.splice(0, content.length, ...results, ...others)
}

/**
 * The `messages` array for a conversation. Consecutive turns of one role are merged (the API
 * combines them anyway), so parallel tool results, and a user message after them, share one user
 * turn. System messages are not turns: see `system`.
 */
export const messages = (history: ReadonlyArray<Message.Message>, provider: string): Array<Turn> => {
  const turns: Array<Turn> = []
  const ids = new RequestIds(fitId)
  const push = (role: Turn["role"], content: ReadonlyArray<Block>) => {
    if (content.length === 0) return
    const last = turns[turns.length - 1]
    if (last !== undefined && last.role === role) last.content.push(...content)
    else turns.push({ role, content: [...content] })
  }
  for (const message of history) {
    switch (message._tag) {
      case "System":
        break
      case "User": {
        const blocks: Array<Block> = []
        for (const part of message.content) {
          if (part._tag === "Text") {
            if (sendable(part.text)) blocks.push({ type: "text", text: part.text })
          } else if (part._tag === "Image") {
            const block = image(part)
            if (block !== undefined) blocks.push(block)
          } else if (fileProblem(part) === undefined) blocks.push(document(part))
        }
        push("user", blocks)
        break
      }
      case "Assistant": {
        if (message.content.some((part) => part._tag === "ToolCall")) ids.step()
        const blocks = assistantBlocks(message, provider, ids)
        // A message stopped before its first token (or holding only unsigned reasoning, or blank
        // text) has nothing to send, and an empty turn is rejected. One holding only thinking is
        // left out too: the API ignores the thinking of turns before the last user message.
        if (!blocks.every(isThinking)) push("assistant", blocks)
        break
      }
      case "ToolResult":
        push("user", [{
          type: "tool_result",
          tool_use_id: ids.result(message.toolCallId),
          content: toolResultContent(message.content),
          is_error: message.isError
        }])
    }
  }
  for (const turn of turns) if (turn.role === "user") resultsFirst(turn.content)
  // A last assistant turn is a prefill, which "cannot end with trailing whitespace".
  const last = turns[turns.length - 1]
  const end = last?.role === "assistant" ? last.content[last.content.length - 1] : undefined
  if (end?.type === "text") end.text = (end.text as string).trimEnd()
  return turns
}

/** The `system` field: the request's system prompt, then any System messages of the history. */
export const system = (
  prompt: string | undefined,
  history: ReadonlyArray<Message.Message>,
  cache: boolean
): string | Array<Block> | undefined => {
  const texts: Array<string> = []
  if (prompt !== undefined && sendable(prompt)) texts.push(prompt)
  for (const message of history) if (message._tag === "System" && sendable(message.content)) texts.push(message.content)
  if (texts.length === 0) return undefined
  if (texts.length === 1 && !cache) return texts[0]
  const blocks: Array<Block> = texts.map((text) => ({ type: "text", text }))
  if (cache) blocks[blocks.length - 1].cache_control = EPHEMERAL
  return blocks
}

/** Maps the common tool choice: `required` is Anthropic's `any`. */
export const toolChoice = (choice: LanguageModel.ToolChoice): Block =>
  typeof choice === "string"
    ? { type: choice === "required" ? "any" : choice }
    : { type: "tool", name: choice.tool }

/**
 * The `thinking` and `output_config` fields and the thinking budget. A request's effort picks the
 * budget (fixed-budget thinking) or the effort level (adaptive thinking); with no `thinking` option
 * an effort alone turns on fixed-budget thinking, which every thinking model accepts up to Claude 4.6.
 */
const thinkingFields = (
  configured: Thinking | undefined,
  effort: LanguageModel.ReasoningEffort | undefined
): { thinking?: Block; outputConfig?: Block; budget?: number } => {
  if (configured?.type === "adaptive") {
    const level = effort !== undefined ? effortLevel[effort] : configured.effort
    return { thinking: { type: "adaptive" }, ...(level !== undefined ? { outputConfig: { effort: level } } : {}) }
  }
  const budget = effort !== undefined ? effortBudget[effort] : configured?.budgetTokens
  return budget === undefined ? {} : { thinking: { type: "enabled", budget_tokens: budget }, budget }
}

const breakpoints = (cache: Options["cache"]): ReadonlySet<CacheBreakpoint> =>
  new Set(cache === undefined ? [] : typeof cache === "string" ? [cache] : cache)

/** The whole streaming request body. `providerOptions[provider]` is merged in last. */
export const body = (request: LanguageModel.Request, options: Options): Record<string, unknown> => {
  const cache = breakpoints(options.cache)
  const { budget, outputConfig, thinking } = thinkingFields(options.thinking, request.reasoning?.effort)
  let maxTokens = request.maxOutputTokens ?? options.maxTokens
  // Thinking counts against max_tokens, which must exceed the budget: the budget is added on top so
  // that the answer keeps the room it was given.
  if (budget !== undefined && budget >= maxTokens) maxTokens += budget
  const turns = messages(request.messages, options.provider)
  if (cache.has("last-user")) {
    for (let i = turns.length - 1; i >= 0; i--) {
      if (turns[i].role === "user") {
        turns[i].content[turns[i].content.length - 1].cache_control = EPHEMERAL
        break
      }
    }
  }
  const wire: Record<string, unknown> = {
    model: request.model ?? options.model,
    max_tokens: maxTokens,
    stream: true
  }
  const json = request.responseFormat?.type === "json" ? request.responseFormat : undefined
  const format = json !== undefined ? outputFormat(json) : undefined
  const prompt = json !== undefined && format === undefined
    ? [request.system, StructuredOutput.instruction(json)].filter((text) => text !== undefined && sendable(text)).join("\n\n")
    : request.system
  const systemField = system(prompt, request.messages, cache.has("system"))
  if (systemField !== undefined) wire.system = systemField
  wire.messages = turns
  if (request.tools !== undefined && request.tools.length > 0) {
    const tools: Array<Block> = request.tools.map((tool) => ({
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      input_schema: tool.parameters
    }))
    if (cache.has("tools")) tools[tools.length - 1].cache_control = EPHEMERAL
    wire.tools = tools
  }
  if (request.toolChoice !== undefined) wire.tool_choice = toolChoice(request.toolChoice)
  if (request.temperature !== undefined) wire.temperature = request.temperature
  if (thinking !== undefined) wire.thinking = thinking
  if (outputConfig !== undefined || format !== undefined) wire.output_config = { ...outputConfig, ...(format !== undefined ? { format } : {}) }
  return { ...wire, ...request.providerOptions?.[options.provider] }
}
