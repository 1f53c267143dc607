/**
 * Reins beside raw `fetch` and the peer libraries, in one process and one run, on local
 * ProviderServers over real HTTP. Prints one table per scenario and the targets, and writes
 * `bench/results.json`.
 *
 *   npm run bench                                # everything
 *   BENCH_QUICK=1 npm run bench                  # fewer samples, for a smoke test
 *   BENCH_ONLY=stop,throughput npm run bench     # some scenarios only (names below)
 *   npm run bench -- --only start,backpressure   # the same, as an argument
 */
import * as fs from "node:fs"
import * as os from "node:os"
import { ProviderServer } from "@reins/testing"
import * as AcpStop from "./acpStop.js"
import * as AgentTurn from "./agentTurn.js"
import * as Backpressure from "./backpressure.js"
import * as EarlyTools from "./earlyTools.js"
import * as FirstDelta from "./firstDelta.js"
import * as McpStop from "./mcpStop.js"
import { type Outcome, results, scriptedServer } from "./harness.js"
import * as Load from "./load.js"
import * as AiSdk from "./peers/aiSdk.js"
import * as AnthropicSdk from "./peers/anthropicSdk.js"
import { type Client, disposeAll } from "./peers/client.js"
import * as EffectAi from "./peers/effectAi.js"
import * as Fetch from "./peers/fetch.js"
import * as OpenAiSdk from "./peers/openaiSdk.js"
import * as PiAi from "./peers/piAi.js"
import * as Reins from "./peers/reins.js"
import * as Undici from "./peers/undici.js"
import * as Start from "./start.js"
import type { Summary } from "./stats.js"
import * as Stop from "./stop.js"
import * as Targets from "./targets.js"
import * as Throughput from "./throughput.js"
import * as TurnStop from "./turnStop.js"
import * as WorkerServer from "./workerServer.js"

// tsx turns on source maps for stack traces; formatting a stack through them costs more than the
// rest of an abort, and every client creates errors when stopped. Compiled code runs without them.
process.setSourceMapsEnabled(false)

const quick = process.env.BENCH_QUICK === "1"
const scenarios = ["stop", "stop-worker", "load", "start", "backpressure", "throughput", "first-delta", "turn", "turn-stop", "earlyTools", "acpStop", "mcp-stop"] as const
type Scenario = typeof scenarios[number]
/** The scenarios named by `--only a,b` (or `--only=a,b`), else by `BENCH_ONLY`; all when neither is given. */
const onlyArgument = (() => {
  const args = process.argv.slice(2)
  const at = args.findIndex((arg) => arg === "--only" || arg.startsWith("--only="))
  if (at === -1) return undefined
  return args[at].startsWith("--only=") ? args[at].slice("--only=".length) : args[at + 1] ?? ""
})()
const only = (onlyArgument ?? process.env.BENCH_ONLY)?.split(",").map((name) => name.trim()).filter((name) => name !== "")
const unknown = only?.filter((name) => !(scenarios as ReadonlyArray<string>).includes(name)) ?? []
if (unknown.length > 0) {
  console.error(`--only / BENCH_ONLY: unknown scenario ${unknown.join(", ")}; the scenarios are ${scenarios.join(", ")}`)
  process.exit(1)
}
const selected = (scenario: Scenario) => only === undefined || only.includes(scenario)

