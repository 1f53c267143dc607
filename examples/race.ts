/**
 * The same prompt to two models with `Effect.race`: the first answer wins and the loser is
 * interrupted, which closes its connection at once. Runs against two local ProviderServers: a quick
 * model, and a reasoning model that thinks for a minute.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { LanguageModel, Message } from "@reins/core"
import { OpenAiChat } from "@reins/openai"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"

const prompt = { messages: [Message.user("What is the capital of Australia?")] }

/** Races a quick model against a slow thinker; returns the winner's answer and when the loser's connection closed. */
export const race = Effect.gen(function*() {
  const quick = yield* ProviderServer.make()
  const thinker = yield* ProviderServer.make()
  quick.enqueue(ChatCompletions.reply({ text: "Canberra.", deltaDelay: 20 }))
  thinker.enqueue({ steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("Let me consider every city..."), Script.stall(60_000)] })
  const ask = (server: ProviderServer.ProviderServer, name: string) =>
    LanguageModel.generate(prompt).pipe(
      Effect.map((answer) => ({ name, answer })),
      Effect.provide(OpenAiChat.layer({ model: name, apiKey: "sk-local", baseUrl: `${server.url}/v1` }))
    )
  const start = performance.now()
  const winner = yield* Effect.race(ask(quick, "quick-model"), ask(thinker, "deep-thinker"))
  const decided = performance.now()
  const loserClosed = yield* Effect.promise(() => thinker.connectionClosed(thinker.requests[0].id))
  yield* Console.log(`${winner.name} won in ${(decided - start).toFixed(0)} ms: ${Message.text(winner.answer)}`)
  yield* Console.log(`the loser's server saw its connection close ${(loserClosed - decided).toFixed(2)} ms after the race was decided`)
  return { winner: winner.name, text: Message.text(winner.answer), loserClosedAfter: loserClosed - decided }
}).pipe(Effect.scoped)

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  NodeRuntime.runMain(race.pipe(Effect.provide(NodeHttpClient.layerUndici)))
}
