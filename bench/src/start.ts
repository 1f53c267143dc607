/**
 * Starting many calls at once: `calls` provider calls started in one synchronous loop against a
 * fresh server in a worker thread (so every client opens its connections anew, as a burst does),
 * and the time until every call's first text delta has reached its consumer. Beside it: when the
 * first and the last request reached the server, and the CPU the client's main thread spent per
 * call until the last first delta (the server's thread is not in it). The rest of each reply is
 * then read, outside the figures, before the next burst.
 */
import { interleaved, type Outcome, outcomeTable, type Rounds, settle, withTimeout } from "./harness.js"
import type { Client, Running } from "./peers/client.js"
import * as ReplyServer from "./replyServer.js"
import { fmt, summarize } from "./stats.js"
import { listenOverflows, threadCpuMs } from "./procfs.js"
import * as WorkerServer from "./workerServer.js"

/** One burst, or the medians of several; milliseconds from the start of the loop that started the calls. */
export interface Start {
  /** When the last call's first text delta reached its consumer. */
  readonly allFirstMs: number
  readonly firstArrivalMs: number
  readonly lastArrivalMs: number
  /** Main-thread CPU per call until the last first delta, where the OS reports it. */
  readonly cpuPerCallUs: number | undefined
}

/** The client every other is compared with here. */
export const isRawUndici = (client: Client) => client.name.startsWith("raw undici")

const burst = async (client: Client, calls: number, timeoutMs: number): Promise<Start> => {
  const server = await WorkerServer.inWorker<ReplyServer.ReplyMethods>(ReplyServer.module)
  const running: Array<Running> = []
  try {
    let waiting = calls
    let lastFirst = 0
    let cpuAtLastFirst: number | undefined
    let allFirst!: () => void
    const arrived = new Promise<void>((resolve) => allFirst = resolve)
    const overflowsBefore = listenOverflows()
    const cpuStart = threadCpuMs()
    const start = WorkerServer.now()
    for (let i = 0; i < calls; i++) {
      let seen = false
      running.push(client.start(server.url, (delta) => {
        if (seen || delta === "") return
        seen = true
        if (--waiting === 0) {
          lastFirst = WorkerServer.now()
          cpuAtLastFirst = threadCpuMs()
          allFirst()
        }
      }))
    }
    // A call that fails, or ends without a text delta, fails the burst.
    const ended = Promise.all(running.map((r) => r.done)).then(() => {
      if (waiting > 0) throw new Error(`${waiting} calls ended without a text delta`)
    })
    await withTimeout(Promise.race([arrived, ended]), timeoutMs, `${waiting} of ${calls} calls had no text delta`)
    await withTimeout(ended, timeoutMs, "the replies did not end")
    const overflowed = (listenOverflows() ?? 0) - (overflowsBefore ?? 0)
    // The machine's counter: another process may have overflowed a queue of its own meanwhile.
    if (overflowed > 0) console.error(`  start · ${client.name}: ${overflowed} listen queue overflows on this machine during the burst; its requests may have waited a second for a SYN to be resent`)
    const arrivals = await server.call.arrivals(start)
    if (arrivals.length < calls) throw new Error(`only ${arrivals.length} of ${calls} requests reached the server`)
    return {
      allFirstMs: lastFirst - start,
      firstArrivalMs: arrivals[0] - start,
      lastArrivalMs: arrivals[calls - 1] - start,
      cpuPerCallUs: cpuStart !== undefined && cpuAtLastFirst !== undefined ? (cpuAtLastFirst - cpuStart) / calls * 1000 : undefined
    }
  } catch (error) {
    for (const r of running) r.stop()
    throw error
  } finally {
    await Promise.all(running.map((r) => settle(r)))
    await server.close()
  }
}

/** Each client's bursts of `calls`, in interleaved rounds, as medians. */
export const run = async (clients: ReadonlyArray<Client>, calls: number, rounds: Rounds, timeoutMs = 60_000): Promise<Array<Outcome<Start>>> =>
  (await interleaved(clients, (client) => burst(client, calls, timeoutMs), rounds)).map((outcome) => {
    if ("error" in outcome) return outcome
    const median = (pick: (start: Start) => number | undefined) => {
      const values = outcome.value.map(pick).filter((v): v is number => v !== undefined)
      return values.length > 0 ? summarize(values).median : undefined
    }
    return {
      client: outcome.client,
      value: {
        allFirstMs: median((s) => s.allFirstMs)!,
        firstArrivalMs: median((s) => s.firstArrivalMs)!,
        lastArrivalMs: median((s) => s.lastArrivalMs)!,
        cpuPerCallUs: median((s) => s.cpuPerCallUs)
      }
    }
  })

/** The raw undici outcome, when it succeeded. */
export const rawUndiciOf = (outcomes: ReadonlyArray<Outcome<Start>>): Start | undefined => {
  for (const outcome of outcomes) if (isRawUndici(outcome.client) && "value" in outcome) return outcome.value
  return undefined
}

/** The markdown table. */
export const render = (title: string, outcomes: ReadonlyArray<Outcome<Start>>): string => {
  const floor = rawUndiciOf(outcomes)
  return outcomeTable(
    title,
    ["all first deltas, ms", "first request at the server, ms", "last request at the server, ms", "main-thread CPU per call, µs", "all first deltas vs raw undici"],
    outcomes,
    (start) => [
      fmt(start.allFirstMs, 0),
      fmt(start.firstArrivalMs, 0),
      fmt(start.lastArrivalMs, 0),
      start.cpuPerCallUs !== undefined ? fmt(start.cpuPerCallUs, 0) : "",
      floor !== undefined ? `${fmt(start.allFirstMs / floor.allFirstMs)}x` : ""
    ]
  )
}
