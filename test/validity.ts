/**
 * What makes a conversation valid to continue (DESIGN.md): a history that survives its JSON round
 * trip, every tool call answered by one result, and a next request that each provider accepts by
 * its own documented request rules. Each rule below cites the documentation page it comes from;
 * where a page gives the shape and the API's validation message gives the limit, both are named.
 * Each check returns the problems it found (none when valid), so that tests and the soak runner
 * share them.
 */
import { AnthropicRequest } from "@reins/anthropic"
import { Message, StructuredOutput } from "@reins/core"
import { GoogleRequest } from "@reins/google"
import { KimiRequest } from "@reins/kimi"
import { ChatRequest } from "@reins/openai"
import * as Schema from "effect/Schema"
import * as ResponsesRequest from "../packages/openai/src/responses/Request.js"

/** A provider's request format, named as the tests name them. */
export type WireFormat = "Chat Completions" | "OpenAI Responses" | "Anthropic Messages" | "Gemini" | "Kimi"

/** Every format. */
export const wireFormats: ReadonlyArray<WireFormat> = ["Chat Completions", "OpenAI Responses", "Anthropic Messages", "Gemini", "Kimi"]

/** The provider name each format's layer puts on its messages by default. */
export const providerOf: Record<WireFormat, string> = {
  "Chat Completions": "openai",
  "OpenAI Responses": "openai",
  "Anthropic Messages": "anthropic",
  Gemini: "google",
  Kimi: "kimi"
}

/** The request body each format's layer would send for `history`, from the provider's own Request module. */
export const encoders: Record<WireFormat, (history: ReadonlyArray<Message.Message>) => any> = {
  "Chat Completions": (messages) =>
    ChatRequest.body({ messages }, { model: "m", provider: providerOf["Chat Completions"], dialect: ChatRequest.openAiDialect }),
  "OpenAI Responses": (messages) => ResponsesRequest.body({ messages }, { model: "m", provider: providerOf["OpenAI Responses"] }),
  "Anthropic Messages": (messages) => AnthropicRequest.body({ messages }, { model: "m", provider: providerOf["Anthropic Messages"], maxTokens: 1024 }),
  Gemini: (messages) => GoogleRequest.body({ messages }, { model: "m", provider: providerOf.Gemini }),
  Kimi: (messages) => ChatRequest.body({ messages }, { model: "m", provider: providerOf.Kimi, dialect: KimiRequest.dialect({ thinking: "enabled" }) })
}

/** Counts of strings, for ids that may repeat. */
class Bag {
  private readonly counts = new Map<string, number>()
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }
  /** Takes one `key` out; false when there is none. */
  take(key: string): boolean {
    const n = this.counts.get(key) ?? 0
    if (n === 0) return false
    if (n === 1) this.counts.delete(key)
    else this.counts.set(key, n - 1)
    return true
  }
  get size(): number {
    return this.counts.size
  }
  keys(): Array<string> {
    return [...this.counts.keys()]
  }
}

const isObject = (u: unknown): u is Record<string, any> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Everything the history's assistant messages of `provider` carry to be replayed. */
const replayables = (history: ReadonlyArray<Message.Message>, provider: string) => {
  const reasoning: Array<{ readonly text: string; readonly signature: string; readonly redacted: boolean }> = []
  const signatures = new Set<string>()
  const functionCallIds = new Set<string>()
  for (const message of history) {
    if (message._tag !== "Assistant" || message.provider !== provider) continue
    for (const part of message.content) {
      const signature = part._tag === "Reasoning" ? part.signature : part.metadata?.thoughtSignature
      if (typeof signature === "string") signatures.add(signature)
      if (part._tag === "Reasoning" && part.signature !== undefined) {
        reasoning.push({ text: part.text, signature: part.signature, redacted: part.redacted === true })
      }
      if (part._tag === "ToolCall" && typeof part.metadata?.functionCallId === "string") functionCallIds.add(part.metadata.functionCallId)
    }
  }
  return { reasoning, signatures, functionCallIds }
}

const chatUserParts = (parts: Array<any>, at: string): Array<string> => {
  const problems: Array<string> = []
  parts.forEach((part, j) => {
    // Rule: a user message's content parts are text, image_url, input_audio or file.
    // Source: https://platform.openai.com/docs/api-reference/chat/create
    if (!["text", "image_url", "input_audio", "file"].includes(part?.type)) problems.push(`${at}.content[${j}]: a part of type ${part?.type}`)
    if (part?.type !== "file") return
    // Rule: a file part carries `file_data` (with its `filename`) or a `file_id`; the data is a PDF,
    // the only file type Chat Completions takes, as base64 in a `data:` URL.
    // Source: https://platform.openai.com/docs/guides/pdf-files?api-mode=chat
    const file = part.file
    if (typeof file?.file_id === "string") return
    if (typeof file?.file_data !== "string" || !file.file_data.startsWith("data:application/pdf;base64,")) {
      problems.push(`${at}.content[${j}]: a file part without base64 PDF data`)
    }
    if (typeof file?.filename !== "string" || file.filename === "") problems.push(`${at}.content[${j}]: file data without a filename`)
  })
  return problems
}

