/**
 * Requests to a `ProviderServer` over `node:http` with no agent, read as the bytes on the wire: no
 * decompression, no buffering, each read as it arrives, so a test sees exactly what the server
 * sent and when the body stopped.
 */
import { Sse } from "@reins/core"
import * as http from "node:http"
import * as zlib from "node:zlib"
import { type ProviderServer, Script } from "../src/index.js"

/** Sends a POST with `headers` and `body` to `path` and resolves with the response, its body unread. */
export const post = (
  server: ProviderServer.ProviderServer,
  path: string = "/v1/chat/completions",
  headers: Record<string, string> = {},
  body: string = "{}"
): Promise<http.IncomingMessage> =>
  new Promise((resolve, reject) => {
    const request = http.request(`${server.url}${path}`, { method: "POST", headers, agent: false }, resolve)
    request.on("error", reject)
    request.end(body)
  })

/** How a body ended: all of it read, broken off, or silent for longer than the reader waited. */
export type End = "done" | "error" | "stalled"

/** What a read found: the raw bytes, how many reads brought them, and how the body ended. */
export interface Read {
  readonly bytes: Buffer
  readonly reads: number
  readonly end: End
}

/**
 * Reads `response` until it ends or breaks, until it stays silent for `idleMs` (150 by default:
 * a test that expects the end passes more, so that a loaded machine is not taken for a stall), or
 * until `enough` says so of the bytes so far; the response is left open (destroy it to hang up).
 */
export const read = (
  response: http.IncomingMessage,
  options?: { readonly idleMs?: number; readonly enough?: (bytes: Buffer) => boolean }
): Promise<Read> =>
  new Promise((resolve) => {
    const parts: Array<Buffer> = []
    let timer: ReturnType<typeof setTimeout> | undefined
    let settled = false
    const finish = (end: End): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      response.off("data", onData)
      response.pause()
      resolve({ bytes: Buffer.concat(parts), reads: parts.length, end })
    }
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => finish("stalled"), options?.idleMs ?? 150)
    }
    const onData = (chunk: Buffer): void => {
      parts.push(chunk)
      if (options?.enough?.(Buffer.concat(parts)) === true) finish("stalled")
      else arm()
    }
    response.on("data", onData)
    response.once("end", () => finish("done"))
    response.once("error", () => finish("error"))
    response.once("aborted", () => finish("error"))
    arm()
  })

/** The silence a read that expects the body to end waits through before it calls it a stall. */
export const patient = { idleMs: 2_000 } as const

/** What a compressed body decodes to so far, without its end: each encoding's flush lets it. */
export const decompress = (encoding: Script.Encoding, bytes: Buffer): Buffer => {
  const options = { finishFlush: encoding === "br" ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH }
  return encoding === "br"
    ? zlib.brotliDecompressSync(bytes, options)
    : encoding === "gzip"
    ? zlib.gunzipSync(bytes, options)
    : zlib.inflateSync(bytes, options)
}

/** The data of each complete SSE event in `bytes`. */
export const events = (bytes: Uint8Array): Array<string> =>
  new Sse.SseDecoder({ maxEventSize: 64 * 1024 * 1024 }).feed(bytes).map((event) => event.data)

/** The comments of an SSE body, one per comment line. */
export const comments = (bytes: Uint8Array): Array<string> =>
  Buffer.from(bytes).toString("utf8").split("\n").filter((line) => line.startsWith(":")).map((line) => line.slice(1).trim())

/** The bytes a script writes, pauses left out. */
export const written = (script: Script.Script): Buffer =>
  Buffer.concat(script.steps.flatMap((step) => {
    const bytes = Script.encode(step)
    return bytes === undefined ? [] : [Buffer.from(bytes)]
  }))

/** Whether `text` parses as JSON. */
export const parses = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
