/**
 * A conversation encoded as an OpenAI Responses request body. Requests are stateless (`store:
 * false`): the whole history goes in `input`, and the model's reasoning travels in it as the
 * encrypted content the API returned, so no response has to be kept on OpenAI's side.
 *
 * Replayed items carry no `id`. The API pairs items that carry ids (a reasoning item with the
 * message or call that followed it) and rejects a request where one of a pair is missing, which a
 * stopped or edited conversation easily produces; the encrypted content is self-contained, so the
 * ids add nothing. OpenAI's own stateless client (Codex) sends them the same way.
 */
import type { LanguageModel, Part } from "@reins/core"
import { Message, RequestIds, StructuredOutput } from "@reins/core"
import type { ReasoningSummary } from "./Config.js"

/** The metadata key that marks a tool call as a Responses custom (free-form) tool call. */
export const customToolKey = "customTool"

/** What the encoder needs besides the request. */
export interface EncodeOptions {
  readonly model: string
  readonly provider: string
  readonly reasoningSummary?: ReasoningSummary | undefined
}

type Item = Record<string, unknown>

const imageUrl = (image: Part.Image): string =>
  image.url ?? `data:${image.mediaType ?? "image/png"};base64,${image.data ?? ""}`

const fileItem = (file: Part.File): Item => {
  if (file.data !== undefined) {
    return { type: "input_file", filename: file.filename ?? "file", file_data: `data:${file.mediaType};base64,${file.data}` }
  }
  return { type: "input_file", file_url: file.url ?? "", ...(file.filename !== undefined ? { filename: file.filename } : {}) }
}

/**
 * A user message's parts as input content: text, images, and files by base64 data (a `data:` URL in
 * `file_data`, with a filename) or by `file_url`, of any type the API reads.
 * Source: https://platform.openai.com/docs/guides/pdf-files?api-mode=responses
 */
const userItem = (parts: ReadonlyArray<Part.UserPart>): Item => ({
  role: "user",
  content: parts.map((part) =>
    part._tag === "Text"
      ? { type: "input_text", text: part.text }
      : part._tag === "Image"
      ? { type: "input_image", image_url: imageUrl(part), detail: "auto" }
      : fileItem(part)
  )
})

/**
 * A tool result as a call output: its text (JSON as its text once), or, when it holds an image, a
 * list of `input_text` and `input_image` items, which outputs may be.
 * Source: https://platform.openai.com/docs/api-reference/responses/create
 */
const output = (content: Message.ToolResultContent): string | Array<Item> => {
  const text = Message.toolResultText(content)
  if (text !== undefined || typeof content === "string") return text ?? ""
  return content.map((part) =>
    part._tag === "Image"
      ? { type: "input_image", image_url: imageUrl(part), detail: "auto" }
      : { type: "input_text", text: part._tag === "Text" ? part.text : Message.jsonText(part.value) }
  )
}

const isCustom = (call: Part.ToolCall): boolean => call.metadata?.[customToolKey] === true

/** A custom tool call's raw input, which the decoder wrapped as `{"input": "..."}`. */
const customInput = (args: string): string => {
  try {
    const json = JSON.parse(args)
    if (typeof json?.input === "string") return json.input
  } catch {
    // not the wrapped form: send the text as it is
  }
  return args
}


const assistantItems = (message: Message.Assistant, provider: string, ids: RequestIds, out: Array<Item>): void => {
  const own = message.provider === provider
  let group: { readonly itemId: string; readonly parts: Array<Part.Reasoning> } | undefined
  for (const part of message.content) {
    if (part._tag !== "Reasoning") group = undefined
    switch (part._tag) {
      case "Reasoning": {
        // The summary parts of one reasoning item arrive as parts of their own, the last one signed
        // with the item's encrypted content: they go back together, as the item they came in.
        const itemId = part.metadata?.itemId
        if (typeof itemId === "string" && itemId === group?.itemId) group.parts.push(part)
        else group = typeof itemId === "string" ? { itemId, parts: [part] } : undefined
        // Only our own encrypted reasoning can go back: unsigned reasoning (a stopped stream,
        // another provider) has nothing the API could verify.
        if (own && part.signature !== undefined) {
          const parts = group?.parts ?? [part]
          out.push({
            type: "reasoning",
            summary: parts.filter((p) => p.text !== "").map((p) => ({ type: "summary_text", text: p.text })),
            encrypted_content: part.signature
          })
          group = undefined
        }
        break
      }
      case "Text": {
        if (part.text === "") break
        const item: Item = { type: "message", role: "assistant", content: [{ type: "output_text", text: part.text }] }
        const phase = own ? part.metadata?.phase : undefined
        if (typeof phase === "string") item.phase = phase
        out.push(item)
        break
      }
      case "ToolCall": {
        const callId = ids.call(part.id)
        out.push(
          isCustom(part)
            ? { type: "custom_tool_call", call_id: callId, name: part.name, input: customInput(part.arguments) }
            : { type: "function_call", call_id: callId, name: part.name, arguments: part.arguments }
        )
      }
    }
  }
}

