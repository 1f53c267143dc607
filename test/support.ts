/**
 * Shared wiring for the cross-package tests: a ProviderServer on loopback and a Chat Completions
 * model pointed at it over real HTTP.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { type LanguageModel, Retry } from "@reins/core"
import { OpenAiChat } from "@reins/openai"
import { ProviderServer } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** node:http with a keep-alive pool (the default `NodeHttpClient.layer` agent opens a connection per request). */
export const nodeHttpKeepAlive: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerWithoutAgent.pipe(
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true }))
)

/** Both of `@effect/platform-node`'s HTTP clients, for tests that must hold on each. */
export const transports = [
  { name: "undici", layer: NodeHttpClient.layerUndici },
  { name: "node:http", layer: nodeHttpKeepAlive }
] as const

/** A Chat Completions model served by `server`, on a real HTTP client (undici unless given). */
export const chatModel = (
  server: ProviderServer.ProviderServer,
  options: Partial<OpenAiChat.Options> = {},
  transport: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici
): Layer.Layer<LanguageModel.LanguageModel> =>
  OpenAiChat.layer({ model: "test-model", apiKey: Redacted.make("sk-test-key"), baseUrl: `${server.url}/v1`, ...options }).pipe(
    Layer.provide(transport)
  )

/** A retry policy that never retries. */
export const noRetry = { ...Retry.defaultPolicy, maxRetries: 0 }

/** Waits for the server to see the connection of `requestId` close, failing after `millis`. */
export const connectionClosed = (server: ProviderServer.ProviderServer, requestId: number, millis = 2_000) =>
  Effect.promise(() => server.connectionClosed(requestId)).pipe(
    Effect.timeoutFail({ duration: millis, onTimeout: () => new Error(`connection of request ${requestId} still open after ${millis} ms`) })
  )

/** Where the recorded provider streams live, when `shared/` is beside the checkout. */
export const recordedDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/fixtures/recorded")

/** Whether the recorded streams are present. */
export const hasRecordings = fs.existsSync(recordedDir)
