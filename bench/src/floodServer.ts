/**
 * A provider that streams a long Chat Completions text reply as fast as its socket takes it and
 * no faster: it writes the pre-encoded reply in small pieces and waits for `drain` whenever the
 * socket's buffer is full, as a server honouring backpressure does, and counts the bytes it has
 * handed to the socket. A reader that stops reading therefore holds the server back once the
 * socket buffers (the server's send buffer, the client's receive buffer, and the client's stream
 * buffers) are full; a reader that reads on lets it write everything. Run in a worker thread (see
 * `workerServer`) so that neither its memory nor its work is the client's.
 *
 * Plain `node:http` rather than a ProviderServer: the figure is the bytes written, which the
 * ProviderServer does not report. Each reply closes its connection, so every reply starts with
 * socket buffers of the kernel's initial size, not ones grown by an earlier reply.
 */
import * as http from "node:http"
import type { InWorker, Served } from "./workerServer.js"
import * as Wire from "./wire.js"

/** What the server has done with the latest reply. */
export interface Progress {
  /** Bytes of the reply's body handed to the socket so far. */
  readonly written: number
  /** Of those, bytes still in the server's own socket buffer (not yet taken by the kernel). */
  readonly pending: number
  /** The whole reply's body, in bytes. */
  readonly total: number
  readonly finished: boolean
}

/** What the main thread may ask the flood server. */
export type FloodMethods = {
  readonly progress: (arg?: unknown) => Promise<Progress>
}

/** A flood server running in a worker. */
export type FloodServer = InWorker<FloodMethods>

/** The module to give `WorkerServer.inWorker`, with `{ deltas }` as its options. */
export const module = new URL(import.meta.url)

/** Bytes per write: about a hundred events, so the server stops within a piece of a full buffer. */
const PIECE = 16 * 1024

/** Starts the server in this thread (the worker calls this). */
export const serve = async (options: { readonly deltas: number }): Promise<Served<FloodMethods>> => {
  const body = Buffer.from(Wire.encode(Wire.byId("chat").reply(Wire.text(options.deltas), 6)))
  interface Reply {
    written: number
    finished: boolean
    readonly response: http.ServerResponse | undefined
  }
  let latest: Reply = { written: 0, finished: false, response: undefined }
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (request, response) => {
    request.resume()
    request.on("end", async () => {
      const state: Reply = latest = { written: 0, finished: false, response }
      let closed = false
      response.on("close", () => void (closed = true))
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "close" })
      for (let offset = 0; offset < body.length && !closed; offset += PIECE) {
        const piece = body.subarray(offset, offset + PIECE)
        const room = response.write(piece)
        state.written += piece.length
        if (!room) {
          await new Promise<void>((resolve) => {
            const done = () => {
              response.off("drain", done)
              response.off("close", done)
              resolve()
            }
            response.on("drain", done)
            response.on("close", done)
          })
        }
      }
      if (!closed) response.end()
      state.finished = !closed
    })
  })
  server.on("clientError", (_error, socket) => socket.destroy())
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("the flood server has no TCP address")
  return {
    url: `http://127.0.0.1:${address.port}`,
    methods: {
      progress: async () => ({
        written: latest.written,
        pending: latest.response?.socket?.writableLength ?? 0,
        total: body.length,
        finished: latest.finished
      })
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
