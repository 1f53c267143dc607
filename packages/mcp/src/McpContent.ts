/**
 * What an MCP server sends, read into Reins terms: the tools of a `tools/list` answer, checked one
 * by one, and a `tools/call` result as tool result parts. Plain functions with no Effect runtime,
 * tolerant of servers that stray from the spec: a tool that does not fit is skipped with a reason
 * rather than failing the whole list, and content MCP does not define goes to the model as JSON.
 */
import type { Tool as ListedTool } from "@modelcontextprotocol/sdk/types.js"
import { ContentBlockSchema, ToolSchema } from "@modelcontextprotocol/sdk/types.js"
import { Part } from "@reins/core"

/** A tool as the server listed it, with its input schema exactly as sent. */
export type McpTool = ListedTool

/** A listed tool left out, and why. */
export interface Skipped {
  readonly name: string
  readonly reason: string
}

/** The tools of one or more `tools/list` pages. */
export interface Tools {
  readonly tools: ReadonlyArray<McpTool>
  readonly skipped: ReadonlyArray<Skipped>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Checks each listed tool against MCP's `Tool` shape (a name, an input schema of `type: "object"`
 * with object-valued properties, ...). A tool that does not fit, that repeats an earlier name, or
 * that can only run as an MCP task (which a turn's call does not use) is skipped, with the reason.
 *
 * @example
 * ```ts
 * import { McpContent } from "@reins/mcp"
 *
 * const { tools, skipped } = McpContent.tools([
 *   { name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } } } },
 *   { name: "broken", inputSchema: { type: "string" } }
 * ])
 * assert.deepStrictEqual(tools.map((tool) => tool.name), ["echo"])
 * assert.strictEqual(skipped[0].name, "broken")
 * ```
 */
export const tools = (listed: ReadonlyArray<unknown>): Tools => {
  const kept: Array<McpTool> = []
  const skipped: Array<Skipped> = []
  const names = new Set<string>()
  listed.forEach((raw, index) => {
    const name = isRecord(raw) && typeof raw.name === "string" ? raw.name : `#${index}`
    const checked = ToolSchema.safeParse(raw)
    if (!checked.success) {
      const issue = checked.error.issues[0]
      const where = issue === undefined || issue.path.length === 0 ? "" : ` at ${issue.path.join(".")}`
      return skipped.push({ name, reason: `not a valid MCP tool${where}: ${issue?.message ?? checked.error.message}` })
    }
    if (names.has(name)) return skipped.push({ name, reason: "an earlier tool has the same name" })
    if (checked.data.execution?.taskSupport === "required") {
      return skipped.push({ name, reason: "it runs only as an MCP task" })
    }
    names.add(name)
    // The tool as sent, not as parsed: the model must see the server's schema unchanged.
    kept.push(raw as McpTool)
  })
  return { tools: kept, skipped }
}

/** The longest tool name every provider takes (OpenAI and Anthropic allow 64 characters). */
const MAX_NAME = 64

/**
 * The name the model knows a tool by: `prefix` and the server's name, with each character that a
 * provider would reject (anything but letters, digits, `_` and `-`; MCP also allows `.` and `/`)
 * replaced by `_`, and cut to 64 characters. The server is still called by its own name.
 *
 * @example
 * ```ts
 * import { McpContent } from "@reins/mcp"
 *
 * assert.strictEqual(McpContent.toolName("gh_", "issues.create"), "gh_issues_create")
 * ```
 */
export const toolName = (prefix: string, name: string): string =>
  `${prefix}${name}`.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, MAX_NAME) || "_"

/** A `tools/call` result read for the model: its parts, and whether the tool reported an error. */
export interface Result {
  readonly isError: boolean
  readonly content: ReadonlyArray<Part.ToolResultPart>
}

const sameJson = (text: string, value: unknown): boolean => {
  try {
    return JSON.stringify(JSON.parse(text)) === JSON.stringify(value)
  } catch {
    return false
  }
}

/** One content block as parts; a block MCP does not define is given to the model as JSON. */
const block = (raw: unknown): ReadonlyArray<Part.ToolResultPart> => {
  const checked = ContentBlockSchema.safeParse(raw)
  if (!checked.success) return [Part.json(raw)]
  const content = checked.data
  switch (content.type) {
    case "text":
      return [Part.text(content.text)]
    case "image":
      return [Part.imageData(content.data, content.mimeType)]
    case "audio":
      // No provider takes audio in a tool result: the model is told that there was some.
      return [Part.text(`[audio (${content.mimeType}) that this client cannot show]`)]
    case "resource_link":
      return [Part.json(raw)]
    case "resource": {
      const resource = content.resource
      if ("text" in resource) return [Part.text(resource.text)]
      if (resource.mimeType?.startsWith("image/") === true) return [Part.imageData(resource.blob, resource.mimeType)]
      return [Part.text(`[resource ${resource.uri}${resource.mimeType === undefined ? "" : ` (${resource.mimeType})`} that this client cannot show]`)]
    }
  }
}

/**
 * Reads a `tools/call` result: text and images as parts, embedded text resources as text, a
 * resource link and any block MCP does not define as JSON, and `structuredContent` as one JSON part
 * (a text block that only repeats it as JSON, as the spec suggests servers send, is dropped). A
 * result with nothing in it says so, and a result that is not an object is an error.
 *
 * @example
 * ```ts
 * import { Part } from "@reins/core"
 * import { McpContent } from "@reins/mcp"
 *
 * const result = McpContent.result({
 *   content: [{ type: "text", text: "{\"temp\":21}" }, { type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" }],
 *   structuredContent: { temp: 21 }
 * })
 * assert.deepStrictEqual(result.content, [Part.imageData("iVBORw0KGgo=", "image/png"), Part.json({ temp: 21 })])
 * ```
 */
export const result = (raw: unknown): Result => {
  if (!isRecord(raw)) return { isError: true, content: [Part.text(`The MCP server sent a tool result that is not an object: ${JSON.stringify(raw)}`)] }
  const isError = raw.isError === true
  const structured = isRecord(raw.structuredContent) ? raw.structuredContent : undefined
  const blocks = Array.isArray(raw.content) ? raw.content : raw.content === undefined ? [] : [raw.content]
  const content: Array<Part.ToolResultPart> = []
  for (const raw of blocks) {
    for (const part of block(raw)) {
      if (structured !== undefined && part._tag === "Text" && sameJson(part.text, structured)) continue
      content.push(part)
    }
  }
  if (structured !== undefined) content.push(Part.json(structured))
  if (content.length === 0) content.push(Part.text(isError ? "The tool reported an error." : "The tool returned nothing."))
  return { isError, content }
}

/** Parts as the text of an error result: text as it is, anything else as its JSON. */
export const errorText = (content: ReadonlyArray<Part.ToolResultPart>): string =>
  content.map((part) =>
    part._tag === "Text" ? part.text : part._tag === "Json" ? JSON.stringify(part.value) : `[an image (${part.mediaType ?? "image"})]`
  ).join("\n")
