/**
 * The official SDK side of the comparison: each provider's own client pointed at a ProviderServer,
 * its own accumulated final message where it has one (Chat Completions, Responses, Messages) or its
 * parsed chunks folded as the provider's reference describes them (Gemini), in the shared outcome
 * shape. The rules here say how each provider's wire values map onto Reins's vocabulary, with the
 * page that defines them.
 */
import Anthropic from "@anthropic-ai/sdk"
import { GoogleGenAI } from "@google/genai"
import type { ProviderServer } from "@reins/testing"
import OpenAI from "openai"
import * as Outcome from "./Outcome.js"
import type { Format } from "./Recordings.js"

const apiKey = "sk-test-key"
const hi = "Hi"

/** A count, or `undefined` when the wire did not send one. */
const count = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined)

/**
 * Chat Completions through `chat.completions.stream()` and `finalChatCompletion()`. The SDK keeps no
 * reasoning text (OpenAI sends none), so the `reasoning_content` (DeepSeek, Kimi, xAI) or
 * `reasoning` deltas of the chunks it parsed are folded beside it.
 */
const chat = (client: OpenAI) => async (): Promise<Outcome.Outcome> => {
  const stream = client.chat.completions.stream({ model: "test-model", messages: [{ role: "user", content: hi }] })
  let reasoning = ""
  stream.on("chunk", (chunk) => {
    const delta: any = chunk.choices?.[0]?.delta
    const text = delta?.reasoning_content ?? delta?.reasoning
    if (typeof text === "string") reasoning += text
  })
  const completion = await stream.finalChatCompletion()
  const choice = completion.choices[0]
  if (choice === undefined) throw new Error("the completion has no choice")
  const message = choice.message
  const calls = (message.tool_calls ?? []).filter((call) => call !== undefined && call.type === "function")
  const refusal = message.refusal ?? ""
  const usage: any = completion.usage ?? {}
  const input = count(usage.prompt_tokens)
  const completionTokens = count(usage.completion_tokens)
  const reasoningTokens = count(usage.completion_tokens_details?.reasoning_tokens)
  // OpenAI counts reasoning inside `completion_tokens`
  // (https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage); a server that
  // counts it beside (xAI) shows so in its own `total_tokens`, and Reins's output count includes it.
  const beside = reasoningTokens !== undefined && reasoningTokens > 0 &&
    usage.total_tokens === (input ?? 0) + (completionTokens ?? 0) + reasoningTokens
  let stopReason = Outcome.mapStopReason(Outcome.stopReasons.chat, choice.finish_reason)
  // A compatible server that says "stop" after tool calls still waits for their results; a refusal
  // (https://platform.openai.com/docs/guides/structured-outputs#refusals) is its own reason.
  if (stopReason === "stop" && calls.length > 0) stopReason = "tool-calls"
  if (stopReason === "stop" && refusal !== "") stopReason = "refusal"
  return {
    _tag: "Message",
    pieces: Outcome.pieces([
      { kind: "reasoning", text: reasoning },
      { kind: "text", text: (message.content ?? "") + refusal },
      ...calls.map((call) => ({ kind: "tool" as const, text: call.function.name }))
    ]),
    signatures: [],
    toolCalls: calls.map((call) => ({
      id: call.id === "" ? undefined : call.id,
      name: call.function.name,
      arguments: Outcome.parseArguments(call.function.arguments)
    })),
    usage: {
      input,
      output: completionTokens === undefined ? undefined : completionTokens + (beside ? reasoningTokens : 0),
      cacheRead: count(usage.prompt_tokens_details?.cached_tokens) ?? count(usage.cached_tokens) ?? 0,
      cacheWrite: undefined,
      reasoning: reasoningTokens ?? 0
    },
    stopReason
  }
}

/**
 * Responses through `responses.stream()` and `finalResponse()`. Each content part of a message and
 * each summary part of reasoning is a part of its own in Reins, with nothing put between them.
 */
