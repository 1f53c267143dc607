/**
 * Token usage of one model response, or of a whole turn when added up.
 */
import * as Schema from "effect/Schema"

/** Token counts. `estimated` marks counts made locally, as after an interruption. */
export const Usage = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  /** Input tokens served from the provider's prompt cache (included in `inputTokens`). */
  cacheReadTokens: Schema.Number,
  /** Input tokens written to the provider's prompt cache. */
  cacheWriteTokens: Schema.Number,
  /** Output tokens spent on reasoning (included in `outputTokens`). */
  reasoningTokens: Schema.Number,
  estimated: Schema.optional(Schema.Boolean)
})
export type Usage = typeof Usage.Type

/** No tokens at all. */
export const empty: Usage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0
}

/** Builds a usage from the counts given, zero for the rest. */
export const make = (counts: Partial<Usage>): Usage => ({ ...empty, ...counts })

/** Adds two usages; the sum is estimated when either part was. */
export const add = (self: Usage, that: Usage): Usage => {
  const sum: Usage = {
    inputTokens: self.inputTokens + that.inputTokens,
    outputTokens: self.outputTokens + that.outputTokens,
    cacheReadTokens: self.cacheReadTokens + that.cacheReadTokens,
    cacheWriteTokens: self.cacheWriteTokens + that.cacheWriteTokens,
    reasoningTokens: self.reasoningTokens + that.reasoningTokens
  }
  return self.estimated || that.estimated ? { ...sum, estimated: true } : sum
}

/**
 * A rough local token count for text that arrived before an interruption: about four characters
 * a token for Latin script, one per character for CJK. Good enough to bill a stopped stream.
 */
export const estimateTokens = (text: string): number => {
  let wide = 0
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x2e80) wide++
  }
  return Math.ceil((text.length - wide) / 4) + wide
}
