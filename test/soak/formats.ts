/**
 * The provider formats the soak rotates through: each one's real layer (built on the shared
 * HttpClient, with a header that tells the server which turn a request belongs to), the replies a
 * model gives in a turn (a step that reasons, talks and calls tools; a final answer), a rate limit,
 * and the format's faults. Fault scripts come from `Chaos`, through `fault` only, so the source of
 * faults can change in one place; `expectedOutcome` says how a turn that meets each must end.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Anthropic } from "@reins/anthropic"
import type { HttpStream, LanguageModel, Retry } from "@reins/core"
import { Google } from "@reins/google"
import { Kimi } from "@reins/kimi"
import { OpenAiChat, OpenAiResponses } from "@reins/openai"
import { Chaos, ChatCompletions, Formats, Gemini, Messages, Responses, Script } from "@reins/testing"
import type * as Effect from "effect/Effect"
import type { WireFormat } from "../validity.js"
import type * as ConfigError from "effect/ConfigError"

/** A tool call the scripted model makes. */
export interface Call {
  readonly id: string
  readonly name: string
  readonly args: Record<string, unknown>
}

/** How a reply is paced and cut. */
export interface ReplyOptions {
  /** Milliseconds between events. */
  readonly deltaDelay?: number | undefined
}

/** What a model step says around its tool calls; the same every time, so runs compare. */
const REASONING = "The user wants the time; a tool will tell."
const TEXT = "Let me look that up — un moment ☕."
const ANSWER = "It is noon in Tokyo; the sleep went well. Voilà!"

/** Every text a scripted reply says, its own and the `Chaos` replies': an assistant message says one of them, once. */
export const texts: ReadonlyArray<string> = [TEXT, ANSWER, Chaos.text]

/** Every reasoning text a scripted reply gives ("" for the `Chaos` replies, which give none). */
export const reasonings: ReadonlyArray<string> = [REASONING, ""]

/** One provider format in the soak. */
export interface Format {
  readonly name: WireFormat
  /** The server side of the format, for `Chaos`. */
  readonly chaos: Chaos.Format
  /** The provider's real model service, on the HttpClient in context. */
  readonly make: (
    baseUrl: string,
    headers: Record<string, string>,
    retry: Retry.Policy
  ) => Effect.Effect<LanguageModel.Service, ConfigError.ConfigError, HttpClient.HttpClient>
  /** A step that reasons (signed, where the format signs), says a little, and calls `calls`. */
  readonly toolStep: (calls: ReadonlyArray<Call>, options: ReplyOptions) => Script.Script
  /** The final answer: reasoning and text, no calls. */
  readonly answer: (options: ReplyOptions) => Script.Script
  /** An HTTP 429 asking for `retryAfterMs` of patience. */
  readonly rateLimited: (retryAfterMs: number) => Script.Script
}

/** The API key every format's layer sends; it must never show in an error or a conversation. */
export const key = "sk-soak"

/**
 * The limits of every call: an idle limit short enough that a fault whose body stalls (an error
 * body that never ends) costs a second, not five minutes, and long enough that no paced reply
 * meets it on a loaded machine. Stalls before the headers are left to the stops.
 */
export const timeouts: HttpStream.Timeouts = { idle: "1 second" }

const pace = (options: ReplyOptions) => (options.deltaDelay !== undefined ? { deltaDelay: options.deltaDelay } : {})
const retryAfter = (ms: number) => ({ headers: { "retry-after-ms": String(ms) } })

const chat = {
  chaos: Formats.chat.chaos,
  toolStep: (calls: ReadonlyArray<Call>, options: ReplyOptions) =>
    ChatCompletions.reply({
      reasoning: REASONING,
      text: TEXT,
      toolCalls: calls.map((call) => ({ id: call.id, name: call.name, arguments: call.args })),
      usage: { prompt_tokens: 20, completion_tokens: 12 },
      ...pace(options)
    }),
  answer: (options: ReplyOptions) =>
    ChatCompletions.reply({ reasoning: REASONING, text: ANSWER, usage: { prompt_tokens: 40, completion_tokens: 14 }, ...pace(options) }),
  rateLimited: (ms: number) => Formats.chat.errorBody(429, "Rate limit reached", retryAfter(ms))
}

