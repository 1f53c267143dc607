/**
 * The Reins side of the comparison: the provider layer of each format pointed at a ProviderServer
 * over undici, `LanguageModel.generate`, and the assistant message in the shared outcome shape.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { LanguageModel, Message, Retry } from "@reins/core"
import { Formats, type ProviderServer } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Outcome from "./Outcome.js"
import type { Format } from "./Recordings.js"

/** Every call is tried once: the other side does not retry either, and a retry would replay nothing. */
const once: Retry.Policy = { ...Retry.defaultPolicy, maxRetries: 0 }

/** The registry's format for each recorded format. */
const formatOf: Record<Format, Formats.Format> = {
  chat: Formats.chat,
  responses: Formats.responses,
  anthropic: Formats.messages,
  gemini: Formats.gemini
}

/** The Reins model of `format`, served by `server`, over undici. */
export const layer = (format: Format, server: ProviderServer.ProviderServer): Layer.Layer<LanguageModel.LanguageModel> =>
  formatOf[format].layer(server.url, { model: "test-model", apiKey: Redacted.make("sk-test-key"), retry: once }).pipe(
    Layer.orDie,
    Layer.provide(NodeHttpClient.layerUndici)
  )

const signatureOf = (metadata: Record<string, unknown> | undefined): Array<string> =>
  typeof metadata?.thoughtSignature === "string" ? [metadata.thoughtSignature] : []

/** An assistant message in the shared shape. */
export const outcome = (message: Message.Assistant): Outcome.Message => ({
  _tag: "Message",
  pieces: Outcome.pieces(message.content.map((part) => ({
    kind: part._tag === "Text" ? "text" : part._tag === "Reasoning" ? "reasoning" : "tool",
    text: part._tag === "ToolCall" ? part.name : part.text
  }))),
  signatures: message.content.flatMap((part) =>
    part._tag === "Reasoning" ? (part.signature !== undefined ? [part.signature] : []) : signatureOf(part.metadata)
  ),
  toolCalls: Message.toolCalls(message).map((call) => ({ id: call.id, name: call.name, arguments: Outcome.parseArguments(call.arguments) })),
  usage: {
    input: message.usage.inputTokens,
    output: message.usage.outputTokens,
    cacheRead: message.usage.cacheReadTokens,
    cacheWrite: message.usage.cacheWriteTokens,
    reasoning: message.usage.reasoningTokens
  },
  stopReason: message.stopReason
})

/** What `generate` makes of the next script the server of the model in context plays: the message, or the failure. */
export const run: Effect.Effect<Outcome.Outcome, never, LanguageModel.LanguageModel> = LanguageModel.generate({
  messages: [Message.user("Hi")]
}).pipe(
  Effect.map(outcome),
  Effect.catchAll((error) => Effect.succeed<Outcome.Outcome>({ _tag: "Failure", reason: `${error._tag}: ${error.message}` }))
)
