/**
 * Seeded rewrites of a recorded stream that its format allows, so that both decoders must still
 * agree: unknown fields in events, event types they do not know (and, per format, unknown delta,
 * block and output item types), keep-alive comments, Anthropic `ping` events anywhere and a
 * `message_delta` split in two, any of the three SSE line ends, fields with or without the space
 * after the colon, a leading byte order mark, and the bytes cut into reads at seeded places, inside
 * UTF-8 characters and between CR and LF included. A mutation is a pure function of the recording
 * and the seed: the seed printed beside a failure replays it.
 */
import { Script } from "@reins/testing"
import * as Prng from "./Prng.js"
import { encodeEvents, type Format, type Recording, type WireEvent } from "./Recordings.js"

/** What is served, and what was done to the recording to get it. */
export interface Mutation {
  readonly seed: number
  readonly description: ReadonlyArray<string>
  /** What Reins is served. */
  readonly steps: ReadonlyArray<Script.Step>
  /** What the SDK is served: the same, less what it is known to refuse (see `Refusals`). */
  readonly sdkSteps: ReadonlyArray<Script.Step>
}

/** Rewrites an SDK is known to refuse though its provider's documentation allows them. */
export interface Refusals {
  readonly unknownEvents?: boolean
}

/** An event, a comment, or an event only Reins is served. */
type Item = WireEvent | { readonly comment: string } | { readonly reinsOnly: WireEvent }

const isEvent = (item: Item): item is WireEvent => !("comment" in item) && !("reinsOnly" in item)

const json = (item: Item): any => {
  if (!isEvent(item)) return undefined
  try {
    return JSON.parse(item.data)
  } catch {
    return undefined
  }
}

/** Values whose insides are data, not structure: a tool's arguments, the caller's metadata. */
const opaque = new Set(["input", "args", "arguments", "parameters", "metadata", "tool_uses"])

/** The objects of `value` that an unknown field may be added to (the value itself included). */
const structural = (value: unknown, out: Array<Record<string, unknown>> = []): Array<Record<string, unknown>> => {
  if (Array.isArray(value)) {
    for (const element of value) structural(element, out)
  } else if (typeof value === "object" && value !== null) {
    out.push(value as Record<string, unknown>)
    for (const [key, child] of Object.entries(value)) if (!opaque.has(key)) structural(child, out)
  }
  return out
}

const unknownValue = (prng: Prng.Prng, n: number): unknown =>
  prng.pick<() => unknown>([
    () => `reins unknown ${n}`,
    () => n,
    () => null,
    () => true,
    () => ({ reins_nested: [n, { deep: "value" }] }),
    () => [n, "x"]
  ])()

/** Gemini's JSON uses lowerCamelCase field names; the others snake_case. */
const unknownName = (format: Format, n: number) => (format === "gemini" ? `reinsUnknown${n}` : `reins_unknown_${n}`)

const withData = (item: WireEvent, data: unknown): WireEvent =>
  item.event === undefined ? { data: JSON.stringify(data) } : { event: item.event, data: JSON.stringify(data) }

/** Adds an unknown field to a structural object of some JSON events. */
const unknownFields = (format: Format, items: Array<Item>, prng: Prng.Prng, notes: Array<string>) => {
  const candidates = items.flatMap((item, i) => (json(item) !== undefined && typeof json(item) === "object" ? [i] : []))
  if (candidates.length === 0) return
  const touched: Array<number> = []
  for (let k = prng.int(1, 4); k > 0; k--) {
    const i = prng.pick(candidates)
    const data = json(items[i]!)
    const targets = structural(data)
    const target = prng.pick(targets)
    target[unknownName(format, k)] = unknownValue(prng, k)
    items[i] = withData(items[i] as WireEvent, data)
    touched.push(i)
  }
  notes.push(`unknown fields in events ${touched.join(", ")}`)
}

/** The first value of `field` among the events, for an inserted event to repeat. */
const firstOf = (items: ReadonlyArray<Item>, read: (data: any) => unknown): unknown => {
  for (const item of items) {
    const value = read(json(item))
    if (value !== undefined) return value
  }
  return undefined
}

