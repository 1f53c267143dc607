/**
 * Stop on a silent model: the stream sends one text delta and then nothing, as a model does while
 * it thinks. Once that delta has reached the consumer, the client is stopped its library's way;
 * the figure is the time from that call to the server seeing the socket close.
 */
import { latencies, latencyTable, opened, type Outcome, type Rounds, settle, withTimeout } from "./harness.js"
import type { Client } from "./peers/client.js"
import { fmt, type Summary } from "./stats.js"
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
export const run = (server: StallServer, clients: ReadonlyArray<Client>, rounds: Rounds): Promise<Array<Outcome<Summary>>> =>
  latencies(clients, (client) => once(client, server), rounds)

/** The markdown table. */
export const render = (title: string, outcomes: ReadonlyArray<Outcome<Summary>>): string =>
  latencyTable(title, outcomes, { header: "max", cell: (s) => fmt(s.max, 3) })
