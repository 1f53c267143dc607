/**
 * How fast a stop reaches an MCP server: a running `tools/call` is stopped, and the time is taken
 * from the stop to the server's handler seeing its request's signal abort (the SDK's
 * `notifications/cancelled` arriving), over stdio (a child process) and Streamable HTTP (the server
 * in a worker thread). For each transport, Reins (`Fiber.interrupt` of the call of an
 * `McpToolkit` tool) sits beside the SDK's own client stopped with `AbortController.abort()`, the
 * floor; the in-process stop (a Reins tool's finalizer, after `Fiber.interrupt`) is measured in the
 * same rounds. Times are wall-clock milliseconds (`performance.timeOrigin + performance.now()`),
 * comparable across processes and threads.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { Part, Tool, Toolkit } from "@reins/core"
import { McpToolkit } from "@reins/mcp"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { HttpMethods } from "./mcpServer.js"
import { fmt, summarize, type Summary } from "./stats.js"
import { inWorker, now } from "./workerServer.js"

const WARMUP = 10
const SERVER = fileURLToPath(new URL("./mcpServer.ts", import.meta.url))
const ROOT = fileURLToPath(new URL("../..", import.meta.url))
/** The SDK's longest request timeout (a `setTimeout`); its 60-second default would not matter here either. */
const NO_TIMEOUT = 2_147_483_647

/** Where a server's handler tells its times: the `index`-th start or abort, counting from 0. */
interface Times {
  readonly started: (index: number) => Promise<number>
  readonly aborted: (index: number) => Promise<number>
}

/** The times a stdio server appends to `file`, read as they come (polled every millisecond). */
const fileTimes = (file: string): Times => {
  const read = (kind: string, index: number) =>
    new Promise<number>((resolve, reject) => {
      const deadline = performance.now() + 10_000
      const check = () => {
        const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((line) => line.startsWith(`${kind} `)) : []
        if (lines.length > index) return resolve(Number(lines[index].slice(kind.length + 1)))
        if (performance.now() > deadline) return reject(new Error(`the server saw no ${kind} #${index} within 10 s`))
        setTimeout(check, 1)
      }
      check()
    })
  return { started: (index) => read("started", index), aborted: (index) => read("aborted", index) }
}

/** The times of the call under way: its start and its abort, as its server's handler saw them. */
interface Current {
  readonly started: () => Promise<number>
  readonly aborted: () => Promise<number>
}

/**
 * The times of successive calls to one server. Each stop is awaited before the next call starts,
 * so the n-th start and abort a server sees are those of its n-th call; clients of one server
 * share its `counter`.
 */
const current = (times: Times, counter = { calls: 0 }): Current => ({
  started: () => times.started(counter.calls),
  aborted: () => times.aborted(counter.calls++)
})

/** One way of running and stopping calls of `hold`; `stop` resolves when the stop call returns. */
interface Stopper {
  readonly name: string
  readonly times: Current
  /** Starts a call; the returned function stops it. */
  readonly start: () => () => Promise<void>
}

const sdkClient = async (transport: StreamableHTTPClientTransport | StdioClientTransport): Promise<Client> => {
  const client = new Client({ name: "bench", version: "1" })
  await client.connect(transport)
  return client
}

const sdkStopper = (name: string, client: Client, times: Current): Stopper => ({
  name,
  times,
  start: () => {
    const controller = new AbortController()
    client.callTool({ name: "hold", arguments: {} }, undefined, { signal: controller.signal, timeout: NO_TIMEOUT }).catch(() => undefined)
    return async () => controller.abort()
  }
})

const reinsStopper = (name: string, kit: McpToolkit.McpToolkit, times: Current): Stopper => {
  let calls = 0
  return {
    name,
    times,
    start: () => {
      const fiber = Effect.runFork(Toolkit.run(kit, Part.toolCall(`call_${calls++}`, "hold", "{}")))
      return () => Effect.runPromise(Effect.asVoid(Fiber.interrupt(fiber)))
    }
  }
}

/** The figures of one way of stopping. */
export interface Row {
  readonly name: string
  /** From the stop to the handler seeing its abort (the finalizer, in process). */
  readonly handlerAborted: Summary
  /** From the stop to the stop call's return. */
  readonly stopReturned: Summary
}

/** The scenario's figures, with each MCP row's ratio to the SDK's own client on its transport. */
export interface McpStop {
  readonly runs: number
  readonly rows: ReadonlyArray<Row>
}

