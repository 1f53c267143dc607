/**
 * Two more ways to stop a turn: `Effect.timeout`, and an `AbortSignal` held by code that does not
 * use Effect (a UI framework's Stop button, say) bridged with `Turn.abortable`. Either way the
 * model's connection closes and the conversation keeps the partial answer, ready to continue.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Message, Turn } from "@reins/core"
import { OpenAiChat } from "@reins/openai"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { pathToFileURL } from "node:url"

/** A model that starts to answer and then thinks silently for a minute. */
const slowThinker = (): Script.Script => ({
  steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("Considering..."), ...ChatCompletions.text("Well,"), Script.stall(60_000)]
})

/** Runs both stops against a local server; resolves with what each left in its conversation. */
export const main = async () => {
  const server = await ProviderServer.start()
  const model = OpenAiChat.layer({ model: "slow-thinker", apiKey: "sk-local", baseUrl: `${server.url}/v1` }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )
  try {
    // 1. Effect.timeout: the turn is interrupted after 300 ms.
    server.enqueue(slowThinker())
    const timedOut = await Effect.runPromise(
      Effect.gen(function*() {
        const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
        const result = yield* Turn.run({ conversation, input: "Explain it all." }).pipe(Effect.timeout("300 millis"), Effect.either)
        return { timedOut: result._tag === "Left", history: yield* SubscriptionRef.get(conversation) }
      }).pipe(Effect.provide(model))
    )
    console.log(`Effect.timeout: timed out = ${timedOut.timedOut}; kept "${Message.text(timedOut.history[1] as Message.Assistant)}"`)

    // 2. An AbortSignal from plain promise code.
    server.enqueue(slowThinker())
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 300)
    const conversation = Effect.runSync(SubscriptionRef.make<ReadonlyArray<Message.Message>>([]))
    const exit = await Effect.runPromiseExit(
      Turn.abortable(Turn.run({ conversation, input: "Explain it all." }), controller.signal).pipe(Effect.provide(model))
    )
    const history = Effect.runSync(SubscriptionRef.get(conversation))
    console.log(`AbortSignal: interrupted = ${Exit.isInterrupted(exit)}; kept "${Message.text(history[1] as Message.Assistant)}"`)

    const closed = await Promise.all(server.requests.map((request) => server.connectionClosed(request.id)))
    console.log(`the server saw both connections close (${closed.length} of ${server.requests.length})`)
    return { timedOut, aborted: { interrupted: Exit.isInterrupted(exit), history } }
  } finally {
    await server.close()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await main()
}
