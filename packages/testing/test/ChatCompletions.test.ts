/**
 * The OpenAI-compatible dialects of Chat Completions tool calls, shown over real HTTP: how each
 * spells the deltas of two parallel calls, and that the calls' arguments are all in them.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ChatCompletions, ProviderServer } from "../src/index.js"
import { events, post, read, patient } from "./raw.js"

const calls = [
  { id: "call_a", name: "lookup", arguments: { city: "Zürich", unit: "celsius" }, chunkSize: 6 },
  { id: "call_b", name: "clock", arguments: { tz: "Asia/Tokyo" }, chunkSize: 6 }
]

/** The tool call deltas and the finish reason of a reply with both calls, as the server sent them. */
const played = (options: Partial<ChatCompletions.Reply>) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    server.enqueue(ChatCompletions.reply({ text: "Let me see.", toolCalls: calls, ...options }))
    const { bytes, end } = yield* Effect.promise(() => post(server).then((response) => read(response, patient)))
    expect(end).toBe("done")
    const chunks = events(bytes).filter((data) => data !== "[DONE]").map((data) => JSON.parse(data))
    const deltas: Array<any> = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])
    const finish = chunks.map((chunk) => chunk.choices[0]?.finish_reason).find((reason) => reason != null)
    return { deltas, finish }
  })

/** The calls' arguments in order: a delta that names a call starts the next one, unless it repeats the id of the one before. */
const argumentsInOrder = (deltas: ReadonlyArray<any>): Array<unknown> => {
  const read: Array<{ readonly id: unknown; text: string }> = []
  for (const delta of deltas) {
    const last = read.at(-1)
    if (delta.function?.name !== undefined && (last === undefined || delta.id === undefined || delta.id !== last.id)) read.push({ id: delta.id, text: "" })
    read.at(-1)!.text += delta.function?.arguments ?? ""
  }
  return read.map((call) => JSON.parse(call.text))
}

const expected = calls.map((call) => call.arguments)

describe("ChatCompletions tool call dialects", () => {
  it.scopedLive("openai: a distinct index per call; id, type and name on each call's first delta only", () =>
    Effect.gen(function*() {
      const { deltas, finish } = yield* played({})
      expect([...new Set(deltas.map((delta) => delta.index))]).toEqual([0, 1])
      expect(deltas.filter((delta) => delta.id !== undefined).map((delta) => delta.id)).toEqual(["call_a", "call_b"])
      expect(deltas.filter((delta) => delta.function.name !== undefined)).toHaveLength(2)
      expect(argumentsInOrder(deltas)).toEqual(expected)
      expect(finish).toBe("tool_calls")
    }))

  it.scopedLive("sameIndex: every delta at index 0, the calls told apart by their distinct ids", () =>
    Effect.gen(function*() {
      const { deltas } = yield* played({ toolCallDialect: "sameIndex" })
      expect(deltas.every((delta) => delta.index === 0)).toBe(true)
      expect(deltas.filter((delta) => delta.id !== undefined).map((delta) => delta.id)).toEqual(["call_a", "call_b"])
      expect(argumentsInOrder(deltas)).toEqual(expected)
    }))

  it.scopedLive("noIndex: no delta has an index", () =>
    Effect.gen(function*() {
      const { deltas } = yield* played({ toolCallDialect: "noIndex" })
      expect(deltas.length).toBeGreaterThan(2)
      expect(deltas.some((delta) => "index" in delta)).toBe(false)
      expect(deltas.filter((delta) => delta.id !== undefined).map((delta) => delta.id)).toEqual(["call_a", "call_b"])
      expect(argumentsInOrder(deltas)).toEqual(expected)
    }))

  it.scopedLive("repeatedHeader: id, type and name on every delta", () =>
    Effect.gen(function*() {
      const { deltas } = yield* played({ toolCallDialect: "repeatedHeader" })
      expect(deltas.length).toBeGreaterThan(4)
      expect(deltas.every((delta) => delta.id !== undefined && delta.type === "function" && delta.function.name !== undefined)).toBe(true)
      expect(new Set(deltas.map((delta) => `${delta.index} ${delta.id} ${delta.function.name}`)).size).toBe(2)
      expect(argumentsInOrder(deltas)).toEqual(expected)
    }))

  it.scopedLive("wholeArguments: one delta per call, holding the whole arguments", () =>
    Effect.gen(function*() {
      const { deltas } = yield* played({ toolCallDialect: "wholeArguments" })
      expect(deltas).toHaveLength(2)
      expect(deltas.map((delta) => [delta.index, delta.id, delta.function.name, JSON.parse(delta.function.arguments)])).toEqual(
        calls.map((call, i) => [i, call.id, call.name, call.arguments])
      )
    }))

  it.scopedLive("noId: no delta has an id", () =>
    Effect.gen(function*() {
      const { deltas } = yield* played({ toolCallDialect: "noId" })
      expect(deltas.some((delta) => "id" in delta)).toBe(false)
      expect(deltas.filter((delta) => delta.function.name !== undefined).map((delta) => delta.function.name)).toEqual(["lookup", "clock"])
      expect(argumentsInOrder(deltas)).toEqual(expected)
    }))

  it.scopedLive("finishReason stop: tool calls that end with finish_reason stop, not tool_calls", () =>
    Effect.gen(function*() {
      const { deltas, finish } = yield* played({ finishReason: "stop" })
      expect(argumentsInOrder(deltas)).toEqual(expected)
      expect(finish).toBe("stop")
    }))

  it.scopedLive("a call's own dialect wins over the reply's", () =>
    Effect.gen(function*() {
      const { deltas } = yield* played({ toolCallDialect: "noId", toolCalls: [{ ...calls[0], dialect: "openai" }, calls[1]] })
      expect(deltas.filter((delta) => delta.id !== undefined).map((delta) => delta.id)).toEqual(["call_a"])
    }))
})