const responses = (client: OpenAI) => async (): Promise<Outcome.Outcome> => {
  const stream = client.responses.stream({ model: "test-model", input: hi })
  // The reference says to replay the encrypted content of the item that `response.output_item.done`
  // carries (https://platform.openai.com/docs/api-reference/responses/object, reasoning item,
  // `encrypted_content`); the copy in `response.completed`, which `finalResponse()` holds, may be
  // another encryption of it (it is in openai-reasoning-encrypted-content.1.chunks.txt).
  const encrypted = new Map<string, string>()
  stream.on("response.output_item.done", (event) => {
    const item: any = event.item
    if (item.type === "reasoning" && typeof item.encrypted_content === "string") encrypted.set(item.id, item.encrypted_content)
  })
  const response: any = await stream.finalResponse()
  const units: Array<Outcome.Unit> = []
  const signatures: Array<string> = []
  const toolCalls: Array<Outcome.ToolCall> = []
  let refused = false
  for (const item of response.output ?? []) {
    switch (item.type) {
      case "reasoning": {
        const texts = [...(item.summary ?? []), ...(item.content ?? [])].map((part: any) => String(part.text ?? ""))
        for (const text of texts) units.push({ kind: "reasoning", text })
        const signature: unknown = encrypted.get(item.id) ?? item.encrypted_content
        if (typeof signature === "string" && signature !== "") signatures.push(signature)
        break
      }
      case "message": {
        const parts: Array<any> = item.content ?? []
        for (const part of parts) {
          if (part.type === "refusal") refused = true
          units.push({ kind: "text", text: String(part.type === "refusal" ? part.refusal : part.text ?? "") })
        }
        break
      }
      case "function_call":
        units.push({ kind: "tool", text: item.name })
        toolCalls.push({ id: item.call_id, name: item.name, arguments: Outcome.parseArguments(item.arguments) })
        break
      case "custom_tool_call":
        // Reins carries a custom tool's free-text input as the JSON `{"input": <text>}`.
        units.push({ kind: "tool", text: item.name })
        toolCalls.push({ id: item.call_id, name: item.name, arguments: { input: item.input } })
        break
    }
  }
  const usage = response.usage ?? {}
  const stopReason = response.status === "incomplete"
    ? Outcome.mapStopReason(Outcome.stopReasons.responsesIncomplete, response.incomplete_details?.reason)
    : toolCalls.length > 0
    ? "tool-calls"
    : refused
    ? "refusal"
    : "stop"
  return {
    _tag: "Message",
    pieces: Outcome.pieces(units),
    signatures,
    toolCalls,
    usage: {
      input: count(usage.input_tokens),
      output: count(usage.output_tokens),
      cacheRead: count(usage.input_tokens_details?.cached_tokens) ?? 0,
      cacheWrite: undefined,
      reasoning: count(usage.output_tokens_details?.reasoning_tokens) ?? 0
    },
    stopReason
  }
}

/**
 * Messages through `messages.stream()` and `finalMessage()`. A tool input cut short (max_tokens
 * inside the JSON) is compared as the JSON text the SDK accumulated, which it keeps beside its
 * best-effort partial parse.
 */
