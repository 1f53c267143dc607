/**
 * The provider-neutral model service: a request in, a stream of stream parts out.
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Accumulator } from "./Accumulator.js"
import type * as HttpStream from "./HttpStream.js"
import * as Message from "./Message.js"
import type { ProviderError } from "./ProviderError.js"
import { EmptyResponse } from "./ProviderError.js"
import type * as Retry from "./Retry.js"
import type * as StreamPart from "./StreamPart.js"
import * as StructuredOutput from "./StructuredOutput.js"

export type {
  /** What a reply is to be, text or JSON: `StructuredOutput.ResponseFormat`. */
  ResponseFormat
} from "./StructuredOutput.js"

/** A tool as the model sees it: a name, what it does, and a JSON Schema for its arguments. */
export interface ToolDefinition {
  readonly name: string
  readonly description?: string | undefined
  readonly parameters: Record<string, unknown>
}

/** Whether and which tool the model must call. */
export type ToolChoice = "auto" | "none" | "required" | { readonly tool: string }

/** How hard a reasoning model thinks. */
export type ReasoningEffort = "minimal" | "low" | "medium" | "high"

/** One call to a model. The model itself is chosen by the layer unless `model` overrides it. */
export interface Request {
  readonly system?: string | undefined
  readonly messages: ReadonlyArray<Message.Message>
  readonly tools?: ReadonlyArray<ToolDefinition> | undefined
  readonly toolChoice?: ToolChoice | undefined
  readonly maxOutputTokens?: number | undefined
  readonly temperature?: number | undefined
  readonly reasoning?: { readonly effort: ReasoningEffort } | undefined
  /** Text (the default) or JSON, by the provider's JSON Schema or JSON mode. */
  readonly responseFormat?: StructuredOutput.ResponseFormat | undefined
  readonly model?: string | undefined
  /** Fields merged into the provider's request body as they are, keyed by provider name. */
  readonly providerOptions?: Record<string, Record<string, unknown>> | undefined
  /** Overrides the layer's timeouts for this call. */
  readonly timeouts?: HttpStream.Timeouts | undefined
  /** Overrides the layer's retry policy for this call. */
  readonly retry?: Retry.Policy | undefined
}

/** The service a provider layer implements. */
export interface Service {
  readonly provider: string
  readonly model: string
  /** Streams one response. Interrupting the consumer closes its connection. */
  readonly stream: (request: Request) => Stream.Stream<StreamPart.StreamPart, ProviderError>
}

/** The language model in context, provided by a provider's layer. */
export class LanguageModel extends Context.Tag("@reins/core/LanguageModel")<LanguageModel, Service>() {}

/**
 * Streams one response from the model in context.
 *
 * @example
 * ```ts
 * import { LanguageModel, Message, type ProviderError } from "@reins/core"
 * import { Console, Effect, Stream } from "effect"
 *
 * // Prints the text as it arrives; interrupting the fiber that runs it closes the connection.
 * const program = LanguageModel.stream({ messages: [Message.user("Tell me a story.")] }).pipe(
 *   Stream.runForEach((part) => part._tag === "TextDelta" ? Console.log(part.text) : Effect.void)
 * )
 *
 * // What is left to provide is the model: a provider's layer, such as `OpenAiChat.layerConfig`.
 * const typed: Effect.Effect<void, ProviderError.ProviderError, LanguageModel.LanguageModel> = program
 * ```
 */
export const stream = (request: Request): Stream.Stream<StreamPart.StreamPart, ProviderError, LanguageModel> =>
  // A channel-level unwrap: `Stream.unwrap` flattens a stream of one stream, a layer that every
  // chunk would pass through.
  Stream.fromChannel(Channel.unwrap(Effect.map(LanguageModel, (model) => Stream.toChannel(model.stream(request)))))

/**
 * Runs one response to its end and returns the assistant message.
 *
 * @example
 * ```ts
 * import { LanguageModel, Message } from "@reins/core"
 * import { Effect } from "effect"
 *
 * const answer = LanguageModel.generate({
 *   system: "Answer in one word.",
 *   messages: [Message.user("What is the capital of France?")],
 *   maxOutputTokens: 16
 * }).pipe(Effect.map(Message.text))
 * ```
 */
export const generate = (request: Request): Effect.Effect<Message.Assistant, ProviderError, LanguageModel> =>
  Effect.flatMap(LanguageModel, (model) =>
    collect(model, model.stream(request)).pipe(
      Effect.withSpan("LanguageModel.generate", { attributes: { provider: model.provider, model: request.model ?? model.model } })
    ))

/** Folds a provider's stream of parts into its assistant message; fails on a stream with nothing in it. */
export const collect = (
  model: { readonly provider: string; readonly model: string },
  chunks: Stream.Stream<StreamPart.StreamPart, ProviderError>
): Effect.Effect<Message.Assistant, ProviderError> =>
  Effect.suspend(() => {
    const acc = new Accumulator(model)
    return chunks.pipe(
      Stream.runForEachChunk((chunk) => Effect.sync(() => acc.addAll(chunk))),
      Effect.flatMap(() =>
        acc.hasContent || acc.finished
          ? Effect.succeed(acc.message())
          : Effect.fail(new EmptyResponse({ provider: model.provider, message: "the stream ended with no content" }))
      )
    )
  })