const STOP = quick ? { warmup: 10, runs: 30 } : { warmup: 50, runs: 300 }
const LOAD_STREAMS = quick ? 250 : 1000
const LOAD_ROUNDS = quick ? 1 : 3
const START_CALLS = quick ? 250 : 1000
const START = quick ? { warmup: 1, runs: 2 } : { warmup: 1, runs: 5 }
const BACKPRESSURE_DELTAS = 200_000
const BACKPRESSURE = quick ? { warmup: 0, runs: 1, pauseMs: 4_000 } : { warmup: 1, runs: 3, pauseMs: 4_000 }
const DELTAS = 20_000
const THROUGHPUT = quick ? { warmup: 2, runs: 3 } : { warmup: 10, runs: 9 }
const THROUGHPUT_BUDGET = quick ? { warmupMs: 2_000, runsMs: 5_000 } : { warmupMs: 10_000, runsMs: 30_000 }
const FIRST_DELTA = quick ? { warmup: 10, runs: 30 } : { warmup: 30, runs: 300 }
const TURN = quick ? { warmup: 5, runs: 20 } : { warmup: 20, runs: 200 }
const TURN_STOP_RUNS = quick ? 50 : 200
const EARLY_TOOLS = quick ? { warmup: 2, runs: 5 } : { warmup: 3, runs: 20 }
const ACP_STOP = quick ? { warmup: 10, runs: 30 } : { warmup: 30, runs: 200 }
const MCP_STOP_RUNS = quick ? 30 : 200

// Reins on undici is the headline; node:http, the other transport, is shown on Chat Completions
// (and on every format for throughput). No peer speaks Gemini, so it is left out where only
// peers would be compared.
const floor = Fetch.clients
const reins = Reins.clients("undici")
const reinsHttp = Reins.clients("node:http")
const peers: ReadonlyArray<Client> = [...OpenAiSdk.clients, ...AnthropicSdk.clients, ...AiSdk.clients, ...EffectAi.clients, ...PiAi.clients]
const chat = (client: Client) => client.format === "chat"
const notGemini = (client: Client) => client.format !== "gemini"
const stopClients = [...floor, ...reins, ...reinsHttp.filter(chat), ...peers].filter(notGemini)
const throughputClients = [...floor, ...reins, ...reinsHttp, ...peers]
const firstDeltaClients = [...floor, ...reins, ...reinsHttp.filter(chat), ...peers]
const startClients = [...Undici.clients, ...floor, ...reins, ...reinsHttp].filter(chat)
const turnClients = [...reins, ...peers].filter((client) => client.turn !== undefined)

const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, Node ${process.version}`
const mode = quick ? "BENCH_QUICK smoke run: few samples, figures are indicative only" : "full run"
const json: Record<string, unknown> = {}
const print = (section: string) => console.log(`\n${section}`)
console.log(`Machine: ${machine}\n${mode}`)

/** The stop scenario against a fresh stall server, printed under `title`. */
const stopScenario = async (server: WorkerServer.StallServer, title: string): Promise<Array<Outcome<Summary>>> => {
  const outcomes = await Stop.run(server, stopClients, STOP)
  await server.close()
  print(Stop.render(`${title}: ms from the stop call to the server's close (${STOP.runs} runs each, interleaved)`, outcomes))
  return outcomes
}

let stopLocal: Array<Outcome<Summary>> | undefined
if (selected("stop")) {
  stopLocal = await stopScenario(await WorkerServer.local(), "Stop on a silent model, server in this thread")
  json.stop = results(stopLocal)
}

let stopRemote: Array<Outcome<Summary>> | undefined
if (selected("stop-worker")) {
  stopRemote = await stopScenario(
    await WorkerServer.remote(),
    "Stop on a silent model, server in a worker thread (its own event loop, as a remote provider)"
  )
  json.stopWorker = results(stopRemote)
}

let load: Array<Outcome<Load.Load>> | undefined
if (selected("load")) {
  load = await Load.run(stopClients, LOAD_STREAMS, LOAD_ROUNDS)
  json.load = results(load)
  print(Load.render(`Stop under load: ${LOAD_STREAMS.toLocaleString("en")} stalled streams stopped at once, server in a worker thread (median of ${LOAD_ROUNDS} batch${LOAD_ROUNDS > 1 ? "es" : ""})`, load))
}

let start: Array<Outcome<Start.Start>> | undefined
if (selected("start")) {
  start = await Start.run(startClients, START_CALLS, START)
  json.start = results(start)
  print(Start.render(`Starting many calls at once: ${START_CALLS.toLocaleString("en")} calls started together, server in a worker thread; ms from the start to every call's first text delta (median of ${START.runs} interleaved bursts after ${START.warmup} warm-up round${START.warmup === 1 ? "" : "s"})`, start))
}

