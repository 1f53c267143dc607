/**
 * The soak: many agent turns, run concurrently over real HTTP against a `ProviderServer`, each with
 * tools, rotating through the provider formats, and each stopped at a seeded moment (while
 * connecting, while awaiting headers, mid-body in silence, mid-tool, in a retry backoff, or at a
 * random time), with faults mixed in. Each turn's conversation must stay valid, a turn that meets a
 * fault and is not stopped must end as `Formats.expectedOutcome` says, no text or tool call may
 * arrive twice, be lost or be merged, and the API key must never show in an error, a span or a
 * conversation. Afterwards nothing may be left behind: no fiber, no busy connection, no open
 * handle, no heap growth, no unhandled rejection or exception.
 *
 * `run` returns a `Report` whose `checks` say what held; `test/soak/main.ts` prints it and sets the
 * exit code, and `test/soak.test.ts` runs a small one in CI.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { LanguageModel, Message, ProviderError, Tool, Toolkit, Turn } from "@reins/core"
import { Chaos, ProviderServer, type Script } from "@reins/testing"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Supervisor from "effect/Supervisor"
import * as Tracer from "effect/Tracer"
import * as util from "node:util"
import { conversationProblems, requestProblems } from "../validity.js"
import * as Formats from "./formats.js"

/** How a turn is stopped. */
export type Stop =
  /** Not at all: the turn must finish on its own. */
  | "none"
  /** At once, before or while the request connects. */
  | "connecting"
  /** While the server holds back the response headers. */
  | "headers"
  /** Mid-body, while the server is silent after some events. */
  | "body"
  /** While a tool sleeps. */
  | "tool"
  /** In the backoff after a 429 that asks for a minute. */
  | "backoff"
  /** At a random moment of a paced turn. */
  | "random"

const stops: ReadonlyArray<readonly [Stop, number]> = [
  ["none", 14],
  ["connecting", 10],
  ["headers", 14],
  ["body", 16],
  ["tool", 16],
  ["backoff", 10],
  ["random", 20]
]

/** What to run. */
export interface Options {
  readonly turns: number
  readonly seed: number
  /** Turns in flight at once. */
  readonly concurrency: number
  /** Turns run first, apart, so that the handle and heap baselines are taken warm. */
  readonly warmup?: number | undefined
  /** Told how many turns are done, now and then. */
  readonly onProgress?: ((done: number, total: number) => void) | undefined
}

/** One check of the soak and whether it held. */
export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

/** A distribution in milliseconds. */
export interface Spread {
  readonly p50: number
  readonly p99: number
  readonly max: number
}

/** What a soak did and found. */
export interface Report {
  readonly turns: number
  readonly seed: number
  readonly concurrency: number
  readonly elapsedMillis: number
  /** Turns by how they ended: completed, interrupted, or failed with an error's tag. */
  readonly outcomes: Record<string, number>
  readonly stops: Record<string, number>
  /** The mean time a turn took, from its start to its end or stop, by how it was stopped, in milliseconds. */
  readonly meanTurnMillis: Record<string, number>
  readonly formats: Record<string, number>
  readonly faults: Record<string, number>
  readonly requests: number
  readonly connectionsOpened: number
  /** How long `Fiber.interrupt` took to return, in milliseconds. */
  readonly interruptMillis: Spread
  /** For stops that found a response in flight: from the stop to the server seeing the connection close. */
  readonly closeMillis: Spread & { readonly count: number }
  readonly toolsStarted: number
  readonly toolsFinalized: number
  readonly liveFibers: number
  readonly connections: {
    /** Open once the turns ended, all of which must be idle in the client's pool. */
    readonly openAfterTurns: number
    /** Of those, the ones that never carried a request (left by stops while connecting). */
    readonly unusedAfterTurns: number
    readonly busyAfterTurns: number
    readonly danglingRequests: number
    readonly openAfterClientClosed: number
  }
  readonly handles: { readonly before: Record<string, number>; readonly after: Record<string, number> }
  /** Heap used after a full GC, when the process exposes `gc`. */
  readonly heap: { readonly before: number; readonly after: number } | undefined
  readonly unhandledRejections: number
  readonly uncaughtExceptions: number
  /** How many problems the turns showed, of every kind, and the first few. */
  readonly problemCount: number
  readonly problems: ReadonlyArray<string>
  /** The requests left hanging, with the turns that made them, the first few. */
  readonly hanging: ReadonlyArray<string>
  readonly checks: ReadonlyArray<Check>
}

