/**
 * The floor: Node's global `fetch` with a small hand-written SSE parser, the least work a client
 * can do with these bytes, stopped with `AbortController.abort()`.
 */
import * as Wire from "../wire.js"
import { abortable, apiKey, type Client, model, prompt } from "./client.js"

/** The request body every hand-written client sends. */
export const body = JSON.stringify({ model, messages: [{ role: "user", content: prompt }], stream: true })

/**
 * Hands the text of each whole SSE `data:` event in `buffer` to `onText`, and returns what is left
 * of `buffer` after the last whole event.
 */
export const feed = (buffer: string, textOf: (json: any) => string | undefined, onText: (delta: string) => void): string => {
  let end: number
  while ((end = buffer.indexOf("\n\n")) !== -1) {
    const event = buffer.slice(0, end)
    buffer = buffer.slice(end + 2)
    const start = event.startsWith("data: ") ? 0 : event.indexOf("\ndata: ") + 1
    if (start === 0 && !event.startsWith("data: ")) continue
    const data = event.slice(start + 6)
    if (data === "[DONE]") continue
    const text = textOf(JSON.parse(data))
    if (text) onText(text)
  }
  return buffer
}

/** Reads SSE `data:` events from `response`, handing the text of each to `onText`. */
const read = async (response: Response, textOf: (json: any) => string | undefined, onText: (delta: string) => void) => {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    buffer = feed(buffer + value, textOf, onText)
  }
}

/** One client per format. */
export const clients: ReadonlyArray<Client> = Wire.all.map((format) => ({
  name: "raw fetch + hand-written parser",
  kind: "floor",
  format: format.id,
  start: (url, onText) =>
    abortable(async (signal) => {
      const response = await fetch(url + format.path, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
        body,
        signal
      })
      await read(response, format.textOf, onText)
    })
}))
