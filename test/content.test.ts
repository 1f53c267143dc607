/**
 * Richer content on every provider, over real HTTP against a `ProviderServer`: files in user
 * messages, tools that return JSON or images, each encoded as the provider's API takes it (checked
 * on the request body the server received, and against the documented rules of `validity.ts`), or
 * refused with `UnsupportedContent` before any request is sent. Conversations holding them survive
 * their JSON round trip, and stored conversations with text results still decode.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message, Part, ProviderError, Tool, Toolkit, Usage } from "@reins/core"
import { Kimi } from "@reins/kimi"
import { ChatCompletions, Formats, Gemini, Messages, ProviderServer, Responses, type Script } from "@reins/testing"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { historyProblems, requestProblems, type WireFormat } from "./validity.js"

type Model = Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>

const apiKey = "sk-content"
const pdf = "JVBERi0xLjQKJcfsj6IK"
const png = "iVBORw0KGgoAAAANSUhEUg=="
const notes = Buffer.from("Meeting notes: ship on Friday.").toString("base64")

const weather = { city: "Kyoto", celsius: 21, sky: ["clear", "windy"] }

/** A step that called two tools, one returning JSON and one an image, and the user's next message. */
const history = (options: { readonly image: boolean; readonly files: ReadonlyArray<Part.File> }): Array<Message.Message> => [
  Message.user("What is the weather in Kyoto, and what does the page look like?"),
  {
    _tag: "Assistant",
    content: [Part.toolCall("call_1", "weather", "{\"city\":\"Kyoto\"}"), Part.toolCall("call_2", "screenshot", "{}")],
    stopReason: "tool-calls",
    usage: Usage.empty,
    provider: "elsewhere",
    model: "m"
  },
  Message.toolResult({ toolCallId: "call_1", toolName: "weather", content: [Part.json(weather)] }),
  Message.toolResult({
    toolCallId: "call_2",
    toolName: "screenshot",
    content: options.image ? [Part.text("The page:"), Part.imageData(png, "image/png")] : "The page is blank."
  }),
  Message.user([Part.text("And summarise these."), ...options.files])
]

interface Format {
  readonly name: WireFormat
  readonly layer: (url: string) => Model
  readonly reply: Script.Script
}

const formats: Record<WireFormat, Format> = {
  "Chat Completions": {
    name: "Chat Completions",
    layer: (url) => Formats.chat.layer(url, { model: "gpt-test", apiKey }),
    reply: ChatCompletions.reply({ text: "Done." })
  },
  "OpenAI Responses": {
    name: "OpenAI Responses",
    layer: (url) => Formats.responses.layer(url, { model: "gpt-test", apiKey }),
    reply: Responses.reply({ text: "Done." })
  },
  "Anthropic Messages": {
    name: "Anthropic Messages",
    layer: (url) => Formats.messages.layer(url, { model: "claude-test", apiKey }),
    reply: Messages.reply({ text: "Done." })
  },
  Gemini: {
    name: "Gemini",
    layer: (url) => Formats.gemini.layer(url, { model: "gemini-3-flash-preview", apiKey }),
    reply: Gemini.reply({ text: "Done." })
  },
  Kimi: {
    name: "Kimi",
    layer: (url) => Kimi.layer({ apiKey, baseUrl: `${url}/v1` }),
    reply: ChatCompletions.reply({ text: "Done." })
  }
}

const onHttp = (model: Model) => Layer.provide(model, NodeHttpClient.layerUndici)

/** Sends `messages` in `format` and returns the request body the server received. */
const send = (format: Format, messages: ReadonlyArray<Message.Message>) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    server.enqueue(format.reply)
    yield* LanguageModel.generate({ messages }).pipe(Effect.provide(onHttp(format.layer(server.url))))
    const body = server.requests[0].json as any
    expect(requestProblems[format.name](body, messages)).toEqual([])
    return body
  })

