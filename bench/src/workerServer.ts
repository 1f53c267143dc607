/**
 * A ProviderServer in a worker thread, as a remote provider would be: its event loop is not the
 * client's, so the moment it sees a connection close is not delayed by the client's own work.
 * Every request gets a stalled stream; each close is posted back with a wall-clock timestamp
 * (`performance.timeOrigin + performance.now()`, comparable across threads).
 */
import { ChatCompletions, ProviderServer, Script } from "@reins/testing"
import { performance } from "node:perf_hooks"
import { isMainThread, parentPort, Worker } from "node:worker_threads"

/** A handle on the worker's server. */
export interface RemoteServer {
  readonly url: string
  /** Resolves with the wall-clock time at which the server saw the next connection close. */
  nextClose(): Promise<number>
  close(): Promise<void>
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across threads. */
export const now = () => performance.timeOrigin + performance.now()

/** Starts the worker and waits for its server to listen. */
export const start = async (): Promise<RemoteServer> => {
  const worker = new Worker(new URL("./workerEntry.mjs", import.meta.url), { execArgv: process.execArgv.filter((flag) => flag !== "--expose-gc") })
  const closes: Array<number> = []
  const waiting: Array<(t: number) => void> = []
  const url = await new Promise<string>((resolve, reject) => {
    worker.once("error", reject)
    worker.on("message", (message: { url?: string; closedAt?: number }) => {
      if (message.url !== undefined) resolve(message.url)
      if (message.closedAt !== undefined) {
        const waiter = waiting.shift()
        if (waiter) waiter(message.closedAt)
        else closes.push(message.closedAt)
      }
    })
  })
  return {
    url,
    nextClose: () => {
      const ready = closes.shift()
      return ready !== undefined ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve))
    },
    close: async () => {
      await worker.terminate()
    }
  }
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort
  const server = await ProviderServer.start({
    handler: (request) => {
      void server.connectionClosed(request.id).then((closedAt) => port.postMessage({ closedAt: performance.timeOrigin + closedAt }))
      return { steps: [ChatCompletions.start(), ...ChatCompletions.reasoning("Hmm."), Script.stall()] }
    }
  })
  port.postMessage({ url: server.url })
}
