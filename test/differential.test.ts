/**
 * Differential tests of Reins's stream decoders against the official SDKs (openai, @anthropic-ai/sdk,
 * @google/genai): the same bytes, served by a ProviderServer on 127.0.0.1, go through each SDK (its
 * own client and final message) and through the Reins provider layer (`LanguageModel.generate` over
 * undici), and the two results must agree on text, reasoning, signatures, tool calls, usage and stop
 * reason (see differential/Outcome.ts for the shape and the stop-reason table).
 *
 * The cases are every recorded stream under ../shared/fixtures/recorded and a few fixed rewrites of
 * them (differential/Probes.ts), each played unchanged and then under seeded mutations its format
 * allows (differential/Mutations.ts). A failure names its seed; to replay that one mutation, run
 * this file with `REINS_DIFFERENTIAL_ONLY=<seed>` and `-t "<case>"`. `REINS_DIFFERENTIAL_SEED` and
 * `REINS_DIFFERENTIAL_ROUNDS` choose other mutations, and more of them.
 *
 * Where the two disagree, the provider's documentation decides: `sdkDefects` and `sdkRefusals` list
 * where the SDK is wrong by it, `knownDisagreements` where Reins is (kept failing until the decoder
 * is fixed).
 */
import { expect, it } from "@effect/vitest"
import { ProviderServer, Script } from "@reins/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Mutations from "./differential/Mutations.js"
import * as Outcome from "./differential/Outcome.js"
import * as Prng from "./differential/Prng.js"
import * as Probes from "./differential/Probes.js"
import * as Recordings from "./differential/Recordings.js"
import * as Reins from "./differential/Reins.js"
import * as Sdk from "./differential/Sdk.js"
import { describeRecorded, hasRecordings, recordedDir } from "./recorded.js"

const baseSeed = Number(process.env.REINS_DIFFERENTIAL_SEED ?? 20_260_101)
const rounds = Number(process.env.REINS_DIFFERENTIAL_ROUNDS ?? 10)
const only = process.env.REINS_DIFFERENTIAL_ONLY === undefined ? undefined : Number(process.env.REINS_DIFFERENTIAL_ONLY)

/**
 * Cases on which an SDK is wrong by the provider's documentation. The SDK must still fail on the
 * case as it is (so that the entry goes once the SDK is fixed), and Reins's result on it must be the
 * SDK's on `repair(events)`, the same stream in a shape the SDK copes with.
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
    repair: (events) =>
      events.map((event) => ({ ...event, data: event.data.replaceAll("\"tool_calls\":[{\"index\":1", "\"tool_calls\":[{\"index\":0") }))
  }
]

/**
 * Rewrites that a provider's documentation allows and its SDK refuses. Reins is served them; the SDK
 * is served the same stream without them, and the two results must agree. Each SDK must still
 * refuse them (checked below), so that an entry goes once the SDK copes.
 */
const sdkRefusals: Partial<Record<Recordings.Format, { readonly refusals: Mutations.Refusals; readonly doc: string }>> = {
  // openai's ResponseStream throws "Unhandled response stream event: unknown" on an event type it
  // does not know. The guide says each event is typed "so you can listen for events you care about":
  // a client takes the events it knows, and the API adds new ones over time. Reins skips them.
  responses: { refusals: { unknownEvents: true }, doc: "https://platform.openai.com/docs/guides/streaming-responses" }
}

/**
 * Fields on which Reins disagrees with an SDK and the provider's documentation says Reins is wrong.
 * Each must still disagree on the case as it is: once the decoder is fixed, its entry goes.
 */
const knownDisagreements: ReadonlyArray<{ readonly case: string; readonly field: string; readonly doc: string }> = []

/** A case: a recording, or a probe's rewrite of one. */
interface Case extends Recordings.Recording {
  /** The recording it is, or was rewritten from. */
  readonly recording: string
}

const withEvents = (recording: Recordings.Recording, events: ReadonlyArray<Recordings.WireEvent>): Recordings.Recording => ({
  ...recording,
  events,
  body: new TextEncoder().encode(Recordings.encodeEvents(events))
})

const recordings = hasRecordings ? Recordings.all() : []

