/**
 * The README's first example, as it is printed there: a turn with a tool forked as a fiber, stopped
 * with `Fiber.interrupt`, and the same conversation continued. `examples/readme.test.ts` runs it
 * against a local ProviderServer through `OPENAI_BASE_URL`.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { type Message, Tool, Toolkit, Turn } from "@reins/core"
import { OpenAiChat } from "@reins/openai"
import { Effect, Fiber, Schema, SubscriptionRef } from "effect"

const clock = Tool.make("clock", {
  description: "The current time in an IANA time zone",
  parameters: Schema.Struct({ tz: Schema.String }),
  success: Schema.String,
  handler: ({ tz }) => Effect.sync(() => new Date().toLocaleTimeString("en-GB", { timeZone: tz }))
})

export const program = Effect.gen(function*() {
  const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
  const turn = yield* Effect.fork(Turn.run({ conversation, input: "What time is it in Tokyo?", toolkit: Toolkit.make(clock) }))
  yield* Effect.sleep("2 seconds") // the model calls the tool, then thinks in silence
  yield* Fiber.interrupt(turn) // Stop: its socket is closed when this returns, and the history is valid
  return yield* Turn.run({ conversation, input: "Go on." }) // the same conversation continues
}).pipe(
  Effect.provide(OpenAiChat.layerConfig({ model: "gpt-5-mini" })), // OPENAI_API_KEY, OPENAI_BASE_URL
  Effect.provide(NodeHttpClient.layerUndici)
)
