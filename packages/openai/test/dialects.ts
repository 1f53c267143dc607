/**
 * Tool-call streams of OpenAI-compatible servers that deviate from OpenAI's, one row per
 * deviation, each with the calls it must decode to. The decoder's unit tests
 * (ChatEvents.test.ts) and the HTTP tests (test/dialects.test.ts) read the same rows. Each row
 * names the servers that send its shape and where that was reported; the streams are written
 * here from those reports, not copied. The rows call two tools: `weather` ({ city }) and
 * `add` ({ a, b }).
 */
import { ChatCompletions } from "@reins/testing"

/** A tool call a row must decode to; without `id`, the server sent none and one is generated. */
export interface ExpectedCall {
  readonly name: string
  readonly id?: string
  readonly arguments: string
}

/** One deviation: the events a server sends and what Reins makes of them. */
export interface Dialect {
  readonly name: string
  /** Who sends it, and where that was reported. */
  readonly servers: string
  /** The SSE `data:` payloads, in order; strings are sent as they are (`[DONE]`). */
  readonly events: ReadonlyArray<object | string>
  readonly calls: ReadonlyArray<ExpectedCall>
  /** The finish reason as sent, when one was. */
  readonly raw?: string
}

const DONE = "[DONE]"
const role = ChatCompletions.chunk({ role: "assistant", content: "" })
const finish = (reason: string) => ChatCompletions.chunk({}, { finishReason: reason })
/** A chunk whose delta carries `tool_calls`, with a finish reason when given. */
const calls = (toolCalls: ReadonlyArray<object>, finishReason?: string) =>
  ChatCompletions.chunk({ tool_calls: toolCalls }, finishReason === undefined ? undefined : { finishReason })
const fn = (name: string | undefined, args: unknown) => (name === undefined ? { arguments: args } : { name, arguments: args })
/** A first delta as OpenAI sends it: index, id, type, name and (usually empty) arguments. */
const head = (index: number, id: string, name: string, args: unknown = "") => ({ index, id, type: "function", function: fn(name, args) })
/** A later delta as OpenAI sends it: index and a piece of the arguments. */
const piece = (index: number, args: string) => ({ index, function: { arguments: args } })

const paris = "{\"city\":\"Paris\"}"
const sum = "{\"a\":2,\"b\":3}"

