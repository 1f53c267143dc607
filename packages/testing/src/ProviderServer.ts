/**
 * A real HTTP server on 127.0.0.1 that answers requests with scripted (streaming) responses,
 * stalls and faults, and records when each TCP connection opens and closes, so that tests and
 * benchmarks can see what a client really did to the socket (reused it, closed it on interrupt,
 * left it open...). Built on `node:http` directly for socket-level control; `make` and `layer`
 * tie its lifetime to an Effect scope.
 */
import * as http from "node:http"
import type * as net from "node:net"
import * as zlib from "node:zlib"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Script from "./Script.js"

/** One TCP connection accepted by the server. Times are `performance.now()` values. */
export interface ConnectionRecord {
  readonly id: number
  readonly openedAt: number
  closedAt: number | undefined
  /** How many requests arrived on this connection (more than one: keep-alive reuse). */
  requests: number
}

/** One request and what became of its response. Times are `performance.now()` values. */
export interface RequestRecord {
  readonly id: number
  readonly connectionId: number
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  /** The body parsed as JSON, or `undefined` when it is empty or not JSON. */
  json: unknown
  readonly receivedAt: number
  /** Set when the response completed normally. */
  finishedAt: number | undefined
  /** Set if the connection closed before the script finished. */
  clientClosedAt: number | undefined
}

/** What the server answers to a request: a script, or a function of the request returning one. */
export type Answer = Script.Script | ((request: RequestRecord) => Script.Script)

/** A running scripted provider server. */
export interface ProviderServer {
  /** "http://127.0.0.1:PORT" */
  readonly url: string
  readonly port: number
  /** Queue scripts answered in order by the next requests; when the queue is empty the `handler` option (if any) is used, else 500. */
  enqueue(...scripts: ReadonlyArray<Answer>): void
  /** Every connection accepted so far, in order. */
  readonly connections: ReadonlyArray<ConnectionRecord>
  /** Every request whose body was read so far, in order. */
  readonly requests: ReadonlyArray<RequestRecord>
  /** How many connections are open now. */
  openConnections(): number
  /** Resolves (performance.now() timestamp) when the connection that carried request `requestId` closes (immediately if already closed). */
  connectionClosed(requestId: number): Promise<number>
  /** Resolves with the oldest request not yet returned by `nextRequest`, as soon as its body is read. */
  nextRequest(): Promise<RequestRecord>
  /** Waits until at most `n` connections are open; rejects after `timeoutMs` (5000 by default). */
  waitForOpenConnections(n: number, timeoutMs?: number): Promise<void>
  /** Destroys all sockets and closes the server. */
  close(): Promise<void>
}

/** How the server is set up. */
export interface Options {
  /** Answers requests when the queue is empty (else they get a 500). */
  readonly handler?: (request: RequestRecord) => Script.Script
  /** How long an idle keep-alive connection is kept open, in ms (30 000 by default). */
  readonly keepAliveTimeout?: number
}

/** Write runs are flushed to the socket once they reach this many characters/bytes. */
const HIGH_WATER = 64 * 1024
/** setTimeout cannot wait longer than this; longer waits are treated as "forever". */
const MAX_TIMEOUT = 2_147_483_647

/** Lets a running script be stopped when its connection goes away. */
class Cancellation {
  cancelled = false
  private readonly listeners = new Set<() => void>()

  cancel(): void {
    if (this.cancelled) return
    this.cancelled = true
    for (const listener of this.listeners) listener()
    this.listeners.clear()
  }

