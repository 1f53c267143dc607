/**
 * Faults of a Chat Completions stream, served by a real HTTP server on loopback and read by the
 * OpenAiChat layer over real undici HTTP: every bad input gives its documented typed error, a
 * harmless oddity is skipped, no fault leaves a socket behind, and no error carries the API key.
 */
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message, type ProviderError } from "@reins/core"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as util from "node:util"
import { chatModel as chatModelWithRetry, connectionClosed, noRetry } from "./support.js"

/** Each fault's own error is under test here, so nothing is retried (test/retry.test.ts covers retries). */
const chatModel = (server: Parameters<typeof chatModelWithRetry>[0]) => chatModelWithRetry(server, { retry: noRetry })

/** The key `chatModel` sends. */
const API_KEY = "sk-test-key"

const request = { messages: [Message.user("Hi")] }
const generate = LanguageModel.generate(request)

const AFTER = "Still here."
/** What the server answers to the request that follows a fault. */
const after = () => ChatCompletions.reply({ text: AFTER, usage: { prompt_tokens: 2, completion_tokens: 3 } })

type Tag = ProviderError.ProviderError["_tag"]

/** Narrows an error to the expected tag, failing the test with the whole error otherwise. */
const as = <T extends Tag>(error: ProviderError.ProviderError, tag: T): Extract<ProviderError.ProviderError, { _tag: T }> => {
  expect(error._tag, util.inspect(error, { depth: 3 })).toBe(tag)
  return error as Extract<ProviderError.ProviderError, { _tag: T }>
}

/** The API key appears nowhere in what an error shows. */
const expectNoKey = (error: unknown) => {
  expect(String(error)).not.toContain(API_KEY)
  expect(JSON.stringify(error)).not.toContain(API_KEY)
  expect((error as Error).message).not.toContain(API_KEY)
  expect(util.inspect(error, { depth: 8 })).not.toContain(API_KEY)
}

/**
 * After the first request on `server`, checks that its socket was not leaked: a moment later, a
 * following request on the same layer works, and the first request's connection was either closed
 * or handed back to the pool (then it is the idle connection the following request reuses). Either
 * way only one connection is open afterwards.
 */
const followUp = (server: ProviderServer.ProviderServer) =>
  Effect.gen(function*() {
    const first = server.requests[0]!
    yield* Effect.sleep("50 millis")
    const next = yield* generate
    expect(Message.text(next)).toBe(AFTER)
    const last = server.requests[server.requests.length - 1]!
    const connection = server.connections.find((c) => c.id === first.connectionId)!
    expect(
      connection.closedAt !== undefined || last.connectionId === first.connectionId,
      `connection ${first.connectionId} neither closed nor reused`
    ).toBe(true)
    expect(server.openConnections()).toBe(1)
  })

/**
 * Plays `script` for one request, expects that request to fail, and returns the error. Checks that
 * the key was sent (so that its absence from the error means something), that the connection was
 * closed when `closes` (the client gave up on a half-read body), and `followUp`.
 */