/** Every format, in the order turns rotate through them. */
export const formats: ReadonlyArray<Format> = [
  {
    name: Formats.chat.name,
    make: (url, headers, retry) => OpenAiChat.make({ model: "soak", apiKey: key, baseUrl: Formats.chat.baseUrl(url), headers, retry, timeouts }),
    ...chat
  },
  {
    name: Formats.responses.name,
    chaos: Formats.responses.chaos,
    make: (url, headers, retry) =>
      OpenAiResponses.make({ model: "soak", apiKey: key, baseUrl: Formats.responses.baseUrl(url), headers, retry, timeouts }),
    toolStep: (calls, options) =>
      Responses.reply({
        reasoning: { summary: [REASONING], encryptedContent: "enc-soak-1" },
        text: TEXT,
        toolCalls: calls.map((call) => ({ callId: call.id, name: call.name, arguments: call.args })),
        usage: { input_tokens: 20, output_tokens: 12 },
        ...pace(options)
      }),
    answer: (options) =>
      Responses.reply({
        reasoning: { summary: [REASONING], encryptedContent: "enc-soak-2" },
        text: ANSWER,
        usage: { input_tokens: 40, output_tokens: 14 },
        ...pace(options)
      }),
    rateLimited: (ms) => Formats.responses.errorBody(429, "Rate limit reached", retryAfter(ms))
  },
  {
    name: Formats.messages.name,
    chaos: Formats.messages.chaos,
    make: (url, headers, retry) => Anthropic.make({ model: "soak", apiKey: key, baseUrl: Formats.messages.baseUrl(url), headers, retry, timeouts }),
    toolStep: (calls, options) =>
      Messages.reply({
        thinking: { text: REASONING, signature: "sig-soak-1" },
        text: TEXT,
        toolCalls: calls.map((call) => ({ id: call.id, name: call.name, input: call.args })),
        usage: { input_tokens: 20, output_tokens: 12 },
        ...pace(options)
      }),
    answer: (options) =>
      Messages.reply({ thinking: { text: REASONING, signature: "sig-soak-2" }, text: ANSWER, usage: { input_tokens: 40, output_tokens: 14 }, ...pace(options) }),
    rateLimited: (ms) => Formats.messages.errorBody(429, "Rate limit reached", retryAfter(ms))
  },
  {
    name: Formats.gemini.name,
    chaos: Formats.gemini.chaos,
    make: (url, headers, retry) => Google.make({ model: "gemini-soak", apiKey: key, baseUrl: Formats.gemini.baseUrl(url), headers, retry, timeouts }),
    toolStep: (calls, options) =>
      Gemini.reply({
        thought: REASONING,
        thoughtSignature: "sig-soak-1",
        text: TEXT,
        // Gemini signs the first call of a step; later ones stream their arguments
        functionCalls: calls.map((call, i) => ({ id: call.id, name: call.name, args: call.args, ...(i === 0 ? { thoughtSignature: "sig-call" } : {}) })),
        streamArguments: calls.length > 1,
        usage: { promptTokenCount: 20, candidatesTokenCount: 12 },
        ...pace(options)
      }),
    answer: (options) =>
      Gemini.reply({ thought: REASONING, thoughtSignature: "sig-soak-2", text: ANSWER, usage: { promptTokenCount: 40, candidatesTokenCount: 14 }, ...pace(options) }),
    rateLimited: (ms) => Formats.gemini.errorBody(429, "Resource exhausted", retryAfter(ms))
  },
  {
    name: "Kimi",
    make: (url, headers, retry) =>
      Kimi.make({ model: "kimi-soak", apiKey: key, baseUrl: Formats.chat.baseUrl(url), headers, retry, timeouts, thinking: "enabled" }),
    ...chat
  }
]

