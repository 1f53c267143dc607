/**
 * Where an ACP agent keeps its sessions' conversations, so that `session/load` can bring one back
 * after the agent restarts. A service, so that an application can keep them anywhere; `layerFile`
 * keeps each session as a JSON file in a directory, through the Message Schemas' JSON round trip,
 * and `layerMemory` keeps them for the life of the process.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Message } from "@reins/core"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/** A stored session: its working directory and its conversation. */
export const StoredSession = Schema.Struct({
  cwd: Schema.String,
  conversation: Message.Conversation
})
export type StoredSession = typeof StoredSession.Type

/** A stored session to and from its JSON text. */
export const StoredSessionJson = Schema.parseJson(StoredSession)

/** @internal */
export const TypeId: unique symbol = Symbol.for("@reins/acp/SessionStore/StoreError")

/** A session could not be read or written; `cause` says why. */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly sessionId: string
  readonly operation: "load" | "save"
  readonly cause: unknown
}> {
  readonly [TypeId] = TypeId
  override get message(): string {
    return `could not ${this.operation} session ${this.sessionId}: ${String((this.cause as { message?: unknown })?.message ?? this.cause)}`
  }
}

/** Whether `u` is a `StoreError`. */
export const isStoreError = (u: unknown): u is StoreError => Predicate.hasProperty(u, TypeId)

/** What a store does. */
export interface Service {
  /** The session stored under `sessionId`, if there is one. */
  readonly load: (sessionId: string) => Effect.Effect<Option.Option<StoredSession>, StoreError>
  /** Stores the session under `sessionId`, replacing what was there. */
  readonly save: (sessionId: string, session: StoredSession) => Effect.Effect<void, StoreError>
}

/** The store an agent uses. */
export class SessionStore extends Context.Tag("@reins/acp/SessionStore")<SessionStore, Service>() {}

/**
 * Session ids the agent makes are of this form; any other id names no stored session, so that an
 * id from a client can never name a file outside the store's directory.
 */
export const isSessionId = (id: string): boolean => /^[A-Za-z0-9_-]{1,128}$/.test(id)

const encode = Schema.encode(StoredSessionJson)
const decode = Schema.decode(StoredSessionJson)

/**
 * A store of one JSON file per session in `directory` (made if missing). A file is written whole
 * under a temporary name and renamed into place, so that a crash mid-write never leaves half a
 * conversation.
 *
 * @example
 * ```ts
 * import * as NodeContext from "@effect/platform-node/NodeContext"
 * import { SessionStore } from "@reins/acp"
 * import { Message } from "@reins/core"
 * import { Effect, Layer, Option } from "effect"
 * import * as os from "node:os"
 * import * as path from "node:path"
 *
 * const store = SessionStore.layerFile(path.join(os.tmpdir(), "reins-acp-example")).pipe(Layer.provide(NodeContext.layer))
 * const program = Effect.gen(function*() {
 *   const sessions = yield* SessionStore.SessionStore
 *   yield* sessions.save("sess_1", { cwd: "/tmp", conversation: [Message.user("Hi")] })
 *   return yield* sessions.load("sess_1")
 * })
 * const loaded = await Effect.runPromise(program.pipe(Effect.provide(store)))
 * assert.strictEqual(Option.getOrThrow(loaded).conversation.length, 1)
 * ```
 */
export const layerFile = (directory: string): Layer.Layer<SessionStore, never, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(
    SessionStore,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const file = (id: string) => path.join(directory, `${id}.json`)
      let made = false
      return SessionStore.of({
        load: (sessionId) =>
          !isSessionId(sessionId)
            ? Effect.succeedNone
            : fs.readFileString(file(sessionId)).pipe(
              Effect.flatMap((text) => decode(text)),
              Effect.map(Option.some),
              Effect.catchIf(
                (e) => e._tag === "SystemError" && e.reason === "NotFound",
                () => Effect.succeedNone
              ),
              Effect.mapError((cause) => new StoreError({ sessionId, operation: "load", cause }))
            ),
        save: (sessionId, session) =>
          Effect.gen(function*() {
            if (!isSessionId(sessionId)) return yield* Effect.fail(new Error("not a session id this store makes"))
            if (!made) {
              yield* fs.makeDirectory(directory, { recursive: true })
              made = true
            }
            const text = yield* encode(session)
            const temporary = `${file(sessionId)}.${process.pid}.tmp`
            yield* fs.writeFileString(temporary, text)
            yield* fs.rename(temporary, file(sessionId))
          }).pipe(Effect.mapError((cause) => new StoreError({ sessionId, operation: "save", cause })))
      })
    })
  )

/** A store in memory, for tests and for agents whose sessions need not outlive the process. */
export const layerMemory: Layer.Layer<SessionStore> = Layer.sync(SessionStore, () => {
  const sessions = new Map<string, string>()
  return SessionStore.of({
    load: (sessionId) =>
      Effect.suspend(() => {
        const text = sessions.get(sessionId)
        return text === undefined ? Effect.succeedNone : Effect.map(Effect.orDie(decode(text)), Option.some)
      }),
    save: (sessionId, session) =>
      encode(session).pipe(
        Effect.map((text) => void sessions.set(sessionId, text)),
        Effect.mapError((cause) => new StoreError({ sessionId, operation: "save", cause }))
      )
  })
})
