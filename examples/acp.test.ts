/**
 * `npm run acp` as an editor runs it: a child process on the embedded local model, driven by the
 * ACP SDK's client over its stdio. A prompt makes the model reason and then go silent;
 * session/cancel answers `cancelled`; the next prompt picks up where it stopped, calls a tool and
 * answers. Stdout carries nothing but JSON-RPC, and the agent exits when the editor closes stdin.
 */
import * as Acp from "@agentclientprotocol/sdk"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { chunkText, spawnAgent, text } from "../packages/acp/test/support.js"

describe("npm run acp", () => {
  it("streams, stops on session/cancel, continues, and exits with the editor", async () => {
    const store = fs.mkdtempSync(path.join(os.tmpdir(), "reins-acp-example-"))
    const env: NodeJS.ProcessEnv = { ...process.env, REINS_ACP_STORE: store }
    for (const key of ["OPENAI_API_KEY", "MOONSHOT_API_KEY", "OPENAI_BASE_URL", "MOONSHOT_BASE_URL"]) delete env[key]
    const p = spawnAgent(["npm", "run", "--silent", "acp", "--", "--provider", "local"], env)
    try {
      const init = await p.agent.request(Acp.methods.agent.initialize, { protocolVersion: Acp.PROTOCOL_VERSION })
      expect(init.agentInfo?.name).toBe("reins-example")
      const { sessionId } = await p.agent.request(Acp.methods.agent.session.new, { cwd: process.cwd(), mcpServers: [] })

      const first = p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("hello") })
      await p.waitForUpdate(sessionId, (u) => u.sessionUpdate === "agent_thought_chunk")
      await p.agent.notify(Acp.methods.agent.session.cancel, { sessionId })
      expect((await first).stopReason).toBe("cancelled")
      // Stopped mid-thought: what was shown is the start of the local model's reasoning.
      const thought = chunkText(p.updates.get(sessionId)!, "agent_thought_chunk")
      expect(thought.length).toBeGreaterThan(0)
      expect("The user says hello. Let me think".startsWith(thought.slice(0, 33))).toBe(true)

      const before = p.updates.get(sessionId)!.length
      const second = await p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: text("go on") })
      expect(second.stopReason).toBe("end_turn")
      const later = p.updates.get(sessionId)!.slice(before)
      expect(later.find((u) => u.sessionUpdate === "tool_call")).toMatchObject({ title: "current_time", status: "pending" })
      expect(later.some((u) => u.sessionUpdate === "tool_call_update" && u.status === "completed")).toBe(true)
      expect(chunkText(later, "agent_message_chunk")).toContain("Picking up where you stopped me")
      expect(later.some((u) => u.sessionUpdate === "usage_update")).toBe(true)

      expect(p.strayLines).toEqual([])
      expect(fs.readdirSync(store)).toEqual([`${sessionId}.json`])
      p.child.stdin!.end()
      expect(await p.exited).toBe(0)
    } finally {
      p.child.kill("SIGKILL")
    }
  }, 60_000)
})
