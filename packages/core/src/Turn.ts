/**
 * An agent turn: the model, the tools it asks for, the model again, until it needs no tool. A turn
 * is one fiber, so `Fiber.interrupt` is its Stop button, and whatever way it ends, the
 * conversation it leaves is valid to continue: the partial answer is kept with
 * `stopReason: "interrupted"`, and every tool call has a result. A tool starts as soon as its call
 * is complete, while the model may still be streaming the rest of its answer; results are recorded
 * in call order.
 */
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Function from "effect/Function"
import * as FiberStatus from "effect/FiberStatus"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { Accumulator } from "./Accumulator.js"
import * as Approval from "./Approval.js"
import * as LanguageModel from "./LanguageModel.js"
import * as Message from "./Message.js"
import type * as Part from "./Part.js"
import type { ProviderError } from "./ProviderError.js"
import type { StopReason } from "./StopReason.js"
import type * as StreamPart from "./StreamPart.js"
import * as Toolkit from "./Toolkit.js"
import * as Tool from "./Tool.js"
import * as Usage from "./Usage.js"

/** The conversation a turn reads and extends; UIs can watch its `changes`. */
export type Conversation = SubscriptionRef.SubscriptionRef<ReadonlyArray<Message.Message>>

/** What a turn needs. */
export interface Options<Tools extends ReadonlyArray<Tool.Any>> {
  readonly conversation: Conversation
  /** The user's new message. */
  readonly input: string | Message.User
  readonly toolkit?: Toolkit.Toolkit<Tools> | undefined
  /** The most model calls in the turn; default 10. */
  readonly maxSteps?: number | undefined
  /** How many tool calls of one step run at once; default all of them. */
  readonly concurrency?: number | undefined
  /** Request fields for every model call (system prompt, reasoning, temperature, ...). */
  readonly request?: Omit<LanguageModel.Request, "messages" | "tools"> | undefined
  /**
   * Where calls of tools that ask first wait for a decision (see `Approval`). Without it such calls
   * are denied, since nobody could approve them.
   */
  readonly approvals?: Approval.Approvals | undefined
}

/** How a turn ended. */
export interface TurnResult {
  /** The messages the turn added, its input first. */
  readonly messages: ReadonlyArray<Message.Message>
  /** The last step's stop reason. `tool-calls` means `maxSteps` was reached with calls answered. */
  readonly stopReason: StopReason
  readonly steps: number
  readonly usage: Usage.Usage
}

/**
 * What a turn streams to a UI; a turn can be rendered from these alone. A tool's `ToolCallStarted`
 * follows its call's `ToolCallEnd` part and may come before the step's `StepEnd`, since the tool
 * starts while the model goes on. A call of a tool that asks first is announced by
 * `ApprovalRequested` and waits for `Approvals.decide`; a denied call gets its `ToolResult` without
 * a `ToolCallStarted`. A running tool's reports (`Tool.progress`) come as `ToolProgress` events
 * between its `ToolCallStarted` and its `ToolResult`.
 */
export type TurnEvent =
  | { readonly _tag: "StepStart"; readonly step: number }
  | { readonly _tag: "StreamPart"; readonly step: number; readonly part: StreamPart.StreamPart }
  | { readonly _tag: "ApprovalRequested"; readonly step: number; readonly call: Part.ToolCall }
  | { readonly _tag: "ToolCallStarted"; readonly step: number; readonly call: Part.ToolCall }
  | {
    readonly _tag: "ToolProgress"
    readonly step: number
    readonly callId: string
    readonly progress: number
    readonly total?: number | undefined
    readonly message?: string | undefined
  }
  | { readonly _tag: "ToolResult"; readonly step: number; readonly result: Message.ToolResult }
  | { readonly _tag: "StepEnd"; readonly step: number; readonly message: Message.Assistant }
  | { readonly _tag: "TurnEnd"; readonly result: TurnResult }

const interruptedResult = (call: Part.ToolCall): Message.ToolResult =>
  Message.toolResult({
    toolCallId: call.id,
    toolName: call.name,
    content: "The call was interrupted before it finished; it has no result.",
    isError: true
  })

