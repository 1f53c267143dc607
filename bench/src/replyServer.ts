/**
 * A provider that answers every request at once with a short text reply in the request's wire
 * format, and reports when each request reached it; run in a worker thread (see `workerServer`),
 * so that the arrival times are not held up by the client's event loop. Only `@reins/testing` and
 * the wire formats are imported here, so the server thread loads no client code.
 */
import { ProviderServer, Script } from "@reins/testing"
import { performance } from "node:perf_hooks"
import type { InWorker, Served } from "./workerServer.js"
import * as Wire from "./wire.js"

/** What the main thread may ask the reply server. */
export type ReplyMethods = {
  /** The wall-clock times at which requests arrived at or after `since`, in order. */
  readonly arrivals: (since: number) => Promise<ReadonlyArray<number>>
}

/** A reply server running in a worker. */
export type ReplyServer = InWorker<ReplyMethods>

/** The module to give `WorkerServer.inWorker`. */
export const module = new URL(import.meta.url)

/** Starts the server in this thread (the worker calls this). */
export const serve = async (): Promise<Served<ReplyMethods>> => {
  const server = await ProviderServer.start({
    keepAliveTimeout: 60_000,
    handler: (request) => Wire.byPath(request.path)?.reply(Wire.shortText, 4) ?? Script.body(404, { error: "unknown path" })
  })
  return {
    url: server.url,
    methods: {
      arrivals: async (since) => {
        const times: Array<number> = []
        // `receivedAt` is when the request's headers were parsed: the request has reached the server.
        for (const request of server.requests) {
          const at = performance.timeOrigin + request.receivedAt
          if (at >= since) times.push(at)
        }
        return times.sort((a, b) => a - b)
      }
    },
    close: () => server.close()
  }
}
