/**
 * A tool's own rules: what the model is told of it, how a call's arguments are decoded, how each
 * way a call goes wrong becomes an error result (bad JSON, arguments that do not match, a typed
 * failure, a defect, a handler past its timeout) while an interruption is left to the turn, how a
 * success is encoded, and which calls ask first.
 */
import { describe, expect, it } from "@effect/vitest"
import { Part, Tool } from "@reins/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"

class UnknownCity extends Schema.TaggedError<UnknownCity>()("UnknownCity", { city: Schema.String }) {}

const weather = Tool.make("weather", {
  description: "The temperature in a city, in degrees Celsius",
  parameters: Schema.Struct({ city: Schema.String, days: Schema.optional(Schema.Number) }),
  success: Schema.Number,
  failure: UnknownCity,
  handler: ({ city }) => city === "Paris" ? Effect.succeed(21) : Effect.fail(new UnknownCity({ city }))
})

const call = (name: string, args: string, id = "call_1") => Part.toolCall(id, name, args)

describe("Tool.make", () => {
  it("tells the model its name, description and the JSON Schema of its parameters, without $schema", () => {
    expect(weather.definition).toEqual({
      name: "weather",
      description: "The temperature in a city, in degrees Celsius",
      parameters: {
        type: "object",
        required: ["city"],
        properties: { city: { type: "string" }, days: { type: "number" } },
        additionalProperties: false
      }
    })
    expect(weather.definition.parameters).not.toHaveProperty("$schema")
  })

  it.effect("runs a call with its decoded arguments, and answers under the call's id and the tool's name", () =>
    Effect.gen(function*() {
      const result = yield* weather.run(call("weather", `{"city":"Paris"}`, "call_7"))
      expect(result).toMatchObject({ _tag: "ToolResult", toolCallId: "call_7", toolName: "weather", content: "21", isError: false })
    }))

  it.effect("reads empty arguments as {}", () =>
    Effect.gen(function*() {
      const ping = Tool.make("ping", { parameters: Schema.Struct({}), success: Schema.String, handler: () => Effect.succeed("pong") })
      expect((yield* ping.run(call("ping", ""))).content).toBe("pong")
      expect((yield* ping.run(call("ping", "  "))).content).toBe("pong")
    }))
})

