/**
 * What makes a conversation valid to continue (DESIGN.md): every tool call answered by exactly one
 * result, nothing empty or unsigned that a provider would reject, and a history that survives its
 * JSON round trip. Each check returns the problems it found (none when valid), so that tests and
 * the soak runner share them.
 */
import { AnthropicRequest } from "@reins/anthropic"
import { Message } from "@reins/core"
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

const chatProblems = (body: any): Array<string> => {
  const problems: Array<string> = []
  const pending = new Set<string>()
  body.messages.forEach((message: any, i: number) => {
    if (message.role === "tool") {
      if (!pending.delete(message.tool_call_id)) problems.push(`messages[${i}]: a result for ${message.tool_call_id}, which no open call has`)
      return
    }
    if (pending.size > 0) problems.push(`messages[${i}]: ${message.role} while calls ${[...pending]} have no result`)
    if (message.role === "assistant") {
      if (!(message.content !== "" || message.tool_calls?.length > 0 || message.reasoning_content)) {
        problems.push(`messages[${i}]: an empty assistant message`)
      }
      for (const call of message.tool_calls ?? []) pending.add(call.id)
    }
  })
  if (pending.size > 0) problems.push(`calls ${[...pending]} have no result`)
  return problems
}

/** What each provider's request must hold: every call answered, nothing empty or unsigned. */
export const requestProblems: Record<WireFormat, (body: any) => Array<string>> = {
  "Chat Completions": chatProblems,
  Kimi: (body) => {
    const problems = chatProblems(body)
    // Kimi's preserved-thinking models reject an assistant message without its reasoning.
    body.messages.forEach((message: any, i: number) => {
      if (message.role === "assistant" && typeof message.reasoning_content !== "string") {
        problems.push(`messages[${i}]: an assistant message without reasoning_content`)
      }
    })
    return problems
  },
  "OpenAI Responses": (body) => {
    const problems: Array<string> = []
    const pending = new Set<string>()
    body.input.forEach((item: any, i: number) => {
      if (item.type === "function_call" || item.type === "custom_tool_call") pending.add(item.call_id)
      else if (item.type === "function_call_output" || item.type === "custom_tool_call_output") {
        if (!pending.delete(item.call_id)) problems.push(`input[${i}]: an output for ${item.call_id}, which no open call has`)
      } else if (pending.size > 0) problems.push(`input[${i}]: ${item.type ?? item.role} while calls ${[...pending]} have no output`)
      if (item.type === "reasoning" && !item.encrypted_content) problems.push(`input[${i}]: reasoning without encrypted content`)
      if (item.type === "message" && item.role === "assistant" && !item.content.some((part: any) => part.text !== "")) {
        problems.push(`input[${i}]: an empty assistant message`)
      }
    })
    if (pending.size > 0) problems.push(`calls ${[...pending]} have no output`)
    return problems
  },
  "Anthropic Messages": (body) => {
    const problems: Array<string> = []
    let pending = new Set<string>()
    body.messages.forEach((message: any, i: number) => {
      if (i === 0 && message.role !== "user") problems.push("the first turn is not the user's")
      if (i > 0 && message.role === body.messages[i - 1].role) problems.push(`messages[${i}]: two ${message.role} turns in a row`)
      if (message.content.length === 0) problems.push(`messages[${i}]: an empty turn`)
      for (const block of message.content) {
        if (block.type === "tool_result" && !pending.delete(block.tool_use_id)) {
          problems.push(`messages[${i}]: a result for ${block.tool_use_id}, which the turn before did not call`)
        }
        if (block.type === "thinking" && !block.signature) problems.push(`messages[${i}]: unsigned thinking`)
        if (block.type === "text" && block.text === "") problems.push(`messages[${i}]: an empty text block`)
        if (block.type === "tool_use" && (block.input === null || typeof block.input !== "object" || Array.isArray(block.input))) {
          problems.push(`messages[${i}]: tool_use input that is not an object`)
        }
      }
      if (pending.size > 0) problems.push(`messages[${i}]: calls ${[...pending]} have no result in the turn after them`)
      pending = new Set(message.content.filter((block: any) => block.type === "tool_use").map((block: any) => block.id))
    })
    if (pending.size > 0) problems.push(`calls ${[...pending]} have no result`)
    return problems
  },
  Gemini: (body) => {
    const problems: Array<string> = []
    let pending = 0
    body.contents.forEach((content: any, i: number) => {
      if (content.parts.length === 0) problems.push(`contents[${i}]: no parts`)
      const responses = content.parts.filter((part: any) => part.functionResponse !== undefined).length
      if (responses !== pending) problems.push(`contents[${i}]: ${responses} function responses for ${pending} calls`)
      pending = content.parts.filter((part: any) => part.functionCall !== undefined).length
    })
    if (pending > 0) problems.push(`${pending} calls have no response`)
    return problems
  }
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
  const open = new Set<string>()
  history.forEach((message, i) => {
    if (message._tag === "ToolResult") {
      if (!open.delete(message.toolCallId)) problems.push(`[${i}]: a result for ${message.toolCallId}, which no open call has`)
      return
    }
    if (open.size > 0) problems.push(`[${i}]: ${message._tag} while calls ${[...open]} have no result`)
    open.clear()
    if (message._tag === "Assistant") for (const call of Message.toolCalls(message)) open.add(call.id)
  })
  if (open.size > 0) problems.push(`calls ${[...open]} have no result`)
  const text = Schema.encodeEither(json)(history)
  if (text._tag === "Left") problems.push(`the history does not encode: ${text.left.message}`)
  else {
    const back = Schema.decodeEither(json)(text.right)
    if (back._tag === "Left") problems.push(`the history does not decode: ${back.left.message}`)
    else if (canonical(back.right) !== canonical(history)) problems.push("the history changes in its JSON round trip")
  }
  return problems
}

/** Everything wrong with continuing `history` on any provider: its own problems, then each format's request's. */
export const conversationProblems = (history: ReadonlyArray<Message.Message>): Array<string> => [
  ...historyProblems(history),
  ...wireFormats.flatMap((format) => requestProblems[format](encoders[format](history)).map((problem) => `${format}: ${problem}`))
]
