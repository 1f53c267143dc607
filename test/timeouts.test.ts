/**
 * The timeouts that are not the headers and idle limits of test/retry.test.ts: the total deadline,
 * what counts as activity for the idle watchdog, and a connect timeout's own error.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { chatModel, connectionClosed, noRetry, transports } from "./support.js"

const request = { messages: [Message.user("Hi")] }

/** A model that says a little, then sends only keep-alive comments every 30 ms, then answers after `answerAfter` ms. */
const keptAlive = (answerAfter: number): Script.Script => {
  const pings = Math.floor(answerAfter / 30)
  return {
    steps: [
      ChatCompletions.start(),
      ...ChatCompletions.reasoning("Hmm"),
      ...Array.from({ length: pings }, () => [Script.delay(30), Script.comment("keep-alive")]).flat(),
      ...ChatCompletions.text("Done"),
      ChatCompletions.finish("stop"),
      ChatCompletions.done
    ]
  }
}

/** Both Node transports (the direct body reader) and fetch (the portable path). */
const clients = [...transports, { name: "fetch", layer: FetchHttpClient.layer }] as const

describe.each(clients)("timeouts on $name", ({ layer }) => {
  it.scopedLive("keep-alive comments count as activity by default", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(keptAlive(300))
      const message = yield* LanguageModel.generate({ ...request, timeouts: { idle: "120 millis" } }).pipe(
        Effect.provide(chatModel(server, {}, layer))
      )
      expect(Message.text(message)).toBe("Done")
    }))

  it.scopedLive("with idleResetBy \"chunks\", keep-alive comments do not hold off the IdleTimeout", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(keptAlive(2_000))
      const started = Date.now()
      const error = yield* LanguageModel.generate({
        ...request,
        retry: noRetry,
        timeouts: { idle: "120 millis", idleResetBy: "chunks" }
      }).pipe(Effect.flip, Effect.provide(chatModel(server, {}, layer)))
      expect(error._tag).toBe("IdleTimeout")
      expect(Date.now() - started).toBeLessThan(1_500)
      yield* connectionClosed(server, server.requests[0]!.id)
    }))

  it.scopedLive("a call past its total limit fails with TotalTimeout while bytes still flow, and the connection closes", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(keptAlive(3_000))
      const error = yield* LanguageModel.generate({ ...request, timeouts: { total: "150 millis" } }).pipe(
        Effect.flip,
        Effect.provide(chatModel(server, {}, layer))
      )
      expect(error._tag).toBe("TotalTimeout")
      expect(error.retryable).toBe(false)
      if (error._tag === "TotalTimeout") expect(Duration.toMillis(error.timeout)).toBe(150)
      yield* connectionClosed(server, server.requests[0]!.id)
    }))
})

describe("total timeout across retries", () => {
  it.scopedLive("the deadline covers the retry backoff too", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(ChatCompletions.errorBody(429, "Slow down", { headers: { "retry-after-ms": "5000" } }))
      const started = Date.now()
      const error = yield* LanguageModel.generate({ ...request, timeouts: { total: "200 millis" } }).pipe(
        Effect.flip,
        Effect.provide(chatModel(server))
      )
      expect(error._tag).toBe("TotalTimeout")
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(server.requests.length).toBe(1)
    }))
})

describe("connect timeout", () => {
  it.scopedLive("a connection not made in time is a retryable ConnectTimeout", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      // The name lookup fails the way the socket's own connect timer does, with ETIMEDOUT, so the
      // real node:http client reports a connect timeout without needing an unreachable address.
      const lookup = (_host: string, _options: unknown, callback: (error: Error) => void) =>
        setTimeout(() => callback(Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" })), 10)
      const transport = NodeHttpClient.layerWithoutAgent.pipe(Layer.provide(NodeHttpClient.makeAgentLayer({ lookup: lookup as any })))
      const error = yield* LanguageModel.generate({ ...request, retry: noRetry }).pipe(
        Effect.flip,
        Effect.provide(chatModel(server, { baseUrl: `${server.url.replace("127.0.0.1", "localhost")}/v1` }, transport))
      )
      expect(error._tag).toBe("ConnectTimeout")
      expect(error.retryable).toBe(true)
      expect(server.requests.length).toBe(0)
    }))
})
