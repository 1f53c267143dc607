/**
 * A tool the model can call: its parameters and results are Schemas, its handler an Effect. The JSON
 * Schema sent to providers is derived from the parameter Schema, and every way a call can go wrong
 * (bad JSON, arguments that do not match, a failing or slow handler) becomes an error result that
 * goes back to the model instead of ending the turn.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { ToolDefinition } from "./LanguageModel.js"
import * as Message from "./Message.js"
import * as Part from "./Part.js"
import * as StructuredOutput from "./StructuredOutput.js"

/** Marks the `Content` schema, so that a tool whose `success` is it returns its parts as they are. */
const ContentId: unique symbol = Symbol.for("@reins/core/Tool/Content")

/**
 * A tool result of parts (text, images, JSON), for a tool that shows the model what it found rather
 * than describing it: use it as the tool's `success` schema.
 *
 * @example
 * ```ts
 * import { Part, Tool } from "@reins/core"
 * import { Effect, Schema } from "effect"
 *
 * const png = "iVBORw0KGgo=" // the image's bytes, base64
 * const screenshot = Tool.make("screenshot", {
 *   parameters: Schema.Struct({ url: Schema.String }),
 *   success: Tool.Content,
 *   handler: ({ url }) => Effect.succeed([Part.text(`The page at ${url}:`), Part.imageData(png, "image/png")])
 * })
 * ```
 */
export const Content: Schema.Schema<ReadonlyArray<Part.ToolResultPart>> = Schema.Array(Part.ToolResultPart).annotations({
  [ContentId]: true,
  identifier: "ToolResultContent"
})

const isContent = (schema: Schema.Schema<any, any>): boolean => schema.ast.annotations[ContentId] === true

/** What every tool offers, whatever its types: a name, its definition, and a way to run a call. */
export interface Any {
  readonly name: string
  /** What the model is told about the tool. */
  readonly definition: ToolDefinition
  /**
   * Runs one call. Never fails: every problem becomes an error result for the model. Interruption
   * is not caught; the turn records interrupted calls itself.
   */
  readonly run: (call: Part.ToolCall) => Effect.Effect<Message.ToolResult, never, any>
  /** Whether this call must be approved before it runs (see `Approval`). */
  readonly needsApproval: (call: Part.ToolCall) => boolean
}

/** A tool with parameter type `P`, result `A`, typed failure `E` and requirements `R`. */
export interface Tool<P, A, E, R> extends Any {
  readonly description: string | undefined
  readonly parameters: Schema.Schema<P, any>
  readonly success: Schema.Schema<A, any>
  readonly failure: Schema.Schema<E, any> | undefined
  readonly timeout: Duration.Duration | undefined
  readonly handler: (params: P) => Effect.Effect<A, E, R>
  readonly run: (call: Part.ToolCall) => Effect.Effect<Message.ToolResult, never, R>
}

/** The requirements of a tool's handler. */
export type Requirements<T> = T extends { readonly run: (call: Part.ToolCall) => Effect.Effect<any, any, infer R> } ? R
  : never

/** What a tool is made of: its schemas, its limits and its handler. */
export interface Options<P, PI, A, AI, E, EI, R> {
  readonly description?: string | undefined
  readonly parameters: Schema.Schema<P, PI>
  readonly success: Schema.Schema<A, AI>
  readonly failure?: Schema.Schema<E, EI> | undefined
  /** Longer than this, the call is interrupted and reported to the model as timed out. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Ask before running: always, or for the calls whose arguments the predicate picks. A call
   * whose arguments do not decode never runs, so it is not asked about.
   */
  readonly needsApproval?: boolean | ((params: P) => boolean) | undefined
  readonly handler: (params: P) => Effect.Effect<A, E, R>
}

