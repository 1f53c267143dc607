/**
 * The Stop button, measured, and said in plain words. A reasoning model streams a little reasoning
 * and then thinks in silence; once it has been silent for a moment, the fiber consuming the stream
 * is interrupted. The demo says what was running when Stop was pressed, how long the interrupt
 * took, when the connection was seen to close, whether the next request on the same client
 * worked, and, against the local server, what the same stop costs with plain `fetch` and an
 * `AbortController`. When something failed (a 401, a stream that had ended before the stop) it
 * says so, shows no stop time for a stream that was not running, and the run exits with code 1.
 *
 * With no API key it runs against a local ProviderServer over real HTTP on 127.0.0.1. With
 * MOONSHOT_API_KEY (Kimi) or OPENAI_API_KEY set, it runs against that provider instead (and
 * `MOONSHOT_BASE_URL` / `OPENAI_BASE_URL`, `OPENAI_MODEL` are honoured).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { LanguageModel, Message, type StreamPart } from "@reins/core"
import { Kimi } from "@reins/kimi"
import { OpenAiChat } from "@reins/openai"
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as diagnostics from "node:diagnostics_channel"
import type * as net from "node:net"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"

const question = Message.user("Is 2^61 - 1 prime? Think it through carefully before answering.")

/** Stop is pressed once the stream has been silent this long, and this long after the request at least. */
const QUIET_MS = 300
const EARLIEST_MS = 1_000
/** ...and at the latest this long after the request, whatever the stream is doing. */
const LATEST_MS = 8_000
/** How long a connection may take to be seen closing before the demo calls that a failure. */
const CLOSE_WITHIN_MS = 2_000

const ms = (millis: number) => `${millis.toFixed(2)} ms`

/** What one press of Stop found and did. */
export interface Stop {
  /** A stream was running when Stop was pressed, and the interrupt ended it. */
  readonly stopped: boolean
  /** Why nothing was stopped, or what went wrong when it was. */
  readonly failure?: string | undefined
  /** Milliseconds from sending the request to pressing Stop. */
  readonly pressedAfter: number
  /** How many chunks (or, for fetch, body reads) had arrived, and how long before the press the last one did. */
  readonly received: number
  readonly silentFor: number
  /** Whether the answer's text had begun (the model was no longer only thinking). */
  readonly answering: boolean
  /** Whether the request had reached the server when Stop was pressed (`false`: still connecting or waiting to retry). */
  readonly reached: boolean
  /** From the press to `Fiber.interrupt` returning (for fetch: to the pending read rejecting). */
  readonly stopMs?: number | undefined
  /** From the press to the connection being seen to close, by the server or the client's socket. */
  readonly closedMs?: number | undefined
}

/** What the next request on the same client did. */
export interface Next {
  readonly ok: boolean
  readonly text?: string | undefined
  readonly failure?: string | undefined
  /** It went out on another connection than the stopped one (`undefined` when unknown). */
  readonly newConnection?: boolean | undefined
}

/** Everything the demo found, with the lines it printed. */
export interface Report {
  readonly ok: boolean
  readonly mode: "local" | "remote"
  readonly stops: ReadonlyArray<Stop>
  readonly next?: Next | undefined
  readonly fetchStops: ReadonlyArray<Stop>
  readonly lines: ReadonlyArray<string>
}

/** Where the demo writes; `run` collects every line as well. */
export interface Options {
  readonly write?: ((text: string) => void) | undefined
}

const describe = (error: unknown): string => {
  if (ConfigError.isConfigError(error)) return `configuration error: ${error.message}`
  if (typeof error === "object" && error !== null) {
    const e = error as { readonly _tag?: unknown; readonly status?: unknown; readonly message?: unknown }
    const tag = typeof e._tag === "string" ? e._tag : "Error"
    const status = typeof e.status === "number" ? ` (HTTP ${e.status})` : ""
    return `${tag}${status}: ${typeof e.message === "string" ? e.message : String(error)}`
  }
  return String(error)
}

const describeCause = (cause: Cause.Cause<unknown>) =>
  Cause.isInterruptedOnly(cause) ? "it was interrupted by something else" : describe(Cause.squash(cause))

