import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ProviderError from "../src/ProviderError.js"

const status = { provider: "p", status: 500, body: "" }
const every: ReadonlyArray<ProviderError.ProviderError> = [
  new ProviderError.ConnectionError({ provider: "p", message: "reset" }),
  new ProviderError.ConnectTimeout({ provider: "p", message: "slow" }),
  new ProviderError.HeadersTimeout({ provider: "p", timeout: Duration.seconds(1) }),
  new ProviderError.IdleTimeout({ provider: "p", timeout: Duration.seconds(1) }),
  new ProviderError.TotalTimeout({ provider: "p", timeout: Duration.seconds(1) }),
  new ProviderError.StatusError(status),
  new ProviderError.RateLimited({ ...status, status: 429 }),
  new ProviderError.AuthenticationError({ ...status, status: 401 }),
  new ProviderError.ContextOverflow({ ...status, status: 400 }),
  new ProviderError.ProtocolError({ provider: "p", message: "bad", excerpt: "" }),
  new ProviderError.ProviderStreamError({ provider: "p", message: "boom", retryable: true }),
  new ProviderError.UnexpectedBody({ provider: "p", status: 200, body: "<html>", retryable: false }),
  new ProviderError.EmptyResponse({ provider: "p", message: "nothing" }),
  new ProviderError.UnsupportedContent({ provider: "p", part: "File", at: "messages[0].content[1]", reason: "no files" })
]

describe("ProviderError", () => {
  it("isProviderError knows every error of the union, and nothing that only looks like one", () => {
    expect(new Set(every.map((error) => error._tag)).size).toBe(14)
    for (const error of every) expect(ProviderError.isProviderError(error)).toBe(true)
    const lookalike = { _tag: "StatusError", provider: "p", status: 500, retryable: true, body: "" }
    for (const other of [lookalike, new Error("x"), null, undefined, "StatusError", 500]) {
      expect(ProviderError.isProviderError(other)).toBe(false)
    }
  })

  it("every error has one retryable field", () => {
    expect(every.map((error) => [error._tag, error.retryable])).toEqual([
      ["ConnectionError", true],
      ["ConnectTimeout", true],
      ["HeadersTimeout", true],
      ["IdleTimeout", true],
      ["TotalTimeout", false],
      ["StatusError", true],
      ["RateLimited", true],
      ["AuthenticationError", false],
      ["ContextOverflow", false],
      ["ProtocolError", false],
      ["ProviderStreamError", true],
      ["UnexpectedBody", false],
      ["EmptyResponse", true],
      ["UnsupportedContent", false]
    ])
    expect(new ProviderError.StatusError({ ...status, status: 400 }).retryable).toBe(false)
  })

  it.effect("is a typed failure that catchIf can select with the guard", () =>
    Effect.gen(function*() {
      const caught = yield* Effect.fail(every[5] as unknown).pipe(
        Effect.catchIf(ProviderError.isProviderError, (error) => Effect.succeed(error._tag === "StatusError" ? error.status : error._tag))
      )
      expect(caught).toBe(500)
    }))

  it("errors built from stream error objects keep the provider's code and say whether to retry", () => {
    const error = ProviderError.fromErrorObject("p", { type: "overloaded_error", message: "Overloaded" })
    expect(error).toMatchObject({ _tag: "ProviderStreamError", code: "overloaded_error", message: "Overloaded", retryable: true })
    expect(ProviderError.fromErrorObject("p", { code: "invalid_request_error", message: "no" }).retryable).toBe(false)
  })
})
