/**
 * The pure mapping alone: turn events to session updates, turn results to stop reasons, stored
 * conversations to their replay, and prompt blocks to a user message, including what a sloppy
 * client sends.
 */
import type * as Acp from "@agentclientprotocol/sdk"
import { describe, expect, it } from "@effect/vitest"
import { AcpPrompt, AcpUpdates } from "@reins/acp"
import { Message, Part, type StopReason, type StreamPart, type Turn, Usage } from "@reins/core"
import * as Either from "effect/Either"

const assistant = (content: ReadonlyArray<Part.AssistantPart>, stopReason: StopReason = "stop"): Message.Assistant => ({
  _tag: "Assistant",
  content,
  stopReason,
  usage: Usage.make({ inputTokens: 10, outputTokens: 5 }),
  provider: "openai",
  model: "m"
})

const part = (step: number, p: StreamPart.StreamPart): Turn.TurnEvent => ({ _tag: "StreamPart", step, part: p })

describe("AcpUpdates", () => {
  it("folds a turn's events into message, thought and tool-call updates", () => {
    const updates = new AcpUpdates.TurnUpdates({ messageId: (step) => `m${step}`, contextWindow: 100 })
    const call = Part.toolCall("c1", "read_file", "{\"path\":\"/a.txt\"}")
    const events: Array<Turn.TurnEvent> = [
      { _tag: "StepStart", step: 1 },
      part(1, { _tag: "Start" }),
      part(1, { _tag: "ReasoningStart", id: "r" }),
      part(1, { _tag: "ReasoningDelta", id: "r", text: "Hmm." }),
      part(1, { _tag: "ReasoningDelta", id: "r", text: "" }),
      part(1, { _tag: "ReasoningEnd", id: "r", signature: "sig" }),
      part(1, { _tag: "ToolCallStart", id: "c1", name: "read_file" }),
      part(1, { _tag: "ToolCallDelta", id: "c1", delta: "{\"path\":" }),
      part(1, { _tag: "ToolCallDelta", id: "c1", delta: "\"/a.txt\"}" }),
      part(1, { _tag: "ToolCallEnd", id: "c1" }),
      { _tag: "ToolCallStarted", step: 1, call },
      { _tag: "StepEnd", step: 1, message: assistant([call], "tool-calls") },
      { _tag: "ToolResult", step: 1, result: Message.toolResult({ toolCallId: "c1", toolName: "read_file", content: "hello" }) },
      { _tag: "StepStart", step: 2 },
      part(2, { _tag: "TextDelta", id: "t", text: "It says hello." })
    ]
    expect(updates.fromEvents(events)).toEqual([
      { sessionUpdate: "agent_thought_chunk", content: { type: "text", text: "Hmm." }, messageId: "m1" },
      { sessionUpdate: "tool_call", toolCallId: "c1", title: "read_file", kind: "read", status: "pending" },
      {
        sessionUpdate: "tool_call_update",
        toolCallId: "c1",
        rawInput: { path: "/a.txt" },
        title: "read_file: /a.txt",
        kind: "read",
        locations: [{ path: "/a.txt" }]
      },
      { sessionUpdate: "tool_call_update", toolCallId: "c1", status: "in_progress", rawInput: { path: "/a.txt" } },
      {
        sessionUpdate: "usage_update",
        used: 15,
        size: 100,
        _meta: { reins: { usage: Usage.make({ inputTokens: 10, outputTokens: 5 }) } }
      },
      {
        sessionUpdate: "tool_call_update",
        toolCallId: "c1",
        status: "completed",
        content: [{ type: "content", content: { type: "text", text: "hello" } }],
        rawOutput: "hello"
      },
      { sessionUpdate: "agent_message_chunk", content: { type: "text", text: "It says hello." }, messageId: "m2" }
    ])
    // Every call has ended: a stop now closes nothing.
    expect(updates.interrupted()).toEqual([])
  })

  it("a stop closes the calls still open as failed, once each", () => {
    const updates = new AcpUpdates.TurnUpdates()
    const call = Part.toolCall("c1", "wait", "{}")
    updates.fromEvents([part(1, { _tag: "ToolCallStart", id: "c1", name: "wait" }), { _tag: "ToolCallStarted", step: 1, call }])
    updates.fromEvent({ _tag: "ApprovalRequested", step: 1, call: Part.toolCall("c2", "delete", "{}") })
    expect(updates.interrupted().map((u) => u.sessionUpdate === "tool_call_update" && [u.toolCallId, u.status])).toEqual([
      ["c1", "failed"],
      ["c2", "failed"]
    ])
    expect(updates.interrupted()).toEqual([])
  })

  it("a denied call, never started, is announced whole and failed; without a context window no usage is sent", () => {
    const updates = new AcpUpdates.TurnUpdates()
    const denied = Message.toolResult({ toolCallId: "c9", toolName: "rm", content: "The user denied this call.", isError: true })
    expect(updates.fromEvent({ _tag: "ToolResult", step: 1, result: denied })).toMatchObject([
      { sessionUpdate: "tool_call", toolCallId: "c9", status: "failed", kind: "delete", rawOutput: "The user denied this call." }
    ])
    expect(updates.fromEvent({ _tag: "StepEnd", step: 1, message: assistant([]) })).toEqual([])
  })

  it("tool results: JSON as its value and its text, images as image blocks or links", () => {
    const content: Message.ToolResultContent = [Part.json({ celsius: 21 })]
    expect(AcpUpdates.rawOutput(content)).toEqual({ celsius: 21 })
    expect(AcpUpdates.toolResultContent(content)).toEqual([{ type: "content", content: { type: "text", text: "{\"celsius\":21}" } }])
    expect(AcpUpdates.toolResultContent([Part.imageData("AAAA", "image/png"), Part.imageUrl("https://x/y.png")])).toEqual([
      { type: "content", content: { type: "image", data: "AAAA", mimeType: "image/png" } },
      { type: "content", content: { type: "resource_link", uri: "https://x/y.png", name: "https://x/y.png", mimeType: null } }
    ])
  })

  it("arguments that are not JSON are shown as they are; long titles are cut", () => {
    expect(AcpUpdates.rawInput("{not json")).toBe("{not json")
    expect(AcpUpdates.rawInput("")).toEqual({})
    const info = AcpUpdates.describeTool("run_command", { command: "x".repeat(200) })
    expect(info.kind).toBe("execute")
    expect(info.title!.length).toBe(80)
    expect(AcpUpdates.describeTool("frobnicate", {}).kind).toBe("other")
  })

  it("stop reasons", () => {
    const cases: Array<[StopReason, Acp.StopReason]> = [
      ["stop", "end_turn"],
      ["length", "max_tokens"],
      ["refusal", "refusal"],
      ["content-filter", "refusal"],
      ["tool-calls", "max_turn_requests"],
      ["interrupted", "cancelled"],
      ["error", "end_turn"],
      ["other", "end_turn"]
    ]
    for (const [reins, acp] of cases) expect(AcpUpdates.stopReason(reins)).toBe(acp)
  })

  it("replays a conversation: user blocks, thoughts but not redacted ones, each call whole with its result", () => {
    const call = Part.toolCall("c1", "current_time", "{\"tz\":\"UTC\"}")
    const cut = Part.toolCall("c2", "wait", "{}")
    const history: Array<Message.Message> = [
      Message.system("Be brief."),
      Message.user([Part.text("Look:"), Part.imageData("AAAA", "image/png"), Part.fileData("JVBE", "application/pdf", "a.pdf")]),
      assistant([{ _tag: "Reasoning", text: "", signature: "x", redacted: true }, { _tag: "Reasoning", text: "Thinking." }, call], "tool-calls"),
      Message.toolResult({ toolCallId: "c1", toolName: "current_time", content: "noon" }),
      assistant([Part.text("Noon."), cut], "interrupted")
    ]
    expect(AcpUpdates.replay(history)).toEqual([
      { sessionUpdate: "user_message_chunk", content: { type: "text", text: "Look:" }, messageId: "msg-1" },
      { sessionUpdate: "user_message_chunk", content: { type: "image", data: "AAAA", mimeType: "image/png" }, messageId: "msg-1" },
      {
        sessionUpdate: "user_message_chunk",
        content: { type: "resource", resource: { uri: "file:///a.pdf", blob: "JVBE", mimeType: "application/pdf" } },
        messageId: "msg-1"
      },
      { sessionUpdate: "agent_thought_chunk", content: { type: "text", text: "Thinking." }, messageId: "msg-2" },
      {
        sessionUpdate: "tool_call",
        toolCallId: "c1",
        title: "current_time: UTC",
        kind: "other",
        status: "completed",
        rawInput: { tz: "UTC" },
        content: [{ type: "content", content: { type: "text", text: "noon" } }],
        rawOutput: "noon"
      },
      { sessionUpdate: "agent_message_chunk", content: { type: "text", text: "Noon." }, messageId: "msg-4" },
      { sessionUpdate: "tool_call", toolCallId: "c2", title: "wait", kind: "other", status: "failed", rawInput: {} }
    ])
  })
})

