/**
 * Conformance of the OpenAI Responses decoder with streams recorded from the real API by another
 * public project (see ../shared/fixtures/recorded/SOURCES.tsv). Each recording is replayed by a
 * ProviderServer, every line as an SSE event named after its `type`, and consumed with
 * `LanguageModel.generate` through `OpenAiResponses.layer` over real HTTP.
 *
 * The expected messages below were read off the recordings by hand (concatenating the wire deltas
 * and hashing the long texts with a throwaway script), not taken from this project's decoder.
 *
 * The recordings are not part of this repository: the whole suite is skipped when
 * ../shared/fixtures/recorded is absent, so that a clone without it still passes.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message, type StreamPart } from "@reins/core"
import { OpenAiResponses } from "@reins/openai"
import { ProviderServer, Responses, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { checkMessage, describeRecorded, type Expected, expectText, type LongText, read, replayWith } from "./recorded.js"

const recording = (file: string): string => read("openai-responses", file)

/** A Responses model served by `server`, over undici. */
const responsesModel = (server: ProviderServer.ProviderServer, options: Partial<OpenAiResponses.Options> = {}) =>
  OpenAiResponses.layer({ model: "test-model", apiKey: Redacted.make("sk-test-key"), baseUrl: `${server.url}/v1`, ...options }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )

const check = (message: Message.Assistant, expected: Expected) => checkMessage(message, { ...expected, provider: "openai" })

const script = (lines: string | ReadonlyArray<string>) => Script.make(Responses.replayLines(lines))

/** Serves a script once and returns the assistant message `generate` assembles from it. */
const replay = replayWith(responsesModel, (request) => expect(request.path).toBe("/v1/responses"))

const calculator = { name: "calculator", description: "A minimal calculator", parameters: { type: "object" } }