/** A small seeded generator (mulberry32): one per turn, so choices do not depend on scheduling. */
const random = (seed: number) => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const weighted = <A>(items: ReadonlyArray<readonly [A, number]>): A => {
    let left = next() * items.reduce((sum, [, weight]) => sum + weight, 0)
    for (const [item, weight] of items) if ((left -= weight) < 0) return item
    return items[items.length - 1][0]
  }
  return { next, int, weighted }
}

/** The header that tells the server which turn a request belongs to. */
const TURN_HEADER = "x-soak-turn"

/** The sleep a tool stopped mid-way was asked for: long enough that only a stop ends it. */
const FOREVER_MS = 120_000

/** Retries as a client would have them, but quick, and honouring a minute's `retry-after`. */
const retry = { maxRetries: 2, baseDelay: "2 millis", maxDelay: "10 millis", maxRetryAfter: "2 minutes" } as const

/** A turn that outlives this, or an interrupt that takes longer to return, has hung. */
const TURN_DEADLINE = Duration.seconds(30)
const INTERRUPT_DEADLINE = Duration.seconds(10)
/** A stopped response's connection must be closed within this, even on a loaded machine. */
const CLOSE_DEADLINE_MILLIS = 1_000
/**
 * How long, after the turns, a response still going on may take to be closed: the library gives a
 * body that lingers after its terminal event a second to end before it closes the connection.
 */
const LINGER_WAIT_MILLIS = 2_500

/** A turn's plan and what the server saw of it. */
interface TurnState {
  readonly index: number
  readonly format: Formats.Format
  readonly stop: Stop
  /** The answers to this turn's requests, in order; past the end, the final answer. */
  readonly answers: ReadonlyArray<Script.Script>
  readonly fallback: Script.Script
  /** The fault mixed into the answers, if any. */
  readonly fault: Formats.FaultName | undefined
  /** How the turn must end after its fault when nobody stops it, if that is known. */
  readonly expected: string | undefined
  /** Whether the turn runs as `Turn.stream` rather than `Turn.run`. */
  readonly stream: boolean
  /** The request whose arrival starts the countdown to the stop, and the countdown in milliseconds. */
  readonly at: number
  readonly after: number
  readonly requests: Array<ProviderServer.RequestRecord>
  /** Completed when the server has received the turn's request of that index. */
  readonly received: Array<Deferred.Deferred<void>>
  /** Completed when a sleep tool of this turn starts. */
  readonly sleeping: Deferred.Deferred<void>
}

const receivedAt = (state: TurnState, k: number) => {
  while (state.received.length <= k) state.received.push(Deferred.unsafeMake<void>(FiberId.none))
  return state.received[k]
}

/** The tools every turn offers, counting starts and finalizers: a stopped tool must run its finalizer. */
const makeTools = (counts: { started: number; finalized: number }, sleeping: (turn: string) => Effect.Effect<void>) => {
  const tracked = <A>(effect: Effect.Effect<A>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => void counts.started++),
      () => effect,
      () => Effect.sync(() => void counts.finalized++)
    )
  const clock = Tool.make("clock", {
    description: "The time in a time zone",
    parameters: Schema.Struct({ tz: Schema.String }),
    success: Schema.String,
    handler: ({ tz }) => tracked(Effect.succeed(`12:00 in ${tz}`))
  })
  const sleep = Tool.make("sleep", {
    description: "Sleeps, then says so",
    parameters: Schema.Struct({ ms: Schema.Number, turn: Schema.String }),
    success: Schema.String,
    handler: ({ ms, turn }) => tracked(Effect.zipRight(sleeping(turn), Effect.as(Effect.sleep(ms), `slept ${ms} ms`)))
  })
  const lookup = Tool.make(Formats.chaosTool.name, {
    parameters: Schema.Struct({ city: Schema.String, unit: Schema.String }),
    success: Schema.String,
    handler: ({ city, unit }) => tracked(Effect.succeed(`20 ${unit} in ${city}`))
  })
  return Toolkit.make(clock, sleep, lookup)
}