/** The OpenAI rules for a `json_schema` format: a name of the given pattern and a schema object. */
const jsonSchemaFormatProblems = (format: any, at: string): Array<string> => {
  const problems: Array<string> = []
  // Rule: the format's `name` "must be a-z, A-Z, 0-9, or contain underscores and dashes, with a
  // maximum length of 64", and `schema` is a JSON Schema object.
  // Source: https://platform.openai.com/docs/api-reference/chat/create
  // Source: https://platform.openai.com/docs/api-reference/responses/create
  if (typeof format?.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(format.name)) problems.push(`${at}: the format name ${format?.name}`)
  if (!isObject(format?.schema)) problems.push(`${at}: a json_schema format without a schema object`)
  // Rule: in strict mode the schema's root is an object, every object sets `additionalProperties:
  // false` and requires all its properties.
  // Source: https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
  else if (format.strict === true && StructuredOutput.strictProblems(format.schema) !== undefined) {
    problems.push(`${at}: a strict schema outside strict mode's rules: ${StructuredOutput.strictProblems(format.schema)}`)
  }
  return problems
}

/** Whether the messages or instructions say "JSON", as JSON mode requires. */
const saysJson = (texts: Array<unknown>): boolean => texts.some((text) => typeof text === "string" && text.includes("JSON"))

const chatProblems = (body: any): Array<string> => {
  const problems: Array<string> = []
  const messages: Array<any> = Array.isArray(body?.messages) ? body.messages : []
  // the calls of the last assistant message that still wait for a `tool` message
  let pending = new Bag()
  messages.forEach((message, i) => {
    const at = `messages[${i}]`
    // Rule: a message's role is system, developer, user, assistant or tool.
    // Source: https://platform.openai.com/docs/api-reference/chat/create
    if (!["system", "developer", "user", "assistant", "tool"].includes(message.role)) {
      problems.push(`${at}: the role ${message.role}`)
      return
    }
    if (message.role === "tool") {
      // Rule: a tool message's `tool_call_id` names the "tool call that this message is responding
      // to", one of the `tool_calls` of the assistant message before it.
      // Source: https://platform.openai.com/docs/api-reference/chat/create
      // Source: https://platform.openai.com/docs/guides/function-calling
      if (!pending.take(message.tool_call_id)) problems.push(`${at}: a result for ${message.tool_call_id}, which no open call has`)
      // Rule: a tool message's `content` is required, a string or text parts.
      // Source: https://platform.openai.com/docs/api-reference/chat/create
      if (typeof message.content !== "string" && !Array.isArray(message.content)) problems.push(`${at}: a tool message without content`)
      else if (Array.isArray(message.content) && message.content.some((part: any) => part?.type !== "text")) {
        problems.push(`${at}: a tool message with content other than text`)
      }
      return
    }
    // Rule: an assistant message with `tool_calls` is followed by tool messages answering each
    // `tool_call_id` before any other message (the API's "must be followed by tool messages
    // responding to each 'tool_call_id'").
    // Source: https://platform.openai.com/docs/guides/function-calling
    if (pending.size > 0) problems.push(`${at}: ${message.role} while calls ${pending.keys()} have no result`)
    pending = new Bag()
    if (message.role === "user" && Array.isArray(message.content)) problems.push(...chatUserParts(message.content, at))
    if (message.role !== "assistant") return
    const calls: Array<any> = Array.isArray(message.tool_calls) ? message.tool_calls : []
    // Rule: an assistant message's `content` is "required unless `tool_calls` or `function_call`
    // is specified".
    // Source: https://platform.openai.com/docs/api-reference/chat/create
    if (calls.length === 0 && typeof message.content !== "string" && !Array.isArray(message.content)) {
      problems.push(`${at}: an assistant message with neither content nor tool calls`)
    }
    for (const call of calls) {
      // Rule: a tool call has an `id`, `type: "function"` and a `function` with a `name` and its
      // `arguments` as a JSON string.
      // Source: https://platform.openai.com/docs/api-reference/chat/create
      if (typeof call?.id !== "string" || call.id === "") problems.push(`${at}: a tool call without an id`)
      if (call?.type !== "function" || typeof call.function?.name !== "string" || typeof call.function?.arguments !== "string") {
        problems.push(`${at}: a tool call ${call?.id} that is not a function with a name and string arguments`)
      }
      pending.add(call?.id)
    }
  })
  if (pending.size > 0) problems.push(`calls ${pending.keys()} have no result`)
  const format = body?.response_format
  if (format !== undefined) {
    // Rule: `response_format` is `text`, `json_object` or `json_schema` with its `json_schema`.
    // Source: https://platform.openai.com/docs/api-reference/chat/create
    if (format.type === "json_schema") problems.push(...jsonSchemaFormatProblems(format.json_schema, "response_format.json_schema"))
    else if (format.type === "json_object") {
      // Rule: with JSON mode, "you must also instruct the model to produce JSON yourself via a system
      // or user message"; the API rejects a request whose messages do not contain the word "JSON".
      // Source: https://platform.openai.com/docs/guides/structured-outputs#json-mode
      if (!saysJson(messages.map((message) => message.content))) problems.push("JSON mode without the word JSON in the messages")
    } else if (format.type !== "text") problems.push(`response_format of type ${format.type}`)
  }
  return problems
}

