/**
 * A turn stopped while the model reasons leaves a conversation that every provider accepts: the
 * next request, as each provider encodes it, pairs every tool call with its result and carries no
 * empty or unsigned block the provider would reject.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Message, Tool, Toolkit, Turn } from "@reins/core"
import { ChatCompletions, Gemini, Messages, ProviderServer, Responses, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Formats from "../bench/src/formats.js"
import { connectionClosed } from "./support.js"
import { conversationProblems, requestProblems, type WireFormat } from "./validity.js"

const clock = Tool.make("clock", {
  parameters: Schema.Struct({ tz: Schema.String }),
  success: Schema.String,
  handler: ({ tz }) => Effect.succeed(`12:00 in ${tz}`)
})

const args = { tz: "Asia/Tokyo" }

/** Per format: a step that reasons (signed) and calls the tool; a reply that starts reasoning and then stalls. */
const scripts: Record<string, { readonly toolStep: Script.Script; readonly reasoningReply: Script.Script; readonly answer: Script.Script }> = {
  "Chat Completions": {
    toolStep: ChatCompletions.reply({ reasoning: "Need the time.", toolCalls: [{ id: "c1", name: "clock", arguments: args }] }),
    reasoningReply: ChatCompletions.reply({ reasoning: "Now I can answer this.", text: "It is" }),
    answer: ChatCompletions.reply({ text: "Noon." })
  },
  "OpenAI Responses": {
    toolStep: Responses.reply({
      reasoning: { summary: ["Need the time."], encryptedContent: "enc-1" },
      toolCalls: [{ callId: "c1", name: "clock", arguments: args }]
    }),
    reasoningReply: Responses.reply({ reasoning: { summary: ["Now I can answer this."], encryptedContent: "enc-2" }, text: "It is" }),
    answer: Responses.reply({ text: "Noon." })
  },
  "Anthropic Messages": {
    toolStep: Messages.reply({
      thinking: { text: "Need the time.", signature: "sig-1" },
      toolCalls: [{ id: "c1", name: "clock", input: args }]
    }),
    reasoningReply: Messages.reply({ thinking: { text: "Now I can answer this.", signature: "sig-2" }, text: "It is" }),
    answer: Messages.reply({ text: "Noon." })
  },
  Gemini: {
    toolStep: Gemini.reply({ thought: "Need the time.", functionCalls: [{ name: "clock", args, thoughtSignature: "sig-1" }] }),
    reasoningReply: Gemini.reply({ thought: "Now I can answer this.", text: "It is" }),
    answer: Gemini.reply({ text: "Noon." })
  }
}

/** The first `events` events of a reply, then silence: the model stopped mid-reasoning. */
const cutAfter = (script: Script.Script, events: number): Script.Script => {
  const steps: Array<Script.Step> = []
  let seen = 0
  for (const step of script.steps) {
    if (seen === events) break
    steps.push(step)
    if (step._tag === "Event") seen++
  }
  return { ...script, steps: [...steps, Script.stall()] }
}

describe.each(Formats.formats(1))("a turn on $name stopped mid-reasoning", (format) => {
  it.scopedLive("continues with a request the provider accepts", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const { answer, reasoningReply, toolStep } = scripts[format.name]
      server.enqueue(toolStep, cutAfter(reasoningReply, 6), answer)
      const model = format.layer(server.url).pipe(Layer.provide(NodeHttpClient.layerUndici))
      yield* Effect.gen(function*() {
        const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
        const toolkit = Toolkit.make(clock)
        const fiber = yield* Effect.fork(Turn.run({ conversation, input: "Time in Tokyo?", toolkit }))
        yield* Effect.promise(() => server.nextRequest())
        const stopped = yield* Effect.promise(() => server.nextRequest())
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(fiber)
        yield* connectionClosed(server, stopped.id)
        const history = yield* SubscriptionRef.get(conversation)
        expect(history.map((m) => m._tag)).toEqual(["User", "Assistant", "ToolResult", "Assistant"])
        const partial = history[3] as Message.Assistant
        expect(partial.stopReason).toBe("interrupted")
        // the stopped answer holds reasoning that never got its signature
        expect(Message.reasoning(partial)).not.toBe("")
        expect(partial.content.some((part) => part._tag === "Reasoning" && part.signature === undefined)).toBe(true)

        const result = yield* Turn.run({ conversation, input: "Go on", toolkit })
        expect(result.stopReason).toBe("stop")
        expect(requestProblems[format.name as WireFormat](server.requests[2].json)).toEqual([])
        expect(conversationProblems(yield* SubscriptionRef.get(conversation))).toEqual([])
      }).pipe(Effect.provide(model))
    }))
})
