/**
 * Server-Sent Events, decoded by the WHATWG EventSource rules: LF, CR and CRLF line ends, `data`
 * lines joined with "\n", `event`, `id` and `retry` fields, comments ignored, a leading BOM dropped,
 * an event dispatched at each blank line. The decoder works on whole chunks of bytes with plain
 * string scanning, so a split anywhere (inside a UTF-8 character, between CR and LF) gives the same
 * events, and a long stream costs one pass over its text.
 */
import * as EffectChunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ProviderError from "./ProviderError.js"

/** One dispatched event. `event` is "message" unless the stream named it. */
export interface SseEvent {
  readonly event: string
  readonly data: string
  readonly id: string | undefined
  readonly retry: number | undefined
}

/** Limits of the decoder. */
export interface SseOptions {
  /**
   * The largest event, counted in UTF-16 code units of its unfinished line plus its data so far;
   * default 16 MiB. A bigger event fails with a `ProtocolError` instead of exhausting memory.
   */
  readonly maxEventSize?: number | undefined
  /** The provider named in errors; default "sse". */
  readonly provider?: string | undefined
}

const DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
const LF = 10
const CR = 13

/**
 * An incremental decoder: feed it bytes as they arrive, take the events they complete.
 *
 * @example
 * const decoder = new SseDecoder()
 * decoder.feed(new TextEncoder().encode("data: hi\n\n")) // [{ event: "message", data: "hi", ... }]
 */
export class SseDecoder {
  private readonly text = new TextDecoder("utf-8", { ignoreBOM: true })
  private readonly maxEventSize: number
  private readonly provider: string
  /** The unfinished line, in pieces so that a long line arriving in many reads is not re-copied. */
  private pending: Array<string> = []
  private pendingSize = 0
  /** A CR ended the last chunk: an LF opening the next one belongs to it. */
  private afterCR = false
  private started = false
  private data: Array<string> = []
  private dataSize = 0
  private eventType = ""
  private lastEventId: string | undefined = undefined
  private retry: number | undefined = undefined

  constructor(options?: SseOptions) {
    this.maxEventSize = options?.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE
    this.provider = options?.provider ?? "sse"
  }

  /** Feeds bytes; returns the events they complete. Throws a `ProtocolError` for an oversized event. */
  feed(bytes: Uint8Array): Array<SseEvent> {
    return this.scan(this.text.decode(bytes, { stream: true }))
  }

  /** Ends the input. An unterminated last event is dropped, as the EventSource rules say. */
  end(): Array<SseEvent> {
    const out = this.scan(this.text.decode())
    this.pending = []
    this.pendingSize = 0
    this.data = []
    this.dataSize = 0
    return out
  }

  private scan(chunk: string): Array<SseEvent> {
    const out: Array<SseEvent> = []
    let start = 0
    if (!this.started && chunk.length > 0) {
      this.started = true
      if (chunk.charCodeAt(0) === 0xfeff) start = 1
    }
    if (this.afterCR && start < chunk.length) {
      this.afterCR = false
      if (chunk.charCodeAt(start) === LF) start++
    }
    const length = chunk.length
    let i = start
    while (i < length) {
      const c = chunk.charCodeAt(i)
      if (c !== LF && c !== CR) {
        // Jump to the next line end; indexOf runs natively, far faster than a loop in JS.
        const lf = chunk.indexOf("\n", i)
        const cr = chunk.indexOf("\r", i)
        const next = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
        if (next === -1) break
        i = next
        continue
      }
      const line = this.takeLine(chunk, start, i)
      if (c === CR) {
        if (i + 1 < length) {
          if (chunk.charCodeAt(i + 1) === LF) i++
        } else {
          this.afterCR = true
        }
      }
      i++
      start = i
      this.line(line, out)
    }
    if (start < length) {
      this.pending.push(start === 0 ? chunk : chunk.slice(start))
      this.pendingSize += length - start
      this.checkSize()
    }
    return out
  }

  private takeLine(chunk: string, start: number, end: number): string {
    if (this.pending.length === 0) return chunk.slice(start, end)
    this.pending.push(chunk.slice(start, end))
    const line = this.pending.join("")
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
      value = line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1)
    }
    switch (field) {
      case "data":
        this.data.push(value)
        this.dataSize += value.length + 1
        this.checkSize()
        return
      case "event":
        this.eventType = value
        return
      case "id":
        if (!value.includes("\0")) this.lastEventId = value
        return
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value)
        return
    }
  }

  private dispatch(out: Array<SseEvent>) {
    if (this.data.length > 0) {
      out.push({
        event: this.eventType === "" ? "message" : this.eventType,
        data: this.data.length === 1 ? this.data[0] : this.data.join("\n"),
        id: this.lastEventId,
        retry: this.retry
      })
    }
    this.data = []
    this.dataSize = 0
    this.eventType = ""
  }

  private checkSize() {
    if (this.pendingSize + this.dataSize <= this.maxEventSize) return
    const head = (this.data.length > 0 ? this.data[0] : this.pending[0] ?? "").slice(0, 256)
    this.pending = []
    this.pendingSize = 0
    this.data = []
    this.dataSize = 0
    throw new ProviderError.ProtocolError({
      provider: this.provider,
      message: `an SSE event is larger than the limit of ${this.maxEventSize} characters`,
      excerpt: ProviderError.excerpt(head, 256)
    })
  }
}

const protocolFailure = (provider: string, error: unknown) =>
  error instanceof ProviderError.ProtocolError
    ? error
    : new ProviderError.ProtocolError({ provider, message: `could not decode the event stream: ${String(error)}`, excerpt: "", cause: error })

/**
 * Decodes a byte stream into events, one decoder per run of the stream.
 *
 * @example
 * response.stream.pipe(Sse.decode({ provider: "openai" }))
 */
export const decode = (options?: SseOptions) =>
<E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<SseEvent, E | ProviderError.ProtocolError, R> =>
  Stream.suspend(() => {
    const decoder = new SseDecoder(options)
    const provider = options?.provider ?? "sse"
    const step = (f: () => Array<SseEvent>) => {
      try {
        return Effect.succeed(EffectChunk.unsafeFromArray(f()))
      } catch (error) {
        return Effect.fail(protocolFailure(provider, error))
      }
    }
    return self.pipe(
      Stream.mapChunksEffect((chunks) =>
        step(() => {
          const out: Array<SseEvent> = []
          for (const bytes of chunks) {
            const events = decoder.feed(bytes)
            for (let i = 0; i < events.length; i++) out.push(events[i])
          }
          return out
        })
      ),
      Stream.concat(Stream.flattenChunks(Stream.fromEffect(Effect.suspend(() => step(() => decoder.end())))))
    )
  })
