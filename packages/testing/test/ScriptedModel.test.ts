import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message, Tool, Toolkit, Turn } from "@reins/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as ScriptedModel from "../src/ScriptedModel.js"

const echo = Tool.make("echo", {
  parameters: Schema.Struct({ text: Schema.String }),
  success: Schema.String,
  handler: ({ text }) => Effect.succeed(text)
})

describe("ScriptedModel", () => {
  it.effect("answers in order and records each request", () =>
    Effect.gen(function*() {
      const model = ScriptedModel.make([ScriptedModel.toolCall("c1", "echo", { text: "ping" }), ScriptedModel.text("pong")])
      const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
      const result = yield* Turn.run({ conversation, input: "go", toolkit: Toolkit.make(echo) }).pipe(
        Effect.provideService(LanguageModel.LanguageModel, model.service)
      )
      expect(result.steps).toBe(2)
      expect(result.messages.map((m) => m._tag)).toEqual(["User", "Assistant", "ToolResult", "Assistant"])
      expect(result.messages[2]).toMatchObject({ toolCallId: "c1", content: "ping", isError: false })
      expect(model.requests).toHaveLength(2)
      expect(model.requests[1].messages.at(-1)).toMatchObject({ _tag: "ToolResult", content: "ping" })
    }))

  it.effect("fails past the end of its script, and a silent answer can be stopped", () =>
    Effect.gen(function*() {
      const error = yield* LanguageModel.generate({ messages: [Message.user("x")] }).pipe(
        Effect.flip,
        Effect.provide(ScriptedModel.layer([]))
      )
      expect(error._tag).toBe("StatusError")

      const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
      const silent = ScriptedModel.make([ScriptedModel.silent])
      const fiber = yield* Turn.run({ conversation, input: "think" }).pipe(
        Effect.provideService(LanguageModel.LanguageModel, silent.service),
        Effect.fork
      )
      while (silent.requests.length === 0) yield* Effect.yieldNow()
      expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
      const history = yield* SubscriptionRef.get(conversation)
      expect(history.map((m) => m._tag)).toEqual(["User", "Assistant"])
    }))
})