const kimiProblems = (body: any): Array<string> => {
  const problems = chatProblems(body)
  // Rule: with thinking on (the default of Kimi's thinking models, forced on kimi-k2-thinking),
  // the reasoning of a multi-step tool call stays in the context: an assistant message with
  // `tool_calls` carries its `reasoning_content` (the API's "thinking is enabled but
  // reasoning_content is missing in assistant tool call message").
  // Source: https://platform.moonshot.ai/docs/guide/use-kimi-k2-thinking-model
  // Rule: Kimi's `response_format` is `text` or `json_object` (JSON mode); it has no JSON Schema
  // mode, and file content is read through its Files API, not sent as message parts.
  // Source: https://platform.moonshot.ai/docs/guide/use-json-mode-feature-of-kimi-api
  // Source: https://platform.moonshot.ai/docs/api/files
  if (body?.response_format !== undefined && !["text", "json_object"].includes(body.response_format.type)) {
    problems.push(`response_format of type ${body.response_format.type}`)
  }
  ;(body?.messages ?? []).forEach((message: any, i: number) => {
    if (Array.isArray(message.content) && message.content.some((part: any) => part?.type === "file")) problems.push(`messages[${i}]: a file part`)
  })
  if (body?.thinking?.type === "disabled") return problems
  ;(body?.messages ?? []).forEach((message: any, i: number) => {
    if (message.role === "assistant" && message.tool_calls?.length > 0 && typeof message.reasoning_content !== "string") {
      problems.push(`messages[${i}]: an assistant tool-call message without reasoning_content`)
    }
  })
  return problems
}

const responsesInputProblems = (part: any, at: string): Array<string> => {
  const problems: Array<string> = []
  switch (part?.type) {
    case "input_text":
      if (typeof part.text !== "string") problems.push(`${at}: input_text without text`)
      break
    case "input_image":
      // Rule: an input image has an `image_url` (a URL or a base64 `data:` URL) or a `file_id`.
      // Source: https://platform.openai.com/docs/api-reference/responses/create
      if (typeof part.image_url !== "string" && typeof part.file_id !== "string") problems.push(`${at}: input_image without image_url or file_id`)
      break
    case "input_file":
      // Rule: an input file has `file_data` (a base64 `data:` URL, with its `filename`), a
      // `file_url` or a `file_id`.
      // Source: https://platform.openai.com/docs/guides/pdf-files?api-mode=responses
      if (typeof part.file_data === "string") {
        if (!/^data:[^;,]+;base64,/.test(part.file_data)) problems.push(`${at}: file_data that is not a base64 data URL`)
        if (typeof part.filename !== "string" || part.filename === "") problems.push(`${at}: file_data without a filename`)
      } else if (typeof part.file_url !== "string" && typeof part.file_id !== "string") problems.push(`${at}: input_file without data, URL or id`)
      break
    default:
      // Rule: input content is input_text, input_image, input_file or input_audio.
      // Source: https://platform.openai.com/docs/api-reference/responses/create
      if (part?.type !== "input_audio" && part?.type !== undefined) problems.push(`${at}: content of type ${part?.type}`)
  }
  return problems
}

