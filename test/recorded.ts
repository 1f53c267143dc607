/**
 * What the recorded-stream conformance suites (`conformance.*.test.ts`) share: where the recordings
 * live and how to read them, a suite that skips itself when they are absent, serving a recording to
 * a model over real HTTP, and checking the assistant message that comes out against values read off
 * the recording by hand.
 */
import { describe, expect } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import { ProviderServer, type Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Where the recorded provider streams live, when `shared/` is beside the checkout. */
export const recordedDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/fixtures/recorded")

/** Whether the recorded streams are present. */
export const hasRecordings = fs.existsSync(recordedDir)

/** The text of the recording `file` in `folder` (`anthropic`, `openai-chat`, ...). */
export const read = (folder: string, file: string): string => fs.readFileSync(path.join(recordedDir, folder, file), "utf8")

/**
 * A suite named `${name} ${what}` that runs only when the recordings are present; without them it
 * is skipped under a name that says why, so that a clone without `shared/` still passes.
 */
export const describeRecorded = (name: string, what: string, body: () => void) =>
  describe.skipIf(!hasRecordings)(hasRecordings ? `${name} ${what}` : `${name}: skipped: ../shared/fixtures/recorded is absent`, body)

/** A long string known by its length, its first and last characters and its SHA-256. */
export interface LongText {
  readonly length: number
  readonly prefix: string
  readonly suffix: string
  readonly sha256: string
}

/** Checks `actual` against a string, or against what is known of a long one. */
export const expectText = (actual: string, expected: string | LongText) => {
  if (typeof expected === "string") {
    expect(actual).toBe(expected)
    return
  }
  expect(actual.length).toBe(expected.length)
  expect(actual.startsWith(expected.prefix)).toBe(true)
  expect(actual.endsWith(expected.suffix)).toBe(true)
  expect(crypto.createHash("sha256").update(actual).digest("hex")).toBe(expected.sha256)
}

/** A tool call as expected: its arguments are the parsed JSON. */
export interface ExpectedToolCall {
  readonly id: string
  readonly name: string
  readonly arguments: unknown
}

/** What a recording's assistant message must be. */
export interface Expected {
  /** The whole text; "" when left out. */
  readonly text?: string | LongText
  /** The whole reasoning; "" when left out. */
  readonly reasoning?: string | LongText
  /** The signatures of the reasoning parts, in order; not checked when left out. */
  readonly signatures?: ReadonlyArray<string | undefined>
  /** The `_tag`s of the message's parts, in order. */
  readonly parts: ReadonlyArray<Message.Assistant["content"][number]["_tag"]>
  /** The tool calls, in order; none when left out. */
  readonly toolCalls?: ReadonlyArray<ExpectedToolCall>
  /** The token counts; the cache and reasoning counts left out must be 0. */
  readonly usage: Pick<Message.Assistant["usage"], "inputTokens" | "outputTokens"> & Partial<Message.Assistant["usage"]>
  readonly stopReason: Message.Assistant["stopReason"]
  readonly rawStopReason: string
  readonly responseId: string
  readonly model: string
}

/** Checks `message` against everything `expected` says of it, and its provider. */
export const checkMessage = (message: Message.Assistant, expected: Expected & { readonly provider: string }) => {
  expectText(Message.text(message), expected.text ?? "")
  expectText(Message.reasoning(message), expected.reasoning ?? "")
  if (expected.signatures !== undefined) {
    expect(message.content.flatMap((part) => (part._tag === "Reasoning" ? [part.signature] : []))).toEqual(expected.signatures)
  }
  expect(message.content.map((part) => part._tag)).toEqual(expected.parts)
  expect(
    Message.toolCalls(message).map((call) => ({ id: call.id, name: call.name, arguments: JSON.parse(call.arguments) }))
  ).toEqual((expected.toolCalls ?? []).map(({ arguments: args, id, name }) => ({ id, name, arguments: args })))
  expect(message.usage).toEqual({ cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, ...expected.usage })
  expect(message.stopReason).toBe(expected.stopReason)
  expect(message.rawStopReason).toBe(expected.rawStopReason)
  expect(message.responseId).toBe(expected.responseId)
  expect(message.model).toBe(expected.model)
  expect(message.provider).toBe(expected.provider)
}

const hi: LanguageModel.Request = { messages: [Message.user("Hi")] }

/**
 * Serves `script` on `server` to the model in context and returns the assistant message `generate`
 * assembles from it, after checking the request with `expectRequest` and that the server played
 * the whole recording.
 */
export const replayOn = (
  server: ProviderServer.ProviderServer,
  script: Script.Script,
  expectRequest: (request: ProviderServer.RequestRecord) => void,
  request: LanguageModel.Request = hi
) =>
  Effect.gen(function*() {
    server.enqueue(script)
    const message = yield* LanguageModel.generate(request)
    const record = server.requests.at(-1)!
    expectRequest(record)
    // the server played the whole recording: nothing was cut short
    expect(record.finishedAt).toBeDefined()
    return message
  })

/**
 * A `replay(script, request?)` that serves `script` once on a fresh ProviderServer to the model
 * `layerFor` makes for it, as `replayOn` does, and checks that the model sent one request.
 */
export const replayWith = <E>(
  layerFor: (server: ProviderServer.ProviderServer) => Layer.Layer<LanguageModel.LanguageModel, E>,
  expectRequest: (request: ProviderServer.RequestRecord) => void
) =>
(script: Script.Script, request: LanguageModel.Request = hi) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    const message = yield* replayOn(server, script, expectRequest, request).pipe(Effect.provide(layerFor(server)))
    expect(server.requests).toHaveLength(1)
    return message
  })
