import { describe, expect, it } from "@effect/vitest"
import { Part } from "@reins/core"
import { McpContent } from "@reins/mcp"

const png = "iVBORw0KGgo="

describe("McpContent.tools", () => {
  it("keeps valid tools as sent, with every key of their schemas", () => {
    const echo = {
      name: "echo",
      title: "Echo",
      inputSchema: { type: "object", properties: { text: { type: "string" } }, additionalProperties: false, $defs: { a: {} } },
      annotations: { readOnlyHint: true }
    }
    const { skipped, tools } = McpContent.tools([echo])
    expect(skipped).toEqual([])
    expect(tools[0]).toBe(echo)
  })

  it("skips what does not fit, each with its reason, and keeps the rest", () => {
    const { skipped, tools } = McpContent.tools([
      null,
      "a string",
      { name: "no_schema" },
      { name: "array_schema", inputSchema: { type: "array" } },
      { name: "bad_required", inputSchema: { type: "object", required: "text" } },
      { name: 42, inputSchema: { type: "object" } },
      { name: "ok", inputSchema: { type: "object" } },
      { name: "ok", inputSchema: { type: "object", properties: {} } },
      { name: "task_only", inputSchema: { type: "object" }, execution: { taskSupport: "required" } }
    ])
    expect(tools.map((tool) => tool.name)).toEqual(["ok"])
    expect(skipped.map((s) => s.name)).toEqual(["#0", "#1", "no_schema", "array_schema", "bad_required", "#5", "ok", "task_only"])
    expect(skipped.find((s) => s.name === "array_schema")?.reason).toMatch(/inputSchema\.type/)
    expect(skipped.find((s) => s.name === "ok")?.reason).toBe("an earlier tool has the same name")
    expect(skipped.find((s) => s.name === "task_only")?.reason).toMatch(/task/)
  })
})

describe("McpContent.toolName", () => {
  it("keeps names providers take, and makes the others so", () => {
    expect(McpContent.toolName("", "read_file")).toBe("read_file")
    expect(McpContent.toolName("fs-", "read.file/v2")).toBe("fs-read_file_v2")
    expect(McpContent.toolName("", "x".repeat(100))).toHaveLength(64)
    expect(McpContent.toolName("", "")).toBe("_")
    expect(McpContent.toolName("", "héllo wörld")).toBe("h_llo_w_rld")
  })
})

describe("McpContent.result", () => {
  it("reads text, images, embedded resources and links", () => {
    const link = { type: "resource_link", uri: "file:///a.txt", name: "a.txt" }
    const result = McpContent.result({
      content: [
        { type: "text", text: "hello" },
        { type: "image", data: png, mimeType: "image/png" },
        { type: "resource", resource: { uri: "file:///notes.md", text: "# Notes" } },
        { type: "resource", resource: { uri: "file:///p.png", mimeType: "image/png", blob: png } },
        { type: "resource", resource: { uri: "file:///x.bin", mimeType: "application/octet-stream", blob: "AAAA" } },
        { type: "audio", data: "AAAA", mimeType: "audio/wav" },
        link
      ]
    })
    expect(result).toEqual({
      isError: false,
      content: [
        Part.text("hello"),
        Part.imageData(png, "image/png"),
        Part.text("# Notes"),
        Part.imageData(png, "image/png"),
        Part.text("[resource file:///x.bin (application/octet-stream) that this client cannot show]"),
        Part.text("[audio (audio/wav) that this client cannot show]"),
        Part.json(link)
      ]
    })
  })

  it("gives structured content as one JSON part and drops the text that only repeats it", () => {
    const structuredContent = { b: [1, 2], a: "x" }
    expect(McpContent.result({ content: [{ type: "text", text: JSON.stringify(structuredContent) }], structuredContent }).content)
      .toEqual([Part.json(structuredContent)])
    expect(McpContent.result({ content: [{ type: "text", text: "A summary" }], structuredContent }).content)
      .toEqual([Part.text("A summary"), Part.json(structuredContent)])
    expect(McpContent.result({ structuredContent }).content).toEqual([Part.json(structuredContent)])
  })

  it("keeps isError, and says so when an error or a result has no content", () => {
    expect(McpContent.result({ isError: true, content: [{ type: "text", text: "no" }] })).toEqual({ isError: true, content: [Part.text("no")] })
    expect(McpContent.result({ isError: true, content: [] })).toEqual({ isError: true, content: [Part.text("The tool reported an error.")] })
    expect(McpContent.result({})).toEqual({ isError: false, content: [Part.text("The tool returned nothing.")] })
  })

  it("passes content MCP does not define to the model as JSON, and refuses a result that is no object", () => {
    expect(McpContent.result({ content: [{ type: "video", url: "u" }, { type: "text" }, 3] }).content)
      .toEqual([Part.json({ type: "video", url: "u" }), Part.json({ type: "text" }), Part.json(3)])
    expect(McpContent.result({ content: "plain" }).content).toEqual([Part.json("plain")])
    expect(McpContent.result({ isError: "yes", content: [] }).isError).toBe(false)
    expect(McpContent.result([1, 2]).isError).toBe(true)
    expect(McpContent.result(null).isError).toBe(true)
  })
})

describe("McpContent.errorText", () => {
  it("joins text and shows anything else as JSON", () => {
    expect(McpContent.errorText([Part.text("failed:"), Part.json({ code: 3 }), Part.imageData(png, "image/png")]))
      .toBe(`failed:\n{"code":3}\n[an image (image/png)]`)
  })
})
