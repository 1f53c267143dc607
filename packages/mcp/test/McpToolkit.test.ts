import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { Tool as ListedTool } from "@modelcontextprotocol/sdk/types.js"
import { describe, expect, it } from "@effect/vitest"
import { Message, Part, Toolkit, Turn } from "@reins/core"
import { McpError, McpToolkit } from "@reins/mcp"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Schedule from "effect/Schedule"
import * as fs from "node:fs"
import * as nodeHttp from "node:http"
import type { AddressInfo } from "node:net"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { vi } from "vitest"
import { chatModel } from "../../../test/support.js"
import { conversationProblems } from "../../../test/validity.js"
import { type Seen, startHttp } from "./servers.js"
import { isAlive, recordFile, seenIn, stdioServer, waitFor } from "./support.js"

// Each test starts servers, some of them child processes: more than the default 5 s on a loaded machine.
vi.setConfig({ testTimeout: 30_000 })

/** A running test server, reached over one transport. */
interface Opened {
  readonly kit: McpToolkit.McpToolkit
  /** What the server's handlers saw. */
  readonly seen: () => ReadonlyArray<Seen>
  /** Kills the server: the child process with SIGKILL, or the HTTP server and its connections. */
  readonly kill: () => Promise<void>
  /** The server's tools as the SDK's own client lists them. */
  readonly reference: () => Promise<ReadonlyArray<ListedTool>>
}

interface Fixture {
  readonly name: string
  readonly open: (options?: McpToolkit.Options) => Effect.Effect<Opened, McpError.McpError, Scope.Scope>
}

const listWith = async (transport: Transport) => {
  const client = new Client({ name: "reference", version: "1" })
  await client.connect(transport)
  const { tools } = await client.listTools()
  await client.close()
  return tools
}

const stdio: Fixture = {
  name: "stdio",
  open: (options) =>
    Effect.gen(function*() {
      const file = yield* recordFile
      const server = stdioServer("normal", file)
      const kit = yield* McpToolkit.stdio({ ...server, ...options })
      return {
        kit,
        seen: () => seenIn(file),
        kill: async () => void process.kill(kit.pid!, "SIGKILL"),
        reference: () =>
          listWith(new StdioClientTransport({ command: server.command, args: [...server.args!], env: { ...process.env, ...server.env } as Record<string, string>, cwd: server.cwd!, stderr: "ignore" }))
      }
    })
}

const http: Fixture = {
  name: "Streamable HTTP",
  open: (options) =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startHttp()), (server) => Effect.promise(() => server.close()))
      const kit = yield* McpToolkit.http({ url: server.url, ...options })
      return {
        kit,
        seen: () => server.seen,
        kill: () => server.kill(),
        reference: () => listWith(new StreamableHTTPClientTransport(new URL(server.url)))
      }
    })
}

const call = (id: string, name: string, args: unknown) => ({ id, name, arguments: JSON.stringify(args) })

const newConversation = SubscriptionRef.make<ReadonlyArray<Message.Message>>([])

/** A model on a fresh ProviderServer, for a turn. */
const withModel = <A, E>(f: (server: ProviderServer.ProviderServer) => Effect.Effect<A, E, any>) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    return yield* (f(server).pipe(Effect.provide(chatModel(server))) as Effect.Effect<A, E, Scope.Scope>)
  })

const resultOf = (history: ReadonlyArray<Message.Message>, id: string) =>
  history.find((m): m is Message.ToolResult => m._tag === "ToolResult" && m.toolCallId === id)

const interruptedText = "The call was interrupted before it finished; it has no result."

