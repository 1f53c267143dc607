import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Sse } from "@reins/core"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Chaos, ProviderServer, Script } from "../src/index.js"
import * as Raw from "./raw.js"

/** The path each format's provider posts to. */
const paths: Record<Chaos.Format, string> = {
  ChatCompletions: "/v1/chat/completions",
  Responses: "/v1/responses",
  Messages: "/v1/messages",
  Gemini: "/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
}

/** What a format's reply marks a response cut short by the token limit with. */
const lengthMarker: Record<Chaos.Format, string> = {
  ChatCompletions: "\"finish_reason\":\"length\"",
  Responses: "\"max_output_tokens\"",
  Messages: "\"max_tokens\"",
  Gemini: "\"MAX_TOKENS\""
}

const post = (server: ProviderServer.ProviderServer, format: Chaos.Format, signal?: AbortSignal) =>
  fetch(`${server.url}${paths[format]}`, { method: "POST", body: "{}", ...(signal !== undefined ? { signal } : {}) })

/** How a body ended: all of it read, broken off, or silent for longer than the reader waited. */
type End = "done" | "error" | "stalled"

/** Reads a whole body, or until it breaks or stays silent for `idleMs`; counts the reads. */
const read = async (response: Response, idleMs = 150): Promise<{ bytes: Uint8Array; reads: number; end: End }> => {
  const reader = response.body!.getReader()
  const parts: Array<Uint8Array> = []
  let reads = 0
  for (;;) {
    let timer: ReturnType<typeof setTimeout> | undefined
    const silence = new Promise<"stalled">((resolve) => {
      timer = setTimeout(() => resolve("stalled"), idleMs)
    })
    const next = await Promise.race([reader.read(), silence]).catch(() => "error" as const)
    clearTimeout(timer)
    if (next === "stalled" || next === "error") {
      if (next === "stalled") await reader.cancel().catch(() => undefined)
      return { bytes: Buffer.concat(parts), reads, end: next }
    }
    if (next.done) return { bytes: Buffer.concat(parts), reads, end: "done" }
    parts.push(next.value)
    reads++
  }
}

/** The data of each complete event in `bytes`. */
const events = (bytes: Uint8Array): Array<string> =>
  new Sse.SseDecoder({ maxEventSize: 64 * 1024 * 1024 }).feed(bytes).map((event) => event.data)

/** The data of each event of a script made only of events. */
const scriptEvents = (script: Script.Script): Array<string> =>
  script.steps.flatMap((step) => (step._tag === "Event" ? [step.data] : []))

const parses = (data: string): boolean => {
  try {
    JSON.parse(data)
    return true
  } catch {
    return false
  }
}

/** Plays `script` for one raw request of `format` and hands back the response. */
const play = (format: Chaos.Format, script: Script.Script, signal?: AbortSignal) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    server.enqueue(script)
    const response = yield* Effect.promise(() => post(server, format, signal).catch((error: unknown) => error as Error))
    return { server, response }
  })

const playFault = (format: Chaos.Format, fault: Chaos.Fault, at?: number) => play(format, Chaos.script({ format, fault, at }))

const asResponse = (response: Response | Error): Response => {
  if (response instanceof Error) throw response
  return response
}