const responsesProblems = (body: any, history?: ReadonlyArray<Message.Message>): Array<string> => {
  const problems: Array<string> = []
  const items: Array<any> = Array.isArray(body?.input) ? body.input : []
  const own = history !== undefined ? replayables(history, providerOf["OpenAI Responses"]) : undefined
  const sent = new Set<string>()
  // calls not yet answered, by `call_id`, with the output type each one takes
  const open = new Map<string, string>()
  items.forEach((item, i) => {
    const at = `input[${i}]`
    switch (item.type) {
      case "function_call":
      case "custom_tool_call":
        // Rule: a call's `call_id` is "the unique ID of the function tool call generated by the
        // model", so no two calls of the input share one.
        // Source: https://platform.openai.com/docs/api-reference/responses/create
        if (typeof item.call_id !== "string" || item.call_id === "") problems.push(`${at}: a call without a call_id`)
        else if (sent.has(item.call_id)) problems.push(`${at}: a second call with the call_id ${item.call_id}`)
        sent.add(item.call_id)
        // Rule: a function call carries its `name` and its `arguments` as a JSON string; a custom
        // tool call its `name` and its `input` text.
        // Source: https://platform.openai.com/docs/api-reference/responses/create
        if (typeof item.name !== "string" || typeof (item.type === "function_call" ? item.arguments : item.input) !== "string") {
          problems.push(`${at}: a ${item.type} without its name or its ${item.type === "function_call" ? "arguments" : "input"}`)
        }
        open.set(item.call_id, item.type === "function_call" ? "function_call_output" : "custom_tool_call_output")
        break
      case "function_call_output":
      case "custom_tool_call_output": {
        // Rule: an output answers, by `call_id`, a call the input holds before it, with the output
        // type of that call's type.
        // Source: https://platform.openai.com/docs/guides/function-calling
        // Source: https://platform.openai.com/docs/api-reference/responses/create
        const type = open.get(item.call_id)
        // Rule: an output is a string, or a list of `input_text`, `input_image` and `input_file` items.
        // Source: https://platform.openai.com/docs/api-reference/responses/create
        if (Array.isArray(item.output)) {
          item.output.forEach((part: any, j: number) => {
            if (!["input_text", "input_image", "input_file"].includes(part?.type)) problems.push(`${at}.output[${j}]: an item of type ${part?.type}`)
            else problems.push(...responsesInputProblems(part, `${at}.output[${j}]`))
          })
        } else if (typeof item.output !== "string") problems.push(`${at}: an output that is neither text nor a list of items`)
        if (type === undefined) problems.push(`${at}: an output for ${item.call_id}, which no earlier unanswered call has`)
        else if (type !== item.type) problems.push(`${at}: a ${item.type} for a call that takes a ${type}`)
        open.delete(item.call_id)
        break
      }
      case "reasoning":
        // Rule: without stored responses (`store: false`), reasoning goes back as the encrypted
        // content the API returned (`include: ["reasoning.encrypted_content"]`): an item without
        // it cannot be read back.
        // Source: https://platform.openai.com/docs/guides/reasoning
        if (typeof item.encrypted_content !== "string" || item.encrypted_content === "") problems.push(`${at}: reasoning without encrypted content`)
        // ... and only as OpenAI returned it: encrypted content of OpenAI's own reasoning.
        // Source: https://platform.openai.com/docs/guides/reasoning
        else if (own !== undefined && !own.signatures.has(item.encrypted_content)) problems.push(`${at}: encrypted content OpenAI did not return`)
        // Rule: a reasoning item's `summary` is a required array of summary texts.
        // Source: https://platform.openai.com/docs/api-reference/responses/create
        if (!Array.isArray(item.summary)) problems.push(`${at}: reasoning without a summary array`)
        break
      default:
        // Rule: an input message's role is user, assistant, system or developer.
        // Source: https://platform.openai.com/docs/api-reference/responses/create
        if (!["user", "assistant", "system", "developer"].includes(item.role)) problems.push(`${at}: an item of type ${item.type} and role ${item.role}`)
        if (item.role === "user" && Array.isArray(item.content)) {
          item.content.forEach((part: any, j: number) => problems.push(...responsesInputProblems(part, `${at}.content[${j}]`)))
        }
    }
  })
  // Rule: every function call of the input is answered by its output (the API's "No tool output
  // found for function call").
  // Source: https://platform.openai.com/docs/guides/function-calling
  if (open.size > 0) problems.push(`calls ${[...open.keys()]} have no output`)
  const format = body?.text?.format
  if (format !== undefined) {
    // Rule: `text.format` is `text`, `json_object` or `json_schema` (its name and schema inline).
    // Source: https://platform.openai.com/docs/api-reference/responses/create
    if (format.type === "json_schema") problems.push(...jsonSchemaFormatProblems(format, "text.format"))
    else if (format.type === "json_object") {
      // Rule: JSON mode needs the word "JSON" in the context.
      // Source: https://platform.openai.com/docs/guides/structured-outputs#json-mode
      if (!saysJson([body.instructions, ...items.flatMap((item) => (Array.isArray(item.content) ? item.content.map((c: any) => c?.text) : [item.content]))])) {
        problems.push("JSON mode without the word JSON in the input")
      }
    } else if (format.type !== "text") problems.push(`text.format of type ${format.type}`)
  }
  return problems
}

const ANTHROPIC_TOOL_ID = /^[a-zA-Z0-9_-]+$/

const documentProblems = (block: any, at: string): Array<string> => {
  const source = block?.source
  // Rule: a document's source is base64 PDF data (`media_type: "application/pdf"`), plain text
  // (`type: "text"`, `media_type: "text/plain"`), a PDF by `url`, content blocks, or a file id.
  // Source: https://platform.claude.com/docs/en/api/messages
  // Source: https://platform.claude.com/docs/en/build-with-claude/pdf-support
  switch (source?.type) {
    case "base64":
      return source.media_type === "application/pdf" && typeof source.data === "string" && source.data !== "" ? [] : [`${at}: a base64 document that is not PDF data`]
    case "text":
      return source.media_type === "text/plain" && typeof source.data === "string" ? [] : [`${at}: a text document without plain text`]
    case "url":
      return typeof source.url === "string" ? [] : [`${at}: a URL document without a URL`]
    case "content":
    case "file":
      return []
    default:
      return [`${at}: a document with a source of type ${source?.type}`]
  }
}

