/**
 * The four wire formats in one table, for tests that run the same case in each: Chat Completions,
 * OpenAI Responses, Anthropic Messages and Gemini. For each, its id and name, the path its clients
 * call on a `ProviderServer`, the base URL as its provider's SDK takes it (OpenAI with `/v1`,
 * Anthropic and Gemini the host root), the Reins model layer pointed at a server, and its script
 * helpers under the same names and parameters: `start`, `text`, `reasoning`, `toolCall`,
 * `finish`, `reply`, `errorBody` and `errorEvent`.
 *
 * The layer loads its provider package (`@reins/openai`, `@reins/anthropic`, `@reins/google`) only
 * when it is built, so that a program that only serves scripts loads no client code, and the
 * provider packages are needed only by those who build layers.
 *
 * @example
 * ```ts
 * import { Formats } from "@reins/testing"
 *
 * for (const format of Formats.all) {
 *   // the same reply, in each format's own events
 *   const script = format.reply({ text: "Hello", usage: { input: 3, output: 2 } })
 *   console.log(format.name, format.route(format.model), script.steps.length)
 * }
 * ```
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { HttpStream, LanguageModel, Retry } from "@reins/core"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Chaos from "./Chaos.js"
import * as ChatCompletions from "./ChatCompletions.js"
import * as Gemini from "./Gemini.js"
import * as Messages from "./Messages.js"
import * as Responses from "./Responses.js"
import * as Script from "./Script.js"

/** A format's short id, as the bench and the tables name it. */
export type Id = "chat" | "responses" | "messages" | "gemini"

/** A format's name, as test titles show it. */
export type Name = "Chat Completions" | "OpenAI Responses" | "Anthropic Messages" | "Gemini"

/** Token counts, in the words of every format. */
export interface Usage {
  readonly input: number
  readonly output: number
}

/** A tool call, in the words of every format. */
export interface ToolCall {
  readonly id: string
  readonly name: string
  readonly arguments: Record<string, unknown>
}

/** Where a part sits and how it is cut. */
export interface PartOptions {
  /** The part's position, as the format numbers it (Anthropic block, Responses output item, Chat tool call); 0 by default. */
  readonly index?: number
  /** Code points per delta. */
  readonly chunkSize?: number
}

/** What `reply` streams, in this order: reasoning, text, tool calls, then the terminal events. */
export interface Reply {
  readonly reasoning?: string
  readonly text?: string
  readonly toolCalls?: ReadonlyArray<ToolCall>
  readonly usage?: Usage
  readonly chunkSize?: number
  /** Milliseconds between events. */
  readonly deltaDelay?: number
}

/** What a model layer is configured with besides its base URL. */
export interface ModelOptions {
  /** The format's `model` when absent. */
  readonly model?: string | undefined
  /** `apiKey` when absent. */
  readonly apiKey?: Redacted.Redacted | string | undefined
  readonly headers?: Record<string, string> | undefined
  readonly timeouts?: HttpStream.Timeouts | undefined
  readonly retry?: Retry.Policy | undefined
  /**
   * Options of the provider's own (`reasoningSummary`, `thinking`, ...), passed as they are; a
   * `baseUrl` given here wins over the server's.
   */
  readonly [option: string]: unknown
}

/** One wire format. */
export interface Format {
  readonly id: Id
  readonly name: Name
  /** The format's name in `Chaos`. */
  readonly chaos: Chaos.Format
  /** The `provider` its layer names in messages and errors. */
  readonly provider: "openai" | "anthropic" | "google"
  /** The model its layer asks for unless told. */
  readonly model: string
  /** The path (with its query) its clients call on a server, for `model`. */
  readonly route: (model: string) => string
  /** The base URL of a server at `serverUrl`, as the provider's SDK and Reins layer take it. */
  readonly baseUrl: (serverUrl: string) => string
  /** The Reins model of this format pointed at the server at `serverUrl`, on the HttpClient in context. */
  readonly layer: (
    serverUrl: string,
    options?: ModelOptions
  ) => Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>
  /** The events a reply opens with, before any content. */
  readonly start: () => Array<Script.Step>
  /** A whole text part. */
  readonly text: (content: string, options?: PartOptions) => Array<Script.Step>
  /** A whole reasoning part, signed with `signature` where the format signs. */
  readonly reasoning: (content: string, options?: PartOptions & { readonly signature?: string }) => Array<Script.Step>
  /** A whole tool call. */
  readonly toolCall: (call: ToolCall, options?: PartOptions) => Array<Script.Step>
  /** The terminal events: `reason` is the format's own finish reason (its normal stop when absent). */
  readonly finish: (options?: { readonly reason?: string; readonly usage?: Usage }) => Array<Script.Step>
  /** A whole streamed reply. */
  readonly reply: (options: Reply) => Script.Script
  /** A non-2xx error response in the provider's documented body shape. */
  readonly errorBody: (
    status: number,
    message: string,
    options?: { readonly headers?: Readonly<Record<string, string>> | undefined }
  ) => Script.Script
  /** An error event sent mid-stream, in the provider's documented shape, of the kind `status` names. */
  readonly errorEvent: (status: number, message: string) => Script.Step
}

