/**
 * Raw `undici.request` with the same hand-written SSE parser as the fetch floor: the least a Node
 * client does with these bytes, on the HTTP client that Reins' default transport is built on. One
 * `Agent` per server, allowing more connections than any scenario opens at once; stopped with
 * `AbortController.abort()`.
 */
import * as undici from "undici"
import * as Wire from "../wire.js"
import { abortable, apiKey, type Client, memo, version } from "./client.js"
import { body, feed } from "./fetch.js"

/** More connections per origin than any scenario opens at once (undici's default is no limit; this says so). */
const CONNECTIONS = 4096

/** The Agent for the server at `url`: one pool per server, as an application holds one. */
export const agent = memo((_url: string) => new undici.Agent({ connections: CONNECTIONS }))

/** Sends the request of `format` to the server at `url`. */
export const request = (url: string, format: Wire.WireFormat, signal?: AbortSignal) =>
  undici.request(url + format.path, {
    method: "POST",
    dispatcher: agent(url),
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    body,
    signal
  })

/** One client per format. */
export const clients: ReadonlyArray<Client> = Wire.all.map((format) => ({
  name: `raw undici ${version("undici")} + hand-written parser`,
  kind: "floor",
  format: format.id,
  start: (url, onText) =>
    abortable(async (signal) => {
      const response = await request(url, format, signal)
      response.body.setEncoding("utf8")
      let buffer = ""
      for await (const piece of response.body) buffer = feed(buffer + piece, format.textOf, onText)
    })
}))