/** Every recording, then every probe; none when the recordings are absent (the suite is skipped then). */
const cases: ReadonlyArray<Case> = hasRecordings
  ? [
    ...recordings.map((recording) => ({ ...recording, recording: recording.name })),
    ...Probes.probes.map((probe): Case => {
      const recording = recordings.find((candidate) => candidate.name === probe.recording)
      if (recording === undefined) throw new Error(`no recording ${probe.recording} to probe`)
      return { ...withEvents(recording, probe.rewrite(recording.events)), name: `${recording.name} with ${probe.name}`, recording: recording.name }
    })
  ]
  : []

/** The case served as it is, byte for byte, as one write. */
const unchanged = (recording: Recordings.Recording): Mutations.Mutation => ({
  seed: 0,
  description: ["unchanged"],
  steps: [Script.raw(recording.body)],
  sdkSteps: [Script.raw(recording.body)]
})

/** The seed of each round of a case; round 0 is the case unchanged. */
const seeds = (name: string): Array<number> =>
  only !== undefined ? [only] : [0, ...Array.from({ length: rounds }, (_, i) => Prng.seedOf(baseSeed, name, i))]

/** Both sides on one server: each call serves the next script to Reins, or to the SDK. */
const sides = (format: Recordings.Format) =>
  Effect.gen(function*() {
    const server = yield* ProviderServer.make()
    const model = yield* Layer.build(Reins.layer(format, server))
    const sdk = Sdk.make(format, server)
    return {
      reins: (steps: ReadonlyArray<Script.Step>) => {
        server.enqueue(Script.make(steps))
        return Reins.run.pipe(Effect.provide(model))
      },
      sdk: (steps: ReadonlyArray<Script.Step>) =>
        Effect.promise(() => {
          server.enqueue(Script.make(steps))
          return sdk()
        })
    }
  })

