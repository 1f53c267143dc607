/**
 * The server behaviours a `Script` asks for with its options and transformers, shown over real
 * HTTP with `node:http` reading the raw bytes: a response that lingers after its last step (with
 * or without keep-alive comments), a compressed body flushed at each pause, an error body that
 * stalls half-way or trickles in, and a key echoed back from the request.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ChatCompletions, ProviderServer, Script } from "../src/index.js"
import { comments, decompress, events, parses, post, read, written, patient } from "./raw.js"

/** Plays `script` for one request and hands back the server and the response, its body unread. */
const play = (script: Script.Script, path?: string, headers?: Record<string, string>) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    server.enqueue(script)
    const response = yield* Effect.promise(() => post(server, path, headers))
    return { server, response }
  })

const reply = ChatCompletions.reply({ text: "Grüße, Welt ☀", usage: { prompt_tokens: 3, completion_tokens: 4 } })
const replyEvents = events(written(reply))

describe("linger", () => {
  it.scopedLive("true: every event of the reply, then no end of the body until the client goes away", () =>
    Effect.gen(function*() {
      const { server, response } = yield* play({ ...reply, linger: true })
      const { bytes, end } = yield* Effect.promise(() => read(response))
      expect(end).toBe("stalled")
      expect(events(bytes)).toEqual(replyEvents)
      const request = server.requests[0]!
      expect(request.finishedAt).toBeUndefined()
      expect(server.openConnections()).toBe(1)
      response.destroy()
      yield* Effect.promise(() => server.connectionClosed(request.id))
      expect(request.clientClosedAt).toBeTypeOf("number")
      expect(request.finishedAt).toBeUndefined()
    }))

  it.scopedLive("an End step with linger ends the steps, not the body", () =>
    Effect.gen(function*() {
      const { response } = yield* play(Script.make([Script.event("one"), Script.end(), Script.event("two")], { linger: true }))
      const { bytes, end } = yield* Effect.promise(() => read(response))
      expect(end).toBe("stalled")
      expect(events(bytes)).toEqual(["one"])
      response.destroy()
    }))

  it.scopedLive("pingEvery: keep-alive comments go on after the last event, and the body never ends", () =>
    Effect.gen(function*() {
      const { server, response } = yield* play({ ...reply, linger: { pingEvery: 10 } })
      const afterReply = (bytes: Buffer) => {
        const text = bytes.toString("utf8")
        return text.slice(text.indexOf("[DONE]"))
      }
      // the reader would call a silence of 150 ms a stall; the pings keep it from ever seeing one
      const { bytes, end } = yield* Effect.promise(() =>
        read(response, { enough: (bytes) => bytes.includes("[DONE]") && comments(Buffer.from(afterReply(bytes))).length >= 4 })
      )
      expect(end).toBe("stalled")
      expect(events(bytes)).toEqual(replyEvents)
      expect(comments(Buffer.from(afterReply(bytes))).every((comment) => comment === "keep-alive")).toBe(true)
      expect(server.requests[0]!.finishedAt).toBeUndefined()
      response.destroy()
      yield* Effect.promise(() => server.connectionClosed(1))
    }))
})

describe.each(Script.encodings)("encoding %s", (encoding) => {
  it.scopedLive("the reply's bytes compressed: content-encoding set, no content-length, the same bytes once decoded", () =>
    Effect.gen(function*() {
      const { response } = yield* play({ ...ChatCompletions.reply({ text: "Grüße, Welt ☀", deltaDelay: 1 }), encoding })
      expect(response.headers["content-encoding"]).toBe(encoding)
      expect(response.headers["content-length"]).toBeUndefined()
      const { bytes, end } = yield* Effect.promise(() => read(response, patient))
      expect(end).toBe("done")
      expect(bytes.includes("chat.completion.chunk")).toBe(false)
      expect(decompress(encoding, bytes)).toEqual(written(ChatCompletions.reply({ text: "Grüße, Welt ☀" })))
    }))

  it.scopedLive("flushed at every pause: what came before a stall decodes while the body stays open", () =>
    Effect.gen(function*() {
      const { response } = yield* play(Script.make([Script.event("one"), Script.delay(5), Script.event("two"), Script.stall()], { encoding }))
      const { bytes, end } = yield* Effect.promise(() => read(response))
      expect(end).toBe("stalled")
      expect(events(decompress(encoding, bytes))).toEqual(["one", "two"])
      response.destroy()
    }))

  it.scopedLive("an error body compressed, its status and headers kept", () =>
    Effect.gen(function*() {
      const error = ChatCompletions.errorBody(429, "Slow down", { headers: { "retry-after-ms": "20" } })
      const { response } = yield* play({ ...error, encoding })
      expect(response.statusCode).toBe(429)
      expect(response.headers["retry-after-ms"]).toBe("20")
      expect(response.headers["content-type"]).toBe("application/json")
      expect(response.headers["content-encoding"]).toBe(encoding)
      const { bytes, end } = yield* Effect.promise(() => read(response, patient))
      expect(end).toBe("done")
      expect(JSON.parse(decompress(encoding, bytes).toString())).toEqual(JSON.parse(written(error).toString()))
    }))

  it.scopedLive("a client that decodes content-encoding (fetch) reads the plain body", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue({ ...ChatCompletions.errorBody(503, "Overloaded"), encoding })
      const response = yield* Effect.promise(() => fetch(`${server.url}/v1/chat/completions`, { method: "POST", body: "{}" }))
      expect(response.status).toBe(503)
      expect((yield* Effect.promise(() => response.json())).error.message).toBe("Overloaded")
    }))
})