/** The key every format's layer sends unless told. */
export const apiKey = "sk-test-key"

const common = (format: Format, serverUrl: string, options: ModelOptions | undefined): Record<string, unknown> => {
  const given: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options ?? {})) if (value !== undefined) given[key] = value
  return { model: format.model, apiKey, baseUrl: format.baseUrl(serverUrl), ...given }
}

/** A layer built from a provider package loaded when the layer is built. */
const lazily = <A>(
  load: () => Promise<A>,
  make: (module: A) => Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>
): Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(Effect.promise(load), make))

const pick = <T extends object>(options: T | undefined, keys: ReadonlyArray<keyof T>): Partial<T> =>
  options === undefined ? {} : Script.defined(options, keys)

const chatUsage = (usage: Usage) => ({ prompt_tokens: usage.input, completion_tokens: usage.output })

export const chat: Format = {
  id: "chat",
  name: "Chat Completions",
  chaos: "ChatCompletions",
  provider: "openai",
  model: "test-model",
  route: () => "/v1/chat/completions",
  baseUrl: (url) => `${url}/v1`,
  layer: (url, options) =>
    lazily(() => import("@reins/openai"), (openai) => openai.OpenAiChat.layer(common(chat, url, options) as unknown as Parameters<typeof openai.OpenAiChat.layer>[0])),
  start: () => [ChatCompletions.start()],
  text: (content, options) => ChatCompletions.text(content, pick(options, ["chunkSize"])),
  reasoning: (content, options) => ChatCompletions.reasoning(content, pick(options, ["chunkSize"])),
  toolCall: (call, options) =>
    ChatCompletions.toolCall({ id: call.id, name: call.name, arguments: call.arguments, index: options?.index ?? 0, ...pick(options, ["chunkSize"]) }),
  finish: (options) => [
    ChatCompletions.finish(options?.reason ?? "stop"),
    ...(options?.usage !== undefined ? [ChatCompletions.usage(chatUsage(options.usage))] : []),
    ChatCompletions.done
  ],
  reply: (options) =>
    ChatCompletions.reply({
      ...Script.defined(options, ["text", "reasoning", "chunkSize", "deltaDelay"]),
      ...(options.toolCalls !== undefined ? { toolCalls: options.toolCalls.map((call) => ({ id: call.id, name: call.name, arguments: call.arguments })) } : {}),
      ...(options.usage !== undefined ? { usage: chatUsage(options.usage) } : {})
    }),
  errorBody: (status, message, options) => ChatCompletions.errorBody(status, message, options),
  errorEvent: (status, message) => ChatCompletions.errorEvent(status, message)
}

const responsesUsage = (usage: Usage | undefined) => usage === undefined ? {} : { usage: { input_tokens: usage.input, output_tokens: usage.output } }

export const responses: Format = {
  id: "responses",
  name: "OpenAI Responses",
  chaos: "Responses",
  provider: "openai",
  model: "test-model",
  route: () => "/v1/responses",
  baseUrl: (url) => `${url}/v1`,
  layer: (url, options) =>
    lazily(() => import("@reins/openai"), (openai) => openai.OpenAiResponses.layer(common(responses, url, options) as unknown as Parameters<typeof openai.OpenAiResponses.layer>[0])),
  start: () => [Responses.created(), Responses.inProgress()],
  text: (content, options) =>
    Responses.message(content, { outputIndex: options?.index ?? 0, id: `msg_${options?.index ?? 0}`, ...pick(options, ["chunkSize"]) }),
  reasoning: (content, options) =>
    Responses.reasoning({
      summary: [content],
      outputIndex: options?.index ?? 0,
      id: `rs_${options?.index ?? 0}`,
      ...pick(options, ["chunkSize"]),
      ...(options?.signature !== undefined ? { encryptedContent: options.signature } : {})
    }),
  toolCall: (call, options) =>
    Responses.functionCall({ callId: call.id, name: call.name, arguments: call.arguments, outputIndex: options?.index ?? 0, ...pick(options, ["chunkSize"]) }),
  finish: (options) => [
    options?.reason !== undefined ? Responses.incomplete(options.reason, responsesUsage(options.usage)) : Responses.completed(responsesUsage(options?.usage))
  ],
  reply: (options) =>
    Responses.reply({
      ...Script.defined(options, ["text", "chunkSize", "deltaDelay"]),
      ...(options.reasoning !== undefined ? { reasoning: { summary: [options.reasoning] } } : {}),
      ...(options.toolCalls !== undefined ? { toolCalls: options.toolCalls.map((call) => ({ callId: call.id, name: call.name, arguments: call.arguments })) } : {}),
      ...responsesUsage(options.usage)
    }),
  errorBody: (status, message, options) => Responses.errorBody(status, message, options),
  errorEvent: (status, message) => Responses.errorEvent(status, message)
}

