// Runs the web chat in a worker thread, so that its event loop is its own, as a deployed server's
// is, and not shared with the browser driver of the test. Worker threads do not inherit the
// TypeScript loader: register it, then load the chat. Requests from the test arrive as
// { id, method, args }; answers go back as { id, result } or { id, error }. Times are wall-clock
// milliseconds (performance.timeOrigin + performance.now()), comparable across threads.
import { register } from "tsx/esm/api"
import { performance } from "node:perf_hooks"
import { parentPort } from "node:worker_threads"

register()
const WebChat = await import("./webchat.ts")
const chat = await WebChat.start()
const wall = (t) => performance.timeOrigin + t

const methods = {
  nextRequest: async () => (await chat.provider.nextRequest()).id,
  connectionClosed: async (requestId) => wall(await chat.provider.connectionClosed(requestId)),
  requestJson: async (index) => chat.provider.requests[index]?.json,
  close: () => chat.close()
}

parentPort.on("message", ({ id, method, args }) => {
  methods[method](...args).then(
    (result) => parentPort.postMessage({ id, result }),
    (error) => parentPort.postMessage({ id, error: String(error) })
  )
})
parentPort.postMessage({ ready: chat.url })
