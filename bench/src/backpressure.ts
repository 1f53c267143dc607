/**
 * Backpressure: a long reply (`deltas` text deltas, tens of MB) whose consumer reads a few events
 * and then pauses before reading on. What a consumer that reads nothing holds back is the measure
 * of a client: the heap growth during the pause (heap used after a full collection, at the pause's
 * end against its start), and how many bytes the server (in a worker thread, so neither its
 * memory nor its work is counted here) had written when the pause ended. A client that honours
 * backpressure stops reading the socket while its consumer pauses, so the server is held back once
 * the socket buffers are full; one that buffers without bound lets it write the whole reply into
 * this process's heap.
 *
 * Raw undici with its body left unread is the reference: what it lets the server write is what the
 * socket buffers hold. Reins' `LanguageModel.stream` shows the model stream alone, and
 * `Turn.stream` the turn on top of it. After the pause every reader reads the reply to its end,
 * and the deltas it counted are checked against those sent.
 */
import { LanguageModel, Message, Turn } from "@reins/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as fs from "node:fs"
import * as FloodServer from "./floodServer.js"
import { gc, rotation, table } from "./harness.js"
import { prompt, version } from "./peers/client.js"
import { feed } from "./peers/fetch.js"
import * as Reins from "./peers/reins.js"
import * as Undici from "./peers/undici.js"
import { fmt, summarize } from "./stats.js"
import * as Wire from "./wire.js"
import * as WorkerServer from "./workerServer.js"

/** Text deltas a consumer reads before it pauses. */
const FEW = 3

/** One reader of the reply: reads until `pause` says so, awaits it, then reads to the end; resolves with the deltas it counted. */
interface Reader {
  readonly name: string
  readonly read: (url: string, pause: () => Promise<void>) => Promise<number>
}

/** What one pause measured, or the medians of several. */
export interface Pause {
  readonly heapGrowthMB: number
  /** Bytes of the reply the server had handed to its socket when the pause ended. */
  readonly writtenMB: number
}

/** The scenario's figures: the reply's size, the kernel's socket buffer limits, each reader's pause. */
export interface Results {
  readonly deltas: number
  readonly pauseMs: number
  readonly replyMB: number
  /** The largest send and receive buffers the kernel grows a TCP socket to, where it says (Linux). */
  readonly kernel: { readonly sendMaxMB: number; readonly receiveMaxMB: number } | undefined
  readonly readers: ReadonlyArray<{ readonly name: string; readonly value: Pause } | { readonly name: string; readonly error: string }>
}

/** The reader that shows what the socket buffers hold. */
export const REFERENCE = `raw undici ${version("undici")}, body left unread`

const chat = Wire.byId("chat")

const rawUndici: Reader = {
  name: REFERENCE,
  read: async (url, pause) => {
    const response = await Undici.request(url, chat)
    response.body.setEncoding("utf8")
    let deltas = 0
    let paused = false
    let buffer = ""
    for await (const piece of response.body) {
      buffer = feed(buffer + piece, chat.textOf, () => void deltas++)
      // While the loop awaits, nothing reads the body: undici stops reading the socket once the
      // body's buffer is full.
      if (!paused && deltas >= FEW) {
        paused = true
        await pause()
      }
    }
    return deltas
  }
}

/** Reads `stream` chunk by chunk through its pull, pausing once `FEW` text deltas have come. */
const pausedRead = <A, E, R>(stream: Stream.Stream<A, E, R>, isDelta: (a: A) => boolean, pause: () => Promise<void>) =>
  Effect.scoped(Effect.gen(function*() {
    const pull = yield* Stream.toPull(stream)
    let deltas = 0
    let paused = false
    for (;;) {
      const chunk = yield* Effect.catchAll(pull, (error) => Option.isNone(error) ? Effect.succeed(undefined) : Effect.fail(error.value))
      if (chunk === undefined) return deltas
      for (const a of chunk) if (isDelta(a)) deltas++
      if (!paused && deltas >= FEW) {
        paused = true
        yield* Effect.promise(pause)
      }
    }
  }))

const reinsStream: Reader = {
  name: "Reins on undici: LanguageModel.stream",
  read: (url, pause) =>
    Reins.runtime("chat", "undici", url).runPromise(
      pausedRead(LanguageModel.stream({ messages: [Message.user(prompt)] }), (chunk) => chunk._tag === "TextDelta", pause)
    )
}

const reinsTurn: Reader = {
  name: "Reins on undici: Turn.stream",
  read: (url, pause) =>
    Reins.runtime("chat", "undici", url).runPromise(Effect.gen(function*() {
      const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
      return yield* pausedRead(
        Turn.stream({ conversation, input: prompt }),
        (event) => event._tag === "StreamPart" && event.part._tag === "TextDelta",
        pause
      )
    }))
}

/** The readers, the reference first. */
export const readers: ReadonlyArray<Reader> = [rawUndici, reinsStream, reinsTurn]