/** The `input` array for a conversation (the request's `system` goes in `instructions` instead). */
export const input = (history: ReadonlyArray<Message.Message>, provider: string): Array<Item> => {
  const out: Array<Item> = []
  const ids = new RequestIds()
  // the `call_id`s of custom tool calls, whose outputs have their own item type
  const customCalls = new Set<string>()
  for (const message of history) {
    switch (message._tag) {
      case "System":
        out.push({ role: "system", content: message.content })
        break
      case "User":
        out.push(userItem(message.content))
        break
      case "Assistant": {
        if (message.content.some((part) => part._tag === "ToolCall")) ids.step()
        const from = out.length
        // An assistant message that produced nothing replayable (stopped before its first token, or
        // holding only unsigned reasoning) adds no items at all.
        assistantItems(message, provider, ids, out)
        for (let i = from; i < out.length; i++) if (out[i].type === "custom_tool_call") customCalls.add(out[i].call_id as string)
        break
      }
      case "ToolResult": {
        const callId = ids.result(message.toolCallId)
        out.push({
          type: customCalls.has(callId) ? "custom_tool_call_output" : "function_call_output",
          call_id: callId,
          output: output(message.content)
        })
      }
    }
  }
  return out
}

const tool = (definition: LanguageModel.ToolDefinition) => ({
  type: "function",
  name: definition.name,
  ...(definition.description !== undefined ? { description: definition.description } : {}),
  parameters: definition.parameters,
  // Responses functions are strict unless told otherwise, and strict mode rejects ordinary JSON
  // Schemas (optional properties, no `additionalProperties: false`), which tools here may have.
  strict: false
})

const toolChoice = (choice: LanguageModel.ToolChoice) =>
  typeof choice === "string" ? choice : { type: "function", name: choice.tool }

/**
 * `text.format` for a JSON reply: `json_schema` with the schema (strict where the schema meets strict
 * mode's rules), or `json_object` without one.
 * Source: https://platform.openai.com/docs/guides/structured-outputs?api-mode=responses
 */
export const textFormat = (format: StructuredOutput.JsonFormat): Item =>
  format.schema === undefined ? { type: "json_object" } : {
    type: "json_schema",
    name: StructuredOutput.formatName(format.name),
    ...(format.description !== undefined ? { description: format.description } : {}),
    schema: format.schema,
    strict: StructuredOutput.isStrict(format)
  }

/**
 * The whole streaming request body. Reasoning fields and `include: ["reasoning.encrypted_content"]`
 * are sent when the request sets `reasoning` or the layer declares `reasoningSummary`: models that do
 * not reason reject them. `providerOptions[provider]` is merged in last.
 */
export const body = (request: LanguageModel.Request, options: EncodeOptions): Record<string, unknown> => {
  const wire: Record<string, unknown> = {
    model: request.model ?? options.model,
    input: input(request.messages, options.provider),
    stream: true,
    store: false
  }
  const format = request.responseFormat?.type === "json" ? request.responseFormat : undefined
  // JSON mode requires the word "JSON" in the input; the instruction carries it and the shape.
  const instructions = [request.system, format !== undefined && format.schema === undefined ? StructuredOutput.instruction(format) : undefined]
    .filter((text): text is string => text !== undefined && text !== "")
  if (instructions.length > 0) wire.instructions = instructions.join("\n\n")
  if (format !== undefined) wire.text = { format: textFormat(format) }
  if (request.tools !== undefined && request.tools.length > 0) wire.tools = request.tools.map(tool)
  if (request.toolChoice !== undefined) wire.tool_choice = toolChoice(request.toolChoice)
  if (request.maxOutputTokens !== undefined) wire.max_output_tokens = request.maxOutputTokens
  if (request.temperature !== undefined) wire.temperature = request.temperature
  if (request.reasoning !== undefined || options.reasoningSummary !== undefined) {
    wire.reasoning = {
      ...(request.reasoning !== undefined ? { effort: request.reasoning.effort } : {}),
      summary: options.reasoningSummary ?? "auto"
    }
    wire.include = ["reasoning.encrypted_content"]
  }
  return { ...wire, ...request.providerOptions?.[options.provider] }
}
