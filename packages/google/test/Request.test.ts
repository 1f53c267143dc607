import { describe, expect, it } from "@effect/vitest"
import { type LanguageModel, Message, Part, Usage } from "@reins/core"
import * as GoogleRequest from "../src/Request.js"

const assistant = (content: Message.Assistant["content"], extra: Partial<Message.Assistant> = {}): Message.Assistant => ({
  _tag: "Assistant",
  content,
  stopReason: "stop",
  usage: Usage.empty,
  provider: "google",
  model: "gemini-3-pro-preview",
  ...extra
})

const history: ReadonlyArray<Message.Message> = [
  Message.user([Part.text("Weather in Paris and Oslo?"), Part.imageData("iVBORw0=", "image/png")]),
  assistant([
    { _tag: "Reasoning", text: "Two cities: call the tool twice.", signature: "sig_thought" },
    { _tag: "Text", text: "Checking both.", metadata: { thoughtSignature: "sig_text" } },
    { ...Part.toolCall("call_0", "weather", "{\"city\":\"Paris\"}"), metadata: { thoughtSignature: "sig_call" } },
    Part.toolCall("call_1", "weather", "{\"city\":\"Oslo\"}")
  ], { stopReason: "tool-calls" }),
  Message.toolResult({ toolCallId: "call_0", toolName: "weather", content: "18C" }),
  Message.toolResult({ toolCallId: "call_1", toolName: "weather", content: "city not found", isError: true }),
  assistant([{ _tag: "Text", text: "Paris is 18C; Oslo I could not find." }]),
  // stopped before its first token: carries nothing, so it is not sent
  assistant([], { stopReason: "interrupted" }),
  Message.user("Thanks")
]

const tools: ReadonlyArray<LanguageModel.ToolDefinition> = [{
  name: "weather",
  description: "Current weather",
  parameters: {
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "object",
    properties: { city: { type: "string", description: "City name" } },
    required: ["city"],
    additionalProperties: false
  }
}]

