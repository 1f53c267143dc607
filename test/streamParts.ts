/**
 * The contract every decoder's stream keeps, checked on the parts it emitted: each text, reasoning
 * and tool-call part starts once under an id unique within the response, its deltas (never empty)
 * come between its start and its end, and every part that started has ended before `Finish`, after
 * which nothing comes. A stream cut short (`finished: false`) may leave parts open.
 */
import type { StreamPart } from "@reins/core"
import { expect } from "vitest"

type Kind = "Text" | "Reasoning" | "ToolCall"

const kindOf = (part: StreamPart.StreamPart): [Kind, "start" | "delta" | "end"] | undefined => {
  switch (part._tag) {
    case "TextStart":
      return ["Text", "start"]
    case "TextDelta":
      return ["Text", "delta"]
    case "TextEnd":
      return ["Text", "end"]
    case "ReasoningStart":
      return ["Reasoning", "start"]
    case "ReasoningDelta":
      return ["Reasoning", "delta"]
    case "ReasoningEnd":
      return ["Reasoning", "end"]
    case "ToolCallStart":
      return ["ToolCall", "start"]
    case "ToolCallDelta":
      return ["ToolCall", "delta"]
    case "ToolCallEnd":
      return ["ToolCall", "end"]
    default:
      return undefined
  }
}

/** Fails unless `parts` keep the part contract; returns the started parts' ids by kind, in order. */
export const expectWellFormed = (
  parts: ReadonlyArray<StreamPart.StreamPart>,
  options: { readonly finished?: boolean } = {}
): Record<Kind, Array<string>> => {
  const open = new Set<string>()
  const seen = new Set<string>()
  const started: Record<Kind, Array<string>> = { Text: [], Reasoning: [], ToolCall: [] }
  let finished = false
  parts.forEach((part, i) => {
    const where = `part ${i} (${JSON.stringify(part)})`
    expect(finished, `${where} after Finish`).toBe(false)
    if (part._tag === "Finish") {
      expect([...open], `parts still open at Finish`).toEqual([])
      finished = true
      return
    }
    const kind = kindOf(part)
    if (kind === undefined) return
    const key = `${kind[0]}:${(part as { readonly id: string }).id}`
    switch (kind[1]) {
      case "start":
        expect(seen.has(key), `${where} starts an id already used`).toBe(false)
        seen.add(key)
        open.add(key)
        started[kind[0]].push((part as { readonly id: string }).id)
        return
      case "delta": {
        expect(open.has(key), `${where} extends a part that is not open`).toBe(true)
        const text = part._tag === "ToolCallDelta" ? part.delta : (part as StreamPart.TextDelta).text
        expect(text, `${where} is empty`).not.toBe("")
        return
      }
      case "end":
        expect(open.has(key), `${where} ends a part that is not open`).toBe(true)
        open.delete(key)
    }
  })
  if (options.finished ?? true) expect(finished, "the stream has no Finish").toBe(true)
  return started
}
