/**
 * A toolkit's own rules: tools looked up by name, a call for a tool it does not have answered with
 * an error result that lists the tools it does have, the definitions the model is told in the
 * order given, and names that must be unique.
 */
import { describe, expect, it } from "@effect/vitest"
import { Part, Tool, Toolkit } from "@reins/core"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

const clock = Tool.make("clock", {
  description: "The current time in an IANA time zone",
  parameters: Schema.Struct({ tz: Schema.String }),
  success: Schema.String,
  handler: ({ tz }) => Effect.succeed(`12:00 in ${tz}`)
})

const add = Tool.make("add", {
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number,
  handler: ({ a, b }) => Effect.succeed(a + b)
})

describe("Toolkit", () => {
  it("finds its tools by name", () => {
    const toolkit = Toolkit.make(clock, add)
    expect(toolkit.tools).toEqual([clock, add])
    expect(toolkit.byName.get("clock")).toBe(clock)
    expect(toolkit.byName.get("add")).toBe(add)
    expect(toolkit.byName.get("calendar")).toBeUndefined()
  })

  it.effect("runs a call with the tool it names", () =>
    Effect.gen(function*() {
      const toolkit = Toolkit.make(clock, add)
      expect(yield* Toolkit.run(toolkit, Part.toolCall("call_1", "add", `{"a":2,"b":3}`))).toMatchObject({
        toolCallId: "call_1",
        toolName: "add",
        content: "5",
        isError: false
      })
      expect((yield* Toolkit.run(toolkit, Part.toolCall("call_2", "clock", `{"tz":"Asia/Tokyo"}`))).content).toBe("12:00 in Asia/Tokyo")
    }))

  it.effect("answers a call for a tool it does not have with an error result naming the tools it has", () =>
    Effect.gen(function*() {
      const result = yield* Toolkit.run(Toolkit.make(clock, add), Part.toolCall("call_1", "calendar", "{}"))
      expect(result).toMatchObject({
        toolCallId: "call_1",
        toolName: "calendar",
        isError: true,
        content: `Unknown tool "calendar". Available tools: clock, add.`
      })
      const none = yield* Toolkit.run(Toolkit.empty, Part.toolCall("call_2", "clock", "{}"))
      expect(none.content).toBe(`Unknown tool "clock". Available tools: none.`)
    }))

  it("tells the model each tool's definition, in the order given", () => {
    expect(Toolkit.make(add, clock).definitions).toEqual([add.definition, clock.definition])
    expect(Toolkit.make(clock).definitions).toEqual([{
      name: "clock",
      description: "The current time in an IANA time zone",
      parameters: { type: "object", required: ["tz"], properties: { tz: { type: "string" } }, additionalProperties: false }
    }])
    expect(Toolkit.empty.definitions).toEqual([])
    expect(Toolkit.empty.tools).toEqual([])
  })

  it("refuses two tools of the same name", () => {
    const other = Tool.make("clock", { parameters: Schema.Struct({}), success: Schema.String, handler: () => Effect.succeed("") })
    expect(() => Toolkit.make(clock, other)).toThrow(`Toolkit.make: two tools are named "clock"`)
  })
})