/** `events` with "changed " put before the text of their first text delta, in the shape of `format`. */
const changeFirstText = (format: Recordings.Format, events: ReadonlyArray<Recordings.WireEvent>) => {
  let changed = false
  return events.map((event) => {
    if (changed) return event
    let data: any
    try {
      data = JSON.parse(event.data)
    } catch {
      return event
    }
    const holder = format === "chat"
      ? data.choices?.[0]?.delta
      : format === "anthropic"
      ? (data.delta?.type === "text_delta" ? data.delta : undefined)
      : format === "gemini"
      ? data.candidates?.[0]?.content?.parts?.find((part: any) => typeof part.text === "string" && part.text !== "" && part.thought !== true)
      : data.type === "response.output_text.delta"
      ? data
      : undefined
    const key = format === "chat" ? "content" : format === "responses" ? "delta" : "text"
    if (typeof holder?.[key] !== "string" || holder[key] === "") return event
    holder[key] = `changed ${holder[key]}`
    changed = true
    return { ...event, data: JSON.stringify(data) }
  })
}

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

  it("names only cases that exist", () => {
    const names = cases.map((entry) => entry.name)
    for (const entry of sdkDefects) expect(names).toContain(entry.recording)
    for (const entry of knownDisagreements) expect(names).toContain(entry.case)
  })

  // The comparison itself can fail: one text delta changed on Reins's side is seen, in every format.
  // (Changed on the SDK's side it would not be seen for Responses: `finalResponse()` holds the text of
  // `response.completed`, not of the deltas.)
  for (const format of ["chat", "responses", "anthropic", "gemini"] as const) {
    it.scopedLive(`${format}: a stream changed on one side only is a disagreement`, () =>
      Effect.gen(function*() {
        const recording = recordings.find((candidate) =>
          candidate.format === format && changeFirstText(format, candidate.events).some((event, i) => event !== candidate.events[i])
        )!
        const changed = withEvents(recording, changeFirstText(format, recording.events))
        const { reins, sdk } = yield* sides(format)
        const differences = Outcome.compare(yield* reins(unchanged(changed).steps), yield* sdk(unchanged(recording).steps))
        expect(differences.map((difference) => difference.field), recording.name).toContain("text")
      }), 60_000)
  }

  // The reference names the `response.output_item.done` item as the one to replay; the copy in
  // `response.completed`, which is what `finalResponse()` returns, is another encryption in this
  // recording. Reins keeps the done item's, as the reference says, and so does the SDK side's fold.
  it.scopedLive("responses: the encrypted reasoning kept is output_item.done's, not response.completed's", () =>
    Effect.gen(function*() {
      const recording = recordings.find((candidate) => candidate.name === "openai-reasoning-encrypted-content.1.chunks.txt #1")!
      const data = recording.events.map((event) => JSON.parse(event.data))
      const done = data.find((event) => event.type === "response.output_item.done" && event.item.type === "reasoning").item.encrypted_content
      const completed = data.find((event) => event.type === "response.completed").response.output[0].encrypted_content
      expect(completed).not.toBe(done)
      const { reins, sdk } = yield* sides("responses")
      const fromReins = yield* reins(unchanged(recording).steps)
      const fromSdk = yield* sdk(unchanged(recording).steps)
      expect(fromReins._tag === "Message" && fromReins.signatures).toEqual([done])
      expect(fromSdk._tag === "Message" && fromSdk.signatures).toEqual([done])
    }), 60_000)

  for (const [format, entry] of Object.entries(sdkRefusals)) {
    it.scopedLive(`${format}: the SDK still refuses what sdkRefusals says (${entry.doc})`, () =>
      Effect.gen(function*() {
        const recording = recordings.find((candidate) => candidate.format === format)!
        // the first seed whose mutation inserts an unknown event
        const seed = Array.from({ length: 100 }, (_, i) => Prng.seedOf("refusal", i)).find((candidate) =>
          Mutations.mutate(recording, Prng.make(candidate), entry.refusals).description.some((note) => note.includes("not served to the SDK"))
        )!
        const { sdk } = yield* sides(recording.format)
        const outcome = yield* sdk(Mutations.mutate(recording, Prng.make(seed), entry.refusals).steps)
        expect(outcome._tag, `the SDK now takes what sdkRefusals says it refuses: drop the ${format} entry`).toBe("Failure")
      }), 60_000)
  }

  for (const entry of cases) {
    it.scopedLive(`${entry.format}: ${entry.name}`, () =>
      Effect.gen(function*() {
        const { reins, sdk } = yield* sides(entry.format)
        const refusals = sdkRefusals[entry.format]?.refusals ?? {}
        const defect = sdkDefects.find((candidate) => candidate.recording === entry.name)
        const forSdk = defect === undefined ? entry : withEvents(entry, defect.repair(entry.events))
        const known = knownDisagreements.filter((disagreement) => disagreement.case === entry.name)

        if (defect !== undefined) {
          const asRecorded = yield* sdk(unchanged(entry).steps)
          expect(asRecorded._tag, `the SDK now copes with ${entry.name}: drop its sdkDefects entry (${defect.doc})`).toBe("Failure")
        }

        let baseline: { readonly reins: Outcome.Outcome; readonly sdk: Outcome.Outcome } | undefined
        for (const seed of seeds(entry.name)) {
          const mutation = seed === 0 ? unchanged(entry) : Mutations.mutate(entry, Prng.make(seed), refusals)
          const fromReins = yield* reins(mutation.steps)
          const fromSdk = yield* sdk((seed === 0 ? unchanged(forSdk) : Mutations.mutate(forSdk, Prng.make(seed), refusals)).sdkSteps)
          const where = `${entry.name}, seed ${seed}: ${mutation.description.join("; ")}`
          const differences = Outcome.compare(fromReins, fromSdk)
          expect(differences.filter((difference) => !known.some((disagreement) => disagreement.field === difference.field)), where)
            .toEqual([])
          if (seed === 0) {
            baseline = { reins: fromReins, sdk: fromSdk }
            for (const disagreement of known) {
              expect(
                differences.map((difference) => difference.field),
                `${where}: ${disagreement.field} agrees now (${disagreement.doc}): drop its knownDisagreements entry`
              ).toContain(disagreement.field)
            }
          } else if (baseline !== undefined) {
            // A mutation the format allows must not turn a message into a failure on both sides at once.
            expect({ reins: fromReins._tag, sdk: fromSdk._tag }, where).toEqual({ reins: baseline.reins._tag, sdk: baseline.sdk._tag })
          }
        }
      }), 60_000)
  }
})
