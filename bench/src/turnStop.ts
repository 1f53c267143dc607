/**
 * How fast a turn stops: interrupted while eight tools run (each holding a resource), and while
 * the model is silent mid-reasoning. Times from `Fiber.interrupt` to the turn fiber's end, to the
 * last tool finalizer, and to the server seeing the model's connection close.
 */
import { type LanguageModel, Message, Tool, Toolkit, Turn } from "@reins/core"
import { ChatCompletions, type ProviderServer, Script } from "@reins/testing"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { performance } from "node:perf_hooks"
import { fmt, summarize, type Summary } from "./stats.js"

const TOOLS = 8

/** The figures of both phases. */
export interface TurnInterrupt {
  readonly toolsRunning: { readonly fiberEnd: Summary; readonly lastFinalizer: Summary }
  readonly modelSilent: { readonly fiberEnd: Summary; readonly connectionClosed: Summary }
}

/** Runs both phases `runs` times each on `runtime`, whose model is served by `server`. */
export const run = async (
  server: ProviderServer.ProviderServer,
  runtime: ManagedRuntime.ManagedRuntime<LanguageModel.LanguageModel, never>,
  runs: number
): Promise<TurnInterrupt> => {
  const tools = { fiberEnd: [] as Array<number>, lastFinalizer: [] as Array<number> }
  const silent = { fiberEnd: [] as Array<number>, connectionClosed: [] as Array<number> }
  const calls = Array.from({ length: TOOLS }, (_, i) => ({ id: `call_${i}`, name: "hold", arguments: "{}" }))

  for (let i = 0; i < runs + 10; i++) {
    const measured = i >= 10
    // Phase 1: eight tools running.
    server.enqueue(ChatCompletions.reply({ toolCalls: calls }))
    const sample = await runtime.runPromise(Effect.gen(function*() {
      let lastRelease = 0
      let acquired = 0
      const allAcquired = yield* Deferred.make<void>()
      const hold = Tool.make("hold", {
        parameters: Schema.Struct({}),
        success: Schema.String,
        handler: () =>
          Effect.acquireRelease(
            Effect.suspend(() => ++acquired === TOOLS ? Deferred.succeed(allAcquired, undefined) : Effect.void),
            () => Effect.sync(() => void (lastRelease = performance.now()))
          ).pipe(Effect.zipRight(Effect.never), Effect.scoped)
      })
      const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
      const fiber = yield* Effect.fork(Turn.run({ conversation, input: "go", toolkit: Toolkit.make(hold) }))
      yield* Deferred.await(allAcquired)
      const start = performance.now()
      yield* Fiber.interrupt(fiber)
      return { fiberEnd: performance.now() - start, lastFinalizer: lastRelease - start }
    }))
    if (measured) tools.fiberEnd.push(sample.fiberEnd), tools.lastFinalizer.push(sample.lastFinalizer)

    // Phase 2: the model silent mid-reasoning.
    server.enqueue({ steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("Let me think."), Script.stall()] })
    const silentSample = await runtime.runPromise(Effect.gen(function*() {
      const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
      const reasoning = yield* Deferred.make<void>()
      const fiber = yield* Turn.stream({ conversation, input: "think" }).pipe(
        Stream.tap((event) => event._tag === "StreamPart" && event.part._tag === "ReasoningDelta" ? Deferred.succeed(reasoning, undefined) : Effect.void),
        Stream.runDrain,
        Effect.fork
      )
      yield* Deferred.await(reasoning)
      const start = performance.now()
      yield* Fiber.interrupt(fiber)
      return { start, fiberEnd: performance.now() - start }
    }))
    const closedAt = await server.connectionClosed(server.requests[server.requests.length - 1].id)
    if (measured) silent.fiberEnd.push(silentSample.fiberEnd), silent.connectionClosed.push(closedAt - silentSample.start)
  }
  return {
    toolsRunning: { fiberEnd: summarize(tools.fiberEnd), lastFinalizer: summarize(tools.lastFinalizer) },
    modelSilent: { fiberEnd: summarize(silent.fiberEnd), connectionClosed: summarize(silent.connectionClosed) }
  }
}

/** The markdown table of the figures. */
export const table = (result: TurnInterrupt): string => {
  const row = (name: string, s: Summary) => `| ${name} | ${fmt(s.median, 3)} | ${fmt(s.p90, 3)} | ${fmt(s.p99, 3)} | ${fmt(s.max, 3)} |`
  return [
    `Stopping a turn, ms from Fiber.interrupt (${result.toolsRunning.fiberEnd.n} runs each)`,
    "",
    "| what | median | p90 | p99 | max |",
    "| --- | --- | --- | --- | --- |",
    row(`${TOOLS} tools running: turn fiber ended`, result.toolsRunning.fiberEnd),
    row(`${TOOLS} tools running: last finalizer ran`, result.toolsRunning.lastFinalizer),
    row("model silent: turn stream fiber ended", result.modelSilent.fiberEnd),
    row("model silent: server saw the connection close", result.modelSilent.connectionClosed)
  ].join("\n")
}
