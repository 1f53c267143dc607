import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { ProtocolError } from "../src/ProviderError.js"
import * as Sse from "../src/Sse.js"

const encoder = new TextEncoder()
const utf8 = (text: string): Uint8Array => encoder.encode(text)

const event = (data: string, fields: Partial<Sse.SseEvent> = {}): Sse.SseEvent => ({
  event: "message",
  data,
  id: undefined,
  retry: undefined,
  ...fields
})

/** Decodes the chunks with one decoder, end included. */
const decodeChunks = (chunks: ReadonlyArray<Uint8Array>, options?: Sse.SseOptions): Array<Sse.SseEvent> => {
  const decoder = new Sse.SseDecoder(options)
  const out: Array<Sse.SseEvent> = []
  for (const chunk of chunks) out.push(...decoder.feed(chunk))
  out.push(...decoder.end())
  return out
}

const decodeText = (text: string, options?: Sse.SseOptions) => decodeChunks([utf8(text)], options)

/** Cuts the bytes at the given positions (taken modulo length + 1, any order, repeats allowed). */
const split = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const positions = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let start = 0
  for (const position of positions) {
    chunks.push(bytes.subarray(start, position))
    start = position
  }
  chunks.push(bytes.subarray(start))
  return chunks
}

const bytewise = (bytes: Uint8Array) => Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))

const runStream = (chunks: ReadonlyArray<Uint8Array>, options?: Sse.SseOptions) =>
  Stream.fromIterable(chunks).pipe(Sse.decode(options), Stream.runCollect, Effect.map(Chunk.toArray))

