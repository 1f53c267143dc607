import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as StructuredOutput from "../src/StructuredOutput.js"

describe("StructuredOutput", () => {
  it("reads a JSON prefix: open strings and containers as far as they go, never a number still being written", () => {
    const text = "{\"name\": \"Ada Lovelace\", \"age\": 36, \"tags\": [\"mathematician\"]}"
    const reads = Array.from({ length: text.length + 1 }, (_, i) => StructuredOutput.partial(text.slice(0, i)))
    expect(reads[0]).toBeUndefined()
    expect(StructuredOutput.partial("{\"name\": \"Ad")).toEqual({ name: "Ad" })
    expect(StructuredOutput.partial("{\"name\": \"Ada\", \"age\": 3")).toEqual({ name: "Ada" })
    expect(StructuredOutput.partial("{\"name\": \"Ada\", \"ok\": tr")).toEqual({ name: "Ada", ok: true })
    expect(StructuredOutput.partial("{\"tags\": [\"a\", \"b")).toEqual({ tags: ["a", "b"] })
    expect(StructuredOutput.partial("not json")).toBeUndefined()
    expect(reads[reads.length - 1]).toEqual(JSON.parse(text))
  })

  it("says why a schema cannot be strict, and nothing for one that can", () => {
    const strict = StructuredOutput.jsonSchema(Schema.Struct({ a: Schema.String, b: Schema.Array(Schema.Struct({ c: Schema.Number })) }))
    expect(strict.$schema).toBeUndefined()
    expect(StructuredOutput.strictProblems(strict)).toBeUndefined()
    const problem = (schema: Schema.Schema<any, any>) => StructuredOutput.strictProblems(StructuredOutput.jsonSchema(schema))
    expect(problem(Schema.Struct({ a: Schema.optional(Schema.String) }))).toBe("$.a is optional")
    expect(problem(Schema.Struct({ a: Schema.String.pipe(Schema.minLength(1)) }))).toBe("$.a uses minLength")
    expect(problem(Schema.Record({ key: Schema.String, value: Schema.Number }))).toBe("$ does not set additionalProperties to false")
    expect(problem(Schema.Array(Schema.String))).toBe("the root is not an object")
    expect(StructuredOutput.isStrict({ type: "json", schema: strict, strict: false })).toBe(false)
    expect(StructuredOutput.isStrict({ type: "json", schema: strict })).toBe(true)
  })

  it("names formats in the pattern OpenAI requires", () => {
    expect(StructuredOutput.formatName(undefined)).toBe("output")
    expect(StructuredOutput.formatName("a person!")).toBe("a_person_")
    expect(StructuredOutput.formatName("x".repeat(80))).toHaveLength(64)
  })

  it.effect("decodes with the Schema, or fails with the text and the issue", () =>
    Effect.gen(function*() {
      const Person = Schema.Struct({ name: Schema.String, born: Schema.DateFromString })
      const value = yield* StructuredOutput.decode(Person, "p", "{\"name\":\"Ada\",\"born\":\"1815-12-10\"}")
      expect(value.born).toBeInstanceOf(Date)
      const error = yield* Effect.flip(StructuredOutput.decode(Person, "p", "{\"name\":1}"))
      expect(error).toMatchObject({ _tag: "MalformedOutput", provider: "p", text: "{\"name\":1}" })
      expect(error.issue).toMatch(/name[\s\S]*Expected string/)
      expect(error.message).toMatch(/^p: the reply does not decode/)
    }))
})
