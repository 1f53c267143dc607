/**
 * A provider that answers every request at once with a short text reply in the request's wire
 * format, and reports when each request reached it; run in a worker thread (see `workerServer`),
 * so that the arrival times are not held up by the client's event loop. Only the wire formats are
 * imported here, so the server thread loads no client code.
 *
 * Plain `node:http` rather than a ProviderServer, for its listen backlog: a burst opens all its
 * connections at once, and a backlog shorter than the burst (Node's default is 511) makes the
 * kernel drop SYNs, which the clients resend only after a second. That second would land on
 * whichever client happened to overflow the queue in a given burst.
 */
import * as http from "node:http"
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

/** Connections the kernel queues for the server to accept: more than a burst opens (the kernel caps it at `somaxconn`). */
const BACKLOG = 4096

/** Starts the server in this thread (the worker calls this). */
export const serve = async (): Promise<Served<ReplyMethods>> => {
  const replies = Wire.all.map((format) => ({ format, body: Buffer.from(Wire.encode(format.reply(Wire.shortText, 4))) }))
  const arrivals: Array<number> = []
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
    // The request has reached the server once its headers are parsed.
    arrivals.push(performance.timeOrigin + performance.now())
    const reply = replies.find(({ format }) => request.url?.startsWith(format.path.split("?")[0]))
    request.resume()
    request.on("end", () => {
      if (reply === undefined) return void response.writeHead(404).end()
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
      response.end(reply.body)
    })
  })
  server.on("clientError", (_error, socket) => socket.destroy())
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: BACKLOG }, resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("the reply server has no TCP address")
  return {
    url: `http://127.0.0.1:${address.port}`,
    methods: {
      arrivals: async (since) => arrivals.filter((at) => at >= since).sort((a, b) => a - b)
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
