/**
 * Reads the Node stream behind a response body with a pull whose only wait is an `Effect.async`
 * whose canceler destroys the body. Interrupting the reading fiber runs that canceler before any
 * other finalizer, and destroying an undici or node:http body aborts its request and closes the
 * socket synchronously: the connection is gone before the stream machinery starts to unwind.
 *
 * The stock `response.stream` reaches the same end, but only after the whole channel has unwound,
 * about twice as late, with a third more allocation on every interrupt (see bench/README.md).
 */
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Pull from "./Pull.js"

/**
 * Destroys a body on purpose. The transport makes errors for it that nobody reads (undici makes
 * three: "request aborted" twice and "aborted"), and Node formats their stacks at once; taking no
 * stack frames saves about 0.05 ms of every stop.
 */
const destroyQuietly = (readable: NodeReadable) => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    readable.destroy()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** The part of a Node `Readable` the reader uses. */
export interface NodeReadable {
  read(): Uint8Array | null
  destroy(): void
  readonly destroyed: boolean
  readonly readableEnded: boolean
  on(event: string, listener: (...args: Array<any>) => void): unknown
  off(event: string, listener: (...args: Array<any>) => void): unknown
}

const isReadable = (u: any): u is NodeReadable =>
  u != null && typeof u.read === "function" && typeof u.destroy === "function" && typeof u.on === "function"

/**
 * The Node stream behind a response of `@effect/platform-node`'s clients (undici: `source.body`;
 * node:http: `source`), when there is one. Other clients (fetch, browsers) have none.
 */
export const nodeReadable = (response: HttpClientResponse.HttpClientResponse): NodeReadable | undefined => {
  const source = (response as { readonly source?: any }).source
  if (isReadable(source?.body)) return source.body
  return isReadable(source) ? source : undefined
}

/**
 * A pull over a Node readable's values, bound to the current scope: `decode` turns each piece of
 * bytes into values (pushed onto `out`) and may throw a typed error; `end` runs once when the body
 * ends. Closing the scope destroys the body. Each pull takes every piece the body has buffered, so
 * one pull is one read's worth of values.
 */
export const pull = <A, E>(
  readable: NodeReadable,
  options: {
    readonly decode: (bytes: Uint8Array, out: Array<A>) => void
    readonly end: (out: Array<A>) => void
    /** Maps an error of the body itself (a reset connection, say) to the stream's error. */
    readonly onBodyError: (cause: unknown) => E
    /** Maps a value thrown by `decode` or `end` to the stream's error. */
    readonly onDecodeError: (thrown: unknown) => E
    /** Fails with `onIdle()` when the body sends nothing for this long. */
    readonly idleTimeout?: Duration.Duration | undefined
    /** What restarts the idle clock: any bytes read (the default), or only bytes that decoded to values. */
    readonly idleResetBy?: "bytes" | "values" | undefined
    readonly onIdle?: (() => E) | undefined
  }
): Effect.Effect<Pull.Pull<A, E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    let lastActivity = clock.unsafeCurrentTimeMillis()
    const valuesOnly = options.idleResetBy === "values"
    let idled = false
    let ended = false
    let done = false
    let failure: { readonly cause: unknown } | undefined
    let wake: (() => void) | undefined
    const notify = () => {
      const resume = wake
      wake = undefined
      resume?.()
    }
    const onEnd = () => {
      ended = true
      notify()
    }
    const onError = (cause: unknown) => {
      failure ??= { cause }
      notify()
    }
    readable.on("readable", notify)
    readable.on("end", onEnd)
    readable.on("error", onError)
    const destroy = () => {
      if (!readable.destroyed) destroyQuietly(readable)
    }
    const waitForBytes = Effect.async<void>((resume) => {
      wake = () => resume(Effect.void)
      // Once its socket is closed, an interrupted reader yields before it unwinds: when many
      // streams are stopped at once, every socket closes before any stream unwinds.
      return Effect.zipRight(Effect.sync(destroy), Effect.yieldNow())
    })
    /** An error met after some values of the same read: those values go first, the error next. */
    let deferred: Option.Option<E> | undefined
    const next: Pull.Pull<A, E> = Effect.suspend(() => {
      if (deferred !== undefined) return Effect.fail(deferred)
      if (done) return Effect.fail(Option.none())
      if (idled) {
        done = true
        return Effect.fail(Option.some(options.onIdle!()))
      }
      const out: Array<A> = []
      try {
        let bytes: Uint8Array | null
        while ((bytes = readable.read()) !== null) {
          options.decode(bytes, out)
          if (!valuesOnly || out.length > 0) lastActivity = clock.unsafeCurrentTimeMillis()
        }
        if (out.length > 0) return Effect.succeed(Chunk.unsafeFromArray(out))
        if (failure !== undefined) return Effect.fail(Option.some(options.onBodyError(failure.cause)))
        if (ended || readable.readableEnded) {
          done = true
          options.end(out)
          return out.length > 0 ? Effect.succeed(Chunk.unsafeFromArray(out)) : Effect.fail(Option.none())
        }
        if (readable.destroyed) return Effect.fail(Option.some(options.onBodyError(new Error("the response body was destroyed"))))
      } catch (error) {
        done = true
        const failed = Option.some(options.onDecodeError(error))
        if (out.length === 0) return Effect.fail(failed)
        deferred = failed
        return Effect.succeed(Chunk.unsafeFromArray(out))
      }
      return Effect.zipRight(waitForBytes, next)
    })
    // One watchdog per body rather than a timer per wait: it sleeps until the idle limit would be
    // reached since the last bytes, and wakes the reader only when it is.
    const idle = options.idleTimeout
    if (idle !== undefined && options.onIdle !== undefined) {
      const limit = Duration.toMillis(idle)
      yield* Effect.gen(function*() {
        while (!done) {
          const remaining = lastActivity + limit - clock.unsafeCurrentTimeMillis()
          if (remaining <= 0) {
            idled = true
            return notify()
          }
          yield* Effect.sleep(remaining)
        }
      }).pipe(Effect.forkScoped)
    }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        readable.off("readable", notify)
        readable.off("end", onEnd)
        readable.off("error", onError)
        destroy()
      })
    )
    return next
  })