describe("error bodies that stall or trickle", () => {
  it.scopedLive.each([500, 429, 401])("stallMidway: a %i whose JSON body stops half-way, its content-length promising the rest", (status) =>
    Effect.gen(function*() {
      const error = ChatCompletions.errorBody(status, "Something went wrong on our side, sorry.")
      const whole = written(error)
      const { server, response } = yield* play(Script.stallMidway(error))
      expect(response.statusCode).toBe(status)
      expect(response.headers["content-length"]).toBe(String(whole.length))
      const { bytes, end } = yield* Effect.promise(() => read(response))
      expect(end).toBe("stalled")
      expect(bytes).toEqual(whole.subarray(0, Math.floor(whole.length / 2)))
      expect(parses(bytes.toString())).toBe(false)
      expect(server.requests[0]!.finishedAt).toBeUndefined()
      response.destroy()
    }))

  it.scopedLive("stallMidway with a byte count: exactly that many bytes", () =>
    Effect.gen(function*() {
      const error = ChatCompletions.errorBody(500, "Internal error")
      const { response } = yield* play(Script.stallMidway(error, 7))
      const { bytes } = yield* Effect.promise(() => read(response))
      expect(bytes).toEqual(written(error).subarray(0, 7))
      response.destroy()
    }))

  it.scopedLive.each([500, 429, 401])("trickle: a %i whose body comes one byte a read, whole in the end", (status) =>
    Effect.gen(function*() {
      const error = ChatCompletions.errorBody(status, "Try again")
      const whole = written(error)
      const { response } = yield* play(Script.trickle(error, 2))
      expect(response.statusCode).toBe(status)
      const { bytes, end, reads } = yield* Effect.promise(() => read(response, patient))
      expect(end).toBe("done")
      expect(bytes).toEqual(whole)
      // one read per byte, give or take what the client reads together
      expect(reads).toBeGreaterThan(whole.length / 2)
    }))
})

describe("echoKey", () => {
  const message = `Incorrect API key provided: ${Script.requestKey}.`
  const echo: Script.Script = {
    ...ChatCompletions.errorBody(401, message, { headers: { "www-authenticate": `Bearer error="invalid_token", key="${Script.requestKey}"` } }),
    echoKey: true
  }
  const key = "sk-reins-secret-0123456789"

  it.scopedLive.each([
    { carried: "authorization: Bearer", path: "/v1/chat/completions", headers: { authorization: `Bearer ${key}` } },
    { carried: "x-api-key", path: "/v1/messages", headers: { "x-api-key": key } },
    { carried: "x-goog-api-key", path: "/v1beta/models/g:streamGenerateContent?alt=sse", headers: { "x-goog-api-key": key } },
    { carried: "the key query parameter", path: `/v1beta/models/g:streamGenerateContent?alt=sse&key=${key}`, headers: {} }
  ])("a 401 quotes the key carried in $carried, in its JSON message and a header", ({ headers, path }) =>
    Effect.gen(function*() {
      const { response } = yield* play(echo, path, headers)
      expect(response.statusCode).toBe(401)
      expect(response.headers["www-authenticate"]).toContain(key)
      const { bytes, end } = yield* Effect.promise(() => read(response, patient))
      expect(end).toBe("done")
      expect(JSON.parse(bytes.toString()).error.message).toBe(`Incorrect API key provided: ${key}.`)
      // the length is counted for the body with the key in it
      expect(response.headers["content-length"]).toBe(String(bytes.length))
    }))

  it.scopedLive("a stream's error event quotes the key", () =>
    Effect.gen(function*() {
      const script = Script.make(
        [ChatCompletions.start(), Script.event({ error: { message, type: "invalid_request_error", code: "invalid_api_key" } }), Script.stall()],
        { echoKey: true }
      )
      const { response } = yield* play(script, undefined, { authorization: `Bearer ${key}` })
      const { bytes } = yield* Effect.promise(() => read(response))
      expect(JSON.parse(events(bytes)[1]).error.message).toContain(key)
      expect(bytes.includes(Script.requestKey)).toBe(false)
      response.destroy()
    }))

  it.scopedLive("without echoKey the stand-in is sent as it is", () =>
    Effect.gen(function*() {
      const { response } = yield* play({ ...echo, echoKey: false }, undefined, { authorization: `Bearer ${key}` })
      const { bytes } = yield* Effect.promise(() => read(response, patient))
      expect(bytes.toString()).toContain(Script.requestKey)
      expect(bytes.toString()).not.toContain(key)
    }))
})
