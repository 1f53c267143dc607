/**
 * The four wire formats with the Reins layer that reads each, and a long text reply in each; the
 * cross-package tests take the layers from here too.
 */
import type { LanguageModel } from "@reins/core"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Layer from "effect/Layer"
import * as Wire from "./wire.js"

const apiKey = "sk-bench"

const layerOf = (id: Wire.FormatId) => (url: string): Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient> =>
  Wire.byId(id).format.layer(url, { model: Wire.model, apiKey }).pipe(Layer.orDie)

/** Each format's Reins layer (from `Formats`), with the base URL written as the provider's SDK takes it. */
export const layers: Record<Wire.FormatId, (serverUrl: string) => Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient>> = {
  chat: layerOf("chat"),
  responses: layerOf("responses"),
  messages: layerOf("messages"),
  gemini: layerOf("gemini")
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
