/**
 * Structured output on every provider, over real HTTP against a `ProviderServer`: the request body
 * asks for the provider's native JSON mode, a reply that matches the Schema decodes, one that does
 * not is a `MalformedOutput` carrying the text, the streaming form emits growing partial objects and
 * then the value, and a stop in the middle of the object closes the connection and ends cleanly.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message, StructuredOutput } from "@reins/core"
import { Kimi } from "@reins/kimi"
import { ChatCompletions, Formats, Gemini, Messages, ProviderServer, Responses, Script } from "@reins/testing"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { requestProblems, type WireFormat } from "./validity.js"

const Person = Schema.Struct({ name: Schema.String, age: Schema.Number, tags: Schema.Array(Schema.String) })
const personSchema = StructuredOutput.jsonSchema(Person)
const ada = { name: "Ada Lovelace", age: 36, tags: ["mathematician", "writer"] }
const adaText = JSON.stringify(ada)

type Model = Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>

interface Format {
  readonly name: WireFormat
  readonly layer: (url: string) => Model
  /** A reply whose text is `text`, streamed `chunkSize` code points at a time. */
  readonly reply: (text: string, options?: Script.ReplyOptions) => Script.Script
  /** Checks that the body asks for the provider's native JSON mode with the Person schema. */
  readonly expectMode: (body: any) => void
}

const apiKey = "sk-structured"

const formats: ReadonlyArray<Format> = [
  {
    name: "Chat Completions",
    layer: (url) => Formats.chat.layer(url, { model: "gpt-test", apiKey }),
    reply: (text, options) => ChatCompletions.reply({ text, ...options }),
    expectMode: (body) =>
      expect(body.response_format).toEqual({ type: "json_schema", json_schema: { name: "person", schema: personSchema, strict: true } })
  },
  {
    name: "OpenAI Responses",
    layer: (url) => Formats.responses.layer(url, { model: "gpt-test", apiKey }),
    reply: (text, options) => Responses.reply({ text, ...options }),
    expectMode: (body) => expect(body.text).toEqual({ format: { type: "json_schema", name: "person", schema: personSchema, strict: true } })
  },
  {
    name: "Anthropic Messages",
    layer: (url) => Formats.messages.layer(url, { model: "claude-test", apiKey }),
    reply: (text, options) => Messages.reply({ text, ...options }),
    expectMode: (body) => expect(body.output_config).toEqual({ format: { type: "json_schema", schema: personSchema } })
  },
  {
    name: "Gemini",
    layer: (url) => Formats.gemini.layer(url, { model: "gemini-3-flash-preview", apiKey }),
    reply: (text, options) => Gemini.reply({ text, ...options }),
    expectMode: (body) => expect(body.generationConfig).toEqual({ responseMimeType: "application/json", responseJsonSchema: personSchema })
  },
  {
    name: "Kimi",
    layer: (url) => Kimi.layer({ apiKey, baseUrl: `${url}/v1` }),
    reply: (text, options) => ChatCompletions.reply({ text, ...options }),
    expectMode: (body) => {
      // Kimi has JSON mode and no JSON Schema mode: the schema is told in a system message.
      expect(body.response_format).toEqual({ type: "json_object" })
      const system = body.messages.filter((message: any) => message.role === "system").map((message: any) => message.content).join("\n")
      expect(system).toContain(JSON.stringify(personSchema))
    }
  }
]

const onHttp = (model: Model) => Layer.provide(model, NodeHttpClient.layerUndici)

const ask = { schema: Person, name: "person", messages: [Message.user("Who wrote the first program?")] }

