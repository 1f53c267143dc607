/**
 * An ACP agent as a child process, driven by the SDK's own client over the child's stdio: what the
 * tests see is what an editor sees. Every `session/update` is recorded per session, permission
 * requests go to a handler the test sets, and the child's stderr is kept.
 */
import * as Acp from "@agentclientprotocol/sdk"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Readable, Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
export const fixtureAgent = path.join(root, "packages/acp/test/fixtures/agent.ts")

/** A fresh directory for a store. */
export const tempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "reins-acp-"))

export type PermissionHandler = (
  request: Acp.RequestPermissionRequest,
  agent: Acp.ClientContext,
  /** Aborted when the agent sends `$/cancel_request` for this request. */
  signal: AbortSignal
) => Promise<Acp.RequestPermissionResponse>

export interface AgentProcess {
  readonly child: ChildProcess
  readonly connection: Acp.ClientConnection
  readonly agent: Acp.ClientContext
  /** Every update received, in order, per session. */
  readonly updates: Map<string, Array<Acp.SessionUpdate>>
  /** Every stdout line that was not a JSON-RPC message (there must be none). */
  readonly strayLines: Array<string>
  /** Sets how permission requests are answered (allow once, by default). */
  onPermission(handler: PermissionHandler): void
  readonly permissionRequests: Array<Acp.RequestPermissionRequest>
  /** Resolves with the first update of `sessionId` (already received or to come) that `predicate` picks. */
  waitForUpdate(sessionId: string, predicate: (update: Acp.SessionUpdate) => boolean): Promise<Acp.SessionUpdate>
  stderr(): string
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>
  /** Starts a session, `initialize` done. */
  newSession(): Promise<string>
}

const allowOnce: PermissionHandler = async () => ({ outcome: { outcome: "selected", optionId: "allow_once" } })

/** Taps the child's stdout: lines that are not JSON objects are recorded, all bytes pass through. */
const tap = (stdout: NodeJS.ReadableStream, stray: Array<string>): ReadableStream<Uint8Array> => {
  let pending = ""
  stdout.on("data", (data: Buffer) => {
    pending += data.toString("utf8")
    const lines = pending.split("\n")
    pending = lines.pop() ?? ""
    for (const line of lines) {
      if (line.trim() === "") continue
      try {
        const value = JSON.parse(line)
        if (value === null || typeof value !== "object" || value.jsonrpc !== "2.0") stray.push(line)
      } catch {
        stray.push(line)
      }
    }
  })
  return Readable.toWeb(stdout as Readable) as unknown as ReadableStream<Uint8Array>
}

/** Spawns `command` as the agent and connects the SDK's client to it. */
export const spawnAgent = (command: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): AgentProcess => {
  const child = spawn(command[0], command.slice(1), { cwd: root, stdio: ["pipe", "pipe", "pipe"], env })
  let stderr = ""
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString("utf8")
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const updates = new Map<string, Array<Acp.SessionUpdate>>()
  const waiters = new Set<{ sessionId: string; predicate: (u: Acp.SessionUpdate) => boolean; resolve: (u: Acp.SessionUpdate) => void }>()
  const strayLines: Array<string> = []
  const permissionRequests: Array<Acp.RequestPermissionRequest> = []
  let permission = allowOnce
  const app = Acp.client({ name: "reins-test-client" })
    .onNotification(Acp.methods.client.session.update, ({ params }) => {
      const list = updates.get(params.sessionId) ?? []
      list.push(params.update)
      updates.set(params.sessionId, list)
      for (const waiter of waiters) {
        if (waiter.sessionId === params.sessionId && waiter.predicate(params.update)) {
          waiters.delete(waiter)
          waiter.resolve(params.update)
        }
      }
    })
    .onRequest(Acp.methods.client.session.requestPermission, ({ params, agent, signal }) => {
      permissionRequests.push(params)
      return permission(params, agent, signal)
    })
  const connection = app.connect(
    Acp.ndJsonStream(Writable.toWeb(child.stdin!) as WritableStream<Uint8Array>, tap(child.stdout!, strayLines))
  )
  const agent = connection.agent
  return {
    child,
    connection,
    agent,
    updates,
    strayLines,
    permissionRequests,
    onPermission: (handler) => {
      permission = handler
    },
    waitForUpdate: (sessionId, predicate) => {
      const found = (updates.get(sessionId) ?? []).find(predicate)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve) => waiters.add({ sessionId, predicate, resolve }))
    },
    stderr: () => stderr,
    exited,
    newSession: async () => {
      await agent.request(Acp.methods.agent.initialize, { protocolVersion: Acp.PROTOCOL_VERSION, clientCapabilities: {} })
      const { sessionId } = await agent.request(Acp.methods.agent.session.new, { cwd: root, mcpServers: [] })
      return sessionId
    }
  }
}

/** The command that runs the test agent on a model at `baseUrl`, storing sessions in `store`. */
export const fixtureCommand = (baseUrl: string, store: string): Array<string> => [
  process.execPath,
  "--conditions=@reins/source",
  "--import",
  "tsx",
  fixtureAgent,
  "--base-url",
  baseUrl,
  "--store",
  store
]

/** The test agent as a scoped resource: closed and awaited when the scope ends. */
export const agentProcess = (baseUrl: string, store: string) =>
  Effect.acquireRelease(
    Effect.sync(() => spawnAgent(fixtureCommand(baseUrl, store))),
    (p) =>
      Effect.promise(async () => {
        p.connection.close()
        p.child.stdin?.end()
        const timer = setTimeout(() => p.child.kill("SIGKILL"), 10_000)
        await p.exited
        clearTimeout(timer)
      })
  )

/** The kinds of updates in order, with consecutive repeats of chunk kinds folded. */
export const kinds = (updates: ReadonlyArray<Acp.SessionUpdate>): Array<string> => {
  const out: Array<string> = []
  for (const update of updates) {
    const kind = update.sessionUpdate === "tool_call_update" ? `tool_call_update:${update.status ?? "-"}` : update.sessionUpdate
    if ((kind === "agent_message_chunk" || kind === "agent_thought_chunk") && out.at(-1) === kind) continue
    out.push(kind)
  }
  return out
}

/** The text of the chunks of one kind, joined. */
export const chunkText = (updates: ReadonlyArray<Acp.SessionUpdate>, kind: "agent_message_chunk" | "agent_thought_chunk" | "user_message_chunk") =>
  updates.map((u) => (u.sessionUpdate === kind && u.content.type === "text" ? u.content.text : "")).join("")

/** A prompt of one text block. */
export const text = (value: string): Array<Acp.ContentBlock> => [{ type: "text", text: value }]
