/**
 * Fixed rewrites of recordings, each singling out one question the seeded mutations leave alone.
 * A probe is a case of its own: the rewritten stream, played as it is and under seeded mutations.
 */
import type { Format, WireEvent } from "./Recordings.js"

/** One rewrite of one recording. */
export interface Probe {
  readonly recording: string
  readonly format: Format
  /** What the rewrite does, as the case names it. */
  readonly name: string
  readonly rewrite: (events: ReadonlyArray<WireEvent>) => Array<WireEvent>
}

const parse = (event: WireEvent): any => JSON.parse(event.data)

/** Every probe, each a case of the differential suite. */
export const probes: ReadonlyArray<Probe> = [
  {
    // The first fragment of getWeather says `willContinue`; a part of a kind neither side knows comes
    // before the fragment that holds its `location`.
    recording: "google-stream-tool-call-arguments.chunks.txt",
    format: "gemini",
    name: "a part of another kind between a streamed call's fragments",
    rewrite: (events) => {
      const first = parse(events[0]!)
      const other = {
        candidates: [{ content: { role: "model", parts: [{ reinsUnknownPart: {} }] }, index: 0 }],
        modelVersion: first.modelVersion,
        responseId: first.responseId
      }
      return [events[0]!, { data: JSON.stringify(other) }, ...events.slice(1)]
    }
  },
  {
    // The arguments of the call come only with the finished item.
    recording: "openai-reasoning-encrypted-content.1.chunks.txt #2",
    format: "responses",
    name: "function call arguments only in output_item.done",
    rewrite: (events) => events.filter((event) => !(event.event ?? "").startsWith("response.function_call_arguments."))
  }
]
