/**
 * The example agent the command-line and web examples share: its tools, the embedded local model
 * (a ProviderServer over real HTTP, used when no API key is set), and the provider flags
 * `--provider openai|kimi|local --model NAME --base-url URL`, and `--mcp "COMMAND ARGS"` (repeatable)
 * for the MCP servers whose tools a front end adds.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Tool, Toolkit, type LanguageModel } from "@reins/core"
import { Kimi } from "@reins/kimi"
import { OpenAiChat } from "@reins/openai"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import * as path from "node:path"
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

/** The tools every example agent offers. */
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
  /** MCP servers to start, each a command line (`--mcp "npx -y some-server"`, repeatable). */
  readonly mcp: ReadonlyArray<string>
}

/** Reads the flags, then the environment. */
export const settings = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Settings => {
  const { values } = parseArgs({
    args: [...argv],
    options: { provider: { type: "string" }, model: { type: "string" }, "base-url": { type: "string" }, mcp: { type: "string", multiple: true } },
    strict: true
  })
  const provider = values.provider ?? (env.MOONSHOT_API_KEY ? "kimi" : env.OPENAI_API_KEY ? "openai" : "local")
  if (provider !== "openai" && provider !== "kimi" && provider !== "local") {
    throw new Error(`--provider must be openai, kimi or local, not "${provider}"`)
  }
  return { provider, model: values.model, baseUrl: values["base-url"], mcp: values.mcp ?? [] }
}

/** The model the settings name, on Node's undici HTTP client. */
export const modelLayer = (s: Settings): Layer.Layer<LanguageModel.LanguageModel> => {
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
