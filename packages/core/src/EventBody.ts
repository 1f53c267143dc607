/**
 * The body of a 2xx streaming response, from bytes to chunks: told apart from a body that is not an
 * event stream, framed as Server-Sent Events, decoded by the provider's event decoder, and over at
 * the provider's terminal event. Plain TypeScript over whole reads, so that every transport path
 * (the Node fast path, a portable byte stream) shares it.
 */
import type * as Decoder from "./Decoder.js"
import * as ProviderError from "./ProviderError.js"
import * as Sse from "./Sse.js"
import type * as StreamPart from "./StreamPart.js"

/** What the body's error names, besides its provider. */
export interface ResponseFacts {
  readonly status: number
  readonly contentType: string | undefined
  readonly requestId: string | undefined
}

/** The most of a body that is not an event stream that is kept for its error. */
const OTHER_BODY_LIMIT = 64 * 1024

/**
 * An event stream opens with a field the providers send or a comment; a body that opens otherwise
 * (`{`, `[`, `<html>`, plain text) is something else. Decided on the first line, or on its first
 * characters when they already tell.
 */
const SSE_START = /^(?::|(?:data|event|id|retry)(?:[:\r\n]|$))/
const LONGEST_FIELD = "retry:".length

/** Whitespace and a BOM before the first line say nothing either way. */
const LEADING = /^[\s\uFEFF]*/

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The error object of the common JSON error bodies: `{ error: ... }`, `[{ error: ... }]` or the body itself. */
export const errorObject = (json: any): any => Array.isArray(json) ? json[0]?.error : json?.error ?? json

/** The `message` of the common JSON error bodies: `{ error: { message } }`, `{ message }`, `{ error: "..." }`. */
export const providerMessage = (error: any): string | undefined =>
  typeof error === "string" ? error : typeof error?.message === "string" ? error.message : undefined

/** A gateway's error page names its status in its title or heading. */
const RETRYABLE_PAGE = /<(?:title|h1)[^>]*>[^<]*\b(?:429|5\d\d)\b/i
const PAGE_TITLE = /<title[^>]*>([^<]*)<\/title>/i

/** The typed error for a 2xx body that is not an event stream, retryable only when the body says so. */
export const unexpectedBody = (provider: string, facts: ResponseFacts, text: string): ProviderError.UnexpectedBody => {
  const json = parseJson(text)
  const error = json === undefined ? undefined : errorObject(json)
  const hasError = typeof json === "object" && json !== null && (Array.isArray(json) ? json[0]?.error : (json as any).error) != null
  const title = json === undefined ? PAGE_TITLE.exec(text)?.[1]?.trim() : undefined
  return new ProviderError.UnexpectedBody({
    provider,
    status: facts.status,
    contentType: facts.contentType,
    requestId: facts.requestId,
    body: ProviderError.excerpt(text, 2048),
    providerMessage: hasError ? providerMessage(error) : title !== undefined && title !== "" ? title : undefined,
    retryable: hasError ? ProviderError.isRetryableErrorObject(error) : json === undefined && RETRYABLE_PAGE.test(text)
  })
}

/**
 * One response body's decoding. `feed` and `end` push chunks onto `out` and throw a
 * `ProviderError`; `done` turns true at the terminal event, after which bytes are not read.
 */
export class EventBody {
  private mode: "sniffing" | "events" | "other" = "sniffing"
  private readonly sse: Sse.SseDecoder
  /** The text seen while deciding, and then the whole of a body that is not an event stream. */
  private readonly text = new TextDecoder()
  private seen = ""
  private held: Array<Uint8Array> = []

  constructor(
    private readonly provider: string,
    private readonly facts: ResponseFacts,
    private readonly decoder: Decoder.EventDecoder,
    sse?: Sse.SseOptions | undefined
  ) {
    this.sse = new Sse.SseDecoder({ provider, ...sse })
  }

  get done(): boolean {
    return this.decoder.done
  }

  /** True while the body is known not to be an event stream: its silence then ends it as that. */
  get isOther(): boolean {
    return this.mode === "other"
  }

  feed(bytes: Uint8Array, out: Array<StreamPart.StreamPart>): void {
    if (this.mode === "events") return this.decode(this.sse.feed(bytes), out)
    this.seen += this.text.decode(bytes, { stream: true })
    if (this.mode === "other") {
      if (this.seen.length >= OTHER_BODY_LIMIT) throw this.unexpected()
      return
    }
    this.held.push(bytes)
    const start = this.seen.replace(LEADING, "")
    const newline = start.search(/[\r\n]/)
    if (newline === -1 && start.length < LONGEST_FIELD) return
    if (!SSE_START.test(newline === -1 ? start : start.slice(0, newline + 1))) {
      this.mode = "other"
      this.held = []
      if (this.seen.length >= OTHER_BODY_LIMIT) throw this.unexpected()
      return
    }
    this.mode = "events"
    this.seen = ""
    const held = this.held
    this.held = []
    for (let i = 0; i < held.length && !this.decoder.done; i++) this.decode(this.sse.feed(held[i]), out)
  }

  end(out: Array<StreamPart.StreamPart>): void {
    if (this.mode === "other") throw this.unexpected()
    if (this.mode === "sniffing") {
      this.seen += this.text.decode()
      // Whitespace alone, or nothing: an empty stream, which the decoder names.
      if (this.seen.trim() !== "") throw this.unexpected()
      for (const bytes of this.held) this.decode(this.sse.feed(bytes), out)
    }
    if (!this.decoder.done) this.decode(this.sse.end(), out)
    this.decoder.end(out)
  }

  /** The error for a body that is not an event stream, quoting what arrived of it. */
  unexpected(): ProviderError.UnexpectedBody {
    return unexpectedBody(this.provider, this.facts, this.seen)
  }

  private decode(events: Array<Sse.SseEvent>, out: Array<StreamPart.StreamPart>) {
    for (let i = 0; i < events.length; i++) {
      if (this.decoder.done) return
      this.decoder.event(events[i], out)
    }
  }
}