describe("Chaos.seeded", () => {
  it("the same seed makes the same choices, another seed others", () => {
    const draw = (seed: number) => {
      const chooser = Chaos.seeded(seed)
      return Array.from({ length: 200 }, (_, i) => chooser.plan(Chaos.formats[i % Chaos.formats.length]))
    }
    expect(draw(42)).toEqual(draw(42))
    expect(draw(42)).not.toEqual(draw(43))
    const a = Chaos.seeded(7)
    const b = Chaos.seeded(7)
    const numbers = Array.from({ length: 100 }, () => a.next())
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(numbers)
    expect(numbers.every((n) => n >= 0 && n < 1)).toBe(true)
  })

  it.each(Chaos.formats)("reaches every fault of %s, every placement and every status, and keeps to the faults it is given", (format) => {
    const chooser = Chaos.seeded(1)
    const faults = new Set<Chaos.Fault>()
    const placements = new Set<number>()
    const statuses = new Set<number>()
    for (let i = 0; i < 3_000; i++) {
      const plan = chooser.plan(format)
      faults.add(plan.fault)
      if (Chaos.isPlaced(plan.fault)) {
        expect(plan.at).toBeGreaterThanOrEqual(0)
        expect(plan.at).toBeLessThan(Chaos.placements(format))
        placements.add(plan.at!)
      } else {
        expect(plan.at).toBeUndefined()
      }
      if (Chaos.takesStatus(plan.fault)) statuses.add(plan.status!)
      else expect(plan.status).toBeUndefined()
    }
    expect([...faults].sort()).toEqual([...Chaos.faultsOf(format)].sort())
    expect(placements.size).toBe(Chaos.placements(format))
    expect([...statuses].sort()).toEqual([...Chaos.errorBodyStatuses].sort())
    const among: ReadonlyArray<Chaos.Fault> = ["CutOff", "Status"]
    for (let i = 0; i < 50; i++) expect(among).toContain(chooser.plan(format, among).fault)
  })

  it("draws the dialect faults in Chat Completions only, and refuses a list with no fault of the format", () => {
    expect(Chaos.faultsOf("ChatCompletions")).toEqual(Chaos.faults)
    for (const format of Chaos.formats.filter((format) => format !== "ChatCompletions")) {
      expect(Chaos.faultsOf(format).filter((fault) => Chaos.dialectFaults.includes(fault))).toEqual([])
      expect(Chaos.seeded(3).plan(format, ["SameIndexToolCalls", "Status"]).fault).toBe("Status")
      expect(() => Chaos.seeded(3).plan(format, Chaos.dialectFaults)).toThrow(/exists in/)
    }
  })
})

describe("Chaos.formatOf", () => {
  it("names the format of each provider's path", () => {
    for (const format of Chaos.formats) expect(Chaos.formatOf(paths[format])).toBe(format)
    expect(Chaos.formatOf("/v1/embeddings")).toBeUndefined()
  })
})

describe("Script.drip", () => {
  it("sends the same bytes, one at a time, with a pause after each", () => {
    const step = Script.event({ text: "é☀" })
    const dripped = Script.drip([step, Script.stall(5)], 2)
    const bytes = Buffer.from(Script.encode(step) as string)
    expect(dripped).toHaveLength(bytes.length * 2 + 1)
    expect(Buffer.concat(dripped.flatMap((s) => (s._tag === "Raw" ? [s.bytes as Uint8Array] : [])))).toEqual(bytes)
    expect(dripped.filter((s) => s._tag === "Delay").every((s) => s._tag === "Delay" && s.ms === 2)).toBe(true)
    expect(dripped.at(-1)).toEqual(Script.stall(5))
  })
})