/** Where a turn is, so that a stop at any point can leave the conversation valid. */
type Phase =
  | { readonly _tag: "Idle" }
  | { readonly _tag: "Streaming"; readonly acc: Accumulator; readonly results: Map<string, Message.ToolResult> }
  | { readonly _tag: "Tools"; readonly calls: ReadonlyArray<Part.ToolCall>; readonly results: Map<string, Message.ToolResult> }

/**
 * Makes every tool-call id of a step unique in the conversation: some servers send none (and an id
 * is made per response) or reuse theirs in every step, and providers such as Anthropic reject a
 * request that repeats one. A repeated id gets a suffix; the parts are renamed before anything
 * reads them, so the UI, the history and the results all see the same id. One per step.
 */
class CallIds {
  private readonly taken = new Set<string>()
  /** The id each call of the step goes by, from its wire id. */
  private readonly current = new Map<string, string>()

  constructor(history: ReadonlyArray<Message.Message>) {
    for (const message of history) {
      if (message._tag === "Assistant") for (const call of Message.toolCalls(message)) this.taken.add(call.id)
    }
  }

  /** The parts with repeated call ids replaced; the same array when none repeats. */
  rename(parts: ReadonlyArray<StreamPart.StreamPart>): ReadonlyArray<StreamPart.StreamPart> {
    let out: Array<StreamPart.StreamPart> | undefined
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]
      if (part._tag !== "ToolCallStart" && part._tag !== "ToolCallDelta" && part._tag !== "ToolCallEnd") continue
      // A start names a new call; a delta or an end goes by its call's id, or names one it never started.
      const id = (part._tag !== "ToolCallStart" ? this.current.get(part.id) : undefined) ?? this.claim(part.id)
      if (id !== part.id) (out ??= parts.slice())[i] = { ...part, id }
    }
    return out ?? parts
  }

  private claim(wire: string): string {
    let id = wire
    if (this.taken.has(id)) {
      let n = 2
      while (this.taken.has(`${wire}_${n}`)) n++
      id = `${wire}_${n}`
    }
    this.taken.add(id)
    this.current.set(wire, id)
    return id
  }
}

/** How often a stop checks whether a tool inside an uninterruptible region has finished it. */
const UNINTERRUPTIBLE_POLL_MS = 5

/** A wait on the wall clock, whatever clock the turn runs under (a test's `TestClock`, say). */
const wallSleep = (ms: number) =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), ms)
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * Stops a running tool and returns how it ended. A tool inside an uninterruptible region (a payment
 * made, a file written) is let finish that region before it is interrupted, so that a result it
 * produces there is kept: interrupting it at once would have it finish the work and drop the result,
 * and the model, told the call was interrupted, could repeat its side effect.
 */
const stopTool = <A>(fiber: Fiber.RuntimeFiber<A>): Effect.Effect<Exit.Exit<A>> =>
  Effect.gen(function*() {
    while (true) {
      const status = yield* Fiber.status(fiber)
      if (FiberStatus.isDone(status) || RuntimeFlags.interruption(status.runtimeFlags)) return yield* Fiber.interrupt(fiber)
      yield* Effect.race(Effect.asVoid(Fiber.await(fiber)), wallSleep(UNINTERRUPTIBLE_POLL_MS))
    }
  })

/**
 * Runs one tool call in a fiber of its own and returns its result. When the turn is stopped, the
 * tool is stopped with `stopTool`, and a result it still produced is recorded before the stop goes on.
 */
const runTool = <Tools extends ReadonlyArray<Tool.Any>>(
  toolkit: Toolkit.Toolkit<Tools>,
  call: Part.ToolCall,
  record: (result: Message.ToolResult) => void,
  reporter: Tool.ProgressReporter["Type"]
): Effect.Effect<Message.ToolResult, never, Tool.Requirements<Tools[number]>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const running = Effect.provideService(Toolkit.run(toolkit, call), Tool.ProgressReporter, reporter)
      // Not a child of this fiber: a child would receive the stop at once, with the turn's.
      const fiber = yield* Effect.forkDaemon(restore(running))
      const awaited = yield* Effect.exit(restore(Fiber.join(fiber)))
      if (Exit.isSuccess(awaited)) {
        record(awaited.value)
        return awaited.value
      }
      const finished = yield* Fiber.poll(fiber)
      const exit = Option.isSome(finished) ? finished.value : yield* stopTool(fiber)
      if (Exit.isSuccess(exit)) record(exit.value)
      // A defect of the tool itself goes on as it is; otherwise the turn was stopped.
      if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) return yield* exit
      return yield* Effect.interrupt
    })
  )