/** The name of the row the target is about. */
export const TARGET = reinsTurn.name

/**
 * How far above the reference a reader may let the server write and still count as holding it
 * back: the kernel grows a socket's buffers with the traffic, so two readers that both stop
 * reading differ by a little from run to run.
 */
export const TOLERANCE = 1.25

const MB = 2 ** 20

const kernelLimits = (): Results["kernel"] => {
  try {
    const max = (file: string) => Number(fs.readFileSync(`/proc/sys/net/ipv4/${file}`, "utf8").trim().split(/\s+/)[2]) / MB
    return { sendMaxMB: max("tcp_wmem"), receiveMaxMB: max("tcp_rmem") }
  } catch {
    return undefined
  }
}

const once = async (server: FloodServer.FloodServer, reader: Reader, deltas: number, pauseMs: number): Promise<Pause> => {
  let measured: Pause | undefined
  const pause = async () => {
    gc()
    const before = process.memoryUsage().heapUsed
    await new Promise((resolve) => setTimeout(resolve, pauseMs))
    const progress = await server.call.progress()
    gc()
    measured = { heapGrowthMB: (process.memoryUsage().heapUsed - before) / MB, writtenMB: progress.written / MB }
  }
  const read = await reader.read(server.url, pause)
  if (read !== deltas) throw new Error(`counted ${read} text deltas, not the ${deltas} sent`)
  if (measured === undefined) throw new Error("the reply ended before the pause")
  return measured
}

/** Every reader's pauses, in rounds with the reader order rotating, as medians. */
export const run = async (
  deltas: number,
  rounds: { readonly warmup: number; readonly runs: number; readonly pauseMs: number }
): Promise<Results> => {
  const server = await WorkerServer.inWorker<FloodServer.FloodMethods>(FloodServer.module, { deltas })
  const samples = new Map<Reader, Array<Pause>>(readers.map((reader) => [reader, []]))
  const errors = new Map<Reader, string>()
  try {
    for (let round = 0; round < rounds.warmup + rounds.runs; round++) {
      for (const reader of rotation(readers, round)) {
        if (errors.has(reader)) continue
        try {
          const pause = await once(server, reader, deltas, rounds.pauseMs)
          if (round >= rounds.warmup) samples.get(reader)!.push(pause)
        } catch (error) {
          errors.set(reader, error instanceof Error ? error.message : String(error))
          console.error(`  backpressure · ${reader.name}: ${errors.get(reader)}`)
        }
      }
    }
    const { total } = await server.call.progress()
    return {
      deltas,
      pauseMs: rounds.pauseMs,
      replyMB: total / MB,
      kernel: kernelLimits(),
      readers: readers.map((reader) => {
        const error = errors.get(reader)
        if (error !== undefined) return { name: reader.name, error }
        const pauses = samples.get(reader)!
        const median = (pick: (pause: Pause) => number) => summarize(pauses.map(pick)).median
        return { name: reader.name, value: { heapGrowthMB: median((p) => p.heapGrowthMB), writtenMB: median((p) => p.writtenMB) } }
      })
    }
  } finally {
    await server.close()
  }
}

/** The reference reader's figures, when it succeeded. */
export const referenceOf = (results: Results): Pause | undefined => {
  const row = results.readers.find((reader) => reader.name === REFERENCE)
  return row !== undefined && "value" in row ? row.value : undefined
}

/** The figures as plain data for `results.json`. */
export const json = (results: Results) => results

/** The markdown table, with the reply's size and the kernel's limits under it. */
export const render = (results: Results): string => {
  const reference = referenceOf(results)
  const title = `Backpressure: a ${results.deltas.toLocaleString("en")}-delta Chat Completions reply (${fmt(results.replyMB, 1)} MB); the consumer reads ${FEW} text deltas, then pauses for ${fmt(results.pauseMs / 1000, 0)} s; server in a worker thread (median of the measured rounds)`
  const rows = results.readers.map((reader) =>
    "error" in reader
      ? [reader.name, `failed: ${reader.error.replaceAll("|", "/")}`, "", "", ""]
      : [
        reader.name,
        fmt(reader.value.heapGrowthMB, 2),
        fmt(reader.value.writtenMB, 2),
        `${fmt(100 * reader.value.writtenMB / results.replyMB, 0)} %`,
        reference !== undefined ? `${fmt(reader.value.writtenMB / reference.writtenMB)}x` : ""
      ]
  )
  const kernel = results.kernel !== undefined
    ? `\n\nThe kernel grows a TCP socket's send buffer to at most ${fmt(results.kernel.sendMaxMB, 1)} MB and its receive buffer to at most ${fmt(results.kernel.receiveMaxMB, 1)} MB (tcp_wmem, tcp_rmem); the first row is what the buffers held here.`
    : ""
  return table(title, ["reader", "heap growth during the pause, MB", "server had written by its end, MB", "of the reply", "written vs the socket buffers (first row)"], rows) + kernel
}
