/**
 * Stop on a silent model: the stream sends one text delta and then nothing, as a model does while
 * it thinks. Once that delta has reached the consumer, the client is stopped its library's way;
 * the figure is the time from that call to the server seeing the socket close.
 */
import { byFormat, failedRow, floorOf, interleaved, opened, type Outcome, type Rounds, settle, table, withTimeout } from "./harness.js"
import * as Wire from "./wire.js"
import type { Client } from "./peers/client.js"
import { fmt, summarize, type Summary } from "./stats.js"
import { now, type StallServer } from "./workerServer.js"

/** One stop, in milliseconds from the stop call to the server's close. */
const once = async (client: Client, server: StallServer): Promise<number> => {
  const request = server.nextRequest()
  const running = await opened(client, server.url)
  const start = now()
  running.stop()
  const closedAt = await withTimeout(server.closed(await request), 5_000, "the connection was still open")
  await settle(running)
  return closedAt - start
}

/** Every client's stop times against `server`, interleaved. */
export const run = async (server: StallServer, clients: ReadonlyArray<Client>, rounds: Rounds): Promise<Array<Outcome<Summary>>> =>
  (await interleaved(clients, (client) => once(client, server), rounds)).map((outcome) =>
    "value" in outcome ? { client: outcome.client, value: summarize(outcome.value) } : outcome
  )

/** The markdown table. */
export const render = (title: string, outcomes: ReadonlyArray<Outcome<Summary>>): string =>
  table(
    title,
    ["format", "client", "median", "p90", "p99", "max", "median vs fetch"],
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
        fmt(s.max, 3),
        floor !== undefined ? `${fmt(s.median / floor.median)}x` : ""
      ]
    })
  )
