import * as Headers from "@effect/platform/Headers"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as HttpStatus from "../src/HttpStatus.js"

const headers = (input: Record<string, string>) => Headers.fromInput(input)

describe("HttpStatus.statusError", () => {
  it("maps statuses to typed errors with request id, retry-after and the provider's message", () => {
    const body = JSON.stringify({ error: { message: "Slow down", type: "rate_limit_error" } })
    const error = HttpStatus.statusError("openai", 429, headers({ "x-request-id": "req_9", "retry-after": "7" }), body)
    expect(error._tag).toBe("RateLimited")
    expect(error.retryable).toBe(true)
    if (error._tag !== "RateLimited") return
    expect(error.requestId).toBe("req_9")
    expect(Duration.toMillis(error.retryAfter!)).toBe(7000)
    expect(error.providerMessage).toBe("Slow down")
    expect(error.message).toBe("openai: HTTP 429: Slow down (request id req_9)")
  })

  it.each([
    [401, "AuthenticationError", false],
    [403, "AuthenticationError", false],
    [404, "StatusError", false],
    [400, "StatusError", false],
    [500, "StatusError", true],
    [503, "StatusError", true],
    [529, "StatusError", true]
  ] as const)("HTTP %d is %s (retryable: %s)", (status, tag, retryable) => {
    const error = HttpStatus.statusError("p", status, headers({}), "{}")
    expect(error._tag).toBe(tag)
    expect(error.retryable).toBe(retryable)
  })

  it("recognises a context overflow in a 400 body", () => {
    const body = JSON.stringify({ error: { message: "This model's maximum context length is 128000 tokens.", code: "context_length_exceeded" } })
    expect(HttpStatus.statusError("openai", 400, headers({}), body)._tag).toBe("ContextOverflow")
  })

  it("keeps a short excerpt of a long or non-JSON body", () => {
    const error = HttpStatus.statusError("p", 502, headers({}), "<html>" + "x".repeat(10_000))
    if (error._tag !== "StatusError") throw new Error(error._tag)
    expect(error.body.length).toBeLessThan(2200)
    expect(error.body.startsWith("<html>")).toBe(true)
    expect(error.providerMessage).toBeUndefined()
  })
})

describe("HttpStatus.retryAfter", () => {
  it("prefers retry-after-ms, then seconds, then an HTTP date", () => {
    expect(Duration.toMillis(HttpStatus.retryAfter(headers({ "retry-after-ms": "250", "retry-after": "9" }))!)).toBe(250)
    expect(Duration.toMillis(HttpStatus.retryAfter(headers({ "retry-after": "1.5" }))!)).toBe(1500)
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(Duration.toMillis(HttpStatus.retryAfter(headers({ "retry-after": "Thu, 01 Jan 2026 00:00:30 GMT" }), now)!)).toBe(30_000)
    expect(HttpStatus.retryAfter(headers({ "retry-after": "soon" }))).toBeUndefined()
    expect(HttpStatus.retryAfter(headers({}))).toBeUndefined()
  })
})
