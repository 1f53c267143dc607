/**
 * The tools of an MCP server as a Reins `Toolkit`, over stdio (a child process) or Streamable HTTP.
 * The toolkit lives in a scope: it connects, lists the server's tools and offers them to the model
 * with the server's own JSON Schemas; the scope's end closes the process or ends the HTTP session.
 *
 * A call is an MCP `tools/call` request. Interrupting it (a turn's stop, the tool's `timeout`, the
 * loser of a race) aborts the request, so that the server is sent `notifications/cancelled` and
 * its handler sees its signal abort, and the turn records the call as interrupted. Progress the
 * server reports becomes the turn's `ToolProgress` events. A server that dies mid-call gives the
 * model an error result; one that never answers is bounded by the `timeout`.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import { ErrorCode, McpError as SdkError, PaginatedResultSchema, ResultSchema } from "@modelcontextprotocol/sdk/types.js"
import { Part, Tool, Toolkit } from "@reins/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as McpContent from "./McpContent.js"
import { ConnectionError } from "./McpError.js"

/** A tool of an MCP server, as the turn runs it: arguments in, result parts (or an error text) out. */
export type McpTool = Tool.Tool<unknown, ReadonlyArray<Part.ToolResultPart>, string, never>

/** An MCP server's tools, with what is known of the server and of the tools left out. */
export interface McpToolkit extends Toolkit.Toolkit<ReadonlyArray<McpTool>> {
  /** The server's name and version, from its handshake. */
  readonly server: { readonly name: string; readonly version: string }
  /** The listed tools left out, and why (see `McpContent.tools`). */
  readonly skipped: ReadonlyArray<McpContent.Skipped>
  /** The server process's id (stdio). */
  readonly pid: number | undefined
  /** The session the server gave (Streamable HTTP), ended with the scope. */
  readonly sessionId: string | undefined
}

/** What both transports take. */
export interface Options {
  /**
   * How long a call may run before it is interrupted (and cancelled on the server) and reported to
   * the model as timed out; default 5 minutes. `Duration.infinity` lets calls run until stopped.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** How long the handshake and the tool listing may take together; default 30 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * Put before each tool's name, to keep the tools of several servers apart (`"github_"`). The
   * name is then made one that every provider takes (see `McpContent.toolName`).
   */
  readonly prefix?: string | undefined
  /** Which tools must be approved before they run (see `Approval`), from the server's listing. */
  readonly needsApproval?: ((tool: McpContent.McpTool) => boolean) | undefined
  /** How the client introduces itself to the server; default `reins`. */
  readonly clientInfo?: { readonly name: string; readonly version: string } | undefined
}

/** A server run as a child process that speaks MCP on its stdin and stdout. */
export interface StdioOptions extends Options {
  readonly command: string
  readonly args?: ReadonlyArray<string> | undefined
  /** Added to the few variables passed by default (`PATH`, `HOME`, ...), not to the whole environment. */
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
}

/** A server at a Streamable HTTP endpoint. */
export interface HttpOptions extends Options {
  readonly url: string | URL
  /** Sent with every request (an `Authorization` header, say). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * The longest timeout the SDK can be given: it arms a `setTimeout`, which fires at once past this.
 * Calls get it, so that the tool's own `timeout`, not the SDK's 60-second default, ends them.
 */
const NO_SDK_TIMEOUT_MS = 2_147_483_647
const DEFAULT_TIMEOUT = Duration.minutes(5)
const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(30)
/** How much of a server's stderr is kept for the error that says why it did not start. */
const STDERR_TAIL = 4_000
/** A `tools/list` that has not ended after this many pages is taken to loop. */
const MAX_PAGES = 1_000
/** How long the probe of a Streamable HTTP server whose stream broke may take. */
const PROBE_MS = 5_000

const describe = (error: unknown): string => error instanceof Error ? error.message : String(error)

/**
 * A connected client, and what ends the calls in flight when the server is found gone: plain
 * callbacks, not a race, so that a call's stop goes through no extra fiber.
 */
class Connection {
  /** Why the server is taken to be gone, once it is. */
  private gone: string | undefined
  private readonly calls = new Set<(reason: string) => void>()
  constructor(readonly client: Client, readonly server: string) {}

