/**
 * What the scenarios share: a scripted server whose answers can be replaced between samples,
 * opening a stream up to its first text delta, interleaved sampling rounds, timeouts, and tables.
 */
import { ProviderServer, type Script } from "@reins/testing"
import * as Wire from "./wire.js"
import type { Client, Running } from "./peers/client.js"
import { fmt, summarize, type Summary } from "./stats.js"

/** Runs a full garbage collection when node runs with `--expose-gc`. */
export const gc = (): void => (globalThis as { gc?: () => void }).gc?.()

/** Rejects with `what` when `promise` takes longer than `ms`. */
export const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} (after ${ms} ms)`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Waits for a stream to end, however it ends, for at most `ms`. */
export const settle = (running: Running, ms = 10_000): Promise<void> =>
  withTimeout(running.done.then(() => undefined, () => undefined), ms, "the stopped stream did not end").catch(() => undefined)

/** Starts a stream and resolves once its first text delta has reached the caller. */
export const opened = async (client: Client, url: string, ms = 10_000): Promise<Running> => {
  let arrived!: () => void
  const first = new Promise<void>((resolve) => arrived = resolve)
  const running = client.start(url, (delta) => delta !== "" && arrived())
  const ended = running.done.then(() => Promise.reject(new Error("the stream ended before its first text delta")))
  ended.catch(() => undefined)
  await withTimeout(Promise.race([first, ended]), ms, "no text delta arrived")
  return running
}

/** A client's label in tables and results. */
export const label = (client: Client) => `${Wire.byId(client.format).name} · ${client.name}`

/** What one client gave in a scenario: its samples, or why it has none. */
export type Outcome<A> = { readonly client: Client; readonly value: A } | { readonly client: Client; readonly error: string }

/** How many rounds to sample. */
export interface Rounds {
  readonly warmup: number
  readonly runs: number
}

/**
 * The clients in the order of round `round`: rotated by one each round, so that no client always
 * runs right after the same one and inherits its garbage (a collection that one run's allocation
 * made due falls into the next run).
 */
export const rotation = <A>(clients: ReadonlyArray<A>, round: number): Array<A> => {
  const start = round % clients.length
  return [...clients.slice(start), ...clients.slice(0, start)]
}

/**
 * Samples every client once a round, interleaved so that each sees the same machine state, in the
 * order `rotation` gives: first `warmup` rounds, then `runs` recorded ones. A client that fails is
 * reported and left out; a client for which `sitsOut` says so skips that round.
 */
export const interleaved = async <A>(
  clients: ReadonlyArray<Client>,
  sample: (client: Client, measured: boolean) => Promise<A>,
  rounds: Rounds,
  sitsOut: (client: Client, measured: boolean) => boolean = () => false
): Promise<Array<Outcome<Array<A>>>> => {
  const samples = new Map(clients.map((client) => [client, [] as Array<A>]))
  const errors = new Map<Client, string>()
  for (let round = 0; round < rounds.warmup + rounds.runs; round++) {
    const measured = round >= rounds.warmup
    if (round === rounds.warmup) gc()
    for (const client of rotation(clients, round)) {
      if (errors.has(client) || sitsOut(client, measured)) continue
      try {
        const value = await sample(client, measured)
        if (measured) samples.get(client)!.push(value)
      } catch (error) {
        errors.set(client, error instanceof Error ? error.message : String(error))
        console.error(`  ${label(client)}: ${errors.get(client)}`)
      }
    }
  }
  return clients.map((client) => errors.has(client) ? { client, error: errors.get(client)! } : { client, value: samples.get(client)! })
}

/** Runs `measure` for each client in turn, reporting a failure instead of ending the run. */
export const each = async <A>(clients: ReadonlyArray<Client>, measure: (client: Client) => Promise<A>): Promise<Array<Outcome<A>>> => {
  const outcomes: Array<Outcome<A>> = []
  for (const client of clients) {
    try {
      outcomes.push({ client, value: await measure(client) })
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      console.error(`  ${label(client)}: ${message}`)
      outcomes.push({ client, error: message })
    }
  }
  return outcomes
}

/** A scripted ProviderServer in this thread whose pending answers are replaced before each sample. */
export interface ScriptedServer {
  readonly url: string
  /** The answers for the next requests, in order; earlier unanswered ones are dropped. */
  answer(...scripts: ReadonlyArray<Script.Script>): void
  /** How many requests have arrived so far. */
  requests(): number
  /** The body of request `index` (0-based). */
  body(index: number): string
  close(): Promise<void>
}

/** Starts a scripted server on 127.0.0.1. */
export const scriptedServer = async (): Promise<ScriptedServer> => {
  let queue: Array<Script.Script> = []
  const server = await ProviderServer.start({
    keepAliveTimeout: 60_000,
    handler: () => {
      const script = queue.shift()
      if (script === undefined) throw new Error("no answer queued")
      return script
    }
  })
  return {
    url: server.url,
    answer: (...scripts) => void (queue = [...scripts]),
    requests: () => server.requests.length,
    body: (index) => server.requests[index].body,
    close: () => server.close()
  }
}

/** A markdown table. */
export const table = (title: string, header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    title,
    "",
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`)
  ].join("\n")

