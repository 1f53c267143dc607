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
import * as Scope from "effect/Scope"
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

/**
 * How long a body whose response is already whole may take to end on its own. Most servers end it
 * within microseconds of the terminal event, and then the connection goes back to the pool; one that
 * lingers past this is closed.
 */
const LINGER_GRACE_MS = 1_000

/**
 * Lets the rest of a whole response's body drain in the background, so that a server that ends it
 * promptly keeps its connection pooled, and closes it if the server lingers. The caller does not wait.
 */
const release = (readable: NodeReadable) => {
  const timer = setTimeout(() => {
    if (!readable.destroyed) destroyQuietly(readable)
  }, LINGER_GRACE_MS)
  ;(timer as { unref?: () => void }).unref?.()
  const settle = () => clearTimeout(timer)
  readable.on("end", settle)
  readable.on("close", settle)
  // With no reader left, an error now (the server resetting) must not surface as an unhandled event.
  readable.on("error", settle)
  readable.resume?.()
}

/** The part of a Node `Readable` the reader uses. */
export interface NodeReadable {
  read(): Uint8Array | null
  destroy(): void
  readonly destroyed: boolean
  readonly readableEnded: boolean
  on(event: string, listener: (...args: Array<any>) => void): unknown
  off(event: string, listener: (...args: Array<any>) => void): unknown
  resume?(): unknown
}

/** The part of a Node writable stream that a decompressor is piped through. */
interface NodeStage extends NodeReadable {
  write(chunk: Uint8Array): boolean
  end(): void
}

/** The Node built-ins the decompressing path needs, looked up at run time so that browsers can import this module. */
const builtin = <A>(name: string): A | undefined =>
  (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.(name) as A | undefined

/**
 * A stage that inflates an HTTP `deflate` body: zlib-wrapped as the RFC says, or raw deflate as some
 * servers send it, told apart by the first two bytes (a zlib header is a multiple of 31 with method 8).
 */
const inflater = (zlib: any, stream: any): NodeStage => {
  let inner: any
  const stage = new stream.Transform({
    transform(chunk: Uint8Array, _encoding: string, done: (error?: Error | null) => void) {
      if (inner === undefined) {
        const zlibWrapped = chunk.length >= 2 && (chunk[0] & 0x0f) === 8 && ((chunk[0] << 8) | chunk[1]) % 31 === 0
        inner = zlibWrapped ? zlib.createInflate(syncFlush(zlib)) : zlib.createInflateRaw(syncFlush(zlib))
        inner.on("data", (piece: Uint8Array) => stage.push(piece))
        inner.on("error", (error: Error) => stage.destroy(error))
      }
      inner.write(chunk, () => done())
    },
    flush(done: (error?: Error | null) => void) {
      if (inner === undefined) return done()
      inner.once("end", () => done())
      inner.end()
    },
    destroy(error: Error | null, done: (error?: Error | null) => void) {
      inner?.destroy()
      done(error)
    }
  })
  return stage
}

/** Flushes at every write, so that a streamed body is decoded as it arrives, not at its end. */
const syncFlush = (zlib: any) => ({ flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH })

/** A decompressing stage for one `content-encoding` token, or `undefined` when Node has none for it. */
const decompressor = (encoding: string): NodeStage | undefined => {
  const zlib = builtin<any>("node:zlib")
  if (zlib === undefined) return undefined
  switch (encoding) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip(syncFlush(zlib))
    case "br":
      return zlib.createBrotliDecompress({
        flush: zlib.constants.BROTLI_OPERATION_FLUSH,
        finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH
      })
    case "zstd":
      return typeof zlib.createZstdDecompress === "function" ? zlib.createZstdDecompress() : undefined
    case "deflate": {
      const stream = builtin<any>("node:stream")
      return stream === undefined ? undefined : inflater(zlib, stream)
    }
    default:
      return undefined
  }
}