const failure = (script: Script.Script, options: { readonly closes?: boolean } = {}) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    server.enqueue(script, after())
    return yield* Effect.gen(function*() {
      const error = yield* Effect.flip(generate)
      expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`)
      expectNoKey(error)
      if (options.closes === true) yield* connectionClosed(server, server.requests[0]!.id)
      yield* followUp(server)
      return error
    }).pipe(Effect.provide(chatModel(server)))
  })

/** Plays `script` for one request, expects success, returns the message, and checks `followUp`. */
const success = (script: Script.Script) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    server.enqueue(script, after())
    return yield* Effect.gen(function*() {
      const message = yield* generate
      yield* followUp(server)
      return message
    }).pipe(Effect.provide(chatModel(server)))
  })

const chunk = ChatCompletions.chunk
const usage = ChatCompletions.usage({ prompt_tokens: 5, completion_tokens: 4 })

describe("stream content faults", () => {
  it.scopedLive("malformed JSON in an event is a ProtocolError showing the bad text, and the connection closes", () =>
    Effect.gen(function*() {
      const bad = `{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hel"` // cut off
      const error = yield* failure(
        { steps: [ChatCompletions.start(), ...ChatCompletions.text("Hi "), Script.event(bad), Script.stall()] },
        { closes: true }
      )
      const protocol = as(error, "ProtocolError")
      expect(protocol.excerpt).toContain(bad)
      expect(protocol.provider).toBe("openai")
      expect(protocol.retryable).toBe(false)
    }))

  it.scopedLive("unknown fields, an unknown `event: ping` and `: keep-alive` comments are skipped", () =>
    Effect.gen(function*() {
      const message = yield* success({
        steps: [
          Script.comment("keep-alive"),
          ChatCompletions.start(),
          Script.event({ ...chunk({ content: "Hel", brand_new_delta_field: { a: 1 } }), brand_new_top_field: [1, 2] }),
          Script.event({ type: "ping" }, { event: "ping" }),
          Script.comment("keep-alive"),
          Script.raw(": keep-alive\n\n"),
          Script.event({ ...chunk({ content: "lo" }), choices: [{ index: 0, delta: { content: "lo" }, finish_reason: null, extra: true }] }),
          ChatCompletions.finish("stop"),
          usage,
          ChatCompletions.done
        ]
      })
      expect(message.content).toEqual([{ _tag: "Text", text: "Hello" }])
      expect(message.stopReason).toBe("stop")
      expect(message.usage).toEqual({ inputTokens: 5, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })
    }))

  // Regression: the decoder once parsed every event as a chunk whatever its `event:` name, so an
  // `event: ping` that came first counted as the start of the response (its id and model lost), and
  // a ping then [DONE] gave an empty "successful" message.
  it.scopedLive("an `event: ping` before the first chunk is skipped: the response id and model come from the first chunk", () =>
    Effect.gen(function*() {
      const message = yield* success(
        Script.make([
          Script.event({ type: "ping" }, { event: "ping" }),
          ChatCompletions.start({ id: "chatcmpl-real", model: "real-model" }),
          ...ChatCompletions.text("Hello", { id: "chatcmpl-real", model: "real-model" }),
          ChatCompletions.finish("stop", { id: "chatcmpl-real", model: "real-model" }),
          ChatCompletions.done
        ])
      )
      expect(Message.text(message)).toBe("Hello")
      expect.soft(message.responseId).toBe("chatcmpl-real")
      expect.soft(message.model).toBe("real-model")
    }))

  it.scopedLive("an `event: ping` then [DONE] is still an EmptyResponse", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Script.make([Script.event({ type: "ping" }, { event: "ping" }), ChatCompletions.done]))
      const result = yield* Effect.either(generate).pipe(Effect.provide(chatModel(server)))
      expect(result._tag === "Left" ? result.left._tag : `Right(${JSON.stringify(result.right)})`).toBe("EmptyResponse")
    }))

  it.scopedLive("a stream ended cleanly before any finish_reason and [DONE] is a ConnectionError", () =>
    Effect.gen(function*() {
      const error = yield* failure({
        steps: [ChatCompletions.start(), ...ChatCompletions.text("Half an ans"), Script.end(), ...ChatCompletions.text("wer")]
      })
      const connection = as(error, "ConnectionError")
      expect(connection.retryable).toBe(true)
      expect(connection.provider).toBe("openai")
    }))

  it.scopedLive("a socket dropped mid-body is a ConnectionError", () =>
    Effect.gen(function*() {
      const error = yield* failure(
        { steps: [ChatCompletions.start(), ...ChatCompletions.text("Half an ans"), Script.drop(), ...ChatCompletions.text("wer")] },
        { closes: true }
      )
      expect(as(error, "ConnectionError").retryable).toBe(true)
    }))

  it.scopedLive("a socket dropped inside an event (mid-line) is a ConnectionError", () =>
    Effect.gen(function*() {
      const error = yield* failure(
        { steps: [ChatCompletions.start(), Script.raw(`data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"cont`), Script.drop()] },
        { closes: true }
      )
      as(error, "ConnectionError")
    }))

  it.scopedLive("a finish_reason then a clean end without [DONE] succeeds", () =>
    Effect.gen(function*() {
      const message = yield* success(
        ChatCompletions.reply({ text: "Done early", usage: { prompt_tokens: 3, completion_tokens: 2 }, done: false })
      )
      expect(Message.text(message)).toBe("Done early")
      expect(message.stopReason).toBe("stop")
      expect(message.rawStopReason).toBe("stop")
      expect(message.usage.inputTokens).toBe(3)
      expect(message.usage.outputTokens).toBe(2)
    }))

  it.scopedLive("[DONE] with nothing before it is an EmptyResponse", () =>
    Effect.gen(function*() {
      const error = yield* failure({ steps: [ChatCompletions.done] })
      const empty = as(error, "EmptyResponse")
      expect(empty.retryable).toBe(true)
      expect(empty.provider).toBe("openai")
    }))

  it.scopedLive("an empty 200 body is an EmptyResponse", () =>
    Effect.gen(function*() {
      as(yield* failure({ steps: [] }), "EmptyResponse")
    }))

  it.scopedLive("an error object mid-stream is a retryable ProviderStreamError, and the connection closes", () =>
    Effect.gen(function*() {
      const error = yield* failure(
        {
          steps: [
            ChatCompletions.start(),
            ...ChatCompletions.text("Partial answer"),
            Script.event({ error: { message: "The server had an error while processing your request.", type: "server_error", param: null, code: null } }),
            Script.stall()
          ]
        },
        { closes: true }
      )
      const stream = as(error, "ProviderStreamError")
      expect(stream.code).toBe("server_error")
      expect(stream.retryable).toBe(true)
      expect(stream.retryable).toBe(true)
      expect(stream.message).toBe("The server had an error while processing your request.")
      expect(stream.provider).toBe("openai")
    }))

  it.scopedLive("a non-retryable error object mid-stream keeps its code", () =>
    Effect.gen(function*() {
      const error = yield* failure({
        steps: [
          ChatCompletions.start(),
          Script.event({ error: { message: "Invalid prompt: flagged.", type: "invalid_request_error", code: "invalid_prompt" } })
        ]
      })
      const stream = as(error, "ProviderStreamError")
      expect(stream.code).toBe("invalid_prompt")
      expect(stream.retryable).toBe(false)
      expect(stream.message).toBe("Invalid prompt: flagged.")
    }))
})