describe.each(Chaos.formats)("Chaos scripts in %s, over raw HTTP", (format) => {
  const reply = scriptEvents(Chaos.reply(format))
  const at = Chaos.midText(format)

  it.scopedLive("the reply is whole: every event of it, in order, all JSON but [DONE]", () =>
    Effect.gen(function*() {
      const { response } = yield* play(format, Chaos.reply(format))
      const { bytes, end } = yield* Effect.promise(() => read(asResponse(response)))
      expect(end).toBe("done")
      expect(events(bytes)).toEqual(reply)
      expect(reply.filter((data) => data !== "[DONE]").every(parses)).toBe(true)
      expect(reply.length).toBeGreaterThanOrEqual(Chaos.placements(format))
      expect(Buffer.from(bytes).toString()).toContain(Chaos.text.slice(0, 2))
    }))

  it.scopedLive("Status, RetryAfter and RetryAfterMs: an error status with the format's body, with or without the wait", () =>
    Effect.gen(function*() {
      const status = asResponse((yield* playFault(format, "Status")).response)
      expect(status.status).toBe(format === "Messages" ? 529 : 503)
      expect(status.headers.get("retry-after")).toBeNull()
      expect(status.headers.get("retry-after-ms")).toBeNull()
      expect(JSON.parse(yield* Effect.promise(() => status.text()))).toHaveProperty("error")

      const seconds = asResponse((yield* playFault(format, "RetryAfter")).response)
      expect(seconds.status).toBe(429)
      expect(seconds.headers.get("retry-after")).toBe(String(Chaos.retryAfter.seconds))

      const millis = asResponse((yield* playFault(format, "RetryAfterMs")).response)
      expect(millis.status).toBe(429)
      expect(millis.headers.get("retry-after-ms")).toBe(String(Chaos.retryAfter.millis))
    }))

  it.scopedLive("ResetBeforeHeaders: the request fails without a response", () =>
    Effect.gen(function*() {
      const { response } = yield* playFault(format, "ResetBeforeHeaders")
      expect(response).toBeInstanceOf(Error)
    }))

  it.scopedLive("StallBeforeHeaders: no headers until the client gives up, then the connection closes", () =>
    Effect.gen(function*() {
      const { server, response } = yield* play(format, Chaos.script({ format, fault: "StallBeforeHeaders" }), AbortSignal.timeout(150))
      expect((response as Error).name).toBe("TimeoutError")
      yield* Effect.promise(() => server.connectionClosed(1))
    }))

  it.scopedLive.each([
    { fault: "ResetMidBody", then: "the body breaks", ending: "error" },
    { fault: "CutOff", then: "a clean end, no terminal event", ending: "done" },
    { fault: "StallMidBody", then: "silence", ending: "stalled" }
  ] as const)("$fault: the events before the placement, then $then", ({ ending, fault }) =>
    Effect.gen(function*() {
      const { response } = yield* playFault(format, fault, at)
      const { bytes, end } = yield* Effect.promise(() => read(asResponse(response)))
      expect(end).toBe(ending)
      expect(events(bytes)).toEqual(reply.slice(0, at))
    }))

  it.scopedLive("CutOff before the first event: an empty body", () =>
    Effect.gen(function*() {
      const empty = yield* playFault(format, "CutOff", 0)
      expect((yield* Effect.promise(() => read(asResponse(empty.response)))).bytes).toHaveLength(0)
    }))

  it.scopedLive("SlowDrip: the whole reply, the event at the placement a byte at a time", () =>
    Effect.gen(function*() {
      const { response } = yield* playFault(format, "SlowDrip", at)
      const { bytes, end, reads } = yield* Effect.promise(() => read(asResponse(response)))
      expect(end).toBe("done")
      expect(events(bytes)).toEqual(reply)
      // one read per byte of the dripped event, give or take what the client reads together
      expect(reads).toBeGreaterThan(Buffer.byteLength(reply[at]) / 2)
    }))

  it.scopedLive("CorruptJson: the event at the placement does not parse, then silence", () =>
    Effect.gen(function*() {
      for (const placement of [0, at, Chaos.placements(format) - 1]) {
        const { response } = yield* playFault(format, "CorruptJson", placement)
        const { bytes, end } = yield* Effect.promise(() => read(asResponse(response)))
        expect(end).toBe("stalled")
        const data = events(bytes)
        expect(data.slice(0, placement)).toEqual(reply.slice(0, placement))
        expect(data).toHaveLength(placement + 1)
        expect(parses(data[placement])).toBe(false)
      }
    }))

  it.scopedLive("ErrorEvent: the format's error event at the placement, then silence", () =>
    Effect.gen(function*() {
      const { response } = yield* playFault(format, "ErrorEvent", at)
      const { bytes, end } = yield* Effect.promise(() => read(asResponse(response)))
      expect(end).toBe("stalled")
      const data = events(bytes)
      expect(data.slice(0, at)).toEqual(reply.slice(0, at))
      const error = JSON.parse(data[at])
      expect(error.error !== undefined || error.type === "error").toBe(true)
    }))

  it("Oversized: a text delta event over the SSE limit of 16 MiB at the placement", () => {
    const step = Chaos.script({ format, fault: "Oversized", at }).steps[at]
    expect(step._tag).toBe("Raw")
    const bytes = Script.encode(step) as Uint8Array
    expect(bytes.length).toBeGreaterThan(16 * 1024 * 1024)
    // the event is the format's own text delta, its text a run of letters
    const head = Buffer.from(bytes.subarray(0, 300)).toString()
    const tail = Buffer.from(bytes.subarray(bytes.length - 300)).toString()
    expect(head.slice(0, head.indexOf("xxxx")) + tail.slice(tail.lastIndexOf("xxxx") + 4)).toMatch(/^(event: .*\n)?data: \{.*\}\n\n$/)
    expect(() => new Sse.SseDecoder().feed(bytes)).toThrow(/larger than the limit/)
  })

  it.scopedLive("TruncatedToolCall: the reply ends whole, cut short by the token limit inside the tool call's arguments", () =>
    Effect.gen(function*() {
      const { response } = yield* playFault(format, "TruncatedToolCall")
      const { bytes, end } = yield* Effect.promise(() => read(asResponse(response)))
      expect(end).toBe("done")
      const body = Buffer.from(bytes).toString()
      expect(body).toContain(lengthMarker[format])
      expect(events(bytes).every((data) => data === "[DONE]" || parses(data))).toBe(true)
      // the whole arguments never went out, in any of the ways a format spells them
      expect(body).not.toContain("celsius")
    }))
})

