/**
 * Throughput: a long text reply (20,000 deltas), pre-encoded so that the server only writes bytes,
 * consumed to the assembled text. Events per second and CPU time per event (the server shares the
 * process, so its writing is in every figure alike), median of the measured runs after warm-ups.
 * Clients that take seconds per run get fewer runs (at least one warm-up and three measured).
 *
 * No collection is forced between runs: measured here, a forced full collection made the next
 * Reins run 30 to 40 % slower (V8 warming its code again) and the next fetch run about 5 %, a
 * penalty on JIT-heavy code that no application pays between requests.
 */
import { Script } from "@reins/testing"
import { floorOf, interleaved, type Outcome, outcomeTable, type Rounds, type ScriptedServer } from "./harness.js"
import * as Wire from "./wire.js"
import type { Client } from "./peers/client.js"
import { fmt, summarize } from "./stats.js"

/** What one client reached. */
export interface Throughput {
  readonly eventsPerSecond: number
  readonly cpuMicrosPerEvent: number
  readonly runs: number
}

/**
 * Each client's throughput on its format's reply of `deltas` deltas, sampled in `interleaved`
 * rounds so that all see the same machine state. A client whose runs have spent its share of the
 * time budget sits out the remaining rounds once it has one warm-up and three measured runs.
 */
export const run = async (
  server: ScriptedServer,
  clients: ReadonlyArray<Client>,
  deltas: number,
  rounds: Rounds,
  budget: { readonly warmupMs: number; readonly runsMs: number }
): Promise<Array<Outcome<Throughput>>> => {
  const expected = Wire.text(deltas)
  const scripts = new Map(Wire.all.map((format) => [format.id, Script.make([Script.raw(Wire.encode(format.reply(expected, 6)))])]))
  const once = async (client: Client) => {
    server.answer(scripts.get(client.format)!)
    let text = ""
    const cpuStart = process.cpuUsage()
    const start = performance.now()
    await client.start(server.url, (delta) => void (text += delta)).done
    const millis = performance.now() - start
    const cpu = process.cpuUsage(cpuStart)
    if (text !== expected) throw new Error(`assembled ${text.length} characters, not the ${expected.length} sent`)
    return { millis, rate: deltas / (millis / 1000), cpu: (cpu.user + cpu.system) / deltas }
  }
  // Time spent so far per client, warm-up and measured, for the budget.
  const spent = new Map(clients.map((client) => [client, { warmups: 0, warmupMs: 0, runs: 0, runsMs: 0 }]))
  const outcomes = await interleaved(
    clients,
    async (client, measured) => {
      const sample = await once(client)
      const time = spent.get(client)!
      if (measured) {
        time.runs++
        time.runsMs += sample.millis
      } else {
        time.warmups++
        time.warmupMs += sample.millis
      }
      return sample
    },
    rounds,
    (client, measured) => {
      const time = spent.get(client)!
      return measured ? time.runsMs > budget.runsMs && time.runs >= 3 : time.warmupMs > budget.warmupMs && time.warmups >= 1
    }
  )
  return outcomes.map((outcome) =>
    "error" in outcome ? outcome : {
      client: outcome.client,
      value: {
        eventsPerSecond: summarize(outcome.value.map((sample) => sample.rate)).median,
        cpuMicrosPerEvent: summarize(outcome.value.map((sample) => sample.cpu)).median,
        runs: outcome.value.length
      }
    }
  )
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
  outcomeTable(title, ["events/s", "CPU µs/event", "runs", "vs fetch", "vs fastest peer"], outcomes, (value, client) => {
    const floor = floorOf(outcomes, client.format)
    const peer = fastestPeer(outcomes, client.format)
    return [
      Math.round(value.eventsPerSecond).toLocaleString("en"),
      fmt(value.cpuMicrosPerEvent),
      String(value.runs),
      floor !== undefined ? `${fmt(value.eventsPerSecond / floor.eventsPerSecond)}x` : "",
      peer !== undefined && client.kind !== "peer" ? `${fmt(value.eventsPerSecond / peer)}x` : ""
    ]
  })
