/**
 * Part boundaries on every recorded provider stream (../shared/fixtures/recorded), served byte for
 * byte by a ProviderServer and read with `LanguageModel.stream` over real HTTP: each text,
 * reasoning and tool-call part starts once under an id unique in the response, its deltas come
 * between its start and its end, and every part that started has ended before `Finish`. Where the
 * format names its parts (Anthropic blocks, Responses content and summary parts), there is one part
 * per block or per content part, counted off the recording's own events. Skipped when the
 * recordings are absent.
 */
import { expect, it } from "@effect/vitest"
import { LanguageModel, Message, type StreamPart } from "@reins/core"
import { ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import * as Recordings from "./differential/Recordings.js"
import * as Reins from "./differential/Reins.js"
import { describeRecorded, hasRecordings } from "./recorded.js"
import { expectWellFormed } from "./streamParts.js"

const recordings = hasRecordings ? Recordings.all() : []

const json = (event: Recordings.WireEvent): any => {
  try {
    return JSON.parse(event.data)
  } catch {
    return undefined
  }
}

/** The text and reasoning parts the recording itself names, when its format names them. */
const named = (recording: Recordings.Recording): { readonly Text: number; readonly Reasoning: number } | undefined => {
  const events = recording.events.map(json)
  switch (recording.format) {
    case "anthropic": {
      const blocks = events.filter((e) => e?.type === "content_block_start").map((e) => e.content_block?.type)
      // A second message_start spliced into the body fails the stream before its blocks.
      if (events.filter((e) => e?.type === "message_start").length > 1) return undefined
      return {
        Text: blocks.filter((type) => type === "text").length,
        Reasoning: blocks.filter((type) => type === "thinking" || type === "redacted_thinking").length
      }
    }
    case "responses": {
      const texts = new Set<string>()
      const reasoning = new Set<string>()
      for (const e of events) {
        if (e?.type === "response.output_text.delta" && e.delta !== "") texts.add(`${e.item_id}:${e.content_index ?? 0}`)
        if (e?.type === "response.reasoning_summary_text.delta" && e.delta !== "") reasoning.add(`${e.item_id}:s${e.summary_index ?? 0}`)
        if (e?.type === "response.output_item.done" && e.item?.type === "reasoning" && typeof e.item.encrypted_content === "string") {
          if (![...reasoning].some((key) => key.startsWith(`${e.item.id}:`))) reasoning.add(`${e.item.id}:s0`)
        }
      }
      return { Text: texts.size, Reasoning: reasoning.size }
    }
    default:
      return undefined
  }
}

describeRecorded("Part boundaries", "on recorded streams", () => {
  for (const recording of recordings) {
    it.scopedLive(`${recording.format}: ${recording.name}`, () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(Script.make([Script.raw(recording.body)]))
        const seen: Array<StreamPart.StreamPart> = []
        const exit = yield* LanguageModel.stream({ messages: [Message.user("Hi")] }).pipe(
          Stream.runForEach((part) => Effect.sync(() => seen.push(part))),
          Effect.provide(Reins.layer(recording.format, server)),
          Effect.exit
        )
        const ids = expectWellFormed(seen, { finished: Exit.isSuccess(exit) })
        expect(new Set(ids.ToolCall).size).toBe(ids.ToolCall.length)
        const expected = Exit.isSuccess(exit) ? named(recording) : undefined
        if (expected !== undefined) {
          expect(ids.Text.length).toBe(expected.Text)
          expect(ids.Reasoning.length).toBe(expected.Reasoning)
        }
      }))
  }
})
