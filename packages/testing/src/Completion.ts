/**
 * The JSON object each provider returns when a request does not set `stream`: a Chat Completions
 * `chat.completion`, a Responses `response`, an Anthropic `message`, a Gemini
 * `GenerateContentResponse`. A streaming client meets one when a gateway drops `stream` from the
 * request, or answers from a cache of whole answers.
 */
import * as Script from "./Script.js"

/** A tool call in a whole answer. */
export interface Call {
  readonly id: string
  readonly name: string
  readonly arguments: Readonly<Record<string, unknown>>
}

/** What a whole answer holds: some text, then tool calls. */
export interface Content {
  readonly text?: string
  readonly toolCalls?: ReadonlyArray<Call>
  readonly id?: string
  readonly model?: string
}

const CREATED = 1_700_000_000

/** A `chat.completion` object: one choice with the assistant message and its finish reason. */
export const chatCompletion = (content: Content): Record<string, unknown> => {
  const calls = content.toolCalls ?? []
  return {
    id: content.id ?? "chatcmpl-reins-test",
    object: "chat.completion",
    created: CREATED,
    model: content.model ?? "reins-test-model",
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: content.text ?? null,
        refusal: null,
        ...(calls.length > 0
          ? { tool_calls: calls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: JSON.stringify(call.arguments) } })) }
          : {})
      },
      logprobs: null,
      finish_reason: calls.length > 0 ? "tool_calls" : "stop"
    }],
    usage: { prompt_tokens: 5, completion_tokens: 12, total_tokens: 17 }
  }
}

/** A Responses `response` object, `completed`, with a message item and a function call item per call. */
export const response = (content: Content): Record<string, unknown> => ({
  id: content.id ?? "resp_reins_test",
  object: "response",
  created_at: CREATED,
  status: "completed",
  error: null,
  incomplete_details: null,
  model: content.model ?? "reins-test-model",
  output: [
    ...(content.text !== undefined
      ? [{
        id: "msg_reins_test",
        type: "message",
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", annotations: [], text: content.text }]
      }]
      : []),
    ...(content.toolCalls ?? []).map((call) => ({
      id: `fc_${call.id}`,
      type: "function_call",
      status: "completed",
      call_id: call.id,
      name: call.name,
      arguments: JSON.stringify(call.arguments)
    }))
  ],
  usage: { input_tokens: 5, output_tokens: 12, total_tokens: 17 }
})

/** An Anthropic `message` object with a text block and a `tool_use` block per call. */
export const message = (content: Content): Record<string, unknown> => {
  const calls = content.toolCalls ?? []
  return {
    id: content.id ?? "msg_reins_test",
    type: "message",
    role: "assistant",
    model: content.model ?? "reins-test-claude",
    content: [
      ...(content.text !== undefined ? [{ type: "text", text: content.text }] : []),
      ...calls.map((call) => ({ type: "tool_use", id: call.id, name: call.name, input: call.arguments }))
    ],
    stop_reason: calls.length > 0 ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 12 }
  }
}

/** A Gemini `GenerateContentResponse` whose one candidate holds the text and a `functionCall` part per call. */
export const generateContent = (content: Content): Record<string, unknown> => ({
  candidates: [{
    content: {
      role: "model",
      parts: [
        ...(content.text !== undefined ? [{ text: content.text }] : []),
        ...(content.toolCalls ?? []).map((call) => ({ functionCall: { id: call.id, name: call.name, args: call.arguments } }))
      ]
    },
    finishReason: "STOP",
    index: 0
  }],
  usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 12, totalTokenCount: 17 },
  modelVersion: content.model ?? "gemini-reins-test",
  responseId: content.id ?? "reins-gemini-test"
})

/** A `application/json` response with `json` as its whole body, status 200 unless told. */
export const script = (
  json: object,
  options?: { readonly status?: number; readonly headers?: Readonly<Record<string, string>> | undefined }
): Script.Script => Script.body(options?.status ?? 200, json, options?.headers)