/**
 * Defines a tool.
 *
 * @example
 * ```ts
 * import { Tool } from "@reins/core"
 * import { Effect, Schema } from "effect"
 *
 * class UnknownCity extends Schema.TaggedError<UnknownCity>()("UnknownCity", { city: Schema.String }) {}
 *
 * // A failure with a `failure` Schema goes back to the model as that Schema's JSON; one slower than
 * // `timeout` is interrupted and reported as timed out. Neither ends the turn.
 * const weather = Tool.make("weather", {
 *   description: "The temperature in a city, in degrees Celsius",
 *   parameters: Schema.Struct({ city: Schema.String }),
 *   success: Schema.Number,
 *   failure: UnknownCity,
 *   timeout: "5 seconds",
 *   handler: ({ city }) => city === "Paris" ? Effect.succeed(21) : Effect.fail(new UnknownCity({ city }))
 * })
 * ```
 */
export const make = <P, PI, A, AI, E = never, EI = never, R = never>(
  name: string,
  options: Options<P, PI, A, AI, E, EI, R>
): Tool<P, A, E, R> => {
  const tool: Omit<Tool<P, A, E, R>, "run"> = {
    name,
    description: options.description,
    parameters: options.parameters,
    success: options.success,
    failure: options.failure,
    timeout: options.timeout === undefined ? undefined : Duration.decode(options.timeout),
    handler: options.handler,
    needsApproval: approvalOf(options.parameters, options.needsApproval),
    definition: { name, description: options.description, parameters: StructuredOutput.jsonSchema(options.parameters) }
  }
  return { ...tool, run: (call) => runCall(tool, call) }
}

/**
 * Defines a tool whose parameters are a JSON Schema given as it is (a tool of an MCP server, say,
 * or one loaded from a file), rather than derived from a Schema. The model is told that schema
 * (less a `$schema` key, as for `make`); the handler gets the call's arguments as parsed JSON,
 * unchecked, since nothing here can decode them: the tool's owner validates them.
 *
 * @example
 * ```ts
 * import { Tool } from "@reins/core"
 * import { Effect, Schema } from "effect"
 *
 * const search = Tool.fromJsonSchema("search", {
 *   description: "Searches the web",
 *   parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
 *   success: Schema.String,
 *   handler: (args) => Effect.succeed(`You searched for ${JSON.stringify(args)}`)
 * })
 * assert.deepStrictEqual(search.definition.parameters.required, ["query"])
 * ```
 */
export const fromJsonSchema = <A, AI, E = never, EI = never, R = never>(
  name: string,
  options: Omit<Options<unknown, unknown, A, AI, E, EI, R>, "parameters"> & {
    /** The JSON Schema of the arguments, sent to the model as it is; the handler gets them as parsed JSON (`{}` for none). */
    readonly parameters: Readonly<Record<string, unknown>>
  }
): Tool<unknown, A, E, R> => {
  const tool = make(name, { ...options, parameters: Schema.Unknown })
  const { $schema: _, ...parameters } = options.parameters
  return { ...tool, definition: { ...tool.definition, parameters } }
}

/** What a tool reports while it runs. */
export interface Progress {
  /** How far it is, in units of its choosing; it should grow with each report. */
  readonly progress: number
  /** Where `progress` ends, when known. */
  readonly total?: number | undefined
  readonly message?: string | undefined
}

/**
 * Where a running tool's progress goes. A turn provides one to each tool call it runs, which
 * becomes a `ToolProgress` event; elsewhere there is none and reports go nowhere.
 */
export class ProgressReporter extends Context.Tag("@reins/core/Tool/ProgressReporter")<
  ProgressReporter,
  { readonly report: (progress: Progress) => Effect.Effect<void> }
>() {}

/**
 * Reports how far the running tool is, from inside its handler: a `ToolProgress` event of the turn
 * that runs it, or nothing outside a turn.
 *
 * @example
 * ```ts
 * import { Tool } from "@reins/core"
 * import { Effect, Schema } from "effect"
 *
 * const download = Tool.make("download", {
 *   parameters: Schema.Struct({ files: Schema.Number }),
 *   success: Schema.String,
 *   handler: ({ files }) =>
 *     Effect.gen(function*() {
 *       for (let i = 1; i <= files; i++) yield* Tool.progress({ progress: i, total: files, message: `file ${i}` })
 *       return "done"
 *     })
 * })
 * ```
 */
