/**
 * An interactive chat in the terminal, with tools, where Ctrl-C stops the answer, not the program.
 *
 * A turn is one fiber: Ctrl-C while it runs interrupts that fiber, the model's connection closes at
 * once, and the partial answer stays in the conversation, so the next prompt continues it. Ctrl-C
 * at the prompt, or Ctrl-D, exits.
 *
 *   npm run chat -- [--provider openai|kimi|local]
 *     [--model NAME] [--base-url URL] [--mcp "COMMAND ARGS"]...
 *
 * Each `--mcp` starts an MCP server (a command line that speaks MCP on stdio) and adds its tools to
 * the chat's; Ctrl-C while one of them runs cancels the call on the server. The servers are closed
 * when the chat exits.
 *
 * The provider is picked from the flags, else from the key present (MOONSHOT_API_KEY for Kimi,
 * OPENAI_API_KEY for OpenAI Chat Completions). With no key it runs against an embedded
 * ProviderServer over real HTTP: the first prompt makes it reason for a moment and then think in
 * silence (stop it with Ctrl-C); later prompts get a quick answer that calls a tool.
 */
import { Message, Toolkit, Turn, type Usage } from "@reins/core"
import { McpToolkit } from "@reins/mcp"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as readline from "node:readline/promises"
import { pathToFileURL } from "node:url"
import { modelLayer, settings, toolkit } from "./agent.js"

// ---------------------------------------------------------------------------------------------
// Rendering

const dim = (text: string) => `\x1b[2m${text}\x1b[22m`

/** Writes a turn's events as they arrive. */
class Renderer {
  private mode: "none" | "reasoning" | "text" = "none"
  private atLineStart = true

  constructor(private readonly out: NodeJS.WriteStream) {}

  private write(text: string, style: (s: string) => string = (s) => s) {
    if (text === "") return
    this.out.write(style(text))
    this.atLineStart = text.endsWith("\n")
  }

  private newline() {
    if (!this.atLineStart) this.write("\n")
  }

  line(text: string) {
    this.newline()
    this.write(`${text}\n`)
    this.mode = "none"
  }

  event(event: Turn.TurnEvent) {
    switch (event._tag) {
      case "StreamPart": {
        const part = event.part
        if (part._tag === "ReasoningDelta") {
          if (this.mode !== "reasoning") {
            this.newline()
            this.mode = "reasoning"
          }
          this.write(part.text, dim)
        } else if (part._tag === "TextDelta") {
          if (this.mode !== "text") {
            this.newline()
            this.mode = "text"
          }
          this.write(part.text)
        }
        return
      }
      case "ToolCallStarted":
        return this.line(`⚙ ${event.call.name}(${event.call.arguments})`)
      case "ToolResult": {
        const content = (Message.toolResultText(event.result.content) ?? "(an image)").replace(/\s+/g, " ")
        const shown = content.length > 200 ? `${content.slice(0, 200)}…` : content
        return this.line(`${event.result.isError ? "✗" : "→"} ${shown}`)
      }
      case "ToolProgress":
        return this.line(dim(`  … ${event.progress}${event.total === undefined ? "" : `/${event.total}`}${event.message === undefined ? "" : ` ${event.message}`}`))
      case "TurnEnd":
        return this.line(dim(usageLine(event.result.usage)))
      default:
        return
    }
  }
}

const usageLine = (usage: Usage.Usage) =>
  `usage: ${usage.inputTokens} in, ${usage.outputTokens} out`
  + (usage.reasoningTokens > 0 ? ` (${usage.reasoningTokens} reasoning)` : "")
  + (usage.cacheReadTokens > 0 ? `, ${usage.cacheReadTokens} cached` : "")
  + (usage.estimated ? " (estimated)" : "")

// ---------------------------------------------------------------------------------------------
// MCP servers

