/**
 * The test MCP server as a child process on stdio. `MCP_RECORD` names a file where what the
 * handlers see is appended as JSON lines; `MCP_MODE` picks how it misbehaves:
 * `sloppy` speaks JSON-RPC by hand, listing broken tools and answering with results MCP does
 * not define, `garbage` writes lines that are not JSON-RPC to stdout
 * between its messages, `exit` writes to stderr and exits before the handshake.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import * as fs from "node:fs"
import * as readline from "node:readline"
import { makeServer, sloppyResult, sloppyTools } from "./servers.js"

const mode = process.env.MCP_MODE ?? "normal"
const recordTo = process.env.MCP_RECORD

if (mode === "exit") {
  process.stderr.write("fatal: the configuration file /etc/nowhere.toml does not exist\n")
  process.exit(2)
}

/**
 * A server written by hand, as a careless one might be: the SDK's own servers check what they send,
 * so this one speaks JSON-RPC lines itself, with the sloppy server's tool list and results MCP does
 * not define.
 */
const sloppy = () => {
  const send = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`)
  const lines = readline.createInterface({ input: process.stdin })
  lines.on("line", (line) => {
    const request = JSON.parse(line) as { id?: number; method: string; params?: any }
    if (request.id === undefined) return
    switch (request.method) {
      case "initialize":
        return send({
          jsonrpc: "2.0",
          id: request.id,
          result: { protocolVersion: request.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "sloppy", version: "0.0.1" } }
        })
      case "tools/list":
        return send({ jsonrpc: "2.0", id: request.id, result: sloppyTools(request.params?.cursor) })
      case "tools/call":
        return send({ jsonrpc: "2.0", id: request.id, result: sloppyResult(request.params.name, request.params.arguments) })
      default:
        return send({ jsonrpc: "2.0", id: request.id, error: { code: -32601, message: "Method not found" } })
    }
  })
}

if (mode === "sloppy") sloppy()
else {
  const server = makeServer((seen) => {
    if (recordTo !== undefined) fs.appendFileSync(recordTo, `${JSON.stringify(seen)}\n`)
  })
  if (mode === "garbage") {
    process.stdout.write("Server starting... this line is not JSON-RPC\n")
    process.stdout.write(`${JSON.stringify({ hello: "a JSON line that is no message" })}\n`)
    const timer = setInterval(() => process.stdout.write("tick: still not JSON-RPC\n"), 10)
    timer.unref()
  }
  await server.connect(new StdioServerTransport())
}
