/**
 * Server-Sent Events, decoded by the WHATWG EventSource "event stream interpretation" rules: LF, CR
 * and CRLF line ends, `data` lines joined with "\n", `event`, `id` and `retry` fields, comments
 * ignored, a leading BOM dropped, an event dispatched at each blank line. The decoder works on whole
 * chunks of bytes with native `indexOf` scanning, so a split anywhere (inside a UTF-8 character,
 * between CR and LF) gives the same events, and a long stream costs one pass over its text.
 */
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Stream from "effect/Stream"
import * as ProviderError from "./ProviderError.js"

/** One dispatched event. `event` is "message" unless the stream named it. */
export interface SseEvent {
  readonly event: string
  readonly data: string
  /** The last event ID: set by an `id` field and kept for the following events, as the spec says. */
  readonly id: string | undefined
  /** The latest valid `retry` value (milliseconds) seen so far in the stream; it persists like `id`. */
  readonly retry: number | undefined
}

/** Limits of the decoder. */
export interface SseOptions {
  /**
   * The largest event, counted in UTF-16 code units (not bytes) of its unfinished line plus its data
   * so far; default 16 MiB. A bigger event fails with a `ProtocolError` instead of exhausting memory.
   */
  readonly maxEventSize?: number | undefined
  /** The provider named in errors; default "sse". */
  readonly provider?: string | undefined
}

const DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
const EXCERPT_SIZE = 256
const LF = 10
const BOM = 0xfeff
const SPACE = 32
const DIGITS = /^[0-9]+$/

/**
 * An incremental decoder: feed it bytes as they arrive, take the events they complete.
 */
export class SseDecoder {
  /** `ignoreBOM` keeps every U+FEFF in the text; the decoder drops only one at the very start itself. */
  private text = new TextDecoder("utf-8", { ignoreBOM: true })
  private readonly maxEventSize: number
  private readonly provider: string
  /** The unfinished line, in pieces so that a long line arriving in many reads is not re-copied. */
  private pending: Array<string> = []
  private pendingSize = 0
  /** A CR ended the last text: an LF opening the next one belongs to it. */
  private afterCR = false
  /** Some text has been seen, so a U+FEFF is no longer a BOM. */
  private started = false
  /** The event's `data` lines: nearly every event has exactly one, so only a second allocates an array. */
  private data: string | undefined = undefined
  private moreData: Array<string> | undefined = undefined
  private dataSize = 0
  private eventType = ""
  private lastEventId: string | undefined = undefined
  private retry: number | undefined = undefined

  constructor(options?: SseOptions) {
    this.maxEventSize = options?.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE
    this.provider = options?.provider ?? "sse"
  }

  /**
   * Feeds bytes; returns the events they complete. Throws a `ProtocolError` for an oversized event.
   *
   * @example
   * ```ts
   * import { Sse } from "@reins/core"
   *
   * const decoder = new Sse.SseDecoder({ provider: "openai" })
   * const bytes = new TextEncoder().encode("data: hel")
   * assert.deepStrictEqual(decoder.feed(bytes), []) // the event is not complete yet
   * const [event] = decoder.feed(new TextEncoder().encode("lo\n\n"))
   * assert.strictEqual(event?.data, "hello")
   * ```
   */
  feed(bytes: Uint8Array): Array<SseEvent> {
    return this.scan(this.text.decode(bytes, { stream: true }))
  }

  /**
   * Ends the input: flushes the UTF-8 decoder. An unterminated last event is dropped, as the
   * EventSource rules say, so this normally returns no events. Afterwards the decoder is as new.
   */
  end(): Array<SseEvent> {
    try {
      return this.scan(this.text.decode())
    } finally {
      this.reset()
    }
  }

  private reset() {
    this.text = new TextDecoder("utf-8", { ignoreBOM: true })
    this.pending = []
    this.pendingSize = 0
    this.afterCR = false
    this.started = false
    this.clearData()
    this.eventType = ""
    this.lastEventId = undefined
    this.retry = undefined
  }