/** The `content-encoding` tokens of a response, in the order they were applied; identity left out. */
export const contentEncodings = (header: string | undefined): Array<string> =>
  header === undefined
    ? []
    : header.split(",").map((token) => token.trim().toLowerCase()).filter((token) => token !== "" && token !== "identity")

/**
 * The body decoded as its `content-encoding` says (gzip, br, deflate, zstd where Node has it),
 * through Node's zlib: the fast Node clients hand over the body as it came off the wire. Destroying
 * the result destroys the wire body first, so a stop still closes the socket at once. Names the
 * encoding when Node cannot decode it.
 */
export const decoded = (readable: NodeReadable, header: string | undefined): NodeReadable | { readonly unsupported: string } => {
  const encodings = contentEncodings(header)
  if (encodings.length === 0) return readable
  const stages: Array<NodeStage> = []
  // The last encoding applied is the first to undo.
  for (let i = encodings.length - 1; i >= 0; i--) {
    const stage = decompressor(encodings[i])
    if (stage === undefined) {
      for (const made of stages) made.destroy()
      return { unsupported: encodings[i] }
    }
    stages.push(stage)
  }
  let upstream = readable as NodeReadable & { pipe(to: NodeStage): unknown }
  for (const stage of stages) {
    upstream.pipe(stage)
    upstream = stage as NodeStage & { pipe(to: NodeStage): unknown }
  }
  const last = stages[stages.length - 1]
  const all: ReadonlyArray<NodeReadable> = [readable, ...stages]
  return {
    read: () => last.read(),
    destroy: () => {
      for (const stream of all) if (!stream.destroyed) destroyQuietly(stream)
    },
    // A wire body that ended is destroyed by its stream once read, while the last stage may still
    // hold bytes to give: only one cut short counts.
    get destroyed() {
      return (readable.destroyed && !readable.readableEnded) || last.destroyed
    },
    get readableEnded() {
      return last.readableEnded
    },
    // A broken connection and a corrupt compressed body are both errors of the body.
    on: (event, listener) => {
      if (event === "error") for (const stream of all) stream.on(event, listener)
      else last.on(event, listener)
      return undefined
    },
    off: (event, listener) => {
      if (event === "error") for (const stream of all) stream.off(event, listener)
      else last.off(event, listener)
      return undefined
    },
    resume: () => last.resume?.()
  }
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

/** What `pull` does with a body's bytes, and how long it waits for them. */
export interface PullOptions<A, E> {
  readonly decode: (bytes: Uint8Array, out: Array<A>) => void
  readonly end: (out: Array<A>) => void
  /** Maps an error of the body itself (a reset connection, say) to the stream's error. */
  readonly onBodyError: (cause: unknown) => E
  /** Maps a value thrown by `decode` or `end` to the stream's error. */
  readonly onDecodeError: (thrown: unknown) => E
  /**
   * True once the values decoded so far are the whole response (its terminal event came): the
   * pull then ends without waiting for the body to end, and the connection is released.
   */
  readonly complete?: (() => boolean) | undefined
  /**
   * Called, as the scope closes, when the rest of a whole response's body is left to drain on its
   * own: whatever would abort the request with the scope must then leave it be.
   */
  readonly onRelease?: (() => void) | undefined
  /** Fails with `onIdle()` when the body sends nothing for this long. */
  readonly idleTimeout?: Duration.Duration | undefined
  /** What restarts the idle clock: any bytes read (the default), or only bytes that decoded to values. */
  readonly idleResetBy?: "bytes" | "values" | undefined
  readonly onIdle?: (() => E) | undefined
}

/**
 * A pull over a Node readable's values, bound to the current scope: `decode` turns each piece of
 * bytes into values (pushed onto `out`) and may throw a typed error; `end` runs once when the body
 * ends. Closing the scope destroys the body. Each pull takes every piece the body has buffered, so
 * one pull is one read's worth of values.
 */
export const pull = <A, E>(readable: NodeReadable, options: PullOptions<A, E>): Effect.Effect<Pull.Pull<A, E>, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => pullIn(readable, options, scope))