const append = (conversation: Conversation, messages: ReadonlyArray<Message.Message>) =>
  messages.length === 0 ? Effect.void : SubscriptionRef.update(conversation, (history) => [...history, ...messages])

/** The messages that close a phase cut short, so that every tool call has its result. */
const closing = (phase: Phase, interrupted: boolean): ReadonlyArray<Message.Message> => {
  switch (phase._tag) {
    case "Idle":
      return []
    case "Streaming": {
      const message = phase.acc.finished ? phase.acc.message() : interrupted ? phase.acc.interrupted() : phase.acc.failed()
      return [message, ...Message.toolCalls(message).map((call) => phase.results.get(call.id) ?? interruptedResult(call))]
    }
    case "Tools":
      return phase.calls.map((call) => phase.results.get(call.id) ?? interruptedResult(call))
  }
}

/**
 * The tools of one step. Each call starts once, when it is complete, in a fiber of the step's scope,
 * so that a step that ends in any way stops the tools still running; a result lands in `results`
 * as soon as it exists.
 */
const stepTools = <Tools extends ReadonlyArray<Tool.Any>>(
  toolkit: Toolkit.Toolkit<Tools>,
  step: number,
  options: Pick<Options<Tools>, "concurrency" | "approvals">,
  results: Map<string, Message.ToolResult>,
  notify: (event: TurnEvent) => Effect.Effect<void>
) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const permits = options.concurrency === undefined ? undefined : yield* Effect.makeSemaphore(options.concurrency)
    const fibers = new Map<string, Fiber.RuntimeFiber<void>>()
    const decide = (call: Part.ToolCall): Effect.Effect<Approval.Decision> =>
      toolkit.byName.get(call.name)?.needsApproval(call) !== true
        ? Effect.succeed(Approval.approved)
        : options.approvals === undefined
        ? Effect.succeed(Approval.denied("no one could be asked to approve it"))
        : options.approvals.wait(call, notify({ _tag: "ApprovalRequested", step, call }))
    const start = (call: Part.ToolCall): Effect.Effect<void, never, Tool.Requirements<Tools[number]>> => {
      const execute = notify({ _tag: "ToolCallStarted", step, call }).pipe(
        Effect.zipRight(runTool(toolkit, call, (result) => results.set(call.id, result), {
          report: ({ message, progress, total }) =>
            notify({ _tag: "ToolProgress", step, callId: call.id, progress, total, message })
        }))
      )
      // A call waiting for its decision holds no permit, so that the calls behind it can run.
      const run = Effect.flatMap(decide(call), (decision) =>
        decision._tag === "Denied"
          ? Effect.sync(() => {
            const result = Approval.deniedResult(call, decision)
            results.set(call.id, result)
            return result
          })
          : permits === undefined
          ? execute
          : permits.withPermits(1)(execute)).pipe(
          Effect.flatMap((result) => notify({ _tag: "ToolResult", step, result }))
        )
      return Effect.asVoid(Effect.tap(
        Effect.forkIn(run, scope),
        (fiber) => Effect.sync(() => fibers.set(call.id, fiber))
      ))
    }
    const started = new Set<string>()
    return {
      /** Starts the calls not started yet. */
      start: (calls: ReadonlyArray<Part.ToolCall>): Effect.Effect<void, never, Tool.Requirements<Tools[number]>> => {
        const fresh = calls.filter((call) => !started.has(call.id))
        for (const call of fresh) started.add(call.id)
        return fresh.length === 0 ? Effect.void : Effect.forEach(fresh, start, { discard: true })
      },
      /** Waits for every started call; a tool's defect fails it. */
      await: Effect.suspend(() => Effect.forEach(fibers.values(), Fiber.join, { discard: true }))
    }
  })