/** Waits for the moment to press Stop: the stream silent for QUIET_MS (or ended), within the limits above. */
const untilSilent = (sentAt: number, lastAt: () => number | undefined, ended: () => boolean) =>
  Effect.gen(function*() {
    for (;;) {
      const now = performance.now()
      if (ended() || now - sentAt >= LATEST_MS) return
      if (now - sentAt >= EARLIEST_MS && now - (lastAt() ?? sentAt) >= QUIET_MS) return
      yield* Effect.sleep("10 millis")
    }
  })

/** `promise` as milliseconds after `from`, or `undefined` when it does not settle within CLOSE_WITHIN_MS. */
const seenWithin = (promise: () => Promise<number>, from: number) =>
  Effect.promise(promise).pipe(
    Effect.map((at) => Math.max(0, at - from)),
    Effect.timeout(CLOSE_WITHIN_MS),
    Effect.option,
    Effect.map(Option.getOrUndefined)
  )

/**
 * Streams the question, presses Stop (interrupts the consuming fiber) once the model is silent,
 * and waits for `closed` (the connection seen closing, as a `performance.now()` time).
 */
const stopWhileThinking = (
  write: (text: string) => void,
  closed: () => Promise<number>,
  reached: () => boolean
): Effect.Effect<Stop, never, LanguageModel.LanguageModel> =>
  Effect.gen(function*() {
    let received = 0
    let lastAt: number | undefined
    let answering = false
    const onPart = (part: StreamPart.StreamPart) =>
      Effect.sync(() => {
        received++
        lastAt = performance.now()
        if (part._tag === "TextDelta") answering = true
        if (part._tag === "ReasoningDelta") write(`\x1b[2m${part.text}\x1b[0m`)
        if (part._tag === "TextDelta") write(part.text)
      })
    const sentAt = performance.now()
    const fiber = yield* LanguageModel.stream({ messages: [question], reasoning: { effort: "high" } }).pipe(
      Stream.runForEach(onPart),
      Effect.fork
    )
    // pressed once the model is silent, or at once if the stream ends first
    yield* Effect.raceFirst(untilSilent(sentAt, () => lastAt, () => false), Fiber.await(fiber))
    const press = performance.now()
    const seen = { pressedAfter: press - sentAt, received, silentFor: press - (lastAt ?? sentAt), answering, reached: reached() }
    const polled = yield* Fiber.poll(fiber)
    if (Option.isSome(polled)) {
      const exit = polled.value
      const failure = Exit.isFailure(exit)
        ? `the stream had already failed before Stop was pressed: ${describeCause(exit.cause)}`
        : "the stream had already finished before Stop was pressed: the model answered in full"
      return { stopped: false, failure, ...seen } satisfies Stop
    }
    const exit = yield* Fiber.interrupt(fiber)
    const stopMs = performance.now() - press
    if (!seen.reached) {
      const failure = "no request had reached the server when Stop was pressed (it was still connecting, or waiting to retry), so no model was stopped"
      return { stopped: true, failure, stopMs, ...seen } satisfies Stop
    }
    const closedMs = yield* seenWithin(closed, press)
    if (!Exit.isFailure(exit) || !Cause.isInterruptedOnly(exit.cause)) {
      const how = Exit.isFailure(exit) ? describeCause(exit.cause) : "it had just finished"
      return { stopped: false, failure: `the stream ended on its own as Stop was pressed: ${how}`, ...seen } satisfies Stop
    }
    if (closedMs === undefined) {
      return { stopped: true, failure: `the connection was still open ${CLOSE_WITHIN_MS} ms after Stop`, stopMs, ...seen } satisfies Stop
    }
    return { stopped: true, stopMs, closedMs, ...seen } satisfies Stop
  })

