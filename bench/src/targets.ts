/**
 * The targets Reins (on undici, the headline) is held to, as ratios against raw fetch and the
 * fastest peer on the same wire format, from whichever scenarios ran.
 */
import type { TurnTimes } from "./agentTurn.js"
import * as Backpressure from "./backpressure.js"
import type { EarlyTools } from "./earlyTools.js"
import { type Outcome, table } from "./harness.js"
import type { Load } from "./load.js"
import type { Client } from "./peers/client.js"
import { fmt, type Summary } from "./stats.js"
import { rawUndiciOf, type Start } from "./start.js"
import { fastestPeer, type Throughput } from "./throughput.js"
import * as Wire from "./wire.js"

/** The scenarios' outcomes; those that did not run are absent. */
export interface Inputs {
  readonly stop?: ReadonlyArray<Outcome<Summary>> | undefined
  readonly stopWorker?: ReadonlyArray<Outcome<Summary>> | undefined
  readonly load?: ReadonlyArray<Outcome<Load>> | undefined
  readonly loadStreams: number
  readonly start?: ReadonlyArray<Outcome<Start>> | undefined
  readonly startCalls: number
  readonly backpressure?: Backpressure.Results | undefined
  readonly throughput?: ReadonlyArray<Outcome<Throughput>> | undefined
  readonly firstDelta?: ReadonlyArray<Outcome<Summary>> | undefined
  readonly turn?: ReadonlyArray<Outcome<TurnTimes>> | undefined
  readonly earlyTools?: ReadonlyArray<EarlyTools> | undefined
}

/** One target on one format: what it asks, the figures, and whether each part is met. */
export interface Target {
  readonly target: string
  readonly format: string
  readonly figure: string
  readonly met: string
}

type Succeeded<A> = { readonly client: Client; readonly value: A }

/** The succeeded outcome of `kind` on `format` (for Reins, on undici). */
const pick = <A>(outcomes: ReadonlyArray<Outcome<A>> | undefined, format: Wire.FormatId, kind: Client["kind"]): Array<Succeeded<A>> =>
  (outcomes ?? []).filter((o): o is Succeeded<A> =>
    o.client.format === format && o.client.kind === kind && "value" in o && (kind !== "reins" || o.client.name === "Reins on undici")
  )

const yes = (met: boolean) => met ? "yes" : "no"
const ratio = (value: number) => `${fmt(value)}x`

