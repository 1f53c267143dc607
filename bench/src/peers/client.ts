/**
 * What every benchmarked client offers, and the little they share. A client starts a streamed
 * reply from a server, hands each text delta to the caller, and stops the way its library
 * documents (an `AbortSignal`, or `Fiber.interrupt` for the Effect libraries); the scenarios are
 * built from that alone. A client that has an agent loop (or whose documentation shows one) also
 * runs a turn.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as fs from "node:fs"
import type { FormatId } from "../wire.js"

/** A stream in flight. */
export interface Running {
  /** Settles when the stream has ended, however it ended. */
  readonly done: Promise<void>
  /** Stops the stream the library's way; returns at once, the connection closes when it closes. */
  readonly stop: () => void
}

/** One library on one wire format. */
export interface Client {
  /** The library and its version (and transport, where there is a choice). */
  readonly name: string
  /** The raw-fetch floor, Reins, or a peer library. */
  readonly kind: "floor" | "reins" | "peer"
  readonly format: FormatId
  /** Starts a streamed reply from the server at `url` (its root) and calls `onText` with each text delta. */
  readonly start: (url: string, onText: (delta: string) => void) => Running
  /** Stops many streams at once; each `stop` in turn when absent. */
  readonly stopAll?: (running: ReadonlyArray<Running>) => void
  /** Runs one agent turn against the server at `url` and resolves with the final answer. */
  readonly turn?: (url: string) => Promise<string>
}

const manifest = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  readonly dependencies: Record<string, string>
}

/** The pinned version of a bench dependency. */
export const version = (name: string): string => manifest.dependencies[name] ?? "?"

/** The prompt every client sends. */
export const prompt = "go"

/** The model name every client asks for (the server does not look at it). */
export const model = "bench"

/** The API key every client sends (the server does not look at it). */
export const apiKey = "sk-bench"

/** `make` called once per distinct arguments: one SDK client or runtime per server, as an application holds one. */
export const memo = <Args extends ReadonlyArray<string>, A>(make: (...args: Args) => A): (...args: Args) => A => {
  const made = new Map<string, A>()
  return (...args) => {
    const key = args.join(" ")
    let value = made.get(key)
    if (value === undefined) made.set(key, value = make(...args))
    return value
  }
}

/** A stream run by a promise-based library, stopped through the `AbortSignal` it was given. */
export const abortable = (consume: (signal: AbortSignal) => Promise<void>): Running => {
  const controller = new AbortController()
  return { done: consume(controller.signal), stop: () => controller.abort() }
}

const fibers = new WeakMap<Running, Fiber.RuntimeFiber<void, unknown>>()
const runtimes = new Set<ManagedRuntime.ManagedRuntime<any, any>>()

/** Remembers a runtime so that `disposeAll` releases it (its connection pool) at the end. */
export const track = <R, E>(runtime: ManagedRuntime.ManagedRuntime<R, E>): ManagedRuntime.ManagedRuntime<R, E> => {
  runtimes.add(runtime)
  return runtime
}

/** Releases every tracked runtime. */
export const disposeAll = async (): Promise<void> => {
  for (const runtime of runtimes) await runtime.dispose()
  runtimes.clear()
}

/** A stream run by an Effect library: forked on `runtime`, stopped with `Fiber.interrupt`. */
export const forked = <R, E>(runtime: ManagedRuntime.ManagedRuntime<R, E>, effect: Effect.Effect<void, unknown, R>): Running => {
  const fiber = runtime.runFork(effect)
  const done = new Promise<void>((resolve, reject) =>
    fiber.addObserver((exit) => Exit.isSuccess(exit) ? resolve() : reject(Cause.squash(exit.cause)))
  )
  const running: Running = { done, stop: () => void Effect.runFork(Fiber.interrupt(fiber)) }
  fibers.set(running, fiber)
  return running
}

/** Stops streams started with `forked` all at once, with `Fiber.interruptAll`. */
export const interruptAll = (running: ReadonlyArray<Running>): void => {
  void Effect.runFork(Fiber.interruptAll(running.map((r) => fibers.get(r)!)))
}
