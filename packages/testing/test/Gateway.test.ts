/**
 * What a gateway answers in a provider's place, shown over real HTTP: its JSON error objects and
 * HTML pages on a 200, and each provider's whole (non-streamed) answer as one JSON object.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Completion, Gateway, ProviderServer, type Script } from "../src/index.js"
import { post, read, patient } from "./raw.js"

/** Plays `script` for one request and hands back the status, headers and body text. */
const play = (script: Script.Script) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    server.enqueue(script)
    const response = yield* Effect.promise(() => post(server))
    const { bytes, end } = yield* Effect.promise(() => read(response, patient))
    expect(end).toBe("done")
    return { status: response.statusCode, headers: response.headers, text: bytes.toString("utf8") }
  })

describe("Gateway", () => {
  it.scopedLive("jsonError: a JSON error object with status 200", () =>
    Effect.gen(function*() {
      const { headers, status, text } = yield* play(Gateway.jsonError())
      expect(status).toBe(200)
      expect(headers["content-type"]).toBe("application/json")
      const { error } = JSON.parse(text)
      expect(Object.keys(error).sort()).toEqual(["code", "message", "type"])
      expect(error.code).toBe("model_not_found")
    }))

  it.scopedLive("overloaded: a JSON error object on 200 that says to come back (code 503, type overloaded)", () =>
    Effect.gen(function*() {
      const { status, text } = yield* play(Gateway.overloaded())
      expect(status).toBe(200)
      expect(JSON.parse(text).error).toMatchObject({ type: "overloaded", code: 503 })
    }))

  it.scopedLive("jsonError takes its status and fields", () =>
    Effect.gen(function*() {
      const { status, text } = yield* play(Gateway.jsonError({ status: 202, message: "queued", type: "server_error", code: null }))
      expect(status).toBe(202)
      expect(JSON.parse(text)).toEqual({ error: { message: "queued", type: "server_error", code: null } })
    }))

  it.scopedLive.each([
    { page: "badGateway", script: Gateway.badGateway(), title: "502 Bad Gateway" },
    { page: "errorPage(503)", script: Gateway.errorPage(503), title: "503 Service Unavailable" },
    { page: "errorPage(504)", script: Gateway.errorPage(504), title: "504 Gateway Timeout" },
    { page: "errorPage(429)", script: Gateway.errorPage(429), title: "429 Too Many Requests" },
    { page: "loginPage", script: Gateway.loginPage(), title: "Sign in" }
  ])("$page: an HTML page titled $title, on 200", ({ script, title }) =>
    Effect.gen(function*() {
      const { headers, status, text } = yield* play(script)
      expect(status).toBe(200)
      expect(headers["content-type"]).toMatch(/^text\/html/)
      expect(text).toMatch(/^<!DOCTYPE html>/)
      expect(/<title>(.*)<\/title>/.exec(text)?.[1]).toBe(title)
      expect(Number(headers["content-length"])).toBe(Buffer.byteLength(text))
    }))

  it.scopedLive("the login page holds a sign-in form", () =>
    Effect.gen(function*() {
      const { text } = yield* play(Gateway.loginPage())
      expect(text).toContain("<form")
      expect(text).toContain("type=\"password\"")
    }))
})

const content: Completion.Content = {
  text: "Grüße aus Köln ☀",
  toolCalls: [{ id: "call_1", name: "lookup", arguments: { city: "Zürich" } }, { id: "call_2", name: "clock", arguments: { tz: "UTC" } }]
}

/** Where each format's whole answer keeps its text and its calls' names and arguments. */
const formats = [
  {
    name: "chatCompletion",
    make: Completion.chatCompletion,
    kind: (json: any) => json.object,
    expected: "chat.completion",
    text: (json: any) => json.choices[0].message.content,
    calls: (json: any) => json.choices[0].message.tool_calls.map((call: any) => [call.id, call.function.name, JSON.parse(call.function.arguments)])
  },
  {
    name: "response",
    make: Completion.response,
    kind: (json: any) => `${json.object} ${json.status}`,
    expected: "response completed",
    text: (json: any) => json.output.find((item: any) => item.type === "message").content[0].text,
    calls: (json: any) =>
      json.output.filter((item: any) => item.type === "function_call").map((call: any) => [call.call_id, call.name, JSON.parse(call.arguments)])
  },
  {
    name: "message",
    make: Completion.message,
    kind: (json: any) => `${json.type} ${json.stop_reason}`,
    expected: "message tool_use",
    text: (json: any) => json.content.find((block: any) => block.type === "text").text,
    calls: (json: any) => json.content.filter((block: any) => block.type === "tool_use").map((block: any) => [block.id, block.name, block.input])
  },
  {
    name: "generateContent",
    make: Completion.generateContent,
    kind: (json: any) => json.candidates[0].finishReason,
    expected: "STOP",
    text: (json: any) => json.candidates[0].content.parts[0].text,
    calls: (json: any) =>
      json.candidates[0].content.parts.flatMap((part: any) => part.functionCall === undefined ? [] : [[part.functionCall.id, part.functionCall.name, part.functionCall.args]])
  }
] as const

describe.each(formats)("Completion.$name", (format) => {
  it.scopedLive("a whole answer as one application/json object on 200, with its text and every call", () =>
    Effect.gen(function*() {
      const { headers, status, text } = yield* play(Completion.script(format.make(content)))
      expect(status).toBe(200)
      expect(headers["content-type"]).toBe("application/json")
      const json = JSON.parse(text)
      expect(format.kind(json)).toBe(format.expected)
      expect(format.text(json)).toBe(content.text)
      expect(format.calls(json)).toEqual(content.toolCalls!.map((call) => [call.id, call.name, call.arguments]))
    }))
})