const anthropicProblems = (body: any, history?: ReadonlyArray<Message.Message>): Array<string> => {
  const problems: Array<string> = []
  const messages: Array<any> = Array.isArray(body?.messages) ? body.messages : []
  const own = history !== undefined ? replayables(history, providerOf["Anthropic Messages"]) : undefined
  const thinking = body?.thinking?.type === "enabled" || body?.thinking?.type === "adaptive"
  const blocksOf = (message: any): Array<any> =>
    typeof message.content === "string" ? [{ type: "text", text: message.content }] : Array.isArray(message.content) ? message.content : []

  // Rule: "Consecutive `user` or `assistant` turns in your request will be combined into a single
  // turn", so the turn rules below apply to the combined turns.
  // Source: https://platform.claude.com/docs/en/api/messages
  const turns: Array<{ role: string; blocks: Array<any>; at: string }> = []
  messages.forEach((message, i) => {
    const at = `messages[${i}]`
    // Rule: a message's role is user or assistant: there is no "system" role for input messages.
    // Source: https://platform.claude.com/docs/en/api/messages
    if (message.role !== "user" && message.role !== "assistant") problems.push(`${at}: the role ${message.role}`)
    // Rule: each message has content ("all messages must have non-empty content except for the
    // optional final assistant message", in the API's words).
    // Source: https://platform.claude.com/docs/en/api/messages
    const blocks = blocksOf(message)
    if (blocks.length === 0 && !(i === messages.length - 1 && message.role === "assistant")) problems.push(`${at}: an empty message`)
    const last = turns[turns.length - 1]
    if (last !== undefined && last.role === message.role) last.blocks.push(...blocks)
    else turns.push({ role: message.role, blocks: [...blocks], at })
  })

  const toolUseIds = new Set<string>()
  let pending = new Set<string>()
  turns.forEach((turn, t) => {
    const at = turn.at
    const answered = new Set<string>()
    let others = false
    for (const block of turn.blocks) {
      switch (block?.type) {
        case "text":
          // Rule: a text block's `text` has at least one character (the schema's `minLength: 1`),
          // and not whitespace only (the API's "text content blocks must contain non-whitespace
          // text").
          // Source: https://platform.claude.com/docs/en/api/messages
          if (typeof block.text !== "string" || block.text.trim() === "") problems.push(`${at}: a text block that is empty or only whitespace`)
          others = true
          break
        case "tool_use":
          // Rule: a `tool_use` block's `id` matches `^[a-zA-Z0-9_-]+$`, its `name` has 1 to 200
          // characters and its `input` is an object.
          // Source: https://platform.claude.com/docs/en/api/messages
          if (typeof block.id !== "string" || !ANTHROPIC_TOOL_ID.test(block.id)) problems.push(`${at}: a tool_use id ${block.id} outside ^[a-zA-Z0-9_-]+$`)
          if (typeof block.name !== "string" || block.name.length < 1 || block.name.length > 200) problems.push(`${at}: a tool_use name of the wrong length`)
          if (!isObject(block.input)) problems.push(`${at}: tool_use input that is not an object`)
          // Rule: the `id` is "a unique identifier for this particular tool use block", used to match
          // its result: no two tool_use blocks of a request share one (the API's "`tool_use` ids
          // must be unique").
          // Source: https://platform.claude.com/docs/en/agents-and-tools/tool-use/handle-tool-calls
          if (toolUseIds.has(block.id)) problems.push(`${at}: a second tool_use with the id ${block.id}`)
          toolUseIds.add(block.id)
          if (turn.role !== "assistant") problems.push(`${at}: a tool_use block in a ${turn.role} turn`)
          others = true
          break
        case "tool_result":
          // Rule: "Tool result blocks must immediately follow their corresponding tool use blocks":
          // a result answers a tool_use of the assistant turn right before its user turn, and
          // "the tool_result blocks must come FIRST in the content array".
          // Source: https://platform.claude.com/docs/en/agents-and-tools/tool-use/handle-tool-calls
          if (turn.role !== "user") problems.push(`${at}: a tool_result block in a ${turn.role} turn`)
          if (!pending.has(block.tool_use_id) || answered.has(block.tool_use_id)) {
            problems.push(`${at}: a result for ${block.tool_use_id}, which the turn before did not call`)
          }
          answered.add(block.tool_use_id)
          if (others) problems.push(`${at}: a tool_result after other content`)
          // Rule: a tool result's `content` is a string or a list of text, image, document and
          // search result blocks.
          // Source: https://platform.claude.com/docs/en/api/messages
          if (Array.isArray(block.content)) {
            for (const inner of block.content) {
              if (!["text", "image", "document", "search_result"].includes(inner?.type)) problems.push(`${at}: a tool_result holding a ${inner?.type} block`)
              else if (inner.type === "text" && (typeof inner.text !== "string" || inner.text.trim() === "")) problems.push(`${at}: a tool_result with an empty text block`)
              else if (inner.type === "document") problems.push(...documentProblems(inner, at))
            }
          } else if (block.content !== undefined && typeof block.content !== "string") problems.push(`${at}: tool_result content that is neither text nor blocks`)
          break
        case "document":
          if (turn.role !== "user") problems.push(`${at}: a document block in a ${turn.role} turn`)
          problems.push(...documentProblems(block, at))
          others = true
          break
        case "thinking":
          // Rule: a thinking block carries its `thinking` and its `signature`.
          // Source: https://platform.claude.com/docs/en/api/messages
          if (typeof block.signature !== "string" || block.signature === "" || typeof block.thinking !== "string") {
            problems.push(`${at}: thinking without its text or signature`)
          } else if (own !== undefined && !own.reasoning.some((r) => !r.redacted && r.signature === block.signature && r.text === block.thinking)) {
            // Rule: thinking goes back as "the complete unmodified block" Claude sent.
            // Source: https://platform.claude.com/docs/en/build-with-claude/extended-thinking
            problems.push(`${at}: thinking that Claude did not send as it is`)
          }
          if (turn.role !== "assistant") problems.push(`${at}: a thinking block in a ${turn.role} turn`)
          others = true
          break
        case "redacted_thinking":
          // Rule: redacted thinking goes back with its `data` unmodified.
          // Source: https://platform.claude.com/docs/en/api/messages
          // Source: https://platform.claude.com/docs/en/build-with-claude/extended-thinking
          if (typeof block.data !== "string" || block.data === "") problems.push(`${at}: redacted thinking without data`)
          else if (own !== undefined && !own.reasoning.some((r) => r.redacted && r.signature === block.data)) {
            problems.push(`${at}: redacted thinking that Claude did not send`)
          }
          others = true
          break
        default:
          others = true
      }
    }
    // Rule: each tool_use is answered in the user turn right after it ("tool_use ids were found
    // without tool_result blocks immediately after").
    // Source: https://platform.claude.com/docs/en/agents-and-tools/tool-use/handle-tool-calls
    const unanswered = [...pending].filter((id) => !answered.has(id))
    if (unanswered.length > 0) problems.push(`${at}: calls ${unanswered} have no result in the turn after them`)
    pending = turn.role === "assistant" ? new Set(turn.blocks.filter((b) => b?.type === "tool_use").map((b) => b.id)) : new Set()
    if (t === turns.length - 1 && turn.role === "assistant") {
      const end = turn.blocks[turn.blocks.length - 1]
      // Rule: a final assistant turn is a prefill, and "the prefill content cannot end with
      // trailing whitespace".
      // Source: https://platform.claude.com/docs/en/build-with-claude/prompt-engineering/prefill-claudes-response
      if (end?.type === "text" && typeof end.text === "string" && end.text !== end.text.trimEnd()) problems.push(`${at}: a prefill that ends with whitespace`)
      // Rule: "You cannot pre-fill responses when thinking is enabled".
      // Source: https://platform.claude.com/docs/en/build-with-claude/extended-thinking
      if (thinking) problems.push(`${at}: a prefill with thinking enabled`)
    }
  })
  if (pending.size > 0) problems.push(`calls ${[...pending]} have no result`)
  // Rule: thinking is not compatible with forced tool use (`tool_choice` `any` or `tool`).
  // Source: https://platform.claude.com/docs/en/build-with-claude/extended-thinking
  if (thinking && (body?.tool_choice?.type === "any" || body?.tool_choice?.type === "tool")) problems.push("forced tool use with thinking enabled")
  const format = body?.output_config?.format
  if (format !== undefined) {
    // Rule: structured outputs take `output_config.format` of `type: "json_schema"` with a `schema`
    // whose objects set `additionalProperties: false`, and without numeric or length limits.
    // Source: https://platform.claude.com/docs/en/build-with-claude/structured-outputs
    if (format.type !== "json_schema" || !isObject(format.schema)) problems.push("output_config.format that is not a json_schema with a schema")
    else {
      const walk = (node: unknown, path: string): void => {
        if (!isObject(node)) return
        if ((node.type === "object" || isObject(node.properties)) && node.additionalProperties !== false) problems.push(`${path}: an object without additionalProperties: false`)
        for (const key of ["minimum", "maximum", "minLength", "maxLength", "multipleOf"]) if (key in node) problems.push(`${path}: ${key}`)
        for (const key of ["properties", "$defs", "definitions"]) if (isObject(node[key])) for (const name in node[key]) walk(node[key][name], `${path}.${name}`)
        if (node.items !== undefined) walk(node.items, `${path}[]`)
        if (Array.isArray(node.anyOf)) node.anyOf.forEach((variant: unknown, i: number) => walk(variant, `${path}.anyOf[${i}]`))
      }
      walk(format.schema, "output_config.format.schema")
    }
  }
  // Not a rule: the thinking of the final assistant turn "should" lead it when thinking is on, but
  // the API then disables thinking for the request rather than rejecting it.
  // Source: https://platform.claude.com/docs/en/build-with-claude/extended-thinking
  return problems
}

