/**
 * Options of an OpenAI Responses layer. The key and base URL come from the options or from
 * `OPENAI_API_KEY` / `OPENAI_BASE_URL`, read by the same `fromEnv` as the Chat Completions layer.
 */
import type { ProviderConfig } from "@reins/core"

/** How much of its reasoning the model summarizes in the stream. */
export type ReasoningSummary = "auto" | "concise" | "detailed"

/**
 * What a Responses layer needs. The key is sent as a bearer token; `baseUrl` includes the version,
 * as the official SDK takes it: `https://api.openai.com/v1`.
 */
export interface Options extends ProviderConfig.Common {
  /**
   * Declares a reasoning model: every request asks for this kind of summary and for the encrypted
   * reasoning that lets it be replayed. Without it only requests that set `reasoning` do (with
   * summary "auto"), because models that do not reason reject both fields.
   */
  readonly reasoningSummary?: ReasoningSummary | undefined
}
