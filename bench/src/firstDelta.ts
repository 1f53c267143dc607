/**
 * Time to first delta: from the call that starts a short streamed reply to its first text delta
 * reaching the consumer, on a warm connection pool, interleaved across clients. The reply is then
 * read to its end and checked.
 */
import { byFormat, failedRow, floorOf, interleaved, type Outcome, type Rounds, type ScriptedServer, table } from "./harness.js"
import * as Wire from "./wire.js"
import type { Client } from "./peers/client.js"
import { fmt, summarize, type Summary } from "./stats.js"

/** Each client's time to first delta, in milliseconds. */
export const run = async (server: ScriptedServer, clients: ReadonlyArray<Client>, rounds: Rounds): Promise<Array<Outcome<Summary>>> => {
  const scripts = new Map(Wire.all.map((format) => [format.id, format.reply(Wire.shortText, 4)]))
  const once = async (client: Client) => {
    server.answer(scripts.get(client.format)!)
    let text = ""
    let first = 0
    const start = performance.now()
    await client.start(server.url, (delta) => {
      if (text === "") first = performance.now()
      text += delta
    }).done
    if (text !== Wire.shortText) throw new Error(`received ${JSON.stringify(text)}`)
    return first - start
  }
  return (await interleaved(clients, once, rounds)).map((outcome) =>
    "value" in outcome ? { client: outcome.client, value: summarize(outcome.value) } : outcome
  )
}

/** The markdown table. */
export const render = (title: string, outcomes: ReadonlyArray<Outcome<Summary>>): string =>
  table(
    title,
    ["format", "client", "median", "p90", "p99", "median − fetch", "median vs fetch"],
    byFormat(outcomes).map((outcome) => {
      if ("error" in outcome) return failedRow(outcome.client, outcome.error, 7)
      const s = outcome.value
      const floor = floorOf(outcomes, outcome.client.format)
      return [
        Wire.byId(outcome.client.format).name,
        outcome.client.name,
        fmt(s.median, 3),
        fmt(s.p90, 3),
        fmt(s.p99, 3),
        floor !== undefined ? `${s.median - floor.median >= 0 ? "+" : ""}${fmt(s.median - floor.median, 3)}` : "",
        floor !== undefined ? `${fmt(s.median / floor.median)}x` : ""
      ]
    })
  )