/** Where a Gemini function call is being streamed (after a fragment that says `willContinue`). */
const insideStreamedCall = (items: ReadonlyArray<Item>): Set<number> => {
  const inside = new Set<number>()
  let open = false
  items.forEach((item, i) => {
    if (open) inside.add(i)
    const parts = json(item)?.candidates?.[0]?.content?.parts
    if (!Array.isArray(parts)) return
    for (const part of parts) if (part?.functionCall != null) open = part.functionCall.willContinue === true
  })
  return inside
}

/** An event of a type the decoders do not know, in the format's own shape. */
const unknownEvent = (format: Format, items: ReadonlyArray<Item>, prng: Prng.Prng, n: number): WireEvent => {
  const extra = unknownValue(prng, n)
  switch (format) {
    case "chat":
      // Chat Completions has no event types: its unknown is a chunk that carries nothing known.
      return {
        data: JSON.stringify({
          id: firstOf(items, (data) => data?.id),
          object: "chat.completion.chunk",
          created: firstOf(items, (data) => data?.created),
          model: firstOf(items, (data) => data?.model),
          choices: [],
          reins_unknown: extra
        })
      }
    case "responses":
      return { event: "response.reins_unknown", data: JSON.stringify({ type: "response.reins_unknown", reins_unknown: extra }) }
    case "anthropic":
      return { event: "reins_unknown", data: JSON.stringify({ type: "reins_unknown", reins_unknown: extra }) }
    case "gemini":
      return {
        data: JSON.stringify({
          candidates: [{ content: { role: "model", parts: [{ reinsUnknownPart: extra }] }, index: 0 }],
          modelVersion: firstOf(items, (data) => data?.modelVersion),
          responseId: firstOf(items, (data) => data?.responseId)
        })
      }
  }
}

/** Inserts events of unknown types at seeded places (served to Reins alone when the SDK refuses them). */
const unknownEvents = (format: Format, items: Array<Item>, prng: Prng.Prng, notes: Array<string>, reinsOnly: boolean) => {
  const placed: Array<number> = []
  for (let k = prng.int(1, 3); k > 0; k--) {
    // Not between a Gemini call's streamed fragments: Reins ends the call there (a known
    // disagreement, probed on its own in Probes.ts), and every seed would find it again.
    const excluded = format === "gemini" ? insideStreamedCall(items) : new Set<number>()
    const places = Array.from({ length: items.length + 1 }, (_, i) => i).filter((i) => !excluded.has(i))
    const at = prng.pick(places)
    const event = unknownEvent(format, items, prng, k)
    items.splice(at, 0, reinsOnly ? { reinsOnly: event } : event)
    placed.push(at)
  }
  notes.push(`unknown events at ${placed.join(", ")}${reinsOnly ? " (not served to the SDK)" : ""}`)
}

/** An Anthropic content block delta of an unknown type inside an open block, or a whole unknown block after the last one. */
const unknownBlockParts = (items: Array<Item>, prng: Prng.Prng, notes: Array<string>) => {
  const deltas = items.flatMap((item, i) => (json(item)?.type === "content_block_delta" ? [i] : []))
  if (deltas.length > 0 && prng.chance(0.5)) {
    const at = prng.pick(deltas)
    const index = json(items[at]!).index
    const delta = { type: "content_block_delta", index, delta: { type: "reins_unknown_delta", reins_unknown: "x" } }
    items.splice(at + 1, 0, { event: "content_block_delta", data: JSON.stringify(delta) })
    notes.push(`an unknown delta type after event ${at}`)
    return
  }
  // A whole block goes after the last one, before message_delta, unless a block is still open there.
  const starts = items.flatMap((item) => (json(item)?.type === "content_block_start" ? [json(item).index as number] : []))
  const stopped = new Set(items.flatMap((item) => (json(item)?.type === "content_block_stop" ? [json(item).index as number] : [])))
  const at = items.findIndex((item) => json(item)?.type === "message_delta")
  if (at < 0 || starts.some((index) => !stopped.has(index))) return
  const index = starts.length === 0 ? 0 : Math.max(...starts) + 1
  items.splice(
    at,
    0,
    { event: "content_block_start", data: JSON.stringify({ type: "content_block_start", index, content_block: { type: "reins_unknown_block", reins: 1 } }) },
    { event: "content_block_delta", data: JSON.stringify({ type: "content_block_delta", index, delta: { type: "reins_unknown_delta" } }) },
    { event: "content_block_stop", data: JSON.stringify({ type: "content_block_stop", index }) }
  )
  notes.push(`an unknown content block at ${at}`)
}