/** The first `events` events of `script`, then silence until the client goes away: a model thinking. */
export const stalledAfter = (script: Script.Script, events: number): Script.Script => {
  const steps: Array<Script.Step> = []
  let seen = 0
  for (const step of script.steps) {
    if (step._tag === "Event" && seen++ === events) break
    steps.push(step)
  }
  return { ...script, steps: [...steps, Script.stall()] }
}

/** How many events a script sends. */
export const eventCount = (script: Script.Script): number => script.steps.filter((step) => step._tag === "Event").length

/**
 * The faults a soak turn may meet, each of which ends on its own: error statuses, resets before
 * and during the body, cut-off and corrupt streams, error events, a slow drip, a tool call cut off;
 * and what real servers, gateways and proxies send: a body that lingers after its terminal event
 * (silent or with pings), compressed bodies, a gateway's JSON or HTML on a 200, a non-streamed
 * answer, error bodies that stall (ended by the idle limit) or trickle, a key quoted back, an error
 * right after the opening event, and the Chat Completions dialects (drawn for the formats that
 * speak Chat Completions only). Stalls of a stream are left to the interruption scenarios, which
 * end them; `Oversized` (17 MiB a time) and `RetryAfter` (a whole second) would only slow the soak
 * down.
 */
export const faultKinds: ReadonlyArray<Chaos.Fault> = Chaos.faults.filter((fault) =>
  fault !== "StallBeforeHeaders" && fault !== "StallMidBody" && fault !== "Oversized" && fault !== "RetryAfter"
)

/** The name of a fault. */
export type FaultName = Chaos.Fault

/** The faults after which a turn nobody stops completes: harmless, or retried before any content. */
const completing = new Set<Chaos.Fault>([
  "Status",
  "RetryAfterMs",
  "ResetBeforeHeaders",
  "SlowDrip",
  "Linger",
  "LingerWithPings",
  "Gzip",
  "Brotli",
  "Deflate",
  "GatewayOverloaded",
  "GatewayHtml",
  "ErrorBeforeContentStall",
  "ErrorBeforeContentEnd",
  ...Chaos.dialectFaults
])

/** The faults after which a turn nobody stops fails, and the tag of its error. */
const failing: Partial<Record<Chaos.Fault, string>> = {
  GatewayJsonError: "UnexpectedBody",
  LoginPage: "UnexpectedBody",
  Unstreamed: "UnexpectedBody",
  KeyEcho: "AuthenticationError"
}

/**
 * How a turn that nobody stops must end after `plan`'s fault, as an outcome's name ("completed",
 * "failed: UnexpectedBody"), or `undefined` where it depends on more than the fault (where the
 * fault is placed, say). An error body of a retryable status is retried; one of 401 is not.
 */
export const expectedOutcome = (plan: Chaos.Plan): string | undefined => {
  if (Chaos.takesStatus(plan.fault)) return plan.status === 401 ? "failed: AuthenticationError" : "completed"
  if (completing.has(plan.fault)) return "completed"
  const error = failing[plan.fault]
  return error === undefined ? undefined : `failed: ${error}`
}

/** A seeded fault script in `format`, its plan, and how a turn nobody stops must end after it. Its reply calls `Chaos.toolCall`. */
export const fault = (
  format: Format,
  seed: number
): { readonly name: FaultName; readonly plan: Chaos.Plan; readonly script: Script.Script; readonly expected: string | undefined } => {
  const plan = Chaos.seeded(seed).plan(format.chaos, faultKinds)
  return { name: plan.fault, plan, script: Chaos.script(plan), expected: expectedOutcome(plan) }
}

/** The tool `Chaos` replies call, with its arguments' shape. */
export const chaosTool = { name: Chaos.toolCall.name }
