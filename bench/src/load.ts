/**
 * Stop under load: many concurrent streams in this process, each stalled after its first text
 * delta, all stopped at once. The figures are the time until the server (in a worker thread, on
 * its own event loop) has seen every connection close, the peak RSS while they are open, and the
 * heap each open stream holds (heap used after a full collection, open against before, divided by
 * the number of streams). The server's thread shares the process, so RSS includes its share; the
 * heap figure is this thread's only.
 */
import { each, floorOf, gc, opened, type Outcome, outcomeTable, rotation, settle } from "./harness.js"
import type { Client, Running } from "./peers/client.js"
import { fmt, summarize } from "./stats.js"
import * as WorkerServer from "./workerServer.js"

/** What one batch measured. */
export interface Load {
  readonly allClosedMs: number
  readonly heapPerStreamKB: number
  readonly peakRssMB: number
}

/** Streams opened at once while filling the batch, well inside the server's accept backlog. */
const OPENING = 64

const stopEach = (running: ReadonlyArray<Running>) => {
  for (const r of running) r.stop()
}

/** Opens `streams` stalled streams on a fresh server, stops them all at once, and measures. */
const once = async (client: Client, streams: number): Promise<Load> => {
  const server = await WorkerServer.remote()
  const running: Array<Running> = []
  try {
    gc()
    const heapBefore = process.memoryUsage().heapUsed
    let peakRss = process.memoryUsage.rss()
    const sampler = setInterval(() => void (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 10)
    let next = 0
    const opener = async () => {
      while (next < streams) {
        next++
        running.push(await opened(client, server.url, 30_000))
      }
    }
    try {
      await Promise.all(Array.from({ length: OPENING }, opener))
    } finally {
      clearInterval(sampler)
    }
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
    gc()
    const heapOpen = process.memoryUsage().heapUsed
    const start = WorkerServer.now()
    ;(client.stopAll ?? stopEach)(running)
    const lastClose = await server.allClosed(10_000)
    return {
      allClosedMs: lastClose - start,
      heapPerStreamKB: (heapOpen - heapBefore) / streams / 1024,
      peakRssMB: peakRss / 2 ** 20
    }
  } catch (error) {
    stopEach(running)
    throw error
  } finally {
    await Promise.all(running.map((r) => settle(r)))
    await server.close()
  }
}

/** Each client's batches (`rounds` of them, the client order rotated each round), as medians. */
export const run = async (clients: ReadonlyArray<Client>, streams: number, rounds: number): Promise<Array<Outcome<Load>>> => {
  const samples = new Map<Client, Array<Load>>()
  const failed = new Map<Client, string>()
  for (let round = 0; round < rounds; round++) {
    const outcomes = await each(rotation(clients, round).filter((client) => !failed.has(client)), (client) => once(client, streams))
    for (const outcome of outcomes) {
      if ("error" in outcome) failed.set(outcome.client, outcome.error)
      else samples.set(outcome.client, [...(samples.get(outcome.client) ?? []), outcome.value])
    }
  }
  return clients.map((client) => {
    const error = failed.get(client)
    if (error !== undefined) return { client, error }
    const loads = samples.get(client)!
    const median = (pick: (load: Load) => number) => summarize(loads.map(pick)).median
    return {
      client,
      value: { allClosedMs: median((l) => l.allClosedMs), heapPerStreamKB: median((l) => l.heapPerStreamKB), peakRssMB: median((l) => l.peakRssMB) }
    }
  })
}

/** The markdown table. */
export const render = (title: string, outcomes: ReadonlyArray<Outcome<Load>>): string =>
  outcomeTable(title, ["all closed, ms", "heap per stream, KB", "peak RSS, MB", "all closed vs fetch"], outcomes, (load, client) => {
    const floor = floorOf(outcomes, client.format)
    return [
      fmt(load.allClosedMs, 1),
      fmt(load.heapPerStreamKB, 1),
      fmt(load.peakRssMB, 0),
      floor !== undefined ? `${fmt(load.allClosedMs / floor.allClosedMs)}x` : ""
    ]
  })
