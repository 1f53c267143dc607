/**
 * Reins: `LanguageModel.stream` consumed chunk by chunk and stopped with `Fiber.interrupt`, and
 * `Turn.run` with a one-tool `Toolkit`, on either of `@effect/platform-node`'s HTTP clients.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { LanguageModel, Message, Tool, Toolkit, Turn } from "@reins/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { layers } from "../formats.js"
import * as Wire from "../wire.js"
import { type Client, forked, interruptAll, memo, prompt, track } from "./client.js"

/** The two transports; node:http with a keep-alive pool, as `NodeHttpClient.layer` opens a connection per request. */
export const transports = {
  undici: NodeHttpClient.layerUndici,
  "node:http": NodeHttpClient.layerWithoutAgent.pipe(Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true })))
} satisfies Record<string, Layer.Layer<HttpClient.HttpClient>>

/** A transport's name. */
export type Transport = keyof typeof transports

const lookup = Tool.make(Wire.tool.name, {
  description: Wire.tool.description,
  parameters: Schema.Struct({ key: Schema.String }),
  success: Schema.String,
  handler: () => Effect.succeed(Wire.tool.result)
})
const toolkit = Toolkit.make(lookup)

const turn = Effect.gen(function*() {
  const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
  const result = yield* Turn.run({ conversation, input: prompt, toolkit })
  const last = result.messages[result.messages.length - 1]
  return last._tag === "Assistant" ? Message.text(last) : ""
})

/** Reins' model for `format` on `transport`, served from `url`: one runtime (and pool) per server. */
export const runtime = memo((format: Wire.FormatId, transport: Transport, url: string) =>
  track(ManagedRuntime.make(layers[format](url).pipe(Layer.provide(transports[transport]))))
)

/** Reins on `transport`, one client per format. */
export const clients = (transport: Transport): ReadonlyArray<Client> =>
  Wire.all.map((format) => ({
    name: `Reins on ${transport}`,
    kind: "reins",
    format: format.id,
    start: (url, onText) =>
      forked(
        runtime(format.id, transport, url),
        LanguageModel.stream({ messages: [Message.user(prompt)] }).pipe(
          Stream.runForEachChunk((chunks) =>
            Effect.sync(() => {
              for (const chunk of chunks) if (chunk._tag === "TextDelta") onText(chunk.text)
            })
          )
        )
      ),
    stopAll: interruptAll,
    ...(format.step !== undefined ? { turn: (url: string) => runtime(format.id, transport, url).runPromise(turn) } : {})
  }))
