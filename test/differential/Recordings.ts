/**
 * Every recorded provider stream under ../shared/fixtures/recorded, as the cases of the differential
 * suite: each is a wire format, the exact bytes to serve (as the README beside the recordings says to
 * replay them) and the same stream as a list of SSE events, which the mutations rewrite.
 */
import { Script } from "@reins/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import { recordedDir } from "../recorded.js"

/** The four wire formats; Chat Completions covers the OpenAI-compatible servers too. */
export type Format = "chat" | "responses" | "anthropic" | "gemini"

/** One SSE event as sent: its `event:` name, if any, and its data. */
export interface WireEvent {
  readonly event?: string | undefined
  readonly data: string
}

/** One stream to serve. */
export interface Recording {
  /** The file it came from, with the part of the file when the file holds several streams. */
  readonly name: string
  /** The recording's file, relative to the recordings folder. */
  readonly file: string
  readonly format: Format
  /** The bytes served when the stream is replayed unchanged. */
  readonly body: Uint8Array
  /** The same stream as events. */
  readonly events: ReadonlyArray<WireEvent>
}

const lineEnd = /\r\n|\r|\n/

/** The events of a raw SSE body: blank lines end events, `:` lines are comments. */
export const parseSse = (body: string): Array<WireEvent> => {
  const events: Array<WireEvent> = []
  let name: string | undefined
  let data: Array<string> = []
  for (const line of body.split(lineEnd)) {
    if (line === "") {
      if (data.length > 0) events.push(name === undefined ? { data: data.join("\n") } : { event: name, data: data.join("\n") })
      name = undefined
      data = []
      continue
    }
    if (line.startsWith(":")) continue
    const colon = line.indexOf(":")
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
    if (field === "event") name = value
    else if (field === "data") data.push(value)
  }
  if (data.length > 0) events.push(name === undefined ? { data: data.join("\n") } : { event: name, data: data.join("\n") })
  return events
}

/** How events are written: the line end (the SSE spec allows LF, CRLF and CR), and whether a space follows each colon. */
export interface Framing {
  readonly eol?: string
  readonly space?: boolean
}

/** The text of `events` (and comments) as SSE. */
export const encodeEvents = (
  events: ReadonlyArray<WireEvent | { readonly comment: string }>,
  { eol = "\n", space = true }: Framing = {}
): string => {
  const gap = space ? " " : ""
  let out = ""
  for (const event of events) {
    if ("comment" in event) {
      out += `:${gap}${event.comment}${eol}${eol}`
      continue
    }
    if (event.event !== undefined) out += `event:${gap}${event.event}${eol}`
    for (const line of event.data.split(lineEnd)) out += `data:${gap}${line}${eol}`
    out += eol
  }
  return out
}

const typeOf = (data: string): string | undefined => {
  try {
    const type = JSON.parse(data)?.type
    return typeof type === "string" ? type : undefined
  } catch {
    return /"type"\s*:\s*"([^"]+)"/.exec(data)?.[1]
  }
}

/** Events from `*.chunks.txt` lines, named after their `type` where the format names its events. */
const lineEvents = (text: string, named: boolean): Array<WireEvent> =>
  Script.recordedLines(text).map((data) => {
    const event = named ? typeOf(data) : undefined
    return event === undefined ? { data } : { event, data }
  })

/**
 * The raw SSE bodies of openai-node's Jest snapshot file, by snapshot name: each is a template
 * literal holding the string in double quotes, with `\`, `` ` `` and `${` escaped by a backslash.
 */
const snapshotBodies = (text: string): Array<[string, string]> =>
  [...text.matchAll(/^exports\[`(.*)`\] = `\n"([\s\S]*?)"\n`;$/gm)].map((match) => [
    match[1]!,
    match[2]!.replace(/\\([\\`]|\$\{)/g, "$1")
  ])

const encoder = new TextEncoder()

const fromEvents = (file: string, name: string, format: Format, events: ReadonlyArray<WireEvent>): Recording => ({
  name,
  file,
  format,
  events,
  body: encoder.encode(encodeEvents(events))
})

const fromBody = (file: string, name: string, format: Format, body: string | Buffer): Recording => {
  const bytes = typeof body === "string" ? encoder.encode(body) : new Uint8Array(body)
  return { name, file, format, body: bytes, events: parseSse(new TextDecoder().decode(bytes)) }
}

/** Which format a recording folder holds. */
const folders: Record<string, Format> = {
  "anthropic": "anthropic",
  "google": "gemini",
  "openai-chat": "chat",
  "openai-compatible": "chat",
  "openai-responses": "responses"
}

const done: WireEvent = { data: "[DONE]" }

/** The streams of one recording file (most hold one; some hold several). */
const streamsOf = (file: string): Array<Recording> => {
  const folder = path.dirname(file)
  const format = folders[folder]
  if (format === undefined) throw new Error(`no wire format is known for the recordings in ${folder}/`)
  const full = path.join(recordedDir, file)
  const base = path.basename(file)
  if (base.endsWith(".snap")) {
    return snapshotBodies(fs.readFileSync(full, "utf8")).map(([name, body]) => fromBody(file, `${base} ${name}`, format, body))
  }
  if (!base.endsWith(".chunks.txt")) return [fromBody(file, base, format, fs.readFileSync(full))]
  const text = fs.readFileSync(full, "utf8")
  switch (format) {
    case "chat":
      return [fromEvents(file, base, format, [...lineEvents(text, false), done])]
    case "gemini":
      return [fromEvents(file, base, format, lineEvents(text, false))]
    case "anthropic":
      return [fromEvents(file, base, format, lineEvents(text, true))]
    case "responses": {
      // A tool loop recorded back to back holds one response per `response.created`.
      const events = lineEvents(text, true)
      const starts = events.flatMap((event, i) => (event.event === "response.created" ? [i] : []))
      if (starts.length <= 1) return [fromEvents(file, base, format, events)]
      return starts.map((start, i) => fromEvents(file, `${base} #${i + 1}`, format, events.slice(start, starts[i + 1])))
    }
  }
}

/** Every recording file (SOURCES.tsv aside), relative to the recordings folder, sorted. */
export const files = (): Array<string> =>
  fs.readdirSync(recordedDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((dir) => fs.readdirSync(path.join(recordedDir, dir.name)).map((name) => `${dir.name}/${name}`))
    .sort()

/** Every stream of every recording file. */
export const all = (): Array<Recording> => files().flatMap(streamsOf)
