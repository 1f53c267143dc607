/**
 * Tools that start before the response ends: a response completes a tool call and then streams
 * 500 ms more text. Measured per format in Reins' `Turn.run`: ms from the call's end leaving the
 * provider's stream (its `ToolCallEnd` part) to the tool's handler starting, and how long before
 * the response's `Finish` the tool started. Gemini and Responses say where a call ends; so does
 * Anthropic's block stop. Chat Completions says so only when the next call or the finish begins,
 * so its figure is the rest of the response, and it is shown for that contrast.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { LanguageModel, Message, Tool, Toolkit, Turn } from "@reins/core"
import { ChatCompletions, Gemini, Messages, type ProviderServer, Responses, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { performance } from "node:perf_hooks"
import { layers } from "./formats.js"
import { table } from "./harness.js"
import { fmt, summarize, type Summary } from "./stats.js"
import * as Wire from "./wire.js"

/** How long the response streams after the call, and in how many pieces. */
const AFTER_MS = 500
const PIECES = 10

/** One format's figures. */
export interface EarlyTools {
  readonly format: Wire.FormatId
  /** ms from the call's `ToolCallEnd` leaving the provider's stream to the tool's start. */
  readonly startAfterCallEnd: Summary
  /** ms from the tool's start to the response's `Finish`: how much earlier than after the response it started. */
  readonly startBeforeFinish: Summary
}

const pause = (step: (i: number) => Script.Step): Array<Script.Step> =>
  Array.from({ length: PIECES }, (_, i) => [Script.delay(AFTER_MS / PIECES), step(i)]).flat()

const piece = (i: number) => `more text ${i} `

/** Each format's response: one complete call, then text for `AFTER_MS`, then the finish. */
const scripts: Record<Wire.FormatId, () => Script.Script> = {
  messages: () =>
    Script.make([
      Messages.messageStart(),
      ...Messages.toolUse({ index: 0, id: "call_1", name: "lookup", input: { key: "a" } }),
      Messages.blockStart(1, { type: "text", text: "" }),
      ...pause((i) => Messages.blockDelta(1, { type: "text_delta", text: piece(i) })),
      Messages.blockStop(1),
      Messages.messageDelta("tool_use"),
      Messages.messageStop
    ]),
  responses: () => {
    const message = Responses.message("", { id: "msg_1", outputIndex: 1 })
    return Script.make([
      Responses.created(),
      ...Responses.functionCall({ callId: "call_1", name: "lookup", arguments: { key: "a" }, outputIndex: 0 }),
      ...message.slice(0, 2),
      ...pause((i) => Responses.event({ type: "response.output_text.delta", item_id: "msg_1", output_index: 1, content_index: 0, delta: piece(i) })),
      Responses.completed()
    ])
  },
  gemini: () =>
    Script.make([
      Gemini.functionCall({ name: "lookup", args: { key: "a" } }),
      ...pause((i) => Gemini.event([{ text: piece(i) }])),
      Gemini.event([{ text: "" }], { finishReason: "STOP" })
    ]),
  chat: () =>
    Script.make([
      ChatCompletions.start(),
      ...ChatCompletions.toolCall({ index: 0, id: "call_1", name: "lookup", arguments: "{\"key\":\"a\"}" }),
      ...pause((i) => Script.event(ChatCompletions.chunk({ content: piece(i) }))),
      ChatCompletions.finish("tool_calls"),
      ChatCompletions.done
    ])
}

const answers: Record<Wire.FormatId, () => Script.Script> = {
  messages: () => Messages.reply({ text: "Done." }),
  responses: () => Responses.reply({ text: "Done." }),
  gemini: () => Gemini.reply({ text: "Done." }),
  chat: () => ChatCompletions.reply({ text: "Done." })
}

/** Runs `runs` turns (after `warmup`) per format against `server`. */
export const run = async (
  server: ProviderServer.ProviderServer,
  formats: ReadonlyArray<Wire.FormatId>,
  options: { readonly warmup: number; readonly runs: number }
): Promise<Array<EarlyTools>> => {
  const out: Array<EarlyTools> = []
  for (const format of formats) {
    const runtime = ManagedRuntime.make(layers[format](server.url).pipe(Layer.provide(NodeHttpClient.layerUndici)))
    const afterEnd: Array<number> = []
    const beforeFinish: Array<number> = []
    for (let i = 0; i < options.warmup + options.runs; i++) {
      server.enqueue(scripts[format](), answers[format]())
      const sample = await runtime.runPromise(Effect.gen(function*() {
        let callEnd = 0
        let finish = 0
        let toolStart = 0
        const lookup = Tool.make("lookup", {
          parameters: Schema.Struct({ key: Schema.String }),
          success: Schema.String,
          handler: () => Effect.sync(() => (toolStart = performance.now(), "found"))
        })
        const model = yield* LanguageModel.LanguageModel
        // The times are taken where the parts leave the provider's stream, before the turn reads them.
        const timed: LanguageModel.Service = {
          ...model,
          stream: (request) =>
            model.stream(request).pipe(Stream.mapChunks((parts) => {
              for (const part of parts) {
                if (part._tag === "ToolCallEnd" && callEnd === 0) callEnd = performance.now()
                else if (part._tag === "Finish" && finish === 0) finish = performance.now()
              }
              return parts
            }))
        }
        const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
        yield* Turn.run({ conversation, input: "go", toolkit: Toolkit.make(lookup) }).pipe(
          Effect.provideService(LanguageModel.LanguageModel, timed)
        )
        return { afterEnd: toolStart - callEnd, beforeFinish: finish - toolStart }
      }))
      if (i >= options.warmup) afterEnd.push(sample.afterEnd), beforeFinish.push(sample.beforeFinish)
    }
    await runtime.dispose()
    out.push({ format, startAfterCallEnd: summarize(afterEnd), startBeforeFinish: summarize(beforeFinish) })
  }
  return out
}

/** The table of the figures. */
export const render = (title: string, results: ReadonlyArray<EarlyTools>): string =>
  table(
    title,
    ["format", "call end to tool start, median", "p90", "max", "tool start before the response's end, median"],
    results.map((r) => [
      Wire.byId(r.format).name,
      fmt(r.startAfterCallEnd.median, 3),
      fmt(r.startAfterCallEnd.p90, 3),
      fmt(r.startAfterCallEnd.max, 3),
      fmt(r.startBeforeFinish.median, 1)
    ])
  )
