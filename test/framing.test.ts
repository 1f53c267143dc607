import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import { ChatCompletions, Gemini, Messages, ProviderServer, Responses, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Formats from "../bench/src/formats.js"

/** Each format's reply with reasoning, text and a tool call, as one script. */
const replies: Record<string, Script.Script> = {
  "Chat Completions": ChatCompletions.reply({
    reasoning: "Thinking about é and 😀.",
    text: "Voilà: 東京 😀",
    toolCalls: [{ id: "c1", name: "clock", arguments: { tz: "Asia/Tokyo" } }],
    usage: { prompt_tokens: 5, completion_tokens: 9 }
  }),
  "OpenAI Responses": Responses.reply({
    reasoning: { summary: ["Thinking about é and 😀."], encryptedContent: "enc" },
    text: "Voilà: 東京 😀",
    toolCalls: [{ callId: "c1", name: "clock", arguments: { tz: "Asia/Tokyo" } }]
  }),
  "Anthropic Messages": Messages.reply({
    thinking: { text: "Thinking about é and 😀.", signature: "sig" },
    text: "Voilà: 東京 😀",
    toolCalls: [{ id: "c1", name: "clock", input: { tz: "Asia/Tokyo" } }]
  }),
  Gemini: Gemini.reply({
    thought: "Thinking about é and 😀.",
    text: "Voilà: 東京 😀",
    functionCalls: [{ name: "clock", args: { tz: "Asia/Tokyo" } }]
  })
}

/** The same bytes, written a few at a time with a pause between writes, so the client reads them in many pieces. */
const dripped = (script: Script.Script, size: number): Script.Script => {
  const bytes = new TextEncoder().encode(script.steps.map((step) => Script.encode(step) ?? "").join(""))
  const steps: Array<Script.Step> = []
  for (let i = 0; i < bytes.length; i += size) steps.push(Script.raw(bytes.subarray(i, i + size)), Script.delay(1))
  return { ...script, steps }
}

describe.each(Formats.formats(1))("$name events split across many reads", (format) => {
  it.scopedLive("assemble into the same message as when they arrive whole", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const reply = replies[format.name]
      server.enqueue(reply, dripped(reply, 7))
      const model = format.layer(server.url).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const generate = LanguageModel.generate({ messages: [Message.user("Time in Tokyo?")] }).pipe(Effect.provide(model))
      const whole = yield* generate
      const split = yield* generate
      expect(Message.text(whole)).toBe("Voilà: 東京 😀")
      expect(Message.toolCalls(whole).map((call) => JSON.parse(call.arguments))).toEqual([{ tz: "Asia/Tokyo" }])
      // Gemini sends no call ids: each response gets fresh ones of its own.
      const withoutIds = (message: Message.Assistant) => ({
        ...message,
        content: message.content.map((part) => part._tag === "ToolCall" ? { ...part, id: "" } : part)
      })
      expect(withoutIds(split)).toEqual(withoutIds(whole))
    }))
})