  /** Ends every call in flight, and every later one, with `reason`. */
  lose(reason: string) {
    if (this.gone !== undefined) return
    this.gone = reason
    for (const end of this.calls) end(reason)
    this.calls.clear()
  }

  /** Registers a call's end; the returned function unregisters it. */
  onLost(end: (reason: string) => void): () => void {
    if (this.gone !== undefined) {
      end(this.gone)
      return () => undefined
    }
    this.calls.add(end)
    return () => void this.calls.delete(end)
  }
}

/** The most of a server's error message the model is shown. */
const MAX_ERROR_CHARS = 1_000

const clip = (text: string) => text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}...` : text

/** A call's failure as the model reads it. */
const callFailure = (error: unknown): string => {
  if (error instanceof SdkError && error.code === ErrorCode.ConnectionClosed) {
    return "The MCP server closed the connection before the call finished."
  }
  if (error instanceof SdkError) return clip(`The MCP server answered with an error: ${error.message}`)
  return clip(`The call to the MCP server failed: ${describe(error)}`)
}

/**
 * One `tools/call`. Interrupting it before its result aborts the request's signal, which has the
 * SDK send `notifications/cancelled`; the SDK's rejection that follows is not read, so the turn
 * sees the interruption itself, not a request-timeout error. Progress goes to `Tool.progress` in
 * the order it came, and the result waits for the reports before it.
 */
const callTool = (connection: Connection, name: string, args: Record<string, unknown>): Effect.Effect<unknown, string> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    Effect.async<unknown, string>((resume) => {
      const controller = new AbortController()
      let settled = false
      let reported: Promise<unknown> = Promise.resolve()
      const report = Runtime.runPromise(runtime)
      const forget = connection.onLost((reason) => {
        if (settled) return
        settled = true
        resume(Effect.fail(reason))
      })
      connection.client.request({ method: "tools/call", params: { name, arguments: args } }, ResultSchema, {
        signal: controller.signal,
        timeout: NO_SDK_TIMEOUT_MS,
        onprogress: ({ message, progress, total }) => {
          if (!settled) reported = reported.then(() => report(Tool.progress({ progress, total, message })))
        }
      }).then(
        (result) => {
          if (settled) return
          settled = true
          forget()
          reported.then(() => resume(Effect.succeed(result)), () => resume(Effect.succeed(result)))
        },
        (error) => {
          if (settled) return
          settled = true
          forget()
          resume(Effect.fail(callFailure(error)))
        }
      )
      // Aborting a settled request would still send a cancellation: the SDK never removes its listener.
      return Effect.sync(() => {
        forget()
        if (settled) return
        settled = true
        controller.abort("The call was interrupted.")
      })
    }))

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** A Reins tool that calls `listed` on the connection's server. */
const makeTool = (connection: Connection, name: string, listed: McpContent.McpTool, options: Options): McpTool =>
  Tool.fromJsonSchema(name, {
    description: listed.description ?? listed.title ?? listed.annotations?.title,
    parameters: listed.inputSchema,
    success: Tool.Content,
    failure: Schema.String,
    timeout: options.timeout ?? DEFAULT_TIMEOUT,
    needsApproval: options.needsApproval?.(listed) ?? false,
    handler: (args) => {
      if (!isRecord(args)) return Effect.fail("The arguments must be a JSON object.")
      const call = callTool(connection, listed.name, args).pipe(
        Effect.flatMap((result) => {
          const read = McpContent.result(result)
          return read.isError ? Effect.fail(McpContent.errorText(read.content)) : Effect.succeed(read.content)
        })
      )
      return call.pipe(Effect.withSpan("McpToolkit.call", { attributes: { "mcp.server": connection.server, "mcp.tool": listed.name } }))
    }
  })

/** Every page of `tools/list`. */
const listAll = async (client: Client, signal: AbortSignal): Promise<ReadonlyArray<unknown>> => {
  const all: Array<unknown> = []
  const seen = new Set<string>()
  let cursor: string | undefined
  for (let page = 0; page < MAX_PAGES; page++) {
    // Read loosely, so that one bad tool is skipped instead of failing the whole answer.
    const result = await client.request(
      { method: "tools/list", params: cursor === undefined ? {} : { cursor } },
      PaginatedResultSchema,
      { signal, timeout: NO_SDK_TIMEOUT_MS }
    )
    const tools = (result as Record<string, unknown>).tools
    if (!Array.isArray(tools)) throw new Error("tools/list answered without a tools array")
    all.push(...tools)
    cursor = result.nextCursor
    if (cursor === undefined) return all
    if (seen.has(cursor)) throw new Error(`tools/list sent the cursor ${JSON.stringify(cursor)} twice`)
    seen.add(cursor)
  }
  throw new Error(`tools/list did not end after ${MAX_PAGES} pages`)
}

interface Connect {
  readonly server: string
  readonly transport: Transport
  readonly options: Options
  /** What the process wrote to stderr lately (stdio). */
  readonly stderr: () => string | undefined
  readonly pid: () => number | undefined
  readonly sessionId: () => string | undefined
  /** Why a connection closed before it was ready. */
  readonly closedEarly: string
  /** Runs when a call's stream breaks, to find out whether the server is gone (HTTP). */
  readonly probe: boolean
  /** Runs first at the scope's end (the HTTP session's DELETE). */
  readonly beforeClose?: (() => Promise<void>) | undefined
  /** Settles once the transport has closed: for stdio, once the process has exited. */
  readonly closed: Promise<void>
}

/** Connects, lists the tools and makes the toolkit; the scope's end closes the client. */
const connect = (spec: Connect): Effect.Effect<McpToolkit, ConnectionError, Scope.Scope> =>
  Effect.gen(function*() {
    const { options, server, transport } = spec
    const fail = (reason: string, cause?: unknown) => new ConnectionError({ server, reason, stderr: spec.stderr(), cause })
    const client = new Client(options.clientInfo ?? { name: "reins", version: "0.1.0" }, { capabilities: {} })
    const connection = new Connection(client, server)
    let probing = false
    let closing = false
    // Transport errors (a line of garbage on stdout, a broken stream) are not the calls' own; a
    // Streamable HTTP stream that breaks leaves its call waiting forever, so the server is probed.
    client.onerror = (error) => {
      if (!spec.probe || probing || closing || !/SSE stream disconnected|reconnect/i.test(error.message)) return
      probing = true
      client.ping({ timeout: PROBE_MS }).then(
        () => void (probing = false),
        (cause) => {
          if (!closing) connection.lose(`The MCP server is gone: ${describe(cause)}`)
        }
      )
    }
    client.onclose = () => {
      if (!closing) connection.lose("The MCP server closed the connection before the call finished.")
    }
    let started = false
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closing = true
        if (!started) return
        await spec.beforeClose?.().catch(() => undefined)
        await (client.transport === undefined ? transport.close() : client.close()).catch(() => undefined)
        // A close already under way (the SDK's own, after a failed handshake) returns at once: wait
        // for the transport's end itself, so that the scope ends after the process.
        await spec.closed
      }).pipe(Effect.timeout("10 seconds"), Effect.ignore)
    )
    const listed = yield* Effect.tryPromise({
      try: async (signal) => {
        started = true
        await client.connect(transport, { signal, timeout: NO_SDK_TIMEOUT_MS })
        return client.getServerCapabilities()?.tools === undefined ? [] : await listAll(client, signal)
      },
      catch: (cause) => {
        const reason = cause instanceof SdkError && cause.code === ErrorCode.ConnectionClosed ? spec.closedEarly : describe(cause)
        return fail(client.getServerVersion() === undefined ? `could not connect: ${reason}` : `could not list its tools: ${reason}`, cause)
      }
    }).pipe(
      Effect.timeoutFail({
        duration: options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
        onTimeout: () => fail(`no answer within ${Duration.format(Duration.decode(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT))}`)
      })
    )
    const listing = McpContent.tools(listed)
    const skipped = [...listing.skipped]
    const named = new Map<string, McpContent.McpTool>()
    for (const tool of listing.tools) {
      const name = McpContent.toolName(options.prefix ?? "", tool.name)
      if (named.has(name)) skipped.push({ name: tool.name, reason: `its name as the model sees it, ${name}, is taken` })
      else named.set(name, tool)
    }
    const version = client.getServerVersion()
    const toolkit = Toolkit.make(...[...named].map(([name, tool]) => makeTool(connection, name, tool, options)))
    return {
      ...toolkit,
      server: { name: version?.name ?? "unknown", version: version?.version ?? "unknown" },
      skipped,
      pid: spec.pid(),
      sessionId: spec.sessionId()
    }
  }).pipe(Effect.withSpan("McpToolkit.connect", { attributes: { "mcp.server": spec.server } }))

/**
 * Starts an MCP server as a child process and offers its tools. The scope's end closes the
 * server's stdin and, if it does not exit, signals it until it does.
 *
 * @example
 * ```ts
 * import { Message, Turn } from "@reins/core"
 * import { McpToolkit } from "@reins/mcp"
 * import { Effect, SubscriptionRef } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const toolkit = yield* McpToolkit.stdio({ command: "npx", args: ["-y", "@modelcontextprotocol/server-everything"] })
 *   const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
 *   return yield* Turn.run({ conversation, input: "Add 2 and 3 with your tools.", toolkit })
 * }))
 * ```
 */
export const stdio = (options: StdioOptions): Effect.Effect<McpToolkit, ConnectionError, Scope.Scope> =>
  Effect.suspend(() => {
    const args = options.args ?? []
    const server = [options.command, ...args].map((arg) => /\s/.test(arg) ? JSON.stringify(arg) : arg).join(" ")
    const transport = new StdioClientTransport({
      command: options.command,
      args: [...args],
      env: { ...getDefaultEnvironment(), ...options.env },
      stderr: "pipe",
      ...(options.cwd === undefined ? {} : { cwd: options.cwd })
    })
    // Set before the client chains its own handler onto it.
    const closed = new Promise<void>((resolve) => {
      transport.onclose = resolve
    })
    // Read always, so that a server that writes a lot to stderr never blocks on a full pipe.
    let tail = ""
    transport.stderr?.on("data", (chunk: Buffer) => {
      tail = (tail + chunk.toString("utf8")).slice(-STDERR_TAIL)
    })
    return connect({
      server,
      transport,
      options,
      stderr: () => tail,
      pid: () => transport.pid ?? undefined,
      sessionId: () => undefined,
      probe: false,
      closedEarly: "the process exited before the MCP handshake was done",
      closed
    })
  })

/**
 * Connects to an MCP server's Streamable HTTP endpoint and offers its tools. The scope's end ends
 * the session with the `DELETE` the protocol defines, then closes the client.
 *
 * @example
 * ```ts
 * import { McpToolkit } from "@reins/mcp"
 * import { Effect } from "effect"
 *
 * const names = Effect.scoped(Effect.gen(function*() {
 *   const toolkit = yield* McpToolkit.http({ url: "http://127.0.0.1:3000/mcp", headers: { authorization: "Bearer my-token" } })
 *   return toolkit.definitions.map((tool) => tool.name)
 * }))
 * ```
 */
export const http = (options: HttpOptions): Effect.Effect<McpToolkit, ConnectionError, Scope.Scope> =>
  Effect.suspend(() => {
    const url = new URL(options.url)
    const transport = new StreamableHTTPClientTransport(url, {
      requestInit: { headers: { ...options.headers } },
      // A stream is resumed at most once before the server is taken to be gone.
      reconnectionOptions: { initialReconnectionDelay: 250, maxReconnectionDelay: 1_000, reconnectionDelayGrowFactor: 2, maxRetries: 1 }
    })
    return connect({
      server: url.href,
      transport,
      options,
      stderr: () => undefined,
      pid: () => undefined,
      sessionId: () => transport.sessionId,
      probe: true,
      closedEarly: "the connection closed before the MCP handshake was done",
      closed: Promise.resolve(),
      beforeClose: () => transport.terminateSession()
    })
  })
