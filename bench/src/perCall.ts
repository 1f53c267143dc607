/**
 * The fixed cost of one call, in measures that other work on a shared machine does not move:
 * bytes allocated, Effect operations run and fibers started per call, for calls on a warm pool
 * against the short-reply server in a worker thread, one after another and in bursts. Run on its
 * own (see bench/README.md for the command); the bench's scenarios time what this counts.
 *
 * Bytes are counted as the growth of the heap between two full collections with no collection in
 * between: the young generation is made large enough (`--max-semi-space-size`) that a batch of
 * calls never fills it, and a batch during which V8 collected anyway is measured again.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import { performance, PerformanceObserver } from "node:perf_hooks"
import { LanguageModel, Message } from "@reins/core"
import { layers } from "./formats.js"
import type { Client } from "./peers/client.js"
import { disposeAll, prompt } from "./peers/client.js"
import * as Reins from "./peers/reins.js"
import * as Undici from "./peers/undici.js"
import * as ReplyServer from "./replyServer.js"
import * as Wire from "./wire.js"
import * as WorkerServer from "./workerServer.js"

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with --expose-gc")

/** When each collection started; the observer hears of one some milliseconds after it. */
const collections: Array<number> = []
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) collections.push(entry.startTime)
}).observe({ entryTypes: ["gc"] })
const collectedBetween = async (from: number, to: number) => {
  await new Promise((resolve) => setTimeout(resolve, 20))
  return collections.some((at) => at >= from && at <= to)
}

const calls = async (client: Client, url: string, count: number, together: boolean) => {
  if (together) {
    await Promise.all(Array.from({ length: count }, () => client.start(url, () => {}).done))
  } else {
    for (let i = 0; i < count; i++) await client.start(url, () => {}).done
  }
}

/** Bytes allocated per call: the median of `batches` batches that ran with no collection. */
const bytesPerCall = async (client: Client, url: string, count: number, together: boolean, batches = 5) => {
  const figures: Array<number> = []
  for (let tries = 0; figures.length < batches && tries < batches * 4; tries++) {
    gc!()
    await new Promise((resolve) => setTimeout(resolve, 5))
    gc!()
    const from = performance.now()
    const before = process.memoryUsage().heapUsed
    await calls(client, url, count, together)
    const after = process.memoryUsage().heapUsed
    if (!(await collectedBetween(from, performance.now()))) figures.push((after - before) / count)
  }
  figures.sort((a, b) => a - b)
  return figures.length === 0 ? Number.NaN : figures[figures.length >> 1]
}

class Counting extends Supervisor.AbstractSupervisor<void> {
  effects = 0
  fibers = 0
  get value() {
    return Effect.void
  }
  override onStart() {
    this.fibers++
  }
  override onEffect() {
    this.effects++
  }
}

/** Effect operations and fibers per run of `once`, one run at a time, with `layer`. */
const effectsPerRun = async <R>(layer: Layer.Layer<R>, once: Effect.Effect<unknown, unknown, R>, count: number) => {
  const counting = new Counting()
  const runtime = ManagedRuntime.make(Layer.provide(layer, Layer.merge(Supervisor.addSupervisor(counting), RuntimeFlags.enableOpSupervision)))
  for (let i = 0; i < 20; i++) await runtime.runPromise(once)
  counting.effects = 0
  counting.fibers = 0
  for (let i = 0; i < count; i++) {
    const exit = await runtime.runPromiseExit(once)
    if (Exit.isFailure(exit)) throw new Error(`a call failed: ${Option.getOrUndefined(Exit.causeOption(exit))}`)
  }
  await runtime.dispose()
  return { effects: counting.effects / count, fibers: counting.fibers / count }
}

/** A Reins call on `transport`, consumed as the bench's clients consume it. */
const reinsCall = LanguageModel.stream({ messages: [Message.user(prompt)] }).pipe(Stream.runForEachChunk(() => Effect.void))

/**
 * What Reins is built on, without Reins: running an Effect stream (any stream costs this much to
 * run with `Stream.runForEachChunk`), and one `@effect/platform` request on undici whose body is read
 * straight from its Node stream.
 */
