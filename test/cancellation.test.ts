import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { chatModel as chatModelOn, connectionClosed, forkStream, interruptStream, transports } from "./support.js"

const request = { messages: [Message.user("Think hard")] }


/** A reasoning model that streams a little reasoning, then thinks silently for a minute. */
const silentAfterReasoning = (): Script.Script => ({
  steps: [
    ChatCompletions.start(),
    ...ChatCompletions.reasoning("Let me think about this."),
    Script.stall(60_000)
  ]
})

const quickReply = () => ChatCompletions.reply({ text: "Hello there", usage: { prompt_tokens: 3, completion_tokens: 2 } })

const nextAnswerWorks = Effect.gen(function*() {
  const message = yield* LanguageModel.generate(request)
  expect(Message.text(message)).toBe("Hello there")
})

describe.each(transports)("over $name", ({ layer }) => {
  const chatModel = (server: ProviderServer.ProviderServer) => chatModelOn(server, {}, layer)

  describe("interrupting a model stream closes its connection", () => {
    it.scopedLive("before the response headers", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue({ ...silentAfterReasoning(), headersDelay: 60_000 }, quickReply())
        yield* Effect.gen(function*() {
          const fiber = yield* forkStream(request, { awaitFirst: false })
          const record = yield* Effect.promise(() => server.nextRequest())
          yield* interruptStream(server, fiber, record)
          yield* nextAnswerWorks
        }).pipe(Effect.provide(chatModel(server)))
      }))

    it.scopedLive("while the model is silent mid-body", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(silentAfterReasoning(), quickReply())
        yield* Effect.gen(function*() {
          const fiber = yield* forkStream(request)
          const record = server.requests[0]
          yield* interruptStream(server, fiber, record)
          expect(server.requests[0].clientClosedAt).toBeDefined()
          yield* nextAnswerWorks
        }).pipe(Effect.provide(chatModel(server)))
      }))

    it.scopedLive("while bytes flow", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        const steps = [ChatCompletions.start()]
        for (let i = 0; i < 2_000; i++) steps.push(Script.delay(2), ...ChatCompletions.text(`word${i} `))
        server.enqueue({ steps }, quickReply())
        yield* Effect.gen(function*() {
          const fiber = yield* forkStream(request)
          yield* Effect.sleep("30 millis")
          yield* interruptStream(server, fiber, server.requests[0])
          expect(server.requests[0].finishedAt).toBeUndefined()
          yield* nextAnswerWorks
        }).pipe(Effect.provide(chatModel(server)))
      }))

    it.scopedLive("keeps the client's other connections streaming and pooled", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        const slowReply = ChatCompletions.reply({ text: "Hello there", chunkSize: 1, deltaDelay: 10 })
        server.enqueue(slowReply, silentAfterReasoning(), quickReply())
        yield* Effect.gen(function*() {
          const other = yield* Effect.fork(LanguageModel.generate(request))
          yield* Effect.promise(() => server.nextRequest())
          const stopped = yield* forkStream(request)
          const stoppedRecord = yield* Effect.promise(() => server.nextRequest())
          yield* interruptStream(server, stopped, stoppedRecord)
          // the other stream, on its own connection, finishes untouched
          expect(Message.text(yield* Fiber.join(other))).toBe("Hello there")
          const pooled = server.requests[0].connectionId
          expect(stoppedRecord.connectionId).not.toBe(pooled)
          // and its connection went back to the pool (undici frees it a tick after the body
          // ends, hence the pause): the next request reuses it
          yield* Effect.sleep("20 millis")
          yield* nextAnswerWorks
          expect(server.requests[2].connectionId).toBe(pooled)
        }).pipe(Effect.provide(chatModel(server)))
      }))
  })

  describe("a stream that ends early for any reason releases its connection", () => {
    it.scopedLive("Stream.take", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(silentAfterReasoning(), quickReply())
        yield* Effect.gen(function*() {
          const chunks = yield* LanguageModel.stream(request).pipe(Stream.take(2), Stream.runCollect)
          expect(chunks.length).toBe(2)
          yield* connectionClosed(server, server.requests[0].id)
          yield* nextAnswerWorks
        }).pipe(Effect.provide(chatModel(server)))
      }))

    it.scopedLive("Effect.timeout", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(silentAfterReasoning(), quickReply())
        yield* Effect.gen(function*() {
          const result = yield* LanguageModel.generate(request).pipe(Effect.timeout("100 millis"), Effect.either)
          expect(result._tag === "Left" && result.left._tag).toBe("TimeoutException")
          yield* connectionClosed(server, server.requests[0].id)
          yield* nextAnswerWorks
        }).pipe(Effect.provide(chatModel(server)))
      }))

    it.scopedLive("the loser of Effect.race", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        server.enqueue(silentAfterReasoning(), quickReply())
        yield* Effect.gen(function*() {
          const slow = LanguageModel.generate(request)
          const fast = Effect.zipRight(Effect.sleep("50 millis"), LanguageModel.generate(request))
          const winner = yield* Effect.race(slow, fast)
          expect(Message.text(winner)).toBe("Hello there")
          const loser = server.requests.find((r) => r.finishedAt === undefined)!
          yield* connectionClosed(server, loser.id)
        }).pipe(Effect.provide(chatModel(server)))
      }))
  })

  describe("many interrupts", () => {
    it.scopedLive("1,000 interrupted streams in a row leave no connection open beyond the idle pool", () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make({ handler: () => silentAfterReasoning() })
        yield* Effect.gen(function*() {
          for (let i = 0; i < 1_000; i++) {
            const fiber = yield* forkStream(request)
            yield* Fiber.interrupt(fiber)
          }
          yield* Effect.promise(() => server.waitForOpenConnections(0, 5_000))
          expect(server.requests.length).toBe(1_000)
          expect(server.openConnections()).toBe(0)
          server.enqueue(quickReply())
          yield* nextAnswerWorks
        }).pipe(Effect.provide(chatModel(server)))
      }), 60_000)
  })
})
