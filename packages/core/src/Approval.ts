/**
 * Tools that ask first. A tool made with `needsApproval` does not run until someone decides: the
 * turn emits an `ApprovalRequested` event and waits, interruptibly, for `Approvals.decide`. A denial
 * goes back to the model as an error result that says so; a stop while waiting leaves the call
 * with the usual "interrupted" result. This is what ACP's `session/request_permission` and the AI
 * SDK's `tool-approval-request` map to.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Message from "./Message.js"
import type * as Part from "./Part.js"

/** What was decided about a call. */
export type Decision =
  | { readonly _tag: "Approved" }
  | { readonly _tag: "Denied"; readonly reason?: string | undefined }

/** Lets the call run. */
export const approved: Decision = { _tag: "Approved" }

/** Keeps the call from running; `reason` is told to the model. */
export const denied = (reason?: string): Decision => ({ _tag: "Denied", reason })

/**
 * Where a turn's calls wait for their decisions. Make one, pass it to `Turn.run` or `Turn.stream`,
 * and decide on the calls that the turn's `ApprovalRequested` events announce.
 */
export class Approvals {
  private readonly waiting = new Map<string, Deferred.Deferred<Decision>>()

  /** Decides on a waiting call; `false` when no call with that id is waiting (decided or gone). */
  decide(callId: string, decision: Decision): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const deferred = this.waiting.get(callId)
      if (deferred === undefined) return Effect.succeed(false)
      this.waiting.delete(callId)
      return Deferred.succeed(deferred, decision)
    })
  }

  /** The ids of the calls waiting for a decision now. */
  get pending(): ReadonlyArray<string> {
    return [...this.waiting.keys()]
  }

  /**
   * Registers `call` as waiting, runs `announce` (the turn emits its event there, so that nobody
   * can decide on a call that is not yet waiting), and waits for the decision, interruptibly.
   */
  wait(call: Part.ToolCall, announce: Effect.Effect<void>): Effect.Effect<Decision> {
    return Effect.acquireUseRelease(
      Effect.tap(Deferred.make<Decision>(), (deferred) => Effect.sync(() => this.waiting.set(call.id, deferred))),
      (deferred) => Effect.zipRight(announce, Deferred.await(deferred)),
      (deferred) => Effect.sync(() => this.waiting.get(call.id) === deferred && this.waiting.delete(call.id))
    )
  }
}

/**
 * A new place for decisions, for one turn or many.
 *
 * @example
 * import { Approval, Turn } from "@reins/core"
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 *
 * declare const options: Omit<Turn.Options<[]>, "approvals">
 *
 * const program = Effect.gen(function*() {
 *   const approvals = yield* Approval.make
 *   yield* Turn.stream({ ...options, approvals }).pipe(
 *     Stream.runForEach((event) =>
 *       event._tag === "ApprovalRequested" ? approvals.decide(event.call.id, Approval.approved) : Effect.void
 *     )
 *   )
 * })
 */
export const make: Effect.Effect<Approvals> = Effect.sync(() => new Approvals())

/** The result the model is given for a call that was denied. */
export const deniedResult = (call: Part.ToolCall, decision: Extract<Decision, { _tag: "Denied" }>): Message.ToolResult =>
  Message.toolResult({
    toolCallId: call.id,
    toolName: call.name,
    content: `The user denied this call${decision.reason ? `: ${decision.reason}` : ""}. It did not run.`,
    isError: true
  })