/** A turn's plan, from its own seed. */
const plan = (index: number, seed: number): Omit<TurnState, "requests" | "received" | "sleeping"> => {
  const rng = random(seed * 1_000_003 + index)
  const format = Formats.formats[index % Formats.formats.length]
  const stop = rng.weighted(stops)
  const paced = stop === "random" ? { deltaDelay: 1 } : {}
  const calls: Array<Formats.Call> = [{ id: `t${index}-clock`, name: "clock", args: { tz: "Asia/Tokyo" } }]
  const sleepMs = stop === "tool" ? FOREVER_MS : 1 + rng.int(stop === "random" ? 20 : 5)
  if (stop === "tool" || rng.next() < 0.6) calls.push({ id: `t${index}-sleep`, name: "sleep", args: { ms: sleepMs, turn: String(index) } })
  if (rng.next() < 0.3) calls.push({ id: `t${index}-clock2`, name: "clock", args: { tz: "Europe/Paris" } })
  const toolStep = format.toolStep(calls, paced)
  const answer = format.answer(paced)
  let answers: Array<Script.Script> = [toolStep, answer]
  let fault: Formats.FaultName | undefined
  let expected: string | undefined
  const at = rng.int(2)
  let after = rng.int(4)
  switch (stop) {
    case "headers":
      answers[at] = { ...answers[at], headersDelay: FOREVER_MS }
      break
    case "body":
      answers[at] = Formats.stalledAfter(answers[at], rng.int(Formats.eventCount(answers[at])))
      break
    case "backoff":
      answers = [format.rateLimited(60_000), ...answers]
      after = 1 + rng.int(10)
      break
    case "random":
      // sometimes a short rate limit first, so that a stop can land in a backoff that ends
      if (rng.next() < 0.3) answers = [format.rateLimited(2 + rng.int(10)), ...answers]
      after = rng.int(60)
      break
    case "connecting":
      after = rng.int(3)
      break
  }
  // more often in unstopped turns, where how a fault ends is checked
  if ((stop === "none" || stop === "random" || stop === "connecting") && rng.next() < (stop === "none" ? 0.7 : 0.35)) {
    const k = rng.int(2)
    const chosen = Formats.fault(format, rng.int(2 ** 31))
    fault = chosen.name
    expected = chosen.expected
    answers.splice(k, 0, chosen.script)
  }
  return { index, format, stop, answers, fallback: answer, fault, expected, stream: rng.next() < 0.5, at, after }
}

/** The moment a turn is stopped: an effect that completes then. */
const trigger = (state: TurnState): Effect.Effect<void> => {
  switch (state.stop) {
    case "none":
      return Effect.never
    case "connecting":
      return Effect.repeatN(Effect.yieldNow(), state.after)
    case "headers":
    case "body":
      return Effect.zipRight(Deferred.await(receivedAt(state, state.at)), Effect.sleep(Duration.millis(state.after)))
    case "tool":
      return Effect.zipRight(Deferred.await(state.sleeping), Effect.sleep(Duration.millis(state.after)))
    case "backoff":
      return Effect.zipRight(Deferred.await(receivedAt(state, 0)), Effect.sleep(Duration.millis(state.after)))
    case "random":
      return Effect.sleep(Duration.millis(state.after))
  }
}

/** How a turn ended, by name, or why that end is wrong. */
const outcome = (exit: Exit.Exit<unknown, unknown>, stopped: boolean): { readonly name: string; readonly problem?: string } => {
  if (Exit.isSuccess(exit)) return { name: "completed" }
  if (Cause.isInterruptedOnly(exit.cause)) {
    return stopped ? { name: "interrupted" } : { name: "interrupted", problem: "interrupted though nobody stopped it" }
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && ProviderError.isProviderError(failure.value) && !Cause.isDie(exit.cause)) return { name: `failed: ${failure.value._tag}` }
  return { name: "defect", problem: `ended in a defect: ${Cause.pretty(exit.cause)}` }
}

const count = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

/** Active handles and requests by type, as Node counts them. */
const handles = (): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) count(out, type)
  return out
}

const total = (record: Record<string, number>) => Object.values(record).reduce((sum, n) => sum + n, 0)

const gc = (globalThis as { gc?: () => void }).gc

/** Heap used after full collections, or undefined without `--expose-gc`. */
const heapUsed = Effect.promise(async () => {
  if (gc === undefined) return undefined
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return process.memoryUsage().heapUsed
})

/** What one batch of turns left behind, besides its turns' own results. */
interface Batch {
  readonly liveFibers: number
  readonly openAfterTurns: number
  readonly unusedAfterTurns: number
  readonly busyAfterTurns: number
  readonly openAfterClientClosed: number
  readonly danglingRequests: number
  readonly requests: number
  readonly connectionsOpened: number
}

