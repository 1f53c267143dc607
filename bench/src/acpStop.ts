/**
 * A stop across ACP: an agent in a child process (`acpAgent.ts`) streams a Chat Completions reply
 * that sends one text delta and falls silent; once that delta has reached the client (the ACP SDK's
 * own, over the child's stdio) as an `agent_message_chunk`, the client sends `session/cancel`. The
 * figures: ms from sending the notification to the provider (a stall server in a worker thread)
 * seeing its socket close, and to the prompt's `cancelled` answer. Beside them, in the same run and
 * interleaved, the same stop in-process: `Fiber.interrupt` of a `Turn.stream` on the same server,
 * once its first text delta has arrived. The difference of the medians is what the hop adds.
 */
import * as Acp from "@agentclientprotocol/sdk"
import { type LanguageModel, type Message, Turn } from "@reins/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { spawn } from "node:child_process"
import { Readable, Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import { fmt, summarize, type Summary } from "./stats.js"
import { now, type StallServer } from "./workerServer.js"

/** The figures of both stops. */
export interface AcpStop {
  readonly acp: { readonly socketClosed: Summary; readonly answered: Summary }
  readonly inProcess: { readonly socketClosed: Summary; readonly fiberEnded: Summary }
  /** Median of the ACP stop to the socket close, less the in-process one's. */
  readonly hopMedian: number
}

/** The agent as a child process, connected to the SDK's client; updates routed to `onUpdate`. */
const agentProcess = (baseUrl: string, onUpdate: (n: Acp.SessionNotification) => void) => {
  const entry = fileURLToPath(new URL("./acpAgent.ts", import.meta.url))
  const child = spawn(process.execPath, ["--conditions=@reins/source", "--import", "tsx", entry, "--base-url", baseUrl], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  const connection = Acp.client({ name: "reins-bench" })
    .onNotification(Acp.methods.client.session.update, ({ params }) => onUpdate(params))
    .connect(Acp.ndJsonStream(
      Writable.toWeb(child.stdin) as WritableStream<Uint8Array>,
      Readable.toWeb(child.stdout) as unknown as ReadableStream<Uint8Array>
    ))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  return {
    agent: connection.agent,
    close: async () => {
      child.stdin.end()
      await exited
    }
  }
}

/** `runs` stops of each kind after `warmup` rounds, interleaved, against `server` (in a worker thread). */
export const run = async (
  server: StallServer,
  runtime: ManagedRuntime.ManagedRuntime<LanguageModel.LanguageModel, never>,
  options: { readonly warmup: number; readonly runs: number }
): Promise<AcpStop> => {
  let firstChunk: ((at: number) => void) | undefined
  const p = agentProcess(`${server.url}/v1`, (n) => {
    if (n.update.sessionUpdate === "agent_message_chunk") firstChunk?.(now())
  })
  await p.agent.request(Acp.methods.agent.initialize, { protocolVersion: Acp.PROTOCOL_VERSION })
  const acp = { socketClosed: [] as Array<number>, answered: [] as Array<number> }
  const local = { socketClosed: [] as Array<number>, fiberEnded: [] as Array<number> }

  const acpStop = async () => {
    const { sessionId } = await p.agent.request(Acp.methods.agent.session.new, { cwd: "/", mcpServers: [] })
    const chunk = new Promise<number>((resolve) => (firstChunk = resolve))
    const requestId = server.nextRequest()
    const answer = p.agent.request(Acp.methods.agent.session.prompt, { sessionId, prompt: [{ type: "text", text: "Hello" }] })
    await chunk
    firstChunk = undefined
    const start = now()
    void p.agent.notify(Acp.methods.agent.session.cancel, { sessionId })
    const { stopReason } = await answer
    const answeredAt = now()
    if (stopReason !== "cancelled") throw new Error(`the prompt answered ${stopReason}, not cancelled`)
    return { socketClosed: (await server.closed(await requestId)) - start, answered: answeredAt - start }
  }

  const inProcessStop = async () => {
    const requestId = server.nextRequest()
    const sample = await runtime.runPromise(Effect.gen(function*() {
      const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
      const text = yield* Deferred.make<void>()
      const fiber = yield* Turn.stream({ conversation, input: "Hello" }).pipe(
        Stream.tap((e) => e._tag === "StreamPart" && e.part._tag === "TextDelta" ? Deferred.succeed(text, undefined) : Effect.void),
        Stream.runDrain,
        Effect.fork
      )
      yield* Deferred.await(text)
      const start = now()
      yield* Fiber.interrupt(fiber)
      return { start, fiberEnded: now() - start }
    }))
    return { socketClosed: (await server.closed(await requestId)) - sample.start, fiberEnded: sample.fiberEnded }
  }

  for (let i = 0; i < options.warmup + options.runs; i++) {
    const measured = i >= options.warmup
    // The order alternates, so that neither always runs on the heels of the other.
    for (const kind of i % 2 === 0 ? (["acp", "local"] as const) : (["local", "acp"] as const)) {
      if (kind === "acp") {
        const s = await acpStop()
        if (measured) acp.socketClosed.push(s.socketClosed), acp.answered.push(s.answered)
      } else {
        const s = await inProcessStop()
        if (measured) local.socketClosed.push(s.socketClosed), local.fiberEnded.push(s.fiberEnded)
      }
    }
  }
  await p.close()
  const result = {
    acp: { socketClosed: summarize(acp.socketClosed), answered: summarize(acp.answered) },
    inProcess: { socketClosed: summarize(local.socketClosed), fiberEnded: summarize(local.fiberEnded) }
  }
  return { ...result, hopMedian: result.acp.socketClosed.median - result.inProcess.socketClosed.median }
}

/** The markdown table of the figures. */
export const render = (title: string, result: AcpStop): string => {
  const row = (name: string, s: Summary) => `| ${name} | ${fmt(s.median, 3)} | ${fmt(s.p90, 3)} | ${fmt(s.p99, 3)} | ${fmt(s.max, 3)} |`
  return [
    title,
    "",
    "| what | median | p90 | p99 | max |",
    "| --- | --- | --- | --- | --- |",
    row("ACP: session/cancel sent, until the provider saw its socket close", result.acp.socketClosed),
    row("ACP: session/cancel sent, until the prompt answered cancelled", result.acp.answered),
    row("in-process: Fiber.interrupt, until the provider saw its socket close", result.inProcess.socketClosed),
    row("in-process: Fiber.interrupt, until the turn's fiber ended", result.inProcess.fiberEnded),
    "",
    `The ACP hop adds ${fmt(result.hopMedian, 3)} ms at the median (target: under 1 ms).`
  ].join("\n")
}
