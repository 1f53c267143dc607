/**
 * The format-neutral script a `ProviderServer` plays for one request: a status, headers, an
 * optional silence before the headers, and a list of steps (Server-Sent Events, raw bytes, pauses
 * and faults). Provider wire formats (Chat Completions, ...) are built on top of this in their own
 * modules; this one only knows about HTTP and SSE framing, and the format-neutral pieces those
 * modules share: splitting text into deltas, pacing a reply, and replaying recorded lines or bodies.
 */

/** What the server answers to one request. */
export interface Script {
  /** HTTP status, 200 by default. */
  readonly status?: number
  /** Response headers (merged over the defaults: SSE content type, no-cache, `x-request-id`). */
  readonly headers?: Readonly<Record<string, string>>
  /** Milliseconds of silence before the response headers are sent ("stall before headers"). */
  readonly headersDelay?: number
  /** Destroy the socket instead of sending any response headers (after `headersDelay`, if any). */
  readonly hangUp?: boolean
  /** What happens after the headers, in order. The response ends after the last step. */
  readonly steps: ReadonlyArray<Step>
  /**
   * Keep the response open after its last step (or its `End` step) instead of ending it, until the
   * client goes away, as a server does that finishes its events but not its body; with
   * `pingEvery`, an SSE comment every that many milliseconds meanwhile.
   */
  readonly linger?: Linger | undefined
  /**
   * Compress the body with this `content-encoding` (any `content-length` is dropped). The
   * compressor is flushed at every pause of the script, so each run of bytes reaches the client
   * as soon as it is written, as a streaming server's does.
   */
  readonly encoding?: Encoding | undefined
  /**
   * Replace `requestKey` in the headers and the body with the API key the request carried
   * (`authorization: Bearer`, `x-api-key`, `x-goog-api-key` or a `key` query parameter), as a
   * proxy does that quotes the key back in its error.
   */
  readonly echoKey?: boolean | undefined
}

/** How a response lingers after its last step: `true`, or with a keep-alive comment every `pingEvery` ms. */
export type Linger = boolean | { readonly pingEvery: number }

/** A body compression the server can apply. */
export type Encoding = "gzip" | "br" | "deflate"

/** Every body compression. */
export const encodings: ReadonlyArray<Encoding> = ["gzip", "br", "deflate"]

/** A Server-Sent Event. `data` is sent as is (one `data:` line per line of it). */
export interface Event {
  readonly _tag: "Event"
  readonly data: string
  readonly event?: string
  readonly id?: string
}

/** Bytes written to the body exactly as given. */
export interface Raw {
  readonly _tag: "Raw"
  readonly bytes: string | Uint8Array
}

/** Wait before the next step. */
export interface Delay {
  readonly _tag: "Delay"
  readonly ms: number
}

/** Send nothing for a while (`Infinity`: until the client goes away). */
export interface Stall {
  readonly _tag: "Stall"
  readonly ms: number
}

/** Destroy the socket abruptly, mid-response. */
export interface Drop {
  readonly _tag: "Drop"
}

/** End the response normally (implicit after the last step). */
export interface End {
  readonly _tag: "End"
}

/** An SSE comment line (`: text`), as servers send for keep-alive. */
export interface Comment {
  readonly _tag: "Comment"
  readonly text: string
}

/** One step of a script. */
export type Step = Event | Raw | Delay | Stall | Drop | End | Comment

/** An SSE event; objects are JSON-stringified. */
export const event = (data: string | object, options?: { readonly event?: string; readonly id?: string }): Step => {
  const step: { _tag: "Event"; data: string; event?: string; id?: string } = {
    _tag: "Event",
    data: typeof data === "string" ? data : JSON.stringify(data)
  }
  if (options?.event !== undefined) step.event = options.event
  if (options?.id !== undefined) step.id = options.id
  return step
}

/** Bytes written to the body as is. */
export const raw = (bytes: string | Uint8Array): Step => ({ _tag: "Raw", bytes })

/** Waits `ms` milliseconds before the next step. */
export const delay = (ms: number): Step => ({ _tag: "Delay", ms })

/** Sends nothing for `ms` milliseconds (`Infinity`: never again, until the client goes away). */
export const stall = (ms: number = Infinity): Step => ({ _tag: "Stall", ms })

/** Destroys the socket abruptly, mid-response. */
export const drop = (): Step => ({ _tag: "Drop" })

/** Ends the response here (steps after it are ignored). */
export const end = (): Step => ({ _tag: "End" })

/** An SSE comment (`: text`), a keep-alive. */
export const comment = (text: string = ""): Step => ({ _tag: "Comment", text })

