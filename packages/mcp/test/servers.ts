/**
 * MCP servers for the tests and the bench, built on the SDK's `McpServer`: the same tools over
 * stdio (a child process running `stdioServer.ts`) and over Streamable HTTP on 127.0.0.1.
 * What a handler sees (its start, its signal's abort) is recorded, so that a test can prove a stop
 * reached the server.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { z } from "zod"

/** What a handler saw. */
export type Seen =
  | { readonly event: "started"; readonly tool: string; readonly key: string; readonly at: number }
  | { readonly event: "aborted"; readonly tool: string; readonly key: string; readonly at: number; readonly reason: string }
  | { readonly event: "finished"; readonly tool: string; readonly key: string; readonly at: number }

/** Which server: the test tools, or a sloppy server. */
export type Mode = "normal" | "sloppy"

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="

/** An `McpServer` with the test tools; `record` is told what each handler sees. */
export const makeServer = (record: (seen: Seen) => void): McpServer => {
  const server = new McpServer({ name: "reins-test-server", version: "1.2.3" })
  server.registerTool("echo", {
    description: "Echoes the text",
    inputSchema: { text: z.string().describe("What to echo") }
  }, ({ text }) => ({ content: [{ type: "text", text: `echo: ${text}` }] }))
  server.registerTool("weather", {
    description: "The weather in a city",
    inputSchema: { city: z.string() },
    outputSchema: { city: z.string(), celsius: z.number() }
  }, ({ city }) => {
    const structuredContent = { city, celsius: 21 }
    return { content: [{ type: "text", text: JSON.stringify(structuredContent) }], structuredContent }
  })
  server.registerTool("picture", { description: "A tiny picture" }, () => ({
    content: [{ type: "text", text: "A pixel:" }, { type: "image", data: PNG, mimeType: "image/png" }]
  }))
  server.registerTool("fail", { description: "Always fails" }, () => ({
    isError: true,
    content: [{ type: "text", text: "the disk is full" }]
  }))
  // Waits until its request is cancelled, recording its start and its abort under `key`.
  server.registerTool("hold", {
    description: "Holds until cancelled",
    inputSchema: { key: z.string() }
  }, ({ key }, extra) =>
    new Promise((resolve) => {
      record({ event: "started", tool: "hold", key, at: Date.now() })
      extra.signal.addEventListener("abort", () => {
        record({ event: "aborted", tool: "hold", key, at: Date.now(), reason: String(extra.signal.reason) })
        resolve({ content: [{ type: "text", text: "aborted" }] })
      }, { once: true })
    }))
  // Reports `steps` progress notifications, then answers.
  server.registerTool("count", {
    description: "Counts, reporting progress",
    inputSchema: { steps: z.number() }
  }, async ({ steps }, extra) => {
    const progressToken = extra._meta?.progressToken
    for (let i = 1; i <= steps; i++) {
      if (progressToken !== undefined) {
        await extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress: i, total: steps, message: `step ${i}` } })
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return { content: [{ type: "text", text: `counted to ${steps}` }] }
  })
  return server
}

/**
 * The sloppy server's `tools/list` pages: some tools broken, one name twice, two names that
 * providers reject and that are one name once made safe.
 */
export const sloppyTools = (cursor: string | undefined): unknown =>
  cursor === undefined
    ? {
      tools: [
        { name: "echo", description: "Echoes the text", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
        { name: "no_schema" },
        { name: "string_schema", inputSchema: { type: "string" } },
        { name: "bad_properties", inputSchema: { type: "object", properties: 7 } },
        { description: "no name", inputSchema: { type: "object" } }
      ],
      nextCursor: "page-2"
    }
    : {
      tools: [
        { name: "echo", inputSchema: { type: "object" } },
        { name: "weird", inputSchema: { type: "object", properties: {}, $defs: { x: { type: "string" } } } },
        { name: "not_an_object", inputSchema: { type: "object" } },
        { name: "files.read", inputSchema: { type: "object" } },
        { name: "files/read", inputSchema: { type: "object" } }
      ]
    }

/** The sloppy server's `tools/call` results, some of them outside MCP. */
export const sloppyResult = (name: string, args: unknown): unknown => {
  switch (name) {
    case "weird":
      return { content: [{ type: "video", url: "https://example.com/v.mp4" }, { type: "text", text: "and text" }] }
    case "not_an_object":
      return { content: "just a string" }
    default:
      return { content: [{ type: "text", text: `echo: ${JSON.stringify(args)}` }] }
  }
}

/**
 * The sloppy server on the SDK's low-level `Server` (what `McpServer` is built on, and which lets
 * a handler list what it likes, though it checks call results).
 */
export const makeSloppyServer = (): Server => {
  const server = new Server({ name: "sloppy", version: "0.0.1" }, { capabilities: { tools: {} } })
  server.setRequestHandler(ListToolsRequestSchema, (request) => sloppyTools(request.params?.cursor) as never)
  server.setRequestHandler(CallToolRequestSchema, (request) => sloppyResult(request.params.name, request.params.arguments) as never)
  return server
}

/** A Streamable HTTP MCP server on 127.0.0.1, one `McpServer` per session. */
export interface HttpServer {
  readonly url: string
  readonly seen: Array<Seen>
  /** Session ids the server saw ended by a DELETE. */
  readonly closedSessions: Array<string>
  readonly openSessions: () => number
  /** Stops listening and destroys every connection, as a server that dies would. */
  readonly kill: () => Promise<void>
  readonly close: () => Promise<void>
}

/** Starts the HTTP server on a free port. */
export const startHttp = async (mode: Mode = "normal", onSeen?: (seen: Seen) => void): Promise<HttpServer> => {
  const seen: Array<Seen> = []
  const closedSessions: Array<string> = []
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  const record = (event: Seen) => {
    seen.push(event)
    onSeen?.(event)
  }
  const server = http.createServer(async (req, res) => {
    try {
      const id = req.headers["mcp-session-id"]
      const existing = typeof id === "string" ? sessions.get(id) : undefined
      if (existing !== undefined) return await existing.handleRequest(req, res)
      if (req.method !== "POST" || id !== undefined) {
        res.writeHead(404).end()
        return
      }
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => void sessions.set(sessionId, transport),
        onsessionclosed: (sessionId) => {
          sessions.delete(sessionId)
          closedSessions.push(sessionId)
        }
      })
      await (mode === "sloppy" ? makeSloppyServer() : makeServer(record)).connect(transport)
      await transport.handleRequest(req, res)
    } catch (error) {
      if (!res.headersSent) res.writeHead(500).end(String(error))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const stop = async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    seen,
    closedSessions,
    openSessions: () => sessions.size,
    kill: stop,
    close: async () => {
      for (const transport of sessions.values()) await transport.close().catch(() => undefined)
      await stop()
    }
  }
}