/** The value of the first client of `kind` on `format` that succeeded. */
export const valueOf = <A>(outcomes: ReadonlyArray<Outcome<A>>, format: Wire.FormatId, kind: Client["kind"]): A | undefined => {
  for (const outcome of outcomes) {
    if (outcome.client.format === format && outcome.client.kind === kind && "value" in outcome) return outcome.value
  }
  return undefined
}

/** The floor client's value for a format, when it succeeded. */
export const floorOf = <A>(outcomes: ReadonlyArray<Outcome<A>>, format: Wire.FormatId): A | undefined =>
  valueOf(outcomes, format, "floor")

/** Outcomes in table order: by format, then as the clients were listed. */
export const byFormat = <A>(outcomes: ReadonlyArray<Outcome<A>>): Array<Outcome<A>> =>
  Wire.all.flatMap((format) => outcomes.filter((outcome) => outcome.client.format === format.id))

/**
 * A table with a row per client, by format: the format and the client, then `cells` of its value
 * under `columns`; a client that failed gets its error across them instead.
 */
export const outcomeTable = <A>(
  title: string,
  columns: ReadonlyArray<string>,
  outcomes: ReadonlyArray<Outcome<A>>,
  cells: (value: A, client: Client) => ReadonlyArray<string>
): string =>
  table(
    title,
    ["format", "client", ...columns],
    byFormat(outcomes).map((outcome) => [
      Wire.byId(outcome.client.format).name,
      outcome.client.name,
      ...("error" in outcome
        ? [`failed: ${outcome.error.replaceAll("|", "/")}`, ...columns.slice(1).map(() => "")]
        : cells(outcome.value, outcome.client))
    ])
  )

/** Outcomes as plain data for `results.json`. */
export const results = <A>(outcomes: ReadonlyArray<Outcome<A>>) =>
  outcomes.map((outcome) => ({
    client: outcome.client.name,
    kind: outcome.client.kind,
    format: outcome.client.format,
    ...("value" in outcome ? { result: outcome.value } : { error: outcome.error })
  }))

/** Every client's samples in milliseconds, taken in interleaved rounds, as summaries. */
export const latencies = async (
  clients: ReadonlyArray<Client>,
  sample: (client: Client) => Promise<number>,
  rounds: Rounds
): Promise<Array<Outcome<Summary>>> =>
  (await interleaved(clients, sample, rounds)).map((outcome) =>
    "value" in outcome ? { client: outcome.client, value: summarize(outcome.value) } : outcome
  )

/** A table of latencies: median, p90, p99, one more column, and the median against fetch's. */
export const latencyTable = (
  title: string,
  outcomes: ReadonlyArray<Outcome<Summary>>,
  more: { readonly header: string; readonly cell: (summary: Summary, floor: Summary | undefined) => string }
): string =>
  outcomeTable(title, ["median", "p90", "p99", more.header, "median vs fetch"], outcomes, (s, client) => {
    const floor = floorOf(outcomes, client.format)
    return [
      fmt(s.median, 3),
      fmt(s.p90, 3),
      fmt(s.p99, 3),
      more.cell(s, floor),
      floor !== undefined ? `${fmt(s.median / floor.median)}x` : ""
    ]
  })
