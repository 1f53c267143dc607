/**
 * Side-by-side benchmarks on one local ProviderServer, in one process and one run, reported as
 * ratios against raw `fetch`. Writes `bench/results.json` and prints a table.
 *
 *   npm run bench                  # full run
 *   BENCH_QUICK=1 npm run bench    # fewer samples, for a smoke test
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { LanguageModel, Message } from "@reins/core"
import { OpenAiChat } from "@reins/openai"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import * as Formats from "./formats.js"
import * as RawFetch from "./rawFetch.js"
import * as TurnBench from "./turn.js"
import * as RemoteServer from "./workerServer.js"
import { fmt, summarize, type Summary } from "./stats.js"

const quick = process.env.BENCH_QUICK === "1"
const INTERRUPTS = quick ? 50 : 300
const DELTAS = 20_000
const THROUGHPUT_RUNS = quick ? 3 : 9

const server = await ProviderServer.start({ keepAliveTimeout: 60_000 })
const baseUrl = `${server.url}/v1`
const chatUrl = `${baseUrl}/chat/completions`
const requestBody = { model: "bench", messages: [{ role: "user", content: "go" }], stream: true }

/** Both of `@effect/platform-node`'s clients; node:http with a keep-alive pool. */
const transportLayers = {
  undici: NodeHttpClient.layerUndici,
  "node:http": NodeHttpClient.layerWithoutAgent.pipe(Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true })))
}
type Transport = keyof typeof transportLayers
const transports = Object.keys(transportLayers) as Array<Transport>
const model = OpenAiChat.layer({ model: "bench", apiKey: "sk-bench", baseUrl })
/** The Chat Completions model on each transport. */
const runtimes = {
  undici: ManagedRuntime.make(model.pipe(Layer.provide(transportLayers.undici))),
  "node:http": ManagedRuntime.make(model.pipe(Layer.provide(transportLayers["node:http"])))
}

/** A model that sends one delta and then thinks silently. */
const stalled = (): Script.Script => ({ steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("Hmm."), Script.stall()] })

const gc = () => (globalThis as { gc?: () => void }).gc?.()

// --- Scenario: interrupt-to-close --------------------------------------------------------------

/** Streams until the first chunk, interrupts the consumer, and returns when that was on `clock`. */
const streamThenInterrupt = (clock: () => number) =>
  Effect.gen(function*() {
    const first = yield* Deferred.make<void>()
    const fiber = yield* LanguageModel.stream({ messages: [Message.user("go")] }).pipe(
      Stream.tap(() => Deferred.succeed(first, undefined)),
      Stream.runDrain,
      Effect.fork
    )
    yield* Deferred.await(first)
    const start = clock()
    yield* Fiber.interrupt(fiber)
    return start
  })

const reinsInterrupt = async (transport: Transport): Promise<number> => {
  server.enqueue(stalled())
  const record = server.nextRequest()
  const start = await runtimes[transport].runPromise(streamThenInterrupt(() => performance.now()))
  return (await server.connectionClosed((await record).id)) - start
}

const fetchInterrupt = async (): Promise<number> => {
  server.enqueue(stalled())
  const record = server.nextRequest()
  const abort = await RawFetch.openStalled(chatUrl, requestBody)
  const start = performance.now()
  abort()
  return (await server.connectionClosed((await record).id)) - start
}

type InterruptSummaries = Record<"fetch" | Transport, Summary>

/**
 * Runs every client once a round, interleaved so that each sees the same machine state: 50 warm-up
 * rounds, then `INTERRUPTS` measured ones.
 */
const interleaved = async (
  reins: (transport: Transport) => Promise<number>,
  fetchOnce: () => Promise<number>
): Promise<InterruptSummaries> => {
  const samples: Record<"fetch" | Transport, Array<number>> = { fetch: [], undici: [], "node:http": [] }
  const round = async (record: boolean) => {
    for (const transport of transports) {
      const sample = await reins(transport)
      if (record) samples[transport].push(sample)
    }
    const sample = await fetchOnce()
    if (record) samples.fetch.push(sample)
  }
  for (let i = 0; i < 50; i++) await round(false)
  gc()
  for (let i = 0; i < INTERRUPTS; i++) await round(true)
  return { fetch: summarize(samples.fetch), undici: summarize(samples.undici), "node:http": summarize(samples["node:http"]) }
}

const interruptToClose = () => interleaved(reinsInterrupt, fetchInterrupt)

// --- Scenario: interrupt-to-close, the server in another thread ---------------------------------

/** The same measurement with the server on its own event loop, as a remote provider is. */
const interruptToRemoteClose = async () => {
  const remote = await RemoteServer.start()
  const remoteModel = OpenAiChat.layer({ model: "bench", apiKey: "sk-bench", baseUrl: `${remote.url}/v1` })
  const remoteRuntimes = {
    undici: ManagedRuntime.make(remoteModel.pipe(Layer.provide(transportLayers.undici))),
    "node:http": ManagedRuntime.make(remoteModel.pipe(Layer.provide(transportLayers["node:http"])))
  }
  const reins = async (transport: Transport) => {
    const start = await remoteRuntimes[transport].runPromise(streamThenInterrupt(RemoteServer.now))
    return (await remote.nextClose()) - start
  }
  const fetchOnce = async () => {
    const abort = await RawFetch.openStalled(`${remote.url}/v1/chat/completions`, requestBody)
    const start = RemoteServer.now()
    abort()
    return (await remote.nextClose()) - start
  }
  const result = await interleaved(reins, fetchOnce)
  for (const runtime of Object.values(remoteRuntimes)) await runtime.dispose()
  await remote.close()
  return result
}

