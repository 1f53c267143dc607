/**
 * Servers that run in a worker thread, as a remote provider would: their event loop is then not
 * the client's, so what they see (a connection closing, a request arriving, bytes written) is not
 * delayed by the client's own work, and their memory is not in the client's heap. Times are
 * wall-clock milliseconds with sub-millisecond precision (`performance.timeOrigin +
 * performance.now()`), comparable across threads.
 *
 * The stall server is defined here: it answers every request with a stream that sends one text
 * delta and then falls silent (in the wire format of the request's path), and reports when
 * connections close; it can also run in this thread (`local`). Other servers are modules that
 * export `serve` (see `Served`) and run with `inWorker`.
 */
import { ProviderServer, Script } from "@reins/testing"
import { performance } from "node:perf_hooks"
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import * as Wire from "./wire.js"

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
export const now = () => performance.timeOrigin + performance.now()

/** What the main thread may ask a server in a worker: methods of one cloneable argument. */
export type Methods = { readonly [name: string]: (arg: any) => Promise<any> }

/** A server started by a module's `serve`, in whatever thread loaded it. */
export interface Served<M extends Methods> {
  readonly url: string
  readonly methods: M
  readonly close: () => Promise<void>
}

/** A server in a worker thread; each method call is a message to it. */
export interface InWorker<M extends Methods> {
  readonly url: string
  readonly call: M
  close(): Promise<void>
}

/** A handle on a stalling server. */
export interface StallServer {
  readonly url: string
  /** The id of the next request to arrive. */
  nextRequest(): Promise<number>
  /** When the server saw the connection of request `id` close. */
  closed(id: number): Promise<number>
  /** Once every connection that carried a request has closed (failing after `timeoutMs`), when the last one did. */
  allClosed(timeoutMs: number): Promise<number>
  close(): Promise<void>
}

type StallMethods = {
  readonly nextRequest: (arg?: unknown) => Promise<number>
  readonly closed: (id: number) => Promise<number>
  readonly allClosed: (timeoutMs: number) => Promise<number>
}

const serveStalls = async (): Promise<Served<StallMethods>> => {
  const server = await ProviderServer.start({
    handler: (request) => Wire.byPath(request.path)?.stalled() ?? Script.body(404, { error: "unknown path" })
  })
  const wall = (t: number) => performance.timeOrigin + t
  return {
    url: server.url,
    methods: {
      nextRequest: async () => (await server.nextRequest()).id,
      closed: async (id) => wall(await server.connectionClosed(id)),
      // Only connections that carried a request count: undici opens a spare connection after
      // each aborted request and drops it unused, which is no stream to wait for.
      allClosed: (timeoutMs) =>
        new Promise((resolve, reject) => {
          const deadline = performance.now() + timeoutMs
          const check = () => {
            let open = 0
            let last = 0
            for (const connection of server.connections) {
              if (connection.requests === 0) continue
              if (connection.closedAt === undefined) open++
              else last = Math.max(last, connection.closedAt)
            }
            if (open === 0) resolve(wall(last))
            else if (performance.now() > deadline) reject(new Error(`${open} connections still open after ${timeoutMs} ms`))
            else setTimeout(check, 1)
          }
          check()
        })
    },
    close: () => server.close()
  }
}

const stallServer = (url: string, methods: StallMethods, close: () => Promise<void>): StallServer => ({
  url,
  nextRequest: () => methods.nextRequest(),
  closed: (id) => methods.closed(id),
  allClosed: (timeoutMs) => methods.allClosed(timeoutMs),
  close
})

/** The stall server in this thread. */
export const local = async (): Promise<StallServer> => {
  const { url, methods, close } = await serveStalls()
  return stallServer(url, methods, close)
}

/** The stall server in a worker thread. */
export const remote = async (): Promise<StallServer> => {
  const server = await spawn<StallMethods>(undefined, undefined)
  return stallServer(server.url, server.call, () => server.close())
}

/**
 * The server that `module`'s `serve(options)` starts, in a worker thread. `options` must survive
 * structured cloning.
 */
export const inWorker = <M extends Methods>(module: URL, options?: unknown): Promise<InWorker<M>> => spawn<M>(module.href, options)

interface Call {
  readonly id: number
  readonly method: string
  readonly arg: unknown
}
type Reply = { readonly id: number; readonly value: unknown } | { readonly id: number; readonly error: string }

const spawn = async <M extends Methods>(module: string | undefined, options: unknown): Promise<InWorker<M>> => {
  const worker = new Worker(new URL("./workerEntry.mjs", import.meta.url), {
    // Flags a worker may not take: the collector and the heap's young generation are the process's.
    execArgv: process.execArgv.filter((flag) => flag !== "--expose-gc" && !flag.includes("semi-space")),
    workerData: { module, options }
  })
  const pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>()
  let next = 0
  const url = await new Promise<string>((resolve, reject) => {
    worker.once("error", reject)
    worker.on("message", (message: { readonly url: string } | Reply) => {
      if ("url" in message) return resolve(message.url)
      const call = pending.get(message.id)!
      pending.delete(message.id)
      if ("error" in message) call.reject(new Error(message.error))
      else call.resolve(message.value)
    })
  })
  const call = new Proxy({}, {
    get: (_, method: string) => (arg?: unknown) =>
      new Promise((resolve, reject) => {
        const id = next++
        pending.set(id, { resolve, reject })
        worker.postMessage({ id, method, arg } satisfies Call)
      })
  }) as M
  return { url, call, close: async () => void await worker.terminate() }
}

if (!isMainThread && parentPort !== null) {
  process.setSourceMapsEnabled(false) // as in the main thread; see main.ts
  const port = parentPort
  const { module, options } = (workerData ?? {}) as { readonly module?: string; readonly options?: unknown }
  const { url, methods }: Served<Methods> = module === undefined ? await serveStalls() : await (await import(module)).serve(options)
  port.on("message", ({ id, method, arg }: Call) => {
    methods[method](arg).then(
      (value) => port.postMessage({ id, value } satisfies Reply),
      (error) => port.postMessage({ id, error: String(error) } satisfies Reply)
    )
  })
  port.postMessage({ url })
}