/** A request for an object: the request without its format, and the Schema that decodes the reply. */
export type ObjectRequest<A, I, R> = Omit<Request, "responseFormat"> & {
  readonly schema: Schema.Schema<A, I, R>
  /** What the object is called, for the provider (`output` by default). */
  readonly name?: string | undefined
  /** What the object is for, for the model. */
  readonly description?: string | undefined
  /** OpenAI's strict mode, on where the schema allows it unless `false`. */
  readonly strict?: boolean | undefined
}

/** What `streamObject` emits: partial values while the JSON grows, then the decoded value once. */
export type ObjectEvent<A, I> =
  | {
    readonly _tag: "Partial"
    /** The JSON read so far, in the Schema's encoded shape with fields still missing. */
    readonly partial: StructuredOutput.DeepPartial<I>
    /** The reply's text so far. */
    readonly text: string
  }
  | { readonly _tag: "Object"; readonly value: A; readonly message: Message.Assistant }

const objectRequest = <A, I, R>(options: ObjectRequest<A, I, R>): Request => {
  const { description, name, schema, strict, ...request } = options
  return { ...request, responseFormat: StructuredOutput.format(schema, { name, description, strict }) }
}

/**
 * Asks the model in context for an object, in its provider's native JSON Schema mode, and decodes
 * the reply with the Schema: the value and the assistant message, or a `MalformedOutput` carrying
 * the text received.
 *
 * @example
 * ```ts
 * import { LanguageModel, Message } from "@reins/core"
 * import { Console, Effect, Schema } from "effect"
 *
 * const Person = Schema.Struct({ name: Schema.String, born: Schema.Number })
 *
 * const program = Effect.gen(function*() {
 *   const { value } = yield* LanguageModel.generateObject({
 *     schema: Person,
 *     name: "person",
 *     messages: [Message.user("Who wrote the first published program?")]
 *   })
 *   yield* Console.log(`${value.name}, born ${value.born}`)
 * })
 * ```
 */
export const generateObject = <A, I, R>(
  options: ObjectRequest<A, I, R>
): Effect.Effect<
  { readonly value: A; readonly message: Message.Assistant },
  ProviderError | StructuredOutput.MalformedOutput,
  LanguageModel | R
> =>
  Effect.flatMap(LanguageModel, (model) =>
    collect(model, model.stream(objectRequest(options))).pipe(
      Effect.flatMap((message) =>
        Effect.map(StructuredOutput.decode(options.schema, model.provider, Message.text(message)), (value) => ({ value, message }))
      ),
      Effect.withSpan("LanguageModel.generateObject", {
        attributes: { provider: model.provider, model: options.model ?? model.model }
      })
    ))

/**
 * Streams an object from the model in context: a `Partial` each time the JSON read so far changes,
 * then the `Object` the Schema decoded from the whole reply (or a `MalformedOutput`). Interrupting
 * the consumer closes the connection, as with `stream`.
 *
 * @example
 * ```ts
 * import { LanguageModel, Message } from "@reins/core"
 * import { Console, Schema, Stream } from "effect"
 *
 * const Recipe = Schema.Struct({ title: Schema.String, steps: Schema.Array(Schema.String) })
 *
 * // The steps appear one by one as the model writes them.
 * const program = LanguageModel.streamObject({ schema: Recipe, messages: [Message.user("A recipe for pancakes")] }).pipe(
 *   Stream.runForEach((event) => Console.log(event._tag === "Partial" ? event.partial.steps ?? [] : event.value))
 * )
 * ```
 */
export const streamObject = <A, I, R>(
  options: ObjectRequest<A, I, R>
): Stream.Stream<ObjectEvent<A, I>, ProviderError | StructuredOutput.MalformedOutput, LanguageModel | R> =>
  Stream.unwrap(Effect.map(LanguageModel, (model) => {
    const acc = new Accumulator(model)
    let text = ""
    let shown: string | undefined
    const partials = model.stream(objectRequest(options)).pipe(
      Stream.mapChunks((parts) => {
        let grew = false
        for (const part of parts) {
          acc.add(part)
          if (part._tag === "TextDelta" && part.text !== "") {
            text += part.text
            grew = true
          }
        }
        // Read once per batch of parts, not per delta: reading is linear in the text so far.
        if (!grew) return Chunk.empty<ObjectEvent<A, I>>()
        const partial = StructuredOutput.partial(text)
        const json = partial === undefined ? undefined : JSON.stringify(partial)
        if (json === undefined || json === shown) return Chunk.empty<ObjectEvent<A, I>>()
        shown = json
        return Chunk.of<ObjectEvent<A, I>>({ _tag: "Partial", partial: partial as StructuredOutput.DeepPartial<I>, text })
      })
    )
    const last = Effect.suspend((): Effect.Effect<ObjectEvent<A, I>, ProviderError | StructuredOutput.MalformedOutput, R> => {
      if (!acc.hasContent && !acc.finished) {
        return Effect.fail(new EmptyResponse({ provider: model.provider, message: "the stream ended with no content" }))
      }
      const message = acc.message()
      return Effect.map(
        StructuredOutput.decode(options.schema, model.provider, Message.text(message)),
        (value): ObjectEvent<A, I> => ({ _tag: "Object", value, message })
      )
    })
    return Stream.concat(partials, Stream.fromEffect(last))
  }))