export const messages: Format = {
  id: "messages",
  name: "Anthropic Messages",
  chaos: "Messages",
  provider: "anthropic",
  model: "claude-test",
  route: () => "/v1/messages",
  baseUrl: (url) => url,
  layer: (url, options) =>
    lazily(() => import("@reins/anthropic"), (anthropic) => anthropic.Anthropic.layer(common(messages, url, options) as unknown as Parameters<typeof anthropic.Anthropic.layer>[0])),
  start: () => [Messages.messageStart(), Messages.ping],
  text: (content, options) => Messages.text(options?.index ?? 0, content, pick(options, ["chunkSize"])),
  reasoning: (content, options) => Messages.thinking(options?.index ?? 0, content, options?.signature ?? "", pick(options, ["chunkSize"])),
  toolCall: (call, options) =>
    Messages.toolUse({ index: options?.index ?? 0, id: call.id, name: call.name, input: call.arguments, ...pick(options, ["chunkSize"]) }),
  finish: (options) => [
    Messages.messageDelta(
      options?.reason ?? "end_turn",
      options?.usage !== undefined ? { output_tokens: options.usage.output, input_tokens: options.usage.input } : undefined
    ),
    Messages.messageStop
  ],
  reply: (options) =>
    Messages.reply({
      ...Script.defined(options, ["text", "chunkSize", "deltaDelay"]),
      ...(options.reasoning !== undefined ? { thinking: { text: options.reasoning, signature: "sig_reins_test" } } : {}),
      ...(options.toolCalls !== undefined ? { toolCalls: options.toolCalls.map((call) => ({ id: call.id, name: call.name, input: call.arguments })) } : {}),
      ...(options.usage !== undefined ? { usage: { input_tokens: options.usage.input, output_tokens: options.usage.output } } : {})
    }),
  errorBody: (status, message, options) => Messages.errorBody(status, message, options),
  errorEvent: (status, message) => Messages.errorEvent(status, message)
}

const geminiUsage = (usage: Usage | undefined) =>
  usage === undefined ? {} : { usage: { promptTokenCount: usage.input, candidatesTokenCount: usage.output } }

export const gemini: Format = {
  id: "gemini",
  name: "Gemini",
  chaos: "Gemini",
  provider: "google",
  model: "gemini-test",
  route: (model) => `/v1beta/models/${model}:streamGenerateContent?alt=sse`,
  baseUrl: (url) => url,
  layer: (url, options) => lazily(() => import("@reins/google"), (google) => google.Google.layer(common(gemini, url, options) as unknown as Parameters<typeof google.Google.layer>[0])),
  // Gemini has no opening event: its first response carries the first parts
  start: () => [],
  text: (content, options) => Gemini.text(content, pick(options, ["chunkSize"])),
  reasoning: (content, options) =>
    Gemini.thought(content, { ...pick(options, ["chunkSize"]), ...(options?.signature !== undefined ? { signature: options.signature } : {}) }),
  toolCall: (call) => [Gemini.functionCall({ id: call.id, name: call.name, args: call.arguments })],
  finish: (options) => [Gemini.finish(options?.reason ?? "STOP", geminiUsage(options?.usage))],
  reply: (options) =>
    Gemini.reply({
      ...Script.defined(options, ["text", "chunkSize", "deltaDelay"]),
      ...(options.reasoning !== undefined ? { thought: options.reasoning } : {}),
      ...(options.toolCalls !== undefined ? { functionCalls: options.toolCalls.map((call) => ({ id: call.id, name: call.name, args: call.arguments })) } : {}),
      ...geminiUsage(options.usage)
    }),
  errorBody: (status, message, options) => Gemini.errorBody(status, message, options),
  errorEvent: (status, message) => Gemini.errorEvent(status, message)
}

/** The formats, in table order. */
export const all: ReadonlyArray<Format> = [chat, responses, messages, gemini]

/** The format with `id`. */
export const byId = (id: Id): Format => all.find((format) => format.id === id)!

/** The format whose clients call `path` (query aside). */
export const byPath = (path: string): Format | undefined => {
  const bare = path.split("?")[0]
  return all.find((format) => {
    const route = format.route(format.model).split("?")[0]
    return format.id === "gemini" ? /^\/v1beta\/models\/[^/]+:streamGenerateContent$/.test(bare) : bare === route
  })
}