/** Sends `messages` in `format`, expecting a refusal before any request. */
const refuse = (format: Format, messages: ReadonlyArray<Message.Message>) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    server.enqueue(format.reply)
    const error = yield* LanguageModel.generate({ messages }).pipe(Effect.provide(onHttp(format.layer(server.url))), Effect.flip)
    expect(server.requests).toHaveLength(0)
    expect(error).toBeInstanceOf(ProviderError.UnsupportedContent)
    expect(ProviderError.isProviderError(error)).toBe(true)
    const refused = error as ProviderError.UnsupportedContent
    expect(refused.retryable).toBe(false)
    return refused
  })

const pdfData = Part.fileData(pdf, "application/pdf", "report.pdf")
const pdfUrl = Part.fileUrl("https://example.com/report.pdf", "application/pdf")
const textData = Part.fileData(notes, "text/plain", "notes.txt")
const csvUrl = Part.fileUrl("https://example.com/table.csv", "text/csv")

describe("richer content", () => {
  it.scopedLive("Chat Completions: a PDF as base64 file data, JSON results as their text once", () =>
    Effect.gen(function*() {
      const body = yield* send(formats["Chat Completions"], history({ image: false, files: [pdfData] }))
      const tools = body.messages.filter((message: any) => message.role === "tool")
      expect(tools.map((message: any) => message.content)).toEqual([JSON.stringify(weather), "The page is blank."])
      expect(body.messages.at(-1).content).toEqual([
        { type: "text", text: "And summarise these." },
        { type: "file", file: { filename: "report.pdf", file_data: `data:application/pdf;base64,${pdf}` } }
      ])
    }))

  it.scopedLive("Chat Completions refuses an image in a tool result, a file by URL and a file that is not a PDF", () =>
    Effect.gen(function*() {
      const chat = formats["Chat Completions"]
      const image = yield* refuse(chat, history({ image: true, files: [] }))
      expect(image).toMatchObject({ provider: "openai", part: "Image", at: "messages[3].content" })
      expect(yield* refuse(chat, history({ image: false, files: [pdfUrl] }))).toMatchObject({ part: "File", at: "messages[4].content[1]" })
      const text = yield* refuse(chat, history({ image: false, files: [textData] }))
      expect(text.message).toMatch(/^openai cannot take the File part at messages\[4\]\.content\[1\]: .*only PDF/)
    }))

  it.scopedLive("OpenAI Responses: files by data and URL, an image result as output items", () =>
    Effect.gen(function*() {
      const body = yield* send(formats["OpenAI Responses"], history({ image: true, files: [pdfData, pdfUrl, csvUrl] }))
      const outputs = body.input.filter((item: any) => item.type === "function_call_output")
      expect(outputs.map((item: any) => item.output)).toEqual([
        JSON.stringify(weather),
        [{ type: "input_text", text: "The page:" }, { type: "input_image", image_url: `data:image/png;base64,${png}`, detail: "auto" }]
      ])
      expect(body.input.at(-1).content.slice(1)).toEqual([
        { type: "input_file", filename: "report.pdf", file_data: `data:application/pdf;base64,${pdf}` },
        { type: "input_file", file_url: "https://example.com/report.pdf" },
        { type: "input_file", file_url: "https://example.com/table.csv" }
      ])
    }))

  it.scopedLive("Anthropic: document blocks for PDFs and plain text, image and text blocks in a tool result", () =>
    Effect.gen(function*() {
      const body = yield* send(formats["Anthropic Messages"], history({ image: true, files: [pdfData, pdfUrl, textData] }))
      const user = body.messages.at(-1).content
      const results = user.filter((block: any) => block.type === "tool_result")
      expect(results.map((block: any) => block.content)).toEqual([
        JSON.stringify(weather),
        [{ type: "text", text: "The page:" }, { type: "image", source: { type: "base64", media_type: "image/png", data: png } }]
      ])
      expect(user.filter((block: any) => block.type === "document")).toEqual([
        { type: "document", source: { type: "base64", media_type: "application/pdf", data: pdf }, title: "report.pdf" },
        { type: "document", source: { type: "url", url: "https://example.com/report.pdf" } },
        { type: "document", source: { type: "text", media_type: "text/plain", data: "Meeting notes: ship on Friday." }, title: "notes.txt" }
      ])
    }))

  it.scopedLive("Anthropic refuses a file that is neither a PDF nor plain text", () =>
    Effect.gen(function*() {
      const error = yield* refuse(formats["Anthropic Messages"], history({ image: true, files: [csvUrl] }))
      expect(error).toMatchObject({ provider: "anthropic", part: "File", at: "messages[4].content[1]" })
    }))

  it.scopedLive("Gemini: files as inline data and file data, JSON as the response's value, images in its parts", () =>
    Effect.gen(function*() {
      const body = yield* send(formats.Gemini, history({ image: true, files: [pdfData, pdfUrl] }))
      const responses = body.contents.flatMap((content: any) => content.parts.filter((part: any) => part.functionResponse))
      expect(responses.map((part: any) => part.functionResponse)).toEqual([
        { name: "weather", response: { result: weather } },
        { name: "screenshot", response: { result: "The page:" }, parts: [{ inlineData: { mimeType: "image/png", data: png } }] }
      ])
      expect(body.contents.at(-1).parts.slice(1)).toEqual([
        { inlineData: { mimeType: "application/pdf", data: pdf } },
        { fileData: { mimeType: "application/pdf", fileUri: "https://example.com/report.pdf" } }
      ])
    }))

  it.scopedLive("Gemini refuses an image in a tool result before Gemini 3, and one by URL", () =>
    Effect.gen(function*() {
      const older = { ...formats.Gemini, layer: (url: string) => Formats.gemini.layer(url, { model: "gemini-2.5-flash", apiKey }) }
      const error = yield* refuse(older, history({ image: true, files: [] }))
      expect(error).toMatchObject({ provider: "google", part: "Image", at: "messages[3].content[1]" })
      expect(error.reason).toMatch(/Gemini 3/)
      const byUrl = history({ image: false, files: [] })
      byUrl[3] = Message.toolResult({ toolCallId: "call_2", toolName: "screenshot", content: [Part.imageUrl("https://example.com/a.png")] })
      expect((yield* refuse(formats.Gemini, byUrl)).reason).toMatch(/inline data/)
    }))

  it.scopedLive("Kimi: JSON results as their text; files refused, as Kimi reads them only through its Files API", () =>
    Effect.gen(function*() {
      const body = yield* send(formats.Kimi, history({ image: false, files: [] }))
      expect(body.messages.find((message: any) => message.role === "tool").content).toBe(JSON.stringify(weather))
      expect(yield* refuse(formats.Kimi, history({ image: false, files: [pdfData] }))).toMatchObject({ provider: "kimi", part: "File" })
      expect(yield* refuse(formats.Kimi, history({ image: true, files: [] }))).toMatchObject({ provider: "kimi", part: "Image" })
    }))

  it("conversations with files, JSON and image results survive their JSON round trip; text results still decode", () => {
    expect(historyProblems(history({ image: true, files: [pdfData, pdfUrl, textData] }))).toEqual([])
    const stored = JSON.stringify([
      { _tag: "ToolResult", toolCallId: "c", toolName: "clock", content: "12:00", isError: false }
    ])
    expect(Schema.decodeSync(Message.ConversationJson)(stored)).toEqual([Message.toolResult({ toolCallId: "c", toolName: "clock", content: "12:00" })])
  })
})