describe("SseDecoder", () => {
  it("dispatches at a blank line with LF, CR and CRLF line ends", () => {
    for (const eol of ["\n", "\r", "\r\n"]) {
      expect(decodeText(`data: one${eol}${eol}data: two${eol}${eol}`)).toEqual([event("one"), event("two")])
    }
  })

  it("accepts mixed line ends in one stream", () => {
    expect(decodeText("data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r")).toEqual([event("a\nb\nc"), event("d")])
  })

  it("treats CR at the end of one chunk and LF at the start of the next as one line end", () => {
    const chunks = [utf8("data: a\r"), utf8("\ndata: b\r"), utf8("\n\r"), utf8("\n")]
    expect(decodeChunks(chunks)).toEqual([event("a\nb")])
    // A lone CR followed later by a CR is two line ends: a blank line.
    expect(decodeChunks([utf8("data: a\r"), utf8("\r")])).toEqual([event("a")])
    // An empty chunk between CR and LF changes nothing.
    expect(decodeChunks([utf8("data: a\r"), new Uint8Array(0), utf8("\n\n")])).toEqual([event("a")])
  })

  it("joins several data lines with LF and keeps empty data lines", () => {
    expect(decodeText("data: a\ndata:\ndata: c\n\n")).toEqual([event("a\n\nc")])
    expect(decodeText("data\n\n")).toEqual([event("")])
    expect(decodeText("data:\ndata\n\n")).toEqual([event("\n")])
  })

  it("reads event, id and retry fields; id and retry persist", () => {
    const text = "event: delta\nid: 7\nretry: 1500\ndata: x\n\ndata: y\n\nevent: done\nid\ndata: z\n\n"
    expect(decodeText(text)).toEqual([
      event("x", { event: "delta", id: "7", retry: 1500 }),
      event("y", { id: "7", retry: 1500 }),
      event("z", { event: "done", id: "", retry: 1500 })
    ])
  })

  it("ignores an id with NUL and a retry that is not all ASCII digits", () => {
    const text = "id: 1\nretry: 10\ndata: a\n\nid: 2\0x\nretry: 1.5\nretry: 2a\nretry: -3\nretry:\nretry: ٣\ndata: b\n\n"
    expect(decodeText(text)).toEqual([event("a", { id: "1", retry: 10 }), event("b", { id: "1", retry: 10 })])
  })

  it("treats an empty event name as message", () => {
    expect(decodeText("event:\ndata: a\n\nevent\ndata: b\n\n")).toEqual([event("a"), event("b")])
  })

  it("ignores comments and unknown fields", () => {
    const text = ": hello\n:\ndata: a\n: between\nfoo: bar\nDATA: no\nData: no\n data: no\ndata: b\n\n"
    expect(decodeText(text)).toEqual([event("a\nb")])
  })

  it("treats a line without a colon as a field with an empty value", () => {
    expect(decodeText("event\ndata\nid\n\n")).toEqual([event("", { id: "" })])
  })

  it("strips exactly one space after the colon and splits at the first colon", () => {
    expect(decodeText("data:x\n\ndata: x\n\ndata:  x \n\ndata:\tx\n\ndata: a: b:c\n\n")).toEqual([
      event("x"),
      event("x"),
      event(" x "),
      event("\tx"),
      event("a: b:c")
    ])
    expect(decodeText("event:  spaced\ndata: a\n\n")).toEqual([event("a", { event: " spaced" })])
  })

  it("dispatches nothing at a blank line without data, and resets the event type", () => {
    expect(decodeText("\n\n\nevent: ping\n\ndata: a\n\nid: 3\nretry: 5\n\ndata: b\n\n")).toEqual([
      event("a"),
      event("b", { id: "3", retry: 5 })
    ])
  })

  it("drops a BOM at the very start only, even when it arrives split", () => {
    expect(decodeText("\uFEFFdata: a\n\n")).toEqual([event("a")])
    const bom = utf8("\uFEFFdata: a\n\n")
    expect(decodeChunks(bytewise(bom))).toEqual([event("a")])
    // A second BOM is not dropped: the line becomes the unknown field "\uFEFFdata".
    expect(decodeText("\uFEFF\uFEFFdata: a\n\ndata: b\n\n")).toEqual([event("b")])
    // U+FEFF elsewhere is kept.
    expect(decodeText("data: \uFEFFa\uFEFF\n\n")).toEqual([event("\uFEFFa\uFEFF")])
    expect(decodeChunks([utf8("data: a\n\n"), utf8("\uFEFFdata: b\n\ndata: c\n\n")])).toEqual([event("a"), event("c")])
  })

  it("decodes UTF-8 characters split across chunks", () => {
    const text = "event: é€\ndata: 😀 中文 é\n\n"
    const expected = [event("😀 中文 é", { event: "é€" })]
    expect(decodeChunks(bytewise(utf8(text)))).toEqual(expected)
  })

  it("gives the same events for every two-way split", () => {
    const text = "\uFEFF: c\r\nevent: é\r\nid: 😀\r\ndata: 中\r\ndata\r\n\r\ndata: x\ry\r\r"
    const bytes = utf8(text)
    const expected = [event("中\n", { event: "é", id: "😀" }), event("x", { id: "😀" })]
    expect(decodeText(text)).toEqual(expected)
    for (let i = 0; i <= bytes.length; i++) {
      expect(decodeChunks([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(expected)
    }
  })

  it("does not dispatch an unterminated final event", () => {
    expect(decodeText("data: a\n\ndata: b\n")).toEqual([event("a")])
    expect(decodeText("data: a\n\ndata: b")).toEqual([event("a")])
    expect(decodeText("data: a\n\ndata: b\r")).toEqual([event("a")])
    const decoder = new Sse.SseDecoder()
    expect(decoder.feed(utf8("data: a\n"))).toEqual([])
    expect(decoder.end()).toEqual([])
  })

  it("returns events from feed as soon as they are complete", () => {
    const decoder = new Sse.SseDecoder()
    expect(decoder.feed(utf8("data: a\n"))).toEqual([])
    expect(decoder.feed(utf8("\ndata: b\n\ndata: c"))).toEqual([event("a"), event("b")])
    expect(decoder.feed(utf8("\n\n"))).toEqual([event("c")])
  })

  it("handles a long event arriving in many small chunks", () => {
    const piece = "é€😀中".repeat(10)
    const chunks = [utf8("data: ")]
    for (let i = 0; i < 5_000; i++) chunks.push(utf8(piece))
    chunks.push(utf8("\n\n"))
    const events = decodeChunks(chunks)
    expect(events.length).toBe(1)
    expect(events[0].data).toBe(piece.repeat(5_000))
  })

  it("handles a chunk of many LF lines", () => {
    const text = "data: x\n\n".repeat(50_000)
    const events = decodeText(text)
    expect(events.length).toBe(50_000)
  })

  it("throws a ProtocolError with an excerpt when an event outgrows the limit", () => {
    const decoder = new Sse.SseDecoder({ maxEventSize: 16, provider: "test" })
    expect(decoder.feed(utf8("data: 0123456789\n\n"))).toEqual([event("0123456789")])
    let error: unknown
    try {
      decoder.feed(utf8("data: 0123456789\ndata: abcdefghij\n"))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ProtocolError)
    const protocolError = error as ProtocolError
    expect(protocolError.provider).toBe("test")
    expect(protocolError.excerpt.startsWith("0123456789\nabcde")).toBe(true)
    expect(protocolError.message).toContain("16")
  })

  it("counts an unfinished line that arrives in pieces against the limit", () => {
    const decoder = new Sse.SseDecoder({ maxEventSize: 20 })
    expect(decoder.feed(utf8("data: 0123456789"))).toEqual([])
    expect(() => decoder.feed(utf8("abcdefghij"))).toThrow(ProtocolError)
  })

  it("allows an event of exactly the limit", () => {
    // "abcd" + "\n" + "ef" + "\n" = 8 code units of data.
    expect(decodeText("data: abcd\ndata: ef\n\n", { maxEventSize: 8 })).toEqual([event("abcd\nef")])
    expect(() => decodeText("data: abcd\ndata: efg\n\n", { maxEventSize: 8 })).toThrow(ProtocolError)
  })
})

describe("Sse.decode", () => {
  it.effect("decodes a byte stream end to end", () =>
    Effect.gen(function*() {
      // The euro sign is E2 82 AC: split inside it, and between CR and LF.
      const chunks = [utf8("\uFEFFevent: a\nda"), utf8("ta: é"), new Uint8Array([0xe2, 0x82]), new Uint8Array([0xac, 13]), utf8("\n\r\n")]
      const events = yield* runStream(chunks)
      expect(events).toEqual([event("é€", { event: "a" })])
    }))

  it.effect("drops an unterminated final event when the stream ends", () =>
    Effect.gen(function*() {
      const events = yield* runStream([utf8("data: a\n\ndata: b\n")])
      expect(events).toEqual([event("a")])
    }))

  it.effect("can run the same stream value twice, with a fresh decoder each time", () =>
    Effect.gen(function*() {
      const stream = Stream.fromIterable([utf8("id: 1\ndata: a\n\ndata: b")]).pipe(Sse.decode())
      const first = yield* Stream.runCollect(stream)
      const second = yield* Stream.runCollect(stream)
      expect(Chunk.toArray(first)).toEqual([event("a", { id: "1" })])
      expect(Chunk.toArray(second)).toEqual(Chunk.toArray(first))
    }))

  it.effect("fails with a typed ProtocolError, not a defect, when an event is too large", () =>
    Effect.gen(function*() {
      const stream = Stream.fromIterable([utf8("data: ok\n\n"), utf8("data: 0123456789abcdef\n\n")]).pipe(
        Sse.decode({ maxEventSize: 8, provider: "openai" })
      )
      const seen: Array<Sse.SseEvent> = []
      const result = yield* stream.pipe(
        Stream.runForEach((e) => Effect.sync(() => seen.push(e))),
        Effect.either
      )
      expect(seen).toEqual([event("ok")])
      expect(result._tag).toBe("Left")
      if (result._tag !== "Left") return
      const error: ProtocolError = result.left
      expect(error).toBeInstanceOf(ProtocolError)
      expect(error._tag).toBe("ProtocolError")
      expect(error.provider).toBe("openai")
      expect(error.excerpt.startsWith("0123456789")).toBe(true)
    }))

  it.effect("passes an upstream failure through unchanged", () =>
    Effect.gen(function*() {
      const upstream = Stream.concat(Stream.make(utf8("data: a\n\n")), Stream.fail("boom" as const))
      const result = yield* upstream.pipe(Sse.decode(), Stream.runCollect, Effect.flip)
      expect(result).toBe("boom")
    }))
})

// ---------------------------------------------------------------------------------------------
// Properties

const character = FastCheck.constantFrom("a", "b", "Z", "0", " ", ":", "\t", "é", "€", "😀", "中", "文", "\uFEFF", "\0")
const text = (maxLength: number) => FastCheck.array(character, { maxLength }).map((cs) => cs.join(""))

const generatedEvent = FastCheck.record({
  event: FastCheck.option(text(6), { nil: undefined }),
  data: FastCheck.array(text(8), { minLength: 1, maxLength: 4 }),
  id: FastCheck.option(text(4).filter((s) => !s.includes("\0")), { nil: undefined }),
  retry: FastCheck.option(FastCheck.nat(100_000), { nil: undefined }),
  comment: FastCheck.option(text(6), { nil: undefined }),
  noise: FastCheck.boolean(),
  blankBefore: FastCheck.boolean(),
  tight: FastCheck.boolean()
})

const generatedStream = FastCheck.record({
  bom: FastCheck.boolean(),
  eol: FastCheck.constantFrom("\n", "\r", "\r\n"),
  events: FastCheck.array(generatedEvent, { maxLength: 8 }),
  tail: FastCheck.option(text(6), { nil: undefined }),
  cuts: FastCheck.array(FastCheck.nat(), { maxLength: 24 })
})

type GeneratedStream = typeof generatedStream extends FastCheck.Arbitrary<infer A> ? A : never

/** Writes the generated events as an event stream, and the events a decoder must return. */
const render = (input: GeneratedStream): { readonly text: string; readonly expected: Array<Sse.SseEvent> } => {
  const { eol } = input
  const field = (name: string, value: string, tight: boolean) =>
    value === "" && tight ? name + eol : tight && !value.startsWith(" ") ? `${name}:${value}${eol}` : `${name}: ${value}${eol}`
  let out = input.bom ? "\uFEFF" : ""
  const expected: Array<Sse.SseEvent> = []
  let id: string | undefined
  let retry: number | undefined
  for (const e of input.events) {
    if (e.blankBefore) out += eol
    if (e.comment !== undefined) out += `:${e.comment}${eol}`
    if (e.event !== undefined) out += field("event", e.event, e.tight)
    if (e.id !== undefined) out += field("id", e.id, e.tight)
    if (e.noise) out += `id: bad\0id${eol}retry: 12x${eol}unknown: field${eol}`
    if (e.retry !== undefined) out += field("retry", String(e.retry), e.tight)
    e.data.forEach((line, i) => {
      out += field("data", line, e.tight)
      if (i === 0 && e.comment !== undefined) out += `: ${e.comment}${eol}`
    })
    out += eol
    if (e.id !== undefined) id = e.id
    if (e.retry !== undefined) retry = e.retry
    expected.push({ event: e.event === undefined || e.event === "" ? "message" : e.event, data: e.data.join("\n"), id, retry })
  }
  if (input.tail !== undefined) out += `data: ${input.tail}`
  return { text: out, expected }
}

describe("Sse properties", () => {
  it.prop("decodes generated streams the same however the bytes are split", { input: generatedStream }, ({ input }) => {
    const { expected, text } = render(input)
    const bytes = utf8(text)
    const whole = decodeChunks([bytes])
    expect(whole).toEqual(expected)
    expect(decodeChunks(split(bytes, input.cuts))).toEqual(whole)
    expect(decodeChunks(bytewise(bytes))).toEqual(whole)
    expect(Effect.runSync(runStream(split(bytes, input.cuts)))).toEqual(whole)
  }, { fastCheck: { numRuns: 300 } })

  const noisyByte = FastCheck.oneof(
    FastCheck.constantFrom(10, 13, 58, 32, 0, 0xef, 0xbb, 0xbf, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 100, 97, 116, 10, 13),
    FastCheck.integer({ min: 0, max: 255 })
  )

  it.prop(
    "random bytes produce events or a ProtocolError, never anything else",
    {
      bytes: FastCheck.array(noisyByte, { maxLength: 400 }).map((bs) => Uint8Array.from(bs)),
      cuts: FastCheck.array(FastCheck.nat(), { maxLength: 16 }),
      maxEventSize: FastCheck.option(FastCheck.integer({ min: 0, max: 64 }), { nil: undefined })
    },
    ({ bytes, cuts, maxEventSize }) => {
      const options: Sse.SseOptions = { maxEventSize }
      let events: Array<Sse.SseEvent> | undefined
      try {
        events = decodeChunks(split(bytes, cuts), options)
      } catch (error) {
        expect(error).toBeInstanceOf(ProtocolError)
      }
      for (const e of events ?? []) {
        expect(typeof e.event).toBe("string")
        expect(typeof e.data).toBe("string")
      }
      const exit = Effect.runSyncExit(runStream(split(bytes, cuts), options))
      if (Exit.isFailure(exit)) {
        expect(Cause.isDie(exit.cause)).toBe(false)
        expect(Option.getOrThrow(Cause.failureOption(exit.cause))).toBeInstanceOf(ProtocolError)
        expect(events).toBeUndefined()
      } else {
        expect(exit.value).toEqual(events)
      }
    },
    { fastCheck: { numRuns: 500 } }
  )
})
