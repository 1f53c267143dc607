/**
 * Conformance of the Anthropic Messages decoder with streams recorded from the real API by other
 * public projects (see ../shared/fixtures/recorded/SOURCES.tsv). Each recording is served by a
 * ProviderServer (`*.chunks.txt` lines as events named after their `type`, `sdk-*.txt` and `*.sse`
 * bodies byte for byte) and consumed with `LanguageModel.generate` over real HTTP.
 *
 * The expected messages below were read off the recordings by hand (concatenating the wire deltas
 * with a throwaway script), not taken from this project's decoder.
 *
 * The recordings are not part of this repository: the whole suite is skipped when
 * ../shared/fixtures/recorded is absent, so that a clone without it still passes.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Anthropic } from "@reins/anthropic"
import { LanguageModel, Message, type StreamPart } from "@reins/core"
import { Messages, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { checkMessage, describeRecorded, type Expected, read, replayWith } from "./recorded.js"

const recording = (file: string): string => read("anthropic", file)

const model = (server: ProviderServer.ProviderServer) =>
  Anthropic.layer({ model: "claude-test", apiKey: Redacted.make("sk-ant-test-key"), baseUrl: server.url }).pipe(
    Layer.orDie,
    Layer.provide(NodeHttpClient.layerUndici)
  )

/** Serves a script once and returns the assistant message `generate` assembles from it. */
const replay = replayWith(model, (request) => {
  expect(request.path).toBe("/v1/messages")
  expect(request.headers["x-api-key"]).toBe("sk-ant-test-key")
  expect(request.headers["anthropic-version"]).toBe("2023-06-01")
  expect(request.json).toMatchObject({ model: "claude-test", max_tokens: 8192, stream: true })
})

/** Checks the message, and the signatures of its reasoning parts (none unless given). */
const check = (message: Message.Assistant, expected: Expected) =>
  checkMessage(message, { signatures: [], ...expected, provider: "anthropic" })

const usage = (inputTokens: number, outputTokens: number, reasoningTokens = 0) => ({
  inputTokens,
  outputTokens,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens
})

const lines = (file: string) => Script.make(Messages.replayLines(recording(file)))
const raw = (file: string) => Messages.replayRaw(recording(file))

