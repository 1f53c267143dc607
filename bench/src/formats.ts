/**
 * The four wire formats, each with a 20,000-delta text reply, the Reins layer that reads it, and
 * the least a hand-written fetch client must do to get the text out of it.
 */
import { Anthropic } from "@reins/anthropic"
import type { LanguageModel } from "@reins/core"
import { Google } from "@reins/google"
import { OpenAiChat, OpenAiResponses } from "@reins/openai"
import { ChatCompletions, Gemini, Messages, Responses, Script } from "@reins/testing"
import type * as Layer from "effect/Layer"
import type * as HttpClient from "@effect/platform/HttpClient"

/** One wire format in the throughput scenario. */
export interface Format {
  readonly name: string
  /** The reply's SSE body, encoded once so the server only writes bytes. */
  readonly body: string
  readonly path: (baseUrl: string) => string
  readonly layer: (serverUrl: string) => Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient>
  /** The text in one event's JSON, as a hand-written client would pick it out. */
  readonly textOf: (json: any) => string | undefined
}

const encode = (script: Script.Script) => script.steps.map((step) => Script.encode(step) ?? "").join("")

/** Every format's reply spells out this text. */
export const text = (deltas: number) => "token ".repeat(deltas)

/** The formats, for a reply of `deltas` text deltas. */
export const formats = (deltas: number): ReadonlyArray<Format> => [
  {
    name: "Chat Completions",
    body: encode(ChatCompletions.reply({ text: text(deltas), chunkSize: 6 })),
    path: (url) => `${url}/v1/chat/completions`,
    layer: (url) => OpenAiChat.layer({ model: "bench", apiKey: "sk-bench", baseUrl: `${url}/v1` }),
    textOf: (json) => json.choices?.[0]?.delta?.content
  },
  {
    name: "OpenAI Responses",
    body: encode(Responses.reply({ text: text(deltas), chunkSize: 6 })),
    path: (url) => `${url}/v1/responses`,
    layer: (url) => OpenAiResponses.layer({ model: "bench", apiKey: "sk-bench", baseUrl: `${url}/v1` }),
    textOf: (json) => json.type === "response.output_text.delta" ? json.delta : undefined
  },
  {
    name: "Anthropic Messages",
    body: encode(Messages.reply({ text: text(deltas), chunkSize: 6 })),
    path: (url) => `${url}/v1/messages`,
    layer: (url) => Anthropic.layer({ model: "bench", apiKey: "sk-bench", baseUrl: url }),
    textOf: (json) => json.type === "content_block_delta" && json.delta.type === "text_delta" ? json.delta.text : undefined
  },
  {
    name: "Gemini",
    body: encode(Gemini.reply({ text: text(deltas), chunkSize: 6 })),
    path: (url) => `${url}/v1beta/models/bench:streamGenerateContent?alt=sse`,
    layer: (url) => Google.layer({ model: "bench", apiKey: "bench-key", baseUrl: url }),
    textOf: (json) => {
      let out: string | undefined
      for (const part of json.candidates?.[0]?.content?.parts ?? []) {
        if (typeof part.text === "string" && part.thought !== true) out = (out ?? "") + part.text
      }
      return out
    }
  }
]
