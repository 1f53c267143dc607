/**
 * The typed failures of connecting to an MCP server. A failing tool call is not among them: it
 * becomes an error result for the model, as every tool failure does.
 */
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"

/** Marks every MCP error, so that `isMcpError` can tell one apart from any other value. */
export const TypeId: unique symbol = Symbol.for("@reins/mcp/McpError")

/** The type of `TypeId`. */
export type TypeId = typeof TypeId

/**
 * The server could not be reached, started, initialised or listed: the process would not start or
 * exited, the URL did not answer, the handshake or `tools/list` failed or took too long. `server`
 * names it (the command line, or the URL); `stderr` is the end of what a process wrote there.
 */
export class ConnectionError extends Data.TaggedError("McpConnectionError")<{
  readonly server: string
  readonly reason: string
  readonly stderr?: string | undefined
  readonly cause?: unknown
}> {
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    const stderr = this.stderr === undefined || this.stderr.trim() === "" ? "" : `\nIts stderr ended with:\n${this.stderr.trimEnd()}`
    return `MCP server ${this.server}: ${this.reason}${stderr}`
  }
}

/** Any MCP error. */
export type McpError = ConnectionError

/** Whether `u` is an MCP error. */
export const isMcpError = (u: unknown): u is McpError => Predicate.hasProperty(u, TypeId)