describe.each([stdio, http])("McpToolkit over $name", (fixture) => {
  it.scopedLive("offers the server's tools with its JSON Schemas, as the model receives them", () =>
    withModel((model) =>
      Effect.gen(function*() {
        const { kit, reference } = yield* fixture.open()
        expect(kit.server).toEqual({ name: "reins-test-server", version: "1.2.3" })
        model.enqueue(ChatCompletions.reply({ text: "Hi." }))
        const conversation = yield* newConversation
        yield* Turn.run({ conversation, input: "hi", toolkit: kit })
        const sent = (model.requests[0].json as any).tools.map((tool: any) => tool.function)
        const listed = yield* Effect.promise(reference)
        expect(sent.map((tool: any) => tool.name)).toEqual(listed.map((tool) => tool.name))
        for (const tool of listed) {
          const { $schema: _, ...schema } = tool.inputSchema as Record<string, unknown>
          expect(sent.find((s: any) => s.name === tool.name)).toEqual({ name: tool.name, description: tool.description, parameters: schema })
        }
      })))

  it.scopedLive("runs the tools a turn calls and gives the model their text, images and structured content", () =>
    withModel((model) =>
      Effect.gen(function*() {
        const { kit } = yield* fixture.open()
        model.enqueue(
          ChatCompletions.reply({
            toolCalls: [call("c1", "echo", { text: "hello" }), call("c2", "weather", { city: "Paris" }), call("c4", "fail", {}), call("c5", "echo", { text: 7 })]
          }),
          ChatCompletions.reply({ text: "Done." })
        )
        const conversation = yield* newConversation
        const result = yield* Turn.run({ conversation, input: "go", toolkit: kit })
        expect(result.stopReason).toBe("stop")
        const history = yield* SubscriptionRef.get(conversation)
        expect(resultOf(history, "c1")).toMatchObject({ content: [Part.text("echo: hello")], isError: false })
        expect(resultOf(history, "c2")).toMatchObject({ content: [Part.json({ city: "Paris", celsius: 21 })], isError: false })
        expect(resultOf(history, "c4")).toMatchObject({ content: "the disk is full", isError: true })
        // The server checks the arguments against its schema; its refusal goes back as an error result.
        expect(resultOf(history, "c5")).toMatchObject({ isError: true })
        expect(String(resultOf(history, "c5")?.content)).toMatch(/text/)
        const tools = (model.requests[1].json as any).messages.filter((m: any) => m.role === "tool")
        expect(tools[0]).toMatchObject({ tool_call_id: "c1", content: "echo: hello" })
        expect(conversationProblems(history)).toEqual([])
      })))

  it.scopedLive("gives images as image parts", () =>
    Effect.gen(function*() {
      const { kit } = yield* fixture.open()
      const result = yield* Toolkit.run(kit, Part.toolCall("i1", "picture", "{}"))
      expect(result.content).toEqual([Part.text("A pixel:"), Part.imageData((result.content[1] as Part.Image).data!, "image/png")])
      expect((result.content[1] as Part.Image).data).toMatch(/^iVBOR/)
    }))

  it.scopedLive("a stop while a tool runs cancels it on the server and leaves an interrupted result", () =>
    withModel((model) =>
      Effect.gen(function*() {
        const { kit, seen } = yield* fixture.open()
        model.enqueue(ChatCompletions.reply({ toolCalls: [call("h1", "hold", { key: "stop" }), call("e1", "echo", { text: "quick" })] }))
        const conversation = yield* newConversation
        const echoed = yield* Deferred.make<void>()
        const fiber = yield* Turn.stream({ conversation, input: "go", toolkit: kit }).pipe(
          Stream.runForEach((e) => e._tag === "ToolResult" && e.result.toolCallId === "e1" ? Deferred.succeed(echoed, undefined) : Effect.void),
          Effect.fork
        )
        yield* waitFor(seen, (s) => s.event === "started" && s.key === "stop")
        yield* Deferred.await(echoed)
        yield* Fiber.interrupt(fiber)
        const aborted = yield* waitFor(seen, (s) => s.event === "aborted" && s.key === "stop")
        expect(aborted).toMatchObject({ tool: "hold" })
        const history = yield* SubscriptionRef.get(conversation)
        expect(resultOf(history, "h1")).toMatchObject({ content: interruptedText, isError: true })
        expect(resultOf(history, "e1")).toMatchObject({ content: [Part.text("echo: quick")] })
        expect(conversationProblems(history)).toEqual([])
        // The conversation goes on, and the server still answers.
        model.enqueue(ChatCompletions.reply({ toolCalls: [call("e2", "echo", { text: "again" })] }), ChatCompletions.reply({ text: "ok" }))
        yield* Turn.run({ conversation, input: "Go on.", toolkit: kit })
        expect(resultOf(yield* SubscriptionRef.get(conversation), "e2")).toMatchObject({ content: [Part.text("echo: again")] })
      })))

  it.scopedLive("a tool timeout cancels the call on the server and tells the model it timed out", () =>
    withModel((model) =>
      Effect.gen(function*() {
        const { kit, seen } = yield* fixture.open({ timeout: "300 millis" })
        model.enqueue(ChatCompletions.reply({ toolCalls: [call("t1", "hold", { key: "timeout" })] }), ChatCompletions.reply({ text: "Too slow." }))
        const conversation = yield* newConversation
        yield* Turn.run({ conversation, input: "go", toolkit: kit })
        yield* waitFor(seen, (s) => s.event === "aborted" && s.key === "timeout")
        const history = yield* SubscriptionRef.get(conversation)
        expect(resultOf(history, "t1")).toMatchObject({ content: "The tool did not finish within 300ms.", isError: true })
        expect(conversationProblems(history)).toEqual([])
      })))

  it.scopedLive("the loser of a race is cancelled on the server", () =>
    Effect.gen(function*() {
      const { kit, seen } = yield* fixture.open()
      const hold = Toolkit.run(kit, Part.toolCall("r1", "hold", `{"key":"race"}`))
      const winner = Effect.as(waitFor(seen, (s) => s.event === "started" && s.key === "race"), "winner")
      expect(yield* Effect.race(hold, winner)).toBe("winner")
      yield* waitFor(seen, (s) => s.event === "aborted" && s.key === "race")
    }))

  it.scopedLive("progress the server reports reaches Turn.stream as ToolProgress events", () =>
    withModel((model) =>
      Effect.gen(function*() {
        const { kit } = yield* fixture.open()
        model.enqueue(ChatCompletions.reply({ toolCalls: [call("p1", "count", { steps: 3 })] }), ChatCompletions.reply({ text: "Counted." }))
        const conversation = yield* newConversation
        const events = Chunk.toReadonlyArray(yield* Stream.runCollect(Turn.stream({ conversation, input: "count", toolkit: kit })))
        expect(events.filter((e) => e._tag === "ToolProgress")).toEqual(
          [1, 2, 3].map((i) => ({ _tag: "ToolProgress", step: 1, callId: "p1", progress: i, total: 3, message: `step ${i}` }))
        )
        expect(resultOf(yield* SubscriptionRef.get(conversation), "p1")).toMatchObject({ content: [Part.text("counted to 3")] })
      })))

  it.scopedLive("a server killed mid-call gives an error result, not a hung turn", () =>
    withModel((model) =>
      Effect.gen(function*() {
        const { kill, kit, seen } = yield* fixture.open({ timeout: "1 hour" })
        model.enqueue(ChatCompletions.reply({ toolCalls: [call("k1", "hold", { key: "kill" })] }), ChatCompletions.reply({ text: "It died." }))
        const conversation = yield* newConversation
        const fiber = yield* Effect.fork(Turn.run({ conversation, input: "go", toolkit: kit }))
        yield* waitFor(seen, (s) => s.event === "started" && s.key === "kill")
        yield* Effect.promise(kill)
        const result = yield* Fiber.join(fiber)
        expect(result.stopReason).toBe("stop")
        const history = yield* SubscriptionRef.get(conversation)
        expect(resultOf(history, "k1")).toMatchObject({ isError: true })
        expect(String(resultOf(history, "k1")?.content)).toMatch(fixture.name === "stdio" ? /closed the connection/ : /The MCP server is gone/)
        expect(conversationProblems(history)).toEqual([])
        // Later calls fail at once too.
        const later = yield* Toolkit.run(kit, Part.toolCall("k2", "echo", `{"text":"x"}`))
        expect(later.isError).toBe(true)
      })))

  it.scopedLive("arguments that are not a JSON object are an error result, without a call", () =>
    Effect.gen(function*() {
      const { kit } = yield* fixture.open()
      const result = yield* Toolkit.run(kit, Part.toolCall("a1", "echo", "[1, 2]"))
      expect(result).toMatchObject({ isError: true, content: "The arguments must be a JSON object." })
    }))

  it.scopedLive("takes a prefix for the tools' names and calls the server by its own names", () =>
    Effect.gen(function*() {
      const { kit } = yield* fixture.open({ prefix: "test_", needsApproval: (tool) => tool.name === "fail" })
      expect(kit.definitions.map((tool) => tool.name)).toContain("test_echo")
      const result = yield* Toolkit.run(kit, Part.toolCall("x1", "test_echo", `{"text":"prefixed"}`))
      expect(result.content).toEqual([Part.text("echo: prefixed")])
      expect(kit.byName.get("test_fail")!.needsApproval(Part.toolCall("x2", "test_fail", "{}"))).toBe(true)
      expect(kit.byName.get("test_echo")!.needsApproval(Part.toolCall("x3", "test_echo", "{}"))).toBe(false)
    }))
})

