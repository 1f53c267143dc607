/**
 * The agent as an editor runs it: a child process speaking ACP on its stdio, driven by the SDK's
 * own client, its model a ProviderServer on 127.0.0.1 that records when each connection closes.
 * Every stop (session/cancel, $/cancel_request, a cancelled permission outcome, a client that goes
 * away) is proven at the provider's socket, and the conversation it leaves is checked against each
 * provider's request rules.
 */
import * as Acp from "@agentclientprotocol/sdk"
import { describe, expect, it } from "@effect/vitest"
import { SessionStore } from "@reins/acp"
import type { Message } from "@reins/core"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { conversationProblems, requestProblems } from "../../../test/validity.js"
import { agentProcess, chunkText, kinds, tempDir, text } from "./support.js"

const stored = (store: string, sessionId: string): ReadonlyArray<Message.Message> =>
  Schema.decodeSync(SessionStore.StoredSessionJson)(fs.readFileSync(path.join(store, `${sessionId}.json`), "utf8")).conversation

const thinking = (thought: string): Script.Script => ({
  steps: [ChatCompletions.start(), ...ChatCompletions.reasoning(thought, { chunkSize: 8 }), Script.stall()]
})

const isThought = (u: Acp.SessionUpdate) => u.sessionUpdate === "agent_thought_chunk"

/** Waits until the provider has seen the connection of its request `id` close, and says when. */
const closed = (server: ProviderServer.ProviderServer, id: number) => Effect.promise(() => server.connectionClosed(id))

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