// --- Scenario: throughput -----------------------------------------------------------------------

interface Throughput {
  readonly eventsPerSecond: number
  readonly cpuMicrosPerEvent: number
}

const measureThroughput = async (body: string, expected: string, run: () => Promise<string>): Promise<Throughput> => {
  const rates: Array<number> = []
  const cpu: Array<number> = []
  const once = async () => {
    server.enqueue(Script.make([Script.raw(body)]))
    const cpuStart = process.cpuUsage()
    const start = performance.now()
    const text = await run()
    const seconds = (performance.now() - start) / 1000
    const used = process.cpuUsage(cpuStart)
    if (text !== expected) throw new Error("the stream did not assemble to the expected text")
    return { rate: DELTAS / seconds, cpu: (used.user + used.system) / DELTAS }
  }
  for (let i = 0; i < 10; i++) await once() // warm up: let the JIT settle before measuring
  for (let i = 0; i < THROUGHPUT_RUNS; i++) {
    gc()
    const sample = await once()
    rates.push(sample.rate)
    cpu.push(sample.cpu)
  }
  return { eventsPerSecond: summarize(rates).median, cpuMicrosPerEvent: summarize(cpu).median }
}

/** Each format: raw fetch with a hand-written parser, then Reins on each transport. */
const throughput = async () => {
  const expected = Formats.text(DELTAS)
  const results: Array<{ readonly format: string; readonly client: string; readonly result: Throughput; readonly ratio: number }> = []
  for (const format of Formats.formats(DELTAS)) {
    const floor = await measureThroughput(format.body, expected, async () =>
      (await RawFetch.streamText(format.path(server.url), requestBody, format.textOf)).text)
    results.push({ format: format.name, client: "raw fetch + hand-written parser", result: floor, ratio: 1 })
    for (const transport of transports) {
      const runtime = ManagedRuntime.make(format.layer(server.url).pipe(Layer.provide(transportLayers[transport])))
      const result = await measureThroughput(format.body, expected, () =>
        runtime.runPromise(Effect.map(LanguageModel.generate({ messages: [Message.user("go")] }), Message.text)))
      await runtime.dispose()
      results.push({ format: format.name, client: `Reins on ${transport}`, result, ratio: result.eventsPerSecond / floor.eventsPerSecond })
    }
  }
  return results
}

// --- Report ------------------------------------------------------------------------------------

const interrupt = await interruptToClose()
const remoteInterrupt = await interruptToRemoteClose()
const speed = await throughput()
const turn = await TurnBench.run(server, runtimes.undici, quick ? 50 : 200)
for (const runtime of Object.values(runtimes)) await runtime.dispose()
await server.close()

const row = (name: string, s: Summary, base: Summary) =>
  `| ${name} | ${fmt(s.median, 3)} | ${fmt(s.p90, 3)} | ${fmt(s.p99, 3)} | ${fmt(s.max, 3)} | ${fmt(s.median / base.median)}x |`
const interruptTable = (title: string, result: InterruptSummaries) => [
  title,
  "",
  "| client | median | p90 | p99 | max | median vs fetch |",
  "| --- | --- | --- | --- | --- | --- |",
  row("raw fetch + AbortController", result.fetch, result.fetch),
  row("Reins OpenAiChat on undici, Fiber.interrupt", result.undici, result.fetch),
  row("Reins OpenAiChat on node:http, Fiber.interrupt", result["node:http"], result.fetch),
  ""
]
const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, Node ${process.version}`
const table = [
  `Machine: ${machine}`,
  "",
  ...interruptTable(`Interrupt to server-side close, stalled stream, ms (${INTERRUPTS} runs each, interleaved)`, interrupt),
  ...interruptTable(
    `Interrupt to close seen by a server in a worker thread (its own event loop, as a remote provider), ms (${INTERRUPTS} runs each, interleaved)`,
    remoteInterrupt
  ),
  `Throughput, ${DELTAS.toLocaleString("en")}-delta text stream of each format to assembled text (median of ${THROUGHPUT_RUNS})`,
  "",
  "| format | client | events/s | CPU µs/event | vs fetch |",
  "| --- | --- | --- | --- | --- |",
  ...speed.map((row) =>
    `| ${row.format} | ${row.client} | ${Math.round(row.result.eventsPerSecond).toLocaleString("en")} | ${fmt(row.result.cpuMicrosPerEvent)} | ${fmt(row.ratio)}x |`
  ),
  "",
  TurnBench.table(turn)
].join("\n")
console.log(table)

const resultsPath = new URL("../results.json", import.meta.url)
fs.writeFileSync(
  resultsPath,
  JSON.stringify({ date: new Date().toISOString(), machine, quick, interruptToClose: interrupt, interruptToRemoteClose: remoteInterrupt, throughput: speed, turnInterrupt: turn }, null, 2) + "\n"
)
console.log(`\nWrote ${resultsPath.pathname}`)
