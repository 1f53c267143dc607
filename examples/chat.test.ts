/**
 * The chat CLI in a real terminal: a detached tmux session of its own runs it against the embedded
 * ProviderServer, and the test types into it like a person: a prompt, Ctrl-C while the model
 * thinks, a second prompt that continues the conversation, Ctrl-D to leave.
 */
import { execFile, execFileSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** One tmux server per test (its own socket), so nothing is shared with other tmux users. */
const tmux = (socket: string, ...args: ReadonlyArray<string>): string =>
  execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it returns true; fails with the last screen after `timeoutMs`. */
const waitFor = async (what: string, screen: () => string, check: (text: string) => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  let text = ""
  while (Date.now() < deadline) {
    text = screen()
    if (check(text)) return text
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}; the screen was:\n${text}`)
}

/** The last non-blank line of the screen. */
const lastLine = (text: string) => text.split("\n").map((line) => line.trimEnd()).filter((line) => line !== "").at(-1) ?? ""

/** Whether the screen ends at an empty prompt. */
const atPrompt = (text: string) => lastLine(text) === ">"

describe("chat CLI", () => {
  it("Ctrl-C stops the answer, not the program; the next prompt continues; Ctrl-D exits", async () => {
    const name = `reins-chat-${process.pid}-${randomUUID().slice(0, 8)}`
    const command = "env -u OPENAI_API_KEY -u MOONSHOT_API_KEY -u OPENAI_BASE_URL -u MOONSHOT_BASE_URL"
      + " node --conditions=@reins/source --import tsx examples/chat.ts"
    const screen = () => tmux(name, "capture-pane", "-p", "-t", name)
    const alive = () => {
      try {
        tmux(name, "has-session", "-t", name)
        return true
      } catch {
        return false
      }
    }
    try {
      tmux(name, "new-session", "-d", "-s", name, "-x", "120", "-y", "40", "-c", root, command)

      await waitFor("the first prompt", screen, atPrompt, 30_000)
      tmux(name, "send-keys", "-t", name, "hello", "Enter")
      await waitFor("reasoning", screen, (text) => text.includes("Let me think"))

      tmux(name, "send-keys", "-t", name, "C-c")
      const stopped = await waitFor("the stop and a new prompt", screen, (text) => text.includes("stopped") && atPrompt(text))
      expect(stopped).toContain("⏹ stopped")
      expect(alive()).toBe(true)

      tmux(name, "send-keys", "-t", name, "go on", "Enter")
      const answered = await waitFor(
        "the second answer",
        screen,
        (text) => text.includes("Picking up where you stopped me") && atPrompt(text)
      )
      expect(answered).toContain("current_time")
      expect(answered).toMatch(/usage: \d+ in, \d+ out/)

      tmux(name, "send-keys", "-t", name, "C-d")
      const deadline = Date.now() + 10_000
      while (alive() && Date.now() < deadline) await sleep(50)
      expect(alive()).toBe(false)
    } finally {
      try {
        tmux(name, "kill-server")
      } catch {
        // already gone: the program exited and took its session (and the server) with it
      }
      // tmux leaves its socket file behind when the server ends on its own
      const uid = process.getuid?.() ?? 0
      fs.rmSync(path.join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${uid}`, name), { force: true })
    }
  }, 60_000)

  it("--mcp adds an MCP server's tools, and a server that cannot start is said so", async () => {
    const run = (...args: ReadonlyArray<string>) =>
      new Promise<{ code: number | null; output: string }>((resolve) => {
        const env = { ...process.env, OPENAI_API_KEY: "", MOONSHOT_API_KEY: "" }
        const child = execFile(process.execPath, ["--conditions=@reins/source", "--import", "tsx", "examples/chat.ts", ...args], { cwd: root, env, timeout: 30_000 }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, output: stdout + stderr }))
        child.stdin?.end()
      })
    const server = "node --import tsx packages/mcp/test/stdioServer.ts"
    const ok = await run("--mcp", server)
    expect(ok.output).toContain("MCP reins-test-server 1.2.3: echo, weather, picture, fail, hold, count")
    expect(ok.code).toBe(0)
    const failed = await run("--mcp", `node -e "console.error('no config here'); process.exit(3)"`)
    expect(failed.output).toContain("could not connect: the process exited")
    expect(failed.output).toContain("no config here")
    expect(failed.code).toBe(1)
  }, 60_000)
})
