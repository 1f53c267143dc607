/**
 * A whole agent turn: the model asks for two tool calls at once, then one more, then answers;
 * each tool returns a constant. Wall time and CPU time per turn (the server shares the process,
 * so its share is in every figure alike), for Reins' `Turn.run` and each peer's agent loop, or the
 * loop its documentation shows where it has none.
 */
import { interleaved, type Outcome, outcomeTable, type Rounds, type ScriptedServer, valueOf } from "./harness.js"
import * as Wire from "./wire.js"
import type { Client } from "./peers/client.js"
import { fmt, summarize, type Summary } from "./stats.js"

/** What one client's turns took, in milliseconds. */
export interface TurnTimes {
  readonly wall: Summary
  readonly cpu: Summary
}

/** One turn, checked: the answer, and every tool result sent back by the last request. */
const once = async (server: ScriptedServer, client: Client) => {
  const format = Wire.byId(client.format)
  server.answer(...Wire.turn.map(format.step!))
  const first = server.requests()
  const cpuStart = process.cpuUsage()
  const start = performance.now()
  const answer = await client.turn!(server.url)
  const wall = performance.now() - start
  const cpu = process.cpuUsage(cpuStart)
  if (answer !== Wire.turnAnswer) throw new Error(`answered ${JSON.stringify(answer)}`)
  if (server.requests() - first !== Wire.turn.length) throw new Error(`made ${server.requests() - first} model calls`)
  const last = server.body(server.requests() - 1)
  for (const step of Wire.turn) {
    for (const call of "calls" in step ? step.calls : []) {
      if (!last.includes(call.id)) throw new Error(`the last request has no result for ${call.id}`)
    }
  }
  return { wall, cpu: (cpu.user + cpu.system) / 1000 }
}

/** Each client's turns, interleaved. */
export const run = async (server: ScriptedServer, clients: ReadonlyArray<Client>, rounds: Rounds): Promise<Array<Outcome<TurnTimes>>> =>
  (await interleaved(clients, (client) => once(server, client), rounds)).map((outcome) =>
    "value" in outcome
      ? { client: outcome.client, value: { wall: summarize(outcome.value.map((s) => s.wall)), cpu: summarize(outcome.value.map((s) => s.cpu)) } }
      : outcome
  )

/** The markdown table. */
export const render = (title: string, outcomes: ReadonlyArray<Outcome<TurnTimes>>): string =>
  outcomeTable(title, ["wall median", "wall p99", "CPU median", "CPU p99", "wall vs Reins"], outcomes, ({ cpu, wall }, client) => {
    const reins = valueOf(outcomes, client.format, "reins")
    return [
      fmt(wall.median, 3),
      fmt(wall.p99, 3),
      fmt(cpu.median, 3),
      fmt(cpu.p99, 3),
      reins !== undefined ? `${fmt(wall.median / reins.wall.median)}x` : ""
    ]
  })
