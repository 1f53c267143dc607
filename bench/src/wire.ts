/**
 * The wire formats the benchmarks speak, as the ProviderServer plays them: a streamed text reply,
 * a stream that sends one text delta and then falls silent, the model's three steps of an agent
 * turn, and the least a hand-written client must do to pick the text out of an event. The
 * formats' ids, names, routes and replies come from `@reins/testing`'s `Formats`, whose layers load
 * their client code only when built, so the server thread loads none.
 */
import { Formats, Script } from "@reins/testing"

/** The formats, by the id clients declare. */
export type FormatId = Formats.Id

/** A tool call the scripted model makes in a turn. */
export interface Call {
  readonly id: string
  readonly key: string
}

/** One model step of a turn: tool calls, or the final answer. */
export type Step = { readonly calls: ReadonlyArray<Call> } | { readonly text: string }

/** The model every client asks for. */
export const model = "bench"

/** One wire format. */
export interface WireFormat {
  readonly id: FormatId
  readonly name: string
  /** The format in `@reins/testing`'s registry. */
  readonly format: Formats.Format
  /** The request path from the server's root, as the clients call it. */
  readonly path: string
  /** A reply streaming `text` in deltas of `chunkSize` code points. */
  readonly reply: (text: string, chunkSize: number) => Script.Script
  /** One text delta, then silence until the client goes away: a model thinking. */
  readonly stalled: () => Script.Script
  /** The model's answer for one step of a turn (formats without tool-calling peers have none). */
  readonly step?: (step: Step) => Script.Script
  /** The text in one event's JSON, as a hand-written client would pick it out. */
  readonly textOf: (json: any) => string | undefined
}

/** The tool every turn offers: it looks a key up and always finds the same value. */
export const tool = {
  name: "lookup" as const,
  description: "Looks a key up",
  result: "42",
  parameters: { type: "object" as const, properties: { key: { type: "string" } }, required: ["key"], additionalProperties: false }
}

/** The turn the scripted model plays: two calls at once, then one more, then the answer. */
export const turn: ReadonlyArray<Step> = [
  { calls: [{ id: "call_1", key: "a" }, { id: "call_2", key: "b" }] },
  { calls: [{ id: "call_3", key: "c" }] },
  { text: "The values are 42, 42 and 42." }
]

/** The final text of `turn`. */
export const turnAnswer = "The values are 42, 42 and 42."

/** Every format's long reply spells out this text. */
export const text = (deltas: number) => "token ".repeat(deltas)

/** The text of the short reply (time to first delta). */
export const shortText = "Hello! Here is a short answer, in a few deltas."

const toolCalls = (calls: ReadonlyArray<Call>): ReadonlyArray<Formats.ToolCall> =>
  calls.map((call) => ({ id: call.id, name: tool.name, arguments: { key: call.key } }))

/** The reply for one step of a turn in `format`. */
const stepOf = (format: Formats.Format) => (step: Step): Script.Script =>
  "text" in step ? format.reply({ text: step.text }) : format.reply({ toolCalls: toolCalls(step.calls) })

/** The id, name, route and registry entry of a format. */
const fromRegistry = (format: Formats.Format) => ({ id: format.id, name: format.name, format, path: format.route(model) })

/**
 * The real Responses API numbers every event (`sequence_number`) and sends the whole response
 * object in the lifecycle events; `@effect/ai-openai` decodes them strictly and skips events
 * without these fields, so the scripts carry them as the API does.
 */
const responseFields = { instructions: null, tools: [], tool_choice: "auto", parallel_tool_calls: true, metadata: {}, temperature: 1, top_p: 1 }
const asTheApiSends = (script: Script.Script): Script.Script => {
  let sequence = 0
  const steps = script.steps.map((step) => {
    if (step._tag !== "Event") return step
    const json = JSON.parse(step.data)
    json.sequence_number = sequence++
    if (json.response !== undefined) json.response = { ...responseFields, ...json.response }
    return Script.event(json, { event: json.type })
  })
  return { ...script, steps }
}

/** The formats, in table order. */
export const all: ReadonlyArray<WireFormat> = [
  {
    ...fromRegistry(Formats.chat),
    reply: (text, chunkSize) => Formats.chat.reply({ text, chunkSize }),
    stalled: () => Script.make([...Formats.chat.start(), ...Formats.chat.text("Hmm."), Script.stall()]),
    step: stepOf(Formats.chat),
    textOf: (json) => json.choices?.[0]?.delta?.content
  },
  {
    ...fromRegistry(Formats.responses),
    reply: (text, chunkSize) => asTheApiSends(Formats.responses.reply({ text, chunkSize })),
    stalled: () => {
      const start = Formats.responses.reply({ text: "Hmm." }).steps.slice(0, 5) // created ... the first text delta
      return asTheApiSends(Script.make([...start, Script.stall()]))
    },
    step: (step) => asTheApiSends(stepOf(Formats.responses)(step)),
    textOf: (json) => json.type === "response.output_text.delta" ? json.delta : undefined
  },
  {
    ...fromRegistry(Formats.messages),
    reply: (text, chunkSize) => Formats.messages.reply({ text, chunkSize }),
    stalled: () => {
      const start = Formats.messages.reply({ text: "Hmm." }).steps.slice(0, 4) // message_start ... the first text delta
      return Script.make([...start, Script.stall()])
    },
    step: stepOf(Formats.messages),
    textOf: (json) => json.type === "content_block_delta" && json.delta.type === "text_delta" ? json.delta.text : undefined
  },
  {
    ...fromRegistry(Formats.gemini),
    reply: (text, chunkSize) => Formats.gemini.reply({ text, chunkSize }),
    stalled: () => Script.make([Formats.gemini.reply({ text: "Hmm." }).steps[0], Script.stall()]),
    textOf: (json) => {
      let out: string | undefined
      for (const part of json.candidates?.[0]?.content?.parts ?? []) {
        if (typeof part.text === "string" && part.thought !== true) out = (out ?? "") + part.text
      }
      return out
    }
  }
]

/** The format with `id`. */
export const byId = (id: FormatId): WireFormat => all.find((format) => format.id === id)!

/** The format a request path belongs to. */
export const byPath = (path: string): WireFormat | undefined => {
  const format = Formats.byPath(path)
  return format === undefined ? undefined : byId(format.id)
}

/** A script's bytes, encoded once so that the server only writes them. */
export const encode = (script: Script.Script): string => script.steps.map((step) => Script.encode(step) ?? "").join("")