/**
 * A Responses output item of a type the decoders do not know (the API adds item types, as it did
 * for each server tool), added and done before the terminal event, and in its response's output.
 */
const unknownItem = (items: Array<Item>, notes: Array<string>) => {
  const terminal = items.findIndex((item) => /^response\.(completed|incomplete)$/.test(json(item)?.type ?? ""))
  if (terminal < 0) return
  const indexes = items.flatMap((item) => (typeof json(item)?.output_index === "number" ? [json(item).output_index as number] : []))
  const output_index = indexes.length === 0 ? 0 : Math.max(...indexes) + 1
  const item = (status: string) => ({ id: "reins_item_1", type: "reins_unknown_item", status, reins_unknown: [1] })
  const end = json(items[terminal]!)
  if (Array.isArray(end.response?.output)) end.response.output.push(item("completed"))
  items.splice(
    terminal,
    1,
    { event: "response.output_item.added", data: JSON.stringify({ type: "response.output_item.added", output_index, item: item("in_progress") }) },
    { event: "response.output_item.done", data: JSON.stringify({ type: "response.output_item.done", output_index, item: item("completed") }) },
    withData(items[terminal] as WireEvent, end)
  )
  notes.push(`an unknown output item before event ${terminal}`)
}

/**
 * Anthropic's `message_delta` split in two: "one or more message_delta events" may come
 * (https://docs.anthropic.com/en/docs/build-with-claude/streaming#event-types), their counts
 * cumulative, so an earlier one with the same usage and no stop reason yet changes nothing.
 */
const earlierMessageDelta = (items: Array<Item>, notes: Array<string>) => {
  const at = items.findIndex((item) => json(item)?.type === "message_delta")
  if (at < 0) return
  const delta = json(items[at]!)
  const earlier = { ...delta, delta: { ...delta.delta, stop_reason: null, stop_sequence: null } }
  items.splice(at, 0, { event: "message_delta", data: JSON.stringify(earlier) })
  notes.push(`an earlier message_delta at ${at}`)
}

const ping: WireEvent = { event: "ping", data: "{\"type\": \"ping\"}" }

/** Anthropic `ping` events anywhere: the recorded ones moved, and more added. */
const pings = (items: Array<Item>, prng: Prng.Prng, notes: Array<string>) => {
  const kept = items.filter((item) => !(isEvent(item) && item.event === "ping"))
  const count = items.length - kept.length + prng.int(1, 3)
  items.splice(0, items.length, ...kept)
  const placed: Array<number> = []
  for (let k = 0; k < count; k++) {
    const at = prng.int(0, items.length)
    items.splice(at, 0, ping)
    placed.push(at)
  }
  notes.push(`pings at ${placed.join(", ")}`)
}

/** SSE comments (keep-alives) anywhere. */
const comments = (items: Array<Item>, prng: Prng.Prng, notes: Array<string>) => {
  const placed: Array<number> = []
  for (let k = prng.int(1, 3); k > 0; k--) {
    const at = prng.int(0, items.length)
    items.splice(at, 0, { comment: "keep-alive" })
    placed.push(at)
  }
  notes.push(`keep-alive comments at ${placed.join(", ")}`)
}

/** Byte offsets where a cut is most telling: inside a multi-byte character, between CR and LF. */
const tellingCuts = (bytes: Uint8Array) => {
  const insideCharacter: Array<number> = []
  const betweenCrLf: Array<number> = []
  for (let i = 1; i < bytes.length; i++) {
    if ((bytes[i]! & 0xc0) === 0x80) insideCharacter.push(i)
    if (bytes[i - 1] === 13 && bytes[i] === 10) betweenCrLf.push(i)
  }
  return { insideCharacter, betweenCrLf }
}