  private scan(chunk: string): Array<SseEvent> {
    const out: Array<SseEvent> = []
    const length = chunk.length
    if (length === 0) return out
    let start = 0
    if (!this.started) {
      this.started = true
      if (chunk.charCodeAt(0) === BOM) start = 1
    }
    if (this.afterCR && start < length) {
      this.afterCR = false
      if (chunk.charCodeAt(start) === LF) start++
    }
    // The next LF and CR are each found once and kept until passed, so a chunk of many lines
    // costs one native pass per character, even when one of the two never occurs.
    let lf = chunk.indexOf("\n", start)
    let cr = chunk.indexOf("\r", start)
    while (lf !== -1 || cr !== -1) {
      let end: number
      let next: number
      if (cr === -1 || (lf !== -1 && lf < cr)) {
        end = lf
        next = lf + 1
        lf = chunk.indexOf("\n", next)
      } else {
        end = cr
        next = cr + 1
        if (next === length) this.afterCR = true
        else if (chunk.charCodeAt(next) === LF) {
          next++
          lf = chunk.indexOf("\n", next)
        }
        cr = chunk.indexOf("\r", next)
      }
      this.lineAt(chunk, start, end, out)
      start = next
    }
    if (start < length) {
      this.pending.push(start === 0 ? chunk : chunk.slice(start))
      this.pendingSize += length - start
      this.checkSize()
    }
    return out
  }

  /**
   * The line `chunk[start, end)`. Nearly every line is whole in one read and is a `data:` or
   * `event:` line, or blank: those are taken straight from the read, with one slice for the value.
   */
  private lineAt(chunk: string, start: number, end: number, out: Array<SseEvent>) {
    if (this.pending.length > 0) return this.line(this.joinPending(chunk.slice(start, end)), out)
    if (start === end) return this.dispatch(out)
    // The character after the colon is the line end when the value is empty, never a space.
    if (chunk.startsWith("data:", start)) return this.addData(chunk.slice(chunk.charCodeAt(start + 5) === SPACE ? start + 6 : start + 5, end))
    if (chunk.startsWith("event:", start)) {
      this.eventType = chunk.slice(chunk.charCodeAt(start + 6) === SPACE ? start + 7 : start + 6, end)
      return
    }
    return this.line(chunk.slice(start, end), out)
  }

  /** The unfinished line from earlier reads, completed by `last`. */
  private joinPending(last: string): string {
    this.pending.push(last)
    const line = this.pending.length === 2 ? this.pending[0] + this.pending[1] : this.pending.join("")
    this.pending = []
    this.pendingSize = 0
    return line
  }

  private line(line: string, out: Array<SseEvent>) {
    if (line.length === 0) return this.dispatch(out)
    const colon = line.indexOf(":")
    if (colon === 0) return
    let field: string
    let value: string
    if (colon === -1) {
      field = line
      value = ""
    } else {
      field = line.slice(0, colon)
      value = line.charCodeAt(colon + 1) === SPACE ? line.slice(colon + 2) : line.slice(colon + 1)
    }
    switch (field) {
      case "data":
        return this.addData(value)
      case "event":
        this.eventType = value
        return
      case "id":
        if (!value.includes("\0")) this.lastEventId = value
        return
      case "retry":
        if (DIGITS.test(value)) this.retry = Number(value)
        return
    }
  }

  private addData(value: string) {
    if (this.data === undefined) this.data = value
    else (this.moreData ??= [this.data]).push(value)
    // The "+ 1" counts the LF that joins this line to the next.
    this.dataSize += value.length + 1
    this.checkSize()
  }

  private clearData() {
    this.data = undefined
    this.moreData = undefined
    this.dataSize = 0
  }

  private dispatch(out: Array<SseEvent>) {
    if (this.data !== undefined) {
      out.push({
        event: this.eventType === "" ? "message" : this.eventType,
        data: this.moreData === undefined ? this.data : this.moreData.join("\n"),
        id: this.lastEventId,
        retry: this.retry
      })
      this.clearData()
    }
    this.eventType = ""
  }

