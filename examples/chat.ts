/**
 * An interactive chat in the terminal, with tools, where Ctrl-C stops the answer, not the program.
 *
 * A turn is one fiber: Ctrl-C while it runs interrupts that fiber, the model's connection closes at
 * once, and the partial answer stays in the conversation, so the next prompt continues it. Ctrl-C
 * at the prompt, or Ctrl-D, exits.
 *
 *   npm run chat -- [--provider openai|kimi|local]
 *     [--model NAME] [--base-url URL]
 *
 * The provider is picked from the flags, else from the key present (MOONSHOT_API_KEY for Kimi,
 * OPENAI_API_KEY for OpenAI Chat Completions). With no key it runs against an embedded
 * ProviderServer over real HTTP: the first prompt makes it reason for a moment and then think in
 * silence (stop it with Ctrl-C); later prompts get a quick answer that calls a tool.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Message, Tool, Toolkit, Turn, type LanguageModel, type Usage } from "@reins/core"
import { Kimi } from "@reins/kimi"
import { OpenAiChat } from "@reins/openai"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as readline from "node:readline/promises"
import { pathToFileURL } from "node:url"
import { parseArgs } from "node:util"

// ---------------------------------------------------------------------------------------------
// Tools

const MAX_FILE_CHARS = 20_000

const message = (error: unknown) => (error instanceof Error ? error.message : String(error))

const readFile = Tool.make("read_file", {
  description: `Reads a UTF-8 text file (the first ${MAX_FILE_CHARS} characters).`,
  parameters: Schema.Struct({ path: Schema.String.annotations({ description: "The file's path" }) }),
  success: Schema.String,
  failure: Schema.String,
  handler: ({ path: file }) =>
    Effect.tryPromise({
      try: async () => {
        const text = await fs.readFile(path.resolve(file), "utf8")
        return text.length > MAX_FILE_CHARS ? `${text.slice(0, MAX_FILE_CHARS)}\n[... truncated]` : text
      },
      catch: message
    })
})

const listDirectory = Tool.make("list_directory", {
  description: "Lists a directory's entries; directories end with a slash.",
  parameters: Schema.Struct({ path: Schema.String.annotations({ description: "The directory's path" }) }),
  success: Schema.Array(Schema.String),
  failure: Schema.String,
  handler: ({ path: dir }) =>
    Effect.tryPromise({
      try: async () =>
        (await fs.readdir(path.resolve(dir), { withFileTypes: true }))
          .map((entry) => (entry.isDirectory() ? `${entry.name}/` : entry.name))
          .sort(),
      catch: message
    })
})

const currentTime = Tool.make("current_time", {
  description: "The current date and time in an IANA time zone.",
  parameters: Schema.Struct({ tz: Schema.String.annotations({ description: "An IANA time zone, e.g. Europe/Paris" }) }),
  success: Schema.String,
  failure: Schema.String,
  handler: ({ tz }) =>
    Effect.try({
      try: () => new Date().toLocaleString("en-GB", { timeZone: tz, dateStyle: "full", timeStyle: "long" }),
      catch: message
    })
})

export const toolkit = Toolkit.make(readFile, listDirectory, currentTime)

// ---------------------------------------------------------------------------------------------
// The embedded model

const thoughts = "The user says hello. Let me think about how best to greet them, and what they might want to do next..."

/** What the local server answers: it reasons and stalls on the first prompt, then answers quickly. */
const localAnswer = (request: ProviderServer.RequestRecord): Script.Script => {
  const body = request.json as { messages?: ReadonlyArray<{ role?: string; content?: unknown }> } | undefined
  const messages = body?.messages ?? []
  const users = messages.filter((m) => m.role === "user").length
  const last = messages[messages.length - 1]
  if (users <= 1) {
    return {
      steps: [
        ChatCompletions.start(),
        ...ChatCompletions.reasoning(thoughts, { chunkSize: 6 }).flatMap((step) => [Script.delay(30), step]),
        Script.stall(10 * 60_000)
      ]
    }
  }
  if (last?.role === "tool") {
    const time = typeof last.content === "string" ? last.content : "unknown"
    return ChatCompletions.reply({
      text: `Picking up where you stopped me: hello again! By the way, it is ${time} in Paris.`,
      usage: { prompt_tokens: 60, completion_tokens: 24 },
      deltaDelay: 5
    })
  }
  return ChatCompletions.reply({
    reasoning: "You stopped me earlier. I'll check the time before continuing.",
    toolCalls: [{ id: `call_${request.id}`, name: "current_time", arguments: { tz: "Europe/Paris" } }],
    usage: { prompt_tokens: 50, completion_tokens: 18, reasoning_tokens: 12 },
    deltaDelay: 5
  })
}

const localModel = Layer.unwrapScoped(
  Effect.map(
    ProviderServer.make({ handler: localAnswer }),
    (server) => Layer.orDie(OpenAiChat.layer({ model: "local-reasoner", apiKey: "sk-local", baseUrl: `${server.url}/v1` }))
  )
)

// ---------------------------------------------------------------------------------------------
// Configuration

export interface Settings {
  readonly provider: "openai" | "kimi" | "local"
  readonly model: string | undefined
  readonly baseUrl: string | undefined
}

/** Reads the flags, then the environment. */
export const settings = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Settings => {
  const { values } = parseArgs({
    args: [...argv],
    options: { provider: { type: "string" }, model: { type: "string" }, "base-url": { type: "string" } },
    strict: true
  })
  const provider = values.provider ?? (env.MOONSHOT_API_KEY ? "kimi" : env.OPENAI_API_KEY ? "openai" : "local")
  if (provider !== "openai" && provider !== "kimi" && provider !== "local") {
    throw new Error(`--provider must be openai, kimi or local, not "${provider}"`)
  }
  return { provider, model: values.model, baseUrl: values["base-url"] }
}

const modelLayer = (s: Settings): Layer.Layer<LanguageModel.LanguageModel> => {
  const model = (() => {
    switch (s.provider) {
      case "openai":
        return Layer.orDie(OpenAiChat.layerConfig({ model: s.model ?? process.env.OPENAI_MODEL ?? "gpt-5-mini", baseUrl: s.baseUrl }))
      case "kimi":
        return Layer.orDie(Kimi.layerConfig({ model: s.model, baseUrl: s.baseUrl, thinking: "enabled" }))
      case "local":
        return localModel
    }
  })()
  return Layer.provide(model, NodeHttpClient.layerUndici)
}

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

  try {
    await runtime.runPromise(Effect.void) // build the model (and the local server) up front
    const where = config.provider === "local" ? "a local reasoning model (no API key found)" : config.provider
    out.write(`Chatting with ${where}. Ctrl-C stops an answer; Ctrl-C at the prompt or Ctrl-D exits.\n`)
    while (!closedNow) {
      const input = await Promise.race([rl.question("> "), closed])
      if (input === undefined) break
      if (input.trim() === "") continue
      const fiber = runtime.runFork(
        Turn.stream({ conversation, input, toolkit }).pipe(Stream.runForEach((event) => Effect.sync(() => render.event(event))))
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
    await runtime.dispose()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
}
