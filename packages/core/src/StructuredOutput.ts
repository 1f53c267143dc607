/**
 * Replies as JSON that a Schema decodes: the output format a request asks for, the JSON Schema
 * derived from an `effect/Schema`, the partial values of a reply still streaming, and the typed
 * error of a reply that does not decode. `LanguageModel.generateObject` and
 * `LanguageModel.streamObject` are built on it.
 *
 * The format and the schema checks are plain data and functions, so that the encoders that put
 * them on the wire stay free of Effect.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as JSONSchema from "effect/JSONSchema"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Allow, parse as parsePartialJson } from "partial-json"

/**
 * What the reply is to be: free text, or JSON. JSON with a `schema` asks the provider's JSON Schema
 * mode; without one, its JSON mode (any JSON object). `name` and `description` tell the model what
 * the object is for. `strict` (OpenAI) is on by default where the schema meets strict mode's rules,
 * and `false` turns it off.
 */
export type ResponseFormat =
  | { readonly type: "text" }
  | {
    readonly type: "json"
    readonly schema?: Record<string, unknown> | undefined
    readonly name?: string | undefined
    readonly description?: string | undefined
    readonly strict?: boolean | undefined
  }

/** The JSON format of a `json` response format. */
export type JsonFormat = Extract<ResponseFormat, { readonly type: "json" }>

/** The name a format goes by when none is given. */
export const defaultName = "output"

/** Characters outside the `^[a-zA-Z0-9_-]{1,64}$` that OpenAI gives a format's name. */
const NOT_NAME = /[^a-zA-Z0-9_-]/g

/** A format name in the pattern OpenAI requires of `json_schema.name`. */
export const formatName = (name: string | undefined): string =>
  (name ?? defaultName).replace(NOT_NAME, "_").slice(0, 64) || defaultName

/**
 * The JSON Schema of a Schema's encoded side, as providers take it: without the `$schema` key that
 * some of them reject.
 */
export const jsonSchema = <A, I, R>(schema: Schema.Schema<A, I, R>): Record<string, unknown> => {
  const { $schema: _, ...rest } = JSONSchema.make(schema) as unknown as Record<string, unknown>
  return rest
}

/**
 * The JSON response format for a Schema, its JSON Schema from `JSONSchema.make`.
 *
 * @example
 * ```ts
 * import { LanguageModel, Message, StructuredOutput } from "@reins/core"
 * import { Schema } from "effect"
 *
 * const Person = Schema.Struct({ name: Schema.String, born: Schema.Number })
 *
 * // A request of any kind (a turn's, say) can ask for JSON itself.
 * const chunks = LanguageModel.stream({
 *   messages: [Message.user("Who wrote the first published program?")],
 *   responseFormat: StructuredOutput.format(Person, { name: "person" })
 * })
 * ```
 */
export const format = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  options?: { readonly name?: string | undefined; readonly description?: string | undefined; readonly strict?: boolean | undefined }
): JsonFormat => ({
  type: "json",
  schema: jsonSchema(schema),
  name: options?.name,
  description: options?.description,
  strict: options?.strict
})

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * The keywords OpenAI's strict mode supports; a schema with any other cannot be strict.
 * Source: https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
 */
const STRICT_KEYWORDS = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "enum",
  "const",
  "anyOf",
  "$ref",
  "$defs",
  "definitions",
  "description",
  "title",
  "pattern",
  "format",
  "multipleOf",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "minItems",
  "maxItems"
])

/** The problem that keeps a schema node from strict mode, if any. */
const strictProblem = (node: unknown, path: string): string | undefined => {
  if (typeof node === "boolean") return `${path} is a boolean schema`
  if (!isObject(node)) return `${path} is not a schema`
  for (const key in node) if (!STRICT_KEYWORDS.has(key)) return `${path} uses ${key}`
  if (isObject(node.properties) || node.type === "object") {
    // Rule: "all fields must be required" and "additionalProperties: false must always be set in
    // objects".
    // Source: https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
    if (node.additionalProperties !== false) return `${path} does not set additionalProperties to false`
    const properties = isObject(node.properties) ? Object.keys(node.properties) : []
    const required = new Set(Array.isArray(node.required) ? node.required : [])
    const optional = properties.find((name) => !required.has(name))
    if (optional !== undefined) return `${path}.${optional} is optional`
  }
  const children: Array<[string, unknown]> = []
  if (isObject(node.properties)) for (const name in node.properties) children.push([`${path}.${name}`, node.properties[name]])
  if (node.items !== undefined) children.push([`${path}[]`, node.items])
  if (Array.isArray(node.anyOf)) node.anyOf.forEach((variant, i) => children.push([`${path}.anyOf[${i}]`, variant]))
  for (const key of ["$defs", "definitions"] as const) {
    const defs = node[key]
    if (isObject(defs)) for (const name in defs) children.push([`#/${key}/${name}`, defs[name]])
  }
  for (const [at, child] of children) {
    const problem = strictProblem(child, at)
    if (problem !== undefined) return problem
  }
  return undefined
}

