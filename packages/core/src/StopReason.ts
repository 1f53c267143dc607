/**
 * Why a model response ended, in one vocabulary for every provider.
 */
import * as Schema from "effect/Schema"

/**
 * - `stop`: the model finished; `length`: it hit the output limit; `tool-calls`: it waits for tool
 *   results; `content-filter` and `refusal`: the provider or model declined; `error`: the provider
 *   reported a failure; `interrupted`: the caller stopped it; `other`: anything else (the provider's
 *   raw reason is kept beside it).
 */
export const StopReason = Schema.Literal(
  "stop",
  "length",
  "tool-calls",
  "content-filter",
  "refusal",
  "error",
  "interrupted",
  "other"
)
export type StopReason = typeof StopReason.Type
