/**
 * Keys kept out of what a call reports. A key is `Redacted` on its way into the request, but a
 * server or proxy may send it back: quoted in an error body ("Incorrect API key provided: sk-..."),
 * echoed in a response header, repeated in a stream's error event. Whatever a call reports (its
 * errors, the attributes of its spans) is cleaned of every piece of the keys it sent.
 */
import type * as Headers from "@effect/platform/Headers"
import type * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** What a cleaned piece of text shows where a key was. */
export const placeholder = "<redacted>"

/** Any run of this many characters of a key counts as the key: a masked echo keeps its ends. */
const PIECE = 6

/** Request headers that carry a credential, and any header named like one. */
const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|x-api-key|x-goog-api-key|api-key)$|key|token|secret|auth/i

/** The credentials a request sends, from its headers (a bearer token without its scheme). */
export const fromHeaders = (headers: Headers.Headers): ReadonlyArray<string> => {
  const secrets: Array<string> = []
  for (const name in headers) {
    if (!CREDENTIAL_HEADER.test(name)) continue
    const value = headers[name].replace(/^(bearer|basic|token)\s+/i, "").trim()
    if (value.length >= PIECE) secrets.push(value)
  }
  return secrets
}

/** The most keys whose pieces are kept; a process holds a few. */
const KEPT = 64

const pieces = new Map<string, ReadonlyArray<string>>()

/**
 * Every run of `PIECE` characters of a secret, cut once per key: span attributes are cleaned as
 * they are set, on every call, and most of them hold no piece of any key.
 */
const windows = (secret: string): ReadonlyArray<string> => {
  let cut = pieces.get(secret)
  if (cut === undefined) {
    const made: Array<string> = []
    for (let start = 0; start + PIECE <= secret.length; start++) made.push(secret.slice(start, start + PIECE))
    if (pieces.size >= KEPT) pieces.clear()
    pieces.set(secret, cut = made)
  }
  return cut
}

/**
 * `text` with every run of `PIECE` or more characters that also occurs in a secret replaced by the
 * placeholder.
 */
export const scrubText = (text: string, secrets: ReadonlyArray<string>): string => {
  if (text.length < PIECE) return text
  let marked: Uint8Array | undefined
  for (const secret of secrets) {
    for (const window of windows(secret)) {
      for (let at = text.indexOf(window); at !== -1; at = text.indexOf(window, at + 1)) {
        marked ??= new Uint8Array(text.length)
        marked.fill(1, at, at + PIECE)
      }
    }
  }
  if (marked === undefined) return text
  let out = ""
  for (let i = 0; i < text.length;) {
    if (marked[i] === 0) {
      let end = i
      while (end < text.length && marked[end] === 0) end++
      out += text.slice(i, end)
      i = end
    } else {
      while (i < text.length && marked[i] === 1) i++
      out += placeholder
    }
  }
  return out
}

/** A plain value (JSON data, an error's fields) with its strings cleaned; the same value when nothing changed. */
export const scrubValue = <A>(value: A, secrets: ReadonlyArray<string>, depth = 0): A => {
  if (typeof value === "string") return scrubText(value, secrets) as A
  if (typeof value !== "object" || value === null || depth > 8) return value
  if (Array.isArray(value)) {
    let changed = false
    const out = value.map((item) => {
      const cleaned = scrubValue(item, secrets, depth + 1)
      if (cleaned !== item) changed = true
      return cleaned
    })
    return (changed ? out : value) as A
  }
  if (value instanceof Error) {
    const message = scrubText(value.message, secrets)
    const stack = value.stack === undefined ? undefined : scrubText(value.stack, secrets)
    if (message === value.message && stack === value.stack) return value
    const copy = new Error(message)
    copy.name = value.name
    if (stack !== undefined) copy.stack = stack
    return copy as A
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return value
  let changed = false
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key]
    const cleaned = scrubValue(item, secrets, depth + 1)
    if (cleaned !== item) changed = true
    out[key] = cleaned
  }
  return (changed ? out : value) as A
}

/**
 * A tagged error (a `Data.TaggedError`) with its fields cleaned: a new error of the same class when a
 * field held a piece of a secret, else the same error.
 */
export const scrubError = <E extends object>(error: E, secrets: ReadonlyArray<string>): E => {
  if (secrets.length === 0) return error
  let changed: Record<string, unknown> | undefined
  for (const key of Object.keys(error)) {
    const item = (error as Record<string, unknown>)[key]
    const cleaned = scrubValue(item, secrets)
    if (cleaned !== item) (changed ??= {})[key] = cleaned
  }
  if (changed === undefined) return error
  const Class = error.constructor as new(fields: Record<string, unknown>) => E
  return new Class({ ...error, ...changed })
}

/**
 * The span with its `attribute` and `event` cleaning what they are given. The span itself is kept
 * (only those two methods are replaced on it), so that the tracer that made it still sees it end.
 */
const scrubbing = (span: Tracer.Span, secrets: ReadonlyArray<string>): Tracer.Span => {
  const attribute = span.attribute.bind(span)
  const event = span.event.bind(span)
  const mutable = span as { -readonly [K in keyof Tracer.Span]: Tracer.Span[K] }
  mutable.attribute = (key, value) => attribute(key, scrubValue(value, secrets))
  mutable.event = (name, startTime, attributes) =>
    event(name, startTime, attributes === undefined ? undefined : scrubValue(attributes, secrets))
  return span
}

const tracers = new WeakMap<Tracer.Tracer, Map<string, Tracer.Tracer>>()

/**
 * A tracer whose spans clean their attributes: the HTTP client's span records every response
 * header by value, and only a header's name can be marked as redacted in advance.
 */
export const scrubbingTracer = (tracer: Tracer.Tracer, secrets: ReadonlyArray<string>): Tracer.Tracer => {
  // One per tracer and set of keys: a layer's calls all send the same key.
  let made = tracers.get(tracer)
  if (made === undefined) tracers.set(tracer, made = new Map())
  const key = secrets.join("\n")
  let scrubbed = made.get(key)
  if (scrubbed === undefined) {
    if (made.size >= KEPT) made.clear()
    made.set(key, scrubbed = makeScrubbingTracer(tracer, secrets))
  }
  return scrubbed
}

const makeScrubbingTracer = (tracer: Tracer.Tracer, secrets: ReadonlyArray<string>): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent: Option.Option<Tracer.AnySpan>, context, links, startTime, kind, options) =>
      scrubbing(
        tracer.span(name, parent, context, links, startTime, kind, options?.attributes === undefined ? options : {
          ...options,
          attributes: scrubValue(options.attributes, secrets)
        }),
        secrets
      ),
    context: (f, fiber) => tracer.context(f, fiber)
  })