  /** Resolves when `ms` have passed or on cancellation, whichever comes first. */
  sleep(ms: number): Promise<void> {
    if (this.cancelled) return Promise.resolve()
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer)
        this.listeners.delete(done)
        resolve()
      }
      this.listeners.add(done)
      if (Number.isFinite(ms) && ms <= MAX_TIMEOUT) timer = setTimeout(done, Math.max(0, ms))
    })
  }

  /** Writes `data` and resolves once it is handed to the OS, or on cancellation. */
  written(res: http.ServerResponse, data: string | Uint8Array): Promise<void> {
    if (this.cancelled) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.listeners.delete(done)
        resolve()
      }
      this.listeners.add(done)
      res.write(data, done)
    })
  }

  /** Resolves when `start` calls back or on cancellation, whichever comes first. */
  wait(start: (done: () => void) => void): Promise<void> {
    if (this.cancelled) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.listeners.delete(done)
        resolve()
      }
      this.listeners.add(done)
      start(done)
    })
  }

  /** Runs `f` on cancellation (at once if already cancelled). */
  onCancel(f: () => void): void {
    if (this.cancelled) f()
    else this.listeners.add(f)
  }

  /** Resolves when `emitter` emits `name` or on cancellation. */
  once(emitter: NodeJS.EventEmitter, name: string): Promise<void> {
    if (this.cancelled) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = (): void => {
        emitter.removeListener(name, done)
        this.listeners.delete(done)
        resolve()
      }
      this.listeners.add(done)
      emitter.once(name, done)
    })
  }
}

const noop = (): void => {}

/** Where a response's body goes: straight to the socket, or through a compressor first. */
interface Body {
  /** Writes a run of bytes; resolves once more may be written. */
  write(data: string | Buffer): Promise<void>
  /**
   * Writes `data` (if any) and pushes out everything written so far, as at a pause; with `settle`,
   * resolves once all of it is handed to the OS.
   */
  flush(data: string | Buffer | undefined, settle: boolean): Promise<void>
  /** Ends the response, with `data` as its last bytes. */
  end(data: string | Buffer | undefined): void
}

const plainBody = (res: http.ServerResponse, cancellation: Cancellation): Body => {
  const write = async (data: string | Buffer): Promise<void> => {
    if (!res.write(data)) await cancellation.once(res, "drain")
  }
  return {
    write,
    flush: async (data, settle) => {
      if (data === undefined) return
      if (settle) await cancellation.written(res, data)
      else await write(data)
    },
    end: (data) => (data === undefined ? res.end() : res.end(data))
  }
}

/**
 * A body compressed with `encoding`. Every flush is a zlib sync flush (brotli's flush operation):
 * the bytes so far become decodable at the client without ending the stream.
 */
const compressedBody = (encoding: Script.Encoding, res: http.ServerResponse, cancellation: Cancellation): Body => {
  const compressor: zlib.Gzip | zlib.Deflate | zlib.BrotliCompress = encoding === "br"
    // a middling quality, as servers compressing on the fly use; the top one costs a lot per flush
    ? zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } })
    : encoding === "gzip"
    ? zlib.createGzip()
    : zlib.createDeflate()
  const kind = encoding === "br" ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH
  // compressed bytes handed to `res` but not yet to the OS, and who waits for them
  let unwritten = 0
  const waiting = new Set<() => void>()
  let paused = false
  compressor.on("error", noop)
  compressor.on("data", (chunk: Buffer) => {
    unwritten++
    const more = res.write(chunk, () => {
      if (--unwritten > 0) return
      for (const done of waiting) done()
      waiting.clear()
    })
    if (!more && !paused) {
      paused = true
      compressor.pause()
      res.once("drain", () => {
        paused = false
        compressor.resume()
      })
    }
  })
  compressor.once("end", () => res.end())
  cancellation.onCancel(() => compressor.destroy())
  let dirty = false
  const write = async (data: string | Buffer): Promise<void> => {
    dirty = true
    if (!compressor.write(data)) await cancellation.once(compressor, "drain")
  }
  return {
    write,
    flush: async (data, settle) => {
      if (data !== undefined) await write(data)
      if (dirty) {
        dirty = false
        await cancellation.wait((done) => compressor.flush(kind, done))
      }
      if (settle) {
        // the flushed bytes reach `res` in data events of their own
        await new Promise<void>((resolve) => setImmediate(resolve))
        if (unwritten > 0) await cancellation.wait((done) => waiting.add(done))
      }
    },
    end: (data) => (data === undefined ? compressor.end() : compressor.end(data))
  }
}

