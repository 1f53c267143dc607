/**
 * A stream read through one pull effect. Every stream operator is a layer that each chunk passes
 * through on its way to the consumer, and that work recurs at every read of a long body: a provider
 * call is therefore built as a single pull (request, retries, decoding) under a stream with no
 * layer between that pull and the consumer, and one scope that closes with the stream.
 */
import * as Channel from "effect/Channel"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** The next chunk; fails with `None` at the end and `Some(error)` on an error, as `Stream.toPull` does. */
export type Pull<A, E, R = never> = Effect.Effect<Chunk.Chunk<A>, Option.Option<E>, R>

/**
 * The stream of the chunks `open`'s pull returns. `open` runs when the stream starts, in a scope
 * that closes with the stream's exit however it ends (its end, an error, `take`, an interrupt).
 *
 * For instance, `Pull.stream(Effect.map(Effect.acquireRelease(openFile, close), (file) => readChunk(file)))`
 * closes the file with the stream.
 */
export const stream = <A, E, R>(open: Effect.Effect<Pull<A, E, R>, E, R | Scope.Scope>): Stream.Stream<A, E, Exclude<R, Scope.Scope>> =>
  Stream.fromChannel(Channel.unwrap(Effect.map(Scope.make(), (scope) =>
    Channel.ensuringWith(
      Channel.catchAll(
        Channel.flatMap(Channel.fromEffect(Effect.mapError(Scope.extend(open, scope), Option.some)), loop),
        (error: Option.Option<E>) => Option.isNone(error) ? Channel.void : Channel.fail(error.value)
      ),
      (exit) => Scope.close(scope, exit)
    )))) as Stream.Stream<A, E, Exclude<R, Scope.Scope>>

/** Pulls and writes until the pull fails; one channel value reused for every read. */
const loop = <A, E, R>(pull: Pull<A, E, R>): Channel.Channel<Chunk.Chunk<A>, unknown, Option.Option<E>, unknown, void, unknown, R> => {
  const next: Channel.Channel<Chunk.Chunk<A>, unknown, Option.Option<E>, unknown, void, unknown, R> = Channel.flatMap(
    Channel.fromEffect(pull),
    (chunk) => Channel.zipRight(Channel.write(chunk), next)
  )
  return next
}
