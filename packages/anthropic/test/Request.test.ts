import { describe, expect, it } from "@effect/vitest"
import { Message, Part, Usage } from "@reins/core"
import * as AnthropicRequest from "../src/Request.js"

const assistant = (content: Message.Assistant["content"], provider = "anthropic", stopReason: Message.Assistant["stopReason"] = "stop"): Message.Assistant => ({
  _tag: "Assistant",
  content,
  stopReason,
  usage: Usage.empty,
  provider,
  model: "claude-sonnet-4-5"
})

const history: ReadonlyArray<Message.Message> = [
  Message.user([Part.text("Weather in Paris and Oslo?"), Part.imageData("iVBORw0=", "image/png")]),
  assistant([
    { _tag: "Reasoning", text: "Two cities: call the tool twice.", signature: "EqQBCkgIARAB" },
    Part.text("Checking both."),
    Part.toolCall("toolu_a", "weather", "{\"city\":\"Paris\"}"),
    Part.toolCall("toolu_b", "weather", "{\"city\":\"Oslo\"}")
  ], "anthropic", "tool-calls"),
  Message.toolResult({ toolCallId: "toolu_a", toolName: "weather", content: "18C" }),
  Message.toolResult({ toolCallId: "toolu_b", toolName: "weather", content: "no station", isError: true }),
  assistant([Part.text("Paris 18C; Oslo unknown.")]),
  // stopped before its first token: carries nothing, so it is not sent
  assistant([], "anthropic", "interrupted"),
  Message.user("Thanks")
]

