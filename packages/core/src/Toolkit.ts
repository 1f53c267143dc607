/**
 * A set of tools offered to the model together, looked up by name when the model calls one.
 */
import * as Effect from "effect/Effect"
import type { ToolDefinition } from "./LanguageModel.js"
import * as Message from "./Message.js"
import type * as Part from "./Part.js"
import type * as Tool from "./Tool.js"

/** Tools by name, with what the model is told about them. */
export interface Toolkit<in out Tools extends ReadonlyArray<Tool.Any>> {
  readonly tools: Tools
  readonly definitions: ReadonlyArray<ToolDefinition>
  readonly byName: ReadonlyMap<string, Tool.Any>
}

/** The requirements of every handler in a toolkit. */
export type Requirements<T> = T extends Toolkit<infer Tools> ? Tool.Requirements<Tools[number]> : never

/**
 * Groups tools; names must be unique.
 *
 * @example
 * ```ts
 * import { Part, Tool, Toolkit } from "@reins/core"
 * import { Effect, Schema } from "effect"
 *
 * const clock = Tool.make("clock", {
 *   description: "The current time in an IANA time zone",
 *   parameters: Schema.Struct({ tz: Schema.String }),
 *   success: Schema.String,
 *   handler: ({ tz }) => Effect.sync(() => new Date().toLocaleTimeString("en-GB", { timeZone: tz }))
 * })
 *
 * // `Turn.run({ conversation, input, toolkit })` offers the tools and runs those the model calls.
 * const toolkit = Toolkit.make(clock)
 *
 * // A call for a tool that is not in the kit is an error result for the model, not a failure.
 * const result = Effect.runSync(Toolkit.run(toolkit, Part.toolCall("call_1", "calendar", "{}")))
 * assert.strictEqual(result.isError, true)
 * ```
 */
export const make = <const Tools extends ReadonlyArray<Tool.Any>>(...tools: Tools): Toolkit<Tools> => {
  const byName = new Map<string, Tool.Any>()
  for (const tool of tools) {
    if (byName.has(tool.name)) throw new Error(`Toolkit.make: two tools are named "${tool.name}"`)
    byName.set(tool.name, tool)
  }
  return { tools, definitions: tools.map((tool) => tool.definition), byName }
}

/** A toolkit with no tools. */
export const empty: Toolkit<readonly []> = make()

/** Runs a call with the tool it names; an unknown name is an error result for the model. */
export const run = <Tools extends ReadonlyArray<Tool.Any>>(
  toolkit: Toolkit<Tools>,
  call: Part.ToolCall
): Effect.Effect<Message.ToolResult, never, Tool.Requirements<Tools[number]>> => {
  const tool = toolkit.byName.get(call.name)
  if (tool === undefined) {
    const known = [...toolkit.byName.keys()].join(", ") || "none"
    return Effect.succeed(
      Message.toolResult({ toolCallId: call.id, toolName: call.name, content: `Unknown tool "${call.name}". Available tools: ${known}.`, isError: true })
    )
  }
  return tool.run(call)
}