/** Runs `runs` stops of each kind, interleaved, after a warm-up. */
export const run = async (runs: number): Promise<McpStop> => {
  const scope = Effect.runSync(Scope.make())
  const files: Array<string> = []
  const stdioFile = () => {
    const file = path.join(os.tmpdir(), `reins-bench-mcp-${randomUUID()}.log`)
    files.push(file)
    return file
  }
  const stdioOptions = (file: string) => ({ command: process.execPath, args: ["--import", "tsx", SERVER, file], cwd: ROOT })
  const worker = await inWorker<HttpMethods>(new URL("./mcpServer.ts", import.meta.url))
  const clients: Array<Client> = []
  try {
    const sdkStdioFile = stdioFile()
    const sdkStdio = await sdkClient(new StdioClientTransport({ ...stdioOptions(sdkStdioFile), stderr: "ignore" }))
    const sdkHttp = await sdkClient(new StreamableHTTPClientTransport(new URL(worker.url)))
    clients.push(sdkStdio, sdkHttp)
    const reinsStdioFile = stdioFile()
    const reinsStdio = await Effect.runPromise(Scope.extend(McpToolkit.stdio({ ...stdioOptions(reinsStdioFile), timeout: "1 hour" }), scope))
    const reinsHttp = await Effect.runPromise(Scope.extend(McpToolkit.http({ url: worker.url, timeout: "1 hour" }), scope))
    const httpServer: Times = { started: (index) => worker.call.started(index), aborted: (index) => worker.call.aborted(index) }
    const httpCalls = { calls: 0 }
    const stoppers: ReadonlyArray<Stopper> = [
      sdkStopper("SDK client, stdio: AbortController.abort()", sdkStdio, current(fileTimes(sdkStdioFile))),
      reinsStopper("Reins McpToolkit, stdio: Fiber.interrupt", reinsStdio, current(fileTimes(reinsStdioFile))),
      sdkStopper("SDK client, Streamable HTTP: AbortController.abort()", sdkHttp, current(httpServer, httpCalls)),
      reinsStopper("Reins McpToolkit, Streamable HTTP: Fiber.interrupt", reinsHttp, current(httpServer, httpCalls))
    ]
    const samples = new Map<string, { aborted: Array<number>; returned: Array<number> }>()
    const add = (name: string, aborted: number, returned: number, measured: boolean) => {
      if (!measured) return
      const entry = samples.get(name) ?? { aborted: [], returned: [] }
      entry.aborted.push(aborted)
      entry.returned.push(returned)
      samples.set(name, entry)
    }
    const inProcess = "Reins tool in this process: Fiber.interrupt to its finalizer"
    for (let i = 0; i < runs + WARMUP; i++) {
      const measured = i >= WARMUP
      // The in-process stop: a tool whose handler holds a resource.
      const local = await Effect.runPromise(Effect.gen(function*() {
        const acquired = yield* Deferred.make<void>()
        let released = 0
        const hold = Tool.make("hold", {
          parameters: Schema.Struct({}),
          success: Schema.String,
          handler: () =>
            Effect.acquireRelease(Deferred.succeed(acquired, undefined), () => Effect.sync(() => void (released = now()))).pipe(
              Effect.zipRight(Effect.never),
              Effect.scoped
            )
        })
        const fiber = yield* Effect.fork(Toolkit.run(Toolkit.make(hold), Part.toolCall("c", "hold", "{}")))
        yield* Deferred.await(acquired)
        const start = now()
        yield* Fiber.interrupt(fiber)
        return { aborted: released - start, returned: now() - start }
      }))
      add(inProcess, local.aborted, local.returned, measured)
      for (const stopper of stoppers) {
        const stop = stopper.start()
        await stopper.times.started()
        const start = now()
        await stop()
        const returned = now() - start
        const aborted = (await stopper.times.aborted()) - start
        add(stopper.name, aborted, returned, measured)
      }
    }
    return {
      runs,
      rows: [...samples].map(([name, s]) => ({ name, handlerAborted: summarize(s.aborted), stopReturned: summarize(s.returned) }))
    }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    for (const client of clients) await client.close().catch(() => undefined)
    await worker.close()
    for (const file of files) fs.rmSync(file, { force: true })
  }
}

/** The markdown table of the figures, with Reins' ratio to the SDK's own client on each transport. */
export const table = (result: McpStop): string => {
  const sdk = (name: string) => result.rows.find((row) => row.name.startsWith("SDK client") && row.name.includes(name.includes("stdio") ? "stdio" : "HTTP"))
  const local = result.rows.find((row) => row.name.startsWith("Reins tool in this process"))
  const row = (r: Row) => {
    const floor = r.name.startsWith("Reins McpToolkit") ? sdk(r.name) : undefined
    const ratio = floor === undefined ? "" : `${fmt(r.handlerAborted.median / floor.handlerAborted.median)}x`
    const inProcess = local === undefined || r === local ? "" : `${fmt(r.handlerAborted.median / local.handlerAborted.median, 1)}x`
    return `| ${r.name} | ${fmt(r.handlerAborted.median, 3)} | ${fmt(r.handlerAborted.p99, 3)} | ${fmt(r.handlerAborted.max, 3)} | ${ratio} | ${inProcess} | ${fmt(r.stopReturned.median, 3)} |`
  }
  return [
    `Stopping a running MCP tool call: ms from the stop to the server's handler seeing its abort (${result.runs} stops each, interleaved)`,
    "",
    "| stop | median | p99 | max | median vs the SDK's client | median vs the in-process stop | stop call returned, median |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...result.rows.map(row)
  ].join("\n")
}
