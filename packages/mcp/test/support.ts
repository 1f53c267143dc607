/**
 * What the MCP tests share: the stdio server's command line, the file its handlers record to, and
 * the model a turn talks to (a ProviderServer speaking Chat Completions).
 */
import type { McpToolkit } from "@reins/mcp"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Seen } from "./servers.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const script = fileURLToPath(new URL("./stdioServer.ts", import.meta.url))

/** The options that start the test server in a child process; `record` is where it writes what it sees. */
export const stdioServer = (mode: "normal" | "sloppy" | "garbage" | "exit", record?: string): McpToolkit.StdioOptions => ({
  command: process.execPath,
  args: ["--import", "tsx", script],
  env: { MCP_MODE: mode, ...(record === undefined ? {} : { MCP_RECORD: record }) },
  cwd: root
})

/** A fresh file for a server to record to, removed with the scope. */
export const recordFile = Effect.acquireRelease(
  Effect.sync(() => path.join(os.tmpdir(), `reins-mcp-${randomUUID()}.jsonl`)),
  (file) => Effect.sync(() => fs.rmSync(file, { force: true }))
)

/** What the server recorded so far. */
export const seenIn = (file: string): ReadonlyArray<Seen> =>
  fs.existsSync(file)
    ? fs.readFileSync(file, "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Seen)
    : []

/** Waits until `seen()` holds an event that `predicate` picks, and returns it. */
export const waitFor = (seen: () => ReadonlyArray<Seen>, predicate: (seen: Seen) => boolean): Effect.Effect<Seen> =>
  Effect.suspend(() => {
    const found = seen().find(predicate)
    return found === undefined ? Effect.fail("not yet" as const) : Effect.succeed(found)
  }).pipe(Effect.retry(Schedule.spaced("10 millis")), Effect.orDie)

/** Whether a process with this id is alive. */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
