/**
 * A `LanguageModel` that answers from a script of stream-part lists, with no HTTP at all: for testing
 * code that uses a model (a turn, a tool, a UI) where the wire does not matter. Requests are
 * recorded so a test can check what was asked.
 */
import { LanguageModel, ProviderError, type StreamPart } from "@reins/core"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

/** One scripted answer: parts to emit, or any stream of parts (one that fails, stalls, ...). */
export type Answer = ReadonlyArray<StreamPart.StreamPart> | Stream.Stream<StreamPart.StreamPart, ProviderError.ProviderError>

/** A scripted model and what it was asked. */
export interface ScriptedModel {
  readonly service: LanguageModel.Service
  /** Every request, in order. */
  readonly requests: ReadonlyArray<LanguageModel.Request>
}

/**
 * Builds a scripted model answering requests in order; a request past the end of the script fails
 * with a `StatusError` that says so.
 *
 * @example
 * ```ts
 * import { LanguageModel, Message } from "@reins/core"
 * import { ScriptedModel } from "@reins/testing"
 * import { Effect } from "effect"
 *
 * const model = ScriptedModel.make([ScriptedModel.text("Hello!")])
 * const answer = Effect.runSync(
 *   LanguageModel.generate({ messages: [Message.user("Hi")] }).pipe(
 *     Effect.provideService(LanguageModel.LanguageModel, model.service)
 *   )
 * )
 * assert.strictEqual(Message.text(answer), "Hello!")
 * assert.strictEqual(model.requests.length, 1) // what the code under test asked
 * ```
 */
export const make = (answers: ReadonlyArray<Answer>, options?: { readonly model?: string }): ScriptedModel => {
  const requests: Array<LanguageModel.Request> = []
  const service: LanguageModel.Service = {
    provider: "scripted",
    model: options?.model ?? "scripted-model",
    stream: (request) =>
      Stream.suspend(() => {
        const answer = answers[requests.length]
        requests.push(request)
        if (answer === undefined) {
          return Stream.fail(
            new ProviderError.StatusError({ provider: "scripted", status: 500, body: `no scripted answer for request ${requests.length}` })
          )
        }
        return Array.isArray(answer) ? Stream.fromIterable(answer) : answer as Stream.Stream<StreamPart.StreamPart, ProviderError.ProviderError>
      })
  }
  return { service, requests }
}

/** The scripted model as a layer. */
export const layer = (answers: ReadonlyArray<Answer>, options?: { readonly model?: string }): Layer.Layer<LanguageModel.LanguageModel> =>
  Layer.succeed(LanguageModel.LanguageModel, make(answers, options).service)

/** The parts of a plain text answer that finishes normally. */
export const text = (content: string): ReadonlyArray<StreamPart.StreamPart> => [
  { _tag: "TextStart", id: "text_0" },
  { _tag: "TextDelta", id: "text_0", text: content },
  { _tag: "TextEnd", id: "text_0" },
  { _tag: "Finish", reason: "stop", raw: "stop" }
]

/** The parts of an answer that calls one tool with `args`. */
export const toolCall = (id: string, name: string, args: unknown): ReadonlyArray<StreamPart.StreamPart> => [
  { _tag: "ToolCallStart", id, name },
  { _tag: "ToolCallDelta", id, delta: JSON.stringify(args) },
  { _tag: "ToolCallEnd", id },
  { _tag: "Finish", reason: "tool-calls", raw: "tool_calls" }
]

/** Never answers: a model thinking forever, to stop. */
export const silent: Stream.Stream<StreamPart.StreamPart> = Stream.never

