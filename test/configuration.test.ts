/**
 * Configuration errors come before any request: for every provider, through `layer` (options given
 * directly) and `layerConfig` (read through a ConfigProvider), a missing key for a server that is
 * not on this machine and a base URL that is not an http or https URL fail the layer with a
 * ConfigError naming what to set, and nothing reaches a server; a server on loopback is called
 * without a key.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Anthropic } from "@reins/anthropic"
import { LanguageModel, Message, ProviderConfig, Retry } from "@reins/core"
import { Google } from "@reins/google"
import { Kimi } from "@reins/kimi"
import { OpenAiChat, OpenAiResponses } from "@reins/openai"
import { ChatCompletions, Gemini, Messages, ProviderServer, Responses, type Script } from "@reins/testing"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const KEY = "sk-config-test-key"
const noRetry = { ...Retry.defaultPolicy, maxRetries: 0 }
const request = { messages: [Message.user("Hi")] }

interface Direct {
  readonly apiKey?: string
  readonly baseUrl?: string
}

type Model = Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>

interface Provider {
  readonly name: string
  /** The layer on options given directly. */
  readonly layer: (options: Direct) => Model
  /** The layer that reads the environment, with `options` given as well. */
  readonly layerConfig: (options?: Direct) => Model
  /** The key variables, in the order they are read. */
  readonly keyVars: ReadonlyArray<string>
  readonly baseUrlVar: string
  /** The base URL of a server at `url`, written as the provider's SDK takes it. */
  readonly baseUrl: (url: string) => string
  readonly reply: () => Script.Script
  /** The key as the server received it, or `undefined` when none was sent. */
  readonly sentKey: (headers: Record<string, string | Array<string> | undefined>) => string | undefined
}

const bearer = (headers: Record<string, string | Array<string> | undefined>) => {
  const value = headers.authorization
  return typeof value === "string" ? value.replace(/^Bearer /, "") : undefined
}
const header = (name: string) => (headers: Record<string, string | Array<string> | undefined>) => {
  const value = headers[name]
  return typeof value === "string" ? value : undefined
}

const providers: ReadonlyArray<Provider> = [
  {
    name: "OpenAiChat",
    layer: (options) => OpenAiChat.layer({ model: "m", retry: noRetry, ...options }),
    layerConfig: (options) => OpenAiChat.layerConfig({ model: "m", retry: noRetry, ...options }),
    keyVars: ["OPENAI_API_KEY"],
    baseUrlVar: "OPENAI_BASE_URL",
    baseUrl: (url) => `${url}/v1`,
    reply: () => ChatCompletions.reply({ text: "Hello" }),
    sentKey: bearer
  },
  {
    name: "OpenAiResponses",
    layer: (options) => OpenAiResponses.layer({ model: "m", retry: noRetry, ...options }),
    layerConfig: (options) => OpenAiResponses.layerConfig({ model: "m", retry: noRetry, ...options }),
    keyVars: ["OPENAI_API_KEY"],
    baseUrlVar: "OPENAI_BASE_URL",
    baseUrl: (url) => `${url}/v1`,
    reply: () => Responses.reply({ text: "Hello" }),
    sentKey: bearer
  },
  {
    name: "Anthropic",
    layer: (options) => Anthropic.layer({ model: "m", retry: noRetry, ...options }),
    layerConfig: (options) => Anthropic.layerConfig({ model: "m", retry: noRetry, ...options }),
    keyVars: ["ANTHROPIC_API_KEY"],
    baseUrlVar: "ANTHROPIC_BASE_URL",
    baseUrl: (url) => url,
    reply: () => Messages.reply({ text: "Hello" }),
    sentKey: header("x-api-key")
  },
  {
    name: "Google",
    layer: (options) => Google.layer({ model: "gemini-test", retry: noRetry, ...options }),
    layerConfig: (options) => Google.layerConfig({ model: "gemini-test", retry: noRetry, ...options }),
    keyVars: ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
    baseUrlVar: "GEMINI_BASE_URL",
    baseUrl: (url) => url,
    reply: () => Gemini.reply({ text: "Hello" }),
    sentKey: header("x-goog-api-key")
  },
  {
    name: "Kimi",
    layer: (options) => Kimi.layer({ retry: noRetry, ...options }),
    layerConfig: (options) => Kimi.layerConfig({ retry: noRetry, ...options }),
    keyVars: ["MOONSHOT_API_KEY"],
    baseUrlVar: "MOONSHOT_BASE_URL",
    baseUrl: (url) => `${url}/v1`,
    reply: () => ChatCompletions.reply({ text: "Hello" }),
    sentKey: bearer
  }
]