/** Accumulates what the turns showed. */
interface Tally {
  readonly outcomes: Record<string, number>
  readonly stops: Record<string, number>
  readonly formats: Record<string, number>
  readonly faults: Record<string, number>
  readonly interruptMillis: Array<number>
  readonly closeMillis: Array<number>
  readonly turnMillis: Record<string, number>
  readonly problems: Array<string>
  problemCount: number
  /** How many problems of each kind. */
  readonly problemsOf: Record<Problem, number>
  readonly tools: { started: number; finalized: number }
  /** The requests left hanging, by turn, the first few. */
  readonly hanging: Array<string>
  done: number
}

/** What a problem is about, each kind with its own check. */
type Problem = "conversation" | "fault" | "content" | "key"

const newTally = (): Tally => ({
  outcomes: {},
  stops: {},
  formats: {},
  faults: {},
  interruptMillis: [],
  closeMillis: [],
  turnMillis: {},
  problems: [],
  problemCount: 0,
  problemsOf: { conversation: 0, fault: 0, content: 0, key: 0 },
  tools: { started: 0, finalized: 0 },
  hanging: [],
  done: 0
})

const MAX_PROBLEMS_KEPT = 40

const problem = (tally: Tally, text: string, kind: Problem = "conversation") => {
  tally.problemCount++
  tally.problemsOf[kind]++
  if (tally.problems.length < MAX_PROBLEMS_KEPT) tally.problems.push(kind === "conversation" ? text : `${text} [${kind}]`)
}

/** JSON with object keys sorted, so that two values compare equal whatever order their keys were set in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v)

const parsed = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * What a history shows of content that arrived twice, was lost or was merged: each assistant
 * message's text and reasoning are ones the scripts send (a beginning of one, in a turn that did
 * not complete), each tool call id is there once, and in a completed turn the calls of a `Chaos`
 * reply are the ones its fault's reply makes, each with its own arguments.
 */
const contentProblems = (
  history: ReadonlyArray<Message.Message>,
  completed: boolean,
  fault: Formats.FaultName | undefined
): Array<string> => {
  const problems: Array<string> = []
  const ids = new Set<string>()
  const known = (said: string, scripted: ReadonlyArray<string>) =>
    completed ? scripted.includes(said) : scripted.some((text) => text.startsWith(said))
  history.forEach((message, i) => {
    if (message._tag !== "Assistant") return
    const text = Message.text(message)
    if (!known(text, Formats.texts)) problems.push(`[${i}]: the text ${JSON.stringify(text)} is not ${completed ? "" : "a beginning of "}one the server sent`)
    const reasoning = Message.reasoning(message)
    if (!known(reasoning, Formats.reasonings)) problems.push(`[${i}]: the reasoning ${JSON.stringify(reasoning)} is not one the server sent`)
    const calls = Message.toolCalls(message)
    for (const call of calls) {
      if (call.id === "" || ids.has(call.id)) problems.push(`[${i}]: the tool call id ${JSON.stringify(call.id)} is empty or there twice`)
      ids.add(call.id)
    }
    const chaos = calls.filter((call) => call.name === Formats.chaosTool.name)
    // (a truncated tool call is cut by design)
    if (completed && fault !== undefined && fault !== "TruncatedToolCall" && chaos.length > 0) {
      const got = chaos.map((call) => ({ name: call.name, arguments: parsed(call.arguments) }))
      const sent = Chaos.toolCallsOf(fault).map((call) => ({ name: call.name, arguments: call.arguments }))
      if (canonical(got) !== canonical(sent)) problems.push(`[${i}]: the tool calls ${canonical(got)}, not the ${canonical(sent)} the server sent`)
    }
  })
  return problems
}

/**
 * A tracer that makes the spans `base` makes, and tells `onLeak` the name of each that shows the
 * API key by the time it ends: in its name, its attributes (the HTTP spans' request and response
 * headers among them), its events or its exit.
 */
const keyWatch = (base: Tracer.Tracer, onLeak: (span: string) => void): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = base.span(name, parent, context, links, startTime, kind, options)
      const events: Array<unknown> = []
      const event = span.event.bind(span)
      const end = span.end.bind(span)
      span.event = (eventName, time, attributes) => {
        events.push([eventName, attributes])
        event(eventName, time, attributes)
      }
      span.end = (endTime, exit) => {
        end(endTime, exit)
        const seen = [name, util.inspect([...span.attributes], { depth: 8 }), util.inspect(events, { depth: 8 })]
        if (Exit.isFailure(exit)) seen.push(Cause.pretty(exit.cause))
        if (seen.some((text) => text.includes(Formats.key))) onLeak(name)
      }
      return span
    },
    context: (f, fiber) => base.context(f, fiber)
  })

