/**
 * The agent `acpStop` runs as a child process: `AcpAgent.serveStdio` on Chat Completions at
 * `--base-url`, on undici, with sessions in memory and no tools.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { AcpAgent, SessionStore } from "@reins/acp"
import { OpenAiChat } from "@reins/openai"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { parseArgs } from "node:util"

process.setSourceMapsEnabled(false) // as in the bench's main thread; see main.ts

const { values } = parseArgs({ options: { "base-url": { type: "string" } }, strict: true })
const model = OpenAiChat.layer({ model: "bench", apiKey: "sk-bench", baseUrl: values["base-url"] }).pipe(
  Layer.orDie,
  Layer.provide(NodeHttpClient.layerUndici)
)

AcpAgent.serveStdio({ name: "reins-bench" }).pipe(
  Effect.scoped,
  Effect.provide(Layer.merge(model, SessionStore.layerMemory)),
  NodeRuntime.runMain
)