describe("the request rules for richer content", () => {
  it("find what each provider would reject", () => {
    const chat = {
      messages: [
        { role: "user", content: [{ type: "file", file: { file_data: "data:text/csv;base64,YQ==" } }] },
        { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c", content: [{ type: "image_url", image_url: { url: "u" } }] }
      ],
      response_format: { type: "json_object" }
    }
    expect(requestProblems["Chat Completions"](chat)).toEqual([
      "messages[0].content[0]: a file part without base64 PDF data",
      "messages[0].content[0]: file data without a filename",
      "messages[2]: a tool message with content other than text",
      "JSON mode without the word JSON in the messages"
    ])
    const responses = {
      input: [
        { role: "user", content: [{ type: "input_file", file_data: "data:application/pdf;base64,YQ==" }] },
        { type: "function_call", call_id: "c", name: "f", arguments: "{}" },
        { type: "function_call_output", call_id: "c", output: [{ type: "output_text", text: "x" }] }
      ],
      text: { format: { type: "json_schema", name: "a b", schema: { type: "object", properties: { a: {} } }, strict: true } }
    }
    expect(requestProblems["OpenAI Responses"](responses)).toEqual([
      "input[0].content[0]: file_data without a filename",
      "input[2].output[0]: an item of type output_text",
      "text.format: the format name a b",
      "text.format: a strict schema outside strict mode's rules: $ does not set additionalProperties to false"
    ])
    const anthropic = {
      messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "text/csv", data: "YQ==" } }] }],
      output_config: { format: { type: "json_schema", schema: { type: "object", properties: { n: { type: "number", minimum: 0 } } } } }
    }
    expect(requestProblems["Anthropic Messages"](anthropic)).toEqual([
      "messages[0]: a base64 document that is not PDF data",
      "output_config.format.schema: an object without additionalProperties: false",
      "output_config.format.schema.n: minimum"
    ])
    const gemini = {
      contents: [
        { role: "model", parts: [{ functionCall: { name: "f", args: {} }, thoughtSignature: "skip_thought_signature_validator" }] },
        { role: "user", parts: [{ functionResponse: { name: "f", response: "x", parts: [{ fileData: { fileUri: "u" } }] } }] }
      ],
      generationConfig: { responseJsonSchema: { type: "object" } }
    }
    expect(requestProblems.Gemini(gemini)).toEqual([
      "contents[1]: a function response whose response is not an object",
      "contents[1]: function response parts other than inline data",
      "responseJsonSchema without the JSON mime type"
    ])
    expect(requestProblems.Kimi({ messages: [{ role: "user", content: [{ type: "file", file: {} }] }], response_format: { type: "json_schema" } }))
      .toEqual(expect.arrayContaining(["response_format of type json_schema", "messages[0]: a file part"]))
  })
})

