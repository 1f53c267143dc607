/**
 * Retries of a provider call, as an Effect `Schedule`: exponential backoff with jitter, at least
 * as long as the provider's `Retry-After` (capped), on retryable errors only, and only while
 * nothing has been emitted downstream, so a retry never repeats text or tool calls. The backoff
 * sleep is an ordinary interruptible sleep: a Stop during it ends the call at once.
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ProviderError } from "./ProviderError.js"
import * as Pull from "./Pull.js"

/**
 * How a provider call is retried. A layer's `retry` option sets it for every call, a request's
 * `retry` for that call.
 *
 * @example
 * ```ts
 * import { LanguageModel, Message, Retry } from "@reins/core"
 *
 * // More patience for one call; a retry still never happens once content has streamed.
 * const patient = LanguageModel.generate({
 *   messages: [Message.user("Hi")],
 *   retry: { ...Retry.defaultPolicy, maxRetries: 5, maxDelay: "1 minute" }
 * })
 *
 * // No retries at all.
 * const once: Retry.Policy = { ...Retry.defaultPolicy, maxRetries: 0 }
 * ```
 */
export interface Policy {
  /** Retries after the first attempt; 0 turns retrying off. */
  readonly maxRetries: number
  /** The first backoff; each next one doubles, with jitter. */
  readonly baseDelay: Duration.DurationInput
  /** The longest backoff. */
  readonly maxDelay: Duration.DurationInput
  /** The longest `Retry-After` honoured; a server asking for more is not retried. */
  readonly maxRetryAfter: Duration.DurationInput
}

/** Two retries from half a second, up to 30 s apart, honouring `Retry-After` up to a minute. */
export const defaultPolicy: Policy = {
  maxRetries: 2,
  baseDelay: "500 millis",
  maxDelay: "30 seconds",
  maxRetryAfter: "60 seconds"
}

const retryAfterOf = (error: ProviderError): Duration.Duration | undefined =>
  "retryAfter" in error ? error.retryAfter : undefined

/** The policy as a Schedule whose input is the error and whose output is that error. */
export const schedule = (policy: Policy): Schedule.Schedule<ProviderError, ProviderError> => {
  const maxRetryAfter = Duration.decode(policy.maxRetryAfter)
  return Schedule.exponential(policy.baseDelay).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced(policy.maxDelay)),
    Schedule.intersect(Schedule.recurs(policy.maxRetries)),
    Schedule.whileInput((error: ProviderError) => {
      const after = retryAfterOf(error)
      return error.retryable && (after === undefined || Duration.lessThanOrEqualTo(after, maxRetryAfter))
    }),
    Schedule.passthrough,
    Schedule.modifyDelay((error, delay) => Duration.max(delay, retryAfterOf(error) ?? Duration.zero))
  )
}

/**
 * A pull that opens an attempt (in a scope of its own, inside the current one) at its first read,
 * and when the attempt fails with a retryable error before any content went downstream, closes it,
 * waits out the backoff and opens another. What counts as content is `isContent`'s to say (every
 * value by default): a provider call's opening and usage reports are not, so an error event that
 * follows them is retried, and a retry may repeat them but never content. Once content has gone
 * downstream, an error surfaces as it is, and each read goes straight to the attempt's own pull.
 */
export const pull = <A>(
  policy: Policy,
  open: Effect.Effect<Pull.Pull<A, ProviderError>, ProviderError, Scope.Scope>,
  isContent?: ((value: A) => boolean) | undefined
): Effect.Effect<Pull.Pull<A, ProviderError>, never, Scope.Scope> =>
  Effect.map(Effect.scope, (outer) => pullIn(policy, outer, (scope) => Scope.extend(open, scope), isContent))

/** `pull` in the scope `outer`, each attempt opened by `open` in the scope it is given. */
export const pullIn = <A>(
  policy: Policy,
  outer: Scope.Scope,
  open: (scope: Scope.Scope) => Effect.Effect<Pull.Pull<A, ProviderError>, ProviderError>,
  isContent?: ((value: A) => boolean) | undefined
): Pull.Pull<A, ProviderError> => {
  let current: Pull.Pull<A, ProviderError> | undefined
  // Made on the first failure only: most calls never need it.
  let driver: Schedule.ScheduleDriver<ProviderError, ProviderError> | undefined
  const backoff = (error: ProviderError) =>
    Effect.flatMap(
      driver === undefined ? Effect.tap(Schedule.driver(schedule(policy)), (made) => void (driver = made)) : Effect.succeed(driver),
      (made) => made.next(error)
    )
  /** After a failed attempt, whose scope is already closed: another attempt, or the error. */
  const retry = (error: ProviderError): Pull.Pull<A, ProviderError> =>
    policy.maxRetries <= 0
      ? Effect.fail(Option.some(error))
      : Effect.matchEffect(backoff(error), { onFailure: () => Effect.fail(Option.some(error)), onSuccess: () => start })
  const start: Pull.Pull<A, ProviderError> = Effect.flatMap(Scope.fork(outer, ExecutionStrategy.sequential), (scope) =>
    Effect.matchEffect(open(scope), {
      onFailure: (error) => Effect.zipRight(Scope.close(scope, Exit.fail(error)), retry(error)),
      onSuccess: (opened) => {
        const guarded: Pull.Pull<A, ProviderError> = Effect.matchEffect(opened, {
          onFailure: (error) =>
            Option.isNone(error) ? Effect.fail(error) : Effect.zipRight(Scope.close(scope, Exit.fail(error.value)), retry(error.value)),
          onSuccess: (chunk) => {
            // Content went downstream: from now on, no retry, and nothing between reads.
            if (isContent === undefined ? chunk.length > 0 : Chunk.some(chunk, isContent)) current = opened
            return Effect.succeed(chunk)
          }
        })
        current = guarded
        return guarded
      }
    }))
  return Effect.suspend(() => current ?? start)
}

/**
 * Runs `attempt`, and runs it again after a backoff when it fails with a retryable error before
 * emitting anything. Once a chunk has gone downstream, an error surfaces as it is.
 */
export const stream = <A>(
  policy: Policy,
  attempt: () => Stream.Stream<A, ProviderError>
): Stream.Stream<A, ProviderError> => Pull.stream(pull(policy, Effect.suspend(() => Stream.toPull(attempt()))))