/**
 * The stand-ins Gemini documents for a function call it has no signature for.
 * Source: https://ai.google.dev/gemini-api/docs/thought-signatures
 */
const GEMINI_DUMMY_SIGNATURES = new Set(["skip_thought_signature_validator", "context_engineering_is_the_way_to_go"])

const geminiProblems = (body: any, history?: ReadonlyArray<Message.Message>): Array<string> => {
  const problems: Array<string> = []
  const contents: Array<any> = Array.isArray(body?.contents) ? body.contents : []
  const own = history !== undefined ? replayables(history, providerOf.Gemini) : undefined
  const partsOf = (content: any): Array<any> => (Array.isArray(content?.parts) ? content.parts : [])
  const callsOf = (content: any) => partsOf(content).filter((part) => isObject(part.functionCall))
  const responsesOf = (content: any) => partsOf(content).filter((part) => isObject(part.functionResponse))
  // The current turn starts at the last user content with standard content (not function
  // responses): only its function calls are checked for signatures.
  // Source: https://ai.google.dev/gemini-api/docs/thought-signatures
  let turnStart = 0
  contents.forEach((content, i) => {
    if (content.role === "user" && partsOf(content).some((part) => !isObject(part.functionResponse))) turnStart = i
  })
  const callIds = new Set<string>()
  contents.forEach((content, i) => {
    const at = `contents[${i}]`
    const parts = partsOf(content)
    // Rule: a content's role "must be either 'user' or 'model'".
    // Source: https://ai.google.dev/api/caching#Content
    if (content.role !== "user" && content.role !== "model") problems.push(`${at}: the role ${content.role}`)
    // Rule: a content is its "ordered Parts that constitute a single message": at least one
    // (the API rejects contents without parts).
    // Source: https://ai.google.dev/api/caching#Content
    if (parts.length === 0) problems.push(`${at}: no parts`)
    const calls = callsOf(content)
    const responses = responsesOf(content)
    for (const part of calls) {
      const id = part.functionCall.id
      if (id === undefined) continue
      // Rule: `FunctionCall.id` is "the unique id of the function call".
      // Source: https://ai.google.dev/api/caching#FunctionCall
      if (callIds.has(id)) problems.push(`${at}: a second function call with the id ${id}`)
      callIds.add(id)
      // ... given by the model, for the client to answer "with the matching id": one Gemini sent.
      // Source: https://ai.google.dev/api/caching#FunctionCall
      if (own !== undefined && !own.functionCallIds.has(id)) problems.push(`${at}: a function call id ${id} that Gemini did not give`)
    }
    if (calls.length > 0 && content.role !== "model") problems.push(`${at}: function calls in a ${content.role} content`)
    if (responses.length > 0) {
      // Rule: the function responses answering a model content's function calls come in the user
      // content right after it, one response per call, named as the call is.
      // Source: https://ai.google.dev/gemini-api/docs/function-calling
      // Source: https://ai.google.dev/api/caching#FunctionResponse
      const before = contents[i - 1]
      const asked = before?.role === "model" ? callsOf(before) : []
      if (content.role !== "user") problems.push(`${at}: function responses in a ${content.role} content`)
      if (asked.length === 0) problems.push(`${at}: function responses after a content that called no function`)
      const names = new Bag()
      for (const call of asked) names.add(call.functionCall.name)
      for (const part of responses) {
        // Rule: a function response's `response` is a JSON object; media it carries go in its
        // `parts`, as inline data only ("fileData" in function responses is not supported in the
        // Gemini API).
        // Source: https://ai.google.dev/api/caching#FunctionResponse
        // Source: https://ai.google.dev/gemini-api/docs/function-calling#multimodal
        if (!isObject(part.functionResponse.response)) problems.push(`${at}: a function response whose response is not an object`)
        const media = part.functionResponse.parts
        if (media !== undefined && (!Array.isArray(media) || media.some((inner: any) => !isObject(inner?.inlineData) || typeof inner.inlineData.mimeType !== "string"))) {
          problems.push(`${at}: function response parts other than inline data`)
        }
        if (!names.take(part.functionResponse.name)) problems.push(`${at}: a response for ${part.functionResponse.name}, which no call of the content before names`)
        // Rule: `FunctionResponse.id` is "populated by the client to match the corresponding
        // function call id".
        // Source: https://ai.google.dev/api/caching#FunctionResponse
        const id = part.functionResponse.id
        if (id !== undefined && !asked.some((call) => call.functionCall.id === id)) problems.push(`${at}: a response id ${id} that no call of the content before has`)
      }
    }
    if (calls.length > 0) {
      const next = contents[i + 1]
      const answers = next === undefined ? calls.length : responsesOf(next).length
      if (next !== undefined && answers !== calls.length) problems.push(`${at}: ${calls.length} function calls answered by ${answers} responses`)
      // Rule: with Gemini 3, "the first functionCall part in each step of the current turn must
      // include its thought_signature".
      // Source: https://ai.google.dev/gemini-api/docs/thought-signatures
      if (i >= turnStart && typeof calls[0].thoughtSignature !== "string") problems.push(`${at}: the step's first function call has no signature`)
    }
    for (const part of parts) {
      // Rule: a signature goes back "exactly as received", or as one of the documented stand-ins
      // for calls Gemini did not sign.
      // Source: https://ai.google.dev/gemini-api/docs/thought-signatures
      const signature = part.thoughtSignature
      if (signature === undefined || own === undefined || GEMINI_DUMMY_SIGNATURES.has(signature)) continue
      if (!own.signatures.has(signature)) problems.push(`${at}: a thought signature Gemini did not send`)
    }
  })
  // Rule: every function call is answered (the API's "the number of function response parts is
  // equal to the number of function call parts of the function call turn").
  // Source: https://ai.google.dev/gemini-api/docs/function-calling
  const last = contents[contents.length - 1]
  if (last !== undefined && callsOf(last).length > 0) problems.push(`${callsOf(last).length} function calls have no response`)
  const generation = body?.generationConfig
  // Rule: `responseJsonSchema` (and `responseSchema`) need `responseMimeType: "application/json"`;
  // the two schema fields do not go together.
  // Source: https://ai.google.dev/gemini-api/docs/structured-output
  if (generation?.responseJsonSchema !== undefined && generation.responseMimeType !== "application/json") problems.push("responseJsonSchema without the JSON mime type")
  if (generation?.responseJsonSchema !== undefined && generation.responseSchema !== undefined) problems.push("both responseJsonSchema and responseSchema")
  for (const [i, content] of contents.entries()) {
    for (const part of partsOf(content)) {
      // Rule: inline data has its `mimeType` and base64 `data`; file data its `fileUri`.
      // Source: https://ai.google.dev/api/caching#Part
      if (part.inlineData !== undefined && (typeof part.inlineData.mimeType !== "string" || typeof part.inlineData.data !== "string")) problems.push(`contents[${i}]: inline data without mimeType or data`)
      if (part.fileData !== undefined && typeof part.fileData.fileUri !== "string") problems.push(`contents[${i}]: file data without a fileUri`)
    }
  }
  return problems
}

