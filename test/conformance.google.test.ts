/**
 * Conformance of the Gemini decoder with streams recorded from the real API by another public
 * project (see ../shared/fixtures/recorded/SOURCES.tsv). Each recording is served event by event by
 * a ProviderServer and consumed with `LanguageModel.generate` over real HTTP.
 *
 * The expected messages below were read off the recordings by hand (concatenating the wire parts
 * with a throwaway script, and hashing the signatures), not taken from this project's decoder: a
 * test that compared the decoder with itself would prove nothing.
 *
 * The recordings are not part of this repository: the whole suite is skipped when
 * ../shared/fixtures/recorded is absent, so that a clone without it still passes.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { expect, it } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import { Google } from "@reins/google"
import { Gemini, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as path from "node:path"
import {
  checkMessage,
  describeRecorded,
  type Expected,
  type ExpectedToolCall,
  expectText,
  type LongText,
  read,
  recordedDir,
  replayOn,
  replayWith
} from "./recorded.js"

const API_KEY = "gk-test-key-do-not-log"

const googleModel = (server: ProviderServer.ProviderServer) =>
  Google.layer({ model: "gemini-test", apiKey: Redacted.make(API_KEY), baseUrl: server.url }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** A message as expected, with its thought signatures (long texts known by their ends and hash). */
interface GeminiExpected extends Expected {
  /** The signature on the last text part; when left out, no text part has metadata. */
  readonly textSignature?: LongText
  /** The tool calls, each with the signature it must carry (none when left out). */
  readonly toolCalls?: ReadonlyArray<ExpectedToolCall & { readonly signature?: LongText }>
}

const expectSignature = (actual: unknown, expected: LongText | undefined) => {
  if (expected === undefined) {
    expect(actual).toBeUndefined()
    return
  }
  expect(typeof actual).toBe("string")
  expectText(actual as string, expected)
}

const expectRequest = (request: ProviderServer.RequestRecord) => {
  expect(request.method).toBe("POST")
  expect(request.path).toBe("/v1beta/models/gemini-test:streamGenerateContent?alt=sse")
  // the key travels in its header only, never in the URL
  expect(request.headers["x-goog-api-key"]).toBe(API_KEY)
  expect(request.path).not.toContain(API_KEY)
  expect(request.path).not.toContain("key=")
}

const lines = (file: string) => Script.make(Gemini.replayLines(read("google", file)))

/** Serves a script once and returns the assistant message `generate` assembles from it. */
const replay = replayWith(googleModel, expectRequest)

/** Checks the message, where each signature sits, and that reasoning parts carry none. */
const check = (message: Message.Assistant, expected: GeminiExpected) => {
  checkMessage(message, { ...expected, provider: "google" })
  const calls = Message.toolCalls(message)
  for (const [i, call] of (expected.toolCalls ?? []).entries()) expectSignature(calls[i]!.metadata?.thoughtSignature, call.signature)
  const texts = message.content.filter((part) => part._tag === "Text")
  if (expected.textSignature !== undefined) expectSignature(texts.at(-1)?.metadata?.thoughtSignature, expected.textSignature)
  else for (const part of texts) expect(part.metadata).toBeUndefined()
  for (const part of message.content) if (part._tag === "Reasoning") expect(part.signature).toBeUndefined()
}

/** Gemini sends no call ids: each call gets one of its own, unique in the conversation. */
const generatedId = expect.stringMatching(/^call_[0-9A-Za-z]{24}$/)

