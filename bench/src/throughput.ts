/**
 * Throughput: a long text reply (20,000 deltas), pre-encoded so that the server only writes bytes,
 * consumed to the assembled text. Events per second and CPU time per event (the server shares the
 * process, so its writing is in every figure alike), median of the measured runs after warm-ups.
 * Clients that take seconds per run get fewer runs (at least one warm-up and three measured).
 */
import { Script } from "@reins/testing"
import { byFormat, each, failedRow, floorOf, gc, type Outcome, type Rounds, type ScriptedServer, table } from "./harness.js"
import * as Wire from "./wire.js"
import type { Client } from "./peers/client.js"
import { fmt, summarize } from "./stats.js"

/** What one client reached. */
export interface Throughput {
  readonly eventsPerSecond: number
  readonly cpuMicrosPerEvent: number
  readonly runs: number
}

/** Each client's throughput on its format's reply of `deltas` deltas. */
export const run = async (
  server: ScriptedServer,
  clients: ReadonlyArray<Client>,
  deltas: number,
  rounds: Rounds,
  budget: { readonly warmupMs: number; readonly runsMs: number }
): Promise<Array<Outcome<Throughput>>> => {
  const expected = Wire.text(deltas)
  const bodies = new Map(Wire.all.map((format) => [format.id, Wire.encode(format.reply(expected, 6))]))
  return each(clients, async (client) => {
    const script = Script.make([Script.raw(bodies.get(client.format)!)])
    const once = async () => {
      server.answer(script)
      let text = ""
      const cpuStart = process.cpuUsage()
      const start = performance.now()
      await client.start(server.url, (delta) => void (text += delta)).done
      const seconds = (performance.now() - start) / 1000
      const cpu = process.cpuUsage(cpuStart)
      if (text !== expected) throw new Error(`assembled ${text.length} characters, not the ${expected.length} sent`)
      return { rate: deltas / seconds, cpu: (cpu.user + cpu.system) / deltas }
    }
    // Warm-ups let the JIT settle; a client slow enough to spend the budget gets fewer, and at
    // least three measured runs.
    const warmupEnd = performance.now() + budget.warmupMs
    for (let i = 0; i < rounds.warmup && (i === 0 || performance.now() < warmupEnd); i++) await once()
    const rates: Array<number> = []
    const cpu: Array<number> = []
    const runsEnd = performance.now() + budget.runsMs
    for (let i = 0; i < rounds.runs && (i < 3 || performance.now() < runsEnd); i++) {
      gc()
      const sample = await once()
      rates.push(sample.rate)
      cpu.push(sample.cpu)
    }
    return { eventsPerSecond: summarize(rates).median, cpuMicrosPerEvent: summarize(cpu).median, runs: rates.length }
  })
}

/** The fastest peer's rate on `format`, when one succeeded. */
export const fastestPeer = (outcomes: ReadonlyArray<Outcome<Throughput>>, format: Wire.FormatId): number | undefined => {
  let best: number | undefined
  for (const outcome of outcomes) {
    if (outcome.client.kind === "peer" && outcome.client.format === format && "value" in outcome) {
      best = Math.max(best ?? 0, outcome.value.eventsPerSecond)
    }
  }
  return best
}

/** The markdown table. */
export const render = (title: string, outcomes: ReadonlyArray<Outcome<Throughput>>): string =>
  table(
    title,
    ["format", "client", "events/s", "CPU µs/event", "runs", "vs fetch", "vs fastest peer"],
    byFormat(outcomes).map((outcome) => {
      if ("error" in outcome) return failedRow(outcome.client, outcome.error, 7)
      const { cpuMicrosPerEvent, eventsPerSecond, runs } = outcome.value
      const floor = floorOf(outcomes, outcome.client.format)
      const peer = fastestPeer(outcomes, outcome.client.format)
      return [
        Wire.byId(outcome.client.format).name,
        outcome.client.name,
        Math.round(eventsPerSecond).toLocaleString("en"),
        fmt(cpuMicrosPerEvent),
        String(runs),
        floor !== undefined ? `${fmt(eventsPerSecond / floor.eventsPerSecond)}x` : "",
        peer !== undefined && outcome.client.kind !== "peer" ? `${fmt(eventsPerSecond / peer)}x` : ""
      ]
    })
  )