describe("McpToolkit.stdio", () => {
  it.live("the scope's end ends the server process, also while a call runs", () =>
    Effect.gen(function*() {
      const pid = yield* Effect.scoped(Effect.gen(function*() {
        const file = yield* recordFile
        const kit = yield* McpToolkit.stdio(stdioServer("normal", file))
        expect(isAlive(kit.pid!)).toBe(true)
        yield* Effect.forkScoped(Toolkit.run(kit, Part.toolCall("s1", "hold", `{"key":"scope"}`)))
        yield* waitFor(() => seenIn(file), (s) => s.event === "started")
        return kit.pid!
      }))
      expect(isAlive(pid)).toBe(false)
    }))

  it.live("a server that exits at startup fails with the command and the end of its stderr", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(McpToolkit.stdio(stdioServer("exit"))))
      expect(McpError.isMcpError(error)).toBe(true)
      expect(error._tag).toBe("McpConnectionError")
      expect(error.server).toContain("stdioServer.ts")
      expect(error.reason).toMatch(/exited/)
      expect(error.stderr).toContain("/etc/nowhere.toml does not exist")
      expect(error.message).toContain("/etc/nowhere.toml does not exist")
    }))

  it.live("a command that does not exist fails with a connection error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(McpToolkit.stdio({ command: "/nonexistent/mcp-server", args: ["--flag"] })))
      expect(error.server).toBe("/nonexistent/mcp-server --flag")
      expect(error.message).toMatch(/ENOENT/)
    }))

  it.scopedLive("a server that never finishes its handshake is bounded by connectTimeout, and its process ended", () =>
    Effect.gen(function*() {
      const file = yield* recordFile
      const silent = `require("fs").writeFileSync(${JSON.stringify(file)}, String(process.pid)); process.stdin.resume(); process.on("SIGTERM", () => {})`
      const error = yield* Effect.flip(Effect.scoped(McpToolkit.stdio({ command: process.execPath, args: ["-e", silent], connectTimeout: "300 millis" })))
      expect(error.reason).toMatch(/no answer within 300ms/)
      // It ignored the end of its stdin and SIGTERM: the client's last resort, SIGKILL, ended it.
      expect(isAlive(Number(fs.readFileSync(file, "utf8")))).toBe(false)
    }), 20_000)

  it.scopedLive("a connection interrupted mid-handshake ends the server process", () =>
    Effect.gen(function*() {
      const file = yield* recordFile
      const silent = `require("fs").writeFileSync(${JSON.stringify(file)}, String(process.pid)); process.stdin.resume()`
      const fiber = yield* Effect.fork(Effect.scoped(McpToolkit.stdio({ command: process.execPath, args: ["-e", silent] })))
      yield* Effect.suspend(() => fs.existsSync(file) && fs.readFileSync(file, "utf8") !== "" ? Effect.void : Effect.fail("not yet")).pipe(
        Effect.retry(Schedule.spaced("10 millis"))
      )
      yield* Fiber.interrupt(fiber)
      expect(isAlive(Number(fs.readFileSync(file, "utf8")))).toBe(false)
    }))

  it.scopedLive("a server that writes garbage to stdout still serves its tools", () =>
    Effect.gen(function*() {
      const kit = yield* McpToolkit.stdio(stdioServer("garbage"))
      const result = yield* Toolkit.run(kit, Part.toolCall("g1", "echo", `{"text":"through the noise"}`))
      expect(result.content).toEqual([Part.text("echo: through the noise")])
    }))

  it.scopedLive("a sloppy server: broken tools are skipped with reasons, pages followed, odd content passed as JSON", () =>
    Effect.gen(function*() {
      const kit = yield* McpToolkit.stdio(stdioServer("sloppy"))
      expect(kit.definitions.map((tool) => tool.name)).toEqual(["echo", "weird", "not_an_object", "files_read"])
      expect(kit.skipped.map((s) => s.name)).toEqual(["no_schema", "string_schema", "bad_properties", "#4", "echo", "files/read"])
      // The model calls it by its safe name; the server is called by its own.
      const renamed = yield* Toolkit.run(kit, Part.toolCall("w0", "files_read", `{"path":"a"}`))
      expect(renamed.content).toEqual([Part.text(`echo: {"path":"a"}`)])
      expect(kit.definitions[1].parameters).toEqual({ type: "object", properties: {}, $defs: { x: { type: "string" } } })
      const weird = yield* Toolkit.run(kit, Part.toolCall("w1", "weird", "{}"))
      expect(weird.content).toEqual([Part.json({ type: "video", url: "https://example.com/v.mp4" }), Part.text("and text")])
      const odd = yield* Toolkit.run(kit, Part.toolCall("w2", "not_an_object", "{}"))
      expect(odd).toMatchObject({ isError: false, content: [Part.json("just a string")] })
    }))
})