describe("AcpPrompt", () => {
  it("maps text, images, resource links and embedded resources to one user message", () => {
    const blocks: Array<Acp.ContentBlock> = [
      { type: "text", text: "Review these." },
      { type: "image", data: "iVBO", mimeType: "image/png" },
      { type: "resource_link", uri: "file:///repo/README.md", name: "README.md", mimeType: "text/markdown" },
      { type: "resource", resource: { uri: "file:///repo/a.ts", mimeType: "text/x-typescript", text: "export {}" } },
      { type: "resource", resource: { uri: "file:///repo/doc%20one.pdf", mimeType: "application/pdf", blob: "JVBE" } },
      { type: "resource", resource: { uri: "file:///repo/pic.jpg", mimeType: "image/jpeg", blob: "/9j/" } },
      { type: "text", text: "" }
    ]
    const message = AcpPrompt.toUserMessage(blocks)
    expect(message).toEqual(Either.right(Message.user([
      Part.text("Review these."),
      Part.imageData("iVBO", "image/png"),
      Part.text("[README.md](file:///repo/README.md) (text/markdown)"),
      Part.text("<resource uri=\"file:///repo/a.ts\" mimeType=\"text/x-typescript\">\nexport {}\n</resource>"),
      Part.fileData("JVBE", "application/pdf", "doc one.pdf"),
      Part.imageData("/9j/", "image/jpeg")
    ])))
  })

  it("refuses audio, unknown block types and empty prompts, saying which block", () => {
    const audio = AcpPrompt.toUserMessage([{ type: "text", text: "Hi" }, { type: "audio", data: "AAAA", mimeType: "audio/wav" }])
    expect(audio).toMatchObject(Either.left({ _tag: "Unsupported", index: 1 }))
    expect(AcpPrompt.toUserMessage([{ type: "video" } as unknown as Acp.ContentBlock])).toMatchObject(Either.left({ index: 0 }))
    expect(AcpPrompt.toUserMessage([])).toMatchObject(Either.left({ reason: "the prompt is empty" }))
    expect(AcpPrompt.toUserMessage([{ type: "text", text: "" }])).toMatchObject(Either.left({ reason: "the prompt is empty" }))
  })
})