export const progress = (progress: Progress): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.serviceOption(ProgressReporter),
    (reporter) => reporter._tag === "Some" ? reporter.value.report(progress) : Effect.void
  )

const approvalOf = <P>(
  parameters: Schema.Schema<P, any>,
  needsApproval: boolean | ((params: P) => boolean) | undefined
): (call: Part.ToolCall) => boolean => {
  if (needsApproval === undefined || needsApproval === false) return () => false
  if (needsApproval === true) return () => true
  return (call) => {
    const decoded = decodeArguments(parameters, call)
    return decoded._tag === "Right" && needsApproval(decoded.right)
  }
}

/** A call's arguments decoded by the parameters (`{}` for none), or why they could not be. */
const decodeArguments = <P>(parameters: Schema.Schema<P, any>, call: Part.ToolCall): Either.Either<P, string> => {
  let input: unknown
  try {
    input = call.arguments.trim() === "" ? {} : JSON.parse(call.arguments)
  } catch (error) {
    return Either.left(`The arguments are not valid JSON: ${(error as Error).message}`)
  }
  return Either.mapLeft(
    Schema.decodeUnknownEither(parameters)(input),
    (error) => `The arguments do not match the parameters: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
  )
}

const encoded = (schema: Schema.Schema<any, any>, value: unknown): unknown => {
  const result = Schema.encodeUnknownEither(schema)(value)
  return result._tag === "Right" ? result.right : value
}

/** A failure as the text the model reads. */
const encodeJson = (schema: Schema.Schema<any, any>, value: unknown): string => {
  const plain = encoded(schema, value)
  return typeof plain === "string" ? plain : Message.jsonText(plain)
}

/**
 * A success as the model gets it: text as it is, the parts of a `Content` tool as they are, an
 * object or array as one JSON part (each encoder sends it as structured data, or as its JSON text
 * once), and a number, boolean or nothing as its JSON text.
 */
const successContent = (schema: Schema.Schema<any, any>, value: unknown): Message.ToolResultContent => {
  const plain = encoded(schema, value)
  if (typeof plain === "string") return plain
  if (isContent(schema)) return plain as ReadonlyArray<Part.ToolResultPart>
  return typeof plain === "object" && plain !== null ? [Part.json(plain)] : Message.jsonText(plain)
}

const errorResult = (call: Part.ToolCall, content: string) =>
  Message.toolResult({ toolCallId: call.id, toolName: call.name, content, isError: true })

const runCall = <P, A, E, R>(tool: Omit<Tool<P, A, E, R>, "run">, call: Part.ToolCall): Effect.Effect<Message.ToolResult, never, R> =>
  Effect.suspend(() => {
    const decoded = decodeArguments(tool.parameters, call)
    if (decoded._tag === "Left") return Effect.succeed(errorResult(call, decoded.left))
    // A race, not `Effect.timeoutFail`: a fiber waiting in a timeout reports interruption as
    // disabled, and a turn's stop waits for a tool in an uninterruptible region to leave it.
    const handled = tool.timeout === undefined
      ? tool.handler(decoded.right)
      : Effect.raceFirst(tool.handler(decoded.right), Effect.zipRight(Effect.sleep(tool.timeout), Effect.fail(new TimedOut())))
    return handled.pipe(
      Effect.map((value) =>
        Message.toolResult({ toolCallId: call.id, toolName: call.name, content: successContent(tool.success, value) })
      ),
      Effect.catchAllCause((cause) => {
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some") {
          const error = failure.value
          if (error instanceof TimedOut) {
            return Effect.succeed(errorResult(call, `The tool did not finish within ${Duration.format(tool.timeout!)}.`))
          }
          return Effect.succeed(errorResult(call, tool.failure !== undefined ? encodeJson(tool.failure, error) : String(error)))
        }
        return Effect.succeed(errorResult(call, `The tool failed: ${Cause.pretty(cause).split("\n")[0]}`))
      })
    )
  })

class TimedOut {
  readonly _tag = "TimedOut"
}