/** Whether the API key shows anywhere in how a turn ended or in its conversation. */
const leaksKey = (exit: Exit.Exit<unknown, unknown>, history: ReadonlyArray<Message.Message>): boolean => {
  const seen = [JSON.stringify(history)]
  if (Exit.isFailure(exit)) {
    seen.push(Cause.pretty(exit.cause), util.inspect(exit.cause, { depth: 12 }))
    for (const failure of Cause.failures(exit.cause)) seen.push(util.inspect(failure, { depth: 12 }), JSON.stringify(failure) ?? "")
  }
  return seen.some((text) => text.includes(Formats.key))
}

/** Runs turns `from` to `to` (exclusive) on a fresh server and client, and checks what they left. */
const batch = (options: Options, from: number, to: number, tally: Tally): Effect.Effect<Batch> =>
  Effect.gen(function*() {
    const states = new Map<string, TurnState>()
    /** Each turn's label, kept after the turn to name the requests it may have left hanging. */
    const labels = new Map<string, string>()
    /** When each stopped turn was stopped, and its requests, to time the closes of those in flight. */
    const stopped: Array<{ readonly at: number; readonly requests: ReadonlyArray<ProviderServer.RequestRecord> }> = []
    // Each turn's requests are answered from its own plan, found by the header its layer sends.
    const answer = (record: ProviderServer.RequestRecord): Script.Script => {
      const state = states.get(String(record.headers[TURN_HEADER]))
      if (state === undefined) return { status: 500, steps: [] }
      const k = state.requests.length
      state.requests.push(record)
      Deferred.unsafeDone(receivedAt(state, k), Exit.void)
      return state.answers[k] ?? state.fallback
    }
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => ProviderServer.start({ handler: answer })),
      (server) => Effect.promise(() => server.close())
    )
    // The client's own scope, closed before the server's so that its pool can be seen to empty.
    const clientScope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
    const client = yield* Layer.buildWithScope(NodeHttpClient.layerUndici, clientScope).pipe(
      Effect.map((context) => Context.get(context, HttpClient.HttpClient))
    )
    const supervisor = yield* Supervisor.track
    const toolkit = makeTools(tally.tools, (turn) => {
      const state = states.get(turn)
      return state === undefined ? Effect.void : Deferred.succeed(state.sleeping, undefined)
    })

    const runTurn = (index: number) =>
      Effect.gen(function*() {
        const state: TurnState = {
          ...plan(index, options.seed),
          requests: [],
          received: [],
          sleeping: yield* Deferred.make<void>()
        }
        states.set(String(index), state)
        count(tally.stops, state.stop)
        count(tally.formats, state.format.name)
        if (state.fault !== undefined) count(tally.faults, state.fault)
        const label = `turn ${index} (${state.format.name}, stop ${state.stop}${state.fault ? `, fault ${state.fault}` : ""}, ${
          state.stream ? "stream" : "run"
        })`
        labels.set(String(index), label)

        const model = yield* state.format.make(server.url, { [TURN_HEADER]: String(index) }, retry).pipe(
          Effect.orDie,
          Effect.provideService(HttpClient.HttpClient, client)
        )
        const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
        const input = `Soak turn ${index}: what time is it?`
        const turnOptions = { conversation, input, toolkit, maxSteps: 4 }
        const turn = state.stream
          ? Stream.runDrain(Turn.stream(turnOptions))
          : Effect.asVoid(Turn.run(turnOptions))
        const begun = performance.now()
        const base = yield* Effect.tracer
        const leakingSpans = new Set<string>()
        const fiber = yield* turn.pipe(
          Effect.provideService(LanguageModel.LanguageModel, model),
          Effect.withTracer(keyWatch(base, (span) => leakingSpans.add(span))),
          Effect.fork
        )

        const first = yield* Effect.raceFirst(
          Effect.as(Fiber.await(fiber), "ended" as const),
          Effect.as(trigger(state), "stop" as const)
        ).pipe(Effect.timeoutTo({ duration: TURN_DEADLINE, onSuccess: (a) => a, onTimeout: () => "hung" as const }))
        let exit: Exit.Exit<void, unknown>
        if (first === "ended") {
          exit = yield* Fiber.await(fiber)
        } else {
          if (first === "hung") problem(tally, `${label}: did not end within ${Duration.format(TURN_DEADLINE)}`)
          const started = performance.now()
          stopped.push({ at: started, requests: state.requests })
          const interrupted = yield* Fiber.interrupt(fiber).pipe(
            Effect.timeoutTo({ duration: INTERRUPT_DEADLINE, onSuccess: Option.some, onTimeout: Option.none })
          )
          tally.interruptMillis.push(performance.now() - started)
          if (Option.isNone(interrupted)) {
            problem(tally, `${label}: Fiber.interrupt did not return within ${Duration.format(INTERRUPT_DEADLINE)}`)
            exit = Exit.interrupt(FiberId.none)
          } else {
            exit = interrupted.value
          }
        }
        tally.turnMillis[state.stop] = (tally.turnMillis[state.stop] ?? 0) + performance.now() - begun
        const ended = outcome(exit, first !== "ended")
        count(tally.outcomes, ended.name)
        if (ended.problem !== undefined) problem(tally, `${label}: ${ended.problem}`)
        if (state.stop === "none" && state.fault === undefined && ended.name !== "completed") {
          problem(tally, `${label}: a turn with no stop and no fault ended ${ended.name}`)
        }
        if (state.stop === "none" && state.expected !== undefined && ended.name !== state.expected) {
          problem(tally, `${label}: ended ${ended.name}, not ${state.expected}`, "fault")
        }

        const history = yield* SubscriptionRef.get(conversation)
        for (const found of contentProblems(history, ended.name === "completed", state.fault)) problem(tally, `${label}: ${found}`, "content")
        if (leaksKey(exit, history)) problem(tally, `${label}: the API key shows in how the turn ended or in its conversation`, "key")
        if (leakingSpans.size > 0) problem(tally, `${label}: the API key shows in the spans ${[...leakingSpans].join(", ")}`, "key")
        if (history.length > 0 && !(history[0]._tag === "User" && history[0].content[0]?._tag === "Text" && history[0].content[0].text === input)) {
          problem(tally, `${label}: the conversation does not start with the turn's input`)
        }
        for (const found of conversationProblems(history)) problem(tally, `${label}: ${found}`)
        // what the library actually sent must be valid too
        for (const record of state.requests) {
          for (const found of requestProblems[state.format.name](record.json)) problem(tally, `${label}: request ${record.id}: ${found}`)
        }
        states.delete(String(index))
        tally.done++
        if (tally.done % 500 === 0) options.onProgress?.(tally.done, options.turns + (options.warmup ?? 0))
      })

    const indices = Array.from({ length: to - from }, (_, i) => from + i)
    yield* Effect.forEach(indices, runTurn, { concurrency: options.concurrency, discard: true }).pipe(Effect.supervised(supervisor))

    // Interrupted requests close their connections at once; give the last closes a moment to land.
    yield* Effect.sleep("200 millis")
    const liveFibers = (yield* supervisor.value).filter((fiber) => fiber.unsafePoll() === null).length
    // What the turns left open. A response that lingers after its terminal event is left by the
    // library to end on its own for a moment (a second) before it closes the connection, so what
    // is still busy is looked at again until it has had that long.
    const leftOpen = () => {
      const open = server.connections.filter((connection) => connection.closedAt === undefined)
      const delivered = new Map<number, Array<ProviderServer.RequestRecord>>()
      for (const record of server.requests) delivered.set(record.connectionId, [...(delivered.get(record.connectionId) ?? []), record])
      // An open connection is idle in the pool when every request it carried arrived whole and was
      // answered whole. One that never carried a request is idle too: a stop while connecting leaves
      // the half-made connection to the client's pool, with nothing sent on it.
      const busy = open.filter((connection) => {
        const records = delivered.get(connection.id) ?? []
        return connection.requests !== records.length || (records.length > 0 && records[records.length - 1].finishedAt === undefined)
      }).length
      const unused = open.filter((connection) => connection.requests === 0).length
      const closedConnections = new Set(server.connections.filter((connection) => connection.closedAt !== undefined).map((c) => c.id))
      const hanging = server.requests.filter((record) =>
        record.finishedAt === undefined && record.clientClosedAt === undefined && !closedConnections.has(record.connectionId)
      )
      return { open, busy, unused, hanging }
    }
    let left = leftOpen()
    for (let waited = 0; (left.busy > 0 || left.hanging.length > 0) && waited < LINGER_WAIT_MILLIS; waited += 100) {
      yield* Effect.sleep("100 millis")
      left = leftOpen()
    }
    const { busy, hanging, open, unused } = left
    const dangling = hanging.length
    for (const record of hanging.slice(0, MAX_PROBLEMS_KEPT)) {
      const turn = String(record.headers[TURN_HEADER])
      tally.hanging.push(`${labels.get(turn) ?? `turn ${turn}`}: request ${record.id} (${record.path}) left hanging`)
    }
    // A stop that found a response in flight must have closed its connection.
    for (const { at, requests } of stopped) {
      const last = requests.at(-1)
      if (last?.clientClosedAt !== undefined && last.clientClosedAt >= at) tally.closeMillis.push(last.clientClosedAt - at)
    }

    yield* Scope.close(clientScope, Exit.void)
    const closed = yield* Effect.promise(() => server.waitForOpenConnections(0, 2_000).then(() => true, () => false))
    return {
      liveFibers,
      openAfterTurns: open.length,
      unusedAfterTurns: unused,
      busyAfterTurns: busy,
      openAfterClientClosed: closed ? 0 : server.openConnections(),
      danglingRequests: dangling,
      requests: server.requests.length,
      connectionsOpened: server.connections.length
    } satisfies Batch
  }).pipe(Effect.scoped)