describe("Chaos.transport", () => {
  const request = (server: ProviderServer.ProviderServer) =>
    HttpClientRequest.post(`${server.url}${paths.ChatCompletions}`).pipe(HttpClientRequest.bodyText("{}"))

  /** A server answering every request with the Chat Completions reply, and that reply's bytes. */
  const replyServer = ProviderServer.make({ handler: () => Chaos.reply("ChatCompletions") })
  const replyText = Chaos.reply("ChatCompletions").steps.map((step) => Script.encode(step)).join("")

  /** An undici client for the test's scope, wrapped. */
  const client = (options: Chaos.TransportOptions) =>
    Effect.map(Layer.build(NodeHttpClient.layerUndici), (context) => Chaos.transport(options)(Context.get(context, HttpClient.HttpClient)))

  it.scopedLive("rate 0 passes every request through untouched", () =>
    Effect.gen(function*() {
      const server = yield* replyServer
      const http = yield* client({ seed: 1, rate: 0 })
      const response = yield* http.execute(request(server))
      expect(response.status).toBe(200)
      expect(yield* response.text).toBe(replyText)
    }))

  it.scopedLive("Reset fails the request with a transport RequestError, and nothing is sent", () =>
    Effect.gen(function*() {
      const server = yield* replyServer
      const http = yield* client({ seed: 1, rate: 1, faults: ["Reset"] })
      const error = yield* Effect.flip(http.execute(request(server)))
      expect(error._tag).toBe("RequestError")
      expect(error.reason).toBe("Transport")
      expect(server.requests).toHaveLength(0)
    }))

  it.scopedLive("Status and RetryAfter answer with a made-up error status, and nothing is sent", () =>
    Effect.gen(function*() {
      const server = yield* replyServer
      const status = yield* (yield* client({ seed: 1, rate: 1, faults: ["Status"] })).execute(request(server))
      expect(status.status).toBe(503)
      expect(status.headers["retry-after"]).toBeUndefined()
      expect(status.headers["retry-after-ms"]).toBeUndefined()
      const limited = yield* (yield* client({ seed: 1, rate: 1, faults: ["RetryAfter"], retryAfterMs: 30 })).execute(request(server))
      expect(limited.status).toBe(429)
      expect(limited.headers["retry-after-ms"]).toBe("30")
      expect(server.requests).toHaveLength(0)
    }))

  it.scopedLive("BodyFailure breaks the real body off, and Truncate ends it early, within maxBytes", () =>
    Effect.gen(function*() {
      const server = yield* replyServer
      const broken = yield* (yield* client({ seed: 3, rate: 1, faults: ["BodyFailure"], maxBytes: 200 })).execute(request(server))
      expect(broken.status).toBe(200)
      const received: Array<Uint8Array> = []
      const error = yield* broken.stream.pipe(Stream.runForEach((bytes) => Effect.sync(() => received.push(bytes))), Effect.flip)
      expect(error._tag).toBe("ResponseError")
      const before = Buffer.concat(received).toString()
      expect(before.length).toBeLessThan(200)
      expect(replyText.startsWith(before)).toBe(true)

      const truncated = yield* (yield* client({ seed: 3, rate: 1, faults: ["Truncate"], maxBytes: 200 })).execute(request(server))
      const text = yield* truncated.text
      expect(text.length).toBeLessThan(200)
      expect(replyText.startsWith(text)).toBe(true)
      expect(server.requests).toHaveLength(2)
    }))

  it.scopedLive("the same seed faults the same requests in the same ways", () =>
    Effect.gen(function*() {
      const server = yield* replyServer
      const run = (seed: number) =>
        Effect.gen(function*() {
          const faults: Array<string> = []
          const http = yield* client({ seed, rate: 0.4, onFault: (fault) => faults.push(fault) })
          for (let i = 0; i < 30; i++) {
            const outcome = yield* http.execute(request(server)).pipe(
              Effect.flatMap((response) => Effect.map(Effect.either(response.stream.pipe(Stream.runCollect)), (body) => `${response.status}:${body._tag === "Right" ? Chunk.size(body.right) > 0 : "broken"}`)),
              Effect.catchAll((error) => Effect.succeed(error._tag))
            )
            faults.push(outcome)
          }
          return faults
        })
      const first = yield* run(11)
      expect(yield* run(11)).toEqual(first)
      expect(yield* run(12)).not.toEqual(first)
      const injected = first.filter((entry) => (Chaos.transportFaults as ReadonlyArray<string>).includes(entry))
      expect(injected.length).toBeGreaterThan(0)
      expect(injected.length).toBeLessThan(30)
    }))

  it.scopedLive("Chaos.layer wraps the HttpClient in context", () =>
    Effect.gen(function*() {
      const server = yield* replyServer
      const response = yield* HttpClient.execute(request(server)).pipe(
        Effect.provide(Chaos.layer({ seed: 1, rate: 1, faults: ["Status"] }).pipe(Layer.provide(NodeHttpClient.layerUndici)))
      )
      expect(response.status).toBe(503)
    }))
})