/**
 * `steps` sent one byte at a time with `ms` milliseconds between bytes (a slow drip that splits
 * lines, events and UTF-8 characters). Steps that write nothing are kept as they are. A pause
 * follows every byte, even with `ms` 0, since the server flushes its writes only at pauses.
 */
export const drip = (steps: ReadonlyArray<Step>, ms: number = 1): Array<Step> => {
  const out: Array<Step> = []
  for (const step of steps) {
    const written = encode(step)
    if (written === undefined) {
      out.push(step)
      continue
    }
    const bytes = typeof written === "string" ? Buffer.from(written) : written
    for (let i = 0; i < bytes.length; i++) out.push(raw(bytes.subarray(i, i + 1)), delay(ms))
  }
  return out
}

/** Options shared by the script constructors (see `Script` for each). */
export interface ScriptOptions {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  readonly headersDelay?: number
  readonly linger?: Linger | undefined
  readonly encoding?: Encoding | undefined
  readonly echoKey?: boolean | undefined
}

const scriptOptions = ["status", "headers", "headersDelay", "linger", "encoding", "echoKey"] as const

/**
 * A streaming script from steps and options.
 *
 * @example
 * ```ts
 * import { Script } from "@reins/testing"
 *
 * // Two events half a second apart, a keep-alive, then silence until the client goes away.
 * const script = Script.make(
 *   [Script.event({ delta: "Hel" }), Script.delay(500), Script.event({ delta: "lo" }), Script.comment("ping"), Script.stall()],
 *   { headers: { "x-request-id": "req_1" }, encoding: "gzip" }
 * )
 * ```
 */
export const make = (steps: ReadonlyArray<Step>, options?: ScriptOptions): Script =>
  options === undefined ? { steps } : { ...defined(options, scriptOptions), steps }

/** A plain, non-streaming JSON response (an error body, say); strings are sent as they are. */
export const body = (status: number, json: unknown, headers?: Readonly<Record<string, string>>): Script => {
  const text = typeof json === "string" ? json : JSON.stringify(json)
  return {
    status,
    headers: {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(text)),
      ...headers
    },
    steps: [raw(text)]
  }
}

/** Destroys the socket before any response headers are sent (after `headersDelay`, if given). */
export const hangUp = (options?: { readonly headersDelay?: number }): Script =>
  options?.headersDelay !== undefined ? { hangUp: true, headersDelay: options.headersDelay, steps: [] } : {
    hangUp: true,
    steps: []
  }

/**
 * `script` with its body cut after `bytes` bytes (half of them by default) and then silence until
 * the client goes away: an error body that starts and never ends. Its headers stay as they were,
 * so a `content-length` still promises the whole body.
 */
export const stallMidway = (script: Script, bytes?: number): Script => {
  const total = script.steps.reduce((sum, step) => sum + byteLength(encode(step)), 0)
  let left = Math.max(0, Math.floor(bytes ?? total / 2))
  const steps: Array<Step> = []
  for (const step of script.steps) {
    if (step._tag === "End" || step._tag === "Drop") break
    const written = encode(step)
    if (written === undefined) {
      steps.push(step)
      continue
    }
    const data = typeof written === "string" ? Buffer.from(written) : written
    if (data.length > left) {
      if (left > 0) steps.push(raw(data.subarray(0, left)))
      left = 0
      break
    }
    steps.push(step)
    left -= data.length
  }
  return { ...script, steps: [...steps, stall()] }
}

/** `script` with its body sent one byte every `ms` milliseconds: an error body that trickles in. */
export const trickle = (script: Script, ms: number): Script => ({ ...script, steps: drip(script.steps, ms) })

/**
 * Stands for the request's API key in the headers and body of a script that `echoKey`s; plain
 * ASCII with no JSON escapes, so it can sit inside a JSON string.
 */
export const requestKey = "{{request-api-key}}"

/** The API key a request carried, from the headers each provider sends it in, or its `key` query parameter. */
export const keyOf = (headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>, path: string = "/"): string | undefined => {
  const header = (name: string): string | undefined => {
    const value = headers[name]
    return typeof value === "string" ? value : value?.[0]
  }
  const bearer = /^Bearer\s+(.+)$/i.exec(header("authorization") ?? "")?.[1]
  return bearer ?? header("x-api-key") ?? header("x-goog-api-key") ?? new URL(path, "http://localhost").searchParams.get("key") ??
    undefined
}

