/**
 * An application built on the packed packages: the README's first example (`readme.ts`, copied
 * from the README as printed) run against `ProviderServer` from `@reins/testing` on 127.0.0.1. The
 * model calls the clock tool, then thinks in silence until the example's Stop; the conversation then
 * goes on. It prints what the server saw, and `consumer-test.sh` checks those lines.
 */
import { Message } from "@reins/core"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import { ConfigProvider, Effect, Tracer } from "effect"
import { program } from "./readme.js"

interface ChatRequest {
  readonly messages: ReadonlyArray<{ readonly role: string; readonly content?: unknown }>
}

const main = Effect.gen(function*() {
  const server = yield* ProviderServer.make()
  server.enqueue(
    ChatCompletions.reply({ toolCalls: [{ id: "call_1", name: "clock", arguments: { tz: "Asia/Tokyo" } }] }),
    { steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("It is 21:04 there, so"), Script.stall()] },
    ChatCompletions.reply({ text: "It was just past nine in the evening in Tokyo." })
  )
  const config = ConfigProvider.fromMap(
    new Map([["OPENAI_API_KEY", "sk-consumer"], ["OPENAI_BASE_URL", `${server.url}/v1`]])
  )

  // Every span the program makes, kept to read the body path each call took.
  const native = yield* Effect.tracer
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = native.span(...args)
      spans.push(span)
      return span
    },
    context: native.context
  })

  const result = yield* program.pipe(Effect.withConfigProvider(config), Effect.withTracer(tracer))

  console.log(`requests: ${server.requests.length}`)
  const [, thinking, next] = server.requests
  if (thinking === undefined || next === undefined) return yield* Effect.die("the server saw fewer than 3 requests")
  const closedAt = yield* Effect.promise(() => server.connectionClosed(thinking.id)).pipe(Effect.timeout("5 seconds"))
  const stopped = thinking.finishedAt === undefined && thinking.clientClosedAt !== undefined
  console.log(`stopped stream: ${stopped ? "the client closed it before its end" : "not stopped by the client"}`)
  console.log(`its connection closed ${(closedAt - thinking.receivedAt).toFixed(0)} ms after the request arrived`)

  const continued = JSON.parse(next.body) as ChatRequest
  console.log(`continued with: ${continued.messages.map((message) => message.role).join(",")}`)
  console.log(`last input: ${String(continued.messages[continued.messages.length - 1]?.content)}`)

  const last = result.messages[result.messages.length - 1]
  console.log(`text: ${last !== undefined && last._tag === "Assistant" ? Message.text(last) : "(no answer)"}`)
  const paths = new Set(spans.filter((span) => span.name === "LanguageModel.stream").map((span) => span.attributes.get("reins.body_path")))
  console.log(`body path: ${[...paths].join(",")}`)
})

Effect.runPromise(Effect.scoped(main).pipe(Effect.timeout("30 seconds"))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