/** The key each format's layer sends, in its own header. */
const keyHeaders: Record<Chaos.Format, (key: string) => Record<string, string>> = {
  ChatCompletions: (key) => ({ authorization: `Bearer ${key}` }),
  Responses: (key) => ({ authorization: `Bearer ${key}` }),
  Messages: (key) => ({ "x-api-key": key }),
  Gemini: (key) => ({ "x-goog-api-key": key })
}

/** What says, in each format's error event, that the service and not the request failed. */
const retryableMark: Record<Chaos.Format, (json: any) => unknown> = {
  ChatCompletions: (json) => json.error.type,
  Responses: (json) => json.type === "error" && json.code,
  Messages: (json) => json.type === "error" && json.error.type,
  Gemini: (json) => `${json.error.code} ${json.error.status}`
}
const retryableMarks: Record<Chaos.Format, unknown> = {
  ChatCompletions: "server_error",
  Responses: "server_error",
  Messages: "overloaded_error",
  Gemini: "503 UNAVAILABLE"
}

/** Whether an event of a format carries content: text, or a tool call. */
const hasContent = (data: string): boolean => /"(content|delta|text|partial_json|arguments)":"[^"]|functionCall|tool_calls/.test(data)

describe.each(Chaos.formats)("the faults of real servers, gateways and proxies in %s, over raw HTTP", (format) => {
  const path = paths[format]
  const reply = scriptEvents(Chaos.reply(format))
  const replyBytes = Raw.written(Chaos.reply(format))
  const at = Chaos.midText(format)

  /** Plays a fault's script for one raw request and hands back the server and the response, its body unread. */
  const playRaw = (plan: Omit<Chaos.Plan, "format">, headers?: Record<string, string>) =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Chaos.script({ format, ...plan }))
      const response = yield* Effect.promise(() => Raw.post(server, path, headers))
      return { server, response }
    })

  it.scopedLive("Linger: the whole reply, then the body stays open until the client hangs up", () =>
    Effect.gen(function*() {
      const { response, server } = yield* playRaw({ fault: "Linger" })
      const { bytes, end } = yield* Effect.promise(() => Raw.read(response))
      expect(end).toBe("stalled")
      expect(Raw.events(bytes)).toEqual(reply)
      expect(server.requests[0]!.finishedAt).toBeUndefined()
      response.destroy()
      yield* Effect.promise(() => server.connectionClosed(1))
    }))

  it.scopedLive("LingerWithPings: the whole reply, then keep-alive comments on a body that never ends", () =>
    Effect.gen(function*() {
      const { response, server } = yield* playRaw({ fault: "LingerWithPings" })
      const pingsAfterReply = (bytes: Buffer) => Raw.events(bytes).length === reply.length ? Raw.comments(bytes).length : 0
      const { bytes, end } = yield* Effect.promise(() => Raw.read(response, { enough: (bytes) => pingsAfterReply(bytes) >= 3 }))
      expect(end).toBe("stalled")
      expect(Raw.events(bytes)).toEqual(reply)
      expect(Raw.comments(bytes).length).toBeGreaterThanOrEqual(3)
      expect(server.requests[0]!.finishedAt).toBeUndefined()
      response.destroy()
    }))

  it.scopedLive.each([
    { fault: "Gzip", encoding: "gzip" },
    { fault: "Brotli", encoding: "br" },
    { fault: "Deflate", encoding: "deflate" }
  ] as const)("$fault: the reply compressed ($encoding), the same bytes once decoded", ({ encoding, fault }) =>
    Effect.gen(function*() {
      const { response } = yield* playRaw({ fault })
      expect(response.headers["content-encoding"]).toBe(encoding)
      const { bytes, end, reads } = yield* Effect.promise(() => Raw.read(response, Raw.patient))
      expect(end).toBe("done")
      expect(bytes.includes(Buffer.from(Chaos.toolCall.name))).toBe(false)
      expect(Raw.decompress(encoding, bytes)).toEqual(replyBytes)
      // flushed at each pause, so it streams in many reads rather than one
      expect(reads).toBeGreaterThan(1)
    }))

  it.scopedLive.each(Chaos.errorBodyStatuses)("CompressedErrorBody: a %i with the format's error body, gzip-compressed", (status) =>
    Effect.gen(function*() {
      const { response } = yield* playRaw({ fault: "CompressedErrorBody", status })
      expect(response.statusCode).toBe(status)
      expect(response.headers["content-encoding"]).toBe("gzip")
      const { bytes, end } = yield* Effect.promise(() => Raw.read(response, Raw.patient))
      expect(end).toBe("done")
      expect(JSON.parse(Raw.decompress("gzip", bytes).toString())).toHaveProperty("error")
    }))

  it.scopedLive.each([
    { fault: "GatewayJsonError", type: "application/json", says: (body: string) => JSON.parse(body).error.code === "model_not_found" },
    { fault: "GatewayOverloaded", type: "application/json", says: (body: string) => JSON.parse(body).error.code === 503 },
    { fault: "GatewayHtml", type: "text/html", says: (body: string) => body.includes("<title>502 Bad Gateway</title>") },
    { fault: "LoginPage", type: "text/html", says: (body: string) => body.includes("<form") },
    {
      fault: "Unstreamed",
      type: "application/json",
      says: (body: string) => body.includes(JSON.stringify(Chaos.text)) && body.includes(Chaos.toolCall.id) && Raw.events(Buffer.from(body)).length === 0
    }
  ] as const)("$fault: status 200, $type, and no event stream", ({ fault, says, type }) =>
    Effect.gen(function*() {
      const { response } = yield* playRaw({ fault })
      expect(response.statusCode).toBe(200)
      expect(response.headers["content-type"]).toContain(type)
      const { bytes, end } = yield* Effect.promise(() => Raw.read(response, Raw.patient))
      expect(end).toBe("done")
      expect(says(bytes.toString())).toBe(true)
      expect(bytes.includes("data:")).toBe(false)
    }))

  it.scopedLive.each(Chaos.errorBodyStatuses)("StalledErrorBody: a %i whose JSON body stops half-way, then silence", (status) =>
    Effect.gen(function*() {
      const { response } = yield* playRaw({ fault: "StalledErrorBody", status })
      expect(response.statusCode).toBe(status)
      const { bytes, end } = yield* Effect.promise(() => Raw.read(response))
      expect(end).toBe("stalled")
      expect(bytes.length).toBeGreaterThan(0)
      expect(bytes.length).toBeLessThan(Number(response.headers["content-length"]))
      expect(Raw.parses(bytes.toString())).toBe(false)
      response.destroy()
    }))

  it.scopedLive.each(Chaos.errorBodyStatuses)("TricklingErrorBody: a %i whose body comes a byte at a time", (status) =>
    Effect.gen(function*() {
      const { response } = yield* playRaw({ fault: "TricklingErrorBody", status })
      expect(response.statusCode).toBe(status)
      const { bytes, reads } = yield* Effect.promise(() => Raw.read(response, { enough: (bytes) => bytes.length >= 12 }))
      expect(bytes.toString()).toMatch(/^\{"/)
      expect(reads).toBeGreaterThan(bytes.length / 2)
      expect(bytes.length).toBeLessThan(Number(response.headers["content-length"]))
      response.destroy()
    }))

  it.scopedLive("KeyEcho: a 401 that quotes the request's key in its message and its www-authenticate header", () =>
    Effect.gen(function*() {
      const key = "sk-chaos-secret-42"
      const { response } = yield* playRaw({ fault: "KeyEcho" }, keyHeaders[format](key))
      expect(response.statusCode).toBe(401)
      expect(response.headers["www-authenticate"]).toContain(key)
      const { bytes } = yield* Effect.promise(() => Raw.read(response, Raw.patient))
      const body = JSON.parse(bytes.toString())
      expect(body.error.message).toContain(key)
    }))

  it.scopedLive("KeyEchoEvent: the events before the placement, then an error event quoting the key, then silence", () =>
    Effect.gen(function*() {
      const key = "sk-chaos-secret-43"
      const { response } = yield* playRaw({ fault: "KeyEchoEvent", at }, keyHeaders[format](key))
      const { bytes, end } = yield* Effect.promise(() => Raw.read(response))
      expect(end).toBe("stalled")
      const data = Raw.events(bytes)
      expect(data.slice(0, at)).toEqual(reply.slice(0, at))
      expect(data).toHaveLength(at + 1)
      expect(data[at]).toContain(key)
      const error = JSON.parse(data[at])
      expect(error.error !== undefined || error.type === "error").toBe(true)
      response.destroy()
    }))

  it.scopedLive.each([
    { fault: "ErrorBeforeContentStall", then: "silence", ending: "stalled" },
    { fault: "ErrorBeforeContentEnd", then: "the end of the body", ending: "done" }
  ] as const)("$fault: the opening event, no content, the format's retryable error event, then $then", ({ ending, fault }) =>
    Effect.gen(function*() {
      const { response } = yield* playRaw({ fault })
      const { bytes, end } = yield* Effect.promise(() => Raw.read(response, ending === "done" ? Raw.patient : {}))
      expect(end).toBe(ending)
      const data = Raw.events(bytes)
      expect(data.length).toBe(2)
      expect(hasContent(data[0])).toBe(false)
      expect(retryableMark[format](JSON.parse(data[1]))).toBe(retryableMarks[format])
      // the opening is what the good reply starts with, or the format's first response with nothing in it
      if (format !== "Gemini") expect(JSON.parse(data[0])).toMatchObject(format === "ChatCompletions" ? { choices: [{ delta: { role: "assistant" } }] } : JSON.parse(reply[0]))
      else expect(JSON.parse(data[0]).candidates[0].content.parts).toEqual([])
    }))
})

