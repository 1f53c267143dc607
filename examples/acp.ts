/**
 * The example agent as an Agent Client Protocol agent over stdio, for an editor to run:
 *
 *   npm run --silent acp -- --provider openai|kimi|local --model NAME --base-url URL
 *
 * (`--silent` keeps npm's own banner off stdout, which carries only the protocol.) Sessions are
 * stored as JSON files under `REINS_ACP_STORE`, by default `~/.reins/acp/sessions`, so that the
 * editor can load them after a restart. Logs go to stderr.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { AcpAgent, SessionStore } from "@reins/acp"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { modelLayer, type Settings, settings, toolkit } from "./agent.js"

/** The context windows of each provider's default model, for the client's usage meter. */
const contextWindow = (s: Settings): number | undefined =>
  s.model !== undefined ? undefined : s.provider === "openai" ? 400_000 : s.provider === "kimi" ? 262_144 : 128_000

/** The agent for these settings, served on stdio until the client closes it. */
export const main = (s: Settings, store: string) =>
  AcpAgent.serveStdio({
    name: "reins-example",
    title: "Reins example agent",
    toolkit,
    contextWindow: contextWindow(s),
    request: { system: "You are a helpful assistant in the user's editor. Use the tools to look at files." }
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.merge(modelLayer(s), SessionStore.layerFile(store).pipe(Layer.provide(NodeContext.layer))))
  )

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const store = process.env.REINS_ACP_STORE ?? path.join(os.homedir(), ".reins", "acp", "sessions")
  // Errors are reported on stderr, by the program itself: runMain's own report would go to stdout.
  const program = Effect.suspend(() => main(settings(process.argv.slice(2), process.env), store)).pipe(
    Effect.tapErrorCause((cause) => Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(cause)),
    AcpAgent.logToStderr
  )
  NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
}