describeRecorded(
  "Anthropic Messages conformance",
  "with recorded provider streams",
  () => {
    describe("vercel/ai fixtures (*.chunks.txt)", () => {
      it.scoped("anthropic-text.chunks.txt: one text block, pings", () =>
        Effect.gen(function*() {
          check(yield* replay(lines("anthropic-text.chunks.txt")), {
            text: "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?",
            parts: ["Text"],
            usage: usage(12, 30),
            stopReason: "stop",
            rawStopReason: "end_turn",
            responseId: "msg_01QC4g3HwBThD4BaNtBckFDJ",
            model: "claude-sonnet-4-5-20250929"
          })
        }))

      // A thinking block (with an empty thinking_delta before its signature_delta), then text; the
      // message_delta also carries `context_management`.
      it.scoped("anthropic-clear-thinking.1.chunks.txt: signed thinking, then text", () =>
        Effect.gen(function*() {
          check(yield* replay(lines("anthropic-clear-thinking.1.chunks.txt")), {
            text: "925 ÷ 5 = 185",
            reasoning: "The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185",
            signatures: [
              "EvQBCkYICxgCKkAxhD4NUKFzudtZ6NzbZdEiBACIScTzqjPViM596iWLZIk4EFKYYBj3B6Ptl3b0dcQv/VeJBNbejNWIWRBn+KPNEgz6HWtKx7p+QRgKsEoaDGjsiqfht7gTRFYHiyIwD1VSmNqHxv3wy8KEMP+LYb/TC4UH3H97tuoaADARFFcA0phdfxnzKQxFnc9lwY+dKlzUsaKSUAFeu1bDL5ikZJ1vL0Fkz6JjoFke0L/wOJRIUDUlDUOFJ1tZ3ea7g6LGE/5hwuvWgLwewdcm64d+43l7F57XrOmqNd6flI2K/oPr/4yzNgvi/EhT6Ca17BgB"
            ],
            parts: ["Reasoning", "Text"],
            usage: usage(69, 53),
            stopReason: "stop",
            rawStopReason: "end_turn",
            responseId: "msg_01Y6V41gqPaKWEw7iPouH7iW",
            model: "claude-sonnet-4-5-20250929"
          })
        }))

      // The tool input starts with an empty partial_json and a ping sits between the deltas.
      it.scoped("anthropic-json-tool.1.chunks.txt: one tool call, empty first input delta", () =>
        Effect.gen(function*() {
          const message = yield* replay(lines("anthropic-json-tool.1.chunks.txt"))
          check(message, {
            parts: ["ToolCall"],
            toolCalls: [{
              id: "toolu_01KFbKqPYSuAKujiL6mTfzYA",
              name: "json",
              arguments: { elements: [{ location: "San Francisco", temperature: 58, condition: "sunny" }] }
            }],
            usage: usage(849, 47),
            stopReason: "tool-calls",
            rawStopReason: "tool_use",
            responseId: "msg_01K2JbSUMYhez5RHoK9ZCj9U",
            model: "claude-haiku-4-5-20251001"
          })
          expect(Message.toolCalls(message)[0]!.arguments).toBe(
            "{\"elements\": [{\"location\": \"San Francisco\", \"temperature\": 58, \"condition\": \"sunny\"}]}"
          )
        }))

      // The tool block streams only an empty partial_json: its arguments become "{}".
      it.scoped("anthropic-tool-no-args.chunks.txt: text, then a tool with no arguments", () =>
        Effect.gen(function*() {
          const message = yield* replay(lines("anthropic-tool-no-args.chunks.txt"))
          check(message, {
            text: "I'll update the issue list for you.",
            parts: ["Text", "ToolCall"],
            toolCalls: [{ id: "toolu_01QE1WLsSVp5hy5Q3GmGTmjP", name: "updateIssueList", arguments: {} }],
            usage: usage(565, 48),
            stopReason: "tool-calls",
            rawStopReason: "tool_use",
            responseId: "msg_01GE2RKp1VYsPzdFs3sS9z5S",
            model: "claude-sonnet-4-5-20250929"
          })
          expect(Message.toolCalls(message)[0]!.arguments).toBe("{}")
        }))

      // No content block at all: message_start, ping, message_delta with stop_reason "refusal"
      // (and `stop_details`), message_stop. An empty message, but a finished one.
      it.scoped("anthropic-refusal.chunks.txt: a refusal with no content", () =>
        Effect.gen(function*() {
          check(yield* replay(lines("anthropic-refusal.chunks.txt")), {
            parts: [],
            usage: usage(18, 5),
            stopReason: "refusal",
            rawStopReason: "refusal",
            responseId: "msg_01RefusalStreamAbcdefghijk",
            model: "claude-fable-5"
          })
        }))

      // server_tool_use (web_search, with its own input_json_delta), a web_search_tool_result block,
      // then 19 text blocks, the cited ones with citations_delta. Only the text is kept, a part per
      // block. message_delta's input_tokens (15665) has grown past message_start's (2037): the
      // server tool fed the search results back in.
      it.scoped("anthropic-web-search-tool.1.chunks.txt: server web search skipped, text kept", () =>
        Effect.gen(function*() {
          const message = yield* replay(lines("anthropic-web-search-tool.1.chunks.txt"))
          check(message, {
            text: {
              length: 2402,
              prefix: "Based on my search results, here are the key tech news developments from today (September 26, 2025):",
              suffix: "agship Ginza store in Tokyo, marking over 20 years since their first international retail expansion.",
              sha256: "2c86b5f34a531516272b9588fb4cf9b7c6d8e0690ac4933249b626eec5334d0b"
            },
            parts: Array.from({ length: 19 }, () => "Text" as const),
            usage: usage(15665, 795),
            stopReason: "stop",
            rawStopReason: "end_turn",
            responseId: "msg_01LHpEgU4KbfgXGVi3UtHQY1",
            model: "claude-sonnet-4-20250514"
          })
        }))

      // A second generation spliced into the body: message msg_first's tool input is cut at
      // `{"value":"Spark` and message msg_second (thinking "Let me call the tool.", signature
      // "sig-second", toolu_second {"value":"Sparkle Day"}) follows without a message_stop between.
      // Merging them would give one message with two generations' signed thinking, which the API
      // refuses on replay; the decoder fails the stream with a ProtocolError instead.
      it.scoped("spliced-message-start.chunks.txt: a second message_start fails the stream", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          const steps = Messages.replayLines(recording("spliced-message-start.chunks.txt"))
          server.enqueue(Script.make(steps))
          const generated = yield* LanguageModel.generate({ messages: [Message.user("Hi")] }).pipe(
            Effect.provide(model(server)),
            Effect.flip
          )
          expect(generated).toMatchObject({
            _tag: "ProtocolError",
            provider: "anthropic",
            message: "a second message_start (msg_second) arrived while msg_first was still open"
          })
          expect(generated.retryable).toBe(false)

          // With a pause before the spliced message_start, the first message's parts reach the
          // consumer in an earlier read, and the stream then fails.
          const pause = steps.findIndex((step, i) => i > 0 && step._tag === "Event" && step.event === "message_start")
          expect(pause).toBe(7)
          server.enqueue(Script.make([...steps.slice(0, pause), Script.delay(50), ...steps.slice(pause)]))
          const seen: Array<StreamPart.StreamPart> = []
          const streamed = yield* LanguageModel.stream({ messages: [Message.user("Hi")] }).pipe(
            Stream.runForEach((part) => Effect.sync(() => seen.push(part))),
            Effect.provide(model(server)),
            Effect.flip
          )
          expect(streamed._tag).toBe("ProtocolError")
          expect(seen).toEqual([
            { _tag: "Start", responseId: "msg_first", model: "claude-3-haiku-20240307", requestId: "req_2" },
            { _tag: "Usage", usage: { inputTokens: 17, cacheReadTokens: 0, cacheWriteTokens: 0 } },
            { _tag: "ReasoningStart", id: "0" },
            { _tag: "ReasoningDelta", id: "0", text: "I will call the tool." },
            { _tag: "ReasoningEnd", id: "0", signature: "sig-first" },
            { _tag: "ToolCallStart", id: "toolu_first", name: "test-tool" },
            { _tag: "ToolCallDelta", id: "toolu_first", delta: "{\"value\":\"Spark" }
          ])
        }))
    })

    describe("anthropic-sdk-typescript fixtures (raw SSE bodies)", () => {
      it.scoped("sdk-basic_response.txt: text, a ping with a space in its JSON", () =>
        Effect.gen(function*() {
          check(yield* replay(raw("sdk-basic_response.txt")), {
            text: "Hello there!",
            parts: ["Text"],
            usage: usage(11, 6),
            stopReason: "stop",
            rawStopReason: "end_turn",
            responseId: "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK",
            model: "claude-opus-4-8"
          })
        }))

      it.scoped("sdk-tool_use_response.txt: text, then a tool call in four pieces", () =>
        Effect.gen(function*() {
          const message = yield* replay(raw("sdk-tool_use_response.txt"))
          check(message, {
            text: "I'll check the current weather in Paris for you.",
            parts: ["Text", "ToolCall"],
            toolCalls: [{ id: "toolu_01NRLabsLyVHZPKxbKvkfSMn", name: "get_weather", arguments: { location: "Paris" } }],
            usage: usage(377, 65),
            stopReason: "tool-calls",
            rawStopReason: "tool_use",
            responseId: "msg_019Q1hrJbZG26Fb9BQhrkHEr",
            model: "claude-opus-4-8"
          })
          expect(Message.toolCalls(message)[0]!.arguments).toBe("{\"location\": \"Paris\"}")
        }))

      // max_tokens hit inside the tool input: the block never gets content_block_stop and its JSON
      // is incomplete. The call is kept as it arrived (stop reason "length"); its arguments do not
      // parse, and a replay sends `input: {}` for it.
      it.scoped("sdk-incomplete_partial_json_response.txt: max_tokens cuts a tool input short", () =>
        Effect.gen(function*() {
          const message = yield* replay(raw("sdk-incomplete_partial_json_response.txt"))
          expect(Message.text(message)).toBe(
            "I'll create a comprehensive tax guide for someone with multiple W2s and save it in a file called taxes.txt. Let me do that for you now."
          )
          expect(message.content.map((part) => part._tag)).toEqual(["Text", "ToolCall"])
          const [call] = Message.toolCalls(message)
          expect(call).toEqual({
            _tag: "ToolCall",
            id: "toolu_01EKqbqmZrGRXy18eN7m9kvY",
            name: "make_file",
            arguments:
              "{\"filename\": \"taxes.txt\", \"lines_of_text\": [\n\"# COMPREHENSIVE TAX GUIDE FOR INDIVIDUALS WITH MULTIPLE W-2s\",\n\"\",\n\"## INTRODUCTION\",\n\"\",\n\"Filing taxes"
          })
          expect(() => JSON.parse(call!.arguments)).toThrow()
          expect(message.usage).toEqual(usage(450, 124))
          expect(message.stopReason).toBe("length")
          expect(message.rawStopReason).toBe("max_tokens")
          expect(message.responseId).toBe("msg_01UdjYBBipA9omjYhicnevgq")
          expect(message.model).toBe("claude-sonnet-4-5")
        }))

      // Thinking with a signature, a short text, then stop_reason "refusal"; message_delta reports
      // `output_tokens_details.thinking_tokens` (67 of the 106 output tokens).
      it.scoped("sdk-stream-a-refusal.sse: signed thinking, text, refusal, thinking tokens", () =>
        Effect.gen(function*() {
          check(yield* replay(raw("sdk-stream-a-refusal.sse")), {
            text: "Hi",
            reasoning:
              "Simple educational question about what a solar eclipse is. This is benign general knowledge \u2014 definitions are fine. Also the user called me \"claudius\" \u2014 I'm Claude. Minor correction or just roll with it politely.",
            signatures: ["c3ludGhldGljLXNpZ25hdHVyZS1maXh0dXJlLWEtbm90LWEtcmVhbC1zaWduYXR1cmU="],
            parts: ["Reasoning", "Text"],
            usage: usage(28, 106, 67),
            stopReason: "refusal",
            rawStopReason: "refusal",
            responseId: "msg_fixture_a_0001",
            model: "claude-fable-5"
          })
        }))

      // A server web search (skipped), its result block (skipped), the start of a text, then a
      // refusal. This synthetic fixture's message_delta says input_tokens 28 where message_start said
      // 612; message_delta's counts are the cumulative ones, so 28 is what the message reports.
      it.scoped("sdk-stream-a-toolrefusal.sse: server tool blocks skipped, text kept, refusal", () =>
        Effect.gen(function*() {
          check(yield* replay(raw("sdk-stream-a-toolrefusal.sse")), {
            text: "Here's a summary of this year's solar eclipses and how",
            parts: ["Text"],
            usage: usage(28, 106, 67),
            stopReason: "refusal",
            rawStopReason: "refusal",
            responseId: "msg_fixture_atool_0001",
            model: "claude-fable-5"
          })
        }))
    })
  }
)
