/**
 * The MCP server of the `mcp-stop` scenario, built on the SDK's `McpServer`: one tool, `hold`, whose
 * handler records when it starts and when its request's signal aborts, then answers. Over stdio it
 * runs as a child process (`node --import tsx mcpServer.ts FILE`, appending `started TIME` and
 * `aborted TIME` lines to FILE); over Streamable HTTP, `serve` starts it for a worker thread
 * (see `workerServer.ts`). Times are wall-clock milliseconds with sub-millisecond precision.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import type { Served } from "./workerServer.js"

const now = () => performance.timeOrigin + performance.now()

/** The server, telling `record` what its handler sees. */
const makeServer = (record: (event: "started" | "aborted", at: number) => void): McpServer => {
  const server = new McpServer({ name: "bench-hold", version: "1.0.0" })
  server.registerTool("hold", { description: "Holds until cancelled" }, (extra) =>
    new Promise((resolve) => {
      record("started", now())
      extra.signal.addEventListener("abort", () => {
        record("aborted", now())
        resolve({ content: [{ type: "text", text: "aborted" }] })
      }, { once: true })
    }))
  return server
}

/** Waits for the `index`-th time of a kind (counting from 0), from the ones seen so far or the next. */
class Times {
  private readonly seen: Array<number> = []
  private readonly waiting = new Map<number, (at: number) => void>()
  push(at: number) {
    const index = this.seen.push(at) - 1
    this.waiting.get(index)?.(at)
    this.waiting.delete(index)
  }
  at(index: number): Promise<number> {
    return index < this.seen.length ? Promise.resolve(this.seen[index]) : new Promise((resolve) => this.waiting.set(index, resolve))
  }
}

/** What the main thread asks the HTTP server in its worker. */
export type HttpMethods = {
  readonly started: (index: number) => Promise<number>
  readonly aborted: (index: number) => Promise<number>
}

/** The Streamable HTTP server on 127.0.0.1, one `McpServer` per session. */
export const serve = async (): Promise<Served<HttpMethods>> => {
  const times = { started: new Times(), aborted: new Times() }
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  const server = http.createServer(async (req, res) => {
    const id = req.headers["mcp-session-id"]
    const existing = typeof id === "string" ? sessions.get(id) : undefined
    if (existing !== undefined) return existing.handleRequest(req, res)
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => void sessions.set(sessionId, transport),
      onsessionclosed: (sessionId) => void sessions.delete(sessionId)
    })
    await makeServer((event, at) => times[event].push(at)).connect(transport)
    await transport.handleRequest(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    methods: { started: (index) => times.started.at(index), aborted: (index) => times.aborted.at(index) },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.setSourceMapsEnabled(false) // as in the bench's threads; see main.ts
  const file = process.argv[2]!
  await makeServer((event, at) => fs.appendFileSync(file, `${event} ${at}\n`)).connect(new StdioServerTransport())
}