const errorScript = (status: number, message: string): Script.Script =>
  Script.body(status, { error: { message, type: "reins_testing_error", param: null, code: null } })

/** Starts a server on 127.0.0.1 at an ephemeral port. */
export const start = (options?: Options): Promise<ProviderServer> => {
  const keepAliveTimeout = options?.keepAliveTimeout ?? 30_000
  const server = http.createServer({ requestTimeout: 0, headersTimeout: 0, keepAliveTimeout, noDelay: true })
  server.requestTimeout = 0
  server.headersTimeout = 0
  server.keepAliveTimeout = keepAliveTimeout
  server.timeout = 0

  const connections: Array<ConnectionRecord> = []
  const requests: Array<RequestRecord> = []
  const queue: Array<Answer> = []
  const sockets = new Map<net.Socket, ConnectionRecord>()
  const connectionListeners = new Set<() => void>()
  const requestWaiters: Array<{ resolve: (r: RequestRecord) => void; reject: (e: Error) => void }> = []
  let nextRequestIndex = 0
  let nextConnectionId = 1
  let nextRequestId = 1
  let closing: Promise<void> | undefined

  const notifyConnections = (): void => {
    for (const listener of Array.from(connectionListeners)) listener()
  }

  server.on("connection", (socket: net.Socket) => {
    socket.setNoDelay(true)
    socket.on("error", noop)
    const record: ConnectionRecord = { id: nextConnectionId++, openedAt: performance.now(), closedAt: undefined, requests: 0 }
    connections.push(record)
    sockets.set(socket, record)
    socket.once("close", () => {
      record.closedAt = performance.now()
      sockets.delete(socket)
      notifyConnections()
    })
    if (closing !== undefined) socket.destroy()
  })
  server.on("clientError", (_error, socket) => {
    socket.destroy()
  })
  server.on("error", noop)

  const deliverRequest = (record: RequestRecord): void => {
    requests.push(record)
    const waiter = requestWaiters.shift()
    if (waiter !== undefined) {
      nextRequestIndex++
      waiter.resolve(record)
    }
  }

  const pickScript = (record: RequestRecord): Script.Script => {
    try {
      const answer = queue.shift()
      if (answer !== undefined) return typeof answer === "function" ? answer(record) : answer
      if (options?.handler !== undefined) return options.handler(record)
      return errorScript(500, `ProviderServer: no script for request ${record.id} (${record.method} ${record.path})`)
    } catch (error) {
      return errorScript(500, `ProviderServer: script function failed: ${String(error)}`)
    }
  }

  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket
    const connection = sockets.get(socket)
    if (connection !== undefined) connection.requests++
    const id = nextRequestId++
    const receivedAt = performance.now()
    req.on("error", noop)
    res.on("error", noop)
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      let json: unknown = undefined
      if (body !== "") {
        try {
          json = JSON.parse(body)
        } catch {
          json = undefined
        }
      }
      const record: RequestRecord = {
        id,
        connectionId: connection?.id ?? 0,
        method: req.method ?? "GET",
        path: req.url ?? "/",
        headers: { ...req.headers },
        body,
        json,
        receivedAt,
        finishedAt: undefined,
        clientClosedAt: undefined
      }
      deliverRequest(record)
      runScript(pickScript(record), record, res, socket).catch(() => {
        socket.destroy()
      })
    })
  })

  const runScript = async (
    given: Script.Script,
    record: RequestRecord,
    res: http.ServerResponse,
    socket: net.Socket
  ): Promise<void> => {
    const script = given.echoKey === true ? Script.withKey(given, Script.keyOf(record.headers, record.path) ?? "") : given
    const cancellation = new Cancellation()
    let settled = false // the script finished (normally or by a deliberate fault)
    const onClose = (): void => {
      if (!settled) {
        settled = true
        record.clientClosedAt = performance.now()
      }
      cancellation.cancel()
    }
    if (socket.destroyed) return onClose()
    socket.once("close", onClose)
    res.once("finish", () => {
      if (!settled) {
        settled = true
        record.finishedAt = performance.now()
      }
      socket.removeListener("close", onClose)
    })
    const fault = (): void => {
      settled = true
      socket.removeListener("close", onClose)
      socket.destroy()
    }

    if (script.headersDelay !== undefined && script.headersDelay > 0) {
      await cancellation.sleep(script.headersDelay)
      if (cancellation.cancelled) return
    }
    if (script.hangUp === true) return fault()

    const headers: Record<string, string> = {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-request-id": `req_${record.id}`
    }
    for (const [name, value] of Object.entries(script.headers ?? {})) headers[name.toLowerCase()] = value
    if (script.encoding !== undefined) {
      // the length of the compressed body is not known before it is written
      delete headers["content-length"]
      headers["content-encoding"] = script.encoding
    }
    res.writeHead(script.status ?? 200, headers)
    res.flushHeaders()
    const body = script.encoding === undefined ? plainBody(res, cancellation) : compressedBody(script.encoding, res, cancellation)

    let parts: Array<string | Uint8Array> = []
    let size = 0
    let binary = false
    /** Takes the pending run as one string or buffer, or `undefined` when nothing is pending. */
    const take = (): string | Buffer | undefined => {
      if (parts.length === 0) return undefined
      const data: string | Buffer = binary
        ? Buffer.concat(parts.map((part) => (typeof part === "string" ? Buffer.from(part) : part)))
        : parts.length === 1
        ? (parts[0] as string)
        : parts.join("")
      parts = []
      size = 0
      binary = false
      return data
    }
    /** Writes the pending run and pushes it out, as at a pause; with `settle`, until handed to the OS. */
    const flush = async (settle: boolean): Promise<void> => {
      if (cancellation.cancelled) return
      await body.flush(take(), settle)
    }
    /** Keeps the response open until the client goes away, with a keep-alive comment every `pingEvery` ms. */
    const linger = async (how: Script.Linger): Promise<void> => {
      await flush(false)
      const every = typeof how === "object" ? how.pingEvery : 0
      if (!(every > 0)) return cancellation.sleep(Infinity)
      const ping = Script.encodeComment({ _tag: "Comment", text: "keep-alive" })
      while (!cancellation.cancelled) {
        await cancellation.sleep(every)
        if (cancellation.cancelled) return
        await body.flush(ping, false)
      }
    }
    /** Ends the response, with the pending run as its last bytes (one write, not two), or lingers. */
    const finish = async (): Promise<void> => {
      if (cancellation.cancelled) return
      if (script.linger !== undefined && script.linger !== false) return linger(script.linger)
      body.end(take())
    }

    for (const step of script.steps) {
      if (cancellation.cancelled) return
      switch (step._tag) {
        case "Event":
        case "Comment":
        case "Raw": {
          const bytes = Script.encode(step)
          if (bytes === undefined || bytes.length === 0) break
          parts.push(bytes)
          size += bytes.length
          if (typeof bytes !== "string") binary = true
          if (size >= HIGH_WATER) {
            const data = take()
            if (data !== undefined) await body.write(data)
          }
          break
        }
        case "Delay":
        case "Stall": {
          await flush(false)
          if (cancellation.cancelled) return
          await cancellation.sleep(step.ms)
          break
        }
        case "Drop": {
          await flush(true)
          if (cancellation.cancelled) return
          return fault()
        }
        case "End":
          return finish()
      }
    }
    return finish()
  }

  const openConnections = (): number => sockets.size

  const connectionClosed = (requestId: number): Promise<number> => {
    const request = requests.find((r) => r.id === requestId)
    if (request === undefined) return Promise.reject(new Error(`ProviderServer: no request ${requestId}`))
    const connection = connections.find((c) => c.id === request.connectionId)
    if (connection === undefined) return Promise.reject(new Error(`ProviderServer: no connection for request ${requestId}`))
    if (connection.closedAt !== undefined) return Promise.resolve(connection.closedAt)
    return new Promise<number>((resolve) => {
      const listener = (): void => {
        if (connection.closedAt !== undefined) {
          connectionListeners.delete(listener)
          resolve(connection.closedAt)
        }
      }
      connectionListeners.add(listener)
    })
  }

  const nextRequest = (): Promise<RequestRecord> => {
    if (nextRequestIndex < requests.length) return Promise.resolve(requests[nextRequestIndex++]!)
    if (closing !== undefined) return Promise.reject(new Error("ProviderServer: closed"))
    return new Promise<RequestRecord>((resolve, reject) => {
      requestWaiters.push({ resolve, reject })
    })
  }

  const waitForOpenConnections = (n: number, timeoutMs: number = 5_000): Promise<void> => {
    if (sockets.size <= n) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const listener = (): void => {
        if (sockets.size <= n) {
          clearTimeout(timer)
          connectionListeners.delete(listener)
          resolve()
        }
      }
      const timer = setTimeout(() => {
        connectionListeners.delete(listener)
        reject(new Error(`ProviderServer: ${sockets.size} connections still open after ${timeoutMs} ms (wanted at most ${n})`))
      }, timeoutMs)
      connectionListeners.add(listener)
    })
  }

  const close = (): Promise<void> => {
    if (closing !== undefined) return closing
    const serverClosed = new Promise<void>((resolve) => {
      server.close(() => resolve())
    })
    for (const socket of sockets.keys()) socket.destroy()
    for (const waiter of requestWaiters.splice(0)) waiter.reject(new Error("ProviderServer: closed"))
    // the server reports itself closed a tick before its sockets emit "close": wait for both
    closing = Promise.all([serverClosed, waitForOpenConnections(0, 10_000).catch(noop)]).then(noop)
    return closing
  }

  return new Promise<ProviderServer>((resolve, reject) => {
    const onError = (error: Error): void => reject(error)
    server.once("error", onError)
    server.listen(0, "127.0.0.1", () => {
      server.removeListener("error", onError)
      const address = server.address()
      if (address === null || typeof address === "string") {
        server.close()
        return reject(new Error("ProviderServer: no TCP address"))
      }
      const port = address.port
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        enqueue: (...scripts) => {
          queue.push(...scripts)
        },
        get connections() {
          return connections
        },
        get requests() {
          return requests
        },
        openConnections,
        connectionClosed,
        nextRequest,
        waitForOpenConnections,
        close
      })
    })
  })
}

