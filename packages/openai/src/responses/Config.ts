/**
 * Options of an OpenAI Responses layer. The key and base URL come from the options or from
 * `OPENAI_API_KEY` / `OPENAI_BASE_URL`, read by the same `fromEnv` as the Chat Completions layer.
 */
import type * as Redacted from "effect/Redacted"

/** How much of its reasoning the model summarizes in the stream. */
export type ReasoningSummary = "auto" | "concise" | "detailed"

/** What a Responses layer needs. */
export interface Options {
  /** The model used unless a request names another. */
  readonly model: string
  /** Sent as a bearer token; kept `Redacted` so it never reaches a log, an error or a span. */
  readonly apiKey?: Redacted.Redacted | string | undefined
  /** The API root including the version, as the official SDK takes it: `https://api.openai.com/v1`. */
  readonly baseUrl?: string | undefined
  /** Extra headers on every request (an organization or project id, say). */
  readonly headers?: Record<string, string> | undefined
  /**
   * Declares a reasoning model: every request asks for this kind of summary and for the encrypted
   * reasoning that lets it be replayed. Without it only requests that set `reasoning` do (with
   * summary "auto"), because models that do not reason reject both fields.
   */
  readonly reasoningSummary?: ReasoningSummary | undefined
  /** The name put on messages and errors; defaults to `openai`. */
  readonly provider?: string | undefined
}
