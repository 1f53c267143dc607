/**
 * Conformance of the Chat Completions decoder with streams recorded from real providers by other
 * public projects (see ../shared/fixtures/recorded/SOURCES.tsv). Each recording is served byte for
 * byte by a ProviderServer and consumed with `LanguageModel.generate` over real HTTP.
 *
 * The expected messages below were read off the recordings by hand (concatenating the wire deltas
 * with a throwaway script), not taken from this project's decoder: a test that compared the decoder
 * with itself would prove nothing.
 *
 * The recordings are not part of this repository: the whole suite is skipped when
 * ../shared/fixtures/recorded is absent, so that a clone without it still passes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Message } from "@reins/core"
import { ChatCompletions, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import { checkMessage, describeRecorded, type Expected, read, replayWith } from "./recorded.js"
import { chatModel } from "./support.js"

/**
 * The raw SSE bodies held in openai-node's Jest snapshot file, by snapshot name. Jest writes a
 * string snapshot as a template literal holding the string in double quotes, with `\`, `` ` `` and
 * `${` escaped by a backslash.
 */
const snapshotBodies = (text: string): Map<string, string> => {
  const bodies = new Map<string, string>()
  for (const match of text.matchAll(/^exports\[`(.*)`\] = `\n"([\s\S]*?)"\n`;$/gm)) {
    bodies.set(match[1]!, match[2]!.replace(/\\([\\`]|\$\{)/g, "$1"))
  }
  return bodies
}

/** Serves a script once and returns the assistant message `generate` assembles from it. */
const replay = replayWith(chatModel, (request) => expect(request.path).toBe("/v1/chat/completions"))

const check = (message: Message.Assistant, expected: Expected) => checkMessage(message, { ...expected, provider: "openai" })

const lines = (folder: string, file: string) => Script.make(ChatCompletions.replayLines(read(folder, file)))

describeRecorded(
  "Chat Completions conformance",
  "with recorded provider streams",
  () => {
    describe("openai-chat", () => {
      // 302 content deltas, every chunk with `usage: null` and an `obfuscation` field, the finish
      // reason alone, then a usage-only chunk with `choices: []`.
      it.scopedLive("openai-text.chunks.txt: long text, usage-only final chunk, obfuscation fields", () =>
        Effect.gen(function*() {
          const message = yield* replay(lines("openai-chat", "openai-text.chunks.txt"))
          check(message, {
            text: {
              length: 1724,
              prefix: "**Holiday Name:** Harmony Day\n\n**Date:** Celebrated annually on the first Saturday of May\n\n**Purpose",
              suffix: "t despite our differences, we are all connected through shared human experiences and mutual respect.",
              sha256: "53b2d9e583d02b3ff0a0e83be5beb61ce1d16ccddc7ab9f033e72ec8ef55c8e4"
            },
            parts: ["Text"],
            usage: { inputTokens: 16, outputTokens: 300, cacheReadTokens: 0, reasoningTokens: 0 },
            stopReason: "stop",
            rawStopReason: "stop",
            responseId: "chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0",
            model: "gpt-4.1-nano-2025-04-14"
          })
          // the three non-ASCII characters of the recording (two em dashes, one right quote) arrive whole
          const text = Message.text(message)
          expect([text[759], text[805], text[1449]]).toEqual(["\u2014", "\u2014", "\u2019"])
          expect(text).not.toContain("\uFFFD")
        }))

      describe("ChatCompletionStream.test.ts.snap (openai-node)", () => {
        const bodies = () => snapshotBodies(read("openai-chat", "ChatCompletionStream.test.ts.snap"))
        const body = (name: string) => {
          const found = bodies().get(name)
          if (found === undefined) throw new Error(`no snapshot named ${name}`)
          return ChatCompletions.replayRaw(found)
        }
        /** The JSON the model wrote in three of the four streams ("units" differs). */
        const weather = (units: string) => `{"city":"San Francisco","units":"${units}"}`
        const usage = { inputTokens: 17, outputTokens: 10, cacheReadTokens: 0, reasoningTokens: 0 }

        it("holds four raw SSE bodies", () => {
          const all = bodies()
          expect([...all.keys()]).toEqual([
            ".stream() emits content logprobs events 1",
            ".stream() emits refusal logprobs events 1",
            ".stream() works 1",
            ".stream() is robust against leading newline chunks 1"
          ])
          for (const text of all.values()) {
            expect(text.startsWith("data: {\"id\":\"chatcmpl-")).toBe(true)
            expect(text.endsWith("\n\ndata: [DONE]\n\n")).toBe(true)
          }
        })

        // Three plain answers, one test each: the snapshot, the text the model wrote, its response id.
        const answers = [
          {
            name: "works: plain content deltas",
            snapshot: ".stream() works 1",
            text: weather("c"),
            responseId: "chatcmpl-9tZXEmwtoDf6vqCqEWSvDP8jx9OXe"
          },
          {
            name: "content logprobs: logprobs objects beside the deltas are ignored",
            snapshot: ".stream() emits content logprobs events 1",
            text: weather("f"),
            responseId: "chatcmpl-9tZXFsqeQOozn5YU8I6SbjkmDnN76"
          },
          {
            name: "leading newline chunk: a delta of \"\\n\\n\" is text, not framing",
            snapshot: ".stream() is robust against leading newline chunks 1",
            text: "\n\n" + weather("c"),
            responseId: "chatcmpl-9tZXEmwtoDf6vqCqEWSvDP8jx9OXe"
          }
        ]
        for (const { name, responseId, snapshot, text } of answers) {
          it.scopedLive(name, () =>
            Effect.gen(function*() {
              check(yield* replay(body(snapshot)), {
                text,
                parts: ["Text"],
                usage,
                stopReason: "stop",
                rawStopReason: "stop",
                responseId,
                model: "gpt-4o-2024-08-06"
              })
            }))
        }

        // The model refused: every delta carries `refusal` text (`content` is null in the first
        // chunk and absent after), and the finish reason is a plain "stop". The refusal is the whole
        // answer; a decoder that drops it returns an empty message that looks like a normal stop.
        it.scopedLive("refusal logprobs: usage, ids and raw finish reason", () =>
          Effect.gen(function*() {
            const message = yield* replay(body(".stream() emits refusal logprobs events 1"))
            expect(message.usage).toEqual({ inputTokens: 17, outputTokens: 13, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })
            expect(message.rawStopReason).toBe("stop")
            expect(message.responseId).toBe("chatcmpl-9tZXGacdbmJYO8K50haE4OauaJmPn")
            expect(message.model).toBe("gpt-4o-2024-08-06")
            expect(Message.toolCalls(message)).toEqual([])
            expect(Message.reasoning(message)).toBe("")
          }))

        // Regression: the decoder once ignored `delta.refusal`, and this stream gave an empty message
        // with stopReason "stop".
        it.scopedLive("refusal logprobs: the refusal text is kept and the stop reason is \"refusal\"", () =>
          Effect.gen(function*() {
            const message = yield* replay(body(".stream() emits refusal logprobs events 1"))
            expect.soft(Message.text(message)).toBe("I'm very sorry, but I can't assist with that request.")
            expect.soft(message.stopReason).toBe("refusal")
            expect.soft(message.content.length).toBeGreaterThan(0)
          }))
      })
    })

    describe("openai-compatible", () => {
      // DeepSeek: `reasoning_content` deltas (with `content: null`), then `content` deltas (with
      // `reasoning_content: null`); the finish reason and the usage share the last chunk, which also
      // has DeepSeek's own `prompt_cache_hit_tokens` / `prompt_cache_miss_tokens`.
      it.scopedLive("deepseek-reasoning.chunks.txt: reasoning then text, usage on the finish chunk", () =>
        Effect.gen(function*() {
          check(yield* replay(lines("openai-compatible", "deepseek-reasoning.chunks.txt")), {
            text: "The word \"strawberry\" contains three \"r\"s.",
            reasoning: {
              length: 606,
              prefix: "We need to count the number of the letter \"r\" in the word \"strawberry\". The word is spelled: s-t-r-a",
              suffix: ": The word has 10 letters. The \"r\"s are at positions 3, 8, and 9. So yes, 3.\n\nThus, the answer is 3.",
              sha256: "01a5d04ca7e849fd2fade232d01ab33b2f93c8b2cd8c4bfaa2acc0f6d86f83f5"
            },
            parts: ["Reasoning", "Text"],
            usage: { inputTokens: 18, outputTokens: 219, cacheReadTokens: 0, reasoningTokens: 205 },
            stopReason: "stop",
            rawStopReason: "stop",
            responseId: "cac7192e-e619-40c6-96b0-ed4276bc03ac",
            model: "deepseek-reasoner"
          })
        }))

      // DeepSeek: reasoning, then one tool call whose first delta has id, name and empty arguments,
      // and whose arguments then come in 10 pieces; 320 of the 339 prompt tokens were cached.
      it.scopedLive("deepseek-tool-call.chunks.txt: reasoning then a streamed tool call, cached tokens", () =>
        Effect.gen(function*() {
          const message = yield* replay(lines("openai-compatible", "deepseek-tool-call.chunks.txt"))
          check(message, {
            reasoning:
              "The user is asking for the weather in San Francisco. I need to use the weather tool to get this information. Let me invoke the weather tool with the location parameter set to \"San Francisco\".",
            parts: ["Reasoning", "ToolCall"],
            toolCalls: [{ id: "call_00_ioIn7yN9p1ZOMNpDLwd4MgAF", name: "weather", arguments: { location: "San Francisco" } }],
            usage: { inputTokens: 339, outputTokens: 83, cacheReadTokens: 320, reasoningTokens: 39 },
            stopReason: "tool-calls",
            rawStopReason: "tool_calls",
            responseId: "cca85624-4056-401f-b220-d77601d1f70d",
            model: "deepseek-reasoner"
          })
          // the arguments text is kept exactly as the model wrote it (with its space after the colon)
          expect(Message.toolCalls(message)[0]!.arguments).toBe("{\"location\": \"San Francisco\"}")
        }))

      // Moonshot (hand-made upstream): no `object` field, reasoning in the role chunk, the finish
      // reason and the usage in the same chunk, no prompt_tokens_details.
      it.scopedLive("moonshotai-stream.chunks.txt: short Kimi stream", () =>
        Effect.gen(function*() {
          check(yield* replay(lines("openai-compatible", "moonshotai-stream.chunks.txt")), {
            text: "Hello!",
            reasoning: "Thinking aloud. ",
            parts: ["Reasoning", "Text"],
            usage: { inputTokens: 9, outputTokens: 12, cacheReadTokens: 0, reasoningTokens: 7 },
            stopReason: "stop",
            rawStopReason: "stop",
            responseId: "chatcmpl-stream",
            model: "kimi-k3"
          })
        }))

      // xAI: no `finish_reason` key at all on most chunks, the whole tool call (id, name and
      // arguments) in one delta, then a usage-only chunk. xAI's `completion_tokens` (26) does NOT
      // include its `reasoning_tokens` (227): total_tokens 560 = 307 + 26 + 227. The decoder sees
      // that in the total and reports output as 26 + 227, so output includes reasoning as elsewhere.
      it.scopedLive("xai-tool-call.chunks.txt: reasoning then a one-delta tool call", () =>
        Effect.gen(function*() {
          check(yield* replay(lines("openai-compatible", "xai-tool-call.chunks.txt")), {
            reasoning: {
              length: 1069,
              prefix: "First, the user is asking about the weather in San Francisco. I have a available function called \"we",
              suffix: "nversation, I might need to respond based on the result, but for now, this is the logical next step.",
              sha256: "7df9a5068fc57ed4c3b8a1639dc6b569a75dfcf8859c7fd2320f84e9a4d6bc6f"
            },
            parts: ["Reasoning", "ToolCall"],
            toolCalls: [{ id: "call_79382389", name: "weather", arguments: { location: "San Francisco" } }],
            usage: { inputTokens: 307, outputTokens: 253, cacheReadTokens: 306, reasoningTokens: 227 },
            stopReason: "tool-calls",
            rawStopReason: "tool_calls",
            responseId: "7027d986-3c59-a37a-9a5f-50713e01c8a6",
            model: "grok-3-mini"
          })
        }))

      // Despite its name this is Chat Completions wire format (Anthropic's OpenAI-compatible
      // endpoint, model claude-haiku-4-5), not Anthropic's Messages events, so it belongs here. Its
      // one tool call is at `index: 1` (index 0 was the text block), its first argument delta is
      // empty, and it sends no usage at all.
      it.scopedLive("anthropic-fallback-tool-call.sse: text, then a tool call at index 1, no usage", () =>
        Effect.gen(function*() {
          const message = yield* replay(ChatCompletions.replayRaw(read("openai-compatible", "anthropic-fallback-tool-call.sse")))
          check(message, {
            text: "Reading it.",
            parts: ["Text", "ToolCall"],
            toolCalls: [{ id: "toolu_sanitized", name: "read_file", arguments: { path: "a.txt" } }],
            usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, reasoningTokens: 0 },
            stopReason: "tool-calls",
            rawStopReason: "tool_calls",
            responseId: "msg_sanitized",
            model: "claude-haiku-4-5-20251001"
          })
          expect(Message.toolCalls(message)[0]!.arguments).toBe("{\"path\": \"a.txt\"}")
        }))
    })
  }
)