describe("McpToolkit.http", () => {
  it.live("the scope's end ends the session with a DELETE", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => startHttp())
      const sessionId = yield* Effect.scoped(Effect.map(McpToolkit.http({ url: server.url }), (kit) => kit.sessionId))
      expect(sessionId).toBeDefined()
      expect(server.closedSessions).toEqual([sessionId])
      expect(server.openSessions()).toBe(0)
      yield* Effect.promise(() => server.close())
    }))

  it.live("a URL where nothing listens fails with a connection error", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => startHttp())
      yield* Effect.promise(() => server.close())
      const exit = yield* Effect.exit(Effect.scoped(McpToolkit.http({ url: server.url })))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(Effect.scoped(McpToolkit.http({ url: server.url })))
      expect(error.server).toBe(server.url)
      expect(error.reason).toMatch(/could not connect/)
    }))

  it.scopedLive("a URL that answers with something other than MCP, or not at all, fails with a connection error", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const server = nodeHttp.createServer((req, res) => {
            if (req.url === "/html") res.writeHead(200, { "content-type": "text/html" }).end("<h1>Hello</h1>")
            else if (req.url === "/500") res.writeHead(500).end("upstream broke")
            // "/silent": never answers
          })
          await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
          return server
        }),
        (server) => Effect.promise(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))))
      )
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const html = yield* Effect.flip(Effect.scoped(McpToolkit.http({ url: `${base}/html` })))
      expect(html.reason).toMatch(/content type/i)
      const failing = yield* Effect.flip(Effect.scoped(McpToolkit.http({ url: `${base}/500` })))
      expect(failing.reason).toMatch(/500|upstream broke/)
      const silent = yield* Effect.flip(Effect.scoped(McpToolkit.http({ url: `${base}/silent`, connectTimeout: "200 millis" })))
      expect(silent.reason).toMatch(/no answer within 200ms/)
    }))

  it.scopedLive("a sloppy server over HTTP: broken tools skipped", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => startHttp("sloppy")), (server) => Effect.promise(() => server.close()))
      const kit = yield* McpToolkit.http({ url: server.url })
      expect(kit.definitions.map((tool) => tool.name)).toEqual(["echo", "weird", "not_an_object", "files_read"])
    }))

  it.scopedLive("a stop mid-stream of the model, with MCP tools in the kit, closes the model's connection", () =>
    withModel((model) =>
      Effect.gen(function*() {
        const server = yield* Effect.acquireRelease(Effect.promise(() => startHttp()), (server) => Effect.promise(() => server.close()))
        const kit = yield* McpToolkit.http({ url: server.url })
        model.enqueue({ steps: [ChatCompletions.start(), ...ChatCompletions.text("Thinking"), Script.stall()] })
        const conversation = yield* newConversation
        const fiber = yield* Turn.stream({ conversation, input: "go", toolkit: kit }).pipe(
          Stream.takeUntil((e) => e._tag === "StreamPart" && e.part._tag === "TextDelta"),
          Stream.runDrain,
          Effect.fork
        )
        yield* Fiber.join(fiber)
        yield* Effect.promise(() => model.connectionClosed(model.requests[0].id))
        expect(conversationProblems(yield* SubscriptionRef.get(conversation))).toEqual([])
      })))
})