/**
 * undici with every request sent to `server` instead of the host in its URL: a call to the
 * provider's real endpoint would reach the local server, where it can be seen.
 */
const redirectedTo = (server: ProviderServer.ProviderServer): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) =>
      HttpClient.mapRequest(client, (r) => {
        const url = new URL(r.url)
        return HttpClientRequest.setUrl(r, `${server.url}${url.pathname}${url.search}`)
      }))
  ).pipe(Layer.provide(NodeHttpClient.layerUndici))

/** One call on `model`, with `env` as the environment; fails with whatever stopped it. */
const call = (model: Model, env: ReadonlyArray<readonly [string, string]>, client: Layer.Layer<HttpClient.HttpClient>) =>
  LanguageModel.generate(request).pipe(
    Effect.provide(Layer.provide(model, client)),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env)))
  )

const configError = (error: unknown): ConfigError.ConfigError => {
  expect(ConfigError.isConfigError(error), `expected a ConfigError, got ${String(error)}`).toBe(true)
  return error as ConfigError.ConfigError
}

const BAD_URLS = ["not a url", "127.0.0.1:8080", "ftp://x", "localhost:8080"] as const

describe.each(providers)("$name checks its configuration before any request", (provider) => {
  it.scopedLive("no key for the real endpoint: a ConfigError naming the variables, and no request sent", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const client = redirectedTo(server)

      const fromEnv = configError(yield* Effect.flip(call(provider.layerConfig(), [], client)))
      expect(fromEnv._op).toBe("MissingData")
      if (fromEnv._op === "MissingData") expect(fromEnv.path).toEqual([provider.keyVars[0]])
      for (const name of provider.keyVars) expect(fromEnv.message).toContain(name)
      expect(String(fromEnv)).toContain(`Missing data at ${provider.keyVars[0]}`)

      // blank values count as not set
      const blank = configError(yield* Effect.flip(call(provider.layerConfig(), provider.keyVars.map((name) => [name, "  "]), client)))
      expect(blank._op).toBe("MissingData")

      const direct = configError(yield* Effect.flip(call(provider.layer({}), [], client)))
      expect(direct._op).toBe("MissingData")
      if (direct._op === "MissingData") expect(direct.path).toEqual(["apiKey"])
      expect(direct.message).toContain("pass apiKey")
      for (const name of provider.keyVars) expect(direct.message).toContain(name)

      expect(server.requests).toHaveLength(0)

      // The same calls with a key do reach the server through this client: the check above is
      // what kept them from it.
      server.enqueue(provider.reply(), provider.reply(), provider.reply())
      const last = provider.keyVars[provider.keyVars.length - 1]
      const answer = yield* call(provider.layerConfig(), [[last, KEY]], client)
      expect(Message.text(answer)).toBe("Hello")
      yield* call(provider.layerConfig(), [...provider.keyVars.slice(0, -1).map((name) => [name, ""] as const), [last, KEY]], client)
      yield* call(provider.layer({ apiKey: KEY }), [], client)
      expect(server.requests.map((r) => provider.sentKey(r.headers))).toEqual([KEY, KEY, KEY])
    }))

  it.scopedLive("a base URL that is not an http or https URL: a ConfigError, not a failed request", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const client = redirectedTo(server)
      for (const bad of BAD_URLS) {
        const env = [[provider.keyVars[0], KEY], [provider.baseUrlVar, bad]] as const
        const fromEnv = configError(yield* Effect.flip(call(provider.layerConfig(), env, client)))
        expect(fromEnv._op).toBe("InvalidData")
        if (fromEnv._op === "InvalidData") expect(fromEnv.path).toEqual([provider.baseUrlVar])
        expect(fromEnv.message).toContain(`"${bad}" is not a base URL`)
        expect(String(fromEnv)).toContain(`Invalid data at ${provider.baseUrlVar}`)

        const direct = configError(yield* Effect.flip(call(provider.layer({ apiKey: KEY, baseUrl: bad }), [], client)))
        expect(direct._op).toBe("InvalidData")
        if (direct._op === "InvalidData") expect(direct.path).toEqual(["baseUrl"])
        expect(direct.message).toContain(`"${bad}" is not a base URL`)

        // a value given to layerConfig directly wins over the environment, and is checked as well
        const given = configError(yield* Effect.flip(call(provider.layerConfig({ baseUrl: bad }), [[provider.keyVars[0], KEY]], client)))
        if (given._op === "InvalidData") expect(given.path).toEqual(["baseUrl"])
        expect(given._op).toBe("InvalidData")
      }
      const schemeless = configError(yield* Effect.flip(call(provider.layer({ apiKey: KEY, baseUrl: "127.0.0.1:8080" }), [], client)))
      expect(schemeless.message).toContain(`did you mean "http://127.0.0.1:8080"?`)
      expect(server.requests).toHaveLength(0)
    }))

  it.scopedLive("a server on loopback is called without a key", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const client = NodeHttpClient.layerUndici
      server.enqueue(provider.reply(), provider.reply())
      const fromEnv = yield* call(provider.layerConfig(), [[provider.baseUrlVar, provider.baseUrl(server.url)]], client)
      const direct = yield* call(provider.layer({ baseUrl: provider.baseUrl(server.url) }), [], client)
      expect([Message.text(fromEnv), Message.text(direct)]).toEqual(["Hello", "Hello"])
      expect(server.requests).toHaveLength(2)
      for (const r of server.requests) {
        expect(provider.sentKey(r.headers)).toBeUndefined()
        expect(r.headers.authorization).toBeUndefined()
      }

      // Every spelling of this machine builds without a key; other hosts do not.
      const builds = (baseUrl: string) =>
        LanguageModel.LanguageModel.pipe(
          Effect.provide(Layer.provide(provider.layer({ baseUrl }), client)),
          Effect.as("built"),
          Effect.catchAll((error) => Effect.succeed(error._op))
        )
      for (const local of ["http://localhost:8080", "http://[::1]:8080", "http://127.0.0.2", "https://api.localhost/v1", "http://[::ffff:127.0.0.1]"]) {
        expect(yield* builds(local), local).toBe("built")
      }
      for (const remote of ["http://10.0.0.1:8080", "https://localhost.example.com", "http://127.0.0.1.example.com", "http://[::2]"]) {
        expect(yield* builds(remote), remote).toBe("MissingData")
      }
    }))
})