/** A command line as words: spaces separate them, single or double quotes group them. */
export const words = (line: string): Array<string> =>
  [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((match) => match[1] ?? match[2] ?? match[3])

/**
 * Starts the `--mcp` servers in `scope` and returns the example's tools with theirs; a tool whose
 * name is already taken is left out, and said so.
 */
const withMcp = (lines: ReadonlyArray<string>, scope: Scope.Scope, say: (text: string) => void) =>
  Effect.gen(function*() {
    const tools: Array<(typeof toolkit.tools)[number] | McpToolkit.McpTool> = [...toolkit.tools]
    for (const line of lines) {
      const [command, ...args] = words(line)
      if (command === undefined) continue
      // The server gets the SDK's few default variables, not this process's keys: pass others in the
      // command line (`--mcp "env TOKEN=... my-server"`).
      const server = yield* Scope.extend(McpToolkit.stdio({ command, args }), scope)
      const taken = new Set(tools.map((tool) => tool.name))
      const added = server.tools.filter((tool) => !taken.has(tool.name))
      tools.push(...added)
      const skipped = [...server.skipped.map((s) => `${s.name} (${s.reason})`), ...server.tools.filter((tool) => taken.has(tool.name)).map((tool) => `${tool.name} (name taken)`)]
      say(dim(`MCP ${server.server.name} ${server.server.version}: ${added.map((tool) => tool.name).join(", ") || "no tools"}${skipped.length > 0 ? `; left out: ${skipped.join(", ")}` : ""}`))
    }
    return Toolkit.make(...tools)
  })

// ---------------------------------------------------------------------------------------------
// The loop

/** Runs the chat on the terminal until Ctrl-D, or Ctrl-C at the prompt. */
export const main = async (argv: ReadonlyArray<string> = process.argv.slice(2)): Promise<void> => {
  const config = settings(argv, process.env)
  const runtime = ManagedRuntime.make(modelLayer(config))
  const out = process.stdout
  const render = new Renderer(out)
  const conversation = Effect.runSync(SubscriptionRef.make<ReadonlyArray<Message.Message>>([]))
  const rl = readline.createInterface({ input: process.stdin, output: out, terminal: process.stdin.isTTY === true })
  let turn: Fiber.RuntimeFiber<void, unknown> | undefined
  // Ctrl-D ends the program, stopping a running turn first (piped input lets its last turn finish).
  const closed = new Promise<undefined>((resolve) =>
    rl.once("close", () => {
      if (turn !== undefined && process.stdin.isTTY === true) runtime.runFork(Fiber.interrupt(turn))
      resolve(undefined)
    })
  )

  const onInterrupt = () => {
    if (turn !== undefined) runtime.runFork(Fiber.interrupt(turn))
    else rl.close()
  }
  let closedNow = false
  rl.once("close", () => {
    closedNow = true
  })
  rl.on("SIGINT", onInterrupt)
  process.on("SIGINT", onInterrupt)

  const servers = Effect.runSync(Scope.make())
  try {
    await runtime.runPromise(Effect.void) // build the model (and the local server) up front
    const started = await runtime.runPromiseExit(withMcp(config.mcp, servers, (text) => render.line(text)))
    if (Exit.isFailure(started)) {
      render.line(`✗ ${Cause.squash(started.cause) instanceof Error ? (Cause.squash(started.cause) as Error).message : Cause.pretty(started.cause)}`)
      process.exitCode = 1
      return
    }
    const tools = started.value
    const where = config.provider === "local" ? "a local reasoning model (no API key found)" : config.provider
    out.write(`Chatting with ${where}. Ctrl-C stops an answer; Ctrl-C at the prompt or Ctrl-D exits.\n`)
    while (!closedNow) {
      const input = await Promise.race([rl.question("> "), closed])
      if (input === undefined) break
      if (input.trim() === "") continue
      const fiber = runtime.runFork(
        Turn.stream({ conversation, input, toolkit: tools }).pipe(Stream.runForEach((event) => Effect.sync(() => render.event(event))))
      )
      turn = fiber
      const exit = await runtime.runPromise(Fiber.await(fiber))
      turn = undefined
      if (Exit.isSuccess(exit)) continue
      if (Exit.isInterrupted(exit) && closedNow) {
        render.line("⏹ stopped")
        break
      }
      if (Exit.isInterrupted(exit)) {
        const history = Effect.runSync(SubscriptionRef.get(conversation))
        const last = history[history.length - 1]
        const usage = last?._tag === "Assistant" ? ` ${dim(usageLine(last.usage))}` : ""
        render.line(`⏹ stopped${usage}`)
      } else {
        render.line(`✗ ${Cause.pretty(exit.cause).split("\n")[0]}`)
      }
    }
  } finally {
    rl.close()
    process.removeListener("SIGINT", onInterrupt)
    out.write("\nbye\n")
    await runtime.runPromise(Scope.close(servers, Exit.void))
    await runtime.dispose()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().then(
    () => process.exit(),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
}