let backpressure: Backpressure.Results | undefined
if (selected("backpressure")) {
  backpressure = await Backpressure.run(BACKPRESSURE_DELTAS, BACKPRESSURE)
  json.backpressure = Backpressure.json(backpressure)
  print(Backpressure.render(backpressure))
}

const server = await scriptedServer()

let speed: Array<Outcome<Throughput.Throughput>> | undefined
if (selected("throughput")) {
  speed = await Throughput.run(server, throughputClients, DELTAS, THROUGHPUT, THROUGHPUT_BUDGET)
  json.throughput = results(speed)
  print(Throughput.render(`Throughput: a ${DELTAS.toLocaleString("en")}-delta text reply to its assembled text (median of ${THROUGHPUT.runs} interleaved runs after ${THROUGHPUT.warmup} warm-up rounds; fewer for clients slower than the time budget, see the runs column)`, speed))
}

let first: Array<Outcome<Summary>> | undefined
if (selected("first-delta")) {
  first = await FirstDelta.run(server, firstDeltaClients, FIRST_DELTA)
  json.firstDelta = results(first)
  print(FirstDelta.render(`Time to first delta: ms from the call to the first text delta reaching the consumer (${FIRST_DELTA.runs} runs each, interleaved)`, first))
}

let turns: Array<Outcome<AgentTurn.TurnTimes>> | undefined
if (selected("turn")) {
  turns = await AgentTurn.run(server, turnClients, TURN)
  json.turn = results(turns)
  print(AgentTurn.render(`An agent turn: three tool calls over two steps, then the answer; ms per turn (${TURN.runs} runs each, interleaved)`, turns))
}
await server.close()

if (selected("turn-stop")) {
  const provider = await ProviderServer.start({ keepAliveTimeout: 60_000 })
  const turnStop = await TurnStop.run(provider, Reins.runtime("chat", "undici", provider.url), TURN_STOP_RUNS)
  await provider.close()
  json.turnStop = turnStop
  print(TurnStop.table(turnStop))
}
let early: Array<EarlyTools.EarlyTools> | undefined
if (selected("earlyTools")) {
  const provider = await ProviderServer.start({ keepAliveTimeout: 60_000 })
  early = await EarlyTools.run(provider, ["messages", "responses", "gemini", "chat"], EARLY_TOOLS)
  await provider.close()
  json.earlyTools = early
  print(EarlyTools.render(`Early tools: a response completes a tool call, then streams 500 ms more text; ms from the call's end to the tool's start in Turn.run (${EARLY_TOOLS.runs} runs per format)`, early))
}
if (selected("acpStop")) {
  const stalls = await WorkerServer.remote()
  const acpStop = await AcpStop.run(stalls, Reins.runtime("chat", "undici", stalls.url), ACP_STOP)
  await stalls.close()
  json.acpStop = acpStop
  print(AcpStop.render(`A stop across ACP: an agent in a child process on a silent model, server in a worker thread; ms from the stop (${ACP_STOP.runs} runs each, interleaved)`, acpStop))
}
if (selected("mcp-stop")) {
  const mcpStop = await McpStop.run(MCP_STOP_RUNS)
  json.mcpStop = mcpStop
  print(McpStop.table(mcpStop))
}
await disposeAll()

const targets = Targets.evaluate({
  stop: stopLocal,
  stopWorker: stopRemote,
  load,
  loadStreams: LOAD_STREAMS,
  start,
  startCalls: START_CALLS,
  backpressure,
  throughput: speed,
  firstDelta: first,
  turn: turns,
  earlyTools: early
})
if (targets.length > 0) {
  json.targets = targets
  print(Targets.render(targets))
}

const resultsPath = new URL("../results.json", import.meta.url)
fs.writeFileSync(
  resultsPath,
  JSON.stringify({ date: new Date().toISOString(), machine, quick, only: only ?? scenarios, versions: JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")).dependencies, ...json }, null, 2) + "\n"
)
console.log(`\nWrote ${resultsPath.pathname}`)