/**
 * Why a JSON Schema cannot be sent in OpenAI's strict mode, or `undefined` when it can: the root is
 * an object, every object lists all its properties as required and sets `additionalProperties:
 * false`, and no keyword is outside the supported subset. A Schema with optional fields, records or
 * length limits is sent non-strict instead, which the API validates less but accepts.
 * Source: https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
 */
export const strictProblems = (schema: Record<string, unknown>): string | undefined => {
  // Rule: "the root level object of a schema must be an object, and not use anyOf".
  // Source: https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
  if (schema.type !== "object") return "the root is not an object"
  return strictProblem(schema, "$")
}

/** Whether a format is sent in OpenAI's strict mode: asked for (or not refused) and possible. */
export const isStrict = (format: JsonFormat): boolean =>
  format.schema !== undefined && format.strict !== false && strictProblems(format.schema) === undefined

/**
 * An instruction that asks for JSON in a format's shape, for JSON modes that take no schema (the
 * model must be told what to write, or it may write any object).
 */
export const instruction = (format: JsonFormat): string => {
  const what = format.description !== undefined ? ` (${format.description})` : ""
  return format.schema === undefined
    ? `Reply with one JSON object${what} and nothing else.`
    : `Reply with one JSON object${what} that matches this JSON Schema, and nothing else:\n${JSON.stringify(format.schema)}`
}

/**
 * What of a JSON text still being written can be read so far: complete values, and the strings,
 * arrays and objects still open, cut where the text ends. A number at the very end is left out, as
 * its next digit would change it; `undefined` while there is nothing to read yet.
 *
 * Built on `partial-json`, which parses JSON prefixes exactly so.
 *
 * @example
 * ```ts
 * import { StructuredOutput } from "@reins/core"
 *
 * assert.deepStrictEqual(StructuredOutput.partial("{\"name\": \"Ad"), { name: "Ad" })
 * assert.deepStrictEqual(StructuredOutput.partial("{\"name\": \"Ada\", \"born\": 18"), { name: "Ada" })
 * ```
 */
export const partial = (text: string): unknown => {
  if (text.trim() === "") return undefined
  try {
    return parsePartialJson(text, Allow.STR | Allow.ARR | Allow.OBJ | Allow.NULL | Allow.BOOL)
  } catch {
    return undefined
  }
}

/** A value whose object fields, at any depth, may be missing: what a partial reply holds. */
export type DeepPartial<T> = T extends ReadonlyArray<infer E> ? ReadonlyArray<DeepPartial<E>>
  : T extends object ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
  : T

/**
 * The reply was not JSON, or not JSON that the Schema decodes. `text` is the reply as received,
 * `issue` what was wrong with it.
 */
export class MalformedOutput extends Data.TaggedError("MalformedOutput")<{
  readonly provider: string
  /** The reply's text as received. */
  readonly text: string
  /** Why it does not decode: the JSON syntax error, or the Schema's parse issue. */
  readonly issue: string
  readonly cause?: unknown
}> {
  override get message() {
    return `${this.provider}: the reply does not decode: ${this.issue}`
  }
}

/**
 * Decodes a reply's text with a Schema, as JSON; a `MalformedOutput` carrying the text otherwise.
 *
 * @example
 * ```ts
 * import { StructuredOutput } from "@reins/core"
 * import { Effect, Schema } from "effect"
 *
 * const Person = Schema.Struct({ name: Schema.String, born: Schema.Number })
 *
 * const ada = Effect.runSync(StructuredOutput.decode(Person, "openai", "{\"name\":\"Ada\",\"born\":1815}"))
 * assert.deepStrictEqual(ada, { name: "Ada", born: 1815 })
 * const error = Effect.runSync(Effect.flip(StructuredOutput.decode(Person, "openai", "Ada, 1815")))
 * assert.strictEqual(error.text, "Ada, 1815")
 * ```
 */
export const decode = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  provider: string,
  text: string
): Effect.Effect<A, MalformedOutput, R> =>
  Schema.decodeUnknown(Schema.parseJson(schema))(text).pipe(
    Effect.mapError((error) =>
      new MalformedOutput({ provider, text, issue: ParseResult.TreeFormatter.formatErrorSync(error), cause: error })
    )
  )
