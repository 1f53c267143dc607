/**
 * Differential tests of Reins's stream decoders against the official SDKs (openai, @anthropic-ai/sdk,
 * @google/genai): the same bytes, served by a ProviderServer on 127.0.0.1, go through each SDK (its
 * own client and final message) and through the Reins provider layer (`LanguageModel.generate` over
 * undici), and the two results must agree on text, reasoning, signatures, tool calls, usage and stop
 * reason (see differential/Outcome.ts for the shape and the stop-reason table).
 *
 * Every recorded stream under ../shared/fixtures/recorded is a case, played unchanged and then under
 * seeded mutations the format allows (differential/Mutations.ts). A failure names its seed; to replay
 * one mutation, run this file with `REINS_DIFFERENTIAL_ONLY=<seed>` and `-t "<recording>"`.
 * `REINS_DIFFERENTIAL_SEED` and `REINS_DIFFERENTIAL_ROUNDS` choose other mutations and more of them.
 *
 * Where the two disagree, the provider's documentation decides: `sdkDefects` lists where the SDK is
 * wrong by it, and `knownDisagreements` where Reins is (kept failing until the decoder is fixed).
 */
import { expect, it } from "@effect/vitest"
import { ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { describeRecorded, recordedDir } from "./recorded.js"
import * as Mutations from "./differential/Mutations.js"
import * as Outcome from "./differential/Outcome.js"
import * as Prng from "./differential/Prng.js"
import * as Recordings from "./differential/Recordings.js"
import * as Reins from "./differential/Reins.js"
import * as Sdk from "./differential/Sdk.js"

const baseSeed = Number(process.env.REINS_DIFFERENTIAL_SEED ?? 20_260_101)
const rounds = Number(process.env.REINS_DIFFERENTIAL_ROUNDS ?? 10)
const only = process.env.REINS_DIFFERENTIAL_ONLY === undefined ? undefined : Number(process.env.REINS_DIFFERENTIAL_ONLY)

/**
 * Recordings on which an SDK is wrong by the provider's documentation. The SDK must still fail on
 * the recording as it is (so that this entry goes once the SDK is fixed), and Reins's result on it
 * must be the SDK's on `repair(events)`, the same stream in the shape the SDK copes with.
 */
const sdkDefects: ReadonlyArray<{
  readonly recording: string
  readonly doc: string
  readonly repair: (events: ReadonlyArray<Recordings.WireEvent>) => Array<Recordings.WireEvent>
}> = [
  {
    // The only tool call of this stream has `index: 1`. openai's ChatCompletionStream keeps calls in
    // an array by index and then reads the hole at 0 (a TypeError in normalizeToolCallIds), so
    // `finalChatCompletion()` rejects. The reference defines `tool_calls[].index` as the call's
    // index, with no rule that the first is 0; the stream is one call, which is what Reins returns.
    // The SDK's answer is taken from the same stream with that call at index 0.
    recording: "anthropic-fallback-tool-call.sse",
    doc: "https://platform.openai.com/docs/api-reference/chat-streaming/streaming",
    repair: (events) => events.map((event) => ({ ...event, data: event.data.replaceAll("\"tool_calls\":[{\"index\":1", "\"tool_calls\":[{\"index\":0") }))
  }
]

/**
 * Fields on which Reins disagrees with an SDK and the provider's documentation says Reins is wrong.
 * Each must still disagree on the recording as it is: once the decoder is fixed, its entry goes.
 */
const knownDisagreements: ReadonlyArray<{ readonly recording: string; readonly field: string; readonly doc: string }> = []

/**
 * Rewrites that a provider's documentation allows and its SDK refuses. Reins is served them; the SDK
 * is served the same stream without them, and the two results must agree. Each SDK must still
 * refuse them (checked below), so that an entry goes once the SDK copes.
 */
const sdkRefusals: Partial<Record<Recordings.Format, { readonly refusals: Mutations.Refusals; readonly doc: string }>> = {
  // openai's ResponseStream throws "Unhandled response stream event" on an event type it does not
  // know. The guide says each event is typed "so you can listen for events you care about": a
  // client takes the events it knows, and the API adds new ones over time. Reins skips them.
  responses: { refusals: { unknownEvents: true }, doc: "https://platform.openai.com/docs/guides/streaming-responses" }
}

const recordings = Recordings.all()

/** The recording served unchanged, byte for byte, as one write. */
const unchanged = (recording: Recordings.Recording): Mutations.Mutation => ({
  seed: 0,
  description: ["unchanged"],
  steps: [Script.raw(recording.body)],
  sdkSteps: [Script.raw(recording.body)]
})

/** The seed of each round of a recording; round 0 is the recording unchanged. */
const seeds = (recording: Recordings.Recording): Array<number> =>
  only !== undefined ? [only] : [0, ...Array.from({ length: rounds }, (_, i) => Prng.seedOf(baseSeed, recording.name, i))]

const withEvents = (recording: Recordings.Recording, events: ReadonlyArray<Recordings.WireEvent>): Recordings.Recording => ({
  ...recording,
  events,
  body: new TextEncoder().encode(Recordings.encodeEvents(events))
})

describeRecorded("Differential: Reins's decoders against the official SDKs", "on recorded streams", () => {
  it("covers every recording file, each in a known format", () => {
    const files = Recordings.files()
    expect(files.length).toBeGreaterThan(0)
    expect(files).toEqual(
      fs.readdirSync(recordedDir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).flatMap((dir) =>
        fs.readdirSync(path.join(recordedDir, dir.name)).map((name) => `${dir.name}/${name}`)
      ).sort()
    )
    for (const file of files) expect(recordings.some((recording) => recording.file === file), file).toBe(true)
    for (const recording of recordings) expect(recording.events.length, recording.name).toBeGreaterThan(0)
  })

  it("lists only recordings that exist", () => {
    const names = recordings.map((recording) => recording.name)
    for (const entry of [...sdkDefects, ...knownDisagreements]) expect(names).toContain(entry.recording)
  })

  for (const [format, entry] of Object.entries(sdkRefusals)) {
    it.scopedLive(`${format}: the SDK still refuses what sdkRefusals says (${entry.doc})`, () =>
      Effect.gen(function*() {
        const recording = recordings.find((candidate) => candidate.format === format && candidate.name.endsWith(".chunks.txt"))!
        // a seed whose mutation inserts an unknown event: the first that does
        const seed = Array.from({ length: 100 }, (_, i) => Prng.seedOf("refusal", i)).find((candidate) =>
          Mutations.mutate(recording, Prng.make(candidate), entry.refusals).description.some((note) => note.includes("not served to the SDK"))
        )!
        const server = yield* ProviderServer.make()
        server.enqueue(Script.make(Mutations.mutate(recording, Prng.make(seed), entry.refusals).steps))
        const outcome = yield* Effect.promise(Sdk.make(recording.format, server))
        expect(outcome._tag, `the SDK now takes what sdkRefusals says it refuses: drop the ${format} entry`).toBe("Failure")
      }))
  }

  for (const recording of recordings) {
    it.scopedLive(`${recording.format}: ${recording.name}`, () =>
      Effect.gen(function*() {
        const server = yield* ProviderServer.make()
        const model = yield* Layer.build(Reins.layer(recording.format, server))
        const sdkRun = Sdk.make(recording.format, server)
        const reinsSide = (mutation: Mutations.Mutation) => {
          server.enqueue(Script.make(mutation.steps))
          return Reins.run.pipe(Effect.provide(model))
        }
        const sdkSide = (mutation: Mutations.Mutation) =>
          Effect.promise(() => {
            server.enqueue(Script.make(mutation.sdkSteps))
            return sdkRun()
          })
        const refusals = sdkRefusals[recording.format]?.refusals ?? {}
        const defect = sdkDefects.find((entry) => entry.recording === recording.name)
        const forSdk = defect === undefined ? recording : withEvents(recording, defect.repair(recording.events))
        const known = knownDisagreements.filter((entry) => entry.recording === recording.name)

        if (defect !== undefined) {
          const asRecorded = yield* sdkSide(unchanged(recording))
          expect(asRecorded._tag, `the SDK now copes with ${recording.name}: drop its sdkDefects entry (${defect.doc})`).toBe("Failure")
        }

        let baseline: { reins: Outcome.Outcome; sdk: Outcome.Outcome } | undefined
        for (const seed of seeds(recording)) {
          const mutation = seed === 0 ? unchanged(recording) : Mutations.mutate(recording, Prng.make(seed), refusals)
          const reins = yield* reinsSide(mutation)
          const sdk = yield* sdkSide(seed === 0 ? unchanged(forSdk) : Mutations.mutate(forSdk, Prng.make(seed), refusals))
          const where = `${recording.name}, seed ${seed}: ${mutation.description.join("; ")}`
          const differences = Outcome.compare(reins, sdk)
          expect(differences.filter((difference) => !known.some((entry) => entry.field === difference.field)), where).toEqual([])
          if (seed === 0) {
            baseline = { reins, sdk }
            for (const entry of known) {
              expect(differences.map((difference) => difference.field), `${where}: ${entry.field} agrees now (${entry.doc}): drop its knownDisagreements entry`)
                .toContain(entry.field)
            }
          } else if (baseline !== undefined) {
            // A mutation the format allows must not turn a message into a failure on both sides at once.
            expect({ reins: reins._tag, sdk: sdk._tag }, where).toEqual({ reins: baseline.reins._tag, sdk: baseline.sdk._tag })
          }
        }
      }))
  }
})
