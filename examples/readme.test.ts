/**
 * The README's first example runs as printed: against a local ProviderServer whose model calls the
 * clock tool and then thinks in silence, the interrupt closes that connection and the next turn
 * continues the conversation with a request the provider accepts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Message } from "@reins/core"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { requestProblems } from "../test/validity.js"
import { program } from "./readme.js"

describe("the README's first example", () => {
  it.scoped("stops a turn mid-thought and continues the conversation", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        ChatCompletions.reply({ toolCalls: [{ id: "call_1", name: "clock", arguments: { tz: "Asia/Tokyo" } }] }),
        { steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("It is 21:04 there, so"), Script.stall()] },
        ChatCompletions.reply({ text: "It was just past nine in the evening in Tokyo." })
      )
      const config = ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", "sk-readme"], ["OPENAI_BASE_URL", `${server.url}/v1`]]))
      // The program sleeps on the TestClock; the HTTP it does is real.
      const fiber = yield* Effect.fork(Effect.withConfigProvider(program, config))
      yield* Effect.promise(() => server.nextRequest())
      const thinking = yield* Effect.promise(() => server.nextRequest())
      yield* TestClock.adjust("2 seconds")

      const result = yield* Fiber.join(fiber)
      yield* Effect.promise(() => server.connectionClosed(thinking.id))
      expect(Message.text(result.messages[result.messages.length - 1] as Message.Assistant)).toBe("It was just past nine in the evening in Tokyo.")

      const next = JSON.parse(server.requests[2].body)
      expect(next.messages.map((message: { role: string }) => message.role)).toEqual(["user", "assistant", "tool", "assistant", "user"])
      expect(next.messages[2]).toMatchObject({ role: "tool", tool_call_id: "call_1" })
      expect(next.messages[4].content).toBe("Go on.")
      expect(requestProblems["Chat Completions"](next)).toEqual([])
    }))
})