const floors = (url: string) => {
  const request = HttpClientRequest.post(`${url}/v1/chat/completions`).pipe(
    HttpClientRequest.bearerToken("sk-bench"),
    HttpClientRequest.bodyUnsafeJson({ model: "bench", stream: true, messages: [{ role: "user", content: prompt }] })
  )
  const platformRequest = Effect.scoped(Effect.flatMap(HttpClient.HttpClient, (client) =>
    Effect.flatMap(HttpClient.withScope(client).execute(request), (response) =>
      Effect.async<void>((resume) => {
        const body = (response as unknown as { readonly source: { readonly body: NodeJS.ReadableStream } }).source.body
        body.on("data", () => {})
        body.on("end", () => resume(Effect.void))
      }))))
  return [
    { name: "an Effect stream run (Stream.empty, runForEachChunk)", layer: Layer.empty, once: Stream.runForEachChunk(Stream.empty, () => Effect.void) },
    { name: "an @effect/platform request on undici, body read by hand", layer: Reins.transports.undici, once: platformRequest }
  ] as const
}

/** Runs `once` as a client, so that the byte counts above measure it like the others. */
const asClient = <R>(name: string, runtime: ManagedRuntime.ManagedRuntime<R, never>, once: Effect.Effect<unknown, unknown, R>): Client => ({
  name,
  kind: "floor",
  format: "chat",
  start: () => {
    const done = runtime.runPromise(once).then(() => {})
    return { done, stop: () => {} }
  }
})

const main = async () => {
  const server = await WorkerServer.inWorker<ReplyServer.ReplyMethods>(ReplyServer.module)
  const chat = Wire.all.find((format) => format.id === "chat")!
  const clients: ReadonlyArray<Client> = [
    Undici.clients.find((client) => client.format === "chat")!,
    ...Reins.clients("undici").filter((client) => client.format === chat.id),
    ...Reins.clients("node:http").filter((client) => client.format === chat.id)
  ]
  try {
    const rows: Array<Record<string, string>> = []
    for (const client of clients) {
      // Warm the code and open the pool's connections.
      for (let i = 0; i < 5; i++) await calls(client, server.url, 200, true)
      for (let i = 0; i < 3; i++) await calls(client, server.url, 200, false)
      const one = await bytesPerCall(client, server.url, 200, false)
      const burst = await bytesPerCall(client, server.url, 200, true)
      const transport = client.name.endsWith("node:http") ? "node:http" : client.name.endsWith("undici") ? "undici" : undefined
      const counted = client.kind === "reins" && transport !== undefined
        ? await effectsPerRun(layers.chat(server.url).pipe(Layer.provide(Reins.transports[transport])), reinsCall, 200)
        : undefined
      rows.push({
        client: client.name,
        "KB/call, one at a time": (one / 1024).toFixed(1),
        "KB/call, 200 together": (burst / 1024).toFixed(1),
        "Effect ops/call": counted === undefined ? "" : counted.effects.toFixed(0),
        "fibers/call": counted === undefined ? "" : counted.fibers.toFixed(1)
      })
    }
    for (const floor of floors(server.url)) {
      const runtime = ManagedRuntime.make(floor.layer as Layer.Layer<never>)
      const client = asClient(floor.name, runtime, floor.once as Effect.Effect<unknown, unknown, never>)
      for (let i = 0; i < 5; i++) await calls(client, server.url, 200, true)
      const one = await bytesPerCall(client, server.url, 200, false)
      const burst = await bytesPerCall(client, server.url, 200, true)
      const counted = await effectsPerRun(floor.layer as Layer.Layer<never>, floor.once as Effect.Effect<unknown, unknown, never>, 200)
      await runtime.dispose()
      rows.push({
        client: floor.name,
        "KB/call, one at a time": (one / 1024).toFixed(1),
        "KB/call, 200 together": (burst / 1024).toFixed(1),
        "Effect ops/call": counted.effects.toFixed(0),
        "fibers/call": counted.fibers.toFixed(1)
      })
    }
    console.table(rows)
  } finally {
    await disposeAll()
    await server.close()
  }
}

await main()