/** The same stop with plain `fetch` and an `AbortController`, on a Chat Completions server at `baseUrl`. */
const fetchStop = (baseUrl: string, closed: () => Promise<number>) =>
  Effect.promise(async (): Promise<Stop> => {
    const controller = new AbortController()
    let received = 0
    let lastAt: number | undefined
    let ended = false
    let reached = false
    const sentAt = performance.now()
    const read = (async (): Promise<string | undefined> => {
      try {
        const response = await fetch(`${baseUrl}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "text/event-stream" },
          body: JSON.stringify({ model: "local-reasoner", stream: true, messages: [{ role: "user", content: "Is 2^61 - 1 prime?" }] }),
          signal: controller.signal
        })
        reached = true
        if (!response.ok || response.body === null) return `HTTP ${response.status}`
        const reader = response.body.getReader()
        for (;;) {
          const { done } = await reader.read()
          if (done) return "the body ended"
          received++
          lastAt = performance.now()
        }
      } catch (error) {
        return (error as Error).name === "AbortError" ? undefined : String(error)
      } finally {
        ended = true
      }
    })()
    await Effect.runPromise(untilSilent(sentAt, () => lastAt, () => ended))
    const press = performance.now()
    const seen = { pressedAfter: press - sentAt, received, silentFor: press - (lastAt ?? sentAt), answering: false, reached }
    if (ended) return { stopped: false, failure: `the fetch had already ended before abort(): ${await read}`, ...seen }
    controller.abort()
    const outcome = await read
    const stopMs = performance.now() - press
    if (outcome !== undefined) return { stopped: false, failure: `the read did not end by the abort: ${outcome}`, ...seen }
    const closedMs = await Effect.runPromise(seenWithin(closed, press))
    if (closedMs === undefined) {
      return { stopped: true, failure: `the connection was still open ${CLOSE_WITHIN_MS} ms after abort()`, stopMs, ...seen }
    }
    return { stopped: true, stopMs, closedMs, ...seen }
  })

/** How the lines about one press of Stop name things: the button, what arrives, what ends, who sees the close. */
interface Words {
  readonly press: string
  readonly after: string
  readonly piece: string
  readonly stopped: (took: string) => string
  readonly who: string
}

/** The lines that say what a press of Stop found and did. */
const tell = (stop: Stop, words: Words): Array<string> => {
  const before = !stop.reached
    ? "the request had not reached the server yet"
    : stop.received === 0
    ? "the request was sent and nothing had come back yet"
    : `${stop.received} ${words.piece}${stop.received === 1 ? "" : "s"} had arrived, the last ${ms(stop.silentFor)} before`
  const state = !stop.reached
    ? "no model was running"
    : stop.answering
    ? "the model had already started its answer, so this stopped an answer, not silent thinking"
    : stop.silentFor >= QUIET_MS
    ? "the model was silent, still thinking"
    : "the model was still streaming"
  const lines = [`■ ${words.press} ${ms(stop.pressedAfter)} after the request; ${before}: ${state}.`]
  if (!stop.stopped || stop.stopMs === undefined) {
    lines.push(`✗ Nothing was stopped: ${stop.failure ?? "no stream was running"}. There is no stop time to show.`)
    return lines
  }
  lines.push(`■ ${words.stopped(ms(stop.stopMs))}`)
  if (!stop.reached) {
    lines.push(`✗ But ${stop.failure}.`)
    return lines
  }
  lines.push(
    stop.closedMs === undefined
      ? `✗ ${words.who} did not see the connection close: ${stop.failure ?? "unknown"}.`
      : `■ ${words.who} saw the connection close ${ms(stop.closedMs)} after ${words.after}.`
  )
  return lines
}

const reinsWords: Words = {
  press: "Stop pressed",
  after: "Stop was pressed",
  piece: "reasoning chunk",
  stopped: (took) => `The interrupt took ${took}: Fiber.interrupt returned, and the stream's fiber had ended.`,
  who: "The server"
}
const fetchWords: Words = {
  press: "abort() called",
  after: "abort()",
  piece: "body read",
  stopped: (took) => `The pending read rejected (AbortError) ${took} after abort().`,
  who: "The server"
}

const good = (stop: Stop) => stop.stopped && stop.failure === undefined

const thinking: Script.Script = {
  steps: [
    ChatCompletions.start(),
    ...ChatCompletions.reasoning("The user asks whether 2^61 - 1 is prime. That is a Mersenne number. ", { chunkSize: 6 })
      .flatMap((step) => [Script.delay(40), step]),
    Script.stall(60_000)
  ]
}

const local = (write: (text: string) => void, say: (line: string) => void) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    server.enqueue(
      thinking,
      ChatCompletions.reply({ text: "Yes: 2^61 - 1 is a Mersenne prime.", usage: { prompt_tokens: 20, completion_tokens: 12 } }),
      thinking,
      thinking,
      thinking
    )
    const closedOf = (index: number) => () => server.connectionClosed(server.requests[index].id)
    const reachedOf = (index: number) => () => server.requests.length > index
    say(`Local reasoning model on ${server.url}: it streams a little reasoning, then thinks in silence for 60 s.`)
    say(`Stop is pressed once it has been silent for ${QUIET_MS} ms.\n`)
    const model = OpenAiChat.layer({ model: "local-reasoner", baseUrl: `${server.url}/v1` })
    const result = yield* Effect.gen(function*() {
      const first = yield* stopWhileThinking(write, closedOf(0), reachedOf(0))
      write("\n\n")
      tell(first, reinsWords).forEach(say)
      const next = yield* LanguageModel.generate({ messages: [question] }).pipe(
        Effect.map((answer): Next => {
          const [stopped, again] = server.requests
          return { ok: true, text: Message.text(answer), newConnection: again.connectionId !== stopped.connectionId }
        }),
        Effect.catchAll((error) => Effect.succeed<Next>({ ok: false, failure: describe(error) }))
      )
      if (next.ok) {
        const [stopped, again] = server.requests
        say(
          `■ The next request on the same client worked: "${next.text}" (on connection #${again.connectionId}; #${stopped.connectionId}, the stopped one, is closed).`
        )
      } else {
        say(`✗ The next request on the same client failed: ${next.failure}.`)
      }
      say(
        "\nThat first stop also paid for compiling the code it runs (and the server, in this process, noticed the"
          + "\nclose only when the process was free again). Once more, now that the stop path has run once:\n"
      )
      const second = yield* stopWhileThinking(write, closedOf(2), reachedOf(2))
      write("\n\n")
      tell(second, reinsWords).forEach(say)
      return { stops: [first, second], next }
    }).pipe(Effect.provide(model))

    say("\nThe same, with plain fetch and an AbortController, against the same server (twice, for the same reason):")
    const fetchStops: Array<Stop> = []
    for (const index of [3, 4]) {
      const stop = yield* fetchStop(`${server.url}/v1`, closedOf(index))
      fetchStops.push(stop)
      tell(stop, fetchWords).forEach(say)
    }

    const [, reins] = result.stops
    const [, plain] = fetchStops
    const ok = result.stops.every(good) && result.next.ok && fetchStops.every(good)
    if (ok && reins.stopMs !== undefined && plain.stopMs !== undefined) {
      say(
        `\nIn short: the stream was stopped while the model was silent; the second stop took ${ms(reins.stopMs)} with Reins`
          + ` and ${ms(plain.stopMs)} with fetch + AbortController, the server saw each connection close,`
          + " and the next request on the same client worked."
      )
    } else {
      say("\n✗ Something above failed; the timings shown are only those of streams that were running.")
    }
    return { ok, mode: "local" as const, stops: result.stops, next: result.next, fetchStops }
  })

/** The sockets undici sends requests on, seen through its diagnostics channels, and when each closes. */
const watchSockets = Effect.acquireRelease(
  Effect.sync(() => {
    const sent: Array<{ readonly at: number; readonly socket: net.Socket; readonly closed: Promise<number> }> = []
    const closes = new WeakMap<net.Socket, Promise<number>>()
    const onSend = (message: unknown) => {
      const socket = (message as { readonly socket: net.Socket }).socket
      let closed = closes.get(socket)
      if (closed === undefined) {
        closed = new Promise<number>((resolve) => {
          if (socket.destroyed) resolve(performance.now())
          else socket.once("close", () => resolve(performance.now()))
        })
        closes.set(socket, closed)
      }
      sent.push({ at: performance.now(), socket, closed })
    }
    diagnostics.subscribe("undici:client:sendHeaders", onSend)
    return { sent, onSend }
  }),
  ({ onSend }) => Effect.sync(() => diagnostics.unsubscribe("undici:client:sendHeaders", onSend))
)

const remote = (
  model: Layer.Layer<LanguageModel.LanguageModel, ConfigError.ConfigError, HttpClient.HttpClient>,
  name: string,
  write: (text: string) => void,
  say: (line: string) => void
) =>
  Effect.gen(function*() {
    const sockets = yield* watchSockets
    say(`Asking ${name}; Stop is pressed once the stream has been silent for ${QUIET_MS} ms (at the latest after ${LATEST_MS / 1000} s).`)
    say("(The fetch comparison runs against the local server: run the demo without an API key to see it.)\n")
    const words = { ...reinsWords, who: "The client's socket" }
    return yield* Effect.gen(function*() {
      const from = sockets.sent.length
      const closed = () => {
        const first = sockets.sent[from]
        return first === undefined ? new Promise<number>(() => {}) : first.closed
      }
      const stop = yield* stopWhileThinking(write, closed, () => sockets.sent.length > from)
      write("\n\n")
      tell(stop, words).forEach(say)
      const stoppedSocket = sockets.sent[from]?.socket
      const before = sockets.sent.length
      const next = yield* LanguageModel.generate({ messages: [Message.user("Say hello in five words.")] }).pipe(
        Effect.map((answer): Next => {
          const socket = sockets.sent[before]?.socket
          return { ok: true, text: Message.text(answer), newConnection: socket === undefined ? undefined : socket !== stoppedSocket }
        }),
        Effect.catchAll((error) => Effect.succeed<Next>({ ok: false, failure: describe(error) }))
      )
      say(
        next.ok
          ? `■ The next request on the same client worked: "${next.text}"${next.newConnection === true ? " (on a new connection)" : ""}.`
          : `✗ The next request on the same client failed: ${next.failure}.`
      )
      const ok = good(stop) && next.ok
      say(ok ? "\nIn short: the stream was stopped, the socket closed, and the next request worked." : "\n✗ Something above failed.")
      return { ok, mode: "remote" as const, stops: [stop], next, fetchStops: [] }
    }).pipe(
      Effect.provide(model),
      Effect.catchIf(ConfigError.isConfigError, (error) =>
        Effect.sync(() => {
          say(`✗ ${name} could not be set up, so nothing was sent: ${describe(error)}.`)
          return { ok: false, mode: "remote" as const, stops: [], fetchStops: [] }
        }))
    )
  })

/** Runs the demo against the provider the environment names, or the local server. */
export const run = (
  options: Options = {}
): Effect.Effect<Report, ConfigError.ConfigError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    let open = ""
    const write = (text: string) => {
      if (options.write !== undefined) options.write(text)
      else process.stdout.write(text)
      const parts = (open + text).split("\n")
      open = parts.pop() ?? ""
      lines.push(...parts)
    }
    const say = (line: string) => write(`${line}\n`)
    const moonshot = yield* Config.option(Config.redacted("MOONSHOT_API_KEY"))
    const openai = yield* Config.option(Config.redacted("OPENAI_API_KEY"))
    const report = Option.isSome(moonshot)
      ? yield* remote(Kimi.layerConfig({ thinking: "enabled" }), "Kimi", write, say)
      : Option.isSome(openai)
      ? yield* Effect.flatMap(
        Config.string("OPENAI_MODEL").pipe(Config.withDefault("gpt-5-mini")),
        (model) => remote(OpenAiChat.layerConfig({ model }), `OpenAI ${model}`, write, say)
      )
      : yield* local(write, say)
    if (open !== "") lines.push(open)
    return { ...report, lines }
  })

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  NodeRuntime.runMain(Effect.scoped(run()).pipe(Effect.provide(NodeHttpClient.layerUndici)), {
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) && (exit.value as Report).ok ? 0 : 1)
  })
}