/** The bytes as raw writes with a pause between them, so that the client reads them apart. */
const cut = (bytes: Uint8Array, prng: Prng.Prng, notes: Array<string>): Array<Script.Step> => {
  if (bytes.length < 2) return [Script.raw(bytes)]
  const { betweenCrLf, insideCharacter } = tellingCuts(bytes)
  const positions = new Set<number>()
  for (let k = prng.int(1, 12); k > 0; k--) {
    const roll = prng.next()
    if (roll < 0.3 && insideCharacter.length > 0) positions.add(prng.pick(insideCharacter))
    else if (roll < 0.6 && betweenCrLf.length > 0) positions.add(prng.pick(betweenCrLf))
    else positions.add(prng.int(1, bytes.length - 1))
  }
  const sorted = [...positions].sort((a, b) => a - b)
  const inside = sorted.filter((at) => insideCharacter.includes(at)).length
  const crlf = sorted.filter((at) => betweenCrLf.includes(at)).length
  notes.push(`cut at ${sorted.join(", ")} (${inside} inside a character, ${crlf} between CR and LF)`)
  const steps: Array<Script.Step> = []
  let from = 0
  for (const at of [...sorted, bytes.length]) {
    if (steps.length > 0) steps.push(Script.delay(0))
    steps.push(Script.raw(bytes.subarray(from, at)))
    from = at
  }
  return steps
}

const encoder = new TextEncoder()

/** A prng for the other side's cuts, fixed by the same seed. */
const sdkPrng = (prng: Prng.Prng): Prng.Prng => Prng.make(prng.seed ^ 0x5d5d5d5d)

/** The mutation of `recording` that `prng` picks; with nothing picked, only the bytes are cut. */
export const mutate = (recording: Recording, prng: Prng.Prng, refusals: Refusals = {}): Mutation => {
  const notes: Array<string> = []
  const items: Array<Item> = [...recording.events]
  if (prng.chance(0.5)) unknownFields(recording.format, items, prng, notes)
  if (prng.chance(0.4)) unknownEvents(recording.format, items, prng, notes, refusals.unknownEvents === true)
  if (recording.format === "anthropic" && prng.chance(0.4)) unknownBlockParts(items, prng, notes)
  if (recording.format === "anthropic" && prng.chance(0.5)) pings(items, prng, notes)
  if (recording.format === "anthropic" && prng.chance(0.2)) earlierMessageDelta(items, notes)
  if (recording.format === "responses" && prng.chance(0.3)) unknownItem(items, notes)
  if (prng.chance(0.3)) comments(items, prng, notes)
  const eol = prng.pick(["\n", "\n", "\r\n", "\r\n", "\r"])
  const space = prng.chance(0.8)
  const bom = prng.chance(0.1)
  const framed = eol === "\n" && space && !bom
  const encode = (reins: boolean) =>
    // Unchanged events framed as recorded are served as recorded, byte for byte.
    notes.length === 0 && framed
      ? recording.body
      : encoder.encode(
        (bom ? "\uFEFF" : "") +
          encodeEvents(items.flatMap((item) => ("reinsOnly" in item ? (reins ? [item.reinsOnly] : []) : [item])), { eol, space })
      )
  const hidden = items.some((item) => "reinsOnly" in item)
  const forReins = encode(true)
  const forSdk = hidden ? encode(false) : forReins
  if (eol !== "\n") notes.push(eol === "\r\n" ? "CRLF line ends" : "CR line ends")
  if (!space) notes.push("no space after the colons")
  if (bom) notes.push("a byte order mark first")
  const cutNotes: Array<string> = []
  const steps = cut(forReins, prng, notes)
  const sdkSteps = hidden ? cut(forSdk, sdkPrng(prng), cutNotes) : steps
  if (hidden) notes.push(`the SDK's copy ${cutNotes.join("")}`)
  return { seed: prng.seed, description: notes, steps, sdkSteps }
}