describe("the Chat Completions dialect faults, over raw HTTP", () => {
  /** What each dialect fault's deltas show. */
  const shows: ReadonlyArray<{ readonly fault: Chaos.Fault; readonly shows: (deltas: ReadonlyArray<any>, finish: string) => boolean }> = [
    { fault: "SameIndexToolCalls", shows: (deltas) => deltas.every((delta) => delta.index === 0) },
    { fault: "NoIndexToolCalls", shows: (deltas) => deltas.every((delta) => !("index" in delta)) },
    { fault: "RepeatedToolCallHeaders", shows: (deltas) => deltas.length > 2 && deltas.every((delta) => delta.id !== undefined && delta.function.name !== undefined) },
    { fault: "WholeToolCallArguments", shows: (deltas) => deltas.length === 2 && deltas.every((delta) => Raw.parses(delta.function.arguments)) },
    { fault: "StopAfterToolCalls", shows: (_, finish) => finish === "stop" },
    { fault: "ToolCallsWithoutId", shows: (deltas) => deltas.every((delta) => !("id" in delta)) }
  ]

  it("every dialect fault has its row, and makes the two parallel calls", () => {
    expect(shows.map((row) => row.fault)).toEqual(Chaos.dialectFaults)
    for (const fault of Chaos.dialectFaults) expect(Chaos.toolCallsOf(fault)).toEqual(Chaos.parallelToolCalls)
    expect(Chaos.toolCallsOf("Status")).toEqual([Chaos.toolCall])
    expect(new Set(Chaos.parallelToolCalls.map((call) => call.id)).size).toBe(2)
  })

  it.scopedLive.each(shows)("$fault: the whole reply, its text, both calls' arguments, in the dialect", ({ fault, shows }) =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Chaos.script({ format: "ChatCompletions", fault }))
      const { bytes, end } = yield* Effect.promise(() => Raw.post(server).then((response) => Raw.read(response, Raw.patient)))
      expect(end).toBe("done")
      const data = Raw.events(bytes)
      expect(data.at(-1)).toBe("[DONE]")
      const chunks = data.slice(0, -1).map((line) => JSON.parse(line))
      const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])
      const finish = chunks.map((chunk) => chunk.choices[0]?.finish_reason).find((reason) => reason != null)
      expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")).toBe(Chaos.text)
      expect(shows(deltas, finish)).toBe(true)
      // both calls' arguments, in order, whatever the spelling
      expect(deltas.map((delta) => delta.function.arguments).join("")).toBe(
        Chaos.parallelToolCalls.map((call) => JSON.stringify(call.arguments)).join("")
      )
    }))
})
