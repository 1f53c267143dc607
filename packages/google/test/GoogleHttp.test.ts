import * as Headers from "@effect/platform/Headers"
import { describe, expect, it } from "@effect/vitest"
import { HttpStream } from "@reins/core"
import * as Duration from "effect/Duration"
import * as GoogleHttp from "../src/GoogleHttp.js"

const headers = (input: Record<string, string>) => Headers.fromInput(input)
const statusError = (status: number, headers: Headers.Headers, body: string) =>
  HttpStream.statusError("google", status, headers, body, GoogleHttp.hints)

describe("GoogleHttp.hints", () => {
  it("reads the wait from a Google RetryInfo detail when there is no Retry-After header", () => {
    const body = JSON.stringify([{
      error: {
        code: 429,
        message: "Resource has been exhausted (e.g. check quota).",
        status: "RESOURCE_EXHAUSTED",
        details: [
          { "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [] },
          { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1.5s" }
        ]
      }
    }])
    const error = statusError(429, headers({}), body)
    if (error._tag !== "RateLimited") throw new Error(error._tag)
    expect(Duration.toMillis(error.retryAfter!)).toBe(1500)
    expect(error.providerMessage).toBe("Resource has been exhausted (e.g. check quota).")
    const withHeader = statusError(429, headers({ "retry-after": "3" }), body)
    if (withHeader._tag !== "RateLimited") throw new Error(withHeader._tag)
    expect(Duration.toMillis(withHeader.retryAfter!)).toBe(3000)
  })

  it("are in every Gemini call's options", () => {
    expect(GoogleHttp.callOptions("google", {}, {}).hints).toBe(GoogleHttp.hints)
  })
})