describe("a call that goes wrong is an error result for the model", () => {
  const ran: Array<unknown> = []
  const recorded = Tool.make("recorded", {
    parameters: Schema.Struct({ city: Schema.String }),
    success: Schema.String,
    handler: (params) => Effect.sync(() => (ran.push(params), "done"))
  })

  it.effect("arguments that are not JSON, with the parser's message; the handler does not run", () =>
    Effect.gen(function*() {
      const result = yield* recorded.run(call("recorded", `{"city": "Par`))
      expect(result.isError).toBe(true)
      expect(result.content).toMatch(/^The arguments are not valid JSON: /)
      expect(ran).toEqual([])
    }))

  it.effect("arguments that do not match the parameters, with the decode message; the handler does not run", () =>
    Effect.gen(function*() {
      const result = yield* recorded.run(call("recorded", `{"city": 42}`))
      expect(result.isError).toBe(true)
      expect(result.content).toMatch(/^The arguments do not match the parameters: /)
      expect(result.content).toContain("city")
      expect(result.content).toContain("Expected string, actual 42")
      const missing = yield* recorded.run(call("recorded", `{}`))
      expect(missing.content).toContain("is missing")
      expect(ran).toEqual([])
    }))

  it.effect("a failure, encoded with the tool's failure Schema", () =>
    Effect.gen(function*() {
      const result = yield* weather.run(call("weather", `{"city":"Atlantis"}`))
      expect(result.isError).toBe(true)
      expect(JSON.parse(result.content as string)).toEqual({ _tag: "UnknownCity", city: "Atlantis" })
    }))

  it.effect("a failure of a tool without a failure Schema, as its text", () =>
    Effect.gen(function*() {
      const failing = Tool.make("failing", {
        parameters: Schema.Struct({}),
        success: Schema.String,
        handler: () => Effect.fail("the disk is full")
      })
      expect(yield* failing.run(call("failing", "{}"))).toMatchObject({ isError: true, content: "the disk is full" })
    }))

  it.effect("a defect, as the first line of its cause", () =>
    Effect.gen(function*() {
      const broken = Tool.make("broken", { parameters: Schema.Struct({}), success: Schema.String, handler: () => Effect.die(new Error("boom")) })
      const result = yield* broken.run(call("broken", "{}"))
      expect(result.isError).toBe(true)
      expect(result.content).toMatch(/^The tool failed: Error: boom/)
    }))

  it.effect("a handler past its timeout is interrupted, and the model told how long it had", () =>
    Effect.gen(function*() {
      let finalized = false
      const slow = Tool.make("slow", {
        parameters: Schema.Struct({}),
        success: Schema.String,
        timeout: "5 seconds",
        handler: () => Effect.as(Effect.sleep("1 minute"), "late").pipe(Effect.ensuring(Effect.sync(() => void (finalized = true))))
      })
      const fiber = yield* Effect.fork(slow.run(call("slow", "{}")))
      yield* TestClock.adjust("4999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      expect(result).toMatchObject({ isError: true, content: "The tool did not finish within 5s." })
      expect(finalized).toBe(true)
    }))

  it.effect("a handler within its timeout answers", () =>
    Effect.gen(function*() {
      const prompt = Tool.make("prompt", {
        parameters: Schema.Struct({}),
        success: Schema.String,
        timeout: "5 seconds",
        handler: () => Effect.as(Effect.sleep("4 seconds"), "in time")
      })
      const fiber = yield* Effect.fork(prompt.run(call("prompt", "{}")))
      yield* TestClock.adjust("4 seconds")
      expect(yield* Fiber.join(fiber)).toMatchObject({ isError: false, content: "in time" })
    }))

  it.effect("but an interruption is not caught: the turn records interrupted calls itself", () =>
    Effect.gen(function*() {
      const hold = Tool.make("hold", { parameters: Schema.Struct({}), success: Schema.String, handler: () => Effect.never })
      const fiber = yield* Effect.fork(hold.run(call("hold", "{}")))
      yield* Effect.yieldNow()
      expect(Exit.isInterrupted(yield* Fiber.interrupt(fiber))).toBe(true)
    }))
})

describe("a success as the model gets it", () => {
  const returning = <A, I>(success: Schema.Schema<A, I>, value: A) =>
    Tool.make("returning", { parameters: Schema.Struct({}), success, handler: () => Effect.succeed(value) })

  it.effect("text as it is, a number or boolean as JSON text, an object or array as one JSON part, encoded", () =>
    Effect.gen(function*() {
      expect((yield* returning(Schema.String, "12:00").run(call("returning", "{}"))).content).toBe("12:00")
      expect((yield* returning(Schema.Number, 42).run(call("returning", "{}"))).content).toBe("42")
      expect((yield* returning(Schema.Boolean, true).run(call("returning", "{}"))).content).toBe("true")
      const when = returning(Schema.Struct({ at: Schema.DateFromString }), { at: new Date("2026-01-02T03:04:05.000Z") })
      expect((yield* when.run(call("returning", "{}"))).content).toEqual([Part.json({ at: "2026-01-02T03:04:05.000Z" })])
      expect((yield* returning(Schema.Array(Schema.Number), [1, 2]).run(call("returning", "{}"))).content).toEqual([Part.json([1, 2])])
    }))

  it.effect("the parts of a Content tool as they are", () =>
    Effect.gen(function*() {
      const parts = [Part.text("The page:"), Part.imageData("iVBORw0KGgo=", "image/png")]
      expect((yield* returning(Tool.Content, parts).run(call("returning", "{}"))).content).toEqual(parts)
    }))
})

describe("needsApproval", () => {
  const transfer = (needsApproval?: boolean | ((params: { readonly amount: number }) => boolean)) =>
    Tool.make("transfer", {
      parameters: Schema.Struct({ amount: Schema.Number }),
      success: Schema.String,
      ...(needsApproval !== undefined ? { needsApproval } : {}),
      handler: () => Effect.succeed("sent")
    })

  it("asks for no call by default, or for false; for every call with true", () => {
    expect(transfer().needsApproval(call("transfer", `{"amount":5}`))).toBe(false)
    expect(transfer(false).needsApproval(call("transfer", `{"amount":5}`))).toBe(false)
    expect(transfer(true).needsApproval(call("transfer", `{"amount":5}`))).toBe(true)
    expect(transfer(true).needsApproval(call("transfer", `not json`))).toBe(true)
  })

  it("with a predicate, for the calls whose decoded arguments it picks; never for arguments that do not decode", () => {
    const large = transfer(({ amount }) => amount > 100)
    expect(large.needsApproval(call("transfer", `{"amount":5}`))).toBe(false)
    expect(large.needsApproval(call("transfer", `{"amount":500}`))).toBe(true)
    expect(large.needsApproval(call("transfer", `{"amount":"500"}`))).toBe(false)
    expect(large.needsApproval(call("transfer", `{"amount":`))).toBe(false)
  })
})
