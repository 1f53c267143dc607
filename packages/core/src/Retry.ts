/**
 * Retries of a provider call, as an Effect `Schedule`: exponential backoff with jitter, at least
 * as long as the provider's `Retry-After` (capped), on retryable errors only, and only while
 * nothing has been emitted downstream, so a retry never repeats text or tool calls. The backoff
 * sleep is an ordinary interruptible sleep: a Stop during it ends the call at once.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { ProviderError } from "./ProviderError.js"

/** How a provider call is retried. */
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
 * Runs `attempt`, and runs it again after a backoff when it fails with a retryable error before
 * emitting anything. Once a chunk has gone downstream, an error surfaces as it is.
 */
export const stream = <A>(
  policy: Policy,
  attempt: () => Stream.Stream<A, ProviderError>
): Stream.Stream<A, ProviderError> =>
  policy.maxRetries <= 0
    ? Stream.suspend(attempt)
    : Stream.suspend(() => {
      let emitted = false
      // Made on the first failure only: most calls never need it.
      let driver: Schedule.ScheduleDriver<ProviderError, ProviderError> | undefined
      const backoff = (error: ProviderError) =>
        Effect.flatMap(
          driver === undefined ? Effect.tap(Schedule.driver(schedule(policy)), (made) => void (driver = made)) : Effect.succeed(driver),
          (made) => made.next(error)
        )
      const run = (): Stream.Stream<A, ProviderError> =>
        attempt().pipe(
          Stream.mapChunks((chunk) => {
            emitted ||= chunk.length > 0
            return chunk
          }),
          Stream.catchAll((error) =>
            emitted
              ? Stream.fail(error)
              : Stream.unwrap(Effect.match(backoff(error), {
                onFailure: () => Stream.fail(error),
                onSuccess: run
              }))
          )
        )
      return run()
    })