const loop = <Tools extends ReadonlyArray<Tool.Any>>(
  options: Options<Tools>,
  emit: ((events: ReadonlyArray<TurnEvent>) => Effect.Effect<void>) | undefined
): Effect.Effect<TurnResult, ProviderError, LanguageModel.LanguageModel | Tool.Requirements<Tools[number]>> =>
  Effect.gen(function*() {
    const { conversation } = options
    const toolkit = options.toolkit ?? (Toolkit.empty as unknown as Toolkit.Toolkit<Tools>)
    const maxSteps = options.maxSteps ?? 10
    const model = yield* LanguageModel.LanguageModel
    const notify = (event: TurnEvent) => emit === undefined ? Effect.void : emit([event])
    let phase: Phase = { _tag: "Idle" }
    let usage = Usage.empty
    let stopReason: StopReason = "other"
    let steps = 0
    const input = typeof options.input === "string" ? Message.user(options.input) : options.input
    const start = (yield* SubscriptionRef.get(conversation)).length

    const body = Effect.gen(function*() {
      yield* append(conversation, [input])
      while (steps < maxSteps) {
        const step = ++steps
        yield* notify({ _tag: "StepStart", step })
        const calls = yield* Effect.scoped(Effect.gen(function*() {
          const acc = new Accumulator(model)
          const results = new Map<string, Message.ToolResult>()
          phase = { _tag: "Streaming", acc, results }
          const tools = yield* stepTools(toolkit, step, options, results, notify)
          const messages = yield* SubscriptionRef.get(conversation)
          const ids = new CallIds(messages)
          yield* model.stream({ ...options.request, messages, tools: toolkit.definitions }).pipe(
            Stream.runForEachChunk((batch) => {
              const parts = ids.rename(Chunk.toReadonlyArray(batch))
              acc.addAll(parts)
              let complete: Array<Part.ToolCall> | undefined
              for (let i = 0; i < parts.length; i++) {
                const part = parts[i]
                if (part._tag !== "ToolCallEnd") continue
                const call = acc.toolCall(part.id)
                if (call !== undefined) (complete ??= []).push(call)
              }
              const shown = emit === undefined ? Effect.void : emit(parts.map((part) => ({ _tag: "StreamPart", step, part })))
              // The parts are shown first, so that a call's end comes before its tool's start.
              return complete === undefined ? shown : Effect.zipRight(shown, tools.start(complete))
            })
          )
          const message = acc.message()
          const calls = Message.toolCalls(message)
          // The answer and the phase change land together: a stop in between would lose track of the calls.
          yield* Effect.uninterruptible(Effect.suspend(() => {
            phase = calls.length > 0 ? { _tag: "Tools", calls, results } : { _tag: "Idle" }
            return append(conversation, [message])
          }))
          usage = Usage.add(usage, message.usage)
          stopReason = message.stopReason
          yield* notify({ _tag: "StepEnd", step, message })
          if (calls.length === 0) return calls
          // Calls that no end announced (a stream cut at its finish) start now.
          yield* tools.start(calls)
          yield* tools.await
          yield* Effect.uninterruptible(Effect.suspend(() => {
            phase = { _tag: "Idle" }
            return append(conversation, calls.map((call) => results.get(call.id)!))
          }))
          return calls
        }))
        if (calls.length === 0) break
      }
      const all = yield* SubscriptionRef.get(conversation)
      const result: TurnResult = { messages: all.slice(start), stopReason, steps, usage }
      yield* notify({ _tag: "TurnEnd", result })
      return result
    })

    return yield* body.pipe(
      Effect.onExit((exit) =>
        Exit.isSuccess(exit) ? Effect.void : append(conversation, closing(phase, Exit.isInterrupted(exit)))
      )
    )
  })

/**
 * Runs a turn to its end. Interrupting the fiber stops the model stream and the running tools, and
 * leaves the conversation valid to continue.
 *
 * @example
 * ```ts
 * import { type Message, Turn } from "@reins/core"
 * import { Effect, Fiber, SubscriptionRef } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
 *   const fiber = yield* Effect.fork(Turn.run({ conversation, input: "What time is it in Tokyo?" }))
 *   yield* Effect.sleep("2 seconds")
 *   yield* Fiber.interrupt(fiber) // Stop: the model's connection is closed when this returns
 *   return yield* Turn.run({ conversation, input: "Go on." }) // the same conversation continues
 * })
 * ```
 */
export const run = <Tools extends ReadonlyArray<Tool.Any> = []>(
  options: Options<Tools>
): Effect.Effect<TurnResult, ProviderError, LanguageModel.LanguageModel | Tool.Requirements<Tools[number]>> =>
  loop(options, undefined).pipe(Effect.withSpan("Turn.run"))