  /** The start of the event being built (its data, then its unfinished line), for an error excerpt. */
  private head(): string {
    let head = ""
    for (const piece of this.moreData ?? (this.data === undefined ? [] : [this.data])) {
      head += piece + "\n"
      if (head.length > EXCERPT_SIZE) return head.slice(0, EXCERPT_SIZE)
    }
    for (const piece of this.pending) {
      head += piece
      if (head.length > EXCERPT_SIZE) return head.slice(0, EXCERPT_SIZE)
    }
    return head
  }

  private checkSize() {
    if (this.pendingSize + this.dataSize <= this.maxEventSize) return
    const error = new ProviderError.ProtocolError({
      provider: this.provider,
      message: `an SSE event is larger than the limit of ${this.maxEventSize} characters`,
      excerpt: ProviderError.excerpt(this.head(), EXCERPT_SIZE)
    })
    this.pending = []
    this.pendingSize = 0
    this.clearData()
    throw error
  }
}

const append = (out: Array<SseEvent>, events: Array<SseEvent>) => {
  for (let i = 0; i < events.length; i++) out.push(events[i])
}

/** Writes the events decoded so far, if any, then continues with `next`. */
const writeThen = <InElem, OutErr, InErr>(
  out: Array<SseEvent>,
  next: Channel.Channel<Chunk.Chunk<SseEvent>, InElem, OutErr, InErr, unknown, unknown>
): Channel.Channel<Chunk.Chunk<SseEvent>, InElem, OutErr, InErr, unknown, unknown> =>
  out.length === 0 ? next : Channel.flatMap(Channel.write(Chunk.unsafeFromArray(out)), () => next)

/** A decoder's `ProtocolError` becomes a typed failure; anything else it throws is a bug, so a defect. */
const failure = (error: unknown) =>
  error instanceof ProviderError.ProtocolError ? Channel.fail(error) : Channel.failCause(Cause.die(error))

/**
 * The decoding channel: one decoder per run (`Channel.suspend`), one pass per upstream chunk, no
 * Effect per byte or event. Events finished before an oversized one are written before the failure.
 */
const decoderChannel = <E>(
  options: SseOptions | undefined
): Channel.Channel<
  Chunk.Chunk<SseEvent>,
  Chunk.Chunk<Uint8Array>,
  E | ProviderError.ProtocolError,
  E,
  unknown,
  unknown
> =>
  Channel.suspend(() => {
    const decoder = new SseDecoder(options)
    const loop: Channel.Channel<
      Chunk.Chunk<SseEvent>,
      Chunk.Chunk<Uint8Array>,
      E | ProviderError.ProtocolError,
      E,
      unknown,
      unknown
    > = Channel.readWithCause({
      onInput: (chunks: Chunk.Chunk<Uint8Array>) => {
        const out: Array<SseEvent> = []
        try {
          for (const bytes of chunks) append(out, decoder.feed(bytes))
        } catch (error) {
          return writeThen(out, failure(error))
        }
        return writeThen(out, loop)
      },
      onFailure: (cause: Cause.Cause<E>) => Channel.failCause(cause),
      onDone: () => {
        const out: Array<SseEvent> = []
        try {
          append(out, decoder.end())
        } catch (error) {
          return writeThen(out, failure(error))
        }
        return writeThen(out, Channel.void)
      }
    })
    return loop
  })

/**
 * Decodes a byte stream into events, with one decoder per run of the stream, so the same stream
 * value can be run more than once. Fails with a `ProtocolError` when an event exceeds the limit,
 * after emitting the events completed before it. Ending the input drops an unterminated event.
 *
 * @example
 * ```ts
 * import { HttpClientResponse } from "@effect/platform"
 * import { Sse } from "@reins/core"
 *
 * const events = (response: HttpClientResponse.HttpClientResponse) =>
 *   response.stream.pipe(Sse.decode({ provider: "openai", maxEventSize: 1024 * 1024 }))
 * ```
 */
export const decode = (options?: SseOptions) =>
<E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<SseEvent, E | ProviderError.ProtocolError, R> =>
  Stream.pipeThroughChannel(self, decoderChannel<E>(options))
