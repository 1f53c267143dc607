import { describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { ChatCompletions, ProviderServer, Script } from "../src/index.js"

/** The `data:` payloads of an SSE body, one per event. */
const sseData = (body: string): Array<string> =>
  body
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .flatMap((block) => {
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
      return data.length === 0 ? [] : [data.join("\n")]
    })

/** The assistant text streamed in a Chat Completions SSE body. */
const assembleContent = (body: string): string => {
  let text = ""
  for (const data of sseData(body)) {
    if (data === "[DONE]") continue
    const chunk = JSON.parse(data) as { choices: Array<{ delta: { content?: string | null } }> }
    for (const choice of chunk.choices) text += choice.delta.content ?? ""
  }
  return text
}

const post = (server: ProviderServer.ProviderServer, init?: RequestInit): Promise<Response> =>
  fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "hi" }] }),
    ...init
  })

const withServer = async <A>(
  f: (server: ProviderServer.ProviderServer) => Promise<A>,
  options?: ProviderServer.Options
): Promise<A> => {
  const server = await ProviderServer.start(options)
  try {
    return await f(server)
  } finally {
    await server.close()
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Reads from `reader` until the decoded text contains `needle`. */
const readUntil = async (reader: ReadableStreamDefaultReader<Uint8Array>, needle: string): Promise<string> => {
  const decoder = new TextDecoder()
  let text = ""
  while (!text.includes(needle)) {
    const { done, value } = await reader.read()
    if (done) throw new Error(`stream ended before ${JSON.stringify(needle)}: ${text}`)
    text += decoder.decode(value, { stream: true })
  }
  return text
}

describe("ProviderServer", () => {
  it.scoped("serves an enqueued text reply as Chat Completions SSE ending with [DONE]", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
      server.enqueue(
        ChatCompletions.reply({ text: "Hello, world!", usage: { prompt_tokens: 5, completion_tokens: 4, cached_tokens: 2 } })
      )
      const response = yield* Effect.promise(() => post(server))
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toBe("text/event-stream")
      expect(response.headers.get("cache-control")).toBe("no-cache")
      expect(response.headers.get("x-request-id")).toBe("req_1")
      const body = yield* Effect.promise(() => response.text())
      const data = sseData(body)
      expect(data.at(-1)).toBe("[DONE]")
      expect(assembleContent(body)).toBe("Hello, world!")
      const first = JSON.parse(data[0]!)
      expect(first).toMatchObject({
        object: "chat.completion.chunk",
        choices: [{ index: 0, delta: { role: "assistant" }, finish_reason: null }]
      })
      const finish = JSON.parse(data.at(-3)!)
      expect(finish.choices[0].finish_reason).toBe("stop")
      const usage = JSON.parse(data.at(-2)!)
      expect(usage.choices).toEqual([])
      expect(usage.usage).toMatchObject({
        prompt_tokens: 5,
        completion_tokens: 4,
        total_tokens: 9,
        prompt_tokens_details: { cached_tokens: 2 },
        completion_tokens_details: { reasoning_tokens: 0 }
      })
      const request = server.requests[0]!
      expect(request.method).toBe("POST")
      expect(request.path).toBe("/v1/chat/completions")
      expect(request.json).toMatchObject({ model: "m", stream: true })
      expect(request.headers["content-type"]).toBe("application/json")
      expect(request.finishedAt).toBeTypeOf("number")
      expect(request.clientClosedAt).toBeUndefined()
    }))

  it("streams tool calls and reasoning with realistic delta shapes", () =>
    withServer(async (server) => {
      server.enqueue(
        ChatCompletions.reply({
          reasoning: "think",
          reasoningField: "reasoning",
          toolCalls: [{ id: "call_1", name: "add", arguments: { a: 1, b: 2 }, chunkSize: 5 }]
        })
      )
      const chunks = sseData(await (await post(server)).text()).filter((d) => d !== "[DONE]").map((d) => JSON.parse(d))
      const reasoning = chunks.map((c) => c.choices[0]?.delta.reasoning ?? "").join("")
      expect(reasoning).toBe("think")
      const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      expect(calls[0]).toEqual({ index: 0, id: "call_1", type: "function", function: { name: "add", arguments: "" } })
      expect(calls.slice(1).every((c: any) => Object.keys(c).join() === "index,function")).toBe(true)
      expect(calls.map((c: any) => c.function.arguments).join("")).toBe(JSON.stringify({ a: 1, b: 2 }))
      expect(chunks.at(-1).choices[0].finish_reason).toBe("tool_calls")
    }))

  it("records the client closing the connection during a stall", () =>
    withServer(async (server) => {
      server.enqueue(Script.make([ChatCompletions.start(), ...ChatCompletions.text("Hi there"), Script.stall(Infinity)]))
      const controller = new AbortController()
      const response = await post(server, { signal: controller.signal })
      const reader = response.body!.getReader()
      await readUntil(reader, "here")
      const request = await server.nextRequest()
      expect(server.openConnections()).toBe(1)
      const abortedAt = performance.now()
      controller.abort()
      const closedAt = await server.connectionClosed(request.id)
      expect(closedAt).toBeGreaterThanOrEqual(abortedAt)
      expect(request.clientClosedAt).toBeTypeOf("number")
      expect(request.finishedAt).toBeUndefined()
      expect(server.connections[0]!.closedAt).toBe(closedAt)
      // (Node 20's fetch then opens a spare connection that carries no request: `requests === 0`)
      expect(server.connections.filter((c) => c.requests > 0 && c.closedAt === undefined)).toEqual([])
    }))

  it("sends nothing before headersDelay, and records an abort during it", () =>
    withServer(async (server) => {
      server.enqueue(Script.make([ChatCompletions.start(), ChatCompletions.done], { headersDelay: 60_000 }))
      const controller = new AbortController()
      let settled = false
      const pending = post(server, { signal: controller.signal }).then(
        () => {
          settled = true
        },
        (error: unknown) => {
          settled = true
          throw error
        }
      )
      const request = await server.nextRequest()
      await sleep(150)
      expect(settled).toBe(false)
      controller.abort()
      await expect(pending).rejects.toThrow()
      await server.connectionClosed(request.id)
      expect(request.clientClosedAt).toBeTypeOf("number")
      expect(request.finishedAt).toBeUndefined()
    }))

  it("delays the response headers by headersDelay", () =>
    withServer(async (server) => {
      server.enqueue(ChatCompletions.reply({ text: "late", headersDelay: 200 }))
      const before = performance.now()
      const response = await post(server)
      expect(performance.now() - before).toBeGreaterThanOrEqual(190)
      expect(assembleContent(await response.text())).toBe("late")
    }))

  it("drop() destroys the socket mid-body so the client's read fails", () =>
    withServer(async (server) => {
      server.enqueue(Script.make([ChatCompletions.start(), ...ChatCompletions.text("partial"), Script.drop()]))
      const response = await post(server)
      expect(response.status).toBe(200)
      await expect(response.text()).rejects.toThrow()
      expect(server.requests[0]!.finishedAt).toBeUndefined()
      await server.waitForOpenConnections(0)
    }))

  it("Script.hangUp() makes fetch reject", () =>
    withServer(async (server) => {
      server.enqueue(Script.hangUp())
      await expect(post(server)).rejects.toThrow()
      await server.waitForOpenConnections(0)
      expect(server.requests).toHaveLength(1)
    }))

  it("error scripts return status, JSON body and headers", () =>
    withServer(async (server) => {
      server.enqueue(
        ChatCompletions.errorBody(429, "Rate limit reached", { code: "rate_limit_exceeded", headers: { "retry-after": "2" } })
      )
      const response = await post(server)
      expect(response.status).toBe(429)
      expect(response.headers.get("retry-after")).toBe("2")
      expect(response.headers.get("content-type")).toBe("application/json")
      expect(await response.json()).toEqual({
        error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" }
      })
    }))

  it("answers 500 when nothing is queued, and uses the handler option when given", async () => {
    await withServer(async (server) => {
      const response = await post(server)
      expect(response.status).toBe(500)
      expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining("no script") } })
    })
    await withServer(
      async (server) => {
        server.enqueue(ChatCompletions.reply({ text: "queued" }))
        expect(assembleContent(await (await post(server)).text())).toBe("queued")
        expect(assembleContent(await (await post(server)).text())).toBe("handled 2")
      },
      { handler: (request) => ChatCompletions.reply({ text: `handled ${request.id}` }) }
    )
  })

  it("enqueue accepts functions of the request", () =>
    withServer(async (server) => {
      server.enqueue((request) => ChatCompletions.reply({ text: `echo ${(request.json as { model: string }).model}` }))
      expect(assembleContent(await (await post(server)).text())).toBe("echo m")
    }))

  it("shows keep-alive reuse in the connection records, and none open after close", async () => {
    const server = await ProviderServer.start()
    try {
      server.enqueue(ChatCompletions.reply({ text: "one" }), ChatCompletions.reply({ text: "two" }))
      expect(assembleContent(await (await post(server)).text())).toBe("one")
      // undici returns the connection to its pool a tick after the body ends
      await sleep(10)
      expect(assembleContent(await (await post(server)).text())).toBe("two")
      expect(server.connections).toHaveLength(1)
      expect(server.connections[0]!.requests).toBe(2)
      expect(server.requests.map((r) => r.connectionId)).toEqual([1, 1])
      expect(server.openConnections()).toBe(1)
    } finally {
      await server.close()
    }
    expect(server.openConnections()).toBe(0)
    expect(server.connections[0]!.closedAt).toBeTypeOf("number")
  })

  it("serves a 20,000-delta stream completely and quickly", () =>
    withServer(async (server) => {
      const content = Array.from({ length: 20_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("")
      server.enqueue(ChatCompletions.reply({ text: content, chunkSize: 1 }))
      const started = performance.now()
      const body = await (await post(server)).text()
      const elapsed = performance.now() - started
      const data = sseData(body)
      expect(data).toHaveLength(20_000 + 3)
      expect(assembleContent(body)).toBe(content)
      expect(elapsed).toBeLessThan(3_000)
    }))

  it("writes events at their steps' times, with SSE event names, ids and comments", () =>
    withServer(async (server) => {
      server.enqueue(
        Script.make([
          Script.event({ a: 1 }, { event: "message_start", id: "7" }),
          Script.comment("keep-alive"),
          Script.delay(100),
          Script.event("line1\nline2"),
          Script.raw(new TextEncoder().encode("data: raw\n\n")),
          Script.end(),
          Script.event("never")
        ])
      )
      const response = await post(server)
      const reader = response.body!.getReader()
      const first = await readUntil(reader, "keep-alive")
      expect(first).toBe('event: message_start\nid: 7\ndata: {"a":1}\n\n: keep-alive\n\n')
      let rest = ""
      const decoder = new TextDecoder()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        rest += decoder.decode(value, { stream: true })
      }
      expect(rest).toBe("data: line1\ndata: line2\n\ndata: raw\n\n")
    }))

  const fixture = fileURLToPath(
    new URL("../../../../shared/fixtures/recorded/openai-chat/openai-text.chunks.txt", import.meta.url)
  )
  it.skipIf(!existsSync(fixture))("replays recorded payload lines", () =>
    withServer(async (server) => {
      const lines = readFileSync(fixture, "utf8").split("\n")
      server.enqueue(Script.make(ChatCompletions.replayLines(lines)))
      const data = sseData(await (await post(server)).text())
      expect(data).toHaveLength(lines.filter((l) => l.trim() !== "").length + 1)
      expect(data.at(-1)).toBe("[DONE]")
      expect(data[0]).toBe(lines[0])
    }))

  it("replayRaw sends a raw SSE body as is", () =>
    withServer(async (server) => {
      const raw = "data: {\"x\":1}\r\n\r\ndata: [DONE]\r\n\r\n"
      server.enqueue(ChatCompletions.replayRaw(raw))
      expect(await (await post(server)).text()).toBe(raw)
    }))
})

layer(ProviderServer.layer())("ProviderServer.layer", (it) => {
  it.effect("provides a running server through the Tag", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.Tag
      server.enqueue(ChatCompletions.reply({ text: "from layer" }))
      const body = yield* Effect.promise(() => post(server).then((r) => r.text()))
      expect(assembleContent(body)).toBe("from layer")
    }))
})