/**
 * How many events a turn streams ahead of its consumer. A consumer that stops reading (a UI in the
 * background) holds the turn back there, and with it the model's stream and its socket: the heap
 * does not grow with the length of the answer.
 */
export const streamBuffer = 256

/**
 * The same turn as a stream of events for a UI. Ending the stream early (a closed page, a Stop
 * button) interrupts the turn. At most `streamBuffer` events wait for a slow consumer.
 */
export const stream = <Tools extends ReadonlyArray<Tool.Any> = []>(
  options: Options<Tools>
): Stream.Stream<TurnEvent, ProviderError, LanguageModel.LanguageModel | Tool.Requirements<Tools[number]>> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<TurnEvent, ProviderError>({ capacity: streamBuffer })
      yield* loop(options, (events) => mailbox.offerAll(events)).pipe(
        Mailbox.into(mailbox),
        Effect.withSpan("Turn.stream"),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    })
  )

/** Waits for `signal` to abort; never succeeds. */
const aborted = (signal: AbortSignal): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (signal.aborted) return resume(Effect.void)
    const onAbort = () => resume(Effect.void)
    signal.addEventListener("abort", onAbort, { once: true })
    return Effect.sync(() => signal.removeEventListener("abort", onAbort))
  })

/** What a stop applies to: a turn or any effect, or a turn's stream. */
export type Stoppable = Effect.Effect<any, any, any> | Stream.Stream<any, any, any>

/** Ends `self` once `stop` completes: an effect is interrupted, a stream ends where it is. */
const stopOn = <Self extends Stoppable>(self: Self, stop: Effect.Effect<void>): Self =>
  (Stream.StreamTypeId in self
    ? Stream.interruptWhen(self as Stream.Stream<any, any, any>, stop)
    : Effect.raceFirst(self as Effect.Effect<any, any, any>, Effect.zipRight(stop, Effect.interrupt))) as Self

/**
 * Interrupts a turn (or any effect) when `signal` aborts, or ends a turn's stream there: a Stop
 * button for callers outside Effect. Data-first or in a pipe.
 *
 * @example
 * ```ts
 * import { type ProviderError, Turn } from "@reins/core"
 * import { Effect } from "effect"
 *
 * // A turn with its model provided, run from a page whose Stop button aborts it.
 * const runWithStop = (turn: Effect.Effect<Turn.TurnResult, ProviderError.ProviderError>, stop: HTMLButtonElement) => {
 *   const controller = new AbortController()
 *   stop.onclick = () => controller.abort()
 *   return Effect.runPromiseExit(turn.pipe(Turn.abortable(controller.signal)))
 * }
 * ```
 */
export const abortable: {
  (signal: AbortSignal): <Self extends Stoppable>(self: Self) => Self
  <Self extends Stoppable>(self: Self, signal: AbortSignal): Self
} = Function.dual(2, <Self extends Stoppable>(self: Self, signal: AbortSignal) => stopOn(self, aborted(signal)))

/**
 * Interrupts a turn (or any effect) once `stop` is completed, however it completes, or ends a turn's
 * stream there, as a UI's Stop button might. Data-first or in a pipe.
 *
 * @example
 * ```ts
 * import { type Message, Turn } from "@reins/core"
 * import { Deferred, Effect, Fiber, SubscriptionRef } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const conversation = yield* SubscriptionRef.make<ReadonlyArray<Message.Message>>([])
 *   const stop = yield* Deferred.make<void>()
 *   const fiber = yield* Effect.fork(Turn.run({ conversation, input: "Hi" }).pipe(Turn.stopWhen(stop)))
 *   yield* Deferred.succeed(stop, undefined) // Stop
 *   return yield* Fiber.await(fiber)
 * })
 * ```
 */
export const stopWhen: {
  <X, Y>(stop: Deferred.Deferred<X, Y>): <Self extends Stoppable>(self: Self) => Self
  <Self extends Stoppable, X, Y>(self: Self, stop: Deferred.Deferred<X, Y>): Self
} = Function.dual(
  2,
  <Self extends Stoppable, X, Y>(self: Self, stop: Deferred.Deferred<X, Y>) =>
    stopOn(self, Effect.asVoid(Effect.exit(Deferred.await(stop))))
)