const anthropic = (client: Anthropic) => async (): Promise<Outcome.Outcome> => {
  const message = await client.messages.stream({ model: "test-model", max_tokens: 1024, messages: [{ role: "user", content: hi }] })
    .finalMessage()
  const units: Array<Outcome.Unit> = []
  const signatures: Array<string> = []
  const toolCalls: Array<Outcome.ToolCall> = []
  for (const block of message.content as Array<any>) {
    switch (block.type) {
      case "text":
        units.push({ kind: "text", text: block.text })
        break
      case "thinking":
        units.push({ kind: "reasoning", text: block.thinking })
        if (typeof block.signature === "string" && block.signature !== "") signatures.push(block.signature)
        break
      case "redacted_thinking":
        signatures.push(block.data)
        break
      case "tool_use": {
        // the SDK's parse of the input, unless the JSON it accumulated (kept in `__json_buf`) is cut short
        const raw: unknown = block.__json_buf
        const args = typeof raw === "string" && raw !== "" && !Outcome.isJson(raw) ? { unparsed: raw } : block.input
        units.push({ kind: "tool", text: block.name })
        toolCalls.push({ id: block.id, name: block.name, arguments: args })
        break
      }
      // server_tool_use, web_search_tool_result and the other blocks the API runs or shows itself
    }
  }
  const usage: any = message.usage
  const cacheRead = count(usage.cache_read_input_tokens) ?? 0
  const cacheWrite = count(usage.cache_creation_input_tokens) ?? 0
  return {
    _tag: "Message",
    pieces: Outcome.pieces(units),
    signatures,
    toolCalls,
    usage: {
      // The total input is the three counts together:
      // https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#tracking-cache-performance
      input: (count(usage.input_tokens) ?? 0) + cacheRead + cacheWrite,
      output: count(usage.output_tokens),
      cacheRead,
      cacheWrite,
      reasoning: count(usage.output_tokens_details?.thinking_tokens) ?? 0
    },
    stopReason: Outcome.mapStopReason(Outcome.stopReasons.anthropic, message.stop_reason)
  }
}

