/**
 * Effect's own AI packages: `LanguageModel.streamText` from `@effect/ai`, forked and stopped with
 * `Fiber.interrupt`, over `@effect/ai-openai` (which speaks the Responses API) and
 * `@effect/ai-anthropic`, on `NodeHttpClient.layerUndici` as Effect's AI documentation sets them
 * up. `@effect/ai` resolves the tool calls of one response but does not loop; its turn is a
 * `Chat` asked again, with the tool results in its history, until a response calls no tool.
 */
import { Chat, LanguageModel, type Prompt, Tool, Toolkit } from "@effect/ai"
import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Wire from "../wire.js"
import { apiKey, type Client, forked, interruptAll, memo, model, prompt, track, version } from "./client.js"

const lookup = Tool.make(Wire.tool.name, {
  description: Wire.tool.description,
  parameters: { key: Schema.String },
  success: Schema.String
})
const toolkit = Toolkit.make(lookup)
const handlers = toolkit.toLayer({ [Wire.tool.name]: () => Effect.succeed(Wire.tool.result) })

const layers = {
  responses: (url: string) =>
    OpenAiLanguageModel.layer({ model }).pipe(Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make(apiKey), apiUrl: `${url}/v1` }))),
  messages: (url: string) =>
    AnthropicLanguageModel.layer({ model }).pipe(Layer.provide(AnthropicClient.layer({ apiKey: Redacted.make(apiKey), apiUrl: url })))
}

/** Asks the chat until a response calls no tool; returns the last response's text. */
const turn = Effect.gen(function*() {
  const chat = yield* Chat.empty
  let input: Prompt.RawInput = prompt
  for (let step = 0; step < 10; step++) {
    let text = ""
    let calls = 0
    yield* chat.streamText({ prompt: input, toolkit }).pipe(
      Stream.runForEachChunk((parts) =>
        Effect.sync(() => {
          for (const part of parts) {
            if (part.type === "text-delta") text += part.delta
            else if (part.type === "tool-call") calls++
          }
        })
      )
    )
    if (calls === 0) return text
    input = []
  }
  return yield* Effect.dieMessage("the turn did not end in 10 steps")
})

const client = (name: string, format: keyof typeof layers): Client => {
  const runtime = memo((url) =>
    track(ManagedRuntime.make(Layer.merge(layers[format](url), handlers).pipe(Layer.provide(NodeHttpClient.layerUndici))))
  )
  return {
    name,
    kind: "peer",
    format,
    start: (url, onText) =>
      forked(
        runtime(url),
        LanguageModel.streamText({ prompt }).pipe(
          Stream.runForEachChunk((parts) =>
            Effect.sync(() => {
              for (const part of parts) if (part.type === "text-delta") onText(part.delta)
            })
          )
        )
      ),
    stopAll: interruptAll,
    turn: (url) => runtime(url).runPromise(turn)
  }
}

/** `@effect/ai` over each provider package. */
export const clients: ReadonlyArray<Client> = [
  client(`@effect/ai ${version("@effect/ai")} + @effect/ai-openai ${version("@effect/ai-openai")}`, "responses"),
  client(`@effect/ai ${version("@effect/ai")} + @effect/ai-anthropic ${version("@effect/ai-anthropic")}`, "messages")
]
