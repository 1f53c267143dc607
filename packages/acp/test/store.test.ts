/**
 * The JSON-file session store on a real directory: a conversation survives its round trip, a
 * missing or foreign id is no session, a damaged file is an error that says which session.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import { SessionStore } from "@reins/acp"
import { Message, Part, Usage } from "@reins/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as path from "node:path"
import { tempDir } from "./support.js"

const conversation: Message.Conversation = [
  Message.user([Part.text("Read this"), Part.imageData("AAAA", "image/png")]),
  {
    _tag: "Assistant",
    content: [{ _tag: "Reasoning", text: "ok", signature: "sig" }, Part.toolCall("c1", "read_file", "{\"path\":\"a\"}")],
    stopReason: "interrupted",
    usage: Usage.make({ inputTokens: 3, outputTokens: 1, estimated: true }),
    provider: "openai",
    model: "m"
  },
  Message.toolResult({ toolCallId: "c1", toolName: "read_file", content: [Part.json({ a: 1 })], isError: true })
]

describe("SessionStore.layerFile", () => {
  const withStore = <A, E>(directory: string, f: (store: SessionStore.Service) => Effect.Effect<A, E>) =>
    Effect.flatMap(SessionStore.SessionStore, f).pipe(
      Effect.provide(SessionStore.layerFile(directory).pipe(Layer.provide(NodeContext.layer)))
    )

  it.live("round-trips a conversation through its JSON file, in a directory it makes", () => {
    const directory = path.join(tempDir(), "nested", "sessions")
    return withStore(directory, (store) =>
      Effect.gen(function*() {
        expect(yield* store.load("sess_a")).toEqual(Option.none())
        yield* store.save("sess_a", { cwd: "/repo", conversation })
        expect(yield* store.load("sess_a")).toEqual(Option.some({ cwd: "/repo", conversation }))
        expect(fs.readdirSync(directory)).toEqual(["sess_a.json"])
      }))
  })

  it.live("ids that could name other files are no session, and cannot be saved", () =>
    withStore(tempDir(), (store) =>
      Effect.gen(function*() {
        for (const id of ["../x", "a/b", "", "a.json", "x".repeat(200)]) expect(yield* store.load(id)).toEqual(Option.none())
        const error = yield* Effect.flip(store.save("../escape", { cwd: "/", conversation: [] }))
        expect(SessionStore.isStoreError(error)).toBe(true)
      })))

  it.live("a damaged file is a StoreError naming the session", () => {
    const directory = tempDir()
    fs.writeFileSync(path.join(directory, "sess_bad.json"), "{\"cwd\": \"/\", \"conversation\": [{\"_tag\": \"Nope\"}]}")
    return withStore(directory, (store) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(store.load("sess_bad"))
        expect(SessionStore.isStoreError(error)).toBe(true)
        expect(error).toMatchObject({ sessionId: "sess_bad", operation: "load" })
        expect(error.message).toContain("sess_bad")
      }))
  })
})
