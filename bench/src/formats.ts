/**
 * The four wire formats with the Reins layer that reads each, and a long text reply in each; the
 * cross-package tests take the layers from here too.
 */
import { Anthropic } from "@reins/anthropic"
import type { LanguageModel } from "@reins/core"
import { Google } from "@reins/google"
import { OpenAiChat, OpenAiResponses } from "@reins/openai"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Layer from "effect/Layer"
import * as Wire from "./wire.js"

const apiKey = "sk-bench"

/** Each format's Reins layer, with the base URL written as the provider's SDK takes it. */
export const layers: Record<Wire.FormatId, (serverUrl: string) => Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient>> = {
  chat: (url) => OpenAiChat.layer({ model: "bench", apiKey, baseUrl: `${url}/v1` }).pipe(Layer.orDie),
  responses: (url) => OpenAiResponses.layer({ model: "bench", apiKey, baseUrl: `${url}/v1` }).pipe(Layer.orDie),
  messages: (url) => Anthropic.layer({ model: "bench", apiKey, baseUrl: url }).pipe(Layer.orDie),
  gemini: (url) => Google.layer({ model: "bench", apiKey, baseUrl: url }).pipe(Layer.orDie)
}

/** One wire format with a long reply in it. */
export interface Format {
  readonly name: string
  /** The reply's SSE body, encoded once so the server only writes bytes. */
  readonly body: string
  readonly path: (baseUrl: string) => string
  readonly layer: (serverUrl: string) => Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient>
  /** The text in one event's JSON, as a hand-written client would pick it out. */
  readonly textOf: (json: any) => string | undefined
}

/** Every format's reply spells out this text. */
export const text = Wire.text

/** The formats, for a reply of `deltas` text deltas. */
export const formats = (deltas: number): ReadonlyArray<Format> =>
  Wire.all.map((format) => ({
    name: format.name,
    body: Wire.encode(format.reply(text(deltas), 6)),
    path: (url) => url + format.path,
    layer: layers[format.id],
    textOf: format.textOf
  }))