/**
 * Runs the soak and checks what it left behind.
 *
 * @example
 * const report = yield* Soak.run({ turns: 200, seed: 1, concurrency: 16 })
 * report.checks.every((check) => check.ok)
 */
export const run = (options: Options): Effect.Effect<Report> =>
  Effect.gen(function*() {
    let unhandledRejections = 0
    let uncaughtExceptions = 0
    const onRejection = () => void unhandledRejections++
    const onException = () => void uncaughtExceptions++
    process.on("unhandledRejection", onRejection)
    process.on("uncaughtException", onException)
    try {
      const tally = newTally()
      const warmup = options.warmup ?? 0
      if (warmup > 0) yield* batch(options, options.turns, options.turns + warmup, tally)
      // the warm-up server's handle goes a tick after it reports itself closed
      yield* Effect.sleep("100 millis")
      const handlesBefore = handles()
      const heapBefore = yield* heapUsed
      const started = performance.now()
      const main = yield* batch(options, 0, options.turns, tally)
      const elapsedMillis = performance.now() - started
      // Handles can outlive their work by a moment (a client's timer wheel ticks on for up to a
      // second), so the count is given a little while to come back down.
      let handlesAfter = handles()
      for (let i = 0; i < 30 && total(handlesAfter) > total(handlesBefore); i++) {
        yield* Effect.sleep("100 millis")
        handlesAfter = handles()
      }
      const heapAfter = yield* heapUsed
      const spread = (values: ReadonlyArray<number>): Spread => {
        const sorted = [...values].sort((a, b) => a - b)
        return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0 }
      }
      const closeMillis = { ...spread(tally.closeMillis), count: tally.closeMillis.length }

      const heap = heapBefore !== undefined && heapAfter !== undefined ? { before: heapBefore, after: heapAfter } : undefined
      const heapSlack = 16 * 1024 * 1024
      const checks: Array<Check> = [
        { name: "turns", ok: tally.done === options.turns + warmup, detail: `${tally.done} of ${options.turns + warmup} turns ran` },
        { name: "conversations valid", ok: tally.problemsOf.conversation === 0, detail: `${tally.problemsOf.conversation} problems` },
        {
          name: "faults handled",
          ok: tally.problemsOf.fault === 0,
          detail: `${tally.problemsOf.fault} unstopped turns that met a fault ended otherwise than documented`
        },
        {
          name: "content once",
          ok: tally.problemsOf.content === 0,
          detail: `${tally.problemsOf.content} texts or tool calls sent twice, lost or merged`
        },
        { name: "keys never leak", ok: tally.problemsOf.key === 0, detail: `${tally.problemsOf.key} times a turn's error, spans or conversation showed the API key` },
        { name: "no fiber left", ok: main.liveFibers === 0, detail: `${main.liveFibers} supervised fibers still running` },
        {
          name: "connections",
          ok: main.busyAfterTurns === 0 && main.danglingRequests === 0,
          detail: `${main.openAfterTurns} open after the turns: ${main.openAfterTurns - main.busyAfterTurns} idle in the pool (${main.unusedAfterTurns} never used), ${main.busyAfterTurns} busy; ${main.danglingRequests} requests left hanging`
        },
        {
          name: "stopped connections closed",
          ok: closeMillis.max <= CLOSE_DEADLINE_MILLIS,
          detail: `${closeMillis.count} responses in flight when stopped, closed after p50 ${closeMillis.p50.toFixed(2)} ms, p99 ${
            closeMillis.p99.toFixed(2)
          } ms, max ${closeMillis.max.toFixed(2)} ms`
        },
        { name: "client closed", ok: main.openAfterClientClosed === 0, detail: `${main.openAfterClientClosed} open after the client closed` },
        {
          name: "tool finalizers",
          ok: tally.tools.started === tally.tools.finalized,
          detail: `${tally.tools.started} tool runs started, ${tally.tools.finalized} finalized`
        },
        {
          name: "handles",
          ok: total(handlesAfter) <= total(handlesBefore),
          detail: `${total(handlesBefore)} before, ${total(handlesAfter)} after`
        },
        heap === undefined
          ? { name: "heap", ok: true, detail: "not measured (run node with --expose-gc)" }
          : {
            name: "heap",
            ok: heap.after - heap.before < heapSlack,
            detail: `${(heap.before / 1048576).toFixed(1)} MiB before, ${(heap.after / 1048576).toFixed(1)} MiB after`
          },
        {
          name: "no unhandled errors",
          ok: unhandledRejections === 0 && uncaughtExceptions === 0,
          detail: `${unhandledRejections} unhandled rejections, ${uncaughtExceptions} uncaught exceptions`
        }
      ]
      return {
        turns: options.turns,
        seed: options.seed,
        concurrency: options.concurrency,
        elapsedMillis,
        outcomes: tally.outcomes,
        stops: tally.stops,
        meanTurnMillis: Object.fromEntries(Object.entries(tally.turnMillis).map(([stop, ms]) => [stop, Math.round(ms / tally.stops[stop])])),
        formats: tally.formats,
        faults: tally.faults,
        requests: main.requests,
        connectionsOpened: main.connectionsOpened,
        interruptMillis: spread(tally.interruptMillis),
        closeMillis,
        toolsStarted: tally.tools.started,
        toolsFinalized: tally.tools.finalized,
        liveFibers: main.liveFibers,
        connections: {
          openAfterTurns: main.openAfterTurns,
          unusedAfterTurns: main.unusedAfterTurns,
          busyAfterTurns: main.busyAfterTurns,
          danglingRequests: main.danglingRequests,
          openAfterClientClosed: main.openAfterClientClosed
        },
        handles: { before: handlesBefore, after: handlesAfter },
        heap,
        unhandledRejections,
        uncaughtExceptions,
        problemCount: tally.problemCount,
        problems: tally.problems,
        hanging: tally.hanging.slice(0, MAX_PROBLEMS_KEPT),
        checks
      } satisfies Report
    } finally {
      process.off("unhandledRejection", onRejection)
      process.off("uncaughtException", onException)
    }
  })

