import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { LanguageModel, Message } from "@reins/core"
import { Messages, ProviderServer } from "@reins/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Anthropic from "../src/Anthropic.js"

describe("Anthropic layer", () => {
  it.scopedLive("streams a signed thinking block and tool calls, then replays them in the next request", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(
        Messages.reply({
          thinking: { text: "Two cities.", signature: "sig-1" },
          text: "Checking.",
          toolCalls: [
            { id: "toolu_a", name: "weather", input: { city: "Paris" } },
            { id: "toolu_b", name: "now", input: "" }
          ],
          usage: { input_tokens: 20, cache_read_input_tokens: 5, output_tokens: 30 }
        }),
        Messages.reply({ text: "Done." })
      )
      const layer = Anthropic.layer({ model: "claude-test", apiKey: "sk-ant-k", baseUrl: `${server.url}/`, cache: "tools" }).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      )
      yield* Effect.gen(function*() {
        const first = yield* LanguageModel.generate({ messages: [Message.user("Weather?")] })
        expect(first.content).toEqual([
          { _tag: "Reasoning", text: "Two cities.", signature: "sig-1" },
          { _tag: "Text", text: "Checking." },
          { _tag: "ToolCall", id: "toolu_a", name: "weather", arguments: "{\"city\":\"Paris\"}" },
          { _tag: "ToolCall", id: "toolu_b", name: "now", arguments: "{}" }
        ])
        expect(first.usage).toEqual({ inputTokens: 25, outputTokens: 30, cacheReadTokens: 5, cacheWriteTokens: 0, reasoningTokens: 0 })
        const history = [
          Message.user("Weather?"),
          first,
          Message.toolResult({ toolCallId: "toolu_a", toolName: "weather", content: "18C" }),
          Message.toolResult({ toolCallId: "toolu_b", toolName: "now", content: "noon" })
        ]
        const second = yield* LanguageModel.generate({ messages: history })
        expect(Message.text(second)).toBe("Done.")
      }).pipe(Effect.provide(layer))
      expect(server.requests.map((r) => r.path)).toEqual(["/v1/messages", "/v1/messages"])
      expect(server.requests[1]!.headers["x-api-key"]).toBe("sk-ant-k")
      expect((server.requests[1]!.json as any).messages).toEqual([
        { role: "user", content: [{ type: "text", text: "Weather?" }] },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Two cities.", signature: "sig-1" },
            { type: "text", text: "Checking." },
            { type: "tool_use", id: "toolu_a", name: "weather", input: { city: "Paris" } },
            { type: "tool_use", id: "toolu_b", name: "now", input: {} }
          ]
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_a", content: "18C", is_error: false },
            { type: "tool_result", tool_use_id: "toolu_b", content: "noon", is_error: false }
          ]
        }
      ])
    }))

  it.scopedLive("layerConfig reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL", () =>
    Effect.gen(function*() {
      const server = yield* ProviderServer.make()
      server.enqueue(Messages.reply({ text: "Hi" }))
      const env = ConfigProvider.fromMap(new Map([["ANTHROPIC_API_KEY", "sk-ant-env"], ["ANTHROPIC_BASE_URL", server.url]]))
      const layer = Anthropic.layerConfig({ model: "claude-test" }).pipe(
        Layer.provide(NodeHttpClient.layerUndici),
        Layer.provide(Layer.setConfigProvider(env))
      )
      const message = yield* LanguageModel.generate({ messages: [Message.user("Hi")] }).pipe(Effect.provide(layer))
      expect(Message.text(message)).toBe("Hi")
      expect(server.requests[0]!.headers["x-api-key"]).toBe("sk-ant-env")
      expect(server.requests[0]!.headers["anthropic-version"]).toBe("2023-06-01")
    }))
})