/**
 * What each provider's request must hold, by its documentation. With the `history` the request was
 * encoded from, replayed reasoning and signatures are also checked to be the provider's own, as
 * sent.
 */
export const requestProblems: Record<WireFormat, (body: any, history?: ReadonlyArray<Message.Message>) => Array<string>> = {
  "Chat Completions": chatProblems,
  Kimi: kimiProblems,
  "OpenAI Responses": responsesProblems,
  "Anthropic Messages": anthropicProblems,
  Gemini: geminiProblems
}

const json = Message.ConversationJson

/** JSON with object keys sorted, so that two values compare equal whatever order their keys were set in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v)

/**
 * The provider-neutral problems of a history: a call without exactly one result after it (before
 * the next assistant or user message), a result for no call, and a failed JSON round trip.
 */
export const historyProblems = (history: ReadonlyArray<Message.Message>): Array<string> => {
  const problems: Array<string> = []
  let open = new Bag()
  history.forEach((message, i) => {
    if (message._tag === "ToolResult") {
      if (!open.take(message.toolCallId)) problems.push(`[${i}]: a result for ${message.toolCallId}, which no open call has`)
      return
    }
    if (open.size > 0) problems.push(`[${i}]: ${message._tag} while calls ${open.keys()} have no result`)
    open = new Bag()
    if (message._tag === "Assistant") for (const call of Message.toolCalls(message)) open.add(call.id)
  })
  if (open.size > 0) problems.push(`calls ${open.keys()} have no result`)
  const text = Schema.encodeEither(json)(history)
  if (text._tag === "Left") problems.push(`the history does not encode: ${text.left.message}`)
  else {
    const back = Schema.decodeEither(json)(text.right)
    if (back._tag === "Left") problems.push(`the history does not decode: ${back.left.message}`)
    else if (canonical(back.right) !== canonical(history)) problems.push("the history changes in its JSON round trip")
  }
  return problems
}

/** The message a conversation continues with in these checks, as `Turn.run` appends the user's input. */
export const nextInput = Message.user("Go on.")

/**
 * Everything wrong with continuing `history` on any provider: its own problems, then those of the
 * request each format sends for it followed by the user's next message.
 */
export const conversationProblems = (history: ReadonlyArray<Message.Message>): Array<string> => {
  const continued = [...history, nextInput]
  return [
    ...historyProblems(history),
    ...wireFormats.flatMap((format) =>
      requestProblems[format](encoders[format](continued), continued).map((problem) => `${format}: ${problem}`)
    )
  ]
}