describe("HTTP status errors carry the body excerpt and the provider's message", () => {
  it.scopedLive("400: StatusError, not retryable", () =>
    Effect.gen(function*() {
      const text = "Invalid value for 'temperature': expected a number between 0 and 2."
      const error = as(yield* failure(ChatCompletions.errorBody(400, text, { code: "invalid_value" })), "StatusError")
      expect(error.status).toBe(400)
      expect(error.retryable).toBe(false)
      expect(error.providerMessage).toBe(text)
      expect(error.body).toContain(text)
      expect(error.body).toContain("invalid_value")
      expect(error.message).toContain(text)
      expect(error.requestId).toBe("req_1")
    }))

  it.scopedLive("400 with a context-length message: ContextOverflow", () =>
    Effect.gen(function*() {
      const text =
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens. Please reduce the length of the messages."
      const error = as(
        yield* failure(ChatCompletions.errorBody(400, text, { code: "context_length_exceeded" })),
        "ContextOverflow"
      )
      expect(error.status).toBe(400)
      expect(error.retryable).toBe(false)
      expect(error.providerMessage).toBe(text)
      expect(error.body).toContain("context_length_exceeded")
    }))

  it.scopedLive("401: AuthenticationError (a masked echo of the key keeps no piece of it)", () =>
    Effect.gen(function*() {
      const text = "Incorrect API key provided: sk-test-****-key. You can find your API key at https://platform.openai.com/account/api-keys."
      const error = as(yield* failure(ChatCompletions.errorBody(401, text, { code: "invalid_api_key" })), "AuthenticationError")
      expect(error.status).toBe(401)
      expect(error.retryable).toBe(false)
      // the key's own characters ("sk-test-") go; the mask and the rest of the message stay
      const shown = text.replace("sk-test-", "<redacted>")
      expect(error.providerMessage).toBe(shown)
      expect(error.body).toContain("invalid_api_key")
      expect(error.message).toContain(shown)
    }))

  it.scopedLive("404: StatusError with status 404", () =>
    Effect.gen(function*() {
      const text = "The model `test-model` does not exist or you do not have access to it."
      const error = as(yield* failure(ChatCompletions.errorBody(404, text, { code: "model_not_found" })), "StatusError")
      expect(error.status).toBe(404)
      expect(error.retryable).toBe(false)
      expect(error.providerMessage).toBe(text)
      expect(error.body).toContain("model_not_found")
    }))

  it.scopedLive("429 with retry-after and x-request-id: RateLimited", () =>
    Effect.gen(function*() {
      const text = "Rate limit reached for test-model on requests per min (RPM): Limit 3, Used 3, Requested 1."
      const error = as(
        yield* failure(
          ChatCompletions.errorBody(429, text, {
            code: "rate_limit_exceeded",
            headers: { "retry-after": "3", "x-request-id": "req_abc123" }
          })
        ),
        "RateLimited"
      )
      expect(error.status).toBe(429)
      expect(error.retryable).toBe(true)
      expect(error.retryAfter).toBeDefined()
      expect(Duration.toMillis(error.retryAfter!)).toBe(3_000)
      expect(error.requestId).toBe("req_abc123")
      expect(error.providerMessage).toBe(text)
      expect(error.body).toContain("rate_limit_exceeded")
      expect(error.message).toBe(`openai: HTTP 429: ${text} (request id req_abc123)`)
    }))

  it.scopedLive("500: StatusError, retryable", () =>
    Effect.gen(function*() {
      const text = "The server had an error processing your request. Sorry about that!"
      const error = as(yield* failure(ChatCompletions.errorBody(500, text)), "StatusError")
      expect(error.status).toBe(500)
      expect(error.retryable).toBe(true)
      expect(error.providerMessage).toBe(text)
      expect(error.body).toContain("server_error")
    }))

  it.scopedLive("a non-JSON error body is kept as the excerpt", () =>
    Effect.gen(function*() {
      const html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
      const error = as(yield* failure(Script.body(502, html, { "content-type": "text/html" })), "StatusError")
      expect(error.status).toBe(502)
      expect(error.retryable).toBe(true)
      expect(error.body).toBe(html)
      expect(error.providerMessage).toBeUndefined()
    }))
})

