/**
 * A conversation encoded as a Gemini `GenerateContentRequest` body: the system prompt in
 * `systemInstruction`, `user` and `model` contents of parts, tool results as `functionResponse`
 * parts of a user content, tools as function declarations, and the generation options.
 */
import type { LanguageModel, Part, ProviderError } from "@reins/core"
import { Message } from "@reins/core"

/** What the encoder needs from the layer. */
export interface Options {
  /** The model used unless the request names another; it decides how thinking is configured. */
  readonly model: string
  /** Only signatures produced by this provider are replayed; they mean nothing elsewhere. */
  readonly provider: string
}

/** One part of a content, as the wire takes it. */
export type WirePart = Record<string, unknown>

/** One entry of the `contents` array. */
export interface Content {
  readonly role: "user" | "model"
  readonly parts: Array<WirePart>
}

/**
 * The signature Gemini documents for function calls that have none of its own (history moved over
 * from another provider or another model, calls made up by hand): Gemini 3 rejects a step of the
 * current turn whose first function call is unsigned, and this value tells it to skip the check.
 */
export const foreignCallSignature = "skip_thought_signature_validator"

/** The thinking budget a request's effort asks for, on models that take a budget (Gemini 2.5). */
export const effortBudget: Record<LanguageModel.ReasoningEffort, number> = {
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 24576
}

/**
 * Whether a model takes `thinkingLevel` (Gemini 3 and later) rather than `thinkingBudget`. Unknown
 * names get a budget, which every thinking model accepts.
 */
export const takesThinkingLevel = (model: string): boolean => {
  const match = /(?:^|\/)gemini-(\d+)/.exec(model)
  return match !== null && Number(match[1]) >= 3
}

/** The streaming endpoint of a model under the host root. */
export const url = (baseUrl: string, model: string): string =>
  `${baseUrl.replace(/\/+$/, "")}/v1beta/models/${model.replace(/^models\//, "")}:streamGenerateContent?alt=sse`

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s

const image = (part: Part.Image): WirePart | undefined => {
  if (part.data !== undefined) return { inlineData: { mimeType: part.mediaType ?? "image/png", data: part.data } }
  if (part.url === undefined) return undefined
  const data = DATA_URL.exec(part.url)
  // Gemini takes inline bytes only as base64 `inlineData`, so a base64 `data:` URL is unpacked.
  if (data !== null && data[2].split(";").includes("base64")) {
    return { inlineData: { mimeType: data[1] || part.mediaType || "image/png", data: data[3] } }
  }
  return { fileData: { ...(part.mediaType !== undefined ? { mimeType: part.mediaType } : {}), fileUri: part.url } }
}

/**
 * A file as a part: base64 data as `inlineData`, a URL as `fileData` with its media type, as Gemini
 * reads PDFs and other documents either way.
 * Source: https://ai.google.dev/gemini-api/docs/document-processing
 */
const file = (part: Part.File): WirePart | undefined =>
  part.data !== undefined
    ? { inlineData: { mimeType: part.mediaType, data: part.data } }
    : part.url !== undefined
    ? image({ _tag: "Image", url: part.url, mediaType: part.mediaType })
    : undefined

const userParts = (parts: ReadonlyArray<Part.UserPart>): Array<WirePart> => {
  const out: Array<WirePart> = []
  for (const part of parts) {
    if (part._tag === "Text") {
      // Gemini rejects empty text parts.
      if (part.text !== "") out.push({ text: part.text })
    } else {
      const wire = part._tag === "Image" ? image(part) : file(part)
      if (wire !== undefined) out.push(wire)
    }
  }
  return out
}

/**
 * An image of a tool result as a `functionResponse` part: inline bytes only, as function responses
 * take no `fileData` in the Gemini API.
 * Source: https://ai.google.dev/gemini-api/docs/function-calling#multimodal
 */
const responseImage = (part: Part.Image): WirePart | undefined => {
  const wire = image(part)
  return wire !== undefined && "inlineData" in wire ? wire : undefined
}

/**
 * What of a request Gemini cannot take: an image in a tool result for a model before Gemini 3
 * (multimodal function responses came with it), or one by URL (function responses take inline data
 * only).
 * Source: https://ai.google.dev/gemini-api/docs/function-calling#multimodal
 */