describe("ProviderConfig.isLoopback", () => {
  it("names this machine only", () => {
    const host = (url: string) => new URL(url).hostname
    expect(["http://localhost", "http://LOCALHOST.", "http://a.localhost", "http://127.0.0.1", "http://127.255.0.9", "http://[::1]", "http://[0:0:0:0:0:0:0:1]"]
      .map((url) => ProviderConfig.isLoopback(host(url)))).toEqual([true, true, true, true, true, true, true])
    expect(["http://0.0.0.0", "http://192.168.1.2", "http://localhost.evil.com", "http://128.0.0.1", "http://[::]"]
      .map((url) => ProviderConfig.isLoopback(host(url)))).toEqual([false, false, false, false, false])
  })
})

describe("OpenAiResponses.layerConfig", () => {
  it.scopedLive("reads OPENAI_API_KEY and OPENAI_BASE_URL, and asks for reasoning summaries and encrypted reasoning", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Responses.reply({ text: "Hello there", usage: { input_tokens: 3, output_tokens: 2 } }))
      const env = ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", "sk-from-env"], ["OPENAI_BASE_URL", `${server.url}/v1/`]]))
      const model = OpenAiResponses.layerConfig({ model: "gpt-5-mini", reasoningSummary: "concise" }).pipe(
        Layer.provide(NodeHttpClient.layerUndici),
        Layer.provide(Layer.setConfigProvider(env))
      )
      const message = yield* LanguageModel.generate({ messages: [Message.user("Think hard")], reasoning: { effort: "high" } }).pipe(
        Effect.provide(model)
      )
      expect(Message.text(message)).toBe("Hello there")
      expect(message.usage).toEqual({ inputTokens: 3, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })
      const record = server.requests[0]!
      expect(record.path).toBe("/v1/responses")
      expect(record.headers.authorization).toBe("Bearer sk-from-env")
      expect(record.json).toMatchObject({
        model: "gpt-5-mini",
        stream: true,
        store: false,
        reasoning: { effort: "high", summary: "concise" },
        include: ["reasoning.encrypted_content"]
      })
    }))
})