describe("GoogleRequest.body", () => {
  it("encodes a whole conversation as the generateContent documentation describes", () => {
    const body = GoogleRequest.body(
      {
        system: "Be brief.",
        messages: history,
        tools,
        toolChoice: "auto",
        maxOutputTokens: 500,
        temperature: 0.2,
        reasoning: { effort: "low" }
      },
      { model: "gemini-3-pro-preview", provider: "google" }
    )
    expect(body).toEqual({
      systemInstruction: { parts: [{ text: "Be brief." }] },
      contents: [
        {
          role: "user",
          parts: [
            { text: "Weather in Paris and Oslo?" },
            { inlineData: { mimeType: "image/png", data: "iVBORw0=" } }
          ]
        },
        {
          role: "model",
          parts: [
            { text: "Two cities: call the tool twice.", thought: true, thoughtSignature: "sig_thought" },
            { text: "Checking both.", thoughtSignature: "sig_text" },
            { functionCall: { name: "weather", args: { city: "Paris" } }, thoughtSignature: "sig_call" },
            { functionCall: { name: "weather", args: { city: "Oslo" } } }
          ]
        },
        {
          role: "user",
          parts: [
            { functionResponse: { name: "weather", response: { result: "18C" } } },
            { functionResponse: { name: "weather", response: { error: "city not found" } } }
          ]
        },
        { role: "model", parts: [{ text: "Paris is 18C; Oslo I could not find." }] },
        { role: "user", parts: [{ text: "Thanks" }] }
      ],
      tools: [{
        functionDeclarations: [{
          name: "weather",
          description: "Current weather",
          parameters: {
            type: "object",
            properties: { city: { type: "string", description: "City name" } },
            required: ["city"]
          }
        }]
      }],
      toolConfig: { functionCallingConfig: { mode: "AUTO" } },
      generationConfig: {
        maxOutputTokens: 500,
        temperature: 0.2,
        thinkingConfig: { includeThoughts: true, thinkingLevel: "low" }
      }
    })
  })

  it("drops the reasoning and signatures of another provider's message, and marks its calls for Gemini 3", () => {
    const foreign = assistant([
      { _tag: "Reasoning", text: "Thinking elsewhere.", signature: "anthropic_sig" },
      { _tag: "Text", text: "Let me check.", metadata: { thoughtSignature: "not_ours" } },
      Part.toolCall("toolu_1", "weather", "{\"city\":\"Paris\"}"),
      Part.toolCall("toolu_2", "weather", "{\"city\":\"Oslo\"}")
    ], { provider: "anthropic", model: "claude-sonnet-4-5", stopReason: "tool-calls" })
    const contents = GoogleRequest.contents([Message.user("hi"), foreign], "google")
    expect(contents[1]).toEqual({
      role: "model",
      parts: [
        { text: "Let me check." },
        { functionCall: { name: "weather", args: { city: "Paris" } }, thoughtSignature: GoogleRequest.foreignCallSignature },
        { functionCall: { name: "weather", args: { city: "Oslo" } } }
      ]
    })
  })

  it("skips an interrupted message with no content or only unsigned reasoning", () => {
    const contents = GoogleRequest.contents([
      Message.user("Think hard"),
      assistant([], { stopReason: "interrupted" }),
      assistant([{ _tag: "Reasoning", text: "Half a thought" }], { stopReason: "interrupted" }),
      Message.user("Never mind")
    ], "google")
    expect(contents).toEqual([
      { role: "user", parts: [{ text: "Think hard" }] },
      { role: "user", parts: [{ text: "Never mind" }] }
    ])
  })

  it("sends back the ids Gemini gave, on the call and on its response", () => {
    const contents = GoogleRequest.contents([
      Message.user("time?"),
      assistant([{ ...Part.toolCall("fc_1", "clock", "{}"), metadata: { functionCallId: "fc_1", thoughtSignature: "s" } }]),
      Message.toolResult({ toolCallId: "fc_1", toolName: "clock", content: "noon" })
    ], "google")
    expect(contents.slice(1)).toEqual([
      { role: "model", parts: [{ functionCall: { name: "clock", args: {}, id: "fc_1" }, thoughtSignature: "s" }] },
      { role: "user", parts: [{ functionResponse: { name: "clock", id: "fc_1", response: { result: "noon" } } }] }
    ])
  })

  it("sends a Gemini id once: a call repeating one already sent goes without, and so does its response", () => {
    // a history put together by hand, with one Gemini id on calls of two steps
    const contents = GoogleRequest.contents([
      Message.user("time?"),
      assistant([{ ...Part.toolCall("a", "clock", "{}"), metadata: { functionCallId: "fc_1", thoughtSignature: "s1" } }]),
      Message.toolResult({ toolCallId: "a", toolName: "clock", content: "noon" }),
      assistant([{ ...Part.toolCall("b", "date", "{}"), metadata: { functionCallId: "fc_1", thoughtSignature: "s2" } }]),
      Message.toolResult({ toolCallId: "b", toolName: "date", content: "today" })
    ], "google")
    expect(contents.slice(1)).toEqual([
      { role: "model", parts: [{ functionCall: { name: "clock", args: {}, id: "fc_1" }, thoughtSignature: "s1" }] },
      { role: "user", parts: [{ functionResponse: { name: "clock", id: "fc_1", response: { result: "noon" } } }] },
      { role: "model", parts: [{ functionCall: { name: "date", args: {} }, thoughtSignature: "s2" }] },
      { role: "user", parts: [{ functionResponse: { name: "date", response: { result: "today" } } }] }
    ])
  })

  it("pairs the responses of a history whose steps repeat call_0 with their own step's calls", () => {
    // stored when Gemini's calls were numbered per response
    const contents = GoogleRequest.contents([
      Message.user("time?"),
      assistant([{ ...Part.toolCall("call_0", "clock", "{}"), metadata: { thoughtSignature: "s1" } }]),
      Message.toolResult({ toolCallId: "call_0", toolName: "clock", content: "noon" }),
      assistant([{ ...Part.toolCall("call_0", "date", "{}"), metadata: { functionCallId: "fc_9", thoughtSignature: "s2" } }]),
      Message.toolResult({ toolCallId: "call_0", toolName: "date", content: "today" })
    ], "google")
    expect(contents[2]).toEqual({ role: "user", parts: [{ functionResponse: { name: "clock", response: { result: "noon" } } }] })
    expect(contents[4]).toEqual({ role: "user", parts: [{ functionResponse: { name: "date", id: "fc_9", response: { result: "today" } } }] })
  })

  it("signs the first call of each step that has no signature of its own with the documented stand-in", () => {
    const contents = GoogleRequest.contents([
      Message.user("time?"),
      // an older model's step, and one whose only signature sits on its second call
      assistant([Part.toolCall("a", "clock", "{}")], { model: "gemini-2.5-flash" }),
      Message.toolResult({ toolCallId: "a", toolName: "clock", content: "noon" }),
      assistant([Part.toolCall("b", "clock", "{}"), { ...Part.toolCall("c", "date", "{}"), metadata: { thoughtSignature: "s" } }]),
      Message.toolResult({ toolCallId: "b", toolName: "clock", content: "noon" }),
      Message.toolResult({ toolCallId: "c", toolName: "date", content: "today" })
    ], "google")
    expect(contents[1].parts).toEqual([{ functionCall: { name: "clock", args: {} }, thoughtSignature: GoogleRequest.foreignCallSignature }])
    expect(contents[3].parts).toEqual([
      { functionCall: { name: "clock", args: {} }, thoughtSignature: GoogleRequest.foreignCallSignature },
      { functionCall: { name: "date", args: {} }, thoughtSignature: "s" }
    ])
  })

  it("sends image URLs as fileData and base64 data: URLs as inlineData", () => {
    const contents = GoogleRequest.contents([
      Message.user([Part.imageUrl("https://example.com/cat.png"), Part.imageUrl("data:image/jpeg;base64,/9j/4A==")])
    ], "google")
    expect(contents[0]!.parts).toEqual([
      { fileData: { fileUri: "https://example.com/cat.png" } },
      { inlineData: { mimeType: "image/jpeg", data: "/9j/4A==" } }
    ])
  })

  it("names a forced tool, uses a thinking budget before Gemini 3, and merges provider options last", () => {
    const body = GoogleRequest.body(
      {
        messages: [Message.system("Also be kind."), Message.user("hi")],
        system: "Be brief.",
        tools: [{ name: "clock", parameters: { type: "object", properties: {} } }],
        toolChoice: { tool: "clock" },
        reasoning: { effort: "medium" },
        model: "gemini-2.5-flash",
        providerOptions: { google: { safetySettings: [] }, openai: { ignored: true } }
      },
      { model: "gemini-3-pro-preview", provider: "google" }
    )
    expect(body.systemInstruction).toEqual({ parts: [{ text: "Be brief." }, { text: "Also be kind." }] })
    expect(body.tools).toEqual([{ functionDeclarations: [{ name: "clock" }] }])
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["clock"] } })
    expect(body.generationConfig).toEqual({ thinkingConfig: { includeThoughts: true, thinkingBudget: 8192 } })
    expect(body.safetySettings).toEqual([])
    expect(body.ignored).toBeUndefined()
    expect(GoogleRequest.body({ messages: [], toolChoice: "required" }, { model: "m", provider: "google" }).toolConfig)
      .toEqual({ functionCallingConfig: { mode: "ANY" } })
    expect(GoogleRequest.body({ messages: [], toolChoice: "none" }, { model: "m", provider: "google" }).toolConfig)
      .toEqual({ functionCallingConfig: { mode: "NONE" } })
  })

  it("reduces JSON Schema to what Gemini accepts", () => {
    expect(GoogleRequest.schema({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      $defs: { Point: { type: "object", properties: { x: { type: "number" } }, required: ["x"], additionalProperties: false } },
      type: "object",
      properties: {
        at: { $ref: "#/$defs/Point" },
        tags: { type: "array", items: { type: "string", format: "uri" }, minItems: 1 },
        note: { type: ["string", "null"] },
        kind: { const: "a" },
        when: { anyOf: [{ type: "string", format: "date-time" }, { type: "null" }] },
        either: { oneOf: [{ type: "string" }, { type: "integer", format: "int32", exclusiveMinimum: 0 }] }
      },
      required: ["at"],
      additionalProperties: false
    })).toEqual({
      type: "object",
      properties: {
        at: { type: "object", properties: { x: { type: "number" } }, required: ["x"] },
        tags: { type: "array", items: { type: "string" }, minItems: 1 },
        note: { type: "string", nullable: true },
        kind: { enum: ["a"] },
        when: { type: "string", format: "date-time", nullable: true },
        either: { anyOf: [{ type: "string" }, { type: "integer", format: "int32" }] }
      },
      required: ["at"]
    })
    // a recursive reference cannot be written out: it becomes an unconstrained schema
    expect(GoogleRequest.schema({
      $defs: { Node: { type: "object", properties: { next: { $ref: "#/$defs/Node" } } } },
      $ref: "#/$defs/Node"
    })).toEqual({ type: "object", properties: { next: {} } })
  })

  it("builds the streaming URL under the host root", () => {
    expect(GoogleRequest.url("https://generativelanguage.googleapis.com/", "models/gemini-2.5-flash"))
      .toBe("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
  })
})