export const unsupported = (request: LanguageModel.Request, options: Options): ProviderError.Unsupported | undefined => {
  const model = request.model ?? options.model
  for (let i = 0; i < request.messages.length; i++) {
    const message = request.messages[i]
    if (message._tag !== "ToolResult" || typeof message.content === "string") continue
    for (let j = 0; j < message.content.length; j++) {
      const part = message.content[j]
      if (part._tag !== "Image") continue
      const at = `messages[${i}].content[${j}]`
      if (!takesThinkingLevel(model)) return { part: "Image", at, reason: `function responses take images from Gemini 3 on, not on ${model}` }
      if (responseImage(part) === undefined) return { part: "Image", at, reason: "function responses take images as inline data, not by URL" }
    }
  }
  return undefined
}

const stringField = (metadata: Record<string, unknown> | undefined, key: string): string | undefined => {
  const value = metadata?.[key]
  return typeof value === "string" && value !== "" ? value : undefined
}

/** A call's arguments as the object Gemini wants; text that is not a JSON object becomes `{}`. */
const args = (text: string): Record<string, unknown> => {
  if (text.trim() === "") return {}
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? parsed as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

/**
 * The `functionCall.id`s a request sends back. An id Gemini gave a call goes back as it was, on the
 * call and on the response that answers it (the first after it with the conversation's id); an id
 * of ours is not sent, since Gemini would reject it. Nor is a Gemini id already sent in the request
 * (a history put together by hand), as `FunctionCall.id` is "the unique id of the function call":
 * that call and its response go without one and are matched by name and order, as calls are that
 * Gemini gave no id.
 */
class FunctionIds {
  private readonly sent = new Set<string>()
  /** The calls of the latest assistant message still waiting for a response, by conversation id. */
  private open = new Map<string, Array<string | undefined>>()

  /** Starts an assistant message's calls: responses answer the calls of the message before them. */
  step(): void {
    this.open = new Map()
  }

  /** The id a call is sent with, if any: `gemini` is the id Gemini gave it. */
  call(id: string, gemini: string | undefined): string | undefined {
    const wire = gemini !== undefined && !this.sent.has(gemini) ? gemini : undefined
    if (wire !== undefined) this.sent.add(wire)
    const open = this.open.get(id)
    if (open === undefined) this.open.set(id, [wire])
    else open.push(wire)
    return wire
  }

  /** The id a function response is sent with, if any: that of the first call it can answer. */
  result(id: string): string | undefined {
    return this.open.get(id)?.shift()
  }
}

/** The model content of an assistant message, or `undefined` when nothing in it can be sent. */
const modelContent = (message: Message.Assistant, provider: string, ids: FunctionIds): Content | undefined => {
  const same = message.provider === provider
  const parts: Array<WirePart> = []
  let firstCall: WirePart | undefined
  for (const part of message.content) {
    switch (part._tag) {
      case "Text": {
        const signature = same ? stringField(part.metadata, "thoughtSignature") : undefined
        if (part.text === "" && signature === undefined) break
        parts.push(signature !== undefined ? { text: part.text, thoughtSignature: signature } : { text: part.text })
        break
      }
      case "Reasoning":
        // Unsigned thought summaries carry nothing Gemini reads back, and a foreign signature would
        // be rejected, so only Gemini's own signed thoughts are replayed.
        if (same && part.signature !== undefined && part.signature !== "") {
          parts.push({ text: part.text, thought: true, thoughtSignature: part.signature })
        }
        break
      case "ToolCall": {
        const signature = same ? stringField(part.metadata, "thoughtSignature") : undefined
        const id = ids.call(part.id, same ? stringField(part.metadata, "functionCallId") : undefined)
        const wire: WirePart = { functionCall: { name: part.name, args: args(part.arguments), ...(id !== undefined ? { id } : {}) } }
        if (signature !== undefined) wire.thoughtSignature = signature
        firstCall ??= wire
        parts.push(wire)
      }
    }
  }
  if (parts.length === 0) return undefined
  // Gemini signs the first call of each step; one that has no signature of its own (another
  // provider's, an older model's, one put together by hand) gets the documented stand-in.
  if (firstCall !== undefined && firstCall.thoughtSignature === undefined) firstCall.thoughtSignature = foreignCallSignature
  return { role: "model", parts }
}

/**
 * A tool result's value in `response`: JSON as the value it is (a lone JSON part), else its text.
 * Source: https://ai.google.dev/api/caching#FunctionResponse
 */
const responseValue = (content: Message.ToolResultContent): unknown => {
  if (typeof content === "string") return content
  const values = content.filter((part) => part._tag !== "Image")
  if (values.length === 1 && values[0]._tag === "Json") return values[0].value
  return Message.toolResultText(values) ?? ""
}

const functionResponse = (result: Message.ToolResult, id: string | undefined): WirePart => {
  const value = responseValue(result.content)
  const images: Array<WirePart> = []
  if (typeof result.content !== "string") {
    for (const part of result.content) {
      const wire = part._tag === "Image" ? responseImage(part) : undefined
      if (wire !== undefined) images.push(wire)
    }
  }
  return {
    functionResponse: {
      name: result.toolName,
      ...(id !== undefined ? { id } : {}),
      response: result.isError ? { error: value } : { result: value },
      ...(images.length > 0 ? { parts: images } : {})
    }
  }
}

/**
 * The `contents` array for a conversation. System messages are left out (they go to
 * `systemInstruction`); each run of consecutive tool results becomes one user content, as Gemini
 * expects the responses to parallel calls together.
 */
export const contents = (history: ReadonlyArray<Message.Message>, provider: string): Array<Content> => {
  const out: Array<Content> = []
  const ids = new FunctionIds()
  let results: Array<WirePart> | undefined
  for (const message of history) {
    if (message._tag !== "ToolResult") results = undefined
    switch (message._tag) {
      case "System":
        break
      case "User": {
        const parts = userParts(message.content)
        if (parts.length > 0) out.push({ role: "user", parts })
        break
      }
      case "Assistant": {
        if (message.content.some((part) => part._tag === "ToolCall")) ids.step()
        const content = modelContent(message, provider, ids)
        if (content !== undefined) out.push(content)
        break
      }
      case "ToolResult": {
        if (results === undefined) {
          results = []
          out.push({ role: "user", parts: results })
        }
        results.push(functionResponse(message, ids.result(message.toolCallId)))
      }
    }
  }
  return out
}

const SCHEMA_KEYS = new Set([
  "description",
  "title",
  "nullable",
  "enum",
  "required",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "default",
  "example",
  "propertyOrdering"
])

/** String formats other than these are rejected by Gemini; number formats are all accepted. */
const FORMATS = new Set(["date-time", "enum", "int32", "int64", "float", "double"])

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const isNullSchema = (u: unknown): boolean => isObject(u) && u.type === "null"

/**
 * A JSON Schema reduced to the OpenAPI subset Gemini's `parameters` accepts: keys it rejects
 * (`$schema`, `additionalProperties`, ...) dropped, local `$ref`s inlined (a recursive one becomes
 * `{}`), `["T", "null"]` types and null variants turned into `nullable`, `const` into `enum`.
 */
export const schema = (
  input: unknown,
  defs: Record<string, unknown> = {},
  seen: ReadonlySet<string> = new Set()
): Record<string, unknown> => {
  if (!isObject(input)) return {}
  const local = { ...defs, ...(isObject(input.$defs) ? input.$defs : {}), ...(isObject(input.definitions) ? input.definitions : {}) }
  if (typeof input.$ref === "string") {
    const name = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(input.$ref)?.[1]
    if (name === undefined || seen.has(name) || !isObject(local[name])) return {}
    return schema(local[name], local, new Set([...seen, name]))
  }
  const out: Record<string, unknown> = {}
  for (const key in input) {
    const value = input[key]
    switch (key) {
      case "type":
        if (Array.isArray(value)) {
          const types = value.filter((type) => type !== "null")
          if (types.length < value.length) out.nullable = true
          if (types.length > 0) out.type = types[0]
        } else if (typeof value === "string") out.type = value
        break
      case "format":
        if (typeof value === "string" && FORMATS.has(value)) out.format = value
        break
      case "properties":
        if (isObject(value)) {
          const properties: Record<string, unknown> = {}
          for (const name in value) properties[name] = schema(value[name], local, seen)
          out.properties = properties
        }
        break
      case "items":
        out.items = schema(Array.isArray(value) ? value[0] : value, local, seen)
        break
      case "anyOf":
      case "oneOf": {
        if (!Array.isArray(value)) break
        const variants = value.filter((variant) => !isNullSchema(variant))
        if (variants.length < value.length) out.nullable = true
        if (variants.length === 1) Object.assign(out, schema(variants[0], local, seen))
        else if (variants.length > 1) out.anyOf = variants.map((variant) => schema(variant, local, seen))
        break
      }
      case "const":
        out.enum = [value]
        break
      default:
        if (SCHEMA_KEYS.has(key)) out[key] = value
    }
  }
  return out
}

const declaration = (tool: LanguageModel.ToolDefinition): Record<string, unknown> => {
  const parameters = schema(tool.parameters)
  // An object with no properties is rejected; a tool without arguments simply has no `parameters`.
  const empty = parameters.type === "object" && (!isObject(parameters.properties) || Object.keys(parameters.properties).length === 0)
  return {
    name: tool.name,
    ...(tool.description !== undefined ? { description: tool.description } : {}),
    ...(empty || Object.keys(parameters).length === 0 ? {} : { parameters })
  }
}

const functionCallingConfig = (choice: LanguageModel.ToolChoice): Record<string, unknown> => {
  switch (choice) {
    case "auto":
      return { mode: "AUTO" }
    case "none":
      return { mode: "NONE" }
    case "required":
      return { mode: "ANY" }
    default:
      return { mode: "ANY", allowedFunctionNames: [choice.tool] }
  }
}

/**
 * `thinkingConfig` for a requested effort: thought summaries on, and `thinkingLevel` (Gemini 3 and
 * later, the effort passed as is) or `thinkingBudget` (earlier models, from `effortBudget`).
 */
export const thinkingConfig = (model: string, effort: LanguageModel.ReasoningEffort): Record<string, unknown> =>
  takesThinkingLevel(model)
    ? { includeThoughts: true, thinkingLevel: effort }
    : { includeThoughts: true, thinkingBudget: effortBudget[effort] }

/**
 * The whole request body. `providerOptions[provider]` is merged in last, shallowly (a
 * `generationConfig` given there replaces the one built here).
 */
export const body = (request: LanguageModel.Request, options: Options): Record<string, unknown> => {
  const model = request.model ?? options.model
  const wire: Record<string, unknown> = { contents: contents(request.messages, options.provider) }
  const system: Array<WirePart> = []
  if (request.system !== undefined && request.system !== "") system.push({ text: request.system })
  for (const message of request.messages) {
    if (message._tag === "System" && message.content !== "") system.push({ text: message.content })
  }
  if (system.length > 0) wire.systemInstruction = { parts: system }
  if (request.tools !== undefined && request.tools.length > 0) {
    wire.tools = [{ functionDeclarations: request.tools.map(declaration) }]
  }
  if (request.toolChoice !== undefined) wire.toolConfig = { functionCallingConfig: functionCallingConfig(request.toolChoice) }
  const generation: Record<string, unknown> = {}
  if (request.maxOutputTokens !== undefined) generation.maxOutputTokens = request.maxOutputTokens
  if (request.temperature !== undefined) generation.temperature = request.temperature
  if (request.reasoning !== undefined) generation.thinkingConfig = thinkingConfig(model, request.reasoning.effort)
  if (request.responseFormat?.type === "json") {
    // JSON mode, constrained by the JSON Schema when there is one (`responseJsonSchema` takes JSON
    // Schema itself, unlike `responseSchema`'s OpenAPI subset).
    // Source: https://ai.google.dev/gemini-api/docs/structured-output
    generation.responseMimeType = "application/json"
    if (request.responseFormat.schema !== undefined) generation.responseJsonSchema = request.responseFormat.schema
  }
  if (Object.keys(generation).length > 0) wire.generationConfig = generation
  return { ...wire, ...request.providerOptions?.[options.provider] }
}