describeRecorded(
  "Gemini conformance",
  "with recorded streams",
  () => {
    it("covers every recording in the google folder", () => {
      expect(fs.readdirSync(path.join(recordedDir, "google")).sort()).toEqual([
        "google-reasoning-gemini3.chunks.txt",
        "google-stream-no-args-tool-call.chunks.txt",
        "google-stream-tool-call-arguments.chunks.txt",
        "google-text.chunks.txt",
        "google-tool-call-gemini3.chunks.txt"
      ])
    })

    // Two text parts, then an empty text part that carries the thought signature with the finish
    // reason. Thoughts were not requested, yet 185 thought tokens were spent: they count as output.
    it.scoped("google-text.chunks.txt: text, then the signature on an empty text part", () =>
      Effect.gen(function*() {
        check(yield* replay(lines("google-text.chunks.txt")), {
          text: "There are **3** \"r\"s in strawberry.\n\nst**r**awbe**rr**y",
          textSignature: {
            length: 916,
            prefix: "EqsFCqgFAb4+9vvtAF5n87lB",
            suffix: "ew3FwAG37eeWcow=",
            sha256: "e5bb5ce61d3210ca5531e9b18fc2d59736399b5594cf8d190f280c164605c335"
          },
          parts: ["Text"],
          usage: { inputTokens: 9, outputTokens: 208, reasoningTokens: 185 },
          stopReason: "stop",
          rawStopReason: "STOP",
          responseId: "bH6LaZW8Fp_3nsEPqtaSwQ4",
          model: "gemini-3-pro-preview"
        })
      }))

    // Despite its name it holds no thought parts (thoughts were not included): text, then the
    // signature on an empty text part; 302 thought tokens in the usage.
    it.scoped("google-reasoning-gemini3.chunks.txt: text, signature, thought tokens only in the usage", () =>
      Effect.gen(function*() {
        check(yield* replay(lines("google-reasoning-gemini3.chunks.txt")), {
          text: "There are **3** \"r\"s in strawberry.\n\nSt**r**awbe**rr**y",
          textSignature: {
            length: 1392,
            prefix: "EpAICo0IAb4+9vuku3oDHR5E",
            suffix: "3u0kIsk9vG9i114=",
            sha256: "2879a7fa21de51deb661fa822168141ae13b06c4ae097e6b4f57235407a93a76"
          },
          parts: ["Text"],
          usage: { inputTokens: 9, outputTokens: 325, reasoningTokens: 302 },
          stopReason: "stop",
          rawStopReason: "STOP",
          responseId: "M3iLaY-AI7zTxN8P3Piw4Qg",
          model: "gemini-3-pro-preview"
        })
      }))

    // One whole functionCall part with `args` and a long signature, then a finish event whose only
    // part is an empty text (nothing to keep). Gemini says STOP; the caller must run the tool.
    it.scoped("google-tool-call-gemini3.chunks.txt: one whole function call with its signature", () =>
      Effect.gen(function*() {
        check(yield* replay(lines("google-tool-call-gemini3.chunks.txt")), {
          parts: ["ToolCall"],
          toolCalls: [{
            id: generatedId,
            name: "weather",
            arguments: { location: "San Francisco" },
            signature: {
              length: 5488,
              prefix: "EpEgCo4gAb4+9vvWwdN+NkNi",
              suffix: "8opgKivQw3YcJ1FX",
              sha256: "1470f82f62c9eb5d20350d13564b9dde6da49eb65add85983c4af74ec3d283fa"
            }
          }],
          usage: { inputTokens: 29, outputTokens: 819, reasoningTokens: 804 },
          stopReason: "tool-calls",
          rawStopReason: "STOP",
          responseId: "QHiLaa6LBrb8vdIPoNztsAg",
          model: "gemini-3-pro-preview"
        })
      }))

    // Two calls with streamed arguments: a first fragment with the name (and, on the first call, the
    // signature), a `partialArgs` string piece with `willContinue`, an empty closing piece, and an
    // empty `functionCall: {}` that ends the call. The finish reason rides on the last fragment.
    it.scoped("google-stream-tool-call-arguments.chunks.txt: two calls with streamed arguments", () =>
      Effect.gen(function*() {
        check(yield* replay(lines("google-stream-tool-call-arguments.chunks.txt")), {
          parts: ["ToolCall", "ToolCall"],
          toolCalls: [
            {
              id: generatedId,
              name: "getWeather",
              arguments: { location: "Boston" },
              signature: {
                length: 1032,
                prefix: "CiMBjz1rX25KieIB4d4AwFn8",
                suffix: "MClxy5Zy5VsZ0qQ=",
                sha256: "d1f61815021fd7304039fe0b257643b641eed2411debfc91334034a5891cf07e"
              }
            },
            { id: generatedId, name: "getWeather", arguments: { location: "San Francisco" } }
          ],
          usage: { inputTokens: 26, outputTokens: 155, reasoningTokens: 132 },
          stopReason: "tool-calls",
          rawStopReason: "STOP",
          responseId: "dqHOab6xGLzWodAPkPuViA4",
          model: "gemini-3.1-pro-preview"
        })
      }))

    // An unsigned thought summary, a whole call with no `args` at all (and the step's signature),
    // then three calls with streamed arguments; usage events before the last hold only
    // `trafficType`.
    it.scoped("google-stream-no-args-tool-call.chunks.txt: thought, a call without args, three streamed calls", () =>
      Effect.gen(function*() {
        check(yield* replay(lines("google-stream-no-args-tool-call.chunks.txt")), {
          reasoning: "**Processing User Requests**\n\nI've started by understanding the user's instructions. Currently, I'm focusing " +
            "on the initial steps: reading the specified theme using the appropriate tool. Next, I plan to tackle reading the " +
            "screens, beginning with screen \"A,\" then proceeding with \"B\" and \"C\" in parallel as instructed.\n\n\n",
          parts: ["Reasoning", "ToolCall", "ToolCall", "ToolCall", "ToolCall"],
          toolCalls: [
            {
              id: generatedId,
              name: "read_theme",
              arguments: {},
              signature: {
                length: 1060,
                prefix: "AY89a18a8/Loc2wl5oft+F3q",
                suffix: "tGJB49ZeNTtCJA==",
                sha256: "240b3953bff3f13a408daa4f1390911c7b180420d61249c248c072204608484b"
              }
            },
            { id: generatedId, name: "read_screen", arguments: { id: "A" } },
            { id: generatedId, name: "read_screen", arguments: { id: "B" } },
            { id: generatedId, name: "read_screen", arguments: { id: "C" } }
          ],
          usage: { inputTokens: 249, outputTokens: 241, reasoningTokens: 183 },
          stopReason: "tool-calls",
          rawStopReason: "STOP",
          responseId: "_vr4aYiWEJnYodAPkujX0QM",
          model: "gemini-3-flash-preview"
        })
      }))

    // The next request carries each signature back on the part it came with: the first call's
    // signature on that call, none on the others, the unsigned thought left out, and the four
    // results in one user content.
    it.scoped("the next request replays the recorded calls with their signatures", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        yield* Effect.gen(function*() {
          const message = yield* replayOn(server, lines("google-stream-no-args-tool-call.chunks.txt"), expectRequest)
          server.enqueue(Gemini.reply({ text: "Done." }))
          const results = Message.toolCalls(message).map((call) =>
            Message.toolResult({ toolCallId: call.id, toolName: call.name, content: `read ${call.arguments}` })
          )
          const next = yield* LanguageModel.generate({ messages: [Message.user("Hi"), message, ...results] })
          expect(Message.text(next)).toBe("Done.")
          const body = server.requests[1]!.json as { contents: ReadonlyArray<{ role: string; parts: ReadonlyArray<any> }> }
          const signature = (Message.toolCalls(message)[0]!.metadata as { thoughtSignature: string }).thoughtSignature
          expect(body.contents).toEqual([
            { role: "user", parts: [{ text: "Hi" }] },
            {
              role: "model",
              parts: [
                { functionCall: { name: "read_theme", args: {} }, thoughtSignature: signature },
                { functionCall: { name: "read_screen", args: { id: "A" } } },
                { functionCall: { name: "read_screen", args: { id: "B" } } },
                { functionCall: { name: "read_screen", args: { id: "C" } } }
              ]
            },
            {
              role: "user",
              parts: [
                { functionResponse: { name: "read_theme", response: { result: "read {}" } } },
                { functionResponse: { name: "read_screen", response: { result: "read {\"id\":\"A\"}" } } },
                { functionResponse: { name: "read_screen", response: { result: "read {\"id\":\"B\"}" } } },
                { functionResponse: { name: "read_screen", response: { result: "read {\"id\":\"C\"}" } } }
              ]
            }
          ])
          expect(signature.length).toBe(1060)
        }).pipe(Effect.provide(googleModel(server)))
      }))
  }
)