describeRecorded(
  "OpenAI Responses conformance",
  "with recorded streams",
  () => {
    // Four responses of one stateless tool loop (gpt-5.1-codex-max, `store: false`, summary
    // "detailed"), recorded back to back in one file. The first has a reasoning item whose
    // `encrypted_content` changes between `output_item.added` and `output_item.done` (the done one
    // is the item's final form) and a streamed function call; the next two are one call each; the
    // last is the answer text. Every count of cached and reasoning tokens is 0.
    describe("openai-reasoning-encrypted-content.1.chunks.txt", () => {
      const file = () => recording("openai-reasoning-encrypted-content.1.chunks.txt")
      const summary =
        "**Calculating step-by-step using calculator**\n\nI'll compute 12 plus 7, then multiply the result by 3, and finally multiply that by 10, reporting the final product."
      const signature: LongText = {
        length: 1060,
        prefix: "gAAAAABpPDIVOKrsHNZ0GwsoEKA_IGfuJ5f8Ma_6-EojH4yZFL50qlfUzM7FREdQlpkqlnIHLRx2YJxZfzvbnc0E3J_yvIuoeoGQ",
        suffix: "xn4iHXHRvFRd22b4pUNxSPHDJQ8_UgJ0OgCZIoy1axBR84rbicty4RCaGkbotBee75SdYcE__rOXQxSo_8XMnObfNxat0wz4uQ==",
        sha256: "b82eda9fcb40aaf58c56db5016e1511855f6bb6c1fb00a4f07ba2c43d0ad468d"
      }
      const model = "gpt-5.1-codex-max"

      it("holds four responses", () => {
        expect(Responses.splitResponses(file()).map((lines) => lines.length)).toEqual([56, 19, 19, 16])
      })

      it.scoped("a four-step tool loop: reasoning signed and replayed, one call per step, then the answer", () =>
        Effect.gen(function*() {
          const [first, second, third, fourth] = Responses.splitResponses(file())
          const server = yield* ProviderServer.make()
          server.enqueue(script(first!), script(second!), script(third!), script(fourth!))
          const conversation: Array<Message.Message> = [Message.user("Compute (12 + 7) * 3 * 10 with the calculator.")]
          const step = (result: string | undefined) =>
            Effect.gen(function*() {
              const message = yield* LanguageModel.generate({ messages: conversation, tools: [calculator], reasoning: { effort: "high" } })
              conversation.push(message)
              const call = Message.toolCalls(message)[0]
              if (call !== undefined && result !== undefined) {
                conversation.push(Message.toolResult({ toolCallId: call.id, toolName: call.name, content: result }))
              }
              return message
            })
          const messages = yield* Effect.gen(function*() {
            return [yield* step("19"), yield* step("57"), yield* step("570"), yield* step(undefined)]
          }).pipe(Effect.provide(responsesModel(server, { reasoningSummary: "detailed" })))

          check(messages[0]!, {
            reasoning: summary,
            parts: ["Reasoning", "ToolCall"],
            toolCalls: [{ id: "call_AB6AaRZ1FYZB2RwS6A5vbdqn", name: "calculator", arguments: { a: 12, b: 7, op: "add" } }],
            usage: { inputTokens: 134, outputTokens: 28, cacheReadTokens: 0, reasoningTokens: 0 },
            stopReason: "tool-calls",
            rawStopReason: "completed",
            responseId: "resp_01830d662ab3856501693c321345c88190b0de00f3b9975691",
            model
          })
          const reasoning = messages[0]!.content[0]!
          expect(reasoning._tag === "Reasoning" && reasoning.metadata).toEqual({ itemId: "rs_01830d662ab3856501693c321405c88190be3ab04d5782d5f9" })
          expectText(reasoning._tag === "Reasoning" ? reasoning.signature ?? "" : "", signature)
          expect(messages[0]!.content[1]).toMatchObject({ metadata: { itemId: "fc_01830d662ab3856501693c32151234819091cfca267e98cc5f" } })
          check(messages[1]!, {
            parts: ["ToolCall"],
            toolCalls: [{ id: "call_Q6pW65MUgW9vF59BmItYGos3", name: "calculator", arguments: { a: 19, b: 3, op: "multiply" } }],
            usage: { inputTokens: 221, outputTokens: 26, cacheReadTokens: 0, reasoningTokens: 0 },
            stopReason: "tool-calls",
            rawStopReason: "completed",
            responseId: "resp_01830d662ab3856501693c3215903881909b710d150ff65014",
            model
          })
          check(messages[2]!, {
            parts: ["ToolCall"],
            toolCalls: [{ id: "call_Zl5vIMnD7dVAjgU6FkhmiCZh", name: "calculator", arguments: { a: 57, b: 10, op: "multiply" } }],
            usage: { inputTokens: 260, outputTokens: 26, cacheReadTokens: 0, reasoningTokens: 0 },
            stopReason: "tool-calls",
            rawStopReason: "completed",
            responseId: "resp_01830d662ab3856501693c3216bef88190bf0e034cff24137b",
            model
          })
          check(messages[3]!, {
            text: "The final result is **570**.",
            parts: ["Text"],
            usage: { inputTokens: 299, outputTokens: 12, cacheReadTokens: 0, reasoningTokens: 0 },
            stopReason: "stop",
            rawStopReason: "completed",
            responseId: "resp_01830d662ab3856501693c3217ba4c8190a3ddf6c839d4f12a",
            model
          })

          // Every request is stateless and asks for encrypted reasoning; the second sends the first
          // step back with its reasoning item as the API returned it.
          const bodies = server.requests.map((request) => request.json as any)
          expect(server.requests.map((request) => request.path)).toEqual(Array(4).fill("/v1/responses"))
          expect(server.requests[0]!.headers.authorization).toBe("Bearer sk-test-key")
          for (const body of bodies) {
            expect(body).toMatchObject({ stream: true, store: false, reasoning: { effort: "high", summary: "detailed" }, include: ["reasoning.encrypted_content"] })
          }
          expect(bodies[1].input.slice(1)).toEqual([
            { type: "reasoning", summary: [{ type: "summary_text", text: summary }], encrypted_content: expect.any(String) },
            { type: "function_call", call_id: "call_AB6AaRZ1FYZB2RwS6A5vbdqn", name: "calculator", arguments: "{\"a\":12,\"b\":7,\"op\":\"add\"}" },
            { type: "function_call_output", call_id: "call_AB6AaRZ1FYZB2RwS6A5vbdqn", output: "19" }
          ])
          expectText(bodies[1].input[1].encrypted_content, signature)
          expect(bodies[3].input).toHaveLength(1 + 3 + 2 + 2)
        }))

      it.scoped("played as one stream, only the first response counts: what follows response.completed is ignored", () =>
        Effect.gen(function*() {
          const message = yield* replay(script(file()))
          expect(message.responseId).toBe("resp_01830d662ab3856501693c321345c88190b0de00f3b9975691")
          expect(Message.toolCalls(message).map((call) => call.id)).toEqual(["call_AB6AaRZ1FYZB2RwS6A5vbdqn"])
          expect(message.usage.inputTokens).toBe(134)
        }))
    })

    // gpt-5.3-codex: a "commentary" message at output index 0 and a "final_answer" message at
    // index 2 (whatever sat at index 1 is not in the recording). The recording keeps only the first
    // two text deltas of each message (sequence numbers jump from 5 to 41 and from 52 to 126); the
    // `output_text.done` events hold the whole texts, and the decoder sends what the deltas left out.
    describe("openai-phase.1.chunks.txt", () => {
      const commentary =
        "Got it \u2014 I\u2019ll quickly check reliable, up-to-date sources for AI headlines from **today (February 25, 2026)** and then summarize the key items with links."
      const finalAnswer: LongText = {
        length: 1485,
        prefix: "Here are a few **AI headlines for today (Wednesday, February 25, 2026)** based on currently availabl",
        suffix: "g, AP, official company blogs) and give you a cleaner, investor-grade morning brief with timestamps.",
        sha256: "378c168d25b6913b0f925fa4563ced7050d14e6e0f1b7a4dd8b10f0343b054f2"
      }

      it.scoped("two phased messages: whole texts from the done events, a part each", () =>
        Effect.gen(function*() {
          const message = yield* replay(script(recording("openai-phase.1.chunks.txt")))
          check(message, {
            // commentary + final answer, nothing put between them
            text: {
              length: 1638,
              prefix: "Got it \u2014 I\u2019ll quickly check reliable, up-to-date sources for AI headlines from **today (February 25,",
              suffix: finalAnswer.suffix,
              sha256: "421a0728060489f0fdc7b289d052876f049991efee71644b9b865904ac4ca407"
            },
            parts: ["Text", "Text"], // one part per phased message, each with its phase
            usage: { inputTokens: 7112, outputTokens: 463, cacheReadTokens: 3072, reasoningTokens: 64 },
            stopReason: "stop",
            rawStopReason: "completed",
            responseId: "resp_0a63f40a2632b74300699f8818e5648196a8fa657ae8091421",
            model: "gpt-5.3-codex"
          })
          const [first, second] = message.content
          expect(first).toEqual({ _tag: "Text", text: commentary, metadata: { phase: "commentary" } })
          expect(second._tag === "Text" && second.metadata).toEqual({ phase: "final_answer" })
          expectText(second._tag === "Text" ? second.text : "", finalAnswer)
        }))

      it.scoped("each message's text part starts with its phase and ends before the next one starts", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          server.enqueue(script(recording("openai-phase.1.chunks.txt")))
          const parts = yield* LanguageModel.stream({ messages: [Message.user("Hi")] }).pipe(
            Stream.runCollect,
            Effect.provide(responsesModel(server))
          )
          const bounds = [...parts].filter((part) => part._tag === "TextStart" || part._tag === "TextEnd")
          expect(bounds).toEqual([
            { _tag: "TextStart", id: expect.stringMatching(/^msg_.+:0$/), metadata: { phase: "commentary" } },
            { _tag: "TextEnd", id: (bounds[0] as StreamPart.TextStart).id },
            { _tag: "TextStart", id: expect.stringMatching(/^msg_.+:0$/), metadata: { phase: "final_answer" } },
            { _tag: "TextEnd", id: (bounds[2] as StreamPart.TextStart).id }
          ])
          expect((bounds[0] as StreamPart.TextStart).id).not.toBe((bounds[2] as StreamPart.TextStart).id)
        }))
    })

    // gpt-5-mini with web search: seven reasoning items with empty summaries and no encrypted
    // content, six web_search_call items (search, open_page, find_in_page) with their progress
    // events, then one message whose 121 text deltas are interleaved with 12 url_citation
    // annotation events.
    it.scoped("openai-web-search-tool.1.chunks.txt: server tool items and annotations skipped, text whole", () =>
      Effect.gen(function*() {
        check(yield* replay(script(recording("openai-web-search-tool.1.chunks.txt"))), {
          text: {
            length: 3645,
            prefix: "I checked today\u2019s tech headlines (today = December 5, 2025) and opened a few news pages \u2014 then searc",
            suffix: "h across more outlets), or  \n- open the Vercel funding/coverage pages and pull out more details now?",
            sha256: "d24e6afa468991752aea3a4bd29287ad4dc31cbe5f3b5cac742f2e0713cf2da0"
          },
          parts: ["Text"],
          usage: { inputTokens: 31073, outputTokens: 4416, cacheReadTokens: 3712, reasoningTokens: 3712 },
          stopReason: "stop",
          rawStopReason: "completed",
          responseId: "resp_0cc96ac817fdc57e00693337060a408198b92bf1f99cf1b8ec",
          model: "gpt-5-mini-2025-08-07"
        })
      }))

    // A custom (grammar) tool: `custom_tool_call` items whose free-text input streams in
    // `response.custom_tool_call_input.delta` events. The call is kept as a tool call whose JSON
    // arguments are `{"input": <text>}`, and goes back as a custom call with its custom output.
    it.scoped("openai-custom-tool.1.chunks.txt: a custom tool call, and its round trip", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(script(recording("openai-custom-tool.1.chunks.txt")), Responses.reply({ text: "3 users." }))
        const conversation: Array<Message.Message> = [Message.user("Users over 25?")]
        yield* Effect.gen(function*() {
          const message = yield* LanguageModel.generate({ messages: conversation })
          check(message, {
            parts: ["ToolCall"],
            toolCalls: [{ id: "call_custom_sql_001", name: "write_sql", arguments: { input: "SELECT * FROM users WHERE age > 25" } }],
            usage: { inputTokens: 50, outputTokens: 20, cacheReadTokens: 0, reasoningTokens: 0 },
            stopReason: "tool-calls",
            rawStopReason: "completed",
            responseId: "resp_custom_tool_test_001",
            model: "gpt-5.2-codex"
          })
          expect(message.content[0]).toMatchObject({ metadata: { itemId: "ct_abc123def456", customTool: true } })
          conversation.push(message, Message.toolResult({ toolCallId: "call_custom_sql_001", toolName: "write_sql", content: "3 rows" }))
          expect(Message.text(yield* LanguageModel.generate({ messages: conversation }))).toBe("3 users.")
        }).pipe(Effect.provide(responsesModel(server)))
        expect((server.requests[1]!.json as any).input.slice(1)).toEqual([
          { type: "custom_tool_call", call_id: "call_custom_sql_001", name: "write_sql", input: "SELECT * FROM users WHERE age > 25" },
          { type: "custom_tool_call_output", call_id: "call_custom_sql_001", output: "3 rows" }
        ])
      }))

    // gpt-5-nano, out of quota: `response.created`, `response.in_progress`, an `error` event (its
    // fields nested in `error`), then `response.failed` repeating the code and message. One typed
    // error comes out, with the code; quota is not something a retry fixes.
    it.scoped("openai-error.1.chunks.txt: error then response.failed is one ProviderStreamError", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(script(recording("openai-error.1.chunks.txt")), script(recording("openai-error.1.chunks.txt")))
        yield* Effect.gen(function*() {
          const error = yield* Effect.flip(LanguageModel.generate({ messages: [Message.user("Hi")] }))
          expect(error).toMatchObject({
            _tag: "ProviderStreamError",
            provider: "openai",
            code: "insufficient_quota",
            message:
              "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            retryable: false
          })
          expect(error.retryable).toBe(false)
          // the response had started: its id and model come out before the error
          const chunks: Array<StreamPart.StreamPart> = []
          const failed = yield* LanguageModel.stream({ messages: [Message.user("Hi")] }).pipe(
            Stream.runForEach((chunk) => Effect.sync(() => chunks.push(chunk))),
            Effect.flip
          )
          expect(failed._tag).toBe("ProviderStreamError")
          expect(chunks).toEqual([
            { _tag: "Start", responseId: "resp_05500b38c2cd9bfc00691c7c9d222481a3b595421266dab424", model: "gpt-5-nano-2025-08-07", requestId: expect.any(String) }
          ])
        }).pipe(Effect.provide(responsesModel(server)))
      }))

    // gpt-5.4 called a `parallel` tool nobody declared, wrapping its two real calls
    // (`functions.weather`, `functions.cityAttractions`) in `tool_uses`. The recording's first and
    // last lines (`response.created`, `response.completed`) are not valid JSON: each lacks its final
    // closing brace.
    describe("parallel-tool-call-wrapper.1.chunks.txt", () => {
      const lines = () => recording("parallel-tool-call-wrapper.1.chunks.txt").split("\n").filter((line) => line.trim() !== "")
      const tools = [
        { name: "weather", parameters: { type: "object", properties: { location: { type: "string" } } } },
        { name: "cityAttractions", parameters: { type: "object", properties: { city: { type: "string" } } } }
      ]

      it.scoped("as recorded: the malformed first event is a ProtocolError that shows it", () =>
        Effect.gen(function*() {
          const server = yield* ProviderServer.make()
          server.enqueue(script(lines()))
          const error = yield* Effect.flip(LanguageModel.generate({ messages: [Message.user("Hi")], tools })).pipe(
            Effect.provide(responsesModel(server))
          )
          expect(error._tag).toBe("ProtocolError")
          expect(error.message).toBe("invalid JSON in a \"response.created\" event")
          expect(error._tag === "ProtocolError" && error.excerpt.startsWith("{\"type\":\"response.created\",\"response\":{\"id\":\"resp_parallel\"")).toBe(true)
        }))

      it.scoped("with the two missing braces restored: the wrapper becomes the two calls it holds", () =>
        Effect.gen(function*() {
          const repaired = lines().map((line, i, all) => (i === 0 || i === all.length - 1 ? `${line}}` : line))
          check(yield* replay(script(repaired), { messages: [Message.user("Hi")], tools }), {
            parts: ["ToolCall", "ToolCall"],
            toolCalls: [
              { id: "call_parallel_0", name: "weather", arguments: { location: "San Francisco" } },
              { id: "call_parallel_1", name: "cityAttractions", arguments: { city: "Rome" } }
            ],
            usage: { inputTokens: 34, outputTokens: 28, cacheReadTokens: 0, reasoningTokens: 0 },
            stopReason: "tool-calls",
            rawStopReason: "completed",
            responseId: "resp_parallel",
            model: "gpt-5.4"
          })
        }))
    })
  }
)