const tools = [{ name: "weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }]

const options = { model: "claude-sonnet-4-5", provider: "anthropic", maxTokens: 8192 }

describe("AnthropicRequest.body", () => {
  it("encodes a whole conversation as the Messages documentation describes", () => {
    const body = AnthropicRequest.body(
      { system: "Be brief.", messages: history, tools, toolChoice: "auto", maxOutputTokens: 4096, temperature: 1, reasoning: { effort: "low" } },
      options
    )
    expect(body).toEqual({
      model: "claude-sonnet-4-5",
      max_tokens: 4096,
      stream: true,
      system: "Be brief.",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Weather in Paris and Oslo?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0=" } }
          ]
        },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Two cities: call the tool twice.", signature: "EqQBCkgIARAB" },
            { type: "text", text: "Checking both." },
            { type: "tool_use", id: "toolu_a", name: "weather", input: { city: "Paris" } },
            { type: "tool_use", id: "toolu_b", name: "weather", input: { city: "Oslo" } }
          ]
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_a", content: "18C", is_error: false },
            { type: "tool_result", tool_use_id: "toolu_b", content: "no station", is_error: true }
          ]
        },
        { role: "assistant", content: [{ type: "text", text: "Paris 18C; Oslo unknown." }] },
        { role: "user", content: [{ type: "text", text: "Thanks" }] }
      ],
      tools: [{ name: "weather", description: "Current weather", input_schema: tools[0].parameters }],
      tool_choice: { type: "auto" },
      temperature: 1,
      thinking: { type: "enabled", budget_tokens: 2048 }
    })
  })

  it("drops the reasoning of another provider's message but keeps its text and tool calls", () => {
    const turns = AnthropicRequest.messages([
      Message.user("Hi"),
      assistant([
        { _tag: "Reasoning", text: "foreign thoughts", signature: "gAAAAencrypted" },
        Part.text("Calling."),
        Part.toolCall("call_1", "now", "")
      ], "openai", "tool-calls"),
      Message.toolResult({ toolCallId: "call_1", toolName: "now", content: "noon" })
    ], "anthropic")
    expect(turns).toEqual([
      { role: "user", content: [{ type: "text", text: "Hi" }] },
      { role: "assistant", content: [{ type: "text", text: "Calling." }, { type: "tool_use", id: "call_1", name: "now", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "noon", is_error: false }] }
    ])
  })

  it("skips an interrupted message holding only unsigned reasoning, and replays redacted thinking as redacted_thinking", () => {
    const turns = AnthropicRequest.messages([
      Message.user("Hi"),
      assistant([{ _tag: "Reasoning", text: "half a thou" }], "anthropic", "interrupted"),
      Message.user("Go on"),
      assistant([{ _tag: "Reasoning", text: "", signature: "RedactedData", redacted: true }, Part.text("Done.")])
    ], "anthropic")
    expect(turns).toEqual([
      // the two user messages around the skipped assistant turn become one turn
      { role: "user", content: [{ type: "text", text: "Hi" }, { type: "text", text: "Go on" }] },
      { role: "assistant", content: [{ type: "redacted_thinking", data: "RedactedData" }, { type: "text", text: "Done." }] }
    ])
  })

  it("leaves out empty and whitespace-only text, and the assistant turns that leaves empty", () => {
    const turns = AnthropicRequest.messages([
      Message.user([Part.text("Time?"), Part.text(" \n")]),
      // stopped right after a blank text delta
      assistant([Part.text("\n\n")], "anthropic", "interrupted"),
      Message.user("Go on"),
      // stopped after its signed thinking, before any text: the thinking of a past turn is ignored
      assistant([{ _tag: "Reasoning", text: "Hm.", signature: "sig" }, Part.text("\t")], "anthropic", "interrupted"),
      Message.user([Part.text("")]),
      assistant([Part.text("Noon."), Part.text("  ")])
    ], "anthropic")
    expect(turns).toEqual([
      { role: "user", content: [{ type: "text", text: "Time?" }, { type: "text", text: "Go on" }] },
      { role: "assistant", content: [{ type: "text", text: "Noon." }] }
    ])
  })

  it("ends a last assistant turn (a prefill) without trailing whitespace, and only the last", () => {
    const history = [Message.user("Hi"), assistant([Part.text("Hello! ")]), Message.user("Count"), assistant([Part.text("One, two, \n")])]
    const turns = AnthropicRequest.messages(history, "anthropic")
    expect(turns.map((turn) => turn.content)).toEqual([
      [{ type: "text", text: "Hi" }],
      [{ type: "text", text: "Hello! " }],
      [{ type: "text", text: "Count" }],
      [{ type: "text", text: "One, two," }]
    ])
  })

  it("sends a repeated tool call id renamed, on the call and on the result that answers it", () => {
    const step = (ids: ReadonlyArray<string>, tz: string) => [
      assistant(ids.map((id) => Part.toolCall(id, "clock", JSON.stringify({ tz }))), "google", "tool-calls"),
      ...ids.map((id, i) => Message.toolResult({ toolCallId: id, toolName: "clock", content: `${tz} ${i}` }))
    ]
    // a history stored when Gemini's calls were numbered per response, and a server that repeats ids in one response
    const history = [Message.user("Times?"), ...step(["call_0"], "Tokyo"), ...step(["call_0", "call_0"], "Oslo"), ...step(["call_0_2"], "Lima")]
    const turns = AnthropicRequest.messages(history, "anthropic")
    const pairs = turns.flatMap((turn) =>
      turn.content.map((block) => block.type === "tool_use" ? `use ${block.id} ${(block.input as any).tz}` : `result ${block.tool_use_id} ${block.content}`)
    ).slice(1)
    expect(pairs).toEqual([
      "use call_0 Tokyo",
      "result call_0 Tokyo 0",
      "use call_0_2 Oslo",
      "use call_0_3 Oslo",
      "result call_0_2 Oslo 0",
      "result call_0_3 Oslo 1",
      // an id that is the renamed form of an earlier one is itself renamed
      "use call_0_2_2 Lima",
      "result call_0_2_2 Lima 0"
    ])
    // the same history always gets the same ids
    expect(AnthropicRequest.messages(history, "anthropic")).toEqual(turns)
  })

  it("sends ids outside the API's pattern with other characters as _", () => {
    const turns = AnthropicRequest.messages([
      Message.user("Time?"),
      assistant([Part.toolCall("functions.clock:0", "clock", "{}"), Part.toolCall("functions_clock_0", "clock", "{}")], "kimi", "tool-calls"),
      Message.toolResult({ toolCallId: "functions.clock:0", toolName: "clock", content: "a" }),
      Message.toolResult({ toolCallId: "functions_clock_0", toolName: "clock", content: "b" })
    ], "anthropic")
    expect(turns[1].content.map((block) => block.id)).toEqual(["functions_clock_0", "functions_clock_0_2"])
    expect(turns[2].content.map((block) => [block.tool_use_id, block.content])).toEqual([["functions_clock_0", "a"], ["functions_clock_0_2", "b"]])
  })

  it("puts tool results before the other blocks of their user turn", () => {
    const turns = AnthropicRequest.messages([
      Message.user("Time?"),
      assistant([Part.toolCall("toolu_1", "clock", "{}")], "anthropic", "tool-calls"),
      Message.user("Tokyo, please"),
      Message.toolResult({ toolCallId: "toolu_1", toolName: "clock", content: "noon" })
    ], "anthropic")
    expect(turns[2]).toEqual({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "noon", is_error: false }, { type: "text", text: "Tokyo, please" }]
    })
  })

  it("sends unparseable or non-object tool arguments as {}", () => {
    expect(AnthropicRequest.toolInput("{\"filename\": \"taxes.txt")).toEqual({})
    expect(AnthropicRequest.toolInput("[1]")).toEqual({})
    expect(AnthropicRequest.toolInput("  ")).toEqual({})
    expect(AnthropicRequest.toolInput("{\"a\":[1]}")).toEqual({ a: [1] })
  })

  it("maps tool choices", () => {
    expect(AnthropicRequest.toolChoice("auto")).toEqual({ type: "auto" })
    expect(AnthropicRequest.toolChoice("required")).toEqual({ type: "any" })
    expect(AnthropicRequest.toolChoice("none")).toEqual({ type: "none" })
    expect(AnthropicRequest.toolChoice({ tool: "weather" })).toEqual({ type: "tool", name: "weather" })
  })

  it("encodes image URLs, unpacking base64 data: URLs", () => {
    const [turn] = AnthropicRequest.messages([
      Message.user([Part.imageUrl("https://example.com/cat.jpg"), Part.imageUrl("data:image/jpeg;base64,/9j/4AAQ")])
    ], "anthropic")
    expect(turn.content).toEqual([
      { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
      { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" } }
    ])
  })

  it("puts cache breakpoints after the system prompt, the tools and the last user block", () => {
    const body = AnthropicRequest.body(
      { system: "Be brief.", messages: [Message.system("Use metric units."), ...history.slice(0, 4)], tools },
      { ...options, cache: ["system", "tools", "last-user"] }
    )
    const ephemeral = { type: "ephemeral" }
    expect(body.system).toEqual([
      { type: "text", text: "Be brief." },
      { type: "text", text: "Use metric units.", cache_control: ephemeral }
    ])
    expect((body.tools as any)[0].cache_control).toEqual(ephemeral)
    const messages = body.messages as Array<AnthropicRequest.Turn>
    expect(messages.at(-1)!.content.at(-1)).toEqual({ type: "tool_result", tool_use_id: "toolu_b", content: "no station", is_error: true, cache_control: ephemeral })
    expect(messages[0].content.some((block) => "cache_control" in block)).toBe(false)
  })

  it("thinks adaptively with the request's effort, or with a fixed budget that max_tokens exceeds", () => {
    const request = { messages: [Message.user("Hi")], reasoning: { effort: "minimal" as const } }
    const adaptive = AnthropicRequest.body(request, { ...options, thinking: { type: "adaptive", effort: "high" } })
    expect(adaptive.thinking).toEqual({ type: "adaptive" })
    expect(adaptive.output_config).toEqual({ effort: "low" })
    expect(adaptive.max_tokens).toBe(8192)
    expect(AnthropicRequest.body({ messages: request.messages }, { ...options, thinking: { type: "adaptive", effort: "max" } }).output_config)
      .toEqual({ effort: "max" })
    expect(AnthropicRequest.body({ messages: request.messages }, { ...options, thinking: { type: "adaptive" } }).output_config).toBeUndefined()

    const budget = AnthropicRequest.body({ messages: request.messages }, { ...options, thinking: { type: "enabled", budgetTokens: 10_000 } })
    expect(budget.thinking).toEqual({ type: "enabled", budget_tokens: 10_000 })
    expect(budget.max_tokens).toBe(8192 + 10_000)
    const high = AnthropicRequest.body({ messages: request.messages, reasoning: { effort: "high" }, maxOutputTokens: 20_000 }, options)
    expect(high.thinking).toEqual({ type: "enabled", budget_tokens: 16384 })
    expect(high.max_tokens).toBe(20_000)
    expect(AnthropicRequest.body({ messages: request.messages }, options).thinking).toBeUndefined()
  })

  it("lets a request name another model and merges provider options last", () => {
    const body = AnthropicRequest.body(
      { messages: [Message.user("hi")], model: "claude-haiku-4-5", providerOptions: { anthropic: { top_k: 5, metadata: { user_id: "u1" } }, openai: { ignored: true } } },
      options
    )
    expect(body.model).toBe("claude-haiku-4-5")
    expect(body.top_k).toBe(5)
    expect(body.metadata).toEqual({ user_id: "u1" })
    expect(body.ignored).toBeUndefined()
  })
})