/** Every target that the scenarios run can speak to. */
export const evaluate = (inputs: Inputs): Array<Target> => {
  const targets: Array<Target> = []
  // In this thread the stop's own cost shows; in a worker the server's scheduling is left out of it.
  for (
    const [variant, outcomes, limit] of [["server in this thread", inputs.stop, 1.2], ["server in a worker", inputs.stopWorker, 1.5]] as const
  ) {
    for (const format of Wire.all) {
      const [reins] = pick(outcomes, format.id, "reins")
      const [fetch] = pick(outcomes, format.id, "floor")
      if (reins === undefined || fetch === undefined) continue
      const fastest = pick(outcomes, format.id, "peer").sort((a, b) => a.value.median - b.value.median)[0]
      const vsFetch = reins.value.median / fetch.value.median
      const vsPeer = fastest !== undefined ? reins.value.median / fastest.value.median : undefined
      targets.push({
        target: `stop, ${variant}: median ≤ ${limit}x fetch, ≤ every peer; p99 < 5 ms`,
        format: format.name,
        figure: `${ratio(vsFetch)} fetch; ${vsPeer !== undefined ? `${ratio(vsPeer)} the fastest peer (${fastest!.client.name})` : "no peer"}; p99 ${fmt(reins.value.p99)} ms`,
        met: `${yes(vsFetch <= limit)} / ${vsPeer !== undefined ? yes(vsPeer <= 1) : "-"} / ${yes(reins.value.p99 < 5)}`
      })
    }
  }
  for (const format of Wire.all) {
    const [reins] = pick(inputs.load, format.id, "reins")
    const [fetch] = pick(inputs.load, format.id, "floor")
    if (reins === undefined || fetch === undefined) continue
    targets.push({
      target: `stop under load: ${inputs.loadStreams.toLocaleString("en")} closed within 100 ms; heap per open stream ≤ fetch's`,
      format: format.name,
      figure: `${fmt(reins.value.allClosedMs, 1)} ms; ${fmt(reins.value.heapPerStreamKB, 1)} KB against ${fmt(fetch.value.heapPerStreamKB, 1)} KB`,
      met: `${yes(reins.value.allClosedMs <= 100)} / ${yes(reins.value.heapPerStreamKB <= fetch.value.heapPerStreamKB)}`
    })
  }
  for (const format of Wire.all) {
    const [reins] = pick(inputs.start, format.id, "reins")
    const floor = rawUndiciOf((inputs.start ?? []).filter((o) => o.client.format === format.id))
    if (reins === undefined || floor === undefined) continue
    const vsUndici = reins.value.allFirstMs / floor.allFirstMs
    targets.push({
      target: `start: ${inputs.startCalls.toLocaleString("en")} calls at once, every first delta within 1.2x raw undici`,
      format: format.name,
      figure: `${fmt(reins.value.allFirstMs, 0)} ms against ${fmt(floor.allFirstMs, 0)} ms (${ratio(vsUndici)})`,
      met: yes(vsUndici <= 1.2)
    })
  }
  const backpressure = inputs.backpressure
  const turn = backpressure?.readers.find((reader) => reader.name === Backpressure.TARGET)
  const reference = backpressure !== undefined ? Backpressure.referenceOf(backpressure) : undefined
  if (turn !== undefined && "value" in turn && reference !== undefined) {
    targets.push({
      target: "backpressure: Turn.stream paused, heap growth < 5 MB; the server wrote no more than the socket buffers hold",
      format: "Chat Completions",
      figure: `${fmt(turn.value.heapGrowthMB, 2)} MB; ${fmt(turn.value.writtenMB, 2)} MB written, the buffers held ${fmt(reference.writtenMB, 2)} MB`,
      met: `${yes(turn.value.heapGrowthMB < 5)} / ${yes(turn.value.writtenMB <= reference.writtenMB * Backpressure.TOLERANCE)}`
    })
  }
  for (const format of Wire.all) {
    const [reins] = pick(inputs.throughput, format.id, "reins")
    const [fetch] = pick(inputs.throughput, format.id, "floor")
    if (reins === undefined || fetch === undefined) continue
    const peer = fastestPeer(inputs.throughput ?? [], format.id)
    const vsFetch = reins.value.eventsPerSecond / fetch.value.eventsPerSecond
    const vsPeer = peer !== undefined ? reins.value.eventsPerSecond / peer : undefined
    targets.push({
      target: "throughput ≥ 0.8x fetch; ≥ 2x the fastest peer",
      format: format.name,
      figure: `${ratio(vsFetch)} fetch; ${vsPeer !== undefined ? `${ratio(vsPeer)} the fastest peer` : "no peer"}`,
      met: `${yes(vsFetch >= 0.8)} / ${vsPeer !== undefined ? yes(vsPeer >= 2) : "-"}`
    })
  }
  for (const format of Wire.all) {
    const [reins] = pick(inputs.firstDelta, format.id, "reins")
    const [fetch] = pick(inputs.firstDelta, format.id, "floor")
    if (reins === undefined || fetch === undefined) continue
    const gap = reins.value.median - fetch.value.median
    targets.push({
      target: "first delta: median within 1 ms of fetch",
      format: format.name,
      figure: `${gap >= 0 ? "+" : ""}${fmt(gap, 3)} ms (${ratio(reins.value.median / fetch.value.median)})`,
      met: yes(gap <= 1)
    })
  }
  for (const format of Wire.all) {
    const [reins] = pick(inputs.turn, format.id, "reins")
    const fastest = pick(inputs.turn, format.id, "peer").sort((a, b) => a.value.wall.median - b.value.wall.median)[0]
    if (reins === undefined || fastest === undefined) continue
    const vsPeer = reins.value.wall.median / fastest.value.wall.median
    targets.push({
      target: "agent turn: wall time ≤ the fastest peer's",
      format: format.name,
      figure: `${fmt(reins.value.wall.median, 2)} ms against ${fmt(fastest.value.wall.median, 2)} ms (${fastest.client.name}, ${ratio(vsPeer)})`,
      met: yes(vsPeer <= 1)
    })
  }
  for (const early of inputs.earlyTools ?? []) {
    targets.push({
      target: "early tools: the tool starts within 1 ms of its call's end",
      format: Wire.byId(early.format).name,
      figure: `median ${fmt(early.startAfterCallEnd.median, 2)} ms, p99 ${fmt(early.startAfterCallEnd.p99, 2)} ms; ${
        fmt(early.startBeforeFinish.median, 0)
      } ms before the response's end`,
      met: yes(early.startAfterCallEnd.median <= 1)
    })
  }
  return targets
}

/** The markdown table. */
export const render = (targets: ReadonlyArray<Target>): string =>
  table(
    "Against the targets (Reins on undici)",
    ["target", "format", "figure", "met"],
    targets.map((t) => [t.target, t.format, t.figure, t.met])
  )