/** Every deviation covered, OpenAI's own shape first. */
export const dialects: ReadonlyArray<Dialect> = [
  {
    name: "parallel calls told apart by index (OpenAI)",
    servers: "OpenAI, and most compatible servers",
    events: [
      role,
      calls([head(0, "call_w", "weather")]),
      calls([head(1, "call_a", "add")]),
      calls([piece(0, "{\"city\":")]),
      calls([piece(1, "{\"a\":2,")]),
      calls([piece(0, "\"Paris\"}")]),
      calls([piece(1, "\"b\":3}")]),
      finish("tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "call_w", arguments: paris }, { name: "add", id: "call_a", arguments: sum }],
    raw: "tool_calls"
  },
  {
    name: "parallel calls all at index 0, with distinct ids",
    servers: "Ollama (ollama/ollama#15457), LiteLLM's ollama_chat route (google-deepmind/amplio#3)",
    events: [
      role,
      calls([{ index: 0, id: "call_1", type: "function", function: fn("weather", paris) }]),
      calls([{ index: 0, id: "call_2", type: "function", function: fn("add", sum) }]),
      finish("stop"),
      DONE
    ],
    calls: [{ name: "weather", id: "call_1", arguments: paris }, { name: "add", id: "call_2", arguments: sum }],
    raw: "stop"
  },
  {
    name: "calls of one tool all at index 0, arguments streamed",
    servers: "LiteLLM's Responses-to-Chat bridge (BerriAI/litellm#21331), Plexus (mcowger/plexus#691)",
    events: [
      role,
      calls([head(0, "call_p", "weather")]),
      calls([piece(0, "{\"city\":\"Pa")]),
      calls([piece(0, "ris\"}")]),
      calls([head(0, "call_r", "weather")]),
      calls([piece(0, "{\"city\":")]),
      calls([piece(0, "\"Rome\"}")]),
      finish("tool_calls"),
      DONE
    ],
    calls: [
      { name: "weather", id: "call_p", arguments: paris },
      { name: "weather", id: "call_r", arguments: "{\"city\":\"Rome\"}" }
    ],
    raw: "tool_calls"
  },
  {
    name: "no index: deltas routed by id",
    servers: "Gemini (openai/openai-python#2806), Ollama before 0.4.7 (ollama/ollama#7881), mistral.rs (EricLBuehler/mistral.rs#1507)",
    events: [
      role,
      calls([{ id: "g1", type: "function", function: fn("weather", "{\"city\":") }]),
      calls([{ id: "g2", type: "function", function: fn("add", "{\"a\":2,") }]),
      calls([{ id: "g1", function: { arguments: "\"Paris\"}" } }]),
      calls([{ id: "g2", function: { arguments: "\"b\":3}" } }]),
      finish("tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "g1", arguments: paris }, { name: "add", id: "g2", arguments: sum }],
    raw: "tool_calls"
  },
  {
    name: "neither index nor id on continuation deltas: the latest call continues",
    servers: "Gemini's OpenAI-compatible endpoint (open-webui/computer#224)",
    events: [
      role,
      calls([{ id: "function-call-1", type: "function", function: fn("weather", "{\"city\":") }]),
      calls([{ function: { arguments: "\"Paris\"}" } }]),
      calls([{ id: "function-call-2", type: "function", function: fn("add", sum) }]),
      finish("stop"),
      DONE
    ],
    calls: [{ name: "weather", id: "function-call-1", arguments: paris }, { name: "add", id: "function-call-2", arguments: sum }],
    raw: "stop"
  },
  {
    name: "`id: \"\"` and `index: null` on every call",
    servers: "Gemini (meilisearch/meilisearch#5712)",
    events: [
      role,
      calls([{ index: null, id: "", type: "function", function: fn("weather", paris) }]),
      calls([{ index: null, id: "", type: "function", function: fn("add", sum) }]),
      finish("stop"),
      DONE
    ],
    calls: [{ name: "weather", arguments: paris }, { name: "add", arguments: sum }],
    raw: "stop"
  },
  {
    name: "id, type and name repeated on every delta",
    servers: "LiteLLM (BerriAI/litellm#20480), Fireworks (SillyTavern/SillyTavern#5948), llama.cpp before ggml-org/llama.cpp#13800",
    events: [
      role,
      calls([head(0, "call_x", "weather")]),
      calls([head(0, "call_x", "weather", "{\"city\":")]),
      calls([head(0, "call_x", "weather", "\"Paris\"}")]),
      finish("tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "call_x", arguments: paris }],
    raw: "tool_calls"
  },
  {
    name: "the name repeated on every delta, the id only on the first",
    servers: "MiniMax M2.7 through NVIDIA NIM (NousResearch/hermes-agent#11984)",
    events: [
      role,
      calls([head(0, "call_m", "weather")]),
      calls([{ index: 0, function: fn("weather", "{\"city\":") }]),
      calls([{ index: 0, function: fn("weather", "\"Paris\"}") }]),
      finish("tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "call_m", arguments: paris }],
    raw: "tool_calls"
  },
  {
    name: "a new id on every delta of one call",
    servers: "LiteLLM's OCI route (BerriAI/litellm#40040), Poolside (poolsideai/pool#9)",
    events: [
      role,
      calls([head(0, "chatcmpl-tool-a1", "weather")]),
      calls([{ index: 0, id: "call_b4", type: "function", function: fn("", "{\"city\": \"") }]),
      calls([{ index: 0, id: "call_ed", type: "function", function: fn("", "Paris\"}") }]),
      finish("stop"),
      DONE
    ],
    calls: [{ name: "weather", id: "chatcmpl-tool-a1", arguments: "{\"city\": \"Paris\"}" }],
    raw: "stop"
  },
  {
    name: "the arguments whole in one delta",
    servers: "Ollama (ollama/ollama#11633), Mistral (64bit/async-openai#329), Groq (BerriAI/litellm#7621), xAI (recorded: openai-compatible/xai-tool-call.chunks.txt)",
    events: [role, calls([head(0, "call_o", "weather", paris)]), finish("tool_calls"), DONE],
    calls: [{ name: "weather", id: "call_o", arguments: paris }],
    raw: "tool_calls"
  },
  {
    name: "the whole arguments again in the final delta",
    servers: "vLLM's end-of-stream flush (vllm-project/vllm#51697), LiteLLM's closing summary (BerriAI/litellm#20480)",
    events: [
      role,
      calls([head(0, "call_v", "weather")]),
      calls([piece(0, "{\"city\": ")]),
      calls([piece(0, "\"Paris\"}")]),
      calls([{ index: 0, id: null, type: null, function: { name: null, arguments: "{\"city\": \"Paris\"}" } }], "tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "call_v", arguments: "{\"city\": \"Paris\"}" }],
    raw: "tool_calls"
  },
  {
    name: "the whole arguments again, spaced differently",
    servers: "vLLM's end-of-stream flush, which re-serializes the arguments (vllm-project/vllm#42167)",
    events: [
      role,
      calls([head(0, "call_s", "add", "{\"a\": 2, ")]),
      calls([piece(0, "\"b\": 3}")]),
      calls([piece(0, sum)], "tool_calls"),
      DONE
    ],
    calls: [{ name: "add", id: "call_s", arguments: "{\"a\": 2, \"b\": 3}" }],
    raw: "tool_calls"
  },
  {
    name: "part of the arguments, then all of them in the final delta",
    servers: "vLLM with GLM-5.1 (vllm-project/vllm#42167) and the xlam parser (vllm-project/vllm#51697)",
    events: [
      role,
      calls([head(0, "call_g", "weather")]),
      calls([piece(0, "{")]),
      calls([piece(0, "\"city\": \"Par")]),
      calls([piece(0, "{\"city\": \"Paris\"}")], "tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "call_g", arguments: "{\"city\": \"Paris\"}" }],
    raw: "tool_calls"
  },
  {
    name: "tool calls with `finish_reason: \"stop\"`",
    servers: "Ollama (ollama/ollama#5796), LiteLLM's ollama_chat route (BerriAI/litellm#37792), Gemini (open-webui/computer#224)",
    events: [role, calls([head(0, "call_t", "add", sum)]), finish("stop"), DONE],
    calls: [{ name: "add", id: "call_t", arguments: sum }],
    raw: "stop"
  },
  {
    name: "no finish reason before `[DONE]`",
    servers: "GLM-5.1 on NVIDIA NIM (earendil-works/pi#6225), vllm-mlx (waybarrios/vllm-mlx#672)",
    events: [role, calls([head(0, "call_n", "weather")]), calls([piece(0, paris)]), DONE],
    calls: [{ name: "weather", id: "call_n", arguments: paris }]
  },
  {
    name: "`finish_reason: \"\"` on every chunk before the last",
    servers: "Ollama (ollama/ollama#4357), SGLang (sgl-project/sglang#3912)",
    events: [
      ChatCompletions.chunk({ role: "assistant", content: "" }, { finishReason: "" }),
      calls([head(0, "call_e", "weather")], ""),
      calls([piece(0, "{\"city\":")], ""),
      calls([piece(0, "\"Paris\"}")], ""),
      finish("tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "call_e", arguments: paris }],
    raw: "tool_calls"
  },
  {
    name: "no id at all",
    servers: "vLLM (vllm-project/vllm#18412), Ollama with gpt-oss (continuedev/continue#13225), GLM through Mistral's endpoint (anomalyco/opencode#47954)",
    events: [
      role,
      calls([{ index: 0, type: "function", function: fn("weather", "") }]),
      calls([piece(0, paris)]),
      calls([{ index: 1, type: "function", function: fn("add", sum) }]),
      finish("tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", arguments: paris }, { name: "add", arguments: sum }],
    raw: "tool_calls"
  },
  {
    name: "the first call at index 1",
    servers: "Anthropic's OpenAI-compatible endpoint (recorded: openai-compatible/anthropic-fallback-tool-call.sse), LiteLLM's Bedrock route (BerriAI/litellm#11407), LiteLLM's Responses bridge after a reasoning item (pipecat-ai/pipecat#4987)",
    events: [
      role,
      ChatCompletions.chunk({ content: "Looking." }),
      calls([head(1, "toolu_1", "weather")]),
      calls([piece(1, "")]),
      calls([piece(1, paris)]),
      finish("tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "toolu_1", arguments: paris }],
    raw: "tool_calls"
  },
  {
    name: "indices with gaps",
    servers: "Anthropic's OpenAI-compatible endpoint, whose index counts content blocks, text included (recorded: openai-compatible/anthropic-fallback-tool-call.sse)",
    events: [
      role,
      calls([head(1, "toolu_1", "weather", paris)]),
      ChatCompletions.chunk({ content: "And the sum." }),
      calls([head(3, "toolu_2", "add")]),
      calls([piece(3, sum)]),
      finish("tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "toolu_1", arguments: paris }, { name: "add", id: "toolu_2", arguments: sum }],
    raw: "tool_calls"
  },
  {
    name: "the arguments as a JSON object instead of its text",
    servers: "LiteLLM's ollama_chat route (BerriAI/litellm#37792)",
    events: [role, calls([head(0, "call_j", "weather", { city: "Paris" })]), finish("tool_calls"), DONE],
    calls: [{ name: "weather", id: "call_j", arguments: paris }],
    raw: "tool_calls"
  },
  {
    name: "two whole calls on one index, the second with neither id nor name",
    servers: "Gemini through a relay (dyedd/lens#49): the second call's name is lost upstream, so it is kept nameless and the turn answers it with an error",
    events: [
      role,
      calls([head(0, "toolu_g", "weather")]),
      calls([{ index: 0, function: fn("", paris) }]),
      calls([{ index: 0, function: fn("", "{\"city\":\"Rome\"}") }]),
      finish("tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "toolu_g", arguments: paris }, { name: "", arguments: "{\"city\":\"Rome\"}" }],
    raw: "tool_calls"
  },
  {
    name: "the name after the first arguments",
    servers: "reported against the AI SDK (vercel/ai#14722) and opencode (anomalyco/opencode#24137)",
    events: [
      role,
      calls([{ index: 0, id: "call_l", type: "function", function: { arguments: "{\"city\":" } }]),
      calls([{ index: 0, function: fn("weather", "\"Paris\"}") }]),
      finish("tool_calls"),
      DONE
    ],
    calls: [{ name: "weather", id: "call_l", arguments: paris }],
    raw: "tool_calls"
  },
  {
    name: "entries that carry no call",
    servers: "Gemini's metadata-only delta (open-webui/computer#224); an `id: \"\"` stub with no name (lmstudio-ai/lmstudio-bug-tracker#830)",
    events: [
      role,
      calls([head(0, "call_k", "weather", paris)]),
      calls([{ extra_content: { google: { thought_signature: "c2ln" } } }]),
      calls([{ index: 1, id: "", type: "function" }]),
      finish("stop"),
      DONE
    ],
    calls: [{ name: "weather", id: "call_k", arguments: paris }],
    raw: "stop"
  }
]
