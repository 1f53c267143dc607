/**
 * A ProviderServer that answers every request with a stream that sends one text delta and then
 * falls silent (in the wire format of the request's path), and reports when connections close.
 * It runs in this thread (`local`) or in a worker thread (`remote`), as a remote provider would:
 * its event loop is then not the client's, so the moment it sees a connection close is not
 * delayed by the client's own work. Times are wall-clock milliseconds with sub-millisecond
 * precision (`performance.timeOrigin + performance.now()`), comparable across threads.
 */
import { ProviderServer, Script } from "@reins/testing"
import { performance } from "node:perf_hooks"
import { isMainThread, parentPort, Worker } from "node:worker_threads"
import * as Wire from "./wire.js"

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

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
export const now = () => performance.timeOrigin + performance.now()

type Methods = Pick<StallServer, "nextRequest" | "closed" | "allClosed">

const serve = async (): Promise<{ readonly url: string; readonly methods: Methods; readonly close: () => Promise<void> }> => {
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

/** The server in this thread. */
export const local = async (): Promise<StallServer> => {
  const { url, methods, close } = await serve()
  return { url, ...methods, close }
}

interface Call {
  readonly id: number
  readonly method: keyof Methods
  readonly arg: number
}
type Reply = { readonly id: number; readonly value: number } | { readonly id: number; readonly error: string }

/** The server in a worker thread; each call is a message to it. */
export const remote = async (): Promise<StallServer> => {
  const worker = new Worker(new URL("./workerEntry.mjs", import.meta.url), {
    execArgv: process.execArgv.filter((flag) => flag !== "--expose-gc")
  })
  const pending = new Map<number, { resolve: (value: number) => void; reject: (error: Error) => void }>()
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
  const call = (method: keyof Methods) => (arg = 0) =>
    new Promise<number>((resolve, reject) => {
      const id = next++
      pending.set(id, { resolve, reject })
      worker.postMessage({ id, method, arg } satisfies Call)
    })
  return {
    url,
    nextRequest: call("nextRequest"),
    closed: call("closed"),
    allClosed: call("allClosed"),
    close: async () => void await worker.terminate()
  }
}

if (!isMainThread && parentPort !== null) {
  process.setSourceMapsEnabled(false) // as in the main thread; see main.ts
  const port = parentPort
  const { url, methods } = await serve()
  port.on("message", ({ id, method, arg }: Call) => {
    methods[method](arg).then(
      (value) => port.postMessage({ id, value } satisfies Reply),
      (error) => port.postMessage({ id, error: String(error) } satisfies Reply)
    )
  })
  port.postMessage({ url })
}