describe("AcpAgent over stdio", () => {
  it.scopedLive("a prompt streams reasoning, a tool call with its input and result, usage and the answer", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const store = tempDir()
      server.enqueue(
        ChatCompletions.reply({
          reasoning: "The user wants the time; I'll check.",
          toolCalls: [{ id: "call_1", name: "current_time", arguments: { tz: "Europe/Paris" } }],
          usage: { prompt_tokens: 40, completion_tokens: 12 }
        }),
        ChatCompletions.reply({ text: "It is noon in Paris.", usage: { prompt_tokens: 60, completion_tokens: 8 } })
      )
      const p = yield* agentProcess(`${server.url}/v1`, store)
      const sessionId = yield* promise(() => p.newSession())
      const answer = yield* promise(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("What time is it?") }))
      expect(answer.stopReason).toBe("end_turn")
      const updates = p.updates.get(sessionId)!
      expect(kinds(updates)).toEqual([
        "agent_thought_chunk",
        "tool_call",
        "tool_call_update:-",
        "tool_call_update:in_progress",
        "tool_call_update:completed",
        "usage_update",
        "agent_message_chunk",
        "usage_update"
      ])
      expect(chunkText(updates, "agent_thought_chunk")).toBe("The user wants the time; I'll check.")
      expect(chunkText(updates, "agent_message_chunk")).toBe("It is noon in Paris.")
      const call = updates.find((u) => u.sessionUpdate === "tool_call")!
      expect(call).toMatchObject({ toolCallId: "call_1", title: "current_time", kind: "other", status: "pending" })
      expect(updates.find((u) => u.sessionUpdate === "tool_call_update" && u.rawInput !== undefined)).toMatchObject({
        rawInput: { tz: "Europe/Paris" },
        title: "current_time: Europe/Paris"
      })
      expect(updates.find((u) => u.sessionUpdate === "tool_call_update" && u.status === "completed")).toMatchObject({
        toolCallId: "call_1",
        rawOutput: "12:00 in Europe/Paris",
        content: [{ type: "content", content: { type: "text", text: "12:00 in Europe/Paris" } }]
      })
      expect(updates.filter((u) => u.sessionUpdate === "usage_update")).toMatchObject([
        { used: 52, size: 1000 },
        { used: 68, size: 1000 }
      ])
      expect(p.strayLines).toEqual([])
      expect(conversationProblems(stored(store, sessionId))).toEqual([])
    }), 30_000)

  it.scopedLive("session/cancel mid-reasoning closes the provider's socket, answers cancelled, and the next prompt continues a valid history", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const store = tempDir()
      server.enqueue(thinking("Let me think about this for a very long time..."))
      const p = yield* agentProcess(`${server.url}/v1`, store)
      const sessionId = yield* promise(() => p.newSession())
      const prompt = p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Hello") })
      yield* promise(() => p.waitForUpdate(sessionId, isThought))
      const request = server.requests[0]
      expect(request.clientClosedAt).toBeUndefined()
      yield* promise(() => p.agent.notify(Acp.methods.agent.session.cancel, { sessionId }))
      const answer = yield* promise(() => prompt)
      const answeredAt = performance.now()
      expect(answer.stopReason).toBe("cancelled")
      // The socket closed before the answer: the agent answers once the turn has stopped.
      const closedAt = yield* closed(server, request.id)
      expect(closedAt).toBeLessThanOrEqual(answeredAt)

      const history = stored(store, sessionId)
      expect(history.map((m) => m._tag)).toEqual(["User", "Assistant"])
      expect((history[1] as Message.Assistant).stopReason).toBe("interrupted")
      expect(conversationProblems(history)).toEqual([])
      // What the stopped answer cost, estimated, is the last update before the answer.
      expect(p.updates.get(sessionId)!.at(-1)).toMatchObject({
        sessionUpdate: "usage_update",
        size: 1000,
        _meta: { reins: { usage: { estimated: true } } }
      })

      server.enqueue(ChatCompletions.reply({ text: "Hello again." }))
      const next = yield* promise(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Go on.") }))
      expect(next.stopReason).toBe("end_turn")
      const body = server.requests[1].json as { messages: Array<{ role: string }> }
      expect(body.messages.map((m) => m.role)).toEqual(["user", "assistant", "user"])
      expect(requestProblems["Chat Completions"](body)).toEqual([])
      expect(conversationProblems(stored(store, sessionId))).toEqual([])
    }), 30_000)

  it.scopedLive("$/cancel_request for the prompt stops it the same way", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(thinking("Thinking, thinking..."))
      const p = yield* agentProcess(`${server.url}/v1`, tempDir())
      const sessionId = yield* promise(() => p.newSession())
      const abort = new AbortController()
      const prompt = p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Hello") }, {
        cancellationSignal: abort.signal
      })
      yield* promise(() => p.waitForUpdate(sessionId, isThought))
      abort.abort()
      const answer = yield* promise(() => prompt)
      expect(answer.stopReason).toBe("cancelled")
      yield* closed(server, server.requests[0].id)
    }), 30_000)

  it.scopedLive("a cancel while a tool runs interrupts the tool, marks its call failed and gives it a result", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const store = tempDir()
      server.enqueue(ChatCompletions.reply({ toolCalls: [{ id: "call_w", name: "wait", arguments: { reason: "test" } }] }))
      const p = yield* agentProcess(`${server.url}/v1`, store)
      const sessionId = yield* promise(() => p.newSession())
      const prompt = p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Wait.") })
      yield* promise(() => p.waitForUpdate(sessionId, (u) => u.sessionUpdate === "tool_call_update" && u.status === "in_progress"))
      yield* promise(() => p.agent.notify(Acp.methods.agent.session.cancel, { sessionId }))
      expect((yield* promise(() => prompt)).stopReason).toBe("cancelled")
      expect(p.stderr()).toContain("tool wait interrupted")
      expect(p.updates.get(sessionId)!.at(-1)).toMatchObject({ sessionUpdate: "tool_call_update", toolCallId: "call_w", status: "failed" })
      const history = stored(store, sessionId)
      expect(history.map((m) => m._tag)).toEqual(["User", "Assistant", "ToolResult"])
      expect(conversationProblems(history)).toEqual([])
    }), 30_000)

  it.scopedLive("a tool that asks first: allowed once it runs, rejected it does not, allowed always it is not asked again", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const p = yield* agentProcess(`${server.url}/v1`, tempDir())
      const sessionId = yield* promise(() => p.newSession())
      const deleting = (id: string) => ChatCompletions.reply({ toolCalls: [{ id, name: "delete_file", arguments: { path: "/tmp/x" } }] })
      const done = ChatCompletions.reply({ text: "Done." })
      const result = (id: string) =>
        p.updates.get(sessionId)!.find((u) => u.sessionUpdate === "tool_call_update" && u.toolCallId === id && (u.status === "completed" || u.status === "failed"))

      let choice = "allow_once"
      p.onPermission(async () => ({ outcome: { outcome: "selected", optionId: choice } }))
      for (const [id, option] of [["call_a", "allow_once"], ["call_b", "reject_once"], ["call_c", "allow_always"], ["call_d", "unused"]] as const) {
        choice = option
        server.enqueue(deleting(id), done)
        const answer = yield* promise(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Delete it.") }))
        expect(answer.stopReason).toBe("end_turn")
      }
      expect(p.permissionRequests.map((r) => r.toolCall.toolCallId)).toEqual(["call_a", "call_b", "call_c"])
      expect(p.permissionRequests[0]).toMatchObject({
        sessionId,
        toolCall: { toolCallId: "call_a", status: "pending", title: "delete_file: /tmp/x", kind: "delete", rawInput: { path: "/tmp/x" } }
      })
      expect(p.permissionRequests[0].options.map((o) => o.kind)).toEqual(["allow_once", "allow_always", "reject_once", "reject_always"])
      expect(result("call_a")).toMatchObject({ status: "completed", rawOutput: "deleted /tmp/x" })
      expect(result("call_b")).toMatchObject({ status: "failed" })
      expect(JSON.stringify(result("call_b"))).toContain("denied")
      expect(result("call_c")).toMatchObject({ status: "completed" })
      expect(result("call_d")).toMatchObject({ status: "completed" })
    }), 30_000)

  it.scopedLive("a cancelled permission outcome that reaches the agent before session/cancel (or without it) answers cancelled", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const store = tempDir()
      const p = yield* agentProcess(`${server.url}/v1`, store)
      const sessionId = yield* promise(() => p.newSession())
      // The call is complete once the next one begins, while the model goes on streaming and then
      // stalls: its socket is open while the client is asked.
      const askingThenStalling: Script.Script = {
        steps: [
          ChatCompletions.start(),
          ...ChatCompletions.toolCall({ id: "call_p", name: "delete_file", arguments: { path: "/tmp/y" } }),
          ...ChatCompletions.toolCall({ index: 1, id: "call_q", name: "current_time", arguments: "{\"tz\":" }),
          Script.stall()
        ]
      }
      for (const lateCancel of [false, true]) {
        server.enqueue(askingThenStalling)
        p.onPermission(async (request, agent) => {
          // The reply goes first; the notification, when sent at all, follows it.
          if (lateCancel) setTimeout(() => void agent.notify(Acp.methods.agent.session.cancel, { sessionId: request.sessionId }), 0)
          return { outcome: { outcome: "cancelled" } }
        })
        const answer = yield* promise(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Delete it.") }))
        expect(answer.stopReason).toBe("cancelled")
        yield* closed(server, server.requests.at(-1)!.id)
      }
      expect(conversationProblems(stored(store, sessionId))).toEqual([])
      // The late session/cancel found the session idle: the next prompt runs to its end.
      server.enqueue(ChatCompletions.reply({ text: "Fine." }))
      const next = yield* promise(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Never mind.") }))
      expect(next.stopReason).toBe("end_turn")
    }), 30_000)

  it.scopedLive("session/cancel while the client is being asked: the agent withdraws the permission request and answers cancelled", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const p = yield* agentProcess(`${server.url}/v1`, tempDir())
      const sessionId = yield* promise(() => p.newSession())
      server.enqueue(ChatCompletions.reply({ toolCalls: [{ id: "call_s", name: "delete_file", arguments: { path: "/tmp/z" } }] }))
      let withdrawn!: () => void
      const wasWithdrawn = new Promise<void>((resolve) => (withdrawn = resolve))
      let asked!: () => void
      const wasAsked = new Promise<void>((resolve) => (asked = resolve))
      // A client whose user never decides: it answers only once the agent withdraws the question.
      p.onPermission((_request, _agent, signal) => {
        asked()
        return new Promise((resolve) =>
          signal.addEventListener("abort", () => {
            withdrawn()
            resolve({ outcome: { outcome: "cancelled" } })
          })
        )
      })
      const prompt = p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Delete it.") })
      yield* promise(() => wasAsked)
      yield* promise(() => p.agent.notify(Acp.methods.agent.session.cancel, { sessionId }))
      expect((yield* promise(() => prompt)).stopReason).toBe("cancelled")
      yield* promise(() => wasWithdrawn)
      expect(p.updates.get(sessionId)!.at(-1)).toMatchObject({ toolCallId: "call_s", status: "failed" })
    }), 30_000)

  it.scopedLive("a cancel while idle does not cancel the next prompt", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const p = yield* agentProcess(`${server.url}/v1`, tempDir())
      const sessionId = yield* promise(() => p.newSession())
      yield* promise(() => p.agent.notify(Acp.methods.agent.session.cancel, { sessionId }))
      yield* promise(() => p.agent.notify(Acp.methods.agent.session.cancel, { sessionId: "sess_nobody" }))
      server.enqueue(ChatCompletions.reply({ reasoning: "Easy.", text: "Hi!" }))
      const answer = yield* promise(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Hello") }))
      expect(answer.stopReason).toBe("end_turn")
      expect(chunkText(p.updates.get(sessionId)!, "agent_message_chunk")).toBe("Hi!")
    }), 30_000)

  it.scopedLive("sessions are independent: a cancel stops one; a second prompt on a busy session is refused", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make({
        handler: (request) => {
          const body = request.json as { messages: Array<{ content: unknown }> }
          return JSON.stringify(body.messages).includes("session A")
            ? thinking("A is thinking...")
            : {
              steps: [
                ChatCompletions.start(),
                ...ChatCompletions.reasoning("B is thinking..."),
                Script.delay(1500),
                ...ChatCompletions.text("B is done."),
                ChatCompletions.finish("stop"),
                ChatCompletions.done
              ]
            }
        }
      })
      const p = yield* agentProcess(`${server.url}/v1`, tempDir())
      const a = yield* promise(() => p.newSession())
      const b = yield* promise(() => p.newSession())
      const promptA = p.agent.request(Acp.methods.agent.session.prompt, { sessionId: a, prompt: text("session A") })
      const promptB = p.agent.request(Acp.methods.agent.session.prompt, { sessionId: b, prompt: text("session B") })
      yield* promise(() => Promise.all([p.waitForUpdate(a, isThought), p.waitForUpdate(b, isThought)]))
      const busy = yield* promise(() =>
        p.agent.request(Acp.methods.agent.session.prompt, { sessionId: a, prompt: text("again") }).then(() => undefined, (e) => e)
      )
      expect(busy).toBeInstanceOf(Acp.RequestError)
      expect((busy as Acp.RequestError).code).toBe(-32600)

      yield* promise(() => p.agent.notify(Acp.methods.agent.session.cancel, { sessionId: a }))
      expect((yield* promise(() => promptA)).stopReason).toBe("cancelled")
      const requestOf = (marker: string) => server.requests.find((r) => r.body.includes(marker))!
      yield* closed(server, requestOf("session A").id)
      expect(requestOf("session B").clientClosedAt).toBeUndefined()
      expect((yield* promise(() => promptB)).stopReason).toBe("end_turn")
      expect(chunkText(p.updates.get(b)!, "agent_message_chunk")).toBe("B is done.")
      expect(p.updates.get(a)!.some((u) => u.sessionUpdate === "agent_message_chunk")).toBe(false)
    }), 30_000)

  it.scopedLive("session/load in a new process replays the stored history, and the conversation goes on", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const store = tempDir()
      server.enqueue(
        ChatCompletions.reply({
          reasoning: "Checking the clock.",
          toolCalls: [{ id: "call_t", name: "current_time", arguments: { tz: "Asia/Tokyo" } }]
        }),
        ChatCompletions.reply({ text: "Noon in Tokyo." })
      )
      const sessionId = yield* Effect.scoped(Effect.gen(function*() {
        const first = yield* agentProcess(`${server.url}/v1`, store)
        const sessionId = yield* promise(() => first.newSession())
        yield* promise(() => first.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Time in Tokyo?") }))
        return sessionId
      }))

      const second = yield* agentProcess(`${server.url}/v1`, store)
      const init = yield* promise(() => second.agent.request(Acp.methods.agent.initialize, { protocolVersion: Acp.PROTOCOL_VERSION }))
      expect(init.agentCapabilities?.loadSession).toBe(true)
      yield* promise(() => second.agent.request(Acp.methods.agent.session.load, { sessionId, cwd: "/", mcpServers: [] }))
      const replayed = second.updates.get(sessionId)!
      expect(kinds(replayed)).toEqual(["user_message_chunk", "agent_thought_chunk", "tool_call", "agent_message_chunk"])
      expect(chunkText(replayed, "user_message_chunk")).toBe("Time in Tokyo?")
      expect(replayed.find((u) => u.sessionUpdate === "tool_call")).toMatchObject({
        toolCallId: "call_t",
        status: "completed",
        rawInput: { tz: "Asia/Tokyo" },
        rawOutput: "12:00 in Asia/Tokyo"
      })
      expect(chunkText(replayed, "agent_message_chunk")).toBe("Noon in Tokyo.")

      server.enqueue(ChatCompletions.reply({ text: "Still noon." }))
      const answer = yield* promise(() => second.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("And now?") }))
      expect(answer.stopReason).toBe("end_turn")
      const body = server.requests.at(-1)!.json as { messages: Array<{ role: string }> }
      expect(body.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant", "user"])
    }), 30_000)

  it.scopedLive("the MCP servers a session names give it tools of its own, for its life; one that fails to connect fails session/new", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const p = yield* agentProcess(`${server.url}/v1`, tempDir())
      yield* promise(() => p.agent.request(Acp.methods.agent.initialize, { protocolVersion: Acp.PROTOCOL_VERSION }))
      const stdio = (name: string): Acp.McpServer => ({ name, command: "unused", args: [], env: [] })
      const { sessionId } = yield* promise(() =>
        p.agent.request(Acp.methods.agent.session.new, { cwd: "/work/project", mcpServers: [stdio("notes")] })
      )
      expect(p.stderr()).toContain("mcp connect notes in /work/project")
      server.enqueue(
        ChatCompletions.reply({ toolCalls: [{ id: "call_m", name: "notes_echo", arguments: { text: "hi" } }] }),
        ChatCompletions.reply({ text: "Echoed." })
      )
      const answer = yield* promise(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Echo hi.") }))
      expect(answer.stopReason).toBe("end_turn")
      const tools = (server.requests[0].json as { tools: Array<{ function: { name: string } }> }).tools.map((t) => t.function.name)
      expect(tools).toEqual(["wait", "delete_file", "current_time", "notes_echo"])
      expect(p.updates.get(sessionId)!.find((u) => u.sessionUpdate === "tool_call_update" && u.status === "completed")).toMatchObject({
        rawOutput: "notes says hi"
      })
      // Another session has only the agent's own tools.
      const other = yield* promise(() => p.agent.request(Acp.methods.agent.session.new, { cwd: "/", mcpServers: [] }))
      server.enqueue(ChatCompletions.reply({ text: "Plain." }))
      yield* promise(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId: other.sessionId, prompt: text("Hi") }))
      expect((server.requests[2].json as { tools: Array<unknown> }).tools).toHaveLength(3)

      const broken = yield* promise(() =>
        p.agent.request(Acp.methods.agent.session.new, { cwd: "/", mcpServers: [stdio("broken")] }).then(() => undefined, (e) => e as Acp.RequestError)
      )
      expect(broken?.code).toBe(-32603)
      expect(broken?.message).toContain("broken would not start")
      // The failed connection was closed at once; the good one lives until the agent exits.
      expect(p.stderr().match(/mcp closed/g)).toHaveLength(1)
      p.child.stdin!.end()
      yield* promise(() => p.exited)
      expect(p.stderr()).toContain(`mcp closed ${sessionId}`)
    }), 30_000)

  it.scopedLive("sloppy and hostile clients: unknown sessions, malformed params, ids that name files, calls before initialize", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const p = yield* agentProcess(`${server.url}/v1`, tempDir())
      const failure = (f: () => Promise<unknown>) => promise(() => f().then(() => undefined, (e) => e as Acp.RequestError))
      const early = yield* failure(() => p.agent.request(Acp.methods.agent.session.new, { cwd: "/", mcpServers: [] }))
      expect(early?.code).toBe(-32600)
      const sessionId = yield* promise(() => p.newSession())
      const unknown = yield* failure(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId: "sess_nobody", prompt: text("Hi") }))
      expect(unknown?.code).toBe(-32002)
      const traversal = yield* failure(() =>
        p.agent.request(Acp.methods.agent.session.load, { sessionId: "../../../etc/passwd", cwd: "/", mcpServers: [] })
      )
      expect(traversal?.code).toBe(-32002)
      const malformed = yield* failure(() => p.agent.request("session/prompt", { sessionId, prompt: "not blocks" }))
      expect(malformed?.code).toBe(-32602)
      const empty = yield* failure(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: [] }))
      expect(empty?.code).toBe(-32602)
      const audio = yield* failure(() =>
        p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: "audio", data: "AAAA", mimeType: "audio/wav" }] })
      )
      expect(audio?.code).toBe(-32602)
      const method = yield* failure(() => p.agent.request("session/teleport", { sessionId }))
      expect(method?.code).toBe(-32601)
      // Not JSON at all, and a cancel without a session id: answered or dropped by the SDK.
      p.child.stdin!.write("this is not json\n")
      yield* promise(() => p.agent.notify("session/cancel", { session: 42 }))
      // None of it touched the session, or the model.
      expect(server.requests).toHaveLength(0)
      server.enqueue(ChatCompletions.reply({ text: "Still here." }))
      const answer = yield* promise(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Hi") }))
      expect(answer.stopReason).toBe("end_turn")
      expect(p.strayLines).toEqual([])
    }), 30_000)

  it.scopedLive("a client that stops reading (its end of stdout gone): the agent's writes fail, the turn stops and the process exits", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue({
        steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("Thinking out loud, ".repeat(200), { chunkSize: 8 }).flatMap((step) => [Script.delay(2), step])]
      })
      const p = yield* agentProcess(`${server.url}/v1`, tempDir())
      const sessionId = yield* promise(() => p.newSession())
      void p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Hello") }).catch(() => undefined)
      yield* promise(() => p.waitForUpdate(sessionId, isThought))
      p.child.stdout!.destroy() // the next write the agent makes meets a closed pipe
      yield* closed(server, server.requests[0].id)
      expect(server.requests[0].finishedAt).toBeUndefined()
      expect(yield* promise(() => p.exited)).toBe(0)
    }), 30_000)

  it.scopedLive("a store that fails: the error goes to stderr, never stdout, and the prompt still answers", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const store = tempDir()
      const p = yield* agentProcess(`${server.url}/v1`, store)
      const sessionId = yield* promise(() => p.newSession())
      // The directory becomes a file: the next save cannot write there.
      fs.rmSync(store, { recursive: true })
      fs.writeFileSync(store, "")
      server.enqueue(ChatCompletions.reply({ text: "Saved or not." }))
      const answer = yield* promise(() => p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Hi") }))
      expect(answer.stopReason).toBe("end_turn")
      expect(p.stderr()).toContain("the session could not be saved")
      expect(p.strayLines).toEqual([])
    }), 30_000)

  it.scopedLive("a client that exits mid-prompt: the turn stops, the socket closes, the session is saved and the process exits", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      const store = tempDir()
      server.enqueue(thinking("Thinking as the editor quits..."))
      const p = yield* agentProcess(`${server.url}/v1`, store)
      const sessionId = yield* promise(() => p.newSession())
      void p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("Hello") }).catch(() => undefined)
      yield* promise(() => p.waitForUpdate(sessionId, isThought))
      p.child.stdin!.end() // the editor is gone
      yield* closed(server, server.requests[0].id)
      // Had anything kept it alive (the stdin reader, a socket, a fiber), this would time out.
      expect(yield* promise(() => p.exited)).toBe(0)
      const history = stored(store, sessionId)
      expect((history.at(-1) as Message.Assistant).stopReason).toBe("interrupted")
      expect(conversationProblems(history)).toEqual([])
    }), 30_000)
})