const line = (record: Record<string, number>) =>
  Object.entries(record).sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => `${key} ${n}`).join(", ")

/** The report as text, for a terminal. */
export const summary = (report: Report): string => {
  const lines = [
    `soak: ${report.turns} turns, seed ${report.seed}, ${report.concurrency} at a time, ${(report.elapsedMillis / 1000).toFixed(1)} s (${
      (report.turns / (report.elapsedMillis / 1000)).toFixed(0)
    } turns/s)`,
    `  outcomes:    ${line(report.outcomes)}`,
    `  stops:       ${line(report.stops)}`,
    `  turn ms:     ${line(report.meanTurnMillis)} (mean, by stop)`,
    `  formats:     ${line(report.formats)}`,
    `  faults:      ${line(report.faults)}`,
    `  requests:    ${report.requests} over ${report.connectionsOpened} connections`,
    `  interrupt:   p50 ${report.interruptMillis.p50.toFixed(2)} ms, p99 ${report.interruptMillis.p99.toFixed(2)} ms, max ${
      report.interruptMillis.max.toFixed(2)
    } ms`,
    `  tools:       ${report.toolsStarted} started, ${report.toolsFinalized} finalized`,
    `  handles:     before ${line(report.handles.before)}; after ${line(report.handles.after)}`,
    ...report.checks.map((check) => `  ${check.ok ? "ok  " : "FAIL"} ${check.name}: ${check.detail}`),
    ...report.problems.map((text) => `  problem: ${text}`),
    ...report.hanging.map((text) => `  hanging: ${text}`),
    report.checks.every((check) => check.ok) ? "soak: PASS" : "soak: FAIL"
  ]
  return lines.join("\n")
}
