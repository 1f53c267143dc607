/**
 * The Stop button, measured. A reasoning model streams a little reasoning and then thinks in
 * silence; one second in, the fiber consuming it is interrupted. The demo prints how long the
 * interrupt took, when the server saw the connection close, and that the next request on the same
 * client still works.
 *
 * With no API key it runs against a local ProviderServer over real HTTP on 127.0.0.1. With
 * MOONSHOT_API_KEY (Kimi) or OPENAI_API_KEY set, it runs against that provider instead.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { type Chunk, LanguageModel, Message } from "@reins/core"
import { Kimi } from "@reins/kimi"
import { OpenAiChat } from "@reins/openai"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { performance } from "node:perf_hooks"

const question = Message.user("Is 2^61 - 1 prime? Think it through carefully before answering.")

const ms = (millis: number) => `${millis.toFixed(2)} ms`

const print = (chunk: Chunk.Chunk) =>
  chunk._tag === "ReasoningDelta" || chunk._tag === "TextDelta"
    ? Effect.sync(() => process.stdout.write(chunk._tag === "ReasoningDelta" ? `\x1b[2m${chunk.text}\x1b[0m` : chunk.text))
    : Effect.void

/** Streams the question, interrupts the consumer after `after`, and reports the timings. */
const stopWhileThinking = (after: Duration) =>
  Effect.gen(function*() {
    const fiber = yield* LanguageModel.stream({ messages: [question], reasoning: { effort: "high" } }).pipe(
      Stream.runForEach(print),
      Effect.fork
    )
    yield* Effect.sleep(after)
    const start = performance.now()
    yield* Fiber.interrupt(fiber)
    const interrupted = performance.now()
    yield* Console.log(`\n\n■ Stop: Fiber.interrupt returned after ${ms(interrupted - start)}`)
    return start
  })

type Duration = `${number} millis`

const local = Effect.gen(function*() {
  const server = yield* ProviderServer.make()
  const thinking: Script.Script = {
    steps: [
      ChatCompletions.start(),
      ...ChatCompletions.reasoning("The user asks whether 2^61 - 1 is prime. That is a Mersenne number. ", { chunkSize: 6 })
        .flatMap((step) => [Script.delay(40), step]),
      Script.stall(60_000)
    ]
  }
  server.enqueue(
    thinking,
    ChatCompletions.reply({ text: "Yes: 2^61 - 1 is a Mersenne prime.", usage: { prompt_tokens: 20, completion_tokens: 12 } }),
    thinking
  )
  yield* Console.log(`Local reasoning model on ${server.url}: it reasons for a moment, then thinks silently for 60 s.\n`)
  yield* Effect.gen(function*() {
    const start = yield* stopWhileThinking("1000 millis")
    const closedAt = yield* Effect.promise(() => server.connectionClosed(server.requests[0].id))
    yield* Console.log(`■ The server saw the connection close ${ms(closedAt - start)} after the interrupt.`)
    const answer = yield* LanguageModel.generate({ messages: [question] })
    const [stopped, next] = server.requests
    yield* Console.log(
      `■ Next request on the same client: "${Message.text(answer)}" (connection #${next.connectionId}; #${stopped.connectionId}, the stopped one, is closed)`
    )
    // The first stop in a process also pays for compiling the code it runs; a second shows the
    // steady state.
    yield* Console.log(
      "\nThat first stop also paid for compiling the code it runs (and the server, in this process, noticed the"
        + "\nclose only when the process was free again). Once more, now that the stop path has run once:\n"
    )
    const again = yield* stopWhileThinking("500 millis")
    const closedAgain = yield* Effect.promise(() => server.connectionClosed(server.requests[2].id))
    yield* Console.log(`■ The server saw the connection close ${ms(closedAgain - again)} after the interrupt.`)
  }).pipe(Effect.provide(OpenAiChat.layer({ model: "local-reasoner", baseUrl: `${server.url}/v1`, apiKey: "sk-local" })))
})

const remote = (model: Layer.Layer<LanguageModel.LanguageModel, never, never>, name: string) =>
  Effect.gen(function*() {
    yield* Console.log(`Asking ${name}; the stream is interrupted one second in.\n`)
    yield* stopWhileThinking("1000 millis")
    const answer = yield* LanguageModel.generate({ messages: [Message.user("Say hello in five words.")] })
    yield* Console.log(`■ Next request on the same client: "${Message.text(answer)}"`)
  }).pipe(Effect.provide(model))

const main = Effect.gen(function*() {
  const moonshot = yield* Config.option(Config.redacted("MOONSHOT_API_KEY"))
  const openai = yield* Config.option(Config.redacted("OPENAI_API_KEY"))
  const client = NodeHttpClient.layerUndici
  if (Option.isSome(moonshot)) {
    return yield* remote(Layer.provide(Layer.orDie(Kimi.layerConfig({ thinking: "enabled" })), client), "Kimi")
  }
  if (Option.isSome(openai)) {
    const model = yield* Config.string("OPENAI_MODEL").pipe(Config.withDefault("gpt-5-mini"))
    return yield* remote(Layer.provide(Layer.orDie(OpenAiChat.layerConfig({ model })), client), `OpenAI ${model}`)
  }
  yield* Effect.scoped(local).pipe(Effect.provide(client))
})

NodeRuntime.runMain(main)