describe("tool results", () => {
  const call = (name: string) => Part.toolCall("c1", name, "{\"city\":\"Kyoto\"}")

  it.effect("a tool whose success is a struct returns it as one JSON part, encoded once", () =>
    Effect.gen(function*() {
      const tool = Tool.make("weather", {
        parameters: Schema.Struct({ city: Schema.String }),
        success: Schema.Struct({ city: Schema.String, at: Schema.DateFromString }),
        handler: ({ city }) => Effect.succeed({ city, at: new Date("2026-01-01T00:00:00.000Z") })
      })
      const result = yield* tool.run(call("weather"))
      expect(result.content).toEqual([Part.json({ city: "Kyoto", at: "2026-01-01T00:00:00.000Z" })])
      expect(Message.toolResultText(result.content)).toBe("{\"city\":\"Kyoto\",\"at\":\"2026-01-01T00:00:00.000Z\"}")
    }))

  it.effect("a Content tool returns its parts, an image among them, as they are", () =>
    Effect.gen(function*() {
      const parts = [Part.text("The page:"), Part.imageData(png, "image/png")]
      const tool = Tool.make("screenshot", {
        parameters: Schema.Struct({ city: Schema.String }),
        success: Tool.Content,
        handler: () => Effect.succeed(parts)
      })
      const result = yield* Toolkit.run(Toolkit.make(tool), call("screenshot"))
      expect(result).toEqual(Message.toolResult({ toolCallId: "c1", toolName: "screenshot", content: parts }))
    }))

  it.effect("text and numbers stay text, as before", () =>
    Effect.gen(function*() {
      const text = Tool.make("t", { parameters: Schema.Struct({}), success: Schema.String, handler: () => Effect.succeed("hi") })
      const count = Tool.make("n", { parameters: Schema.Struct({}), success: Schema.Number, handler: () => Effect.succeed(5) })
      expect((yield* text.run(call("t"))).content).toBe("hi")
      expect((yield* count.run(call("n"))).content).toBe("5")
    }))
})
