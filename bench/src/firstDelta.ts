/**
 * Time to first delta: from the call that starts a short streamed reply to its first text delta
 * reaching the consumer, on a warm connection pool, interleaved across clients. The reply is then
 * read to its end and checked.
 */
import { latencies, latencyTable, type Outcome, type Rounds, type ScriptedServer } from "./harness.js"
import * as Wire from "./wire.js"
import type { Client } from "./peers/client.js"
import { fmt, type Summary } from "./stats.js"

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
  return latencies(clients, once, rounds)
}

/** The markdown table. */
export const render = (title: string, outcomes: ReadonlyArray<Outcome<Summary>>): string =>
  latencyTable(title, outcomes, {
    header: "median − fetch",
    cell: (s, floor) => floor !== undefined ? `${s.median - floor.median >= 0 ? "+" : ""}${fmt(s.median - floor.median, 3)}` : ""
  })