describe.each(formats)("structured output: $name", (format) => {
  it.scopedLive("asks for the native JSON mode and decodes a good reply", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(format.reply(adaText))
      const { message, value } = yield* LanguageModel.generateObject(ask).pipe(Effect.provide(onHttp(format.layer(server.url))))
      expect(value).toEqual(ada)
      expect(Message.text(message)).toBe(adaText)
      const body = server.requests[0].json as any
      format.expectMode(body)
      expect(requestProblems[format.name](body)).toEqual([])
    }))

  it.scopedLive("fails with MalformedOutput, carrying the text, on a reply the Schema does not decode", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const wrong = JSON.stringify({ name: "Ada", age: "thirty-six", tags: [] })
      server.enqueue(format.reply(wrong), format.reply("Ada, 36"))
      const model = onHttp(format.layer(server.url))
      const mismatch = yield* LanguageModel.generateObject(ask).pipe(Effect.provide(model), Effect.flip)
      expect(mismatch).toBeInstanceOf(StructuredOutput.MalformedOutput)
      expect(mismatch).toMatchObject({ _tag: "MalformedOutput", text: wrong })
      expect((mismatch as StructuredOutput.MalformedOutput).issue).toMatch(/age[\s\S]*Expected number/)
      const notJson = yield* LanguageModel.generateObject(ask).pipe(Effect.provide(model), Effect.flip)
      expect(notJson).toMatchObject({ _tag: "MalformedOutput", text: "Ada, 36" })
      expect((notJson as StructuredOutput.MalformedOutput).issue).toMatch(/JSON/)
    }))

  it.scopedLive("streams growing partial objects, then the decoded value", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(format.reply(adaText, { chunkSize: 5, deltaDelay: 2 }))
      const events = yield* LanguageModel.streamObject(ask).pipe(Stream.runCollect, Effect.provide(onHttp(format.layer(server.url))))
      const all = [...events]
      const partials = all.flatMap((event) => (event._tag === "Partial" ? [event] : []))
      expect(partials.length).toBeGreaterThan(3)
      for (let i = 1; i < partials.length; i++) {
        expect(partials[i].text.startsWith(partials[i - 1].text)).toBe(true)
        expect(partials[i].text.length).toBeGreaterThan(partials[i - 1].text.length)
        expect(JSON.stringify(partials[i].partial)).not.toBe(JSON.stringify(partials[i - 1].partial))
      }
      // A partial only holds what the text so far has, and ends with the whole object.
      expect(partials.some((event) => event.partial.name !== undefined && event.partial.name !== ada.name)).toBe(true)
      expect(partials[partials.length - 1].partial).toEqual(ada)
      const last = all[all.length - 1]
      expect(last._tag).toBe("Object")
      if (last._tag === "Object") {
        expect(last.value).toEqual(ada)
        expect(Message.text(last.message)).toBe(adaText)
      }
      format.expectMode(server.requests[0].json)
    }))

  it.scopedLive("a stop in the middle of the object closes the connection and ends cleanly", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const whole = format.reply(adaText, { chunkSize: 3, deltaDelay: 2 })
      // The reply up to about the middle of its text, then silence.
      server.enqueue(Script.make([...whole.steps.slice(0, Math.ceil(whole.steps.length / 2)), Script.stall()]))
      const first = yield* LanguageModel.streamObject(ask).pipe(
        Stream.take(2),
        Stream.timeoutFail(() => new Error("fewer than two partials before the silence"), "3 seconds"),
        Stream.runCollect,
        Effect.provide(onHttp(format.layer(server.url)))
      )
      expect([...first].map((event) => event._tag)).toEqual(["Partial", "Partial"])
      const [, second] = [...first]
      if (second._tag === "Partial") expect(second.text.length).toBeLessThan(adaText.length)
      const request = yield* Effect.promise(() => server.nextRequest())
      yield* Effect.promise(() => server.connectionClosed(request.id)).pipe(
        Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Error("the connection stayed open") })
      )
    }))
})

describe("structured output: strict mode", () => {
  it.scopedLive("a Schema OpenAI's strict mode cannot take is sent non-strict", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const Loose = Schema.Struct({ name: Schema.String, nickname: Schema.optional(Schema.String) })
      server.enqueue(ChatCompletions.reply({ text: "{\"name\":\"Ada\"}" }), Responses.reply({ text: "{\"name\":\"Ada\"}" }))
      const request = { schema: Loose, messages: [Message.user("Who?")] }
      const chat = yield* LanguageModel.generateObject(request).pipe(
        Effect.provide(onHttp(Formats.chat.layer(server.url, { model: "gpt-test", apiKey })))
      )
      const responses = yield* LanguageModel.generateObject({ ...request, name: "a person!" }).pipe(
        Effect.provide(onHttp(Formats.responses.layer(server.url, { model: "gpt-test", apiKey })))
      )
      expect(chat.value).toEqual({ name: "Ada" })
      expect(responses.value).toEqual({ name: "Ada" })
      const [chatBody, responsesBody] = server.requests.map((r) => r.json as any)
      expect(chatBody.response_format.json_schema).toMatchObject({ name: "output", strict: false })
      expect(responsesBody.text.format).toMatchObject({ name: "a_person_", strict: false })
      expect(StructuredOutput.strictProblems(StructuredOutput.jsonSchema(Loose))).toBe("$.nickname is optional")
    }))

  it.scopedLive("strict: false turns strict mode off", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(ChatCompletions.reply({ text: adaText }))
      yield* LanguageModel.generateObject({ ...ask, strict: false }).pipe(
        Effect.provide(onHttp(Formats.chat.layer(server.url, { model: "gpt-test", apiKey })))
      )
      expect((server.requests[0].json as any).response_format.json_schema.strict).toBe(false)
    }))

  it.scopedLive("JSON without a schema is each provider's JSON mode, the instruction carrying the word JSON", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const responseFormat = { type: "json" as const }
      const request = { messages: [Message.user("Who?")], responseFormat }
      server.enqueue(ChatCompletions.reply({ text: "{}" }), Responses.reply({ text: "{}" }), Messages.reply({ text: "{}" }), Gemini.reply({ text: "{}" }))
      for (const layer of [
        Formats.chat.layer(server.url, { model: "gpt-test", apiKey }),
        Formats.responses.layer(server.url, { model: "gpt-test", apiKey }),
        Formats.messages.layer(server.url, { model: "claude-test", apiKey }),
        Formats.gemini.layer(server.url, { model: "gemini-3-flash-preview", apiKey })
      ]) yield* LanguageModel.generate(request).pipe(Effect.provide(onHttp(layer)))
      const [chat, responses, anthropic, gemini] = server.requests.map((r) => r.json as any)
      expect(chat.response_format).toEqual({ type: "json_object" })
      expect(chat.messages[0]).toEqual({ role: "system", content: expect.stringContaining("JSON") })
      expect(responses.text).toEqual({ format: { type: "json_object" } })
      expect(responses.instructions).toContain("JSON")
      expect(anthropic.output_config).toBeUndefined()
      expect(anthropic.system).toContain("JSON")
      expect(gemini.generationConfig).toEqual({ responseMimeType: "application/json" })
    }))
})