/** Node runs a timer of more than 2^31 - 1 ms at once: a limit beyond that is no limit. */
const MAX_TIMER_MS = 2_147_483_647

/** `pull`, bound to `scope`. */
export const pullIn = <A, E>(readable: NodeReadable, options: PullOptions<A, E>, scope: Scope.Scope): Effect.Effect<Pull.Pull<A, E>> =>
  Effect.suspend(() => {
    // The idle limit is kept on the wall clock with a plain timer: a fiber per body to watch it
    // would cost every call a fiber, and the most allocation of anything a call sets up.
    let lastActivity = Date.now()
    const valuesOnly = options.idleResetBy === "values"
    const complete = options.complete
    let idled = false
    /** The response was whole before its body ended: what is left of the body is not waited for. */
    let completed = false
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
    // One timer per body rather than one per wait: it fires when the idle limit would be reached
    // since the last bytes seen when it was set, and sets itself again if bytes came meanwhile.
    const limit = options.idleTimeout === undefined || options.onIdle === undefined ? undefined : Duration.toMillis(options.idleTimeout)
    let timer: ReturnType<typeof setTimeout> | undefined
    const watch = (ms: number) => {
      timer = setTimeout(() => {
        timer = undefined
        if (done) return
        const remaining = lastActivity + limit! - Date.now()
        if (remaining > 0) return watch(remaining)
        idled = true
        notify()
      }, ms)
    }
    if (limit !== undefined && Number.isFinite(limit) && limit <= MAX_TIMER_MS) watch(Math.max(0, limit))
    const stopWatching = () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    }
    const waitForBytes = Effect.async<void>((resume) => {
      wake = () => resume(Effect.void)
      // Once its socket is closed, an interrupted reader yields before it unwinds: when many
      // streams are stopped at once, every socket closes before any stream unwinds.
      return Effect.zipRight(Effect.sync(destroy), Effect.yieldNow())
    })
    /** An error met after some values of the same read: those values go first, the error next. */
    let deferred: Option.Option<E> | undefined
    const finish = () => {
      done = true
      stopWatching()
    }
    const next: Pull.Pull<A, E> = Effect.suspend(() => {
      if (deferred !== undefined) return Effect.fail(deferred)
      if (done) return Effect.fail(Option.none())
      if (idled) {
        finish()
        return Effect.fail(Option.some(options.onIdle!()))
      }
      const out: Array<A> = []
      try {
        let bytes: Uint8Array | null
        while ((bytes = readable.read()) !== null) {
          options.decode(bytes, out)
          if (limit !== undefined && (!valuesOnly || out.length > 0)) lastActivity = Date.now()
          if (complete?.() === true) {
            finish()
            completed = true
            options.end(out)
            return out.length > 0 ? Effect.succeed(Chunk.unsafeFromArray(out)) : Effect.fail(Option.none())
          }
        }
        if (out.length > 0) return Effect.succeed(Chunk.unsafeFromArray(out))
        if (failure !== undefined) return Effect.fail(Option.some(options.onBodyError(failure.cause)))
        if (ended || readable.readableEnded) {
          finish()
          options.end(out)
          return out.length > 0 ? Effect.succeed(Chunk.unsafeFromArray(out)) : Effect.fail(Option.none())
        }
        if (readable.destroyed) return Effect.fail(Option.some(options.onBodyError(new Error("the response body was destroyed"))))
      } catch (error) {
        finish()
        const failed = Option.some(options.onDecodeError(error))
        if (out.length === 0) return Effect.fail(failed)
        deferred = failed
        return Effect.succeed(Chunk.unsafeFromArray(out))
      }
      return Effect.zipRight(waitForBytes, next)
    })
    return Effect.as(
      Scope.addFinalizer(
        scope,
        Effect.sync(() => {
          stopWatching()
          readable.off("readable", notify)
          readable.off("end", onEnd)
          readable.off("error", onError)
          if (completed && !ended && !readable.readableEnded && !readable.destroyed) {
            release(readable)
            options.onRelease?.()
          } else destroy()
        })
      ),
      next
    )
  })