describe("transport faults", () => {
  it.scopedLive("the server hangs up before the response headers: ConnectionError", () =>
    Effect.gen(function*() {
      const error = as(yield* failure(Script.hangUp(), { closes: true }), "ConnectionError")
      expect(error.retryable).toBe(true)
    }))

  it.scopedLive("an event over the size limit (17 MiB) is a ProtocolError, and the connection closes", () =>
    Effect.gen(function*() {
      const huge = "x".repeat(17 * 1024 * 1024)
      const error = yield* failure(
        {
          steps: [
            ChatCompletions.start(),
            Script.raw(`data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"${huge}"},"finish_reason":null}]}\n\n`),
            ChatCompletions.finish("stop"),
            ChatCompletions.done
          ]
        },
        { closes: true }
      )
      const protocol = as(error, "ProtocolError")
      expect(protocol.retryable).toBe(false)
      expect(protocol.message).toMatch(/limit/)
      // the excerpt is short, not the whole event
      expect(protocol.excerpt.length).toBeLessThan(4096)
      expect(protocol.message.length).toBeLessThan(4096)
    }), 60_000)
})

describe("framing", () => {
  const encoder = new TextEncoder()
  const event = (delta: Record<string, unknown>, finishReason?: string) =>
    `data: ${JSON.stringify(chunk(delta, finishReason === undefined ? undefined : { finishReason }))}`

  it.scopedLive("CRLF line endings", () =>
    Effect.gen(function*() {
      const body = [
        event({ role: "assistant", content: "" }),
        event({ content: "Line one,\r\n" }),
        event({ content: "line two." }),
        event({}, "stop"),
        "data: [DONE]"
      ].join("\r\n\r\n") + "\r\n\r\n"
      const message = yield* success(ChatCompletions.replayRaw(body))
      expect(Message.text(message)).toBe("Line one,\r\nline two.")
      expect(message.stopReason).toBe("stop")
    }))

  it.scopedLive("CRLF split between the CR and the LF, inside an event of two data lines", () =>
    Effect.gen(function*() {
      // "data: A\r" | "\ndata: B\r\n\r\n" is one event whose data is "A\nB" (the LF belongs to the
      // CR); JSON allows the newline between its tokens.
      const json = JSON.stringify(chunk({ content: "joined" }))
      const cut = json.indexOf("\"choices\"")
      const steps = [
        Script.raw(event({ role: "assistant", content: "" }) + "\r\n\r\n"),
        Script.raw(`data: ${json.slice(0, cut)}\r`),
        Script.delay(5),
        Script.raw(`\ndata: ${json.slice(cut)}\r\n\r\n`),
        Script.raw(event({}, "stop") + "\r\n\r\ndata: [DONE]\r\n\r\n")
      ]
      const message = yield* success(Script.make(steps))
      expect(Message.text(message)).toBe("joined")
    }))

  it.scopedLive("bare CR line endings", () =>
    Effect.gen(function*() {
      const body = [event({ role: "assistant", content: "" }), event({ content: "cr only" }), event({}, "stop"), "data: [DONE]"].join(
        "\r\r"
      ) + "\r\r"
      const message = yield* success(ChatCompletions.replayRaw(body))
      expect(Message.text(message)).toBe("cr only")
    }))

  /** Two writes of one event, cut `into` bytes into the UTF-8 encoding of `character`. */
  const splitInside = (character: string, into: number) => {
    const bytes = encoder.encode(event({ content: `caf${character}!` }) + "\n\n")
    const at = indexOf(bytes, encoder.encode(character)) + into
    return [Script.raw(bytes.slice(0, at)), Script.delay(5), Script.raw(bytes.slice(at))]
  }

  const indexOf = (haystack: Uint8Array, needle: Uint8Array): number => {
    outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
      for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
      return i
    }
    throw new Error("needle not found")
  }

  it.scopedLive("a 2-byte character (é) split across two writes", () =>
    Effect.gen(function*() {
      const message = yield* success(
        Script.make([ChatCompletions.start(), ...splitInside("é", 1), ChatCompletions.finish("stop"), ChatCompletions.done])
      )
      expect(Message.text(message)).toBe("café!")
    }))

  it.scopedLive("a 4-byte character (😀) split after each of its first three bytes", () =>
    Effect.gen(function*() {
      for (const into of [1, 2, 3]) {
        const message = yield* success(
          Script.make([ChatCompletions.start(), ...splitInside("😀", into), ChatCompletions.finish("stop"), ChatCompletions.done])
        )
        expect(Message.text(message)).toBe("caf😀!")
      }
    }))

  it.scopedLive("a multi-byte character split across writes inside `data:` of a CRLF stream, one byte at a time", () =>
    Effect.gen(function*() {
      const bytes = encoder.encode(event({ content: "naïve — 日本語 😀" }) + "\r\n\r\n")
      const steps: Array<Script.Step> = [ChatCompletions.start()]
      for (let i = 0; i < bytes.length; i++) steps.push(Script.raw(bytes.slice(i, i + 1)), Script.delay(1))
      steps.push(ChatCompletions.finish("stop"), ChatCompletions.done)
      const message = yield* success(Script.make(steps))
      expect(Message.text(message)).toBe("naïve — 日本語 😀")
    }), 60_000)
})