/** `script` with every `requestKey` in its headers and body replaced by `key`; a `content-length` is recounted. */
export const withKey = (script: Script, key: string): Script => {
  const put = (text: string): string => text.split(requestKey).join(key)
  const marker = Buffer.from(requestKey)
  const steps = script.steps.map((step): Step => {
    switch (step._tag) {
      case "Event":
        return { ...step, data: put(step.data) }
      case "Comment":
        return { ...step, text: put(step.text) }
      case "Raw":
        return typeof step.bytes === "string"
          ? raw(put(step.bytes))
          : Buffer.from(step.bytes).includes(marker)
          ? raw(put(Buffer.from(step.bytes).toString("utf8")))
          : step
      default:
        return step
    }
  })
  if (script.headers === undefined) return { ...script, steps }
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(script.headers)) headers[name] = put(value)
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() === "content-length") headers[name] = String(steps.reduce((sum, step) => sum + byteLength(encode(step)), 0))
  }
  return { ...script, headers, steps }
}

/** The SSE bytes of an event. */
export const encodeEvent = (step: Event): string => {
  let out = ""
  if (step.event !== undefined) out += `event: ${step.event}\n`
  if (step.id !== undefined) out += `id: ${step.id}\n`
  if (step.data.indexOf("\n") === -1 && step.data.indexOf("\r") === -1) {
    out += `data: ${step.data}\n`
  } else {
    for (const line of step.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`
  }
  return out + "\n"
}

/** The SSE bytes of a comment. */
export const encodeComment = (step: Comment): string => {
  let out = ""
  for (const line of step.text.split(/\r\n|\r|\n/)) out += line === "" ? ":\n" : `: ${line}\n`
  return out + "\n"
}

const byteLength = (bytes: string | Uint8Array | undefined): number =>
  bytes === undefined ? 0 : typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length

/** The bytes a step writes, or `undefined` for steps that write nothing. */
export const encode = (step: Step): string | Uint8Array | undefined => {
  switch (step._tag) {
    case "Event":
      return encodeEvent(step)
    case "Comment":
      return encodeComment(step)
    case "Raw":
      return step.bytes
    default:
      return undefined
  }
}

// The pieces the wire-format modules (ChatCompletions, Responses, Messages, Gemini) share.

/** Splits `text` into pieces of `size` code points (at least one piece, even for ""). */
export const split = (text: string, size: number = 4): Array<string> => {
  const step = Math.max(1, Math.floor(size))
  if (text.length <= step) return [text]
  const points = Array.from(text)
  const pieces: Array<string> = []
  for (let i = 0; i < points.length; i += step) pieces.push(points.slice(i, i + step).join(""))
  return pieces
}

/** What every format's `reply` takes besides its content: the script options, pacing and delta size. */
export interface ReplyOptions extends ScriptOptions {
  /** Milliseconds between consecutive events (none by default). */
  readonly deltaDelay?: number
  /** Code points per text delta (text, reasoning, thinking, thought or summary), 4 by default. */
  readonly chunkSize?: number
}

/**
 * The fields of `options` named in `keys` whose values are set, to pass on as options of their own
 * (with `exactOptionalPropertyTypes`, a field may be absent but not `undefined`).
 */
export const defined = <T extends object, K extends keyof T>(options: T, keys: ReadonlyArray<K>): Pick<T, K> => {
  const picked: Partial<Record<K, unknown>> = {}
  for (const key of keys) if (options[key] !== undefined) picked[key] = options[key]
  return picked as Pick<T, K>
}

/** `steps` with a pause of `ms` milliseconds between consecutive ones (none when `ms` is 0 or absent). */
export const spaced = (steps: ReadonlyArray<Step>, ms: number | undefined): Array<Step> => {
  const delayMs = ms ?? 0
  const out: Array<Step> = []
  steps.forEach((step, i) => {
    if (i > 0 && delayMs > 0) out.push(delay(delayMs))
    out.push(step)
  })
  return out
}

/** The non-blank lines of a recording (a text, split at line ends, or lines already split). */
export const recordedLines = (lines: string | ReadonlyArray<string>): Array<string> =>
  (typeof lines === "string" ? lines.split(/\r?\n/) : lines).filter((line) => line.trim() !== "")

/**
 * One event step per non-blank recorded payload line, each sent as is; `name` gives a line's SSE
 * `event:` name (none when it is absent or returns `undefined`).
 */
export const replayLines = (
  lines: string | ReadonlyArray<string>,
  name?: (line: string) => string | undefined
): Array<Step> =>
  recordedLines(lines).map((line) => {
    const eventName = name?.(line)
    return eventName !== undefined ? event(line, { event: eventName }) : event(line)
  })

/** A script sending a recorded raw SSE body as is. */
export const replayRaw = (body: string | Uint8Array, options?: ScriptOptions): Script => make([raw(body)], options)