/**
 * Starts a server in the current scope and closes it when the scope closes.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { LanguageModel, Message } from "@reins/core"
 * import { OpenAiChat } from "@reins/openai"
 * import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
 * import { Effect, Fiber, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* ProviderServer.make()
 *   // The model starts to answer, then falls silent.
 *   server.enqueue(Script.make([ChatCompletions.start(), ...ChatCompletions.text("Let me think"), Script.stall()]))
 *   const fiber = yield* LanguageModel.stream({ messages: [Message.user("Hi")] }).pipe(
 *     Stream.runDrain,
 *     Effect.provide(OpenAiChat.layer({ model: "test", baseUrl: `${server.url}/v1` })),
 *     Effect.fork
 *   )
 *   const request = yield* Effect.promise(() => server.nextRequest())
 *   yield* Fiber.interrupt(fiber)
 *   // The server saw the client close the connection.
 *   yield* Effect.promise(() => server.connectionClosed(request.id))
 * }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))
 *
 * Effect.runPromise(program)
 * ```
 */
export const make = (options?: Options): Effect.Effect<ProviderServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (server) => Effect.promise(() => server.close())
  )

/** The service tag for a scoped `ProviderServer`. */
export class Tag extends Context.Tag("@reins/testing/ProviderServer")<Tag, ProviderServer>() {}

/** A layer providing a `ProviderServer` for the layer's lifetime. */
export const layer = (options?: Options): Layer.Layer<Tag> => Layer.scoped(Tag, make(options))