/** The steps of a normalized JSON path (`$.a.b`, `$['a']`, `$.a[0]`), as RFC 9535 writes them. */
const jsonPath = (path: string): Array<string | number> => {
  const steps: Array<string | number> = []
  const pattern = /\.([^.[]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y
  pattern.lastIndex = 1
  while (pattern.lastIndex < path.length) {
    const match = pattern.exec(path)
    if (match === null) throw new Error(`not a JSON path: ${path}`)
    steps.push(match[1] ?? (match[2] !== undefined ? Number(match[2]) : JSON.parse(`"${match[3] ?? match[4]}"`)))
  }
  return steps
}

/**
 * A function call's arguments built from its `partialArgs` as the reference describes them
 * (https://googleapis.github.io/js-genai/release_docs/interfaces/types.PartialArg.html): each sets
 * the value at its JSON path, and the string parts of one path marked `willContinue` join up.
 */
class StreamedArgs {
  readonly root: Record<string, unknown> = {}
  private readonly continuing = new Set<string>()
  add(arg: any) {
    const steps = jsonPath(arg.jsonPath)
    let node: any = this.root
    steps.slice(0, -1).forEach((step, i) => {
      const array = typeof steps[i + 1] === "number"
      if (typeof node[step] !== "object" || node[step] === null) node[step] = array ? [] : {}
      node = node[step]
    })
    const last = steps[steps.length - 1]!
    const value = "stringValue" in arg
      ? (this.continuing.has(arg.jsonPath) && typeof node[last] === "string" ? node[last] : "") + arg.stringValue
      : "numberValue" in arg
      ? arg.numberValue
      : "boolValue" in arg
      ? arg.boolValue
      : null
    node[last] = value
    if (arg.willContinue === true) this.continuing.add(arg.jsonPath)
    else this.continuing.delete(arg.jsonPath)
  }
}

/**
 * Gemini through `models.generateContentStream()`, its chunks folded: candidate 0's parts in order
 * (thought parts are reasoning), a call streamed with `willContinue` assembled until its last
 * fragment, and the usage counts, which every chunk repeats cumulatively, taken as last reported.
 */
const gemini = (ai: GoogleGenAI) => async (): Promise<Outcome.Outcome> => {
  const chunks = await ai.models.generateContentStream({
    model: "test-model",
    contents: hi,
    config: { automaticFunctionCalling: { disable: true } }
  })
  const units: Array<Outcome.Unit> = []
  const signatures: Array<string> = []
  const toolCalls: Array<{ id: string | undefined; name: string; args: Record<string, unknown> }> = []
  let open: { streamed: StreamedArgs; call: (typeof toolCalls)[number] } | undefined
  let finishReason: string | undefined
  let blockReason: string | undefined
  const usage: Record<string, number> = {}
  for await (const chunk of chunks) {
    const candidate: any = chunk.candidates?.[0]
    for (const part of candidate?.content?.parts ?? []) {
      const signature = typeof part.thoughtSignature === "string" && part.thoughtSignature !== "" ? part.thoughtSignature : undefined
      const call = part.functionCall
      if (call !== undefined && call !== null) {
        if (open !== undefined) {
          // a later fragment of the open call
          Object.assign(open.call.args, call.args ?? {})
          for (const arg of call.partialArgs ?? []) open.streamed.add(arg)
          if (signature !== undefined) signatures.push(signature)
          if (call.willContinue !== true) {
            Object.assign(open.call.args, open.streamed.root)
            open = undefined
          }
          continue
        }
        if (typeof call.name !== "string" || call.name === "") continue
        const made = { id: typeof call.id === "string" && call.id !== "" ? call.id : undefined, name: call.name, args: { ...(call.args ?? {}) } }
        toolCalls.push(made)
        units.push({ kind: "tool", text: call.name })
        if (signature !== undefined) signatures.push(signature)
        const streamed = new StreamedArgs()
        for (const arg of call.partialArgs ?? []) streamed.add(arg)
        if (call.willContinue === true) open = { streamed, call: made }
        else Object.assign(made.args, streamed.root)
        continue
      }
      if (typeof part.text === "string") units.push({ kind: part.thought === true ? "reasoning" : "text", text: part.text })
      if (signature !== undefined) signatures.push(signature)
    }
    if (typeof candidate?.finishReason === "string") finishReason = candidate.finishReason
    if (typeof chunk.promptFeedback?.blockReason === "string") blockReason = chunk.promptFeedback.blockReason
    for (const [key, value] of Object.entries(chunk.usageMetadata ?? {})) if (typeof value === "number") usage[key] = value
  }
  if (open !== undefined) Object.assign(open.call.args, open.streamed.root)
  let stopReason = finishReason === undefined && blockReason !== undefined
    ? "content-filter" as const
    : Outcome.mapStopReason(Outcome.stopReasons.gemini, finishReason)
  // Gemini says STOP after function calls (https://ai.google.dev/gemini-api/docs/function-calling);
  // the caller must still run them.
  if (stopReason === "stop" && toolCalls.length > 0) stopReason = "tool-calls"
  const thoughts = usage.thoughtsTokenCount
  return {
    _tag: "Message",
    pieces: Outcome.pieces(units),
    signatures,
    toolCalls: toolCalls.map((call) => ({ id: call.id, name: call.name, arguments: call.args })),
    usage: {
      // https://ai.google.dev/api/generate-content#UsageMetadata: the prompt count includes the cached
      // content; thoughts are counted beside the candidates, and Reins's output count includes them.
      input: (usage.promptTokenCount ?? 0) + (usage.toolUsePromptTokenCount ?? 0),
      output: (usage.candidatesTokenCount ?? 0) + (thoughts ?? 0),
      cacheRead: usage.cachedContentTokenCount ?? 0,
      cacheWrite: undefined,
      reasoning: thoughts ?? 0
    },
    stopReason
  }
}

/** What each format's SDK client is, made once per server. */
const clients: Record<Format, (server: ProviderServer.ProviderServer) => () => Promise<Outcome.Outcome>> = {
  chat: (server) => chat(new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 })),
  responses: (server) => responses(new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 })),
  anthropic: (server) => anthropic(new Anthropic({ apiKey, baseURL: server.url, maxRetries: 0 })),
  gemini: (server) => gemini(new GoogleGenAI({ apiKey, httpOptions: { baseUrl: server.url } }))
}

/**
 * The official SDK client of `format` pointed at `server`: each call says what the SDK makes of the
 * next script the server plays, the message or the failure.
 */
export const make = (format: Format, server: ProviderServer.ProviderServer): () => Promise<Outcome.Outcome> => {
  const run = clients[format](server)
  return () => run().catch(Outcome.failure)
}
